"""The course data: a generated stand-in for INSEE's FILOSOFI 2014 file by commune.

The values are **generated** with a fixed seed: no real commune is described. The
columns are those of the commune sheet of INSEE's "base-cc-filosofi-2014" (Fichier
localisé social et fiscal, revenus et pauvreté des ménages en 2014), so that code
written against this file runs unchanged against the real one. Like the real file, small
communes have suppressed values (statistical secrecy): the median needs 50 tax
households, the other indicators 1,000.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# numpy, pandas and pyarrow are imported where they are used: a playground that seeds
# the course data from the cache (course_objects) needs none of them.
if TYPE_CHECKING:
    import pandas as pd

SEED = 2014

#: SHA-256 of each file of the course data, as generated with the pinned versions. The
#: chapters' copy of the data (:mod:`s3cours.course_data`) is checked against them;
#: change them only on purpose (every chapter's outputs depend on these bytes).
SHA256 = {
    "FILOSOFI_COM.csv": (
        "29453750e14e37b68e5719dde7c52af4273aea6d245c033cd52fa3c68256d95f"
    ),
    "FILOSOFI_COM.parquet": (
        "9103f6dcbabc04870c00a0bf9153970d7679b97f8720633d90a490c7a081555f"
    ),
}

#: Column layout of the commune sheet of base-cc-filosofi-2014, in INSEE's order.
COLUMNS = (
    "CODGEO",
    "LIBGEO",
    "NBMENFISC14",
    "NBPERSMENFISC14",
    "MED14",
    "PIMP14",
    "TP6014",
    "TP60AGE114",
    "TP60AGE214",
    "TP60AGE314",
    "TP60AGE414",
    "TP60AGE514",
    "TP60AGE614",
    "TP60TOL114",
    "TP60TOL214",
    "PACT14",
    "PTSA14",
    "PCHO14",
    "PBEN14",
    "PPEN14",
    "PPAT14",
    "PPSOC14",
    "PPFAM14",
    "PPMINI14",
    "PPLOGT14",
    "PIMPOT14",
    "D114",
    "D914",
    "RD14",
)

#: Department codes of 2014 (metropolitan France, Corsica as 2A/2B, overseas but
#: Mayotte, which FILOSOFI does not cover).
DEPARTMENTS = (
    [f"{n:02d}" for n in range(1, 20)]
    + ["2A", "2B"]
    + [f"{n:02d}" for n in range(21, 96)]
    + ["971", "972", "973", "974"]
)

#: Below these numbers of tax households, INSEE suppresses the value.
MIN_HOUSEHOLDS_MEDIAN = 50
MIN_HOUSEHOLDS_DETAIL = 1000


def generate(n_communes: int = 34_000, seed: int = SEED) -> pd.DataFrame:
    """Return the generated FILOSOFI-like table, one row per (fictitious) commune.

    The result depends only on ``n_communes`` and ``seed`` (and pinned numpy, pandas).
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    # Communes spread over departments unevenly, as in reality.
    # Overseas departments have few communes (codes 97101 to 97199 leave room for 99).
    weights = rng.gamma(2.0, 1.0, len(DEPARTMENTS))
    weights /= weights.sum()
    overseas = np.array([len(dep) == 3 for dep in DEPARTMENTS])
    weights[overseas] = np.minimum(weights[overseas], 25 / n_communes)
    weights /= weights.sum()
    departments = np.sort(rng.choice(len(DEPARTMENTS), size=n_communes, p=weights))
    codes: list[str] = []
    number = 0
    for position, dep_index in enumerate(departments):
        number = (
            number + 1 if position and departments[position - 1] == dep_index else 1
        )
        dep = DEPARTMENTS[dep_index]
        codes.append(f"{dep}{number:0{5 - len(dep)}d}")
    n = n_communes

    households = np.round(rng.lognormal(mean=5.3, sigma=1.4, size=n)).clip(5, 400_000)
    persons = np.round(households * rng.normal(2.25, 0.2, n).clip(1.6, 3.2), 1)
    median = np.round(rng.normal(20_300, 2_900, n).clip(11_000, 45_000), 1)
    # Poverty falls when the median income rises.
    poverty = np.round(
        (14.5 - (median - 20_300) / 400 + rng.normal(0, 3, n)).clip(1, 60), 1
    )

    def pct(center: float, spread: float) -> np.ndarray:
        return np.round((center + rng.normal(0, spread, n)).clip(0, 100), 1)

    df = pd.DataFrame(
        {
            "CODGEO": codes,
            "LIBGEO": [f"Commune fictive {c}" for c in codes],
            "NBMENFISC14": households.astype("int64"),
            "NBPERSMENFISC14": persons,
            "MED14": median,
            "PIMP14": np.round(
                (58 + (median - 20_300) / 250 + rng.normal(0, 4, n)).clip(10, 95), 1
            ),
            "TP6014": poverty,
        }
    )
    for i, factor in enumerate((1.6, 1.3, 1.1, 0.9, 0.6, 0.5), start=1):
        df[f"TP60AGE{i}14"] = np.round(
            (poverty * factor + rng.normal(0, 2, n)).clip(0, 90), 1
        )
    df["TP60TOL114"] = np.round((poverty * 0.9 + rng.normal(0, 2, n)).clip(0, 90), 1)
    df["TP60TOL214"] = np.round((poverty * 1.1 + rng.normal(0, 2, n)).clip(0, 90), 1)
    df["PACT14"] = pct(70, 6)
    df["PTSA14"] = np.round(df["PACT14"] * 0.9, 1)
    df["PCHO14"] = pct(3, 1)
    df["PBEN14"] = np.round(df["PACT14"] - df["PTSA14"] - df["PCHO14"], 1).clip(0, None)
    df["PPEN14"] = pct(28, 6)
    df["PPAT14"] = pct(10, 3)
    df["PPSOC14"] = pct(5, 2)
    df["PPFAM14"] = np.round(df["PPSOC14"] * 0.4, 1)
    df["PPMINI14"] = np.round(df["PPSOC14"] * 0.3, 1)
    df["PPLOGT14"] = np.round(df["PPSOC14"] * 0.3, 1)
    df["PIMPOT14"] = np.round(-pct(14, 2), 1)
    df["D114"] = np.round(median * rng.normal(0.52, 0.04, n), 1)
    df["D914"] = np.round(median * rng.normal(1.85, 0.15, n), 1)
    df["RD14"] = np.round(df["D914"] / df["D114"], 1)

    detail = [
        c
        for c in COLUMNS
        if c not in ("CODGEO", "LIBGEO", "NBMENFISC14", "NBPERSMENFISC14", "MED14")
    ]
    df.loc[households < MIN_HOUSEHOLDS_DETAIL, detail] = np.nan
    df.loc[households < MIN_HOUSEHOLDS_MEDIAN, ["MED14", "NBPERSMENFISC14"]] = np.nan
    return df.loc[:, list(COLUMNS)]


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """The CSV as INSEE ships it: ``;``-separated, UTF-8, suppressed values empty."""
    return df.to_csv(index=False, sep=";", lineterminator="\n").encode("utf-8")


def to_parquet_bytes(df: pd.DataFrame, row_group_size: int = 10_000) -> bytes:
    """The same table as Parquet (snappy), in several row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy", row_group_size=row_group_size)
    return sink.getvalue()


@dataclass(frozen=True)
class CourseObject:
    """One object the playground uploads: where it goes and what it holds."""

    bucket: str
    key: str
    body: bytes
    content_type: str


def course_objects(cached: bool = True) -> list[CourseObject]:
    """Every object of the course data, as uploaded by the playground.

    ``cached``: the bytes are kept in the course's cache under their SHA-256
    (:data:`SHA256`), and read back from there when they are intact; generating them
    costs a second of CPU, and a test run starts about twenty playgrounds. Bytes that
    differ from :data:`SHA256` (other versions of numpy, pandas or pyarrow) are never
    kept: they are generated each time, and the checks that compare them with
    :data:`SHA256` see them."""
    from . import config

    where = {
        "FILOSOFI_COM.csv": (config.FILOSOFI_CSV_KEY, "text/csv"),
        "FILOSOFI_COM.parquet": (
            config.FILOSOFI_PARQUET_KEY,
            "application/vnd.apache.parquet",
        ),
    }
    folder = config.cache_dir() / "donnees"
    bodies = {
        name: _cached(folder / f"{digest}-{name}", digest) if cached else None
        for name, digest in SHA256.items()
    }
    if None in bodies.values():
        df = generate()
        bodies = {
            "FILOSOFI_COM.csv": to_csv_bytes(df),
            "FILOSOFI_COM.parquet": to_parquet_bytes(df),
        }
        if cached:
            for name, body in bodies.items():
                if hashlib.sha256(body).hexdigest() == SHA256[name]:
                    _keep(folder / f"{SHA256[name]}-{name}", body)
    return [
        CourseObject(config.DATA_BUCKET, where[name][0], body, where[name][1])
        for name, body in bodies.items()
    ]


def _cached(path: Path, digest: str) -> bytes | None:
    """The bytes kept at ``path``, if they are there and intact."""
    try:
        body = path.read_bytes()
    except OSError:
        return None
    return body if hashlib.sha256(body).hexdigest() == digest else None


def _keep(path: Path, body: bytes) -> None:
    """Write ``body`` at ``path`` whole or not at all (processes may do it at once); a
    cache that cannot be written is only a slower next start."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(body)
        partial.replace(path)
    except OSError:
        pass
