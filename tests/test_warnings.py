"""Notebooks run with DeprecationWarning and FutureWarning as errors in their code."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from s3cours import cli, notebooks


def _run(code: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = notebooks.KERNELSPEC
    env = {"PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "")}
    notebooks.execute(nb, env, timeout=120)


def test_the_test_command_turns_them_into_errors() -> None:
    assert "error::DeprecationWarning:__main__" in os.environ.get("PYTHONWARNINGS", "")
    assert set(cli.NOTEBOOK_WARNINGS) == {"DeprecationWarning", "FutureWarning"}


@pytest.mark.parametrize("category", cli.NOTEBOOK_WARNINGS)
def test_a_deprecated_call_in_a_notebook_fails(category: str) -> None:
    with pytest.raises(CellExecutionError, match=category):
        _run(f"import warnings\nwarnings.warn('ancienne API', {category})")


def test_a_plain_cell_runs() -> None:
    _run("print('ok')")
