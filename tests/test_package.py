"""The package's public surface: exported names, lazy imports, version, typing marker."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import openprotocols
import openprotocols.model

HEAVY = (
    "niquests",
    "urllib3",
    "lxml",
    "icalendar",
    "caldav",
    "imapclient",
    "vobject",
    "dns",
    "pluggy",
    "attrs",
    "ssl",
    "socket",
)


def test_every_exported_name_resolves() -> None:
    """Each name in openprotocols.__all__ can be imported and dir() lists it."""
    for name in openprotocols.__all__:
        assert getattr(openprotocols, name) is not None, name
    assert set(openprotocols.__all__) <= set(dir(openprotocols))


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A name the package does not export raises AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = openprotocols.no_such_name  # type: ignore[attr-defined]


def test_model_exports_match_its_modules() -> None:
    """openprotocols.model re-exports every public name of its modules, and only those."""
    from openprotocols.model import _base, accounts, bindings, calendar, contacts, folders, mail

    expected = {"AnyItem"}
    for module in (_base, accounts, bindings, calendar, contacts, folders, mail):
        expected |= set(module.__all__)
    assert set(openprotocols.model.__all__) == expected


def test_import_is_light_and_does_no_io() -> None:
    """`import openprotocols` loads none of the heavy or networking libraries."""
    code = f"import sys, openprotocols; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_version_comes_from_the_distribution() -> None:
    """openprotocols.__version__ is the installed distribution's version."""
    assert openprotocols.__version__ == importlib.metadata.version("openprotocols")


def test_package_is_typed() -> None:
    """The package ships a py.typed marker (PEP 561)."""
    assert (Path(openprotocols.__file__).parent / "py.typed").is_file()
