"""The tooling of the chapter « Spark et S3 »: what it asks Spark for, what the kernels
get, what the class and the second pass make of Spark's writes, and how its errors are
explained. The chapter itself runs in ``./cours test --spark`` (nbval, its second pass,
then over https without the shared data)."""

from __future__ import annotations

import importlib.metadata
import shlex
import subprocess
from pathlib import Path

import pytest

from s3cours import classroom, config, counting_proxy, diagnostic, launch, spark, tls

CHAPTER = config.CONTENT_DIR / f"{config.SPARK_CHAPTER}.Rmd"


def test_the_chapter_asks_for_hadoop_aws_at_the_version_of_pysparks_hadoop() -> None:
    text = CHAPTER.read_text(encoding="utf-8")
    hadoop_aws, cloud = spark.PACKAGES
    assert hadoop_aws.rsplit(":", 1)[1] == spark.bundled_hadoop() == "3.4.2"
    assert cloud.rsplit(":", 1)[1] == importlib.metadata.version("pyspark")
    # What the tooling resolves into the cache is what the chapter asks for.
    for coordinate in (*spark.PACKAGES, *spark.EXCLUDES):
        assert f'"{coordinate}"' in text, coordinate


def test_kernels_find_the_cached_jars_and_trust_the_playground_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("S3COURS_CACHE", raising=False)
    ca = tls.make(tmp_path / "tls", "127.0.0.1").ca_file
    env = spark.environment(str(ca))
    arguments = shlex.split(env["PYSPARK_SUBMIT_ARGS"])
    assert arguments[-1] == "pyspark-shell"
    assert f"spark.jars.ivy={spark.ivy_dir()}" in arguments
    options = arguments[arguments.index("--driver-java-options") + 1].split()
    store = Path(options[0].removeprefix("-Djavax.net.ssl.trustStore="))
    assert store.is_file() and store.is_relative_to(tmp_path)
    keytool = spark.keytool_of(spark.java())
    listing = subprocess.run(
        [str(keytool), "-list", "-keystore", str(store), "-storepass", "changeit"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "bac-a-sable-s3-cours" in listing
    # Java's own authorities stay: Maven Central is reached over https too.
    assert listing.count("trustedCertEntry") > 50
    # Made once per CA.
    assert spark.environment(str(ca)) == env
    profile = Path(env["IPYTHONDIR"]) / "profile_default" / "ipython_kernel_config.py"
    assert "capture_fd_output = False" in profile.read_text()


def test_without_java_the_kernels_get_only_their_ipython_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spark, "java", lambda: None)
    assert set(spark.environment(None)) == {"IPYTHONDIR"}
    with pytest.raises(spark.SparkError, match="Java 17"):
        monkeypatch.setattr(spark, "_resolved", lambda: False)
        spark.prepare(lambda _: None)


def test_the_relay_decodes_a_body_signed_chunk_by_chunk() -> None:
    body = (
        b"5;chunk-signature=aa\r\nhello\r\n"
        b"6;chunk-signature=bb\r\n world\r\n"
        b"0;chunk-signature=cc\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    )
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "11",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "Content-Type": "application/octet-stream",
    }
    decoded, kept = counting_proxy._decoded(body, headers)
    assert decoded == b"hello world"
    assert kept == {"Content-Type": "application/octet-stream"}


@pytest.mark.parametrize(
    ("message", "section"),
    [
        (
            "org.apache.hadoop.fs.UnsupportedFileSystemException: No FileSystem for "
            'scheme "s3"',
            "s3:// au lieu de s3a://",
        ),
        (
            "java.lang.ClassNotFoundException: Class "
            "org.apache.hadoop.fs.s3a.S3AFileSystem not found",
            "ClassNotFoundException : le connecteur S3A manque",
        ),
        (
            "java.nio.file.AccessDeniedException: s3a://b/k: getFileStatus on "
            "s3a://b/k: software.amazon.awssdk.services.s3.model.S3Exception: "
            "Forbidden (Service: S3, Status Code: 403)",
            "403 : des clés sans leur jeton",
        ),
        (
            "java.net.UnknownHostException: getFileStatus on s3a://b/k: "
            "donnees-insee.localhost",
            "Adressage virtuel sur MinIO",
        ),
    ],
)
def test_sparks_errors_are_explained_in_the_spark_chapter(
    message: str, section: str
) -> None:
    found = diagnostic.diagnose(RuntimeError(message))
    assert found is not None and found.section == section
    assert "08_spark.ipynb" in str(found)


def test_two_spark_writes_leave_comparable_objects() -> None:
    job, other = (
        "c2e1524c-8dba-43ac-95a3-6dbe2093fac7",
        "a4fae5d6-f25f-4b90-87f0-51269895dd40",
    )
    first = {
        f"x/DEP=75/part-00000-{job}.c000.snappy.parquet": (27711, '"e1-1"'),
        "x/_SUCCESS": (11846, '"r1"'),
        "y/_SUCCESS": (0, '"vide"'),
    }
    second = {
        f"x/DEP=75/part-00000-{other}.c000.snappy.parquet": (27711, '"e1-1"'),
        "x/_SUCCESS": (11848, '"r2"'),
        "y/_SUCCESS": (0, '"vide"'),
    }
    assert classroom.comparable(first) == classroom.comparable(second)
    # Spark's Parquet files differ in their footer from one JVM to the next: their
    # size still counts, as do other objects' contents.
    second[f"x/DEP=75/part-00000-{other}.c000.snappy.parquet"] = (27711, '"e2-1"')
    assert classroom.comparable(first) == classroom.comparable(second)
    for changed in (
        {**second, f"x/DEP=75/part-00000-{other}.c000.snappy.parquet": (27712, "e")},
        {**second, "y/_SUCCESS": (3, '"autre"')},
    ):
        assert classroom.comparable(first) != classroom.comparable(changed)


def test_the_class_leaves_the_spark_chapter_to_its_own_command() -> None:
    chapters = classroom.class_chapters()
    assert chapters and all(c.stem != config.SPARK_CHAPTER for c in chapters)
    assert (config.NOTEBOOKS_DIR / f"{config.SPARK_CHAPTER}.ipynb").exists()


def test_the_spark_chapter_opens_in_a_pyspark_service() -> None:
    link = launch.links(f"notebooks/{config.SPARK_CHAPTER}.ipynb")["sspcloud"]
    assert link.startswith(launch.ONYXIA_SPARK_LAUNCHER + "?")
    other = launch.links("notebooks/01_se_connecter.ipynb")["sspcloud"]
    assert other.startswith(launch.ONYXIA_LAUNCHER + "?")


def _spark_outputs(marker: str) -> str:
    """What the cell of the executed Spark chapter whose code holds ``marker`` shows."""
    import nbformat

    nb = nbformat.read(
        config.NOTEBOOKS_DIR / f"{config.SPARK_CHAPTER}.ipynb", as_version=4
    )
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    return "".join(
        o.get("text", "") or o.get("data", {}).get("text/plain", "")
        for o in cell.outputs
    )


def test_the_spark_chapter_shows_no_port_and_no_date_that_change() -> None:
    """A rebuild gives the same outputs: the server's port is named by its variable,
    the token's end as the time left (7 days minus the minutes since it was given)."""
    settings = _spark_outputs('valeur = "(masqué)"')
    assert "(l'hôte d'AWS_S3_ENDPOINT)" in settings and "127.0.0.1" not in settings
    assert _spark_outputs("fin_du_jeton(JETON)") == "Votre jeton expire dans 6 j 23 h\n"


def test_the_spark_chapter_empties_a_folder_reading_delete_objects_errors() -> None:
    text = (config.CONTENT_DIR / f"{config.SPARK_CHAPTER}.Rmd").read_text()
    vider = text[text.index("def vider(") : text.index("deux_departements = ")]
    assert 'reponse.get("Errors", [])' in vider and "raise RuntimeError(" in vider
