"""A classroom on one S3 server: every chapter run by several learners at once.

Two pieces:

- :func:`follow_course` runs every chapter for ONE learner on a given playground, each
  in a fresh kernel, in order, every cell even after an error, and returns each
  chapter's sanitized outputs and its **untagged errors** (errors in cells not tagged
  ``raises-exception``). Any run that must only "pass" (https, shared data absent) uses
  it: :func:`untagged_errors` turns its result into problem lines.
- :func:`run` is the class: ``learners`` learners follow the course at the same time on
  the same server (``workers`` at once), and the first one follows it twice in a row. It
  checks that no run has an untagged error; that every learner gets the same outputs as
  the first (sanitized as nbval does, the learner's name replaced), or, beside the run
  of the published notebooks (the test command's small class), the published outputs;
  that nothing is written, changed or deleted outside the learners' own spaces (shared
  data included); that every learner leaves the same keys; and that the first learner's
  second pass gives the same outputs and leaves exactly the same objects in their space
  (idempotence). The test command's small class deals the chapters between two learners
  instead, each following their share twice (the same checks, but each chapter started
  on an empty space, and two shorter chains side by side). It reports wall time and peak
  memory; it asserts no timing.

Who a learner is, and where they write, is decided in one place:
:func:`learner_environment` gives each learner their own identity on the SSP Cloud twin
(user, bucket, temporary credentials), and :func:`learner_space` reads their space from
those variables, as the chapters do.
"""

from __future__ import annotations

import configparser
import os
import re
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from . import config, learners, notebooks, playground

#: Replaces the learner's name in outputs before comparing learners.
LEARNER_PLACEHOLDER = "APPRENANT"


def learner_names(count: int) -> list[str]:
    """``eleve-01`` … : names of equal length, so that byte counts of listings (which
    include the learner's space in each key) agree between learners."""
    return [f"eleve-{i:02d}" for i in range(1, count + 1)]


def learner_environment(
    started: playground.Playground, base: dict[str, str], learner: str
) -> dict[str, str]:
    """The environment of ``learner``'s kernels: ``base`` (PATH, warnings) plus the
    learner's own SSP Cloud service: a distinct identity (a MinIO user under Onyxia's
    policy, created here if needed), their own bucket, temporary credentials, a home
    with the image's DuckDB secret."""
    playground.add_learner(started, learner)
    return {**base, **started.service(learner)}


def make_duckdb_secret_stale(env: dict[str, str]) -> None:
    """Rewrite the image's DuckDB secret in the learner's home with a secret key the
    server refuses: a service started days ago, whose frozen credentials no longer
    work."""
    stale = {**env, "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"][::-1]}
    playground.write_duckdb_secret(stale, Path(env["HOME"]))


def learner_space(env: dict[str, str], learner: str) -> tuple[str, str]:
    """(bucket, key prefix) where ``learner`` may write (:func:`learners.space`)."""
    found = learners.space(env)
    if found is None:
        raise ValueError(
            f"{learner} n'a pas d'espace (ni {config.SPACE_VARIABLE}, ni "
            "AWS_WORKING_DIRECTORY_PATH, ni KUBERNETES_NAMESPACE)."
        )
    return found


def admin_client(started: playground.Playground):
    """The tooling's own client: it sees every bucket (for checks, never learners)."""
    return playground.s3_client(started.endpoint_url, ca_file=started.ca_file)


def sanitizers() -> list[tuple[re.Pattern[str], str]]:
    """The replacements of ``tests/sanitize.cfg``, as nbval applies them."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config.TESTS_DIR / "sanitize.cfg")
    return [
        (re.compile(parser[s]["regex"]), parser[s]["replace"])
        for s in parser.sections()
    ]


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
            text = text.replace(learner, LEARNER_PLACEHOLDER)
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        texts.append(text)
    return texts


@dataclass
class ChapterRun:
    """One chapter run by one learner."""

    learner: str
    notebook: str  # file name
    seconds: float
    code_cells: int
    #: "cellule de code n° N : Exception: message" for each error in a cell not tagged
    #: ``raises-exception``.
    errors: list[str]
    outputs: list[str]  # sanitized, see output_texts
    #: The executed notebook, when asked for (``run_chapter(..., keep=True)``).
    notebook_node: nbformat.NotebookNode | None = None


def run_chapter(
    notebook: Path | str,
    env: dict[str, str],
    learner: str,
    timeout: int = 600,
    keep: bool = False,
) -> ChapterRun:
    """Run every cell of one chapter in a fresh kernel whose environment is ``env``
    (even after an error, so that every untagged error is counted); ``keep``: with the
    executed notebook."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=notebooks.KERNELSPEC["name"],
        allow_errors=True,
        resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}},
    )
    started = time.monotonic()
    client.execute(env=env)
    seconds = time.monotonic() - started
    errors = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code, start=1):
        if "raises-exception" in cell.metadata.get("tags", []):
            continue
        for out in cell.outputs:
            if out.output_type == "error":
                errors.append(
                    f"cellule de code n° {number} : {out.ename}: "
                    f"{str(out.evalue).splitlines()[0] if out.evalue else ''}"[:300]
                )
    return ChapterRun(
        learner,
        Path(notebook).name,
        seconds,
        len(code),
        errors,
        output_texts(nb, learner),
        nb if keep else None,
    )


def follow_course(
    env: dict[str, str], learner: str, chapters: list[Path] | None = None
) -> list[ChapterRun]:
    """``learner`` runs every chapter in order, as in a course, each in a new kernel."""
    chapters = chapters or sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
    return [run_chapter(notebook, env, learner) for notebook in chapters]


def untagged_errors(runs: list[ChapterRun]) -> list[str]:
    """A problem line per untagged error (empty: the course passed for this learner)."""
    return [
        f"{run.learner} : {run.notebook}, {error}"
        for run in runs
        for error in run.errors
    ]


def course_problems(
    started: playground.Playground,
    base: dict[str, str],
    learner: str,
    chapters: list[Path] | None = None,
) -> list[str]:
    """Every chapter for ``learner`` on ``started``: untagged errors (none expected)."""
    return untagged_errors(
        follow_course(learner_environment(started, base, learner), learner, chapters)
    )


# --------------------------------------------------------------------------- the class


def objects(client, bucket: str, prefix: str = "") -> dict[str, tuple[int, str]]:
    """Every object of a bucket (under ``prefix``): key -> (size, ETag)."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix
    ):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = (obj["Size"], obj["ETag"])
    return found


def server_objects(client) -> dict[tuple[str, str], tuple[int, str]]:
    """Every object of every bucket: (bucket, key) -> (size, ETag)."""
    return {
        (bucket["Name"], key): value
        for bucket in client.list_buckets()["Buckets"]
        for key, value in objects(client, bucket["Name"]).items()
    }


def _difference(what: str, texts: list[str], reference: list[str]) -> str:
    """A problem line: the first code cell whose outputs differ, both versions."""
    first = next(
        (i for i, (a, b) in enumerate(zip(texts, reference)) if a != b),
        min(len(texts), len(reference)),
    )
    got = texts[first] if first < len(texts) else "(cellule absente)"
    want = reference[first] if first < len(reference) else "(cellule absente)"
    return (
        f"{what} (cellule de code n° {first + 1}) :\n"
        f"{got[:400]}\nau lieu de :\n{want[:400]}"
    )


def _changes(before: dict, after: dict) -> list[tuple[str, list]]:
    added = sorted(after.keys() - before.keys())
    gone = sorted(before.keys() - after.keys())
    changed = sorted(k for k in after.keys() & before.keys() if after[k] != before[k])
    return [
        (what, keys)
        for what, keys in (
            ("en plus", added),
            ("en moins", gone),
            ("modifiés", changed),
        )
        if keys
    ]


@dataclass
class LearnerResult:
    learner: str
    space: tuple[str, str]
    runs: list[ChapterRun]
    #: The first learner's second pass, and what it changed in their space.
    rerun: list[ChapterRun] = field(default_factory=list)
    rerun_changes: list[tuple[str, list[str]]] = field(default_factory=list)
    rerun_seconds: float = 0.0


def _learner_job(
    args: tuple[playground.Playground, dict[str, str], str, list[str], bool],
) -> LearnerResult:
    """One learner follows the course (in a worker process); twice in a row for the
    first one, with their space listed between and after the two passes, and a stale
    DuckDB secret in their home for the second pass (the chapters must not depend on
    it)."""
    started, env, learner, chapters, twice = args
    paths = [Path(c) for c in chapters]
    space = learner_space(env, learner)
    result = LearnerResult(learner, space, follow_course(env, learner, paths))
    if twice:
        client = admin_client(started)
        before = objects(client, *space)
        make_duckdb_secret_stale(env)
        t0 = time.monotonic()
        result.rerun = follow_course(env, learner, paths)
        result.rerun_seconds = time.monotonic() - t0
        result.rerun_changes = [
            (what, keys) for what, keys in _changes(before, objects(client, *space))
        ]
    return result


# ------------------------------------------------------------------------- memory


def _memory_of(pid: int) -> int:
    """Resident size (bytes) of a process, from the counters of ``/proc/PID/status``:
    its anonymous pages (what a kernel's data takes) plus the file pages it maps. Pages
    of shared libraries are counted once per process that maps them (a few tens of MB
    per kernel), so a sum over processes is a little above the truth, never below."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0  # a kernel thread, or a process already gone


def _process_tree_memory(roots: list[int]) -> int:
    """Resident memory (bytes) of these processes and all their descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(parent, []).append(int(entry.name))
    total, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _memory_of(pid)
        todo.extend(children.get(pid, []))
    return total


class MemorySampler:
    """Peak resident memory of this process, its descendants (workers, kernels,
    snakemake, mc) and the server, every ``every`` seconds. It reads each process's
    counters in ``/proc/PID/status`` (about 0.06 ms each). It used to read their PSS in
    ``/proc/PID/smaps_rollup``, which makes Linux walk the page tables (4 ms for a
    580 MB process at rest, about 110 ms a sample for the small class under load): 15 s
    of CPU in the test command's small class, even every 2 s, taken from the class it
    measures. PSS and RSS of a kernel differ by its share of library pages (1 %
    measured)."""

    def __init__(self, server_pid: int, every: float = 1.0) -> None:
        self.roots = [os.getpid(), server_pid]
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every,), daemon=True)

    def _sample(self, every: float) -> None:
        while True:
            self.peak = max(self.peak, _process_tree_memory(self.roots))
            if self._done.wait(every):
                return

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


@dataclass
class Report:
    learners: int
    notebooks: int
    workers: int
    server: str = ""
    runs: int = 0
    wall_seconds: float = 0.0
    slowest_run: float = 0.0
    rerun_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory: int = 0
    objects_checked: int = 0
    problems: list[str] = field(default_factory=list)
    #: The learner who runs the published notebooks (nbval) beside the class, if any.
    beside: str = ""
    #: The chapters dealt among the learners, each following their share twice.
    split: bool = False

    def summary(self) -> str:
        who = (
            f"{self.learners} apprenant(s) à côté de {self.beside} "
            "(nbval, sorties publiées)"
            if self.beside
            else f"{self.learners} apprenants"
        )
        how = (
            f"{self.notebooks} chapitres partagés entre eux, {self.workers} à la fois, "
            "chacun sa part deux fois de suite"
            if self.split
            else f"{self.notebooks} chapitres, {self.workers} à la fois, "
            "le 1er deux fois de suite"
        )
        again = "2e passage le plus long" if self.split else "2e passage du 1er"
        return (
            f"{who} x {how} : {self.runs} exécutions en "
            f"{self.wall_seconds:.0f} s (la plus longue : {self.slowest_run:.0f} s ; "
            f"{again} : {self.rerun_seconds:.0f} s), "
            f"CPU {self.cpu_seconds:.0f} s, "
            f"mémoire au pic {self.peak_memory / 2**20:.0f} Mio "
            f"(serveur et noyaux compris), {self.objects_checked} objets vérifiés, "
            f"{len(self.problems)} problème(s)"
        )

    def markdown(self) -> str:
        """The figures as a Markdown table (for a CI job's summary)."""
        rows = [
            ("Apprenants", f"{self.learners} ({self.workers} à la fois)"),
            ("Chapitres", str(self.notebooks)),
            ("Serveur", self.server),
            ("Exécutions de chapitres", str(self.runs)),
            ("Durée", f"{self.wall_seconds:.0f} s"),
            ("Exécution la plus longue", f"{self.slowest_run:.0f} s"),
            ("2e passage du 1er apprenant", f"{self.rerun_seconds:.0f} s"),
            ("CPU (noyaux, sous-processus, serveur)", f"{self.cpu_seconds:.0f} s"),
            ("Mémoire au pic", f"{self.peak_memory / 2**20:.0f} Mio"),
            ("Objets vérifiés", str(self.objects_checked)),
            ("Problèmes", str(len(self.problems))),
        ]
        lines = ["| | |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)]
        lines += [f"\n- {p.splitlines()[0]}" for p in self.problems[:20]]
        return "\n".join(lines) + "\n"


def _cpu_seconds(server_pid: int) -> float:
    """CPU of this process, its waited-for children (workers, kernels), the server."""
    from .chapter_bench import process_cpu

    me = os.times()
    return (
        me.user
        + me.system
        + me.children_user
        + me.children_system
        + process_cpu(server_pid)
    )


def published_outputs(chapters: list[Path]) -> dict[str, list[str]]:
    """The outputs recorded in the chapters' notebooks (those of
    :data:`config.DEFAULT_LEARNER`, who builds them), sanitized as :func:`output_texts`
    does: notebook file name -> texts."""
    return {
        Path(c).name: output_texts(
            nbformat.read(c, as_version=4), config.DEFAULT_LEARNER
        )
        for c in chapters
    }


def run(
    started: playground.Playground,
    base: dict[str, str],
    learners: int = 3,
    workers: int = 2,
    chapters: list[Path] | None = None,
    names: list[str] | None = None,
    beside_published: bool = False,
    shares: list[list[Path]] | None = None,
) -> Report:
    """``learners`` learners (or those ``names``) follow the course on ``started``,
    ``workers`` at a time; the first one follows it twice in a row (while the others
    run).

    ``shares``: the chapters dealt among ``names`` instead (one list per name, in the
    order of the course), and every learner follows their share twice in a row. Each
    share then starts on an empty space, as for a learner who opens a chapter from its
    own button; and the double passes run side by side instead of one after the other
    (the test command's small class, whose longest chain sets the suite's duration).

    ``beside_published``: the class shares its server with the run of the published
    notebooks (nbval, :data:`config.DEFAULT_LEARNER`) and with other tests. Every
    learner's first pass is then compared with the published outputs (not with the first
    learner's), and only the shared data and the class's own buckets are watched for
    changes outside the learners' spaces (the other tests write in their own places
    meanwhile)."""
    if shares is not None:
        if names is None or len(names) != len(shares):
            raise ValueError("shares : une liste de chapitres par apprenant nommé")
        chapters = [chapter for share in shares for chapter in share]
    chapters = chapters or sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
    names = names or learner_names(learners)
    learners = len(names)
    share_of = (
        dict(zip(names, shares))
        if shares is not None
        else {name: chapters for name in names}
    )
    report = Report(
        learners,
        len(chapters),
        workers,
        f"{started.server} {started.version}",
        beside=config.DEFAULT_LEARNER if beside_published else "",
        split=shares is not None,
    )
    client = admin_client(started)
    envs = {name: learner_environment(started, base, name) for name in names}
    spaces = {name: learner_space(envs[name], name) for name in names}
    reference = published_outputs(chapters) if beside_published else {}
    watched = {config.DATA_BUCKET} | {bucket for bucket, _ in spaces.values()}

    def server_state() -> dict[tuple[str, str], tuple[int, str]]:
        found = server_objects(client)
        if not beside_published:
            return found
        return {key: value for key, value in found.items() if key[0] in watched}

    before = server_state()
    jobs = [
        (
            started,
            envs[name],
            name,
            [str(c) for c in share_of[name]],
            shares is not None or name == names[0],
        )
        for name in names
    ]
    results: dict[str, LearnerResult] = {}
    cpu0, t0 = _cpu_seconds(started.pid), time.monotonic()
    with MemorySampler(started.pid) as memory:
        # The first learner's double pass is the longest job: it starts first.
        with ProcessPoolExecutor(max_workers=min(workers, learners)) as pool:
            futures = {pool.submit(_learner_job, job): job[2] for job in jobs}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - reported, not hidden
                    report.problems.append(
                        f"{futures[future]} : exécution interrompue : {exc}"
                    )
                    continue
                results[result.learner] = result
    report.wall_seconds = time.monotonic() - t0
    report.cpu_seconds = _cpu_seconds(started.pid) - cpu0
    report.peak_memory = memory.peak

    first = results.get(names[0])
    for name in names:
        result = results.get(name)
        if result is None:
            continue
        for chapter_run in result.runs + result.rerun:
            report.runs += 1
            report.slowest_run = max(report.slowest_run, chapter_run.seconds)
        report.problems += untagged_errors(result.runs)
        if beside_published:
            for mine in result.runs:
                if mine.outputs != reference[mine.notebook]:
                    report.problems.append(
                        _difference(
                            f"{name} : sorties de {mine.notebook} différentes de "
                            f"celles publiées (celles de {config.DEFAULT_LEARNER})",
                            mine.outputs,
                            reference[mine.notebook],
                        )
                    )
        elif first is not None and name != names[0] and shares is None:
            for mine, reference in zip(result.runs, first.runs):
                if mine.outputs != reference.outputs:
                    report.problems.append(
                        _difference(
                            f"{name} : sorties de {mine.notebook} "
                            f"différentes de celles de {names[0]}",
                            mine.outputs,
                            reference.outputs,
                        )
                    )
    for twice in (r for r in results.values() if r.rerun):
        report.rerun_seconds = max(report.rerun_seconds, twice.rerun_seconds)
        report.problems += [p + " (2e passage)" for p in untagged_errors(twice.rerun)]
        for again, once in zip(twice.rerun, twice.runs):
            if again.outputs != once.outputs:
                report.problems.append(
                    _difference(
                        f"{twice.learner} : sorties de {again.notebook} différentes au "
                        "2e passage",
                        again.outputs,
                        once.outputs,
                    )
                )
        for what, keys in twice.rerun_changes:
            report.problems.append(
                f"{twice.learner} : objets {what} dans son espace après "
                f"le 2e passage : {', '.join(keys[:5])}"
            )

    # Outside the learners' spaces (shared data too), nothing is added, changed or gone.
    after = server_state()
    report.objects_checked = len(after)

    def owner(bucket_key: tuple[str, str]) -> str | None:
        bucket, key = bucket_key
        return next(
            (
                n
                for n in names
                if spaces[n][0] == bucket and key.startswith(spaces[n][1])
            ),
            None,
        )

    outside_before = {k: v for k, v in before.items() if owner(k) is None}
    outside_after = {k: v for k, v in after.items() if owner(k) is None}
    for what, keys in _changes(outside_before, outside_after):
        report.problems.append(
            f"objets {what} hors des espaces des apprenants : "
            + ", ".join(f"{b}/{k}" for b, k in keys[:5])
        )
    # Every learner leaves the same keys in their own space (when they all follow the
    # same chapters).
    if shares is not None:
        return report
    layouts = {}
    for name in names:
        bucket, prefix = spaces[name]
        layouts[name] = frozenset(
            key[len(prefix) :].replace(name, LEARNER_PLACEHOLDER)
            for (b, key) in after
            if b == bucket and key.startswith(prefix)
        )
    if len(set(layouts.values())) > 1:
        reference = layouts[names[0]]
        odd = [n for n in names if layouts[n] != reference]
        report.problems.append(
            f"{', '.join(odd)} n'ont pas les mêmes objets que {names[0]} : "
            + ", ".join(sorted(layouts[odd[0]] ^ reference)[:5])
        )
    return report
