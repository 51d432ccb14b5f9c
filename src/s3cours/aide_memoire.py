"""The « Aide-mémoire » page: every S3 operation the chapters teach, with the one call
of each library that does it, taken from the chapters' executed tabs.

Nothing in it is written by hand. :func:`operations` reads each executed notebook: every
tabset is an operation (titled by the heading above it), every tab a library, and the
library's line is the first call in the tab's code that goes through that library's S3
object (:data:`RECEIVERS`) and names where it goes (a bucket, a key, an ``s3://``
address, the endpoint). A tab that points to a section of its own (Snakemake) is read in
that section. :func:`page` writes the Quarto page; ``./cours build`` writes it next to
the notebooks and ``./cours check`` fails when it differs from what the notebooks give,
so it cannot drift from the chapters.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import config, formatage, notebooks, structure

#: The page, at the root of the site (beside index.qmd).
PAGE = config.ROOT / "aide-memoire.qmd"
#: What makes the page (its « Source de cette page », site/source.lua).
GENERATOR = "src/s3cours/aide_memoire.py"
HEADING = structure.HEADING_LINE

#: How each library is reached in the chapters' code: the receiver of the call (the name
#: before the first dot, or the called name itself).
RECEIVERS: dict[str, re.Pattern[str]] = {
    "boto3": re.compile(r"^(s3\w*|boto3|client\w*)$"),
    "s3fs": re.compile(r"^(fs|fs_\w+|s3fs|fsspec)$"),
    "pyarrow": re.compile(r"^(s3_arrow\w*|pafs|pq|ds|pacsv|pa)$"),
    "pandas": re.compile(r"^(pd|fs_pandas|fsspec|df|tableau\w*|\w+_pd)$"),
    "polars": re.compile(r"^(pl|lf\w*|\w+_pl|df_polars\w*)$"),
    "duckdb": re.compile(r"^(con\w*|duckdb)$"),
    "snakemake": re.compile(r"^snakemake$"),
    "mc": re.compile(r"^mc$"),
}
#: The clients the chapters make: each of their calls goes to S3.
CLIENTS = re.compile(r"^(s3|s3v4|client\w*|fs|fs_\w+|s3_arrow\w*|con\w*)$")
#: Calls that make a client (they name no bucket, but they are how each library starts).
CONSTRUCTORS = {"client", "S3FileSystem", "CredentialProviderAWS"}
#: Calls that help, not the operation (a listing cache emptied, an extension loaded).
HELPERS = {"invalidate_cache", "install_extension", "load_extension", "print"}
#: An operation that is to connect (its title): there, making the client is the lesson
#: (with a profile, or without credentials).
CONNECTING = re.compile(r"connecter|profil|sans identifiants", re.IGNORECASE)
#: The cell metadata (the chunk option ``aide="…"`` of the source) that picks, among a
#: tab's calls, the first one whose text holds it, when the first call is not the
#: lesson.
CHOICE = "aide"


@dataclass
class Entry:
    library: str
    code: str


@dataclass
class Operation:
    chapter: str  # the chapter's title
    notebook: str  # its file name
    title: str  # the heading above the tabset
    entries: list[Entry] = field(default_factory=list)


def _receiver(func: ast.expr) -> str | None:
    """``s3`` of ``s3.list_objects_v2``, ``mc`` of ``mc``, ``pd`` of ``pd.read_csv``."""
    while isinstance(func, (ast.Attribute, ast.Call, ast.Subscript)):
        func = func.value if not isinstance(func, ast.Call) else func.func
    return func.id if isinstance(func, ast.Name) else None


def _goes_to_s3(call: ast.Call, receiver: str) -> bool:
    """A call of a client (every method of ``s3``, ``fs``, ``s3_arrow``, ``con``… speaks
    to S3), or one that names where it goes on S3 (an upper-case name of the chapter
    such as ``BUCKET`` or ``CLE_CSV``, an ``s3://`` or ``s3/`` address), or makes a
    client."""
    if CLIENTS.match(receiver) or receiver == "mc":
        return True
    if isinstance(call.func, ast.Attribute) and call.func.attr in CONSTRUCTORS:
        return True
    for node in ast.walk(call):
        if isinstance(node, ast.Name) and len(node.id) > 2 and node.id.isupper():
            return True
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and ("s3://" in node.value or node.value.startswith("s3/"))
        ):
            return True
    return False


def _sql(call: ast.Call) -> str:
    first = call.args[0] if call.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value.lstrip().upper()
    return ""


def _is_setting(library: str, call: ast.Call) -> bool:
    """A DuckDB setting (``SET ca_cert_file`` for a home-made CA): not an operation."""
    return library == "duckdb" and _sql(call).startswith("SET")


def _is_setup(library: str, call: ast.Call) -> bool:
    """A call that prepares (a client made, a DuckDB secret or setting) rather than one
    that does the operation."""
    if isinstance(call.func, ast.Attribute) and call.func.attr in CONSTRUCTORS:
        return True
    return library == "duckdb" and _sql(call).startswith(("CREATE", "INSTALL"))


def _as_written(code: str, node: ast.AST) -> str:
    """The node's text as the chapter has it, standing alone (its continuation lines
    dedented, in parentheses if it spanned lines inside brackets of its statement)."""
    text = ast.get_source_segment(code, node) or ast.unparse(node)
    first, _, rest = text.partition("\n")
    if rest:
        text = first + "\n" + textwrap.dedent(rest)
        try:
            ast.parse(text)
        except SyntaxError:
            text = "(\n" + text + "\n)"
    return text


def key_call(
    library: str, code: str, choice: str | None = None, connecting: bool = False
) -> str | None:
    """The call of ``code`` that goes through ``library`` to S3 and does the operation,
    as written (the assignment when it names the result): the first one holding
    ``choice`` in its text if given; else the first that is not a preparation (a client
    made, a DuckDB secret), or the first preparation if there is nothing else, or if
    ``connecting`` (the operation is to connect)."""
    # Without the IPython magics (``%%mesurer`` of « Gros volumes »): plain Python.
    code = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in code.splitlines()
    )
    tree = ast.parse(code)
    pattern = RECEIVERS[library]
    assigned = {
        id(node.value): node for node in ast.walk(tree) if isinstance(node, ast.Assign)
    }
    calls = sorted(
        (node for node in ast.walk(tree) if isinstance(node, ast.Call)),
        key=lambda node: (node.lineno, node.col_offset),
    )
    candidates = []
    for call in calls:
        receiver = _receiver(call.func)
        method = call.func.attr if isinstance(call.func, ast.Attribute) else receiver
        # Another library's call through this client: pq.read_table(…, filesystem=fs).
        through = [
            k.value.id
            for k in call.keywords
            if isinstance(k.value, ast.Name) and pattern.match(k.value.id)
        ]
        if receiver is None or method in HELPERS or _is_setting(library, call):
            continue
        if pattern.match(receiver) and _goes_to_s3(call, receiver):
            candidates.append(call)
        elif through and CLIENTS.match(through[0]):
            candidates.append(call)

    # Only the outermost:
    # pl.read_csv(…, credential_provider=pl.CredentialProviderAWS(…)).
    def within(inner: ast.Call, outer: ast.Call) -> bool:
        return (
            inner is not outer
            and (outer.lineno, outer.col_offset) <= (inner.lineno, inner.col_offset)
            and (inner.end_lineno, inner.end_col_offset)
            <= (outer.end_lineno, outer.end_col_offset)
        )

    candidates = [c for c in candidates if not any(within(c, d) for d in candidates)]
    if choice:
        candidates = [
            c for c in candidates if choice in (ast.get_source_segment(code, c) or "")
        ]
        if not candidates:
            raise ValueError(
                f"onglet {library} : aucun appel vers S3 ne contient "
                f"« {choice} » (option {CHOICE}= du morceau de code)"
            )
    if not candidates:
        return None
    setup = [c for c in candidates if _is_setup(library, c)]
    doing = [c for c in candidates if not _is_setup(library, c)]
    ordered = candidates if choice else setup + doing if connecting else doing + setup
    return _as_written(code, assigned.get(id(ordered[0]), ordered[0]))


def _entry(
    library: str, cells: list[nbformat.NotebookNode], operation: str
) -> Entry | None:
    """A library's entry, from the code cells of its tab (or of its own section)."""
    choice = next((c.metadata[CHOICE] for c in cells if CHOICE in c.metadata), None)
    call = key_call(
        library,
        "\n".join(c.source for c in cells),
        choice,
        connecting=bool(CONNECTING.search(operation)),
    )
    return Entry(library, call) if call else None


def operations(notebook: Path) -> list[Operation]:
    """Every tabset of an executed chapter (:func:`structure.notebook_tabsets`), with
    each library's key call, from the cells that ran without error."""
    nb = nbformat.read(notebook, as_version=4)
    title = next(
        (
            HEADING.match(line)[2]
            for line in nb.cells[0].source.splitlines()
            if line.startswith("# ")
        ),
        notebook.stem,
    )
    found = []
    for tabset in structure.notebook_tabsets(nb):
        operation = Operation(title, notebook.name, tabset.heading)
        for library, cells in tabset.tabs.items():
            ran = [
                c for c in cells if not any(o.output_type == "error" for o in c.outputs)
            ]
            entry = _entry(library, ran, operation.title) if ran else None
            if entry:
                operation.entries.append(entry)
        if operation.entries:
            found.append(operation)
    return found


def page(chapters: list[Path] | None = None) -> str:
    """The Quarto page: one section per chapter, one code block per operation, one
    commented call per library, in ruff's form (as the chapters)."""
    chapters = chapters or [notebooks.notebook_path(s) for s in notebooks.sources()]
    lines = [
        "---",
        'title: "Aide-mémoire"',
        f"source-page: {GENERATOR}",
        "---",
        "",
        "<!-- Page générée par ./cours build à partir des notebooks exécutés",
        f"     ({GENERATOR}) : ne pas la modifier à la main. -->",
        "",
        # One line of the page per item, each in two pieces to stay within 88 columns.
        "Chaque opération sur S3 que le cours enseigne, "
        "et l'appel de chaque bibliothèque",
        "qui la fait, tel qu'il a tourné dans le chapitre. "
        "Les noms en majuscules, comme",
        "`BUCKET` ou `CLE_CSV`, et les objets `s3`, `fs`, "
        "`s3_arrow` ou `con` sont ceux du",
        "chapitre, créés dans sa première section. "
        "La page s'imprime : le menu n'y figure",
        "pas.",
    ]
    for chapter in chapters:
        ops = operations(chapter)
        if not ops:
            continue
        link = chapter.relative_to(config.ROOT).as_posix()
        lines += ["", f"## [{ops[0].chapter}]({link})"]
        for operation in ops:
            lines += ["", f"### {operation.title}", "", "```{python}"]
            for entry in operation.entries:
                lines += [f"# {entry.library}", entry.code]
            lines.append("```")
    text = formatage.formatted("\n".join(lines) + "\n", "aide-memoire")
    return text.replace("```{python}", "```python")


def write() -> Path:
    PAGE.write_text(page(), encoding="utf-8")
    return PAGE


def drift() -> str:
    """Empty when the committed page is what the executed notebooks give."""
    want = page()
    have = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if have == want:
        return ""
    return (
        f"{PAGE.name} ne correspond pas aux notebooks exécutés : lancez "
        "`./cours build` (la page est générée, pas écrite à la main)."
    )
