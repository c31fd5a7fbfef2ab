"""The example plugin of docs/example-plugin, installed with pip and loaded by its entry point."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import openprotocols
from openprotocols.model import Account, Endpoint, FolderKind, Task
from openprotocols.plugins import get_plugin_manager

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example-plugin"
PACKAGE = "openprotocols_example"


def _plugin_modules() -> dict[str, ModuleType]:
    """The modules of the example plugin currently imported."""
    return {
        name: module
        for name, module in sys.modules.items()
        if name == PACKAGE or name.startswith(f"{PACKAGE}.")
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory holding the installed example plugin, first on sys.path meanwhile.

    pip builds a copy of the source, so that no build/ or egg-info is left in the repo,
    without build isolation or an index: nothing is downloaded.
    """
    base = tmp_path_factory.mktemp("example-plugin")
    source = base / "source"
    shutil.copytree(
        EXAMPLE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    target = base / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "--disable-pip-version-check",
        "--target",
        str(target),
        str(source),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        pytest.fail(
            f"installing the example plugin failed ({' '.join(command)}); building it "
            f"without isolation needs setuptools>=70.1 in this environment:\n"
            f"{result.stdout}{result.stderr}"
        )
    saved = _plugin_modules()  # e.g. the source tree's copy, imported by its own tests
    for name in saved:
        del sys.modules[name]
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(target))
        mp.delenv("OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD", raising=False)
        mp.delenv("OPENPROTOCOLS_LOAD_PLUGINS", raising=False)
        yield target
    for name in _plugin_modules():
        del sys.modules[name]
    sys.modules.update(saved)


def account_for(root: Path) -> Account:
    """An account whose jsondir endpoint is the directory ``root``."""
    endpoint = Endpoint(protocol="jsondir", path=str(root))
    return Account(email="ann@example.test", endpoints=[endpoint])


def test_entry_point_loads_the_installed_copy(site: Path) -> None:
    """get_plugin_manager() finds the example by its entry point, in the installed copy."""
    pm = get_plugin_manager()
    assert [f for f in pm.failures if f.name == "example"] == []
    backends = pm.backends()
    assert backends.origin("jsondir") == "example"
    cls = backends.get("jsondir")
    assert cls.__module__ == f"{PACKAGE}.backend"
    assert Path(inspect.getfile(cls)).is_relative_to(site)
    assert pm.get_plugin("example") is sys.modules[PACKAGE]


def test_environment_can_leave_the_plugin_out(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Autoload off, or another plugin selected, keeps the installed example out."""
    monkeypatch.setenv("OPENPROTOCOLS_LOAD_PLUGINS", "some-other-plugin")
    assert "jsondir" not in get_plugin_manager().backends()
    monkeypatch.setenv("OPENPROTOCOLS_LOAD_PLUGINS", "example")
    monkeypatch.setenv("OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "jsondir" not in get_plugin_manager().backends()
    monkeypatch.delenv("OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD")
    assert "jsondir" in get_plugin_manager().backends()


def test_connect_end_to_end(site: Path, tmp_path: Path) -> None:
    """connect() through the installed plugin creates a folder and an item that persist."""
    pm = get_plugin_manager()
    task = Task.new("Write the plugin docs")
    with openprotocols.connect(account_for(tmp_path), "jsondir", plugin_manager=pm) as backend:
        folder = backend.create_folder("Tasks", FolderKind.TASKS, color="#336699")
        ref = backend.collection(folder).create(task)
    assert (tmp_path / "Tasks" / f"{ref.id}.json").is_file()
    with openprotocols.connect(account_for(tmp_path), "jsondir", plugin_manager=pm) as again:
        assert [(f.id, f.kind, f.color) for f in again.list_folders()] == [
            ("Tasks", FolderKind.TASKS, "#336699")
        ]
        entry = again.collection("Tasks").get_one(ref.id)
    assert (entry.version, entry.item) == (ref.version, task)


def test_contract_tests_pass_against_the_installed_copy(site: Path) -> None:
    """The example's own test suite passes when it imports the installed package."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=EXAMPLE,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"openprotocols_example: {site / PACKAGE / '__init__.py'}" in output
    assert " passed" in output.splitlines()[-1]
    assert " failed" not in output.splitlines()[-1]
