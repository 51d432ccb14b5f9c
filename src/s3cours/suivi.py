"""Following a class live: which learner has done which exercise, and got it right.

Every exercise whose solution finds a result leaves it at a key the course names, under
the learner's course folder (``MON_PREFIXE``: ``<space>/cours-python-s3/``). The
catalogue below (:data:`CATALOGUE`) is the one list of those keys: the chapters'
statements name them, their solutions write them, and tests/test_suivi.py checks that
the three agree. Each entry says how a correct answer is recognised from the object
alone: its presence and a check of its content (rows, columns, a value), against values
computed here from the course data, which the tooling generates with a fixed seed (the
same bytes the learners read, :mod:`s3cours.data`).

``./cours classroom suivi`` reads, for each learner, the listing of their
``exercices/`` (and the folder chapter 8's exercise 3 writes), downloads only the
answers it has not yet checked (an answer is checked again when its ETag changes), and
shows a table, learner by chapter, in the terminal and in an HTML page to project. It
only lists and reads (``ListObjectsV2``, ``GetObject``): it never writes in a
learner's space and needs no learner's credentials: on the trainer kit's server the
administrator's keys (:mod:`s3cours.trainer`), on SSP Cloud the trainer's own service's
keys, which read the project's bucket (``projet-<name>``) where each learner writes
under ``<learner>/`` (``S3COURS_ESPACE``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import html
import io
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import config, trainer

#: The learners' course folder, under their space (the chapters' setup cell).
COURSE_FOLDER = "cours-python-s3/"
EXERCISES = "exercices/"
WORKERS = 8
DEFAULT_INTERVAL = 5.0


class SuiviError(trainer.TrainerError):
    """The class cannot be followed; the message says what is wrong, what to do."""


class WrongAnswer(Exception):
    """An answer is there but not right; the message says what is wrong (French)."""


# --------------------------------------------------------------------------- reference
# Values a right answer has, computed from the course data: once each, by the first
# thread that needs them (generating the 200 000 communes of chapter 6 takes about a
# second; eight threads doing it at once, eight times as long).


def _once(function: Callable) -> Callable:
    cached = functools.cache(function)
    lock = threading.Lock()

    @functools.wraps(function)
    def wrapper(*args: object) -> object:
        with lock:
            return cached(*args)

    return wrapper


@_once
def _communes(n_communes: int = 34_000):
    from . import data

    return data.generate(n_communes)


@_once
def _course_object(key: str) -> bytes:
    from . import data

    for obj in data.course_objects():
        if obj.bucket == config.DATA_BUCKET and obj.key == key:
            return obj.body
    raise KeyError(key)


@_once
def _course_data_size() -> int:
    from . import data

    return sum(
        len(obj.body)
        for obj in data.course_objects()
        if obj.bucket == config.DATA_BUCKET and obj.key.startswith(config.DATA_PREFIX)
    )


def _departments(codes, overseas: bool):
    """A department per commune code: two characters, three overseas (``97x``)."""
    two = codes.str[:2]
    return two.where(~codes.str.startswith("97"), codes.str[:3]) if overseas else two


@_once
def _big_csv_size() -> int:
    """Chapter 6's big CSV (200 000 communes, written by pyarrow as INSEE does)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_pandas(_communes(200_000), preserve_index=False)
    sink = io.BytesIO()
    pacsv.write_csv(
        table.replace_schema_metadata(None),
        sink,
        pacsv.WriteOptions(delimiter=";", quoting_style="none", quoting_header="none"),
    )
    return len(sink.getvalue())


# --------------------------------------------------------------------------- checks


def _number(body: bytes) -> int:
    text = body.decode("utf-8", "replace").strip()
    cleaned = re.sub(r"[\s\u202f\u00a0]", "", text)
    if not cleaned.isdigit():
        raise WrongAnswer(f"« {text[:30]} » n'est pas un nombre entier")
    return int(cleaned)


def _same(found: int, expected: int, what: str) -> None:
    if found != expected:
        raise WrongAnswer(f"{what} : {found}, attendu {expected}")


def _table(body: bytes, kind: str):
    import pandas as pd

    try:
        if kind == "parquet":
            return pd.read_parquet(io.BytesIO(body))
        return pd.read_csv(io.BytesIO(body), sep=";", dtype={"DEP": "string"})
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a wrong answer
        raise WrongAnswer(f"fichier {kind} illisible ({type(exc).__name__})") from None


def _columns(df, expected: Iterable[str]) -> None:
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise WrongAnswer(f"colonne(s) absente(s) : {', '.join(missing)}")


def check_size(body: bytes) -> None:
    _same(_number(body), _course_data_size(), "total")


def check_rich_communes(body: bytes) -> None:
    _same(_number(body), int((_communes()["MED14"] > 25_000).sum()), "communes")


def check_copy(listed: dict) -> None:
    """Chapter 3, exercise 1: the copy has the original's size and ETag (from the
    listing: nothing to download)."""
    original = _course_object(config.FILOSOFI_PARQUET_KEY)
    _same(listed["Size"], len(original), "taille")
    etag = listed["ETag"].strip('"')
    if "-" not in etag and etag != hashlib.md5(original).hexdigest():
        raise WrongAnswer("même taille, mais pas le même contenu (ETag)")


def check_poverty_by_department(body: bytes) -> None:
    df = _table(body, "parquet")
    _columns(df, ("DEP", "COMMUNES", "TP6014_MOYEN"))
    communes = _communes()
    expected = communes.groupby(_departments(communes["CODGEO"], False))["TP6014"]
    _same(len(df), expected.ngroups, "lignes")
    _same(int(df["COMMUNES"].sum()), len(communes), "communes en tout")
    found = df.set_index("DEP")["TP6014_MOYEN"].sort_index()
    if not _close(found.to_numpy(), expected.mean().sort_index().to_numpy()):
        raise WrongAnswer("TP6014_MOYEN ne sont pas les moyennes par département")


def _close(found, expected, tolerance: float = 0.01) -> bool:
    import numpy as np

    return found.shape == expected.shape and bool(
        np.allclose(found.astype(float), expected, atol=tolerance, equal_nan=True)
    )


def check_corsica(body: bytes) -> None:
    df = _table(body, "parquet")
    _columns(df, ("CODGEO", "LIBGEO", "MED14"))
    communes = _communes()
    expected = communes["CODGEO"].str.startswith(("2A", "2B")).sum()
    _same(len(df), int(expected), "communes")
    if not df["CODGEO"].astype(str).str.startswith(("2A", "2B")).all():
        raise WrongAnswer("des communes hors de Corse")


def check_poverty_top5(body: bytes) -> None:
    df = _table(body, "csv")
    _columns(df, ("DEP", "pauvrete"))
    communes = _communes()
    means = (
        communes.groupby(_departments(communes["CODGEO"], True))["TP6014"]
        .mean()
        .round(2)
        .rename("pauvrete")
        .reset_index()
        .rename(columns={"CODGEO": "DEP"})
        .sort_values(["pauvrete", "DEP"], ascending=[False, True])
    )
    expected = list(means["DEP"].head(5))
    _same(len(df), 5, "lignes")
    if list(df["DEP"].astype(str)) != expected:
        raise WrongAnswer(
            f"départements {', '.join(df['DEP'].astype(str))}, "
            f"attendu {', '.join(expected)}"
        )


def check_rich_extract(body: bytes) -> None:
    df = _table(body, "parquet")
    _columns(df, ("CODGEO", "MED14"))
    extract = _communes(500)
    _same(len(df), int((extract["MED14"] > 25_000).sum()), "communes")
    if not (df["MED14"] > 25_000).all():
        raise WrongAnswer("des communes à 25 000 € ou moins")


def check_deposit(body: bytes) -> None:
    lines = body.decode("utf-8", "replace").strip().splitlines()
    header = lines[0].split(";") if lines else []
    if header[:2] != ["CODGEO", "AVIS"]:
        raise WrongAnswer("en-tête attendu : CODGEO;AVIS")
    if len(lines) < 2:
        raise WrongAnswer("aucune ligne après l'en-tête")


def check_med14_by_department(body: bytes) -> None:
    df = _table(body, "csv")
    _columns(df, ("DEP", "MED14 moyen"))
    communes = _communes(200_000)
    expected = (
        communes.groupby(_departments(communes["CODGEO"], True))["MED14"]
        .mean()
        .sort_index()
    )
    _same(len(df), len(expected), "départements")
    found = df.set_index("DEP")["MED14 moyen"].sort_index()
    if list(found.index) != list(expected.index) or not _close(
        found.to_numpy(), expected.to_numpy()
    ):
        raise WrongAnswer("les moyennes ne sont pas celles des départements")


def check_parts_etag(body: bytes) -> None:
    text = body.decode("utf-8", "replace").strip().strip('"')
    match = re.fullmatch(r"[0-9a-f]{32}-(\d+)", text)
    if not match:
        raise WrongAnswer(
            "pas l'ETag d'un envoi en plusieurs parties (« …-N » attendu)"
        )
    _same(int(match[1]), math.ceil(_big_csv_size() / (6 * 2**20)), "parties")


def check_spark_medians(bodies: dict[str, bytes]) -> None:
    """Chapter 8, exercise 3: ONE CSV file (``part-*.csv``) in the folder."""
    parts = [k for k in bodies if re.search(r"/part-[^/]*\.csv$", k)]
    if len(parts) != 1:
        raise WrongAnswer(f"{len(parts)} fichiers part-*.csv, attendu 1")
    df = _table(bodies[parts[0]], "csv")
    _columns(df, ("DEP", "MED14_mediane"))
    communes = _communes()
    expected = sorted(_departments(communes["CODGEO"], False).unique())
    if sorted(df["DEP"].astype(str)) != expected:
        raise WrongAnswer(f"{len(df)} départements, attendu {len(expected)}")


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class Exercise:
    """One exercise the trainer can follow: where its answer is, how it is checked."""

    chapter: str  # "03"
    number: int
    #: Under the course folder (``MON_PREFIXE``); a folder when it ends with "/".
    key: str
    #: Checks the answer (raises :class:`WrongAnswer`): the object's bytes; for a
    #: folder, {key: bytes}; with ``listing_only``, the listing's entry (Size, ETag).
    check: Callable
    listing_only: bool = False
    #: How the statement names the key, when not as ``key`` itself.
    named_as: str | None = None

    @property
    def label(self) -> str:
        return f"{int(self.chapter)}.{self.number}"


CATALOGUE: tuple[Exercise, ...] = (
    Exercise("01", 1, "exercices/01/taille.txt", check_size),
    Exercise("02", 1, "exercices/02/communes_aisees.txt", check_rich_communes),
    Exercise("03", 1, "exercices/03/FILOSOFI_COM.parquet", check_copy, True),
    Exercise(
        "03",
        2,
        "exercices/03/pauvrete_par_departement.parquet",
        check_poverty_by_department,
    ),
    Exercise("04", 1, "exercices/04/corse.parquet", check_corsica),
    Exercise("04", 2, "exercices/04/pauvrete_top5.csv", check_poverty_top5),
    Exercise("05", 1, "exercices/05/communes_aisees.parquet", check_rich_extract),
    Exercise("05", 3, "exercices/05/reponse.csv", check_deposit),
    Exercise("06", 1, "exercices/06/med14_par_dep.csv", check_med14_by_department),
    Exercise("06", 2, "exercices/06/etag_parties.txt", check_parts_etag),
    Exercise(
        "08",
        3,
        "spark/medianes_par_dep/",
        check_spark_medians,
        named_as='DOSSIER + "medianes_par_dep"',
    ),
)

#: Exercises that leave nothing, and why (their statement says so too).
UNFOLLOWED: dict[str, str] = {
    "1.2": "lit des variables, ne dépose rien",
    "4.3": "une mesure, sans réponse unique",
    "5.2": "publie puis dépublie : ne laisse rien",
    "6.3": "une mesure, sans réponse unique",
    "8.1": "lit seulement (plan d'exécution)",
    "8.2": "une mesure, sans réponse unique",
}


def chapters(catalogue: Iterable[Exercise] = CATALOGUE) -> list[str]:
    return sorted({e.chapter for e in catalogue})


def select(wanted: str | None) -> tuple[Exercise, ...]:
    """The catalogue, restricted to the chapters of ``--chapitres`` (``1,2,3``)."""
    if not wanted:
        return CATALOGUE
    known = chapters()
    picked = []
    for item in wanted.split(","):
        item = item.strip()
        number = f"{int(item):02d}" if item.isdigit() else item
        if number not in known:
            raise SuiviError(
                f"--chapitres : « {item} » n'a pas d'exercice suivi. Chapitres "
                f"suivis : {', '.join(str(int(c)) for c in known)}."
            )
        picked.append(number)
    return tuple(e for e in CATALOGUE if e.chapter in picked)


# --------------------------------------------------------------------------- reading

DONE, WRONG, ABSENT, UNREADABLE = "fait", "réponse fausse", "pas commencé", "illisible"
IN_PROGRESS = "en cours"


@dataclass(frozen=True)
class Learner:
    """A learner's space: the bucket, and the prefix before the course folder."""

    name: str
    bucket: str
    prefix: str = ""

    @property
    def folder(self) -> str:
        return self.prefix + COURSE_FOLDER


@dataclass
class Result:
    state: str
    why: str = ""  # a wrong answer's reason, or why it cannot be read (French)


@dataclass
class LearnerReport:
    learner: Learner
    results: dict[str, Result] = field(default_factory=dict)  # label -> result


def why_unreadable(exc: Exception, bucket: str, where: str) -> str:
    """What the server said, in French, and what to do."""
    code = trainer._code(exc)
    if code == "AccessDenied":
        return (
            f"accès refusé à s3://{bucket}/{where} : vos identifiants ne permettent "
            "pas de lire cet espace (sur le SSP Cloud, lancez le suivi depuis un "
            "service du projet ; sur le serveur du kit, avec ses clés "
            "d'administration)"
        )
    if code == "NoSuchBucket":
        return f"le bucket {bucket} n'existe pas sur ce serveur"
    if code in (
        "ExpiredToken",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidTokenId",
    ):
        return (
            f"identifiants refusés par le serveur ({code}) : ils ont expiré ou ne "
            "sont pas de ce serveur ; renouvelez-les"
        )
    if code in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return "serveur injoignable : vérifiez l'adresse et le réseau"
    return f"erreur du serveur ({code})"


class Follower:
    """Reads the answers of a class with one client; remembers the answers it checked
    (by ETag), so that a refresh downloads only what changed."""

    def __init__(self, client, catalogue: Iterable[Exercise] = CATALOGUE) -> None:
        self.client = client
        self.catalogue = tuple(catalogue)
        self._checked: dict[tuple, Result] = {}
        self._lock = threading.Lock()

    def _list(self, bucket: str, prefix: str) -> dict[str, dict]:
        found = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = obj
        return found

    def _read(self, bucket: str, key: str) -> bytes:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def _check(self, learner: Learner, exercise: Exercise, listing: dict) -> Result:
        key = learner.folder + exercise.key
        if exercise.key.endswith("/"):
            found = {k: v for k, v in listing.items() if k.startswith(key)}
        else:
            found = {key: listing[key]} if key in listing else {}
        if not found:
            return Result(ABSENT)
        memo = (
            learner.bucket,
            key,
            tuple(sorted((k, v["ETag"]) for k, v in found.items())),
        )
        with self._lock:
            if memo in self._checked:
                return self._checked[memo]
        try:
            if exercise.listing_only:
                answer = found[key]
            elif exercise.key.endswith("/"):
                answer = {k: self._read(learner.bucket, k) for k in found}
            else:
                answer = self._read(learner.bucket, key)
        except Exception as exc:  # noqa: BLE001 - said, not raised: one learner
            return Result(UNREADABLE, why_unreadable(exc, learner.bucket, key))
        try:
            exercise.check(answer)
            result = Result(DONE)
        except WrongAnswer as exc:
            result = Result(WRONG, str(exc))
        except Exception as exc:  # noqa: BLE001 - content no check foresaw
            result = Result(WRONG, f"contenu inattendu ({type(exc).__name__})")
        with self._lock:
            self._checked[memo] = result
        return result

    def learner(self, learner: Learner) -> LearnerReport:
        report = LearnerReport(learner)
        folders = sorted(
            {
                e.key if e.key.endswith("/") else e.key.split("/")[0] + "/"
                for e in self.catalogue
            }
        )
        listing: dict[str, dict] = {}
        try:
            for folder in folders:
                listing.update(self._list(learner.bucket, learner.folder + folder))
        except Exception as exc:  # noqa: BLE001 - said in the table
            why = why_unreadable(exc, learner.bucket, learner.folder)
            report.results = {e.label: Result(UNREADABLE, why) for e in self.catalogue}
            return report
        for exercise in self.catalogue:
            report.results[exercise.label] = self._check(learner, exercise, listing)
        return report

    def read(self, learners: list[Learner], workers: int = WORKERS) -> Snapshot:
        started = time.monotonic()
        with ThreadPoolExecutor(
            max_workers=max(1, min(workers, len(learners)))
        ) as pool:
            reports = list(pool.map(self.learner, learners))
        return Snapshot(
            self.catalogue, reports, datetime.now(), time.monotonic() - started
        )


@dataclass
class Snapshot:
    catalogue: tuple[Exercise, ...]
    reports: list[LearnerReport]
    at: datetime
    seconds: float
    notes: list[str] = field(default_factory=list)  # said under the table

    def chapter_cell(self, report: LearnerReport, chapter: str) -> tuple[str, str]:
        """(state, text) of one learner's chapter, for the projected page: « fait »
        (every answer right), « faux 1/2 » (a wrong answer; 1 right of 2), « en cours
        1/2 », « pas commencé », « illisible »."""
        results = [
            report.results[e.label] for e in self.catalogue if e.chapter == chapter
        ]
        done = sum(r.state == DONE for r in results)
        count = f"{done}/{len(results)}"
        if any(r.state == UNREADABLE for r in results):
            return UNREADABLE, UNREADABLE
        if any(r.state == WRONG for r in results):
            return WRONG, f"faux {count}"
        if done == len(results):
            return DONE, DONE
        if done:
            return IN_PROGRESS, f"{IN_PROGRESS} {count}"
        return ABSENT, ABSENT

    def total(self, report: LearnerReport) -> str:
        done = sum(r.state == DONE for r in report.results.values())
        return f"{done}/{len(report.results)}"

    def short_cell(self, report: LearnerReport, chapter: str) -> str:
        """The same, for a terminal of 100 columns: « en cours » and « pas commencé »
        shortened to « 1/2 » and « - » (:data:`TERMINAL_LEGEND`)."""
        state, text = self.chapter_cell(report, chapter)
        if state == IN_PROGRESS:
            return text.rpartition(" ")[2]
        return "-" if state == ABSENT else text

    def rows(self) -> list[list[str]]:
        return [
            [
                r.learner.name,
                *(self.short_cell(r, c) for c in chapters(self.catalogue)),
                self.total(r),
            ]
            for r in self.reports
        ]

    def headers(self) -> list[str]:
        return [
            "apprenant",
            *(f"ch. {int(c)}" for c in chapters(self.catalogue)),
            "total",
        ]

    def details(self) -> list[str]:
        """For the trainer's screen (never the projected page: they give answers
        away): each wrong answer and why; what could not be read, once per reason."""
        lines = []
        unreadable: dict[str, list[str]] = {}
        for report in self.reports:
            for exercise in self.catalogue:
                result = report.results[exercise.label]
                if result.state == WRONG:
                    lines.append(
                        f"{report.learner.name}, exercice {exercise.label} : "
                        f"réponse fausse ({result.why})"
                    )
                elif result.state == UNREADABLE:
                    names = unreadable.setdefault(result.why, [])
                    if report.learner.name not in names:
                        names.append(report.learner.name)
        for why, names in unreadable.items():
            lines.append(f"Illisible pour {', '.join(names)} : {why}.")
        return lines


def text_table(snapshot: Snapshot) -> str:
    return trainer.text_table(snapshot.headers(), snapshot.rows())


TERMINAL_LEGEND = (
    "fait : tout juste ; 1/2 : en cours (justes/exercices) ; faux 1/2 : une réponse\n"
    "fausse au moins ; - : pas commencé ; illisible : la raison est dite plus bas"
)


def text_report(snapshot: Snapshot) -> str:
    done = sum(
        snapshot.total(r).split("/")[0] == snapshot.total(r).split("/")[1]
        for r in snapshot.reports
    )
    lines = [
        text_table(snapshot),
        TERMINAL_LEGEND,
        "",
        f"{len(snapshot.reports)} apprenant(s), {done} ont tout fait ; relevé du "
        f"{snapshot.at:%d/%m à %H:%M:%S} en "
        f"{snapshot.seconds:.1f} s".replace(".", ","),
    ]
    details = snapshot.details()
    if details:
        lines += ["", *(f"- {d}" for d in details)]
    lines += [f"({note})" for note in snapshot.notes]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML

#: Colours: each state's text on its background reaches WCAG AA (4.5:1 and more); the
#: state is also written in every cell, never said by colour alone.
STYLES = {
    DONE: ("#0b3d0b", "#d9f2d9"),
    WRONG: ("#5c0a0a", "#fbdada"),
    IN_PROGRESS: ("#3d2e00", "#fff1c2"),
    ABSENT: ("#1f1f1f", "#ffffff"),
    UNREADABLE: ("#1f1f1f", "#e2e2e2"),
}


def html_page(snapshot: Snapshot, refresh: float, title: str) -> str:
    """A page that reloads itself every ``refresh`` seconds (a « Pause » button stops
    it; without JavaScript, a meta refresh); nothing from another host; no answer, no
    reason (it is projected to the class): states only."""
    e = html.escape
    chapter_list = chapters(snapshot.catalogue)
    head_cells = "".join(f'<th scope="col">{e(h)}</th>' for h in snapshot.headers())
    body_rows = []
    for report in snapshot.reports:
        cells = []
        for chapter in chapter_list:
            state, text = snapshot.chapter_cell(report, chapter)
            css = {DONE: "fait", WRONG: "faux", IN_PROGRESS: "encours"}.get(
                state, "vide" if state == ABSENT else "illisible"
            )
            cells.append(f'<td class="{css}">{e(text)}</td>')
        body_rows.append(
            f'<tr><th scope="row">{e(report.learner.name)}</th>{"".join(cells)}'
            f"<td>{e(snapshot.total(report))}</td></tr>"
        )
    counts = {
        c: sum(snapshot.chapter_cell(r, c)[0] == DONE for r in snapshot.reports)
        for c in chapter_list
    }
    summary = ", ".join(f"chapitre {int(c)} : {n}" for c, n in counts.items())
    css_rules = "\n".join(
        f" td.{name} {{ color: {fg}; background: {bg}; }}"
        for name, (fg, bg) in (
            ("fait", STYLES[DONE]),
            ("faux", STYLES[WRONG]),
            ("encours", STYLES[IN_PROGRESS]),
            ("vide", STYLES[ABSENT]),
            ("illisible", STYLES[UNREADABLE]),
        )
    )
    unreadable = sorted(
        {
            r.learner.name
            for r in snapshot.reports
            for res in r.results.values()
            if res.state == UNREADABLE
        }
    )
    unreadable_note = (
        f"<p>Illisible (le formateur voit pourquoi dans son terminal) : "
        f"{e(', '.join(unreadable))}.</p>"
        if unreadable
        else ""
    )
    seconds = max(1, round(refresh))
    # As big as the screen allows: every row on one projected screen (the header, the
    # lines above the table and the table's rows: about rows + 5 lines of text), at
    # most 1,5 % of the width (7 chapters' columns fit), at most 32 px.
    lines = len(snapshot.reports) + 5
    font = f"clamp(14px, min(calc(100vh / {lines} / 1.3), 1.5vw), 32px)"
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<noscript><meta http-equiv="refresh" content="{seconds}"></noscript>
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>
 html {{ font-size: {font}; }}
 body {{ font-family: sans-serif; line-height: 1.2; color: #111; background: #fff;
   margin: .4rem 1rem; }}
 h1 {{ font-size: 1.3rem; margin: 0; display: inline; }}
 p {{ margin: .2rem 0; }}
 table {{ border-collapse: collapse; }}
 caption {{ text-align: left; padding: .1em 0; }}
 th, td {{ border: 2px solid #555; padding: 0 .5em; text-align: left;
   white-space: nowrap; }}
 thead th {{ background: #1f1f1f; color: #fff; }}
 tbody th {{ background: #f2f2f2; color: #111; }}
{css_rules}
 h2 {{ font-size: 1.1rem; margin: .6rem 0 .2rem; }}
 .legende {{ margin: 0; }}
 button {{ font-size: .8rem; padding: 0 .5em; margin-left: .5em; }}
 button[aria-pressed="true"] {{ background: #1f1f1f; color: #fff; }}
</style>
</head>
<body>
<main>
<h1>{e(title)}</h1>
<p>Exercices faits et justes, par apprenant et par chapitre ; mis à jour à
{snapshot.at:%H:%M:%S}, la page se recharge toutes les {seconds} secondes.
<button type="button" id="pause" aria-pressed="false">Pause</button></p>
<table>
<caption>Tout fait, par chapitre : {e(summary)}.</caption>
<thead><tr>{head_cells}</tr></thead>
<tbody>
{chr(10).join(body_rows)}
</tbody>
</table>
{unreadable_note}<h2>Légende</h2>
<ul class="legende">
<li><strong>fait</strong> : toutes les réponses du chapitre sont déposées, et
justes.</li>
<li><strong>en cours 1/2</strong> : des réponses justes (ici 1 sur 2), d'autres pas
encore déposées.</li>
<li><strong>faux 1/2</strong> : une réponse déposée est fausse ; le nombre dit celles
qui sont justes.</li>
<li><strong>pas commencé</strong> : aucune réponse déposée.</li>
<li><strong>illisible</strong> : l'espace de l'apprenant n'a pas pu être lu.</li>
</ul>
</main>
<script>
// Reloads the page every {seconds} s, unless paused (WCAG 2.2.1: a time limit the
// reader can stop). Paused, the page is not reloaded: the choice needs no storage
// (JupyterLab serves a file in a sandbox, without it).
(() => {{
  const button = document.getElementById("pause");
  let paused = false;
  button.addEventListener("click", () => {{
    paused = !paused;
    button.setAttribute("aria-pressed", String(paused));
  }});
  setInterval(() => {{ if (!paused) location.reload(); }}, {seconds * 1000});
}})();
</script>
</body>
</html>
"""


def write_html(path: Path, text: str) -> None:
    """Atomically: a browser reloading the page never reads half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- the class


def kit_class(directory: Path) -> list[Learner]:
    """The learners of a class provisioned by the trainer kit: a bucket each."""
    record = trainer._class_record(directory.expanduser().resolve())
    if record is None:
        raise SuiviError(
            f"{directory} ne contient pas de classe ({trainer.CLASS_FILE} absent) : "
            "donnez le dossier passé à --out de `./cours classroom provision`, ou "
            "suivez le bucket d'un projet avec --espace projet-NOM."
        )
    return [Learner(item["name"], item["bucket"]) for item in record["apprenants"]]


def project_class(client, space: str, names: list[str] | None) -> list[Learner]:
    """The learners writing under ``space`` (``projet-x`` or ``projet-x/formation``),
    each in ``<space>/<learner>/``: those named, else the folders found there (but
    ``diffusion/``, where the course data is published)."""
    bucket, _, prefix = space.strip("/").partition("/")
    prefix = prefix + "/" if prefix else ""
    if not names:
        try:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix, Delimiter="/"
            )
            names = [
                p["Prefix"][len(prefix) :].rstrip("/")
                for page in pages
                for p in page.get("CommonPrefixes", [])
            ]
            # diffusion/: the course data published for the class, not a learner.
            names = [n for n in names if n != "diffusion"]
        except Exception as exc:  # noqa: BLE001
            raise SuiviError(
                "Impossible de lister les apprenants : "
                + why_unreadable(exc, bucket, prefix)
                + "."
            ) from None
        if not names:
            raise SuiviError(
                f"Personne n'a encore écrit sous s3://{bucket}/{prefix} : donnez "
                "la liste des apprenants (--apprenants) pour les voir dès le début."
            )
    odd = [n for n in names if "/" in n or n in (".", "..")]
    if odd:
        raise SuiviError(
            f"--apprenants : « {odd[0]} » n'est pas un nom de dossier (sans « / ») ; "
            "donnez les noms des dossiers des apprenants, un par ligne."
        )
    return [Learner(name, bucket, f"{prefix}{name}/") for name in names]


def read_names(value: str) -> list[str]:
    """``--apprenants``: a file (a name a line, or the kit's CSV roster) or a list
    ``a,b,c``."""
    path = Path(value).expanduser()
    if path.is_file():
        names = []
        for line in path.read_text(encoding="utf-8").splitlines():
            name = line.split(",")[0].split(";")[0].strip()
            if name and not name.startswith("#") and name != "apprenant":
                names.append(name)
        return names
    if "/" in value or value.endswith((".txt", ".csv")):
        raise SuiviError(f"--apprenants : fichier {path} introuvable.")
    return [n.strip() for n in value.split(",") if n.strip()]


def own_client():
    """The trainer's own S3 client, from their service's variables (as the chapters'
    setup cell reads them)."""
    if not (
        os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")
    ):
        raise SuiviError(
            "Aucun identifiant S3 dans l'environnement (AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY) : lancez le suivi depuis un terminal de votre "
            "service du SSP Cloud, ouvert dans le projet de la formation, ou posez "
            'ces variables (`eval "$(./cours playground env)"` pour le bac à sable).'
        )
    endpoint = os.environ.get("AWS_S3_ENDPOINT", "")
    host = endpoint.removeprefix("https://").removeprefix("http://").rstrip("/")
    local = host.split(":")[0] in ("127.0.0.1", "localhost")
    url = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/") or (
        ("http://" if local else "https://") + host if host else ""
    )
    if not url:
        raise SuiviError(
            "Aucune adresse de serveur S3 (AWS_S3_ENDPOINT ou AWS_ENDPOINT_URL) : "
            "lancez le suivi depuis votre service du SSP Cloud."
        )
    return trainer._client(
        url,
        os.environ["AWS_ACCESS_KEY_ID"],
        os.environ["AWS_SECRET_ACCESS_KEY"],
        os.environ.get("AWS_SESSION_TOKEN"),
        os.environ.get("AWS_DEFAULT_REGION", config.PLAYGROUND_REGION),
        os.environ.get("AWS_CA_BUNDLE"),
    )


# --------------------------------------------------------------------------- CLI


def cmd_suivi(args: argparse.Namespace) -> int:
    catalogue = select(args.chapitres)
    if args.intervalle < 1:
        raise SuiviError(
            f"--intervalle {args.intervalle:g} : au moins 1 seconde entre deux relevés."
        )
    if args.espace:
        if args.dir:
            raise SuiviError(
                "Donnez le dossier de la classe OU --espace, pas les deux."
            )
        client = own_client()
        names = read_names(args.apprenants) if args.apprenants else None
        learners = project_class(client, args.espace, names)
        where = f"s3://{args.espace.strip('/')}/"
    elif args.dir:
        learners = kit_class(Path(args.dir))
        target = trainer.resolve_target(
            Path(args.state_dir) if args.state_dir else None
        )
        record = trainer._class_record(Path(args.dir).expanduser().resolve()) or {}
        if record.get("serveur") != target.endpoint_url:
            raise SuiviError(
                f"{args.dir} décrit une classe du serveur {record.get('serveur')}, le "
                f"serveur visé est {target.endpoint_url} (bac à sable relancé ?)."
            )
        client = target.admin_client()
        where = target.endpoint_url
    else:
        raise SuiviError(
            "Quelle classe suivre ? Le dossier de `./cours classroom provision` (kit "
            "du formateur), ou --espace projet-NOM (SSP Cloud : le bucket du projet)."
        )
    follower = Follower(client, catalogue)
    title = args.titre or "Suivi de la classe : Python et S3"
    notes = []
    if args.espace and not args.apprenants:
        notes.append(
            "sans --apprenants, ceux qui n'ont encore rien écrit n'apparaissent pas"
        )
    html_path = Path(args.html).expanduser() if args.html else None
    if html_path is not None:
        notes.append(f"page à projeter : {html_path.resolve()}")
    clear = sys.stdout.isatty() and not args.une_fois
    while True:
        snapshot = follower.read(learners)
        snapshot.notes = notes
        if html_path is not None:
            write_html(html_path, html_page(snapshot, args.intervalle, title))
        text = text_report(snapshot)
        if clear:
            text = (
                "\033[H\033[2J" + f"{title} ({where}) ; Ctrl-C pour arrêter\n\n" + text
            )
        print(text, flush=True)
        if args.une_fois:
            return 0
        try:
            time.sleep(args.intervalle)
        except KeyboardInterrupt:
            return 0


def add_suivi_command(actions: argparse._SubParsersAction) -> None:
    """``./cours classroom suivi``: the trainer follows the class."""
    p = actions.add_parser(
        "suivi",
        help="suivre la classe : exercices faits et justes, par apprenant",
        description="Lit les réponses déposées par chaque apprenant (sans rien écrire "
        "chez eux) et affiche, rafraîchi toutes les quelques secondes, le tableau "
        "apprenant par chapitre ; --html écrit aussi une page à projeter. Sur le "
        "serveur du kit : DIR, le dossier de `provision` (clés d'administration : "
        f"bac à sable en cours, ou {trainer.ADMIN_ENDPOINT}…). Sur le SSP Cloud : "
        "--espace projet-NOM, avec les identifiants de votre service.",
    )
    p.add_argument("dir", nargs="?", metavar="DIR", help="dossier de la classe (kit)")
    p.add_argument(
        "--espace",
        metavar="BUCKET[/DOSSIER]",
        help="le bucket du projet où chaque apprenant écrit sous NOM/ "
        "(S3COURS_ESPACE=projet-x/NOM)",
    )
    p.add_argument(
        "--apprenants",
        metavar="FICHIER|a,b,c",
        help="avec --espace : les apprenants (un nom par ligne, ou a,b,c) ; "
        "défaut : les dossiers trouvés",
    )
    p.add_argument(
        "--chapitres", metavar="1,2,3", help="seulement ces chapitres (défaut : tous)"
    )
    p.add_argument("--html", metavar="FICHIER", help="écrire aussi la page à projeter")
    p.add_argument(
        "--intervalle",
        type=float,
        default=DEFAULT_INTERVAL,
        help=f"secondes entre deux relevés (défaut : {DEFAULT_INTERVAL:g})",
    )
    p.add_argument(
        "--une-fois", action="store_true", help="un seul relevé, puis s'arrêter"
    )
    p.add_argument("--titre", help="titre de la page")
    p.add_argument("--state-dir", help="dossier d'état du bac à sable")
    p.set_defaults(func=cmd_suivi)


def chapter_problems(client, learner: Learner, chapter: str) -> list[str]:
    """A line per exercise of ``chapter`` that ``learner``'s space does not show as
    done (the test command's check that the published solutions leave right answers
    where the catalogue looks)."""
    catalogue = [e for e in CATALOGUE if e.chapter == chapter]
    if not catalogue:
        return []
    report = Follower(client, catalogue).learner(learner)
    return [
        f"{learner.name} : exercice {label} ({learner.folder}"
        f"{next(e.key for e in catalogue if e.label == label)}) : {result.state}"
        + (f" ({result.why})" if result.why else "")
        for label, result in report.results.items()
        if result.state != DONE
    ]
