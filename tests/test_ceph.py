"""The Ceph RGW playground (tomorrow's SSP Cloud): its configuration, its policies and
its messages without Ceph; then, marked ``ceph`` (``./cours test --ceph`` only: a
cluster takes about 30 s and 0.5 GB), a real cluster: what a learner may and may not do
with the credentials a notebook gets."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from s3cours import ceph, config, learners, playground


def _conf(tmp_path: Path, **options) -> str:
    return ceph.conf_text(
        tmp_path,
        "5f0b2f6e-0000-4000-8000-000000000001",
        (23300, 26789),
        23456,
        sts_key="0123456789abcdef",
        **options,
    )


def test_the_cluster_lives_in_its_folder_and_listens_on_the_loopback_only(
    tmp_path: Path,
) -> None:
    text = _conf(tmp_path)
    assert "mon host = [v2:127.0.0.1:23300,v1:127.0.0.1:26789]" in text
    assert "rgw frontends = beast endpoint=127.0.0.1:23456" in text
    assert "public addr = 127.0.0.1" in text and "cluster addr = 127.0.0.1" in text
    assert "ms bind ipv6 = false" in text
    assert "0.0.0.0" not in text
    # Every file of the cluster (keyrings, data, sockets, logs, pids) under the folder.
    paths = re.findall(r"= (/\S+)", text)
    assert len(paths) >= 10
    assert all(p.startswith(f"{tmp_path}/") for p in paths), paths
    # One replica, a sparse 20 GiB OSD, STS on.
    assert "osd pool default size = 1" in text
    assert f"bluestore block size = {20 * 1024**3}" in text
    assert "rgw s3 auth use sts = true" in text
    assert "rgw sts key = 0123456789abcdef" in text


def test_a_room_reaches_s3_only_the_cluster_stays_on_the_loopback(
    tmp_path: Path,
) -> None:
    """A trainer's room address (``--host … --allow-non-loopback``) is given to the S3
    gateway alone: the monitor, the manager and the OSD never listen there."""
    text = _conf(tmp_path, host="192.168.1.20")
    assert "rgw frontends = beast endpoint=192.168.1.20:23456" in text
    assert "mon host = [v2:127.0.0.1:23300,v1:127.0.0.1:26789]" in text
    assert "public addr = 127.0.0.1" in text and "cluster addr = 127.0.0.1" in text
    assert text.count("192.168.1.20") == 1


def test_https_uses_the_course_certificate(tmp_path: Path) -> None:
    text = _conf(tmp_path, certificate=tmp_path / "c.crt", key=tmp_path / "c.key")
    assert (
        f"beast ssl_endpoint=127.0.0.1:23456 ssl_certificate={tmp_path}/c.crt "
        f"ssl_private_key={tmp_path}/c.key"
    ) in text
    assert " endpoint=" not in text.replace("ssl_endpoint", "")


def test_a_bad_configuration_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="16 caractères"):
        ceph.conf_text(tmp_path, "f", (1, 2), 3, sts_key="court")
    with pytest.raises(ValueError, match="certificat"):
        _conf(tmp_path, certificate=tmp_path / "c.crt")


def test_the_session_policy_is_compact_json() -> None:
    text = learners.compact_policy(learners.onyxia_policy("eleve-01"))
    assert " " not in text and "\n" not in text
    assert json.loads(text) == learners.onyxia_policy("eleve-01")


def test_sessions_are_capped_at_twelve_hours_and_it_is_said() -> None:
    assert ceph.session_seconds(learners.SESSION_SECONDS) == 43200
    assert ceph.session_seconds(3600) == 3600
    note = ceph.duration_note()
    assert "43200 s (12 h)" in note and "7 jours" in note
    assert ceph.duration_note(3600) == ""


def test_a_ceph_learner_assumes_their_role_for_twelve_hours_at_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict] = []

    def fake(*args: object, **options: object) -> learners.Session:
        calls.append({"seconds": args[5], **options})
        return learners.Session("CLE", "SECRET", "JETON", "2026-12-08T00:00:00")

    monkeypatch.setattr(learners, "session_credentials", fake)
    twin = playground.Playground(
        "Ceph", "16.2.15", 1, "127.0.0.1", 9, "", True, "", learner_keys={"eleve": "s"}
    )
    env = twin.environment("eleve")
    assert calls[-1]["seconds"] == 43200
    assert calls[-1]["role_arn"] == "arn:aws:iam:::role/eleve"
    assert calls[-1]["revocable"] is False
    assert env["AWS_SESSION_TOKEN"] == "JETON"
    assert env["KUBERNETES_NAMESPACE"] == "user-eleve"
    project = twin.environment("eleve", project=ceph.PROJECT)
    assert calls[-1]["role_arn"] == f"arn:aws:iam:::role/{ceph.PROJECT}"
    assert calls[-1]["bucket"] == ceph.PROJECT
    assert project["KUBERNETES_NAMESPACE"] == ceph.PROJECT
    assert learners.space(project) == (ceph.PROJECT, "")


def test_without_root_the_missing_packages_are_named_with_their_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ceph.shutil, "which", lambda _: None)
    with pytest.raises(ceph.CephError) as caught:
        ceph.install(lambda _: None, euid=1000)
    message = str(caught.value)
    assert "Ceph RGW n'est pas installé" in message
    assert (
        "sudo apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd "
        "ceph-mgr ceph-common"
    ) in message
    assert "--server minio" in message


def test_the_shared_data_policy_opens_diffusion_only() -> None:
    policy = ceph.shared_data_policy()
    get, listing = policy["Statement"]
    assert get["Action"] == ["s3:GetObject"]
    assert get["Resource"] == [f"arn:aws:s3:::{config.DATA_BUCKET}/diffusion/*"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "diffusion/*"}}
    assert not any("s3:PutObject" in s["Action"] for s in policy["Statement"])


def test_a_role_is_assumed_by_its_members_only() -> None:
    trust = ceph.trust_policy(["b", "a"])
    assert trust["Statement"][0]["Principal"] == {
        "AWS": ["arn:aws:iam:::user/a", "arn:aws:iam:::user/b"]
    }


# --------------------------------------------------------------------- a real cluster


def _processes_of(folder: Path) -> list[str]:
    found = subprocess.run(
        ["ps", "-eo", "args"], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in found.splitlines() if str(folder) in line]


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[playground.Playground]:
    state = tmp_path_factory.mktemp("ceph-state")
    started = playground.start(server="ceph", state_dir=state, tls=True, log=print)
    try:
        playground.add_learner(started, "voisin")
        yield started
    finally:
        playground.stop(state)
    assert _processes_of(state) == []


def _client(env: dict[str, str]):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=env["AWS_DEFAULT_REGION"],
        verify=env["AWS_CA_BUNDLE"],
        config=Config(
            request_checksum_calculation="when_required",
            retries={"total_max_attempts": 1},
        ),
    )


def _refused(call: Callable[[], object]) -> str:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


@pytest.mark.ceph
def test_a_learner_reads_diffusion_but_lists_and_writes_nothing_else_there(
    twin: playground.Playground,
) -> None:
    env = twin.environment(config.DEFAULT_LEARNER)
    assert env["AWS_SESSION_TOKEN"]
    s3 = _client(env)
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=config.DATA_BUCKET, Prefix="diffusion/")[
            "Contents"
        ]
    ]
    assert config.FILOSOFI_CSV_KEY in keys
    body = s3.get_object(Bucket=config.DATA_BUCKET, Key=config.FILOSOFI_CSV_KEY)
    assert body["ContentLength"] > 1_000_000
    assert _refused(lambda: s3.list_objects_v2(Bucket=config.DATA_BUCKET)) == (
        "AccessDenied"
    )
    put = partial(
        s3.put_object, Bucket=config.DATA_BUCKET, Key="diffusion/intrus.txt", Body=b"x"
    )
    assert _refused(put) == "AccessDenied"


@pytest.mark.ceph
def test_a_learner_writes_in_their_bucket_and_not_in_another_one(
    twin: playground.Playground,
) -> None:
    s3 = _client(twin.environment(config.DEFAULT_LEARNER))
    s3.put_object(Bucket=config.DEFAULT_LEARNER, Key="essai.txt", Body=b"x")
    assert s3.get_object(Bucket=config.DEFAULT_LEARNER, Key="essai.txt")[
        "Body"
    ].read() == (b"x")
    s3.delete_object(Bucket=config.DEFAULT_LEARNER, Key="essai.txt")
    put = partial(s3.put_object, Bucket="voisin", Key="intrus.txt", Body=b"x")
    assert _refused(put) == "AccessDenied"
    assert _refused(lambda: s3.list_objects_v2(Bucket="voisin")) == "AccessDenied"


@pytest.mark.ceph
def test_the_project_role_writes_in_the_project_bucket_only(
    twin: playground.Playground,
) -> None:
    personal = _client(twin.environment("voisin"))
    put = partial(personal.put_object, Bucket=ceph.PROJECT, Key="a.txt", Body=b"x")
    assert _refused(put) == "AccessDenied"
    project = _client(twin.environment("voisin", project=ceph.PROJECT))
    project.put_object(Bucket=ceph.PROJECT, Key="a.txt", Body=b"x")
    # Another member reads it with the project's role.
    other = _client(twin.environment(config.DEFAULT_LEARNER, project=ceph.PROJECT))
    assert other.get_object(Bucket=ceph.PROJECT, Key="a.txt")["Body"].read() == b"x"
    put = partial(project.put_object, Bucket="voisin", Key="b.txt", Body=b"x")
    assert _refused(put) == "AccessDenied"
    other.delete_object(Bucket=ceph.PROJECT, Key="a.txt")


@pytest.mark.ceph
def test_sessions_last_twelve_hours_and_a_spaced_policy_is_refused(
    twin: playground.Playground,
) -> None:
    import datetime as dt

    session = learners.session_credentials(
        twin.endpoint_url,
        "voisin",
        twin.learner_keys["voisin"],
        config.PLAYGROUND_REGION,
        twin.ca_file,
        ceph.MAX_SESSION_SECONDS,
        role_arn="arn:aws:iam:::role/voisin",
        revocable=False,
    )
    left = dt.datetime.fromisoformat(session.expiration) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=11, minutes=50) < left <= dt.timedelta(hours=12)
    # Why the policy goes as compact JSON: RGW 16 refuses the same one with spaces.
    import boto3

    sts = boto3.client(
        "sts",
        endpoint_url=twin.endpoint_url,
        region_name=config.PLAYGROUND_REGION,
        aws_access_key_id="voisin",
        aws_secret_access_key=twin.learner_keys["voisin"],
        verify=twin.ca_file,
    )
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        sts.assume_role(
            RoleArn="arn:aws:iam:::role/voisin",
            RoleSessionName="essai",
            Policy=json.dumps(learners.onyxia_policy("voisin")),
        )
    # And nobody assumes another's role.
    with pytest.raises(ClientError):
        sts.assume_role(
            RoleArn=f"arn:aws:iam:::role/{config.DEFAULT_LEARNER}",
            RoleSessionName="essai",
        )


@pytest.mark.ceph
def test_the_admin_keys_stay_in_the_tooling(twin: playground.Playground) -> None:
    env = twin.environment(config.DEFAULT_LEARNER)
    secret = playground.admin_secret()
    assert all(secret not in value for value in env.values())
    assert config.PLAYGROUND_ACCESS_KEY not in json.dumps(env)
    state = Path(twin.state_file).read_text()
    assert secret not in state
    assert os.stat(twin.state_file).st_mode & 0o077 == 0


def test_the_commands_know_ceph() -> None:
    from s3cours import cli

    args = cli.parser().parse_args(["playground", "start", "--serveur", "ceph"])
    assert args.server == "ceph"
    assert cli.parser().parse_args(["test", "--ceph"]).ceph
    with pytest.raises(playground.PlaygroundError, match="Serveur inconnu"):
        playground.start(server="cephx", state_dir=Path("/nonexistent"))
