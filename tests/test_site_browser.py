"""The site as readers see it: rendered by the real Quarto, opened in a real browser.

The site is rendered once per test session (from a copy of the files Quarto reads, so
that the work tree gets no ``_site/``; kept in the course's cache under a digest of
those files, so that a run on unchanged files reuses it), served over
``http://127.0.0.1`` (Quarto's scripts and the remembered tab choice behave as online,
not as under ``file://``), and driven by Playwright with the system's Chromium. Every
page is checked: every chapter, whatever chapters exist.

Every page is also read by axe-core (WCAG 2.1 A and AA rules), at 1280 and 390 px, in
the light and the dark theme, with every other host blocked: one visit per page, width
and theme, shared by the checks below.

Needs ``quarto`` (on the PATH, or where the course's install script puts it), Chromium
and npm (which installs axe-core once into the course's cache); where one is missing,
the tests are skipped and say which, and how to get it. ``.ci/run`` provides them, so CI
always runs them.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3cours import aide_memoire, config, launch, notebooks, structure
from s3cours import site as site_module
from s3cours.site import axe_missing, quarto_missing, render_once

WIDTH = 1280


def find_chromium() -> str | None:
    for candidate in (os.environ.get("S3COURS_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_tools() -> list[str]:
    """What is missing to render the site and open it in a browser, how to get it."""
    missing = [m for m in [quarto_missing(), axe_missing()] if m]
    if find_chromium() is None:
        missing.append(
            "Chromium introuvable : « apt-get install chromium » (Debian/Ubuntu), "
            "ou S3COURS_CHROMIUM=/chemin/vers/chromium"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append(
            "Playwright absent de l'environnement : "
            "./cours réinstalle requirements.lock"
        )
    return missing


def pages() -> list[str]:
    return (
        ["index.html"]
        + [f"notebooks/{s.stem}.html" for s in notebooks.sources()]
        + ["aide-memoire.html", "formation.html", "compatibilite.html"]
    )


def chapters() -> list[str]:
    return [f"notebooks/{s.stem}.html" for s in notebooks.sources()]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The rendered site, served on 127.0.0.1; yields its base URL. ``S3COURS_SITE`` may
    name an already rendered ``_site`` folder (to check another rendering, e.g. an older
    one)."""
    missing = missing_tools()
    if missing:
        pytest.skip("Site non vérifié dans un navigateur : " + " ; ".join(missing))
    started = time.monotonic()
    folder = (
        Path(os.environ["S3COURS_SITE"])
        if os.environ.get("S3COURS_SITE")
        else render_once(tmp_path_factory.mktemp("site"))
    )
    print(f"\nRendu Quarto : {time.monotonic() - started:.1f} s", file=sys.stderr)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        # No log lines in the test output.
        def log_message(self, *args) -> None:  # noqa: D102
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(site: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --disable-gpu: no GPU here; without it, Chromium emulates one (SwiftShader)
        # and paints through it: these checks took 59 s instead of 45.
        chromium = playwright.chromium.launch(
            executable_path=find_chromium(), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, site: str) -> Iterator:
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 900}, base_url=site
    )
    # Only the served site: no request leaves the machine (fonts or scripts from a CDN
    # would hold the "load" event until they time out where there is no network).
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda route: route.abort())
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"erreurs JavaScript : {errors}"


def settle(page) -> None:
    """Let the page's pending timers run: Quarto's tab script runs on "pageshow" (or on
    a click), the course's just after, in a timer; a timer set now runs after theirs."""
    page.evaluate("() => new Promise(resolve => setTimeout(resolve, 20))")


def open_page(page, path: str) -> None:
    page.goto(path, wait_until="load")
    settle(page)


# --------------------------------------------------------------------------- tabsets

#: For every grouped tabset of the page: its tab names, the active ones, and whether the
#: active pane is shown with some content.
TABSETS_JS = """
() => {
  const sets = document.querySelectorAll('div.panel-tabset[data-group]');
  return Array.from(sets).map((set, i) => {
    const links = Array.from(set.querySelectorAll(':scope > .nav-tabs .nav-link'));
    const active = links.filter(a => a.classList.contains('active'));
    const panes = Array.from(
      set.querySelectorAll(':scope > .tab-content > .tab-pane.active'));
    return {
      index: i,
      names: links.map(a => a.textContent.trim()),
      active: active.map(a => a.textContent.trim()),
      shown: panes.map(p =>
        p.getBoundingClientRect().height > 0 && p.innerText.trim().length > 0),
    };
  });
}
"""

#: The choice remembered by Quarto (as after a click on an earlier page), then the
#: page's "pageshow" again: what a reader sees on opening the page with that choice.
REMEMBERED_JS = """
(library) => {
  const data = JSON.stringify({lib: library});
  localStorage.setItem('quarto-persistent-tabsets-data', data);
  window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: false}));
}
"""


def blank_tabsets(page, chosen: str, how: str) -> list[str]:
    """Problems of the page's tabsets after the reader chose ``chosen``."""
    problems = []
    for tabset in page.evaluate(TABSETS_JS):
        where = (
            f"{page.url} groupe d'onglets n° {tabset['index'] + 1} {tabset['names']}"
        )
        if len(tabset["active"]) != 1 or tabset["shown"] != [True]:
            problems.append(
                f"{where} : vide après le choix "
                f"de {chosen} {how} (actif : {tabset['active']})"
            )
        elif chosen in tabset["names"] and tabset["active"] != [chosen]:
            problems.append(
                f"{where} : montre {tabset['active']} et non {chosen} {how}"
            )
    return problems


def test_choosing_any_library_leaves_no_tabset_blank_on_any_page(page) -> None:
    """Defect: Quarto deactivates every tab of a group that lacks the chosen name, on
    every page since the choice is remembered. On each page, each library of the group
    is chosen by a click where the page has it, and as remembered from another page
    where it has not."""
    names = {}
    for path in pages():
        open_page(page, path)
        names[path] = sorted({n for t in page.evaluate(TABSETS_JS) for n in t["names"]})
    libraries = sorted({n for found in names.values() for n in found})
    assert {"boto3", "s3fs", "pyarrow", "pandas", "mc"} <= set(libraries), libraries
    problems = []
    for path in pages():
        open_page(page, path)
        for library in libraries:
            page.evaluate(REMEMBERED_JS, library)
            settle(page)
            problems += blank_tabsets(page, library, "(mémorisé)")
            if library in names[path]:
                page.locator(
                    "div.panel-tabset .nav-link",
                    has_text=re.compile(rf"^{re.escape(library)}$"),
                ).first.click()
                settle(page)
                problems += blank_tabsets(page, library, "(clic)")
    assert problems == []


# --------------------------------------------------------------------- every page, once

#: Everything the checks below need from a page, read in one go. The sideways-scroll
#: measure comes last: it shows every tab and folded cell.
SNAPSHOT_JS = r"""
() => {
  const main = document.querySelector('main');
  const setup = Array.from(document.querySelectorAll('div.cell'))
    .find(c => c.querySelector('code') && c.textContent.includes('AWS_S3_ENDPOINT'));
  const fold = setup ? setup.querySelector('details.code-fold') : null;
  const snapshot = {
    sidebar: Array.from(document.querySelectorAll('#quarto-sidebar a.sidebar-link'))
      .map(a => a.getAttribute('href')),
    badges: Array.from(main.querySelectorAll('a > img')).map(img =>
      [img.alt, img.parentElement.href, img.getAttribute('src'),
       img.complete && img.naturalWidth > 0]),
    sources: Array.from(document.querySelectorAll('.source-page a, a.toc-action'))
      .map(a => [a.textContent.trim(), a.href]),
    setup: setup ? {
      folded: !!fold && !fold.open,
      codeVisible: Array.from(setup.querySelectorAll('code'))
        .some(c => c.textContent.includes("google.colab") && c.checkVisibility()),
      text: setup.innerText,
    } : null,
    outputs: Array.from(main.querySelectorAll('.cell-output, .cell-output-display'))
      .map(o => o.textContent),
    tabsets: Array.from(main.querySelectorAll('div.panel-tabset')).map(t =>
      Array.from(t.querySelectorAll(':scope > .nav-tabs .nav-link'))
        .map(a => a.textContent.trim())),
    callouts: Array.from(main.querySelectorAll('div.callout')).map(c =>
      (c.querySelector('.callout-title-container')
       ?? c.querySelector('details.replie > summary'))?.textContent.trim() ?? ''),
    // Quarto's folded callouts (a div the keyboard cannot reach), left on the page.
    toggles: main.querySelectorAll('[data-bs-toggle="collapse"]').length,
    // The course's French explanation under an S3 error (diagnostic.py: "➜ …"): its
    // classes, its left border and background, and the error output's.
    explanations: Array.from(main.querySelectorAll('.cell-output-stdout'))
      .filter(o => o.textContent.trimStart().startsWith('➜'))
      .map(o => {
        const error = o.previousElementSibling;
        const look = e => e ? [getComputedStyle(e).borderLeftWidth,
                               getComputedStyle(e).backgroundColor] : null;
        return {classes: o.className, own: look(o),
                error: error && error.classList.contains('cell-output-error')
                  ? look(error) : null};
      }),
    prose: [],
    proseText: '',
    silent: [],
    // Links inside the page whose target no element has (structure.ANCHOR); Quarto's
    // script turns their "#nom" into the page's whole address.
    anchors: Array.from(main.querySelectorAll('a[href*="#"]'))
      .filter(a => a.pathname === location.pathname && a.hash.length > 1)
      .map(a => decodeURIComponent(a.hash.slice(1)))
      .filter(id => !document.getElementById(id)),
  };
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement
      .closest('pre, code, script, style, .cell-output, .sourceCode')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT });
  while (walker.nextNode()) {
    snapshot.proseText += walker.currentNode.textContent;
    const match = walker.currentNode.textContent.match(/.{0,20}( [:;!?»]|« ).{0,10}/);
    if (match) snapshot.prose.push(match[0]);
  }
  // A cell may define what the next cell of its tab uses; the tab's last cell must
  // show a result.
  document.querySelectorAll('div.panel-tabset .tab-pane').forEach(pane => {
    const tab = document.querySelector(`[aria-controls="${pane.id}"]`)
      .textContent.trim();
    const cells = Array.from(pane.querySelectorAll('div.cell'));
    const last = cells[cells.length - 1];
    if (last && !last.querySelector('.cell-output, .cell-output-display')) {
      const heading = pane.closest('section')?.querySelector('h2')?.textContent.trim();
      const first = last.textContent.trim().split('\n')[0];
      snapshot.silent.push(`${heading} / ${tab} : ${first}`);
    }
  });
  const style = document.createElement('style');
  style.textContent = '.tab-pane { display: block !important; }';
  document.head.appendChild(style);
  document.querySelectorAll('details').forEach(d => d.open = true);
  snapshot.wide = [];
  main.querySelectorAll('pre, div.cell-output, div.sourceCode').forEach(el => {
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      const line = el.innerText.split('\n')
        .reduce((a, b) => (b.length > a.length ? b : a), '');
      snapshot.wide.push(`${el.className} : ${line.slice(0, 100)}`);
    }
  });
  if (document.scrollingElement.scrollWidth > window.innerWidth + 1) {
    snapshot.wide.push('la page');
  }
  // Every line of source code on one line of the screen, none under the copy button.
  snapshot.wrapped = [];
  snapshot.covered = [];
  main.querySelectorAll('div.sourceCode').forEach(block => {
    const button = block.querySelector('.code-copy-button');
    const box = button && button.getBoundingClientRect();
    block.querySelectorAll('pre > code > span[id]').forEach(line => {
      const range = document.createRange();
      range.selectNodeContents(line);
      const rects = Array.from(range.getClientRects()).filter(r => r.width > 0);
      const tops = new Set(rects.map(r => Math.round(r.top)));
      if (tops.size > 1) snapshot.wrapped.push(line.textContent.slice(0, 100));
      if (box && box.width > 0 && rects.some(r => r.left < box.right
          && r.right > box.left && r.top < box.bottom && r.bottom > box.top)) {
        snapshot.covered.push(line.textContent.slice(0, 100));
      }
    });
  });
  return snapshot;
}
"""


#: The dark theme, as Quarto remembers it after a click on its toggle.
DARK_CHOICE = "localStorage.setItem('quarto-color-scheme', 'alternate')"


#: axe-core's run on the page as a reader may see it whole: every folded block open,
#: every tab's pane shown (two frames later, site/defilement.html has marked what now
#: scrolls); its WCAG 2.1 A and AA rules (or only the rules named), on the whole
#: document or without the code blocks (``whole`` false), one line per violation.
#: Also: whatever scrolls sideways in the page without saying so (the role, French name
#: and focus that site/defilement.html gives it, and its shadow).
AXE_JS = r"""
async ([rules, whole]) => {
  document.querySelectorAll('details').forEach(d => d.open = true);
  const style = document.createElement('style');
  style.textContent = '.tab-pane { display: block !important; }';
  document.head.appendChild(style);
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const context = whole ? document : {exclude: [['div.sourceCode']]};
  const result = await axe.run(context, {
    runOnly: rules ? {type: 'rule', values: rules}
      : {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
    resultTypes: ['violations'],
  });
  const unmarked = Array.from(document.querySelectorAll('main *')).filter(e => {
    const overflow = getComputedStyle(e).overflowX;
    return e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1
      && (overflow === 'auto' || overflow === 'scroll');
  }).filter(e => e.tabIndex !== 0 || e.getAttribute('role') !== 'region'
      || !/défile/.test(e.getAttribute('aria-label') || '')
      || getComputedStyle(e).boxShadow === 'none')
    .map(e => `${e.tagName.toLowerCase()}.${e.className} : `
      + e.textContent.trim().slice(0, 60));
  return {
    unmarked,
    violations: result.violations.map(v => `${v.id} (${v.impact}, ${v.nodes.length}) : `
      + v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' + n.html.slice(0, 80))
        .join(' | ')),
  };
}
"""


#: The rules of axe-core whose verdict depends on the colours: the only ones run again
#: in the dark theme (the page's markup is the same in both; the width changes it, as
#: site/defilement.html marks what scrolls: every rule runs at each width). At 390 px,
#: the code blocks are left out (their colours are those of 1280 px, where they are
#: checked; that they scroll, take the focus and say so is checked for them too, by
#: :data:`AXE_JS`): the syntax colouring's thousands of spans are half of axe's time. A
#: full run on a long chapter takes seconds; this keeps the four visits within the
#: test budget.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]


@functools.cache
def axe_source() -> str:
    return site_module.axe_script()


def read_every_page(
    browser, site: str, width: int, height: int, script: str, dark: bool = False
) -> dict:
    """Every page opened once at ``width`` px, and what ``script`` returns on it (an
    object), then what axe-core finds (:data:`AXE_JS`, under ``"axe"``); with ``dark``,
    as a reader who chose the dark theme sees it (axe-core then runs
    :data:`COLOUR_RULES` only). Every host but 127.0.0.1 is blocked:
    each page's requests to them (``"outside"``) and its console errors (``"errors"``)
    are kept."""
    from playwright.sync_api import Error as playwright_error

    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=site
    )
    outside: list[str] = []
    errors: list[str] = []

    def block(route) -> None:
        outside.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^(?!http://127\.0\.0\.1:)"), block)
    if dark:
        context.add_init_script(DARK_CHOICE)
    context.add_init_script(axe_source())
    tab = context.new_page()
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        found = {}
        for path in pages():
            outside.clear()
            errors.clear()
            open_page(tab, path)
            try:
                found[path] = tab.evaluate(script)
            except playwright_error as exc:
                raise AssertionError(f"{path} : {exc}") from None
            found[path]["axe"] = tab.evaluate(
                AXE_JS, [COLOUR_RULES if dark else None, width > PHONE_WIDTH]
            )
            found[path]["outside"] = list(outside)
            found[path]["errors"] = list(errors)
        return found
    finally:
        context.close()


@pytest.fixture(scope="module")
def snapshots(browser, site: str) -> dict[str, dict]:
    """Every page, opened once at 1280 px, as :data:`SNAPSHOT_JS` reads it, with its
    colours (:data:`COLOURS_JS`, read first) in the light theme."""
    script = (
        f"() => {{ const colours = ({COLOURS_JS})();"
        f" return {{...({SNAPSHOT_JS})(), colours}}; }}"
    )
    return read_every_page(browser, site, WIDTH, 900, script)


@pytest.fixture(scope="module")
def dark(browser, site: str) -> dict[str, dict]:
    """Every page in the dark theme, chosen by the reader: its colours
    (:data:`COLOURS_JS`) and its figures (:data:`FIGURES_JS`), read in one visit."""
    script = f"async () => ({{...({COLOURS_JS})(), figures: await ({FIGURES_JS})()}})"
    return read_every_page(browser, site, WIDTH, 900, script, dark=True)


PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def phone(browser, site: str) -> dict[str, dict]:
    """Every page at a phone's width, light theme: the page's own width, then
    :data:`SNAPSHOT_JS`."""
    script = (
        "() => { const width = document.documentElement.scrollWidth;"
        f" return {{...({SNAPSHOT_JS})(), width}}; }}"
    )
    return read_every_page(browser, site, PHONE_WIDTH, 844, script)


@pytest.fixture(scope="module")
def phone_dark(browser, site: str) -> dict[str, dict]:
    """Every page at a phone's width in the dark theme (axe-core's reading only)."""
    return read_every_page(browser, site, PHONE_WIDTH, 844, "() => ({})", dark=True)


@pytest.fixture(scope="module")
def visits(snapshots, dark, phone, phone_dark) -> dict[str, dict[str, dict]]:
    """The four visits of every page: width and theme."""
    return {
        "1280 px, clair": snapshots,
        "1280 px, sombre": dark,
        "390 px, clair": phone,
        "390 px, sombre": phone_dark,
    }


@pytest.mark.parametrize("path", pages())
def test_axe_finds_no_wcag_violation_at_either_width_in_either_theme(
    visits: dict, path: str
) -> None:
    """axe-core's WCAG 2.1 A and AA rules (the RGAA's base), on the whole page (folded
    blocks open, every tab shown), at 1280 and 390 px, light and dark (there, the rules
    on colours): no violation."""
    found = {how: seen[path]["axe"]["violations"] for how, seen in visits.items()}
    assert {how: v for how, v in found.items() if v} == {}


@pytest.mark.parametrize("path", pages())
def test_a_page_asks_nothing_of_another_host_and_logs_no_error(
    visits: dict, path: str
) -> None:
    """No request leaves the site when a page loads (fonts, scripts, badge images: every
    other host is blocked, and each attempt counted), and the console shows no error."""
    outside = {how: seen[path]["outside"] for how, seen in visits.items()}
    errors = {how: seen[path]["errors"] for how, seen in visits.items()}
    assert {how: u for how, u in outside.items() if u} == {}
    assert {how: e for how, e in errors.items() if e} == {}


@pytest.mark.parametrize("path", pages())
def test_what_scrolls_sideways_says_so_and_takes_the_keyboard(
    visits: dict, path: str
) -> None:
    """A code block, an output or a table wider than its frame (on a phone, mostly)
    shows a shadow on the side left to see, takes the focus (its arrows scroll it) and
    is named in French for screen readers."""
    found = {how: seen[path]["axe"]["unmarked"] for how, seen in visits.items()}
    assert {how: u for how, u in found.items() if u} == {}


def test_axe_reports_what_the_site_once_got_wrong(browser, site: str) -> None:
    """The check above can fail: the callout Quarto folds (a ``div`` with an
    ``aria-expanded`` and no role) and white inline code on a light background, put
    back into a page, are reported by :data:`AXE_JS`."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    context.add_init_script(axe_source())
    tab = context.new_page()
    try:
        tab.goto(site + "index.html")
        tab.evaluate("""() => document.querySelector('main').insertAdjacentHTML(
          'beforeend', '<div class="callout-header" data-bs-toggle="collapse" '
          + 'aria-expanded="false">Toggle</div><h2><code style="color: #fff; '
          + 'background: #f8f9fa">403</code></h2>')""")
        found = " ".join(tab.evaluate(AXE_JS, [None, True])["violations"])
    finally:
        context.close()
    assert "aria-allowed-attr" in found and "color-contrast" in found, found


@pytest.mark.parametrize("path", pages())
def test_nothing_scrolls_sideways_at_1280_px(snapshots: dict, path: str) -> None:
    assert snapshots[path]["wide"] == []


@pytest.mark.parametrize("path", chapters())
def test_no_source_line_wraps_at_1280_px_nor_on_a_phone(
    snapshots: dict, phone: dict, path: str
) -> None:
    """The chapters' code is at most 88 characters a line (tests/test_formatage.py): on
    a 1280 px screen, each line shows on one line, its indentation intact. On a phone,
    too: the block scrolls sideways, no line is cut in two, no name split."""
    assert snapshots[path]["wrapped"] == []
    assert phone[path]["wrapped"] == []


@pytest.mark.parametrize("path", chapters())
def test_the_copy_button_covers_no_code(
    snapshots: dict, phone: dict, path: str
) -> None:
    assert snapshots[path]["covered"] == []
    assert phone[path]["covered"] == []


def test_no_page_is_wider_than_a_phone(phone: dict) -> None:
    """At a phone's width, a wide table scrolls in its own frame and long inline code
    wraps: the page itself never scrolls sideways."""
    widths = {path: seen["width"] for path, seen in phone.items()}
    assert {p: w for p, w in widths.items() if w > PHONE_WIDTH} == {}


@pytest.mark.parametrize("path", chapters())
def test_the_setup_cell_is_folded(snapshots: dict, path: str) -> None:
    setup = snapshots[path]["setup"]
    assert setup is not None, "cellule de préparation introuvable"
    assert setup["folded"], "la cellule de préparation n'est pas repliée"
    assert not setup["codeVisible"]
    assert (
        "#|" not in setup["text"]
    )  # folded by a chunk option, no option comment shown


@pytest.mark.parametrize("path", pages())
def test_every_chapter_is_in_the_sidebar(snapshots: dict, path: str) -> None:
    links = [link.split("#")[0] for link in snapshots[path]["sidebar"] if link]
    for chapter in chapters():
        assert any(link.endswith(Path(chapter).name) for link in links), (
            chapter,
            links,
        )


@pytest.mark.parametrize("path", chapters())
def test_the_launch_badges_are_present(snapshots: dict, path: str) -> None:
    badges = {label: link for label, link, _, _ in snapshots[path]["badges"]}
    stem = Path(path).stem
    for label, host in (
        ("Ouvrir sur le SSP Cloud", "datalab.sspcloud.fr"),
        ("Ouvrir dans Binder", "mybinder.org"),
        ("Ouvrir dans Colab", "colab.research.google.com"),
        ("Voir sur GitHub", "github.com"),
    ):
        assert label in badges, label
        assert host in badges[label] and (
            stem in badges[label] or "cours-s3-" in badges[label]
        )


@pytest.mark.parametrize("path", pages())
def test_every_link_inside_a_page_leads_to_its_target(
    snapshots: dict, path: str
) -> None:
    assert snapshots[path]["anchors"] == []


@pytest.mark.parametrize("path", pages())
def test_no_raw_markup_shows(snapshots: dict, path: str) -> None:
    for raw in (":::", "{python", "{.panel-tabset", "{.callout"):
        assert raw not in snapshots[path]["proseText"], raw


@pytest.mark.parametrize("source", notebooks.sources(), ids=lambda s: s.stem)
def test_every_block_of_the_source_is_on_the_page(
    snapshots: dict, source: Path
) -> None:
    """The notebooks hide Quarto's blocks from Jupyter in HTML comments; the site's
    filter (site/blocs.lua) puts them back: the page has the source's tabsets, tab for
    tab, and a callout for each of the source's, titled by its heading."""
    snapshot = snapshots[f"notebooks/{source.stem}.html"]
    assert snapshot["tabsets"] == structure.tabsets(source)
    text = source.read_text()
    wanted = text.count("\n::: {.callout-")
    assert len(snapshot["callouts"]) == wanted, snapshot["callouts"]
    for title in re.findall(r"^::: \{\.callout-[^}]*\}\n#+ (.+)$", text, re.MULTILINE):
        plain = re.sub(r"`", "", title).replace("'", "\u2019")
        assert any(
            plain in found.replace("'", "\u2019") for found in snapshot["callouts"]
        ), (title, snapshot["callouts"])


@pytest.mark.parametrize("path", chapters())
def test_every_code_cell_in_a_tab_is_followed_by_a_result(
    snapshots: dict, path: str
) -> None:
    assert snapshots[path]["silent"] == []


@pytest.mark.parametrize("path", pages())
def test_french_punctuation_never_starts_a_line(snapshots: dict, path: str) -> None:
    """A plain space before : ; ! ? » (or after «) lets a line break before the sign."""
    assert snapshots[path]["prose"] == []


#: Numbers printed the English way, or in pandas' own way: sizes and measures without a
#: thousands separator ("1214752 octets", "20318.7"); a count of ``describe()`` with a
#: decimal ("count 403,0"); a duration rounded to nothing by a float format ("0,0"); a
#: percentage without the narrow no-break space ("44.8%", "5%"; a tool's progress,
#: "(100%)" of Snakemake or "100%|" of a bar, and a URL's "2014%2F" aside); the footer
#: of a printed Series ("Name: …, dtype: str").
NOT_FRENCH = re.compile(
    r"(?<![\w.:/-])(?:\d{4,} octets|\d{4,}\.\d(?![.\d]))"
    r"|\bcount\s+[\d\u202f]+,\d"
    r"|(?<![\d,.\u202f])0,0(?![\d,])"
    r"|\d[ \u00a0]?%(?![)|]|[0-9A-F]{2})"
    r"|\bdtype: \w+"
)


@pytest.mark.parametrize(
    "text",
    [
        "1214752 octets",
        "mean 20318.7",
        "count    403,0    65,0",
        "count\n   403,0",
        "boto3  0,1  0,0  0,0",
        "boto3      44.8%",
        "s3fs (blocs de 5 Mio)   25%",
        "polars  : 40% du fichier",
        "Name: 2 colonnes / CSV, dtype: str",
        "dtype: float64",
    ],
)
def test_not_french_catches_what_pandas_and_python_print(text: str) -> None:
    assert NOT_FRENCH.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "1\u202f214\u202f752 octets",
        "mean  20\u202f318,7",
        "count  403  65",
        "0,044  1,0  10,0",
        "boto3  44,8\u202f%",
        "1 of 1 steps (100%) done",
        "Envoi: 100%|████",
        "CODGEO 01001",
        "list-type=2&prefix=diffusion%2FFILOSOFI%2F2014%2F",
    ],
)
def test_not_french_lets_french_numbers_and_tools_progress_pass(text: str) -> None:
    assert not NOT_FRENCH.search(text)


@pytest.mark.parametrize("path", chapters())
def test_printed_numbers_are_written_the_french_way(snapshots: dict, path: str) -> None:
    found = sorted(
        {
            m.group()
            for text in snapshots[path]["outputs"]
            for m in NOT_FRENCH.finditer(text)
        }
    )
    assert found == []


# ------------------------------------------------------------------------- both themes

#: The page's colours as the reader sees them: the contrast ratio (WCAG 2: relative
#: luminances, (L1 + 0.05) / (L2 + 0.05)) of each kind of text against the background
#: it is drawn on (the first opaque one up the tree, translucent layers blended), the
#: lowest of each kind with its text; and the current chapter in the sidebar against the
#: other links.
COLOURS_JS = r"""
() => {
  const parse = s => {
    const n = s.match(/[\d.]+/g).map(Number);
    const rgb = s.startsWith('color(') ? n.slice(0, 3).map(v => v * 255)
      : n.slice(0, 3);
    return [...rgb, n.length > 3 ? n[3] : 1];
  };
  const over = (top, base) =>
    top.slice(0, 3).map((v, i) => v * top[3] + base[i] * (1 - top[3]));
  const background = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((base, layer) => over(layer, base), [255, 255, 255]);
  };
  const luminance = rgb => rgb.map(v => v / 255)
    .map(v => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => {
    const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  const contrast = el => {
    const back = background(el);
    return ratio(over(parse(getComputedStyle(el).color), back), back);
  };
  const lowest = selector => Array.from(document.querySelectorAll(selector))
    .filter(el => el.checkVisibility() && el.textContent.trim())
    .map(el => [Math.round(contrast(el) * 100) / 100,
                el.textContent.trim().slice(0, 40)])
    .reduce((low, found) => (low === null || found[0] < low[0] ? found : low), null);
  const active = document.querySelector('#quarto-sidebar a.sidebar-link.active');
  const others = Array.from(document.querySelectorAll('#quarto-sidebar a.sidebar-link'))
    .filter(a => a !== active && a.textContent.trim());
  const distance = (a, b) => Math.hypot(...[0, 1, 2].map(i => a[i] - b[i]));
  return {
    dark: document.body.classList.contains('quarto-dark'),
    text: lowest('main p, main li'),
    links: lowest('main a:not(:has(img)), #quarto-sidebar a.sidebar-link, #TOC a'),
    summary: lowest('details.code-fold > summary'),
    current: active ? {
      text: active.textContent.trim(),
      contrast: Math.round(contrast(active) * 100) / 100,
      // how far (0 to 441) its colour is from the closest colour of the other links
      apart: Math.round(Math.min(...others.map(a => distance(
        parse(getComputedStyle(active).color), parse(getComputedStyle(a).color))))),
    } : null,
  };
}
"""

AA = 4.5  # WCAG 2 AA, normal text


def theme_problems(colours: dict, has_setup_cell: bool) -> list[str]:
    problems = []
    for kind in ("text", "links", "summary"):
        if colours[kind] is None:
            if kind != "summary" or has_setup_cell:
                problems.append(f"{kind} : rien de visible à mesurer")
        elif colours[kind][0] < AA:
            ratio, text = colours[kind]
            problems.append(f"{kind} : contraste {ratio}:1 < {AA}:1 ({text!r})")
    return problems


@pytest.mark.parametrize("path", pages())
def test_text_links_and_folded_cells_are_contrasted_in_both_themes(
    snapshots: dict, dark: dict, path: str
) -> None:
    """At least 4.5:1 (WCAG AA) for the text, every link (page, sidebar, table of
    contents) and the setup cell's folded title, in the light theme and the dark one."""
    setup = path in chapters()
    assert snapshots[path]["colours"]["dark"] is False
    assert dark[path]["dark"] is True, "le thème sombre choisi n'est pas appliqué"
    light = snapshots[path]["colours"]
    problems = [f"clair, {p}" for p in theme_problems(light, setup)]
    problems += [f"sombre, {p}" for p in theme_problems(dark[path], setup)]
    assert problems == []


@pytest.mark.parametrize("path", pages())
def test_the_current_page_stands_out_in_the_sidebar_in_both_themes(
    snapshots: dict, dark: dict, path: str
) -> None:
    """The sidebar's link to the page being read has a colour of its own (far from the
    other links' colours), contrasted enough to read."""
    light = snapshots[path]["colours"]
    for theme, colours in (("clair", light), ("sombre", dark[path])):
        current = colours["current"]
        assert current is not None, f"{theme} : aucun lien actif dans la barre latérale"
        assert current["apart"] >= 60, f"{theme} : {current}"
        assert current["contrast"] >= AA, f"{theme} : {current}"


#: Every figure image: its alt text, and the colour and opacity of its corner pixels
#: (the plot's own background, on which its axes and labels are drawn).
FIGURES_JS = r"""
async () => Promise.all(Array.from(document.querySelectorAll(
    'main figure img, main .cell-output-display img')).map(async img => {
  await img.decode().catch(() => null);
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const corners = [[0, 0], [canvas.width - 1, canvas.height - 1]]
    .map(([x, y]) => Array.from(context.getImageData(x, y, 1, 1).data));
  return {src: img.getAttribute('src'), alt: img.alt, width: img.naturalWidth, corners};
}))
"""


def test_every_figure_has_alt_text_and_its_own_light_background(dark: dict) -> None:
    """Each plot says in words what it shows, and carries an opaque light background, so
    that its dark labels read as well in the dark theme as in the light one."""
    found = [f for page in dark.values() for f in page["figures"]]
    assert found, "aucune figure sur le site"
    for figure in found:
        assert figure["alt"].strip(), f"{figure['src']} : pas de texte alternatif"
        assert figure["width"] > 0, f"{figure['src']} : image non chargée"
        for red, green, blue, alpha in figure["corners"]:
            assert alpha == 255 and min(red, green, blue) >= 230, (
                figure["src"],
                figure["corners"],
            )


@pytest.mark.parametrize("path", chapters())
def test_the_badge_images_are_the_site_s_own(snapshots: dict, path: str) -> None:
    """Each badge shows the course's own image, served by the site (site/local.lua maps
    the notebook's badge, from another host, to site/badges/), loaded."""
    shown = {label: (image, ok) for label, _, image, ok in snapshots[path]["badges"]}
    for key, (label, _) in launch.BADGES.items():
        assert shown.get(label) == (f"../site/badges/{key}.svg", True), label


@pytest.mark.parametrize("path", chapters())
def test_solutions_are_real_disclosures_named_in_french(
    snapshots: dict, path: str
) -> None:
    """No callout folded by Quarto's script (a ``div`` the keyboard cannot reach):
    each folded solution of the source is a ``<details>`` whose ``<summary>`` is its
    title."""
    snapshot = snapshots[path]
    assert snapshot["toggles"] == 0
    source = (config.CONTENT_DIR / f"{Path(path).stem}.Rmd").read_text()
    titles = re.findall(
        r'^::: \{\.callout-\w+ collapse="true"\}\n#+ (.+)$', source, re.MULTILINE
    )
    for title in titles:
        assert title.replace("'", "\u2019") in [
            c.replace("'", "\u2019") for c in snapshot["callouts"]
        ], (title, snapshot["callouts"])


def test_a_solution_opens_and_closes_from_the_keyboard(page) -> None:
    """Tab reaches a solution's title; Enter opens it, Space closes it."""
    open_page(page, chapters()[0])
    summary = page.locator("details.replie > summary").first
    assert summary.inner_text().strip().startswith("Solution de l")
    # From the paragraph before the solution (focusable by script only), Tab onwards.
    summary.evaluate(
        "s => { const p = s.closest('div.callout').previousElementSibling;"
        " p.tabIndex = -1; p.focus(); }"
    )
    for _ in range(10):
        page.keyboard.press("Tab")
        if summary.evaluate("s => s === document.activeElement"):
            break
    assert summary.evaluate("s => s === document.activeElement"), "Tab ne l'atteint pas"
    page.keyboard.press("Enter")
    assert summary.evaluate("s => s.parentElement.open")
    assert summary.evaluate(
        "s => s.parentElement.querySelector('pre').checkVisibility()"
    )
    page.keyboard.press(" ")
    assert not summary.evaluate("s => s.parentElement.open")


def test_a_library_chosen_with_the_arrow_keys_is_chosen_everywhere(page) -> None:
    """Bootstrap moves between tabs with the arrow keys without a click; the course's
    script (site/onglets.html) gives Quarto the click it syncs on: every tabset of the
    group then shows the chosen library, as after a click."""
    open_page(page, chapters()[0])
    page.evaluate("localStorage.clear()")
    open_page(page, chapters()[0])
    tabsets = page.locator("div.panel-tabset[data-group] > .nav-tabs")
    first = tabsets.first.locator(".nav-link")
    chosen = first.nth(1).inner_text().strip()
    first.nth(0).focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(200)
    sets = page.evaluate(
        """() => Array.from(document.querySelectorAll(
          'div.panel-tabset[data-group] > .nav-tabs'), n => [
          Array.from(n.querySelectorAll('.nav-link'), l => l.textContent.trim()),
          (n.querySelector('.nav-link.active') || {textContent: ''}).textContent.trim(),
        ])"""
    )
    having = [active for names, active in sets if chosen in names]
    assert len(having) >= 2 and having == [chosen] * len(having), (chosen, sets)


@pytest.mark.parametrize("path", chapters())
def test_the_french_explanation_stands_apart_from_the_traceback(
    snapshots: dict, path: str
) -> None:
    """The course's explanation under an S3 error has a frame of its own: a left
    border and a background that the error output above it has not."""
    found = snapshots[path]["explanations"]
    if path.endswith("07_depannage.html"):
        assert len(found) >= 5, found
    for explanation in found:
        assert "explication" in explanation["classes"], explanation
        assert explanation["own"][0] != "0px", explanation
        if explanation["error"] is not None:
            assert explanation["own"] != explanation["error"], explanation


@pytest.mark.parametrize("path", pages())
def test_the_source_link_opens_the_file_to_edit(snapshots: dict, path: str) -> None:
    """The link "Source de cette page" opens the hand-edited file: a chapter's
    ``content/NN.Rmd`` (not its generated notebook), the page's own ``.qmd`` otherwise.
    No link of the page's tools (table of contents, source) leads to a notebook."""
    repo = launch.repository()
    stem = Path(path).stem
    wanted = (
        f"content/{stem}.Rmd"
        if path.startswith("notebooks/")
        else aide_memoire.GENERATOR
        if stem == "aide-memoire"
        else f"{stem}.qmd"
    )
    links = snapshots[path]["sources"]
    found = [href for text, href in links if text == wanted]
    assert found == [repo.blob(wanted)], links
    assert [href for _, href in links if href.endswith(".ipynb")] == []


def test_the_cheat_sheet_prints_without_the_site_around_it(browser, site: str) -> None:
    """The « Aide-mémoire » has every operation of the chapters (one heading each) and
    prints without menu, sidebar, table of contents or copy buttons, its code blocks
    whole (Chromium's own print to PDF)."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    try:
        page.goto(site + "aide-memoire.html")
        titles = page.eval_on_selector_all("main h3", "hs => hs.map(h => h.innerText)")
        wanted = [
            op.title
            for s in notebooks.sources()
            for op in aide_memoire.operations(notebooks.notebook_path(s))
        ]
        # site/typographie.lua puts a no-break space before « : » in the titles.
        assert [" ".join(t.replace("\u2019", "'").split()) for t in titles] == wanted
        page.emulate_media(media="print")
        hidden = page.evaluate("""() => ['#quarto-sidebar', '#quarto-header',
            '#quarto-margin-sidebar', '.code-copy-button'].map(s =>
            [...document.querySelectorAll(s)]
            .every(e => getComputedStyle(e).display === 'none'))""")
        assert all(hidden), hidden
        blocks = page.evaluate("""() =>
            [...document.querySelectorAll('main div.sourceCode')].map(e =>
            [getComputedStyle(e).breakInside, e.getBoundingClientRect().height])""")
        assert blocks and all(b == "avoid" and h > 0 for b, h in blocks), blocks
        assert page.pdf(format="A4")[:4] == b"%PDF"
    finally:
        context.close()


#: The selected tab's mark (its bottom border) and the focus ring of the element that
#: has the focus, as colours and contrast ratios (WCAG 2) against the page's background.
MARKS_JS = r"""
() => {
  const rgb = s => s.match(/[\d.]+/g).map(Number).slice(0, 3);
  const luminance = c => c.map(v => v / 255)
    .map(v => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => {
    const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return Math.round((l1 + 0.05) / (l2 + 0.05) * 100) / 100;
  };
  const page = rgb(getComputedStyle(document.body).backgroundColor);
  const tab = getComputedStyle(
    document.querySelector('.panel-tabset .nav-link.active'));
  const focused = document.activeElement;
  const ring = getComputedStyle(focused);
  return {
    dark: document.body.classList.contains('quarto-dark'),
    tab: [parseFloat(tab.borderBottomWidth), ratio(rgb(tab.borderBottomColor), page)],
    focusVisible: focused.matches(':focus-visible'),
    ring: [ring.outlineStyle, parseFloat(ring.outlineWidth),
           ratio(rgb(ring.outlineColor), page)],
  };
}
"""


@pytest.mark.parametrize("theme", ["clair", "sombre"])
def test_the_selected_tab_and_the_focus_ring_stand_out(
    browser, site: str, theme: str
) -> None:
    """The selected tab is marked by a border of at least 2 px, and the keyboard's
    focus by a ring of at least 2 px, each at 3:1 or more against the page (WCAG
    1.4.11), in both themes."""
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 900}, base_url=site
    )
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda route: route.abort())
    if theme == "sombre":
        context.add_init_script(DARK_CHOICE)
    tab = context.new_page()
    try:
        open_page(tab, chapters()[1])
        tab.locator(".panel-tabset .nav-link:not(.active)").first.focus()
        marks = tab.evaluate(MARKS_JS)
    finally:
        context.close()
    assert marks["dark"] is (theme == "sombre")
    width, contrast = marks["tab"]
    assert width >= 2 and contrast >= 3, marks
    assert marks["focusVisible"], marks
    style, width, contrast = marks["ring"]
    assert style != "none" and width >= 2 and contrast >= 3, marks


def test_the_reader_s_system_theme_is_followed(browser, site: str) -> None:
    """A reader whose system prefers dark (and who chose nothing on the site) gets the
    dark theme; light, the light one."""
    found = {}
    for scheme in ("dark", "light"):
        context = browser.new_context(color_scheme=scheme, base_url=site)
        context.route(
            re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda route: route.abort()
        )
        tab = context.new_page()
        try:
            open_page(tab, "index.html")
            found[scheme] = tab.evaluate(
                "() => document.body.classList.contains('quarto-dark')"
            )
        finally:
            context.close()
    assert found == {"dark": True, "light": False}
