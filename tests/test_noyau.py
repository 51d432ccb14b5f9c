"""The course's kernel and JupyterLab settings where the course configures Jupyter:
``./cours`` and Binder's ``postBuild`` (``python -m s3cours.noyau --sys-prefix``), the
SSP Cloud init script (the learner's settings). The browser checks are in
tests/test_jupyterlab.py: each notebook opened in the pinned JupyterLab, unmodified
once its kernel runs, no question about Jupyter's news."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jupyterlab
from jupyterlab_server.settings_utils import get_settings
from test_launch import course_remote, run_init  # noqa: F401 - a fixture

from s3cours import config, notebooks, noyau

NOTIFICATION = "@jupyterlab/apputils-extension:notification"
#: The schemas of the pinned JupyterLab.
SCHEMAS = Path(jupyterlab.__file__).parent / "schemas"


def read_by_jupyterlab(app_settings: Path, user_settings: Path) -> dict:
    """The notification settings as the pinned JupyterLab's server gives them to the
    page: the schema's defaults with the overrides of ``app_settings``, and the user's
    own values."""
    found, _ = get_settings(
        str(app_settings), str(SCHEMAS), str(user_settings), schema_name=NOTIFICATION
    )
    defaults = {k: v["default"] for k, v in found["schema"]["properties"].items()}
    return {**defaults, **found["settings"]}


def test_the_course_settings_are_jupyterlabs_own_values() -> None:
    schema = json.loads(
        (SCHEMAS / f"{NOTIFICATION.replace(':', '/')}.json").read_text()
    )
    properties = schema["properties"]
    values = noyau.LAB_SETTINGS[NOTIFICATION]
    assert values["fetchNews"] in [c["const"] for c in properties["fetchNews"]["oneOf"]]
    # "none" is the default, the value that makes JupyterLab ask.
    assert properties["fetchNews"]["default"] == "none" != values["fetchNews"]
    assert properties["checkForUpdates"]["type"] == "boolean"


def test_install_writes_the_kernel_and_the_settings_jupyterlab_reads(
    tmp_path: Path,
) -> None:
    written = noyau.install(prefix=str(tmp_path))
    spec = tmp_path / "share" / "jupyter" / "kernels" / "python-s3" / "kernel.json"
    overrides = noyau.lab_settings_dir(tmp_path) / noyau.OVERRIDES
    assert written == [spec, overrides]
    kernel = json.loads(spec.read_text())
    assert kernel["display_name"] == notebooks.KERNELSPEC["display_name"]
    assert kernel["language"] == notebooks.KERNELSPEC["language"]
    assert f"--IPKernelApp.kernel_class={noyau.KERNEL_CLASS}" in kernel["argv"]
    assert kernel["argv"][0] == sys.executable
    user = tmp_path / "user-settings"
    assert read_by_jupyterlab(noyau.lab_settings_dir(tmp_path), user) == {
        "checkForUpdates": False,
        "doNotDisturbMode": False,
        "fetchNews": "false",
    }
    # Without the course's file: JupyterLab asks.
    overrides.unlink()
    assert read_by_jupyterlab(noyau.lab_settings_dir(tmp_path), user)["fetchNews"] == (
        "none"
    )
    # Run again: only what is missing is written.
    assert noyau.install(prefix=str(tmp_path)) == [overrides]
    assert noyau.install(prefix=str(tmp_path)) == []


def test_the_kernel_reports_what_the_notebooks_hold() -> None:
    kernel = noyau.Noyau.language_info
    assert kernel == notebooks.METADATA["language_info"]
    assert kernel["version"] == "{}.{}".format(*sys.version_info)
    from ipykernel.ipkernel import IPythonKernel

    # ipykernel's own, but for the interpreter's patch release.
    assert {k: v for k, v in kernel.items() if k != "version"} == {
        k: v for k, v in IPythonKernel.language_info.items() if k != "version"
    }


def test_this_environment_has_the_course_kernel() -> None:
    """./cours installs it in .venv (and ./cours build, ./cours test check it)."""
    spec = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python-s3"
    assert json.loads((spec / "kernel.json").read_text()) == noyau.kernel_json()


def test_binder_installs_the_course_kernel_and_settings(tmp_path: Path) -> None:
    calls = tmp_path / "appels"
    for name in ("pip", "python"):
        fake = tmp_path / name
        fake.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\n')
        fake.chmod(0o755)
    run = subprocess.run(
        [str(config.ROOT / "postBuild")],
        cwd=config.ROOT,
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert calls.read_text().splitlines() == [
        "pip install --no-deps --quiet .",
        "python -m s3cours.noyau --sys-prefix",
    ]


def test_the_sspcloud_script_answers_the_news_question_once(
    course_remote: Path,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = {"S3COURS_REPO_URL": f"file://{course_remote}"}
    run = run_init(home, "01_se_connecter", **env)
    assert run.returncode == 0, run.stderr
    user = home / ".jupyter" / "lab" / "user-settings"
    values = read_by_jupyterlab(tmp_path / "sans-reglages", user)
    assert {k: values[k] for k in noyau.LAB_SETTINGS[NOTIFICATION]} == (
        noyau.LAB_SETTINGS[NOTIFICATION]
    )
    # A learner's own answer is kept.
    own = (
        user / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    own.write_text('{"fetchNews": "true"}')
    assert run_init(home, "01_se_connecter", **env).returncode == 0
    assert read_by_jupyterlab(tmp_path / "sans-reglages", user)["fetchNews"] == "true"
