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
  the first (sanitized as nbval does, the learner's name replaced); that nothing is
  written, changed or deleted outside the learners' own spaces (shared data included);
  that every learner leaves the same keys; and that the first learner's second pass
  gives the same outputs and leaves exactly the same objects in their space
  (idempotence). It reports wall time and peak memory; it asserts no timing.
- :func:`second_pass` is the test command's check of idempotence: right after nbval has
  run a published notebook, its learner runs it again; the outputs must still be the
  published ones and the objects those of the first pass.

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

#: Seconds a cell may run (default 600): ``./cours test --ceph`` sets fewer, where a
#: write can hang on a refused upload.
CELL_TIMEOUT_VARIABLE = "S3COURS_DELAI_CELLULE"
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
    timeout: int | None = None,
    keep: bool = False,
) -> ChapterRun:
    """Run every cell of one chapter in a fresh kernel whose environment is ``env``
    (even after an error, so that every untagged error is counted); ``keep``: with the
    executed notebook."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout or int(os.environ.get(CELL_TIMEOUT_VARIABLE) or 600),
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


def class_chapters() -> list[Path]:
    """The chapters a class follows: all but « Spark et S3 », whose kernel starts a JVM
    of its own (about 1 GB and 40 s of CPU before the first cell that reads); that
    chapter has its own command, ``./cours test --spark``."""
    return [
        notebook
        for notebook in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
        if notebook.stem != config.SPARK_CHAPTER
    ]


def follow_course(
    env: dict[str, str], learner: str, chapters: list[Path] | None = None
) -> list[ChapterRun]:
    """``learner`` runs every chapter in order, as in a course, each in a new kernel."""
    chapters = chapters or class_chapters()
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


#: The identifier of a Spark write, in the name of every file it writes
#: (``part-00000-<job>.c000.snappy.parquet``): new at each write (Spark draws it at
#: random), like the magic committer's report in _SUCCESS.
SPARK_JOB = re.compile(r"(?<=/part-\d{5}-)[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def comparable(found: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """Objects as two runs of a chapter must leave them. What Spark writes differs
    from one run to the next where nothing else does: its write identifier in the
    keys, written ``<job>``; the magic committer's report in a non-empty ``_SUCCESS``
    (times, identifiers), counted by its presence only; and, in the footer of its
    Parquet files, the order of each column's list of encodings, which changes from
    one JVM to the next (measured: same size, 58 bytes apart): a file that carries a
    write identifier is compared by its size."""
    stable = {}
    for key, (size, etag) in found.items():
        if key.endswith("/_SUCCESS") and size > 0:
            size, etag = 1, "rapport d'écriture"
        elif SPARK_JOB.search(key):
            etag = "écrit par Spark"
        stable[SPARK_JOB.sub("<job>", key)] = (size, etag)
    return stable


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


#: Where the chapters write in a learner's space: the setup cell puts ``MON_PREFIXE``
#: there (tests/test_second_pass.py checks that every chapter's setup cell does). Other
#: tests may write beside it in the same bucket, never in it.
COURSE_FOLDER = "cours-python-s3/"


def _shared_data(client) -> dict[str, tuple[int, str]]:
    """The shared course data's objects (none when the server has no such bucket)."""
    buckets = {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}
    return objects(client, config.DATA_BUCKET) if config.DATA_BUCKET in buckets else {}


def _home_with_a_stale_secret(env: dict[str, str], scratch: Path) -> dict[str, str]:
    """``env`` with a copy of its home in ``scratch`` (files hard-linked, DuckDB's
    stored secrets left out), where the image's DuckDB secret is stale
    (:func:`make_duckdb_secret_stale`); the learner's own home is not touched."""
    import shutil

    def link(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except OSError:  # another file system
            shutil.copy2(source, target)

    home = scratch / "home"
    shutil.copytree(
        env["HOME"],
        home,
        symlinks=True,
        copy_function=link,
        ignore=shutil.ignore_patterns("stored_secrets"),
    )
    stale = {**env, "HOME": str(home)}
    make_duckdb_secret_stale(stale)
    return stale


def second_pass(
    started: playground.Playground,
    env: dict[str, str],
    learner: str,
    notebook: Path,
    scratch: Path,
    after_nbval: bool,
    first_outputs: list[str] | None = None,
) -> list[str]:
    """``learner`` runs ``notebook`` a second time, as a learner who runs a chapter
    again, right after a first pass: nbval's (``after_nbval``), else one run here first.
    Problems: an untagged error; outputs of the second pass other than the published
    ones (other than the first pass's, when it ran here and ``first_outputs`` is given:
    a list it fills, for a server other than the build's); other objects in the
    learner's course folder (:data:`COURSE_FOLDER`) after it than before it; a change
    to the shared data. The second pass runs in a copy of the
    learner's home (``scratch``) whose DuckDB secret is stale, as in a service started
    days ago: the chapters must not depend on it. The course folder is emptied first
    when the first pass runs here, so that it starts as nbval's does."""
    client = admin_client(started)
    bucket, prefix = learner_space(env, learner)
    folder = prefix + COURSE_FOLDER
    problems = []
    reference: list[str] | None = None
    against = "celles publiées"
    if not after_nbval:
        empty_course_folder(started, env, learner)
        first = run_chapter(notebook, env, learner)
        problems += untagged_errors([first])
        if first_outputs is not None:
            first_outputs[:] = first.outputs
            reference, against = first.outputs, "celles du 1er passage"
    if reference is None:
        reference = published_outputs([notebook])[notebook.name]
    before = comparable(objects(client, bucket, folder))
    shared = _shared_data(client)
    again = run_chapter(notebook, _home_with_a_stale_secret(env, scratch), learner)
    problems += [p + " (2e passage)" for p in untagged_errors([again])]
    if again.outputs != reference:
        problems.append(
            _difference(
                f"{learner} : sorties de {notebook.name} au 2e passage différentes de "
                + against,
                again.outputs,
                reference,
            )
        )
    for what, keys in _changes(before, comparable(objects(client, bucket, folder))):
        problems.append(
            f"{learner} : objets {what} dans {bucket}/{folder} après le 2e passage : "
            + ", ".join(keys[:5])
        )
    for what, keys in _changes(shared, _shared_data(client)):
        problems.append(
            f"données partagées : objets {what} après le 2e passage : "
            + ", ".join(keys[:5])
        )
    return problems


def empty_course_folder(started: playground.Playground, env: dict, learner: str) -> int:
    """Delete what the chapters left in ``learner``'s course folder (the next chapter
    then starts on an empty space, as from its own launch button); returns how many
    objects were deleted."""
    client = admin_client(started)
    bucket, prefix = learner_space(env, learner)
    keys = list(objects(client, bucket, prefix + COURSE_FOLDER))
    for key in keys:
        client.delete_object(Bucket=bucket, Key=key)
    return len(keys)


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
    580 MB process at rest, about 110 ms a sample for a class of three under load): 15 s
    of CPU in that class, even every 2 s, taken from the class it measures. PSS and RSS
    of a kernel differ by its share of library pages (1 % measured)."""

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

    def summary(self) -> str:
        return (
            f"{self.learners} apprenants x {self.notebooks} chapitres, "
            f"{self.workers} à la fois, le 1er deux fois de suite : {self.runs} "
            f"exécutions en {self.wall_seconds:.0f} s (la plus longue : "
            f"{self.slowest_run:.0f} s ; 2e passage du 1er : "
            f"{self.rerun_seconds:.0f} s), "
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
) -> Report:
    """``learners`` learners (or those ``names``) follow the course on ``started``,
    ``workers`` at a time; the first one follows it twice in a row (while the others
    run)."""
    chapters = chapters or class_chapters()
    names = names or learner_names(learners)
    learners = len(names)
    report = Report(
        learners, len(chapters), workers, f"{started.server} {started.version}"
    )
    client = admin_client(started)
    envs = {name: learner_environment(started, base, name) for name in names}
    spaces = {name: learner_space(envs[name], name) for name in names}
    before = server_objects(client)
    jobs = [
        (started, envs[name], name, [str(c) for c in chapters], name == names[0])
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
        if first is not None and name != names[0]:
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
    after = server_objects(client)
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
    # Every learner leaves the same keys in their own space.
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
