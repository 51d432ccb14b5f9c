"""A classroom on one S3 server: every chapter run by many learners at once.

Each learner is a distinct identity (``S3COURS_APPRENANT``) running every chapter notebook
in a fresh kernel against the same playground. The run checks that every learner gets the
same outputs (sanitized as nbval does, the learner's name replaced), that learners' objects stay
under their own prefix with the same set of keys for everyone, and that the shared course
data is unchanged. It reports wall time and peak memory; it asserts no timing.
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


def _run_one(args: tuple[str, str, dict[str, str]]) -> tuple[str, str, float, list[str]]:
    """Run one chapter for one learner (in a worker process)."""
    notebook, learner, env = args
    nb = nbformat.read(notebook, as_version=4)
    started = time.monotonic()
    notebooks.execute(nb, {**env, LEARNER_VARIABLE: learner})
    return notebook, learner, time.monotonic() - started, output_texts(nb, learner)


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
    peak_extra_memory: int = 0
    objects_checked: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.learners} apprenants x {self.notebooks} chapitres = {self.runs} exécutions "
                f"en {self.wall_seconds:.0f} s (la plus longue : {self.slowest_run:.0f} s), "
                f"mémoire en plus au pic : {self.peak_extra_memory / 2**20:.0f} Mio, "
                f"{self.objects_checked} objets vérifiés, {len(self.problems)} problème(s)")


def objects(client, bucket: str) -> dict[str, tuple[int, str]]:
    """Every object of a bucket: key -> (size, ETag)."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = (obj["Size"], obj["ETag"])
    return found


def run(started: playground.Playground, env: dict[str, str], learners: int = 20,
        workers: int = 6, chapters: list[Path] | None = None) -> Report:
    """Run every chapter for ``learners`` learners, ``workers`` kernels at a time."""
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
    jobs = [(str(nb), name, env) for name in names for nb in chapters]
    # The reference is the first learner's run: byte counts of listings depend on the length
    # of the learner's prefix, so outputs are compared between learners of equal-length names.
    expected: dict[str, list[str]] = {}
    t0 = time.monotonic()
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for notebook, learner, seconds, texts in pool.map(_run_one, jobs):
                report.runs += 1
                report.slowest_run = max(report.slowest_run, seconds)
                reference = expected.setdefault(notebook, texts)
                if texts != reference:
                    first = next(i for i, (a, b) in enumerate(zip(texts, reference)) if a != b)
                    report.problems.append(
                        f"{learner} : sorties de {Path(notebook).name} différentes de celles de "
                        f"{names[0]} (cellule de code n° {first + 1}) :\n{texts[first][:400]}\n"
                        f"au lieu de :\n{reference[first][:400]}")
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        report.problems.append(f"exécution interrompue : {exc}")
    finally:
        done.set()
        sampler.join()
    report.wall_seconds = time.monotonic() - t0
    report.peak_extra_memory = peak[0] - baseline

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
