"""Fixed settings of the course: where things live, on SSP Cloud and in the playground.

Everything a chapter, the playground or a test needs to agree on is named here once.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root (the folder holding ``content/`` and ``notebooks/``).
ROOT = Path(__file__).resolve().parents[2]
CONTENT_DIR = ROOT / "content"
NOTEBOOKS_DIR = ROOT / "notebooks"
TESTS_DIR = ROOT / "tests"
#: The chapter run with Spark: tested by its own command (``./cours test --spark``).
SPARK_CHAPTER = "08_spark"

#: Public open-data bucket of SSP Cloud; its ``diffusion/`` folder is readable by every
#: user (Onyxia bookmarks ``s3://donnees-insee/diffusion/`` as "Données de diffusion").
DATA_BUCKET = "donnees-insee"
DATA_PREFIX = "diffusion/FILOSOFI/2014/"
FILOSOFI_CSV_KEY = DATA_PREFIX + "FILOSOFI_COM.csv"
FILOSOFI_PARQUET_KEY = DATA_PREFIX + "FILOSOFI_COM.parquet"

#: The playground's default learner; like on SSP Cloud, their bucket bears their name.
DEFAULT_LEARNER = "apprenant"
#: The default learner's personal bucket (on SSP Cloud: the one named after the user).
LEARNER_BUCKET = DEFAULT_LEARNER

#: The playground's administrator user. Its secret is made once per machine and kept in
#: the cache (``playground.admin_secret``): it never reaches a notebook.
PLAYGROUND_ACCESS_KEY = "cours-s3-admin"
PLAYGROUND_REGION = "us-east-1"
LOOPBACK = "127.0.0.1"
#: Port of ``./cours playground start`` and of the build (a stable URL in outputs).
DEFAULT_PORT = 9900

#: MinIO server version built with ``go install`` when no ``minio`` is on PATH. MinIO
#: publishes no semantic-version tags, so the Go module proxy serves it as a
#: pseudo-version.
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"

#: actionlint, which checks the GitHub Actions workflows in the test suite; built with
#: ``go install`` like MinIO (``go list -m -versions github.com/rhysd/actionlint``).
ACTIONLINT_PACKAGE = "github.com/rhysd/actionlint/cmd/actionlint"
ACTIONLINT_VERSION = "v1.7.12"

#: SeaweedFS, the third server of ``./cours compat`` (Apache-2.0), built with
#: ``go build`` in its module (its ``go.mod`` has ``replace`` directives, which
#: ``go install`` refuses); a pseudo-version of the Go module proxy.
SEAWEEDFS_MODULE = "github.com/seaweedfs/seaweedfs"
SEAWEEDFS_VERSION = "v0.0.0-20261109003541-7506e5f91cd6"

#: MinIO client ``mc`` built with ``go install`` when none is on PATH (same reason).
MC_MODULE = "github.com/minio/mc"
MC_VERSION = "v0.0.0-20250313080218-cf909e1063a9"

#: Environment variable by which a learner names their space (``bucket/`` or
#: ``bucket/prefix/``) where nothing else does: on AWS, or for a group's ``projet-…``
#: bucket. The setup cell reads it first, before ``AWS_WORKING_DIRECTORY_PATH`` and the
#: namespace.
SPACE_VARIABLE = "S3COURS_ESPACE"

#: Onyxia versions the playground imitates; 11 (S3 profiles, since 2026-05) by default.
ONYXIA_VERSIONS = (10, 11)
DEFAULT_ONYXIA = 11

#: Environment variable naming the playground's learner (default
#: :data:`DEFAULT_LEARNER`): a classroom shares one server, each learner with their own
#: identity and bucket.
LEARNER_VARIABLE = "S3COURS_APPRENANT"
#: Environment variable naming the state folder of the playground that serves a kernel
#: the tooling starts (``./cours build``, ``./cours test``): where
#: ``aides.renouveler_identifiants`` finds it (elsewhere, the default state folder).
PLAYGROUND_VARIABLE = "S3COURS_BAC_A_SABLE"

#: ``./cours bench``: default number of generated communes, and latency per request of
#: its "distant server" variant (seconds). Read by s3cours.bench.
BENCH_COMMUNES = 200_000
BENCH_LATENCY = 0.02


def cache_dir() -> Path:
    """Folder for things worth keeping between runs (the MinIO binary)."""
    if os.environ.get("S3COURS_CACHE"):
        return Path(os.environ["S3COURS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "s3cours"


def state_dir() -> Path:
    """Folder holding the running playground's state file and log."""
    if "S3COURS_STATE_DIR" in os.environ:
        return Path(os.environ["S3COURS_STATE_DIR"])
    return cache_dir() / "playground"
