"""The course's local S3 playground: a real S3 server on the loopback address, seeded with the
course data.

The server is MinIO when one can be had (a ``minio`` on PATH, or one built once with
``go install``, MinIO's documented install since it ships as source only), a moto server
otherwise (pip only). ``start`` launches it in the background, waits until it answers,
creates the buckets and uploads the data; ``stop`` ends it and leaves no process behind.
The playground's state (pid, port, server) is kept in a small JSON file so that another
process (a notebook, ``s3cours playground env``) can find it.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import config, gotools

STATE_FILE = "playground.json"
LOG_FILE = "server.log"
SERVERS = ("auto", "minio", "moto")
#: Variables that must not be set while using the playground.
UNSET = ("AWS_SESSION_TOKEN",)
#: Variables the playground sets (unset them after ``stop``).
VARIABLES = ("AWS_S3_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
             "AWS_DEFAULT_REGION", "MC_HOST_s3")


class PlaygroundError(RuntimeError):
    """A playground operation failed; the message says what is wrong and what to do."""


@dataclass
class Playground:
    """A running playground, as recorded in its state file."""

    server: str  # "MinIO" or "moto"
    version: str
    pid: int
    host: str
    port: int
    data_dir: str
    data_dir_is_temporary: bool
    log: str
    notes: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        """Host and port, without scheme: the form of SSP Cloud's ``AWS_S3_ENDPOINT``."""
        return f"{self.host}:{self.port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.endpoint}"

    def environment(self) -> dict[str, str]:
        """The variables a shell or a notebook needs, with SSP Cloud's names.

        No ``AWS_SESSION_TOKEN``: the playground's keys are permanent ones, and a token left
        over from an SSP Cloud session must be unset (see :data:`UNSET`)."""
        return {
            "AWS_S3_ENDPOINT": self.endpoint,
            # Also set on SSP Cloud; boto3 and the AWS CLI use it without being told.
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": config.PLAYGROUND_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": config.PLAYGROUND_SECRET_KEY,
            "AWS_DEFAULT_REGION": config.PLAYGROUND_REGION,
            # The alias ``s3`` of the MinIO client, as SSP Cloud's images define it.
            "MC_HOST_s3": (f"http://{config.PLAYGROUND_ACCESS_KEY}:"
                           f"{config.PLAYGROUND_SECRET_KEY}@{self.endpoint}"),
        }

    def describe(self) -> str:
        return f"{self.server} {self.version} sur {self.endpoint_url} (pid {self.pid})"


# --------------------------------------------------------------------------- state file


def _state_path(state_dir: Path | None) -> Path:
    return (state_dir or config.state_dir()) / STATE_FILE


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        # Reap it if it is our own child that already exited (else it lingers as a zombie).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(state_dir: Path | None = None) -> Playground | None:
    """The playground recorded in ``state_dir`` if its process still runs, else None."""
    path = _state_path(state_dir)
    if not path.exists():
        return None
    playground = Playground(**json.loads(path.read_text()))
    if not _pid_alive(playground.pid):
        return None
    return playground


def load_environment(state_dir: Path | None = None) -> dict[str, str]:
    """The environment of the running playground, for a notebook run outside SSP Cloud."""
    playground = status(state_dir)
    if playground is None:
        raise PlaygroundError(
            "Aucun serveur S3 configuré : la variable AWS_S3_ENDPOINT est absente et le bac à "
            "sable local du cours ne tourne pas.\n"
            "- Sur le SSP Cloud, les variables sont définies au lancement du service : "
            "relancez-le si elles ont disparu.\n"
            "- Sur votre poste : lancez `./cours playground start` à la racine du dépôt, puis "
            "relancez la cellule (dans un terminal : eval \"$(./cours playground env)\").\n"
            "- Autre serveur (AWS…) : exportez AWS_S3_ENDPOINT (l'hôte, sans https://), "
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY et AWS_DEFAULT_REGION."
        )
    return playground.environment()


# --------------------------------------------------------------------------- servers


def find_minio() -> Path | None:
    """A MinIO server binary: ``$S3COURS_MINIO``, ``minio`` on PATH, or the cached build."""
    return gotools.find("minio", config.MINIO_VERSION, "S3COURS_MINIO")


def build_minio(log=print) -> Path:
    """Build MinIO with ``go install`` into the cache; return the binary's path."""
    try:
        return gotools.go_install(config.MINIO_MODULE, config.MINIO_VERSION, "MinIO", log)
    except gotools.GoBuildError as exc:
        raise PlaygroundError(str(exc)) from None


def _minio_version(binary: Path) -> str:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                         check=False, timeout=30).stdout
    first = out.splitlines()[0] if out else "?"
    if "DEVELOPMENT.GOGET" in first:
        # A `go install` build carries no release name: give the date of its sources.
        stamp = config.MINIO_VERSION.split("-")[1]
        return f"(sources du {stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}, go install)"
    return first.split(" version ")[-1].strip()


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


# --------------------------------------------------------------------------- start / stop


def check_host(host: str, allow_non_loopback: bool = False) -> None:
    """Refuse any address but loopback unless explicitly allowed."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_non_loopback:
        raise PlaygroundError(
            f"Adresse refusée : {host}. Le bac à sable n'écoute que sur la boucle locale "
            f"({config.LOOPBACK}) : ses clés sont publiques. Pour l'exposer quand même, "
            "passez --allow-non-loopback en connaissance de cause."
        )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PlaygroundError(
                f"Le port {port} de {host} est déjà utilisé ({exc.strerror}). Choisissez-en un "
                "autre avec --port, ou --port 0 pour un port libre pris au hasard."
            ) from None


def _log_tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return "(journal vide)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) or "(journal vide)"


def s3_client(endpoint_url: str, timeout: float = 10):
    """A boto3 client on the playground (short time-outs, no retries: fail fast)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=config.PLAYGROUND_ACCESS_KEY,
        aws_secret_access_key=config.PLAYGROUND_SECRET_KEY,
        region_name=config.PLAYGROUND_REGION,
        config=Config(connect_timeout=timeout, read_timeout=timeout,
                      retries={"max_attempts": 1}),
    )


def _wait_ready(proc: subprocess.Popen, endpoint_url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    client = s3_client(endpoint_url, timeout=2)
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PlaygroundError(
                f"Le serveur S3 s'est arrêté au démarrage (code {proc.returncode}). "
                f"Fin de son journal ({log}) :\n{_log_tail(log)}"
            )
        try:
            client.list_buckets()
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = exc
            time.sleep(0.25)
    _terminate(proc.pid)
    raise PlaygroundError(
        f"Le serveur S3 ne répond pas après {timeout:.0f} s ({last_error}). "
        f"Fin de son journal ({log}) :\n{_log_tail(log)}"
    )


def start(
    port: int = 0,
    server: str = "auto",
    *,
    host: str = config.LOOPBACK,
    allow_non_loopback: bool = False,
    data_dir: Path | None = None,
    state_dir: Path | None = None,
    build: bool = True,
    timeout: float = 60,
    log=print,
) -> Playground:
    """Start the playground, wait until it answers, seed it; return what was started.

    ``port=0`` takes a free port. ``server`` is ``auto`` (MinIO if available or buildable,
    else moto), ``minio`` or ``moto``. ``data_dir`` keeps the data between runs (MinIO only);
    without it the data lives in a temporary folder removed by :func:`stop`.
    """
    if server not in SERVERS:
        raise PlaygroundError(f"Serveur inconnu : {server} (choix : {', '.join(SERVERS)}).")
    check_host(host, allow_non_loopback)
    state = state_dir or config.state_dir()
    running = status(state)
    if running is not None:
        raise PlaygroundError(
            f"Un bac à sable tourne déjà : {running.describe()}. "
            "Arrêtez-le d'abord avec `./cours playground stop`."
        )
    if port:
        check_port_free(host, port)
    else:
        port = _free_port(host)

    notes: list[str] = []
    binary: Path | None = None
    if server in ("auto", "minio"):
        binary = find_minio()
        if binary is None and build:
            try:
                binary = build_minio(log)
            except PlaygroundError as exc:
                if server == "minio":
                    raise
                notes.append(f"MinIO indisponible, repli sur moto : {exc}")
                log(notes[-1])
        if binary is None and server == "minio":
            raise PlaygroundError("MinIO introuvable (ni $S3COURS_MINIO, ni `minio` dans le PATH).")

    state.mkdir(parents=True, exist_ok=True)
    log_path = state / LOG_FILE
    temporary = data_dir is None
    data = Path(tempfile.mkdtemp(prefix="s3cours-data-")) if temporary else Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)

    if binary is not None:
        name, version = "MinIO", _minio_version(binary)
        cmd = [str(binary), "server", str(data), "--address", f"{host}:{port}", "--quiet"]
        env = {
            **os.environ,
            "MINIO_ROOT_USER": config.PLAYGROUND_ACCESS_KEY,
            "MINIO_ROOT_PASSWORD": config.PLAYGROUND_SECRET_KEY,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            "MINIO_REGION": config.PLAYGROUND_REGION,
        }
    else:
        name, version = "moto", _moto_version()
        if not temporary:
            notes.append("moto garde ses données en mémoire : --data-dir est sans effet.")
        cmd = [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]
        env = dict(os.environ)

    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    playground = Playground(name, version, proc.pid, host, port, str(data), temporary,
                            str(log_path), notes)
    try:
        _wait_ready(proc, playground.endpoint_url, log_path, timeout)
        seed(playground.endpoint_url)
    except BaseException:
        _terminate(proc.pid)
        if temporary:
            shutil.rmtree(data, ignore_errors=True)
        raise
    _state_path(state).write_text(json.dumps(asdict(playground), indent=2))
    return playground


def seed(endpoint_url: str) -> list[str]:
    """Create the course buckets and upload the course data; idempotent.

    An object already holding the same bytes is left alone. Returns the keys uploaded.
    """
    from botocore.exceptions import ClientError

    from .data import course_objects

    client = s3_client(endpoint_url)
    objects = course_objects()
    for bucket in sorted({config.DATA_BUCKET, config.LEARNER_BUCKET}):
        try:
            client.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou",
                                                       "BucketAlreadyExists"):
                raise
    uploaded = []
    for obj in objects:
        md5 = hashlib.md5(obj.body, usedforsecurity=False).hexdigest()
        try:
            etag = client.head_object(Bucket=obj.bucket, Key=obj.key)["ETag"].strip('"')
        except ClientError:
            etag = None
        if etag != md5:
            client.put_object(Bucket=obj.bucket, Key=obj.key, Body=obj.body,
                              ContentType=obj.content_type)
            uploaded.append(f"{obj.bucket}/{obj.key}")
    return uploaded


def _terminate(pid: int, timeout: float = 10) -> None:
    """End a server's whole process group: TERM, then KILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return
            time.sleep(0.1)
    raise PlaygroundError(f"Le processus {pid} ne s'arrête pas.")


def stop(state_dir: Path | None = None) -> Playground | None:
    """Stop the recorded playground; return it, or None if none was running."""
    state = state_dir or config.state_dir()
    path = _state_path(state)
    if not path.exists():
        return None
    playground = Playground(**json.loads(path.read_text()))
    if _pid_alive(playground.pid):
        _terminate(playground.pid)
    if playground.data_dir_is_temporary:
        shutil.rmtree(playground.data_dir, ignore_errors=True)
    path.unlink()
    return playground
