"""Structure checks of a chapter, made on pandoc's reading of it.

Quarto reads a notebook as one markdown document: markdown cells as they are, code cells as
fenced code blocks. We rebuild that document from the jupytext notebook of the source and let
pandoc parse it, so that a ``:::`` left open, a tab without code or a tab out of order is seen
as Quarto would see it, without Quarto.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pypandoc

from .notebooks import from_source

#: The course's tabs, in their fixed order.
TAB_ORDER = ("boto3", "s3fs", "pyarrow", "pandas", "polars", "duckdb", "snakemake", "mc")
TABSET_CLASS = "panel-tabset"
TABSET_GROUP = "lib"


def quarto_markdown(source: Path) -> str:
    """The markdown document Quarto builds from the chapter's notebook."""
    parts = []
    for cell in from_source(source).cells:
        if cell.cell_type == "code":
            parts.append("```{.python .cell-code}\n" + cell.source + "\n```")
        else:
            parts.append(cell.source)
    return "\n\n".join(parts) + "\n"


def pandoc_ast(markdown: str) -> dict[str, Any]:
    """pandoc's AST of a markdown document; any pandoc warning (such as a ``:::`` block
    closed implicitly) is an error."""
    return json.loads(pypandoc.convert_text(markdown, "json", format="markdown",
                                            extra_args=["--fail-if-warnings"]))


def markdown_problems(markdown: str) -> list[str]:
    """Everything wrong with a document's structure, as pandoc reads it."""
    try:
        blocks = pandoc_ast(markdown)["blocks"]
    except RuntimeError as exc:
        return [f"pandoc : {str(exc).strip()[-500:]}"]
    return tabset_problems(blocks)


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


def tabset_problems(blocks: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the tabsets of a parsed document (empty list when all is well)."""
    problems = []
    for block in _walk(blocks):
        if block["t"] == "Para" and ":::" in _text(block["c"]):
            problems.append(f"`:::` isolé (bloc non ouvert ou non fermé) : « {_text(block['c'])[:60]} »")
        if block["t"] != "Div":
            continue
        (_, classes, attributes), content = block["c"]
        if TABSET_CLASS not in classes:
            continue
        tabs: list[tuple[str, list[dict[str, Any]]]] = []
        for child in content:
            if child["t"] == "Header" and child["c"][0] == 2:
                tabs.append((_text(child["c"][2]), []))
            elif not tabs:
                problems.append("un onglet doit commencer le bloc d'onglets (titre `## nom`)")
            else:
                tabs[-1][1].append(child)
        names = [name for name, _ in tabs]
        where = " / ".join(names) or "bloc vide"
        if dict(attributes).get("group") != TABSET_GROUP:
            problems.append(f'[{where}] .panel-tabset sans group="{TABSET_GROUP}"')
        if not tabs:
            problems.append("bloc d'onglets sans onglet")
        unknown = [name for name in names if name not in TAB_ORDER]
        if unknown:
            problems.append(f"[{where}] onglets inconnus : {unknown} (permis : {TAB_ORDER})")
        known = [name for name in names if name in TAB_ORDER]
        if known != sorted(known, key=TAB_ORDER.index) or len(set(known)) != len(known):
            problems.append(f"[{where}] ordre des onglets : attendu {sorted(set(known), key=TAB_ORDER.index)}")
        for name, tab_blocks in tabs:
            if not _has_code(tab_blocks):
                problems.append(f"[{where}] l'onglet {name} ne contient aucun code")
    return problems


def chapter_problems(source: Path) -> list[str]:
    return markdown_problems(quarto_markdown(source))


def tabsets(source: Path) -> list[list[str]]:
    """The tab names of each tabset of a chapter, in order (for reports and tests)."""
    found = []
    for block in _walk(pandoc_ast(quarto_markdown(source))["blocks"]):
        if block["t"] == "Div" and TABSET_CLASS in block["c"][0][1]:
            found.append([_text(child["c"][2]) for child in block["c"][1]
                          if child["t"] == "Header" and child["c"][0] == 2])
    return found
