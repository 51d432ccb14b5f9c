"""The setup cell every chapter starts with: it finds the S3 endpoint (SSP Cloud's variables
if set, else the local playground) and says which one it uses. The cell is taken from the
sources themselves, so what is tested is what learners run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3cours import config, notebooks, playground

VARIABLES = ("AWS_S3_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
             "S3COURS_STATE_DIR", "AWS_WORKING_DIRECTORY_PATH", "S3COURS_APPRENANT", "MC_HOST_s3")


def setup_cells() -> list[str]:
    return [notebooks.setup_cell(source) for source in notebooks.sources()]


def run_setup(capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    namespace: dict = {}
    exec(setup_cells()[0], namespace)  # noqa: S102 - the chapter's own code
    return namespace, capsys.readouterr().out


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_chapter_has_the_same_setup_cell() -> None:
    cells = setup_cells()
    assert len(cells) == len(notebooks.sources())
    assert len(set(cells)) == 1


def test_sspcloud_variables_win(clean_env: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("AWS_S3_ENDPOINT", "minio.lab.sspcloud.fr")
    clean_env.setenv("AWS_ACCESS_KEY_ID", "K")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "S")
    clean_env.setenv("AWS_SESSION_TOKEN", "T")
    namespace, out = run_setup(capsys)
    assert namespace["ENDPOINT_URL"] == "https://minio.lab.sspcloud.fr"
    assert "Serveur S3 : https://minio.lab.sspcloud.fr" in out
    assert "Identifiants trouvés : oui" in out
    assert os.environ["AWS_SESSION_TOKEN"] == "T"


@pytest.mark.parametrize("value", ["https://minio.lab.sspcloud.fr", "https://minio.lab.sspcloud.fr/"])
def test_a_scheme_put_in_the_endpoint_by_mistake_is_dropped(
        value: str, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("AWS_S3_ENDPOINT", value)
    namespace, out = run_setup(capsys)
    assert namespace["ENDPOINT_URL"] == "https://minio.lab.sspcloud.fr"
    assert "Identifiants trouvés : NON" in out


def test_without_variables_the_running_playground_is_used(
        clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], state_dir: Path) -> None:
    started = playground.start(server="moto", state_dir=state_dir, log=lambda _: None)
    clean_env.setenv("S3COURS_STATE_DIR", str(state_dir))
    clean_env.setenv("AWS_SESSION_TOKEN", "jeton-perime-d-une-autre-session")
    namespace, out = run_setup(capsys)
    assert namespace["ENDPOINT_URL"] == started.endpoint_url
    assert "(bac à sable local)" in out
    assert "AWS_SESSION_TOKEN" not in os.environ


def test_without_variables_nor_playground_the_message_says_what_to_do(
        clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    clean_env.setenv("S3COURS_STATE_DIR", str(tmp_path / "nothing"))
    with pytest.raises(playground.PlaygroundError, match=r"(?s)Aucun serveur S3.*playground start"):
        run_setup(capsys)


def test_on_colab_without_variables_it_installs_the_course_and_starts_moto(
        clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Colab (detected by its ``google.colab`` module) has neither the course's tooling nor a
    playground: the cell installs the tooling from the configured repository, with the pinned
    libraries, and starts a moto playground. Here pip only records what it is asked, since the
    tooling is already installed."""
    import importlib.util
    import subprocess
    import sys
    import types

    from s3cours import launch

    state = tmp_path / "state"
    clean_env.setenv("S3COURS_STATE_DIR", str(state))
    clean_env.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    real_find_spec = importlib.util.find_spec
    clean_env.setattr(importlib.util, "find_spec",
                      lambda name, *a: None if name == "s3cours" else real_find_spec(name, *a))
    calls: list[list[str]] = []
    clean_env.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    try:
        namespace, out = run_setup(capsys)
        running = playground.status(state)
        assert running is not None and running.server == "moto"
        assert namespace["ENDPOINT_URL"] == running.endpoint_url
        assert "(bac à sable local)" in out
        repo = launch.repository()
        assert calls == [[sys.executable, "-m", "pip", "install", "--quiet",
                          f"s3cours[chapitres,bac-a-sable] @ git+{repo.url}@{repo.branch}"]]
        # Run again (a learner re-runs the cell): the same playground, nothing new started.
        clean_env.delenv("AWS_S3_ENDPOINT")
        namespace, _ = run_setup(capsys)
        assert playground.status(state) == running
    finally:
        playground.stop(state)


def test_elsewhere_without_variables_nothing_is_installed_nor_started(
        clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import subprocess
    import sys

    clean_env.setenv("S3COURS_STATE_DIR", str(tmp_path / "state"))
    clean_env.delitem(sys.modules, "google.colab", raising=False)
    clean_env.setattr(subprocess, "run", lambda *a, **kw: pytest.fail("rien ne doit s'installer"))
    with pytest.raises(playground.PlaygroundError, match="Aucun serveur S3"):
        run_setup(capsys)
    assert playground.status(tmp_path / "state") is None


# --------------------------------------------------------------------------- where to write


@pytest.mark.parametrize(("working_directory", "bucket", "prefix"), [
    ("jdupont/", "jdupont", "cours-python-s3/"),
    ("jdupont", "jdupont", "cours-python-s3/"),
    ("projet-x/equipe/", "projet-x", "equipe/cours-python-s3/"),
])
def test_on_sspcloud_learners_write_in_their_working_directory(
        working_directory: str, bucket: str, prefix: str,
        clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("AWS_S3_ENDPOINT", "minio.lab.sspcloud.fr")
    clean_env.setenv("AWS_WORKING_DIRECTORY_PATH", working_directory)
    clean_env.setenv("S3COURS_APPRENANT", "ignore-hors-du-bac-a-sable")
    namespace, out = run_setup(capsys)
    assert (namespace["MON_BUCKET"], namespace["MON_PREFIXE"]) == (bucket, prefix)
    assert f"Vos écritures : s3://{bucket}/{prefix}" in out


def test_without_a_working_directory_the_cell_says_what_to_set(
        clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("AWS_S3_ENDPOINT", "s3.eu-west-3.amazonaws.com")
    namespace, out = run_setup(capsys)
    assert namespace["MON_BUCKET"] == ""
    assert "définissez AWS_WORKING_DIRECTORY_PATH" in out


@pytest.mark.parametrize(("learner", "prefix"), [(None, "moi/cours-python-s3/"),
                                                 ("alice", "alice/cours-python-s3/"),
                                                 ("/bob/", "bob/cours-python-s3/")])
def test_on_the_playground_each_learner_has_a_folder_of_the_learner_bucket(
        learner: str | None, prefix: str,
        clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("AWS_S3_ENDPOINT", "127.0.0.1:9900")
    clean_env.setenv("AWS_WORKING_DIRECTORY_PATH", "ignore-en-local/")
    if learner is not None:
        clean_env.setenv(config.LEARNER_VARIABLE, learner)
    namespace, out = run_setup(capsys)
    assert namespace["MON_BUCKET"] == config.LEARNER_BUCKET
    assert namespace["MON_PREFIXE"] == prefix
    assert prefix.startswith(config.DEFAULT_LEARNER) or learner


def test_the_cell_never_prints_keys(clean_env: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    secrets = {"AWS_ACCESS_KEY_ID": "CLE-ACCES-SECRETE", "AWS_SECRET_ACCESS_KEY": "CLE-SECRETE",
               "AWS_SESSION_TOKEN": "JETON-SECRET"}
    where = {"AWS_S3_ENDPOINT": "minio.lab.sspcloud.fr", "AWS_WORKING_DIRECTORY_PATH": "jdupont/"}
    for name, value in {**secrets, **where}.items():
        clean_env.setenv(name, value)
    _, out = run_setup(capsys)
    assert "Vos écritures : s3://jdupont/cours-python-s3/" in out
    assert not any(value in out for value in secrets.values()), out
