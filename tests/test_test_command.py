"""The test command's own output (its five slowest tests at the end, pytest's summary
line last) and its processes' environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from s3cours import cli


def test_slowest_tests_are_listed_before_the_last_summary_line(tmp_path: Path) -> None:
    (tmp_path / "test_petit.py").write_text(
        "import time\n\ndef test_lent():\n    time.sleep(0.05)\n"
        "\ndef test_vite():\n    pass\n"
    )
    # With the test command's own options, workers included (pytest-xdist).
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *cli.PYTEST_OPTIONS,
            *cli.PARALLEL_OPTIONS,
            "-p",
            "no:nbval",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert run.returncode == 0, run.stdout
    durations = next(i for i, line in enumerate(lines) if "slowest 5 durations" in line)
    assert "test_lent" in lines[durations + 1]
    assert "2 passed" in lines[-1] and lines[-1].startswith("=")


def test_nbformat_validates_without_building_the_iri_parsers() -> None:
    """In the test command's processes, jsonschema finds the stand-in of rfc3987_syntax
    (tests/sans_iri/) and skips the 38 Lark parsers; notebooks are still validated."""
    import nbformat
    import pytest

    assert str(cli.TEST_PYTHONPATH) in sys.path
    assert "rfc3987_syntax" not in sys.modules and "lark" not in sys.modules
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    broken.cells[0]["outputs"] = [{"output_type": "nulle part"}]
    with pytest.raises(nbformat.ValidationError):
        nbformat.validate(broken)


def test_the_yield_to_the_course_reaches_every_item(
    pytestconfig,  # noqa: ANN001
) -> None:
    """A plugin, not a conftest hook: a conftest's hooks skip the items outside its
    folder, and nbval's notebooks are in notebooks/ (the second pass would not know
    that nbval ran them)."""
    import types

    plugin = pytestconfig.pluginmanager.get_plugin("s3cours-yield-to-the-course")
    assert plugin is not None
    assert not isinstance(plugin, types.ModuleType)  # an object, not a conftest module
