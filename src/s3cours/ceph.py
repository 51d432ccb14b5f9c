"""A Ceph RGW playground: tomorrow's SSP Cloud, with STS roles per user and per project.

Onyxia prepares Ceph RGW for SSP Cloud's S3 (InseeFrLab/onyxia ``admin-doc``
``s3-configuration.md``: one role per user, ``role/$1`` from ``preferred_username``, one
per project, ``role/projet-$1`` from ``groups``). This module makes its twin on this
machine: a one-node Ceph 16.2 cluster (Debian 12's, the newest there): one mon, one mgr,
one BlueStore OSD on a sparse file, one radosgw (beast), all of it under the
playground's state folder, bound to 127.0.0.1 only, http or https with the course's test
CA (:mod:`s3cours.tls`).

``python -m s3cours.ceph serve FOLDER`` is the server process the playground starts
(:func:`serve`): it makes the cluster from nothing in FOLDER (keyrings, monmap, each
daemon in order), starts every daemon as its child in its process group, creates the
tooling's administrator (RGW caps ``roles=*;users=*;buckets=*``: it makes users and
roles through RGW's admin and IAM APIs) and, on SIGTERM, stops the daemons and waits
for them: the playground's stop leaves no process behind.

Learners are made as Onyxia would find them on Ceph (:func:`ensure_learner`): an RGW
user (its long-term key held by the tooling only), a role of the learner's name that
the user may assume (``MaxSessionDuration`` 43 200 s, RGW's ceiling), a personal bucket
(the tooling's, as with MinIO: the role's policy gives every right on it), membership
of the class project's role (``projet-…``) and bucket. A notebook only ever gets
``AssumeRole`` credentials under Onyxia's session policy
(:func:`s3cours.learners.onyxia_policy`, sent as compact JSON: RGW 16 refuses it with
spaces). The course data are readable by everyone under ``donnees-insee/diffusion/`` by
a bucket policy (:func:`shared_data_policy`), as public data are on SSP Cloud; the rest
of that bucket stays the tooling's. Ceph cannot revoke temporary credentials: renewed
ones leave the old ones valid until they expire.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from . import config, learners, playground

#: The Debian packages of a one-node cluster with its S3 gateway (Debian 12: 16.2.15).
PACKAGES = ("radosgw", "ceph-mon", "ceph-osd", "ceph-mgr", "ceph-common")
#: A program of each package (monmaptool comes with ceph-mon, through ceph-base).
PROGRAMS = {
    "radosgw": "radosgw",
    "ceph-mon": "monmaptool",
    "ceph-osd": "ceph-osd",
    "ceph-mgr": "ceph-mgr",
    "ceph-common": "ceph-authtool",
}
#: RGW's ceiling for a role's ``MaxSessionDuration``, hence for any session (12 h);
#: Onyxia asks 7 days (:data:`s3cours.learners.SESSION_SECONDS`).
MAX_SESSION_SECONDS = 43200
#: The class project of the Ceph twin: its role and its bucket bear this name, as
#: Onyxia's ``role/projet-$1`` for a group; every learner of the playground is a member.
PROJECT = "projet-formation"
#: The roles' names in their ARN (RGW has no account number: ``arn:aws:iam:::``).
ROLE_ARN = "arn:aws:iam:::role/{}"
USER_ARN = "arn:aws:iam:::user/{}"
#: Onyxia's role session names (admin-doc/s3-configuration.md).
SESSION_NAME = "onyxia-personal-bucket"
PROJECT_SESSION_NAME = "onyxia-project-bucket-{}"
#: The caps of the tooling's administrator: users (admin API), roles (IAM API), buckets.
ADMIN_CAPS = "roles=*;users=*;buckets=*"
#: The OSD's file: sparse, its size an upper bound, not what it takes on disk.
OSD_SIZE = 20 * 1024**3
#: What the OSD may use for its caches (the default, 4 GiB, is too much for a laptop).
OSD_MEMORY = 896 * 1024**2
#: Seconds the playground waits for a new cluster (measured: about 22 s, idle machine).
START_TIMEOUT = 240
CONF = "ceph.conf"
MON_ID = "a"
MGR_ID = "x"
RGW_NAME = "client.rgw.a"
#: Seconds a daemon has to stop on SIGTERM before it is killed.
STOP_SECONDS = 8


class CephError(playground.PlaygroundError):
    """Ceph cannot be installed, made or used; the message says what to do."""


# ----------------------------------------------------------------------- installation


def missing_packages() -> list[str]:
    """The packages of :data:`PACKAGES` whose program is not on PATH."""
    return [name for name, program in PROGRAMS.items() if not shutil.which(program)]


def install_command(packages: list[str]) -> list[str]:
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]


def install(log: Callable[[str], None] = print, euid: int | None = None) -> None:
    """Install the missing Ceph packages with apt-get (root only); otherwise say which
    command to run. Nothing to do when they are there."""
    missing = missing_packages()
    if not missing:
        return
    euid = os.geteuid() if euid is None else euid
    command = install_command(missing)
    if euid != 0 or not shutil.which("apt-get"):
        raise CephError(
            "Ceph RGW n'est pas installé (paquets manquants : "
            f"{', '.join(missing)}). Sur Debian 12 ou Ubuntu, installez-le "
            f"(environ 75 Mo) : sudo {' '.join(command)} ; puis relancez la "
            "commande. Sans droits d'administrateur, prenez le serveur par défaut "
            "(MinIO) : --server minio."
        )
    log(f"Installation de Ceph (une fois par machine) : {' '.join(missing)}…")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # an old package list: update it once, then again
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, check=False
        )
    if done.returncode != 0 or missing_packages():
        raise CephError(
            f"Installation de Ceph impossible ({' '.join(command)}) : "
            f"{(done.stdout + done.stderr).strip()[-600:]}"
        )


def version() -> str:
    """``16.2.15`` (the installed radosgw's), or ``?``."""
    try:
        out = subprocess.run(
            ["radosgw", "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except OSError:
        return "?"
    parts = out.split()
    return parts[2] if len(parts) > 2 and parts[0] == "ceph" else "?"


# ---------------------------------------------------------------------- configuration


def conf_text(
    folder: Path,
    fsid: str,
    mon_ports: tuple[int, int],
    port: int,
    *,
    host: str = config.LOOPBACK,
    certificate: Path | None = None,
    key: Path | None = None,
    sts_key: str,
) -> str:
    """``ceph.conf`` of a one-node cluster living in ``folder``: every keyring, data
    folder, socket, log and pid file there; the cluster's own daemons (mon, mgr, OSD)
    on the loopback, always; radosgw's beast on ``host`` and ``port`` (the loopback,
    unless a trainer gives the room's address: only S3 is then reachable from the
    room), https when ``certificate`` and ``key`` are given; one replica; STS signed
    with ``sts_key`` (16 characters, RGW's requirement)."""
    if len(sts_key) != 16:
        raise ValueError("rgw sts key : 16 caractères exactement")
    if (certificate is None) != (key is None):
        raise ValueError("https : le certificat et sa clé, ou ni l'un ni l'autre")
    v2, v1 = mon_ports
    lo = config.LOOPBACK
    if certificate is not None:
        frontend = (
            f"beast ssl_endpoint={host}:{port} ssl_certificate={certificate} "
            f"ssl_private_key={key}"
        )
    else:
        frontend = f"beast endpoint={host}:{port}"
    return f"""\
[global]
fsid = {fsid}
mon initial members = {MON_ID}
mon host = [v2:{lo}:{v2},v1:{lo}:{v1}]
public addr = {lo}
cluster addr = {lo}
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = {folder}/keyring/$name.keyring
run dir = {folder}/run
admin socket = {folder}/run/$name.asok
pid file = {folder}/run/$name.pid
log file = {folder}/log/$name.log
crash dir = {folder}/crash
exporter sock dir = {folder}/run
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000

[mon]
mon data = {folder}/mon/$cluster-$id
keyring = {folder}/mon/$cluster-$id/keyring

[mgr]
mgr data = {folder}/mgr/$cluster-$id

[osd]
osd data = {folder}/osd/$cluster-$id
osd objectstore = bluestore
bluestore block create = true
bluestore block size = {OSD_SIZE}
osd memory target = {OSD_MEMORY}

[{RGW_NAME}]
rgw data = {folder}/rgw
rgw frontends = {frontend}
rgw sts key = {sts_key}
rgw s3 auth use sts = true
"""


def write_conf(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONF
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- server


class _Cluster:
    """The daemons of one cluster, started in order, children of this process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.conf = str(folder / CONF)
        self.children: list[subprocess.Popen] = []

    def run(self, *command: str, timeout: float = 120) -> str:
        done = subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise CephError(
                f"{' '.join(command[:4])} a échoué ({done.returncode}) : "
                f"{(done.stdout + done.stderr).strip()[-800:]}"
            )
        return done.stdout

    def ceph(self, *args: str) -> str:
        return self.run("ceph", "-c", self.conf, "--connect-timeout", "60", *args)

    def daemon(self, *command: str) -> None:
        # Foreground (-f), in this process's group: the playground's stop reaches it.
        self.children.append(
            subprocess.Popen(
                [*command, "-c", self.conf, "-f"], stdin=subprocess.DEVNULL
            )
        )
        time.sleep(0.5)
        if self.children[-1].poll() is not None:
            raise CephError(
                f"{command[0]} s'est arrêté au démarrage : voir {self.folder}/log/"
            )

    def make(self, admin_key: str, admin_secret: str) -> None:
        """From nothing to S3 answering, with the tooling's administrator."""
        folder, conf = self.folder, self.conf
        for sub in ("keyring", "run", "log", "crash", "rgw", "mon", "mgr", "osd"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        keyrings = folder / "keyring"
        mon_keyring = keyrings / "mon.keyring"
        admin_keyring = keyrings / "client.admin.keyring"
        self.run(
            "ceph-authtool", "--create-keyring", str(mon_keyring), "--gen-key",
            "-n", "mon.", "--cap", "mon", "allow *",
        )  # fmt: skip
        self.run(
            "ceph-authtool", "--create-keyring", str(admin_keyring), "--gen-key",
            "-n", "client.admin", "--cap", "mon", "allow *", "--cap", "osd",
            "allow *", "--cap", "mgr", "allow *", "--cap", "mds", "allow *",
        )  # fmt: skip
        self.run(
            "ceph-authtool", str(mon_keyring), "--import-keyring", str(admin_keyring)
        )
        fsid = self.run(
            "ceph-conf", "-c", conf, "--lookup", "fsid"
        ).strip()  # written by the playground
        mon_host = self.run("ceph-conf", "-c", conf, "--lookup", "mon_host").strip()
        monmap = folder / "monmap"
        self.run(
            "monmaptool", "--create", "--fsid", fsid, "--addv", MON_ID,
            mon_host, str(monmap),
        )  # fmt: skip
        self.run(
            "ceph-mon", "-c", conf, "--mkfs", "-i", MON_ID, "--monmap", str(monmap),
            "--keyring", str(mon_keyring),
        )  # fmt: skip
        self.daemon("ceph-mon", "-i", MON_ID)
        mgr = folder / "mgr" / f"ceph-{MGR_ID}"
        mgr.mkdir(parents=True, exist_ok=True)
        self.ceph(
            "auth", "get-or-create", f"mgr.{MGR_ID}", "mon", "allow profile mgr",
            "osd", "allow *", "mds", "allow *", "-o",
            str(keyrings / f"mgr.{MGR_ID}.keyring"),
        )  # fmt: skip
        self.daemon("ceph-mgr", "-i", MGR_ID)
        osd_uuid = str(uuid.uuid4())
        osd_id = self.ceph("osd", "new", osd_uuid).strip()
        (folder / "osd" / f"ceph-{osd_id}").mkdir(parents=True, exist_ok=True)
        # The OSD's key before its mkfs, else « failed to fetch mon config ».
        self.ceph(
            "auth", "get-or-create", f"osd.{osd_id}", "mon", "allow profile osd",
            "mgr", "allow profile osd", "osd", "allow *", "-o",
            str(keyrings / f"osd.{osd_id}.keyring"),
        )  # fmt: skip
        self.run(
            "ceph-osd", "-c", conf, "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid,
            timeout=300,
        )  # fmt: skip
        self.daemon("ceph-osd", "-i", osd_id)
        self.ceph(
            "auth", "get-or-create", RGW_NAME, "mon", "allow rw", "osd", "allow rwx",
            "mgr", "allow rw", "-o", str(keyrings / f"{RGW_NAME}.keyring"),
        )  # fmt: skip
        self.daemon("radosgw", "-n", RGW_NAME)
        # radosgw-admin makes the pools it needs if radosgw has not yet. An admin
        # user (``--admin``), like MinIO's root, reads what learners write: on RGW an
        # object belongs to its writer, whose ACL keeps out even the bucket's owner,
        # and the checks and the trainer's follow-up read it. (``--system`` would too,
        # but RGW then takes its requests for another zone's: CreateBucket answers
        # 500.)
        self.run(
            "radosgw-admin", "-c", conf, "user", "create", f"--uid={admin_key}",
            "--display-name=Outillage du cours", f"--access-key={admin_key}",
            f"--secret-key={admin_secret}", f"--caps={ADMIN_CAPS}", "--admin",
            timeout=300,
        )  # fmt: skip

    def stop(self) -> None:
        """Every daemon, the gateway first: TERM, then KILL after STOP_SECONDS."""
        for child in reversed(self.children):
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
            try:
                child.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def serve(folder: Path) -> int:
    """The playground's server process: make the cluster in ``folder`` (whose
    ``ceph.conf`` the playground wrote), then watch its daemons until SIGTERM (or one of
    them ends), and stop them all before returning."""
    cluster = _Cluster(folder)
    stopping = False

    def on_term(*_: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        cluster.make(config.PLAYGROUND_ACCESS_KEY, playground.admin_secret())
        print("Ceph RGW prêt.", flush=True)
        while True:
            ended = [c for c in cluster.children if c.poll() is not None]
            if ended:
                print(
                    f"{ended[0].args[0]} s'est arrêté (code {ended[0].returncode}) : "
                    f"voir {folder}/log/",
                    flush=True,
                )
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except (CephError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"Erreur : {exc}", flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()
        if stopping:
            print("Ceph arrêté.", flush=True)


def server_command(folder: Path) -> list[str]:
    return [sys.executable, "-m", "s3cours.ceph", "serve", str(folder)]


def compact(document: dict) -> str:
    """JSON without spaces: RGW 16 reads a form-encoded policy's spaces as ``+`` and
    refuses the policy."""
    return learners.compact_policy(document)


def session_seconds(asked: int) -> int:
    """What a Ceph session can last: ``asked``, at most :data:`MAX_SESSION_SECONDS`."""
    return min(asked, MAX_SESSION_SECONDS)


def duration_note(asked: int = learners.SESSION_SECONDS) -> str:
    """The sentence that says so, for whoever gets Ceph credentials."""
    if asked <= MAX_SESSION_SECONDS:
        return ""
    return (
        f"Ceph RGW plafonne la durée des identifiants temporaires à "
        f"{MAX_SESSION_SECONDS} s (12 h) : Onyxia en demande {asked // 86400} jours, "
        f"ils sont donnés pour 12 h. Après, `./cours playground env` en donne de "
        "neufs (sur le SSP Cloud : « Renouveler les jetons »)."
    )


# -------------------------------------------------------------------------- policies


def trust_policy(users: list[str]) -> dict:
    """Who may assume a role: these RGW users."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [USER_ARN.format(u) for u in sorted(users)]},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }


def bucket_policy(bucket: str) -> dict:
    """A role's permissions: everything on ``bucket`` (the session policy narrows)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:*"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def shared_data_policy(bucket: str = config.DATA_BUCKET) -> dict:
    """The shared bucket's policy: anyone may list ``diffusion/`` and read under it,
    as SSP Cloud's public data; nothing else of the bucket."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/diffusion/*"],
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": "diffusion/*"}},
            },
        ],
    }


# ------------------------------------------------------------------------ admin work


def _iam(admin: learners.Admin):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "iam",
        endpoint_url=admin.endpoint_url,
        region_name=config.PLAYGROUND_REGION,
        aws_access_key_id=admin.access_key,
        aws_secret_access_key=admin.secret_key,
        verify=admin.ca_file or True,
        config=Config(retries={"total_max_attempts": 3}, read_timeout=60),
    )


def _code(exc: Exception) -> str:
    """The error code of a botocore ClientError; RGW's error bodies are S3-style, so
    for IAM and STS botocore may not find it under ``Error``."""
    response = getattr(exc, "response", {}) or {}
    code = response.get("Error", {}).get("Code", "")
    return code or str(exc)


def admin_api(
    admin: learners.Admin, method: str, path: str, params: dict[str, str]
) -> tuple[int, str]:
    """A call to RGW's admin API (``/admin/...``), signed with the admin's key."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{admin.endpoint_url}{path}?{urllib.parse.urlencode(params)}"
    request = AWSRequest(method=method, url=url, data=b"")
    S3SigV4Auth(
        Credentials(admin.access_key, admin.secret_key), "s3", config.PLAYGROUND_REGION
    ).add_auth(request)
    prepared = request.prepare()
    context = None
    if url.startswith("https://"):
        import ssl

        context = ssl.create_default_context(cafile=admin.ca_file)
    call = urllib.request.Request(
        prepared.url, data=b"", headers=dict(prepared.headers), method=method
    )
    try:
        with urllib.request.urlopen(call, timeout=60, context=context) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(errors="replace")


def ensure_user(admin: learners.Admin, name: str) -> str:
    """The RGW user ``name`` whose key is ``name`` and a secret derived from the
    admin's (never shown); idempotent. Returns the secret."""
    secret = learners.user_secret(admin.secret_key, name)
    status, body = admin_api(
        admin,
        "PUT",
        "/admin/user",
        {
            "uid": name,
            "display-name": name,
            "access-key": name,
            "secret-key": secret,
        },
    )
    if status != 200 and "UserAlreadyExists" not in body and "KeyExists" not in body:
        raise CephError(f"Utilisateur RGW {name} non créé ({status}) : {body[:300]}")
    return secret


def remove_user(admin: learners.Admin, name: str) -> None:
    """Remove the RGW user (not its buckets: RGW refuses while it owns some, then
    keeps it) and its role; missing ones are fine."""
    iam = _iam(admin)
    with contextlib.suppress(Exception):
        iam.delete_role_policy(RoleName=name, PolicyName="onyxia")
    with contextlib.suppress(Exception):
        iam.delete_role(RoleName=name)
    status, body = admin_api(admin, "DELETE", "/admin/user", {"uid": name})
    if status not in (200, 404):
        raise CephError(
            f"Utilisateur RGW {name} non supprimé ({status}) : {body[:300]}"
        )


def ensure_role(
    admin: learners.Admin, name: str, users: list[str], bucket: str
) -> None:
    """The role ``name`` that ``users`` may assume, for 12 h at most, with every right
    on ``bucket``; idempotent (the trust policy is replaced)."""
    iam = _iam(admin)
    trust = compact(trust_policy(users))
    try:
        iam.create_role(
            RoleName=name,
            Path="/",
            AssumeRolePolicyDocument=trust,
            MaxSessionDuration=MAX_SESSION_SECONDS,
        )
    except Exception as exc:  # noqa: BLE001 - RGW's IAM errors: see _code
        # RGW 16 answers 409 with an S3-style body: botocore finds no code in it.
        status = getattr(exc, "response", {}).get("ResponseMetadata", {})
        if status.get("HTTPStatusCode") != 409 and "EntityAlreadyExists" not in _code(
            exc
        ):
            raise CephError(f"Rôle {name} non créé : {_code(exc)}") from None
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
    iam.put_role_policy(
        RoleName=name,
        PolicyName="onyxia",
        PolicyDocument=compact(bucket_policy(bucket)),
    )


def role_members(admin: learners.Admin, name: str) -> list[str]:
    """The users ``name``'s trust policy names (none when the role is absent)."""
    try:
        role = _iam(admin).get_role(RoleName=name)["Role"]
    except Exception:  # noqa: BLE001 - absent
        return []
    document = role.get("AssumeRolePolicyDocument") or "{}"
    if isinstance(document, str):
        from urllib.parse import unquote

        document = json.loads(unquote(document))
    members = []
    for statement in document.get("Statement", []):
        principals = statement.get("Principal", {}).get("AWS", [])
        for arn in [principals] if isinstance(principals, str) else principals:
            members.append(arn.rpartition("/")[2])
    return members


def ensure_learner(admin: learners.Admin, learner: str) -> str:
    """A learner as Onyxia would find them on Ceph: an RGW user, the role of their name
    (they alone may assume it), their bucket, and
    membership of :data:`PROJECT` (role and bucket). Returns the user's long-term
    secret (tooling only)."""
    learners.check_name(learner)
    secret = ensure_user(admin, learner)
    ensure_role(admin, learner, [learner], learner)
    # The buckets are the tooling's (it lists and empties them, as with MinIO); the
    # roles' policies give their learners every right on them.
    client = playground.s3_client(admin.endpoint_url, ca_file=admin.ca_file)
    playground.create_bucket(client, learner)
    members = set(role_members(admin, PROJECT)) | {learner}
    ensure_role(admin, PROJECT, sorted(members), PROJECT)
    playground.create_bucket(client, PROJECT)
    return secret


def publish_shared_data(client, bucket: str = config.DATA_BUCKET) -> None:
    """Make ``bucket/diffusion/`` readable by all (:func:`shared_data_policy`)."""
    client.put_bucket_policy(Bucket=bucket, Policy=compact(shared_data_policy(bucket)))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "serve":
        return serve(Path(args[1]))
    print("usage : python -m s3cours.ceph serve DOSSIER", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
