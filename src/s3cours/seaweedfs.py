"""SeaweedFS (Apache-2.0) as a server of ``./cours compat``: not a playground server
(static keys, no users made at run time; its STS, which needs its advanced IAM
configuration, is not set up), a third point of comparison.

It is built once with ``go build`` in its module as the Go module proxy serves it
(:func:`s3cours.gotools.go_build`: ``go install`` refuses its ``replace`` directives)
and kept in the course's cache. ``weed server`` runs a master, a volume server, a filer
and the S3 gateway in one process, every port free and on 127.0.0.1, its data in the
state folder. Identities are static keys from a configuration file: the admin, and the
learner allowed their own bucket and reading ``donnees-insee``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from . import config, gotools, playground
from . import tls as tls_module

LABEL = "SeaweedFS"


def find() -> Path | None:
    return gotools.find("weed", config.SEAWEEDFS_VERSION, "S3COURS_SEAWEEDFS")


def build(log: Callable[[str], None] = print) -> Path:
    return gotools.go_build(
        config.SEAWEEDFS_MODULE,
        config.SEAWEEDFS_VERSION,
        "./weed",
        "weed",
        LABEL,
        log,
    )


def missing() -> str | None:
    """None when SeaweedFS is built or can be (Go is there), else why not."""
    if find() is not None or shutil.which("go"):
        return None
    return "ni binaire weed en cache, ni Go pour le construire"


def version(binary: Path) -> str:
    out = subprocess.run(
        [str(binary), "version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout
    words = out.split()
    found = next((w for w in words if w[:1].isdigit() and "." in w), None)
    stamp = config.SEAWEEDFS_VERSION.split("-")[1]
    built = f"sources du {stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    return f"{found} ({built})" if found else f"({built})"


def _free_ports(count: int) -> list[int]:
    """``count`` free ports whose gRPC twins (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 22700)
        if port in ports:
            continue
        if all(_free(p) for p in (port, port + 10000)):
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((config.LOOPBACK, port))
        except OSError:
            return False
    return True


def identities(admin_secret: str, learner: str, learner_secret: str) -> dict:
    bucket_actions = ("Admin", "Read", "Write", "List", "Tagging")
    return {
        "identities": [
            {
                "name": "admin",
                "credentials": [
                    {
                        "accessKey": config.PLAYGROUND_ACCESS_KEY,
                        "secretKey": admin_secret,
                    }
                ],
                "actions": list(bucket_actions),
            },
            {
                "name": learner,
                "credentials": [{"accessKey": learner, "secretKey": learner_secret}],
                "actions": [f"{a}:{learner}" for a in bucket_actions]
                + [f"Read:{config.DATA_BUCKET}", f"List:{config.DATA_BUCKET}"],
            },
        ]
    }


@contextlib.contextmanager
def target(state: Path, scheme: str, log: Callable[[str], None]) -> Iterator:
    """A SeaweedFS server over ``scheme`` in ``state``, as a :class:`compat.Target`."""
    from . import compat, learners

    binary = find() or build(log)
    admin_secret = playground.admin_secret()
    learner = config.DEFAULT_LEARNER
    learner_secret = learners.user_secret(admin_secret, learner)
    data = state / "donnees"
    data.mkdir(parents=True)
    s3_config = state / "s3.json"
    fd = os.open(s3_config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(identities(admin_secret, learner, learner_secret), handle)
    master, volume, filer, s3 = _free_ports(4)
    host = config.LOOPBACK
    cmd = [
        str(binary),
        "server",
        f"-dir={data}",
        f"-ip={host}",
        f"-ip.bind={host}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=50",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.config={s3_config}",
    ]
    ca_file = None
    if scheme == "https":
        certificates = tls_module.make(state / "tls", host)
        cmd += [
            f"-s3.cert.file={certificates.cert_file}",
            f"-s3.key.file={certificates.key_file}",
        ]
        ca_file = str(certificates.ca_file)
    log_path = state / "weed.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=state,
            start_new_session=True,
        )
    endpoint_url = f"{scheme}://{host}:{s3}"
    try:
        _wait(proc, endpoint_url, ca_file, admin_secret, log_path)
        found = compat.Target(
            key="seaweedfs",
            server=LABEL,
            version=version(binary),
            scheme=scheme,
            endpoint_url=endpoint_url,
            ca_file=ca_file,
            admin_keys=(config.PLAYGROUND_ACCESS_KEY, admin_secret),
            learner=learner,
            learner_key=(learner, learner_secret),
            environment=lambda _seconds: {
                "AWS_ACCESS_KEY_ID": learner,
                "AWS_SECRET_ACCESS_KEY": learner_secret,
            },
            sts=False,
            notes=[
                (
                    "STS non configuré : l'apprenant a des clés statiques, "
                    "limitées à son bucket (lecture et liste de donnees-insee) ; "
                    "le STS de SeaweedFS (configuration IAM avancée) n'est pas "
                    "essayé."
                )
            ],
        )
        yield found
    finally:
        with contextlib.suppress(playground.PlaygroundError):
            playground._terminate(proc.pid)


def _wait(
    proc: subprocess.Popen,
    endpoint_url: str,
    ca_file: str | None,
    admin_secret: str,
    log_path: Path,
    timeout: float = 90,
) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=config.PLAYGROUND_ACCESS_KEY,
        aws_secret_access_key=admin_secret,
        region_name=config.PLAYGROUND_REGION,
        verify=ca_file or True,
        config=Config(
            connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1}
        ),
    )
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise playground.PlaygroundError(
                f"SeaweedFS s'est arrêté au démarrage (code {proc.returncode}) : "
                f"{log_path.read_text(errors='replace')[-2000:]}"
            )
        try:
            for bucket in (config.DEFAULT_LEARNER, config.DATA_BUCKET):
                playground.create_bucket(client, bucket)
            client.list_buckets()
            return
        except Exception as exc:  # noqa: BLE001 - not ready yet
            last = exc
            time.sleep(0.5)
    playground._terminate(proc.pid)
    raise playground.PlaygroundError(
        f"SeaweedFS ne répond pas après {timeout:.0f} s ({last}) : "
        f"{log_path.read_text(errors='replace')[-2000:]}"
    )
