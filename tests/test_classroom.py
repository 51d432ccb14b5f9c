"""A small class on one server at every test run: a learner of its own follows every chapter
twice, while the published notebooks' learner follows them under nbval (the proof that the
class check sees what it must see is in tests/test_classroom_faults.py).

The 20-learner class is its own command (``./cours classroom simulate --learners 20``), run
weekly by ``.github/workflows/classe.yml`` and before a training session."""

from __future__ import annotations

import os

import pytest

from s3cours import classroom, cli, notebooks, playground

#: The small class: ONE learner of its own, who follows every chapter twice in a row, on the
#: run's playground, while the published notebooks' learner (``apprenant``) follows them
#: under nbval on another worker. Two learners at once on one server, the first one twice:
#: each pass costs about 85 s of CPU, and two cores give 600 s in the 5 minutes of the test
#: command; the whole suite takes about 505, a fourth pass did not fit (see CONTRIBUTING.md,
#: "Comment ./cours test tient en cinq minutes"). Same length as ``apprenant``: listings
#: (which name the bucket) keep their sizes.
SMALL_CLASS_LEARNER = "eleve-001"


@pytest.mark.classroom
def test_a_small_class_beside_the_published_run(session_playground: playground.Playground,
                                                 record_property) -> None:  # noqa: ANN001
    report = classroom.run(session_playground, cli.kernel_environment(session_playground),
                           names=[SMALL_CLASS_LEARNER], workers=1, beside_published=True)
    # Printed at the end of the run, before the slowest tests (tests/conftest.py).
    record_property("bilan", f"[classe] {report.summary()}")
    assert report.problems == [], "\n".join(report.problems)
    # Every chapter twice.
    assert report.runs == 2 * len(notebooks.sources())


def test_classroom_is_a_command_group() -> None:
    args = cli.parser().parse_args(["classroom", "simulate", "--learners", "4", "--workers", "2"])
    assert args.func is cli.cmd_classroom_simulate
    assert (args.learners, args.workers) == (4, 2)
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["classroom"])


def test_simulate_refuses_a_class_of_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["classroom", "simulate", "--learners", "1"]) == 2
    assert "au moins 2 apprenants" in capsys.readouterr().err


def test_memory_sampler_sees_a_descendant_grow() -> None:
    """The class's peak counts what its kernels take: a child that fills 200 MiB shows."""
    import subprocess
    import sys

    fill = "b = bytearray(200 * 2**20); import time; time.sleep(1.5)"
    with classroom.MemorySampler(server_pid=os.getpid(), every=0.2) as memory:
        before = classroom._process_tree_memory([os.getpid()])
        subprocess.run([sys.executable, "-c", fill], check=True)
    assert memory.peak - before > 190 * 2**20
