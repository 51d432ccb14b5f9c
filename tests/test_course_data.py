"""The course data wherever the learner is: one setting says where the shared copy
lives, every chapter agrees with it, and when the shared copy cannot be read from here
the chapter reads a copy placed once in the learner's own space (the same bytes, checked
by SHA-256)."""

from __future__ import annotations

import ast
import hashlib
import os
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from s3cours import classroom, cli, config, course_data, data, notebooks


def _assigned_location(cell: str) -> tuple[str, str]:
    """The literal ``BUCKET, PREFIXE = "...", "..."`` of a setup cell."""
    for node in ast.walk(ast.parse(cell)):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Tuple)
            and [t.id for t in node.targets[0].elts] == ["BUCKET", "PREFIXE"]
            and isinstance(node.value, ast.Tuple)
        ):
            found = tuple(ast.literal_eval(v) for v in node.value.elts)
            return found  # type: ignore[return-value]
    raise AssertionError(
        "pas d'affectation BUCKET, PREFIXE = ... dans la cellule de préparation"
    )


@pytest.mark.parametrize("source", notebooks.sources(), ids=lambda p: p.stem)
def test_every_chapter_names_the_one_setting(source) -> None:  # noqa: ANN001
    cell = notebooks.setup_cell(source)
    assert (
        _assigned_location(cell)
        == course_data.shared_location()
        == (config.DATA_BUCKET, config.DATA_PREFIX)
    )
    assert "trouver_les_donnees(BUCKET, PREFIXE, ESPACE, ENDPOINT_URL)" in cell
    # No other code of the chapter names the shared bucket: it reads BUCKET/PREFIXE.
    code = "\n".join(
        c.source
        for c in notebooks.from_source(source).cells
        if c.cell_type == "code" and c.source != cell
    )
    assert config.DATA_BUCKET not in code and config.DATA_PREFIX not in code


# --------------------------------------------------------------------- against a server


def _learner_space() -> tuple[str, str]:
    """The learner's bucket (found as the setup cell finds it) and a fresh prefix."""
    bucket, _ = classroom.learner_space(dict(os.environ), config.DEFAULT_LEARNER)
    return bucket, f"tests/donnees-{uuid.uuid4().hex[:8]}/"


@pytest.fixture
def client(session_endpoint_url: str):  # noqa: ANN201
    # A new session: the environment's credentials, read now.
    return boto3.Session().client(
        "s3",
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or session_endpoint_url,
        region_name="us-east-1",
    )


@pytest.fixture
def space(client) -> Iterator[tuple[str, str]]:  # noqa: ANN001
    """A new prefix in the learner's bucket; what a test puts there is deleted after."""
    bucket, prefix = _learner_space()
    yield bucket, prefix
    for name in data.SHA256:
        for key in (prefix + name, prefix + course_data.COPY_FOLDER + name):
            client.delete_object(Bucket=bucket, Key=key)


def test_present_shared_copy_is_read_where_it_is(
    client,  # noqa: ANN001
    space: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket, prefix = space
    found = course_data.locate(
        config.DATA_BUCKET,
        config.DATA_PREFIX,
        f"{bucket}/{prefix}",
        client.meta.endpoint_url,
    )
    assert found == (config.DATA_BUCKET, config.DATA_PREFIX)
    assert capsys.readouterr().out == (
        f"Données du cours : s3://{config.DATA_BUCKET}/{config.DATA_PREFIX}\n"
    )
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    assert listed == [], "rien ne doit être copié quand la copie partagée est lisible"


@pytest.mark.parametrize(
    "shared",
    [
        (config.DATA_BUCKET, "diffusion/VIDE/"),  # an empty prefix
        ("bucket-qui-n-existe-pas", "diffusion/FILOSOFI/2014/"),  # no such bucket
    ],
)
def test_absent_shared_copy_gives_a_checked_copy_in_the_learner_space_once(
    shared: tuple[str, str],
    client,
    space,
    capsys,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(config, "DATA_BUCKET", shared[0])
    monkeypatch.setattr(config, "DATA_PREFIX", shared[1])
    bucket, prefix = space
    found = course_data.locate(*shared, f"{bucket}/{prefix}", client.meta.endpoint_url)
    assert found == (bucket, prefix + course_data.COPY_FOLDER)
    message = capsys.readouterr().out
    assert message.count("\n") == 1 and "ne sont pas lisibles d'ici" in message
    assert f"s3://{bucket}/{prefix}{course_data.COPY_FOLDER}" in message
    for name, digest in data.SHA256.items():
        body = client.get_object(Bucket=bucket, Key=found[1] + name)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest
    # Re-run: the copy is right, nothing is uploaded again.
    assert [p.uploaded for p in course_data.place(client, *found)] == [False, False]
    assert (
        course_data.locate(*shared, f"{bucket}/{prefix}", client.meta.endpoint_url)
        == found
    )


def test_a_damaged_copy_is_replaced_and_nothing_else_is_touched(
    client,  # noqa: ANN001
    space: tuple[str, str],
) -> None:
    bucket, prefix = space
    neighbour = prefix + "voisin.txt"
    client.put_object(Bucket=bucket, Key=prefix + "FILOSOFI_COM.csv", Body=b"abime")
    client.put_object(Bucket=bucket, Key=neighbour, Body=b"pas au cours")
    try:
        assert [p.uploaded for p in course_data.place(client, bucket, prefix)] == [
            True,
            True,
        ]
        keys = {
            o["Key"]
            for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
        }
        assert keys == {neighbour} | {prefix + name for name in data.SHA256}
    finally:
        client.delete_object(Bucket=bucket, Key=neighbour)


def test_a_wrong_secret_is_not_mistaken_for_absent_data(
    client,  # noqa: ANN001
    space: tuple[str, str],
) -> None:
    bad = boto3.Session().client(
        "s3",
        endpoint_url=client.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key="pas-la-bonne-cle",
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN"),
    )
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        course_data.holds_course_data(bad, config.DATA_BUCKET, config.DATA_PREFIX)


def test_generated_bytes_that_differ_from_the_shipped_digests_are_refused(
    client, space, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    monkeypatch.setitem(data.SHA256, "FILOSOFI_COM.csv", "0" * 64)
    with pytest.raises(
        course_data.CourseDataError, match="versions de numpy, pandas ou pyarrow"
    ):
        course_data.place(client, *space)


def test_without_a_space_of_ones_own_the_message_says_what_to_set(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    monkeypatch.setattr(config, "DATA_PREFIX", "diffusion/VIDE/")
    with pytest.raises(
        course_data.CourseDataError, match="aucun espace.*posez S3COURS_ESPACE"
    ):
        course_data.locate(
            config.DATA_BUCKET, "diffusion/VIDE/", "", client.meta.endpoint_url
        )


def test_a_chapter_that_disagrees_with_the_setting_is_told() -> None:
    with pytest.raises(course_data.CourseDataError, match="mettez le chapitre à jour"):
        course_data.locate("autre-bucket", config.DATA_PREFIX, "moi/cours-python-s3/")


# -------------------------------------------------------------- ./cours donnees publier


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["donnees", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_publish_command_uploads_once_with_environment_credentials(
    client, space, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    bucket, prefix = space
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nulle/part")  # never a file
    code, out, err = _cli(capsys, "publier", "--vers", f"s3://{bucket}/{prefix}")
    assert code == 0, err
    assert out.count(": envoyé") == 2
    code, out, _ = _cli(capsys, "publier", "--vers", f"s3://{bucket}/{prefix}")
    assert code == 0 and out.count("rien envoyé") == 2, out
    for name, digest in data.SHA256.items():
        body = client.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest


def test_publish_command_refuses_without_credentials_or_with_a_bad_address(
    capsys, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    bad = _cli(capsys, "publier", "--vers", "donnees-insee/diffusion")
    assert bad[0] == 2 and "s3://bucket/préfixe/" in bad[2]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    missing = _cli(capsys, "publier", "--vers", "s3://quelque-part/")
    assert missing[0] == 2 and "AWS_ACCESS_KEY_ID" in missing[2]


def test_publish_refuses_a_place_the_learner_may_not_write(
    capsys,  # noqa: ANN001
) -> None:
    """A learner (the twin's, SSP Cloud's) may not write the shared copy: in French."""
    if not os.environ.get("AWS_SESSION_TOKEN"):
        pytest.fail(
            "Ce test demande les identifiants d'un apprenant (lancez `./cours test`)."
        )
    code, _, err = _cli(
        capsys, "publier", "--vers", f"s3://{config.DATA_BUCKET}/diffusion/autre/"
    )
    assert code == 2 and "Accès refusé" in err, err


def test_publish_defaults_to_the_setting() -> None:
    assert course_data.parse_url(f"s3://{config.DATA_BUCKET}/{config.DATA_PREFIX}") == (
        course_data.shared_location()
    )
    assert course_data.parse_url("s3://b/p") == ("b", "p/")


def test_a_shared_copy_with_other_bytes_is_not_used(
    client,
    space,
    capsys,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files of the same names but other contents (the real INSEE file, an older
    generation) are not the course's: the chapter reads its checked copy instead."""
    bucket, prefix = space
    shared = prefix + "partage/"
    for name in data.SHA256:
        client.put_object(Bucket=bucket, Key=shared + name, Body=b"autre contenu")
    monkeypatch.setattr(config, "DATA_BUCKET", bucket)
    monkeypatch.setattr(config, "DATA_PREFIX", shared)
    try:
        found = course_data.locate(
            bucket, shared, f"{bucket}/{prefix}", client.meta.endpoint_url
        )
        assert found == (bucket, prefix + course_data.COPY_FOLDER)
        assert "telles que le cours les publie" in capsys.readouterr().out
    finally:
        for name in data.SHA256:
            client.delete_object(Bucket=bucket, Key=shared + name)
