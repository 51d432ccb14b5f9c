"""Chapter 4, « Partager des données »: checks on the executed notebook (no execution
here; nbval re-runs it). Every share is really opened without credentials, a published
prefix is refused before, readable with, and refused after its policy, and the chapter
leaves nothing public and none of its objects behind."""

from __future__ import annotations

import re

import nbformat
import pytest

from s3cours import config, notebooks, structure

SOURCE = config.CONTENT_DIR / "05_partager.Rmd"
NOTEBOOK = notebooks.notebook_path(SOURCE)


@pytest.fixture(scope="module")
def nb() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


_text = notebooks.printed


def _code(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _cell(nb: nbformat.NotebookNode, marker: str) -> nbformat.NotebookNode:
    found = [c for c in _code(nb) if marker in c.source]
    assert len(found) == 1, (marker, len(found))
    return found[0]


def test_tabs_in_the_fixed_order() -> None:
    tabsets = structure.tabsets(SOURCE)
    assert ["boto3", "s3fs", "mc"] in tabsets  # presigned GET, and upload links
    assert ["boto3", "mc"] in tabsets  # bucket policies
    assert not structure.chapter_problems(SOURCE)


def test_every_link_gives_the_object_bytes_without_credentials(nb) -> None:
    out = _text(_cell(nb, 'for nom, lien in (("boto3", lien_boto3)'))
    assert re.findall(
        r"^(boto3|s3fs|mc) +: HTTP 200 : [\d\u202f]+ octets reçus ; "
        r"identiques à l'objet : True$",
        out,
        re.MULTILINE,
    ) == ["boto3", "s3fs", "mc"], out


def test_links_are_signed_v4_except_the_default_boto3_client(nb) -> None:
    out = _text(_cell(nb, "for reglage in (None"))
    assert out.count("signature V2") == 1 and out.count("signature V4") == 1, out
    for marker in ("lien_boto3 = ", "lien_s3fs = ", "lien_mc = "):
        assert "signature V4, valable 600 s" in _text(_cell(nb, marker)), marker


def test_expired_and_too_long_links_are_refused(nb) -> None:
    # The error code alone: its message depends on the server (none on Ceph RGW).
    assert "HTTP 403 : AccessDenied\n" in _text(_cell(nb, "ExpiresIn=1\n"))
    assert "HTTP 400 : AuthorizationQueryParametersError" in _text(
        _cell(nb, "lien_8_jours = ")
    )
    assert "SignatureDoesNotMatch" in _text(
        _cell(nb, '"Host": "autre-adresse.exemple"')
    )


def test_uploads_without_credentials_arrive_intact(nb) -> None:
    for marker in (
        "lien_put = ",
        "multipart(formulaire",
        "lien_put_s3fs = ",
        "multipart(champs, envoi)",
    ):
        assert re.search(r"HTTP 20[04]", _text(_cell(nb, marker))), marker
    listing = _text(_cell(nb, "Prefix=DEPOT"))
    assert listing.count("identique : True") == 4 and "False" not in listing, listing


def test_a_published_prefix_is_refused_before_readable_with_and_refused_after(
    nb,
) -> None:
    before = _text(_cell(nb, "Avant la politique"))
    assert "Avant la politique : HTTP 403 : AccessDenied" in before, before
    for publish, unpublish in (
        ("publier(PUBLIC)\nnotre", 'depublier()\nprint("Après'),
        ('"set", "download"', 'politique du bucket :", politique_du_bucket()'),
    ):
        assert "Avec la politique : HTTP 200" in _text(_cell(nb, publish)), publish
        assert "Après : HTTP 403 : AccessDenied" in _text(_cell(nb, unpublish)), (
            unpublish
        )


def test_every_library_reads_the_published_prefix_without_credentials(nb) -> None:
    """Each tab of « Lire des données publiques sans identifiants » read the object (the
    Parquet has 500 rows and 29,224 bytes here), and the same unsigned read is refused
    once the prefix is unpublished: nothing was signed."""
    texts = {
        tab: _text(_cell(nb, marker))
        for tab, marker in (
            ("boto3", "signature_version=UNSIGNED"),
            ("s3fs", "anon=True, endpoint_url"),
            ("pyarrow", "anonymous=True"),
            ("pandas", '"anon": True'),
            ("polars", '"aws_skip_signature": "true"'),
            ("duckdb", "KEY_ID ''"),
            ("mc", "MC_HOST_public"),
        )
    }
    for tab, text in texts.items():
        assert "Error" not in text and text.strip(), (tab, text)
    assert "octets" in texts["boto3"] and "500" in texts["duckdb"], texts
    after = _text(_cell(nb, "depublier()\ntry:"))
    assert "Après : 403 (lecture anonyme refusée)" in after, after


def test_nothing_public_and_nothing_written_is_left(nb) -> None:
    assert "Déclarations laissées par mc, retirées : []" in _text(
        _cell(nb, "apres_mc = ")
    )
    policy = _text(_cell(nb, "Déclarations du chapitre encore"))
    assert policy.strip().endswith(": []"), policy
    objects = _text(_cell(nb, "a_supprimer = sorted(set(ECRITS))"))
    assert re.search(
        r"^\d+ objets supprimés ; il en reste sous .* : 0$", objects, re.MULTILINE
    ), objects
    assert "Adresse publique, sans identifiants : HTTP 403 : AccessDenied" in objects
    assert "Premier lien présigné : HTTP 404 : NoSuchKey" in objects


def test_errors_only_where_tagged(nb) -> None:
    for cell in _code(nb):
        raised = any(o.output_type == "error" for o in cell.outputs)
        tagged = "raises-exception" in cell.metadata.get("tags", [])
        assert raised == tagged, cell.source[:80]
    assert sum("raises-exception" in c.metadata.get("tags", []) for c in _code(nb)) == 2


def test_exercises_have_collapsed_executed_solutions(nb) -> None:
    assert (
        SOURCE.read_text().count('::: {.callout-tip collapse="true"}\n#### Solution')
        >= 3
    )
    solutions = notebooks.solution_cells(nb)
    assert len(solutions) >= 3
    for cell in solutions:
        assert cell.execution_count and cell.outputs, cell.source[:60]


def test_a_deposit_link_signed_with_if_none_match_serves_once(nb) -> None:
    """The chapter says a plain deposit link overwrites, and one signed with
    ``If-None-Match: *`` is refused (412) once the object exists."""
    text = _text(_cell(nb, "lien_unique = "))
    assert re.search(r"^premier dépôt : HTTP 200 ", text, re.MULTILINE), text
    assert "second dépôt : HTTP 412 : PreconditionFailed" in text, text


def test_the_clean_up_reads_the_errors_of_delete_objects(nb) -> None:
    cell = _cell(nb, "a_supprimer = sorted(set(ECRITS))")
    assert 'reponse.get("Errors", [])' in cell.source and "raise " in cell.source
    assert '"Quiet"' not in cell.source  # the count printed is the server's Deleted
    match = re.search(r"^(\d+) objets supprimés", _text(cell), re.MULTILINE)
    written = _text(_cell(nb, "Prefix=DEPOT")).count("identique : True")
    assert match and int(match.group(1)) > written, _text(cell)
