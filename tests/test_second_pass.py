"""Idempotence at every test run: right after nbval has run a published notebook (its
learner, ``apprenant``, on the run's playground), the same learner runs it again. The
second pass must give the published outputs again, leave exactly the objects of the
first pass in the learner's course folder, and change nothing in the shared data; then
the folder is emptied, so that every chapter starts on an empty space, as from its own
launch button.

tests/conftest.py puts these tests in nbval's work unit, each right after its notebook's
cells, on a worker that keeps its priority: nbval's pass and this one are the run's
longest chain. Run alone (``./cours test -- tests/test_second_pass.py``), each test runs
the first pass itself. The proof that the check sees a fault is in
tests/test_classroom_faults.py. Several learners at once on one server are the class of
``./cours classroom simulate`` (weekly in CI, and before a training session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3cours import classroom, config, notebooks, playground, suivi


def _chapters() -> list:
    """Every chapter; the Spark chapter's pass runs in its own command (``spark``)."""
    return [
        pytest.param(
            source,
            marks=[pytest.mark.spark] if source.stem == config.SPARK_CHAPTER else [],
        )
        for source in sorted(notebooks.sources())
    ]


@pytest.mark.second_pass
@pytest.mark.parametrize("source", _chapters(), ids=lambda s: s.stem)
def test_a_second_pass_gives_the_published_outputs_and_the_same_objects(
    source: Path,
    session_playground: playground.Playground,
    nbval_ran: set[str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    notebook = notebooks.notebook_path(source)
    collected = {item.nodeid.split("::", 1)[0] for item in request.session.items}
    if f"notebooks/{notebook.name}" in collected:
        # In the same run as nbval: its pass must come first (tests/conftest.py).
        assert notebook.name in nbval_ran, f"nbval n'a pas encore exécuté {notebook}"
    env = dict(os.environ)  # nbval's kernels have the same (the published learner's)
    learner = config.DEFAULT_LEARNER
    try:
        problems = classroom.second_pass(
            session_playground,
            env,
            learner,
            notebook,
            tmp_path,
            after_nbval=notebook.name in nbval_ran,
        )
        # The exercises' answers are where the trainer's follow-up looks, and right.
        problems += suivi.chapter_problems(
            classroom.admin_client(session_playground),
            suivi.Learner(learner, *classroom.learner_space(env, learner)),
            source.stem[:2],
        )
    finally:
        classroom.empty_course_folder(session_playground, env, learner)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("source", sorted(notebooks.sources()), ids=lambda s: s.stem)
def test_every_setup_cell_writes_in_the_course_folder(source: Path) -> None:
    """The second pass compares the learner's course folder only (other tests write
    beside it): every chapter's setup cell must put ``MON_PREFIXE`` there."""
    assert f'+ "{classroom.COURSE_FOLDER}"' in source.read_text(encoding="utf-8")
