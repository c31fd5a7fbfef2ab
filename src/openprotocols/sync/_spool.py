"""The engine's scratch space for one run: both sides' changes and the plan, in a
temporary SQLite database, so that a run's memory stays bounded by its batch size however
many items the collections hold.

SQLite keeps a temporary database in its page cache and moves it to a file of its own
(deleted when the database closes) only beyond :data:`CACHE_KIB`; a small run never
touches the disk. Everything happens in one transaction that is never committed: the
spool is thrown away with the run, or with the :class:`~openprotocols.sync.Plan` that
still reads from it.

Reads come in chunks of :data:`CHUNK` rows under a lock, so the spool may be read from
the worker thread of a prefetching collection (the engine hands a group's ids to ``get``
as an iterator) while the engine's own thread uses it too.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from .status import Pair, Side

CHUNK = 512
"""Rows per read."""

CACHE_KIB = 2048
"""The page cache of the spool: beyond it, pages go to a temporary file."""

_SCHEMA = """
CREATE TABLE changed (side TEXT, id TEXT, version TEXT, PRIMARY KEY (side, id)) WITHOUT ROWID;
CREATE TABLE deleted (side TEXT, id TEXT, PRIMARY KEY (side, id)) WITHOUT ROWID;
CREATE TABLE touched (
    key INTEGER PRIMARY KEY, changed INTEGER NOT NULL, deleted INTEGER NOT NULL,
    local_id TEXT, local_version TEXT, remote_id TEXT, remote_version TEXT, hash TEXT, uid TEXT
);
CREATE TABLE new (n INTEGER PRIMARY KEY, side TEXT, id TEXT);
CREATE TABLE fresh (n INTEGER PRIMARY KEY, id TEXT);
CREATE TABLE actions (
    n INTEGER PRIMARY KEY, kind TEXT, source TEXT, target TEXT, id TEXT, key INTEGER,
    local_id TEXT, local_version TEXT, remote_id TEXT, remote_version TEXT, hash TEXT, uid TEXT
);
CREATE INDEX actions_group ON actions (kind, source, n);
"""

BITS = {Side.LOCAL: 1, Side.REMOTE: 2}
"""The bit of each side in the ``changed`` and ``deleted`` columns of ``touched``."""

Row = tuple[Any, ...]


def sides_of(bits: int) -> set[Side]:
    """The sides a bit set of :data:`BITS` names."""
    return {side for side, bit in BITS.items() if bits & bit}


def pair_values(pair: Pair) -> tuple[Any, ...]:
    """``pair``'s columns after its key, as the spool stores them."""
    return (pair.local_id, pair.local_version, pair.remote_id, pair.remote_version,
            pair.hash, pair.uid)  # fmt: skip


def pair_of(key: int | None, values: Sequence[Any]) -> Pair:
    """A :class:`Pair` from its key and :func:`pair_values` (a fresh copy each time)."""
    local_id, local_version, remote_id, remote_version, digest, uid = values
    return Pair(local_id, local_version, remote_id, remote_version, digest, uid, key=key)


class Spool:
    """One run's scratch database (see the module documentation)."""

    def __init__(self) -> None:
        # "": a private temporary database, in memory until it outgrows the cache
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._db.executescript(_SCHEMA)
        self._db.execute("BEGIN")

    def close(self) -> None:
        """Drop the spool (its file, if it has one, goes with it)."""
        with self._lock:
            self._db.close()

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; its rows (keep the result small: use :meth:`rows`)."""
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def insert(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run ``sql`` for every row of ``rows`` (consumed lazily); how many there were."""
        with self._lock:
            before = self._db.total_changes
            self._db.executemany(sql, rows)
            return self._db.total_changes - before

    def rows(self, table: str, columns: str, where: str = "1", *parameters: Any) -> Iterator[Row]:
        """The rows of ``table`` matching ``where``, in rowid order, read a chunk at a
        time (``table`` must have a rowid alias ``n``, or be read by its ``rowid``)."""
        last = 0
        while True:
            chunk = self.execute(
                f"SELECT rowid, {columns} FROM {table} WHERE ({where}) AND rowid > ? "  # noqa: S608 - fixed names
                f"ORDER BY rowid LIMIT {CHUNK}",
                (*parameters, last),
            )
            for row in chunk:
                yield row[1:]
            if len(chunk) < CHUNK:
                return
            last = chunk[-1][0]

    def keyed(self, table: str, columns: str, side: Side) -> Iterator[Row]:
        """The rows of a ``(side, id)``-keyed table for ``side``, by id, a chunk at a
        time; ``columns`` must start with ``id``."""
        last = ""
        while True:
            chunk = self.execute(
                f"SELECT {columns} FROM {table} WHERE side = ? AND id > ? "  # noqa: S608 - fixed names
                f"ORDER BY id LIMIT {CHUNK}",
                (str(side), last),
            )
            yield from chunk
            if len(chunk) < CHUNK:
                return
            last = chunk[-1][0]

    def count(self, table: str, where: str = "1", *parameters: Any) -> int:
        """How many rows of ``table`` match ``where``."""
        ((found,),) = self.execute(f"SELECT count(*) FROM {table} WHERE {where}", parameters)  # noqa: S608
        return int(found)


class Buffer:
    """Rows for one ``INSERT`` into a :class:`Spool`, written a chunk at a time (the
    rows may come from reading the spool itself); a ``with`` block writes the rest."""

    def __init__(self, spool: Spool, sql: str) -> None:
        self._spool = spool
        self._sql = sql
        self._rows: list[Sequence[Any]] = []
        self.count = 0
        """Rows added so far."""

    def add(self, row: Sequence[Any]) -> None:
        """Add one row (written when the chunk is full)."""
        self._rows.append(row)
        self.count += 1
        if len(self._rows) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Write the rows added since the last flush."""
        rows, self._rows = self._rows, []
        self._spool.insert(self._sql, rows)

    def __enter__(self) -> Buffer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.flush()


class SpooledActions(Sequence[Any]):
    """A plan's actions as rows of a :class:`Spool`: a read-only sequence that builds
    each :class:`~openprotocols.sync.engine.Action` as it is read. ``build`` turns a row
    of the ``actions`` table (without its ``n``) into an action."""

    def __init__(self, spool: Spool, build: Any) -> None:
        self._spool = spool
        self._build = build
        self._length = spool.count("actions")
        self._groups: list[tuple[str, str | None, int]] = [
            (kind, source, int(count))
            for kind, source, count in spool.execute(
                "SELECT kind, source, count(*) FROM actions GROUP BY kind, source ORDER BY min(n)"
            )
        ]

    _COLUMNS = ("kind, source, target, id, key, local_id, local_version, remote_id, "
                "remote_version, hash, uid")  # fmt: skip

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Any]:
        return (self._build(row) for row in self._spool.rows("actions", self._COLUMNS))

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("plan action index out of range")
        (row,) = self._spool.execute(
            f"SELECT {self._COLUMNS} FROM actions WHERE n = ?",  # noqa: S608 - fixed names
            (index + 1,),
        )
        return self._build(row)

    def groups(self) -> list[tuple[str, str | None, int]]:
        """``(kind, source, count)`` of each group of actions, in plan order."""
        return list(self._groups)

    def group(self, kind: str, source: str | None) -> Iterator[Any]:
        """The actions of one group, in plan order, read a chunk at a time."""
        where = "kind = ? AND source IS ?"
        return (
            self._build(row)
            for row in self._spool.rows("actions", self._COLUMNS, where, kind, source)
        )

    def count_of(self, kind: str, target: str | None = None) -> int:
        """How many actions of ``kind`` (writing ``target``, if given) there are."""
        if target is None:
            return sum(count for k, _, count in self._groups if k == kind)
        return self._spool.count("actions", "kind = ? AND target IS ?", kind, target)
