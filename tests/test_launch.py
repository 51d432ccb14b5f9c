"""Launch links (SSP Cloud, Binder, Colab, GitHub) and the SSP Cloud init script.

Every launch URL found in the site configuration, the notebooks and the README is parsed
and checked against the one repository setting (``website.repo-url``/``repo-branch`` of
``_quarto.yml``): right repository and branch, a path that exists in the repository,
Onyxia values wrapped in « » and URL-encoded, an init script that exists and is
executable."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import nbformat
import pytest

from s3cours import config, launch, notebooks

REPO = launch.repository()
URL = re.compile(r"https?://[^\s)\]\"'<>]+")
BADGE_TARGET = re.compile(r"\[!\[[^\]]*\]\([^)]*\)\]\((https?://[^)\s]+)\)")


def launch_urls(text: str) -> list[str]:
    """The launch URLs of a text: every link to the SSP Cloud launcher, Binder, Colab or
    raw.githubusercontent.com, every badge's target, and every link into the course
    repository."""
    found = set(BADGE_TARGET.findall(text))
    for url in URL.findall(text):
        parsed = urlparse(url)
        if (
            (
                parsed.netloc == "datalab.sspcloud.fr"
                and parsed.path.startswith("/launcher")
            )
            or (parsed.netloc == "mybinder.org" and parsed.path.startswith("/v2/"))
            or (
                parsed.netloc == "colab.research.google.com"
                and not parsed.path.startswith("/assets/")
            )
            or parsed.netloc == "raw.githubusercontent.com"
            or (
                parsed.netloc == "github.com"
                and parsed.path.lower().startswith(f"/{REPO.owner.lower()}/")
            )
        ):
            found.add(url)
    return sorted(found)


def collected() -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    # The text, not the parsed YAML: the footer reuses the setting through YAML aliases,
    # which parsing would count twice; the text holds it once.
    where["_quarto.yml"] = [
        u
        for u in URL.findall(launch.SITE_CONFIG.read_text())
        if urlparse(u).netloc == "github.com"
    ]
    for source in notebooks.sources():
        nb = nbformat.read(notebooks.notebook_path(source), as_version=4)
        where[f"notebooks/{source.stem}.ipynb"] = launch_urls(
            "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        )
    for name in ("README.md", "index.qmd"):
        where[name] = launch_urls((config.ROOT / name).read_text())
    return where


def _repo_path(path: str) -> list[str]:
    """Problems with a path said to be in the repository (empty when it exists)."""
    if not path or "//" in path or ":" in path or ".." in path.split("/"):
        return [f"chemin suspect : {path!r}"]
    return (
        [] if (config.ROOT / path).exists() else [f"{path} n'existe pas dans le dépôt"]
    )


def _owner_name_branch(parts: list[str], what: str) -> list[str]:
    if parts[:3] != [REPO.owner, REPO.name, REPO.branch]:
        return [
            f"{what} : dépôt/branche {parts[:3]} au lieu "
            f"de {[REPO.owner, REPO.name, REPO.branch]}"
        ]
    return []


def url_problems(url: str) -> list[str]:
    """Everything wrong with a launch URL (empty list when it is right)."""
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc:
        return [f"URL non https ou sans hôte : {url}"]
    if "//" in parsed.path or " " in url:
        return [f"URL mal formée : {url}"]
    parts = parsed.path.strip("/").split("/")
    if parsed.netloc == "datalab.sspcloud.fr":
        return _onyxia_problems(parsed)
    if parsed.netloc == "mybinder.org":
        if parts[:2] != ["v2", "gh"]:
            return [f"Binder : {url}"]
        urlpath = parse_qs(parsed.query).get("urlpath", [""])[0]
        if not urlpath.startswith("lab/tree/"):
            return [f"Binder : urlpath {urlpath!r}"]
        return _owner_name_branch(parts[2:], "Binder") + _repo_path(
            urlpath.removeprefix("lab/tree/")
        )
    if parsed.netloc == "colab.research.google.com":
        if parts[0] != "github" or parts[3:4] != ["blob"]:
            return [f"Colab : {url}"]
        problems = _owner_name_branch(parts[1:3] + parts[4:5], "Colab")
        return problems + _repo_path("/".join(parts[5:]))
    if parsed.netloc == "raw.githubusercontent.com":
        return _owner_name_branch(parts, "raw") + _repo_path("/".join(parts[3:]))
    if parsed.netloc == "github.com":
        if parts[:2] != [REPO.owner, REPO.name]:
            return [f"GitHub : dépôt {parts[:2]} au lieu de {[REPO.owner, REPO.name]}"]
        if len(parts) == 2:
            return []
        if parts[2] not in ("blob", "tree") or parts[3:4] != [REPO.branch]:
            return [f"GitHub : branche ou forme inattendue : {url}"]
        return _repo_path("/".join(parts[4:]))
    return [f"hôte inattendu : {url}"]


def _onyxia_problems(parsed) -> list[str]:
    raw = dict(pair.split("=", 1) for pair in parsed.query.split("&"))
    # The Spark chapter opens in a Jupyter-pyspark service, every other in Jupyter.
    chapter = unquote(raw.get("init.personalInitArgs", ""))[1:-1]
    service = "jupyter-pyspark" if chapter == config.SPARK_CHAPTER else "jupyter-python"
    if parsed.path != f"/launcher/ide/{service}":
        return [f"lanceur Onyxia inattendu : {parsed.path} (attendu : {service})"]
    problems = [] if raw.get("autoLaunch") == "true" else ["autoLaunch=true manque"]
    # Onyxia's launcher route (web/src/ui/pages/launcher/route.ts): ``name`` is plain.
    if not re.fullmatch(r"cours-s3-[0-9]{2}", raw.get("name", "")):
        problems.append(
            f"name (nom court du service) manque ou inattendu : {raw.get('name')!r}"
        )
    values = {}
    for key in ("init.personalInit", "init.personalInitArgs"):
        value = raw.get(key, "")
        if not (value.startswith("%C2%AB") and value.endswith("%C2%BB")) or re.search(
            r"[«»/: ]", value
        ):
            problems.append(f"{key} non encodé comme Onyxia l'attend : {value!r}")
            continue
        values[key] = unquote(value)[1:-1]
    if "init.personalInit" in values:
        script = values["init.personalInit"]
        problems += url_problems(script)
        if not script.startswith(
            "https://raw.githubusercontent.com/"
        ) or not script.endswith("/" + launch.INIT_SCRIPT):
            problems.append(f"script d'initialisation inattendu : {script}")
        elif not os.access(config.ROOT / launch.INIT_SCRIPT, os.X_OK):
            problems.append(f"{launch.INIT_SCRIPT} n'est pas exécutable")
    if "init.personalInitArgs" in values:
        problems += _repo_path(f"notebooks/{values['init.personalInitArgs']}.ipynb")
    return problems


def test_every_launch_url_is_right() -> None:
    where = collected()
    problems = [
        f"{name} : {p}"
        for name, urls in where.items()
        for url in urls
        for p in url_problems(url)
    ]
    assert problems == []
    assert where["_quarto.yml"] == [REPO.url]
    kinds = {urlparse(u).netloc for urls in where.values() for u in urls}
    assert {
        "datalab.sspcloud.fr",
        "mybinder.org",
        "colab.research.google.com",
        "github.com",
    } <= kinds
    for source in notebooks.sources():
        assert len(where[f"notebooks/{source.stem}.ipynb"]) >= 4, source.stem


def test_each_notebook_starts_with_the_generated_badges() -> None:
    for source in notebooks.sources():
        nb = nbformat.read(notebooks.notebook_path(source), as_version=4)
        # The title (a heading, as Jupyter shows it), then the badges.
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(
            "# "
        )
        cell = nb.cells[1]
        notebook = f"notebooks/{source.stem}.ipynb"
        assert cell.cell_type == "markdown"
        assert cell.source == launch.badges_markdown(notebook)
        assert sorted(BADGE_TARGET.findall(cell.source)) == sorted(
            launch.links(notebook).values()
        )
        typed = [
            u
            for u in launch_urls(source.read_text())
            if urlparse(u).netloc != "github.com"
            or u in BADGE_TARGET.findall(source.read_text())
        ]
        assert typed == [], "lien de lancement tapé à la main dans la source"


def test_the_readme_shows_the_generated_links_of_each_chapter() -> None:
    readme = (config.ROOT / "README.md").read_text()
    for source in notebooks.sources():
        assert launch.badges_markdown(f"notebooks/{source.stem}.ipynb") in readme, (
            source.stem
        )


def test_chapter_01_links_are_exactly_these() -> None:
    repo = launch.Repository("proprio", "depot", "branche")
    links = launch.links("notebooks/01_se_connecter.ipynb", repo)
    assert links == {
        "sspcloud": (
            "https://datalab.sspcloud.fr/launcher/ide/jupyter-python"
            "?name=cours-s3-01&autoLaunch=true"
            "&init.personalInit=%C2%ABhttps%3A%2F%2Fraw.githubusercontent.com"
            "%2Fproprio%2Fdepot%2Fbranche%2Fsspcloud%2Finit-jupyter.sh%C2%BB"
            "&init.personalInitArgs=%C2%AB01_se_connecter%C2%BB"
        ),
        "binder": (
            "https://mybinder.org/v2/gh/proprio/depot/branche"
            "?urlpath=lab%2Ftree%2Fnotebooks%2F01_se_connecter.ipynb"
        ),
        "colab": (
            "https://colab.research.google.com/github/proprio/depot/blob/branche/"
            "notebooks/01_se_connecter.ipynb"
        ),
        "github": (
            "https://github.com/proprio/depot/blob/branche/"
            "notebooks/01_se_connecter.ipynb"
        ),
    }


BAD_URLS = {
    "chemin Windows (graine)": "https://github.com/{o}/{n}/blob/{b}/C:"
    + "/Users/x/notebooks/01_se_connecter.ipynb",
    "double barre (Colab)": (
        "https://colab.research.google.com/github/{o}/{n}/blob/{b}"
        "//notebooks/01_se_connecter.ipynb"
    ),
    "autre dépôt": (
        "https://mybinder.org/v2/gh/autre/{n}/{b}"
        "?urlpath=lab%2Ftree%2Fnotebooks%2F01_se_connecter.ipynb"
    ),
    "autre branche": (
        "https://colab.research.google.com/github/{o}/{n}/blob/master"
        "/notebooks/01_se_connecter.ipynb"
    ),
    "notebook absent": (
        "https://colab.research.google.com/github/{o}/{n}/blob/{b}"
        "/notebooks/99_absent.ipynb"
    ),
    "Onyxia non encodé": (
        "https://datalab.sspcloud.fr/launcher/ide/jupyter-python"
        "?name=cours-s3-01&autoLaunch=true"
        "&init.personalInit="
        "«https://raw.githubusercontent.com/{o}/{n}/{b}/sspcloud/init-jupyter.sh»"
        "&init.personalInitArgs=«01_se_connecter»"
    ),
    "Onyxia script absent": (
        "https://datalab.sspcloud.fr/launcher/ide/jupyter-python"
        "?name=cours-s3-01&autoLaunch=true"
        "&init.personalInit=%C2%ABhttps%3A%2F%2Fraw.githubusercontent.com%2F{o}%2F{n}"
        "%2F{b}%2Fsspcloud%2Finit.sh%C2%BB"
        "&init.personalInitArgs=%C2%AB01_se_connecter%C2%BB"
    ),
    "Onyxia chapitre absent": (
        "https://datalab.sspcloud.fr/launcher/ide/jupyter-python"
        "?name=cours-s3-01&autoLaunch=true"
        "&init.personalInit=%C2%ABhttps%3A%2F%2Fraw.githubusercontent.com%2F{o}%2F{n}"
        "%2F{b}%2Fsspcloud%2Finit-jupyter.sh%C2%BB"
        "&init.personalInitArgs=%C2%AB99_x%C2%BB"
    ),
    "http": "http://github.com/{o}/{n}",
    "Onyxia sans nom de service": (
        "https://datalab.sspcloud.fr/launcher/ide/jupyter-python?autoLaunch=true"
        "&init.personalInit=%C2%ABhttps%3A%2F%2Fraw.githubusercontent.com%2F{o}%2F{n}"
        "%2F{b}%2Fsspcloud%2Finit-jupyter.sh%C2%BB"
        "&init.personalInitArgs=%C2%AB01_se_connecter%C2%BB"
    ),
}


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_the_url_check_catches(url: str) -> None:
    assert url_problems(url.format(o=REPO.owner, n=REPO.name, b=REPO.branch))


def test_a_repository_setting_that_is_not_github_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "_quarto.yml"
    site.write_text("website:\n  repo-url: https://gitlab.com/a/b\n")
    with pytest.raises(ValueError, match="repo-url"):
        launch.repository(site)


# -------------------------------------------------------------------------- init script

INIT = config.ROOT / launch.INIT_SCRIPT


@pytest.fixture(scope="module")
def course_remote(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository to clone: the course's notebooks, on the configured branch."""
    remote = tmp_path_factory.mktemp("remote") / "cours"
    shutil.copytree(config.NOTEBOOKS_DIR, remote / "notebooks")
    git = [
        "git",
        "-C",
        str(remote),
        "-c",
        "user.name=cours",
        "-c",
        "user.email=cours@example.org",
    ]
    subprocess.run(
        ["git", "init", "--quiet", "-b", REPO.branch, str(remote)], check=True
    )
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "cours"], check=True)
    return remote


def run_init(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the init script as Onyxia does, with a fake HOME and a pip that records."""
    pip = home.parent / "pip-appels"
    fake_pip = home.parent / "faux-pip"
    fake_pip.write_text(f'#!/bin/sh\necho "$@" >> {pip}\n')
    fake_pip.chmod(0o755)
    home.mkdir(exist_ok=True)
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "S3COURS_PIP": str(fake_pip),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        ["bash", str(INIT), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_script_opens_the_chapter_from_the_launch_url(
    course_remote: Path, tmp_path: Path
) -> None:
    # As on SSP Cloud: the repository comes from PERSONAL_INIT_SCRIPT, the URL of the
    # launcher; git is told to fetch that GitHub URL from the local repository instead.
    chapter = notebooks.sources()[0].stem
    launcher = launch.links(f"notebooks/{chapter}.ipynb")["sspcloud"]
    query = dict(p.split("=", 1) for p in urlparse(launcher).query.split("&"))
    script_url = unquote(query["init.personalInit"])[1:-1]
    args = unquote(query["init.personalInitArgs"])[1:-1].split()
    home = tmp_path / "home"
    run = run_init(
        home,
        *args,
        PERSONAL_INIT_SCRIPT=script_url,
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"url.file://{course_remote}.insteadOf",
        GIT_CONFIG_VALUE_0=f"{REPO.url}.git",
    )
    assert run.returncode == 0, run.stderr
    placed = home / "work" / "python-et-s3" / "notebooks" / f"{chapter}.ipynb"
    assert (
        placed.read_bytes()
        == notebooks.notebook_path(notebooks.sources()[0]).read_bytes()
    )
    server_config = (home / ".jupyter" / "jupyter_server_config.py").read_text()
    assert server_config == (
        f"c.LabApp.default_url = '/lab/tree/python-et-s3/notebooks/{chapter}.ipynb'\n"
    )
    pip_calls = (tmp_path / "pip-appels").read_text().splitlines()
    assert len(pip_calls) == 1 and pip_calls[0].startswith("install --quiet ")
    assert pip_calls[0].endswith("/python-et-s3[chapitres]")


def test_init_script_run_again_keeps_the_learners_work(
    course_remote: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {"S3COURS_REPO_URL": f"file://{course_remote}"}
    assert run_init(home, "01_se_connecter", **env).returncode == 0
    notebook = home / "work" / "python-et-s3" / "notebooks" / "01_se_connecter.ipynb"
    notebook.write_text("mes notes")
    again = run_init(home, "01_se_connecter", **env)
    assert again.returncode == 0, again.stderr
    assert "gardé tel quel" in again.stdout
    assert notebook.read_text() == "mes notes"
    server_config = (home / ".jupyter" / "jupyter_server_config.py").read_text()
    assert server_config.count("default_url") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["99_inexistant"],
            r"chapitre inconnu : « 99_inexistant »\. Chapitres : 01_se_connecter",
        ),
        (["../../etc/passwd"], "nom de chapitre invalide"),
        ([], "un seul argument attendu"),
        (["01_se_connecter", "en trop"], "un seul argument attendu"),
    ],
)
def test_init_script_refuses_a_wrong_chapter_and_touches_nothing(
    args: list[str], message: str, course_remote: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    run = run_init(home, *args, S3COURS_REPO_URL=f"file://{course_remote}")
    assert run.returncode == 2
    assert re.search(message, run.stderr), run.stderr
    assert not (home / "work" / "python-et-s3").exists()
    assert not (home / ".jupyter").exists()
    assert not (tmp_path / "pip-appels").exists()


def test_init_script_without_a_repository_says_so(tmp_path: Path) -> None:
    run = run_init(tmp_path / "home", "01_se_connecter")
    assert run.returncode == 2 and "dépôt du cours inconnu" in run.stderr


def test_drift_check_catches_badges_made_for_another_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "_quarto.yml"
    site.write_text(
        launch.SITE_CONFIG.read_text().replace(
            REPO.url, "https://github.com/ailleurs/cours"
        )
    )
    monkeypatch.setattr(launch, "SITE_CONFIG", site)
    diff = notebooks.drift(notebooks.sources()[0])
    changed = [
        line
        for line in diff.splitlines()
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert len(changed) == 2 and "github.com/ailleurs/cours" in changed[1], diff
