"""A run's plan, and the spool that holds it and both sides' changes.

The engine reads each side's changes, matches them to the known pairs and plans one
:class:`Action` per item. None of that is kept in the engine's memory: it goes to a
:class:`Spool`, the run's scratch space, which the :class:`~openprotocols.sync.Status`
provides (:meth:`Status.spool <openprotocols.sync.status.Status.spool>`). The local
store's spool is a temporary SQLite database, so that a first sync of 100,000 items
needs the memory of a few batches, like one of 1,000; :class:`MemorySpool` keeps
everything in dictionaries, for :class:`~openprotocols.sync.MemoryStatus` (tests, and
syncs of two servers that fit in memory anyway).

A :class:`Plan`'s ``actions`` is a :class:`PlannedActions`: a read-only sequence over
the spool that builds each action when it is read. A spool lives as long as the plan
that reads from it.

Threads: a prefetching collection reads the ids it is given (iterators over the spool)
in its worker thread while the engine's thread goes on writing, so a spool must allow
that — iterators are read a chunk at a time, and nothing is locked between chunks.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, overload

import attrs

from openprotocols.backends.base import ItemRef

from .status import Pair, Side

__all__ = [
    "Action",
    "ActionKind",
    "ListedActions",
    "MemorySpool",
    "Plan",
    "PlannedActions",
    "Spool",
]


class ActionKind(enum.StrEnum):
    """What an :class:`Action` does to its target side."""

    CREATE = "create"
    """A new item on the source side is created on the target side."""
    UPDATE = "update"
    """A changed item is written over its counterpart."""
    DELETE = "delete"
    """An item deleted on the source side is deleted on the target side."""
    RESTORE = "restore"
    """An item edited on the source side but deleted on the target side is re-created
    there: an edit beats a delete."""
    CONFLICT = "conflict"
    """Both sides changed the item; the conflict policy decides (equal contents are no
    conflict)."""
    FORGET = "forget"
    """Both sides deleted the item; only the pair goes."""


@attrs.frozen
class Action:
    """One planned step. ``source`` is the side whose change it carries (``None`` for a
    conflict or a forget), ``target`` the side it writes (``None`` for those too)."""

    kind: ActionKind
    source: Side | None
    target: Side | None
    id: str | None
    """The item's id on the source side (for a conflict: on the local side)."""
    pair: Pair | None = attrs.field(default=None, eq=False, repr=False)


Group = tuple[ActionKind, Side | None]
"""The actions of one kind from one source side: the engine executes a group at a time."""


class PlannedActions(Sequence[Action], abc.ABC):
    """A plan's actions, as a spool holds them: a read-only sequence that also answers
    the engine's questions without reading every action."""

    @abc.abstractmethod
    def groups(self) -> list[Group]:
        """The groups that have actions, in plan order (of their first action)."""

    @abc.abstractmethod
    def group(self, kind: ActionKind, source: Side | None) -> Iterator[Action]:
        """The actions of one group, in plan order."""

    @abc.abstractmethod
    def count_of(self, kind: ActionKind, target: Side | None = None) -> int:
        """How many actions of ``kind`` (writing ``target``, if given) there are."""


class ListedActions(PlannedActions):
    """:class:`PlannedActions` over a list (what :class:`MemorySpool` plans into)."""

    def __init__(self, actions: Iterable[Action] = ()) -> None:
        self._actions = list(actions)

    def __len__(self) -> int:
        return len(self._actions)

    @overload
    def __getitem__(self, index: int) -> Action: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Action]: ...
    def __getitem__(self, index: int | slice) -> Action | Sequence[Action]:
        return self._actions[index]

    def __iter__(self) -> Iterator[Action]:
        return iter(self._actions)

    def groups(self) -> list[Group]:
        return list(dict.fromkeys((a.kind, a.source) for a in self._actions))

    def group(self, kind: ActionKind, source: Side | None) -> Iterator[Action]:
        return (a for a in self._actions if a.kind is kind and a.source is source)

    def count_of(self, kind: ActionKind, target: Side | None = None) -> int:
        return sum(1 for a in self._actions if a.kind is kind and target in (None, a.target))


def _planned(actions: Iterable[Action]) -> PlannedActions:
    return actions if isinstance(actions, PlannedActions) else ListedActions(actions)


@attrs.frozen
class Plan:
    """What a run would do. ``skipped`` counts changes the direction does not carry.

    ``actions`` of a plan the engine made is read from the run's :class:`Spool`: iterate
    it, index it, ask :meth:`count`; it holds no action in memory until one is read.
    """

    actions: PlannedActions = attrs.field(eq=False, converter=_planned)
    full: frozenset[Side] = frozenset()
    """The sides whose changes came as a full listing."""
    skipped: int = 0
    reassociated: int = 0
    """Pairs whose ids were re-associated on one side (a UIDVALIDITY change)."""

    def count(self, kind: ActionKind, target: Side | None = None) -> int:
        """How many actions of ``kind`` (writing ``target``, if given) there are."""
        return self.actions.count_of(kind, target)

    def __len__(self) -> int:
        return len(self.actions)


class Spool(Protocol):
    """One run's scratch space (see the module documentation): each side's changes, the
    pairs they touch, queues of ids, and the planned actions. The engine fills it in
    that order; every read returns what was added before it, and each pair read is a
    new copy (execution updates it before writing, and a failed write must not leave
    that in the status or in another read)."""

    def add_changed(self, side: Side, refs: Iterable[ItemRef]) -> None:
        """Record the items listed as changed on ``side`` (for an id listed twice, the
        last version counts)."""
        ...

    def add_deleted(self, side: Side, ids: Iterable[str]) -> None:
        """Record the ids gone from ``side``; an id already recorded as changed there is
        not gone and is left out."""
        ...

    def changed(self, side: Side) -> Iterator[tuple[str, str]]:
        """``(id, version)`` of the items changed on ``side``."""
        ...

    def deleted(self, side: Side) -> Iterator[str]:
        """The ids gone from ``side``."""
        ...

    def count_changed(self, side: Side) -> int:
        """How many items are recorded as changed on ``side``."""
        ...

    def undelete(self, side: Side, id: str) -> None:
        """Take ``id`` back from ``side``'s deletions (it was re-associated)."""
        ...

    def touch(self, pair: Pair, side: Side, *, deleted: bool) -> None:
        """Record that ``side`` changed (or deleted) ``pair``'s item; the pair's values
        are those of its first touch."""
        ...

    def touched(self) -> Iterator[tuple[Pair, frozenset[Side], frozenset[Side]]]:
        """Each touched pair (a new copy), with the sides that changed it and those
        that deleted it, in the order of first touch."""
        ...

    def append(self, queue: str, item: str) -> None:
        """Append ``item`` to the named queue."""
        ...

    def queue(self, queue: str) -> Iterator[str]:
        """The items of the named queue, in order."""
        ...

    def add_action(self, action: Action) -> None:
        """Plan ``action`` (after those planned before)."""
        ...

    def actions(self) -> PlannedActions:
        """The actions planned so far, as a sequence over the spool."""
        ...


class MemorySpool:
    """A :class:`Spool` in memory (for :class:`~openprotocols.sync.MemoryStatus`)."""

    def __init__(self) -> None:
        self._changed: dict[Side, dict[str, str]] = {side: {} for side in Side}
        self._deleted: dict[Side, dict[str, None]] = {side: {} for side in Side}
        self._touched: dict[int, tuple[Pair, set[Side], set[Side]]] = {}
        self._queues: dict[str, list[str]] = {}
        self._actions: list[Action] = []

    def add_changed(self, side: Side, refs: Iterable[ItemRef]) -> None:
        self._changed[side].update((ref.id, ref.version) for ref in refs)

    def add_deleted(self, side: Side, ids: Iterable[str]) -> None:
        changed = self._changed[side]
        self._deleted[side].update((i, None) for i in ids if i not in changed)

    def changed(self, side: Side) -> Iterator[tuple[str, str]]:
        return iter(list(self._changed[side].items()))

    def deleted(self, side: Side) -> Iterator[str]:
        return iter(list(self._deleted[side]))

    def count_changed(self, side: Side) -> int:
        return len(self._changed[side])

    def undelete(self, side: Side, id: str) -> None:
        self._deleted[side].pop(id, None)

    def touch(self, pair: Pair, side: Side, *, deleted: bool) -> None:
        assert pair.key is not None  # a pair the status saved
        _, changed_by, deleted_by = self._touched.setdefault(
            pair.key, (attrs.evolve(pair), set(), set())
        )
        (deleted_by if deleted else changed_by).add(side)

    def touched(self) -> Iterator[tuple[Pair, frozenset[Side], frozenset[Side]]]:
        for pair, changed_by, deleted_by in list(self._touched.values()):
            yield attrs.evolve(pair), frozenset(changed_by), frozenset(deleted_by)

    def append(self, queue: str, item: str) -> None:
        self._queues.setdefault(queue, []).append(item)

    def queue(self, queue: str) -> Iterator[str]:
        return iter(list(self._queues.get(queue, ())))

    def add_action(self, action: Action) -> None:
        self._actions.append(action)

    def actions(self) -> PlannedActions:
        return ListedActions(self._actions)
