"""Chapter 9, « Recettes du quotidien »: checks on the executed notebook (no execution
here; nbval re-runs it). Every number the prose states is the one the chapter prints,
every comparison it makes holds in its own output, each refusal it shows is the real
one, explained by the course's error helper, and it leaves none of its objects."""

from __future__ import annotations

import re

import nbformat
import pytest

from s3cours import config, notebooks, structure

SOURCE = config.CONTENT_DIR / "09_recettes.Rmd"
NOTEBOOK = notebooks.notebook_path(SOURCE)


@pytest.fixture(scope="module")
def nb() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


_text = notebooks.printed


def _cell(nb: nbformat.NotebookNode, marker: str) -> nbformat.NotebookNode:
    found = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(found) == 1, (marker, len(found))
    return found[0]


def _prose(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _number(text: str) -> int:
    """« 1 214 752 » (any space between the thousands) -> 1214752."""
    return int(re.sub(r"\D", "", text))


def _sizes(nb: nbformat.NotebookNode) -> dict[str, int]:
    """The sizes table of « CSV compressé » : name -> bytes."""
    out = _text(_cell(nb, "tailles = {"))
    return {
        name.strip(): _number(size)
        for name, size in re.findall(
            r"^(\S.*?) {2,}([\d\s\u202f]+) octets$", out, re.MULTILINE
        )
    }


def test_tabs_in_the_fixed_order() -> None:
    tabsets = structure.tabsets(SOURCE)
    assert ["boto3", "s3fs", "pyarrow", "pandas", "mc"] in tabsets  # object settings
    assert ["boto3", "s3fs", "pyarrow", "pandas", "polars", "duckdb"] in tabsets  # gzip
    assert ["boto3", "s3fs", "pandas"] in tabsets  # conditional writes
    assert ["boto3", "s3fs", "pyarrow", "mc"] in tabsets  # refused deletions
    assert ["boto3", "s3fs", "mc"] in tabsets  # many objects
    assert not structure.chapter_problems(SOURCE)


def test_the_gzip_sizes_the_prose_states_are_the_printed_ones(nb) -> None:
    sizes = _sizes(nb)
    assert set(sizes) == {
        "CSV",
        "Parquet",
        *(f"CSV gzip ({lib})" for lib in ("pandas", "polars")),
    }
    prose = _prose(nb)
    stated = re.search(
        r"plus petit\*\* que le Parquet : ([\d\s]+) octets avec `pandas`, contre\s+"
        r"([\d\s]+)\.",
        prose,
    )
    assert stated, "la phrase des tailles a changé : mettez ce test à jour"
    assert _number(stated[1]) == sizes["CSV gzip (pandas)"]
    assert _number(stated[2]) == sizes["Parquet"]
    # « plus petit que le Parquet », for every library's gzip CSV.
    assert all(v < sizes["Parquet"] for k, v in sizes.items() if "gzip" in k)
    assert sizes["Parquet"] < sizes["CSV"]


def test_two_parquet_columns_cost_less_than_the_whole_gzip_csv(nb) -> None:
    out = _text(_cell(nb, "pied = pq.read_metadata("))
    columns, whole = re.findall(r": ([\d\u202f]+) octets", out)
    assert _number(columns) < _number(whole) == _sizes(nb)["CSV gzip (pandas)"]


def test_object_settings_arrive_and_pyarrow_drops_user_metadata(nb) -> None:
    for marker in (
        'Key=REGLAGES + "boto3.csv",\n    Body',
        "EXTRAIT, ContentType=TYPE",
        '"s3_additional_kwargs": {"ContentType"',
    ):
        assert _text(_cell(nb, marker)) == "text/csv {'source': 'filosofi-2014'}\n"
    assert _text(_cell(nb, "x-amz-meta-source")) == "text/csv {}\n"
    assert _text(_cell(nb, 'Key=REGLAGES + "sans_type.csv", Body')) == (
        "binary/octet-stream\n"
    )
    links = _text(_cell(nb, 'for nom, lien in (("boto3", lien_boto3)'))
    assert links.count("200 text/csv; charset=utf-8") == 2
    assert links.count('attachment; filename="communes.csv"') == 2


def test_conditional_writes_are_refused_and_explained(nb) -> None:
    refused = _text(_cell(nb, 'Body=b"autre contenu", IfNoneMatch="*"'))
    assert "PreconditionFailed" in refused and "Écrire sans écraser" in refused
    assert _text(_cell(nb, 'erreur.response["Error"]["Code"],\n')) == (
        "ClientError PreconditionFailed 412\n"
    )
    for marker in ('mode="create"', 'mode="x"'):
        assert _text(_cell(nb, marker)) == "OSError errno 22\n"
    # The ETag without its quotes (Ceph RGW 16 refuses a quoted one): the first update
    # goes through, the second, with the ETag read before it, is refused.
    for marker, refused in (
        ("lu = s3.get_object(Bucket=MON_BUCKET, Key=RAPPORT)", "PreconditionFailed"),
        ("contenu = fs.cat_file(", "OSError errno 22"),
    ):
        cell = _cell(nb, marker)
        assert ".strip('\"')" in cell.source
        assert _text(cell) == (
            f"première mise à jour : faite\nseconde mise à jour : {refused}"
            + (" ; à relire\n" if refused == "PreconditionFailed" else "\n")
        )


def test_a_refused_deletion_answers_200_and_the_check_says_so(nb) -> None:
    shown = _text(_cell(nb, 'print("HTTP", reponse["ResponseMetadata"]'))
    assert shown.startswith("HTTP 200\nsupprimées : 0\nrefusées : [('AccessDenied',")
    check = _cell(nb, 'lot = [{"Key": INTERDITE}]')
    assert "raises-exception" in check.metadata.get("tags", [])
    text = _text(check)
    # Refused in the batch, then refused alone (une_a_une): still a refusal, named with
    # its code only (the message depends on the server), as PARTIAL_DELETE reads it.
    assert "RuntimeError: objets non supprimés : 1, dont diffusion/" in text
    assert text.split("\n")[0].endswith(".csv : AccessDenied")
    assert "Suppressions refusées en partie" in text  # the course's explanation
    assert _text(_cell(nb, "def une_a_une(")) == "objets supprimés : 1\n"
    s3fs = _text(_cell(nb, "fs.rm lève PermissionError"))
    assert s3fs.startswith(
        "fs.rm rend : [] et ne lève rien\nrefusées : [('AccessDenied',"
    )


def test_many_objects_are_all_made_copied_and_deleted(nb) -> None:
    petits = _cell(nb, "petits = {").source
    count = int(re.search(r"for i in range\((\d+)\)", petits)[1])
    for marker in ("s3_lot = boto3.client(", "fs.pipe({", 'local = DOSSIER / "lot"'):
        out = _text(_cell(nb, marker))
        made, copied, gone = (int(n) for n in re.findall(r"(\d+) \w+", out))
        assert (made, copied) == (count, count), out
        assert gone in (0, 2 * count), out  # s3fs prints what remains


def test_checksums_and_multipart_etag_are_recomputed(nb) -> None:
    # Asked for at upload (ChecksumCRC32=), kept by the build's server (MinIO), and the
    # size and ETag that every server gives.
    sent = _text(_cell(nb, "ChecksumCRC32=crc32(EXTRAIT)"))
    crc = sent.removeprefix("envoyé avec son CRC32 : ").strip()
    identical = "taille identique : True\nETag identique : True\n"
    assert _text(_cell(nb, 'Key=INTEGRITE + "extrait.csv", ChecksumMode')) == (
        f"FULL_OBJECT {crc} ; identique : True\n" + identical
    )
    assert _text(_cell(nb, 'stat.get("checksum", {})')) == (
        f"CRC32 {crc} ; identique : True\n" + identical
    )
    # The parts' size from the upload's settings: Ceph RGW 16 ignores PartNumber in
    # head_object and gives the whole object's size.
    assert "PartNumber" not in _cell(nb, "GROS = csv * 5").source
    assert (
        _text(_cell(nb, "GROS = csv * 5"))
        .split("\n")[0]
        .endswith("en 2 parties de 8\u202f388\u202f608 octets au plus")
    )
    assert _text(_cell(nb, "parties = [GROS")) == identical


def test_the_script_runs_with_the_guard_and_fails_without(nb) -> None:
    assert _text(_cell(nb, 'SCRIPT = """')) == "34\u202f000 communes, 97 départements\n"
    assert _text(_cell(nb, "SANS_GARDE = ")) == (
        "code de sortie : 1\nRuntimeError: Nanny failed to start.\n"
    )


def test_the_chapter_leaves_nothing_under_its_folder(nb) -> None:
    out = _text(_cell(nb, "restants = [\n"))
    listed = [line for line in out.splitlines() if line.startswith("recettes/")]
    assert out.endswith(f"objets supprimés sous recettes/ : {len(listed)}\n")
