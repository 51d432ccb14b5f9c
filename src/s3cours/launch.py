"""A chapter's launch links: SSP Cloud (Onyxia), Binder, Colab, the notebook on GitHub.

All are made here, from the notebook's path and ONE repository setting: ``repo-url`` and
``repo-branch`` under ``website:`` in ``_quarto.yml`` (Quarto uses them too, for the
"view source" and "report an issue" links of every page). The notebook build puts
:func:`badges_markdown` in each notebook's first cell, after the front matter, so the
links show in JupyterLab, on Colab and on the site (rendered from the notebooks) alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import yaml

from . import config

#: Onyxia's launcher for its Jupyter (Python) service on SSP Cloud.
ONYXIA_LAUNCHER = "https://datalab.sspcloud.fr/launcher/ide/jupyter-python"
#: The chapter « Spark et S3 » opens in a Jupyter-pyspark service (Spark, Hadoop with
#: hadoop-aws, Java, and the service's core-site.xml), which takes the same init script.
ONYXIA_SPARK_LAUNCHER = "https://datalab.sspcloud.fr/launcher/ide/jupyter-pyspark"
#: Script Onyxia runs before JupyterLab starts (``init.personalInit``), in this repo.
INIT_SCRIPT = "sspcloud/init-jupyter.sh"
SITE_CONFIG = config.ROOT / "_quarto.yml"
REPO_URL = re.compile(
    r"^https://github\.com/(?P<owner>[A-Za-z0-9-]+)/(?P<name>[A-Za-z0-9._-]+)$"
)


@dataclass(frozen=True)
class Repository:
    """The public GitHub repository of the course, and the branch the links point at."""

    owner: str
    name: str
    branch: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}"

    def blob(self, path: str) -> str:
        return f"{self.url}/blob/{self.branch}/{path}"

    def raw(self, path: str) -> str:
        return (
            f"https://raw.githubusercontent.com/{self.owner}/{self.name}/"
            f"{self.branch}/{path}"
        )


def repository(site_config: Path | None = None) -> Repository:
    """The repository setting, read from ``_quarto.yml``."""
    site_config = site_config or SITE_CONFIG
    website = yaml.safe_load(site_config.read_text())["website"]
    match = REPO_URL.match(website.get("repo-url", ""))
    if not match:
        raise ValueError(
            f"{site_config.name} : website.repo-url doit être "
            f"https://github.com/PROPRIÉTAIRE/DÉPÔT (lu : {website.get('repo-url')!r})"
        )
    return Repository(match["owner"], match["name"], website.get("repo-branch", "main"))


def onyxia_value(value: str) -> str:
    """A string value for an Onyxia launcher parameter: wrapped in « » and URL-encoded,
    as the links made by Onyxia's "Copy auto launch URL" button are."""
    return quote(f"«{value}»", safe="")


def service_name(notebook: str) -> str:
    """The short name of the SSP Cloud service a chapter's launcher opens
    (``cours-s3-01``), shown in the learner's list of services."""
    number = Path(notebook).stem.split("_", 1)[0]
    return f"cours-s3-{number}"


def links(notebook: str, repo: Repository | None = None) -> dict[str, str]:
    """The launch links of a notebook given by its path in the repository
    (``notebooks/01_se_connecter.ipynb``), keyed sspcloud / binder / colab / github."""
    repo = repo or repository()
    chapter = Path(notebook).stem
    launcher = (
        ONYXIA_SPARK_LAUNCHER if chapter == config.SPARK_CHAPTER else ONYXIA_LAUNCHER
    )
    return {
        # ``name`` is a plain query parameter of Onyxia's launcher route (the service's
        # friendly name); only dotted keys (Helm values) take the « » form.
        "sspcloud": (
            f"{launcher}?name={quote(service_name(notebook), safe='')}"
            "&autoLaunch=true"
            f"&init.personalInit={onyxia_value(repo.raw(INIT_SCRIPT))}"
            f"&init.personalInitArgs={onyxia_value(chapter)}"
        ),
        "binder": (
            f"https://mybinder.org/v2/gh/{repo.owner}/{repo.name}/{repo.branch}"
            f"?urlpath={quote('lab/tree/' + notebook, safe='')}"
        ),
        "colab": (
            f"https://colab.research.google.com/github/{repo.owner}/{repo.name}"
            f"/blob/{repo.branch}/{notebook}"
        ),
        "github": repo.blob(notebook),
    }


#: Label and badge image of each link, in the order they are shown.
BADGES = {
    "sspcloud": (
        "Ouvrir sur le SSP Cloud",
        "https://img.shields.io/badge/SSP%20Cloud-Ouvrir%20dans%20Jupyter-orange"
        "?logo=jupyter&logoColor=white",
    ),
    "binder": ("Ouvrir dans Binder", "https://mybinder.org/badge_logo.svg"),
    "colab": (
        "Ouvrir dans Colab",
        "https://colab.research.google.com/assets/colab-badge.svg",
    ),
    "github": (
        "Voir sur GitHub",
        "https://img.shields.io/badge/GitHub-Voir%20le%20notebook-181717?logo=github",
    ),
}


def badges_markdown(notebook: str, repo: Repository | None = None) -> str:
    """One line of markdown badges linking to every launch link of a notebook."""
    urls = links(notebook, repo)
    return " ".join(
        f"[![{label}]({image})]({urls[key]})" for key, (label, image) in BADGES.items()
    )
