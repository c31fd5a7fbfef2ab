"""The local store: items, sync state, history and conflicts in one SQLite file.

- :class:`LocalStore` — the store, a collection provider like any backend;
- :class:`Binding` — a local folder bound to a server collection: ``sync()``,
  ``plan()``, ``reset_from_server()``;
- :func:`export_folder` — copy a folder into a new server collection and bind them;
- :func:`sync_all` — sync an account's bindings on a bounded pool of threads.
"""

from __future__ import annotations

from .binding import Binding, SqliteStatus, export_folder, sync_all
from .local import Conflict, HistoryEntry, LocalCollection, LocalStore, default_path

__all__ = [
    "Binding",
    "Conflict",
    "HistoryEntry",
    "LocalCollection",
    "LocalStore",
    "SqliteStatus",
    "default_path",
    "export_folder",
    "sync_all",
]
