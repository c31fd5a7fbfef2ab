"""Every test may use the embedded servers of openprotocols.testing."""

from __future__ import annotations

pytest_plugins = ["openprotocols.testing.pytest_plugin"]
