"""From ``content/*.Rmd`` to executed ``notebooks/*.ipynb``, and the check that they agree.

The Rmarkdown source is the only hand-edited file. The build reads it with jupytext, writes
the paired notebook, executes it with nbclient against an S3 server given by the environment,
and strips what would differ from one run or machine to the next (execution timestamps,
interpreter version), so that a rebuild without changes gives no diff.
"""

from __future__ import annotations

import copy
import hashlib
import difflib
import os
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from . import config, launch

#: The course's kernel, installed into .venv by ./cours (and into Binder's environment by
#: postBuild): a Jupyter that has it opens every chapter on it without asking. A Jupyter that
#: lacks it (SSP Cloud, Colab) starts its one Python kernel instead.
KERNEL_NAME = "python-s3"
KERNELSPEC = {"display_name": "Python et S3", "language": "python", "name": KERNEL_NAME}
#: Cell metadata that execution adds and that says nothing about the content.
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled")


def sources() -> list[Path]:
    """Every chapter source, in order."""
    return sorted(config.CONTENT_DIR.glob("*.Rmd"))


def notebook_path(source: Path) -> Path:
    return config.NOTEBOOKS_DIR / (source.stem + ".ipynb")


def _stable_ids(nb: nbformat.NotebookNode) -> None:
    """Cell ids drawn from the cells' contents (nbformat draws them at random), so that
    rebuilding an unchanged source gives an identical notebook."""
    seen: set[str] = set()
    for cell in nb.cells:
        digest = hashlib.sha1(f"{cell.cell_type}\0{cell.source}".encode()).hexdigest()
        cell_id, n = digest[:8], 1
        while cell_id in seen:
            cell_id, n = f"{digest[:8]}-{n}", n + 1
        seen.add(cell_id)
        cell.id = cell_id


def launch_cell(source: Path) -> nbformat.NotebookNode:
    """The generated cell of launch badges (SSP Cloud, Binder, Colab, GitHub) of a chapter."""
    notebook = notebook_path(source).relative_to(config.ROOT).as_posix()
    return nbformat.v4.new_markdown_cell(launch.badges_markdown(notebook))


def solution_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells of the folded solutions (``::: {.callout-tip collapse="true"}`` with a
    ``## Solution`` heading) of an exercise chapter, in order."""
    cells, inside = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if "## Solution" in cell.source:
                inside = True
            elif cell.source.strip().startswith(":::"):
                inside = False
        elif inside and cell.cell_type == "code":
            cells.append(cell)
    return cells


def setup_cell(source: Path) -> str:
    """The code of a chapter's setup cell (the one that reads ``AWS_S3_ENDPOINT``)."""
    return next(c.source for c in from_source(source).cells
                if c.cell_type == "code" and "AWS_S3_ENDPOINT" in c.source)


def from_source(source: Path) -> nbformat.NotebookNode:
    """The notebook jupytext makes of a source, with the course's clean metadata, and the
    generated launch badges as its first cell after the front matter (so that they are
    never typed by hand, and the drift check compares them with what is generated now)."""
    nb = jupytext.read(source, fmt="Rmd")
    after_front_matter = 1 if nb.cells and nb.cells[0].cell_type == "raw" else 0
    nb.cells.insert(after_front_matter, launch_cell(source))
    nb.metadata = nbformat.from_dict({
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    })
    _stable_ids(nb)
    return nb


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop run- and machine-specific metadata from an executed notebook."""
    nb = copy.deepcopy(nb)
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    return nb


def execute(nb: nbformat.NotebookNode, env: dict[str, str], timeout: int = 600) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel whose environment holds ``env``; stop at an error
    unless the cell is tagged ``raises-exception``."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name=KERNELSPEC["name"],
            resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def build(source: Path, env: dict[str, str]) -> Path:
    """Sync one source to its notebook and execute it; return the notebook's path."""
    target = notebook_path(source)
    nb = clean(execute(from_source(source), env))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def _inputs(nb: nbformat.NotebookNode) -> list[str]:
    """A comparable text of a notebook's inputs: cell kinds, metadata and sources."""
    lines = []
    for index, cell in enumerate(nb.cells):
        meta = {k: v for k, v in cell.metadata.items() if k not in VOLATILE_CELL_METADATA}
        lines.append(f"--- cellule {index} [{cell.cell_type}] {meta}")
        lines.extend(cell.source.splitlines())
    return lines


def drift(source: Path, target: Path | None = None) -> str:
    """A diff between a source and its notebook's inputs, empty when they agree.

    Unlike ``jupytext --diff`` (which exits 0 on a difference) and ``--sync`` (which trusts
    file times), this compares contents and says what differs."""
    target = target or notebook_path(source)
    if not target.exists():
        return f"{target.name} manque : lancez `./cours build`."
    expected = _inputs(from_source(source))
    actual = _inputs(nbformat.read(target, as_version=4))
    diff = difflib.unified_diff(actual, expected, fromfile=target.name, tofile=source.name,
                                lineterm="")
    return "\n".join(diff)


def orphans() -> list[Path]:
    """Notebooks whose source is gone."""
    stems = {source.stem for source in sources()}
    return [nb for nb in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")) if nb.stem not in stems]
