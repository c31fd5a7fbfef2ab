"""openprotocols: mail, calendars, tasks and contacts kept in sync over open protocols.

Importing this package does no I/O and loads almost nothing: every name below is
imported on first use. The layers (see ``docs/architecture.md``):

- :mod:`openprotocols.model` — immutable items, folders, accounts, bindings;
- :mod:`openprotocols.backends` — the collection protocol and the protocol backends;
- :mod:`openprotocols.plugins` / :mod:`openprotocols.hookspecs` — how backends are found;
- :mod:`openprotocols.sync` — the sync engine; :mod:`openprotocols.store` — the local store;
- :mod:`openprotocols.network` — the one network layer every connection goes through;
- :mod:`openprotocols.errors` — every error, in one hierarchy;
- :mod:`openprotocols.testing` — contract tests and embedded servers for backend authors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._api import connect
    from .discovery import DiscoveryResult, discover
    from .errors import OpenProtocolsError
    from .hookspecs import hookimpl
    from .model import (
        Account,
        AccountOptions,
        Appointment,
        Contact,
        ContactGroup,
        Endpoint,
        Folder,
        FolderKind,
        FolderRole,
        Message,
        Security,
        Task,
    )
    from .network import Network
    from .plugins import get_plugin_manager
    from .store import Binding, LocalStore, export_folder

__all__ = [
    "Account",
    "AccountOptions",
    "Appointment",
    "Binding",
    "Contact",
    "ContactGroup",
    "DiscoveryResult",
    "Endpoint",
    "Folder",
    "FolderKind",
    "FolderRole",
    "LocalStore",
    "Message",
    "Network",
    "OpenProtocolsError",
    "Security",
    "Task",
    "__version__",
    "connect",
    "discover",
    "export_folder",
    "get_plugin_manager",
    "hookimpl",
]

# Where each exported name lives; every name not listed here comes from the model.
_LAZY = {
    "connect": "._api",
    "discover": ".discovery",
    "DiscoveryResult": ".discovery",
    "OpenProtocolsError": ".errors",
    "hookimpl": ".hookspecs",
    "Network": ".network",
    "get_plugin_manager": ".plugins",
    "Binding": ".store",
    "LocalStore": ".store",
    "export_folder": ".store",
}
_LAZY |= {name: ".model" for name in __all__ if name not in _LAZY and name != "__version__"}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("openprotocols")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'openprotocols' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
