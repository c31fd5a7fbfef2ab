"""The store's SQLite database: the schema, its migrations and one connection per thread.

WAL mode, foreign keys on, ``synchronous=NORMAL``: a process killed at any moment loses
nothing that was committed and never corrupts the file (a power cut may lose the last
transactions, never the file's consistency). Every write goes through :meth:`Database.write`,
a transaction committed as a whole or not at all; the sync engine commits the items it
wrote and its pairs together, per batch.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from openprotocols.errors import SyncStateError

__all__ = ["PAGE_SIZE", "SCHEMA_VERSION", "Database"]

SCHEMA_VERSION = 2

PAGE_SIZE = 16384
"""The page size of a new store (an existing one keeps its own)."""

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE folders (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    parent TEXT REFERENCES folders(id) ON DELETE CASCADE,
    color TEXT,
    description TEXT,
    read_only INTEGER NOT NULL DEFAULT 0,
    validity TEXT NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE items (
    folder TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    uid TEXT,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    meta TEXT NOT NULL,
    PRIMARY KEY (folder, id)
);
CREATE INDEX items_by_uid ON items (folder, uid);
CREATE TABLE changes (
    folder TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (folder, seq)
) WITHOUT ROWID;
CREATE TABLE history (
    hid INTEGER PRIMARY KEY,
    folder TEXT NOT NULL,
    item_id TEXT,
    side TEXT NOT NULL,
    version TEXT,
    uid TEXT,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    meta TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX history_by_folder ON history (folder, at);
CREATE TABLE bindings (
    bid INTEGER PRIMARY KEY,
    local_folder TEXT NOT NULL UNIQUE REFERENCES folders(id) ON DELETE CASCADE,
    backend TEXT NOT NULL,
    collection TEXT NOT NULL,
    account TEXT,
    direction TEXT NOT NULL,
    policy TEXT NOT NULL,
    local_state TEXT,
    remote_state TEXT
);
CREATE TABLE pairs (
    pid INTEGER PRIMARY KEY,
    binding INTEGER NOT NULL REFERENCES bindings(bid) ON DELETE CASCADE,
    local_id TEXT,
    local_version TEXT,
    remote_id TEXT,
    remote_version TEXT,
    hash TEXT NOT NULL,
    uid TEXT
);
CREATE UNIQUE INDEX pairs_by_local ON pairs (binding, local_id) WHERE local_id IS NOT NULL;
CREATE UNIQUE INDEX pairs_by_remote ON pairs (binding, remote_id) WHERE remote_id IS NOT NULL;
CREATE TABLE conflicts (
    cid INTEGER PRIMARY KEY,
    binding INTEGER NOT NULL REFERENCES bindings(bid) ON DELETE CASCADE,
    side TEXT NOT NULL,
    item_id TEXT,
    version TEXT,
    other_id TEXT,
    uid TEXT,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    meta TEXT NOT NULL,
    at REAL NOT NULL,
    question INTEGER NOT NULL DEFAULT 0,
    decision TEXT,
    UNIQUE (binding, side, item_id, version)
);
"""

_MIGRATIONS: dict[int, str] = {
    # 1 -> 2: ``items`` becomes a rowid table. A WITHOUT ROWID table keeps its rows in
    # the leaves of an index b-tree, where little of a row fits before it overflows:
    # SQLite's documentation advises against it for rows larger than a twentieth of a
    # page, and a synced message is several pages. A first sync of 10,000 messages
    # wrote its items about a second (10 %) faster as a rowid table (measured). The
    # table is written out here, not taken from _SCHEMA: a migration must keep making
    # the schema-2 table whatever later schemas change.
    1: """
CREATE TABLE items_v2 (
    folder TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    uid TEXT,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    meta TEXT NOT NULL,
    PRIMARY KEY (folder, id)
);
INSERT INTO items_v2 (folder, id, version, uid, kind, data, meta)
    SELECT folder, id, version, uid, kind, data, meta FROM items;
DROP TABLE items;
ALTER TABLE items_v2 RENAME TO items;
CREATE INDEX items_by_uid ON items (folder, uid);
""",
}
"""The SQL that takes a store from each old schema version to the next."""


class Database:
    """The store's database file, with one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.RLock()  # one writer at a time in this process
        with self.write() as db:
            found = db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
            ).fetchone()
            if found is None:
                db.executescript("BEGIN;" + _SCHEMA)  # executescript commits first
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            else:
                (version,) = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if int(version) > SCHEMA_VERSION:
                    raise SyncStateError(
                        f"{path} was written by a newer openprotocols (schema {version})"
                    )
                _migrate(db, int(version))

    @property
    def connection(self) -> sqlite3.Connection:
        """This thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
            # For a new file only (a no-op later): 16 KiB pages store a synced message's
            # bytes in a third as many overflow pages as 4 KiB ones, and write 47 MiB of
            # mail about 30 % faster (measured); it must come before WAL.
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def write(self, *, keep_open: bool = False) -> Iterator[sqlite3.Connection]:
        """A transaction: committed when the block ends, rolled back if it raises. Inside
        a transaction opened with :meth:`begin` (a sync batch), it joins that one.
        ``keep_open`` begins one that stays open after the block, for :meth:`commit` to
        end later (a sync batch's first write)."""
        conn = self.connection
        if self._depth > 0:
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        self.begin()
        if keep_open:
            try:
                yield conn
            except BaseException:
                self.rollback()
                raise
            return
        try:
            yield conn
        except BaseException:
            self.rollback()
            raise
        self.commit()

    @property
    def _depth(self) -> int:
        depth: int = getattr(self._local, "depth", 0)
        return depth

    def begin(self) -> None:
        """Open a transaction on this thread's connection (other threads' writes wait)."""
        conn = self.connection
        self._lock.acquire()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        self._local.depth = 1

    def commit(self) -> None:
        """Commit the transaction :meth:`begin` opened."""
        try:
            self.connection.execute("COMMIT")
        finally:
            self._local.depth = 0
            self._lock.release()

    def rollback(self) -> None:
        """Roll back the transaction :meth:`begin` opened."""
        try:
            self.connection.execute("ROLLBACK")
        finally:
            self._local.depth = 0
            self._lock.release()

    @property
    def in_transaction(self) -> bool:
        """Whether this thread has a transaction open."""
        return self._depth > 0

    def close(self) -> None:
        """Close this thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring a store of schema ``version`` up to :data:`SCHEMA_VERSION`, inside the
    caller's transaction: a store is migrated whole or not at all."""
    for step in range(version, SCHEMA_VERSION):
        for statement in _MIGRATIONS[step].split(";"):  # no ";" inside a statement
            if statement.strip():
                db.execute(statement)
    if version < SCHEMA_VERSION:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
