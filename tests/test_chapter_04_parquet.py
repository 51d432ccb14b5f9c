"""Chapter 4, « Parquet sur S3 »: every number its prose states about a measurement is
the number the executed notebook prints, or a bound checked here against it.

These tests read the committed notebook (its outputs) and the chapter's source (its
prose): a sentence that its own output contradicts fails here. The physical minimum is
computed again from the course's Parquet file itself (:mod:`s3cours.data`), not taken
from the notebook.
"""

from __future__ import annotations

import io
import re

import nbformat
import pyarrow.parquet as pq
import pytest

from s3cours import bench, config, data, notebooks

SOURCE = config.CONTENT_DIR / "04_parquet.Rmd"
NOTEBOOK = notebooks.notebook_path(SOURCE)
LIBRARIES = list(bench.LIBRARIES)
#: Reading time of a chapter: 200 words a minute, plus 20 s per code cell.
MAX_MINUTES = 45


def _parquet() -> bytes:
    return next(
        o.body for o in data.course_objects() if o.key == config.FILOSOFI_PARQUET_KEY
    )


def _cells() -> list[nbformat.NotebookNode]:
    return nbformat.read(NOTEBOOK, as_version=4).cells


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "") or o.get("data", {}).get("text/plain", "")
        for o in cell.outputs
    )


def _output(start: str) -> str:
    """The printed output of the one code cell whose source starts with ``start``."""
    found = [
        _text(c)
        for c in _cells()
        if c.cell_type == "code" and c.source.startswith(start)
    ]
    assert len(found) == 1, (start, len(found))
    return found[0]


def _prose() -> str:
    """The chapter's prose (code chunks left out), on one line."""
    text = re.sub(r"```\{python[^}]*\}\n.*?```", "", SOURCE.read_text(), flags=re.S)
    return " ".join(text.split())


def _number(text: str) -> float:
    """« 1 214 752 » (thin spaces), « 1,4 », « 44,8 % » -> a float."""
    return float(re.sub(r"[\s\u202f\u00a0%]", "", text).replace(",", "."))


def _table(start: str) -> dict[str, list[str]]:
    """A table printed by pandas (text form): library -> its cells, as printed."""
    rows = {}
    for line in _output(start).splitlines():
        name, _, rest = line.partition(" ")
        if name in LIBRARIES:
            # Cells are separated by two spaces or more; a number holds single ones.
            rows.setdefault(name, []).extend(re.split(r" {2,}", rest.strip()))
    assert list(rows) == LIBRARIES, rows
    return rows


def _claim(pattern: str) -> re.Match:
    """The one place of the prose that ``pattern`` matches."""
    found = list(re.finditer(pattern, _prose()))
    assert len(found) == 1, (pattern, [m.group(0) for m in found])
    return found[0]


# ------------------------------------------------------------------------ the numbers


def _bytes_by_case() -> dict[str, dict[str, float]]:
    """The first table of « Mesurer »: bytes per library, per case (in order)."""
    # The wide table is printed in two blocks of columns; the cells follow in order.
    table = _table('a_la_francaise(bench.table(mesures), "entier")')
    return {
        lib: dict(zip(bench.CASES, map(_number, cells), strict=True))
        for lib, cells in table.items()
    }


def _minimum() -> tuple[int, int, int]:
    """From the course's file: the physical minimum of the tabs' read (the footer, and
    CODGEO and MED14 of the row groups that may hold Paris's communes), the bytes of
    those column chunks alone, and the span from CODGEO's start to MED14's end."""
    meta = pq.ParquetFile(io.BytesIO(_parquet())).metadata
    names = [meta.schema.column(j).name for j in range(meta.num_columns)]
    chunks, span = 0, 0
    low, high = bench.department_range("75")
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        key, value = (group.column(names.index(n)) for n in ("CODGEO", "MED14"))
        if key.statistics.max < low or key.statistics.min >= high:
            continue
        chunks += key.total_compressed_size + value.total_compressed_size
        span += (
            value.dictionary_page_offset
            + value.total_compressed_size
            - key.dictionary_page_offset
        )
    return meta.serialized_size + 8 + chunks, chunks, span


def test_the_executed_notebook_has_no_error() -> None:
    assert not [
        c.source[:60]
        for c in _cells()
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]


def test_the_minimum_printed_is_the_one_the_file_gives() -> None:
    minimum, _, span = _minimum()
    printed = _output("pied = fichier.metadata")
    assert f"minimum : {minimum:,} octets".replace(",", "\u202f") in printed
    assert f"fin de MED14 : {span:,} octets".replace(",", "\u202f") in printed
    # One row group only may hold Paris's communes, as the chapter says.
    assert printed.count("groupe ") == 1
    assert "ne peuvent être que dans un seul groupe" in _prose()


def test_each_library_against_the_minimum_is_what_the_prose_says() -> None:
    minimum, chunks, span = _minimum()
    received = {
        lib: _number(cells[0]) for lib, cells in _table("face_au_minimum = ").items()
    }
    by_case = _bytes_by_case()
    assert received == {lib: by_case[lib]["filtre"] for lib in LIBRARIES}
    ratio = {lib: received[lib] / minimum for lib in LIBRARIES}
    # « duckdb touche le minimum : il lit les 16 derniers Kio du fichier ».
    kib = int(
        _claim(r"\*\*`duckdb`\*\* touche le minimum : il lit les (\d+) ").group(1)
    )
    assert received["duckdb"] == kib * 1024 + chunks and ratio["duckdb"] < 1.01
    # « s3fs, pyarrow et pandas restent à moins de 1,5 fois … les 64 derniers Kio ».
    claim = _claim(
        r"\*\*`s3fs`, `pyarrow` et `pandas`\*\* .{0,120}? restent à moins de "
        r"([\d,]+) fois le minimum : ils lisent d'abord les (\d+) derniers Kio"
    )
    bound, kib = _number(claim.group(1)), int(claim.group(2))
    for lib in ("s3fs", "pyarrow", "pandas"):
        assert ratio[lib] < bound and received[lib] == kib * 1024 + chunks, lib
    # « polars en reçoit près de 4 fois plus … les 256 derniers Kio … du début de
    # CODGEO à la fin de MED14 ».
    claim = _claim(
        r"\*\*`polars`\*\* en reçoit près de (\d+) fois plus.{0,80}? les (\d+) derniers"
    )
    assert abs(ratio["polars"] - int(claim.group(1))) < 0.5
    assert received["polars"] == int(claim.group(2)) * 1024 + span
    stated = _claim(r"ici, les ([\d\s]+) octets qui vont du début de `CODGEO` à la fin")
    assert _number(stated.group(1)) == span
    between = _claim(
        r"avec les trois colonnes rangées entre elles \(`(\w+)`, `(\w+)`, `(\w+)`\)"
    )
    schema = pq.ParquetFile(io.BytesIO(_parquet())).schema_arrow.names
    start, end = schema.index("CODGEO"), schema.index("MED14")
    assert list(between.groups()) == schema[start + 1 : end]
    footer = _claim(r"même quand le pied est bien plus petit \(ici (\d+) Ko\)")
    assert round((minimum - chunks) / 1000) == int(footer.group(1))
    assert ratio["polars"] > bound  # so the chapter has to say why
    # « boto3 reçoit l'objet entier ».
    _claim(r"\*\*`boto3`\*\* reçoit l'objet entier")
    assert received["boto3"] == len(_parquet())


def test_the_polars_filters_cost_what_the_prose_says() -> None:
    minimum, _, _ = _minimum()
    lines = {
        line.split(" ", 1)[0]: line
        for line in _output("def paris_polars(filtre):").splitlines()
    }
    assert list(lines) == ["str.starts_with", "intervalle", "use_pyarrow=True"]

    def octets(line: str) -> int:
        return int(_number(re.search(r"requêtes,\s+([\d\u202f]+) octets", line)[1]))

    rows = {re.search(r"(\d+) lignes", line)[1] for line in lines.values()}
    assert rows == {"483"}
    claim = _claim(
        r"Avec `str.starts_with`, `polars` lit les deux colonnes des quatre groupes : "
        r"(\d+) % du fichier pour (\d+) lignes"
    )
    share = octets(lines["str.starts_with"]) / len(_parquet())
    assert round(100 * share) == int(claim.group(1)) and claim.group(2) == "483"
    assert pq.ParquetFile(io.BytesIO(_parquet())).num_row_groups == 4  # « quatre »
    # Every row group: the same bytes as the two columns read without a filter.
    all_groups = _bytes_by_case()["polars"]["colonnes"]
    assert octets(lines["str.starts_with"]) == all_groups
    # The tabs' range is the benchmark's read.
    assert octets(lines["intervalle"]) == _bytes_by_case()["polars"]["filtre"]
    bound = _number(
        _claim(
            r"Avec `use_pyarrow=True`, la lecture est celle de `pyarrow`, à moins de "
            r"([\d,]+) fois le minimum"
        ).group(1)
    )
    assert octets(lines["use_pyarrow=True"]) / minimum < bound
    assert octets(lines["use_pyarrow=True"]) == _bytes_by_case()["pyarrow"]["filtre"]
    # After explain(), the read makes one request fewer than the fresh one above.
    _claim(r"fait une requête de moins que la lecture neuve de la cellule précédente")
    after = _output("relais.reset()\nrequete_mesuree").splitlines()[1]
    fresh = int(re.search(r"(\d+) requêtes", lines["intervalle"])[1])
    assert after.startswith("collect() après explain()")
    assert int(re.search(r"(\d+) requête", after)[1]) == fresh - 1


def test_the_two_columns_against_the_csv_are_what_the_prose_says() -> None:
    shares = {
        lib: _number(cells[0]) / 100
        for lib, cells in _table("taille_csv = s3.head_object(").items()
    }
    by_case = _bytes_by_case()
    csv_size = by_case["boto3"]["csv"]  # boto3 gets the whole CSV once: its size
    for lib in LIBRARIES:
        exact = by_case[lib]["colonnes"] / csv_size
        assert abs(shares[lib] - exact) < 0.0006, lib
    bound = int(
        _claim(
            r"\*\*Deux colonnes\*\* : `s3fs`, `pyarrow`, `pandas` et `duckdb` ne "
            r"demandent que le pied et les plages des deux colonnes : moins de (\d+) %"
        ).group(1)
    )
    assert all(shares[lib] < bound / 100 for lib in ("s3fs", "pyarrow", "pandas"))
    assert shares["duckdb"] < bound / 100
    polars = int(_claim(r"`polars` en reçoit (\d+) % : il demande").group(1))
    assert round(100 * shares["polars"]) == polars
    assert by_case["boto3"]["colonnes"] == len(_parquet())
    _claim(r"\*\*Deux colonnes d'un département\*\* : moins encore, sauf pour `boto3`")
    for lib in LIBRARIES:
        fewer = by_case[lib]["filtre"] < by_case[lib]["colonnes"]
        assert fewer == (lib != "boto3"), lib


def test_a_retenir_says_what_was_measured() -> None:
    minimum, _, _ = _minimum()
    size = len(_parquet())
    by_case = _bytes_by_case()
    claim = _claim(
        r"moins de (\d+) % du fichier Parquet avec `s3fs`, `pyarrow`, `pandas` et "
        r"`duckdb`, à moins de ([\d,]+) fois le minimum que donne le pied ; (\d+) % "
        r"avec `polars`"
    )
    share, bound, polars = (
        int(claim.group(1)),
        _number(claim.group(2)),
        int(claim.group(3)),
    )
    for lib in ("s3fs", "pyarrow", "pandas", "duckdb"):
        assert by_case[lib]["filtre"] < share / 100 * size, lib
        assert by_case[lib]["filtre"] < bound * minimum, lib
    assert round(100 * by_case["polars"]["filtre"] / size) == polars
    assert "quelques pour cent" not in _prose()


def test_partitions_and_small_files_are_what_the_prose_says() -> None:
    by_case = _bytes_by_case()
    _claim(
        r"\*\*Une partition\*\* : une centaine de Ko ou moins au lieu du fichier "
        r"entier, sauf pour `polars`"
    )
    for lib in LIBRARIES:
        assert (by_case[lib]["partition"] <= 120_000) == (lib != "polars"), lib
    _claim(r"un fichier par département, de quelques dizaines de kilo-octets au plus")
    listed = _output("for dossier in (DOSSIER_PYARROW, DOSSIER_PANDAS, DOSSIER_POLARS)")
    sizes = [_number(s) for s in re.findall(r"\.parquet ([\d\u202f]+) octets", listed)]
    assert sizes and all(size < 100_000 for size in sizes)


def test_the_other_stated_figures_are_printed() -> None:
    prose = _prose()
    # Row groups of 10 000 communes.
    assert "ici 10 000 communes chacun" in prose
    groups = re.findall(r"groupe \d : +(\d+) lignes", _output("import pyarrow.parquet"))
    assert groups[:-1] == ["10000"] * (len(groups) - 1) and int(groups[-1]) <= 10000
    # « 2 colonnes sur 29 » in polars' plan.
    assert "2 colonnes sur 29" in prose
    assert "PROJECT 2/29 COLUMNS" in _output("import polars as pl")
    # polars asks for the last 256 KiB of the file to find the footer.
    assert "256 derniers Kio" in prose
    assert "explain()                      1 requête(s), 262\u202f144 octets" in (
        _output("relais.reset()\nrequete_mesuree")
    )
    # s3fs's read-ahead: 50 MiB, and more than 3 times the bytes here.
    import s3fs

    assert "jusqu'à 50 Mio" in prose and "50 Mo" not in prose
    assert s3fs.S3FileSystem.default_block_size == 50 * 2**20
    check = next(c.source for c in _cells() if c.source.startswith("rapport = "))
    assert "plus de 3 fois plus d'octets" in check and "rapport > 3," in check
    times = _claim(
        r"lit en avance \(jusqu'à 50 Mio\), ici plus de (\d+) fois les octets"
    )
    assert f"rapport > {times.group(1)}," in check
    assert _output("rapport = ").strip().endswith(": True")
    # 100 open files of 10 MiB each: nearly a GiB, not more.
    assert "près d'un Gio de mémoire (100 fois 10 Mio)" in prose


def test_the_chapter_is_one_sitting() -> None:
    cells = _cells()
    words = sum(
        len(re.findall(r"\w+", c.source)) for c in cells if c.cell_type == "markdown"
    )
    code = sum(c.cell_type == "code" for c in cells)
    assert words / 200 + code * 20 / 60 <= MAX_MINUTES


@pytest.mark.parametrize("library", ["s3fs", "pyarrow", "pandas", "duckdb"])
def test_the_taught_reads_stay_near_the_minimum(library: str) -> None:
    """The issue's goal: every taught two-column filtered read within 1.5 times the
    physical minimum, except those the chapter explains (polars, boto3)."""
    minimum, _, _ = _minimum()
    assert _bytes_by_case()[library]["filtre"] <= 1.5 * minimum
