"""Chapters 2 and 3, « Lire des données sur S3 » and « Écrire des données sur S3 », and
the reference page « Dépannage »: every operation with every library that can do it,
every tab executed, the errors raised on purpose only in the troubleshooting page, and
none of the 2020 page's defects left anywhere in the repository."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest

from s3cours import config, notebooks, structure

READ = config.CONTENT_DIR / "02_lire.Rmd"
WRITE = config.CONTENT_DIR / "03_ecrire.Rmd"
TROUBLESHOOTING = config.CONTENT_DIR / "07_depannage.Rmd"

BASE = {"boto3", "s3fs", "pyarrow", "pandas"}
#: Each operation (a chapter's section), the chapter it is in, the tabs it must have.
OPERATIONS = {
    "Lister des objets": (READ, BASE | {"mc"}),
    "Lire les métadonnées d'un objet": (READ, BASE | {"mc"}),
    "Télécharger vers un fichier local": (READ, BASE | {"snakemake", "mc"}),
    "Lire directement dans pandas, sans passer par le disque": (
        READ,
        BASE | {"polars", "duckdb"},
    ),
    "Envoyer un fichier local": (WRITE, BASE | {"snakemake", "mc"}),
    "Écrire un DataFrame directement (CSV et Parquet)": (WRITE, BASE),
    "Copier et déplacer": (WRITE, BASE | {"mc"}),
    "Supprimer (seulement ce que vous avez créé)": (WRITE, BASE | {"mc"}),
}


def _section(text: str) -> str:
    # pandoc makes typographic apostrophes of the straight ones.
    return text.replace("\u2019", "'")


def _tabs_by_section(source: Path) -> dict[str, set[str]]:
    """Tab names of every tabset, by the section (level-2 heading) that holds it."""
    found: dict[str, set[str]] = defaultdict(set)
    section = ""
    for block in structure.pandoc_ast(structure.quarto_markdown(source))["blocks"]:
        if block["t"] == "Header" and block["c"][0] == 2:
            section = _section(structure._text(block["c"][2]))
        elif block["t"] == "Div" and structure.TABSET_CLASS in block["c"][0][1]:
            found[section] |= set(sum(structure.tabsets_of([block]), []))
    return found


def _code_cells_by_tab(nb: nbformat.NotebookNode) -> dict[tuple[str, str], list]:
    """The notebook's code cells that sit inside a tab, keyed by (section, tab), as
    :func:`structure.notebook_tabsets` finds them (a tab that points to a section of its
    own, Snakemake's, gets that section's cells)."""
    cells: dict[tuple[str, str], list] = defaultdict(list)
    for tabset in structure.notebook_tabsets(nb):
        for tab, code in tabset.tabs.items():
            cells[(_section(tabset.section), tab)] += code
    return cells


def test_every_operation_has_its_tabs() -> None:
    for operation, (source, wanted) in OPERATIONS.items():
        found = _tabs_by_section(source)
        assert wanted <= found.get(operation, set()), (
            operation,
            sorted(found.get(operation, [])),
        )


def test_every_tab_has_an_executed_code_cell_without_error() -> None:
    for operation, (source, wanted) in OPERATIONS.items():
        cells = _code_cells_by_tab(
            nbformat.read(notebooks.notebook_path(source), as_version=4)
        )
        for tab in wanted:
            code = cells.get((operation, tab), [])
            assert code, f"{operation} / {tab} : aucune cellule de code"
            assert all(c.execution_count for c in code), (
                f"{operation} / {tab} : non exécutée"
            )
            for cell in code:
                errors = [o for o in cell.outputs if o.output_type == "error"]
                assert not errors, (
                    f"{operation} / {tab} : erreur dans {cell.source[:60]!r}"
                )


def test_errors_only_in_troubleshooting_cells_and_each_of_them_raises() -> None:
    nb = nbformat.read(notebooks.notebook_path(TROUBLESHOOTING), as_version=4)
    tagged = [c for c in nb.cells if "raises-exception" in c.metadata.get("tags", [])]
    assert len(tagged) >= 8
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        raised = any(o.output_type == "error" for o in cell.outputs)
        assert raised == (cell in tagged), cell.source[:80]
    for source in (READ, WRITE):
        chapter = nbformat.read(notebooks.notebook_path(source), as_version=4)
        assert not [
            c.source[:60]
            for c in chapter.cells
            if c.cell_type == "code"
            and any(o.output_type == "error" for o in c.outputs)
        ], source.name
    names = {o.ename for c in tagged for o in c.outputs if o.output_type == "error"}
    assert {
        "ClientError",
        "NoSuchKey",
        "NoSuchBucket",
        "FileNotFoundError",
        "SSLError",
        "PermissionError",
    } <= names, names
    values = " ".join(
        o.evalue for c in tagged for o in c.outputs if o.output_type == "error"
    )
    assert "SignatureDoesNotMatch" in values and "InvalidTokenId" in values


@pytest.mark.parametrize(
    ("source", "count"), [(READ, 1), (WRITE, 2)], ids=["02_lire", "03_ecrire"]
)
def test_exercises_have_collapsed_executed_solutions(source: Path, count: int) -> None:
    text = source.read_text()
    assert text.count('::: {.callout-tip collapse="true"}\n#### Solution') == count
    solutions = notebooks.solution_cells(
        nbformat.read(notebooks.notebook_path(source), as_version=4)
    )
    assert len(solutions) == count
    for cell in solutions:
        assert cell.execution_count and cell.outputs, cell.source[:60]


# --------------------------------------------------------------------- the 2020 defects

#: Written in pieces, so that this file does not contain what it looks for.
FORBIDDEN = ("TO BE " + "COMPLETED", "C:" + "/Users", "snakemake" + ".remote")


def _repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=config.ROOT, capture_output=True
    )
    if listed.returncode == 0:
        return [
            config.ROOT / name for name in listed.stdout.decode().split("\0") if name
        ]
    skip = {".git", ".venv", "_site", ".quarto", "__pycache__"}
    return [
        p
        for p in config.ROOT.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(config.ROOT).parts)
    ]


@pytest.mark.parametrize("forbidden", FORBIDDEN)
def test_no_leftover_of_the_2020_page(forbidden: str) -> None:
    files = _repository_files()
    assert len(files) > 20
    hits = [
        p.relative_to(config.ROOT)
        for p in files
        if p.exists() and forbidden.lower().encode() in p.read_bytes().lower()
    ]
    assert not hits, f"« {forbidden} » dans {hits}"


def test_every_failing_cell_is_followed_by_its_explanation() -> None:
    """The troubleshooting cells fail on purpose; under each error, the explanation that
    the setup cell wires in (what is wrong, what to do) is part of the published
    outputs."""
    nb = nbformat.read(notebooks.notebook_path(TROUBLESHOOTING), as_version=4)
    failing = [c for c in nb.cells if "raises-exception" in c.metadata.get("tags", [])]
    assert len(failing) >= 9
    for cell in failing:
        kinds = [o.output_type for o in cell.outputs]
        assert kinds[:1] == ["error"] and kinds[1:] == ["stream"], (
            cell.source[:80],
            kinds,
        )
        assert (
            cell.outputs[1].text.startswith("➜ ")
            and "À faire : " in cell.outputs[1].text
        ), (cell.source[:80], cell.outputs[1].text)


# ------------------------------------------------------- claims checked against outputs


def _outputs(source: Path, marker: str) -> str:
    nb = nbformat.read(notebooks.notebook_path(source), as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    return "".join(
        o.get("text", "") or o.get("data", {}).get("text/plain", "")
        for o in cell.outputs
    )


def test_duckdb_offline_fails_on_a_new_machine_and_not_where_the_image_put_them() -> (
    None
):
    failed = _outputs(TROUBLESHOOTING, "poste_neuf.install_extension")
    assert failed.startswith(
        'IOException: IO Error: Failed to download extension "httpfs"'
    )
    assert "v1.5.5" in failed and "linux_amd64" in failed  # what the prose points at
    found = _outputs(TROUBLESHOOTING, "hors_ligne.install_extension")
    assert found.strip() == "[('aws', True, True), ('httpfs', True, True)]", found


def test_the_default_retry_mode_is_the_one_the_page_names() -> None:
    assert "Mode de réessai par défaut : legacy\n" in _outputs(
        TROUBLESHOOTING, 'retries["mode"]'
    )
    assert "de `legacy` à `standard`" in TROUBLESHOOTING.read_text()


def test_the_folder_copy_clean_up_reads_errors_and_counts_every_copy() -> None:
    nb = nbformat.read(notebooks.notebook_path(WRITE), as_version=4)
    (cell,) = [c for c in nb.cells if "supprimees = 0" in c.source]
    assert 'reponse.get("Errors", [])' in cell.source and "raise " in cell.source
    # Four libraries copied the eight objects of « ecrits/ ».
    assert (
        _outputs(WRITE, "supprimees = 0") == "32 objets supprimés sous copie_ecrits/\n"
    )


#: A count or a size printed the English way in a chapter's own lines: four digits or
#: more with no separator, or a decimal point, next to what it counts.
NOT_FRENCH = re.compile(
    r"\b\d{4,} (?:communes|ménages|lignes|octets|objets|clés)"
    r"|\b\d+\.\d+ (?:Mo|Mio|Go|Gio|s)\b"
    r"|^\(\d{4,}, \d+\)$"
    r"|^\d{4,}$",
    re.M,
)


@pytest.mark.parametrize(
    "text",
    ["(34000, 29)", "34000", "200000 communes", "15.2 Mio à envoyer", "0.34 s de"],
)
def test_not_french_catches_what_python_prints(text: str) -> None:
    assert NOT_FRENCH.search(text)


@pytest.mark.parametrize(
    "stem",
    ["01_se_connecter", "02_lire", "03_ecrire", "05_partager", "06_gros_volumes"]
    + ["07_depannage", "08_spark", "09_recettes"],
)
def test_counts_and_sizes_are_printed_the_french_way(stem: str) -> None:
    nb = nbformat.read(config.ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    found = {
        m.group()
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        for m in NOT_FRENCH.finditer(
            o.get("text", "") or o.get("data", {}).get("text/plain", "")
        )
    }
    assert not found, found


# ----------------------------------------------- where Ceph RGW differs (the SSP Cloud)


def test_the_checksum_line_of_mc_stat_is_the_one_the_prose_says_ceph_lacks() -> None:
    stat = _outputs(READ, 'mc("stat"')
    assert re.search(r"^Checksum  : CRC32:\S+$", stat, re.MULTILINE), stat
    assert "La ligne `Checksum` est la somme de contrôle CRC32" in READ.read_text()
    assert "Ceph RGW 16" in READ.read_text()


def test_the_checksum_settings_are_shown_as_the_prose_says() -> None:
    """The setup cell sets when_required (unless the learner did): a client without
    setting takes it; boto3's own default, when_supported, asks for the response's
    checksum; when_required does not."""
    shown = _outputs(TROUBLESHOOTING, "def entetes_de_somme").splitlines()
    assert shown[:3] == [
        "sans réglage   when_required []",
        "when_supported when_supported ['x-amz-checksum-mode']",
        "when_required  when_required []",
    ], shown
    text = TROUBLESHOOTING.read_text()
    assert "Un client sans réglage prend celui des variables, ici\n`when_required`" in (
        text
    )
    assert "`411 MissingContentLength`" in text


def test_the_sts_refusal_is_read_in_both_formats_of_error() -> None:
    """Ceph RGW answers STS in S3's format, where botocore finds no "Error": the page
    reads the code where each server puts it, and the status; never ["Error"]."""
    nb = nbformat.read(notebooks.notebook_path(TROUBLESHOOTING), as_version=4)
    (cell,) = [c for c in nb.cells if "sts.assume_role(" in c.source]
    assert 'refus.response.get("Error", refus.response)' in cell.source
    assert '["HTTPStatusCode"]' in cell.source
    assert 'response["Error"]' not in cell.source
    assert _outputs(TROUBLESHOOTING, "sts.assume_role(").startswith(
        "Le serveur refuse : HTTP 403, AccessDenied"
    )
    assert "`KeyError: 'Error'`" in TROUBLESHOOTING.read_text()


def test_the_renewal_says_which_server_revokes() -> None:
    """MinIO's playground revokes the previous credentials, Ceph RGW does not: the two
    cells that fail here succeed there, with a short output, and the page says so."""
    nb = nbformat.read(notebooks.notebook_path(TROUBLESHOOTING), as_version=4)
    old = [
        c
        for c in nb.cells
        if "raises-exception" in c.metadata.get("tags", [])
        and ("s3_du_matin.list" in c.source or "len(pd.read_csv" in c.source)
    ]
    assert len(old) == 2
    assert old[0].source.endswith('["KeyCount"]')
    text = " ".join(TROUBLESHOOTING.read_text().split())
    assert "Ceph RGW 16, lui, ne révoque pas d'identifiants temporaires" in text
    assert "sur le bac à sable MinIO, les identifiants précédents sont révoqués" in text
