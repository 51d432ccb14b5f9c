"""The class command's own checks. The class itself (several learners following every
chapter at once on one server, the first one twice) is ``./cours classroom simulate``,
run weekly by ``.github/workflows/classe.yml`` and before a training session; the proof
that its check sees what it must see is in tests/test_classroom_faults.py. At every test
run, idempotence is checked by the second pass of the published notebooks
(tests/test_second_pass.py)."""

from __future__ import annotations

import os

import pytest

from s3cours import classroom, cli


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
