"""The proof that the class check and the second pass see what they must see: a faulty
notebook followed by the class of `./cours classroom simulate`, and run twice as the
test command's second pass does (tests/test_second_pass.py), on a twin of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from s3cours import classroom, cli, config, notebooks, playground

#: The second pass's learner here: not the class's (``eleve-01``…), on the same twin.
LEARNER = "eleve-001"


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
    # 5: a second run leaves more objects (in the course folder, which the second pass
    # compares; the class compares the whole space).
    "s3.put_object(Bucket=bucket, Key=f'{prefixe}cours-python-s3/{uuid.uuid4()}', "
    "Body=b'')",
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


def test_the_second_pass_sees_every_fault(
    room: playground.Playground, tmp_path: Path
) -> None:
    """... and in the test command's second pass, which compares a learner's second run
    with the published outputs (those of `apprenant`, recorded in the notebook) and
    with the objects of their first run."""
    from nbclient import NotebookClient

    faulty = faulty_notebook(tmp_path)
    published = nbformat.read(faulty, as_version=4)
    # "Built" by apprenant, as ./cours build does.
    NotebookClient(
        published, kernel_name=notebooks.KERNELSPEC["name"], allow_errors=True
    ).execute(env=cli.kernel_environment(room))
    nbformat.write(published, faulty)
    env = classroom.learner_environment(room, cli.kernel_environment(room), LEARNER)
    scratch = tmp_path / "second"
    scratch.mkdir()
    problems = "\n".join(
        classroom.second_pass(room, env, LEARNER, faulty, scratch, after_nbval=False)
    )
    bucket, prefix = classroom.learner_space(env, LEARNER)
    assert (
        f"{LEARNER} : sorties de fautif.ipynb au 2e passage différentes de celles "
        "publiées (cellule de code n° 2)"
    ) in problems
    assert (
        f"{LEARNER} : objets en plus dans {bucket}/{prefix}"
        f"{classroom.COURSE_FOLDER} après le 2e passage"
    ) in problems
    # The write outside: refused on the twin (an untagged error, both passes), or seen.
    assert (
        "données partagées : objets en plus après le 2e passage : commun.csv"
        in problems
        or problems.count("fautif.ipynb, cellule de code n° 3 : AccessDenied") == 2
    )
    assert problems.count("cellule de code n° 6 : RuntimeError: non prévue") == 2
    assert "ValueError" not in problems
    # The next chapter starts on an empty course folder.
    assert classroom.empty_course_folder(room, env, LEARNER) > 0
    client = classroom.admin_client(room)
    assert classroom.objects(client, bucket, prefix + classroom.COURSE_FOLDER) == {}
