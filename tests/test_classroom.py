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


def test_every_notebook_run_twice_gives_the_same_outputs_and_objects(
        room: playground.Playground) -> None:
    env = {**cli.kernel_environment(room), classroom.LEARNER_VARIABLE: "eleve-idem"}
    client = playground.s3_client(room.endpoint_url)
    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        runs = []
        for _ in range(2):
            nb = notebooks.execute(nbformat.read(path, as_version=4), env)
            snapshot = {bucket: classroom.objects(client, bucket)
                        for bucket in (config.DATA_BUCKET, config.LEARNER_BUCKET)}
            runs.append((classroom.output_texts(nb, "eleve-idem"), snapshot))
        assert runs[0][0] == runs[1][0], f"{path.name} : sorties différentes au 2e passage"
        assert runs[0][1] == runs[1][1], f"{path.name} : objets différents au 2e passage"
        committed = classroom.output_texts(nbformat.read(path, as_version=4))
        assert runs[0][0] == committed, f"{path.name} : sorties différentes de celles publiées"
