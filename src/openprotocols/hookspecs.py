"""The hooks a plugin may implement, each documented (see also ``docs/hooks.md``).

A plugin is a module or object with functions decorated by :data:`hookimpl` whose names
are hook names below. It is registered through the ``openprotocols`` entry-point group of
its distribution::

    [project.entry-points.openprotocols]
    mybackend = "openprotocols_mybackend"

Hooks hand the plugin a *registry* to add to, rather than asking it to return values:
the host keeps control of naming, duplicates and validation (the registry refuses a
second backend of the same name, or a class that does not implement the protocol).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .plugins import BackendRegistry, DiscoveryRegistry

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("openprotocols")
"""Marks a hook specification (used only in this module)."""

hookimpl = pluggy.HookimplMarker("openprotocols")
"""Marks a plugin's implementation of a hook: ``@openprotocols.hookimpl``."""


@hookspec
def openprotocols_register_backends(registry: BackendRegistry) -> None:
    """Register backend classes: call ``registry.add(cls)`` for each.

    Each class subclasses :class:`openprotocols.backends.base.Backend` and has a unique
    ``name``. Built-in backends are registered first, so a plugin cannot replace one by
    reusing its name: the second registration is refused and reported as a plugin error.

    :param registry: the :class:`~openprotocols.plugins.BackendRegistry` to add to.
    """


@hookspec
def openprotocols_register_discovery_providers(registry: DiscoveryRegistry) -> None:
    """Register account-discovery providers: call ``registry.add(cls)`` for each.

    Each class subclasses :class:`openprotocols.backends.discovery.DiscoveryProvider`; it has a
    unique ``name``; :func:`openprotocols.discover` runs the providers in ``order``.

    :param registry: the :class:`~openprotocols.plugins.DiscoveryRegistry` to add to.
    """
