"""What the sync engine remembers between runs, behind one small protocol.

The engine pairs each item of the local collection with its counterpart in the remote
collection: a :class:`Pair` holds both ids, the versions last seen on each side and a
content hash of what was last synced. With the two sides' states (sync tokens, modseqs)
that is everything a sync needs to tell what changed where.

The engine never stores anything itself: it talks to a :class:`Status`. The local
store keeps it in SQLite, in the same transactions as the items
(:class:`openprotocols.store.LocalStore`); :class:`MemoryStatus` keeps it in memory for
tests and for syncing two servers directly.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import attrs

from openprotocols.model._base import Item

if TYPE_CHECKING:
    from .plan import Spool

__all__ = ["Kept", "KeptReason", "MemoryStatus", "Pair", "Side", "Status"]


class Side(enum.StrEnum):
    """One side of a binding."""

    LOCAL = "local"
    REMOTE = "remote"

    @property
    def other(self) -> Side:
        """The opposite side."""
        return Side.REMOTE if self is Side.LOCAL else Side.LOCAL


@attrs.define
class Pair:
    """An item known on one or both sides, as the last sync left it.

    ``key`` is the status store's name for the pair (``None`` until saved).
    """

    local_id: str | None
    local_version: str | None
    remote_id: str | None
    remote_version: str | None
    hash: str
    uid: str | None = None
    key: int | None = None

    def id(self, side: Side) -> str | None:
        """The item's id on ``side``."""
        return self.local_id if side is Side.LOCAL else self.remote_id

    def version(self, side: Side) -> str | None:
        """The version last seen on ``side``."""
        return self.local_version if side is Side.LOCAL else self.remote_version

    def set(self, side: Side, id: str | None, version: str | None) -> None:
        """Record ``side``'s id and version."""
        if side is Side.LOCAL:
            self.local_id, self.local_version = id, version
        else:
            self.remote_id, self.remote_version = id, version


class KeptReason(enum.StrEnum):
    """Why the engine handed a version over to be kept."""

    CONFLICT = "conflict"
    """The loser of a conflict under "keep both": in the conflict queue, to look at
    later (the winner is in place on both sides)."""
    QUESTION = "question"
    """A conflict under "ask": both sides untouched, the local version queued until the
    user decides (:meth:`Status.decision`)."""
    REPLACED = "replaced"
    """A version a sync overwrote on the remote side (the local side keeps its own
    history)."""


@attrs.frozen
class Kept:
    """A version of an item the engine will not keep in place, to be kept elsewhere."""

    reason: KeptReason
    side: Side
    id: str | None
    version: str | None
    item: Item
    raw: bytes | None = None
    other_id: str | None = None
    """For a conflict: the id of the winning version (on the other side)."""


class Status(Protocol):
    """The engine's memory of one binding. Writes become durable at :meth:`commit`."""

    def state(self, side: Side) -> str | None:
        """The state ``side``'s collection gave at the end of the last complete sync."""
        ...

    def pair(self, side: Side, id: str) -> Pair | None:
        """The pair holding ``id`` on ``side``."""
        ...

    def pairs(self) -> Iterator[Pair]:
        """Every pair (a full listing needs them all)."""
        ...

    def count(self) -> int:
        """How many pairs there are."""
        ...

    def save(self, pair: Pair) -> None:
        """Insert or update ``pair`` (giving it a ``key`` when new)."""
        ...

    def drop(self, pair: Pair) -> None:
        """Forget ``pair``."""
        ...

    def keep(self, kept: Kept) -> None:
        """Keep a version the sync will not leave in place (see :class:`Kept`)."""
        ...

    def commit(self, states: dict[Side, str] | None = None) -> None:
        """Make everything since the last commit durable, with new ``states`` if given
        (only at the end of a sync that applied every change)."""
        ...

    def decision(self, pair: Pair) -> Side | None:
        """The side the user chose for ``pair``'s open question (policy "ask"), if they
        did; it is used up by the run that applies it."""
        ...

    def spool(self) -> Spool:
        """A new, empty scratch space for one run's changes and plan
        (:class:`~openprotocols.sync.plan.Spool`); it goes when the plan goes."""
        ...


class MemoryStatus:
    """A :class:`Status` in memory: for tests, and for syncing two servers directly."""

    def __init__(self) -> None:
        self._pairs: dict[int, Pair] = {}
        self._index: dict[tuple[Side, str], int] = {}
        self._indexed: dict[int, list[tuple[Side, str]]] = {}  # pairs change in place
        self._states: dict[Side, str] = {}
        self._keys = itertools.count(1)
        self.kept: list[Kept] = []
        self.decisions: dict[str, Side] = {}
        """Decisions by local id, as a user would make them (for tests)."""
        self.commits = 0

    def state(self, side: Side) -> str | None:
        return self._states.get(side)

    def pair(self, side: Side, id: str) -> Pair | None:
        key = self._index.get((side, id))
        return None if key is None else self._pairs[key]

    def pairs(self) -> Iterator[Pair]:
        return iter(list(self._pairs.values()))

    def count(self) -> int:
        return len(self._pairs)

    def save(self, pair: Pair) -> None:
        if pair.key is None:
            pair.key = next(self._keys)
        else:
            self._unindex(pair.key)
        self._pairs[pair.key] = pair
        entries = [(side, item_id) for side in Side if (item_id := pair.id(side)) is not None]
        for entry in entries:
            self._index[entry] = pair.key
        self._indexed[pair.key] = entries

    def drop(self, pair: Pair) -> None:
        if pair.key is not None and pair.key in self._pairs:
            self._unindex(pair.key)
            del self._pairs[pair.key]

    def _unindex(self, key: int) -> None:
        for entry in self._indexed.pop(key, []):
            if self._index.get(entry) == key:
                del self._index[entry]

    def keep(self, kept: Kept) -> None:
        self.kept.append(kept)

    def commit(self, states: dict[Side, str] | None = None) -> None:
        self.commits += 1
        if states:
            self._states.update(states)

    def decision(self, pair: Pair) -> Side | None:
        return self.decisions.pop(pair.local_id, None) if pair.local_id else None

    def spool(self) -> Spool:
        from .plan import MemorySpool  # here: the plan module imports this one

        return MemorySpool()
