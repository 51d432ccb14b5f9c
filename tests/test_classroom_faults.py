"""The proof that the class check sees what it must see: a faulty notebook followed by
the class of `./cours classroom simulate` and by the test command's small class, on a
twin of their own. Apart from tests/test_classroom.py, so that these tests do not wait
behind the small class on its worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from s3cours import classroom, cli, config, notebooks, playground

from test_classroom import SMALL_CLASS_LEARNER


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[playground.Playground]:
    """A twin of its own for the fault-injection tests (one for both: their learners
    differ), over https and WITHOUT the shared course data (the data-absent path of the
    setup cells, on a server where nothing else runs)."""
    state = tmp_path_factory.mktemp("room") / "state"
    yield playground.start(
        state_dir=state, tls=True, shared_data=False, log=lambda _: None
    )
    playground.stop(state)


FAULTY_CELLS = [
    # 1: the learner's space, read as the chapters read it (learners.space, under
    # classroom.learner_space; not classroom itself, whose nbformat import costs each of
    # these kernels about 2 s of CPU).
    "import os, uuid, boto3\n"
    "from s3cours.learners import space\n"
    "bucket, prefixe = space(dict(os.environ))\n"
    "s3 = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'])",
    # 2: an output that depends on the learner.
    "print(bucket[::-1], prefixe[::-1])",
    # 3: a write outside the learner's space (refused on the SSP Cloud twin: an error).
    f"s3.put_object(Bucket='{config.DATA_BUCKET}', Key='commun.csv', Body=b'a;b')",
    # 4: an output that changes at the second run (the objects of cell 5 pile up).
    "print(s3.list_objects_v2(Bucket=bucket, Prefix=prefixe)['KeyCount'])",
    # 5: a second run leaves more objects.
    "s3.put_object(Bucket=bucket, Key=f'{prefixe}{uuid.uuid4()}', Body=b'')",
    # 6: an error nobody expected.
    "raise RuntimeError('non prévue')",
]


def faulty_notebook(folder: Path) -> Path:
    cells = [nbformat.v4.new_code_cell(code) for code in FAULTY_CELLS]
    cells.append(
        nbformat.v4.new_code_cell(
            "raise ValueError('prévue')", metadata={"tags": ["raises-exception"]}
        )
    )
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = notebooks.KERNELSPEC
    faulty = folder / "fautif.ipynb"
    nbformat.write(nb, faulty)
    return faulty


def test_the_class_check_sees_every_fault(
    room: playground.Playground, tmp_path: Path
) -> None:
    """A notebook whose output depends on who runs it, that writes outside the learner's
    space, that gives other outputs and leaves more objects when run again, and that has
    an untagged error (and a tagged one, which is fine), is reported for each of these:
    in the class of `./cours classroom simulate` (learners compared with the first
    one)..."""
    faulty = faulty_notebook(tmp_path)
    report = classroom.run(
        room, cli.kernel_environment(room), learners=2, workers=2, chapters=[faulty]
    )
    problems = "\n".join(report.problems)
    assert report.runs == 3
    # Learner-dependent output.
    assert (
        "eleve-02 : sorties de fautif.ipynb différentes de celles de eleve-01"
        in problems
    )
    # Write outside: seen as an object outside every learner's space, or refused.
    assert (
        f"hors des espaces des apprenants : {config.DATA_BUCKET}/commun.csv" in problems
        or "fautif.ipynb, cellule de code n° 3 : AccessDenied" in problems
    )
    # Second run: other outputs, more objects.
    assert "eleve-01 : sorties de fautif.ipynb différentes au 2e passage" in problems
    assert "eleve-01 : objets en plus dans son espace après le 2e passage" in problems
    # The untagged error, for each run; the tagged one is not a problem.
    assert problems.count("cellule de code n° 6 : RuntimeError: non prévue") == 3
    assert "ValueError" not in problems


def test_the_class_beside_the_published_run_sees_every_fault(
    room: playground.Playground, tmp_path: Path
) -> None:
    """... and in the test command's small class, whose learners follow their share of
    the chapters twice and are compared with the published outputs (those of
    `apprenant`, recorded in the notebook)."""
    from nbclient import NotebookClient

    faulty = faulty_notebook(tmp_path)
    published = nbformat.read(
        faulty, as_version=4
    )  # "built" by apprenant, as ./cours build
    NotebookClient(
        published, kernel_name=notebooks.KERNELSPEC["name"], allow_errors=True
    ).execute(env=cli.kernel_environment(room))
    nbformat.write(published, faulty)
    report = classroom.run(
        room,
        cli.kernel_environment(room),
        names=[SMALL_CLASS_LEARNER],
        workers=1,
        beside_published=True,
        shares=[[faulty]],
    )
    problems = "\n".join(report.problems)
    assert report.runs == 2
    assert (
        f"{SMALL_CLASS_LEARNER} : sorties de fautif.ipynb différentes de celles "
        f"publiées (celles de {config.DEFAULT_LEARNER}) (cellule de code n° 2)"
    ) in problems
    assert (
        f"hors des espaces des apprenants : {config.DATA_BUCKET}/commun.csv" in problems
        or "fautif.ipynb, cellule de code n° 3 : AccessDenied" in problems
    )
    assert (
        f"{SMALL_CLASS_LEARNER} : sorties de fautif.ipynb différentes au 2e passage"
        in problems
    )
    assert (
        f"{SMALL_CLASS_LEARNER} : objets en plus dans son espace après le 2e passage"
        in problems
    )
    assert problems.count("cellule de code n° 6 : RuntimeError: non prévue") == 2
    assert "ValueError" not in problems
