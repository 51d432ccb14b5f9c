"""The course data: deterministic, in INSEE's layout, and what the playground serves."""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import pyarrow.parquet as pq

from s3cours import config, data, playground

#: Change these only on purpose: every chapter's outputs depend on the data.
CSV_SHA256 = "29453750e14e37b68e5719dde7c52af4273aea6d245c033cd52fa3c68256d95f"
PARQUET_SHA256 = "9103f6dcbabc04870c00a0bf9153970d7679b97f8720633d90a490c7a081555f"


def test_generation_is_deterministic_and_pinned() -> None:
    first, second = data.course_objects(cached=False), data.course_objects(cached=False)
    assert [o.body for o in first] == [o.body for o in second]
    digests = {o.key: hashlib.sha256(o.body).hexdigest() for o in first}
    assert digests == {
        config.FILOSOFI_CSV_KEY: CSV_SHA256,
        config.FILOSOFI_PARQUET_KEY: PARQUET_SHA256,
    }
    # The digests the course ships (the chapters check their data copy against them).
    assert data.SHA256 == {
        "FILOSOFI_COM.csv": CSV_SHA256,
        "FILOSOFI_COM.parquet": PARQUET_SHA256,
    }


def test_the_cache_serves_the_generated_bytes_and_never_damaged_ones(
    tmp_path, monkeypatch
) -> None:  # noqa: ANN001
    monkeypatch.setenv("S3COURS_CACHE", str(tmp_path))
    generated = data.course_objects(cached=False)
    assert data.course_objects() == generated  # generated, then kept
    kept = sorted((tmp_path / "donnees").iterdir())
    assert [p.name for p in kept] == sorted(f"{d}-{n}" for n, d in data.SHA256.items())
    kept[0].write_bytes(b"abime")
    assert data.course_objects() == generated  # a damaged copy is generated again
    assert kept[0].read_bytes() != b"abime"
    # Bytes that are not the course's (other versions of the libraries) are never kept.
    monkeypatch.setitem(data.SHA256, "FILOSOFI_COM.csv", "0" * 64)
    for path in kept:
        path.unlink()
    assert data.course_objects() == generated
    assert [p.name for p in (tmp_path / "donnees").iterdir()] == [kept[1].name]


def test_csv_has_the_insee_layout() -> None:
    df = data.generate()
    body = data.to_csv_bytes(df)
    assert body.splitlines()[0].decode() == ";".join(data.COLUMNS)
    back = pd.read_csv(io.BytesIO(body), sep=";", dtype={"CODGEO": "string"})
    assert list(back.columns) == list(data.COLUMNS)
    assert back["CODGEO"].str.len().eq(5).all() and back["CODGEO"].is_unique
    assert back["LIBGEO"].str.startswith("Commune fictive ").all()


def test_small_communes_are_suppressed_like_insee_does() -> None:
    df = data.generate()
    small = df["NBMENFISC14"] < data.MIN_HOUSEHOLDS_DETAIL
    assert df.loc[small, "TP6014"].isna().all()
    assert df.loc[~small, "TP6014"].notna().all()
    tiny = df["NBMENFISC14"] < data.MIN_HOUSEHOLDS_MEDIAN
    assert df.loc[tiny, "MED14"].isna().all() and df.loc[~tiny, "MED14"].notna().all()


def test_parquet_holds_the_same_table_in_row_groups() -> None:
    df = data.generate()
    table = pq.read_table(io.BytesIO(data.to_parquet_bytes(df)))
    assert table.column_names == list(data.COLUMNS)
    assert pq.ParquetFile(io.BytesIO(data.to_parquet_bytes(df))).num_row_groups > 1
    pd.testing.assert_frame_equal(table.to_pandas(), df, check_dtype=False)


def test_playground_serves_exactly_the_course_data(session_endpoint_url: str) -> None:
    client = playground.s3_client(session_endpoint_url)
    for obj in data.course_objects():
        served = client.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
        assert hashlib.sha256(served).digest() == hashlib.sha256(obj.body).digest(), (
            obj.key
        )
