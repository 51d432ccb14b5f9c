"""The chapter benchmark's measures: the timing relay forwards requests unchanged and
says when they were in flight."""

from __future__ import annotations

import time

from s3cours import chapter_bench, config, playground


def test_relay_forwards_requests_and_times_them(session_endpoint_url: str) -> None:
    host, port = session_endpoint_url.removeprefix("http://").rsplit(":", 1)
    relay = chapter_bench.TimingRelay(host, int(port))
    try:
        client = playground.s3_client(f"http://{host}:{relay.port}")
        start = time.perf_counter()
        client.put_object(
            Bucket=config.LEARNER_BUCKET, Key="mesure/relais.txt", Body=b"x" * 10
        )
        body = client.get_object(Bucket=config.LEARNER_BUCKET, Key="mesure/relais.txt")[
            "Body"
        ].read()
        end = time.perf_counter()
        busy, requests = relay.busy(start, end)
        client.delete_object(Bucket=config.LEARNER_BUCKET, Key="mesure/relais.txt")
    finally:
        relay.close()
    assert body == b"x" * 10
    assert requests == 2 and 0 < busy <= end - start
    assert relay.busy(end + 10, end + 20) == (0.0, 0)


def test_overlapping_requests_are_counted_once() -> None:
    relay = chapter_bench.TimingRelay(config.LOOPBACK, 9)
    relay.close()
    relay.intervals = [[0.0, 2.0], [1.0, 3.0], [5.0, 6.0]]
    assert relay.busy(0.0, 10.0) == (4.0, 3)
    assert relay.busy(1.5, 5.5) == (2.0, 1)  # time in flight; requests started within


def test_the_kernel_is_pointed_at_the_relay() -> None:
    env = {
        "AWS_S3_ENDPOINT": "127.0.0.1:9900",
        "MC_HOST_s3": "http://a:b@127.0.0.1:9900",
        "PATH": "/bin",
    }
    moved = chapter_bench.relay_environment(env, "127.0.0.1:9900", 4000)
    assert moved == {
        "AWS_S3_ENDPOINT": "127.0.0.1:4000",
        "MC_HOST_s3": "http://a:b@127.0.0.1:4000",
        "PATH": "/bin",
    }
