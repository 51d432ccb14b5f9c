"""Chapter 2, « Lire et écrire des données sur S3 »: every operation with every library that
can do it, every tab executed, the chapter repeatable against the same server, and none of
the 2020 page's defects left anywhere in the repository."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest

from s3cours import config, notebooks, structure

SOURCE = config.CONTENT_DIR / "02_lire_ecrire.Rmd"
NOTEBOOK = notebooks.notebook_path(SOURCE)

BASE = {"boto3", "s3fs", "pyarrow", "pandas"}
#: Each operation (a section of the chapter) and the tabs it must have.
OPERATIONS = {
    "Lister des objets": BASE | {"mc"},
    "Lire les métadonnées d'un objet": BASE | {"mc"},
    "Télécharger vers un fichier local": BASE | {"snakemake", "mc"},
    "Lire directement dans pandas, sans passer par le disque": BASE,
    "Envoyer un fichier local": BASE | {"snakemake", "mc"},
    "Écrire un DataFrame directement (CSV et Parquet)": BASE,
    "Copier et déplacer": BASE | {"mc"},
    "Supprimer (seulement ce que vous avez créé)": BASE | {"mc"},
}


def _tabs_by_section() -> dict[str, set[str]]:
    """Tab names of every tabset, gathered by the section (level-2 heading) holding it."""
    found: dict[str, set[str]] = defaultdict(set)
    section = ""
    for block in structure.pandoc_ast(structure.quarto_markdown(SOURCE))["blocks"]:
        if block["t"] == "Header" and block["c"][0] == 2:
            # pandoc makes typographic apostrophes of the straight ones.
            section = structure._text(block["c"][2]).replace("\u2019", "'")
        elif block["t"] == "Div" and structure.TABSET_CLASS in block["c"][0][1]:
            found[section] |= {structure._text(child["c"][2]) for child in block["c"][1]
                               if child["t"] == "Header" and child["c"][0] == 2}
    return found


def _code_cells_by_tab(nb: nbformat.NotebookNode) -> dict[tuple[str, str], list]:
    """The notebook's code cells that sit inside a tab, keyed by (section, tab)."""
    cells: dict[tuple[str, str], list] = defaultdict(list)
    section, tab, depth, tabset_depth = "", None, 0, None
    for cell in nb.cells:
        if cell.cell_type == "code":
            if tabset_depth is not None and tab:
                cells[(section, tab)].append(cell)
            continue
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith(":::") and line.strip() != ":::":
                depth += 1
                if "panel-tabset" in line:
                    tabset_depth, tab = depth, None
            elif line.strip() == ":::":
                if depth == tabset_depth:
                    tabset_depth, tab = None, None
                depth -= 1
            elif line.startswith("## "):
                if tabset_depth is not None and depth == tabset_depth:
                    tab = line[3:].strip()
                elif depth == 0:
                    section = line[3:].strip()
    return cells


def test_every_operation_has_its_tabs() -> None:
    found = _tabs_by_section()
    for operation, wanted in OPERATIONS.items():
        assert wanted <= found.get(operation, set()), (operation, sorted(found.get(operation, [])))


def test_every_tab_has_an_executed_code_cell_without_error() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = _code_cells_by_tab(nb)
    for operation, wanted in OPERATIONS.items():
        for tab in wanted:
            code = cells.get((operation, tab), [])
            assert code, f"{operation} / {tab} : aucune cellule de code"
            assert all(c.execution_count for c in code), f"{operation} / {tab} : non exécutée"
            for cell in code:
                errors = [o for o in cell.outputs if o.output_type == "error"]
                assert not errors, f"{operation} / {tab} : erreur dans {cell.source[:60]!r}"


def test_errors_only_in_troubleshooting_cells_and_each_of_them_raises() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [c for c in nb.cells if "raises-exception" in c.metadata.get("tags", [])]
    assert len(tagged) >= 8
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        raised = any(o.output_type == "error" for o in cell.outputs)
        assert raised == (cell in tagged), cell.source[:80]
    names = {o.ename for c in tagged for o in c.outputs if o.output_type == "error"}
    assert {"ClientError", "NoSuchKey", "NoSuchBucket", "FileNotFoundError", "SSLError",
            "PermissionError"} <= names, names
    values = " ".join(o.evalue for c in tagged for o in c.outputs if o.output_type == "error")
    assert "SignatureDoesNotMatch" in values and "InvalidTokenId" in values


def test_exercises_have_collapsed_executed_solutions() -> None:
    assert SOURCE.read_text().count('::: {.callout-tip collapse="true"}\n## Solution') >= 3
    solutions = notebooks.solution_cells(nbformat.read(NOTEBOOK, as_version=4))
    assert len(solutions) >= 3
    for cell in solutions:
        assert cell.execution_count and cell.outputs, cell.source[:60]


# --------------------------------------------------------------------------- the 2020 defects

#: Written in pieces, so that this file does not contain what it looks for.
FORBIDDEN = ("TO BE " + "COMPLETED", "C:" + "/Users", "snakemake" + ".remote")


def _repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=config.ROOT, capture_output=True)
    if listed.returncode == 0:
        return [config.ROOT / name for name in listed.stdout.decode().split("\0") if name]
    skip = {".git", ".venv", "_site", ".quarto", "__pycache__"}
    return [p for p in config.ROOT.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(config.ROOT).parts)]


@pytest.mark.parametrize("forbidden", FORBIDDEN)
def test_no_leftover_of_the_2020_page(forbidden: str) -> None:
    files = _repository_files()
    assert len(files) > 20
    hits = [p.relative_to(config.ROOT) for p in files
            if p.exists() and forbidden.lower().encode() in p.read_bytes().lower()]
    assert not hits, f"« {forbidden} » dans {hits}"


def test_every_failing_cell_is_followed_by_its_explanation() -> None:
    """The troubleshooting cells fail on purpose; under each error, the explanation that the
    setup cell wires in (what is wrong, what to do) is part of the published outputs."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    failing = [c for c in nb.cells if "raises-exception" in c.metadata.get("tags", [])]
    assert len(failing) >= 9
    for cell in failing:
        kinds = [o.output_type for o in cell.outputs]
        assert kinds[:1] == ["error"] and kinds[1:] == ["stream"], (cell.source[:80], kinds)
        assert cell.outputs[1].text.startswith("➜ ") and "À faire : " in cell.outputs[1].text, (
            cell.source[:80], cell.outputs[1].text)
