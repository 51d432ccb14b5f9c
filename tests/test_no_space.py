"""When nothing names the learner's space (no S3COURS_ESPACE, an empty
AWS_WORKING_DIRECTORY_PATH, a namespace that is not SSP Cloud's), as on an Onyxia 11
service outside Kubernetes or on AWS: the chapter on sharing (which reads, writes and
publishes) runs through, every cell that only reads works, every cell that writes stops
before any request with the French explanation, and nothing is written anywhere. The
service's home has no DuckDB secret of the image's (as on a laptop or Colab): the
chapter's duckdb cells do not need it."""

from __future__ import annotations

from pathlib import Path

from s3cours import classroom, cli, config, diagnostic, learners, playground

#: A learner of its own on the run's playground: their bucket must stay empty.
LEARNER = "sans-espace"
CHAPTER = config.NOTEBOOKS_DIR / "05_partager.ipynb"


def test_without_a_space_reading_cells_run_and_writing_cells_explain(
    session_playground: playground.Playground, tmp_path: Path
) -> None:
    env = classroom.learner_environment(
        session_playground, cli.kernel_environment(session_playground), LEARNER
    )
    env["KUBERNETES_NAMESPACE"] = "default"
    env["HOME"] = str(tmp_path)  # no DuckDB secret of the image's
    # ... but DuckDB's httpfs, which INSTALL takes from DuckDB's repository on a laptop
    # (this machine may be offline: the tooling installs the same signed file).
    import duckdb

    con = duckdb.connect(
        config={"extension_directory": str(tmp_path / ".duckdb" / "extensions")}
    )
    playground.install_duckdb_extensions(con)
    con.close()
    assert learners.space(env) is None
    admin = classroom.admin_client(session_playground)
    shared_before = classroom.objects(admin, config.DATA_BUCKET)
    run = classroom.run_chapter(CHAPTER, env, LEARNER, keep=True)
    nb = run.notebook_node
    explained = 0
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if not errors or "raises-exception" in cell.metadata.get("tags", []):
            continue
        error = errors[0]
        text = "".join(
            o.get("text", "") for o in cell.outputs if o.output_type == "stream"
        )
        # The only untagged errors: a name the setup cell left undefined (or one drawn
        # from it, such as a prefix under MON_PREFIXE), explained.
        assert error.ename == "NameError", (cell.source[:200], error.evalue)
        assert diagnostic.NO_SPACE.what in text, cell.source[:200]
        explained += 1
    assert explained > 10
    # Cells that only read did run: the setup cell found the shared data, every cell
    # that does not use the space gave no error (checked above).
    outputs = "\n".join(run.outputs)
    assert (
        f"Données du cours : s3://{config.DATA_BUCKET}/{config.DATA_PREFIX}" in outputs
    )
    assert "aucun espace à vous n'est nommé ici" in outputs
    # Nothing written: not in the learner's bucket, not in the shared data.
    assert classroom.objects(admin, LEARNER) == {}
    assert classroom.objects(admin, config.DATA_BUCKET) == shared_before
