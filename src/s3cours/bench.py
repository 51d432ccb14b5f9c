"""What each library downloads to read the course data: requests and bytes, measured the
same way for every library by a counting relay (:mod:`s3cours.counting_proxy`).

Five cases, each read into memory by each library: the whole CSV, the whole Parquet
file, two columns of the Parquet file, the same two columns of one department's
communes only (a filter on ``CODGEO``), and one partition (one department) of a Parquet
dataset partitioned by department. The two columns are the ones a learner asks for: a
key column (``CODGEO``) and a value column (``MED14``), far apart in the file; two
neighbouring columns would flatter the readers that merge nearby byte ranges into one
request. The chapter "Parquet sur S3" calls :func:`measure` on
the playground's data; ``./cours bench`` does the same on a larger generated table.

Request and byte counts depend only on the data and on the pinned library versions; wall
times depend on the machine and vary from run to run.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import config
from .counting_proxy import CountingProxy

LIBRARIES = ("boto3", "s3fs", "pyarrow", "pandas", "polars", "duckdb")
CASES = {
    "csv": "CSV entier",
    "parquet": "Parquet entier",
    "colonnes": "Parquet, 2 colonnes",
    "filtre": "2 colonnes, 1 département",
    "partition": "Parquet, 1 partition",
}
#: The two columns read in the "colonnes" and "filtre" cases, as a learner asks for
#: them: a key column (the commune code) and a value column (median income).
COLUMNS = ["CODGEO", "MED14"]
#: Two neighbouring columns (median income and poverty rate), which the chapter « Gros
#: volumes » reads in its latency measures (:func:`s3cours.mesures.source`).
TWO_COLUMNS = ["MED14", "TP6014"]
#: Bytes from the end of a Parquet file where ``fsspec.parquet.open_parquet_file``
#: looks for the footer (the chapter « Gros volumes »; 16 KB on the course's file). Its
#: default, 1 MB, reads nearly all of that 1.2 MB file, then its columns again: more
#: bytes than the file's.
FOOTER_SAMPLE = 64 * 2**10
#: Name of the partition column (the department, derived from CODGEO).
PARTITION = "DEP"


def department_range(department: str) -> tuple[str, str]:
    """The commune codes of ``department`` as a range ``[low, high)``: the codes that
    start with it. A range, not a prefix test: readers compare it with the minimum and
    maximum of each row group, and skip the groups that cannot hold such a code."""
    return department, department[:-1] + chr(ord(department[-1]) + 1)


def department_of(codgeo: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The department of each commune code: 3 characters overseas (97x), else 2."""
    return pc.if_else(
        pc.starts_with(codgeo, "97"),
        pc.utf8_slice_codeunits(codgeo, 0, 3),
        pc.utf8_slice_codeunits(codgeo, 0, 2),
    )


@dataclass(frozen=True)
class Source:
    """Where the measured data lives. ``dataset`` is ``bucket/prefix`` of a Parquet
    dataset partitioned by :data:`PARTITION` (hive layout: ``DEP=75/…``)."""

    endpoint_url: str
    region: str
    access_key: str
    secret_key: str
    bucket: str
    csv_key: str
    parquet_key: str
    dataset: str
    department: str
    #: A learner's temporary credentials (playground, SSP Cloud) carry a token.
    session_token: str | None = None
    #: The two columns of the "colonnes" and "filtre" cases (and of
    #: :func:`tuned_readers`).
    columns: tuple[str, ...] = tuple(COLUMNS)

    @property
    def filters(self) -> list[tuple[str, str, str]]:
        """The "filtre" case's filter, in pyarrow's form: the department's codes."""
        low, high = department_range(self.department)
        return [("CODGEO", ">=", low), ("CODGEO", "<", high)]

    @property
    def endpoint(self) -> str:
        return self.endpoint_url.split("://", 1)[1]

    # Each library's client on these credentials: a new one at each call (nothing
    # cached from a previous read).

    def boto3_client(self):  # noqa: ANN201
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.session_token,
        )

    def s3fs_options(self) -> dict:
        """For ``s3fs.S3FileSystem`` and pandas' ``storage_options``; a fresh s3fs,
        without the listings an earlier read cached."""
        return {
            "endpoint_url": self.endpoint_url,
            "key": self.access_key,
            "secret": self.secret_key,
            "token": self.session_token,
            "skip_instance_cache": True,
        }

    def s3fs(self, **options):  # noqa: ANN003, ANN201
        import s3fs

        return s3fs.S3FileSystem(**self.s3fs_options(), **options)

    def arrow(self):  # noqa: ANN201
        from pyarrow import fs as pafs

        return pafs.S3FileSystem(
            endpoint_override=self.endpoint_url,
            region=self.region,
            access_key=self.access_key,
            secret_key=self.secret_key,
            session_token=self.session_token,
        )

    def polars_options(self) -> dict[str, str]:
        return {
            "aws_endpoint_url": self.endpoint_url,
            "aws_region": self.region,
            "aws_allow_http": str(self.endpoint_url.startswith("http://")).lower(),
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            # Said even when empty: polars would otherwise take AWS_SESSION_TOKEN from
            # the environment, which belongs to other keys than these.
            "aws_session_token": self.session_token or "",
        }

    def duckdb(self):  # noqa: ANN201
        return duckdb_connection(
            self.endpoint,
            self.region,
            self.access_key,
            self.secret_key,
            use_ssl=self.endpoint_url.startswith("https://"),
            session_token=self.session_token,
        )


def duckdb_connection(
    endpoint: str,
    region: str,
    access_key: str,
    secret_key: str,
    use_ssl: bool = False,
    session_token: str | None = None,
):
    """A duckdb connection that reads ``s3://`` through its httpfs extension, installed
    as the chapters do (``INSTALL httpfs``: already in a service's home, else placed by
    :func:`playground.install_duckdb_extensions`, offline in the tooling's
    environment)."""
    import duckdb

    from . import playground

    con = duckdb.connect()
    playground.install_duckdb_extensions(con, ("httpfs",))
    con.load_extension("httpfs")
    if use_ssl and os.environ.get(
        "AWS_CA_BUNDLE"
    ):  # a test CA: duckdb reads no variable
        con.execute("SET ca_cert_file = $file", {"file": os.environ["AWS_CA_BUNDLE"]})
    # SESSION_TOKEN said even when empty: duckdb would otherwise take AWS_SESSION_TOKEN
    # from the environment, which may belong to other keys than these.
    con.execute(
        f"CREATE SECRET s3 (TYPE s3, KEY_ID $key, SECRET $secret, ENDPOINT $endpoint, "
        f"URL_STYLE 'path', USE_SSL {str(use_ssl).lower()}, REGION $region, "
        "SESSION_TOKEN $token)",
        {
            "key": access_key,
            "secret": secret_key,
            "endpoint": endpoint,
            "region": region,
            "token": session_token or "",
        },
    )
    return con


# -------------------------------------------------------------------------- the readers
# Each reader builds its own client (nothing cached from a previous read) and returns
# the number of rows it read.


def _boto3(src: Source, case: str) -> int:
    import pyarrow.parquet as pq

    s3 = src.boto3_client()

    def get(key: str, bucket: str = src.bucket) -> io.BytesIO:
        return io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    if case == "csv":
        return len(pd.read_csv(get(src.csv_key), sep=";", dtype={"CODGEO": "string"}))
    if case == "parquet":
        return pq.read_table(get(src.parquet_key)).num_rows
    if case in ("colonnes", "filtre"):
        # No projection on the network: the whole object comes, then columns (and
        # rows) are chosen in memory.
        filters = src.filters if case == "filtre" else None
        return pq.read_table(
            get(src.parquet_key), columns=list(src.columns), filters=filters
        ).num_rows
    bucket, prefix = src.dataset.split("/", 1)
    listing = s3.list_objects_v2(
        Bucket=bucket, Prefix=f"{prefix}/{PARTITION}={src.department}/"
    )
    return sum(
        pq.read_table(get(o["Key"], bucket)).num_rows
        for o in listing.get("Contents", [])
    )


def _s3fs(src: Source, case: str) -> int:
    import pyarrow.parquet as pq

    # No read-ahead cache: pyarrow asks for exactly the byte ranges it needs.
    fs = src.s3fs(default_cache_type="none")
    if case == "csv":
        with fs.open(f"{src.bucket}/{src.csv_key}", cache_type="readahead") as f:
            return len(pd.read_csv(f, sep=";", dtype={"CODGEO": "string"}))
    if case == "parquet":
        return pq.read_table(f"{src.bucket}/{src.parquet_key}", filesystem=fs).num_rows
    if case in ("colonnes", "filtre"):
        return pq.read_table(
            f"{src.bucket}/{src.parquet_key}",
            columns=list(src.columns),
            filesystem=fs,
            filters=src.filters if case == "filtre" else None,
        ).num_rows
    folder = f"{src.dataset}/{PARTITION}={src.department}"
    return pq.read_table(folder, filesystem=fs).num_rows


def _pyarrow(src: Source, case: str) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    fs = src.arrow()
    if case == "csv":
        with fs.open_input_stream(f"{src.bucket}/{src.csv_key}") as f:
            return pacsv.read_csv(
                f, parse_options=pacsv.ParseOptions(delimiter=";")
            ).num_rows
    if case == "parquet":
        return pq.read_table(f"{src.bucket}/{src.parquet_key}", filesystem=fs).num_rows
    if case in ("colonnes", "filtre"):
        return pq.read_table(
            f"{src.bucket}/{src.parquet_key}",
            columns=list(src.columns),
            filesystem=fs,
            filters=src.filters if case == "filtre" else None,
        ).num_rows
    dataset = ds.dataset(
        src.dataset,
        filesystem=fs,
        format="parquet",
        partitioning=ds.partitioning(
            pa.schema([(PARTITION, pa.string())]), flavor="hive"
        ),
    )
    return dataset.to_table(filter=ds.field(PARTITION) == src.department).num_rows


def _pandas(src: Source, case: str) -> int:
    options = src.s3fs_options()
    if case == "csv":
        return len(
            pd.read_csv(
                f"s3://{src.bucket}/{src.csv_key}",
                sep=";",
                dtype={"CODGEO": "string"},
                storage_options=options,
            )
        )
    options["default_cache_type"] = "none"
    if case == "parquet":
        return len(
            pd.read_parquet(
                f"s3://{src.bucket}/{src.parquet_key}", storage_options=options
            )
        )
    if case in ("colonnes", "filtre"):
        return len(
            pd.read_parquet(
                f"s3://{src.bucket}/{src.parquet_key}",
                columns=list(src.columns),
                filters=src.filters if case == "filtre" else None,
                storage_options=options,
            )
        )
    return len(
        pd.read_parquet(
            f"s3://{src.dataset}",
            filters=[(PARTITION, "==", src.department)],
            partitioning=_hive(),
            storage_options=options,
        )
    )


def _hive():
    import pyarrow.dataset as ds

    return ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive")


def _polars(src: Source, case: str) -> int:
    import polars as pl

    options = src.polars_options()
    if case == "csv":
        return (
            pl.scan_csv(
                f"s3://{src.bucket}/{src.csv_key}",
                separator=";",
                schema_overrides={"CODGEO": pl.String},
                storage_options=options,
            )
            .collect()
            .height
        )
    if case == "parquet":
        return (
            pl.scan_parquet(
                f"s3://{src.bucket}/{src.parquet_key}", storage_options=options
            )
            .collect()
            .height
        )
    if case in ("colonnes", "filtre"):
        query = pl.scan_parquet(
            f"s3://{src.bucket}/{src.parquet_key}", storage_options=options
        ).select(list(src.columns))
        if case == "filtre":
            # A range, which polars compares with each row group's statistics;
            # str.starts_with gives the same rows but skips no row group.
            low, high = department_range(src.department)
            query = query.filter((pl.col("CODGEO") >= low) & (pl.col("CODGEO") < high))
        return query.collect().height
    return (
        pl.scan_parquet(
            f"s3://{src.dataset}/",
            hive_partitioning=True,
            hive_schema={PARTITION: pl.String},
            storage_options=options,
        )
        .filter(pl.col(PARTITION) == src.department)
        .collect()
        .height
    )


def _duckdb(src: Source, case: str) -> int:
    con = src.duckdb()
    # One thread: with several, two threads may both fetch the last row group (its range
    # is also part of a larger read ahead), depending on timing, and the count varies.
    con.sql("SET threads = 1")
    try:
        if case == "csv":
            query = (
                f"SELECT * FROM read_csv('s3://{src.bucket}/{src.csv_key}', delim=';', "
                "types={'CODGEO': 'VARCHAR'})"
            )
        elif case == "parquet":
            query = f"SELECT * FROM read_parquet('s3://{src.bucket}/{src.parquet_key}')"
        elif case in ("colonnes", "filtre"):
            query = (
                f"SELECT {', '.join(src.columns)} "
                f"FROM read_parquet('s3://{src.bucket}/{src.parquet_key}')"
            )
            if case == "filtre":  # duckdb turns a prefix LIKE into a range
                query += f" WHERE CODGEO LIKE '{src.department}%'"
        else:
            query = (
                f"SELECT * FROM read_parquet('s3://{src.dataset}/*/*.parquet', "
                f"hive_partitioning=true, hive_types={{'{PARTITION}': VARCHAR}}) "
                f"WHERE {PARTITION} = '{src.department}'"
            )
        return len(con.sql(query).fetchall())
    finally:
        con.close()


READERS: dict[str, Callable[[Source, str], int]] = {
    "boto3": _boto3,
    "s3fs": _s3fs,
    "pyarrow": _pyarrow,
    "pandas": _pandas,
    "polars": _polars,
    "duckdb": _duckdb,
}


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Measure:
    library: str
    case: str
    rows: int
    requests: int
    bytes: int
    seconds: float


def measure(
    proxy: CountingProxy, src: Source, libraries=LIBRARIES, cases=tuple(CASES)
) -> list[Measure]:
    """Read each case with each library through ``proxy``; ``src.endpoint_url`` must be
    the proxy's URL. Requests and bytes are counted by the proxy, time by the clock."""
    results = []
    for library in libraries:
        for case in cases:
            proxy.reset()
            started = time.perf_counter()
            rows = READERS[library](src, case)
            seconds = time.perf_counter() - started
            count = proxy.count()
            results.append(
                Measure(library, case, rows, count.requests, count.bytes, seconds)
            )
    return results


def table(results: list[Measure], what: str = "bytes") -> pd.DataFrame:
    """Per library (rows) and case (columns): ``bytes``, ``requests`` or ``seconds``."""
    frame = pd.DataFrame(
        [
            {"bibliothèque": m.library, "cas": CASES[m.case], what: getattr(m, what)}
            for m in results
        ]
    )
    wide = frame.pivot(index="bibliothèque", columns="cas", values=what)
    order = [lib for lib in LIBRARIES if lib in wide.index]
    return wide.loc[order, [c for c in CASES.values() if c in wide.columns]]


def ratios(results: list[Measure], csv_size: int) -> pd.Series:
    """Bytes of the two-column Parquet read over the CSV's size, per library (not over
    what each library received for the CSV: duckdb reads it twice)."""
    octets = table(results)
    return (octets[CASES["colonnes"]] / csv_size).rename("2 colonnes / taille du CSV")


def plot(results: list[Measure]):
    """A bar chart of the megabytes received, per library and case, as a PNG image that
    a notebook shows once (drawn without pyplot, so no figure is left open to show
    twice)."""
    import numpy as np
    from IPython.display import Image
    from matplotlib.figure import Figure

    megaoctets = table(results) / 1e6
    fig = Figure(figsize=(9, 4), layout="tight")
    ax = fig.add_subplot()
    positions = np.arange(len(megaoctets.index))
    width = 0.8 / len(megaoctets.columns)
    for i, case in enumerate(megaoctets.columns):
        ax.bar(
            positions + (i - (len(megaoctets.columns) - 1) / 2) * width,
            megaoctets[case],
            width,
            label=case,
        )
    ax.set_xticks(positions, megaoctets.index)
    ax.set_ylabel("Mo reçus du serveur")
    ax.set_title("Octets téléchargés pour lire les mêmes données")
    ax.legend(fontsize="small")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=96, metadata={"Software": None})
    return Image(data=png.getvalue(), format="png")


# ------------------------------------------------------------------------ the benchmark

#: Default size of ``./cours bench`` (in config, which the command line reads without
#: importing pandas): about 6 times the course file, in well under a minute.
DEFAULT_COMMUNES = config.BENCH_COMMUNES
BENCH_BUCKET = "apprenant"
BENCH_PREFIX = "bench/"


def upload(
    endpoint_url: str,
    n_communes: int,
    department: str = "75",
    learner: dict[str, str] | None = None,
) -> Source:
    """Generate ``n_communes`` communes, upload them as CSV, Parquet and a Parquet
    dataset partitioned by department to the playground at ``endpoint_url``; return
    their places, to be read with the ``learner``'s variables
    (``Playground.environment()``: temporary credentials, as on SSP Cloud) when given,
    else the admin's."""
    import pyarrow.dataset as ds
    from pyarrow import fs as pafs

    from . import config, data, playground

    frame = data.generate(n_communes=n_communes)
    client = playground.s3_client(endpoint_url, timeout=60)
    csv_key, parquet_key = (
        BENCH_PREFIX + "FILOSOFI_COM.csv",
        BENCH_PREFIX + "FILOSOFI_COM.parquet",
    )
    client.put_object(Bucket=BENCH_BUCKET, Key=csv_key, Body=data.to_csv_bytes(frame))
    client.put_object(
        Bucket=BENCH_BUCKET, Key=parquet_key, Body=data.to_parquet_bytes(frame)
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Sorted, and two files open at a time: each open S3 upload of pyarrow holds a
    # 10 MiB part buffer, so writing the hundred departments at once took over 1 GiB of
    # memory (and about 10 s of CPU to fault it in) for a table of a few megabytes.
    table = table.append_column(PARTITION, department_of(table.column("CODGEO")))
    table = table.sort_by(PARTITION)
    present = table.column(PARTITION).unique().to_pylist()
    if department not in present:
        # A small table may have no commune there (100 communes over about 100
        # departments): the partition read is then the first department that has some.
        department = sorted(present)[0]
    fs = pafs.S3FileSystem(
        endpoint_override=endpoint_url,
        region=config.PLAYGROUND_REGION,
        access_key=config.PLAYGROUND_ACCESS_KEY,
        secret_key=playground.admin_secret(),
    )
    dataset = f"{BENCH_BUCKET}/{BENCH_PREFIX}par_departement"
    ds.write_dataset(
        table,
        dataset,
        filesystem=fs,
        format="parquet",
        partitioning=[PARTITION],
        partitioning_flavor="hive",
        existing_data_behavior="delete_matching",
        use_threads=False,
        create_dir=False,
        max_open_files=2,
    )
    if learner:
        return Source(
            endpoint_url,
            config.PLAYGROUND_REGION,
            learner["AWS_ACCESS_KEY_ID"],
            learner["AWS_SECRET_ACCESS_KEY"],
            BENCH_BUCKET,
            csv_key,
            parquet_key,
            dataset,
            department,
            learner["AWS_SESSION_TOKEN"],
        )
    return Source(
        endpoint_url,
        config.PLAYGROUND_REGION,
        config.PLAYGROUND_ACCESS_KEY,
        playground.admin_secret(),
        BENCH_BUCKET,
        csv_key,
        parquet_key,
        dataset,
        department,
    )


def physical_minimum(src: Source) -> int:
    """The fewest bytes any reader can fetch for the "filtre" case: the footer (its
    serialized size, then 4 bytes of length and ``PAR1``), and the chunks of
    ``src.columns`` in the row groups whose ``CODGEO`` statistics do not exclude the
    department. Read from the file's own footer (pyarrow, through ``src``)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(
        f"{src.bucket}/{src.parquet_key}", filesystem=src.arrow()
    ).metadata
    names = [meta.schema.column(j).name for j in range(meta.num_columns)]
    low, high = department_range(src.department)
    total = meta.serialized_size + 8
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        key = group.column(names.index("CODGEO")).statistics
        if key is not None and key.has_min_max and (key.max < low or key.min >= high):
            continue
        total += sum(
            group.column(names.index(name)).total_compressed_size
            for name in src.columns
        )
    return total


def minimum_table(results: list[Measure], minimum: int) -> pd.DataFrame:
    """Bytes of the "filtre" case per library, beside the physical minimum."""
    received = table(results)[CASES["filtre"]]
    return pd.DataFrame(
        {
            "octets reçus": received,
            "minimum": minimum,
            "× le minimum": received / minimum,
        }
    )


def report(
    results: list[Measure], sizes: dict[str, int], minimum: int | None = None
) -> str:
    """The benchmark's report: sizes, then bytes, requests and times per case; with
    ``minimum`` (:func:`physical_minimum`), the filtered read beside it."""
    csv, parquet = (f"{sizes[k]:,}".replace(",", " ") for k in ("csv", "parquet"))
    lines = [
        f"Objets : CSV {csv} octets, Parquet {parquet} octets "
        f"({sizes['parquet'] / sizes['csv']:.0%} du CSV)."
    ]
    for what, title in (
        ("bytes", "Octets reçus du serveur"),
        ("requests", "Requêtes HTTP"),
        ("seconds", "Durée (s, varie d'une exécution à l'autre)"),
    ):
        frame = table(results, what)
        if what == "seconds":
            frame = frame.round(2)
        lines += ["", f"{title} :", frame.to_string()]
    lines += [
        "",
        "Octets de 2 colonnes Parquet / taille du CSV :",
        ratios(results, sizes["csv"]).map("{:.1%}".format).to_string(),
    ]
    if minimum is not None:
        frame = minimum_table(results, minimum)
        frame["× le minimum"] = frame["× le minimum"].round(2)
        lines += [
            "",
            f"{CASES['filtre']} : octets reçus et minimum physique (le pied, et les "
            "colonnes des groupes de lignes qui peuvent contenir le département) :",
            frame.to_string(),
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------- a distant server
# On the loopback address a request costs nothing; on a real network each one costs a
# round trip. The relay can add a fixed latency per request
# (``CountingProxy(latency=…)``): a library that makes its requests one after the other
# pays it for each.

#: Latency per request of the "distant server" variant, in seconds.
LATENCY = config.BENCH_LATENCY


def tuned_readers(src: Source) -> dict[str, Callable[[], int]]:
    """The two-column read of each library with the settings that suit a distant server.

    The clients are built here, once, as a program that reads several files keeps them
    (the readers of :data:`READERS` build theirs at each read, which costs more than the
    read itself for s3fs, pandas and duckdb). Each returned callable reads the two
    columns and returns the number of rows.
    """
    import fsspec.parquet
    import pyarrow.parquet as pq

    path = f"{src.bucket}/{src.parquet_key}"
    columns = list(src.columns)
    s3 = src.boto3_client()
    fs = src.s3fs()
    s3_arrow = src.arrow()
    con = src.duckdb()
    # Each measured read is a first read: no file kept from a previous one.
    con.sql("SET enable_external_file_cache = false")
    polars_options = src.polars_options()

    def boto3_() -> int:  # one GET of the whole object: one round trip, every byte
        body = s3.get_object(Bucket=src.bucket, Key=src.parquet_key)["Body"].read()
        return pq.read_table(io.BytesIO(body), columns=columns).num_rows

    def s3fs_() -> int:  # footer, then every needed range at once (concurrent requests)
        fs.invalidate_cache()
        with fsspec.parquet.open_parquet_file(
            path,
            fs=fs,
            columns=columns,
            engine="pyarrow",
            footer_sample_size=FOOTER_SAMPLE,
        ) as f:
            return pq.read_table(f, columns=columns).num_rows

    def pyarrow_() -> int:
        return pq.read_table(path, columns=columns, filesystem=s3_arrow).num_rows

    def pandas_() -> int:  # pyarrow's own S3 client instead of s3fs
        return len(pd.read_parquet(path, columns=columns, filesystem=s3_arrow))

    def polars_() -> int:
        import polars as pl

        return (
            pl.scan_parquet(f"s3://{path}", storage_options=polars_options)
            .select(columns)
            .collect()
            .height
        )

    def duckdb_() -> int:
        return len(
            con.sql(
                f"SELECT {', '.join(columns)} FROM read_parquet('s3://{path}')"
            ).fetchall()
        )

    return {
        "boto3": boto3_,
        "s3fs": s3fs_,
        "pyarrow": pyarrow_,
        "pandas": pandas_,
        "polars": polars_,
        "duckdb": duckdb_,
    }


def measure_tuned(proxy: CountingProxy, src: Source, repeat: int = 3) -> list[Measure]:
    """The two-column read with :func:`tuned_readers` through ``proxy``
    (``src.endpoint_url`` is the proxy's URL): requests and bytes of one read, and the
    shortest of ``repeat`` durations (the others were slowed down by whatever else the
    machine was doing)."""
    readers = tuned_readers(src)
    results = []
    for library, read in readers.items():
        durations = []
        for _ in range(repeat):
            proxy.reset()
            started = time.perf_counter()
            rows = read()
            durations.append(time.perf_counter() - started)
        count = proxy.count()
        results.append(
            Measure(
                library, "colonnes", rows, count.requests, count.bytes, min(durations)
            )
        )
    return results


def latency_table(
    before: dict[str, list[Measure]], after: dict[str, list[Measure]]
) -> pd.DataFrame:
    """Durations of the two-column read, one row per library: each (label -> measures)
    of ``before`` and ``after`` gives a column, and a last column gives the ratio to the
    fastest library of the last column."""
    columns = {}
    for label, results in {**before, **after}.items():
        columns[label] = pd.Series(
            {m.library: m.seconds for m in results if m.case == "colonnes"}
        )
    frame = pd.DataFrame(columns).loc[list(LIBRARIES)]
    last = frame.columns[-1]
    frame["× la plus rapide"] = frame[last] / frame[last].min()
    # boto3 reads the whole object in one request: the fastest on a small file, but it
    # reads no columns. The column readers compared with the fastest of them:
    frame["× la plus rapide hors boto3"] = frame[last] / frame[last].drop("boto3").min()
    return frame


# -------------------------------------------------------------------------- peak memory
# Each approach runs in a Python process of its own. A first run on a small file loads
# the modules and the clients' descriptions (botocore reads its S3 model on first use);
# the peak measured is what the read of the large file adds to that. On Linux, the peak
# is the process's VmHWM (/proc/self/status), reset just before the read
# (/proc/self/clear_refs); not ``getrusage(...).ru_maxrss``: at exec, a child started by
# a large process (a Jupyter kernel) inherits that process's peak as its own. Elsewhere,
# ru_maxrss is the fallback.

_ISOLATED = r"""
import ast, contextlib, io, json, resource, sys, time

code, variables, warmup, endpoints = json.loads(sys.stdin.read())
program = compile(code, "<cellule>", "exec")


def run(values, endpoint_url):
    scope = {**values, "ENDPOINT_URL": endpoint_url,
             "ENDPOINT": endpoint_url.split("://", 1)[1],
             "LOCAL": endpoint_url.startswith("http://")}
    printed = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        exec(program, scope)
    return time.perf_counter() - started, printed.getvalue()


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024


def reset_peak():
    # The memory held now; from now on, the peak only counts what comes next.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current VmRSS (Linux >= 4.0)
        return status("VmRSS")
    except OSError:
        return peak()


def peak():
    try:
        return status("VmHWM")
    except OSError:  # not Linux
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kib if sys.platform == "darwin" else kib * 1024  # bytes on macOS


run({**variables, **warmup}, endpoints[0])
before = reset_peak()
result = {"before": before, "seconds": []}
for i, endpoint_url in enumerate(endpoints[1:]):
    seconds, printed = run(variables, endpoint_url)
    result["seconds"].append(seconds)
    if i == 0:
        result["after"], result["printed"] = peak(), printed
print(json.dumps(result))
"""


@dataclass(frozen=True)
class Isolated:
    """One approach run in a process of its own: what it printed, the memory its read
    added to the process (bytes, at the peak), and its duration through each measured
    endpoint."""

    printed: str
    base: int  # peak before the measured read (modules and clients loaded)
    peak: int  # what the measured read added
    seconds: tuple[float, ...]


#: The process from which each measured cell is forked: it has imported once what the
#: cells use most (about 1.5 s of CPU that a new process paid for each of the eight
#: cells of « Gros volumes »). Each request is one JSON line: the environment of the
#: moment (the credentials may have been renewed) and the input of :data:`_ISOLATED`;
#: each answer, one JSON line: return code, standard output, standard error.
_TEMPLATE = r"""
import io, json, os, sys, tempfile, traceback
import boto3, botocore.session, pandas, pyarrow, pyarrow.csv, pyarrow.parquet, s3fs

ISOLATED = sys.argv[1]
for line in sys.stdin:
    request = json.loads(line)
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.stdin = io.StringIO(request["input"])
        status = 0
        try:
            exec(compile(ISOLATED, "<mesure>", "exec"), {"__name__": "__main__"})
        except BaseException:
            traceback.print_exc()
            status = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    _, status = os.waitpid(pid, 0)
    answer = {"rc": os.waitstatus_to_exitcode(status)}
    for name, f in (("stdout", out), ("stderr", err)):
        f.seek(0)
        answer[name] = f.read().decode("utf-8", "replace")
        f.close()
    print(json.dumps(answer), flush=True)
"""

_template: subprocess.Popen | None = None


def _forked(payload: str, timeout: float) -> tuple[int, str, str]:
    """Run :data:`_ISOLATED` on ``payload`` in a process forked from :data:`_TEMPLATE`
    (started on first use, once per process, restarted if it died); after ``timeout``
    seconds without an answer, the template and its fork are stopped."""
    import json
    import select

    global _template
    if _template is None or _template.poll() is not None:
        _template = subprocess.Popen(
            [sys.executable, "-c", _TEMPLATE, _ISOLATED],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        # Its own session: the kernel's interrupt and shutdown signals are not for it;
        # it ends when the kernel does (end of its input).
    _template.stdin.write(
        json.dumps({"env": dict(os.environ), "input": payload}) + "\n"
    )
    _template.stdin.flush()
    if not select.select([_template.stdout], [], [], timeout)[0]:
        os.killpg(
            _template.pid, signal.SIGKILL
        )  # the template and the measure it forked
        _template.wait()
        _template = None
        return 1, "", f"pas de réponse en {timeout:.0f} s : mesure arrêtée"
    answer = json.loads(_template.stdout.readline())
    return answer["rc"], answer["stdout"], answer["stderr"]


def isolated(
    code: str, variables: dict, warmup: dict, endpoints: list[str], timeout: float = 300
) -> Isolated:
    """Run ``code`` in a process of its own, forked from a process that has imported the
    usual libraries: once with ``variables | warmup`` through ``endpoints[0]`` (loads
    the other modules and the clients), then once with ``variables`` through each
    further endpoint. ``ENDPOINT_URL``, ``ENDPOINT`` and ``LOCAL`` are set for each run
    as the chapters' setup cell sets them; the credentials come from the environment."""
    import json

    payload = json.dumps([code, variables, warmup, endpoints])
    if hasattr(os, "fork"):
        returncode, stdout, stderr = _forked(payload, timeout)
    else:  # no fork (Windows): a new process, that imports everything itself
        run = subprocess.run(
            [sys.executable, "-c", _ISOLATED],
            capture_output=True,
            text=True,
            input=payload,
            timeout=timeout,
        )
        returncode, stdout, stderr = run.returncode, run.stdout, run.stderr
    if returncode:
        raise RuntimeError(
            f"Le code mesuré a échoué dans son processus :\n{stderr[-3000:]}"
        )
    result = json.loads(stdout.strip().splitlines()[-1])
    return Isolated(
        result["printed"],
        result["before"],
        result["after"] - result["before"],
        tuple(result["seconds"]),
    )


def latency_report(
    loopback: list[Measure], slow: list[Measure], tuned: list[Measure], latency: float
) -> str:
    """The benchmark's latency variant: durations of every case on the loopback address
    and with ``latency`` per request, then the two-column read before and after the
    settings of :func:`tuned_readers`."""
    ms = f"{latency * 1000:.0f} ms"
    lines = [
        f"Avec {ms} de latence par requête (relais lent) :",
        "",
        "Durée (s, varie d'une exécution à l'autre) :",
        table(slow, "seconds").round(2).to_string(),
        "",
        f"Requêtes faites, donc au moins autant de fois {ms} si elles se suivent :",
        table(slow, "requests").to_string(),
        "",
        "Parquet, 2 colonnes : chapitre « Parquet sur S3 » (client neuf "
        "à chaque lecture), puis réglé (client gardé, lectures "
        "groupées ; la plus courte de 3) :",
    ]
    frame = latency_table(
        {"sans latence (s)": loopback, f"{ms} (s)": slow}, {f"réglé, {ms} (s)": tuned}
    )
    frame.insert(
        list(frame.columns).index("× la plus rapide"),
        "requêtes réglé",
        pd.Series({m.library: m.requests for m in tuned}),
    )
    lines.append(frame.round(3).to_string())
    return "\n".join(lines)
