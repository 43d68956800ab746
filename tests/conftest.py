"""Shared test fixtures: paths to the shared real-data fixtures and fresh stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from genofed.store import NodeStore

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"


def fixture_path(*parts: str) -> Path:
    """A file under ../shared/fixtures, skipping the test when the folder is not beside the checkout."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared fixture {path} not present (expected ../shared/fixtures beside the checkout)")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[NodeStore]:
    """A new, empty node store."""
    with NodeStore.open(tmp_path / "store", create=True) as node_store:
        yield node_store


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without a node secret in the environment."""
    monkeypatch.delenv("GENOFED_NODE_SECRET", raising=False)
