"""Spark for the chapter « Spark et S3 », out of the lesson: the jars fetched once into
the course's cache, and a Java trust store for the playground's test CA.

The chapter asks Spark for what pip's PySpark lacks the way Spark does it
(``spark.jars.packages``, resolved by Ivy from Maven Central): :data:`PACKAGES`, less
:data:`EXCLUDES`. Here, :func:`prepare` resolves them once into ``<cache>/spark/ivy``,
and :func:`environment` points every kernel at that folder, so that a test run finds
them there and asks Maven Central for nothing (a service's HOME, where Ivy would look by
default, is new at every run). Over https, it also gives the JVM a trust store: a copy
of Java's own with the playground's CA added, named in the environment only
(``PYSPARK_SUBMIT_ARGS``); the system's store is never changed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from . import config

#: What pip's PySpark lacks for S3, as the chapter asks for it: hadoop-aws at the
#: version of the Hadoop that PySpark bundles (``pyspark/jars/hadoop-client-api-*``),
#: and Spark's cloud committers.
PACKAGES = (
    "org.apache.hadoop:hadoop-aws:3.4.2",
    "org.apache.spark:spark-hadoop-cloud_2.13:4.1.1",
)
#: What spark-hadoop-cloud would also bring and S3 does not need: PySpark's own Hadoop
#: again, and the Azure, Google and Huawei connectors.
EXCLUDES = (
    "org.apache.hadoop:hadoop-client-runtime",
    "org.apache.hadoop:hadoop-azure",
    "org.apache.hadoop:hadoop-huaweicloud",
    "org.apache.hadoop:hadoop-cloud-storage",
    "com.google.cloud.bigdataoss:gcs-connector",
)
#: The password of Java's default trust store, kept for the copy (it protects nothing:
#: a trust store holds public certificates only).
STORE_PASSWORD = "changeit"


class SparkError(RuntimeError):
    """Spark cannot be prepared here (no Java, no PySpark, no Maven Central)."""


def folder() -> Path:
    return config.cache_dir() / "spark"


def ivy_dir() -> Path:
    return folder() / "ivy"


def java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def available() -> bool:
    """PySpark and Java are both here."""
    import importlib.util

    return java() is not None and importlib.util.find_spec("pyspark") is not None


def bundled_hadoop() -> str:
    """The Hadoop version that pip's PySpark bundles (the name of its client jar)."""
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise SparkError(
            "PySpark n'est pas installé : ./cours l'installe avec le verrou."
        )
    jars = Path(next(iter(spec.submodule_search_locations))) / "jars"
    names = sorted(jars.glob("hadoop-client-api-*.jar"))
    if not names:
        raise SparkError(f"Pas de hadoop-client-api dans {jars}.")
    return names[0].name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def _resolved() -> bool:
    jars = ivy_dir() / "jars"
    return all(
        any(jars.glob(f"{group}_{artifact}-{version}.jar"))
        for group, artifact, version in (p.split(":") for p in PACKAGES)
    )


def prepare(log: Callable[[str], None]) -> Path:
    """Resolves :data:`PACKAGES` once into :func:`ivy_dir` (about 650 MB from Maven
    Central the first time, nothing after), and returns that folder."""
    if _resolved():
        return ivy_dir()
    if not available():
        raise SparkError(
            "Spark demande Java 17 ou plus récent et PySpark : installez Java "
            "(paquet openjdk-17-jre-headless, par exemple) ou posez JAVA_HOME."
        )
    log(
        "Jars de Spark pour S3 (hadoop-aws, SDK AWS, committers) : téléchargés une "
        f"fois depuis Maven Central dans {ivy_dir()} (environ 650 Mo)…"
    )
    code = (
        "from pyspark.sql import SparkSession\n"
        "SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false')"
        f".config('spark.jars.packages', {','.join(PACKAGES)!r})"
        f".config('spark.jars.excludes', {','.join(EXCLUDES)!r})"
        ".getOrCreate().stop()\n"
    )
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": _submit_args(None)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    if done.returncode or not _resolved():
        raise SparkError(
            "Les jars de Spark n'ont pas pu être téléchargés depuis Maven Central :\n"
            + done.stderr[-2000:]
        )
    return ivy_dir()


def keytool_of(binary: str) -> Path:
    """The ``keytool`` beside a ``java`` (the JDK's or the JRE's own)."""
    return Path(binary).resolve().parent / "keytool"


def trust_store(ca_file: str) -> Path:
    """A copy of Java's trust store with the playground's CA added (PKCS12), made once
    per CA in the course's cache."""
    import hashlib

    binary = java()
    if binary is None:
        raise SparkError("Pas de Java ici : Spark en demande un (17 ou plus récent).")
    ca = Path(ca_file).read_bytes()
    store = folder() / f"truststore-{hashlib.sha256(ca).hexdigest()[:12]}.p12"
    if store.exists():
        return store
    java_home = Path(binary).resolve().parents[1]
    keytool = keytool_of(binary)
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_suffix(".tmp")
    partial.unlink(missing_ok=True)
    password = ("-storepass", STORE_PASSWORD)
    for arguments in (
        [
            "-importkeystore",
            "-srckeystore",
            str(java_home / "lib" / "security" / "cacerts"),
            "-srcstorepass",
            STORE_PASSWORD,
            "-destkeystore",
            str(partial),
            "-deststoretype",
            "PKCS12",
            "-deststorepass",
            STORE_PASSWORD,
        ],
        [
            "-importcert",
            "-noprompt",
            "-alias",
            "bac-a-sable-s3-cours",
            "-file",
            ca_file,
            "-keystore",
            str(partial),
            *password,
        ],
    ):
        done = subprocess.run(
            [str(keytool), *arguments], capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise SparkError(f"keytool a échoué : {done.stdout}{done.stderr}")
    partial.replace(store)
    return store


def _submit_args(ca_file: str | None) -> str:
    arguments = ["--conf", f"spark.jars.ivy={ivy_dir()}"]
    if ca_file:
        options = (
            f"-Djavax.net.ssl.trustStore={trust_store(ca_file)} "
            f"-Djavax.net.ssl.trustStorePassword={STORE_PASSWORD}"
        )
        arguments += ["--driver-java-options", options]
    return shlex.join([*arguments, "pyspark-shell"])


#: The kernels' IPython configuration: Java's own output (Ivy's report when the jars
#: are resolved, log lines with the time in them) stays on the kernel's error output,
#: as before ipykernel 6, instead of landing under whichever cell runs when the JVM
#: writes.
KERNEL_CONFIG = "c.IPKernelApp.capture_fd_output = False\n"


def ipython_dir() -> Path:
    """An IPython folder whose kernels leave the JVM's output out of the notebooks."""
    profile = folder() / "ipython" / "profile_default"
    config_file = profile / "ipython_kernel_config.py"
    if not config_file.exists() or config_file.read_text() != KERNEL_CONFIG:
        profile.mkdir(parents=True, exist_ok=True)
        config_file.write_text(KERNEL_CONFIG)
    return profile.parent


def environment(ca_file: str | None) -> dict[str, str]:
    """The variables of the notebooks' kernels for Spark: the cached jars and, over
    https, Java's trust of the playground's CA (neither when Java or PySpark is
    missing), and an IPython folder that keeps Java's output out of the notebooks."""
    env = {"IPYTHONDIR": str(ipython_dir())}
    if available():
        env["PYSPARK_SUBMIT_ARGS"] = _submit_args(ca_file)
    return env
