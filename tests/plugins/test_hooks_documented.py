"""Every hook is documented in docs/hooks.md and tested by a ``test_hook_<name>`` test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from openprotocols.plugins import get_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
HOOKS_MD = ROOT / "docs" / "hooks.md"


def hook_signatures() -> dict[str, str]:
    """Each hook's name and its signature as hooks.md must show it: ``name(arg1, arg2)``."""
    pm = get_plugin_manager(entry_points=False)
    return {
        name: f"{name}({', '.join(caller.spec.argnames)})"
        for name, caller in vars(pm.hook).items()
        if getattr(caller, "spec", None) is not None
    }


HOOKS = hook_signatures()


def headings() -> list[str]:
    """The headings of docs/hooks.md."""
    return [line for line in HOOKS_MD.read_text().splitlines() if line.startswith("#")]


def function_names() -> set[str]:
    """The names of every function defined in a Python file under tests/."""
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return names


def test_hooks_and_tests_are_found() -> None:
    """There are hooks and test names to check, so the checks below cannot pass vacuously."""
    assert "test_hooks_and_tests_are_found" in function_names()  # it sees this very test
    assert "openprotocols_register_backends" in HOOKS
    assert HOOKS["openprotocols_register_backends"] == "openprotocols_register_backends(registry)"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_has_a_heading_and_signature(name: str) -> None:
    """docs/hooks.md has a heading naming the hook and shows its exact signature."""
    assert any(re.search(rf"\b{name}\b", heading) for heading in headings()), (
        f"docs/hooks.md needs a heading for {name}"
    )
    assert f"`{HOOKS[name]}`" in HOOKS_MD.read_text(), (
        f"docs/hooks.md needs the signature `{HOOKS[name]}`"
    )


def test_documented_hooks_exist() -> None:
    """Every hook-like heading of docs/hooks.md names a hook that exists."""
    documented = {m for h in headings() for m in re.findall(r"\bopenprotocols_\w+", h)}
    assert documented == set(HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_has_a_test(name: str) -> None:
    """Some test function under tests/ is named ``test_hook_<name>...``."""
    assert any(t.startswith(f"test_hook_{name}") for t in function_names()), (
        f"write a test named test_hook_{name}_... for the hook"
    )
