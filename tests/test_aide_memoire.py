"""The « Aide-mémoire » page: drawn from the executed chapters, never by hand."""

from __future__ import annotations

import pytest

from s3cours import aide_memoire, notebooks, structure


def test_the_committed_page_is_what_the_notebooks_give() -> None:
    assert aide_memoire.drift() == ""


@pytest.mark.parametrize("source", notebooks.sources(), ids=lambda s: s.stem)
def test_every_operation_has_a_line_for_every_library_that_does_it(source) -> None:
    """One operation per tabset of the chapter, one entry per tab, in tab order."""
    found = [
        [entry.library for entry in operation.entries]
        for operation in aide_memoire.operations(notebooks.notebook_path(source))
    ]
    assert found == structure.tabsets(source)


def test_the_operation_wins_over_making_the_client() -> None:
    code = (
        's3 = boto3.client("s3", endpoint_url=ENDPOINT_URL)\n'
        'print(s3.list_objects_v2(Bucket=BUCKET)["KeyCount"])\n'
    )
    assert aide_memoire.key_call("boto3", code) == "s3.list_objects_v2(Bucket=BUCKET)"
    assert aide_memoire.key_call("boto3", code, connecting=True) == (
        's3 = boto3.client("s3", endpoint_url=ENDPOINT_URL)'
    )


def test_a_choice_that_names_no_call_is_an_error() -> None:
    with pytest.raises(ValueError, match="aucun appel vers S3 ne contient « write »"):
        aide_memoire.key_call(
            "pyarrow",
            'pq.read_table(f"{BUCKET}/x", filesystem=s3_arrow)',
            choice="write",
        )


def test_helpers_and_local_calls_are_not_operations() -> None:
    code = (
        'fs.invalidate_cache(f"{BUCKET}/x")\n'
        'local = pd.read_csv("fichier.csv")\n'
        'pd.read_csv(f"s3://{BUCKET}/x", storage_options=options)\n'
    )
    assert aide_memoire.key_call("s3fs", code) is None
    assert aide_memoire.key_call("pandas", code) == (
        'pd.read_csv(f"s3://{BUCKET}/x", storage_options=options)'
    )
