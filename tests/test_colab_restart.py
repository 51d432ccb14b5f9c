"""Colab, first run then second run of the setup cell.

Colab imports numpy (and more) when its kernel starts. When the course's pinned versions
differ, pip puts the new ones on disk while the old ones stay loaded, and
``import pandas`` then fails. So the setup cell's Colab branch checks, after installing,
whether a loaded library differs from its installed version; if so it says in one
sentence that the session restarts and ends the kernel process
(``os.kill(os.getpid(), 9)``), which Colab restarts by itself. On the second run the
tooling is there: nothing is installed, nothing restarts.

Simulated here with a fake ``google.colab`` module, a fake pip and a fake ``os.kill``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest

# The variables that point a setup cell somewhere: none on Colab.
from test_setup_cell import VARIABLES

from s3cours import notebooks, playground


class Killed(Exception):
    """Stands for the kernel process ending (Colab then restarts it)."""


def setup_cell() -> str:
    return notebooks.setup_cell(notebooks.sources()[0])


@pytest.fixture
def colab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Like Colab: no S3 variables, ``google.colab`` loaded, pip and kill recorded.
    The environment the cell changes is restored after."""
    saved = dict(os.environ)
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("S3COURS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    record: dict[str, list] = {"pip": [], "kill": []}

    def fake_run(command, **kwargs):
        record["pip"].append(command)
        return subprocess.CompletedProcess(command, 0)

    real_kill = os.kill

    def fake_kill(pid: int, sig: int) -> None:
        if sig != signal.SIGKILL or pid != os.getpid():
            return real_kill(pid, sig)  # the playground checks its server with signal 0
        record["kill"].append((pid, sig))
        raise Killed

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(os, "kill", fake_kill)
    yield monkeypatch, record
    monkeypatch.undo()
    playground.stop(tmp_path / "state")
    os.environ.clear()
    os.environ.update(saved)


def run(capsys: pytest.CaptureFixture[str]) -> tuple[dict, str, bool]:
    """Run the setup cell: its namespace, what it printed, if it killed the kernel."""
    namespace: dict = {}
    killed = False
    try:
        exec(setup_cell(), namespace)  # noqa: S102 - the chapter's own code
    except Killed:
        killed = True
    return namespace, capsys.readouterr().out, killed


def test_first_run_installs_and_restarts_when_loaded_versions_differ_second_run_goes_on(
    colab, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch, record = colab
    # First run: the tooling is not installed yet; pip "installs" a numpy other than
    # the loaded one.
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "s3cours" else real_find_spec(name, *a),
    )
    real_version = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata,
        "version",
        lambda name: "0.0.0-nouvelle" if name == "numpy" else real_version(name),
    )
    import numpy  # noqa: F401 - loaded, as Colab does at start

    _, out, killed = run(capsys)
    assert killed
    assert len(record["pip"]) == 1 and record["pip"][0][1:4] == ["-m", "pip", "install"]
    assert record["kill"] == [(os.getpid(), signal.SIGKILL)]
    assert out.strip().splitlines() == [
        "Bibliothèques du cours installées : la session "
        "redémarre, relancez cette cellule."
    ]

    # Second run, once Colab restarted the kernel: the tooling is there, versions agree.
    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)
    monkeypatch.setattr(importlib.metadata, "version", real_version)
    record["pip"].clear()
    record["kill"].clear()
    namespace, out, killed = run(capsys)
    assert not killed and record == {"pip": [], "kill": []}
    assert "Serveur S3 : http://127.0.0.1:" in out
    assert namespace["ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_no_restart_when_the_installed_versions_are_those_loaded(
    colab, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch, record = colab
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "s3cours" else real_find_spec(name, *a),
    )
    import numpy  # noqa: F401

    namespace, out, killed = run(capsys)
    assert len(record["pip"]) == 1
    assert not killed and record["kill"] == []
    assert "redémarre" not in out
    assert "Serveur S3 : http://127.0.0.1:" in out
