"""Pinned versions: requirements.in, its lock and environment.yml say the same thing."""

from __future__ import annotations

import re
from importlib.metadata import version

import yaml

from s3cours import config, playground

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]+\])?==([^\s;\\]+)")


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = PIN.match(line.split("#")[0].strip())
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(3)
    return pins


#: The signed DuckDB extensions the playground places offline in a service's home:
#: tooling only (requirements.in and its lock), never in a learner's install (the extra
#: ``chapitres``, environment.yml), where DuckDB takes them from its own repository.
TOOLING_ONLY = {f"duckdb-extension-{name}" for name in playground.DUCKDB_EXTENSIONS}


def requirements_in() -> dict[str, str]:
    lines = (config.ROOT / "requirements.in").read_text().splitlines()
    meaningful = [line for line in lines if line.split("#")[0].strip()]
    assert all(PIN.match(line.split("#")[0].strip()) for line in meaningful), (
        "toute dépendance directe doit être fixée avec =="
    )
    return _pins(lines)


def test_every_direct_dependency_is_in_the_lock_with_hashes() -> None:
    lock_text = (config.ROOT / "requirements.lock").read_text()
    lock = _pins(lock_text.splitlines())
    for name, pinned in requirements_in().items():
        assert lock.get(name) == pinned, (
            f"{name}: {pinned} dans requirements.in, {lock.get(name)} dans le verrou"
        )
    assert lock_text.count("--hash=sha256:") >= len(lock)
    # One version of each direct dependency for every Python >= 3.11 (no marker split).
    starts = [
        line.split("==")[0].lower()
        for line in lock_text.splitlines()
        if PIN.match(line)
    ]
    assert all(starts.count(name) == 1 for name in requirements_in()), (
        "version conditionnelle"
    )


def test_environment_yml_has_the_same_versions() -> None:
    env = yaml.safe_load((config.ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pip_pins = _pins(pip)
    for_learners = {
        name: pinned
        for name, pinned in requirements_in().items()
        if name not in TOOLING_ONLY
    }
    assert TOOLING_ONLY <= set(requirements_in())
    assert pip_pins == for_learners
    assert list(pip_pins) == list(for_learners), "pas dans l'ordre de requirements.in"
    names = {d.split("=")[0] for d in conda}
    assert {"python", "minio-server", "minio-client"} <= names
    assert all("=" in d for d in conda if d != "pip"), "version conda non fixée"
    python = next(d for d in conda if d.startswith("python="))
    assert python == "python=3.11"


def test_installed_versions_are_the_locked_ones() -> None:
    lock = _pins((config.ROOT / "requirements.lock").read_text().splitlines())
    for name in (
        "boto3",
        "botocore",
        "aiobotocore",
        "s3fs",
        "fsspec",
        "pyarrow",
        "pandas",
        "snakemake",
        "snakemake-storage-plugin-s3",
        "duckdb",
        "polars",
        "moto",
        "nbval",
    ):
        assert version(name) == lock[name], name
    assert not lock["s3fs"].startswith("0."), (
        "s3fs 0.x : le verrou a été résolu sans contrainte"
    )


def test_package_extras_have_the_locked_versions() -> None:
    import tomllib

    extras = tomllib.loads((config.ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    pinned = requirements_in()
    for name, requirements in extras.items():
        pins = _pins(requirements)
        assert len(pins) == len(requirements), f"{name} : version non fixée"
        for package, version_ in pins.items():
            assert pinned.get(package) == version_, f"{name} : {package}=={version_}"
    assert set(extras) == {"chapitres", "spark", "bac-a-sable"}
    learners = set().union(*(_pins(requirements) for requirements in extras.values()))
    assert not any(name.startswith("duckdb-extension") for name in learners), (
        "extension DuckDB dans l'installation des "
        "apprenants : INSTALL la prend chez DuckDB"
    )
    assert "moto" in _pins(extras["bac-a-sable"])
