"""The MinIO client ``mc``: found like the MinIO server, on the PATH of notebooks and
tests, with the alias ``s3`` that SSP Cloud defines."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from s3cours import classroom, config, mc, playground


def test_mc_on_path_talks_to_the_playground_through_alias_s3(
    session_endpoint_url: str,
) -> None:
    binary = shutil.which("mc")
    assert binary, "mc absent du PATH des tests"
    # As on SSP Cloud, the learner may list the shared data and their own bucket (not
    # the list of all buckets: Onyxia's policy does not grant s3:ListAllMyBuckets).
    shared = subprocess.run(
        [binary, "ls", f"s3/{config.DATA_BUCKET}/{config.DATA_PREFIX}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shared.returncode == 0, shared.stderr
    assert "FILOSOFI_COM.csv" in shared.stdout
    workdir = classroom.learner_space(dict(os.environ), config.DEFAULT_LEARNER)[0] + "/"
    own = subprocess.run(
        [binary, "ls", f"s3/{workdir}"], capture_output=True, text=True, timeout=60
    )
    assert own.returncode == 0, own.stderr


def test_explicit_binary_wins_and_is_linked_as_mc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "mc-perso"
    fake.write_text("#!/bin/sh\necho mc-perso\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("S3COURS_MC", str(fake))
    monkeypatch.setenv("S3COURS_CACHE", str(tmp_path / "cache"))
    assert mc.find() == fake
    folder = mc.path_dir(log=lambda _: None)
    assert (folder / "mc").resolve() == fake.resolve()
    assert (
        subprocess.run([str(folder / "mc")], capture_output=True, text=True).stdout
        == "mc-perso\n"
    )
    assert mc.path_dir(log=lambda _: None) == folder  # a second call keeps the link


def test_missing_mc_without_go_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S3COURS_MC", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("S3COURS_CACHE", str(tmp_path / "empty-cache"))
    assert mc.find() is None
    with pytest.raises(playground.PlaygroundError, match="mc introuvable et Go absent"):
        mc.path_dir(log=lambda _: None)
