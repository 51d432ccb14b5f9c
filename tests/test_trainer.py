"""The trainer's kit on a playground: provision a class, verify it (and catch a learner
whose rights were widened), remove it; a playground listening elsewhere than 127.0.0.1
only on request, and learners' files carrying that address. Only loopback addresses are
used (127.0.0.2 stands in for a classroom's network address)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from s3cours import cli, config, learners, playground, trainer

HOST = "127.0.0.2"


@pytest.fixture(scope="module")
def room(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[playground.Playground, Path]]:
    """A MinIO playground on 127.0.0.2 (asked for explicitly), over https with its test
    CA, and its state folder."""
    if playground.find_minio() is None and shutil.which("go") is None:
        pytest.skip("ni MinIO ni Go sur cette machine : pas de politiques à vérifier")
    state = tmp_path_factory.mktemp("formateur-state")
    started = playground.start(
        server="minio",
        host=HOST,
        allow_non_loopback=True,
        tls=True,
        state_dir=state,
        log=lambda _: None,
    )
    yield started, state
    playground.stop(state)


@pytest.fixture(scope="module")
def classe(room, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five learners provisioned with the command a trainer types."""
    _, state = room
    out = tmp_path_factory.mktemp("classe") / "ma-classe"
    assert (
        cli.main(
            [
                "classroom",
                "provision",
                "--learners",
                "5",
                "--out",
                str(out),
                "--duree",
                "2h",
                "--state-dir",
                str(state),
            ]
        )
        == 0
    )
    return out


def run(*args: str, state: Path) -> int:
    return cli.main(["classroom", *args, "--state-dir", str(state)])


def test_another_address_than_127_0_0_1_needs_the_flag_and_is_announced(room) -> None:
    with pytest.raises(playground.PlaygroundError, match="--allow-non-loopback"):
        playground.check_host(HOST)
    playground.check_host(HOST, allow_non_loopback=True)
    started, _ = room
    assert started.endpoint_url.startswith(f"https://{HOST}:")
    warnings = [n for n in started.notes if n.startswith("ATTENTION")]
    assert len(warnings) == 1 and f"{HOST}:{started.port}" in warnings[0]
    assert "(http)" not in warnings[0]  # https asked for: no clear-text warning


def test_provision_writes_private_files_with_the_server_address(
    room, classe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, _ = room
    names = [f"eleve-0{i}" for i in range(1, 6)]
    for name in names:
        for suffix in (".env", ".html"):
            mode = stat.S_IMODE((classe / f"{name}{suffix}").stat().st_mode)
            assert mode == 0o600, (name, suffix, oct(mode))
    assert stat.S_IMODE(classe.stat().st_mode) == 0o700
    env = trainer.read_env_file(classe / "eleve-02.env")
    assert env["AWS_S3_ENDPOINT"] == f"{HOST}:{started.port}"
    assert env["AWS_ENDPOINT_URL"] == f"https://{HOST}:{started.port}/"
    # The test CA travels with the class: a copy beside the env files, named by them.
    ca_copy = classe / trainer.CA_FILE
    assert env["AWS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == str(ca_copy)
    assert ca_copy.read_bytes() == Path(started.ca_file).read_bytes()
    assert env["AWS_WORKING_DIRECTORY_PATH"] == ""
    assert env["KUBERNETES_NAMESPACE"] == "user-eleve-02"
    assert env["MC_HOST_s3"].endswith(f"@{HOST}:{started.port}")
    assert env["AWS_SESSION_TOKEN"] and env["AWS_ACCESS_KEY_ID"] != "eleve-02"
    secret = learners.user_secret(playground.admin_secret(), "eleve-02")
    assert not any(secret in v or playground.admin_secret() in v for v in env.values())
    # A shell sources it as it is.
    shown = subprocess.run(
        ["bash", "-c", f"source {classe / 'eleve-02.env'} && env"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    assert "AWS_WORKING_DIRECTORY_PATH=\n" in shown
    assert "KUBERNETES_NAMESPACE=user-eleve-02\n" in shown
    assert f"AWS_SESSION_TOKEN={env['AWS_SESSION_TOKEN']}\n" in shown
    # A notebook already open loads it with the cell the sheet shows.
    loaded: dict[str, str] = {}
    monkeypatch.setattr(os, "environ", loaded)
    loader = trainer.NOTEBOOK_LOADER.format(env_file=classe / "eleve-02.env")
    exec(loader, {})  # noqa: S102
    monkeypatch.undo()
    assert loaded == env
    roster = (classe / trainer.ROSTER_FILE).read_text().splitlines()
    assert roster[0].startswith("apprenant,bucket,serveur")
    assert [line.split(",")[0] for line in roster[1:]] == names
    sheet = (classe / "eleve-02.html").read_text()
    assert "s3://eleve-02/" in sheet and trainer.course_url() in sheet
    assert (
        env["AWS_SECRET_ACCESS_KEY"] not in sheet
    )  # the sheet is printed: no secret on it


def test_a_second_run_adds_only_the_missing_learners(room, classe: Path) -> None:
    _, state = room
    before = (classe / "eleve-01.env").read_text()
    assert run("provision", "--learners", "6", "--out", str(classe), state=state) == 0
    assert (classe / "eleve-01.env").read_text() == before  # not issued again
    assert (classe / "eleve-06.env").exists()


def test_verify_passes_on_a_class_as_provisioned(
    room, classe: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, state = room
    assert run("verify", str(classe), state=state) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 2 + 6
    assert all(
        row.count("ok") == 2 and row.count("refusé") == 2 and "limité" in row
        for row in table[2:]
    )


def test_verify_catches_a_widened_learner(
    room, classe: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started, state = room
    wide = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}
        ],
    }
    # eleve-03: the user's policy widened; the keys handed out stay capped by the
    # session policy. eleve-04: widened too, and holding keys issued without that
    # session policy.
    for name in ("eleve-03", "eleve-04"):
        playground.add_learner(started, name, policy=wide)
    env_file = classe / "eleve-04.env"
    handed = env_file.read_text()
    sts = boto3.client(
        "sts",
        endpoint_url=started.endpoint_url,
        verify=started.ca_file,
        region_name=config.PLAYGROUND_REGION,
        aws_access_key_id="eleve-04",
        aws_secret_access_key=learners.user_secret(
            playground.admin_secret(), "eleve-04"
        ),
    )
    wide_keys = sts.assume_role(
        RoleArn=learners.ROLE_ARN, RoleSessionName="eleve-04", DurationSeconds=900
    )["Credentials"]
    env_file.write_text(
        handed.replace(
            trainer.read_env_file(env_file)["AWS_SESSION_TOKEN"],
            wide_keys["SessionToken"],
        )
        .replace(
            trainer.read_env_file(env_file)["AWS_SECRET_ACCESS_KEY"],
            wide_keys["SecretAccessKey"],
        )
        .replace(
            trainer.read_env_file(env_file)["AWS_ACCESS_KEY_ID"],
            wide_keys["AccessKeyId"],
        )
    )
    try:
        assert run("verify", str(classe), state=state) == 1
    finally:
        env_file.write_text(
            handed
        )  # (the policies stay wide: the class is removed next)
    captured = capsys.readouterr()
    rows = {
        line.split(" ")[0]: line.split(" | ") for line in captured.out.splitlines()[2:]
    }
    assert [c.strip() for c in rows["eleve-03"][3:]] == [
        "refusé",
        "refusé",
        "ÉLARGI (autorisé !)",
    ]
    assert [c.strip() for c in rows["eleve-04"][3:]] == ["ÉCHEC (autorisé !)"] * 2 + [
        "ÉLARGI (autorisé !)"
    ]
    assert all(
        "autorisé" not in " ".join(row)
        for name, row in rows.items()
        if name not in ("eleve-03", "eleve-04")
    )
    assert "eleve-03 : droits du compte" in captured.err
    assert "eleve-04 : bucket voisin" in captured.err
    # What verify wrote while the door was open was taken away again.
    admin = playground.s3_client(started.endpoint_url, ca_file=started.ca_file)
    for bucket, prefix in (
        ("eleve-04", trainer.CHECK_PREFIX),
        ("eleve-05", trainer.CHECK_PREFIX),
        (config.DATA_BUCKET, config.DATA_PREFIX + trainer.CHECK_PREFIX),
    ):
        assert "Contents" not in admin.list_objects_v2(Bucket=bucket, Prefix=prefix)


def test_remove_asks_before_deleting(
    room,
    classe: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, state = room
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # no terminal to answer
    assert run("remove", str(classe), "--buckets", state=state) == 2
    assert "--yes" in capsys.readouterr().err
    assert (classe / "eleve-01.env").exists()


def test_remove_takes_away_identities_buckets_and_files(room, classe: Path) -> None:
    started, state = room
    admin = playground.s3_client(started.endpoint_url, ca_file=started.ca_file)
    admin.put_object(Bucket="eleve-05", Key="travail/resultat.csv", Body=b"a,b\n")
    assert run("remove", str(classe), "--buckets", "--yes", state=state) == 0
    buckets = {b["Name"] for b in admin.list_buckets()["Buckets"]}
    assert not any(b.startswith("eleve-") for b in buckets)
    assert {
        config.DATA_BUCKET,
        config.DEFAULT_LEARNER,
    } <= buckets  # nothing else touched
    assert not classe.exists()
    recorded = playground.status(state)
    assert recorded is not None and not any(
        n.startswith("eleve-") for n in recorded.learner_keys
    )
    with pytest.raises(
        Exception, match="InvalidClientTokenId|AccessDenied|SignatureDoesNotMatch"
    ):
        learners.session_credentials(
            started.endpoint_url,
            "eleve-01",
            learners.user_secret(playground.admin_secret(), "eleve-01"),
            config.PLAYGROUND_REGION,
            started.ca_file,
        )


def test_any_minio_whose_admin_keys_are_in_the_environment(
    room, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same server, reached as "another MinIO": no playground state involved."""
    started, _ = room
    monkeypatch.setenv(trainer.ADMIN_ENDPOINT, started.endpoint_url)
    monkeypatch.setenv(trainer.ADMIN_ACCESS_KEY, config.PLAYGROUND_ACCESS_KEY)
    monkeypatch.setenv(trainer.ADMIN_SECRET_KEY, playground.admin_secret())
    monkeypatch.setenv(trainer.ADMIN_CA_BUNDLE, started.ca_file)
    nowhere = str(tmp_path / "pas-de-bac-a-sable")
    out = tmp_path / "autre-classe"
    assert (
        cli.main(
            [
                "classroom",
                "provision",
                "--learners",
                "1",
                "--prefix",
                "autre",
                "--out",
                str(out),
                "--state-dir",
                nowhere,
            ]
        )
        == 0
    )
    env = trainer.read_env_file(out / "autre-01.env")
    assert env["AWS_ENDPOINT_URL"] == started.endpoint_url + "/"
    assert cli.main(["classroom", "verify", str(out), "--state-dir", nowhere]) == 0
    assert (
        cli.main(
            [
                "classroom",
                "remove",
                str(out),
                "--buckets",
                "--yes",
                "--state-dir",
                nowhere,
            ]
        )
        == 0
    )
    monkeypatch.delenv(trainer.ADMIN_SECRET_KEY)
    with pytest.raises(trainer.TrainerError, match=trainer.ADMIN_SECRET_KEY):
        trainer.resolve_target()


def test_the_class_folder_must_stay_out_of_the_repository(tmp_path: Path) -> None:
    inside = config.ROOT / "classe-de-test"
    with pytest.raises(trainer.TrainerError, match="hors du dépôt"):
        trainer.check_out_dir(inside)
    assert (
        cli.main(
            [
                "classroom",
                "provision",
                "--learners",
                "2",
                "--out",
                str(inside),
                "--state-dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert not inside.exists()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("12h", 43200),
        ("90min", 5400),
        ("2j", 172800),
        ("365j", 365 * 86400),
        ("900", 900),
    ],
)
def test_durations_within_minio_limits(text: str, seconds: int) -> None:
    assert trainer.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10min", "366j", "douze heures"])
def test_durations_outside_minio_limits_are_refused(text: str) -> None:
    with pytest.raises(trainer.TrainerError, match="Durée"):
        trainer.parse_duration(text)
