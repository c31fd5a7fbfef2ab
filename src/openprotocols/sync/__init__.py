"""The sync engine: keeps two collections in step through the collection protocol only.

- :class:`~openprotocols.sync.engine.Engine` — one run: changes, plan, execution
  (see its module for the algorithm, the conflict rules and the guard);
- :mod:`openprotocols.sync.status` — what it remembers between runs (:class:`Status`,
  with :class:`MemoryStatus` for tests and server-to-server syncs);
- :func:`content_hash` — how contents are compared (volatile properties ignored).

The engine never imports a backend or the store: it is handed two
:class:`~openprotocols.backends.base.Collection` objects and a :class:`Status`.
"""

from __future__ import annotations

from ._hash import content_hash
from .engine import Action, ActionKind, Engine, Guard, Plan, Progress, SyncReport
from .status import Kept, KeptReason, MemoryStatus, Pair, Side, Status

__all__ = [
    "Action",
    "ActionKind",
    "Engine",
    "Guard",
    "Kept",
    "KeptReason",
    "MemoryStatus",
    "Pair",
    "Plan",
    "Progress",
    "Side",
    "Status",
    "SyncReport",
    "content_hash",
]
