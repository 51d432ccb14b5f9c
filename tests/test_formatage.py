"""The chapters' code in ruff's form, no line over 88 characters: ``./cours format``."""

from __future__ import annotations

import pytest

from s3cours import formatage, notebooks

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
