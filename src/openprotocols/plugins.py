"""The plugin manager: built-in backends and installed plugins, loaded safely.

:func:`get_plugin_manager` builds a fresh :class:`PluginManager` (no hidden global; an
embedding product builds exactly the one it wants) in three steps:

1. the built-in plugins (:data:`DEFAULT_PLUGINS`) are registered, as ordinary plugins;
2. the ``openprotocols`` entry-point group is loaded one entry point at a time: one that
   fails to import, implements a hook that does not exist, or fails validation is
   recorded in :attr:`PluginManager.failures`, logged and unregistered, and the others
   load regardless;
3. ``check_pending()`` refuses hook implementations that match no hook;
4. the registries are built by calling the registration hooks.

Environment variables (read when the manager is built):

``OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD``
    Any non-empty value: skip step 2, only built-in plugins load.
``OPENPROTOCOLS_LOAD_PLUGINS``
    A comma-separated list of entry-point names: load only these.
``OPENPROTOCOLS_TRACE_HOOKS``
    Any non-empty value: log every hook call at debug level.

Each plugin's registration hook is called through pluggy on its own, in registration
order, so one plugin that raises or registers a duplicate name is reported, not fatal,
and the built-ins always claim their names first. When :func:`get_plugin_manager`
returns, :attr:`PluginManager.failures` is complete.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import itertools
import logging
import os
import threading
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
import pluggy

from . import hookspecs
from .errors import ConfigurationError, PluginError
from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .backends.base import Backend
    from .backends.discovery import DiscoveryProvider

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "BackendRegistry",
    "DiscoveryRegistry",
    "PluginFailure",
    "PluginManager",
    "Registry",
    "default_plugin_manager",
    "get_plugin_manager",
    "hookimpl",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "openprotocols"
"""The entry-point group plugins declare themselves in."""

DEFAULT_PLUGINS: tuple[str, ...] = (
    "openprotocols.backends.memory",
    "openprotocols.backends.imap",
    "openprotocols.backends.smtp",
    "openprotocols.backends.caldav",
    "openprotocols.backends.carddav",
    "openprotocols.backends.autodiscover",
    "openprotocols.backends.autoconfig",
    "openprotocols.backends.srv",
    "openprotocols.backends.guess",
)
"""The built-in plugins, registered before any installed one."""

T = TypeVar("T", bound=type)


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded or whose registration failed."""

    name: str
    """The entry-point or plugin name."""
    stage: str
    """``"load"`` (import), ``"register"`` (validation), or the hook that raised."""
    error: BaseException

    def __str__(self) -> str:
        return f"plugin {self.name!r} failed at {self.stage}: {self.error}"


class Registry(Generic[T]):
    """Classes registered by plugins, keyed by their ``name`` attribute.

    ``add()`` refuses a class without a name, an abstract class, a class of the wrong
    base, or a name already taken (the first registration wins).
    """

    def __init__(self, base: type, what: str) -> None:
        self._base = base
        self._what = what
        self._classes: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._current_plugin = "<unknown>"

    def add(self, cls: T) -> None:
        """Register ``cls`` under ``cls.name``.

        :raises PluginError: the class is invalid or the name is taken.
        """
        plugin = self._current_plugin
        if not (isinstance(cls, type) and issubclass(cls, self._base)):
            raise PluginError(f"{cls!r} is not a {self._base.__name__} subclass", plugin=plugin)
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name or not name.replace("-", "_").isidentifier():
            raise PluginError(
                f"{cls.__qualname__} needs a `name`: a short identifier like 'imap'",
                plugin=plugin,
            )
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
            raise PluginError(f"{cls.__qualname__} does not implement {missing}", plugin=plugin)
        self._validate(cls, plugin)
        if name in self._classes:
            raise PluginError(
                f"{self._what} {name!r} is already registered by {self._origin[name]}",
                plugin=plugin,
            )
        self._classes[name] = cls
        self._origin[name] = plugin

    def _validate(self, cls: T, plugin: str) -> None:
        """Extra checks of a subclass registry; raise :class:`PluginError`."""

    def get(self, name: str) -> T:
        """The class registered as ``name``.

        :raises ConfigurationError: nothing is registered under that name.
        """
        try:
            return self._classes[name]
        except KeyError:
            known = ", ".join(sorted(self._classes)) or "none"
            raise ConfigurationError(
                f"no {self._what} called {name!r} (installed: {known})"
            ) from None

    def origin(self, name: str) -> str:
        """The name of the plugin that registered ``name``."""
        self.get(name)
        return self._origin[name]

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[T]:
        return iter(self._classes.values())

    def __len__(self) -> int:
        return len(self._classes)


class BackendRegistry(Registry["type[Backend]"]):
    """The registered backend classes.

    Plugins add to it in :func:`~openprotocols.hookspecs.openprotocols_register_backends`.
    """

    def __init__(self) -> None:
        from .backends.base import Backend

        super().__init__(Backend, "backend")

    def _validate(self, cls: type[Backend], plugin: str) -> None:
        from .backends.base import FOLDER_OPERATIONS, Backend

        for method, capability in FOLDER_OPERATIONS.items():
            declared = capability in cls.capabilities
            if declared and getattr(cls, method) is getattr(Backend, method):
                raise PluginError(
                    f"{cls.__qualname__} declares {capability.name} but does not "
                    f"implement {method}()",
                    plugin=plugin,
                )


class DiscoveryRegistry(Registry["type[DiscoveryProvider]"]):
    """The registered discovery providers, in the order they run."""

    def __init__(self) -> None:
        from .backends.discovery import DiscoveryProvider

        super().__init__(DiscoveryProvider, "discovery provider")

    def ordered(self) -> list[type[DiscoveryProvider]]:
        """The providers sorted by ``order`` (stable: ties keep registration order)."""
        return sorted(self, key=lambda cls: cls.order)


class PluginManager(pluggy.PluginManager):
    """pluggy's plugin manager with typed access to what plugins register.

    Build it with :func:`get_plugin_manager`.
    """

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        """Plugins that failed to load or register, in the order it happened."""
        self._lock = threading.Lock()
        self._backends: BackendRegistry | None = None
        self._discovery: DiscoveryRegistry | None = None

    def backends(self) -> BackendRegistry:
        """Every registered backend class."""
        with self._lock:
            if self._backends is None:
                self._backends = self._collect(BackendRegistry(), "openprotocols_register_backends")
            return self._backends

    def discovery_providers(self) -> DiscoveryRegistry:
        """Every registered discovery provider class."""
        with self._lock:
            if self._discovery is None:
                self._discovery = self._collect(
                    DiscoveryRegistry(), "openprotocols_register_discovery_providers"
                )
            return self._discovery

    def _collect(self, registry: Any, hook_name: str) -> Any:
        """Call each plugin's registration hook through pluggy, one plugin at a time.

        Calling them one by one (in registration order, built-ins first) is what lets a
        plugin that raises be reported while the others still register; going through
        pluggy keeps its semantics: argument subsets, wrappers, hook-call tracing.
        """
        plugins = self.list_name_plugin()
        for name, plugin in plugins:
            if plugin is None or not self.get_hookcallers(plugin):
                continue
            others = [p for n, p in plugins if n != name and p is not None]
            caller = self.subset_hook_caller(hook_name, remove_plugins=others)
            if not caller.get_hookimpls():
                continue
            registry._current_plugin = name
            try:
                caller(registry=registry)
            except Exception as exc:  # a plugin's bug must not take the host down
                self._fail(name, hook_name, exc)
        registry._current_plugin = "<unknown>"
        return registry

    def _fail(self, name: str, stage: str, error: BaseException) -> None:
        failure = PluginFailure(name, stage, error)
        self.failures.append(failure)
        log.warning("%s", failure)

    def load_entry_points(self, only: Sequence[str] | None = None) -> int:
        """Load the ``openprotocols`` entry points one by one; return how many loaded.

        :param only: load only the entry points with these names.
        """
        loaded = 0
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if only is not None and ep.name not in only:
                continue
            if self.get_plugin(ep.name) is not None or self.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin is reported, not fatal
                self._fail(ep.name, "load", exc)
                continue
            try:
                self.register(plugin, name=ep.name)
                self._check_hooks_of(ep.name)
            except Exception as exc:  # e.g. pluggy.PluginValidationError
                if self.get_plugin(ep.name) is not None:
                    self.unregister(name=ep.name)
                self._fail(ep.name, "register", exc)
                continue
            loaded += 1
        return loaded

    def _check_hooks_of(self, name: str) -> None:
        """Refuse a plugin implementing a hook that does not exist (a typo, an old name).

        pluggy's ``check_pending()`` checks every plugin at once; checking each installed
        plugin on its own lets one with a typo be reported rather than stop the host.
        """
        plugin = self.get_plugin(name)
        for caller in self.get_hookcallers(plugin) or ():
            if caller.spec is None:
                raise pluggy.PluginValidationError(
                    plugin, f"unknown hook {caller.name!r} in plugin {name!r}"
                )


def get_plugin_manager(
    *,
    entry_points: bool | None = None,
    plugins: Sequence[object] = (),
    blocked: Iterable[str] = (),
) -> PluginManager:
    """Build a plugin manager with the built-in plugins and the installed ones.

    :param entry_points: load the ``openprotocols`` entry points; by default yes, unless
        ``OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD`` is set.
    :param plugins: extra plugin objects (modules or instances) to register after the
        built-ins, e.g. a product's own backends.
    :param blocked: names of plugins not to register: built-in module names (e.g.
        ``"openprotocols.backends.srv"``) or entry-point names.
    :raises PluginError: a built-in or an explicitly given plugin is invalid (those are
        the caller's own code, so they are not merely reported). An installed plugin that
        fails is recorded in :attr:`PluginManager.failures` and logged instead.
    """
    pm = PluginManager()
    for name in blocked:
        pm.set_blocked(name)
    try:
        for module_name in DEFAULT_PLUGINS:
            if pm.is_blocked(module_name):
                continue
            pm.register(importlib.import_module(module_name), name=module_name)
        for plugin in plugins:
            name = base = _plugin_name(plugin)
            for n in itertools.count(2):
                if not pm.has_plugin(name):
                    break
                name = f"{base}#{n}"  # two instances of one plugin class
            pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc), plugin=pm.get_name(exc.plugin)) from exc
    if entry_points is None:
        entry_points = not os.environ.get("OPENPROTOCOLS_DISABLE_PLUGIN_AUTOLOAD")
    if entry_points:
        only = os.environ.get("OPENPROTOCOLS_LOAD_PLUGINS")
        names = [n.strip() for n in only.split(",") if n.strip()] if only is not None else None
        pm.load_entry_points(names)
    if os.environ.get("OPENPROTOCOLS_TRACE_HOOKS"):
        _trace_hooks(pm)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc), plugin=pm.get_name(exc.plugin)) from exc
    pm.backends()  # build the registries now, so that `failures` is complete
    pm.discovery_providers()
    return pm


def _plugin_name(plugin: object) -> str:
    """A readable name for an explicitly given plugin: a module's name, else its class's."""
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__
    cls = plugin if isinstance(plugin, type) else type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}"


def _trace_hooks(pm: PluginManager) -> None:
    def before(hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
        log.debug("hook %s -> %s", hook_name, [impl.plugin_name for impl in impls])

    def after(
        outcome: pluggy.Result[Any],
        hook_name: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        log.debug("hook %s done", hook_name)

    pm.add_hookcall_monitoring(before, after)


_default: PluginManager | None = None
_default_lock = threading.Lock()


def default_plugin_manager() -> PluginManager:
    """The process-wide plugin manager that :func:`openprotocols.connect` uses when no
    manager is passed, built on first use with :func:`get_plugin_manager`."""
    global _default  # noqa: PLW0603 - a lazily built, process-wide default
    with _default_lock:
        if _default is None:
            _default = get_plugin_manager()
        return _default
