"""Chapter 5, « Gros volumes »: every streamed read is measured in its own process, the
measure of peak memory is right even from a large parent (a Jupyter kernel), and the
executed notebook shows what the chapter claims."""

from __future__ import annotations

import inspect
import re

import nbformat

from s3cours import bench, config, notebooks

SOURCE = config.CONTENT_DIR / "06_gros_volumes.Rmd"
NOTEBOOK = notebooks.notebook_path(SOURCE)
NOWHERE = ["http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9"]


def _cells() -> list[nbformat.NotebookNode]:
    return [
        c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"
    ]


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "") or o.get("data", {}).get("text/plain", "")
        for o in cell.outputs
    )


def test_peak_memory_is_what_the_read_adds_even_from_a_large_parent() -> None:
    # A parent holding 300 MB: a child it started must not report that as its own peak.
    held = bytearray(300_000_000)
    held[::4096] = b"x" * len(held[::4096])
    code = (
        "buffer = bytearray(TAILLE)\n"
        "buffer[::4096] = b'y' * len(buffer[::4096])\nprint(len(buffer))"
    )
    big = bench.isolated(code, {"TAILLE": 80_000_000}, {"TAILLE": 1_000}, NOWHERE)
    small = bench.isolated(code, {"TAILLE": 5_000_000}, {"TAILLE": 1_000}, NOWHERE)
    assert big.printed == "80000000\n" and small.printed == "5000000\n"
    assert 70e6 < big.peak < 130e6, big
    assert small.peak < 30e6, small
    assert len(big.seconds) == 2
    del held


def test_a_failing_measured_cell_says_so() -> None:
    try:
        bench.isolated("raise ValueError('raté')", {}, {}, NOWHERE)
    except RuntimeError as exc:
        assert "raté" in str(exc) and "processus" in str(exc)
    else:
        raise AssertionError("no error")


def test_every_library_tab_of_the_streaming_section_is_a_measured_cell() -> None:
    text = SOURCE.read_text()
    section = text.split("### Lire en flux")[1].split("### Ce que coûte")[0]
    tabs = re.findall(r"^#### (\w+)$", section, flags=re.MULTILINE)
    assert tabs == ["boto3", "s3fs", "pyarrow", "pandas", "polars", "duckdb"]
    for tab in section.split("\n#### ")[1:]:
        chunks = re.findall(r"```\{python[^}]*\}\n(.*?)```", tab, flags=re.DOTALL)
        assert chunks and all(c.startswith("%%mesurer ") for c in chunks), tab[:40]


def test_the_executed_notebook_shows_what_the_chapter_claims() -> None:
    cells = _cells()
    assert not [c for c in cells for o in c.outputs if o.output_type == "error"]
    measured = [c for c in cells if c.source.startswith("%%mesurer")]
    assert len(measured) == 8
    # Every approach gives the same answer.
    assert len({_text(c) for c in measured}) == 1
    by_start = {c.source.splitlines()[0]: _text(c) for c in cells if c.source}
    workers = next(v for k, v in by_start.items() if k.startswith("import psutil"))
    assert workers.strip() == "processus de workers restants : []"
    credentials = next(v for k, v in by_start.items() if k.startswith("import logging"))
    assert "identifiants vus par les workers : {None}" in credentials
    pending = [
        _text(c) for c in cells if c.source.startswith("s3.abort_multipart_upload")
    ]
    assert pending == ["envois en cours sous cette clé : 0\n"]


def _dask_section() -> str:
    text = SOURCE.read_text()
    return text[
        text.index("## Calculer à plusieurs : Dask") : text.index("## Exercices")
    ]


def test_the_dask_example_stands_alone_and_says_what_a_script_needs() -> None:
    """What a learner copies into a script: no course helper builds its data, and the
    chapter says the guard a script needs (else ``Nanny failed to start``)."""
    section = _dask_section()
    code = "".join(
        re.findall(r"```\{python[^}]*\}\n(.*?)```", section, flags=re.DOTALL)
    )
    assert "bench." not in code and "s3cours" not in code
    assert 'if __name__ == "__main__":' in section
    assert "RuntimeError: Nanny failed to start." in section
    result = next(c for c in _cells() if "DOSSIER_RESULTAT = " in c.source)
    assert _text(result).startswith("100 départements, dont :"), _text(result)


def test_the_clean_up_deletes_key_by_key_and_checks_what_remains() -> None:
    # fs.rm_file, one DeleteObject a key: Ceph RGW 16 refuses every key of a batch
    # (fs.rm) to temporary credentials, and fs.rm would not say so.
    cell = next(c for c in _cells() if "fs.rm_file(chemin)" in c.source)
    assert "fs.rm(" not in cell.source
    assert "raise RuntimeError" in cell.source
    assert re.fullmatch(
        r"\d+ objets supprimés ; rien ne reste sous \S+\n", _text(cell)
    ), _text(cell)


def test_the_tuned_s3fs_read_samples_the_footer_as_the_measures_do() -> None:
    # fsspec's default footer sample (1 MB) reads nearly all of the course's 1.2 MB
    # Parquet file, then its columns again (2 020 051 bytes in 3 requests, measured;
    # with 64 KiB: 346 112 bytes in 6, the ranges asked for together). The chapter's
    # tab and the measured reader (bench.tuned_readers) sample the same 64 KiB, which
    # the file's footer fits in.
    tab = next(c for c in _cells() if "fsspec.parquet.open_parquet_file(" in c.source)
    assert "footer_sample_size=64 * 2**10" in tab.source
    assert bench.FOOTER_SAMPLE == 64 * 2**10
    assert "footer_sample_size=FOOTER_SAMPLE" in inspect.getsource(bench.tuned_readers)
