"""The chapters' code in one form: ruff's (``./cours format`` applies it,
``./cours check`` and the tests check it), and no code line over 88 characters.

Only the ```` ```{python} ```` chunks of ``content/*.Rmd`` are touched; the text, the
chunk options and the rest of the file stay byte for byte. The chunks go to ruff as the
cells of a notebook, so that ruff leaves IPython's magics (``%%mesurer``, ``!mc``) as a
notebook has them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

#: The longest code line allowed in a chapter (ruff's and black's default).
LINE_LENGTH = 88
#: A Python chunk of the R Markdown source: header line, code, closing fence.
CHUNK = re.compile(r"^```\{python[^}\n]*\}\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


class FormatError(RuntimeError):
    """ruff could not read a chunk (a syntax error): the message says which."""


def _ruff() -> str:
    return str(Path(sys.executable).with_name("ruff"))


def formatted(text: str, name: str = "chapitre") -> str:
    """The source ``text`` with each Python chunk as ``ruff format`` writes it."""
    chunks = list(CHUNK.finditer(text))
    cells = [nbformat.v4.new_code_cell(m.group(1).removesuffix("\n")) for m in chunks]
    nb = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "name": "python3",
                "language": "python",
                "display_name": "Python",
            },
            "language_info": {"name": "python"},
        },
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.ipynb"
        nbformat.write(nb, path)
        run = subprocess.run(
            [
                _ruff(),
                "format",
                "--isolated",
                "--no-cache",
                "--line-length",
                str(LINE_LENGTH),
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            raise FormatError(f"{name} : ruff format a échoué :\n{run.stderr.strip()}")
        sources = [cell.source for cell in nbformat.read(path, as_version=4).cells]
    pieces, last = [], 0
    for match, source in zip(chunks, sources, strict=True):
        pieces += [text[last : match.start(1)], source + "\n" if source else ""]
        last = match.end(1)
    return "".join(pieces) + text[last:]


def long_lines(text: str) -> list[str]:
    """A line per code line over :data:`LINE_LENGTH` characters (ruff leaves long
    strings and comments as they are: they are cut by hand)."""
    found = []
    for match in CHUNK.finditer(text):
        first = text.count("\n", 0, match.start(1)) + 1
        for offset, line in enumerate(match.group(1).splitlines()):
            if len(line) > LINE_LENGTH:
                found.append(
                    f"ligne {first + offset} : {len(line)} caractères "
                    f"(au plus {LINE_LENGTH}) : {line.strip()[:60]}…"
                )
    return found


def problems(source: Path) -> list[str]:
    """What ``./cours check`` says of a chapter's code: not in ruff's form, lines too
    long."""
    text = source.read_text(encoding="utf-8")
    found = long_lines(text)
    if formatted(text, source.stem) != text:
        found.insert(0, "code pas mis en forme par ruff : lancez `./cours format`")
    return found


def format_sources(sources: list[Path]) -> list[Path]:
    """Rewrite the chapters whose code is not in ruff's form; return them."""
    changed = []
    for source in sources:
        text = source.read_text(encoding="utf-8")
        new = formatted(text, source.stem)
        if new != text:
            source.write_text(new, encoding="utf-8")
            changed.append(source)
    return changed
