"""Shared test fixtures: paths to the shared real-data fixtures and fresh stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from genofed.store import NodeStore

# The `as_backend` and `spark` fixtures: query and statistics tests on DuckDB and Spark.
pytest_plugins = ["backends"]

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


CHROMIUM = Path("/usr/bin/chromium")
# Chromium's background services try to reach Google; this machine's closed network refuses them.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright (a ``playwright.sync_api.Browser``).

    Module-scoped: Playwright's sync API keeps an event loop running in the main thread while it is
    open, which would break later tests that start their own (``asyncio.run``).
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed (`make tools` installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
