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
    report = classroom.run(room, cli.kernel_environment(room), learners=20, workers=5)
    with capsys.disabled():
        print(f"\n[classe] {room.server} : {report.summary()}")
    assert report.problems == []
    # 20 learners in parallel, then the first one again (idempotence).
    assert report.runs == 21 * len(notebooks.sources())


def test_the_classroom_check_sees_faults(room: playground.Playground, tmp_path: Path) -> None:
    """A notebook whose output depends on who runs it, that writes outside the learner's
    prefix, and that gives other outputs and objects when run again, is reported."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, uuid, boto3\n"
        "moi = os.environ['S3COURS_APPRENANT']\n"
        "print(moi[::-1])\n"
        "s3 = boto3.client('s3', endpoint_url='http://' + os.environ['AWS_S3_ENDPOINT'])\n"
        f"s3.put_object(Bucket='{config.LEARNER_BUCKET}', Key='commun.csv', Body=b'a;b')\n"
        f"print(s3.list_objects_v2(Bucket='{config.LEARNER_BUCKET}', Prefix=moi)['KeyCount'])\n"
        f"s3.put_object(Bucket='{config.LEARNER_BUCKET}', Key=f'{{moi}}/{{uuid.uuid4()}}', Body=b'')\n"
        )])
    nb.metadata["kernelspec"] = notebooks.KERNELSPEC
    faulty = tmp_path / "fautif.ipynb"
    nbformat.write(nb, faulty)
    report = classroom.run(room, cli.kernel_environment(room), learners=2, workers=2,
                           chapters=[faulty])
    assert sum("fautif.ipynb différentes de celles de" in p for p in report.problems) == 1
    assert any("hors de tout préfixe" in p and "commun.csv" in p for p in report.problems)
    assert any("différentes au 2e passage" in p for p in report.problems)
    assert any("objets en plus après le 2e passage" in p for p in report.problems)
