"""The setup cell every chapter starts with: it finds the S3 endpoint (SSP Cloud's
variables if set, else the local playground's), says which one it uses, where the
learner writes (S3COURS_ESPACE, else a non-empty AWS_WORKING_DIRECTORY_PATH as on Onyxia
10, else the service's namespace as on Onyxia 11) and where the course data is read. The
cell is taken from the sources themselves, so what is tested is what learners run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3cours import classroom, config, course_data, notebooks, playground

VARIABLES = (
    "AWS_S3_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "S3COURS_STATE_DIR",
    "AWS_WORKING_DIRECTORY_PATH",
    "S3COURS_APPRENANT",
    "MC_HOST_s3",
    "KUBERNETES_NAMESPACE",
    "S3COURS_ESPACE",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL_S3",
)


def setup_cells() -> list[str]:
    return [notebooks.setup_cell(source) for source in notebooks.sources()]


def run_setup(capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    namespace: dict = {}
    exec(setup_cells()[0], namespace)  # noqa: S102 - the chapter's own code
    return namespace, capsys.readouterr().out


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """The cell sets variables (the service's, the checksum settings) in this
    process: each test leaves the environment as it found it, or a later test of the
    same worker would run with the cell's settings."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def located(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """No server behind these endpoints: where the data is read is answered without
    asking one (``tests/test_course_data.py`` asks real ones); the calls are
    recorded."""
    calls: list[tuple] = []

    def locate(*args: object) -> tuple[str, str]:
        calls.append(args)
        print(f"Données du cours : s3://{args[0]}/{args[1]}")
        return args[0], args[1]  # type: ignore[return-value]

    monkeypatch.setattr(course_data, "locate", locate)
    return calls


def test_every_chapter_has_the_same_setup_cell() -> None:
    cells = setup_cells()
    assert len(cells) == len(notebooks.sources())
    assert len(set(cells)) == 1


def test_sspcloud_variables_win(
    clean_env: pytest.MonkeyPatch, located: list, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("AWS_S3_ENDPOINT", "minio.lab.sspcloud.fr")
    clean_env.setenv("AWS_ACCESS_KEY_ID", "K")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "S")
    clean_env.setenv("AWS_SESSION_TOKEN", "T")
    clean_env.setenv("AWS_WORKING_DIRECTORY_PATH", "")
    clean_env.setenv("KUBERNETES_NAMESPACE", "user-jdupont")
    namespace, out = run_setup(capsys)
    assert namespace["ENDPOINT_URL"] == "https://minio.lab.sspcloud.fr"
    assert out.splitlines() == [
        "Serveur S3 : https://minio.lab.sspcloud.fr",
        "Identifiants trouvés : oui",
        "Vos écritures : s3://jdupont/cours-python-s3/ (d'après KUBERNETES_NAMESPACE)",
        f"Données du cours : s3://{config.DATA_BUCKET}/{config.DATA_PREFIX}",
    ]
    assert os.environ["AWS_SESSION_TOKEN"] == "T"
    assert located == [
        (
            config.DATA_BUCKET,
            config.DATA_PREFIX,
            "jdupont/cours-python-s3/",
            "https://minio.lab.sspcloud.fr",
        )
    ]
    assert (namespace["BUCKET"], namespace["PREFIXE"]) == (
        config.DATA_BUCKET,
        config.DATA_PREFIX,
    )


@pytest.mark.parametrize(
    ("endpoint", "endpoint_url", "expected"),
    [
        # AWS_ENDPOINT_URL, when set (as on SSP Cloud), gives the scheme, even locally.
        ("127.0.0.1:9000", "https://127.0.0.1:9000", "https://127.0.0.1:9000"),
        (
            "minio.lab.sspcloud.fr",
            "https://minio.lab.sspcloud.fr/",
            "https://minio.lab.sspcloud.fr",
        ),
        ("127.0.0.1:9000", "http://127.0.0.1:9000", "http://127.0.0.1:9000"),
        # Without it: https, but http for a server on this machine.
        ("127.0.0.1:9000", None, "http://127.0.0.1:9000"),
        ("localhost:9000", None, "http://localhost:9000"),
        ("s3.eu-west-3.amazonaws.com", None, "https://s3.eu-west-3.amazonaws.com"),
    ],
)
def test_the_scheme_comes_from_aws_endpoint_url_when_it_is_set(
    endpoint: str,
    endpoint_url: str | None,
    expected: str,
    located: list,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.setenv("AWS_S3_ENDPOINT", endpoint)
    if endpoint_url:
        clean_env.setenv("AWS_ENDPOINT_URL", endpoint_url)
    else:
        clean_env.delenv("AWS_ENDPOINT_URL", raising=False)
    namespace, out = run_setup(capsys)
    assert namespace["ENDPOINT_URL"] == expected
    assert f"Serveur S3 : {expected}\n" in out


@pytest.mark.parametrize(
    "value", ["https://minio.lab.sspcloud.fr", "https://minio.lab.sspcloud.fr/"]
)
def test_a_scheme_put_in_the_endpoint_by_mistake_is_dropped(
    value: str,
    clean_env: pytest.MonkeyPatch,
    located: list,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.setenv("AWS_S3_ENDPOINT", value)
    namespace, out = run_setup(capsys)
    assert namespace["ENDPOINT_URL"] == "https://minio.lab.sspcloud.fr"
    assert "Identifiants trouvés : NON" in out


def test_without_variables_the_running_playground_is_used(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], state_dir: Path
) -> None:
    started = playground.start(server="moto", state_dir=state_dir, log=lambda _: None)
    clean_env.setenv("S3COURS_STATE_DIR", str(state_dir))
    clean_env.setenv("AWS_SESSION_TOKEN", "jeton-perime-d-une-autre-session")
    namespace, out = run_setup(capsys)
    assert namespace["ENDPOINT_URL"] == started.endpoint_url
    given = playground.load_environment(state_dir)
    for name in (
        "AWS_S3_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_WORKING_DIRECTORY_PATH",
        "KUBERNETES_NAMESPACE",
    ):
        assert os.environ.get(name) == given.get(name), name
    if "AWS_SESSION_TOKEN" in given:  # the playground's own (temporary) credentials
        assert os.environ["AWS_SESSION_TOKEN"] != "jeton-perime-d-une-autre-session"
    # The course data is there, and read where it is.
    assert f"Données du cours : s3://{config.DATA_BUCKET}/{config.DATA_PREFIX}" in out


def test_without_variables_nor_playground_the_message_says_what_to_do(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    clean_env.setenv("S3COURS_STATE_DIR", str(tmp_path / "nothing"))
    with pytest.raises(
        playground.PlaygroundError, match=r"(?s)Aucun serveur S3.*playground start"
    ):
        run_setup(capsys)


def test_on_colab_without_variables_it_installs_the_course_and_starts_moto(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Colab (detected by its ``google.colab`` module) has neither the course's tooling
    nor a playground: the cell installs the tooling from the configured repository, with
    the pinned libraries, and starts a moto playground. Here pip only records what it is
    asked, since the tooling is already installed."""
    import importlib.util
    import subprocess
    import sys
    import types

    from s3cours import launch

    state = tmp_path / "state"
    clean_env.setenv("S3COURS_STATE_DIR", str(state))
    clean_env.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    real_find_spec = importlib.util.find_spec
    clean_env.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "s3cours" else real_find_spec(name, *a),
    )
    calls: list[list[str]] = []
    clean_env.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    try:
        namespace, out = run_setup(capsys)
        running = playground.status(state)
        assert running is not None and running.server == "moto"
        assert namespace["ENDPOINT_URL"] == running.endpoint_url
        assert f"Serveur S3 : {running.endpoint_url}" in out
        repo = launch.repository()
        assert calls == [
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                f"s3cours[chapitres,bac-a-sable] @ git+{repo.url}@{repo.branch}",
            ]
        ]
        # Run again (a learner re-runs the cell): the same playground, nothing started.
        clean_env.delenv("AWS_S3_ENDPOINT")
        namespace, _ = run_setup(capsys)
        assert playground.status(state) == running
    finally:
        playground.stop(state)


def test_elsewhere_without_variables_nothing_is_installed_nor_started(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import subprocess
    import sys

    clean_env.setenv("S3COURS_STATE_DIR", str(tmp_path / "state"))
    clean_env.delitem(sys.modules, "google.colab", raising=False)
    clean_env.setattr(
        subprocess, "run", lambda *a, **kw: pytest.fail("rien ne doit s'installer")
    )
    with pytest.raises(playground.PlaygroundError, match="Aucun serveur S3"):
        run_setup(capsys)
    assert playground.status(tmp_path / "state") is None


# ----------------------------------------------------------------------- where to write


@pytest.mark.parametrize("endpoint", ["minio.lab.sspcloud.fr", "127.0.0.1:9900"])
@pytest.mark.parametrize(
    ("variables", "bucket", "prefix", "origin"),
    [
        # Onyxia 11: AWS_WORKING_DIRECTORY_PATH is there and empty; the namespace names
        # the space.
        (
            {"AWS_WORKING_DIRECTORY_PATH": "", "KUBERNETES_NAMESPACE": "user-jdupont"},
            "jdupont",
            "cours-python-s3/",
            "KUBERNETES_NAMESPACE",
        ),
        (
            {"AWS_WORKING_DIRECTORY_PATH": "", "KUBERNETES_NAMESPACE": "projet-x"},
            "projet-x",
            "cours-python-s3/",
            "KUBERNETES_NAMESPACE",
        ),
        # Onyxia 10: the working directory, even beside a namespace.
        (
            {
                "AWS_WORKING_DIRECTORY_PATH": "jdupont/",
                "KUBERNETES_NAMESPACE": "user-jdupont",
            },
            "jdupont",
            "cours-python-s3/",
            "AWS_WORKING_DIRECTORY_PATH",
        ),
        (
            {"AWS_WORKING_DIRECTORY_PATH": "jdupont"},
            "jdupont",
            "cours-python-s3/",
            "AWS_WORKING_DIRECTORY_PATH",
        ),
        (
            {"AWS_WORKING_DIRECTORY_PATH": "projet-x/equipe/"},
            "projet-x",
            "equipe/cours-python-s3/",
            "AWS_WORKING_DIRECTORY_PATH",
        ),
        # The learner's own choice first: a group's bucket from a personal service, AWS.
        (
            {
                "S3COURS_ESPACE": "projet-x/equipe/",
                "AWS_WORKING_DIRECTORY_PATH": "",
                "KUBERNETES_NAMESPACE": "user-jdupont",
            },
            "projet-x",
            "equipe/cours-python-s3/",
            "S3COURS_ESPACE",
        ),
        (
            {"S3COURS_ESPACE": "mon-bucket-aws"},
            "mon-bucket-aws",
            "cours-python-s3/",
            "S3COURS_ESPACE",
        ),
        (
            {"AWS_WORKING_DIRECTORY_PATH": "", "KUBERNETES_NAMESPACE": "user-eleve-03"},
            "eleve-03",
            "cours-python-s3/",
            "KUBERNETES_NAMESPACE",
        ),
    ],
)
def test_the_space_is_found_as_on_each_onyxia(
    endpoint: str,
    variables: dict[str, str],
    bucket: str,
    prefix: str,
    origin: str,
    located: list,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One code path: on SSP Cloud (Onyxia 10 or 11), on AWS and on the playground
    alike; the tooling's reading of the space (classroom.learner_space) agrees with the
    cell."""
    clean_env.setenv("AWS_S3_ENDPOINT", endpoint)
    for name, value in variables.items():
        clean_env.setenv(name, value)
    clean_env.setenv("S3COURS_APPRENANT", "sans-effet-sur-l-espace")
    namespace, out = run_setup(capsys)
    assert (namespace["MON_BUCKET"], namespace["MON_PREFIXE"]) == (bucket, prefix)
    assert f"Vos écritures : s3://{bucket}/{prefix} (d'après {origin})" in out
    assert located[0][2] == f"{bucket}/{prefix}"
    env = {"AWS_S3_ENDPOINT": endpoint, **variables}
    assert classroom.learner_space(env, "x") == (
        bucket,
        prefix.removesuffix("cours-python-s3/"),
    )


def test_the_setup_cell_has_one_code_path() -> None:
    cell = setup_cells()[0]
    assert "LEARNER_BUCKET" not in cell and "S3COURS_APPRENANT" not in cell
    assert cell.count('os.environ.get("AWS_WORKING_DIRECTORY_PATH"') == 1
    assert "\nif LOCAL" not in cell


@pytest.mark.parametrize(
    "variables",
    [
        {},  # AWS
        {"AWS_WORKING_DIRECTORY_PATH": ""},  # Onyxia 11 outside Kubernetes
        {"AWS_WORKING_DIRECTORY_PATH": "/", "KUBERNETES_NAMESPACE": "default"},
        {"S3COURS_ESPACE": "", "KUBERNETES_NAMESPACE": "user-"},
    ],
)
def test_without_a_space_the_cell_says_what_to_set_and_defines_no_bucket(
    variables: dict[str, str],
    clean_env: pytest.MonkeyPatch,
    located: list,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing names a space: one sentence says how to name it, MON_BUCKET stays
    undefined (a writing cell stops before any request) and the course data is looked
    for with no space of the learner's."""
    clean_env.setenv("AWS_S3_ENDPOINT", "s3.eu-west-3.amazonaws.com")
    for name, value in variables.items():
        clean_env.setenv(name, value)
    namespace, out = run_setup(capsys)
    assert "MON_BUCKET" not in namespace and "MON_PREFIXE" not in namespace
    assert "aucun espace à vous n'est nommé ici ; posez S3COURS_ESPACE" in out
    assert located[0][2] == ""


def test_the_cell_never_prints_keys(
    clean_env: pytest.MonkeyPatch, located: list, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = {
        "AWS_ACCESS_KEY_ID": "CLE-ACCES-SECRETE",
        "AWS_SECRET_ACCESS_KEY": "CLE-SECRETE",
        "AWS_SESSION_TOKEN": "JETON-SECRET",
    }
    where = {
        "AWS_S3_ENDPOINT": "minio.lab.sspcloud.fr",
        "AWS_WORKING_DIRECTORY_PATH": "",
        "KUBERNETES_NAMESPACE": "user-jdupont",
    }
    for name, value in {**secrets, **where}.items():
        clean_env.setenv(name, value)
    _, out = run_setup(capsys)
    assert "Vos écritures : s3://jdupont/cours-python-s3/" in out
    assert not any(value in out for value in secrets.values()), out


#: An Onyxia service's variables, as the profile of a service that has none is made of.
ONYXIA = {
    "AWS_ENDPOINT_URL": "https://minio.lab.sspcloud.fr/",
    "AWS_S3_ENDPOINT": "minio.lab.sspcloud.fr",
    "AWS_ACCESS_KEY_ID": "CLE-DU-PROFIL",
    "AWS_SECRET_ACCESS_KEY": "SECRET-DU-PROFIL",
    "AWS_SESSION_TOKEN": "JETON-DU-PROFIL",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.mark.parametrize("token", [True, False])
def test_a_named_profile_alone_gives_the_variables(
    token: bool,
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    located: list,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A service with no S3 variable but a named profile, its files written as
    Onyxia's snippet writes them (``services`` section, ``endpoint_url``; no token line
    without a token): the cell reads the profile with boto3 and sets the variables the
    rest of the chapter (and ``mc``) reads; the space still comes from the namespace."""
    variables = dict(ONYXIA)
    if not token:
        del variables["AWS_SESSION_TOKEN"]
    playground.write_profiles(tmp_path, {"onyxia": variables, "autre": ONYXIA})
    credentials = (tmp_path / ".aws" / "credentials").read_text()
    assert credentials.count("aws_session_token") == (2 if token else 1)
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setenv("AWS_PROFILE", "onyxia")
    clean_env.setenv("KUBERNETES_NAMESPACE", "user-jdupont")
    namespace, out = run_setup(capsys)
    assert namespace["ENDPOINT_URL"] == "https://minio.lab.sspcloud.fr"
    assert out.splitlines()[:4] == [
        "Profil S3 : onyxia",
        "Serveur S3 : https://minio.lab.sspcloud.fr",
        "Identifiants trouvés : oui",
        "Vos écritures : s3://jdupont/cours-python-s3/ (d'après KUBERNETES_NAMESPACE)",
    ]
    assert os.environ["AWS_ACCESS_KEY_ID"] == "CLE-DU-PROFIL"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "SECRET-DU-PROFIL"
    assert os.environ.get("AWS_SESSION_TOKEN") == ("JETON-DU-PROFIL" if token else None)
    assert not any(value in out for value in ONYXIA.values() if "PROFIL" in value)
    from s3cours import aides

    expected = "CLE-DU-PROFIL:SECRET-DU-PROFIL" + (":JETON-DU-PROFIL" if token else "")
    assert aides.alias_s3() == {
        "MC_HOST_s3": f"https://{expected}@minio.lab.sspcloud.fr"
    }
    assert located[0][3] == "https://minio.lab.sspcloud.fr"


def test_a_profile_without_credentials_says_so(
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    located: list,
    capsys: pytest.CaptureFixture[str],
) -> None:
    playground.write_profiles(tmp_path, {"onyxia": ONYXIA})
    (tmp_path / ".aws" / "credentials").write_text("")
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setenv("AWS_PROFILE", "onyxia")
    clean_env.setenv("S3COURS_ESPACE", "jdupont/")
    _, out = run_setup(capsys)
    assert "Serveur S3 : https://minio.lab.sspcloud.fr" in out
    assert "Identifiants trouvés : NON" in out


def test_onyxia_variables_win_over_a_profile(
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    located: list,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Today's SSP Cloud, and a service that would have both: the variables are used
    as they are, the profile is not even read (a profile it names may be absent)."""
    for name, value in ONYXIA.items():
        clean_env.setenv(name, value)
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setenv("AWS_PROFILE", "absent")
    clean_env.setenv("KUBERNETES_NAMESPACE", "user-jdupont")
    _, out = run_setup(capsys)
    assert "Profil S3" not in out
    assert out.splitlines()[0] == "Serveur S3 : https://minio.lab.sspcloud.fr"


def test_an_unknown_profile_is_said_in_french(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    playground.write_profiles(tmp_path, {"onyxia": ONYXIA})
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setenv("AWS_PROFILE", "onyxa")
    with pytest.raises(
        RuntimeError, match="AWS_PROFILE nomme le profil 'onyxa', absent"
    ):
        exec(setup_cells()[0], {})  # noqa: S102 - the chapter's own code
