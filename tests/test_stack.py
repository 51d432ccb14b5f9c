"""The pinned libraries work together against the playground, offline.

The chapters install duckdb's httpfs extension the DuckDB way (``INSTALL httpfs``, from
DuckDB's repository, or nothing to do when it is already in ``~/.duckdb/extensions``, as
in SSP Cloud's images). Offline, the tooling places the same signed file in a service's
home beforehand (``playground.install_duckdb_extensions``); DuckDB checks its
signature."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from s3cours import config, playground

PARQUET = f"s3://{config.DATA_BUCKET}/{config.FILOSOFI_PARQUET_KEY}"

#: What a chapter writes, nothing more.
DUCKDB = f"""
import os, duckdb
con = duckdb.connect()
con.install_extension("httpfs")
con.load_extension("httpfs")
con.execute(
    "CREATE SECRET s3 (TYPE s3, KEY_ID $cle, SECRET $secret, SESSION_TOKEN $jeton, "
    "ENDPOINT $hote, URL_STYLE 'path', USE_SSL false, REGION $region)",
    {{"cle": os.environ["AWS_ACCESS_KEY_ID"],
     "secret": os.environ["AWS_SECRET_ACCESS_KEY"],
     "jeton": os.environ.get("AWS_SESSION_TOKEN", ""),
     "hote": os.environ["AWS_S3_ENDPOINT"],
     "region": os.environ["AWS_DEFAULT_REGION"]}},
)
print(con.sql("SELECT count(*) FROM read_parquet('{PARQUET}')").fetchone()[0])
print(con.sql("SELECT installed_from FROM duckdb_extensions() "
              "WHERE extension_name = 'httpfs'").fetchone()[0])
"""


def _home_with_extensions(home: Path) -> Path:
    """A service's home where the tooling placed the image's extensions."""
    con = duckdb.connect(
        config={"extension_directory": str(home / ".duckdb" / "extensions")}
    )
    try:
        playground.install_duckdb_extensions(con)
    finally:
        con.close()
    return home


def test_duckdb_reads_s3_as_a_chapter_does_from_a_home_with_the_extension(
    tmp_path: Path, session_endpoint_url: str
) -> None:
    # No network: the chapter's INSTALL finds the file the tooling put, as in the image.
    home = _home_with_extensions(tmp_path / "home")
    run = subprocess.run(
        [sys.executable, "-c", DUCKDB],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    communes, installed_from = run.stdout.split()
    assert communes == "34000"
    assert installed_from.endswith("httpfs.duckdb_extension")  # the placed file
    assert run.stderr == ""


def test_duckdb_refuses_an_extension_it_did_not_sign(tmp_path: Path) -> None:
    """The placed file passes DuckDB's signature check (on by default); the same file
    with one byte changed does not: what the tooling places is DuckDB's own
    extension."""
    home = _home_with_extensions(tmp_path / "home")
    placed = next((home / ".duckdb" / "extensions").rglob("httpfs.duckdb_extension"))
    con = duckdb.connect(
        config={"extension_directory": str(home / ".duckdb" / "extensions")}
    )
    assert (
        con.sql("SELECT current_setting('allow_unsigned_extensions')").fetchone()[0]
        is False
    )
    con.load_extension("httpfs")
    altered = tmp_path / "httpfs.duckdb_extension"
    data = bytearray(placed.read_bytes())
    data[len(data) // 2] ^= 0xFF
    altered.write_bytes(data)
    other = duckdb.connect(config={"extension_directory": str(tmp_path / "autre")})
    with pytest.raises(duckdb.IOException, match="valid signature"):
        other.install_extension(str(altered))


def test_polars_reads_s3(session_endpoint_url: str) -> None:
    import polars as pl

    options = {
        "aws_endpoint_url": session_endpoint_url,
        "aws_allow_http": "true",
        "aws_region": os.environ["AWS_DEFAULT_REGION"],
    }
    frame = pl.scan_parquet(PARQUET, storage_options=options).select("CODGEO").collect()
    assert frame.height == 34000


def test_installed_libraries_are_compiled_to_bytecode() -> None:
    """`./cours` compiles the environment once: a process started where
    PYTHONDONTWRITEBYTECODE is set (as on some CI machines) would otherwise recompile
    every module it imports, which made the classroom run twice as slow."""
    import importlib.util
    import snakemake

    source = Path(snakemake.__file__)
    assert Path(importlib.util.cache_from_source(str(source))).exists(), source
