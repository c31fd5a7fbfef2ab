"""Every test may use the embedded servers of openprotocols.testing, and the Outlook-made
files scripts/fetch_fixtures.py fetches (``outlook_file``).

In CI (``CI`` set) hypothesis draws the same examples on every run, so that a landing never
depends on luck; elsewhere it explores, and prints the blob that reproduces a failure."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["openprotocols.testing.pytest_plugin"]

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "explore")

OUTLOOK_FILES = Path(__file__).parent / "outlook" / "data" / "fixtures"


@pytest.fixture(scope="session")
def outlook_file() -> Callable[[str], Path]:
    """Return a function giving a fetched Outlook file's path by name
    (tests/outlook/data/README.md lists them). A missing file fails the test in CI and
    skips it elsewhere, saying how to fetch it."""

    def find(name: str) -> Path:
        path = OUTLOOK_FILES / name
        if not path.exists():
            message = f"{path} is missing: run scripts/fetch_fixtures.py (scripts/test does)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        return path

    return find
