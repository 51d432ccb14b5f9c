"""A rebuild of an unchanged tree leaves it clean (``notebooks.keep_or_write``): the
notebook in place stays, byte for byte, when a new run only changes volatile values,
and the whole new run is written as soon as anything the tests compare changes.

The new runs here are fakes made from the published notebooks (no kernel: these tests
take well under a second): each changes what a real rebuild changes (object dates,
temporary folders, the measurements of the cells tagged ``nbval-ignore-output``, the
port when the playground could not have the course's own), or one value more."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from s3cours import notebooks

NOTEBOOKS = sorted(notebooks.config.NOTEBOOKS_DIR.glob("*.ipynb"))


def _outputs_text(cell: nbformat.NotebookNode) -> list[tuple[dict, str]]:
    """Each text of a code cell's outputs, with the place that holds it."""
    found = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            found.append((output, "text"))
        for mime, value in output.get("data", {}).items():
            if isinstance(value, str) and mime.startswith("text/"):
                found.append((output["data"], mime))
    return found


def _digits_changed(text: str) -> str:
    """Every digit moved by one: another measurement, date or folder."""
    return re.sub(r"\d", lambda m: str((int(m[0]) + 1) % 10), text)


def rerun(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A fake new run of ``nb``: what a rebuild of an unchanged source changes."""
    new = copy.deepcopy(nb)
    for cell in new.cells:
        if cell.cell_type != "code":
            continue
        for holder, key in _outputs_text(cell):
            text = holder[key]
            if notebooks.volatile(cell):
                text = _digits_changed(text)  # a new measurement
            text = re.sub(
                r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}",
                "2031-01-02 03:04:05",
                text,
            )
            text = re.sub(r"/tmp/[A-Za-z0-9_]+", "/tmp/tmpautre", text)
            holder[key] = text
        for output in cell.outputs:
            if "image/png" in output.get("data", {}):
                output["data"]["image/png"] = "iVBORw0KGgoAAAANSUhEUg=="  # redrawn
    return new


def written(tmp_path: Path, recorded: Path, new: nbformat.NotebookNode, **kw) -> bool:
    target = tmp_path / recorded.name
    target.write_bytes(recorded.read_bytes())
    done = notebooks.keep_or_write(new, target, **kw)
    if not done:
        assert target.read_bytes() == recorded.read_bytes()
    else:
        assert nbformat.read(target, as_version=4) == new
    return done


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_a_rebuild_that_changes_only_volatile_values_keeps_the_notebook(
    notebook: Path, tmp_path: Path
) -> None:
    nb = nbformat.read(notebook, as_version=4)
    assert not written(tmp_path, notebook, rerun(nb), deterministic=("port",))


def first(nb: nbformat.NotebookNode, volatile: bool) -> nbformat.NotebookNode:
    """The first code cell with a text output, volatile or not."""
    return next(
        c
        for c in nb.cells
        if c.cell_type == "code"
        and _outputs_text(c)
        and notebooks.volatile(c) == volatile
    )


def test_a_real_change_writes_the_whole_new_run(tmp_path: Path) -> None:
    notebook = notebooks.config.NOTEBOOKS_DIR / "06_gros_volumes.ipynb"
    new = rerun(nbformat.read(notebook, as_version=4))
    holder, key = _outputs_text(first(new, volatile=False))[0]
    holder[key] += "une ligne de plus\n"
    assert written(tmp_path, notebook, new)
    # The measurements too come from the new run: never two runs in one notebook.
    kept = nbformat.read(tmp_path / notebook.name, as_version=4)
    assert (
        _outputs_text(first(kept, volatile=True))[0][0]
        == _outputs_text(first(new, volatile=True))[0][0]
    )


def test_what_else_a_rebuild_may_change_is_written(tmp_path: Path) -> None:
    notebook = notebooks.config.NOTEBOOKS_DIR / "02_lire.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    code = first(nb, volatile=False)
    cases = {}
    cases["métadonnées"] = copy.deepcopy(nb)
    cases["métadonnées"].metadata.language_info["version"] = "3.12"
    cases["source"] = copy.deepcopy(nb)
    first(cases["source"], volatile=False).source += "\n"
    cases["numéro d'exécution"] = copy.deepcopy(nb)
    first(cases["numéro d'exécution"], volatile=False).execution_count += 1
    cases["sortie en plus"] = copy.deepcopy(nb)
    first(cases["sortie en plus"], volatile=False).outputs.append(
        nbformat.v4.new_output("stream", name="stderr", text="attention\n")
    )
    cases["cellule en moins"] = copy.deepcopy(nb)
    cases["cellule en moins"].cells.remove(
        next(c for c in cases["cellule en moins"].cells if c.id == code.id)
    )
    for name, new in cases.items():
        assert written(tmp_path, notebook, new), name
    assert written(tmp_path, notebook, rerun(nb), rewrite=True)


def test_a_volatile_cell_keeps_the_kinds_of_its_outputs(tmp_path: Path) -> None:
    notebook = notebooks.config.NOTEBOOKS_DIR / "06_gros_volumes.ipynb"
    new = rerun(nbformat.read(notebook, as_version=4))
    first(new, volatile=True).outputs.append(
        nbformat.v4.new_output("stream", name="stderr", text="Traceback…\n")
    )
    assert written(tmp_path, notebook, new)


def test_the_port_is_volatile_only_when_the_build_has_no_fixed_port(
    tmp_path: Path,
) -> None:
    notebook = notebooks.config.NOTEBOOKS_DIR / "01_se_connecter.ipynb"
    new = nbformat.read(notebook, as_version=4)
    changed = 0
    for cell in new.cells:
        for holder, key in _outputs_text(cell) if cell.cell_type == "code" else []:
            text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:43210", holder[key])
            changed += text != holder[key]
            holder[key] = text
    assert changed
    assert not written(tmp_path, notebook, new)  # a port drawn at random
    assert written(tmp_path, notebook, new, deterministic=("port",))


def test_the_sanitizers_are_read_as_nbval_reads_them() -> None:
    from nbval.plugin import get_sanitize_patterns

    everything = get_sanitize_patterns(notebooks.SANITIZE_FILE.read_text())
    assert notebooks.sanitizers() == everything and len(everything) >= 5
    without = notebooks.sanitizers(("port",))
    assert [p for p in everything if p not in without] == [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT")
    ]


# ------------------------------------------------------- the build's console output


def test_the_builds_kernels_start_without_a_warning() -> None:
    """ipykernel warns at each start on unencrypted channels (eight lines per build):
    the build's kernels get CurveZMQ keys from their manager. The kernel's own output
    goes to the build's console: a real kernel, a cell run, nothing on it."""
    code = (
        "import nbformat\n"
        "from s3cours import notebooks\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1 + 1')])\n"
        "out = notebooks.execute(nb, {}).cells[0].outputs[0]\n"
        "print(out['data']['text/plain'])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "2\n" and run.stderr == "", run.stderr


def test_the_kernels_spark_settings_quiet_what_says_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from s3cours import cli

    monkeypatch.setenv("SPARK_SUBMIT_OPTS", "-Dautre=1")
    env = cli.java_logging()
    properties = Path(env["SPARK_CONF_DIR"]) / "log4j2.properties"
    assert properties.read_text() == cli.LOG4J2
    assert "logger.native.level = error" in cli.LOG4J2
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert env["SPARK_SUBMIT_OPTS"].split() == ["-Dautre=1", *cli.IVY_QUIET]


#: What the build printed while chapter 8's kernel started (Spark 4.1.1, jars cached),
#: between two lines of the course, and what may follow.
SPARK_START = """\
notebooks/07_depannage.ipynb exécuté en 11.1 s
WARNING: Using incubator modules: jdk.incubator.vector
:: loading settings :: url = jar:file:/x/pyspark/jars/ivy-2.5.3.jar!/org/ivysettings.xml
Ivy Default Cache set to: /root/.cache/s3cours/spark/ivy/cache
The jars for the packages stored in: /root/.cache/s3cours/spark/ivy/jars
org.apache.hadoop#hadoop-aws added as a dependency
:: resolving dependencies :: org.apache.spark#spark-submit-parent-66f3;1.0
\tconfs: [default]
:: resolution report :: resolve 1041ms :: artifacts dl 34ms
\t:: evicted modules:
\tcom.squareup.okio#okio;1.15.0 by [com.squareup.okio#okio;1.17.6] in [default]
\t---------------------------------------------------------------------
\t|      default     |   21  |   0   |   0   |   3   ||   18  |   0   |
:: retrieving :: org.apache.spark#spark-submit-parent-66f3
\tconfs: [default]
\t0 artifacts copied, 18 already retrieved (0kB/11ms)
SLF4J: Failed to load class "org.slf4j.impl.StaticLoggerBinder".
SLF4J: Defaulting to no-operation (NOP) logger implementation
SLF4J: See http://www.slf4j.org/codes.html#StaticLoggerBinder for further details.
26/12/07 20:26:01 WARN SparkConf: a real warning
java.lang.IllegalStateException: boom
\tat org.apache.spark.SparkContext.<init>(SparkContext.scala:1)
"""


def test_the_build_console_drops_the_jvms_noise_and_keeps_the_rest() -> None:
    kept = list(notebooks.console_lines(SPARK_START.splitlines(keepends=True)))
    assert kept == [
        "notebooks/07_depannage.ipynb exécuté en 11.1 s\n",
        "26/12/07 20:26:01 WARN SparkConf: a real warning\n",
        "java.lang.IllegalStateException: boom\n",
        "\tat org.apache.spark.SparkContext.<init>(SparkContext.scala:1)\n",
    ]


def test_the_build_console_shows_ivys_failures() -> None:
    failing = [
        ":: resolving dependencies :: org.apache.spark#spark-submit-parent;1.0\n",
        "\tconfs: [default]\n",
        "\t:: UNRESOLVED DEPENDENCIES ::\n",
        "\t:: org.apache.hadoop#hadoop-aws;3.4.2: not found\n",
        "::::::::::::::::::::::::::::::::::::::::::::::\n",
    ]
    kept = list(notebooks.console_lines(["Ivy Default Cache set to: /c\n", *failing]))
    assert kept == failing[2:]
