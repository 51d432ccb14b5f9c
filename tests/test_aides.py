"""The helpers that chapters import by name (``s3cours.aides``, ``s3cours.mesures``):
each does what its chapter says it does, on the run's playground when it talks to S3.

The S3 checks run as a learner of their own (``aides``: their own MinIO user and
bucket), so that nothing they write meets the published notebooks' learner, whom nbval
runs at the same time; they delete what they write."""

from __future__ import annotations

import ast
import base64
import email.parser
import http.server
import inspect
import io
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import boto3
import pandas as pd
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.credentials import Credentials

from s3cours import aides, bench, classroom, config, mesures, playground
from s3cours.counting_proxy import CountingProxy

LEARNER = "aides"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def learner_env(session_playground: playground.Playground) -> dict[str, str]:
    """The variables of the ``aides`` learner's service (temporary credentials)."""
    return classroom.learner_environment(session_playground, {}, LEARNER)


@pytest.fixture
def space(
    session_playground: playground.Playground, learner_env: dict[str, str]
) -> Iterator[tuple[object, str, str]]:
    """(learner's boto3 client, their bucket, a fresh key prefix); the prefix is emptied
    afterwards, and checked empty."""
    bucket, prefix = classroom.learner_space(learner_env, LEARNER)
    prefix += f"test-aides-{uuid.uuid4().hex[:8]}/"
    client = boto3.client(
        "s3",
        endpoint_url=session_playground.endpoint_url,
        region_name=learner_env.get("AWS_DEFAULT_REGION", config.PLAYGROUND_REGION),
        aws_access_key_id=learner_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=learner_env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=learner_env["AWS_SESSION_TOKEN"],
        verify=session_playground.ca_file or True,
        config=Config(signature_version="s3v4"),
    )
    yield client, bucket, prefix
    for key in classroom.objects(client, bucket, prefix):
        client.delete_object(Bucket=bucket, Key=key)
    assert classroom.objects(client, bucket, prefix) == {}


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A local HTTP server that notes each request (method, path, headers, body) and
    answers 404 with a body, as a refusing server does."""

    seen: list[dict] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers),
                "body": self.rfile.read(length),
            }
        )
        body = b"<Error><Code>NoSuchKey</Code><Message>absent</Message></Error>"
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict]]]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer((config.LOOPBACK, 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{config.LOOPBACK}:{server.server_address[1]}", _Recorder.seen
    server.shutdown()
    server.server_close()


def _jwt(payload: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS512', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


# ------------------------------------------------------------------- sans_identifiants


def test_sans_identifiants_sends_only_what_it_is_given(
    recorder: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With S3 credentials in the environment, nothing of them leaves: the request
    carries the method, body and headers given, and a refusal is returned, not
    raised."""
    url, seen = recorder
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "CLE-QUI-NE-DOIT-PAS-PARTIR")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-qui-ne-doit-pas-partir")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "jeton-qui-ne-doit-pas-partir")
    code, body = aides.sans_identifiants(
        f"{url}/bucket/cle.csv?X-Amz-Expires=60",
        methode="PUT",
        donnees=b"a;b\n1;2\n",
        entetes={"Content-Type": "text/csv"},
    )
    assert code == 404 and b"<Code>NoSuchKey</Code>" in body
    (request,) = seen
    assert request["method"] == "PUT"
    assert request["path"] == "/bucket/cle.csv?X-Amz-Expires=60"
    assert request["body"] == b"a;b\n1;2\n"
    assert request["headers"]["Content-Type"] == "text/csv"
    sent = json.dumps(request["headers"]).lower()
    for leak in ("authorization", "x-amz-", "ne-doit-pas-partir"):
        assert leak not in sent, request["headers"]


def test_sans_identifiants_uses_no_s3_library_nor_environment() -> None:
    """Its code builds a urllib request from the URL and nothing else (the check that
    the chapter « Partager des données » made of its own definition, before it moved
    here)."""
    function = ast.parse(inspect.getsource(aides.sans_identifiants)).body[0]
    body = ast.unparse(function)
    for forbidden in (
        "environ",
        "boto",
        "s3fs",
        "AWS_",
        "Authorization",
        "token",
        "mc(",
    ):
        assert forbidden not in body, forbidden
    assert "urllib.request.Request(url" in body


def test_a_presigned_link_opens_without_credentials_and_the_bare_address_does_not(
    space: tuple[object, str, str], session_playground: playground.Playground
) -> None:
    client, bucket, prefix = space
    key = prefix + "communes.csv"
    content = b"CODGEO;MED14\n" + b"01001;20318.7\n" * 200
    client.put_object(Bucket=bucket, Key=key, Body=content)
    link = client.generate_presigned_url(
        "get_object", ExpiresIn=60, Params={"Bucket": bucket, "Key": key}
    )
    assert aides.sans_identifiants(link) == (200, content)
    assert aides.verdict(200, content) == "HTTP 200 : 2\u202f813 octets reçus"
    bare = aides.sans_identifiants(f"{session_playground.endpoint_url}/{bucket}/{key}")
    assert bare[0] == 403
    assert aides.verdict(*bare) == "HTTP 403 : AccessDenied"


def test_verdict_reads_the_error_of_s3_and_survives_a_body_that_is_not_xml() -> None:
    """The error code, never the message: Ceph RGW sends none (or another one) where
    MinIO and AWS write a sentence; the same refusal gives the same line."""
    minio = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
        b"<Code>AccessDenied</Code><Message>Request has expired</Message>"
        b"<Key>x</Key></Error>"
    )
    ceph = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        b"<BucketName>b</BucketName><RequestId>tx0</RequestId><HostId>h</HostId>"
        b"</Error>"
    )
    assert (
        aides.verdict(403, minio)
        == aides.verdict(403, ceph)
        == ("HTTP 403 : AccessDenied")
    )
    assert aides.verdict(403, b"<Error><Message>sans code</Message></Error>") == (
        "HTTP 403"
    )
    assert aides.verdict(502, b"<html>Bad gateway") == "HTTP 502"
    assert aides.verdict(204, b"") == "HTTP 204 : 0 octets reçus"


# ----------------------------------------------------------------------------- decrire


def _client(signature: str | None) -> object:
    return boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="CLEDACCES",
        aws_secret_access_key="secret-jamais-affiche",
        aws_session_token="jeton-jamais-affiche",
        config=Config(signature_version=signature) if signature else None,
    )


@pytest.mark.parametrize("signature, form", [("s3v4", "V4"), ("s3", "V2")])
def test_decrire_tells_form_duration_and_token_and_reveals_no_value(
    signature: str, form: str, capsys: pytest.CaptureFixture[str]
) -> None:
    link = _client(signature).generate_presigned_url(
        "get_object", Params={"Bucket": "b", "Key": "dossier/f.csv"}, ExpiresIn=600
    )
    assert aides.decrire(link) is None
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "hôte 127.0.0.1:9, chemin /b/dossier/f.csv"
    assert printed[1] == (
        f"signature {form}, valable 600 s, jeton de session dans le lien : oui"
    )
    assert printed[2].startswith("paramètres : ")
    assert ("X-Amz-Signature" in printed[2]) == (form == "V4")
    signature_value = link.split("Signature=")[1].split("&")[0]
    for secret in (signature_value, "jeton-jamais-affiche", "secret-jamais-affiche"):
        assert secret not in "\n".join(printed)


def test_decrire_says_when_a_link_carries_no_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="CLE",
        aws_secret_access_key="secret",
        config=Config(signature_version="s3v4"),
    )
    aides.decrire(
        client.generate_presigned_url(
            "get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=7 * 24 * 3600
        )
    )
    printed = capsys.readouterr().out
    expected = "valable 604\u202f800 s (7 jours), jeton de session dans le lien : non"
    assert expected in printed


# --------------------------------------------------------------------------- multipart


def test_multipart_is_a_form_that_a_mail_parser_reads_back() -> None:
    champs = {"key": "depot/envoi.csv", "policy": "eyJ9", "x-amz-signature": "abc123"}
    body, headers = aides.multipart(champs, b"a;b\r\n1;2\r\n", nom="envoi.csv")
    assert set(headers) == {"Content-Type"}
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body
    )
    assert message.is_multipart()
    parts = message.get_payload()
    names = [p.get_param("name", header="content-disposition") for p in parts]
    assert names == ["key", "policy", "x-amz-signature", "file"]  # the file comes last
    assert [p.get_payload() for p in parts[:3]] == list(champs.values())
    assert parts[3].get_filename() == "envoi.csv"
    assert parts[3].get_content_type() == "text/csv"
    assert parts[3].get_payload(decode=True) == b"a;b\r\n1;2\r\n"


def test_a_presigned_post_form_built_by_multipart_is_accepted(
    space: tuple[object, str, str],
) -> None:
    client, bucket, prefix = space
    key = prefix + "depot/envoi-post.csv"
    form = client.generate_presigned_post(
        bucket, key, ExpiresIn=60, Conditions=[["content-length-range", 1, 1000]]
    )
    content = b"CODGEO;AVIS\n01001;ok\n"
    body, headers = aides.multipart(form["fields"], content)
    code, _ = aides.sans_identifiants(
        form["url"], methode="POST", donnees=body, entetes=headers
    )
    assert code == 204
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == content
    # The server checks the form's conditions: a file too big for them is refused.
    big, headers = aides.multipart(form["fields"], b"x" * 2000)
    code, answer = aides.sans_identifiants(
        form["url"], methode="POST", donnees=big, entetes=headers
    )
    assert code == 400, answer
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == content


# ------------------------------------------------------------------------ fin_du_jeton


def test_fin_du_jeton_reads_exp_and_gives_none_for_anything_else() -> None:
    assert aides.fin_du_jeton(_jwt({"exp": 1_800_000_000, "accessKey": "X"})) == (
        datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc)
    )
    for other in (
        "",
        "pas-un-jwt",
        _jwt({"sub": "sans exp"}),
        "a.%%%.c",
        "a." + base64.urlsafe_b64encode(b"[1, 2]").decode() + ".c",
    ):
        assert aides.fin_du_jeton(other) is None, other


def test_fin_du_jeton_of_the_playground_token_is_within_the_week(
    learner_env: dict[str, str],
) -> None:
    end = aides.fin_du_jeton(learner_env["AWS_SESSION_TOKEN"])
    assert end is not None
    now = datetime.now(timezone.utc)
    assert now < end <= now + timedelta(days=7, minutes=5)


# ----------------------------------------------------------------------------- parties


def test_parties_counts_the_parts_of_a_multipart_upload_and_one_for_a_put(
    space: tuple[object, str, str],
) -> None:
    client, bucket, prefix = space
    content = bytes(11 * 2**20)  # 11 Mio : deux parties de 5 Mio et une d'1 Mio
    five = 5 * 2**20
    client.upload_fileobj(
        io.BytesIO(content),
        bucket,
        prefix + "gros.bin",
        Config=TransferConfig(multipart_threshold=five, multipart_chunksize=five),
    )
    assert aides.parties(client, bucket, prefix + "gros.bin") == 3
    client.put_object(Bucket=bucket, Key=prefix + "petit.bin", Body=b"x" * 1000)
    assert aides.parties(client, bucket, prefix + "petit.bin") == 1


# ---------------------------------------------------------------------- a_la_francaise

FINE = "\u202f"


def test_a_la_francaise_writes_each_column_as_its_kind() -> None:
    mesures = pd.DataFrame(
        {
            "octets": [2710988, 30477],
            "requêtes": [2.0, 17.0],
            "durée (s)": [0.04417, 1.0213],
            "part": [0.448, 0.04412],
            "× la plus rapide": [12.816, 1.0],
            "médiane": [20318.66, 14.44],
        },
        index=pd.Index(["boto3", "duckdb"], name="bibliothèque"),
    )
    table = aides.a_la_francaise(
        mesures,
        {
            "requêtes": "entier",
            "durée (s)": "duree",
            "part": "pourcentage",
            "× la plus rapide": "rapport",
        },
    )
    assert table.to_dict("list") == {
        "octets": [f"2{FINE}710{FINE}988", f"30{FINE}477"],  # entier, d'après son type
        "requêtes": ["2", "17"],
        "durée (s)": ["0,044", "1,0"],
        "part": [f"44,8{FINE}%", f"4,4{FINE}%"],
        "× la plus rapide": ["13", "1,0"],
        "médiane": [f"20{FINE}318,7", "14,4"],  # décimal, d'après son type
    }
    assert table.index.equals(mesures.index) and table.index.name == "bibliothèque"


def test_a_la_francaise_rounds_after_the_kind_not_before() -> None:
    """``.round()`` avant le helper ne compte plus : c'est le genre qui arrondit, sans
    jamais rendre « 0,0 » pour une durée non nulle, ni « -0,0 »."""
    durees = pd.Series([0.0042, 0.0996, 0.999, 0.0, 123.4], name="durée (s)")
    assert aides.a_la_francaise(durees, "duree")["durée (s)"].tolist() == [
        "0,0042",
        "0,10",
        "1,0",
        "0",
        "123",
    ]
    assert aides.a_la_francaise(pd.Series([-0.04]), "decimal")[""].tolist() == ["0,0"]
    assert aides.a_la_francaise(pd.Series([0.1234]), "pourcentage", decimales=0)[
        ""
    ].tolist() == [f"12{FINE}%"]


def test_a_la_francaise_of_a_series_is_a_table_without_the_series_footer() -> None:
    parts = pd.Series(
        [0.448, 0.105],
        name="2 colonnes / CSV",
        index=pd.Index(["boto3", "s3fs"], name="bibliothèque"),
    )
    table = aides.a_la_francaise(parts, "pourcentage")
    assert list(table.columns) == ["2 colonnes / CSV"]
    texte = repr(table)
    assert f"44,8{FINE}%" in texte and "dtype" not in texte and "Name:" not in texte
    assert f"44,8{FINE}%" in table._repr_html_()


def test_a_la_francaise_by_row_writes_describe_counts_as_integers() -> None:
    resume = pd.DataFrame(
        {"MED14": [20318.66, 1.5], "TP6014": [14.44, 65.0]}
    ).describe()
    table = aides.a_la_francaise(
        resume.loc[["count", "mean"]], lignes={"count": "entier", "mean": "decimal"}
    )
    assert table.loc["count"].tolist() == ["2", "2"]
    assert table.loc["mean"].tolist() == [f"10{FINE}160,1", "39,7"]
    assert ",0" not in repr(table)


def test_a_la_francaise_keeps_text_and_writes_missing_values_as_nan() -> None:
    communes = pd.DataFrame(
        {
            "CODGEO": ["01001", "01002"],
            "NBMENFISC14": [44, 1132],
            "MED14": [float("nan"), 23603.2],
        }
    )
    table = aides.a_la_francaise(communes)
    assert table.to_dict("list") == {
        "CODGEO": ["01001", "01002"],
        "NBMENFISC14": ["44", f"1{FINE}132"],
        "MED14": ["NaN", f"23{FINE}603,2"],
    }
    assert "CODGEO" in repr(table) and f"23{FINE}603,2" in repr(table)


def test_a_la_francaise_says_in_french_what_is_wrong() -> None:
    table = pd.DataFrame({"octets": [1], "nom": ["a"]})
    with pytest.raises(ValueError, match="Genre inconnu pour 'octets' : 'octet'"):
        aides.a_la_francaise(table, {"octets": "octet"})  # type: ignore[dict-item]
    with pytest.raises(KeyError, match="Pas de colonne 'octet'.*'octets', 'nom'"):
        aides.a_la_francaise(table, {"octet": "entier"})
    with pytest.raises(KeyError, match="Pas de ligne 'count'"):
        aides.a_la_francaise(table, lignes={"count": "entier"})
    with pytest.raises(TypeError, match="'nom', ligne 0 : 'a' n'est pas un nombre"):
        aides.a_la_francaise(table, {"nom": "entier"})
    with pytest.raises(TypeError, match="DataFrame ou une Series pandas, pas list"):
        aides.a_la_francaise([1, 2])  # type: ignore[arg-type]


# ---------------------------------------------------------------------- s3cours.mesures


class _Shell:
    """What ``installer_mesurer`` needs of IPython: a place to register a magic."""

    def __init__(self) -> None:
        self.magics: dict[tuple[str, str], object] = {}

    def register_magic_function(
        self,
        function,
        magic_kind: str,  # noqa: ANN001
        magic_name: str,
    ) -> None:
        self.magics[(magic_kind, magic_name)] = function


def test_installer_mesurer_needs_jupyter() -> None:
    with pytest.raises(RuntimeError, match="commande de Jupyter"):
        mesures.installer_mesurer(  # type: ignore[arg-type]
            {}, {}, serveur="http://127.0.0.1:9", relais=None, relais_lent=None
        )


def test_mesurer_runs_the_cell_apart_and_counts_each_relay_in_its_place(
    session_endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The small file goes through the server, the big one through the counting relay
    (whose requests the table notes) and then through the slow one (whose latency the
    last duration pays); the table has one row per measured cell; the cell's print is
    shown."""
    relais = CountingProxy(session_endpoint_url)
    relais_lent = CountingProxy(session_endpoint_url, latency=1.0)
    try:
        shell = _Shell()
        table = mesures.installer_mesurer(
            {
                "BUCKET": config.DATA_BUCKET,
                "CLE": config.DATA_PREFIX + "FILOSOFI_COM.csv",
            },
            petit={"CLE": config.DATA_PREFIX + "FILOSOFI_COM.parquet"},
            serveur=session_endpoint_url,
            relais=relais,
            relais_lent=relais_lent,
            shell=shell,
        )  # type: ignore[arg-type]
        assert table == {}
        magic = shell.magics[("cell", "mesurer")]
        cell = (
            "import boto3\n"
            "s3 = boto3.client('s3', endpoint_url=ENDPOINT_URL,\n"
            "                  region_name='us-east-1')\n"
            "taille = s3.head_object(Bucket=BUCKET, Key=CLE)['ContentLength']\n"
            "print(CLE.rsplit('/', 1)[1], taille > 0)\n"
        )
        magic("essai ", cell)
        assert capsys.readouterr().out == "FILOSOFI_COM.csv True\n"
        assert list(table) == ["essai"]
        row = table["essai"]
        assert list(row) == [
            "mémoire au pic (Mo)",
            "requêtes",
            "durée (s)",
            "durée à 1000 ms (s)",
        ]
        assert row["requêtes"] == 1  # the big file's HEAD, through `relais` only
        assert relais_lent.count().requests == 1  # then once through the slow relay
        assert row["durée à 1000 ms (s)"] >= 1.0
        assert row["durée (s)"] < row["durée à 1000 ms (s)"]
        assert 0 <= row["mémoire au pic (Mo)"] < 50
    finally:
        relais.stop()
        relais_lent.stop()


def test_figure_memoire_is_a_png_drawn_the_same_way_twice() -> None:
    pics = pd.Series(
        {
            "lecture entière (pandas)": 120.0,
            "boto3 (iter_lines)": 3.5,
            "pandas (chunksize)": 12.0,
        }
    )
    image = mesures.figure_memoire(pics, 200_000)
    assert image.format == "png" and image.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert mesures.figure_memoire(pics, 200_000).data == image.data
    assert mesures.figure_memoire(pics * 2, 200_000).data != image.data


def test_source_reads_the_credentials_of_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "CLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    found = mesures.source(
        "http://127.0.0.1:1234", "us-east-1", "donnees", "a/b.parquet"
    )
    assert found == bench.Source(
        endpoint_url="http://127.0.0.1:1234",
        region="us-east-1",
        access_key="CLE",
        secret_key="SECRET",
        bucket="donnees",
        csv_key="",
        parquet_key="a/b.parquet",
        dataset="",
        department="",
        session_token=None,
        # Chapter 6's measured reads: two neighbouring columns, not the bench's pair.
        columns=tuple(bench.TWO_COLUMNS),
    )
    monkeypatch.setenv("AWS_SESSION_TOKEN", "JETON")
    assert mesures.source("http://h", "r", "b", "k").session_token == "JETON"


def test_partitions_lues_names_the_partition_of_each_request_through_the_relay(
    space: tuple[object, str, str],
    session_playground: playground.Playground,
    learner_env: dict[str, str],
) -> None:
    client, bucket, prefix = space
    keys = [
        prefix + "jeu/DEP=75/part-0.parquet",
        prefix + "jeu/DEP=2A/part-0.parquet",
        prefix + "jeu/DEP=971/part-0.parquet",
        prefix + "jeu/_schema.txt",
    ]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    credentials = Credentials(
        learner_env["AWS_ACCESS_KEY_ID"],
        learner_env["AWS_SECRET_ACCESS_KEY"],
        learner_env["AWS_SESSION_TOKEN"],
    )
    relais = CountingProxy(session_playground.endpoint_url, credentials=credentials)
    try:
        through = boto3.client(
            "s3",
            endpoint_url=relais.url,
            region_name=config.PLAYGROUND_REGION,
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token,
        )
        for key in keys + [keys[0]]:  # Paris twice: one entry per request
            through.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert mesures.partitions_lues(relais) == ["2A", "75", "75", "971"]
        relais.reset()
        assert mesures.partitions_lues(relais) == []
    finally:
        relais.stop()
