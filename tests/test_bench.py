"""The counting relay and the benchmark: what they count is what the server sent."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest

from s3cours import bench, config, data, playground
from s3cours.counting_proxy import CountingProxy


def test_relay_counts_requests_and_body_bytes(session_endpoint_url: str) -> None:
    csv = next(o for o in data.course_objects() if o.key == config.FILOSOFI_CSV_KEY)
    with CountingProxy(session_endpoint_url) as relay:
        assert relay.endpoint.startswith(f"{config.LOOPBACK}:")
        client = playground.s3_client(relay.url)
        size = client.head_object(Bucket=csv.bucket, Key=csv.key)["ContentLength"]
        body = client.get_object(Bucket=csv.bucket, Key=csv.key)["Body"].read()
        part = client.get_object(Bucket=csv.bucket, Key=csv.key, Range="bytes=0-99")["Body"].read()
        count = relay.count()
    assert size == len(csv.body) and body == csv.body and part == csv.body[:100]
    assert [(e.method, e.status) for e in count.exchanges] == [("HEAD", 200), ("GET", 200),
                                                              ("GET", 206)]
    assert count.requests == 3 and count.bytes == len(csv.body) + 100


def test_relay_forwards_signed_uploads_and_resets(session_endpoint_url: str) -> None:
    with CountingProxy(session_endpoint_url) as relay:
        client = playground.s3_client(relay.url)
        key = "tests/relais.txt"
        client.put_object(Bucket=config.LEARNER_BUCKET, Key=key, Body=b"abc" * 1000)
        assert relay.count().exchanges[0].sent >= 3000
        relay.reset()
        assert relay.count().requests == 0
        client.delete_object(Bucket=config.LEARNER_BUCKET, Key=key)
        assert relay.count().requests == 1


def test_relay_latency_is_paid_by_each_request_in_turn(session_endpoint_url: str) -> None:
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


@pytest.mark.parametrize("upstream", ["https://minio.lab.sspcloud.fr", "http://192.168.1.10:9000"])
def test_relay_refuses_a_server_it_cannot_serve(upstream: str) -> None:
    with pytest.raises(ValueError, match="bac à sable local"):
        CountingProxy(upstream)


def test_department_of_commune_codes() -> None:
    import pyarrow as pa

    codes = pa.array(["01001", "2A004", "75056", "97101", "97411"])
    assert bench.department_of(codes).to_pylist() == ["01", "2A", "75", "971", "974"]


def test_measure_on_a_small_table(session_endpoint_url: str) -> None:
    import os

    source = bench.upload(session_endpoint_url, 2_000, learner=dict(os.environ))
    with CountingProxy(session_endpoint_url) as relay:
        results = bench.measure(relay, dataclasses.replace(source, endpoint_url=relay.url))
    by = {(m.library, m.case): m for m in results}
    assert {m.rows for m in results if m.case != "partition"} == {2_000}
    assert len({m.rows for m in results if m.case == "partition"}) == 1
    octets = bench.table(results)
    for library in ("s3fs", "pyarrow", "pandas", "polars", "duckdb"):
        # Two Parquet columns cost less than the whole CSV, and less than the whole Parquet.
        assert by[library, "colonnes"].bytes < by[library, "csv"].bytes / 2, library
        assert by[library, "colonnes"].bytes < by[library, "parquet"].bytes, library
    # boto3 cannot project: the whole object comes.
    assert by["boto3", "colonnes"].bytes == by["boto3", "parquet"].bytes
    # The settings for a distant server: same rows, and s3fs asks for its ranges together.
    with CountingProxy(session_endpoint_url, latency=0.005) as slow:
        tuned = {m.library: m for m in bench.measure_tuned(
            slow, dataclasses.replace(source, endpoint_url=slow.url), repeat=1)}
    assert list(tuned) == list(bench.LIBRARIES)
    assert {m.rows for m in tuned.values()} == {2_000}
    assert tuned["s3fs"].requests < by["s3fs", "colonnes"].requests
    assert tuned["pandas"].requests == tuned["pyarrow"].requests  # pyarrow's own client
    assert list(octets.index) == list(bench.LIBRARIES)
    assert list(octets.columns) == list(bench.CASES.values())


def test_bench_command_prints_its_table() -> None:
    run = subprocess.run([sys.executable, "-m", "s3cours.cli", "bench", "--communes", "1000",
                          "--server", "moto", "--latence", "5"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Octets reçus du serveur" in run.stdout and "Requêtes HTTP" in run.stdout
    assert "Avec 5 ms de latence par requête" in run.stdout and "réglé, 5 ms (s)" in run.stdout
    for library in bench.LIBRARIES:
        assert library in run.stdout
    refused = subprocess.run([sys.executable, "-m", "s3cours.cli", "bench", "--communes", "5"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "au moins 100" in refused.stderr
