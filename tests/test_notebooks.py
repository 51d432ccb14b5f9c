"""Sources and notebooks agree, tabsets are sound, the checks really catch faults."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from s3cours import cli, config, notebooks, structure

SOURCES = notebooks.sources()
IDS = [s.stem for s in SOURCES]


def test_there_are_chapters() -> None:
    assert SOURCES, "aucun chapitre dans content/"
    assert not notebooks.orphans()


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_notebook_inputs_match_source(source: Path) -> None:
    assert notebooks.drift(source) == ""


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_notebook_is_executed_and_clean(source: Path) -> None:
    nb = nbformat.read(notebooks.notebook_path(source), as_version=4)
    # What JupyterLab writes when the course's kernel starts: the notebook opens
    # unmodified (tests/test_jupyterlab.py), wherever it was built.
    assert nb.metadata == notebooks.METADATA
    assert re.fullmatch(r"\d+\.\d+", nb.metadata.language_info.version)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), (
        "non exécuté"
    )
    for cell in code:
        assert "execution" not in cell.metadata
        tags = cell.metadata.get("tags", [])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors or "raises-exception" in tags, cell.source[:80]
    text = json.dumps(nb)
    assert "/root/" not in text and "/home/" not in text, (
        "chemin de machine dans le notebook"
    )


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_tabsets_are_well_formed(source: Path) -> None:
    assert structure.chapter_problems(source) == []


def test_chapter_01_tabs() -> None:
    assert structure.tabsets(config.CONTENT_DIR / "01_se_connecter.Rmd") == [
        ["boto3", "s3fs", "pyarrow", "pandas"],
        # The shared AWS profile: every library that reads S3 (mc has no profile).
        ["boto3", "s3fs", "pyarrow", "pandas", "polars", "duckdb"],
    ]


def test_drift_check_catches_a_source_edited_without_rebuild(tmp_path: Path) -> None:
    source = tmp_path / SOURCES[0].name
    text = SOURCES[0].read_text()
    source.write_text(text.replace("print(", "print('modifié', ", 1))
    diff = notebooks.drift(source, notebooks.notebook_path(SOURCES[0]))
    added = [
        line for line in diff.splitlines() if line.startswith("+") and "modifié" in line
    ]
    assert len(added) == 1, diff


def test_nbval_fails_on_an_output_edited_by_hand(tmp_path: Path) -> None:
    nb = nbformat.read(notebooks.notebook_path(SOURCES[0]), as_version=4)
    index, cell = next(
        (i, c)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.outputs and c.outputs[0].output_type == "stream"
    )
    cell.outputs[0].text = cell.outputs[0].text.replace("Serveur S3", "Serveur S9")
    nb.cells = nb.cells[: index + 1]  # the chapter up to that cell: nothing more to run
    edited = tmp_path / "edited.ipynb"
    nbformat.write(nb, edited)
    shutil.copy(config.TESTS_DIR / "sanitize.cfg", tmp_path)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *cli.NBVAL_OPTIONS,
            "sanitize.cfg",
            "-p",
            "no:cacheprovider",
            edited.name,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout[-2000:]
    assert "Serveur S9" in run.stdout and "1 failed" in run.stdout


BAD_TABSETS = {
    "sans groupe": "::: {.panel-tabset}\n\n## boto3\n\n```{.python}\nx\n```\n\n:::\n",
    "ordre": '::: {.panel-tabset group="lib"}\n\n## s3fs\n\n```{.python}\nx\n```\n\n'
    "## boto3\n\n```{.python}\nx\n```\n\n:::\n",
    "onglet vide": '::: {.panel-tabset group="lib"}\n\n## boto3\n\nRien.\n\n'
    "## s3fs\n\n```{.python}\nx\n```\n\n:::\n",
    "onglet inconnu": '::: {.panel-tabset group="lib"}\n\n## Boto3\n\n'
    "```{.python}\nx\n```\n\n:::\n",
    "non fermé": '::: {.panel-tabset group="lib"}\n\n## boto3\n\n'
    "```{.python}\nx\n```\n",
    "doublon": '::: {.panel-tabset group="lib"}\n\n## boto3\n\n```{.python}\nx\n```\n\n'
    "## boto3\n\n```{.python}\ny\n```\n\n:::\n",
    # In Jupyter a tab is a heading: at its section's level, the outline would be flat.
    "niveau de la section": '## Lister\n\n::: {.panel-tabset group="lib"}\n\n'
    "## boto3\n\n```{.python}\nx\n```\n\n:::\n",
    # A one-line tab may send the reader to a section of its own, after the tabset only.
    "renvoi en arrière": "## Avec Snakemake\n\n"
    '## Lister\n\n::: {.panel-tabset group="lib"}\n\n'
    "### snakemake\n\nVoir la section « Avec Snakemake ».\n\n:::\n",
    "renvoi nulle part": '## Lister\n\n::: {.panel-tabset group="lib"}\n\n'
    "### snakemake\n\nVoir la section « Avec Snakemake ».\n\n:::\n",
}


@pytest.mark.parametrize("markdown", BAD_TABSETS.values(), ids=BAD_TABSETS.keys())
def test_structure_check_catches(markdown: str) -> None:
    assert structure.markdown_problems(markdown)


def test_structure_check_accepts_the_reference_example() -> None:
    markdown = (
        '::: {.panel-tabset group="lib"}\n\n## boto3\n\n'
        "Texte.\n\n```{.python}\nx\n```\n\n"
        "## pyarrow\n\n```{.python}\ny\n```\n\n:::\n"
    )
    assert structure.markdown_problems(markdown) == []


def test_a_one_line_tab_may_point_to_a_section_after_its_tabset() -> None:
    markdown = (
        '## Lister\n\n::: {.panel-tabset group="lib"}\n\n### boto3\n\n'
        "```{.python}\nx\n```\n\n### snakemake\n\nSnakemake : voir la section "
        "« Lister dans un workflow », après ces onglets.\n\n:::\n\n"
        "### Lister dans un workflow\n\n```{.python}\ny\n```\n"
    )
    assert structure.markdown_problems(markdown) == []


def test_links_inside_a_chapter_lead_to_an_anchor_of_the_chapter() -> None:
    part = (
        '<a id="supprimer"></a>\n\n## Supprimer (ce que vous avez créé)\n\nTexte.\n\n'
    )
    assert structure.markdown_problems(part + "Voir [Supprimer](#supprimer).\n") == []
    heading_id = part + "Voir [Supprimer](#supprimer-ce-que-vous-avez-créé).\n"
    assert "aucune ancre" in structure.markdown_problems(heading_id)[0]
    other = part + "Voir [Écrire](03_ecrire.ipynb#supprimer).\n"
    assert "une partie d'un autre chapitre" in structure.markdown_problems(other)[0]
    assert structure.markdown_problems(part + "[Écrire](03_ecrire.ipynb)\n") == []


def test_cell_ids_do_not_change_from_one_build_to_the_next() -> None:
    first, second = (notebooks.from_source(SOURCES[0]) for _ in range(2))
    ids = [c.id for c in first.cells]
    assert ids == [c.id for c in second.cells] and len(set(ids)) == len(ids)
    stored = nbformat.read(notebooks.notebook_path(SOURCES[0]), as_version=4)
    assert [c.id for c in stored.cells] == ids


def test_chapter_03_tabs() -> None:
    assert structure.tabsets(config.CONTENT_DIR / "04_parquet.Rmd") == [
        ["boto3", "s3fs", "pyarrow", "pandas", "polars", "duckdb"],
        ["pyarrow", "pandas", "polars"],
        ["boto3", "s3fs", "pyarrow", "pandas", "polars", "duckdb"],
    ]


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_notebook_reads_well_in_jupyter(source: Path) -> None:
    nb = nbformat.read(notebooks.notebook_path(source), as_version=4)
    assert structure.jupyter_problems(nb) == []


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_chapter_says_what_it_teaches_and_what_to_keep(source: Path) -> None:
    assert structure.scaffolding_problems(source) == []


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_jupyter_check_catches_what_a_learner_would_see_wrong() -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    folded = code("os.environ['AWS_S3_ENDPOINT']")
    folded.metadata["jupyter"] = {"source_hidden": True}
    good = _notebook(md("# Titre"), folded, md("## Exercices\n\n### Exercice 1"))
    assert structure.jupyter_problems(good) == []
    solution = md('<!-- ::: {.callout-tip collapse="true"} -->\n\n#### Solution')
    solution.metadata[notebooks.HEADING_COLLAPSED] = True
    cases = {
        "titre": _notebook(nbformat.v4.new_raw_cell("---\ntitle: x\n---"), folded),
        "bloc visible": _notebook(
            md("# T"), folded, md('::: {.panel-tabset group="lib"}')
        ),
        "préparation ouverte": _notebook(
            md("# T"), code("os.environ['AWS_S3_ENDPOINT']")
        ),
        "solution qui cache la suite": _notebook(
            md("# T"), folded, solution, code("1"), md("<!-- ::: -->\n\nLa suite.")
        ),
    }
    for name, nb in cases.items():
        assert structure.jupyter_problems(nb), name


def test_for_jupyter_hides_fences_and_the_site_filter_gets_them_back() -> None:
    """What the build writes for Jupyter, and what Quarto reads once the fences are back
    (the Python mirror of site/blocs.lua), for a tabset, a note and a folded
    solution."""
    source = (
        '::: {.panel-tabset group="lib"}\n\n### boto3\n\nTexte.\n\n:::\n\n'
        "::: {.callout-note}\n## Une note\n\nCorps.\n:::\n\n### Exercice 1\n\n"
        'Énoncé.\n\n::: {.callout-tip collapse="true"}\n'
        "#### Solution de l'exercice 1\n\n"
        "Indice.\n"
    )
    after = "Explication.\n\n:::\n\n### Exercice 2\n\nÉnoncé."
    nb = notebooks.for_jupyter(
        _notebook(
            nbformat.v4.new_markdown_cell(source),
            nbformat.v4.new_code_cell("print(1)"),
            nbformat.v4.new_markdown_cell(after),
        )
    )
    shown = "\n".join(c.source for c in nb.cells)
    assert not notebooks.FENCE.search(shown)
    assert "> **Une note**" in shown and "### boto3" in shown
    # The solution's heading alone, collapsed; its hint, its code and the text after
    # its code each in a cell of their own under it; the next exercise after them.
    assert [
        (c.cell_type, bool(c.metadata.get(notebooks.HEADING_COLLAPSED)))
        for c in nb.cells
    ] == [
        ("markdown", False),
        ("markdown", True),
        ("markdown", False),
        ("code", False),
        ("markdown", False),
        ("markdown", False),
    ]
    assert nb.cells[1].source.split("\n")[2] == "#### Solution de l'exercice 1"
    assert nb.cells[2].source == "Indice."
    assert nb.cells[4].source == "Explication."
    assert nb.cells[5].source.startswith("<!-- ::: -->\n\n### Exercice 2")
    back = notebooks.show_fences(shown)
    for fence in (
        '::: {.panel-tabset group="lib"}',
        "::: {.callout-note}",
        '::: {.callout-tip collapse="true"}',
    ):
        assert fence in back.split("\n"), fence
