"""What works where: each S3 operation the course teaches, run for real against each
server the course can start (``./cours compat``).

A **server** (:data:`SERVERS`) is a way to get a started S3 server in a private state
folder, over http or https, and what a learner holds there: a :class:`Target`. MinIO
and moto come from the playground (:mod:`s3cours.playground`: a learner with STS
credentials under Onyxia's session policy, as on SSP Cloud); SeaweedFS from
:mod:`s3cours.seaweedfs` (static keys, no STS). Another playground server is one more
entry: ``"ceph": Server("ceph", "Ceph RGW", playground_target("ceph"), …)``.

A **probe** (:data:`PROBES`) does one operation as a learner would, then checks its
effect (reads back what it wrote, looks for what it deleted): it cannot pass on an
answer alone. Its cell says ``marche`` (done, effect checked), ``refusé`` (the server
said no: its code), ``autre`` (done otherwise: what differed), ``erreur`` (the client
failed) or ``sans objet`` (the server lacks the feature), with the real code or message.

The results go to :data:`RESULTS` (JSON, committed) and :data:`TABLE` (the markdown the
site's page ``compatibilite.qmd`` includes): the page is never written by hand.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from . import ceph, config, learners, playground

RESULTS_DIR = config.ROOT / "compatibilite"
RESULTS = RESULTS_DIR / "resultats.json"
TABLE = RESULTS_DIR / "tableau.md"
#: The libraries whose versions the results name.
LIBRARIES = ("boto3", "botocore", "s3fs", "pyarrow", "polars", "duckdb", "moto")
#: How long a short-lived session lasts (STS's minimum): the expired-token probe waits
#: for its end.
SHORT_SESSION = 900
#: A probe that takes longer than this is stopped and said to hang.
PROBE_TIMEOUT = 180
STATES = ("marche", "refusé", "autre", "erreur", "sans objet")


class Refused(Exception):
    """The server refused, and the probe checked that nothing happened."""


class Different(Exception):
    """The operation was done, but not as S3 (AWS) does it: what differed."""


class NotApplicable(Exception):
    """The server has no such feature (e.g. no STS)."""


# --------------------------------------------------------------------------- targets


@dataclass
class Target:
    """A started server as a learner sees it, with the tooling's admin access."""

    key: str  # "minio", "moto", "seaweedfs"…
    server: str  # "MinIO"…
    version: str
    scheme: str
    endpoint_url: str
    ca_file: str | None
    admin_keys: tuple[str, str]
    learner: str
    #: The learner's long-term key (an STS caller on MinIO, static keys elsewhere).
    learner_key: tuple[str, str]
    #: The learner's variables, as a service has them, for credentials of ``seconds``.
    environment: Callable[[int], dict[str, str]]
    sts: bool = True
    notes: list[str] = field(default_factory=list)
    #: The role AssumeRole names (MinIO ignores it; Ceph RGW needs a real one).
    role_arn: str = learners.ROLE_ARN


#: Starts a server over ``scheme`` in ``state`` and yields its target; stops it after.
Starter = Callable[
    [Path, str, Callable[[str], None]], contextlib.AbstractContextManager
]


@dataclass(frozen=True)
class Server:
    key: str
    label: str
    start: Starter
    #: None when it can be had here, else why not (said in the results).
    missing: Callable[[], str | None] = lambda: None


def playground_target(server: str, role_arn: str = learners.ROLE_ARN) -> Starter:
    """A server of the playground (``playground.start(server=…)``) as a target: the
    default learner, STS credentials under Onyxia's session policy; ``role_arn`` is
    the role the learner assumes there."""

    @contextlib.contextmanager
    def start(state: Path, scheme: str, log: Callable[[str], None]) -> Iterator[Target]:
        started = playground.start(
            server=server,
            state_dir=state,
            tls=scheme == "https",
            shared_data=False,
            log=log,
        )
        try:
            learner = config.DEFAULT_LEARNER
            yield Target(
                key=server,
                server=started.server,
                version=started.version,
                scheme=started.scheme,
                endpoint_url=started.endpoint_url,
                ca_file=started.ca_file,
                admin_keys=(config.PLAYGROUND_ACCESS_KEY, playground.admin_secret()),
                learner=learner,
                learner_key=(learner, started.learner_keys[learner]),
                environment=lambda seconds: started.environment(learner, seconds),
                notes=list(started.notes),
                role_arn=role_arn,
            )
        finally:
            playground.stop(state)

    return start


def _seaweedfs_start(
    state: Path, scheme: str, log: Callable[[str], None]
) -> contextlib.AbstractContextManager:
    from . import seaweedfs

    return seaweedfs.target(state, scheme, log)


def _seaweedfs_missing() -> str | None:
    from . import seaweedfs

    return seaweedfs.missing()


def _ceph_missing() -> str | None:
    """Ceph RGW is installed by the playground itself (as root): missing only where
    its packages are absent and cannot be installed."""
    absent = ceph.missing_packages()
    if absent and os.geteuid() != 0:
        return "paquets Debian absents : " + " ".join(absent)
    return None


SERVERS: dict[str, Server] = {
    "minio": Server("minio", "MinIO", playground_target("minio")),
    "ceph": Server(
        "ceph",
        "Ceph RGW",
        # Ceph asks for a real role: the learner's own, made by the playground.
        playground_target(
            "ceph", role_arn=ceph.ROLE_ARN.format(config.DEFAULT_LEARNER)
        ),
        _ceph_missing,
    ),
    "moto": Server("moto", "moto", playground_target("moto")),
    "seaweedfs": Server("seaweedfs", "SeaweedFS", _seaweedfs_start, _seaweedfs_missing),
}


# --------------------------------------------------------------------------- context


class Context:
    """What a probe works with on one target: the learner's clients, a key prefix of
    its own in the learner's bucket, the admin's client (to set up and check)."""

    def __init__(self, target: Target, probe: str, env: dict[str, str]) -> None:
        self.target = target
        self.env = env
        self.bucket = target.learner
        self.prefix = f"compat/{probe}/{uuid.uuid4().hex[:8]}/"

    def key(self, name: str) -> str:
        return self.prefix + name

    def client(
        self,
        service: str = "s3",
        keys: tuple[str, str, str | None] | None = None,
        **options: Any,
    ):
        """A boto3 client of the learner (their service's variables), or of
        ``keys`` (access key, secret, token)."""
        import boto3
        from botocore.config import Config

        if keys is None:
            keys = (
                self.env["AWS_ACCESS_KEY_ID"],
                self.env["AWS_SECRET_ACCESS_KEY"],
                self.env.get("AWS_SESSION_TOKEN") or None,
            )
        return boto3.client(
            service,
            endpoint_url=self.target.endpoint_url,
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            aws_session_token=keys[2],
            region_name=config.PLAYGROUND_REGION,
            verify=self.target.ca_file or True,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 1},
                connect_timeout=10,
                read_timeout=60,
                **options,
            ),
        )

    def s3(self, **options: Any):
        return self.client("s3", **options)

    def admin(self):
        return self.client("s3", (*self.target.admin_keys, None))

    def read(self, key: str, bucket: str | None = None) -> bytes:
        """The object's bytes, read by the admin (the check of a probe's effect); an
        object that is not there is an effect that did not happen."""
        from botocore.exceptions import ClientError

        try:
            answer = self.admin().get_object(Bucket=bucket or self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                raise Different("objet absent à la relecture") from None
            raise
        return answer["Body"].read()

    def head(self, key: str) -> dict:
        """The object's headers, read by the admin; absent: the effect is missing."""
        from botocore.exceptions import ClientError

        try:
            return self.admin().head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                raise Different("objet absent à la relecture") from None
            raise

    def exists(self, key: str, bucket: str | None = None) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.admin().head_object(Bucket=bucket or self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise
        return True

    def https_context(self) -> ssl.SSLContext | None:
        if not self.target.endpoint_url.startswith("https://"):
            return None
        return ssl.create_default_context(cafile=self.target.ca_file)

    def fetch(
        self, url: str, method: str = "GET", data: bytes | None = None
    ) -> tuple[int, bytes]:
        """A plain HTTP request (no signature but what the URL carries)."""
        # A body goes with its type, as chapter 5 sends it (urllib would otherwise say
        # application/x-www-form-urlencoded).
        headers = {"Content-Type": "text/csv"} if data is not None else {}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(
                request, timeout=30, context=self.https_context()
            ) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read()


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _code(exc: Exception) -> str:
    """The S3 error code of a botocore error, else what it says."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    return str(code) if code else str(exc)[:120]


def expect(condition: bool, what: str) -> None:
    """A probe's check of an effect: when it fails, the operation did something else."""
    if not condition:
        raise Different(what)


def payload(size: int, seed: str = "") -> bytes:
    """``size`` bytes that differ from one probe to the next."""
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def crc32(data: bytes) -> str:
    """The CRC32 of ``data`` as S3 writes it (4 bytes in base64)."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def refused_by(call: Callable[[], Any]) -> str | None:
    """The code of the error ``call`` raised, or None if it went through."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        return f"{_code(exc)} (HTTP {_status(exc)})"
    return None


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class Probe:
    key: str
    title: str
    #: Where the course teaches it.
    chapter: str
    run: Callable[[Context], str]
    scheme: str = "http"
    #: Run after the short sessions have expired (the expired-token probe).
    after_expiry: bool = False


def probe_list(ctx: Context) -> str:
    s3 = ctx.s3()
    names = ["a.csv", "b.csv", "sous/c.csv"]
    for name in names:
        s3.put_object(Bucket=ctx.bucket, Key=ctx.key(name), Body=b"x")
    listed = s3.list_objects_v2(Bucket=ctx.bucket, Prefix=ctx.prefix)
    keys = sorted(o["Key"].removeprefix(ctx.prefix) for o in listed.get("Contents", []))
    expect(keys == sorted(names), f"liste inattendue : {keys}")
    folders = s3.list_objects_v2(Bucket=ctx.bucket, Prefix=ctx.prefix, Delimiter="/")
    common = [p["Prefix"] for p in folders.get("CommonPrefixes", [])]
    expect(common == [ctx.key("sous/")], f"CommonPrefixes : {common}")
    return "3 clés, 1 dossier (Delimiter)"


def probe_list_beyond_1000(ctx: Context) -> str:
    s3 = ctx.s3()
    count = 1005
    keys = [ctx.key(f"k{i:04d}") for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(lambda k: s3.put_object(Bucket=ctx.bucket, Key=k, Body=b""), keys)
        )
    first = s3.list_objects_v2(Bucket=ctx.bucket, Prefix=ctx.prefix)
    expect(
        first["KeyCount"] == 1000 and first["IsTruncated"],
        f"1re page : {first['KeyCount']} clés, IsTruncated={first['IsTruncated']}",
    )
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=ctx.bucket, Prefix=ctx.prefix
    )
    seen = [o["Key"] for page in pages for o in page.get("Contents", [])]
    expect(seen == keys, f"{len(seen)} clés listées sur {count}")
    for start in range(0, count, 1000):
        chunk = [{"Key": k} for k in keys[start : start + 1000]]
        s3.delete_objects(Bucket=ctx.bucket, Delete={"Objects": chunk, "Quiet": True})
    return f"{count:,} clés en 2 pages (1,000 puis 5)".replace(",", "\u202f")


def probe_head(ctx: Context) -> str:
    body = payload(1234, ctx.prefix)
    ctx.admin().put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=body)
    head = ctx.s3().head_object(Bucket=ctx.bucket, Key=ctx.key("o"))
    md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
    expect(head["ContentLength"] == 1234, f"ContentLength {head['ContentLength']}")
    expect(head["ETag"] == f'"{md5}"', f"ETag {head['ETag']}")
    return "taille et ETag (MD5)"


def probe_get(ctx: Context) -> str:
    body = payload(50_000, ctx.prefix)
    ctx.admin().put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=body)
    read = ctx.s3().get_object(Bucket=ctx.bucket, Key=ctx.key("o"))["Body"].read()
    expect(read == body, f"{len(read)} octets lus, différents")
    return "octets identiques"


def probe_range(ctx: Context) -> str:
    body = payload(1000, ctx.prefix)
    ctx.admin().put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=body)
    part = ctx.s3().get_object(
        Bucket=ctx.bucket, Key=ctx.key("o"), Range="bytes=100-199"
    )
    read = part["Body"].read()
    expect(read == body[100:200], f"{len(read)} octets, pas ceux de la plage")
    expect(
        part.get("ContentRange") == "bytes 100-199/1000",
        f"Content-Range {part.get('ContentRange')}",
    )
    return "HTTP 206, 100 octets"


def probe_put(ctx: Context) -> str:
    body = payload(3000, ctx.prefix)
    ctx.s3().put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=body)
    expect(ctx.read(ctx.key("o")) == body, "objet relu différent")
    return "relu identique"


def probe_multipart(ctx: Context) -> str:
    s3 = ctx.s3()
    parts = [payload(5 * 2**20, "1" + ctx.prefix), payload(1024, "2" + ctx.prefix)]
    upload = s3.create_multipart_upload(Bucket=ctx.bucket, Key=ctx.key("o"))
    done = []
    for number, part in enumerate(parts, 1):
        answer = s3.upload_part(
            Bucket=ctx.bucket,
            Key=ctx.key("o"),
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=part,
        )
        done.append({"PartNumber": number, "ETag": answer["ETag"]})
    complete = s3.complete_multipart_upload(
        Bucket=ctx.bucket,
        Key=ctx.key("o"),
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": done},
    )
    expect(ctx.read(ctx.key("o")) == b"".join(parts), "objet relu différent")
    answered = complete.get("ETag", "").strip('"')
    if not answered:  # measured on Ceph RGW 16: the object's own ETag is right
        kept = ctx.head(ctx.key("o"))["ETag"].strip('"')
        expect(kept.endswith("-2"), f"ETag relu {kept}")
        raise Different(
            "objet relu identique, ETag « …-2 » à la relecture (HeadObject), mais vide "
            "dans la réponse de CompleteMultipartUpload"
        )
    expect(answered.endswith("-2"), f"ETag {answered}")
    return "2 parties, ETag « …-2 », relu identique"


def probe_copy(ctx: Context) -> str:
    body = payload(2000, ctx.prefix)
    s3 = ctx.s3()
    s3.put_object(Bucket=ctx.bucket, Key=ctx.key("a"), Body=body)
    s3.copy_object(
        Bucket=ctx.bucket,
        Key=ctx.key("b"),
        CopySource={"Bucket": ctx.bucket, "Key": ctx.key("a")},
    )
    expect(ctx.read(ctx.key("b")) == body, "copie relue différente")
    return "copie relue identique"


def probe_delete(ctx: Context) -> str:
    s3 = ctx.s3()
    s3.put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=b"x")
    expect(ctx.exists(ctx.key("o")), "objet absent avant la suppression")
    s3.delete_object(Bucket=ctx.bucket, Key=ctx.key("o"))
    expect(not ctx.exists(ctx.key("o")), "l'objet est toujours là")
    return "objet disparu"


def probe_delete_objects(ctx: Context) -> str:
    s3 = ctx.s3()
    keys = [ctx.key(f"{i}") for i in range(3)]
    for key in keys:
        s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"x")
    expect(all(ctx.exists(k) for k in keys), "objets absents avant la suppression")
    answer = s3.delete_objects(
        Bucket=ctx.bucket, Delete={"Objects": [{"Key": k} for k in keys]}
    )
    errors = answer.get("Errors", [])
    left = [k for k in keys if ctx.exists(k)]
    if errors and len(left) == len(keys):
        codes = sorted({e.get("Code", "?") for e in errors})
        raise Refused(
            f"HTTP {_status_of(answer)}, {len(errors)} clés dans Errors : "
            + ", ".join(codes)
        )
    expect(not errors and not left, f"Errors {errors}, restent {len(left)}")
    return f"3 clés supprimées (Deleted : {len(answer.get('Deleted', []))})"


def _status_of(answer: dict) -> int | None:
    return answer.get("ResponseMetadata", {}).get("HTTPStatusCode")


def probe_delete_objects_refused(ctx: Context) -> str:
    """DeleteObjects on an object outside the learner's space (put there by the admin):
    SSP Cloud refuses it key by key, in the body of an HTTP 200."""
    key = f"diffusion/{ctx.prefix}autrui.csv"
    ctx.admin().put_object(Bucket=config.DATA_BUCKET, Key=key, Body=b"x")
    try:
        answer = ctx.s3().delete_objects(
            Bucket=config.DATA_BUCKET, Delete={"Objects": [{"Key": key}]}
        )
        still = ctx.exists(key, config.DATA_BUCKET)
        errors = answer.get("Errors", [])
        if still:
            codes = ", ".join(sorted({e.get("Code", "?") for e in errors})) or "aucun"
            raise Refused(f"HTTP {_status_of(answer)}, Errors : {codes}")
        raise Different(
            f"supprimé (HTTP {_status_of(answer)}) : aucune politique appliquée"
        )
    finally:
        with contextlib.suppress(Exception):
            ctx.admin().delete_object(Bucket=config.DATA_BUCKET, Key=key)


def _presigned_get(ctx: Context, options: dict[str, Any]) -> str:
    body = payload(700, ctx.prefix)
    s3 = ctx.s3(**options)
    s3.put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=body)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": ctx.bucket, "Key": ctx.key("o")}, ExpiresIn=600
    )
    status, read = ctx.fetch(url)
    if status != 200:
        raise Refused(f"HTTP {status} : {_xml_code(read)}")
    expect(read == body, "octets lus différents")
    return "lu sans identifiants, identique"


def probe_presigned_get(ctx: Context) -> str:
    """A V4 link, as chapter 5 makes it (``Config(signature_version="s3v4")``)."""
    return _presigned_get(ctx, {"signature_version": "s3v4"})


def probe_presigned_get_v2(ctx: Context) -> str:
    """boto3's default link in us-east-1: signature V2, the token as
    ``x-amz-security-token``."""
    return _presigned_get(ctx, {})


def probe_presigned_put(ctx: Context) -> str:
    body = payload(700, ctx.prefix)
    url = ctx.s3(signature_version="s3v4").generate_presigned_url(
        "put_object", Params={"Bucket": ctx.bucket, "Key": ctx.key("o")}, ExpiresIn=600
    )
    status, read = ctx.fetch(url, "PUT", body)
    if status != 200:
        raise Refused(f"HTTP {status} : {_xml_code(read)}")
    expect(ctx.read(ctx.key("o")) == body, "objet relu différent")
    return "écrit sans identifiants, relu identique"


def _xml_code(body: bytes) -> str:
    text = body.decode(errors="replace")
    if "<Code>" in text:
        return text.split("<Code>", 1)[1].split("</Code>", 1)[0]
    return text[:80] or "(corps vide)"


def probe_if_none_match(ctx: Context) -> str:
    s3 = ctx.s3()
    key = ctx.key("o")
    s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"premier", IfNoneMatch="*")
    expect(ctx.read(key) == b"premier", "première écriture absente")
    refusal = refused_by(
        lambda: s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"2", IfNoneMatch="*")
    )
    expect(refusal is not None, "clé existante réécrite : condition ignorée")
    expect(ctx.read(key) == b"premier", f"{refusal}, mais l'objet a changé")
    return f"clé libre écrite ; existante : {refusal}"


def _if_match(ctx: Context, quoted: bool) -> str:
    s3 = ctx.s3()
    key = ctx.key("o")
    etag = s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"v1")["ETag"]
    tag = etag if quoted else etag.strip('"')
    s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"v2", IfMatch=tag)
    expect(ctx.read(key) == b"v2", "écriture sous condition juste absente")
    refusal = refused_by(
        lambda: s3.put_object(Bucket=ctx.bucket, Key=key, Body=b"v3", IfMatch=tag)
    )
    expect(refusal is not None, "ETag périmé accepté : condition ignorée")
    expect(ctx.read(key) == b"v2", f"{refusal}, mais l'objet a changé")
    return f"ETag juste : écrit ; périmé : {refusal}"


def probe_if_match_quoted(ctx: Context) -> str:
    return _if_match(ctx, quoted=True)


def probe_if_match_unquoted(ctx: Context) -> str:
    return _if_match(ctx, quoted=False)


def _sent_headers(client, operation: str) -> dict[str, str]:
    """Record the headers of ``operation``'s requests (filled as they are sent)."""
    seen: dict[str, str] = {}

    def record(request, **_: object) -> None:
        seen.update({k.lower(): str(v) for k, v in request.headers.items()})

    client.meta.events.register(f"before-send.s3.{operation}", record)
    return seen


def probe_checksum_put(ctx: Context) -> str:
    """boto3's default CRC32 (since 1.36), kept by the server and given back."""
    s3 = ctx.s3()
    body = payload(4096, ctx.prefix)
    sent = _sent_headers(s3, "PutObject")
    s3.put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=io.BytesIO(body))
    how = (
        "fin de flux (aws-chunked)"
        if "x-amz-trailer" in sent
        else "en-tête"
        if "x-amz-checksum-crc32" in sent
        else "sans somme"
    )
    expect(ctx.read(ctx.key("o")) == body, "objet relu différent")
    head = s3.head_object(Bucket=ctx.bucket, Key=ctx.key("o"), ChecksumMode="ENABLED")
    kept = head.get("ChecksumCRC32")
    expect(kept == crc32(body), f"CRC32 envoyé en {how}, rendu : {kept}")
    return f"CRC32 envoyé en {how}, gardé ({head.get('ChecksumType', 'sans type')})"


def probe_checksum_multipart(ctx: Context) -> str:
    """``upload_fileobj`` above 8 MiB (what chapter 9 verifies): the checksum of the
    object (COMPOSITE or FULL_OBJECT), recomputed from the bytes."""
    s3 = ctx.s3()
    body = payload(17 * 2**20, ctx.prefix)
    s3.upload_fileobj(io.BytesIO(body), ctx.bucket, ctx.key("o"))
    head = s3.head_object(Bucket=ctx.bucket, Key=ctx.key("o"), ChecksumMode="ENABLED")
    part = s3.head_object(Bucket=ctx.bucket, Key=ctx.key("o"), PartNumber=1)
    size = part["ContentLength"]
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    kind, kept = head.get("ChecksumType"), head.get("ChecksumCRC32")
    composite = crc32(b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts))
    wanted = f"{composite}-{len(parts)}" if kind == "COMPOSITE" else crc32(body)
    expect(ctx.read(ctx.key("o")) == body, "objet relu différent")
    if kept != wanted and kept == composite:
        raise Different(
            f"{len(parts)} parties ; CRC32 des parties sans « -{len(parts)} », "
            f"ChecksumType {kind or 'absent'}"
        )
    expect(
        kept == wanted,
        f"{len(parts)} parties ; rendu : {kind or 'sans type'} {kept or 'sans somme'}",
    )
    return f"{len(parts)} parties, {kind} vérifié"


def probe_checksum_full_object(ctx: Context) -> str:
    """An upload in parts that asks for a FULL_OBJECT CRC32 (the CRC32 of the whole)."""
    s3 = ctx.s3()
    parts = [payload(5 * 2**20, "1" + ctx.prefix), payload(3000, "2" + ctx.prefix)]
    upload = s3.create_multipart_upload(
        Bucket=ctx.bucket,
        Key=ctx.key("o"),
        ChecksumAlgorithm="CRC32",
        ChecksumType="FULL_OBJECT",
    )
    done = []
    for number, part in enumerate(parts, 1):
        answer = s3.upload_part(
            Bucket=ctx.bucket,
            Key=ctx.key("o"),
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=part,
            ChecksumAlgorithm="CRC32",
        )
        done.append(
            {
                "PartNumber": number,
                "ETag": answer["ETag"],
                "ChecksumCRC32": answer.get("ChecksumCRC32") or crc32(part),
            }
        )
    whole = b"".join(parts)
    s3.complete_multipart_upload(
        Bucket=ctx.bucket,
        Key=ctx.key("o"),
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": done},
        ChecksumCRC32=crc32(whole),
        ChecksumType="FULL_OBJECT",
    )
    expect(ctx.read(ctx.key("o")) == whole, "objet relu différent")
    head = s3.head_object(Bucket=ctx.bucket, Key=ctx.key("o"), ChecksumMode="ENABLED")
    kind, kept = head.get("ChecksumType"), head.get("ChecksumCRC32")
    expect(
        kind == "FULL_OBJECT" and kept == crc32(whole),
        f"rendu : {kind or 'sans type'} {kept or 'sans somme'}",
    )
    return "FULL_OBJECT gardé, CRC32 du tout"


def probe_metadata(ctx: Context) -> str:
    s3 = ctx.s3()
    s3.put_object(
        Bucket=ctx.bucket,
        Key=ctx.key("o.csv"),
        Body=b"a;b\n",
        ContentType="text/csv; charset=utf-8",
        Metadata={"source": "insee", "millesime": "2014"},
    )
    head = ctx.head(ctx.key("o.csv"))
    expect(
        head["ContentType"] == "text/csv; charset=utf-8",
        f"Content-Type {head['ContentType']}",
    )
    expect(
        head["Metadata"] == {"source": "insee", "millesime": "2014"},
        f"métadonnées {head['Metadata']}",
    )
    return "Content-Type et x-amz-meta-* relus"


def probe_bucket_policy(ctx: Context) -> str:
    """The learner opens a prefix of their bucket to anonymous reading (chapter 5), an
    anonymous GET reads it, the policy is removed, the GET is refused again."""
    from botocore.exceptions import ClientError

    s3 = ctx.s3()
    body = payload(300, ctx.prefix)
    s3.put_object(Bucket=ctx.bucket, Key=ctx.key("public.csv"), Body=body)
    url = f"{ctx.target.endpoint_url}/{ctx.bucket}/{ctx.key('public.csv')}"
    before, _ = ctx.fetch(url)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{ctx.bucket}/{ctx.prefix}*"],
            }
        ],
    }
    s3.put_bucket_policy(Bucket=ctx.bucket, Policy=json.dumps(policy))
    try:
        status, read = ctx.fetch(url)
    finally:
        try:
            removed = s3.delete_bucket_policy(Bucket=ctx.bucket)
            removal = f"HTTP {_status_of(removed)}"
        except ClientError as exc:
            removal = f"{_code(exc)} (HTTP {_status(exc)})"
    after, _ = ctx.fetch(url)
    expect(before != 200, f"lecture anonyme permise avant la politique ({before})")
    expect(status == 200 and read == body, f"lecture anonyme : HTTP {status}")
    expect(after != 200, f"retrait ({removal}) sans effet : encore lisible")
    return f"anonyme : {before} → 200 → {after} ; retrait {removal}"


def _assume_role(ctx: Context) -> dict:
    if not ctx.target.sts:
        raise NotApplicable("STS non configuré ici (clés statiques)")
    sts = ctx.client("sts", (*ctx.target.learner_key, None))
    answer = sts.assume_role(
        RoleArn=ctx.target.role_arn,
        RoleSessionName=ctx.target.learner,
        # Compact JSON, as Onyxia's web client sends it (JSON.stringify).
        Policy=json.dumps(
            learners.onyxia_policy(ctx.target.learner), separators=(",", ":")
        ),
        DurationSeconds=3600,
    )
    return answer["Credentials"]


def probe_sts(ctx: Context) -> str:
    """AssumeRole with Onyxia's session policy: the credentials write in the learner's
    bucket, and are refused outside it (checked by the admin)."""
    creds = _assume_role(ctx)
    keys = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    s3 = ctx.client("s3", keys)
    s3.put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=b"dedans")
    expect(ctx.read(ctx.key("o")) == b"dedans", "écriture dans son bucket absente")
    outside = f"diffusion/{ctx.prefix}dehors"
    try:
        refusal = refused_by(
            lambda: s3.put_object(Bucket=config.DATA_BUCKET, Key=outside, Body=b"x")
        )
        written = ctx.exists(outside, config.DATA_BUCKET)
    finally:
        with contextlib.suppress(Exception):
            ctx.admin().delete_object(Bucket=config.DATA_BUCKET, Key=outside)
    expect(
        refusal is not None and not written,
        "jetons donnés, mais écriture hors politique acceptée",
    )
    return f"jetons ; hors politique : {refusal}"


def probe_list_buckets(ctx: Context) -> str:
    answer = ctx.s3().list_buckets()
    names = sorted(b["Name"] for b in answer.get("Buckets", []))
    return f"{len(names)} bucket(s) : {', '.join(names) or 'aucun'}"


def probe_caller_identity(ctx: Context) -> str:
    if not ctx.target.sts:
        raise NotApplicable("STS non configuré ici (clés statiques)")
    answer = ctx.client("sts").get_caller_identity()
    return f"Arn {answer.get('Arn', '?')}"


def probe_expired_token(ctx: Context) -> str:
    """Credentials of :data:`SHORT_SESSION` seconds, used once they have expired
    (``ctx.env`` holds them for this probe)."""
    if not ctx.target.sts:
        raise NotApplicable("STS non configuré ici (clés statiques)")
    s3 = ctx.s3()
    refusal = refused_by(
        lambda: s3.put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=b"x")
    )
    if refusal is None:
        expect(not ctx.exists(ctx.key("o")), "jeton expiré accepté : objet écrit")
        raise Different("réponse 200 sans écriture")
    expect(not ctx.exists(ctx.key("o")), f"{refusal}, mais l'objet est écrit")
    raise Refused(refusal)


def probe_empty_token(ctx: Context) -> str:
    """The learner's long-term key with an empty ``x-amz-security-token`` header (a
    profile with an empty ``aws_session_token``, as some tools write it)."""
    s3 = ctx.client("s3", (*ctx.target.learner_key, None))

    def empty_token(request, **_: object) -> None:
        request.headers["X-Amz-Security-Token"] = ""

    s3.meta.events.register("before-sign.s3.PutObject", empty_token)
    s3.put_object(Bucket=ctx.bucket, Key=ctx.key("o"), Body=b"jeton vide")
    expect(ctx.read(ctx.key("o")) == b"jeton vide", "objet relu différent")
    return "en-tête vide ignoré, objet écrit"


def _table():
    import pyarrow as pa

    return pa.table({"codgeo": ["01001", "75056"], "med14": [22_000.5, 25_000.0]})


def _check_parquet(ctx: Context, key: str) -> None:
    import pyarrow.parquet as pq

    read = pq.read_table(io.BytesIO(ctx.read(key)))
    expect(
        read.to_pylist() == _table().to_pylist(),
        f"Parquet relu différent : {read.to_pylist()}",
    )


def probe_pyarrow(ctx: Context) -> str:
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    host = ctx.target.endpoint_url.split("://", 1)[1]
    fs = pafs.S3FileSystem(
        access_key=ctx.env["AWS_ACCESS_KEY_ID"],
        secret_key=ctx.env["AWS_SECRET_ACCESS_KEY"],
        session_token=ctx.env.get("AWS_SESSION_TOKEN") or None,
        endpoint_override=host,
        scheme=ctx.target.scheme,
        region=config.PLAYGROUND_REGION,
        connect_timeout=10,
        request_timeout=60,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
        tls_ca_file_path=ctx.target.ca_file,
    )
    pq.write_table(_table(), f"{ctx.bucket}/{ctx.key('t.parquet')}", filesystem=fs)
    _check_parquet(ctx, ctx.key("t.parquet"))
    return "write_table, relu identique"


def probe_s3fs(ctx: Context) -> str:
    import s3fs

    fs = s3fs.S3FileSystem(
        key=ctx.env["AWS_ACCESS_KEY_ID"],
        secret=ctx.env["AWS_SECRET_ACCESS_KEY"],
        token=ctx.env.get("AWS_SESSION_TOKEN") or None,
        endpoint_url=ctx.target.endpoint_url,
        client_kwargs={
            "region_name": config.PLAYGROUND_REGION,
            "verify": ctx.target.ca_file or True,
        },
        config_kwargs={"retries": {"total_max_attempts": 1}},
        skip_instance_cache=True,
    )
    body = payload(2000, ctx.prefix)
    fs.pipe_file(f"{ctx.bucket}/{ctx.key('o')}", body)
    expect(ctx.read(ctx.key("o")) == body, "objet relu différent")
    expect(fs.cat_file(f"{ctx.bucket}/{ctx.key('o')}") == body, "cat_file différent")
    return "pipe_file et cat_file, identiques"


def probe_polars(ctx: Context) -> str:
    import polars as pl

    options = {
        "aws_access_key_id": ctx.env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": ctx.env["AWS_SECRET_ACCESS_KEY"],
        "aws_endpoint_url": ctx.target.endpoint_url,
        "aws_region": config.PLAYGROUND_REGION,
        "aws_allow_http": "true",
    }
    if ctx.env.get("AWS_SESSION_TOKEN"):
        options["aws_session_token"] = ctx.env["AWS_SESSION_TOKEN"]
    url = f"s3://{ctx.bucket}/{ctx.key('t.parquet')}"
    frame = pl.from_arrow(_table())
    assert isinstance(frame, pl.DataFrame)
    frame.write_parquet(url, storage_options=options)
    _check_parquet(ctx, ctx.key("t.parquet"))
    read = pl.read_parquet(url, storage_options=options)
    expect(read.equals(frame), "read_parquet différent")
    return "write_parquet et read_parquet, identiques"


def probe_duckdb(ctx: Context) -> str:
    import duckdb

    host = ctx.target.endpoint_url.split("://", 1)[1]
    with tempfile.TemporaryDirectory(prefix="s3cours-duckdb-") as home:
        con = duckdb.connect(
            config={"extension_directory": str(Path(home) / "extensions")}
        )
        try:
            playground.install_duckdb_extensions(con, ("httpfs",))
            con.load_extension("httpfs")
            con.execute(
                "CREATE SECRET compat (TYPE S3, KEY_ID $cle, SECRET $secret, "
                "SESSION_TOKEN $jeton, REGION $region, ENDPOINT $hote, "
                "URL_STYLE 'path', USE_SSL $ssl)",
                {
                    "cle": ctx.env["AWS_ACCESS_KEY_ID"],
                    "secret": ctx.env["AWS_SECRET_ACCESS_KEY"],
                    "jeton": ctx.env.get("AWS_SESSION_TOKEN", ""),
                    "region": config.PLAYGROUND_REGION,
                    "hote": host,
                    "ssl": ctx.target.scheme == "https",
                },
            )
            url = f"s3://{ctx.bucket}/{ctx.key('t.parquet')}"
            con.execute(
                f"COPY (SELECT * FROM (VALUES ('01001', 22000.5), ('75056', 25000.0))"
                f" t(codgeo, med14)) TO '{url}' (FORMAT parquet)"
            )
            rows = con.execute(f"SELECT count(*) FROM '{url}'").fetchone()
        finally:
            con.close()
    expect(rows == (2,), f"relu : {rows}")
    _check_parquet(ctx, ctx.key("t.parquet"))
    return "COPY … TO puis lecture, 2 lignes"


PROBES: tuple[Probe, ...] = (
    Probe("lister", "Lister (ListObjectsV2, Delimiter)", "02", probe_list),
    Probe(
        "lister-1000",
        "Lister au-delà de 1 000 clés (pagination)",
        "02",
        probe_list_beyond_1000,
    ),
    Probe("head", "Taille et ETag (HeadObject)", "02", probe_head),
    Probe("get", "Lire un objet (GetObject)", "02", probe_get),
    Probe("plage", "Lire une plage d'octets (Range)", "06", probe_range),
    Probe("put", "Écrire un objet (PutObject)", "03", probe_put),
    Probe(
        "plusieurs-parties",
        "Envoi en plusieurs parties (multipart)",
        "06",
        probe_multipart,
    ),
    Probe("copie", "Copier (CopyObject)", "03", probe_copy),
    Probe("suppression", "Supprimer (DeleteObject)", "03", probe_delete),
    Probe(
        "suppression-lot",
        "Supprimer par lot (DeleteObjects)",
        "09",
        probe_delete_objects,
    ),
    Probe(
        "suppression-lot-refus",
        "DeleteObjects hors de son espace : corps d'erreurs",
        "09",
        probe_delete_objects_refused,
    ),
    Probe("presigne-get", "Lien présigné GET (V4)", "05", probe_presigned_get),
    Probe(
        "presigne-get-v2",
        "Lien présigné GET, V2 (défaut de boto3)",
        "05",
        probe_presigned_get_v2,
    ),
    Probe("presigne-put", "Lien présigné PUT (V4)", "05", probe_presigned_put),
    Probe(
        "si-absente",
        'Écriture conditionnelle IfNoneMatch="*"',
        "09",
        probe_if_none_match,
    ),
    Probe(
        "si-etag-guillemets",
        "IfMatch, ETag entre guillemets (tel que rendu)",
        "09",
        probe_if_match_quoted,
    ),
    Probe(
        "si-etag-nu",
        "IfMatch, ETag sans guillemets",
        "09",
        probe_if_match_unquoted,
    ),
    Probe(
        "crc32-http",
        "CRC32 par défaut de boto3, en http",
        "07",
        probe_checksum_put,
        "http",
    ),
    Probe(
        "crc32-https",
        "CRC32 par défaut de boto3, en https",
        "07",
        probe_checksum_put,
        "https",
    ),
    Probe(
        "crc32-parties",
        "Somme de contrôle d'un envoi en parties (upload_fileobj)",
        "09",
        probe_checksum_multipart,
        "https",
    ),
    Probe(
        "crc32-full-object",
        "ChecksumType FULL_OBJECT demandé",
        "09",
        probe_checksum_full_object,
        "https",
    ),
    Probe(
        "metadonnees",
        "Métadonnées et Content-Type",
        "03",
        probe_metadata,
    ),
    Probe(
        "politique-anonyme",
        "Politique de bucket : lecture anonyme, puis retrait",
        "05",
        probe_bucket_policy,
    ),
    Probe(
        "sts",
        "STS AssumeRole, politique de session d'Onyxia",
        "01",
        probe_sts,
    ),
    Probe("liste-buckets", "ListBuckets avec un jeton STS", "01", probe_list_buckets),
    Probe("identite", "STS GetCallerIdentity", "07", probe_caller_identity),
    Probe(
        "jeton-expire",
        "Jeton de session expiré",
        "07",
        probe_expired_token,
        after_expiry=True,
    ),
    Probe("jeton-vide", "En-tête de jeton vide", "01", probe_empty_token),
    Probe("pyarrow-http", "pyarrow : écrire un Parquet, http", "04", probe_pyarrow),
    Probe(
        "pyarrow-https",
        "pyarrow : écrire un Parquet, https",
        "04",
        probe_pyarrow,
        "https",
    ),
    Probe("s3fs-http", "s3fs : écrire et lire, http", "03", probe_s3fs),
    Probe("s3fs-https", "s3fs : écrire et lire, https", "03", probe_s3fs, "https"),
    Probe("polars", "polars : écrire et lire un Parquet", "04", probe_polars),
    Probe("duckdb", "duckdb : COPY … TO et lecture", "04", probe_duckdb),
)


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Cell:
    state: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"etat": self.state, "detail": self.detail}


def run_probe(probe: Probe, ctx: Context, timeout: float = PROBE_TIMEOUT) -> Cell:
    """One probe on one target, its outcome as a cell. A probe that hangs is left in
    its thread (a daemon) and said to hang."""
    outcome: list[Cell] = []

    def body() -> None:
        outcome.append(_outcome(probe, ctx))

    thread = threading.Thread(target=body, daemon=True, name=f"sonde-{probe.key}")
    thread.start()
    thread.join(timeout)
    if not outcome:
        return Cell("erreur", f"aucune réponse en {timeout:.0f} s (bloqué)")
    return outcome[0]


def _outcome(probe: Probe, ctx: Context) -> Cell:
    from botocore.exceptions import ClientError

    try:
        return Cell("marche", probe.run(ctx))
    except Refused as exc:
        return Cell("refusé", str(exc))
    except Different as exc:
        return Cell("autre", str(exc))
    except NotApplicable as exc:
        return Cell("sans objet", str(exc))
    except ClientError as exc:
        return Cell("refusé", f"{_code(exc)} (HTTP {_status(exc)})")
    except Exception as exc:  # noqa: BLE001 - any failure is the cell's content
        message = " ".join(str(exc).split())
        return Cell("erreur", f"{type(exc).__name__} : {message[:160]}")


def libraries() -> dict[str, str]:
    return {name: package_version(name) for name in LIBRARIES}


def run(
    servers: list[str],
    log: Callable[[str], None],
    wait_expiry: bool = True,
    probes: tuple[Probe, ...] = PROBES,
) -> dict:
    """Start each server (http and https, private state folders, free ports), run
    every probe, stop everything; return the results."""
    started_at = time.monotonic()
    date = dt.datetime.now(dt.UTC)
    results: dict[str, dict[str, dict[str, str]]] = {p.key: {} for p in probes}
    described: dict[str, dict] = {}
    with contextlib.ExitStack() as stack:
        short: dict[str, tuple[Target, dict[str, str], float]] = {}
        targets: dict[tuple[str, str], Target] = {}
        for key in servers:
            server = SERVERS[key]
            missing = server.missing()
            if missing:
                log(f"{server.label} : indisponible ({missing})")
                described[key] = {"nom": server.label, "absent": missing}
                for probe in probes:
                    results[probe.key][key] = Cell("sans objet", missing).as_dict()
                continue
            try:
                for scheme in ("http", "https"):
                    state = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                    begun = time.monotonic()
                    target = stack.enter_context(server.start(state, scheme, log))
                    log(
                        f"{server.label} {target.version} sur {target.endpoint_url} "
                        f"({time.monotonic() - begun:.1f} s)"
                    )
                    targets[key, scheme] = target
            except Exception as exc:  # noqa: BLE001 - said in the results
                reason = "démarrage impossible : " + " ".join(str(exc).split())[:200]
                log(f"{server.label} : {reason}")
                described[key] = {"nom": server.label, "absent": reason}
                for probe in probes:
                    results[probe.key][key] = Cell("sans objet", reason).as_dict()
                continue
            target = targets[key, "http"]
            described[key] = {
                "nom": target.server,
                "version": target.version,
                "sts": target.sts,
                "notes": target.notes,
            }
            if target.sts:
                short[key] = (target, target.environment(SHORT_SESSION), time.time())
        for key in servers:
            if key not in described or "absent" in described[key]:
                continue
            envs = {
                s: targets[key, s].environment(learners.SESSION_SECONDS)
                for s in ("http", "https")
            }
            for probe in probes:
                if probe.after_expiry:
                    continue
                target = targets[key, probe.scheme]
                cell = run_probe(probe, Context(target, probe.key, envs[probe.scheme]))
                log(f"  {target.server} {probe.key} : {cell.state} ({cell.detail})")
                results[probe.key][key] = cell.as_dict()
        expiring = [p for p in probes if p.after_expiry]
        if expiring and short and wait_expiry:
            wait = max(
                t0 + SHORT_SESSION + 5 - time.time() for _, _, t0 in short.values()
            )
            if wait > 0:
                log(f"Attente de l'expiration des jetons courts : {wait:.0f} s…")
                time.sleep(wait)
        for key in servers:
            if key not in described or "absent" in described[key]:
                continue
            for probe in expiring:
                if key in short and wait_expiry:
                    target, env, _ = short[key]
                    cell = run_probe(probe, Context(target, probe.key, env))
                elif key in short:
                    cell = Cell("sans objet", "non mesuré (sans attente)")
                else:
                    target = targets[key, probe.scheme]
                    cell = run_probe(probe, Context(target, probe.key, {}))
                log(f"  {described[key]['nom']} {probe.key} : {cell.state}")
                results[probe.key][key] = cell.as_dict()
    return {
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "duree_s": round(time.monotonic() - started_at),
        "bibliotheques": libraries(),
        "serveurs": {k: described[k] for k in servers},
        "sondes": [
            {
                "id": p.key,
                "titre": p.title,
                "chapitre": p.chapter,
                "schema": p.scheme,
            }
            for p in probes
        ],
        "resultats": results,
    }


# --------------------------------------------------------------------------- the page


def markdown(results: dict) -> str:
    """The page's table and its legend, from the results alone."""
    servers = results["serveurs"]
    keys = list(servers)
    lines = [
        (
            "<!-- Généré par ./cours compat à partir de compatibilite/resultats.json : "
            "ne pas modifier à la main. -->"
        ),
        "",
        (
            f"Exécution du {_french_date(results['date'])}, en "
            f"{_duration(results['duree_s'])}."
        ),
        "",
        "| Serveur | Version | Remarques |",
        "|---|---|---|",
    ]
    for key in keys:
        server = servers[key]
        if "absent" in server:
            lines.append(f"| {server['nom']} | non démarré | {server['absent']} |")
            continue
        notes = " ".join(server.get("notes", [])) or "—"
        lines.append(f"| {server['nom']} | {server['version']} | {_escape(notes)} |")
    libs = ", ".join(f"{n} {v}" for n, v in results["bibliotheques"].items())
    lines += ["", f"Bibliothèques : {libs}.", ""]
    header = "| Opération | Chap. | " + " | ".join(servers[k]["nom"] for k in keys)
    lines += [header + " |", "|---|---|" + "---|" * len(keys)]
    for probe in results["sondes"]:
        cells = [_cell(results["resultats"][probe["id"]][key]) for key in keys]
        scheme = " (https)" if probe["schema"] == "https" else ""
        title = _escape(probe["titre"]) + ("" if "https" in probe["titre"] else scheme)
        chapter = _chapter_link(probe["chapitre"])
        lines.append(f"| {title} | {chapter} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _chapter_link(number: str) -> str:
    """``NN`` as a link to the chapter's page (its notebook, as the site names it)."""
    sources = sorted(config.CONTENT_DIR.glob(f"{number}_*.Rmd"))
    if not sources:
        return number
    return f"[{number}](notebooks/{sources[0].stem}.ipynb)"


def _cell(cell: dict[str, str]) -> str:
    return f"**{cell['etat']}** : {_escape(cell['detail'])}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("*", "\\*")


def _french_date(date: str) -> str:
    day, hour, _ = date.split(" ")
    year, month, number = day.split("-")
    months = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ]
    return f"{int(number)} {months[int(month) - 1]} {year} à {hour} UTC"


def _duration(seconds: int) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def write(results: dict, folder: Path = RESULTS_DIR) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / RESULTS.name
    data.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    table = folder / TABLE.name
    table.write_text(markdown(results))
    return data, table
