"""Each hook of hookspecs.py, used as a plugin uses it: one or more `test_hook_<name>` each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import openprotocols
from openprotocols.backends.autoconfig import AutoconfigProvider
from openprotocols.backends.autodiscover import AutodiscoverProvider
from openprotocols.backends.discovery import DiscoveryAttempt, DiscoveryProvider
from openprotocols.backends.guess import GuessProvider
from openprotocols.backends.memory import MemoryBackend
from openprotocols.backends.srv import SrvProvider
from openprotocols.errors import PluginError
from openprotocols.model import Account
from openprotocols.plugins import get_plugin_manager

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from openprotocols.plugins import BackendRegistry, DiscoveryRegistry


def backend_named(name: str) -> type[MemoryBackend]:
    """A memory backend registered under ``name``."""
    return type(f"Backend_{name}", (MemoryBackend,), {"name": name})


def provider(name: str, order: int) -> type[DiscoveryProvider]:
    """A discovery provider called ``name`` that reports one not-found attempt."""

    def discover(
        self: DiscoveryProvider, email: str, *, password: object = None
    ) -> Iterator[DiscoveryAttempt]:
        yield DiscoveryAttempt(mechanism=name, target=email, outcome="not-found")

    return type(
        f"Provider_{name}",
        (DiscoveryProvider,),
        {"name": name, "order": order, "discover": discover},
    )


class BackendPlugin:
    """A plugin whose backend hook runs ``register`` and counts its calls."""

    def __init__(self, register: Callable[[BackendRegistry], None]) -> None:
        self.register = register
        self.calls = 0

    @openprotocols.hookimpl
    def openprotocols_register_backends(self, registry: BackendRegistry) -> None:
        """Count the call, then register."""
        self.calls += 1
        self.register(registry)


class ProviderPlugin:
    """A plugin whose discovery hook adds the given classes, in order."""

    def __init__(self, *classes: Any) -> None:
        self.classes = classes

    @openprotocols.hookimpl
    def openprotocols_register_discovery_providers(self, registry: DiscoveryRegistry) -> None:
        """Add every class."""
        for cls in self.classes:
            registry.add(cls)


def test_hook_openprotocols_register_backends_runs_once_per_manager() -> None:
    """The hook runs once while the manager is built, and again for a new manager."""
    plugin = BackendPlugin(lambda registry: registry.add(backend_named("once")))
    pm = get_plugin_manager(entry_points=False, plugins=[plugin])
    assert plugin.calls == 1
    assert "once" in pm.backends()
    pm.backends()
    pm.discovery_providers()
    assert plugin.calls == 1
    assert "once" in get_plugin_manager(entry_points=False, plugins=[plugin]).backends()
    assert plugin.calls == 2


def builtin_backends() -> list[str]:
    """The names of the built-in backends, in registration order."""
    return get_plugin_manager(entry_points=False).backends().names()


def test_hook_openprotocols_register_backends_in_registration_order() -> None:
    """Built-ins register first, then explicit plugins in the order given; first name wins."""
    first = backend_named("shared")
    second = backend_named("shared")
    pm = get_plugin_manager(
        entry_points=False,
        plugins=[
            BackendPlugin(lambda registry: registry.add(first)),
            BackendPlugin(lambda registry: registry.add(backend_named("other"))),
            BackendPlugin(lambda registry: registry.add(second)),
        ],
    )
    assert pm.backends().names() == [*builtin_backends(), "shared", "other"]
    assert pm.backends().get("shared") is first
    (failure,) = pm.failures
    assert failure.stage == "openprotocols_register_backends"
    assert isinstance(failure.error, PluginError)


def test_hook_openprotocols_register_backends_failure_is_isolated() -> None:
    """A raising hook keeps what it added before, and the plugins after it still register."""

    def half(registry: BackendRegistry) -> None:
        registry.add(backend_named("before"))
        raise RuntimeError("bug after the first add")

    pm = get_plugin_manager(
        entry_points=False,
        plugins=[
            BackendPlugin(half),
            BackendPlugin(lambda registry: registry.add(backend_named("after"))),
        ],
    )
    assert pm.backends().names() == [*builtin_backends(), "before", "after"]
    assert [str(f.error) for f in pm.failures] == ["bug after the first add"]
    with openprotocols.connect(
        Account(email="ann@example.test"), "after", plugin_manager=pm
    ) as backend:
        assert backend.name == "after"


def test_hook_openprotocols_register_discovery_providers_sorted_by_order() -> None:
    """Providers run by ascending order; ties keep registration order across plugins."""
    late, early, tie_a, tie_b = (
        provider("late", 200),
        provider("early", 5),
        provider("tie_a", 50),
        provider("tie_b", 50),
    )
    pm = get_plugin_manager(
        entry_points=False,
        plugins=[
            ProviderPlugin(late, tie_a),
            ProviderPlugin(early, tie_b),
        ],
    )
    builtin = [AutodiscoverProvider, AutoconfigProvider, SrvProvider]  # 20, 30, 40
    # GuessProvider (50) ties with tie_a and tie_b: built-ins register first
    assert pm.discovery_providers().ordered() == [
        early,
        *builtin,
        GuessProvider,
        tie_a,
        tie_b,
        late,
    ]
    assert pm.discovery_providers().names() == [
        "autodiscover",
        "autoconfig",
        "srv",
        "guess",
        "late",
        "tie_a",
        "early",
        "tie_b",
    ]
    assert pm.failures == []
    assert "late" not in pm.backends()  # providers and backends are separate registries


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (MemoryBackend, "not a DiscoveryProvider subclass"),
        (type("Abstract", (DiscoveryProvider,), {"name": "abstract"}), "does not implement"),
        (provider("dup", 1), "already registered"),
        (provider("has space", 1), "needs a `name`"),
    ],
)
def test_hook_openprotocols_register_discovery_providers_refuses_invalid(
    cls: type, message: str
) -> None:
    """An invalid provider is a reported failure; valid ones of the same plugin still count."""
    pm = get_plugin_manager(
        entry_points=False,
        plugins=[
            ProviderPlugin(provider("dup", 1)),
            ProviderPlugin(cls, provider("fine", 1)),
        ],
    )
    registry = pm.discovery_providers()
    (failure,) = pm.failures
    assert failure.stage == "openprotocols_register_discovery_providers"
    assert message in str(failure.error)
    assert "fine" not in registry  # the hook stopped at the refused class
    assert "dup" in registry
