"""The playground as an SSP Cloud twin: learners are MinIO users with a bucket of their
name, holding STS session credentials under Onyxia's session policy, with Onyxia's
variables. The server itself refuses what SSP Cloud refuses; admin keys never reach a
learner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from s3cours import config, learners, playground

ONYXIA_VARIABLES = {
    "AWS_S3_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "S3_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_PATH_STYLE_ACCESS",
    "AWS_WORKING_DIRECTORY_PATH",
    "KUBERNETES_NAMESPACE",
    "MC_HOST_s3",
}
CSV = f"{config.FILOSOFI_CSV_KEY}"


def _minio_or_skip() -> None:
    if playground.find_minio() is None and shutil.which("go") is None:
        pytest.skip("ni MinIO ni Go sur cette machine : le bac à sable y est moto")


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[playground.Playground]:
    _minio_or_skip()
    state = tmp_path_factory.mktemp("twin-state")
    started = playground.start(server="minio", state_dir=state, log=lambda _: None)
    playground.add_learner(started, "eleve-a")
    playground.add_learner(started, "eleve-b")
    yield started
    playground.stop(state)


def client_for(env: dict[str, str]):
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=env["AWS_DEFAULT_REGION"],
        verify=env.get("AWS_CA_BUNDLE", True),
    )


def _code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_learner_gets_onyxia_variables_and_no_admin_key(
    twin: playground.Playground,
) -> None:
    env = twin.environment("eleve-a")
    assert set(env) == ONYXIA_VARIABLES
    assert env["AWS_S3_ENDPOINT"] == twin.endpoint
    assert env["AWS_ENDPOINT_URL"] == env["S3_ENDPOINT"] == f"http://{twin.endpoint}/"
    # Onyxia 11 (the default): the working directory is there, empty; the namespace
    # names the personal space, as the image's init script exports it.
    assert env["AWS_WORKING_DIRECTORY_PATH"] == ""
    assert env["KUBERNETES_NAMESPACE"] == "user-eleve-a"
    assert env["MC_HOST_s3"] == (
        f"http://{env['AWS_ACCESS_KEY_ID']}:{env['AWS_SECRET_ACCESS_KEY']}"
        f":{env['AWS_SESSION_TOKEN']}@{twin.endpoint}"
    )
    admin_secret = playground.admin_secret()
    assert env["AWS_ACCESS_KEY_ID"] not in (config.PLAYGROUND_ACCESS_KEY, "eleve-a")
    assert not any(admin_secret in value for value in env.values())
    assert not any(
        learners.user_secret(admin_secret, "eleve-a") in v for v in env.values()
    )
    # Fresh credentials each time, as `playground env` hands out.
    assert twin.environment("eleve-a")["AWS_SESSION_TOKEN"] != env["AWS_SESSION_TOKEN"]


def test_learner_reads_the_shared_data_and_owns_their_bucket(
    twin: playground.Playground,
) -> None:
    s3 = client_for(twin.environment("eleve-a"))
    listed = s3.list_objects_v2(Bucket=config.DATA_BUCKET, Prefix="diffusion/")
    assert {o["Key"] for o in listed["Contents"]} >= {config.FILOSOFI_CSV_KEY}
    assert s3.head_object(Bucket=config.DATA_BUCKET, Key=CSV)["ContentLength"] > 0
    s3.put_object(Bucket="eleve-a", Key="essai/a.txt", Body=b"a")
    assert s3.get_object(Bucket="eleve-a", Key="essai/a.txt")["Body"].read() == b"a"
    assert s3.list_objects_v2(Bucket="eleve-a")["KeyCount"] == 1
    # s3:* on one's own bucket: a bucket policy too (what sharing needs).
    s3.put_bucket_policy(
        Bucket="eleve-a",
        Policy=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"AWS":["*"]},"Action":["s3:GetObject"],'
            '"Resource":["arn:aws:s3:::eleve-a/public/*"]}]}'
        ),
    )
    s3.delete_bucket_policy(Bucket="eleve-a")
    s3.delete_object(Bucket="eleve-a", Key="essai/a.txt")


def test_server_refuses_what_sspcloud_refuses(twin: playground.Playground) -> None:
    s3 = client_for(twin.environment("eleve-a"))
    # Another learner's bucket: no read, no write, no listing.
    admin = playground.s3_client(twin.endpoint_url)
    admin.put_object(Bucket="eleve-b", Key="prive.txt", Body=b"b")
    assert (
        _code(lambda: s3.get_object(Bucket="eleve-b", Key="prive.txt"))
        == "AccessDenied"
    )
    assert (
        _code(lambda: s3.put_object(Bucket="eleve-b", Key="x", Body=b""))
        == "AccessDenied"
    )
    assert _code(lambda: s3.list_objects_v2(Bucket="eleve-b")) == "AccessDenied"
    # The shared data: read only, and listing only under diffusion/.
    assert (
        _code(
            lambda: s3.put_object(
                Bucket=config.DATA_BUCKET, Key="diffusion/x", Body=b""
            )
        )
        == "AccessDenied"
    )
    assert (
        _code(lambda: s3.delete_object(Bucket=config.DATA_BUCKET, Key=CSV))
        == "AccessDenied"
    )
    assert (
        _code(lambda: s3.list_objects_v2(Bucket=config.DATA_BUCKET)) == "AccessDenied"
    )
    # HeadBucket is not in the policy (what trips Snakemake's S3 plugin on SSP Cloud).
    assert _code(lambda: s3.head_bucket(Bucket=config.DATA_BUCKET)) == "403"
    # A learner makes no bucket and no user.
    assert _code(lambda: s3.create_bucket(Bucket="eleve-c")) == "AccessDenied"
    assert [b["Name"] for b in admin.list_buckets()["Buckets"]].count("eleve-b") == 1
    admin.delete_object(Bucket="eleve-b", Key="prive.txt")


def test_mc_alias_carries_the_token(
    twin: playground.Playground, tmp_path: Path
) -> None:
    from s3cours import mc

    env = twin.environment("eleve-a")
    binary = mc.find() or mc.build(lambda _: None)
    run = subprocess.run(
        [
            str(binary),
            "--config-dir",
            str(tmp_path),
            "ls",
            f"s3/{config.DATA_BUCKET}/{config.DATA_PREFIX}",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "FILOSOFI_COM.csv" in run.stdout


def test_widened_policy_is_what_the_server_applies(twin: playground.Playground) -> None:
    """The user's own policy bounds the session; a trainer's check sees it widened."""
    wide = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}
        ],
    }
    playground.add_learner(twin, "eleve-large", policy=wide)
    s3 = client_for(twin.environment("eleve-large"))
    # The session policy (Onyxia's) still applies: the widening is in the user's policy.
    assert _code(lambda: s3.list_objects_v2(Bucket="eleve-b")) == "AccessDenied"


def test_unknown_learner_is_a_clear_error(twin: playground.Playground) -> None:
    with pytest.raises(
        playground.PlaygroundError, match="Apprenant inconnu.*--apprenant"
    ):
        twin.environment("personne")
    with pytest.raises(playground.PlaygroundError, match="Nom d'apprenant refusé"):
        playground.add_learner(twin, "Pas_Valide")


def test_https_twin_with_a_test_ca(tmp_path: Path) -> None:
    _minio_or_skip()
    state = tmp_path / "state"
    started = playground.start(
        server="minio", state_dir=state, tls=True, shared_data=False, log=lambda _: None
    )
    try:
        env = started.environment()
        assert env["AWS_ENDPOINT_URL"].startswith("https://127.0.0.1:")
        assert env["AWS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == started.ca_file
        s3 = client_for(env)
        # No shared data on this one: the prefix is empty, the learner's bucket works.
        assert (
            s3.list_objects_v2(Bucket=config.DATA_BUCKET, Prefix="diffusion/")[
                "KeyCount"
            ]
            == 0
        )
        s3.put_object(Bucket=config.DEFAULT_LEARNER, Key="t.txt", Body=b"t")
        # Without the CA, verification fails: the CA really is what makes it trusted.
        untrusted = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
            region_name="us-east-1",
        )
        with pytest.raises(
            Exception, match="CERTIFICATE_VERIFY_FAILED|certificate verify"
        ):
            untrusted.list_objects_v2(Bucket=config.DEFAULT_LEARNER)
    finally:
        playground.stop(state)
    assert not (state / "tls").exists()


def test_cli_env_gives_fresh_learner_credentials(tmp_path: Path) -> None:
    state = tmp_path / "cli-state"
    cli = [sys.executable, "-m", "s3cours.cli", "playground"]
    subprocess.run(
        [*cli, "start", "--port", "0", "--server", "moto", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        env = subprocess.run(
            [*cli, "env", "--state-dir", str(state), "--apprenant", "eleve-07"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "export AWS_WORKING_DIRECTORY_PATH=''\n" in env.stdout
        assert "export KUBERNETES_NAMESPACE=user-eleve-07\n" in env.stdout
        assert "export AWS_SESSION_TOKEN=" in env.stdout
        assert "Apprenant créé : eleve-07" in env.stderr
    finally:
        subprocess.run(
            [*cli, "stop", "--state-dir", str(state)], capture_output=True, check=True
        )


# ------------------------------------------------------------------------- renewing


def _refused(env: dict[str, str]) -> str | None:
    """The error code the server gives this learner's listing, or None."""
    try:
        client_for(env).list_objects_v2(Bucket="eleve-a")
    except ClientError as error:
        return error.response["Error"]["Code"]
    return None


def test_renewing_revokes_the_old_credentials_and_only_them(
    twin: playground.Playground,
) -> None:
    """« Renouveler les jetons », and the old ones as if expired: each set of
    credentials carries its own revocation type, so the renewal ends that set only
    (another service of the same learner keeps working)."""
    old, other = twin.environment("eleve-a"), twin.environment("eleve-a")
    assert learners.revoke_type(old["AWS_SESSION_TOKEN"]) != learners.revoke_type(
        other["AWS_SESSION_TOKEN"]
    )
    assert _refused(old) is None
    fresh, revoked = twin.renew(old["AWS_SESSION_TOKEN"], "eleve-a")
    assert revoked
    assert set(fresh) == ONYXIA_VARIABLES
    assert _refused(old) == "InvalidAccessKeyId"
    assert _refused(other) is None and _refused(fresh) is None
    # A token that is not from this playground: nothing to revoke, fresh ones anyway.
    again, revoked = twin.renew("pas-un-jeton", "eleve-a")
    assert not revoked and _refused(again) is None and _refused(fresh) is None


def test_a_revocation_without_a_server_is_a_clear_error() -> None:
    with pytest.raises(learners.LearnerError, match="le serveur ne répond pas"):
        learners.revoke("http://127.0.0.1:9", "eleve-a", "x", "us-east-1", "t")


def test_cli_renews_the_terminals_credentials(
    twin: playground.Playground, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:  # noqa: ANN001
    from s3cours import cli

    old = twin.environment("eleve-a")
    monkeypatch.setenv("AWS_SESSION_TOKEN", old["AWS_SESSION_TOKEN"])
    state = str(Path(twin.state_file).parent)
    args = ["playground", "env", "--renouveler", "--state-dir", state]
    assert cli.main([*args, "--apprenant", "eleve-a"]) == 0
    out, err = capsys.readouterr()
    assert "les anciens (ceux de AWS_SESSION_TOKEN) sont révoqués" in err
    assert "export AWS_SESSION_TOKEN=" in out
    assert _refused(old) == "InvalidAccessKeyId"


def test_the_chapters_helper_renews_only_what_it_gave(
    twin: playground.Playground, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:  # noqa: ANN001
    """aides.renouveler_identifiants: a first call gives fresh credentials and keeps
    the service's; a second one revokes the first call's. Elsewhere, nothing
    changes."""
    from s3cours import aides

    service = twin.environment("eleve-a")
    for name, value in service.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(config.PLAYGROUND_VARIABLE, str(Path(twin.state_file).parent))
    monkeypatch.setattr(aides, "_DONNEES", set())
    aides.renouveler_identifiants()
    first = {n: os.environ[n] for n in ONYXIA_VARIABLES}
    assert first["AWS_ACCESS_KEY_ID"] != service["AWS_ACCESS_KEY_ID"]
    assert "ceux du démarrage du service restent valables" in capsys.readouterr().out
    aides.renouveler_identifiants()
    assert "les précédents sont révoqués" in capsys.readouterr().out
    assert _refused(first) == "InvalidAccessKeyId"
    assert _refused(service) is None
    assert _refused({n: os.environ[n] for n in ONYXIA_VARIABLES}) is None
    # Another server behind AWS_S3_ENDPOINT: nothing renewed, and it says where to.
    monkeypatch.setenv("AWS_S3_ENDPOINT", "s3.example.org")
    before = dict(os.environ)
    aides.renouveler_identifiants()
    assert "Renouveler les jetons" in capsys.readouterr().out
    assert dict(os.environ) == before


# --------------------------------------------------------------------- Onyxia 10 and 11


def test_the_onyxia_10_twin_names_the_space_in_the_working_directory(
    tmp_path: Path,
) -> None:
    started = playground.start(
        server="moto", state_dir=tmp_path, onyxia=10, log=lambda _: None
    )
    try:
        env = started.environment()
        assert env["AWS_WORKING_DIRECTORY_PATH"] == f"{config.DEFAULT_LEARNER}/"
        assert env["KUBERNETES_NAMESPACE"] == f"user-{config.DEFAULT_LEARNER}"
        assert "variables d'Onyxia 10" in started.describe()
    finally:
        playground.stop(tmp_path)
    with pytest.raises(playground.PlaygroundError, match="Version d'Onyxia inconnue"):
        playground.start(
            server="moto", state_dir=tmp_path, onyxia=12, log=lambda _: None
        )


def test_a_service_gets_the_images_duckdb_secret_in_its_home(
    twin: playground.Playground,
) -> None:
    """As the image's init script at a service's start: a persistent secret of the
    credentials of that moment, the endpoint's host, path-style URLs, https (DuckDB's
    default: on this http twin, a query that only has it fails, as it would on SSP Cloud
    once its credentials are stale)."""
    env = twin.service("eleve-b")
    home = Path(env["HOME"])
    assert home == twin.service_home("eleve-b") and home.is_relative_to(
        Path(twin.state_file).parent
    )
    code = (
        "import duckdb\n"
        "con = duckdb.connect()\n"
        "con.load_extension('httpfs')\n"  # the image's extension, already in this home
        "con.load_extension('aws')\n"
        'print(con.sql("SELECT name, persistent, storage FROM duckdb_secrets()")'
        ".fetchall())\n"
        'print(con.sql("SELECT secret_string FROM duckdb_secrets()").fetchone()[0])\n'
    )
    shown = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
        timeout=60,
        check=True,
    ).stdout
    assert "[('s3_onyxia_connection', True, 'local_file')]" in shown
    for setting in (
        f"key_id={env['AWS_ACCESS_KEY_ID']}",
        f"endpoint={twin.endpoint}",
        "url_style=path",
        "session_token=redacted",
    ):
        assert setting in shown, setting
    assert (
        "use_ssl=0" not in shown and "use_ssl=false" not in shown
    )  # DuckDB's default: https
