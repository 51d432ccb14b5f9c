"""The MinIO client ``mc``, which SSP Cloud's documentation teaches and its images ship.

The chapters call ``mc`` by that name, with the alias ``s3`` that SSP Cloud defines
through ``MC_HOST_s3``. Off SSP Cloud the course finds a client the way it finds the
MinIO server (:mod:`s3cours.playground`): ``$S3COURS_MC``, ``mc`` on PATH, or a build
kept in the cache, made once with ``go install`` (mc, like MinIO, ships as source only).
:func:`path_dir` gives a folder holding an executable named ``mc``, to put first on the
PATH of notebooks and tests.
"""

from __future__ import annotations

from pathlib import Path

from . import config, gotools
from .playground import PlaygroundError


def find() -> Path | None:
    """An ``mc`` binary: ``$S3COURS_MC``, ``mc`` on PATH, or the cached build."""
    return gotools.find("mc", config.MC_VERSION, "S3COURS_MC")


def build(log=print) -> Path:
    """Build ``mc`` with ``go install`` into the cache; return the binary's path."""
    try:
        return gotools.go_install(config.MC_MODULE, config.MC_VERSION, "Client mc", log)
    except gotools.GoBuildError as exc:
        raise PlaygroundError(str(exc)) from None


def path_dir(log=print) -> Path:
    """A folder whose ``mc`` is the course's client (found, or built once).

    A binary already named ``mc`` is used where it is; the cached build (named after its
    version) is linked as ``mc`` in a folder of the cache."""
    binary = find() or build(log)
    if binary.name == "mc":
        return binary.parent
    folder = config.cache_dir() / "bin" / "mc-path"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "mc"
    if not (link.is_symlink() and link.resolve() == binary.resolve()):
        link.unlink(missing_ok=True)
        link.symlink_to(binary.resolve())
    return folder
