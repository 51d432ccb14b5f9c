"""The chapters' code in one form: ruff's (``./cours format`` applies it,
``./cours check`` and the tests check it), and no code line over 88 characters.

Only the ```` ```{python} ```` chunks of ``content/*.Rmd`` are touched; the text, the
chunk options and the rest of the file stay byte for byte. The chunks go to ruff as the
cells of a notebook, so that ruff leaves IPython's magics (``%%mesurer``, ``!mc``) as a
notebook has them.

The tooling's own code is held to the same rule (:func:`tooling_problems`): its Python
in ruff's form (``[tool.ruff]`` of ``pyproject.toml``), and no line of it, nor of its
scripts and workflows, over 88 characters.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from . import config

#: The longest code line allowed, in the chapters and in the tooling (ruff's default;
#: ``[tool.ruff]`` of ``pyproject.toml`` says the same).
LINE_LENGTH = 88
#: A Python chunk of the R Markdown source: header line, code, closing fence.
CHUNK = re.compile(r"^```\{python[^}\n]*\}\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
#: The tooling's Python: the folders given to ``ruff format`` (its settings are
#: ``[tool.ruff]`` of ``pyproject.toml``).
TOOLING_PYTHON = ("src", "tests")
#: The tooling's scripts and workflows (patterns under the root): their lines too.
TOOLING_SCRIPTS = (
    "cours",
    ".ci/run",
    "postBuild",
    "start",
    "sspcloud/*.sh",
    ".github/workflows/*.yml",
)


class FormatError(RuntimeError):
    """ruff could not read a chunk (a syntax error) or could not run: the message says
    which."""


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


def _too_long(line: str) -> str:
    """What is said of a line over :data:`LINE_LENGTH` characters."""
    return f"{len(line)} caractères (au plus {LINE_LENGTH}) : {line.strip()[:60]}…"


def long_lines(text: str) -> list[str]:
    """A line per code line over :data:`LINE_LENGTH` characters (ruff leaves long
    strings and comments as they are: they are cut by hand)."""
    found = []
    for match in CHUNK.finditer(text):
        first = text.count("\n", 0, match.start(1)) + 1
        for offset, line in enumerate(match.group(1).splitlines()):
            if len(line) > LINE_LENGTH:
                found.append(f"ligne {first + offset} : {_too_long(line)}")
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


def tooling_files(root: Path = config.ROOT) -> list[Path]:
    """The tooling's Python files, then its scripts and workflows."""
    files = []
    for folder in TOOLING_PYTHON:
        files += sorted((root / folder).rglob("*.py"))
    for pattern in TOOLING_SCRIPTS:
        files += sorted(root.glob(pattern))
    return files


def tooling_problems(root: Path = config.ROOT) -> list[str]:
    """What ``./cours check`` says of the tooling's own code, a line per problem, each
    naming its file and line: Python that ``ruff format`` would change (or cannot read),
    lines over :data:`LINE_LENGTH` characters (ruff leaves long strings and comments as
    they are: they are cut by hand)."""
    folders = [folder for folder in TOOLING_PYTHON if (root / folder).is_dir()]
    check = [_ruff(), "format", "--check", "--no-cache", "--output-format", "json"]
    run = subprocess.run(
        [*check, *folders], cwd=root, capture_output=True, text=True, check=False
    )
    try:
        reports = json.loads(run.stdout) if run.returncode else []
    except json.JSONDecodeError:
        message = f"ruff format --check a échoué :\n{run.stderr.strip()}"
        raise FormatError(message) from None
    found = []
    for report in sorted(reports, key=lambda r: (r["filename"], r["location"]["row"])):
        path = Path(report["filename"]).resolve().relative_to(root.resolve())
        where = f"{path}:{report['location']['row']}"
        if report["code"] == "unformatted":
            found.append(
                f"{where} : pas dans la forme de ruff "
                f"(lancez `.venv/bin/ruff format {' '.join(TOOLING_PYTHON)}`)"
            )
        else:
            found.append(f"{where} : ruff ne peut pas le lire ({report['message']})")
    for path in tooling_files(root):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if len(line) > LINE_LENGTH:
                found.append(f"{path.relative_to(root)}:{number} : {_too_long(line)}")
    return found
