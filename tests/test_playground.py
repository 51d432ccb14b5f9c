"""The local S3 playground: start, seed, stop, a clear message for each way it fails."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from s3cours import config, data, playground


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((config.LOOPBACK, port)) == 0


def _assert_gone(started: playground.Playground) -> None:
    assert not playground._pid_alive(started.pid), "le serveur tourne encore"
    assert not _port_in_use(started.port), "le port est encore ouvert"
    pattern = f"(:| -p ){started.port}( |$)"
    leftover = subprocess.run(
        ["pgrep", "-f", "--", pattern], capture_output=True, text=True
    ).stdout.split()
    assert not leftover, f"processus restants : {leftover}"


def _listing(started: playground.Playground) -> dict[str, int]:
    client = playground.s3_client(started.endpoint_url)
    objects = client.list_objects_v2(Bucket=config.DATA_BUCKET)["Contents"]
    return {o["Key"]: o["Size"] for o in objects}


def _expected_sizes() -> dict[str, int]:
    return {o.key: len(o.body) for o in data.course_objects()}


@pytest.mark.parametrize("server", ["moto", "minio"])
def test_start_seeds_and_stop_leaves_nothing(server: str, state_dir: Path) -> None:
    if (
        server == "minio"
        and playground.find_minio() is None
        and shutil.which("go") is None
    ):
        pytest.skip("ni MinIO ni Go sur cette machine : le bac à sable y est moto")
    started = playground.start(server=server, state_dir=state_dir, log=lambda _: None)
    assert started.server == {"moto": "moto", "minio": "MinIO"}[server]
    assert started.host == config.LOOPBACK
    assert _listing(started) == _expected_sizes()
    client = playground.s3_client(started.endpoint_url)
    buckets = {b["Name"] for b in client.list_buckets()["Buckets"]}
    assert buckets == {config.DATA_BUCKET, config.DEFAULT_LEARNER}
    assert playground.status(state_dir) == started
    env = playground.load_environment(state_dir)
    assert env["AWS_S3_ENDPOINT"] == f"127.0.0.1:{started.port}"
    assert env["AWS_SESSION_TOKEN"] and env["AWS_WORKING_DIRECTORY_PATH"] == ""
    assert env["KUBERNETES_NAMESPACE"] == "user-apprenant"

    stopped = playground.stop(state_dir)
    assert stopped == started
    _assert_gone(started)
    assert not Path(started.data_dir).exists(), "données temporaires non supprimées"
    assert playground.status(state_dir) is None
    assert playground.stop(state_dir) is None


def test_second_start_is_a_clear_error_not_a_hang(state_dir: Path) -> None:
    started = playground.start(server="moto", state_dir=state_dir, log=lambda _: None)
    with pytest.raises(playground.PlaygroundError, match="tourne déjà"):
        playground.start(port=started.port, server="moto", state_dir=state_dir)


def test_busy_port_is_a_clear_error(state_dir: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind((config.LOOPBACK, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(
            playground.PlaygroundError, match=f"port {port} .* déjà utilisé"
        ):
            playground.start(port=port, server="moto", state_dir=state_dir)
    assert playground.status(state_dir) is None


def test_a_free_port_is_taken_outside_the_ephemeral_range() -> None:
    """``port=0`` must not pick a port the system may give to an outgoing connection
    meanwhile: MinIO then stopped with "port is already in use" (a test run failed
    so)."""
    linux = Path("/proc/sys/net/ipv4/ip_local_port_range")
    # Elsewhere (macOS, Windows), the IANA range.
    low, high = (
        (int(n) for n in linux.read_text().split())
        if linux.exists()
        else (49152, 65535)
    )
    ports = {playground._free_port(config.LOOPBACK) for _ in range(20)}
    assert all(
        port in playground.AUTO_PORTS and not low <= port <= high for port in ports
    )
    assert len(ports) > 1


def test_same_port_from_another_state_dir_is_refused(
    state_dir: Path, tmp_path: Path
) -> None:
    started = playground.start(server="moto", state_dir=state_dir, log=lambda _: None)
    with pytest.raises(playground.PlaygroundError, match="déjà utilisé"):
        playground.start(port=started.port, server="moto", state_dir=tmp_path / "other")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_non_loopback_address_is_refused(host: str, state_dir: Path) -> None:
    with pytest.raises(playground.PlaygroundError, match="boucle locale"):
        playground.start(server="moto", host=host, state_dir=state_dir)


def _fake_minio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    """A fake ``minio`` in place: it answers ``--version``, then does ``behaviour``."""
    fake = tmp_path / "minio"
    fake.write_text(
        "#!/bin/sh\n[ \"$1\" = --version ] && echo 'minio version FAKE' && exit 0\n"
        + behaviour
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("S3COURS_MINIO", str(fake))


def test_server_that_dies_at_start_shows_its_log(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_minio(tmp_path, monkeypatch, "echo 'FATAL disque illisible' >&2\nexit 3\n")
    with pytest.raises(
        playground.PlaygroundError, match=r"(?s)arrêté au démarrage.*disque illisible"
    ):
        playground.start(server="minio", state_dir=state_dir, log=lambda _: None)
    assert playground.status(state_dir) is None


def test_server_that_never_answers_is_stopped_with_its_log(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A duration of its own (600.<pid>), so that the same test run elsewhere on the
    # machine at the same time is not mistaken for a leftover.
    sleeper = f"sleep 600.{os.getpid()}"
    _fake_minio(tmp_path, monkeypatch, f"echo 'en attente de quorum'\nexec {sleeper}\n")
    with pytest.raises(
        playground.PlaygroundError, match=r"(?s)ne répond pas.*en attente de quorum"
    ):
        playground.start(
            server="minio", state_dir=state_dir, timeout=3, log=lambda _: None
        )
    leftover = subprocess.run(
        ["pgrep", "-f", sleeper], capture_output=True, text=True
    ).stdout
    assert not leftover.strip(), "le faux serveur n'a pas été arrêté"


def test_minio_missing_without_build_is_a_clear_error(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S3COURS_MINIO", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("S3COURS_CACHE", str(state_dir / "empty-cache"))
    with pytest.raises(playground.PlaygroundError, match="MinIO introuvable"):
        playground.start(server="minio", state_dir=state_dir, build=False)


def test_auto_falls_back_to_moto_and_says_why(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S3COURS_MINIO", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # neither minio nor go
    monkeypatch.setenv("S3COURS_CACHE", str(state_dir / "empty-cache"))
    messages: list[str] = []
    started = playground.start(server="auto", state_dir=state_dir, log=messages.append)
    assert started.server == "moto"
    assert any("repli sur moto" in m and "Go absent" in m for m in messages), messages


def test_seeding_again_is_idempotent(session_endpoint_url: str) -> None:
    assert playground.seed(session_endpoint_url) == []


def test_cli_prints_exports_and_stops(tmp_path: Path) -> None:
    state = tmp_path / "cli-state"
    cli = [sys.executable, "-m", "s3cours.cli", "playground"]
    started = subprocess.run(
        [*cli, "start", "--port", "0", "--server", "moto", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        assert "export AWS_S3_ENDPOINT=127.0.0.1:" in started.stdout
        assert "export AWS_SESSION_TOKEN=" in started.stdout
        assert "moto" in started.stderr
        again = subprocess.run(
            [
                *cli,
                "start",
                "--port",
                "0",
                "--server",
                "moto",
                "--state-dir",
                str(state),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 2 and "tourne déjà" in again.stderr
        env = subprocess.run(
            [*cli, "env", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

        def names(exports: str) -> list[str]:
            return [line.split("=")[0] for line in exports.splitlines()]

        # The same variables, with fresh credentials.
        assert names(env) == names(started.stdout) and env != started.stdout
    finally:
        stopped = subprocess.run(
            [*cli, "stop", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            check=True,
        )
    assert "Arrêté : moto" in stopped.stderr
    assert stopped.stdout.startswith("unset AWS_S3_ENDPOINT ")
    status = subprocess.run(
        [*cli, "status", "--state-dir", str(state)], capture_output=True, text=True
    )
    assert status.returncode == 1


def test_non_loopback_needs_an_explicit_request() -> None:
    playground.check_host("127.0.0.1")
    playground.check_host("::1")
    playground.check_host("0.0.0.0", allow_non_loopback=True)  # asked for: no error


def test_data_dir_survives_a_restart_with_minio(
    state_dir: Path, tmp_path: Path
) -> None:
    if playground.find_minio() is None and shutil.which("go") is None:
        pytest.skip("ni MinIO ni Go sur cette machine")
    data_dir = tmp_path / "donnees"
    first = playground.start(
        server="minio", data_dir=data_dir, state_dir=state_dir, log=lambda _: None
    )
    playground.s3_client(first.endpoint_url).put_object(
        Bucket=config.LEARNER_BUCKET, Key="persistant.txt", Body=b"toujours la"
    )
    playground.stop(state_dir)
    assert data_dir.exists(), "un dossier de données choisi ne doit pas être supprimé"
    second = playground.start(
        server="minio", data_dir=data_dir, state_dir=state_dir, log=lambda _: None
    )
    body = (
        playground.s3_client(second.endpoint_url)
        .get_object(Bucket=config.LEARNER_BUCKET, Key="persistant.txt")["Body"]
        .read()
    )
    assert body == b"toujours la"


def test_moto_says_it_cannot_keep_data(state_dir: Path, tmp_path: Path) -> None:
    started = playground.start(
        server="moto", data_dir=tmp_path / "d", state_dir=state_dir, log=lambda _: None
    )
    assert any("mémoire" in note for note in started.notes)


def _offline_install(home: Path, name: str = "httpfs") -> None:
    """``INSTALL name`` then ``LOAD name`` as a notebook in ``home`` would, with
    DuckDB's repository out of reach (a port where nothing listens): offline."""
    import duckdb

    con = duckdb.connect(
        config={"extension_directory": str(home / ".duckdb" / "extensions")}
    )
    try:
        con.execute("SET custom_extension_repository = 'http://127.0.0.1:9'")
        con.install_extension(name)
        con.load_extension(name)
    finally:
        con.close()


def test_a_home_gets_the_image_duckdb_extensions_once(tmp_path: Path) -> None:
    import duckdb

    home = tmp_path / "maison"
    with pytest.raises(duckdb.IOException, match="Failed to download extension"):
        _offline_install(home)
    assert playground.give_duckdb_extensions(home) == list(playground.DUCKDB_EXTENSIONS)
    for name in playground.DUCKDB_EXTENSIONS:
        _offline_install(home, name)
    assert playground.give_duckdb_extensions(home) == []


def test_the_learners_own_playground_gives_their_home_the_extensions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`./cours playground start` (no state folder named: the one notebooks find)
    gives the learner's home what the SSP Cloud image gives a service's home; a
    playground with a state folder of its own (tests, builds) leaves the home alone."""
    monkeypatch.setenv("S3COURS_CACHE", str(config.cache_dir()))
    home = tmp_path / "maison"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    other = playground.start(
        server="moto", state_dir=tmp_path / "autre", log=lambda _: None
    )
    playground.stop(tmp_path / "autre")
    assert not (home / ".duckdb").exists()
    assert not any("DuckDB" in note for note in other.notes)

    monkeypatch.setenv("S3COURS_STATE_DIR", str(tmp_path / "etat"))
    started = playground.start(server="moto", log=lambda _: None)
    try:
        (note,) = [note for note in started.notes if "DuckDB" in note]
        assert "httpfs et aws installées" in note and str(home) in note
        _offline_install(home)
    finally:
        playground.stop()
