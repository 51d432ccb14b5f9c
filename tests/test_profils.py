"""S3 profiles (Onyxia 11.5 gives a service each S3 profile of its user, ``s3_array``):
a service with a named profile and no S3 variable runs the chapter « Recettes du
quotidien » through (the setup cell reads the profile; all eight libraries, ``mc``
through the alias the tooling makes of the variables), and so does today's SSP Cloud
service (variables, no profile file), where the recipe « Deux profils, deux serveurs »
writes both profiles itself. The build and `./cours test` give the default learner two
servers and two profiles (``cli.second_server``); these two runs have neither."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3cours import classroom, cli, config, playground

CHAPTER = config.NOTEBOOKS_DIR / "09_recettes.ipynb"


def base_environment(started: playground.Playground) -> dict[str, str]:
    """The kernels' environment of the run, without any S3 variable."""
    return {
        name: value
        for name, value in cli.kernel_environment(started).items()
        if name not in playground.VARIABLES
    }


def run(env: dict[str, str], learner: str) -> classroom.ChapterRun:
    """The chapter for ``learner``, whose home gets the image's DuckDB extensions (no
    secret: the image writes one only from S3 variables)."""
    playground.give_duckdb_extensions(Path(env["HOME"]))
    result = classroom.run_chapter(CHAPTER, env, learner)
    assert result.errors == [], result.errors
    return result


def test_a_service_with_a_profile_and_no_s3_variable(
    session_playground: playground.Playground,
) -> None:
    learner = "profil-seul"
    playground.add_learner(session_playground, learner)
    env = {
        **base_environment(session_playground),
        **playground.profile_service(session_playground, learner),
    }
    assert not any(name in env for name in ("AWS_S3_ENDPOINT", "AWS_ACCESS_KEY_ID"))
    home = Path(env["HOME"])
    assert "aws_session_token = " in (home / ".aws" / "credentials").read_text()
    result = run(env, learner)
    outputs = "\n".join(result.outputs)
    assert f"Profil S3 : {playground.PROFILE}" in outputs
    assert "Identifiants trouvés : oui" in outputs
    # (outputs sanitized as nbval does: the learner's space reads APPRENANT)
    assert "Vos écritures : s3://APPRENANT/cours-python-s3/ (d'après KUBERNETES" in (
        outputs
    )
    # One profile here: the recipe wrote both, to the one server, in its own folder.
    assert "Profils écrits depuis vos variables" in outputs
    assert "un seul serveur, désigné par les deux profils" in outputs
    assert outputs.count("copié :") == 7  # every tab but Snakemake's, which logs
    assert "Storing in storage:" in outputs
    assert "copies dans votre bucket : 8" in outputs
    admin = classroom.admin_client(session_playground)
    assert classroom.objects(admin, learner, f"{learner}/cours-python-s3/") == {}


def test_today_sspcloud_variables_and_no_profile_file(
    session_playground: playground.Playground, tmp_path: Path
) -> None:
    """Today's SSP Cloud: https, the variables, no profile file; here on a twin of its
    own, without the shared data (as before a trainer publishes them)."""
    learner = "sans-profil"
    state = tmp_path / "etat"
    twin = playground.start(
        state_dir=state, tls=True, shared_data=False, log=lambda _: None
    )
    try:
        env = classroom.learner_environment(
            twin, base_environment(session_playground), learner
        )
        outputs = "\n".join(run(env, learner).outputs)
    finally:
        playground.stop(state)
    assert env["AWS_ENDPOINT_URL"].startswith("https://")
    assert "AWS_PROFILE" not in env
    assert "Profil S3 :" not in outputs
    assert "Profils écrits depuis vos variables" in outputs
    assert "un seul serveur, désigné par les deux profils" in outputs
    assert "copies dans votre bucket : 8" in outputs
    assert not (Path(env["HOME"]) / ".aws").exists()  # the learner's ~/.aws untouched


@pytest.mark.parametrize("token", [True, False])
def test_profile_files_are_onyxia_s(token: bool) -> None:
    """The form of Onyxia's « AWS CLI / shared profile » snippet: never an empty
    ``aws_session_token``."""
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000/",
        "AWS_ACCESS_KEY_ID": "K",
        "AWS_SECRET_ACCESS_KEY": "S",
        "AWS_SESSION_TOKEN": "T" if token else "",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    config_text, credentials = playground.profile_files({"perso": env})
    assert config_text.splitlines() == [
        "[profile perso]",
        "region = us-east-1",
        "services = perso-s3",
        "",
        "[services perso-s3]",
        "s3 =",
        "  endpoint_url = http://127.0.0.1:9000",
    ]
    assert ("aws_session_token = T" in credentials) is token
    assert "aws_session_token = \n" not in credentials + "\n"
