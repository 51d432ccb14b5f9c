"""The course's local S3 playground: an SSP Cloud twin on the loopback address, seeded
with the course data.

The server is MinIO when one can be had (a ``minio`` on PATH, or one built once with
``go install``, MinIO's documented install since it ships as source only), a moto server
otherwise (pip only). ``start`` launches it in the background, waits until it answers,
creates the buckets, uploads the data and creates the default learner; ``stop`` ends it
and leaves no process behind.

Like SSP Cloud, it hands learners temporary STS credentials under Onyxia's session
policy, a personal bucket named after them, and the variables an Onyxia service sets
(:mod:`s3cours.learners`): those of Onyxia 11 by default (``AWS_WORKING_DIRECTORY_PATH``
present and empty, the space named by the service's namespace), those of Onyxia 10 on
request. :meth:`Playground.service` also does what the service's image does at start: a
DuckDB persistent secret in the service's home. Its administrator keys are made once per
machine, kept in the course's cache (readable by you alone) and used only by the
tooling. It can speak https with a test CA of its own (:mod:`s3cours.tls`). Its state
(pid, port, server, learners' long-term keys, never the admin's) is kept in a small JSON
file so that another process (a notebook, ``s3cours playground env``) can find it and
get fresh credentials.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import config, gotools, learners
from . import tls as tls_module

STATE_FILE = "playground.json"
LOG_FILE = "server.log"
SERVERS = ("auto", "minio", "moto", "ceph")
#: Variables that must not be left over while using the playground (none today: the
#: playground sets every variable an Onyxia service sets, the session token included).
UNSET: tuple[str, ...] = ()
#: Variables an Onyxia Jupyter service sets, as the playground sets them (InseeFrLab
#: helm-charts-interactive-services 8ebf4a7, charts/library-chart/templates/_secret.tpl;
#: ``MC_HOST_s3`` and ``KUBERNETES_NAMESPACE``: InseeFrLab/images-datascience 0a611ea,
#: base/scripts/onyxia-init.sh, which exports them before it starts Jupyter), plus the
#: test CA over https.
VARIABLES = (
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
    "AWS_CA_BUNDLE",
    "SSL_CERT_FILE",
)
#: The DuckDB secret that the images' init script writes when a service starts
#: (images-datascience, base/scripts/onyxia-init.sh:
#: ``CREATE OR REPLACE PERSISTENT SECRET s3_onyxia_connection``, run with the duckdb
#: CLI, in ``~/.duckdb/stored_secrets``).
DUCKDB_SECRET = "s3_onyxia_connection"
#: The DuckDB extensions the image installs when it is built, among others
#: (images-datascience, python-minimal/scripts/install-duckdb-extensions.py:
#: ``INSTALL httpfs``, ``INSTALL aws``…, run by python-minimal/Dockerfile with
#: ``HOME=/home/onyxia``, the service's home): a service's home gets the same signed
#: files (:func:`give_duckdb_extensions`), and so does the learner's home when they
#: start their own playground, so that a chapter's ``INSTALL httpfs`` finds them there
#: and downloads nothing, offline too.
DUCKDB_EXTENSIONS = ("httpfs", "aws")
#: Where DuckDB keeps the secret, under the service's home.
DUCKDB_SECRET_FILE = f".duckdb/stored_secrets/{DUCKDB_SECRET}.duckdb_secret"
#: Variables kept as they are when a service's home replaces HOME: the caches of the
#: course, of Go and of the tools (else a test run would rebuild MinIO in the service's
#: home).
HOME_PINNED = ("S3COURS_CACHE", "XDG_CACHE_HOME", "GOPATH", "GOENV")
ADMIN_SECRET_FILE = "playground-admin-secret"
#: Ceph RGW's ceiling for a session (s3cours.ceph.MAX_SESSION_SECONDS, without
#: importing it here: ``playground env`` must stay quick).
CEPH_MAX_SESSION_SECONDS = 43200


class PlaygroundError(RuntimeError):
    """A playground operation failed; the message says what is wrong and what to do."""


@dataclass
class Playground:
    """A running playground, as recorded in its state file."""

    server: str  # "MinIO", "moto" or "Ceph" (RGW)
    version: str
    pid: int
    host: str
    port: int
    data_dir: str
    data_dir_is_temporary: bool
    log: str
    notes: list[str] = field(default_factory=list)
    scheme: str = "http"
    #: The test CA clients must trust (https only).
    ca_file: str | None = None
    #: Whether the shared course data was put in ``donnees-insee/diffusion/``.
    shared_data: bool = True
    #: Learners' long-term keys (name -> secret), for AssumeRole; never the admin's.
    learner_keys: dict[str, str] = field(default_factory=dict)
    state_file: str = ""
    #: The Onyxia version whose service variables are handed out (10 or 11).
    onyxia: int = config.DEFAULT_ONYXIA

    @property
    def endpoint(self) -> str:
        """Host and port, no scheme: the form of SSP Cloud's ``AWS_S3_ENDPOINT``."""
        return f"{self.host}:{self.port}"

    @property
    def endpoint_url(self) -> str:
        return f"{self.scheme}://{self.endpoint}"

    def admin(self) -> learners.Admin:
        """The tooling's administrator access (never handed to a notebook)."""
        mc_binary = None
        if self.server == "MinIO":
            from . import mc

            mc_binary = mc.find() or mc.build(lambda _: None)
        return learners.Admin(
            self.endpoint_url,
            config.PLAYGROUND_ACCESS_KEY,
            admin_secret(),
            self.ca_file,
            mc_binary,
        )

    def environment(
        self,
        learner: str | None = None,
        seconds: int = learners.SESSION_SECONDS,
        project: str | None = None,
    ) -> dict[str, str]:
        """The variables an Onyxia Jupyter service sets, for ``learner`` (default: the
        one named by ``S3COURS_APPRENANT``, else ``apprenant``), with fresh STS
        credentials lasting ``seconds`` (default: Onyxia's 7 days; on Ceph, 12 h at
        most). ``project`` (Ceph: ``ceph.PROJECT``): the service of a project the
        learner is a member of, its credentials those of the project's role."""
        learner = _learner(learner)
        if learner not in self.learner_keys and self.state_file:
            recorded = Path(self.state_file)
            if recorded.exists():
                self.learner_keys = json.loads(recorded.read_text()).get(
                    "learner_keys", {}
                )
        if learner not in self.learner_keys:
            raise PlaygroundError(
                f"Apprenant inconnu du bac à sable : {learner}. Créez-le "
                f"d'abord : `./cours playground env --apprenant {learner}` (ou retirez "
                f"la variable {config.LEARNER_VARIABLE})."
            )
        ceph = self.server == "Ceph"
        try:
            # The learner's own long-term key asks for the session: no admin key.
            # On Ceph, the role of the learner's name (or the project's), for 12 h at
            # most (ceph.MAX_SESSION_SECONDS: a longer one is refused, so it is capped).
            session = learners.session_credentials(
                self.endpoint_url,
                learner,
                self.learner_keys[learner],
                config.PLAYGROUND_REGION,
                self.ca_file,
                min(seconds, CEPH_MAX_SESSION_SECONDS) if ceph else seconds,
                role_arn=f"arn:aws:iam:::role/{project or learner}"
                if ceph
                else learners.ROLE_ARN,
                session_name=(
                    f"onyxia-project-bucket-{project}"
                    if project
                    else "onyxia-personal-bucket"
                )
                if ceph
                else None,
                bucket=project,
                revocable=not ceph,
            )
        except Exception as exc:  # noqa: BLE001 - any failure here has one remedy
            raise PlaygroundError(
                "Le bac à sable n'a pas donné d'identifiants temporaires "
                f"à {learner} ({exc}). Relancez-le : `./cours playground stop` "
                "puis `./cours playground start`."
            ) from None
        url = self.endpoint_url + "/"
        env = {
            "AWS_S3_ENDPOINT": self.endpoint,
            "AWS_ENDPOINT_URL": url,
            "S3_ENDPOINT": url,
            "AWS_ACCESS_KEY_ID": session.access_key,
            "AWS_SECRET_ACCESS_KEY": session.secret_key,
            "AWS_SESSION_TOKEN": session.token,
            "AWS_DEFAULT_REGION": config.PLAYGROUND_REGION,
            "AWS_PATH_STYLE_ACCESS": "true",
            # Onyxia 10 named the space here; Onyxia 11 leaves the variable empty (its
            # launcher lost ``s3.workingDirectoryPath``: InseeFrLab/onyxia 251e9ed).
            "AWS_WORKING_DIRECTORY_PATH": f"{project or learner}/"
            if self.onyxia == 10
            else "",
            # Exported by the image's init script (kubectl is in every Onyxia image):
            # the service's namespace, ``user-<name>`` for a personal service.
            "KUBERNETES_NAMESPACE": project or f"user-{learner}",
            # The alias ``s3`` of the MinIO client, as SSP Cloud's images define it.
            "MC_HOST_s3": learners.mc_host(
                self.endpoint_url, session.access_key, session.secret_key, session.token
            ),
        }
        if self.ca_file:
            env["AWS_CA_BUNDLE"] = self.ca_file
            env["SSL_CERT_FILE"] = self.ca_file
        return env

    def renew(
        self, token: str | None, learner: str | None = None
    ) -> tuple[dict[str, str], bool]:
        """What SSP Cloud's « Renouveler les jetons » gives, and what expiry does to the
        old ones: ``learner``'s variables with fresh credentials (:meth:`environment`),
        then, on MinIO, the credentials whose session token is ``token`` revoked (only
        that set: :func:`learners.revoke`). Returns the variables and whether the old
        set was revoked (not with moto, nor without a token of this playground)."""
        env = self.environment(learner)
        old_type = learners.revoke_type(token) if token else None
        if self.server != "MinIO" or old_type is None:
            return env, False
        try:
            learners.revoke(
                self.endpoint_url,
                _learner(learner),
                self.learner_keys[_learner(learner)],
                config.PLAYGROUND_REGION,
                old_type,
                self.ca_file,
            )
        except learners.LearnerError as exc:
            raise PlaygroundError(
                f"{exc}. Les identifiants neufs n'ont pas été donnés ; les anciens "
                "restent valables. Relancez la commande, ou le bac à sable."
            ) from None
        return env, True

    def service_home(self, learner: str | None = None) -> Path:
        """The home of ``learner``'s service (its ``HOME``), beside the state file."""
        return Path(self.state_file).parent / "services" / _learner(learner)

    def service(self, learner: str | None = None) -> dict[str, str]:
        """The environment of ``learner``'s Onyxia Jupyter service: its variables (fresh
        credentials) and its ``HOME``. The first time, as at the service's start, the
        image's DuckDB persistent secret is written there with those credentials; later
        calls (a test's base environment, say) leave it as it is, frozen like the
        image's.

        Whoever gives this ``HOME`` to a process keeps the tools' caches
        (:func:`home_pins`)."""
        env = self.environment(learner)
        home = self.service_home(learner)
        if not (home / DUCKDB_SECRET_FILE).exists():
            write_duckdb_secret(env, home)
        env["HOME"] = str(home)
        return env

    def describe(self) -> str:
        return (
            f"{self.server} {self.version} sur {self.endpoint_url} (pid {self.pid}, "
            f"variables d'Onyxia {self.onyxia})"
        )


def _learner(learner: str | None) -> str:
    """The learner named, else ``$S3COURS_APPRENANT``, else the default one."""
    return learner or os.environ.get(config.LEARNER_VARIABLE) or config.DEFAULT_LEARNER


def home_pins(env: dict[str, str] | None = None) -> dict[str, str]:
    """The tools' cache locations as they are now, to keep when HOME changes."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("HOME") or Path.home())
    defaults = {
        "S3COURS_CACHE": str(config.cache_dir()),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GOPATH": str(home / "go"),
        "GOENV": str(home / ".config" / "go" / "env"),
    }
    return {name: env.get(name) or defaults[name] for name in HOME_PINNED}


def write_duckdb_secret(env: dict[str, str], home: Path) -> Path:
    """Write the image's DuckDB persistent secret into ``home``, from ``env``'s
    variables, as SSP Cloud's init script does when a service starts: the endpoint's
    host (``https`` by default, DuckDB's ``USE_SSL``), path-style URLs when
    ``AWS_PATH_STYLE_ACCESS`` is set, the credentials of that moment; with the image's
    extensions (:data:`DUCKDB_EXTENSIONS`) installed there. Returns the secret's
    folder."""
    import duckdb

    folder = (home / DUCKDB_SECRET_FILE).parent
    folder.mkdir(parents=True, exist_ok=True)
    # The extension goes to the service's home, as in the image (not to this HOME's).
    con = duckdb.connect(
        config={
            "secret_directory": str(folder),
            "extension_directory": str(home / ".duckdb" / "extensions"),
        }
    )
    try:
        install_duckdb_extensions(con)
        con.load_extension("httpfs")
        con.execute(
            f"CREATE OR REPLACE PERSISTENT SECRET {DUCKDB_SECRET} (TYPE S3, "
            "KEY_ID $cle, SECRET $secret, REGION $region, SESSION_TOKEN $jeton, "
            "ENDPOINT $hote, URL_STYLE $style)",
            {
                "cle": env.get("AWS_ACCESS_KEY_ID", ""),
                "secret": env.get("AWS_SECRET_ACCESS_KEY", ""),
                "region": env.get("AWS_DEFAULT_REGION", ""),
                "jeton": env.get("AWS_SESSION_TOKEN", ""),
                "hote": env.get("AWS_S3_ENDPOINT", ""),
                "style": "path" if env.get("AWS_PATH_STYLE_ACCESS") else "vhost",
            },
        )
    finally:
        con.close()
    return folder


def give_duckdb_extensions(
    home: Path, names: tuple[str, ...] = DUCKDB_EXTENSIONS
) -> list[str]:
    """Give ``home`` the image's DuckDB extensions, as the SSP Cloud image gives the
    service's home when it is built: the signed files of ``names`` in DuckDB's default
    extension folder under ``home`` (``.duckdb/extensions/<version>/<platform>/``),
    where ``INSTALL httpfs`` finds them and downloads nothing. Those already there are
    left as they are. Returns the names installed now."""
    import duckdb

    con = duckdb.connect(
        config={"extension_directory": str(home / ".duckdb" / "extensions")}
    )
    try:
        present = {
            name
            for (name,) in con.execute(
                "SELECT extension_name FROM duckdb_extensions() WHERE installed"
            ).fetchall()
        }
        missing = tuple(name for name in names if name not in present)
        install_duckdb_extensions(con, missing)
    finally:
        con.close()
    return list(missing)


def install_duckdb_extensions(con, names: tuple[str, ...] = DUCKDB_EXTENSIONS) -> None:
    """``INSTALL`` each of ``names`` into ``con``'s extension directory, as the image
    does when it is built. Where the tooling's environment has the extension's file
    (``./cours``: ``duckdb-extension-<name>`` in requirements.lock, tooling only), it is
    installed from that file, offline; elsewhere (Binder, Colab, a conda environment:
    they have internet), from DuckDB's repository. Either way it is the file signed by
    DuckDB, and DuckDB checks its signature at ``INSTALL`` and at ``LOAD`` (a file
    altered by one byte is refused)."""
    import importlib.util

    import duckdb

    version = con.execute("PRAGMA version").fetchone()[0]
    for name in names:
        spec = importlib.util.find_spec(f"duckdb_extension_{name}")
        packaged = (
            (
                Path(spec.origin).parent
                / "extensions"
                / version
                / f"{name}.duckdb_extension"
            )
            if spec and spec.origin
            else None
        )
        try:
            con.install_extension(
                str(packaged) if packaged and packaged.exists() else name
            )
        except duckdb.Error as exc:
            raise PlaygroundError(
                f"Extension DuckDB « {name} » non installée ({exc}).\n"
                "Sans accès à Internet, elle vient du paquet duckdb-extension-"
                f"{name} de l'environnement du cours : lancez ./cours (il installe "
                "requirements.lock), ou installez ce paquet à la version de duckdb."
            ) from None


def admin_secret() -> str:
    """The playground's admin secret: made once per machine, readable by you alone."""
    path = config.cache_dir() / ADMIN_SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(30))
    return path.read_text().strip()


# --------------------------------------------------------------------------- state file


def _state_path(state_dir: Path | None) -> Path:
    return (state_dir or config.state_dir()) / STATE_FILE


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        # Reap it if it is our own child and has exited (else it lingers as a zombie).
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
    """The environment of the running playground, for a notebook run outside SSP Cloud:
    the learner's variables with fresh temporary credentials (never the admin's
    keys)."""
    playground = status(state_dir)
    if playground is None:
        raise PlaygroundError(
            "Aucun serveur S3 configuré : la variable AWS_S3_ENDPOINT est absente et "
            "le bac à sable local du cours ne tourne pas.\n"
            "- Sur le SSP Cloud, les variables sont définies au lancement du "
            "service : relancez-le si elles ont disparu.\n"
            "- Sur votre poste : lancez `./cours playground start` à la racine "
            "du dépôt, puis relancez la cellule (dans un terminal : eval "
            '"$(./cours playground env)").\n'
            "- Autre serveur (AWS…) : exportez AWS_S3_ENDPOINT (l'hôte, sans "
            "https://), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY et AWS_DEFAULT_REGION."
        )
    return playground.environment()


# --------------------------------------------------------------------------- servers


def find_minio() -> Path | None:
    """The MinIO server: ``$S3COURS_MINIO``, ``minio`` on PATH, or the cached build."""
    return gotools.find("minio", config.MINIO_VERSION, "S3COURS_MINIO")


def build_minio(log=print) -> Path:
    """Build MinIO with ``go install`` into the cache; return the binary's path."""
    try:
        return gotools.go_install(
            config.MINIO_MODULE, config.MINIO_VERSION, "MinIO", log
        )
    except gotools.GoBuildError as exc:
        raise PlaygroundError(str(exc)) from None


def _minio_version(binary: Path) -> str:
    out = subprocess.run(
        [str(binary), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    ).stdout
    first = out.splitlines()[0] if out else "?"
    if "DEVELOPMENT.GOGET" in first:
        # A `go install` build carries no release name: give the date of its sources.
        stamp = config.MINIO_VERSION.split("-")[1]
        return f"(sources du {stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}, go install)"
    return first.split(" version ")[-1].strip()


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


# ------------------------------------------------------------------------- start / stop


#: Addresses the playground listens on without being asked: this machine's loopback
#: only. Any other one (a classroom's local network; 127.0.0.2… stand in for one in the
#: tests) needs ``allow_non_loopback``.
LOOPBACK_HOSTS = (config.LOOPBACK, "::1", "localhost")


def check_host(host: str, allow_non_loopback: bool = False) -> None:
    """Refuse any address but this machine's loopback unless explicitly allowed."""
    if host not in LOOPBACK_HOSTS and not allow_non_loopback:
        raise PlaygroundError(
            f"Adresse refusée : {host}. Le bac à sable n'écoute que sur la boucle "
            f"locale de cette machine ({config.LOOPBACK}). Pour une salle de formation "
            "en réseau local, passez --allow-non-loopback en connaissance de cause "
            "(avec l'adresse de cette machine dans ce réseau)."
        )


def non_loopback_warning(host: str, port: int, tls: bool) -> str:
    """What a trainer is told when the playground listens beyond this machine."""
    return (
        f"ATTENTION : le bac à sable écoute sur {host}:{port}, pas seulement "
        "sur cette machine. Toute machine qui joint cette adresse peut lui "
        "parler : réservez-le au réseau local de la salle de formation (jamais "
        "Internet), donnez à chaque apprenant ses propres identifiants "
        "temporaires (`./cours classroom provision`) et arrêtez-le après "
        "la séance (`./cours playground stop`)."
        + (
            ""
            if tls
            else " Les échanges passent en clair (http) : ajoutez --tls pour https."
        )
    )


#: Ports tried by ``port=0``: below Linux's default ephemeral range (32768-60999), where
#: the system picks the local port of every outgoing connection. A free port taken from
#: that range could be given to a connection (a kernel's, a browser's) between the
#: moment it is found free and the moment the server binds it ("port is already in
#: use").
AUTO_PORTS = range(20000, 32768)


def _free_port(host: str) -> int:
    """A port of :data:`AUTO_PORTS` that is free now."""
    for port in random.sample(AUTO_PORTS, 50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PlaygroundError(
                f"Le port {port} de {host} est déjà utilisé "
                f"({exc.strerror}). Choisissez-en un autre avec --port, ou "
                "--port 0 pour un port libre pris au hasard."
            ) from None


def _log_tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return "(journal vide)"
    return (
        "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        or "(journal vide)"
    )


def s3_client(
    endpoint_url: str,
    timeout: float = 10,
    ca_file: str | None = None,
    checksums: str = "when_supported",
):
    """A boto3 client on the playground as its admin (tooling only: seeding, checks).

    Short time-outs, no retries: fail fast. ``checksums``: botocore's setting of
    request checksums and response validation; ``when_required`` for Ceph RGW 16,
    which refuses boto3's trailing checksums over https (411 MissingContentLength).
    MinIO keeps boto3's default: the CRC32 stored with the course data is what
    ``mc stat`` shows in the chapters."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=config.PLAYGROUND_ACCESS_KEY,
        aws_secret_access_key=admin_secret(),
        region_name=config.PLAYGROUND_REGION,
        verify=ca_file or True,
        # One attempt in all: {"max_attempts": 1} would allow one retry (botocore counts
        # retries there, see chapter « Dépannage »).
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": 1},
            request_checksum_calculation=checksums,
            response_checksum_validation=checksums,
        ),
    )


def _wait_ready(
    proc: subprocess.Popen,
    endpoint_url: str,
    log: Path,
    timeout: float,
    ca_file: str | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    client = s3_client(endpoint_url, timeout=2, ca_file=ca_file)
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
    tls: bool = False,
    shared_data: bool = True,
    onyxia: int = config.DEFAULT_ONYXIA,
    timeout: float = 60,
    log=print,
) -> Playground:
    """Start the playground, wait until it answers, seed it; return what was started.

    ``port=0`` takes a free port. ``server`` is ``auto`` (MinIO if available or
    buildable, else moto), ``minio`` or ``moto``. ``data_dir`` keeps the data between
    runs (MinIO only); without it the data lives in a temporary folder removed by
    :func:`stop`. ``tls`` makes it speak https with a test CA of its own;
    ``shared_data=False`` leaves the shared course data out (as on a server where it was
    never published). ``onyxia`` is the Onyxia version whose service variables the
    learners get (11, or 10). The default learner is created.
    """
    if server not in SERVERS:
        raise PlaygroundError(
            f"Serveur inconnu : {server} (choix : {', '.join(SERVERS)})."
        )
    if onyxia not in config.ONYXIA_VERSIONS:
        raise PlaygroundError(
            f"Version d'Onyxia inconnue : {onyxia} (choix : 10 ou 11)."
        )
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
    if server == "ceph":
        from . import ceph

        ceph.install(log)
        timeout = max(timeout, ceph.START_TIMEOUT)
    if host not in LOOPBACK_HOSTS:
        notes.append(
            non_loopback_warning(host, port, tls)
        )  # said by `playground start`
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
            raise PlaygroundError(
                "MinIO introuvable (ni $S3COURS_MINIO, ni `minio` dans le PATH)."
            )

    state.mkdir(parents=True, exist_ok=True)
    log_path = state / LOG_FILE
    # Ceph's cluster lives in the state folder, made anew at each start.
    temporary = data_dir is None or server == "ceph"
    data = (
        state / "ceph"
        if server == "ceph"
        else Path(tempfile.mkdtemp(prefix="s3cours-data-"))
        if temporary
        else Path(data_dir)
    )
    if server == "ceph":
        shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True, exist_ok=True)
    certificates = tls_module.make(state / "tls", host) if tls else None

    if server == "ceph":
        name, version = "Ceph", ceph.version()
        if data_dir is not None:
            notes.append(
                "Ceph : --data-dir est sans effet, le cluster est refait à chaque "
                f"démarrage dans {data}."
            )
        duration = ceph.duration_note()
        if duration:
            notes.append(duration)
        mon_ports = (_free_port(config.LOOPBACK), _free_port(config.LOOPBACK))
        while mon_ports[1] in (mon_ports[0], port):
            mon_ports = (mon_ports[0], _free_port(config.LOOPBACK))
        ceph.write_conf(
            data,
            ceph.conf_text(
                data,
                str(uuid.uuid4()),
                mon_ports,
                port,
                host=host,
                certificate=certificates.cert_file if certificates else None,
                key=certificates.key_file if certificates else None,
                sts_key=secrets.token_hex(8),
            ),
        )
        cmd = ceph.server_command(data)
        env = dict(os.environ)
    elif binary is not None:
        name, version = "MinIO", _minio_version(binary)
        cmd = [
            str(binary),
            "server",
            str(data),
            "--address",
            f"{host}:{port}",
            "--quiet",
        ]
        if certificates:
            certs_dir = certificates.cert_file.parent
            cmd += ["--certs-dir", str(certs_dir)]
        env = {
            **os.environ,
            "MINIO_ROOT_USER": config.PLAYGROUND_ACCESS_KEY,
            "MINIO_ROOT_PASSWORD": admin_secret(),
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            "MINIO_REGION": config.PLAYGROUND_REGION,
        }
    else:
        name, version = "moto", _moto_version()
        if not temporary:
            notes.append(
                "moto garde ses données en mémoire : --data-dir est sans effet."
            )
        notes.append(
            "moto n'applique aucune politique d'accès : les refus du SSP Cloud "
            "(bucket d'un autre, écriture dans donnees-insee) n'y ont pas lieu."
        )
        cmd = [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]
        if certificates:
            cmd += [
                "--ssl-cert",
                str(certificates.cert_file),
                "--ssl-key",
                str(certificates.key_file),
            ]
        env = dict(os.environ)

    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    playground = Playground(
        name,
        version,
        proc.pid,
        host,
        port,
        str(data),
        temporary,
        str(log_path),
        notes,
        scheme="https" if certificates else "http",
        ca_file=str(certificates.ca_file) if certificates else None,
        shared_data=shared_data,
        state_file=str(_state_path(state)),
        onyxia=onyxia,
    )
    try:
        _wait_ready(
            proc, playground.endpoint_url, log_path, timeout, playground.ca_file
        )
        seed(
            playground.endpoint_url,
            shared_data=shared_data,
            ca_file=playground.ca_file,
            checksums="when_required" if name == "Ceph" else "when_supported",
        )
        if name == "Ceph":
            # diffusion/ readable by all (a bucket policy), as public data on SSP Cloud.
            ceph.publish_shared_data(
                s3_client(playground.endpoint_url, ca_file=playground.ca_file)
            )
        _write_state(playground)
        add_learner(playground, config.DEFAULT_LEARNER)
    except BaseException:
        _terminate(proc.pid)
        _state_path(state).unlink(missing_ok=True)
        if temporary:
            shutil.rmtree(data, ignore_errors=True)
        raise
    if state_dir is None:
        # The learner's own playground (the one a notebook finds): their home gets the
        # image's DuckDB extensions, as a service's home on SSP Cloud has them.
        notes.append(duckdb_extensions_note(Path.home()))
    return playground


def duckdb_extensions_note(home: Path) -> str:
    """Give ``home`` the image's DuckDB extensions (:func:`give_duckdb_extensions`) and
    say so in one French sentence; a failure is said, not raised (the playground works
    without them, and DuckDB would download them where there is internet)."""
    try:
        added = give_duckdb_extensions(home)
    except PlaygroundError as exc:
        return f"{exc}".replace("\n", " ")
    where = home / ".duckdb" / "extensions"
    names = " et ".join(DUCKDB_EXTENSIONS)
    return (
        f"Extensions DuckDB {names} "
        + ("installées" if added else "déjà présentes")
        + f" dans {where}, comme dans un service du SSP Cloud : « INSTALL httpfs » "
        "les y trouve, sans rien télécharger (hors ligne aussi)."
    )


def _write_state(playground: Playground) -> None:
    path = Path(playground.state_file)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(playground), handle, indent=2)
    tmp.replace(path)


def add_learner(
    playground: Playground, learner: str, policy: dict | None = None
) -> None:
    """Create a learner as SSP Cloud has them: a MinIO user under Onyxia's policy (or
    ``policy``), and a personal bucket of the same name; idempotent. Admin work."""
    try:
        learners.check_name(learner)
        admin = playground.admin()
        if playground.server == "Ceph":
            from . import ceph

            # User, role, bucket, project membership (``policy`` is MinIO's notion:
            # on Ceph, the role's and the session's policies are the course's).
            with open(
                Path(playground.state_file).with_suffix(".ceph.lock"), "w"
            ) as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                secret = ceph.ensure_learner(admin, learner)
        else:
            learners.ensure_user(admin, learner, policy)
    except learners.LearnerError as exc:
        raise PlaygroundError(str(exc)) from None
    if playground.server != "Ceph":
        create_bucket(
            s3_client(playground.endpoint_url, ca_file=playground.ca_file), learner
        )
        secret = learners.user_secret(admin.secret_key, learner) if admin.mc else "moto"
    # Several processes may add learners at once (a class): one writer at a time.
    with open(Path(playground.state_file).with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recorded = Path(playground.state_file)
        if recorded.exists():
            playground.learner_keys = json.loads(recorded.read_text()).get(
                "learner_keys", {}
            )
        playground.learner_keys[learner] = secret
        _write_state(playground)


def create_bucket(client, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        client.create_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise


def seed(
    endpoint_url: str,
    shared_data: bool = True,
    ca_file: str | None = None,
    checksums: str = "when_supported",
) -> list[str]:
    """Create the shared data bucket and upload the course data (unless ``shared_data``
    is false: the bucket stays empty, as on a server where nobody published it);
    idempotent.

    An object already holding the same bytes is left alone. Returns the keys uploaded.
    ``checksums``: see :func:`s3_client` (``when_required`` on Ceph RGW 16).
    """
    from botocore.exceptions import ClientError

    from .data import course_objects

    client = s3_client(endpoint_url, ca_file=ca_file, checksums=checksums)
    create_bucket(client, config.DATA_BUCKET)
    uploaded: list[str] = []
    if not shared_data:
        return uploaded
    for obj in course_objects():
        md5 = hashlib.md5(obj.body, usedforsecurity=False).hexdigest()
        try:
            etag = client.head_object(Bucket=obj.bucket, Key=obj.key)["ETag"].strip('"')
        except ClientError:
            etag = None
        if etag != md5:
            client.put_object(
                Bucket=obj.bucket,
                Key=obj.key,
                Body=obj.body,
                ContentType=obj.content_type,
            )
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
    shutil.rmtree(state / "tls", ignore_errors=True)
    shutil.rmtree(state / "services", ignore_errors=True)
    path.unlink()
    path.with_suffix(".lock").unlink(missing_ok=True)
    path.with_suffix(".ceph.lock").unlink(missing_ok=True)
    return playground


# ------------------------------------------------------------------ S3 profiles

#: The name the twin gives a learner's profile on the playground, and the one of a
#: second server's (:func:`write_profiles`).
PROFILE = "perso"
SECOND_PROFILE = "projet"


def profile_files(profiles: dict[str, dict[str, str]]) -> tuple[str, str]:
    """The text of ``~/.aws/config`` and ``~/.aws/credentials`` for ``profiles`` (name
    -> an Onyxia service's variables, :meth:`Playground.environment`), in the form of
    Onyxia's « AWS CLI / shared profile » snippet (InseeFrLab/onyxia 8a5be35,
    web/src/core/usecases/s3ProfilesDetailsUiController/decoupledLogic/codeSnippets.ts,
    ``getAwsCliSnippet``): in the credentials, ``[name]`` with the key, the secret and
    ``aws_session_token`` only when there is one; in the config, ``[profile name]``
    (``[default]`` for ``default``) with ``region`` and ``services = name-s3``, whose
    ``[services name-s3]`` section gives ``s3 =`` an ``endpoint_url``, the endpoint's
    origin (scheme, host, port)."""
    config_lines: list[str] = []
    credential_lines: list[str] = []
    for name, env in profiles.items():
        section = "default" if name == "default" else f"profile {name}"
        services = f"{name}-s3"
        origin = env.get("AWS_ENDPOINT_URL", "").rstrip("/") or (
            "https://" + env["AWS_S3_ENDPOINT"]
        )
        config_lines += [
            f"[{section}]",
            f"region = {env.get('AWS_DEFAULT_REGION', config.PLAYGROUND_REGION)}",
            f"services = {services}",
            "",
            f"[services {services}]",
            "s3 =",
            f"  endpoint_url = {origin}",
            "",
        ]
        credential_lines += [
            f"[{name}]",
            f"aws_access_key_id = {env['AWS_ACCESS_KEY_ID']}",
            f"aws_secret_access_key = {env['AWS_SECRET_ACCESS_KEY']}",
            *(
                [f"aws_session_token = {env['AWS_SESSION_TOKEN']}"]
                if env.get("AWS_SESSION_TOKEN")
                else []
            ),
            "",
        ]
    return "\n".join(config_lines), "\n".join(credential_lines)


def write_profiles(home: Path, profiles: dict[str, dict[str, str]]) -> Path:
    """Write ``profiles`` (:func:`profile_files`) in ``home/.aws``, as Onyxia will give
    a service each S3 profile of its user (``s3_array`` of Onyxia 11.5's service
    context, InseeFrLab/onyxia 8a5be35, web/src/core/ports/OnyxiaApi/XOnyxia.ts; the
    images' side: InseeFrLab/images-datascience issue 262). The credentials file is
    readable by its owner alone. Returns the folder."""
    folder = home / ".aws"
    folder.mkdir(parents=True, exist_ok=True)
    config_text, credentials_text = profile_files(profiles)
    (folder / "config").write_text(config_text)
    credentials = folder / "credentials"
    credentials.touch(mode=0o600)
    credentials.chmod(0o600)
    credentials.write_text(credentials_text)
    return folder


def profile_service(
    started: Playground, learner: str | None = None, profile: str = PROFILE
) -> dict[str, str]:
    """The environment of ``learner``'s service when Onyxia gives it profiles and no S3
    variable: ``~/.aws/config`` and ``~/.aws/credentials`` written in its home
    (:meth:`Playground.service_home`) for ``profile``, ``AWS_PROFILE``, ``HOME``, the
    service's namespace and, over https, the test CA; none of :data:`VARIABLES` else."""
    env = started.environment(learner)
    home = started.service_home(learner)
    write_profiles(home, {profile: env})
    kept = ("KUBERNETES_NAMESPACE", "AWS_CA_BUNDLE", "SSL_CERT_FILE")
    return {
        **{name: env[name] for name in kept if name in env},
        "AWS_PROFILE": profile,
        "HOME": str(home),
    }
