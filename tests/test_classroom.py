"""A classroom on one server: every chapter notebook run by 20 learners at once."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from s3cours import classroom, cli, config, notebooks, playground


@pytest.fixture
def room(state_dir: Path) -> playground.Playground:
    return playground.start(state_dir=state_dir, log=lambda _: None)


@pytest.mark.classroom
def test_twenty_learners_at_once(room: playground.Playground,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = classroom.run(room, cli.kernel_environment(room), learners=20, workers=6)
    with capsys.disabled():
        print(f"\n[classe] {room.server} : {report.summary()}")
    assert report.problems == []
    assert report.runs == 20 * len(notebooks.sources())


def test_the_classroom_check_sees_faults(room: playground.Playground, tmp_path: Path) -> None:
    nb = nbformat.read(notebooks.notebook_path(notebooks.sources()[0]), as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.outputs)
    cell.outputs[0].text = "sortie modifiée à la main\n"
    edited = tmp_path / "edited.ipynb"
    nbformat.write(nb, edited)
    playground.s3_client(room.endpoint_url).put_object(
        Bucket=config.LEARNER_BUCKET, Key="commun.csv", Body=b"a;b\n")
    report = classroom.run(room, cli.kernel_environment(room), learners=2, workers=2,
                           chapters=[edited])
    assert sum("sorties de edited.ipynb différentes" in p for p in report.problems) == 2
    assert any("hors de tout préfixe" in p and "commun.csv" in p for p in report.problems)
