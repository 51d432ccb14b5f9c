"""Structure checks of a chapter, made on pandoc's reading of it.

Quarto reads a notebook as one markdown document: markdown cells as they are (their
``:::`` fences put back by the site's filter), code cells as fenced code blocks. We
rebuild that document from the notebook of the source and let pandoc parse it, so that a
``:::`` left open, a tab without code, a tab out of order or a tab heading at the wrong
level is seen as Quarto would see it, without Quarto.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pypandoc

from .notebooks import (
    FENCE,
    find_setup_cell,
    from_source,
    hidden_by_collapse,
    show_fences,
)

#: The course's tabs, in their fixed order.
TAB_ORDER = (
    "boto3",
    "s3fs",
    "pyarrow",
    "pandas",
    "polars",
    "duckdb",
    "snakemake",
    "mc",
)
TABSET_CLASS = "panel-tabset"
TABSET_GROUP = "lib"


def quarto_markdown(source: Path) -> str:
    """The markdown document Quarto builds from the chapter's notebook."""
    parts = []
    for cell in from_source(source).cells:
        if cell.cell_type == "code":
            parts.append("```{.python .cell-code}\n" + cell.source + "\n```")
        else:
            parts.append(show_fences(cell.source))
    return "\n\n".join(parts) + "\n"


def pandoc_ast(markdown: str) -> dict[str, Any]:
    """pandoc's AST of a markdown document; any pandoc warning (such as a ``:::`` block
    closed implicitly) is an error."""
    return json.loads(
        pypandoc.convert_text(
            markdown, "json", format="markdown", extra_args=["--fail-if-warnings"]
        )
    )


def markdown_problems(markdown: str) -> list[str]:
    """Everything wrong with a document's structure, as pandoc reads it."""
    try:
        blocks = pandoc_ast(markdown)["blocks"]
    except RuntimeError as exc:
        return [f"pandoc : {str(exc).strip()[-500:]}"]
    return tabset_problems(blocks) + link_problems(blocks)


#: An anchor a link inside a chapter leads to: ``<a id="nom"></a>`` on a line of its
#: own, before the heading. Headings have different identifiers in JupyterLab (their
#: text) and on the site (pandoc's), and JupyterLab 4.6 finds no target with an accent
#: (it compares the link's percent-encoded form with the heading's text).
ANCHOR = re.compile(r'^<a id="([a-z0-9-]+)">(</a>)?$')  # pandoc: "<a …>", then "</a>"


def _nodes(value: Any, kind: str):
    """Every AST node of type ``kind`` under ``value``, depth first."""
    if isinstance(value, dict):
        if value.get("t") == kind:
            yield value
        yield from _nodes(value.get("c"), kind)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item, kind)


def link_problems(blocks: list[dict[str, Any]]) -> list[str]:
    """A link to a part of the same chapter (``[…](#nom)``) leads to an anchor of the
    chapter (:data:`ANCHOR`), which both JupyterLab and the site find. A link to another
    chapter's part could not work in both: link to the chapter (``NN_nom.ipynb``) and
    name the part."""
    anchors = {
        match.group(1)
        for kind in ("RawInline", "RawBlock")
        for raw in _nodes(blocks, kind)
        if raw["c"][0] == "html" and (match := ANCHOR.match(raw["c"][1].strip()))
    }
    problems = []
    for link in _nodes(blocks, "Link"):
        target = link["c"][2][0]
        if target.startswith("#") and target[1:] not in anchors:
            problems.append(
                f'lien « {target} » : aucune ancre <a id="{target[1:]}"></a> dans ce '
                "chapitre (mettez-en une, en lettres sans accent, avant le titre visé)"
            )
        elif re.match(r"^\d\d_[^/#]*\.ipynb#", target):
            problems.append(
                f"lien « {target} » : une partie d'un autre chapitre ; liez le "
                "chapitre (sans #) et nommez la partie"
            )
    return problems


def _text(inlines: list[dict[str, Any]]) -> str:
    out = []
    for node in inlines:
        if node["t"] == "Str":
            out.append(node["c"])
        elif node["t"] in ("Space", "SoftBreak"):
            out.append(" ")
        elif node["t"] == "Code":
            out.append(node["c"][1])
        elif isinstance(node.get("c"), list):
            out.append(_text([n for n in node["c"] if isinstance(n, dict)]))
    return "".join(out)


def _walk(blocks: list[dict[str, Any]]):
    """Every block, depth first."""
    for block in blocks:
        yield block
        if block["t"] == "Div":
            yield from _walk(block["c"][1])
        elif block["t"] in ("BlockQuote",):
            yield from _walk(block["c"])
        elif block["t"] in ("BulletList", "OrderedList"):
            items = block["c"] if block["t"] == "BulletList" else block["c"][1]
            for item in items:
                yield from _walk(item)


def _has_code(blocks: list[dict[str, Any]]) -> bool:
    return any(block["t"] == "CodeBlock" for block in _walk(blocks))


def _tab_level(content: list[dict[str, Any]]) -> int:
    """The level of a tabset's tab headings: that of its first heading."""
    return next((child["c"][0] for child in content if child["t"] == "Header"), 0)


def tabset_problems(blocks: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the tabsets of a parsed document (empty when all is well).

    A tab's heading is one level below the section that holds the tabset, so that a
    notebook's outline in Jupyter (where tabs are plain headings) matches the site's."""
    problems = []
    section_level = {}  # id of each top-level tabset -> level of the heading above it
    after = {}  # id of each top-level tabset -> the headings that follow it
    level = 1
    for index, block in enumerate(blocks):
        if block["t"] == "Header":
            level = block["c"][0]
        elif block["t"] == "Div" and TABSET_CLASS in block["c"][0][1]:
            section_level[id(block)] = level
            after[id(block)] = {
                _text(b["c"][2]) for b in blocks[index + 1 :] if b["t"] == "Header"
            }
    for block in _walk(blocks):
        if block["t"] == "Para" and ":::" in _text(block["c"]):
            problems.append(
                "`:::` isolé (bloc non ouvert ou non "
                f"fermé) : « {_text(block['c'])[:60]} »"
            )
        if block["t"] != "Div":
            continue
        (_, classes, attributes), content = block["c"]
        if TABSET_CLASS not in classes:
            continue
        tab_level = _tab_level(content)
        tabs: list[tuple[str, list[dict[str, Any]]]] = []
        for child in content:
            if child["t"] == "Header" and child["c"][0] == tab_level:
                tabs.append((_text(child["c"][2]), []))
            elif not tabs:
                problems.append(
                    "un onglet doit commencer le bloc d'onglets (titre `### nom`)"
                )
            else:
                tabs[-1][1].append(child)
        names = [name for name, _ in tabs]
        where = " / ".join(names) or "bloc vide"
        if id(block) not in section_level:
            problems.append(f"[{where}] bloc d'onglets imbriqué dans un autre bloc")
        elif tabs and tab_level != section_level[id(block)] + 1:
            above = section_level[id(block)]
            problems.append(
                f"[{where}] titres d'onglets de niveau {tab_level} sous une "
                f"section de niveau {above} : attendu {'#' * (above + 1)} nom"
            )
        if dict(attributes).get("group") != TABSET_GROUP:
            problems.append(f'[{where}] .panel-tabset sans group="{TABSET_GROUP}"')
        if not tabs:
            problems.append("bloc d'onglets sans onglet")
        unknown = [name for name in names if name not in TAB_ORDER]
        if unknown:
            problems.append(
                f"[{where}] onglets inconnus : {unknown} (permis : {TAB_ORDER})"
            )
        known = [name for name in names if name in TAB_ORDER]
        if known != sorted(known, key=TAB_ORDER.index) or len(set(known)) != len(known):
            problems.append(
                f"[{where}] ordre des onglets : "
                f"attendu {sorted(set(known), key=TAB_ORDER.index)}"
            )
        for name, tab_blocks in tabs:
            if _has_code(tab_blocks):
                continue
            target = pointed_section(tab_blocks)
            if target is None:
                problems.append(
                    f"[{where}] l'onglet {name} ne contient aucun code (ni un "
                    "renvoi d'une ligne : « voir la section « Titre » »)"
                )
            elif target not in after.get(id(block), set()):
                problems.append(
                    f"[{where}] l'onglet {name} renvoie à la section « {target} "
                    "», absente après ce bloc d'onglets"
                )
    return problems


#: A tab of one paragraph that sends the reader to a section after its tabset, named in
#: French quotes: a library whose example does not fit in a tab (Snakemake's workflow).
POINTER = re.compile(r"section «\s*(.+?)\s*»")


def pointed_section(tab_blocks: list[dict[str, Any]]) -> str | None:
    """The heading a code-less tab points to, if the tab is one paragraph naming it."""
    if len(tab_blocks) != 1 or tab_blocks[0]["t"] != "Para":
        return None
    found = POINTER.search(_text(tab_blocks[0]["c"]))
    return found[1] if found else None


#: A markdown heading line of a notebook.
HEADING_LINE = re.compile(r"^(#{1,6}) +(.*?)\s*$")


@dataclass
class NotebookTabset:
    """A tabset as a notebook holds it: the level-2 section and the heading above it,
    and each tab's code cells (for a tab that points to a section of its own, that
    section's cells)."""

    section: str
    heading: str
    tabs: dict[str, list[nbformat.NotebookNode]] = field(default_factory=dict)


def notebook_tabsets(nb: nbformat.NotebookNode) -> list[NotebookTabset]:
    """Every tabset of a notebook, in order, with the code cells of each tab. In the
    notebook a tab is a heading inside a hidden fence; a code-less tab that names a
    section after its tabset (:data:`POINTER`) gets that section's cells, up to the next
    heading."""
    found: list[NotebookTabset] = []
    section = heading = ""
    in_tabset, tab = False, None
    text: dict[str, list[str]] = {}
    pointed: dict[str, tuple[NotebookTabset, str]] = {}
    own: tuple[NotebookTabset, str] | None = None
    for cell in nb.cells:
        if cell.cell_type == "code":
            if in_tabset and tab:
                found[-1].tabs[tab].append(cell)
            elif own:
                own[0].tabs[own[1]].append(cell)
            continue
        for line in show_fences(cell.source).splitlines():
            match = HEADING_LINE.match(line)
            if line.startswith(":::") and TABSET_CLASS in line:
                in_tabset, tab, text = True, None, {}
                found.append(NotebookTabset(section, heading))
            elif line.strip() == ":::" and in_tabset:
                for name, cells in found[-1].tabs.items():
                    target = POINTER.search(" ".join(text[name]))
                    if not cells and target:
                        pointed[target[1]] = (found[-1], name)
                in_tabset, tab = False, None
            elif match and in_tabset and match[2] in TAB_ORDER:
                tab = match[2]
                found[-1].tabs[tab], text[tab] = [], []
            elif match and not in_tabset:
                heading = match[2]
                if len(match[1]) == 2:
                    section = heading
                own = pointed.get(heading)
            elif in_tabset and tab:
                text[tab].append(line)
    return found


def chapter_problems(source: Path) -> list[str]:
    return markdown_problems(quarto_markdown(source))


def tabsets_of(blocks: list[dict[str, Any]]) -> list[list[str]]:
    """The tab names of each tabset among parsed blocks, in order."""
    found = []
    for block in _walk(blocks):
        if block["t"] == "Div" and TABSET_CLASS in block["c"][0][1]:
            level = _tab_level(block["c"][1])
            found.append(
                [
                    _text(child["c"][2])
                    for child in block["c"][1]
                    if child["t"] == "Header" and child["c"][0] == level
                ]
            )
    return found


def tabsets(source: Path) -> list[list[str]]:
    """The tab names of each tabset of a chapter, in order (for reports and tests)."""
    return tabsets_of(pandoc_ast(quarto_markdown(source))["blocks"])


# -------------------------------------------------------------- the notebook in Jupyter
#: The scaffolding every chapter opens and ends with.
OBJECTIVES = "## Objectifs, prérequis, durée"
DURATION = "**Durée :**"
KEEP = "## À retenir"


def jupyter_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What a learner would see wrong in JupyterLab: visible Quarto fences, a title that
    is not a heading, a setup cell shown open, a collapsed solution hiding more than
    itself."""
    problems = []
    first = nb.cells[0] if nb.cells else None
    if (
        first is None
        or first.cell_type != "markdown"
        or not first.source.startswith("# ")
    ):
        problems.append(
            "la première cellule n'est pas le titre du chapitre (« # Titre »)"
        )
    for cell in nb.cells:
        if cell.cell_type == "raw":
            problems.append(
                f"cellule brute (affichée telle quelle) : {cell.source[:40]!r}"
            )
        if cell.cell_type == "markdown" and FENCE.search(cell.source):
            problems.append(f"bloc Quarto visible : {cell.source[:60]!r}")
    setup = find_setup_cell(nb)
    if (
        setup is None
        or setup.metadata.get("jupyter", {}).get("source_hidden") is not True
    ):
        problems.append("la cellule de préparation n'est pas repliée dans JupyterLab")
    depth = 0
    for cell in hidden_by_collapse(nb):
        if cell.cell_type != "markdown":
            continue
        for line in show_fences(cell.source).split("\n"):
            if line.strip() == ":::":
                depth -= 1
            elif line.startswith(":::"):
                depth += 1
            if depth < 0:
                problems.append(
                    "une solution repliée cache la suite du chapitre : donnez un "
                    f"titre à ce qui la suit ({cell.source[:60]!r})"
                )
                depth = 0
    return problems


def scaffolding_problems(source: Path) -> list[str]:
    """A chapter opens with its objectives, prerequisites and time, and ends with what
    to keep."""
    text = source.read_text()
    problems = []
    if OBJECTIVES not in text or DURATION not in text:
        problems.append(f"pas d'encadré « {OBJECTIVES[3:]} » avec « {DURATION} »")
    elif text.index(OBJECTIVES) > text.index("## Préparer la session"):
        problems.append("l'encadré des objectifs vient après la préparation")
    if KEEP not in text:
        problems.append(f"pas de section « {KEEP[3:]} »")
    return problems
