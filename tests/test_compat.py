"""« Ce qui marche où » (s3cours.compat): the committed results cover every probe on
every server, the site's table is made from them alone, and a probe whose effect is
missing does not pass. The probes themselves run on a moto server in this process
(no MinIO, no SeaweedFS: ``./cours compat`` and its workflow run those)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from s3cours import cli, compat, config, playground

PROBE_KEYS = [p.key for p in compat.PROBES]


def committed() -> dict:
    return json.loads(compat.RESULTS.read_text())


# --------------------------------------------------------------- the committed results


def test_the_committed_results_have_every_probe_on_every_server() -> None:
    results = committed()
    assert [p["id"] for p in results["sondes"]] == PROBE_KEYS
    assert set(results["serveurs"]) == set(compat.SERVERS)
    for probe in PROBE_KEYS:
        cells = results["resultats"][probe]
        assert set(cells) == set(compat.SERVERS), probe
        for server, cell in cells.items():
            assert cell["etat"] in compat.STATES, (probe, server, cell)
            assert cell["detail"].strip(), (probe, server)


def test_the_committed_results_name_versions_and_date() -> None:
    results = committed()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", results["date"])
    assert set(results["bibliotheques"]) == set(compat.LIBRARIES)
    for server in results["serveurs"].values():
        assert server.get("version") or server.get("absent"), server


def test_the_committed_results_were_not_run_without_the_expiry_wait() -> None:
    cells = committed()["resultats"]["jeton-expire"]
    assert all("sans attente" not in c["detail"] for c in cells.values()), cells


def test_minio_refuses_what_ssp_cloud_refuses() -> None:
    """The twin of SSP Cloud: Onyxia's session policy holds (a real run said so)."""
    cells = committed()["resultats"]
    assert cells["sts"]["minio"]["etat"] == "marche"
    assert cells["suppression-lot-refus"]["minio"]["etat"] == "refusé"
    assert cells["jeton-expire"]["minio"]["etat"] == "refusé"


# --------------------------------------------------------------------------- the page


def test_the_page_s_table_is_made_from_the_results() -> None:
    assert compat.TABLE.read_text() == compat.markdown(committed())


def test_the_page_includes_the_table_and_is_in_the_sidebar() -> None:
    page = (config.ROOT / "compatibilite.qmd").read_text()
    assert "{{< include compatibilite/tableau.md >}}" in page
    site = yaml.safe_load((config.ROOT / "_quarto.yml").read_text())
    assert "compatibilite.qmd" in site["website"]["sidebar"]["contents"]
    assert "compatibilite.qmd" in site["project"]["render"]


def test_the_table_has_a_row_per_probe_and_states_in_words() -> None:
    results = committed()
    table = compat.markdown(results)
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    for probe in results["sondes"]:
        title = compat._escape(probe["titre"])
        shown = (f"| {title} |", f"| {title} (https) |")
        assert sum(row.startswith(shown) for row in rows) == 1, title
    names = " | ".join(s["nom"] for s in results["serveurs"].values())
    assert f"| Opération | Chap. | {names} |" in table
    assert "**marche**" in table


def test_a_changed_result_changes_the_table() -> None:
    results = committed()
    results["resultats"]["put"]["moto"] = {"etat": "refusé", "detail": "Faux (1)"}
    assert "**refusé** : Faux (1)" in compat.markdown(results)
    assert compat.markdown(results) != compat.TABLE.read_text()


# --------------------------------------------------------- probes on an in-process moto


@pytest.fixture(scope="module")
def moto_target() -> Iterator[compat.Target]:
    from moto.server import ThreadedMotoServer

    port = playground._free_port(config.LOOPBACK)
    server = ThreadedMotoServer(ip_address=config.LOOPBACK, port=port, verbose=False)
    server.start()
    try:
        target = compat.Target(
            key="moto",
            server="moto",
            version="test",
            scheme="http",
            endpoint_url=f"http://{config.LOOPBACK}:{port}",
            ca_file=None,
            admin_keys=("admin", "secret"),
            learner=config.DEFAULT_LEARNER,
            learner_key=(config.DEFAULT_LEARNER, "secret"),
            environment=lambda _seconds: {
                "AWS_ACCESS_KEY_ID": "apprenant",
                "AWS_SECRET_ACCESS_KEY": "secret",
            },
        )
        admin = compat.Context(target, "init", {}).admin()
        for bucket in (config.DEFAULT_LEARNER, config.DATA_BUCKET):
            admin.create_bucket(Bucket=bucket)
        yield target
    finally:
        server.stop()


class Dropped(compat.Context):
    """A server that answers 200 to some operations but does nothing: botocore is told
    the call succeeded, the request never leaves."""

    operations: tuple[str, ...] = ()

    def s3(self, **options):
        client = super().s3(**options)
        for operation in self.operations:
            client.meta.events.register(
                f"before-call.s3.{operation}", self._pretend, unique_id=operation
            )
        return client

    @staticmethod
    def _pretend(**_: object):
        from botocore.awsrequest import AWSResponse

        return AWSResponse("", 200, {"ETag": '"0"'}, None), {
            "ResponseMetadata": {"HTTPStatusCode": 200},
            "ETag": '"0"',
        }


class DroppedWrites(Dropped):
    operations = ("PutObject", "CopyObject", "UploadPart", "CompleteMultipartUpload")


class DroppedDeletions(Dropped):
    operations = ("DeleteObject", "DeleteObjects")


FAULTS = [
    ("put", DroppedWrites),
    ("copie", DroppedWrites),
    ("metadonnees", DroppedWrites),
    ("lister", DroppedWrites),
    ("si-absente", DroppedWrites),
    ("suppression", DroppedWrites),
    ("suppression", DroppedDeletions),
    ("suppression-lot", DroppedWrites),
    ("suppression-lot", DroppedDeletions),
]


@pytest.mark.parametrize("key", sorted({key for key, _ in FAULTS}))
def test_a_probe_passes_when_the_effect_is_there(moto_target, key: str) -> None:
    probe = next(p for p in compat.PROBES if p.key == key)
    env = moto_target.environment(0)
    cell = compat.run_probe(probe, compat.Context(moto_target, key, env))
    assert cell.state == "marche", cell


@pytest.mark.parametrize(("key", "fault"), FAULTS)
def test_a_probe_fails_when_the_effect_is_missing(
    moto_target, key: str, fault: type[Dropped]
) -> None:
    probe = next(p for p in compat.PROBES if p.key == key)
    env = moto_target.environment(0)
    cell = compat.run_probe(probe, fault(moto_target, key, env))
    assert cell.state == "autre", cell


def test_a_server_error_is_a_refusal_with_its_code(moto_target) -> None:
    def missing_bucket(ctx: compat.Context) -> str:
        ctx.s3().get_object(Bucket="aucun-bucket-de-ce-nom", Key="x")
        return "lu"

    probe = compat.Probe("x", "x", "02", missing_bucket)
    env = moto_target.environment(0)
    cell = compat.run_probe(probe, compat.Context(moto_target, "x", env))
    assert cell == compat.Cell("refusé", "NoSuchBucket (HTTP 404)")


def test_a_probe_that_hangs_is_said_to_hang(moto_target) -> None:
    import threading

    release = threading.Event()

    def hangs(_: compat.Context) -> str:
        release.wait(5)
        return "fini"

    probe = compat.Probe("x", "x", "02", hangs)
    try:
        cell = compat.run_probe(probe, compat.Context(moto_target, "x", {}), 0.2)
    finally:
        release.set()
    assert cell.state == "erreur" and "bloqué" in cell.detail


def test_run_covers_every_probe_of_every_server(moto_target, monkeypatch) -> None:
    """The loop of ``./cours compat``: a server that can be had gets every probe, one
    that cannot gets « sans objet » with the reason, and the expired-token probe is
    said not measured when the wait is skipped."""

    @contextlib.contextmanager
    def start(_state: Path, scheme: str, _log) -> Iterator[compat.Target]:
        yield moto_target

    servers = {
        "faux": compat.Server("faux", "Faux", start),
        "absent": compat.Server("absent", "Absent", start, lambda: "pas ici"),
    }
    monkeypatch.setattr(compat, "SERVERS", servers)
    probes = tuple(p for p in compat.PROBES if p.key in ("put", "jeton-expire"))
    results = compat.run(list(servers), lambda _: None, False, probes)
    cells = results["resultats"]
    assert cells["put"]["faux"]["etat"] == "marche"
    assert cells["jeton-expire"]["faux"] == {
        "etat": "sans objet",
        "detail": "non mesuré (sans attente)",
    }
    assert cells["put"]["absent"] == {"etat": "sans objet", "detail": "pas ici"}
    assert "Absent | non démarré | pas ici" in compat.markdown(results)


# ------------------------------------------------------------ command and workflow


def test_an_unknown_server_is_refused_in_french(capsys) -> None:
    assert cli.main(["compat", "--serveurs", "minio,cef"]) == 2
    assert "serveur inconnu : cef" in capsys.readouterr().err


def test_the_workflow_runs_the_command_weekly_within_90_minutes() -> None:
    path = config.ROOT / ".github" / "workflows" / "compatibilite.yml"
    workflow = yaml.safe_load(path.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key « on » as True
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    job = workflow["jobs"]["compat"]
    assert job["timeout-minutes"] <= 90
    assert any(step.get("run") == "./cours compat" for step in job["steps"])


def test_seaweedfs_s_learner_may_only_touch_their_bucket() -> None:
    from s3cours import seaweedfs

    found = seaweedfs.identities("secret-admin", "eleve-01", "secret-eleve")
    learner = next(i for i in found["identities"] if i["name"] == "eleve-01")
    buckets = {action.split(":", 1)[1] for action in learner["actions"]}
    assert buckets == {"eleve-01", config.DATA_BUCKET}
    assert [a for a in learner["actions"] if a.endswith(config.DATA_BUCKET)] == [
        f"Read:{config.DATA_BUCKET}",
        f"List:{config.DATA_BUCKET}",
    ]


def test_the_table_alone_is_rewritten_from_the_results(tmp_path: Path) -> None:
    (tmp_path / compat.RESULTS.name).write_text(compat.RESULTS.read_text())
    assert cli.main(["compat", "--tableau", "--vers", str(tmp_path)]) == 0
    assert (tmp_path / compat.TABLE.name).read_text() == compat.TABLE.read_text()


def test_the_table_alone_needs_the_results(tmp_path: Path, capsys) -> None:
    assert cli.main(["compat", "--tableau", "--vers", str(tmp_path)]) == 2
    assert "Lancez d'abord ./cours compat" in capsys.readouterr().err
