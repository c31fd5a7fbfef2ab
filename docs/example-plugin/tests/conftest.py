"""Test the installed ``openprotocols_example``, or the source tree when it is not installed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("openprotocols_example") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def pytest_report_header(config: pytest.Config) -> str:
    """Say which copy of the plugin the tests run against."""
    import openprotocols_example

    return f"openprotocols_example: {openprotocols_example.__file__}"
