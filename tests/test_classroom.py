"""A small class on one server at every test run: a learner of its own follows every
chapter twice, while the published notebooks' learner follows them under nbval (the
proof that the class check sees what it must see is in tests/test_classroom_faults.py).

The 20-learner class is its own command (``./cours classroom simulate --learners 20``),
run weekly by ``.github/workflows/classe.yml`` and before a training session."""

from __future__ import annotations

import os

import pytest

from s3cours import classroom, cli, notebooks, playground

#: The small class: TWO learners of its own, on the run's playground, while the
#: published notebooks' learner (``apprenant``) follows the course under nbval on
#: another worker. The chapters are dealt between them, and each follows their share
#: twice in a row: every chapter is run twice (idempotence), each share starts on an
#: empty space (as a chapter opened from its own button), and the two chains run side by
#: side. One learner following all seven chapters twice was the suite's longest chain
#: (about 250 s of its 275 s; see CONTRIBUTING.md, "Où passe le temps"). Names as long
#: as ``apprenant``: listings (which name the bucket) keep their sizes.
SMALL_CLASS_LEARNER = "eleve-001"
SMALL_CLASS = [SMALL_CLASS_LEARNER, "eleve-002"]


def small_class_shares() -> list[list]:
    """Chapters 1 to 4 for the first learner, the others for the second: about the same
    CPU each (chapter 6 and its Dask cluster weigh as much as chapters 1 to 3)."""
    chapters = sorted(notebooks.sources())
    notebook = {c: notebooks.notebook_path(c) for c in chapters}
    return [[notebook[c] for c in chapters[:4]], [notebook[c] for c in chapters[4:]]]


@pytest.mark.classroom
def test_a_small_class_beside_the_published_run(
    session_playground: playground.Playground, record_property
) -> None:  # noqa: ANN001
    report = classroom.run(
        session_playground,
        cli.kernel_environment(session_playground),
        names=SMALL_CLASS,
        workers=2,
        beside_published=True,
        shares=small_class_shares(),
    )
    # Printed at the end of the run, before the slowest tests (tests/conftest.py).
    record_property("bilan", f"[classe] {report.summary()}")
    assert report.problems == [], "\n".join(report.problems)
    # Every chapter twice.
    assert report.runs == 2 * len(notebooks.sources())


def test_classroom_is_a_command_group() -> None:
    args = cli.parser().parse_args(
        ["classroom", "simulate", "--learners", "4", "--workers", "2"]
    )
    assert args.func is cli.cmd_classroom_simulate
    assert (args.learners, args.workers) == (4, 2)
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["classroom"])


def test_simulate_refuses_a_class_of_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["classroom", "simulate", "--learners", "1"]) == 2
    assert "au moins 2 apprenants" in capsys.readouterr().err


def test_memory_sampler_sees_a_descendant_grow() -> None:
    """The class's peak counts what its kernels take: a child filling 200 MiB shows."""
    import subprocess
    import sys

    fill = "b = bytearray(200 * 2**20); import time; time.sleep(1.5)"
    with classroom.MemorySampler(server_pid=os.getpid(), every=0.2) as memory:
        before = classroom._process_tree_memory([os.getpid()])
        subprocess.run([sys.executable, "-c", fill], check=True)
    assert memory.peak - before > 190 * 2**20
