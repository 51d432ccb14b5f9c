"""Where a chapter reads the course data, and how a maintainer publishes it.

The course data (a generated stand-in for INSEE's FILOSOFI 2014 file,
:mod:`s3cours.data`) has ONE shared location, the setting
:data:`s3cours.config.DATA_BUCKET` and :data:`s3cours.config.DATA_PREFIX`
(``s3://donnees-insee/diffusion/FILOSOFI/2014/``). On SSP Cloud the ``diffusion/``
folder of a bucket is readable by every user, which is why the shared copy lives under
such a folder. Every chapter's setup cell names the same location
(``tests/test_course_data.py`` checks it) and calls :func:`locate`:

- when the shared copy can be read from where the learner is, and holds the course's
  bytes, the chapter reads it;
- otherwise (SSP Cloud before the data is published there, AWS, a fresh server), the
  chapter says so in one sentence and reads a copy placed once in the learner's own
  space (``<MON_PREFIXE>donnees/FILOSOFI/2014/``). Its bytes are generated here,
  deterministically (fixed seed, pinned library versions), and checked against the
  SHA-256 digests the course ships (:data:`s3cours.data.SHA256`). A re-run uploads
  nothing when the copy is already right, and nothing is ever deleted.

``./cours donnees publier [--vers s3://bucket/prefix/]`` (:func:`publish`) uploads the
same bytes to the shared location, with credentials taken from the environment only.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from . import config, data

#: Under the learner's own prefix (MON_PREFIXE), the folder of the copy. Not a
#: ``diffusion/`` folder: on SSP Cloud those are readable by every user.
COPY_FOLDER = "donnees/FILOSOFI/2014/"

#: Error codes meaning "this copy cannot be read from here" (as opposed to a wrong
#: secret, an expired token or a server that does not answer, which are the learner's to
#: fix).
UNREADABLE = {"AccessDenied", "NoSuchKey", "NoSuchBucket", "403", "404"}


class CourseDataError(RuntimeError):
    """The course data cannot be found nor placed; the message says what to do."""


@dataclass(frozen=True)
class Placement:
    """What :func:`place` did for one object."""

    key: str
    uploaded: bool


def shared_location() -> tuple[str, str]:
    """The setting: bucket and prefix of the shared course data."""
    return config.DATA_BUCKET, config.DATA_PREFIX


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _read(client, bucket: str, key: str) -> bytes | None:  # noqa: ANN001
    """The object's bytes (``client``: a boto3 client), or None when it cannot be read
    from here (absent or refused)."""
    from botocore.exceptions import ClientError

    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in UNREADABLE:
            return None
        raise


def holds_course_data(client, bucket: str, prefix: str) -> bool:  # noqa: ANN001
    """Whether ``s3://bucket/prefix`` is readable here and holds the course's bytes."""
    for name, digest in data.SHA256.items():
        body = _read(client, bucket, prefix + name)
        if body is None or _sha256(body) != digest:
            return False
    return True


@functools.cache
def _course_objects() -> tuple[data.CourseObject, ...]:
    """Generated once per process (a few seconds): the bytes never change."""
    return tuple(data.course_objects())


def _generated() -> dict[str, data.CourseObject]:
    """The course objects generated here, checked against the shipped digests."""
    objects = {obj.key.rsplit("/", 1)[-1]: obj for obj in _course_objects()}
    for name, digest in data.SHA256.items():
        if _sha256(objects[name].body) != digest:
            raise CourseDataError(
                f"Les données générées ici ({name}) n'ont pas les octets attendus "
                "par le cours (empreinte SHA-256 différente) : les versions de "
                "numpy, pandas ou pyarrow ne sont pas celles du cours. "
                'Installez-les avec `pip install ".[chapitres]"` depuis le dépôt du '
                "cours, puis relancez la cellule."
            )
    return objects


def place(client, bucket: str, prefix: str) -> list[Placement]:  # noqa: ANN001
    """Make ``s3://bucket/prefix`` hold the course data; upload only what is missing or
    different, delete nothing."""
    done: list[Placement] = []
    objects: dict[str, data.CourseObject] | None = None
    for name, digest in data.SHA256.items():
        key = prefix + name
        body = _read(client, bucket, key)
        if body is not None and _sha256(body) == digest:
            done.append(Placement(key, uploaded=False))
            continue
        objects = objects or _generated()
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=objects[name].body,
            ContentType=objects[name].content_type,
        )
        done.append(Placement(key, uploaded=True))
    return done


def locate(
    bucket: str,
    prefix: str,
    my_space: str,
    endpoint_url: str | None = None,
    log: Callable[[str], None] = print,
) -> tuple[str, str]:
    """Where the chapter reads the course data: ``(bucket, prefix)``.

    ``bucket``/``prefix`` is the shared copy named by the chapter; ``my_space`` the
    learner's own space, ``"bucket/prefix/"`` (the setup cell's ``ESPACE``), or ``""``
    when nothing names one."""
    import boto3

    if (bucket, prefix) != shared_location():
        raise CourseDataError(
            f"Ce chapitre cherche les données du cours dans s3://{bucket}/{prefix}, le "
            f"réglage du cours dit s3://{config.DATA_BUCKET}/{config.DATA_PREFIX} : "
            "mettez le chapitre à jour."
        )
    # A new session reads the credentials now: boto3's default session keeps the first
    # ones it read, and a learner may have put fresh ones in os.environ before
    # re-running the cell.
    client = boto3.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    if holds_course_data(client, bucket, prefix):
        log(f"Données du cours : s3://{bucket}/{prefix}")
        return bucket, prefix
    my_bucket, _, my_prefix = my_space.partition("/")
    if not my_bucket:
        raise CourseDataError(
            f"Les données du cours (s3://{bucket}/{prefix}) ne sont pas lisibles "
            "d'ici, et aucun espace à vous n'est nommé pour en placer une copie : "
            f"posez {config.SPACE_VARIABLE} (ex. os.environ['S3COURS_ESPACE'] = "
            "'votre-bucket/'), puis relancez la cellule."
        )
    copy_prefix = my_prefix + COPY_FOLDER
    place(client, my_bucket, copy_prefix)
    log(
        f"Les données partagées du cours (s3://{bucket}/{prefix}) ne sont pas lisibles "
        "d'ici telles que le cours les publie : le chapitre lit leur copie dans votre "
        f"espace, s3://{my_bucket}/{copy_prefix} (mêmes octets, vérifiés par SHA-256)."
    )
    return my_bucket, copy_prefix


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix/`` -> ``(bucket, "prefix/")``; malformed: said in French."""
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise CourseDataError(
            f"Adresse invalide : {url!r} (attendu : s3://bucket/préfixe/)."
        )
    bucket, _, prefix = url[5:].partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def environment_client(env: dict[str, str] | None = None):  # noqa: ANN201
    """A boto3 client built from the environment variables only (never a credentials
    file): SSP Cloud's names, the endpoint from ``AWS_ENDPOINT_URL`` or
    ``AWS_S3_ENDPOINT``."""
    import boto3

    env = dict(os.environ if env is None else env)
    missing = [
        n for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(n)
    ]
    if missing:
        raise CourseDataError(
            f"Variables absentes : {', '.join(missing)}. Exportez les identifiants du "
            "serveur visé (sur le SSP Cloud : Stockage de données › Paramètres du "
            "profil › Détail du profil S3)."
        )
    endpoint_url = env.get("AWS_ENDPOINT_URL", "").rstrip("/") or None
    if endpoint_url is None and env.get("AWS_S3_ENDPOINT"):
        host = (
            env["AWS_S3_ENDPOINT"]
            .removeprefix("https://")
            .removeprefix("http://")
            .rstrip("/")
        )
        local = host.split(":")[0] in (config.LOOPBACK, "localhost")
        endpoint_url = ("http://" if local else "https://") + host
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        region_name=env.get("AWS_DEFAULT_REGION", config.PLAYGROUND_REGION),
    ).client("s3", endpoint_url=endpoint_url)


def publish(
    destination: str | None = None,
    client=None,  # noqa: ANN001
    log: Callable[[str], None] = print,
) -> list[Placement]:
    """Upload the course data to ``destination`` (default: the setting); idempotent."""
    bucket, prefix = parse_url(destination) if destination else shared_location()
    client = client or environment_client()
    done = place(client, bucket, prefix)
    for placement in done:
        state = (
            "envoyé"
            if placement.uploaded
            else "déjà à jour (même SHA-256), rien envoyé"
        )
        log(f"s3://{bucket}/{placement.key} : {state}")
    return done
