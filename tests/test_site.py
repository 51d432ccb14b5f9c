"""Quarto's site configuration: it renders the executed notebooks, never re-executes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from s3cours import config, launch, notebooks


def quarto() -> dict:
    return yaml.safe_load((config.ROOT / "_quarto.yml").read_text())


def test_site_renders_executed_notebooks_without_execution() -> None:
    conf = quarto()
    assert conf["project"]["type"] == "website"
    assert conf["project"]["render"] == [
        "index.qmd",
        "notebooks/*.ipynb",
        "aide-memoire.qmd",
        "formation.qmd",
        "compatibilite.qmd",
    ]
    assert conf["execute"]["enabled"] is False
    assert conf["lang"] == "fr"
    assert (config.ROOT / "index.qmd").exists()


def test_sidebar_lists_every_chapter_in_order() -> None:
    contents = quarto()["website"]["sidebar"]["contents"]
    expected = [f"notebooks/{s.stem}.ipynb" for s in notebooks.sources()]
    assert [c for c in contents if c.startswith("notebooks/")] == expected
    for entry in contents:
        assert (config.ROOT / entry).exists(), entry


def test_index_links_every_chapter() -> None:
    index = (config.ROOT / "index.qmd").read_text()
    for source in notebooks.sources():
        assert f"(notebooks/{source.stem}.ipynb)" in index


def test_site_has_search_code_copy_themes_and_repository_links() -> None:
    conf = quarto()
    website = conf["website"]
    assert website["search"] is True
    assert website["repo-url"] == launch.repository().url
    assert website["repo-branch"] == launch.repository().branch
    html = conf["format"]["html"]
    assert html["code-copy"] is True
    assert set(html["theme"]) == {"light", "dark"}


def test_index_says_how_to_run_the_course_everywhere() -> None:
    index = (config.ROOT / "index.qmd").read_text()
    for place in ("SSP Cloud", "Binder", "Colab", "votre poste"):
        assert f"**Sur {place}**" in index or f"**Sur le {place}**" in index, place


def test_index_chapters_are_in_the_sidebar_order() -> None:
    index = (config.ROOT / "index.qmd").read_text()
    linked = re.findall(r"\((notebooks/[^)]+\.ipynb)\)", index)
    sidebar = [
        c
        for c in quarto()["website"]["sidebar"]["contents"]
        if c.startswith("notebooks/")
    ]
    assert linked == sidebar


def test_notebooks_open_on_the_course_kernel_installed_in_the_environment() -> None:
    """A Jupyter of the course's environment starts each chapter on the course's kernel,
    without asking: the notebooks name it, and ./cours installs it into .venv/."""
    import sys
    from pathlib import Path

    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager

    for source in notebooks.sources():
        nb = nbformat.read(notebooks.notebook_path(source), as_version=4)
        assert nb.metadata["kernelspec"]["name"] == notebooks.KERNEL_NAME, source.stem
    spec = KernelSpecManager().get_kernel_spec(notebooks.KERNEL_NAME)
    assert spec.display_name == "Python et S3"
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
    assert Path(spec.resource_dir).is_relative_to(Path(sys.prefix))


def test_jupyter_nbconvert_works_in_the_course_environment() -> None:
    import subprocess
    import sys
    from pathlib import Path

    jupyter = Path(sys.executable).parent / "jupyter"
    run = subprocess.run(
        [str(jupyter), "nbconvert", "--version"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_footer_names_both_licences_and_links_their_files_on_the_repository() -> None:
    """The footer's links are made by Quarto from ``depot:``, YAML aliases of the
    repository setting: each must name the setting's repository and branch and a licence
    file that exists, and the README must say which licence covers what."""
    conf = quarto()
    repo = launch.repository()
    assert conf["depot"] == {"url": repo.url, "branche": repo.branch}
    text = (config.ROOT / "_quarto.yml").read_text()
    assert "url: *depot-url" in text and "repo-url: &depot-url " in text
    assert "branche: *depot-branche" in text and "repo-branch: &depot-branche " in text
    footer = conf["website"]["page-footer"]["center"]
    links = dict(re.findall(r"\[([^\]]+)\]\(([^)]+)\)", footer))
    assert set(links) == {"CC BY 4.0", "MIT"}
    prefix = "{{< meta depot.url >}}/blob/{{< meta depot.branche >}}/"
    files = {name: href.removeprefix(prefix) for name, href in links.items()}
    assert all(href.startswith(prefix) for href in links.values()), links
    assert files == {"CC BY 4.0": "LICENSES/CC-BY-4.0.txt", "MIT": "LICENSE"}
    assert (config.ROOT / "LICENSE").read_text().startswith("MIT License\n")
    legal_code = (config.ROOT / "LICENSES" / "CC-BY-4.0.txt").read_text()
    assert legal_code.startswith("Creative Commons Attribution 4.0 International")
    readme = (config.ROOT / "README.md").read_text()
    for name, path in files.items():
        assert f"[{name}]({path})" in readme, name


def test_build_says_how_to_get_quarto_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from s3cours import cli, site

    monkeypatch.setattr(site, "find_quarto", lambda: None)
    assert cli.build_site() == 0
    err = capsys.readouterr().err
    assert "Site non rendu" in err and "install-quarto.sh" in err


def test_build_reuses_the_site_it_rendered_for_the_same_files(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from s3cours import cli, site

    monkeypatch.setattr(config, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(site, "find_quarto", lambda: "/bin/quarto-factice")
    monkeypatch.setattr(site, "PUBLISHED", tmp_path / "_site")
    (tmp_path / "site" / site.site_key()).mkdir(parents=True)
    (tmp_path / "site" / site.site_key() / "index.html").write_text("<html></html>")
    assert cli.build_site() == 0
    assert "Site déjà rendu" in capsys.readouterr().err
    assert (tmp_path / "_site" / "index.html").read_text() == "<html></html>"


def test_the_site_ends_in_site_folder_ignored_by_git(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The build leaves the site where a Quarto user looks for it: ``_site/`` (Quarto's
    ``output-dir``), ignored by git, replaced whole when the files change and left
    alone when they have not."""
    from s3cours import site

    assert quarto()["project"]["output-dir"] == "_site"
    assert site.PUBLISHED == config.ROOT / "_site"
    ignored = (config.ROOT / ".gitignore").read_text().splitlines()
    assert "_site/" in ignored
    monkeypatch.setattr(site, "PUBLISHED", tmp_path / "_site")
    first = tmp_path / "cache" / "aaaa"
    first.mkdir(parents=True)
    (first / "index.html").write_text("un")
    (tmp_path / "_site").mkdir()
    (tmp_path / "_site" / "ancien.html").write_text("ancien")
    assert site.publish(first) == tmp_path / "_site"
    assert sorted(p.name for p in (tmp_path / "_site").iterdir()) == [
        site.PUBLISHED_KEY,
        "index.html",
    ]
    (tmp_path / "_site" / "index.html").write_text("lu par le lecteur")
    site.publish(first)  # same files: nothing copied again
    assert (tmp_path / "_site" / "index.html").read_text() == "lu par le lecteur"
    second = tmp_path / "cache" / "bbbb"
    second.mkdir()
    (second / "index.html").write_text("deux")
    site.publish(second)
    assert (tmp_path / "_site" / "index.html").read_text() == "deux"


def test_axe_core_is_pinned_and_installed_into_the_course_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """axe-core, which the site's browser tests inject into every page, comes from npm
    at a pinned 4.x version, into the course's cache, by version."""
    from s3cours import site

    assert re.fullmatch(r"4\.\d+\.\d+", site.AXE_VERSION)
    monkeypatch.setattr(config, "cache_dir", lambda: tmp_path)
    assert site.axe_path() == (
        tmp_path
        / "npm"
        / f"axe-core-{site.AXE_VERSION}"
        / "node_modules"
        / "axe-core"
        / "axe.min.js"
    )
    monkeypatch.setattr(site.shutil, "which", lambda name: None)
    message = site.axe_missing()
    assert message is not None and "npm" in message and site.AXE_VERSION in message
