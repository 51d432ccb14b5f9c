"""Every fault a learner meets gets a short explanation, whatever the library; a failed
upload leaves no partial object."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path

import boto3
import nbformat
import pytest
import s3fs
from botocore.config import Config
from pyarrow import fs as pafs

from s3cours import config, diagnostic, notebooks, playground

#: One attempt in all ({"max_attempts": 1} would allow one retry).
FAST = {"connect_timeout": 3, "read_timeout": 3, "retries": {"total_max_attempts": 1}}


def clients(url: str, secret: str, token: str | None) -> tuple:
    """A boto3 client, an s3fs and a pyarrow file system for ``url``, with the
    environment's key id and the given secret and token, each making one attempt."""
    key = os.environ["AWS_ACCESS_KEY_ID"]
    client = boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=key,
        region_name="us-east-1",
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(**FAST),
    )
    fs = s3fs.S3FileSystem(
        endpoint_url=url,
        key=key,
        secret=secret,
        token=token,
        skip_instance_cache=True,
        config_kwargs=FAST,
    )
    arrow = pafs.S3FileSystem(
        endpoint_override=url,
        access_key=key,
        secret_key=secret,
        session_token=token,
        region="us-east-1",
        connect_timeout=3,
        request_timeout=3,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
    )
    return client, fs, arrow


def listers(
    url: str, secret: str, token: str | None
) -> dict[str, Callable[[], object]]:
    """The same listing with each library, with the given endpoint and credentials."""
    client, fs, arrow = clients(url, secret, token)
    return {
        "boto3": lambda: client.list_objects_v2(Bucket=config.DATA_BUCKET),
        "s3fs": lambda: fs.ls(f"{config.DATA_BUCKET}/diffusion", refresh=True),
        "pyarrow": lambda: arrow.get_file_info(
            pafs.FileSelector(f"{config.DATA_BUCKET}/diffusion")
        ),
    }


def diagnosis_of(call: Callable[[], object]) -> str:
    with pytest.raises(Exception) as caught:
        call()
    found = diagnostic.diagnose(caught.value)
    assert found is not None, f"{type(caught.value).__name__}: {caught.value}"
    return found.what


LIBRARIES = ("boto3", "s3fs", "pyarrow")


@pytest.mark.parametrize("library", LIBRARIES)
def test_wrong_secret(library: str, session_endpoint_url: str) -> None:
    # With the environment's token: temporary keys (the twin's learner) need theirs.
    call = listers(
        session_endpoint_url, "mauvais-secret", os.environ.get("AWS_SESSION_TOKEN")
    )[library]
    assert "clé secrète" in diagnosis_of(call)


@pytest.mark.parametrize("library", LIBRARIES)
def test_invalid_or_expired_session_token(
    library: str, session_endpoint_url: str
) -> None:
    call = listers(
        session_endpoint_url, os.environ["AWS_SECRET_ACCESS_KEY"], "jeton-expire"
    )[library]
    assert "jeton de session" in diagnosis_of(call)


@pytest.mark.parametrize("library", LIBRARIES)
def test_https_on_an_http_endpoint(library: str, session_endpoint_url: str) -> None:
    url = session_endpoint_url.replace("http://", "https://")
    call = listers(url, os.environ["AWS_SECRET_ACCESS_KEY"], None)[library]
    assert "https" in diagnosis_of(call)


@pytest.mark.parametrize("library", LIBRARIES)
def test_server_stopped_mid_notebook(library: str, state_dir: Path) -> None:
    started = playground.start(server="moto", state_dir=state_dir, log=lambda _: None)
    calls = listers(started.endpoint_url, playground.admin_secret(), None)
    calls[library]()  # works while the server runs
    playground.stop(state_dir)
    assert "ne répond pas" in diagnosis_of(calls[library])


@pytest.mark.parametrize("library", ["boto3", "pyarrow"])
def test_a_server_that_stays_silent(library: str) -> None:
    """A server that accepts the connection and never answers (a busy one assembling a
    big object): the library's read timeout gets its own explanation, not "server down".
    (s3fs, through aiohttp, reports a connect timeout there: "ne répond pas" is
    right.)"""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        assert "rien envoyé" in diagnosis_of(
            listers(url, os.environ["AWS_SECRET_ACCESS_KEY"], None)[library]
        )


def test_missing_key_and_bucket(session_endpoint_url: str) -> None:
    client = boto3.client("s3", endpoint_url=session_endpoint_url)
    fs = s3fs.S3FileSystem(endpoint_url=session_endpoint_url, skip_instance_cache=True)
    # Under diffusion/, where a learner may list: a missing key is told as such
    # (elsewhere in the bucket, the server says AccessDenied, as S3 does to whom may not
    # list).
    absent = config.DATA_PREFIX + "absent.csv"
    key = lambda: client.get_object(Bucket=config.DATA_BUCKET, Key=absent)  # noqa: E731
    assert "Aucun objet" in diagnosis_of(key)
    assert "Aucun objet" in diagnosis_of(
        lambda: fs.open(f"{config.DATA_BUCKET}/{absent}").read()
    )

    # Listing under diffusion/, which a learner may do in any bucket: the server then
    # says the bucket is missing (elsewhere it refuses first, AccessDenied).
    def missing():
        return client.list_objects_v2(Bucket="absent", Prefix="diffusion/")

    assert "bucket n'existe pas" in diagnosis_of(missing)
    assert "bucket n'existe pas" in diagnosis_of(lambda: fs.ls("absent/diffusion"))


def test_a_plain_script_explains_with_one_line(
    session_endpoint_url: str, tmp_path: Path
) -> None:
    """In a script (no IPython), the documented line adds the French explanation under
    Python's traceback, on the error output; a script without it shows only the
    traceback, and an error that is not S3's gets nothing added."""
    import subprocess
    import sys

    body = (
        "import boto3\n"
        f"s3 = boto3.client('s3', endpoint_url={session_endpoint_url!r})\n"
        "s3.list_objects_v2(Bucket='absent', Prefix='diffusion/')\n"
    )
    for line, explained in (
        ("from s3cours.diagnostic import install; install()\n", True),
        ("", False),
    ):
        script = tmp_path / "script.py"
        script.write_text(line + body)
        run = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 1
        assert "NoSuchBucket" in run.stderr
        assert ("bucket n'existe pas" in run.stderr) is explained, run.stderr[-800:]
    script.write_text(
        "from s3cours.diagnostic import install; install()\n"
        "open('/nonexistent/fichier.csv')\n"
    )
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60
    )
    assert "FileNotFoundError" in run.stderr and "➜" not in run.stderr


def test_unknown_errors_are_left_alone() -> None:
    assert diagnostic.diagnose(ValueError("rien à voir")) is None


def test_a_failed_upload_leaves_no_partial_object(session_endpoint_url: str) -> None:
    from boto3.s3.transfer import TransferConfig

    part_sent = threading.Event()

    class Interrupted(io.RawIOBase):
        """A 12 MiB source whose reading fails after 6 MiB (disk error, share lost)."""

        def __init__(self) -> None:
            self.position = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # noqa: ANN001
            if self.position > 6 * 2**20:
                part_sent.wait(30)  # fail only once a first part is on the server
                raise OSError("lecture interrompue")
            size = min(len(buffer), 12 * 2**20 - self.position)
            buffer[:size] = b"x" * size
            self.position += size
            return size

    client = boto3.client("s3", endpoint_url=session_endpoint_url)
    parts: list[int] = []

    def uploaded(**_: object) -> None:
        parts.append(1)
        part_sent.set()

    client.meta.events.register("after-call.s3.UploadPart", uploaded)
    key = "tests/televersement-interrompu.bin"
    small_parts = TransferConfig(
        multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20, max_concurrency=1
    )
    with pytest.raises(OSError, match="lecture interrompue"):
        client.upload_fileobj(
            Interrupted(), config.LEARNER_BUCKET, key, Config=small_parts
        )
    assert parts, "l'interruption doit survenir après l'envoi d'au moins une partie"
    listed = client.list_objects_v2(Bucket=config.LEARNER_BUCKET, Prefix=key).get(
        "Contents", []
    )
    assert listed == [], "objet partiel visible"
    pending = client.list_multipart_uploads(Bucket=config.LEARNER_BUCKET, Prefix=key)
    assert pending.get("Uploads", []) == [], (
        "parties orphelines laissées sur le serveur"
    )


def test_the_setup_cell_makes_the_kernel_explain_s3_errors_and_only_them(
    session_endpoint_url: str,
) -> None:
    """In a real kernel, after the chapters' own setup cell: an S3 error is followed by
    its explanation; a local file error or a Python mistake is shown as usual, with
    nothing added."""
    cells = [
        notebooks.setup_cell(notebooks.sources()[0]),
        "s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:1', "
        "region_name='us-east-1',\n"
        "                  config=Config(retries={'total_max_attempts': 1}))\n"
        "s3.list_objects_v2(Bucket='donnees-insee')",
        "open('/nulle/part/FILOSOFI_COM.csv')",
        "1 / 0",
    ]
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import boto3\nfrom botocore.config import Config"
            )
        ]
        + [
            nbformat.v4.new_code_cell(
                code, metadata={"tags": ["raises-exception"]} if i else {}
            )
            for i, code in enumerate(cells)
        ]
    )
    nb.metadata["kernelspec"] = notebooks.KERNELSPEC
    notebooks.execute(nb, dict(os.environ))
    outputs = [cell.outputs for cell in nb.cells[2:]]
    assert [[o.output_type for o in out] for out in outputs] == [
        ["error", "stream"],
        ["error"],
        ["error"],
    ]
    assert outputs[0][0].ename == "EndpointConnectionError"
    assert "ne répond pas" in outputs[0][1].text and "À faire" in outputs[0][1].text
    assert [out[0].ename for out in outputs[1:]] == [
        "FileNotFoundError",
        "ZeroDivisionError",
    ]


# -------------------------------------------------------------------------- 403 on HEAD


def head_readers(url: str, secret: str) -> dict[str, Callable[[str, str], object]]:
    """Each library's call that starts with a HEAD request, on ``bucket``/``key``."""
    import pandas as pd

    key_id, token = os.environ["AWS_ACCESS_KEY_ID"], os.environ.get("AWS_SESSION_TOKEN")
    client, fs, arrow = clients(url, secret, token)
    options = {
        "endpoint_url": url,
        "key": key_id,
        "secret": secret,
        "token": token,
        "skip_instance_cache": True,
    }
    return {
        "boto3 head_object": lambda b, k: client.head_object(Bucket=b, Key=k),
        "s3fs info": lambda b, k: fs.info(f"{b}/{k}"),
        "pyarrow get_file_info": lambda b, k: arrow.get_file_info(f"{b}/{k}"),
        "pandas read_csv": lambda b, k: pd.read_csv(
            f"s3://{b}/{k}", storage_options=options
        ),
    }


HEAD_CALLS = tuple(head_readers("http://127.0.0.1:1", "x"))
#: The checksum settings of the chapters' setup cell (for Ceph RGW 16).
COURSE_CHECKSUMS = (
    "AWS_REQUEST_CHECKSUM_CALCULATION",
    "AWS_RESPONSE_CHECKSUM_VALIDATION",
)


def _both_causes(what: str) -> None:
    assert "sans motif" in what and "clé secrète ou un jeton faux" in what, what
    assert "droit qui vous manque" in what, what


@pytest.mark.parametrize("call", HEAD_CALLS)
def test_a_403_on_head_with_a_wrong_secret_names_both_causes(
    call: str, session_endpoint_url: str
) -> None:
    """A learner's case: a wrong secret on a HEAD was explained as a missing right."""
    read = head_readers(session_endpoint_url, "mauvais-secret")[call]
    _both_causes(
        diagnosis_of(lambda: read(config.DATA_BUCKET, config.FILOSOFI_CSV_KEY))
    )


@pytest.mark.parametrize("call", HEAD_CALLS)
def test_a_403_on_head_for_a_missing_right_names_both_causes(
    call: str, session_endpoint_url: str
) -> None:
    """Onyxia's policy: a learner reads ``donnees-insee`` only under ``diffusion/``."""
    if not os.environ.get("AWS_SESSION_TOKEN"):
        pytest.fail(
            "Ce test demande les identifiants d'un apprenant (lancez `./cours test`)."
        )
    read = head_readers(session_endpoint_url, os.environ["AWS_SECRET_ACCESS_KEY"])[call]
    _both_causes(
        diagnosis_of(
            lambda: read(config.DATA_BUCKET, "hors-diffusion/FILOSOFI_COM.csv")
        )
    )


@pytest.mark.parametrize(
    ("secret", "key", "cause"),
    [
        (None, "hors-diffusion/FILOSOFI_COM.csv", "Accès refusé"),
        ("mauvais-secret", config.FILOSOFI_CSV_KEY, "clé secrète"),
    ],
    ids=["droit manquant", "secret faux"],
)
def test_download_file_under_the_course_settings_names_its_cause(
    secret: str | None,
    key: str,
    cause: str,
    session_endpoint_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the setup cell's checksum settings (``when_required``), boto3's
    ``download_file`` starts with a GET, not a HEAD (measured with boto3 1.43): its
    403 carries an error code, and the explanation names the one cause."""
    for name in COURSE_CHECKSUMS:
        monkeypatch.setenv(name, "when_required")
    client = clients(
        session_endpoint_url,
        secret or os.environ["AWS_SECRET_ACCESS_KEY"],
        os.environ.get("AWS_SESSION_TOKEN"),
    )[0]
    what = diagnosis_of(
        lambda: client.download_file(config.DATA_BUCKET, key, os.devnull)
    )
    assert cause in what and "sans motif" not in what, what


def test_a_403_with_an_error_code_keeps_its_precise_explanation(
    session_endpoint_url: str,
) -> None:
    """A request with a body in its answer (a list) still says which cause it is."""
    lister = listers(
        session_endpoint_url, "mauvais-secret", os.environ.get("AWS_SESSION_TOKEN")
    )
    assert "clé secrète" in diagnosis_of(lister["boto3"])
    assert "sans motif" not in diagnosis_of(lister["boto3"])


def test_every_explanation_points_to_its_section_of_the_troubleshooting_page() -> None:
    """Under each error, the explanation names the page that explains it (the
    troubleshooting page, or the Spark chapter for Spark's connector), and the section
    that raises the same fault, by the start of its heading."""
    sections = [d for _, d in diagnostic.RULES if d.section]
    assert len(sections) >= 10
    for diagnosis in sections:
        page = config.CONTENT_DIR / diagnosis.notebook.replace(".ipynb", ".Rmd")
        headings = [
            line.lstrip("#").strip().replace("`", "")
            for line in page.read_text().splitlines()
            if line.startswith(("## ", "### "))
        ]
        assert any(h.startswith(diagnosis.section) for h in headings), (
            diagnosis.section,
            headings,
        )
    for _, found in diagnostic.RULES:
        assert found.notebook in str(found)
        assert (found.notebook == diagnostic.TROUBLESHOOTING) == (
            found.page == "Dépannage"
        )


# ----------------------------------------------- « Recettes du quotidien » : refusals


def _learner_clients(url: str) -> tuple:
    """The learner's boto3 client, s3fs and pandas options (the run's credentials)."""
    if not os.environ.get("AWS_SESSION_TOKEN"):
        pytest.fail(
            "Ce test demande les identifiants d'un apprenant (lancez `./cours test`)."
        )
    client = boto3.client("s3", endpoint_url=url, config=Config(**FAST))
    fs = s3fs.S3FileSystem(endpoint_url=url, skip_instance_cache=True)
    return client, fs, {"endpoint_url": url, "skip_instance_cache": True}


def test_a_conditional_write_that_fails_is_explained_whatever_the_library(
    session_endpoint_url: str,
) -> None:
    """« Écrire sans écraser » : IfNoneMatch on a taken key (boto3, s3fs's
    mode="create", pandas' mode="x"), IfMatch on a stale ETag: 412, explained; the
    object in place is left as it was."""
    import pandas as pd

    client, fs, options = _learner_clients(session_endpoint_url)
    key = "tests/ecriture-conditionnelle.csv"
    path = f"{config.LEARNER_BUCKET}/{key}"
    client.put_object(Bucket=config.LEARNER_BUCKET, Key=key, Body=b"a;b\n1;2\n")
    try:
        stale = client.head_object(Bucket=config.LEARNER_BUCKET, Key=key)["ETag"]
        client.put_object(
            Bucket=config.LEARNER_BUCKET, Key=key, Body=b"a;b\n3;4\n", IfMatch=stale
        )
        writes = {
            "boto3 IfNoneMatch": lambda: client.put_object(
                Bucket=config.LEARNER_BUCKET, Key=key, Body=b"x", IfNoneMatch="*"
            ),
            "boto3 IfMatch": lambda: client.put_object(
                Bucket=config.LEARNER_BUCKET, Key=key, Body=b"x", IfMatch=stale
            ),
            "s3fs create": lambda: fs.pipe_file(path, b"x", mode="create"),
            "s3fs xb": lambda: fs.pipe(path, b"x", mode="create"),
            "pandas x": lambda: pd.DataFrame({"a": [1]}).to_csv(
                f"s3://{path}", mode="x", storage_options=options
            ),
        }
        for name, write in writes.items():
            with pytest.raises(Exception) as caught:
                write()
                pytest.fail(f"{name} : écrit malgré la condition")
            found = diagnostic.explain(caught.value)
            assert found is not None, (name, repr(caught.value))
            assert "412 PreconditionFailed" in found.what, name
            assert found.section == "Écrire sans écraser", name
        body = client.get_object(Bucket=config.LEARNER_BUCKET, Key=key)["Body"].read()
        assert body == b"a;b\n3;4\n", "un refus ne doit rien écrire"
    finally:
        client.delete_object(Bucket=config.LEARNER_BUCKET, Key=key)


def _refused(response: dict) -> RuntimeError | None:
    """The chapters' check of a DeleteObjects answer (their clean-up cells)."""
    refus = response.get("Errors", [])
    if not refus:
        return None
    return RuntimeError(
        f"objets non supprimés : {len(refus)}, dont {refus[0]['Key']} : "
        f"{refus[0]['Code']} ({refus[0].get('Message', '')})"
    )


def test_a_deletion_refused_inside_a_200_answer_is_explained(
    session_endpoint_url: str,
) -> None:
    """A DeleteObjects answer is 200 with the refused keys in ``Errors``; the chapters'
    check raises a RuntimeError of its own (no S3 library in its traceback), which
    the course still explains, as a partial deletion; other errors of the chapters'
    own code are left alone."""
    client, _, _ = _learner_clients(session_endpoint_url)
    refused_key = config.DATA_PREFIX + "cours-python-s3-jamais-cree.csv"
    response = client.delete_objects(
        Bucket=config.DATA_BUCKET, Delete={"Objects": [{"Key": refused_key}]}
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    error = _refused(response)
    assert error is not None, response
    with pytest.raises(RuntimeError) as caught:
        raise error
    assert not diagnostic.from_s3_library(caught.value)
    found = diagnostic.explain(caught.value)
    assert found is diagnostic.PARTIAL_DELETE_DIAGNOSIS
    assert "AccessDenied" in str(caught.value) and refused_key in str(caught.value)
    assert diagnostic.explain(RuntimeError("2 objets à supprimer")) is None
    # A whole request refused keeps the plain explanation of a refusal.
    from botocore.exceptions import ClientError

    whole = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "Access Denied."}},
        "DeleteObjects",
    )
    assert diagnostic.diagnose(whole).what.startswith("Accès refusé")


def test_the_partial_deletion_explanation_points_to_its_section() -> None:
    found = diagnostic.PARTIAL_DELETE_DIAGNOSIS
    page = config.CONTENT_DIR / found.notebook.replace(".ipynb", ".Rmd")
    assert f"## {found.section}\n" in page.read_text()
    assert found.page == "Recettes du quotidien" and found.notebook in str(found)


def test_a_conflict_between_conditional_writes_is_explained() -> None:
    from botocore.exceptions import ClientError

    conflict = ClientError(
        {"Error": {"Code": "ConditionalRequestConflict", "Message": "conflict"}},
        "PutObject",
    )
    found = diagnostic.diagnose(conflict)
    assert found is not None and "409" in found.what
    assert found.notebook == "09_recettes.ipynb"


def test_every_chapters_refusal_check_gets_the_partial_deletion_explanation() -> None:
    """The clean-up cells' check (chapters 3, 5, 8, 9…) raises a message built by two
    f-strings; built here from each chapter's own lines, it gets the explanation."""
    import re

    refus = [{"Key": "diffusion/x.csv", "Code": "AccessDenied", "Message": "Refusé."}]
    found = 0
    for source in notebooks.sources():
        for first, second in re.findall(
            r'^\s*(f"objets non supprimés : \{len\(refus\)\}.*")\n\s*(f".*")$',
            source.read_text(),
            re.MULTILINE,
        ):
            message = eval(first, {}, {"refus": refus}) + eval(  # noqa: S307
                second, {}, {"refus": refus}
            )
            assert (
                diagnostic.explain(RuntimeError(message))
                is diagnostic.PARTIAL_DELETE_DIAGNOSIS
            ), (source.name, message)
            found += 1
    assert found >= 4


# ----------------------------------------------- Ceph RGW : STS, expiry, missing keys


def _sts_refusal(body: bytes) -> Exception:
    """The ClientError botocore raises for an AssumeRole refused with ``body``: its own
    query parser reads the body, as when the server sends it."""
    import botocore.session
    from botocore import parsers
    from botocore.exceptions import ClientError

    operation = botocore.session.get_session().get_service_model("sts")
    shape = operation.operation_model("AssumeRole").output_shape
    parsed = parsers.create_parser("query").parse(
        {"status_code": 403, "headers": {}, "body": body}, shape
    )
    return ClientError(parsed, "AssumeRole")


#: The same refusal of AssumeRole, as STS words it (MinIO, AWS) and as Ceph RGW 16
#: does, with S3's error body.
STS_ERROR = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
    b"<Message>Access denied</Message></Error><RequestId>r</RequestId></ErrorResponse>"
)
S3_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
    b"<RequestId>tx0</RequestId><HostId>h</HostId></Error>"
)


def test_an_sts_refusal_in_the_format_of_s3_is_explained() -> None:
    """Ceph RGW answers STS with S3's error body: botocore finds no "Error" in it, says
    "Unknown", and a learner's ``refus.response["Error"]["Code"]`` raises KeyError:
    'Error'. Both are explained, with what to read instead; STS's own format keeps
    the plain explanation of a refusal."""
    refus = _sts_refusal(S3_ERROR)
    assert "Error" not in refus.response and "(Unknown)" in str(refus)
    with pytest.raises(KeyError) as caught:
        try:
            raise refus
        except type(refus) as erreur:
            erreur.response["Error"]["Code"]
    for error in (refus, caught.value):
        found = diagnostic.diagnose(error)
        assert found is not None and "format de S3" in found.what, error
        assert "HTTPStatusCode" in found.fix and found.section.startswith("Qui")
    # What the fix says to read works on both formats.
    for body in (STS_ERROR, S3_ERROR):
        response = _sts_refusal(body).response
        assert response.get("Error", response).get("Code") == "AccessDenied"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert diagnostic.diagnose(_sts_refusal(STS_ERROR)).what.startswith("Accès")
    # A KeyError of a learner's own dictionary is not an S3 error.
    with pytest.raises(KeyError) as plain:
        {}["Error"]
    assert diagnostic.explain(plain.value) is None


def test_a_refusal_names_a_missing_key_and_an_expired_token_on_ceph() -> None:
    """Ceph RGW (and AWS) refuse a missing key to whom may not list the bucket, and
    Ceph an expired token, with AccessDenied (measured on Ceph 16.2.15: credentials of
    900 s, used 16 min later, get 403 AccessDenied for a list and a read): the
    explanation of a refusal says both; that of ExpiredToken says that Ceph answers
    AccessDenied."""
    from botocore.exceptions import ClientError

    denied = diagnostic.diagnose(
        ClientError({"Error": {"Code": "AccessDenied"}}, "GetObject")
    )
    assert denied is not None
    assert "n'existe pas" in denied.what and "NoSuchKey" in denied.what
    assert "jeton de session a expiré" in denied.what and "listez" in denied.fix
    expired = diagnostic.diagnose(
        ClientError({"Error": {"Code": "ExpiredToken"}}, "ListObjectsV2")
    )
    assert expired is not None and "Ceph RGW" in expired.what


def test_a_token_that_ceph_cannot_read_is_explained() -> None:
    """Measured on Ceph RGW 16: a session token with its last characters changed gets
    400 InvalidArgument (MinIO: InvalidTokenId)."""
    from botocore.exceptions import ClientError

    found = diagnostic.diagnose(
        ClientError(
            {"Error": {"Code": "InvalidArgument", "Message": None}}, "ListObjectsV2"
        )
    )
    assert found is not None and "jeton de session" in found.what
    assert found.section == "Jeton de session périmé"
