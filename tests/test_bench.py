"""The counting relay and the benchmark: what they count is what the server sent."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import time

import boto3
import pytest

from s3cours import bench, classroom, config, data, playground
from s3cours.counting_proxy import CountingProxy, canonical_target


def learner_client(url: str):  # noqa: ANN201
    """A boto3 client with the environment's (the learner's) credentials, read now (the
    default session of boto3 keeps the first ones it read)."""
    return boto3.Session().client("s3", endpoint_url=url, region_name="us-east-1")


def learner_bucket() -> str:
    return classroom.learner_space(dict(os.environ), config.DEFAULT_LEARNER)[0]


def test_relay_counts_requests_and_body_bytes(session_endpoint_url: str) -> None:
    csv = next(o for o in data.course_objects() if o.key == config.FILOSOFI_CSV_KEY)
    with CountingProxy(session_endpoint_url) as relay:
        assert relay.endpoint.startswith(f"{config.LOOPBACK}:")
        client = learner_client(relay.url)
        size = client.head_object(Bucket=csv.bucket, Key=csv.key)["ContentLength"]
        body = client.get_object(Bucket=csv.bucket, Key=csv.key)["Body"].read()
        part = client.get_object(Bucket=csv.bucket, Key=csv.key, Range="bytes=0-99")[
            "Body"
        ].read()
        count = relay.count()
    assert size == len(csv.body) and body == csv.body and part == csv.body[:100]
    assert [(e.method, e.status) for e in count.exchanges] == [
        ("HEAD", 200),
        ("GET", 200),
        ("GET", 206),
    ]
    assert count.requests == 3 and count.bytes == len(csv.body) + 100


def test_relay_forwards_signed_uploads_and_resets(session_endpoint_url: str) -> None:
    with CountingProxy(session_endpoint_url) as relay:
        client = learner_client(relay.url)
        key = "tests/relais.txt"
        client.put_object(Bucket=learner_bucket(), Key=key, Body=b"abc" * 1000)
        assert relay.count().exchanges[0].sent >= 3000
        relay.reset()
        assert relay.count().requests == 0
        client.delete_object(Bucket=learner_bucket(), Key=key)
        assert relay.count().requests == 1


def test_relay_resigns_for_the_server_name(session_endpoint_url: str) -> None:
    """The client signs for the relay's address; the relay re-signs for the server's own
    name (here ``localhost``, not the ``127.0.0.1`` the client saw): the server accepts
    it, which it would not do with the client's signature and a changed Host."""
    port = session_endpoint_url.rsplit(":", 1)[1]
    with CountingProxy(f"http://localhost:{port}") as relay:
        client = learner_client(relay.url)
        keys = client.list_objects_v2(
            Bucket=config.DATA_BUCKET, Prefix=config.DATA_PREFIX, Delimiter="/"
        )  # a query with an encoded '/'
        key = f"tests/relais {'é'}=1+2.txt"  # a key that needs encoding in the path
        client.put_object(Bucket=learner_bucket(), Key=key, Body=b"x")
        assert (
            client.get_object(Bucket=learner_bucket(), Key=key)["Body"].read() == b"x"
        )
        client.delete_object(Bucket=learner_bucket(), Key=key)
    assert keys["KeyCount"] == 2
    assert [e.status for e in relay.count().exchanges] == [200, 200, 200, 204]


def test_relay_sends_the_server_host_and_a_signature_for_it() -> None:
    """What reaches the server: its own Host, and a signature whose credential scope is
    the client's (same key, same region)."""
    seen: list[dict[str, str]] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(dict(self.headers.items()) | {"path": self.path})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from botocore.credentials import Credentials

    credentials = Credentials("CLE", "SECRET", "JETON")
    try:
        with CountingProxy(
            f"http://localhost:{server.server_port}", credentials=credentials
        ) as relay:
            client = boto3.client(
                "s3",
                endpoint_url=relay.url,
                region_name="eu-west-3",
                aws_access_key_id="CLE",
                aws_secret_access_key="SECRET",
                aws_session_token="JETON",
            )
            client.get_object(Bucket="b", Key="a b/c", Range="bytes=0-9")
    finally:
        server.shutdown()
    (headers,) = seen
    assert headers["Host"] == f"localhost:{server.server_port}"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=CLE/")
    assert "/eu-west-3/s3/aws4_request" in headers["Authorization"]
    assert (
        headers["X-Amz-Security-Token"] == "JETON" and headers["Range"] == "bytes=0-9"
    )
    assert headers["path"] == "/b/a%20b/c"


def test_canonical_target_encodes_as_sigv4() -> None:
    assert canonical_target("/b/DEP=75/x%20y?prefix=a/b&list-type=2&delimiter=%2F") == (
        "/b/DEP%3D75/x%20y?delimiter=%2F&list-type=2&prefix=a%2Fb"
    )
    assert canonical_target("/b?uploads") == "/b?uploads="


def test_relay_reaches_an_https_server_with_the_ca_from_the_environment(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over https (a twin with its test CA), with a learner's temporary credentials."""
    started = playground.start(
        server="minio", tls=True, state_dir=state_dir, log=lambda _: None
    )
    for name, value in started.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the client below talks to the relay
    with CountingProxy(started.endpoint_url) as relay:
        assert started.endpoint_url.startswith("https://")
        body = (
            learner_client(relay.url)
            .get_object(Bucket=config.DATA_BUCKET, Key=config.FILOSOFI_CSV_KEY)["Body"]
            .read()
        )
    assert body == next(
        o.body for o in data.course_objects() if o.key == config.FILOSOFI_CSV_KEY
    )
    assert relay.count().bytes == len(body)


def test_relay_latency_is_paid_by_each_request_in_turn(
    session_endpoint_url: str,
) -> None:
    with pytest.raises(ValueError, match="Latence négative"):
        CountingProxy(session_endpoint_url, latency=-0.01)
    with CountingProxy(session_endpoint_url, latency=0.1) as relay:
        client = playground.s3_client(relay.url)
        client.list_buckets()  # connection and signing set up before the clock starts
        relay.reset()
        started = time.perf_counter()
        for _ in range(3):
            client.head_bucket(Bucket=config.DATA_BUCKET)
        elapsed = time.perf_counter() - started
        assert relay.count().requests == 3
    assert elapsed >= 0.3  # three requests one after the other: three times the latency


def test_department_of_commune_codes() -> None:
    import pyarrow as pa

    codes = pa.array(["01001", "2A004", "75056", "97101", "97411"])
    assert bench.department_of(codes).to_pylist() == ["01", "2A", "75", "971", "974"]


def test_department_range_holds_exactly_its_codes() -> None:
    codes = ["01001", "19999", "1A000", "2A004", "2B001", "75056", "76001", "97101"]
    for department in ("19", "2A", "75", "971"):
        low, high = bench.department_range(department)
        inside = [code for code in codes if low <= code < high]
        assert inside == [c for c in codes if c.startswith(department)], department


def test_measure_on_a_small_table(session_endpoint_url: str) -> None:
    import os

    source = bench.upload(session_endpoint_url, 2_000, learner=dict(os.environ))
    with CountingProxy(session_endpoint_url) as relay:
        results = bench.measure(
            relay, dataclasses.replace(source, endpoint_url=relay.url)
        )
    by = {(m.library, m.case): m for m in results}
    assert {m.rows for m in results if m.case not in ("partition", "filtre")} == {2_000}
    # The filter on CODGEO and the partition give the same department's communes.
    assert len({m.rows for m in results if m.case in ("partition", "filtre")}) == 1
    octets = bench.table(results)
    minimum = bench.physical_minimum(source)
    for library in ("s3fs", "pyarrow", "pandas", "polars", "duckdb"):
        # Two Parquet columns cost less than the whole CSV or the whole Parquet file
        # (on so small a file, the footer and the text column CODGEO weigh much).
        assert by[library, "colonnes"].bytes < by[library, "csv"].bytes, library
        assert by[library, "colonnes"].bytes < by[library, "parquet"].bytes, library
        assert by[library, "filtre"].bytes <= by[library, "colonnes"].bytes, library
    for library in bench.LIBRARIES:  # no reader fetches less than the minimum
        assert minimum <= by[library, "filtre"].bytes, library
    # boto3 cannot project: the whole object comes.
    assert by["boto3", "colonnes"].bytes == by["boto3", "parquet"].bytes
    assert by["boto3", "filtre"].bytes == by["boto3", "parquet"].bytes
    assert "× le minimum" in bench.report(results, {"csv": 1, "parquet": 1}, minimum)
    # The settings for a distant server: same rows; s3fs asks for its ranges together.
    with CountingProxy(session_endpoint_url, latency=0.005) as slow:
        tuned = {
            m.library: m
            for m in bench.measure_tuned(
                slow, dataclasses.replace(source, endpoint_url=slow.url), repeat=1
            )
        }
    assert list(tuned) == list(bench.LIBRARIES)
    assert {m.rows for m in tuned.values()} == {2_000}
    assert tuned["s3fs"].requests < by["s3fs", "colonnes"].requests
    assert tuned["pandas"].requests == tuned["pyarrow"].requests  # pyarrow's own client
    assert list(octets.index) == list(bench.LIBRARIES)
    assert list(octets.columns) == list(bench.CASES.values())
    # The variant's report, as `./cours bench --latence 5` prints it.
    report = bench.latency_report(results, results, list(tuned.values()), 0.005)
    assert "Avec 5 ms de latence par requête" in report and "réglé, 5 ms (s)" in report
    assert "requêtes réglé" in report and all(
        library in report for library in bench.LIBRARIES
    )


def test_bench_command_prints_its_table() -> None:
    # Without the latency variant, whose tables test_measure_on_a_small_table checks:
    # the whole variant here would double the test's time for the same code.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "s3cours.cli",
            "bench",
            "--communes",
            "100",
            "--server",
            "moto",
            "--latence",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Octets reçus du serveur" in run.stdout and "Requêtes HTTP" in run.stdout
    assert "latence par requête" not in run.stdout
    for library in bench.LIBRARIES:
        assert library in run.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "s3cours.cli", "bench", "--communes", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "au moins 100" in refused.stderr
