"""Shared fixtures. The test command (`./cours test`) starts one playground for the whole run
and exports its variables; tests that need a playground of their own start one in a private
state folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3cours import playground


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A private state folder; whatever playground is recorded there is stopped afterwards."""
    state = tmp_path / "state"
    yield state
    playground.stop(state)


@pytest.fixture(scope="session")
def session_endpoint_url() -> str:
    """The URL of the run's playground (started by `./cours test`)."""
    endpoint = os.environ.get("AWS_S3_ENDPOINT")
    if not endpoint or not endpoint.startswith("127.0.0.1:"):
        pytest.fail("Lancez les tests avec `./cours test` : il démarre le bac à sable S3.")
    return f"http://{endpoint}"
