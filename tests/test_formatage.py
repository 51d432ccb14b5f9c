"""The chapters' code in ruff's form, no line over 88 characters: ``./cours format``.
The tooling's own code too: its Python in ruff's form, no line of it or of its scripts
over 88 characters (``./cours check``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from s3cours import config, formatage, notebooks

#: A code line of 89 characters, in two pieces here to stay within 88 columns.
LONG_CALL = (
    "resultat = calcul(premier_argument_assez_long, deuxieme_argument_assez_long, "
    "troisieme=3)"
)
SOURCE = """---
title: "Essai"
---

Du texte, qui reste tel quel : `x  =  1`.

```{python}
LONG_CALL
```

```{python tags=["raises-exception"]}
%%writefile Snakefile
rule  a:
    input:  "x"
```

```{python}
!mc ls s3
y = {'a':1}
```
""".replace("LONG_CALL", LONG_CALL)


@pytest.mark.parametrize("source", notebooks.sources(), ids=lambda s: s.stem)
def test_every_chapter_is_in_ruffs_form_within_88_columns(source) -> None:
    assert formatage.problems(source) == [], "lancez `./cours format`"


def test_format_touches_only_the_code_and_keeps_magics() -> None:
    new = formatage.formatted(SOURCE)
    assert new.startswith(
        SOURCE[: SOURCE.index("```{python}")]
    )  # text and front matter
    assert "resultat = calcul(\n    premier_argument_assez_long," in new
    # A cell magic whose text is not Python (a Snakefile) stays as it is.
    assert (
        '```{python tags=["raises-exception"]}\n%%writefile Snakefile\nrule  a:\n'
        in new
    )
    assert '!mc ls s3\ny = {"a": 1}\n```' in new
    assert formatage.formatted(new) == new


def test_long_strings_and_comments_are_reported_with_their_line() -> None:
    text = "```{python}\nx = 1\n# " + "très " * 20 + "\n```\n"
    [found] = formatage.long_lines(text)
    assert found.startswith("ligne 3 : 102 caractères (au plus 88)")
    assert formatage.long_lines("Du texte " * 20 + "\n") == []


def test_the_tooling_is_in_ruffs_form_within_88_columns() -> None:
    files = {p.relative_to(config.ROOT).as_posix() for p in formatage.tooling_files()}
    assert {"src/s3cours/cli.py", "tests/conftest.py", "cours", "start"} <= files
    assert ".github/workflows/ci.yml" in files and "sspcloud/init-jupyter.sh" in files
    ruff = tomllib.loads((config.ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["line-length"] == formatage.LINE_LENGTH
    assert formatage.tooling_problems() == []


def test_the_tooling_check_names_each_file_and_line(tmp_path: Path) -> None:
    """A file ruff would change (with the command that fixes it), one it cannot read, a
    long comment, a long script line: each named with its file and line."""
    (tmp_path / "pyproject.toml").write_bytes(
        (config.ROOT / "pyproject.toml").read_bytes()
    )
    package = tmp_path / "src" / "paquet"
    package.mkdir(parents=True)
    (package / "bien.py").write_text("x = 1\n")
    (package / "mal.py").write_text("x = 1\ny  =  2\n")
    (package / "casse.py").write_text("x = (\n")
    (tmp_path / "tests").mkdir()
    comment = "# " + " ".join(["très"] * 20)  # 101 characters, in ruff's form
    (tmp_path / "tests" / "test_long.py").write_text(f"x = 1\n{comment}\n")
    (tmp_path / "cours").write_text("#!/bin/sh\necho " + "a" * 90 + "\n")
    found = formatage.tooling_problems(tmp_path)
    assert found[:2] == [
        "src/paquet/casse.py:2 : ruff ne peut pas le lire "
        "(unexpected EOF while parsing)",
        "src/paquet/mal.py:2 : pas dans la forme de ruff "
        "(lancez `.venv/bin/ruff format src tests`)",
    ]
    assert [line.split(" : ")[0] for line in found[2:]] == [
        "tests/test_long.py:2",
        "cours:2",
    ]
    assert found[2].startswith(
        "tests/test_long.py:2 : 101 caractères (au plus 88) : # "
    )
    assert found[3].startswith("cours:2 : 95 caractères (au plus 88) : echo aaa")
