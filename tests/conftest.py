"""Shared fixtures. The test command (`./cours test`) starts one playground for the
whole run and exports its variables; tests that need a playground of their own start one
in a private state folder."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest

from s3cours import cli, config, playground

# Tests make many fresh boto3 sessions (to read the environment's credentials of the
# moment); each parsed botocore's JSON models again (60 ms of CPU). One loader per
# worker parses them once: models, endpoints and paginators are the same for every
# session.
botocore.session.create_loader = functools.cache(botocore.session.create_loader)


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A private state folder; whatever playground it records is stopped afterwards."""
    state = tmp_path / "state"
    yield state
    playground.stop(state)


@pytest.fixture(scope="session")
def session_endpoint_url() -> str:
    """The URL of the run's playground (started by `./cours test`)."""
    endpoint = os.environ.get("AWS_S3_ENDPOINT")
    if not endpoint or not endpoint.startswith("127.0.0.1:"):
        pytest.fail(
            "Lancez les tests avec `./cours test` : il démarre le bac à sable S3."
        )
    return f"http://{endpoint}"


@pytest.fixture
def session_playground() -> playground.Playground:
    """The playground `./cours test` started for the whole run (nbval's server), for the
    tests that need more than its variables."""
    state = os.environ.get(cli.TEST_STATE_VARIABLE)
    started = playground.status(Path(state)) if state else None
    if started is None:
        pytest.fail(
            "Lancez les tests avec `./cours test` : il démarre le bac à sable S3."
        )
    return started


# ---------------------------------------------------------------- parallel test command
# `./cours test` runs pytest with pytest-xdist
# (`-n 3 --dist loadscope --no-loadscope-reorder`, cli.PARALLEL_OPTIONS). What each
# worker takes, and in which order, is decided here.

#: The published notebooks (nbval) and their second pass (tests/test_second_pass.py):
#: one work unit, on one worker, each notebook's cells then its second pass. They are
#: one learner (`apprenant`, the published outputs) following the course in order, in
#: one bucket, as in the build; with the second passes, the run's longest chain.
COURSE = ("notebooks/", "tests/test_second_pass.py")
#: Work units that start first, each on a worker of its own, longest first: the course
#: (above), then the site in a browser. Everything else comes after, in file order.
FIRST = (COURSE, ("tests/test_site_browser.py",))


def _order(item: pytest.Item) -> tuple[int, str, int]:
    path = item.nodeid.split("::", 1)[0]
    rank = next(
        (i for i, first in enumerate(FIRST) if path.startswith(first)), len(FIRST)
    )
    if rank != 0:
        return rank, "", 0
    # A notebook's cells (notebooks/NN_slug.ipynb::Cell k), then its second pass
    # (tests/test_second_pass.py::test_…[NN_slug]).
    if path.endswith(".ipynb"):
        return rank, Path(path).stem, 0
    return rank, item.nodeid.rpartition("[")[2].rstrip("]"), 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The Spark chapter's cells have their own command (./cours test --spark).
    for item in items:
        if item.nodeid.startswith(f"notebooks/{config.SPARK_CHAPTER}.ipynb"):
            item.add_marker(pytest.mark.spark)
    # A stable sort: the cells of a notebook and the tests of a file keep their order.
    items.sort(key=_order)


def _in_the_course(item: pytest.Item) -> bool:
    return item.nodeid.startswith(COURSE)


#: A worker that runs anything but the course (nbval and the second passes) puts every
#: one of its threads in Linux's idle scheduling class (SCHED_IDLE): the course is the
#: longest chain of the run; everything else fills the time it leaves (kernels inherit
#: their worker's class). Nice 19 was not enough: a nice-19 task keeps the CPU for its
#: time slice when one of the course's processes wakes up (an S3 answer, a kernel
#: message), and the course waits thousands of times per pass; an idle-class task is
#: preempted at once. Entering the idle class needs no privilege; a worker never leaves
#: it.
def _yield_to_the_course() -> None:
    # On Linux, the scheduling class belongs to each thread (a kernel started by nbval
    # is forked from jupyter_client's event-loop thread): every thread of the worker,
    # and the threads and processes they start from now on, which inherit it.
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            if os.sched_getscheduler(tid) != os.SCHED_IDLE:
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))


class _YieldToTheCourse:
    """Registered as a plugin, not left as a hook of this conftest: a conftest's
    ``pytest_runtest_setup`` is only called for the items under its folder, not for
    nbval's notebooks (``notebooks/``). First, before nbval starts a notebook's
    kernel."""

    @staticmethod
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(item: pytest.Item) -> None:
        if os.environ.get("PYTEST_XDIST_WORKER") and not _in_the_course(item):
            _yield_to_the_course()

    @staticmethod
    def pytest_runtest_logreport(report: pytest.TestReport) -> None:
        if report.when == "call" and report.nodeid.startswith("notebooks/"):
            _NBVAL_RAN.add(Path(report.nodeid.split("::", 1)[0]).name)


#: The notebooks whose cells nbval ran in this process (file names).
_NBVAL_RAN: set[str] = set()


@pytest.fixture
def nbval_ran() -> set[str]:
    """The notebooks nbval ran in this process (file names): their second pass follows
    nbval's (tests/test_second_pass.py)."""
    return _NBVAL_RAN


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_YieldToTheCourse(), "s3cours-yield-to-the-course")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    """Work units for the workers: a test file, except that the notebooks and their
    second passes are ONE unit (:data:`COURSE`). nbval runs a notebook's cells in order
    in one kernel, so a notebook must stay on one worker; and all of them stay together
    because they are one learner following the course in order."""
    from xdist.scheduler import LoadScopeScheduling

    class CourseScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "course" if path.startswith(COURSE) else path

    return CourseScheduling(config, log)


#: Lines that tests hand to the final report (``record_property("bilan", ...)``): with
#: pytest-xdist, what a test prints in a worker never reaches the terminal.
_REPORT_LINES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _REPORT_LINES.extend(str(v) for k, v in report.user_properties if k == "bilan")


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    for line in _REPORT_LINES:
        terminalreporter.write_line(line)
