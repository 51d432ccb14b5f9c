"""The trainer's kit: provision, verify and remove a class of learners on one S3 server.

``./cours classroom provision --learners N --out DIR`` creates N learners the way SSP
Cloud has them (:mod:`s3cours.learners`: a MinIO user under Onyxia's policy, a bucket of
their name) on the running playground, or on any MinIO whose administrator keys are in
the environment (:data:`ADMIN_ENDPOINT`, :data:`ADMIN_ACCESS_KEY`,
:data:`ADMIN_SECRET_KEY`, never a file of the repository). For each learner it writes to
DIR, outside the repository: an env file with the variables an Onyxia service sets (STS
session credentials lasting the session, default 12 h), a printable HTML sheet, and for
the trainer a roster (CSV) and ``classe.json`` (no secret: what the other commands need
to find the class again).

``verify DIR`` checks every learner at once, through what the server does: with the keys
the learner holds (env file) they read the course data, write, read and delete in their
own bucket, and are refused another learner's bucket and writing to the shared data; and
the learner's MinIO user itself (its long-term key, which only the tooling holds) is
refused the same. MinIO evaluates a session credential against the session policy AND
the parent user's policy (``IsAllowedSTS`` in minio/minio ``cmd/iam.go``): a widened
user policy is therefore invisible through the session keys (the Onyxia session policy
still caps them), but it is a latent hole (any key issued without that session policy
gets it), which the second check sees; a widened session (keys issued otherwise) is seen
by the first.

``remove DIR [--buckets] [--yes]`` removes the users and policies (and the buckets with
all their objects with ``--buckets``) of the learners that DIR lists, nothing else.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import os
import re
import shlex
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import config, learners, playground

#: The target MinIO's administrator access, read from the environment only.
ADMIN_ENDPOINT = "S3COURS_ADMIN_ENDPOINT"  # https://minio.example.org:9000
ADMIN_ACCESS_KEY = "S3COURS_ADMIN_ACCESS_KEY"
ADMIN_SECRET_KEY = "S3COURS_ADMIN_SECRET_KEY"
ADMIN_CA_BUNDLE = "S3COURS_ADMIN_CA_BUNDLE"  # optional: a CA to trust for https
ADMIN_REGION = "S3COURS_ADMIN_REGION"  # optional, default us-east-1

#: Session keys' lifetime: a day of training by default. MinIO's AssumeRole accepts
#: 900 s to 365 days (``MinExpiration``/``MaxExpiration`` in minio/minio
#: internal/config/constants.go, checked by ``openid.GetDefaultExpiration``), unless the
#: server sets MINIO_STS_DURATION.
DEFAULT_DURATION = "12h"
MIN_SECONDS = 900
MAX_SECONDS = 365 * 24 * 3600

CLASS_FILE = "classe.json"
ROSTER_FILE = "liste-apprenants.csv"
#: The test CA's certificate (public), beside the env files when the server has https.
CA_FILE = "autorite-de-test.pem"
#: Where verify writes in a learner's own bucket (removed at once).
CHECK_PREFIX = "verification-formateur/"
WORKERS = 8


class TrainerError(playground.PlaygroundError):
    """A trainer's command cannot go on; the message says what is wrong, what to do."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- settings


def parse_duration(text: str) -> int:
    """``12h``, ``90min``, ``2j`` (or seconds) -> seconds, within MinIO's limits."""
    match = re.fullmatch(r"\s*(\d+)\s*(s|min|m|h|j|d)?\s*", text)
    if not match:
        raise TrainerError(f"Durée illisible : « {text} ». Exemples : 12h, 90min, 2j.")
    unit = {"s": 1, None: 1, "min": 60, "m": 60, "h": 3600, "j": 86400, "d": 86400}
    seconds = int(match[1]) * unit[match[2]]
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise TrainerError(
            f"Durée hors limites : « {text} ». MinIO donne des clés temporaires "
            "de 15 minutes à 365 jours : choisissez une durée entre 15min et "
            "365j (ex. 12h pour une journée)."
        )
    return seconds


def learner_names(prefix: str, count: int) -> list[str]:
    if count < 1:
        raise TrainerError("--learners : au moins 1 apprenant.")
    width = max(2, len(str(count)))
    names = [f"{prefix}-{i:0{width}d}" for i in range(1, count + 1)]
    for name in names:
        try:
            learners.check_name(name)
        except learners.LearnerError as exc:
            raise TrainerError(f"--prefix {prefix} : {exc}") from None
    return names


def course_url(site_config: Path | None = None) -> str:
    """The course site: ``website.site-url`` of ``_quarto.yml``, else the GitHub Pages
    address of ``website.repo-url`` (where the CI publishes the site)."""
    import yaml

    from . import launch

    site_config = site_config or launch.SITE_CONFIG
    website = yaml.safe_load(site_config.read_text()).get("website", {})
    if website.get("site-url"):
        return str(website["site-url"]).rstrip("/") + "/"
    repo = launch.repository(site_config)
    return f"https://{repo.owner.lower()}.github.io/{repo.name}/"


def check_out_dir(out: Path) -> Path:
    """DIR must be outside the repository: it holds secrets."""
    resolved = out.expanduser().resolve()
    root = config.ROOT.resolve()
    if resolved == root or root in resolved.parents:
        raise TrainerError(
            f"Le dossier {resolved} est dans le dépôt du cours ({root}) : il "
            "contiendra les clés des apprenants, qui ne doivent jamais "
            "entrer dans le dépôt. Choisissez un dossier hors du dépôt, par "
            "exemple --out ~/formation-s3-classe."
        )
    if resolved.exists() and not resolved.is_dir():
        raise TrainerError(
            f"{resolved} existe et n'est pas un dossier : choisissez un autre --out."
        )
    return resolved


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner alone (0600), new or not."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


# --------------------------------------------------------------------------- the target


@dataclass
class Target:
    """The server a class lives on, and the tooling's administrator access to it."""

    server: playground.Playground  # for another MinIO: a description, no process
    admin: learners.Admin
    kind: str  # "bac à sable" or "serveur"
    region: str = config.PLAYGROUND_REGION
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _admin_client: object = None

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    def admin_client(self):
        """The admin's S3 client (tooling only: buckets, clean-up); made once."""
        with self._lock:
            if self._admin_client is None:
                self._admin_client = _client(
                    self.endpoint_url,
                    self.admin.access_key,
                    self.admin.secret_key,
                    None,
                    self.region,
                    self.admin.ca_file,
                )
            return self._admin_client

    def user_secret(self, learner: str) -> str:
        """The learner's long-term key (tooling only), as the playground derives it."""
        return (
            learners.user_secret(self.admin.secret_key, learner)
            if self.admin.mc or self.server.server == "Ceph"
            else "moto"
        )

    def add(self, learner: str) -> None:
        """Create the learner (user, Onyxia's policy, bucket); idempotent."""
        if self.kind == "bac à sable":
            playground.add_learner(self.server, learner)
            return
        try:
            learners.ensure_user(self.admin, learner)
        except learners.LearnerError as exc:
            raise TrainerError(str(exc)) from None
        playground.create_bucket(self.admin_client(), learner)
        with self._lock:
            self.server.learner_keys[learner] = self.user_secret(learner)

    def environment(self, learner: str, seconds: int) -> dict[str, str]:
        if self.kind != "bac à sable":
            with self._lock:
                self.server.learner_keys.setdefault(learner, self.user_secret(learner))
        return self.server.environment(learner, seconds=seconds)

    def forget(self, learner: str) -> None:
        """Remove the learner's user and policy (not the bucket); on Ceph, the user
        and its role (the class project's role keeps its trust policy)."""
        if self.server.server == "Ceph":
            from . import ceph

            ceph.remove_user(self.admin, learner)
        else:
            learners.remove_user(self.admin, learner)
        if self.kind == "bac à sable" and self.server.state_file:
            state = Path(self.server.state_file)
            import fcntl

            with open(state.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if state.exists():
                    recorded = json.loads(state.read_text())
                    recorded.get("learner_keys", {}).pop(learner, None)
                    self.server.learner_keys = recorded.get("learner_keys", {})
                    playground._write_state(self.server)


def resolve_target(
    state_dir: Path | None = None, log: Callable[[str], None] = say
) -> Target:
    """Another MinIO when its administrator keys are in the environment, else the
    running playground."""
    endpoint = os.environ.get(ADMIN_ENDPOINT)
    if endpoint:
        missing = [
            v for v in (ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY) if not os.environ.get(v)
        ]
        if missing:
            raise TrainerError(
                f"{ADMIN_ENDPOINT} est défini mais pas {', '.join(missing)} : "
                "exportez les clés d'administration du serveur MinIO visé "
                "(jamais dans un fichier du dépôt)."
            )
        match = re.fullmatch(
            r"(https?)://([^/:]+|\[[^\]]+\]):(\d+)/?", endpoint.strip()
        )
        if not match:
            raise TrainerError(
                f"{ADMIN_ENDPOINT} illisible : « {endpoint} ». Forme attendue : "
                "https://minio.exemple.fr:9000 (schéma, hôte et port)."
            )
        from . import mc

        ca_file = os.environ.get(ADMIN_CA_BUNDLE) or None
        server = playground.Playground(
            "MinIO",
            "?",
            0,
            match[2],
            int(match[3]),
            "",
            False,
            "",
            scheme=match[1],
            ca_file=ca_file,
        )
        admin = learners.Admin(
            f"{match[1]}://{match[2]}:{match[3]}",
            os.environ[ADMIN_ACCESS_KEY],
            os.environ[ADMIN_SECRET_KEY],
            ca_file,
            mc.find() or mc.build(log),
        )
        return Target(
            server,
            admin,
            "serveur",
            os.environ.get(ADMIN_REGION) or config.PLAYGROUND_REGION,
        )
    running = playground.status(state_dir)
    if running is None:
        raise TrainerError(
            "Aucun serveur visé : le bac à sable ne tourne pas (lancez "
            "`./cours playground start`, avec le même --state-dir) et les clés d'un "
            "autre MinIO ne sont pas dans l'environnement "
            f"({ADMIN_ENDPOINT}, {ADMIN_ACCESS_KEY}, {ADMIN_SECRET_KEY})."
        )
    return Target(running, running.admin(), "bac à sable")


# --------------------------------------------------------------------------- provision


@dataclass(frozen=True)
class Learner:
    name: str
    bucket: str
    endpoint_url: str
    expires: str  # ISO 8601, UTC, to the minute

    @property
    def env_file(self) -> str:
        return f"{self.name}.env"

    @property
    def sheet(self) -> str:
        return f"{self.name}.html"


def env_file_text(learner: Learner, env: dict[str, str]) -> str:
    """``export NAME=value`` lines: ``source`` works in a shell, and the loader in the
    sheet (or python-dotenv) reads them in Python."""
    lines = [
        "# Formation Python et S3 : identifiants "
        f"de {learner.name} (bucket {learner.bucket}).",
        f"# Clés temporaires, valables jusqu'au {learner.expires} (UTC). "
        "Personnelles : ne les partagez pas.",
        f"# Dans un terminal : source {learner.env_file}",
    ]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    return "\n".join(lines) + "\n"


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of an env file written by :func:`env_file_text`."""
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0] if value else ""
    return env


#: The loader shown on the sheet, for a notebook already open.
NOTEBOOK_LOADER = """import os, shlex
for ligne in open("{env_file}", encoding="utf-8"):
    if ligne.startswith("export "):
        nom, _, valeur = ligne[len("export "):].strip().partition("=")
        os.environ[nom] = shlex.split(valeur)[0]"""


def sheet_html(learner: Learner, url: str, with_ca: bool = False) -> str:
    """A printable page for a learner, with no secret (the keys are in the env file)."""
    e = html.escape
    data = f"s3://{config.DATA_BUCKET}/{config.DATA_PREFIX}"
    loader = NOTEBOOK_LOADER.format(env_file=learner.env_file)
    ca_note = (
        ""
        if not with_ca
        else (
            "<p>Le serveur parle https avec un certificat de test : le formateur vous "
            f"remet aussi <code>{CA_FILE}</code>. Si vous ne le placez pas au chemin "
            "que nomment <code>AWS_CA_BUNDLE</code> et <code>SSL_CERT_FILE</code> dans "
            "votre fichier <code>.env</code>, corrigez ces deux lignes.</p>\n"
        )
    )
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>Python et S3 : fiche de {e(learner.name)}</title>
<style>
 body {{ font-family: sans-serif; max-width: 46em; margin: 2em auto;
   line-height: 1.4; }}
 code, pre {{ background: #f3f3f3; padding: 0 .2em; }}
 pre {{ padding: .6em; white-space: pre-wrap; }}
 td {{ padding: .2em .8em .2em 0; vertical-align: top; }}
 @media print {{ body {{ margin: 0; }} }}
</style>
</head>
<body>
<h1>Formation « Python et S3 »</h1>
<p>Fiche de <strong>{e(learner.name)}</strong>.</p>
<table>
<tr><td>Votre identifiant</td><td><code>{e(learner.name)}</code></td></tr>
<tr><td>Votre bucket (à vous seul)</td>
<td><code>s3://{e(learner.bucket)}/</code></td></tr>
<tr><td>Serveur S3</td><td><code>{e(learner.endpoint_url)}</code></td></tr>
<tr><td>Données du cours (lecture seule)</td><td><code>{e(data)}</code></td></tr>
<tr><td>Vos clés valent jusqu'au</td><td>{e(learner.expires)} (UTC)</td></tr>
<tr><td>Le cours</td><td><a href="{e(url)}">{e(url)}</a></td></tr>
</table>
<h2>Se connecter</h2>
<ol>
<li>Le formateur vous remet le fichier <code>{e(learner.env_file)}</code> : il contient
vos clés temporaires (les mêmes variables qu'un service du SSP Cloud). Ne le partagez
pas.</li>
<li>Dans un terminal, chargez-le puis lancez Jupyter depuis ce terminal :
<pre>source {e(learner.env_file)}
jupyter lab</pre>
Les notebooks du cours trouvent alors seuls le serveur, vos clés et votre bucket.</li>
<li>Dans un notebook déjà ouvert, exécutez plutôt cette cellule (le fichier à côté du
notebook), puis la cellule de préparation du chapitre :
<pre>{e(loader)}</pre></li>
<li>Pour vérifier, dans le terminal : <code>mc ls s3/{e(learner.bucket)}</code> (vide au
début), et <code>mc ls s3/{e(config.DATA_BUCKET)}/{e(config.DATA_PREFIX)}</code>.</li>
</ol>
{ca_note}<h2>Ce que vos clés permettent</h2>
<p>Tout dans votre bucket ; lire les données du cours. Pas d'accès aux buckets des
autres, ni d'écriture dans les données du cours : c'est la règle du SSP Cloud.</p>
</body>
</html>
"""


def _class_record(out: Path) -> dict | None:
    path = out / CLASS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _write_class(out: Path, record: dict) -> None:
    _write_private(
        out / CLASS_FILE, json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "apprenant",
            "bucket",
            "serveur",
            "cles_valables_jusqu_au_utc",
            "fichier_env",
            "fiche",
        ]
    )
    for item in record["apprenants"]:
        writer.writerow(
            [
                item["name"],
                item["bucket"],
                item["endpoint_url"],
                item["expires"],
                f"{item['name']}.env",
                f"{item['name']}.html",
            ]
        )
    _write_private(out / ROSTER_FILE, buffer.getvalue())


def _warm_up_boto3(region: str) -> None:
    """The learners' module and the playground make clients from boto3's default
    session; made once here, its lazily built parts are not raced for by the threads."""
    import boto3

    boto3.client("s3", region_name=region)
    boto3.client("sts", region_name=region)


def provision(
    target: Target,
    out: Path,
    count: int,
    prefix: str = "eleve",
    seconds: int = 12 * 3600,
    log: Callable[[str], None] = say,
) -> list[str]:
    """Create the missing learners of a class of ``count``; return the names created."""
    out = check_out_dir(out)
    if target.server.host in ("0.0.0.0", "::"):
        raise TrainerError(
            f"Le bac à sable écoute sur {target.server.host} (toutes les "
            "adresses) : les apprenants ne peuvent pas joindre cette adresse. "
            "Relancez-le sur l'adresse de cette machine dans le réseau de la salle "
            "(--host ADRESSE --allow-non-loopback)."
        )
    names = learner_names(prefix, count)
    record = _class_record(out)
    if record and record["serveur"] != target.endpoint_url:
        raise TrainerError(
            f"{out} décrit une classe du serveur {record['serveur']}, pas "
            f"de {target.endpoint_url}. Choisissez un autre dossier (--out) pour ce "
            "serveur."
        )
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    known = {item["name"]: item for item in (record or {}).get("apprenants", [])}
    missing = [n for n in names if not (n in known and (out / f"{n}.env").exists())]
    url = course_url()

    ca_copy = None
    if target.server.ca_file:
        # https with a test CA: a copy beside the env files, which name it there.
        ca_copy = out / CA_FILE
        shutil.copyfile(target.server.ca_file, ca_copy)
        ca_copy.chmod(0o644)

    def one(name: str) -> Learner:
        target.add(name)
        env = target.environment(name, seconds)
        if ca_copy is not None:
            env.update(
                {
                    k: str(ca_copy)
                    for k in ("AWS_CA_BUNDLE", "SSL_CERT_FILE")
                    if k in env
                }
            )
        expires = (datetime.now(UTC) + timedelta(seconds=seconds)).strftime(
            "%Y-%m-%d %H:%M"
        )
        learner = Learner(name, name, env["AWS_ENDPOINT_URL"], expires)
        _write_private(out / learner.env_file, env_file_text(learner, env))
        _write_private(
            out / learner.sheet, sheet_html(learner, url, ca_copy is not None)
        )
        return learner

    _warm_up_boto3(target.region)
    with ThreadPoolExecutor(max_workers=min(WORKERS, max(1, len(missing)))) as pool:
        created = list(pool.map(one, missing))
    for learner in created:
        known[learner.name] = {
            "name": learner.name,
            "bucket": learner.bucket,
            "endpoint_url": learner.endpoint_url,
            "expires": learner.expires,
        }
    record = {
        "serveur": target.endpoint_url,
        "cible": target.kind,
        "donnees": f"s3://{config.DATA_BUCKET}/{config.DATA_PREFIX}",
        "cours": url,
        "apprenants": [known[n] for n in sorted(known)],
    }
    _write_class(out, record)
    log(
        f"{len(created)} apprenant(s) créé(s), {len(known) - len(created)} déjà là, "
        f"dans {out} (serveur {target.endpoint_url})."
    )
    return [learner.name for learner in created]


# --------------------------------------------------------------------------- verify


CHECKS = ("donnees", "son_bucket", "voisin", "partage", "compte")
HEADERS = {
    "donnees": "lit les données",
    "son_bucket": "son bucket (é/l/s)",
    "voisin": "bucket voisin",
    "partage": "écrit données",
    "compte": "droits du compte",
}


HINTS = {
    "donnees": (
        f" (les données du cours sont-elles publiées dans s3://{config.DATA_BUCKET}/"
        f"{config.DATA_PREFIX} ? Les clés ont-elles expiré ?)"
    ),
    "son_bucket": (
        " (clés expirées ? bucket supprimé ? `provision` recrée ce qui manque)"
    ),
    "compte": (
        " (la politique attachée à ce compte sur le serveur est plus large que celle "
        "d'Onyxia : recréez l'apprenant ou corrigez sa politique)"
    ),
}


@dataclass
class Row:
    name: str
    cells: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_SESSION_LOCK = threading.Lock()
_SESSIONS: list = []


def _client(
    endpoint_url: str,
    access_key: str,
    secret_key: str,
    token: str | None,
    region: str,
    ca_file: str | None,
):
    """An S3 client; all made from one boto3 session (its service model is read once,
    which is most of a client's cost), one at a time (a session is not thread-safe;
    clients are)."""
    import boto3
    from botocore.config import Config

    with _SESSION_LOCK:
        if not _SESSIONS:
            _SESSIONS.append(boto3.session.Session())
        return _SESSIONS[0].client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
            verify=ca_file or True,
            # Two attempts in all (total_max_attempts: "max_attempts" counts retries).
            config=Config(
                connect_timeout=5,
                read_timeout=20,
                retries={"total_max_attempts": 2},
                s3={"addressing_style": "path"},
                # No checksum the server does not ask for: Ceph RGW 16 refuses
                # boto3's trailing ones over https (411 MissingContentLength).
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if response:
        return response.get("Error", {}).get("Code") or "erreur"
    return type(exc).__name__


def _denied(
    call: Callable[[], object], cleanup: Callable[[], object] | None = None
) -> str:
    """'refusé' when the server answers AccessDenied; anything else is a failure."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - any other answer is reported
        code = _code(exc)
        return "refusé" if code == "AccessDenied" else f"ÉCHEC ({code})"
    if cleanup:
        try:
            cleanup()
        # Best effort: the failure is reported anyway.
        except Exception:  # noqa: BLE001, S110
            pass
    return "ÉCHEC (autorisé !)"


def verify_learner(target: Target, out: Path, name: str, neighbour: str) -> Row:
    row = Row(name)
    env_path = out / f"{name}.env"
    if not env_path.exists():
        row.cells = {c: "—" for c in CHECKS}
        row.problems.append(f"{name} : fichier {env_path.name} absent")
        return row
    env = read_env_file(env_path)
    s3 = _client(
        env["AWS_ENDPOINT_URL"],
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
        env.get("AWS_SESSION_TOKEN"),
        env.get("AWS_DEFAULT_REGION", target.region),
        env.get("AWS_CA_BUNDLE"),
    )
    admin = target.admin_client()
    bucket = (learners.space(env) or (name, ""))[0]
    tag = uuid.uuid4().hex[:12]

    # 1. The course data: listed under diffusion/ and read.
    try:
        listed = s3.list_objects_v2(
            Bucket=config.DATA_BUCKET, Prefix=config.DATA_PREFIX
        )
        if not listed.get("KeyCount"):
            raise RuntimeError("vide")
        s3.get_object(
            Bucket=config.DATA_BUCKET, Key=config.FILOSOFI_CSV_KEY, Range="bytes=0-1023"
        )["Body"].read()
        row.cells["donnees"] = "ok"
    except Exception as exc:  # noqa: BLE001
        row.cells["donnees"] = f"ÉCHEC ({_code(exc) if str(exc) != 'vide' else 'vide'})"

    # 2. Their own bucket: write, read back, delete, gone.
    key = f"{CHECK_PREFIX}{tag}.txt"
    body = f"verification {name} {tag}".encode()
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        if s3.get_object(Bucket=bucket, Key=key)["Body"].read() != body:
            raise RuntimeError("relu différent")
        s3.delete_object(Bucket=bucket, Key=key)
        try:
            s3.head_object(Bucket=bucket, Key=key)
            raise RuntimeError("non supprimé")
        except Exception as exc:  # noqa: BLE001
            if _code(exc) not in ("404", "NoSuchKey"):
                raise
        row.cells["son_bucket"] = "ok"
    except Exception as exc:  # noqa: BLE001
        row.cells["son_bucket"] = (
            f"ÉCHEC ({_code(exc) if not isinstance(exc, RuntimeError) else exc})"
        )

    # 3. Another learner's bucket: neither listed nor written.
    other_key = f"{CHECK_PREFIX}intrus-{name}-{tag}.txt"
    listing = _denied(lambda: s3.list_objects_v2(Bucket=neighbour))
    writing = _denied(
        lambda: s3.put_object(Bucket=neighbour, Key=other_key, Body=b"x"),
        lambda: admin.delete_object(Bucket=neighbour, Key=other_key),
    )
    row.cells["voisin"] = listing if listing != "refusé" else writing

    # 4. The shared course data: not writable.
    shared_key = f"{config.DATA_PREFIX}{CHECK_PREFIX}{name}-{tag}.txt"
    row.cells["partage"] = _denied(
        lambda: s3.put_object(Bucket=config.DATA_BUCKET, Key=shared_key, Body=b"x"),
        lambda: admin.delete_object(Bucket=config.DATA_BUCKET, Key=shared_key),
    )

    # 5. The user's own policy (long-term key, tooling only): the ceiling of any key
    # issued for this learner. Widened, it is a hole even when today's session keys are
    # capped.
    if target.admin.mc is None and target.server.server != "Ceph":
        row.cells["compte"] = "— (moto)"
    else:
        user = _client(
            target.endpoint_url,
            name,
            target.user_secret(name),
            None,
            target.region,
            target.admin.ca_file,
        )
        results = [
            _denied(
                lambda: user.put_object(Bucket=neighbour, Key=other_key, Body=b"x"),
                lambda: admin.delete_object(Bucket=neighbour, Key=other_key),
            ),
            _denied(
                lambda: user.put_object(
                    Bucket=config.DATA_BUCKET, Key=shared_key, Body=b"x"
                ),
                lambda: admin.delete_object(Bucket=config.DATA_BUCKET, Key=shared_key),
            ),
        ]
        bad = [r for r in results if r != "refusé"]
        row.cells["compte"] = "limité" if not bad else bad[0].replace("ÉCHEC", "ÉLARGI")

    if not env.get("AWS_SESSION_TOKEN"):
        row.problems.append(f"{name} : clés sans jeton de session (clés permanentes ?)")
    for check in CHECKS:
        value = row.cells[check]
        if not (value in ("ok", "refusé", "limité") or value.startswith("—")):
            row.problems.append(
                f"{name} : {HEADERS[check]} : {value}" + HINTS.get(check, "")
            )
    return row


def verify(target: Target, out: Path, workers: int = WORKERS) -> list[Row]:
    out = out.expanduser().resolve()
    record = _class_record(out)
    if record is None:
        raise TrainerError(
            f"{out} ne contient pas de classe ({CLASS_FILE} absent) : donnez le "
            "dossier passé à --out de `./cours classroom provision`."
        )
    if record["serveur"] != target.endpoint_url:
        raise TrainerError(
            f"{out} décrit une classe du serveur {record['serveur']}, le serveur "
            f"visé est {target.endpoint_url} (bac à sable relancé ?)."
        )
    names = [item["name"] for item in record["apprenants"]]
    # Each learner tries the next one's bucket (the last one the first's).
    neighbours = {
        n: names[(i + 1) % len(names)] if len(names) > 1 else config.DEFAULT_LEARNER
        for i, n in enumerate(names)
    }
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(names)))) as pool:
        return list(
            pool.map(lambda n: verify_learner(target, out, n, neighbours[n]), names)
        )


def table(rows: list[Row]) -> str:
    headers = ["apprenant", *(HEADERS[c] for c in CHECKS)]
    lines = [[r.name, *(r.cells.get(c, "—") for c in CHECKS)] for r in rows]
    return text_table(headers, lines)


def text_table(headers: list[str], lines: list[list[str]]) -> str:
    """A table for the terminal: columns as wide as their widest cell, `` | ``
    between them, a rule under the headers."""
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
        for i, h in enumerate(headers)
    ]

    def fmt(cells: list[str]) -> str:
        return " | ".join(
            c.ljust(w) for c, w in zip(cells, widths, strict=True)
        ).rstrip()

    return "\n".join(
        [fmt(headers), "-+-".join("-" * w for w in widths), *map(fmt, lines)]
    )


# --------------------------------------------------------------------------- remove


def _empty_and_delete_bucket(client, bucket: str) -> int:
    from botocore.exceptions import ClientError

    removed = 0
    try:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(
                    Bucket=bucket, Delete={"Objects": keys, "Quiet": True}
                )
                removed += len(keys)
        client.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchBucket":
            raise
    return removed


def remove(
    target: Target, out: Path, buckets: bool, log: Callable[[str], None] = say
) -> list[str]:
    """Remove the class's learners (users, policies; buckets if asked), their files."""
    out = out.expanduser().resolve()
    record = _class_record(out)
    if record is None:
        raise TrainerError(f"{out} ne contient pas de classe ({CLASS_FILE} absent).")
    if record["serveur"] != target.endpoint_url:
        raise TrainerError(
            f"{out} décrit une classe du serveur {record['serveur']}, le serveur "
            f"visé est {target.endpoint_url}."
        )
    names = [item["name"] for item in record["apprenants"]]
    client = target.admin_client()

    def one(name: str) -> int:
        target.forget(name)
        removed = _empty_and_delete_bucket(client, name) if buckets else 0
        for suffix in (".env", ".html"):
            (out / f"{name}{suffix}").unlink(missing_ok=True)
        return removed

    with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(names)))) as pool:
        objects = sum(pool.map(one, names))
    for name in (CLASS_FILE, ROSTER_FILE, CA_FILE):
        (out / name).unlink(missing_ok=True)
    with_buckets = (
        f", {len(names)} bucket(s) et leurs {objects} objet(s)"
        if buckets
        else " ; leurs buckets restent (--buckets pour les supprimer)"
    )
    log(
        f"Supprimés : {len(names)} apprenant(s) (utilisateurs, politiques, "
        f"fichiers de {out}){with_buckets}."
    )
    with_files = any(out.iterdir()) if out.exists() else True
    if not with_files:
        out.rmdir()
    return names


# --------------------------------------------------------------------------- CLI


def _state(args: argparse.Namespace) -> Path | None:
    return Path(args.state_dir) if args.state_dir else None


def cmd_provision(args: argparse.Namespace) -> int:
    seconds = parse_duration(args.duree)
    out = check_out_dir(Path(args.out))
    target = resolve_target(_state(args))
    if target.server.server == "Ceph" and seconds > playground.CEPH_MAX_SESSION_SECONDS:
        say(
            f"Ceph RGW plafonne les clés temporaires à 12 h : « {args.duree} » "
            "ramené à 12h ; pour un second jour, des clés neuves : remove puis "
            "provision."
        )
        seconds = playground.CEPH_MAX_SESSION_SECONDS
    t0 = time.monotonic()
    provision(target, out, args.learners, args.prefix, seconds)
    say(
        f"Fait en {time.monotonic() - t0:.1f} s. Fichiers lisibles par vous seul "
        "(0600) : un NOM.env et une fiche NOM.html par apprenant, la "
        f"liste {ROSTER_FILE}. Vérifiez : ./cours classroom "
        f"verify {shlex.quote(str(out))}"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    target = resolve_target(_state(args))
    if target.server.server == "moto":
        say(
            "Serveur moto : il n'applique aucune politique d'accès, les refus attendus "
            "ne peuvent pas avoir lieu. Pour vérifier une classe, utilisez MinIO."
        )
    t0 = time.monotonic()
    rows = verify(target, Path(args.dir))
    print(table(rows))
    for row in rows:
        for problem in row.problems:
            say(f"- {problem}")
    failed = sum(not r.ok for r in rows)
    record = _class_record(Path(args.dir).expanduser().resolve()) or {}
    expiries = sorted(item["expires"] for item in record.get("apprenants", []))
    if expiries:
        say(f"Clés remises valables jusqu'au {expiries[0]} (UTC) au moins.")
    say(
        f"{len(rows)} apprenant(s) vérifié(s) en {time.monotonic() - t0:.1f} s : "
        + ("tout est en ordre." if not failed else f"{failed} en échec.")
    )
    return 1 if failed else 0


def cmd_remove(args: argparse.Namespace) -> int:
    target = resolve_target(_state(args))
    out = Path(args.dir).expanduser().resolve()
    record = _class_record(out)
    if record is None:
        raise TrainerError(f"{out} ne contient pas de classe ({CLASS_FILE} absent).")
    count = len(record["apprenants"])
    what = f"{count} apprenant(s) de {record['serveur']}" + (
        " ET leurs buckets avec tout leur contenu" if args.buckets else ""
    )
    if not args.yes:
        if not sys.stdin.isatty():
            raise TrainerError(
                f"Suppression de {what} : confirmation impossible (pas de "
                "terminal). Relancez avec --yes si c'est bien voulu."
            )
        answer = input(f"Supprimer {what} ? Tapez « oui » pour confirmer : ")
        if answer.strip().lower() != "oui":
            say("Rien n'a été supprimé.")
            return 1
    remove(target, out, args.buckets)
    return 0


def add_trainer_commands(actions: argparse._SubParsersAction) -> None:
    """Add ``provision``, ``verify`` and ``remove`` to the ``classroom`` commands."""
    env_help = (
        f"Serveur : le bac à sable en cours (--state-dir), ou un autre MinIO dont les "
        f"clés d'administration sont dans l'environnement : {ADMIN_ENDPOINT}, "
        f"{ADMIN_ACCESS_KEY}, {ADMIN_SECRET_KEY} (et {ADMIN_CA_BUNDLE}, "
        f"{ADMIN_REGION} au besoin)."
    )
    p = actions.add_parser(
        "provision",
        help="créer N apprenants (utilisateur, bucket, politique, clés temporaires)",
        description="Crée les apprenants manquants et écrit dans DIR (hors du dépôt) "
        "leurs fichiers d'environnement, leurs fiches et la liste. " + env_help,
    )
    p.add_argument("--learners", type=int, required=True, help="nombre d'apprenants")
    p.add_argument("--out", required=True, metavar="DIR", help="dossier hors du dépôt")
    p.add_argument(
        "--prefix", default="eleve", help="préfixe des noms (défaut : eleve)"
    )
    p.add_argument(
        "--duree",
        default=DEFAULT_DURATION,
        help=f"validité des clés : 12h, 90min, 2j… (défaut : {DEFAULT_DURATION} ; "
        "15min à 365j)",
    )
    p.add_argument("--state-dir", help="dossier d'état du bac à sable")
    p.set_defaults(func=cmd_provision)

    v = actions.add_parser(
        "verify",
        help="vérifier chaque apprenant (accès et refus)",
        description="Vérifie en parallèle chaque apprenant de DIR. " + env_help,
    )
    v.add_argument("dir", metavar="DIR")
    v.add_argument("--state-dir", help="dossier d'état du bac à sable")
    v.set_defaults(func=cmd_verify)

    r = actions.add_parser(
        "remove",
        help="supprimer les apprenants (et leurs buckets)",
        description="Supprime les utilisateurs et politiques des apprenants "
        "de DIR, et leurs fichiers. " + env_help,
    )
    r.add_argument("dir", metavar="DIR")
    r.add_argument(
        "--buckets",
        action="store_true",
        help="supprimer aussi leurs buckets, avec tout leur contenu",
    )
    r.add_argument("--yes", action="store_true", help="sans demander de confirmation")
    r.add_argument("--state-dir", help="dossier d'état du bac à sable")
    r.set_defaults(func=cmd_remove)
