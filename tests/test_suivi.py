"""The trainer follows the class: ``./cours classroom suivi``.

- The catalogue (:data:`s3cours.suivi.CATALOGUE`) is the one source of the answers'
  keys: each statement names its key, each executed solution says it wrote it there;
  every other exercise says it leaves nothing. (That the executed solutions leave a
  RIGHT answer there is checked after each chapter's second pass,
  tests/test_second_pass.py.)
- A class of 20 simulated learners at different stages (some done, some with a wrong
  answer, some who never wrote), their answers written directly on the run's
  playground, and one learner whose space the trainer may not read: the table says
  exactly that, a wrong answer never counts as done, the unreadable space is said in
  French, and nothing is written in any learner's space. The same class through the
  command, as on SSP Cloud: learners under ``<project bucket>/<learner>/``, the
  trainer with their own session keys.
- The HTML page: self-contained, reloads itself, row and column headers, states in
  words; axe-core finds no WCAG A/AA violation (where Chromium and axe-core are there).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from s3cours import classroom, cli, config, data, learners, notebooks, playground, suivi

# --------------------------------------------------------------------------- catalogue


def _source(chapter: str) -> Path:
    return next(s for s in notebooks.sources() if s.stem.startswith(chapter))


def _statements(chapter: str) -> dict[int, tuple[str, str]]:
    """Exercise number -> (statement, solution) of a chapter's « Exercices »."""
    text = _source(chapter).read_text(encoding="utf-8")
    section = text[text.index("\n## Exercices") :]
    section = section[: section.index("\n## ", 5)]
    found = {}
    for part in re.split(r"\n### Exercice ", section)[1:]:
        number = int(re.match(r"\d+", part)[0])
        statement, _, solution = part.partition("::: {.callout-tip")
        found[number] = (statement, solution)
    return found


def _printed(chapter: str) -> str:
    nb = nbformat.read(notebooks.notebook_path(_source(chapter)), as_version=4)
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream"
    )


@pytest.mark.parametrize("exercise", suivi.CATALOGUE, ids=lambda e: e.label)
def test_the_statement_names_the_key_and_the_solution_wrote_it(
    exercise: suivi.Exercise,
) -> None:
    statement, solution = _statements(exercise.chapter)[exercise.number]
    if exercise.named_as:  # chapter 8 (not rebuilt here): its own words
        assert exercise.named_as in statement
        assert exercise.named_as.split(" + ")[1].strip('"') in exercise.key
        assert "medianes_par_dep" in solution
        return
    assert f"`{exercise.key}`" in statement
    assert f"Réponse déposée : {exercise.key}\n" in _printed(exercise.chapter)


def test_the_trainers_page_says_how_many_exercises_are_followed() -> None:
    text = (config.ROOT / "formation.qmd").read_text(encoding="utf-8")
    assert f" {len(suivi.CATALOGUE)} exercices sont ainsi suivis." in text
    assert "(communes : 1534, attendu 1535)" in text


def test_every_other_exercise_says_it_leaves_nothing() -> None:
    followed = {e.label for e in suivi.CATALOGUE}
    for chapter in suivi.chapters():
        for number, (statement, _) in _statements(chapter).items():
            label = f"{int(chapter)}.{number}"
            if label in followed:
                continue
            assert label in suivi.UNFOLLOWED, f"exercice {label} : ni suivi ni exclu"
            if chapter != config.SPARK_CHAPTER[:2]:
                assert re.search(r"ne (dépose|laisse) rien", statement), label
    for label in suivi.UNFOLLOWED:
        chapter, _, number = label.partition(".")
        assert int(number) in _statements(f"{int(chapter):02d}"), label


# --------------------------------------------------------------------------- answers
# Written as the solutions compute them, from the course data on the server (not from
# the checker's own reference values).


def _course_table(admin, key: str):
    import pandas as pd

    body = admin.get_object(Bucket=config.DATA_BUCKET, Key=key)["Body"].read()
    if key.endswith(".parquet"):
        return pd.read_parquet(io.BytesIO(body))
    return pd.read_csv(io.BytesIO(body), sep=";", dtype={"CODGEO": "string"})


def _department(codes, overseas: bool):
    two = codes.str[:2]
    return two.where(~codes.str.startswith("97"), codes.str[:3]) if overseas else two


def right_answers(admin) -> dict[str, bytes | dict[str, bytes] | None]:
    """Label -> the bytes a right answer holds (a folder: key -> bytes; None: made by a
    server-side copy)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    listed = admin.list_objects_v2(Bucket=config.DATA_BUCKET, Prefix=config.DATA_PREFIX)
    total = sum(o["Size"] for o in listed["Contents"] if not o["Key"].endswith("/"))
    df = _course_table(admin, config.FILOSOFI_PARQUET_KEY)
    by_dep = (
        df.assign(DEP=df["CODGEO"].str[:2])
        .groupby("DEP")
        .agg(COMMUNES=("CODGEO", "size"), TP6014_MOYEN=("TP6014", "mean"))
        .reset_index()
    )
    corse = df.loc[
        df["CODGEO"].str.startswith(("2A", "2B")), ["CODGEO", "LIBGEO", "MED14"]
    ]
    top5 = (
        df.assign(DEP=_department(df["CODGEO"], True))
        .groupby("DEP")["TP6014"]
        .agg(pauvrete="mean", communes="count")
        .round({"pauvrete": 2})
        .reset_index()
        .sort_values(["pauvrete", "DEP"], ascending=[False, True])
        .head(5)
    )
    extrait = data.generate(n_communes=500)
    big = data.generate(200_000)
    moyennes = (
        big.groupby(_department(big["CODGEO"], True))["MED14"]
        .mean()
        .rename("MED14 moyen")
        .rename_axis("DEP")
    )
    sink = io.BytesIO()
    pacsv.write_csv(
        pa.Table.from_pandas(big, preserve_index=False).replace_schema_metadata(None),
        sink,
        pacsv.WriteOptions(delimiter=";", quoting_style="none", quoting_header="none"),
    )
    size, part = len(sink.getvalue()), 6 * 2**20
    parts = [sink.getvalue()[i : i + part] for i in range(0, size, part)]
    etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    medianes = (
        df.assign(DEP=df["CODGEO"].str[:2])
        .groupby("DEP")["MED14"]
        .median()
        .rename("MED14_mediane")
        .reset_index()
    )

    def parquet(frame) -> bytes:
        return frame.to_parquet(index=False)

    return {
        "1.1": str(total).encode(),
        "2.1": str(int((df["MED14"] > 25_000).sum())).encode(),
        "3.1": None,
        "3.2": parquet(by_dep),
        "4.1": parquet(corse),
        "4.2": top5.to_csv(sep=";", index=False).encode(),
        "5.1": data.to_parquet_bytes(extrait[extrait["MED14"] > 25_000]),
        "5.3": b"CODGEO;AVIS\n01001;ok\n",
        "6.1": moyennes.to_csv(sep=";").encode(),
        "6.2": f'"{etag}-{math.ceil(size / part)}"'.encode(),
        "8.3": {
            "part-00000-0f1e2d3c-c000.csv": medianes.to_csv(
                sep=";", index=False
            ).encode(),
            "_SUCCESS": b"",
        },
    }


def wrong_answers(right: dict) -> dict[str, bytes]:
    """One plausible mistake per exercise (the kind a learner makes)."""
    import pandas as pd

    return {
        "1.1": str(int(right["1.1"]) // 2).encode(),  # one file only
        "2.1": b"1 534",  # >= instead of >, say
        "3.2": pd.read_parquet(io.BytesIO(right["3.2"])).head(10).to_parquet(),
        "4.2": b"DEP;pauvrete;communes\n01;1.0;3\n",
        "5.3": b"codgeo,avis\n",
        "6.2": b'"0123456789abcdef0123456789abcdef"',  # sent in one part
    }


def put_answer(admin, bucket: str, folder: str, label: str, answer) -> None:
    exercise = next(e for e in suivi.CATALOGUE if e.label == label)
    key = folder + exercise.key
    if answer is None:  # 3.1: the copy, server-side, as the solution does
        admin.copy_object(
            CopySource={
                "Bucket": config.DATA_BUCKET,
                "Key": config.FILOSOFI_PARQUET_KEY,
            },
            Bucket=bucket,
            Key=key,
        )
    elif isinstance(answer, dict):
        for name, body in answer.items():
            admin.put_object(Bucket=bucket, Key=key + name, Body=body)
    else:
        admin.put_object(Bucket=bucket, Key=key, Body=answer)


#: The class: learner -> {label: "juste" | "faux"} (absent: never written).
ALL = [e.label for e in suivi.CATALOGUE]
STAGES: dict[str, dict[str, str]] = {
    **{f"eleve-{i:02d}": dict.fromkeys(ALL, "juste") for i in range(1, 6)},
    **{
        f"eleve-{i:02d}": dict.fromkeys(["1.1", "2.1", "3.1", "3.2"], "juste")
        for i in range(6, 10)
    },
    **{
        f"eleve-{i:02d}": {
            "1.1": "juste",
            "2.1": "juste",
            "3.1": "juste",
            "3.2": "faux",
        }
        for i in range(10, 13)
    },
    "eleve-13": {"1.1": "faux", "2.1": "juste"},
    "eleve-14": {"1.1": "faux", "2.1": "faux"},
    "eleve-15": {"1.1": "juste", "2.1": "juste", "4.1": "juste", "4.2": "faux"},
    "eleve-16": {**dict.fromkeys(ALL, "juste"), "5.3": "faux", "6.2": "faux"},
    "eleve-17": {"5.1": "juste"},
    # eleve-18 to eleve-20 never wrote anything.
}
NAMES = [f"eleve-{i:02d}" for i in range(1, 21)]

#: The terminal's cells (:func:`s3cours.suivi.Snapshot.short_cell`).
F1 = F2 = "fait"
P1 = P2 = "-"
X01, X12, C12 = "faux 0/1", "faux 1/2", "1/2"
ALL_DONE = [F1, F1, F2, F2, F2, F2, F1, "11/11"]
NOTHING = [P1, P1, P2, P2, P2, P2, P1, "0/11"]
#: What the table must say, cell by cell (chapters 1, 2, 3, 4, 5, 6, 8, total).
EXPECTED: dict[str, list[str]] = {
    **{f"eleve-{i:02d}": ALL_DONE for i in range(1, 6)},
    **{f"eleve-{i:02d}": [F1, F1, F2, P2, P2, P2, P1, "4/11"] for i in range(6, 10)},
    **{f"eleve-{i:02d}": [F1, F1, X12, P2, P2, P2, P1, "3/11"] for i in range(10, 13)},
    "eleve-13": [X01, F1, P2, P2, P2, P2, P1, "1/11"],
    "eleve-14": [X01, X01, P2, P2, P2, P2, P1, "0/11"],
    "eleve-15": [F1, F1, P2, X12, P2, P2, P1, "3/11"],
    "eleve-16": [F1, F1, F2, F2, X12, X12, F1, "9/11"],
    "eleve-17": [P1, P1, P2, P2, C12, P2, P1, "1/11"],
    **{f"eleve-{i:02d}": NOTHING for i in range(18, 21)},
}
HEADER = ["apprenant", "ch. 1", "ch. 2", "ch. 3", "ch. 4", "ch. 5", "ch. 6", "ch. 8"]


def cells(table: str) -> dict[str, list[str]]:
    """The text table read back: learner -> cells; the header checked on the way."""
    lines = table.splitlines()
    assert [c.strip() for c in lines[0].split("|")] == [*HEADER, "total"]
    assert set(lines[1]) <= {"-", "+"}
    rows = {}
    for line in lines[2:]:
        name, *rest = [c.strip() for c in line.split("|")]
        rows[name] = rest
    return rows


@pytest.fixture(scope="module")
def session_playground_once() -> playground.Playground:
    """The run's playground (as tests/conftest.py's ``session_playground``), for a
    fixture made once per module."""
    state = os.environ.get(cli.TEST_STATE_VARIABLE)
    started = playground.status(Path(state)) if state else None
    if started is None:
        pytest.fail(
            "Lancez les tests avec `./cours test` : il démarre le bac à sable S3."
        )
    return started


@pytest.fixture(scope="module")
def project(session_playground_once: playground.Playground) -> Iterator[dict]:
    """A project bucket as on SSP Cloud (``<bucket>/<learner>/`` for each learner, the
    trainer a member: a session under Onyxia's policy on that bucket), the class's
    answers written there by the tooling, and one more learner in a bucket the trainer
    may not read. Everything made here is removed afterwards, nothing else. Made once
    for the module (a few seconds); a test that changes an answer puts it back."""
    session_playground = session_playground_once
    if session_playground.server != "MinIO":
        pytest.skip("moto n'applique aucune politique : refus impossibles")
    tag = uuid.uuid4().hex[:8]
    trainer_name, other = f"suivi-{tag}", f"suivi-autre-{tag}"
    admin = classroom.admin_client(session_playground)
    playground.add_learner(session_playground, trainer_name)
    playground.add_learner(session_playground, other)
    right = right_answers(admin)
    wrong = wrong_answers(right)
    for name, stage in STAGES.items():
        for label, verdict in stage.items():
            answer = right[label] if verdict == "juste" else wrong[label]
            put_answer(
                admin, trainer_name, f"{name}/{suivi.COURSE_FOLDER}", label, answer
            )
    for label, answer in right.items():  # readable by its owner only
        put_answer(admin, other, f"eleve-21/{suivi.COURSE_FOLDER}", label, answer)
    try:
        yield {
            "bucket": trainer_name,
            "other": other,
            "env": session_playground.environment(trainer_name),
            "admin": admin,
            "right": right,
            "wrong": wrong,
        }
    finally:
        for bucket in (trainer_name, other):
            for key in classroom.objects(admin, bucket):
                admin.delete_object(Bucket=bucket, Key=key)
            admin.delete_bucket(Bucket=bucket)
            learners.remove_user(session_playground.admin(), bucket)


def _trainer_client(env: dict[str, str]):
    return suivi.trainer._client(
        env["AWS_ENDPOINT_URL"],
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
        env["AWS_SESSION_TOKEN"],
        env.get("AWS_DEFAULT_REGION", config.PLAYGROUND_REGION),
        env.get("AWS_CA_BUNDLE"),
    )


def test_a_class_of_twenty_at_different_stages(
    project: dict, record_property: pytest.RecordProperty
) -> None:
    admin = project["admin"]
    before = {
        b: classroom.objects(admin, b) for b in (project["bucket"], project["other"])
    }
    class_ = [suivi.Learner(n, project["bucket"], f"{n}/") for n in NAMES]
    class_.append(suivi.Learner("eleve-21", project["other"], "eleve-21/"))
    follower = suivi.Follower(_trainer_client(project["env"]))

    snapshot = follower.read(class_)
    found = cells(suivi.text_table(snapshot))
    assert list(found) == [*NAMES, "eleve-21"]
    assert {n: found[n] for n in NAMES} == EXPECTED
    assert found["eleve-21"] == ["illisible"] * 7 + ["0/11"]

    # A wrong answer never counts as done; each is said, with why, for the trainer.
    details = snapshot.details()
    wrong = [d for d in details if "réponse fausse" in d]
    expected_wrong = sum(v == "faux" for s in STAGES.values() for v in s.values())
    assert len(wrong) == expected_wrong == 9
    # formation.qmd quotes this line.
    assert (
        "eleve-14, exercice 2.1 : réponse fausse (communes : 1534, attendu 1535)"
        in (details)
    )
    assert "eleve-16, exercice 6.2 : réponse fausse (pas l'ETag d'un envoi" in (
        "\n".join(details)
    )
    # The unreadable space: said once, in French, with what to do.
    assert details[-1].startswith(
        f"Illisible pour eleve-21 : accès refusé à s3://{project['other']}/"
        "eleve-21/cours-python-s3/ : vos identifiants ne permettent pas de lire"
    )

    # A refresh downloads nothing it has checked already; an answer corrected since is
    # checked again.
    right = project["right"]
    put_answer(
        admin, project["bucket"], f"eleve-14/{suivi.COURSE_FOLDER}", "2.1", right["2.1"]
    )
    reads: list[str] = []
    read = follower._read
    follower._read = lambda bucket, key: reads.append(key) or read(bucket, key)
    started = time.monotonic()
    again = follower.read(class_)
    refresh = time.monotonic() - started
    assert cells(suivi.text_table(again))["eleve-14"][:2] == [X01, F1]
    assert reads == [f"eleve-14/{suivi.COURSE_FOLDER}exercices/02/communes_aisees.txt"]

    # Only read: every learner's space is as it was (but for the answer put above).
    after = {b: classroom.objects(admin, b) for b in before}
    changed = {(b, k) for b in before for k in set(before[b]) ^ set(after[b])} | {
        (b, k) for b in before for k in before[b] if before[b][k] != after[b].get(k)
    }
    assert changed == {
        (
            project["bucket"],
            f"eleve-14/{suivi.COURSE_FOLDER}exercices/02/communes_aisees.txt",
        )
    }
    put_answer(  # as it was, for the other tests
        admin, project["bucket"], f"eleve-14/{suivi.COURSE_FOLDER}", "2.1", b"1 534"
    )
    record_property(
        "bilan",
        f"Suivi de 21 apprenants : premier relevé {snapshot.seconds:.2f} s, "
        f"rafraîchissement {refresh:.2f} s.",
    )


def test_thirty_learners_refresh_within_the_interval(
    project: dict, record_property: pytest.RecordProperty
) -> None:
    """30 learners (the 20 of the class, ten more who never wrote): a refresh takes
    less than the default interval between two."""
    names = NAMES + [f"eleve-{i}" for i in range(22, 32)]
    class_ = [suivi.Learner(n, project["bucket"], f"{n}/") for n in names]
    follower = suivi.Follower(_trainer_client(project["env"]))
    first = follower.read(class_)
    second = follower.read(class_)
    assert len(second.reports) == 30
    assert second.seconds < suivi.DEFAULT_INTERVAL
    record_property(
        "bilan",
        f"Suivi de 30 apprenants : premier relevé {first.seconds:.2f} s, "
        f"rafraîchissement {second.seconds:.2f} s.",
    )


def test_the_command_follows_a_project_bucket_with_the_trainers_own_keys(
    project: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """As on SSP Cloud: the trainer's service variables, ``--espace`` the project's
    bucket, the learners those who wrote there (the others: given by a list)."""
    for name, value in project["env"].items():
        monkeypatch.setenv(name, value)
    page = tmp_path / "suivi.html"
    roster = tmp_path / "apprenants.txt"
    roster.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    argv = ["classroom", "suivi", "--espace", project["bucket"], "--une-fois"]
    assert cli.main([*argv, "--apprenants", str(roster), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    table, _, rest = out.partition("\n\n")
    table, legend = table.removesuffix(suivi.TERMINAL_LEGEND), suivi.TERMINAL_LEGEND
    assert out.startswith(table + legend + "\n\n")
    assert cells(table.rstrip("\n")) == EXPECTED
    assert rest.startswith("20 apprenant(s), 5 ont tout fait ; relevé du ")
    assert '<td class="faux">faux 1/2</td>' in page.read_text()

    # Without the list: those who wrote something (not the published data beside
    # them), and a warning for the others.
    key = "diffusion/FILOSOFI/2014/FILOSOFI_COM.csv"
    project["admin"].put_object(Bucket=project["bucket"], Key=key, Body=b"CODGEO\n")
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    rows = [line.split(" ")[0] for line in out.splitlines() if line.startswith("eleve")]
    assert rows == [n for n in NAMES if n in STAGES]
    assert "ceux qui n'ont encore rien écrit n'apparaissent pas" in out


def test_what_the_command_cannot_do_is_said_in_french(
    project: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    for name, value in project["env"].items():
        monkeypatch.setenv(name, value)
    argv = ["classroom", "suivi", "--espace", project["other"], "--une-fois"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Impossible de lister les apprenants : accès refusé à s3://" in err
    assert cli.main(["classroom", "suivi", "--une-fois"]) == 2
    assert "Quelle classe suivre ?" in capsys.readouterr().err
    argv = ["classroom", "suivi", "--espace", project["bucket"], "--chapitres", "7"]
    assert cli.main(argv) == 2
    assert "« 7 » n'a pas d'exercice suivi" in capsys.readouterr().err
    argv = ["classroom", "suivi", "--espace", project["bucket"], "--intervalle", "0"]
    assert cli.main(argv) == 2
    assert "au moins 1 seconde" in capsys.readouterr().err
    roster = tmp_path / "liste.txt"
    roster.write_text("eleve-01\neleve-02/cours\n", encoding="utf-8")
    argv = ["classroom", "suivi", "--espace", project["bucket"], "--apprenants"]
    assert cli.main([*argv, str(roster)]) == 2
    assert "« eleve-02/cours » n'est pas un nom de dossier" in capsys.readouterr().err
    assert cli.main([*argv, str(tmp_path / "absente.txt")]) == 2
    assert "fichier" in capsys.readouterr().err
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    assert cli.main(["classroom", "suivi", "--espace", project["bucket"]]) == 2
    assert "Aucun identifiant S3 dans l'environnement" in capsys.readouterr().err


# --------------------------------------------------------------------------- the page


def _snapshot() -> suivi.Snapshot:
    """A small class without a server: one learner in each state."""
    catalogue = suivi.select("1,3")
    states = {
        "eleve-01": {"1.1": "fait", "3.1": "fait", "3.2": "fait"},
        "eleve-02": {"1.1": "fait", "3.1": "fait", "3.2": "réponse fausse"},
        "eleve-03": {"1.1": "fait", "3.1": "fait", "3.2": "pas commencé"},
        "eleve-04": dict.fromkeys(["1.1", "3.1", "3.2"], "pas commencé"),
        "eleve-05": dict.fromkeys(["1.1", "3.1", "3.2"], "illisible"),
    }
    reports = [
        suivi.LearnerReport(
            suivi.Learner(name, "projet-x", f"{name}/"),
            {label: suivi.Result(state, "raison") for label, state in by.items()},
        )
        for name, by in states.items()
    ]
    from datetime import datetime

    return suivi.Snapshot(catalogue, reports, datetime(2026, 12, 7, 14, 5), 0.2)


def _big_class(count: int) -> suivi.Snapshot:
    """``count`` learners, every chapter, the widest cells (« en cours 1/2 »)."""
    from datetime import datetime

    states = ["fait", "pas commencé"]
    reports = [
        suivi.LearnerReport(
            suivi.Learner(f"eleve-{i:02d}", "projet-x", f"eleve-{i:02d}/"),
            {
                e.label: suivi.Result(states[(i + j) % 2])
                for j, e in enumerate(suivi.CATALOGUE)
            },
        )
        for i in range(1, count + 1)
    ]
    return suivi.Snapshot(suivi.CATALOGUE, reports, datetime(2026, 12, 7, 14, 5), 0.2)


def test_the_page_says_every_state_in_words_with_headers_and_no_other_host() -> None:
    page = suivi.html_page(_snapshot(), 5, "Suivi de la classe")
    assert '<html lang="fr">' in page
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
    assert "setInterval(() => { if (!paused) location.reload(); }, 5000);" in page
    assert "Storage" not in page  # JupyterLab serves files in a sandbox: no storage
    assert re.findall(r'<th scope="col">([^<]*)</th>', page) == [
        "apprenant",
        "ch. 1",
        "ch. 3",
        "total",
    ]
    assert re.findall(r'<th scope="row">([^<]*)</th>', page) == [
        f"eleve-{i:02d}" for i in range(1, 6)
    ]
    cells = re.findall(r'<td class="(\w+)">([^<]*)</td>', page)
    assert cells == [
        ("fait", "fait"),
        ("fait", "fait"),
        ("fait", "fait"),
        ("faux", "faux 1/2"),
        ("fait", "fait"),
        ("encours", "en cours 1/2"),
        ("vide", "pas commencé"),
        ("vide", "pas commencé"),
        ("illisible", "illisible"),
        ("illisible", "illisible"),
    ]
    # Projected to the class: no answer, no reason of a wrong one.
    assert "raison" not in page
    assert not re.search(r"(src|href)=|url\(|@import|fetch\(", page)


def _contrast(fg: str, bg: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in channels
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("state", suivi.STYLES)
def test_every_state_reads_at_a_distance(state: str) -> None:
    """WCAG AA asks 4.5:1; a projector washes colours out: 7:1 (AAA) at least."""
    assert _contrast(*suivi.STYLES[state]) >= 7


def test_axe_finds_no_wcag_violation_on_the_page(tmp_path: Path) -> None:
    from s3cours import site

    chromium = os.environ.get("S3COURS_CHROMIUM") or shutil.which("chromium")
    chromium = chromium or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    missing = [m for m in (site.axe_missing(),) if m] + (
        [] if chromium else ["Chromium introuvable"]
    )
    if missing:
        pytest.skip("Page non vérifiée par axe-core : " + " ; ".join(missing))
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "suivi.html"
    suivi.write_html(page_file, suivi.html_page(_snapshot(), 5, "Suivi de la classe"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            # A projector's screen.
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            outside: list[str] = []
            context.route(
                re.compile(r"^(?!file://)"),
                lambda route: (outside.append(route.request.url), route.abort()),
            )
            tab = context.new_page()
            tab.goto(page_file.as_uri())
            tab.add_script_tag(content=site.axe_script())
            violations = tab.evaluate(
                """async () => (await axe.run(document, {runOnly: {type: 'tag',
                   values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                   resultTypes: ['violations']})).violations.map(
                   v => v.id + ' : ' + v.nodes.map(n => n.html).join(' | '))"""
            )
            font = tab.evaluate(
                "parseFloat(getComputedStyle(document.querySelector('td')).fontSize)"
            )
            # 30 learners, every chapter: the whole table on the screen.
            suivi.write_html(page_file, suivi.html_page(_big_class(30), 5, "Suivi"))
            tab.goto(page_file.as_uri())
            fits = tab.evaluate(
                """() => {
                  const box = document.querySelector('table').getBoundingClientRect();
                  return [box.bottom <= innerHeight, box.right <= innerWidth,
                          parseFloat(getComputedStyle(
                            document.querySelector('td')).fontSize)];
                }"""
            )
            # It reloads itself, until « Pause » is pressed.
            suivi.write_html(page_file, suivi.html_page(_snapshot(), 1, "Suivi"))
            loads: list[str] = []
            tab.on("load", lambda _: loads.append("chargée"))
            tab.goto(page_file.as_uri())
            tab.wait_for_timeout(1600)
            reloaded = len(loads)
            tab.click("#pause")
            pressed = tab.get_attribute("#pause", "aria-pressed")
            tab.wait_for_timeout(1500)
            paused = len(loads) - reloaded
        finally:
            browser.close()
    assert violations == []
    assert reloaded >= 2
    assert (pressed, paused) == ("true", 0)
    assert outside == []
    assert font >= 24  # readable from the back of the room
    assert fits[:2] == [True, True] and fits[2] >= 20
    assert json.dumps(violations)  # a list of strings, said as such when it fails


def test_the_command_follows_a_class_of_the_trainer_kit(
    session_playground: playground.Playground,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    """On the kit's server: the class's folder, the administrator's keys, a bucket per
    learner (their default space: nothing to ask of them)."""
    target = suivi.trainer.Target(
        session_playground, session_playground.admin(), "bac à sable"
    )
    out = tmp_path / "classe"
    prefix = f"suivi-kit-{uuid.uuid4().hex[:6]}"
    suivi.trainer.provision(target, out, 2, prefix, log=lambda _: None)
    admin = classroom.admin_client(session_playground)
    try:
        key = suivi.COURSE_FOLDER + "exercices/02/communes_aisees.txt"
        admin.put_object(Bucket=f"{prefix}-01", Key=key, Body=b"1535")
        argv = ["classroom", "suivi", str(out), "--chapitres", "1,2", "--une-fois"]
        state = os.environ[cli.TEST_STATE_VARIABLE]
        assert cli.main([*argv, "--state-dir", state]) == 0
        table, _, _ = capsys.readouterr().out.partition("\n\n")
        assert table.endswith("\n" + suivi.TERMINAL_LEGEND)
        rows = table.removesuffix(suivi.TERMINAL_LEGEND).splitlines()[2:]
        assert [[c.strip() for c in r.split("|")] for r in rows] == [
            [f"{prefix}-01", P1, F1, "1/2"],
            [f"{prefix}-02", P1, P1, "0/2"],
        ]
    finally:
        suivi.trainer.remove(target, out, buckets=True, log=lambda _: None)
