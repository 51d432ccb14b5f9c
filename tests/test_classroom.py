"""A small class on one server at every test run: a few learners follow every chapter at the
same time, the first one twice; and the proof that the class check sees what it must see.

The 20-learner class is its own command (``./cours classroom simulate --learners 20``), run
weekly by ``.github/workflows/classe.yml`` and before a training session."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from s3cours import classroom, cli, config, notebooks, playground

#: Three learners, two at a time: the first one's two passes in one worker, the two others
#: one after the other in the second; so two chapter runs are always under way, each against
#: another learner's. Chosen from measurements: see the README, "La petite classe".
SMALL_CLASS = {"learners": 2, "workers": 2}


@pytest.fixture
def room(state_dir: Path) -> playground.Playground:
    """The class's own twin, over https and WITHOUT the shared course data: the class's runs
    are also the test command's https and data-absent runs of every chapter (nbval compares
    the published outputs on the session's twin, over http, with the data)."""
    return playground.start(state_dir=state_dir, tls=True, shared_data=False,
                            log=lambda _: None)


@pytest.mark.classroom
def test_a_small_class_at_once(room: playground.Playground,
                               record_property) -> None:  # noqa: ANN001
    report = classroom.run(room, cli.kernel_environment(room), **SMALL_CLASS)
    # Printed at the end of the run, before the slowest tests (tests/conftest.py).
    record_property("bilan", f"[classe] {report.summary()}")
    assert report.problems == [], "\n".join(report.problems)
    # Every learner once, and the first one a second time.
    assert report.runs == (SMALL_CLASS["learners"] + 1) * len(notebooks.sources())


FAULTY_CELLS = [
    # 1: the learner's space, read as the chapters read it (classroom.learner_space).
    "import os, uuid, boto3\n"
    "bucket, _, prefixe = os.environ['AWS_WORKING_DIRECTORY_PATH'].partition('/')\n"
    "s3 = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'])",
    # 2: an output that depends on the learner.
    "print(bucket[::-1], prefixe[::-1])",
    # 3: a write outside the learner's space (refused on the SSP Cloud twin: an error then).
    f"s3.put_object(Bucket='{config.DATA_BUCKET}', Key='commun.csv', Body=b'a;b')",
    # 4: an output that changes at the second run (the objects of cell 5 pile up).
    "print(s3.list_objects_v2(Bucket=bucket, Prefix=prefixe)['KeyCount'])",
    # 5: a second run leaves more objects.
    "s3.put_object(Bucket=bucket, Key=f'{prefixe}{uuid.uuid4()}', Body=b'')",
    # 6: an error nobody expected.
    "raise RuntimeError('non prévue')",
]


def test_the_class_check_sees_every_fault(room: playground.Playground, tmp_path: Path) -> None:
    """A notebook whose output depends on who runs it, that writes outside the learner's
    space, that gives other outputs and leaves more objects when run again, and that has an
    untagged error (and a tagged one, which is fine), is reported for each of these."""
    cells = [nbformat.v4.new_code_cell(code) for code in FAULTY_CELLS]
    cells.append(nbformat.v4.new_code_cell("raise ValueError('prévue')",
                                           metadata={"tags": ["raises-exception"]}))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = notebooks.KERNELSPEC
    faulty = tmp_path / "fautif.ipynb"
    nbformat.write(nb, faulty)
    report = classroom.run(room, cli.kernel_environment(room), learners=2, workers=2,
                           chapters=[faulty])
    problems = "\n".join(report.problems)
    assert report.runs == 3
    # Learner-dependent output.
    assert "eleve-02 : sorties de fautif.ipynb différentes de celles de eleve-01" in problems
    # Write outside: seen as an object outside every learner's space, or refused.
    assert (f"hors des espaces des apprenants : {config.DATA_BUCKET}/commun.csv" in problems
            or "fautif.ipynb, cellule de code n° 3 : AccessDenied" in problems)
    # Second run: other outputs, more objects.
    assert "eleve-01 : sorties de fautif.ipynb différentes au 2e passage" in problems
    assert "eleve-01 : objets en plus dans son espace après le 2e passage" in problems
    # The untagged error, for each run; the tagged one is not a problem.
    assert problems.count("cellule de code n° 6 : RuntimeError: non prévue") == 3
    assert "ValueError" not in problems


def test_classroom_is_a_command_group() -> None:
    args = cli.parser().parse_args(["classroom", "simulate", "--learners", "4", "--workers", "2"])
    assert args.func is cli.cmd_classroom_simulate
    assert (args.learners, args.workers) == (4, 2)
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["classroom"])


def test_simulate_refuses_a_class_of_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["classroom", "simulate", "--learners", "1"]) == 2
    assert "au moins 2 apprenants" in capsys.readouterr().err
