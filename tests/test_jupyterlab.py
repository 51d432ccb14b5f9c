"""The notebooks as learners see them: opened in a real JupyterLab, in a real browser.

One JupyterLab server (the pinned one, from the course's environment, with Jupytext's
extension as in Binder's) serves the repository on ``http://127.0.0.1``, as Binder does
(``/lab/tree/notebooks/NAME.ipynb``); Playwright drives the system's Chromium (no
browser is downloaded). Every notebook of ``notebooks/`` is opened, and what the page
shows is read from JupyterLab's DOM, then checked:

- no Quarto markup shows (fences, tabset and callout attributes, front matter, chunk
  headers): the notebooks keep it only inside HTML comments, which Jupyter does not
  show;
- the outline: one ``#`` title in the first cell, no level skipped going down, and each
  library part one level below its section (headings read from the rendered markdown
  cells, ``.jp-MarkdownCell .jp-RenderedMarkdown h1``…``h6``, not from the Table of
  Contents panel);
- the setup cell is folded (JupyterLab shows a one-line ``.jp-InputPlaceholder`` instead
  of its code) and its output is shown;
- every recorded output is shown, except under a folded solution, where it is hidden
  (and shown once the solution is unfolded);
- folded solutions are collapsed ``Solution…`` headings
  (``.jp-MarkdownHeadingCollapsed``, the cells under them ``.lm-mod-hidden``) that hide
  nothing but the solution.

JupyterLab starts once, on the first notebook's address (as a launch button opens it);
the next notebooks are opened in the same tab by the command that address runs, the
previous one closed unsaved: a JupyterLab start per notebook would double the time. The
server runs in private Jupyter folders (settings, workspaces, checkpoints, runtime
files), starts no kernel, never autosaves, and nothing is ever saved: each check ends by
comparing the notebook on disk with what it was. The checker is proven able to fail on
scratch notebooks, served by a second server.

Needs Chromium (``/usr/bin/chromium``, or ``S3COURS_CHROMIUM``); without it, the module
is skipped and says so. ``.ci/run`` installs it, so CI always runs these tests."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

from s3cours import config, notebooks, noyau, structure

CHROMIUM = os.environ.get("S3COURS_CHROMIUM") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"Notebooks non vérifiés dans JupyterLab : Chromium introuvable "
    f"({CHROMIUM}) ; « apt-get install chromium » (Debian/Ubuntu), ou "
    "S3COURS_CHROMIUM=/chemin/vers/chromium",
)

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
WIDTH, HEIGHT = 1280, 900
#: Seconds a notebook has to be drawn, once asked for.
DRAWN_WITHIN = 30
#: The headings of the library parts (a tab on the site).
LIBRARIES = set(structure.TAB_ORDER)
#: What only Quarto understands, and must never show in Jupyter's rendered markdown.
RAW_MARKUP = (":::", "{.panel-tabset", "{.callout", 'group="lib"', "{python")
#: A front matter line shown as text (the ``---`` fences show in a raw cell only).
FRONT_MATTER = re.compile(r"^(---|title:|jupyter:)", re.MULTILINE)
#: JupyterLab's user settings for the test: never autosave. No news setting here: the
#: question about Jupyter's news is turned off by the course's own defaults, in the
#: environment's JupyterLab (``s3cours.noyau``, as on Binder), which the tests check.
SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}
#: The English question that JupyterLab shows over the notebook unless ``fetchNews`` is
#: answered.
NEWS_QUESTION = "Would you like to get notified about official Jupyter news?"
#: Seconds a kernel has to start and answer.
KERNEL_READY_WITHIN = 60


# --------------------------------------------------------------------------- the server


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    root: Path
    log: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_lab(root: Path, private: Path, course_settings: bool = True) -> Lab:
    """A JupyterLab server on ``root``, its Jupyter folders under ``private``; returns
    once ``/lab`` answers. Its default settings are the environment's, which hold the
    course's (:func:`s3cours.noyau.install`), or none (``course_settings`` false)."""
    folders = {
        name: private / name
        for name in (
            "config",
            "data",
            "runtime",
            "settings",
            "workspaces",
            "checkpoints",
        )
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for name, values in SETTINGS.items():
        path = folders["settings"] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(folders["config"]),
        JUPYTER_DATA_DIR=str(folders["data"]),
        JUPYTER_RUNTIME_DIR=str(folders["runtime"]),
    )
    if course_settings:
        noyau.install(prefix=sys.prefix)  # as ./cours test did: nothing rewritten
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={folders['settings']}",
        f"--LabApp.workspaces_dir={folders['workspaces']}",
        # An absolute folder: no .ipynb_checkpoints/ beside the notebooks.
        f"--FileCheckpoints.checkpoint_dir={folders['checkpoints']}",
        # Opening a notebook starts no kernel: nothing runs, the outputs are the file's.
        "--LabApp.notebook_starts_kernel=False",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=",
        # window.jupyterapp, to open the next notebook in the same tab.
        "--LabApp.expose_app_in_browser=True",
    ]
    if not course_settings:
        command.append(f"--LabApp.app_settings_dir={private / 'app-settings'}")
    log = private / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lab = Lab(f"http://127.0.0.1:{port}", root, log, process)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                "JupyterLab s'est arrêté au démarrage :\n" + lab.log_tail()
            )
        try:
            with urllib.request.urlopen(f"{lab.url}/lab", timeout=2) as answer:
                if answer.status == 200:
                    return lab
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            stop_lab(lab)
            raise RuntimeError(
                f"JupyterLab ne répond pas sur {lab.url}/lab :\n{lab.log_tail()}"
            )
        time.sleep(0.1)


def stop_lab(lab: Lab) -> None:
    """Stop the server (it stops whatever it started), then its process group if
    needed."""
    if lab.process.poll() is None:
        lab.process.terminate()
        try:
            lab.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(lab.process.pid, signal.SIGKILL)
            lab.process.wait(timeout=10)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on the repository's root, as learners open it."""
    started = start_lab(config.ROOT, tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield started
    finally:
        stop_lab(started)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a scratch folder, for notebooks written by the tests, without the
    course's settings."""
    root = tmp_path_factory.mktemp("scratch")
    started = start_lab(
        root, tmp_path_factory.mktemp("scratch-jupyterlab"), course_settings=False
    )
    try:
        yield started
    finally:
        stop_lab(started)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The browser's one context (a window of the system's Chromium)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # --disable-gpu: no GPU here; without it, Chromium emulates one
            # (SwiftShader) and paints through it (the site's checks: 59 s instead of
            # 45).
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--no-first-run",
            ],
        )
        context = chromium.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        # Only the servers: no request leaves the machine.
        context.route(
            re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda route: route.abort()
        )
        try:
            yield context
        finally:
            context.close()
            chromium.close()


#: Close whatever the main area shows, unsaved (dispose asks nothing, saves nothing),
#: then open the notebook as the file browser or a ``/lab/tree/`` address does.
OPEN_JS = """
async (path) => {
  const app = window.jupyterapp;
  for (const widget of Array.from(app.shell.widgets('main'))) widget.dispose();
  await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
}
"""


@dataclass
class LabTab:
    """A learner's JupyterLab tab on one server (see the module's docstring)."""

    context: Any
    lab: Lab
    page: Any = None
    errors: list[str] = field(default_factory=list)
    #: The texts of the notifications closed so far (toasts over the notebook).
    toasts: list[str] = field(default_factory=list)
    #: The id of the kernel started for the notebooks opened in this tab.
    kernel: str | None = None

    def open(self, relative: str) -> None:
        if self.page is not None and self.page.locator(".jp-Dialog").count():
            self.close()  # a question left open by a failure: a fresh start instead
        if self.page is None:
            self.page = self.context.new_page()
            self.page.on("pageerror", lambda error: self.errors.append(str(error)))
            self.page.goto(
                f"{self.lab.url}/lab/tree/{relative}?reset",
                wait_until="domcontentloaded",
            )
        else:
            self.page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
            self.page.evaluate(OPEN_JS, relative)

    def close(self) -> None:
        if self.page is not None:
            # Never saved; the "leave the page?" question is not asked.
            self.page.close()
            self.page = None


@pytest.fixture(scope="module")
def tab(browser: Any, lab: Lab) -> Iterator[LabTab]:
    opened = LabTab(browser, lab)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def scratch_tab(browser: Any, scratch: Lab) -> Iterator[LabTab]:
    opened = LabTab(browser, scratch)
    yield opened
    opened.close()


# ------------------------------------------------------------------- reading the page

#: Everything the checks need from the open notebook, cell by cell, in the notebook's
#: order.
CELLS_JS = r"""
() => {
  const panels = Array.from(document.querySelectorAll('.jp-NotebookPanel'))
    .filter(p => !p.classList.contains('lm-mod-hidden'));
  if (panels.length !== 1) return null;
  const shown = el => !!el && el.checkVisibility()
    && el.getBoundingClientRect().height > 0;
  const textOf = (root, skip) => {
    let text = '';
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: n => n.parentElement.closest(skip)
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
    while (walker.nextNode()) text += walker.currentNode.textContent;
    return text;
  };
  const cells = panels[0].querySelectorAll('.jp-Notebook .jp-Notebook-cell');
  return Array.from(cells).map((cell, index) => {
    const kind = ['markdown', 'code', 'raw'].find(k =>
      cell.classList.contains(`jp-${k[0].toUpperCase()}${k.slice(1)}Cell`)) || '?';
    const input = cell.querySelector(':scope > .jp-Cell-inputWrapper');
    const output = cell.querySelector(':scope > .jp-Cell-outputWrapper');
    const rendered = input && input.querySelector('.jp-RenderedMarkdown');
    const headings = !rendered ? [] : Array.from(
      rendered.querySelectorAll('h1, h2, h3, h4, h5, h6')).map(h => {
        const copy = h.cloneNode(true);
        copy.querySelectorAll('.jp-InternalAnchorLink, .numbering-entry')
          .forEach(e => e.remove());
        return {level: Number(h.tagName[1]), text: copy.textContent.trim()};
      });
    const lines = !input ? [] : Array.from(
      input.querySelectorAll('.cm-content .cm-line'), l => l.textContent);
    const button = cell.querySelector('.jp-collapseHeadingButton');
    const placeholder = input && input.querySelector('.jp-InputPlaceholder');
    const outputs = output && output.querySelector('.jp-OutputArea');
    return {
      index, kind,
      hidden: cell.classList.contains('lm-mod-hidden'),
      rendered: !!rendered && cell.classList.contains('jp-mod-rendered'),
      headings,
      prose: rendered ? textOf(rendered, 'pre, code') : '',
      code: rendered ? Array.from(rendered.querySelectorAll('pre, code'))
        .map(c => `${c.className} ${c.textContent}`).join('\n') : '',
      source: lines.join('\n'),
      headingLevel: button ? Number(button.dataset.headingLevel) : null,
      collapsedHeading: cell.classList.contains('jp-MarkdownHeadingCollapsed')
        && !!button && button.classList.contains('jp-mod-collapsed'),
      hiddenButton: shown(cell.querySelector('.jp-showHiddenCellsButton')),
      placeholder: shown(placeholder) ? placeholder.textContent : null,
      inputShown: shown(input && input.querySelector('.jp-InputArea')),
      outputShown: shown(outputs) && (outputs.textContent.trim().length > 0
        || !!outputs.querySelector('img, svg, canvas, table, iframe')),
      outputFolded: !!output && !!output.querySelector('.jp-OutputPlaceholder'),
    };
  });
}
"""

#: The cells of the open notebook that are not drawn yet, as the file says they will be:
#: every cell there, a markdown cell rendered (not empty unless its text is only
#: comments), its headings known to JupyterLab (it then draws their collapse buttons), a
#: collapsed heading marked so. ``[-1]`` while the notebook's panel or some cells are
#: missing.
PENDING_JS = r"""
(expected) => {
  const panels = Array.from(document.querySelectorAll('.jp-NotebookPanel'))
    .filter(p => !p.classList.contains('lm-mod-hidden'));
  if (panels.length !== 1) return [-1];
  const cells = Array.from(
    panels[0].querySelectorAll('.jp-Notebook .jp-Notebook-cell'));
  if (cells.length !== expected.length) return [-1];
  return cells.map((c, i) => {
    const want = expected[i];
    if (want.kind !== 'markdown') return -1;
    const rendered = c.querySelector('.jp-RenderedMarkdown');
    const ready = c.classList.contains('jp-mod-rendered') && rendered
      && (!want.text || rendered.childElementCount > 0)
      && (!want.heading || c.querySelector('.jp-collapseHeadingButton'))
      && (!want.collapsed || c.classList.contains('jp-MarkdownHeadingCollapsed'));
    return ready ? -1 : i;
  }).filter(i => i >= 0);
}
"""
#: HTML comments, which Jupyter does not show (the notebooks' hidden Quarto fences).
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def expected_drawing(nb: nbformat.NotebookNode) -> list[dict]:
    """For :data:`PENDING_JS`: what each cell of the file will show once drawn."""
    return [
        {
            "kind": c.cell_type,
            "text": bool(COMMENT.sub("", c.source).strip()),
            "heading": bool(file_headings(COMMENT.sub("", c.source))),
            "collapsed": bool(c.metadata.get("jp-MarkdownHeadingCollapsed")),
        }
        for c in nb.cells
    ]


class NotDrawn(Exception):
    """The notebook was not drawn in time."""


def open_notebook(tab: LabTab, relative: str, nb: nbformat.NotebookNode) -> list[dict]:
    """Open a notebook in the tab, wait until its cells are drawn and stay the same, and
    return them as read by :data:`CELLS_JS`."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    expected = expected_drawing(nb)
    try:
        tab.open(relative)
        tab.page.wait_for_function(
            f"() => ({PENDING_JS})({json.dumps(expected)}).length === 0",
            timeout=DRAWN_WITHIN * 1000,
            polling=100,
        )
    except PlaywrightTimeout:
        pending = tab.page.evaluate(PENDING_JS, expected)
        which = (
            "le notebook n'est pas affiché"
            if pending == [-1]
            else f"cellules non rendues : {[i + 1 for i in pending][:20]}"
        )
        raise NotDrawn(f"pas affiché en {DRAWN_WITHIN} s ({which})") from None
    except PlaywrightError as error:
        raise NotDrawn(f"ouverture impossible : {error.message[:300]}") from None
    close_toasts(tab)
    return settled(tab.page)


def close_toasts(tab: LabTab) -> None:
    """Close the notifications shown over the notebook (the news question is turned
    off by the course's settings: :func:`kernel_problems` says if one showed), so that
    they hide nothing; their texts are kept in ``tab.toasts``."""
    from playwright.sync_api import Error as PlaywrightError

    for toast in tab.page.locator(".Toastify__toast").all():
        try:
            if toast.is_visible():
                tab.toasts.append(toast.inner_text(timeout=2000))
                # "Hide notification": no answer given, no action run.
                toast.locator(".jp-Notification-Toast-Close").click(timeout=2000)
        except PlaywrightError:
            pass  # gone meanwhile


def settled(page: Any) -> list[dict]:
    """The cells once two readings 150 ms apart agree (JupyterLab hides the cells under
    a collapsed heading once it knows the headings, asynchronously)."""
    cells = page.evaluate(CELLS_JS)
    for _ in range(60):
        page.wait_for_timeout(150)
        again = page.evaluate(CELLS_JS)
        if again == cells:
            return cells
        cells = again
    return cells


def reveal_solutions(page: Any) -> int:
    """Unfold every collapsed heading as a learner does, with the button that JupyterLab
    shows under it ("1 cell hidden"); returns how many were unfolded."""
    button = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-Notebook-cell:not(.lm-mod-hidden) "
        ".jp-showHiddenCellsButton:visible"
    ).first
    for clicked in range(100):
        if not button.count():
            return clicked
        button.click()
    return 100


# --------------------------------------------------------------------------- the checks


def file_headings(source: str) -> list[int]:
    """The levels of a markdown cell's ATX headings (outside fenced code)."""
    levels, fenced = [], False
    for line in source.split("\n"):
        if re.match(r"^\s*(```|~~~)", line):
            fenced = not fenced
        elif not fenced and (match := re.match(r"^(#{1,6})\s+\S", line)):
            levels.append(len(match[1]))
    return levels


def markup_problems(cells: list[dict]) -> list[str]:
    problems = []
    for cell in cells:
        where = f"cellule {cell['index'] + 1}"
        if cell["kind"] == "raw":
            problems.append(
                f"{where} : cellule brute affichée telle quelle "
                f"({cell['source'][:60]!r})"
            )
        text = cell["prose"] + ("\n" + cell["source"] if cell["kind"] == "raw" else "")
        for raw in RAW_MARKUP:
            if raw in text:
                line = next(line for line in text.split("\n") if raw in line)
                problems.append(
                    f"{where} : balisage Quarto visible {raw!r} ({line[:70]!r})"
                )
        if "{python" in cell["code"] and "{python" not in text:
            problems.append(f"{where} : en-tête de bloc Quarto visible ('{{python')")
        if cell["kind"] != "code" and (match := FRONT_MATTER.search(text)):
            problems.append(f"{where} : en-tête YAML visible ({match[0]!r})")
    return problems


def outline_problems(cells: list[dict]) -> list[str]:
    headings = [(cell["index"], h) for cell in cells for h in cell["headings"]]
    titles = [(i, h["text"]) for i, h in headings if h["level"] == 1]
    problems = []
    if not titles or titles[0][0] != 0 or cells[0]["kind"] != "markdown":
        problems.append(
            f"le titre « # » doit être dans la première cellule : {titles[:3]}"
        )
    if len(titles) != 1:
        problems.append(f"{len(titles)} titres de niveau 1 au lieu d'un : {titles}")
    previous = 0
    section = 0  # the level of the nearest heading that is not a library's
    for index, heading in headings:
        where = f"cellule {index + 1}, « {heading['text']} » (h{heading['level']})"
        if heading["level"] > previous + 1:
            problems.append(f"{where} : saute un niveau après h{previous}")
        if heading["text"] in LIBRARIES:
            if heading["level"] != section + 1:
                problems.append(
                    f"{where} : une bibliothèque doit être un niveau "
                    f"sous sa partie (h{section + 1})"
                )
        else:
            section = heading["level"]
        previous = heading["level"]
    return problems


def setup_problems(cells: list[dict], nb: nbformat.NotebookNode) -> list[str]:
    found = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "AWS_S3_ENDPOINT" in c.source
    ]
    if not found:
        return ["cellule de préparation (AWS_S3_ENDPOINT) introuvable"]
    index = found[0]
    cell, where = cells[index], f"cellule de préparation (cellule {index + 1})"
    problems = []
    if cell["inputShown"] or cell["placeholder"] is None:
        hidden = nb.cells[index].metadata.get("jupyter", {}).get("source_hidden")
        problems.append(
            f"{where} : son code est affiché, pas replié "
            f"(métadonnée jupyter.source_hidden : {hidden})"
        )
    elif "\n" in cell["placeholder"].strip():
        problems.append(f"{where} : le code replié tient sur plus d'une ligne")
    if not cell["outputShown"]:
        problems.append(f"{where} : sa sortie n'est pas affichée")
    return problems


def level_of(cell: dict) -> int | None:
    """The level JupyterLab gives a cell as a heading (its collapse button says so: the
    cell's highest heading), or else its highest rendered heading."""
    return cell["headingLevel"] or min(
        (h["level"] for h in cell["headings"]), default=None
    )


def hidden_by_collapse(cells: list[dict]) -> set[int]:
    """The cells that collapsed headings hide by JupyterLab's rule: after such a
    heading, every cell until the next heading of the same or a higher level."""
    hidden: set[int] = set()
    collapsed: int | None = None  # the level of the collapsed heading
    for cell in cells:
        level = level_of(cell)
        if collapsed and level and level <= collapsed:
            collapsed = None
        if collapsed:
            hidden.add(cell["index"])
        elif cell["collapsedHeading"]:
            collapsed = level
    return hidden


def solution_problems(cells: list[dict], nb: nbformat.NotebookNode) -> list[str]:
    problems = []
    wanted = {
        i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("jp-MarkdownHeadingCollapsed")
    }
    collapsed = {c["index"] for c in cells if c["collapsedHeading"]}
    for index in sorted(wanted - collapsed):
        problems.append(
            f"cellule {index + 1} : titre marqué replié dans le fichier, affiché déplié"
        )
    for index in sorted(collapsed):
        headings = cells[index]["headings"]
        text = min(headings, key=lambda h: h["level"])["text"] if headings else ""
        if not text.startswith("Solution"):
            problems.append(
                f"cellule {index + 1} : titre replié « {text} » : seules "
                "les solutions sont repliées"
            )
    # What the page hides, each cell with the collapsed heading above it.
    owner = {}
    for cell in cells:
        if cell["hidden"]:
            owner[cell["index"]] = max(
                (i for i in collapsed if i < cell["index"] and not cells[i]["hidden"]),
                default=None,
            )
    rule = hidden_by_collapse(cells)
    for index in sorted(set(owner) ^ rule):
        state = "masquée" if index in owner else "affichée"
        problems.append(
            f"cellule {index + 1} : {state}, contrairement à la règle des "
            "titres repliés"
        )
    for index in sorted({top for top in owner.values() if top is not None}):
        if not cells[index]["hiddenButton"]:
            problems.append(
                f"cellule {index + 1} : titre replié sans le bouton qui "
                "montre les cellules masquées"
            )
    for index, top in sorted(owner.items()):
        if top is None:
            problems.append(
                f"cellule {index + 1} : masquée sans titre replié au-dessus"
            )
            continue
        levels = [h["level"] for h in cells[index]["headings"]]
        if cells[index]["kind"] == "markdown":
            levels += file_headings(COMMENT.sub("", nb.cells[index].source))
        if any(level < level_of(cells[top]) for level in levels):
            problems.append(
                f"cellule {index + 1} : un titre de niveau {min(levels)} "
                f"est masqué sous la solution de la cellule {top + 1} "
                f"(h{level_of(cells[top])})"
            )
    return problems + after_solution_problems(
        {i: top for i, top in owner.items() if top is not None}, nb
    )


#: A Quarto fence line, shown or hidden in an HTML comment: its colons and attributes.
ANY_FENCE = re.compile(r"^(?:<!--\s*)?(:{3,})\s*(.*?)\s*(?:-->)?$")


def after_solution_problems(
    hidden: dict[int, int], nb: nbformat.NotebookNode
) -> list[str]:
    """Text that follows a folded solution's closing fence but is hidden with it
    (nothing but the solution may be hidden): read in the file, fence by fence, from the
    solution's heading cell through the cells it hides."""
    problems = []
    for top in sorted(set(hidden.values())):
        depth = 0
        for index in [top, *sorted(i for i, t in hidden.items() if t == top)]:
            cell = nb.cells[index]
            if cell.cell_type != "markdown":
                continue
            for line in cell.source.split("\n"):
                fence = ANY_FENCE.match(line.strip())
                if fence:
                    depth += 1 if fence[2] else -1
                elif line.strip() and depth <= 0 and index != top:
                    problems.append(
                        f"cellule {index + 1} : texte masqué avec la "
                        f"solution de la cellule {top + 1}, après sa fin "
                        f"({line[:50]!r})"
                    )
                    break
    return problems


def output_problems(
    cells: list[dict], nb: nbformat.NotebookNode, only: set[int] | None = None
) -> list[str]:
    """Recorded outputs not shown; a cell hidden under a folded solution is left out (it
    is checked once unfolded: ``only`` names those cells then)."""
    problems = []
    for index, source in enumerate(nb.cells):
        if source.cell_type != "code" or not source.get("outputs"):
            continue
        if (only is None and cells[index]["hidden"]) or (
            only is not None and index not in only
        ):
            continue
        cell, where = cells[index], f"cellule {index + 1} ({source.source[:40]!r})"
        after = "" if only is None else " une fois la solution dépliée"
        if cell["outputFolded"]:
            problems.append(f"{where} : sortie repliée{after}")
        elif not cell["outputShown"]:
            problems.append(f"{where} : sortie enregistrée mais non affichée{after}")
    return problems


#: The targets of the links inside the notebook (``[…](#nom)``, not the headings' own
#: "¶" links) that JupyterLab cannot reach: no element has it as identifier (its
#: sanitizer moves ``id`` to ``data-jupyter-id``), or it has an accent, which JupyterLab
#: 4.6 compares in its percent-encoded form (measured: the click does not scroll).
ANCHORS_JS = """() => Array.from(document.querySelectorAll(
    '.jp-Notebook .jp-RenderedMarkdown a[href^="#"]:not(.jp-InternalAnchorLink)'))
  .map(a => a.getAttribute('href').slice(1))
  .filter(id => id.includes('%') || (!document.getElementById(id)
    && !document.querySelector(`[data-jupyter-id="${CSS.escape(id)}"]`)))"""


def problems_of(tab: LabTab, notebook: Path, kernel: bool = False) -> list[str]:
    """Open ``notebook`` (a file under the tab's server root) in JupyterLab and list
    what a learner would see wrong; with ``kernel``, once its kernel runs too
    (:func:`kernel_problems`, before the solutions are unfolded: that changes the
    document)."""
    nb = nbformat.read(notebook, as_version=4)
    try:
        cells = open_notebook(tab, notebook.relative_to(tab.lab.root).as_posix(), nb)
    except NotDrawn as error:
        return [str(error)]
    if cells is None or len(cells) != len(nb.cells):
        return [
            f"{len(nb.cells)} cellules dans le fichier, "
            f"{None if cells is None else len(cells)} dans la page"
        ]
    problems = (
        markup_problems(cells)
        + outline_problems(cells)
        + setup_problems(cells, nb)
        + solution_problems(cells, nb)
        + output_problems(cells, nb)
        + [f"lien interne sans cible : #{t}" for t in tab.page.evaluate(ANCHORS_JS)]
        + (kernel_problems(tab, nb) if kernel else [])
    )
    hidden = [c["index"] for c in cells if c["hidden"]]
    if hidden and reveal_solutions(tab.page):
        again = settled(tab.page)
        still = [i + 1 for i in hidden if again[i]["hidden"]]
        if still:
            problems.append(
                f"cellules toujours masquées une fois les solutions dépliées : {still}"
            )
        problems += output_problems(again, nb, only=set(hidden))
    return problems


def screenshot(page: Any, path: Path) -> Path:
    """The whole notebook in one image: JupyterLab scrolls inside its panel, so the
    window is made as tall as the notebook first (the next notebook gets the usual size
    back)."""
    height = page.evaluate("""() => Math.max(0, ...Array.from(
        document.querySelectorAll('.jp-WindowedPanel-outer'), e => e.scrollHeight))""")
    tall = min(max(HEIGHT, height + 200), 30_000)
    page.set_viewport_size({"width": WIDTH, "height": tall})
    page.wait_for_timeout(500)  # the cells now in the window get painted
    page.screenshot(path=str(path), full_page=True)
    return path


def state_of(path: Path) -> tuple[int, str]:
    return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def check_notebook(
    tab: LabTab, notebook: Path, shots: Path, kernel: bool = False
) -> None:
    """Every check on one notebook (``kernel``: see :func:`problems_of`); fails with
    the problems found and a screenshot of the page. The notebook and its folder must
    be unchanged on disk afterwards."""
    before = state_of(notebook)
    beside = sorted(p.name for p in notebook.parent.iterdir())
    del tab.errors[:]
    problems = problems_of(tab, notebook, kernel)
    problems += [f"erreur JavaScript : {error}" for error in tab.errors]
    if problems and tab.page is not None:
        shot = screenshot(tab.page, shots / f"{notebook.stem}.png")
        problems.append(f"capture d'écran : {shot}")
    if state_of(notebook) != before:
        problems.append("le notebook a changé sur le disque pendant le test")
    if sorted(p.name for p in notebook.parent.iterdir()) != beside:
        problems.append(f"fichiers apparus ou disparus dans {notebook.parent.name}/")
    assert problems == [], f"{notebook.name} dans JupyterLab :\n" + "\n".join(problems)


# ------------------------------------------------------------ opened with its kernel

#: Start the open notebook's kernel, the one its metadata name (as opening it does
#: where JupyterLab starts kernels, Binder for one), or connect it to the kernel already
#: started for a previous notebook (its id: the same kernel, one start for all); wait
#: until the kernel answered and JupyterLab wrote what it says into the notebook's
#: metadata, then tell whether the document is modified.
KERNEL_JS = """
async ([seconds, id]) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const late = new Promise((_, fail) =>
    setTimeout(() => fail(new Error(`noyau muet après ${seconds} s`)), seconds * 1000));
  const started = (async () => {
    const session = panel.sessionContext;
    await session.ready;
    await session.changeKernel(
      id ? {id} : {name: panel.model.getMetadata('kernelspec').name});
    const kernel = session.session.kernel;
    await kernel.info;
    await kernel.spec;
    return kernel;
  })();
  const kernel = await Promise.race([started, late]);
  await new Promise(done => setTimeout(done, 300));
  const tab = document.querySelector(
    '.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');
  return {
    id: kernel.id,
    kernel: kernel.name,
    dirty: panel.context.model.dirty,
    dirtyTab: !!tab && tab.classList.contains('jp-mod-dirty'),
    metadata: panel.model.metadata,
  };
}
"""


def kernel_problems(tab: LabTab, nb: nbformat.NotebookNode) -> list[str]:
    """With ``nb`` just opened in the tab, unchanged: start its kernel (once per tab)
    and list what a learner would see wrong then: the notebook marked modified, the
    English news question. Nothing is saved."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        found = tab.page.evaluate(KERNEL_JS, [KERNEL_READY_WITHIN, tab.kernel])
    except PlaywrightError as error:
        return [f"noyau non démarré : {error.message[:300]}"]
    tab.kernel = found["id"]
    problems = []
    if found["dirty"] or found["dirtyTab"]:
        changed = {
            key: found["metadata"].get(key)
            for key in set(nb.metadata) | set(found["metadata"])
            if nb.metadata.get(key) != found["metadata"].get(key)
        }
        problems.append(
            f"marqué modifié une fois son noyau ({found['kernel']}) démarré ; "
            f"métadonnées réécrites par JupyterLab : {changed}"
        )
    close_toasts(tab)
    if any(NEWS_QUESTION in text for text in tab.toasts):
        problems.append(
            f"question affichée par-dessus le notebook : « {NEWS_QUESTION} »"
        )
    return problems


# ---------------------------------------------------------------------- the notebooks


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "aucun notebook dans notebooks/"


def test_jupytext_serves_every_notebook_as_it_is() -> None:
    """Binder's JupyterLab has Jupytext (environment.yml), whose contents manager reads
    a notebook that a Jupytext configuration pairs with a text file (``jupytext.toml``,
    ``[tool.jupytext]``) from that file: a learner would see the Rmd's Quarto markup
    (measured: front matter, ``:::`` fences, setup cell open, no folded solution), or an
    error for a notebook newer than its source. Each notebook must be served as it
    is."""
    from jupytext.sync_contentsmanager import TextFileContentsManager
    from nbformat.sign import NotebookNotary

    def cells(nb: nbformat.NotebookNode) -> list[tuple]:
        # "trusted": the server's mark, in the served copy only.
        return [
            (
                c.cell_type,
                c.source,
                {k: v for k, v in c.metadata.items() if k != "trusted"},
            )
            for c in nb.cells
        ]

    manager = TextFileContentsManager(root_dir=str(config.ROOT))
    # Nothing written in ~/.local/share/jupyter (signatures database, secret).
    manager.notary = NotebookNotary(db_file=":memory:", secret=b"test")
    problems = []
    for notebook in NOTEBOOKS:
        path = notebook.relative_to(config.ROOT).as_posix()
        try:
            served = manager.get(path)["content"]
        except Exception as error:  # noqa: BLE001 - the message is the finding
            problems.append(f"{path} : refusé par Jupytext ({str(error)[:200]})")
            continue
        if cells(served) != cells(nbformat.read(notebook, as_version=4)):
            problems.append(
                f"{path} : Jupytext sert d'autres cellules que celles du "
                "notebook (appariement avec une source texte ?)"
            )
    assert problems == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_as_learners_see_it_in_jupyterlab(
    tab: LabTab, notebook: Path, tmp_path: Path
) -> None:
    check_notebook(tab, notebook, tmp_path, kernel=True)


# ------------------------------------------------------------------ the checker fails


def scratch_notebook(good: bool) -> nbformat.NotebookNode:
    """A small chapter in the notebooks' form (``good``), or with the faults a learner
    would see: Quarto markup, a tab heading at its section's level, the setup cell open,
    a folded heading that is no solution, a folded output."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

    def code(source: str, text: str | None = None, **metadata: Any) -> Any:
        outputs = [new_output("stream", name="stdout", text=text)] if text else []
        return new_code_cell(source, outputs=outputs, metadata=metadata)

    fence = "<!-- {} -->" if good else "{}"
    folded = {"jupyter": {"source_hidden": True}} if good else {}
    cells = [
        new_markdown_cell("# Un chapitre"),
        new_markdown_cell(
            "## Préparer la session\n\nCette cellule prépare tout. Ensuite : "
            + (
                "[la liste](#lister)."
                if good
                else "[la préparation](#Préparer-la-session)."
            )
        ),
        code(
            "import os\n\nENDPOINT = os.environ.get('AWS_S3_ENDPOINT')\nprint('prêt')",
            "Serveur S3 : prêt\n",
            **folded,
        ),
        new_markdown_cell(
            '<a id="lister"></a>\n\n## Lister un bucket\n\n'
            + fence.format('::: {.panel-tabset group="lib"}')
            + ("\n\n### boto3" if good else "\n\n## boto3")
        ),
        code("print('boto3')", "boto3\n"),
        new_markdown_cell("### s3fs" if good else "## s3fs"),
        code(
            "print('s3fs')",
            "s3fs\n",
            **({} if good else {"jupyter": {"outputs_hidden": True}}),
        ),
        new_markdown_cell(
            fence.format(":::") + "\n\n## Exercices\n\n### Exercice 1\n\n"
            "Listez le bucket."
        ),
        new_markdown_cell(
            fence.format('::: {.callout-tip collapse="true"}')
            + "\n#### "
            + ("Solution de l'exercice 1" if good else "Indice"),
            metadata={"jp-MarkdownHeadingCollapsed": True},
        ),
        code("print('la solution')", "la solution\n"),
        *([] if good else [new_markdown_cell(":::\n\nUne remarque ensuite.")]),
        new_markdown_cell(fence.format(":::") + "\n\n### Exercice 2\n\nEncore."),
    ]
    return nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "display_name": "Python et S3",
                "language": "python",
                "name": "python-s3",
            }
        },
    )


def test_a_notebook_in_the_right_form_passes(
    scratch_tab: LabTab, tmp_path: Path
) -> None:
    notebook = scratch_tab.lab.root / "bon.ipynb"
    nbformat.write(scratch_notebook(good=True), notebook)
    check_notebook(scratch_tab, notebook, tmp_path)


def test_every_fault_a_learner_would_see_is_reported(
    scratch_tab: LabTab, tmp_path: Path
) -> None:
    notebook = scratch_tab.lab.root / "mauvais.ipynb"
    nbformat.write(scratch_notebook(good=False), notebook)
    with pytest.raises(AssertionError) as failed:
        check_notebook(scratch_tab, notebook, tmp_path)
    report = str(failed.value)
    for fault in (
        "cellule 4 : balisage Quarto visible ':::' "
        "('::: {.panel-tabset group=\"lib\"}')",
        "cellule 4 : balisage Quarto visible 'group=\"lib\"'",
        "cellule 8 : balisage Quarto visible ':::'",
        "cellule 4, « boto3 » (h2) : une bibliothèque doit être un niveau sous "
        "sa partie (h3)",
        "cellule 6, « s3fs » (h2) : une bibliothèque",
        "cellule de préparation (cellule 3) : son code est affiché, pas replié",
        "cellule 9 : titre replié « Indice » : seules les solutions sont repliées",
        "cellule 7 (\"print('s3fs')\") : sortie repliée",
        "cellule 11 : texte masqué avec la solution de la cellule 9, après sa fin",
        "lien interne sans cible : #Pr%C3%A9parer-la-session",
        f"capture d'écran : {tmp_path / 'mauvais.png'}",
    ):
        assert fault in report, f"défaut non signalé : {fault}\n{report}"
    assert (tmp_path / "mauvais.png").stat().st_size > 0


def test_a_notebook_without_its_kernels_metadata_opens_modified(
    scratch_tab: LabTab,
) -> None:
    """What the notebooks held before: ``language_info`` reduced to its name."""
    nb = scratch_notebook(good=True)
    nb.metadata = nbformat.from_dict(
        {**notebooks.METADATA, "language_info": {"name": "python"}}
    )
    notebook = scratch_tab.lab.root / "sans-language-info.ipynb"
    nbformat.write(nb, notebook)
    open_notebook(scratch_tab, notebook.name, nb)
    problems = [p for p in kernel_problems(scratch_tab, nb) if "modifié" in p]
    assert len(problems) == 1 and "'version': '3." in problems[0], problems


def test_without_the_course_settings_jupyterlab_asks_about_news(
    scratch_tab: LabTab,
) -> None:
    """The scratch server has JupyterLab's defaults, not the course's: the question
    shows (the check of the published notebooks can fail)."""
    nb = scratch_notebook(good=True)
    notebook = scratch_tab.lab.root / "nouvelles.ipynb"
    nbformat.write(nb, notebook)
    open_notebook(scratch_tab, notebook.name, nb)
    for _ in range(50):
        close_toasts(scratch_tab)
        if any(NEWS_QUESTION in text for text in scratch_tab.toasts):
            return
        scratch_tab.page.wait_for_timeout(200)
    raise AssertionError(f"pas de question sur les nouvelles : {scratch_tab.toasts}")
