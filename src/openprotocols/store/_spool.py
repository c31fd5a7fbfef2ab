"""The local store's :class:`~openprotocols.sync.plan.Spool`: one sync run's changes and
plan in a temporary SQLite database, so that the run's memory stays bounded by its batch
size however many items the collections hold.

SQLite keeps a temporary database in its page cache and moves it to a file of its own
(deleted when the database closes) only beyond :data:`CACHE_KIB`: a small run never
touches the disk. Everything happens in one transaction that is never committed; the
spool goes with the run, or with the :class:`~openprotocols.sync.Plan` that reads it.

Rows are added a chunk at a time (:data:`CHUNK`) and read a chunk at a time, each under
one lock, with nothing held between chunks: a prefetching collection reads a queue of
ids in its worker thread while the engine's thread adds rows, and an iterable of rows
being added may itself read the spool.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from openprotocols.backends.base import ItemRef
from openprotocols.errors import SyncError
from openprotocols.sync import Action, ActionKind, Pair, Side
from openprotocols.sync.plan import Group, PlannedActions

__all__ = ["CACHE_KIB", "CHUNK", "SqliteSpool"]

CHUNK = 512
"""Rows per read and per write."""

CACHE_KIB = 2048
"""The spool's page cache: beyond it, pages go to a temporary file."""

_SCHEMA = """
CREATE TABLE changed (side TEXT, id TEXT, version TEXT, PRIMARY KEY (side, id)) WITHOUT ROWID;
CREATE TABLE deleted (side TEXT, id TEXT, PRIMARY KEY (side, id)) WITHOUT ROWID;
CREATE TABLE touched (
    key INTEGER PRIMARY KEY, changed INTEGER NOT NULL, deleted INTEGER NOT NULL,
    local_id TEXT, local_version TEXT, remote_id TEXT, remote_version TEXT, hash TEXT, uid TEXT
);
CREATE TABLE queued (n INTEGER PRIMARY KEY, queue TEXT, item TEXT);
CREATE INDEX queued_order ON queued (queue, n);
CREATE TABLE actions (
    n INTEGER PRIMARY KEY, kind TEXT, source TEXT, target TEXT, id TEXT, key INTEGER,
    local_id TEXT, local_version TEXT, remote_id TEXT, remote_version TEXT, hash TEXT, uid TEXT
);
CREATE INDEX actions_group ON actions (kind, source, n);
"""

_PAIR = "local_id, local_version, remote_id, remote_version, hash, uid"
_ACTION = f"kind, source, target, id, key, {_PAIR}"
_TOUCH = (
    f"INSERT INTO touched (key, changed, deleted, {_PAIR}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - fixed names
    "ON CONFLICT (key) DO UPDATE SET changed = changed | excluded.changed, "
    "deleted = deleted | excluded.deleted"
)
_BITS = {Side.LOCAL: 1, Side.REMOTE: 2}

Row = tuple[Any, ...]


class SqliteSpool:
    """A :class:`~openprotocols.sync.plan.Spool` in a temporary SQLite database (see the
    module documentation).

    :raises SyncError: SQLite failed (no room for the temporary file, an I/O error), from
        any method.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[Sequence[Any]]] = {}
        with self._locked():
            # "": a private temporary database, in memory until it outgrows the cache
            self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._db.executescript(_SCHEMA)
            self._db.execute("BEGIN")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock; a SQLite error becomes a :class:`SyncError`."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise SyncError(f"the sync's spool (a temporary database) failed: {exc}") from exc

    # -- writing and reading, a chunk at a time ------------------------------------------

    def _add(self, sql: str, row: Sequence[Any]) -> None:
        """Add one row for ``sql``; the rows are written a chunk at a time."""
        with self._locked():
            rows = self._pending.setdefault(sql, [])
            rows.append(row)
            if len(rows) >= CHUNK:
                self._flush()

    def _flush(self) -> None:
        """Write the pending rows (the lock held)."""
        for sql, rows in self._pending.items():
            self._db.executemany(sql, rows)
        self._pending.clear()

    def _insert(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run ``sql`` for every row of ``rows``, a chunk at a time; ``rows`` is read
        without the lock (it may read the spool)."""
        chunk: list[Sequence[Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                self._execute_many(sql, chunk)
                chunk = []
        self._execute_many(sql, chunk)

    def _execute_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        with self._locked():
            self._flush()
            self._db.executemany(sql, rows)

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        """The rows of one query (keep it small: see :meth:`rows`)."""
        with self._locked():
            self._flush()
            return self._db.execute(sql, parameters).fetchall()

    def rows(self, table: str, columns: str, order: str, where: str, *params: Any) -> Iterator[Row]:
        """``columns`` of the rows of ``table`` matching ``where``, in ``order`` (a
        unique column, read as the first of each row and not returned), a chunk at a
        time."""
        sql = (
            f"SELECT {order}, {columns} FROM {table} WHERE {where} AND {order} > ? "  # noqa: S608 - fixed names
            f"ORDER BY {order} LIMIT {CHUNK}"
        )
        last: Any = "" if order == "id" else 0
        while True:
            chunk = self.query(sql, (*params, last))
            for row in chunk:
                yield row[1:]
            if len(chunk) < CHUNK:
                return
            last = chunk[-1][0]

    # -- the Spool protocol ----------------------------------------------------------------

    def add_changed(self, side: Side, refs: Iterable[ItemRef]) -> None:
        name = str(side)
        self._insert(
            "INSERT OR REPLACE INTO changed VALUES (?, ?, ?)",
            ((name, ref.id, ref.version) for ref in refs),
        )

    def add_deleted(self, side: Side, ids: Iterable[str]) -> None:
        self._insert(
            "INSERT OR IGNORE INTO deleted SELECT ?1, ?2 WHERE NOT EXISTS "
            "(SELECT 1 FROM changed WHERE side = ?1 AND id = ?2)",
            ((str(side), i) for i in ids),
        )

    def changed(self, side: Side) -> Iterator[tuple[str, str]]:
        yield from self.rows("changed", "id, version", "id", "side = ?", str(side))

    def deleted(self, side: Side) -> Iterator[str]:
        return (row[0] for row in self.rows("deleted", "id", "id", "side = ?", str(side)))

    def count_changed(self, side: Side) -> int:
        ((found,),) = self.query("SELECT count(*) FROM changed WHERE side = ?", (str(side),))
        return int(found)

    def undelete(self, side: Side, id: str) -> None:
        self.query("DELETE FROM deleted WHERE side = ? AND id = ?", (str(side), id))

    def touch(self, pair: Pair, side: Side, *, deleted: bool) -> None:
        bit = _BITS[side]
        changed, gone = (0, bit) if deleted else (bit, 0)
        self._add(_TOUCH, (pair.key, changed, gone, *pair_values(pair)))

    def touched(self) -> Iterator[tuple[Pair, frozenset[Side], frozenset[Side]]]:
        columns = f"key, changed, deleted, {_PAIR}"
        for key, changed, deleted, *values in self.rows("touched", columns, "key", "1"):
            yield pair_of(key, values), _sides(changed), _sides(deleted)

    def append(self, queue: str, item: str) -> None:
        self._add("INSERT INTO queued (queue, item) VALUES (?, ?)", (queue, item))

    def queue(self, queue: str) -> Iterator[str]:
        return (row[0] for row in self.rows("queued", "item", "n", "queue = ?", queue))

    def add_action(self, action: Action) -> None:
        pair = action.pair
        values = (pair.key, *pair_values(pair)) if pair is not None else (None,) * 7
        self._add(
            f"INSERT INTO actions ({_ACTION}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - fixed names
            (str(action.kind), _name(action.source), _name(action.target), action.id, *values),
        )

    def actions(self) -> PlannedActions:
        return SpooledActions(self)


class SpooledActions(PlannedActions):
    """A plan's actions as rows of a :class:`SqliteSpool`, each built when it is read."""

    def __init__(self, spool: SqliteSpool) -> None:
        self._spool = spool
        counts = spool.query(
            "SELECT kind, source, target, count(*) FROM actions "
            "GROUP BY kind, source, target ORDER BY min(n)"
        )
        self._counts = [
            (ActionKind(kind), _side(source), _side(target), int(count))
            for kind, source, target, count in counts
        ]
        self._length = sum(count for *_, count in self._counts)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Action]:
        return map(_action, self._spool.rows("actions", _ACTION, "n", "1"))

    @overload
    def __getitem__(self, index: int) -> Action: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Action]: ...
    def __getitem__(self, index: int | slice) -> Action | Sequence[Action]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("plan action index out of range")
        (row,) = self._spool.query(
            f"SELECT {_ACTION} FROM actions WHERE n = ?",  # noqa: S608 - fixed names
            (index + 1,),
        )
        return _action(row)

    def groups(self) -> list[Group]:
        return list(dict.fromkeys((kind, source) for kind, source, _, _ in self._counts))

    def group(self, kind: ActionKind, source: Side | None) -> Iterator[Action]:
        where = "kind = ? AND source IS ?"
        rows = self._spool.rows("actions", _ACTION, "n", where, str(kind), _name(source))
        return map(_action, rows)

    def count_of(self, kind: ActionKind, target: Side | None = None) -> int:
        return sum(count for k, _, t, count in self._counts if k is kind and target in (None, t))


def pair_values(pair: Pair) -> Row:
    """``pair``'s columns after its key, as the store's tables hold them."""
    return (pair.local_id, pair.local_version, pair.remote_id, pair.remote_version,
            pair.hash, pair.uid)  # fmt: skip


def pair_of(key: int | None, values: Sequence[Any]) -> Pair:
    """A new :class:`Pair` from its key and :func:`pair_values`."""
    local_id, local_version, remote_id, remote_version, digest, uid = values
    return Pair(local_id, local_version, remote_id, remote_version, digest, uid, key=key)


def _action(row: Sequence[Any]) -> Action:
    """The :class:`Action` of an ``actions`` row (with a new copy of its pair)."""
    kind, source, target, item_id, key, *values = row
    pair = pair_of(key, values) if values[4] is not None else None  # a pair has a hash
    return Action(ActionKind(kind), _side(source), _side(target), item_id, pair)


def _sides(bits: int) -> frozenset[Side]:
    return frozenset(side for side, bit in _BITS.items() if bits & bit)


def _name(side: Side | None) -> str | None:
    return None if side is None else str(side)


def _side(name: str | None) -> Side | None:
    return None if name is None else Side(name)
