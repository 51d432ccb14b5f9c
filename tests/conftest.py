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

from s3cours import cli, playground

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

#: Test files that start first, each on a worker of its own, longest first: the small
#: class (its learners are processes of their own), then the published notebooks
#: (nbval), then the site in a browser. Everything else comes after, in file order.
FIRST = ("tests/test_classroom.py", "notebooks/", "tests/test_site_browser.py")


def _rank(nodeid: str) -> int:
    path = nodeid.split("::", 1)[0]
    return next(
        (i for i, first in enumerate(FIRST) if path.startswith(first)), len(FIRST)
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: the cells of a notebook and the tests of a file keep their order.
    items.sort(key=lambda item: _rank(item.nodeid))


#: A worker that runs anything but the small class, nbval included, puts every one of
#: its threads in Linux's idle scheduling class (SCHED_IDLE): the class's learner
#: follows the course twice, one pass after the other, which is the longest chain of the
#: run; everything else fills the time the class leaves (kernels inherit their worker's
#: class). Nice 19 was not enough: a nice-19 task keeps the CPU for its time slice when
#: one of the class's processes wakes up (an S3 answer, a kernel message), and the class
#: waits thousands of times per pass; an idle-class task is preempted at once. nbval's
#: learner still follows the course at the same time as the class's: it is not on the
#: longest chain. Entering the idle class needs no privilege; a worker never leaves it.
def _yield_to_the_class() -> None:
    # On Linux, the scheduling class belongs to each thread (a kernel started by nbval
    # is forked from jupyter_client's event-loop thread): every thread of the worker,
    # and the threads and processes they start from now on, which inherit it.
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            if os.sched_getscheduler(tid) != os.SCHED_IDLE:
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))


class _YieldToTheClass:
    """Registered as a plugin, not left as a hook of this conftest: a conftest's
    ``pytest_runtest_setup`` is only called for the items under its folder, so nbval's
    notebooks (``notebooks/``) kept their worker and kernels at normal priority, beside
    the class (seen with ``ps -eo cls``). First, before nbval starts a notebook's
    kernel."""

    @staticmethod
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(item: pytest.Item) -> None:
        if (
            os.environ.get("PYTEST_XDIST_WORKER")
            and item.get_closest_marker("classroom") is None
        ):
            _yield_to_the_class()


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_YieldToTheClass(), "s3cours-yield-to-the-class")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    """Work units for the workers: a test file, except that the five notebooks are ONE
    unit. nbval runs a notebook's cells in order in one kernel, so a notebook must stay
    on one worker; and all five stay together because they are one learner (`apprenant`,
    the published outputs) following the course in order, in one bucket, as in the
    build."""
    from xdist.scheduler import LoadScopeScheduling

    class CourseScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "notebooks" if path.endswith(".ipynb") else path

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
