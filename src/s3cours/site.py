"""The course's site, rendered by Quarto from the executed notebooks: once per set of
files, kept in the course's cache under a digest of everything Quarto reads, so that
``./cours build`` and the site's tests share it (a render costs about 30 s of CPU).

``./cours build`` also puts it where a Quarto user looks for it: ``_site/`` at the root
of the checkout (``output-dir`` in ``_quarto.yml``, ignored by git), replaced whole
whenever the files change (:data:`PUBLISHED`). The tests open the cached copy and never
write in the work tree."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import config

QUARTO_VERSION = "1.10.18"
#: What Quarto reads to render the site (``project.render`` in ``_quarto.yml``), assets
#: included.
SITE_FILES = (
    "_quarto.yml",
    "index.qmd",
    "aide-memoire.qmd",
    "formation.qmd",
    "compatibilite.qmd",
    # Le tableau de « Ce qui marche où », inclus par sa page (./cours compat).
    "compatibilite",
    "notebooks",
    "site",
)


def find_quarto() -> str | None:
    """Quarto on the PATH, else where the course's install script puts it."""
    found = shutil.which("quarto")
    if found:
        return found
    cached = Path.home() / ".cache" / f"quarto-{QUARTO_VERSION}" / "bin" / "quarto"
    return str(cached) if cached.exists() else None


def quarto_missing() -> str | None:
    """Where Quarto is not found: what is missing and how to get it."""
    if find_quarto() is not None:
        return None
    return (
        "quarto introuvable (ni dans le PATH, ni dans "
        f"~/.cache/quarto-{QUARTO_VERSION}) : installez Quarto {QUARTO_VERSION} "
        "(https://quarto.org/docs/download/, ou "
        "../shared/tools/quarto/install-quarto.sh à côté du dépôt, comme .ci/run)"
    )


class SiteError(RuntimeError):
    """The render failed; the message says what Quarto said."""


def site_key() -> str:
    """A digest of everything the render reads (every file of :data:`SITE_FILES`, path
    and bytes), of Quarto's version and of the Python it runs: equal keys, equal
    sites."""
    digest = hashlib.sha256(
        f"{QUARTO_VERSION} {find_quarto()} {sys.executable}".encode()
    )
    for name in SITE_FILES:
        source = config.ROOT / name
        files = sorted(source.rglob("*")) if source.is_dir() else [source]
        for path in files:
            if path.is_file():
                digest.update(path.relative_to(config.ROOT).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def render(into: Path) -> Path:
    """Render the site from a copy of its files; return the ``_site`` folder."""
    for name in SITE_FILES:
        source = config.ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name)
        elif source.exists():
            shutil.copy2(source, into / name)
    env = dict(os.environ, QUARTO_PYTHON=sys.executable)
    # About 45 s (in the test command, at low priority beside the course's chain:
    # tests/conftest.py); 10 minutes leave room for a loaded machine, where 300 s once
    # ran out.
    run = subprocess.run(
        [find_quarto(), "render", "--quiet"],
        cwd=into,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode != 0:
        raise SiteError(f"quarto render a échoué :\n{run.stdout}\n{run.stderr}")
    warnings = [line for line in run.stderr.splitlines() if "WARN" in line]
    if warnings:
        raise SiteError("quarto render a averti :\n" + "\n".join(warnings))
    return into / "_site"


#: Where ``./cours build`` leaves the site for its reader: Quarto's ``_site/``.
PUBLISHED = config.ROOT / "_site"
#: In :data:`PUBLISHED`, the key (:func:`site_key`) of the files it was rendered from.
PUBLISHED_KEY = ".s3cours-cle"


def publish(kept: Path) -> Path:
    """The cached site ``kept`` copied to :data:`PUBLISHED` (unless it is there
    already), replacing whatever was there; returns :data:`PUBLISHED`."""
    marker = PUBLISHED / PUBLISHED_KEY
    if marker.exists() and marker.read_text() == kept.name:
        return PUBLISHED
    partial = PUBLISHED.with_name(PUBLISHED.name + ".partiel")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(kept, partial)
    (partial / PUBLISHED_KEY).write_text(kept.name)
    shutil.rmtree(PUBLISHED, ignore_errors=True)
    partial.rename(PUBLISHED)
    return PUBLISHED


def kept_site() -> Path | None:
    """The site already rendered from today's files, in the course's cache, if any."""
    kept = config.cache_dir() / "site" / site_key()
    return kept if (kept / "index.html").exists() else None


def cached_site() -> Path | None:
    """The site already rendered from today's files, if any: published to ``_site/``
    (copied there from the course's cache if it was not)."""
    kept = kept_site()
    return publish(kept) if kept is not None else None


def rendered_site(scratch: Path) -> Path:
    """The site of today's files in ``_site/`` (:func:`cached_site`, else
    :func:`render_once`)."""
    return cached_site() or publish(render_once(scratch))


def render_once(scratch: Path) -> Path:
    """The site of today's files: rendered once, then kept in the course's cache under
    :func:`site_key`, so that a build or a test run on unchanged files reuses it (a
    render costs about 30 s of CPU). Only a render without error or warning is kept,
    and only the latest one. Nothing is written in the work tree."""
    kept = kept_site()
    if kept is not None:
        return kept
    cache = config.cache_dir() / "site"
    key = site_key()
    fresh = render(scratch)
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    shutil.copytree(fresh, cache / "partial")
    (cache / "partial").rename(cache / key)
    return cache / key


#: axe-core, the accessibility engine the site's tests inject into every page (WCAG 2.1
#: A and AA rules): from npm, at this version (``npm view axe-core versions``).
AXE_VERSION = "4.14.1"


def axe_missing() -> str | None:
    """Where axe-core is neither cached nor installable: what is missing, what to do."""
    if axe_path().exists() or shutil.which("npm"):
        return None
    return (
        f"axe-core {AXE_VERSION} absent du cache du cours et npm introuvable : "
        "installez npm (Debian : « apt-get install npm »), qui l'y installera"
    )


def axe_path() -> Path:
    """Where the course keeps axe-core's script (the course's cache, by version)."""
    return (
        config.cache_dir()
        / "npm"
        / f"axe-core-{AXE_VERSION}"
        / "node_modules"
        / "axe-core"
        / "axe.min.js"
    )


def axe_script() -> str:
    """axe-core's script, installed once per machine with npm into the course's cache
    (a first install takes a few seconds; none later)."""
    target = axe_path()
    if not target.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SiteError(axe_missing() or "npm introuvable")
        folder = target.parents[2]
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        try:
            run = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(scratch),
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--no-save",
                    f"axe-core@{AXE_VERSION}",
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
            installed = scratch / target.relative_to(folder)
            if run.returncode != 0 or not installed.exists():
                raise SiteError(
                    f"npm n'a pas installé axe-core {AXE_VERSION} :\n{run.stderr}"
                )
            if not target.exists():
                scratch.rename(folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return target.read_text()
