"""From ``content/*.Rmd`` to executed ``notebooks/*.ipynb``, and the check they agree.

The Rmarkdown source is the only hand-edited file. The build reads it with jupytext,
writes the paired notebook, executes it with nbclient against an S3 server given by the
environment, and strips what would differ from one run or machine to the next (execution
timestamps, interpreter version), so that a rebuild without changes gives no diff.

One notebook serves both readers. Learners open it in Jupyter, the site is rendered from
it by Quarto. So that Jupyter shows no Quarto markup, :func:`for_jupyter` turns each
``:::`` fence line of the source into an HTML comment
(``<!-- ::: {.panel-tabset} -->``), which Jupyter does not display; the site's pre-AST
filter (``site/blocs.lua``) turns those comments back into the same divs before Quarto
reads them, so tabsets and callouts are unchanged. The front matter's title becomes the
notebook's ``#`` heading (Quarto takes a notebook's first level-1 heading as its title),
a folded code chunk is also folded in JupyterLab, and a folded solution is a collapsed
heading there.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import jupytext
import nbformat
import yaml
from nbclient import NotebookClient

from . import config, launch, noyau

#: The course's kernel (:mod:`s3cours.noyau`), installed into .venv by ./cours (and
#: into Binder's environment by postBuild): a Jupyter that has it opens every chapter
#: on it without asking, and the notebook unmodified (its metadata are what this kernel
#: reports). A Jupyter that lacks it (SSP Cloud, Colab) starts its one Python kernel
#: instead.
KERNEL_NAME = noyau.KERNEL_NAME
KERNELSPEC = noyau.KERNELSPEC
#: A notebook's metadata: the kernel's spec and language, as JupyterLab writes them
#: when the course's kernel starts.
METADATA = {"kernelspec": KERNELSPEC, "language_info": noyau.LANGUAGE_INFO}
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
    """A chapter's generated cell of launch badges: SSP Cloud, Binder, Colab, GitHub."""
    notebook = notebook_path(source).relative_to(config.ROOT).as_posix()
    return nbformat.v4.new_markdown_cell(launch.badges_markdown(notebook))


#: A Quarto fence line (``::: {.callout-note}``, ``:::``): in the source, or left
#: visible in a notebook's markdown cell.
FENCE = re.compile(r"^:{3,}", re.MULTILINE)
#: The same line once hidden from Jupyter.
HIDDEN_FENCE = re.compile(r"^<!-- (:{3,}.*?) -->$", re.MULTILINE)
#: Cell metadata with which JupyterLab folds a code cell's input, and collapses a
#: heading (the cells under it hidden until the next heading of the same or a higher
#: level).
SOURCE_HIDDEN = {"source_hidden": True}
HEADING_COLLAPSED = "jp-MarkdownHeadingCollapsed"
HEADING = re.compile(r"^(#{1,6}) +\S")
#: A folded solution's fence, and the heading that titles it.
SOLUTION_FENCE = re.compile(r'^:{3,} *\{\.callout-tip collapse="true"\}$')


#: A callout that Jupyter shows as a quotation (an opening fence without ``collapse``).
NOTE_FENCE = re.compile(
    r"^:{3,} *\{\.callout-(note|warning|important|caution|tip)"
    r'(?![^}]*collapse="true")[^}]*\}$'
)


def _quote_callouts(lines: list[str]) -> list[str]:
    """Each callout opened and closed in the same cell, as a quotation whose title (the
    callout's first heading) is in bold: how Jupyter shows a note. The site's filter
    turns the quotation back into the callout's content and the bold title into its
    heading."""
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        close = (
            next(
                (j for j in range(i + 1, len(lines)) if lines[j].strip() == ":::"), None
            )
            if NOTE_FENCE.match(line.strip())
            else None
        )
        if close is None:
            out.append(line)
            i += 1
            continue
        inner = lines[i + 1 : close]
        while inner and not inner[0].strip():
            inner.pop(0)
        if inner and HEADING.match(inner[0]):
            inner[0] = "**" + inner[0].lstrip("#").strip() + "**"
        out.append(line)
        out.extend(f"> {text}".rstrip() for text in inner)
        out.append(lines[close])
        i = close + 1
    return out


def hide_fences(text: str) -> str:
    """A markdown cell's text with each ``:::`` fence line put in an HTML comment (a
    blank line around it, so that markdown reads it as a block of its own), and its
    callouts shown as quotations (:func:`_quote_callouts`)."""
    out: list[str] = []
    for line in _quote_callouts(text.split("\n")):
        if FENCE.match(line):
            if out and out[-1].strip():
                out.append("")
            out.extend([f"<!-- {line.strip()} -->", ""])
        elif line.strip() or (out and out[-1].strip()):
            out.append(line)
    return "\n".join(out).strip("\n")


def show_fences(text: str) -> str:
    """The inverse of :func:`hide_fences`: the markdown Quarto reads (``site/blocs.lua``
    does the same on the site)."""
    return HIDDEN_FENCE.sub(r"\1", text)


def _title_cell(front_matter: str) -> nbformat.NotebookNode:
    """The chapter's ``#`` heading, from the source's front matter (its only other key,
    ``jupyter``, becomes the notebook's metadata)."""
    meta = yaml.safe_load(front_matter.strip().strip("-"))
    extra = set(meta) - {"title", "jupyter"}
    if extra or "title" not in meta:
        raise ValueError(
            f"en-tête du chapitre : seule « title » (et « jupyter ») est lue "
            f"(trouvé : {sorted(meta)})"
        )
    return nbformat.v4.new_markdown_cell(f"# {meta['title']}")


#: A fence that opens a block, and one that closes it.
OPENING_FENCE = re.compile(r"^:{3,} *\{")
CLOSING_FENCE = re.compile(r"^:{3,} *$")


def _split_solutions(
    cell: nbformat.NotebookNode, depth: int
) -> tuple[list[nbformat.NotebookNode], int]:
    """A markdown cell cut around each folded solution, so that JupyterLab hides all
    of it under its collapsed heading: before the solution's fence (its heading is the
    first heading of its own cell, collapsed), after that heading (the explanation
    that follows it is a cell of its own), and before the fence that closes the
    solution (text after its code stays under the heading, not with the next
    exercise's heading). ``depth``: the fences open inside a solution when the cell
    starts (0: none); returned as it is at the cell's end."""
    lines = cell.source.split("\n")
    cuts = []
    for i, line in enumerate(lines):
        text = line.strip()
        if SOLUTION_FENCE.match(text):
            cuts.append(i)
            depth = 1
            heading = next(
                (k for k in range(i + 1, len(lines)) if lines[k].strip()), None
            )
            if heading is not None and HEADING.match(lines[heading]):
                cuts.append(heading + 1)
        elif depth and OPENING_FENCE.match(text):
            depth += 1
        elif depth and CLOSING_FENCE.match(text):
            depth -= 1
            if depth == 0:
                cuts.append(i)
    pieces, bounds = [], [0, *cuts, len(lines)]
    for begin, end in zip(bounds, bounds[1:]):
        text = "\n".join(lines[begin:end]).strip("\n")
        if text:
            pieces.append(nbformat.v4.new_markdown_cell(text))
    for piece in pieces:
        if SOLUTION_FENCE.match(piece.source.split("\n")[0].strip()):
            heading = next(
                (line for line in piece.source.split("\n")[1:] if line.strip()), ""
            )
            if not HEADING.match(heading):
                raise ValueError(
                    "une solution repliée commence par son titre "
                    f"(« #### Solution… »), pas par : {heading[:60]!r}"
                )
            piece.metadata[HEADING_COLLAPSED] = True
    return pieces, depth


def for_jupyter(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as JupyterLab shows it well: a ``#`` title, no visible Quarto
    markup, folded chunks and solutions folded there too (see the module's
    docstring)."""
    cells, depth = [], 0
    for index, cell in enumerate(nb.cells):
        if index == 0 and cell.cell_type == "raw" and cell.source.startswith("---"):
            cells.append(_title_cell(cell.source))
        elif cell.cell_type == "markdown":
            pieces, depth = _split_solutions(cell, depth)
            for piece in pieces:
                piece.source = hide_fences(piece.source)
                cells.append(piece)
        else:
            if cell.cell_type == "code" and cell.metadata.get("code-fold"):
                cell.metadata["jupyter"] = dict(SOURCE_HIDDEN)
            cells.append(cell)
    nb.cells = cells
    return nb


def solution_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells of the folded solutions (collapsed ``Solution`` headings, from
    ``::: {.callout-tip collapse="true"}`` blocks) of an exercise chapter, in order."""
    return [cell for cell in hidden_by_collapse(nb) if cell.cell_type == "code"]


def heading_level(cell: nbformat.NotebookNode) -> int | None:
    """The level of a markdown cell's first heading (as JupyterLab sees it), or None."""
    if cell.cell_type != "markdown":
        return None
    for line in cell.source.split("\n"):
        match = HEADING.match(line)
        if match:
            return len(match[1])
    return None


def hidden_by_collapse(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The cells that JupyterLab hides under collapsed headings when it opens the
    notebook: after such a heading, every cell until the next heading of the same or a
    higher level."""
    hidden, level = [], None
    for cell in nb.cells:
        own = heading_level(cell)
        if level is not None and own is not None and own <= level:
            level = None
        if level is not None:
            hidden.append(cell)
        elif cell.metadata.get(HEADING_COLLAPSED) and own is not None:
            level = own
    return hidden


def printed(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or returned, as one string (an error as its
    ``name: value`` line): what the chapters' tests compare with the prose."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}\n")
    return "".join(parts)


def find_setup_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """A chapter's setup cell: its first code cell that reads ``AWS_S3_ENDPOINT``."""
    return next(
        (
            c
            for c in nb.cells
            if c.cell_type == "code" and "AWS_S3_ENDPOINT" in c.source
        ),
        None,
    )


def setup_cell(source: Path) -> str:
    """The code of a chapter's setup cell (:func:`find_setup_cell`)."""
    cell = find_setup_cell(from_source(source))
    if cell is None:
        raise ValueError(f"{source.name} : pas de cellule de préparation")
    return cell.source


#: Sources already parsed: the SHA-256 of their text -> the notebook.
_PARSED: dict[str, nbformat.NotebookNode] = {}


def _parsed(source: Path) -> nbformat.NotebookNode:
    """``for_jupyter(jupytext.reads(text))`` of a source, parsed once for each text it
    has had, a copy for each caller: parsing the seven chapters costs about 0.4 s of
    CPU, and the tests asked for them hundreds of times."""
    text = Path(source).read_text(encoding="utf-8")
    key = hashlib.sha256(text.encode()).hexdigest()
    if key not in _PARSED:
        _PARSED[key] = for_jupyter(jupytext.reads(text, fmt="Rmd"))
    return copy.deepcopy(_PARSED[key])


def from_source(source: Path) -> nbformat.NotebookNode:
    """The notebook jupytext makes of a source, made for Jupyter (:func:`for_jupyter`),
    with the course's clean metadata, and the generated launch badges as its first cell
    after the title (so that they are never typed by hand, and the drift check compares
    them with what is generated now)."""
    nb = _parsed(source)
    after_title = 1 if nb.cells and nb.cells[0].source.startswith("# ") else 0
    nb.cells.insert(after_title, launch_cell(source))
    nb.metadata = nbformat.from_dict(copy.deepcopy(METADATA))
    _stable_ids(nb)
    return nb


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop run- and machine-specific metadata from an executed notebook."""
    nb = copy.deepcopy(nb)
    nb.metadata = nbformat.from_dict(copy.deepcopy(METADATA))
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    return nb


#: What a Spark kernel's JVM writes to the build's console that says nothing to a
#: maintainer, with no setting to silence it (Spark 4.1.1): Ivy's resolution report,
#: SLF4J's notice that the AWS SDK bundle finds no logger, and the JDK's note on its
#: incubator module. The report starts with :data:`IVY_REPORT_START`; it goes on while
#: its lines have its shape (:data:`IVY_REPORT_LINE`), and any line that speaks of a
#: failure (:data:`IVY_TROUBLE`: an unresolved dependency, a failed download) is shown.
IVY_REPORT_START = re.compile(
    r"^(:: loading settings ::|Ivy Default Cache set to|The jars for the packages)"
)
IVY_REPORT_LINE = re.compile(
    r"^(\t|:: (loading settings|resolving dependencies|resolution report|retrieving) ::"
    r"|Ivy Default Cache set to|The jars for the packages"
    r"|\S+#\S+ added as a dependency)"
)
IVY_TROUBLE = re.compile(r"(?i)unresolved|failed|error|warn|not found")
JVM_NOISE = re.compile(
    r"^(SLF4J: (Failed to load class \"org\.slf4j\.impl\.StaticLoggerBinder\"|"
    r"Defaulting to no-operation \(NOP\) logger|See http://www\.slf4j\.org/codes)"
    r"|WARNING: Using incubator modules: )"
)


def console_lines(lines: Iterable[str]) -> Iterator[str]:
    """The lines of a kernel's error output worth a maintainer's eyes: all of them but
    the JVM's noise (Ivy's report, :data:`JVM_NOISE`)."""
    in_report = False
    for line in lines:
        if IVY_REPORT_START.match(line):
            in_report = True
        in_report = in_report and bool(IVY_REPORT_LINE.match(line))
        if in_report and not IVY_TROUBLE.search(line):
            continue
        if not JVM_NOISE.match(line):
            yield line


@contextlib.contextmanager
def filtered_stderr() -> Iterator[int]:
    """A pipe for a kernel's error output, whose lines reach this process's error
    output through :func:`console_lines`."""
    read_end, write_end = os.pipe()

    def relay() -> None:
        with open(read_end, encoding="utf-8", errors="replace") as lines:
            for line in console_lines(lines):
                sys.stderr.write(line)
                sys.stderr.flush()

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    try:
        yield write_end
    finally:
        os.close(write_end)
        thread.join(timeout=10)


def execute(
    nb: nbformat.NotebookNode, env: dict[str, str], timeout: int = 600
) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel whose environment holds ``env``; stop at an
    error unless the cell is tagged ``raises-exception``. The kernel's channels are
    encrypted (CurveZMQ keys that its manager makes, as its spec allows): ipykernel
    warns at every start otherwise."""
    from traitlets.config import Config

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name=KERNELSPEC["name"],
            coalesce_streams=True,
            resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}},
            config=Config({"KernelManager": {"transport_encryption": "auto"}}),
        )
        with filtered_stderr() as stderr:
            client.execute(stderr=stderr)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


# --------------------------------------------------------------- a rebuild that keeps
# A rebuild runs every cell again. Some outputs change at every run while the code does
# not: object dates, temporary folders, durations, memory peaks, throughputs (the
# chapters' measurements). The build keeps the notebook in place when the new run is
# the same run as far as the tests can tell: same cells, same metadata, and each code
# cell's outputs equal to the recorded ones as nbval compares them (tests/sanitize.cfg
# applied, images left out), except in the cells tagged ``nbval-ignore-output``,
# declared volatile, whose outputs must only keep their kinds. The notebook in place is
# then a real run of exactly this code, all of its outputs from that one run: the
# values a reader sees agree with each other and with the code above them, and a
# maintainer's tree stays clean. As soon as one compared output or one cell differs,
# the whole new run is written: never a mix of two runs.

#: nbval's markers of a cell whose outputs it does not compare (nbval 0.11:
#: ``comment_markers``, ``metadata_tags``).
IGNORE_OUTPUT_TAG = "nbval-ignore-output"
IGNORE_OUTPUT_COMMENTS = ("NBVAL_IGNORE_OUTPUT", "PYTEST_VALIDATE_IGNORE_OUTPUT")
#: What nbval leaves out of a comparison (``IPyNbFile.skip_compare``, without nbdime).
NBVAL_SKIP_COMPARE = (
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
)
#: The sanitizers of ``./cours test`` (``--nbval-sanitize-with``).
SANITIZE_FILE = config.TESTS_DIR / "sanitize.cfg"
SECTION = re.compile(r"^\[([^\]]+)\]\s*$", re.MULTILINE)


def sanitizers(
    deterministic: tuple[str, ...] = (), text: str | None = None
) -> list[tuple[str, str]]:
    """The (regex, replacement) pairs of :data:`SANITIZE_FILE` (or ``text``), read as
    nbval reads them, less the sections named in ``deterministic``: values that do
    not change in this build (the port, when the build has the course's own)."""
    from nbval.plugin import get_sanitize_patterns

    text = SANITIZE_FILE.read_text(encoding="utf-8") if text is None else text
    pieces = SECTION.split(text)
    kept = [pieces[0]] + [
        body
        for name, body in zip(pieces[1::2], pieces[2::2])
        if name.strip() not in deterministic
    ]
    return get_sanitize_patterns("\n".join(kept))


def volatile(cell: nbformat.NotebookNode) -> bool:
    """A code cell whose outputs nbval does not compare (declared volatile)."""
    comments = {
        line.strip().lstrip("#").strip()
        for line in cell.source.splitlines()
        if line.strip().startswith("#")
    }
    return IGNORE_OUTPUT_TAG in cell.metadata.get("tags", []) or bool(
        comments & set(IGNORE_OUTPUT_COMMENTS)
    )


def comparable(outputs: list, patterns: list[tuple[str, str]]) -> dict[str, list]:
    """A cell's outputs as nbval compares them (``IPyNbCell.compare_outputs``): streams
    merged, values grouped by key or MIME type, skipped keys left out, texts
    sanitized."""
    from nbval.plugin import coalesce_streams, transform_streams_for_comparison

    def sanitized(value: object) -> object:
        if isinstance(value, str):
            for regex, replace in patterns:
                value = re.sub(regex, replace, value)
        return value

    grouped: dict[str, list] = {}
    merged = coalesce_streams(nbformat.from_dict(copy.deepcopy(list(outputs))))
    for output in transform_streams_for_comparison(merged):
        for key, value in output.items():
            if key in NBVAL_SKIP_COMPARE:
                continue
            items = value.items() if key == "data" else [(key, value)]
            for name, item in items:
                if name not in NBVAL_SKIP_COMPARE:
                    grouped.setdefault(name, []).append(sanitized(item))
    return grouped


def _kinds(outputs: list) -> list[tuple]:
    """What a volatile cell's outputs must keep: their kinds and MIME types."""
    return [
        (o.get("output_type"), o.get("name"), sorted(o.get("data", {})))
        for o in outputs
    ]


def same_run(
    recorded: nbformat.NotebookNode,
    new: nbformat.NotebookNode,
    patterns: list[tuple[str, str]],
) -> list[str]:
    """Why ``new`` (a fresh, cleaned run) is not the run that ``recorded`` is, as the
    tests see it; empty when the recorded notebook can stay (see above)."""
    if recorded.metadata != new.metadata:
        return ["métadonnées du notebook"]
    if len(recorded.cells) != len(new.cells):
        return [f"{len(recorded.cells)} cellules, {len(new.cells)} maintenant"]
    reasons = []
    for index, (old, cell) in enumerate(zip(recorded.cells, new.cells), start=1):
        if (old.cell_type, old.source, old.get("id"), old.metadata) != (
            cell.cell_type,
            cell.source,
            cell.get("id"),
            cell.metadata,
        ):
            reasons.append(f"cellule {index} : contenu")
        elif cell.cell_type != "code":
            continue
        elif old.execution_count != cell.execution_count:
            reasons.append(f"cellule {index} : numéro d'exécution")
        elif volatile(cell):
            if _kinds(old.outputs) != _kinds(cell.outputs):
                reasons.append(f"cellule {index} : sorties d'une autre sorte")
        elif comparable(old.outputs, patterns) != comparable(cell.outputs, patterns):
            reasons.append(f"cellule {index} : sortie")
    return reasons


def keep_or_write(
    nb: nbformat.NotebookNode,
    target: Path,
    *,
    rewrite: bool = False,
    deterministic: tuple[str, ...] = (),
) -> bool:
    """Write the cleaned run ``nb`` to ``target``, unless the notebook there is the same
    run (see above; ``rewrite``: write anyway; ``deterministic``: see
    :func:`sanitizers`). Returns whether it was written."""
    if target.exists() and not rewrite:
        recorded = nbformat.read(target, as_version=4)
        if not same_run(recorded, nb, sanitizers(deterministic)):
            return False
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return True


def build(
    source: Path,
    env: dict[str, str],
    *,
    rewrite: bool = False,
    deterministic: tuple[str, ...] = (),
) -> tuple[Path, bool]:
    """Sync one source to its notebook and execute it (:func:`keep_or_write`). Returns
    the notebook's path and whether the new run was written."""
    target = notebook_path(source)
    nb = clean(execute(from_source(source), env))
    written = keep_or_write(nb, target, rewrite=rewrite, deterministic=deterministic)
    return target, written


def _inputs(nb: nbformat.NotebookNode) -> list[str]:
    """A comparable text of a notebook's inputs: cell kinds, metadata and sources."""
    lines = []
    for index, cell in enumerate(nb.cells):
        meta = {
            k: v for k, v in cell.metadata.items() if k not in VOLATILE_CELL_METADATA
        }
        lines.append(f"--- cellule {index} [{cell.cell_type}] {meta}")
        lines.extend(cell.source.splitlines())
    return lines


def drift(source: Path, target: Path | None = None) -> str:
    """A diff between a source and its notebook's inputs, empty when they agree.

    Unlike ``jupytext --diff`` (which exits 0 on a difference) and ``--sync`` (which
    trusts file times), this compares contents and says what differs."""
    target = target or notebook_path(source)
    if not target.exists():
        return f"{target.name} manque : lancez `./cours build`."
    expected = _inputs(from_source(source))
    actual = _inputs(nbformat.read(target, as_version=4))
    diff = difflib.unified_diff(
        actual, expected, fromfile=target.name, tofile=source.name, lineterm=""
    )
    return "\n".join(diff)


def orphans() -> list[Path]:
    """Notebooks whose source is gone."""
    stems = {source.stem for source in sources()}
    return [
        nb
        for nb in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
        if nb.stem not in stems
    ]
