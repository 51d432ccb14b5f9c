"""Binder files: repo2docker installs environment.yml, runs postBuild, then starts
Jupyter through ``start``, which starts the course's playground first."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from s3cours import config


def _fake_s3cours(folder: Path, exit_code: int) -> Path:
    folder.mkdir()
    fake = folder / "s3cours"
    fake.write_text(f'#!/bin/sh\necho "$@" > {folder}/appel\nexit {exit_code}\n')
    fake.chmod(0o755)
    return folder


def _run_start(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(
        [str(config.ROOT / "start"), "echo", "jupyter", "lancé"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_start_starts_the_playground_then_jupyter(tmp_path: Path) -> None:
    bin_dir = _fake_s3cours(tmp_path / "bin", 0)
    run = _run_start(bin_dir)
    assert run.returncode == 0 and run.stdout == "jupyter lancé\n"
    assert (
        bin_dir / "appel"
    ).read_text() == "playground start --no-build --secret-duckdb\n"


def test_start_still_starts_jupyter_when_the_playground_fails(tmp_path: Path) -> None:
    run = _run_start(_fake_s3cours(tmp_path / "bin", 2))
    assert run.returncode == 0 and run.stdout == "jupyter lancé\n"
    assert "Bac à sable S3 non démarré" in run.stderr


def test_binder_finds_its_files_at_the_root() -> None:
    # A binder/ folder would make repo2docker ignore environment.yml at the root.
    assert (
        not (config.ROOT / "binder").exists() and not (config.ROOT / ".binder").exists()
    )
    for name in ("postBuild", "start"):
        assert os.access(config.ROOT / name, os.X_OK), name
    env = yaml.safe_load((config.ROOT / "environment.yml").read_text())
    conda = {d.split("=")[0] for d in env["dependencies"] if isinstance(d, str)}
    assert "minio-server" in conda, (
        "le bac à sable de Binder est le MinIO de conda-forge"
    )
    assert "pip install --no-deps" in (config.ROOT / "postBuild").read_text()
