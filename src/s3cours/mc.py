"""The MinIO client ``mc``, which SSP Cloud's documentation teaches and its services ship.

The chapters call ``mc`` by that name, with the alias ``s3`` that SSP Cloud defines through
``MC_HOST_s3``. Off SSP Cloud the course finds a client the way it finds the MinIO server
(:mod:`s3cours.playground`): ``$S3COURS_MC``, ``mc`` on PATH, or a build kept in the cache,
made once with ``go install`` (mc, like MinIO, ships as source only). :func:`path_dir` gives a
folder holding an executable named ``mc``, to put first on the PATH of notebooks and tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import config
from .playground import PlaygroundError


def _binary_path() -> Path:
    return config.cache_dir() / "bin" / f"mc-{config.MC_VERSION}"


def find() -> Path | None:
    """An ``mc`` binary: ``$S3COURS_MC``, ``mc`` on PATH, or the cached build."""
    explicit = os.environ.get("S3COURS_MC")
    if explicit:
        return Path(explicit)
    on_path = shutil.which("mc")
    if on_path:
        return Path(on_path)
    cached = _binary_path()
    return cached if cached.exists() else None


def build(log=print) -> Path:
    """Build ``mc`` with ``go install`` into the cache; return the binary's path."""
    go = shutil.which("go")
    if go is None:
        raise PlaygroundError("Client mc introuvable et Go absent : impossible de le construire.")
    target = _binary_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    module = f"{config.MC_MODULE}@{config.MC_VERSION}"
    with tempfile.TemporaryDirectory(prefix="s3cours-gobin-") as gobin:
        log(f"Construction du client mc ({module}) avec go install : une minute la 1re fois…")
        started = time.monotonic()
        result = subprocess.run(
            [go, "install", module],
            env={**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"},
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise PlaygroundError(
                f"`go install {module}` a échoué (code {result.returncode}) :\n"
                + (result.stderr or result.stdout).strip()[-3000:]
            )
        shutil.move(str(Path(gobin) / "mc"), target)
        log(f"mc construit en {time.monotonic() - started:.0f} s : {target}")
    return target


def path_dir(log=print) -> Path:
    """A folder whose ``mc`` is the course's client (found, or built once).

    A binary already named ``mc`` is used where it is; the cached build (named after its
    version) is linked as ``mc`` in a folder of the cache."""
    binary = find() or build(log)
    if binary.name == "mc":
        return binary.resolve().parent
    folder = config.cache_dir() / "bin" / "mc-path"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "mc"
    if not (link.is_symlink() and link.resolve() == binary.resolve()):
        link.unlink(missing_ok=True)
        link.symlink_to(binary.resolve())
    return folder

