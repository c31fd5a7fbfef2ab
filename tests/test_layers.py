"""The layers of docs/architecture.md import one way only, and the pure ones do no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import openprotocols

PACKAGE = Path(openprotocols.__file__).parent

# What each layer may import from openprotocols (by top-level subpackage or module).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "model": {"model", "errors"},
    "formats": {"formats", "model", "errors"},
    "network": {"network", "errors", "_http"},
    "_http": {"network", "errors"},
    "hookspecs": {"plugins"},
    "plugins": {"hookspecs", "errors", "backends", "model"},
    "sync": {"sync", "backends.base", "model", "errors"},
    "outlook": {
        "outlook",
        "model",
        "formats",
        "errors",
        "backends",
        "sync",
        "store",
        "network",
        "hookspecs",
        "plugins",
    },
}

# Libraries that do I/O; the pure layers must not import them.
IO_MODULES = {
    "socket",
    "ssl",
    "smtplib",
    "imaplib",
    "subprocess",
    "urllib",
    "http",
    "niquests",
    "urllib3",
    "imapclient",
    "caldav",
    "dns",
    "sqlite3",
}
PURE_LAYERS = {"model", "formats", "errors", "sync"}


def modules() -> list[Path]:
    """Every Python file of the package."""
    return sorted(PACKAGE.rglob("*.py"))


def layer_of(path: Path) -> str:
    """The layer a file belongs to: its first path component below the package."""
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def imports_of(path: Path, *, top_level_only: bool = False) -> list[str]:
    """Absolute names of every module the file imports (relative imports resolved); with
    ``top_level_only``, only the imports made when the module is loaded (not those inside
    functions)."""
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(relative.parts[:-1])  # a module's package; an __init__'s own package
    found: list[str] = []
    tree = ast.parse(path.read_text(), str(path))
    nodes = _module_level(tree) if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def _module_level(node: ast.AST) -> list[ast.AST]:
    """The nodes of ``node`` that run at import: everything but function bodies."""
    found: list[ast.AST] = []
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(child)
            found.extend(_module_level(child))
    return found


def internal_target(name: str) -> str | None:
    """``backends.base`` for ``openprotocols.backends.base.X``; None outside the package."""
    parts = name.split(".")
    if parts[0] != "openprotocols" or len(parts) == 1:
        return None
    return ".".join(parts[1:3]) if parts[1] == "backends" else parts[1]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    """Each module imports only the layers its own layer may use."""
    layer = layer_of(path)
    if layer not in ALLOWED:
        return
    allowed = ALLOWED[layer] | {layer}
    for name in imports_of(path):
        target = internal_target(name)
        if target is None:
            continue
        top = target.split(".")[0]
        assert target in allowed or top in allowed, f"{layer} must not import {name}"


@pytest.mark.parametrize(
    "path",
    [p for p in modules() if layer_of(p) in PURE_LAYERS],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_pure_layers_do_no_io(path: Path) -> None:
    """Model, formats, errors and the sync engine import no network or database library."""
    for name in imports_of(path):
        assert name.split(".")[0] not in IO_MODULES, f"{path.name} imports {name}"


def test_nothing_imports_the_outlook_adapter() -> None:
    """The core never imports the optional Outlook adapter; the command does, inside the
    functions that read Outlook files, so that it loads only when a user imports one."""
    for path in modules():
        if layer_of(path) == "outlook":
            continue
        module_level = imports_of(path, top_level_only=True)
        for name in imports_of(path):
            if internal_target(name) != "outlook":
                continue
            assert layer_of(path) == "cli", f"{path} imports {name}"
            assert name not in module_level, f"{path} imports {name} at module level"


def test_checker_sees_relative_imports() -> None:
    """The checker resolves relative imports (so the tests above can fail)."""
    names = imports_of(PACKAGE / "backends" / "memory.py")
    assert "openprotocols.backends.base" in names
    assert "openprotocols.model.folders.Folder" in names
