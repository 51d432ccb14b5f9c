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
    """A notebook whose output depends on who runs it, and that writes outside the learner's
    prefix, is reported."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, boto3\n"
        "print(os.environ['S3COURS_APPRENANT'][::-1])\n"
        "boto3.client('s3', endpoint_url='http://' + os.environ['AWS_S3_ENDPOINT'])"
        f".put_object(Bucket='{config.LEARNER_BUCKET}', Key='commun.csv', Body=b'a;b')\n")])
    nb.metadata["kernelspec"] = notebooks.KERNELSPEC
    faulty = tmp_path / "fautif.ipynb"
    nbformat.write(nb, faulty)
    report = classroom.run(room, cli.kernel_environment(room), learners=2, workers=2,
                           chapters=[faulty])
    assert sum("sorties de fautif.ipynb différentes" in p for p in report.problems) == 1
    assert any("hors de tout préfixe" in p and "commun.csv" in p for p in report.problems)


def test_every_notebook_run_twice_gives_the_same_outputs_and_objects(
        room: playground.Playground) -> None:
    # The default learner, as in the build: outputs must then equal the published ones.
    env = {k: v for k, v in cli.kernel_environment(room).items()
           if k != classroom.LEARNER_VARIABLE}
    client = playground.s3_client(room.endpoint_url)
    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        runs = []
        for _ in range(2):
            nb = notebooks.execute(nbformat.read(path, as_version=4), env)
            snapshot = {bucket: classroom.objects(client, bucket)
                        for bucket in (config.DATA_BUCKET, config.LEARNER_BUCKET)}
            runs.append((classroom.output_texts(nb), snapshot))
        assert runs[0][0] == runs[1][0], f"{path.name} : sorties différentes au 2e passage"
        assert runs[0][1] == runs[1][1], f"{path.name} : objets différents au 2e passage"
        committed = classroom.output_texts(nbformat.read(path, as_version=4))
        assert runs[0][0] == committed, f"{path.name} : sorties différentes de celles publiées"
