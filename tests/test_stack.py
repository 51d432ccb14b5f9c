"""The pinned libraries work together against the playground, offline.

duckdb usually downloads its httpfs extension on first use; the course installs it from PyPI
(duckdb-extension-httpfs, same version as duckdb), so nothing is fetched at run time, here
or on SSP Cloud."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from s3cours import config

PARQUET = f"s3://{config.DATA_BUCKET}/{config.FILOSOFI_PARQUET_KEY}"

DUCKDB = f"""
import os, duckdb
from duckdb_extensions import extension_importer
con = duckdb.connect()
extension_importer.import_extension("httpfs", con=con)
con.sql("LOAD httpfs")
con.sql(f\"\"\"CREATE SECRET s3 (TYPE s3, KEY_ID '{{os.environ["AWS_ACCESS_KEY_ID"]}}',
    SECRET '{{os.environ["AWS_SECRET_ACCESS_KEY"]}}', SESSION_TOKEN '{{os.environ["AWS_SESSION_TOKEN"]}}',
    ENDPOINT '{{os.environ["AWS_S3_ENDPOINT"]}}',
    URL_STYLE 'path', USE_SSL false, REGION '{{os.environ["AWS_DEFAULT_REGION"]}}')\"\"\")
print(con.sql("SELECT count(*) FROM read_parquet('{PARQUET}')").fetchone()[0])
"""


def test_duckdb_reads_s3_with_the_extension_from_pypi(tmp_path: Path,
                                                       session_endpoint_url: str) -> None:
    # A fresh HOME: no extension cached from an earlier run, and no network to fetch one.
    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run([sys.executable, "-c", DUCKDB], env={**os.environ, "HOME": str(home)},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "34000"


def test_polars_reads_s3(session_endpoint_url: str) -> None:
    import polars as pl

    options = {"aws_endpoint_url": session_endpoint_url, "aws_allow_http": "true",
               "aws_region": os.environ["AWS_DEFAULT_REGION"]}
    frame = pl.scan_parquet(PARQUET, storage_options=options).select("CODGEO").collect()
    assert frame.height == 34000


def test_installed_libraries_are_compiled_to_bytecode() -> None:
    """`./cours` compiles the environment once: a process started where PYTHONDONTWRITEBYTECODE
    is set (as on some CI machines) would otherwise recompile every module it imports, which
    made the classroom run twice as slow."""
    import importlib.util
    import snakemake

    source = Path(snakemake.__file__)
    assert Path(importlib.util.cache_from_source(str(source))).exists(), source
