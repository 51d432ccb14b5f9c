"""A classroom on one S3 server: every chapter run by many learners at once.

Each learner is a distinct identity (``S3COURS_APPRENANT``) running every chapter notebook,
in order and each in a fresh kernel, against the same playground, while the other learners do
the same. The run checks that every learner gets the
same outputs (sanitized as nbval does, the learner's name replaced), that learners' objects stay
under their own prefix with the same set of keys for everyone, and that the shared course
data is unchanged. Then the first learner runs every chapter a second time: same outputs, and
the server holds exactly the same objects (idempotence). It reports wall time and peak memory;
it asserts no timing.
"""

from __future__ import annotations

import configparser
import re
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import config, notebooks, playground

LEARNER_VARIABLE = config.LEARNER_VARIABLE


def sanitizers() -> list[tuple[re.Pattern[str], str]]:
    """The replacements of ``tests/sanitize.cfg``, as nbval applies them."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config.TESTS_DIR / "sanitize.cfg")
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def output_texts(nb: nbformat.NotebookNode, learner: str | None = None) -> list[str]:
    """Every code cell's outputs as sanitized text, the learner's name replaced."""
    rules = sanitizers()
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            texts.append("(ignoré)")
            continue
        parts = []
        for out in cell.outputs:
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(str(out.data.get("text/plain", "")))
            elif out.output_type == "error":
                parts.append(f"{out.ename}")
        text = "".join(parts)
        if learner:
            text = text.replace(learner, "APPRENANT")
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        texts.append(text)
    return texts


def _run_one(notebook: str, learner: str, env: dict[str, str]) -> tuple[float, list[str]]:
    """Run one chapter for one learner: its duration and sanitized outputs."""
    nb = nbformat.read(notebook, as_version=4)
    started = time.monotonic()
    notebooks.execute(nb, {**env, LEARNER_VARIABLE: learner})
    return time.monotonic() - started, output_texts(nb, learner)


def _follow_course(args: tuple[list[str], str, dict[str, str]]
                   ) -> tuple[str, list[tuple[str, float, list[str]]]]:
    """One learner runs every chapter in order, as in a course (in a worker process)."""
    chapters, learner, env = args
    return learner, [(notebook, *_run_one(notebook, learner, env)) for notebook in chapters]


def _difference(what: str, texts: list[str], reference: list[str]) -> str:
    """A problem line: the first code cell whose outputs differ, both versions."""
    first = next((i for i, (a, b) in enumerate(zip(texts, reference)) if a != b),
                 min(len(texts), len(reference)))
    got = texts[first] if first < len(texts) else "(cellule absente)"
    want = reference[first] if first < len(reference) else "(cellule absente)"
    return f"{what} (cellule de code n° {first + 1}) :\n{got[:400]}\nau lieu de :\n{want[:400]}"


def _memory_used() -> int:
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    kib = lambda name: int(info[name].split()[0])  # noqa: E731
    return (kib("MemTotal") - kib("MemAvailable")) * 1024


@dataclass
class Report:
    learners: int
    notebooks: int
    runs: int = 0
    wall_seconds: float = 0.0
    slowest_run: float = 0.0
    rerun_seconds: float = 0.0
    peak_extra_memory: int = 0
    objects_checked: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.learners} apprenants x {self.notebooks} chapitres en parallèle "
                f"en {self.wall_seconds:.0f} s (la plus longue : {self.slowest_run:.0f} s), "
                f"puis le 1er apprenant une 2e fois en {self.rerun_seconds:.0f} s "
                f"({self.runs} exécutions en tout), "
                f"mémoire en plus au pic : {self.peak_extra_memory / 2**20:.0f} Mio, "
                f"{self.objects_checked} objets vérifiés, {len(self.problems)} problème(s)")


def objects(client, bucket: str) -> dict[str, tuple[int, str]]:
    """Every object of a bucket: key -> (size, ETag)."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = (obj["Size"], obj["ETag"])
    return found


def _rerun_first_learner(client, chapters: list[Path], learner: str, env: dict[str, str],
                         expected: dict[str, list[str]], report: Report) -> None:
    """Idempotence: the first learner runs every chapter a second time, one after the other;
    outputs must equal the first pass and the server must hold exactly the same objects."""
    buckets = (config.DATA_BUCKET, config.LEARNER_BUCKET)
    before = {bucket: objects(client, bucket) for bucket in buckets}
    for notebook in map(str, chapters):
        _, texts = _run_one(notebook, learner, env)
        report.runs += 1
        if texts != expected[notebook]:
            report.problems.append(_difference(
                f"{learner} : sorties de {Path(notebook).name} différentes au 2e passage",
                texts, expected[notebook]))
    after = {bucket: objects(client, bucket) for bucket in buckets}
    for bucket in buckets:
        added = sorted(after[bucket].keys() - before[bucket].keys())
        gone = sorted(before[bucket].keys() - after[bucket].keys())
        changed = sorted(k for k in after[bucket].keys() & before[bucket].keys()
                         if after[bucket][k] != before[bucket][k])
        for what, keys in (("en plus", added), ("en moins", gone), ("modifiés", changed)):
            if keys:
                report.problems.append(f"{bucket} : objets {what} après le 2e passage de "
                                       f"{learner} : {', '.join(keys[:5])}")


def run(started: playground.Playground, env: dict[str, str], learners: int = 20,
        workers: int = 5, chapters: list[Path] | None = None) -> Report:
    """Run every chapter for ``learners`` learners, ``workers`` learners at a time, each
    going through the chapters in order."""
    chapters = chapters or sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
    names = [f"eleve-{i:02d}" for i in range(1, learners + 1)]
    report = Report(learners, len(chapters))
    client = playground.s3_client(started.endpoint_url)
    shared_before = objects(client, config.DATA_BUCKET)

    baseline = _memory_used()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _memory_used())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    jobs = [([str(nb) for nb in chapters], name, env) for name in names]
    # The reference is the first learner's run: byte counts of listings depend on the length
    # of the learner's prefix, so outputs are compared between learners of equal-length names.
    expected: dict[str, list[str]] = {}
    t0 = time.monotonic()
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for learner, runs in pool.map(_follow_course, jobs):
                for notebook, seconds, texts in runs:
                    report.runs += 1
                    report.slowest_run = max(report.slowest_run, seconds)
                    reference = expected.setdefault(notebook, texts)
                    if texts != reference:
                        report.problems.append(_difference(
                            f"{learner} : sorties de {Path(notebook).name} différentes de "
                            f"celles de {names[0]}", texts, reference))
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        report.problems.append(f"exécution interrompue : {exc}")
    finally:
        done.set()
        sampler.join()
    report.wall_seconds = time.monotonic() - t0
    report.peak_extra_memory = peak[0] - baseline
    if len(expected) == len(chapters):
        t1 = time.monotonic()
        _rerun_first_learner(client, chapters, names[0], env, expected, report)
        report.rerun_seconds = time.monotonic() - t1

    # Shared data untouched.
    if objects(client, config.DATA_BUCKET) != shared_before:
        report.problems.append(f"les données partagées de {config.DATA_BUCKET} ont changé")
    report.objects_checked += len(shared_before)
    # Learners' objects: each under its own prefix, the same keys for everyone.
    learner_objects = objects(client, config.LEARNER_BUCKET)
    report.objects_checked += len(learner_objects)
    per_learner: dict[str, set[str]] = {name: set() for name in names}
    for key in learner_objects:
        owner = next((n for n in names if key.startswith(n + "/") or f"/{n}/" in key), None)
        if owner is None:
            report.problems.append(f"objet hors de tout préfixe d'apprenant : {key}")
        else:
            per_learner[owner].add(key.replace(owner, "APPRENANT"))
    layouts = {frozenset(keys) for keys in per_learner.values()}
    if len(layouts) > 1:
        report.problems.append("les apprenants n'ont pas tous les mêmes objets")
    return report
