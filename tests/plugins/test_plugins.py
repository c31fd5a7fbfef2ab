"""The plugin manager: built-ins, entry points, failures, registries and validation."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import openprotocols
from openprotocols.backends.autoconfig import AutoconfigProvider
from openprotocols.backends.autodiscover import AutodiscoverProvider
from openprotocols.backends.base import Backend, Capability, Collection
from openprotocols.backends.discovery import DiscoveryAttempt, DiscoveryProvider
from openprotocols.backends.guess import GuessProvider
from openprotocols.backends.memory import MemoryBackend
from openprotocols.backends.srv import SrvProvider
from openprotocols.errors import ConfigurationError, PluginError
from openprotocols.model import Account, Folder, FolderKind
from openprotocols.plugins import get_plugin_manager


class MinimalBackend(Backend):
    """A backend that implements only what is abstract."""

    name = "minimal"
    kinds = frozenset({FolderKind.CALENDAR})

    def list_folders(self) -> list[Folder]:
        return []

    def collection(self, folder: Folder | str) -> Collection:  # type: ignore[type-arg]
        raise NotImplementedError


class NullProvider(DiscoveryProvider):
    """A discovery provider that finds nothing."""

    name = "null"
    order = 50

    def discover(self, email: str, *, password: object = None) -> Iterator[DiscoveryAttempt]:
        yield DiscoveryAttempt(mechanism=self.name, target=email, outcome="not-found")


class Plugin:
    """An inline plugin registering one backend and one discovery provider."""

    @openprotocols.hookimpl
    def openprotocols_register_backends(self, registry):  # type: ignore[no-untyped-def]
        registry.add(MinimalBackend)

    @openprotocols.hookimpl
    def openprotocols_register_discovery_providers(self, registry):  # type: ignore[no-untyped-def]
        registry.add(NullProvider)


def write_distribution(
    root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """Install a tiny distribution by hand: modules plus a dist-info with entry points."""
    dist = root / f"{name.replace('-', '_')}-1.0.dist-info"  # the normalized name
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[openprotocols]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path where tests install distributions."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("OPENPROTOCOLS_LOAD_PLUGINS", raising=False)
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith("op_test_")]:
        del sys.modules[module]


GOOD_PLUGIN = """
    import openprotocols
    from openprotocols.backends.memory import MemoryBackend

    class GoodBackend(MemoryBackend):
        name = "good"

    @openprotocols.hookimpl
    def openprotocols_register_backends(registry):
        registry.add(GoodBackend)
"""


def test_builtins_are_registered_without_entry_points() -> None:
    """The built-in memory backend is registered even with autoload off."""
    pm = get_plugin_manager(entry_points=False)
    assert pm.backends().get("memory") is MemoryBackend
    assert pm.backends().origin("memory") == "openprotocols.backends.memory"
    assert pm.failures == []


def test_explicit_plugin_registers_backend_and_provider() -> None:
    """A plugin object passed in registers its backend and discovery provider."""
    pm = get_plugin_manager(entry_points=False, plugins=[Plugin()])
    builtin = get_plugin_manager(entry_points=False).backends().names()
    assert pm.backends().names() == [*builtin, "minimal"]
    assert pm.discovery_providers().ordered() == [
        AutodiscoverProvider,  # 20
        AutoconfigProvider,  # 30
        SrvProvider,  # 40
        GuessProvider,  # 50, built in: registered first
        NullProvider,  # 50
    ]
    assert "minimal" in pm.backends()
    assert len(pm.backends()) == len(builtin) + 1


def test_entry_points_load_and_broken_ones_are_reported(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken, a raising and a duplicate plugin are reported; the good one still loads."""
    write_distribution(
        site, "op-test-good", {"good": "op_test_good"}, {"op_test_good": GOOD_PLUGIN}
    )
    write_distribution(site, "op-test-broken", {"broken": "op_test_missing_module"}, {})
    write_distribution(
        site,
        "op-test-raises",
        {"raises": "op_test_raises"},
        {
            "op_test_raises": """
        import openprotocols

        @openprotocols.hookimpl
        def openprotocols_register_backends(registry):
            raise RuntimeError("plugin bug")
    """
        },
    )
    write_distribution(
        site,
        "op-test-dup",
        {"dup": "op_test_dup"},
        {
            "op_test_dup": """
        import openprotocols
        from openprotocols.backends.memory import MemoryBackend

        class Impostor(MemoryBackend):
            name = "memory"

        @openprotocols.hookimpl
        def openprotocols_register_backends(registry):
            registry.add(Impostor)
    """
        },
    )
    with caplog.at_level(logging.WARNING, logger="openprotocols.plugins"):
        pm = get_plugin_manager()
    registry = pm.backends()
    assert registry.get("good").__module__ == "op_test_good"
    assert registry.origin("good") == "good"
    assert registry.get("memory") is MemoryBackend  # the built-in keeps its name
    failures = {f.name: f for f in pm.failures}
    assert failures["broken"].stage == "load"
    assert isinstance(failures["broken"].error, ModuleNotFoundError)
    assert failures["raises"].stage == "openprotocols_register_backends"
    assert str(failures["raises"].error) == "plugin bug"
    assert isinstance(failures["dup"].error, PluginError)
    assert "already registered" in str(failures["dup"].error)
    assert "plugin 'broken' failed at load" in caplog.text


def test_installed_plugin_with_unknown_hook_is_reported(site: Path) -> None:
    """An installed plugin with a misspelt hook is reported and unregistered, not fatal."""
    write_distribution(
        site, "op-test-good", {"good": "op_test_good"}, {"op_test_good": GOOD_PLUGIN}
    )
    write_distribution(
        site,
        "op-test-typo",
        {"typo": "op_test_typo"},
        {
            "op_test_typo": """
        import openprotocols

        @openprotocols.hookimpl
        def openprotocols_register_backend(registry):
            pass
    """
        },
    )
    pm = get_plugin_manager()
    assert "good" in pm.backends()
    (failure,) = pm.failures
    assert (failure.name, failure.stage) == ("typo", "register")
    assert "unknown hook 'openprotocols_register_backend'" in str(failure.error)
    assert pm.get_plugin("typo") is None


def test_hooks_run_through_pluggy_with_its_semantics() -> None:
    """Registration hooks may take fewer arguments and be wrappers, as pluggy allows."""
    calls: list[str] = []

    class NoArgs:
        @openprotocols.hookimpl
        def openprotocols_register_backends(self):  # type: ignore[no-untyped-def]
            calls.append("no-args")

    class Wrapper:
        @openprotocols.hookimpl(wrapper=True)
        def openprotocols_register_backends(self, registry):  # type: ignore[no-untyped-def]
            calls.append("wrapper")
            return (yield)

    pm = get_plugin_manager(entry_points=False, plugins=[NoArgs(), Wrapper()])
    assert calls == ["no-args", "wrapper"]
    assert pm.failures == []


def test_explicit_plugins_get_readable_names() -> None:
    """A plugin object passed in is named after its class, and origin() says so."""
    pm = get_plugin_manager(entry_points=False, plugins=[Plugin()])
    assert pm.backends().origin("minimal") == f"{__name__}.Plugin"


def test_blocked_plugins_are_not_registered(site: Path) -> None:
    """A built-in module or an entry point named in blocked= is left out."""
    write_distribution(
        site, "op-test-good", {"good": "op_test_good"}, {"op_test_good": GOOD_PLUGIN}
    )
    pm = get_plugin_manager(blocked=["openprotocols.backends.srv", "good"])
    assert "srv" not in pm.discovery_providers()
    assert "good" not in pm.backends()
    assert "memory" in pm.backends()


def test_autoload_can_be_disabled(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD keeps installed plugins out."""
    write_distribution(
        site, "op-test-good", {"good": "op_test_good"}, {"op_test_good": GOOD_PLUGIN}
    )
    monkeypatch.setenv("OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "good" not in get_plugin_manager().backends()
    monkeypatch.delenv("OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD")
    assert "good" in get_plugin_manager().backends()


def test_load_plugins_selects_entry_points(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OPENPROTOCOLS_LOAD_PLUGINS loads only the named entry points."""
    write_distribution(
        site, "op-test-good", {"good": "op_test_good"}, {"op_test_good": GOOD_PLUGIN}
    )
    write_distribution(site, "op-test-broken", {"broken": "op_test_missing_module"}, {})
    monkeypatch.setenv("OPENPROTOCOLS_LOAD_PLUGINS", "good")
    pm = get_plugin_manager()
    assert "good" in pm.backends()
    assert pm.failures == []


def test_trace_hooks_logs_hook_calls(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """OPENPROTOCOLS_TRACE_HOOKS logs every hook call at debug level."""
    monkeypatch.setenv("OPENPROTOCOLS_TRACE_HOOKS", "1")
    with caplog.at_level(logging.DEBUG, logger="openprotocols.plugins"):
        get_plugin_manager(entry_points=False)
    assert (
        "hook openprotocols_register_backends -> ['openprotocols.backends.memory']" in caplog.text
    )


def test_unknown_hook_is_refused() -> None:
    """A plugin implementing a hook that does not exist fails check_pending()."""

    class Typo:
        @openprotocols.hookimpl
        def openprotocols_register_backend(self, registry):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(PluginError, match="unknown hook"):
        get_plugin_manager(entry_points=False, plugins=[Typo()])


def test_hook_with_unknown_argument_is_refused() -> None:
    """An implementation asking for an argument the hook does not have is refused."""

    class Wrong:
        @openprotocols.hookimpl
        def openprotocols_register_backends(self, registry, extra):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(PluginError, match=r"unknown hook argument|extra"):
        get_plugin_manager(entry_points=False, plugins=[Wrong()])


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (int, "not a Backend subclass"),
        (type("Nameless", (MinimalBackend,), {"name": ""}), "needs a `name`"),
        (type("Spaced", (MinimalBackend,), {"name": "has space"}), "needs a `name`"),
        (type("Abstract", (Backend,), {"name": "abstract"}), "does not implement"),
        (
            type(
                "Claims",
                (MinimalBackend,),
                {"name": "claims", "capabilities": Capability.CREATE_FOLDERS},
            ),
            "declares CREATE_FOLDERS but does not implement _create_folder",
        ),
    ],
)
def test_registry_refuses_invalid_classes(cls: type, message: str) -> None:
    """The registry checks each class when it is added."""
    registry = get_plugin_manager(entry_points=False).backends()
    with pytest.raises(PluginError, match=message):
        registry.add(cls)


def test_registry_lookup_of_unknown_name() -> None:
    """Looking up an unknown backend names the installed ones."""
    registry = get_plugin_manager(entry_points=False).backends()
    installed = ", ".join(sorted(registry.names()))
    with pytest.raises(
        ConfigurationError, match=rf"no backend called 'nope' \(installed: {installed}\)"
    ):
        registry.get("nope")


def test_connect_opens_registered_backend() -> None:
    """openprotocols.connect() builds, opens and returns the named backend."""
    pm = get_plugin_manager(entry_points=False, plugins=[Plugin()])
    account = Account(email="ann@example.test")
    with openprotocols.connect(account, "minimal", plugin_manager=pm) as backend:
        assert isinstance(backend, MinimalBackend)
        assert backend.account is account


def test_connect_closes_backend_when_open_fails() -> None:
    """A backend whose open() fails is closed before the error propagates."""
    closed: list[bool] = []

    class Failing(MinimalBackend):
        name = "failing"

        def open(self) -> None:
            raise ConnectionRefusedError("down")

        def close(self) -> None:
            closed.append(True)

    class FailingPlugin:
        @openprotocols.hookimpl
        def openprotocols_register_backends(self, registry):  # type: ignore[no-untyped-def]
            registry.add(Failing)

    pm = get_plugin_manager(entry_points=False, plugins=[FailingPlugin()])
    with pytest.raises(ConnectionRefusedError):
        openprotocols.connect(Account(email="ann@example.test"), "failing", plugin_manager=pm)
    assert closed == [True]
