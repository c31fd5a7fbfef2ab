"""The local store: folders of items in one SQLite file, a collection provider like any
backend, with the history that makes every replaced or deleted version restorable.

Applications read and edit items through it (:meth:`LocalStore.collection` gives the same
collection protocol as a server), and bind its folders to server collections
(:meth:`LocalStore.bind`). What it keeps, per folder:

- the items, each as a record of its wire bytes (:mod:`openprotocols.store._records`): an
  item that came from a server keeps that server's bytes;
- a change log, so that ``changes(since)`` costs O(changes): the state is
  ``<validity>:<sequence>``;
- the **history**: every version a write replaced or a delete removed, by the user or by a
  sync, and the server versions a sync overwrote — :meth:`LocalStore.history` lists them,
  :meth:`LocalStore.restore` brings one back;
- the **conflict queue**: versions that lost a conflict under *keep both* or wait for a
  decision under *ask* (:meth:`LocalStore.conflicts`, :meth:`LocalStore.resolve`).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from openprotocols.backends.base import (
    Capability,
    Changes,
    Collection,
    Entry,
    ItemRef,
    Provider,
    spill_refs,
)
from openprotocols.errors import AlreadyExistsError, ConflictError, NotFoundError
from openprotocols.model._base import Item
from openprotocols.model.bindings import Binding as BindingSpec
from openprotocols.model.bindings import ConflictPolicy, Direction
from openprotocols.model.folders import Folder, FolderKind, FolderRole
from openprotocols.model.mail import Message

from . import _records
from ._db import Database

if TYPE_CHECKING:
    import sqlite3

    from openprotocols.backends.base import Backend

    from .binding import Binding

__all__ = ["Conflict", "HistoryEntry", "LocalCollection", "LocalStore"]

Actor = Literal["user", "sync"]


@attrs.frozen
class HistoryEntry:
    """A version that was replaced or deleted. ``side`` says where it lived (``local``,
    or ``remote`` for a server version a sync overwrote); ``reason`` is ``replaced`` or
    ``deleted``, ``by`` is ``user`` or ``sync``; ``at`` a POSIX time."""

    hid: int
    folder: str
    item_id: str | None
    side: str
    version: str | None
    uid: str | None
    reason: str
    by: str
    at: float
    _record: _records.Record = attrs.field(repr=False, alias="record")

    @property
    def item(self) -> Item:
        """The item as it was."""
        return _records.decode(self._record)


@attrs.frozen
class Conflict:
    """A version that lost a conflict (*keep both*) or waits for a decision (*ask*).

    ``side`` is where it lived, ``item_id`` and ``version`` its id and version there;
    ``other_id`` the id of the version that stayed on the other side.
    """

    cid: int
    folder: str
    side: str
    item_id: str | None
    version: str | None
    other_id: str | None
    uid: str | None
    at: float
    question: bool
    """Whether this waits for a decision (policy *ask*) rather than having lost."""
    decision: str | None
    """The side chosen for a question, until the next sync applies it."""
    _record: _records.Record = attrs.field(repr=False, alias="record")

    @property
    def item(self) -> Item:
        """The losing (or waiting) version."""
        return _records.decode(self._record)


def default_path() -> Path:
    """``store.sqlite`` in the user's data directory for openprotocols."""
    import platformdirs

    return Path(platformdirs.user_data_dir("openprotocols")) / "store.sqlite"


class LocalStore(Provider):
    """The embedded store (see the module documentation). ``path=None`` uses
    :func:`default_path`; ``":memory:"`` is not supported (use a temporary file)."""

    name = "local"
    description = "The local store: items, history and sync state in SQLite."
    kinds = frozenset(FolderKind)
    capabilities = (
        Capability.INCREMENTAL
        | Capability.CREATE_FOLDERS
        | Capability.RENAME_FOLDERS
        | Capability.DELETE_FOLDERS
    )

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.path)
        self._actor = threading.local()

    def __repr__(self) -> str:
        return f"<LocalStore {str(self.path)!r}>"

    def close(self) -> None:
        """Close this thread's database connection."""
        self.db.close()

    # -- who is writing (for the history) ---------------------------------------

    @property
    def actor(self) -> Actor:
        """``sync`` while a binding of this thread syncs, else ``user``."""
        actor: Actor = getattr(self._actor, "value", "user")
        return actor

    @contextlib.contextmanager
    def acting(self, actor: Actor) -> Iterator[None]:
        """Record writes in this block as made by ``actor``."""
        before = self.actor
        self._actor.value = actor
        try:
            yield
        finally:
            self._actor.value = before

    # -- folders -----------------------------------------------------------------

    def list_folders(self) -> list[Folder]:
        rows = self.db.connection.execute(
            "SELECT id, kind, name, display_name, role, parent, color, description, read_only "
            "FROM folders"
        ).fetchall()
        folders = [_folder(row) for row in rows]
        return sorted(folders, key=lambda f: (f.id.count("/"), f.id))

    def folder(self, folder_id: str) -> Folder:
        """The folder ``folder_id``.

        :raises NotFoundError: there is none.
        """
        row = self.db.connection.execute(
            "SELECT id, kind, name, display_name, role, parent, color, description, read_only "
            "FROM folders WHERE id = ?",
            (folder_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no folder {folder_id!r}", backend=self.name, url=folder_id)
        return _folder(row)

    def collection(self, folder: Folder | str) -> LocalCollection:
        return LocalCollection(self, self.folder(self._folder_id(folder)))

    def add_folder(self, folder: Folder) -> Folder:
        """Add ``folder`` as it is (role, colour, read-only...).

        :raises AlreadyExistsError: a folder with that id exists.
        """
        with self.db.write() as db:
            if db.execute("SELECT 1 FROM folders WHERE id = ?", (folder.id,)).fetchone():
                raise AlreadyExistsError(
                    f"folder {folder.id!r} exists", backend=self.name, url=folder.id
                )
            db.execute(
                "INSERT INTO folders (id, kind, name, display_name, role, parent, color, "
                "description, read_only, validity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (folder.id, str(folder.kind), folder.name, folder.display_name,
                 str(folder.role), folder.parent, folder.color, folder.description,
                 int(folder.read_only), uuid.uuid4().hex[:12]),
            )  # fmt: skip
        return folder

    def _create_folder(
        self,
        name: str,
        kind: FolderKind,
        *,
        parent: str | None,
        display_name: str,
        color: str | None,
    ) -> Folder:
        folder_id = f"{parent}/{name}" if parent else name
        return self.add_folder(
            Folder.new(
                folder_id, kind, name=name, display_name=display_name, parent=parent, color=color
            )
        )

    def _rename_folder(self, folder_id: str, new_name: str) -> Folder:
        with self.db.write() as db:
            self.folder(folder_id)
            db.execute("UPDATE folders SET display_name = ? WHERE id = ?", (new_name, folder_id))
        return self.folder(folder_id)

    def _delete_folder(self, folder_id: str) -> None:
        with self.db.write() as db:
            self.folder(folder_id)
            rows = db.execute(
                "SELECT id, version, uid, kind, data, meta FROM items WHERE folder = ?",
                (folder_id,),
            )
            for item_id, version, uid, kind, data, meta in rows.fetchall():
                self._remember(db, folder_id, item_id, "local", str(version),
                               _records.Record(kind, data, meta, uid), "deleted")  # fmt: skip
            db.execute("DELETE FROM folders WHERE id = ?", (folder_id,))

    # -- history -----------------------------------------------------------------

    def _remember(
        self,
        db: sqlite3.Connection,
        folder: str,
        item_id: str | None,
        side: str,
        version: str | None,
        record: _records.Record,
        reason: str,
    ) -> None:
        db.execute(
            "INSERT INTO history (folder, item_id, side, version, uid, kind, data, meta, "
            "reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (folder, item_id, side, version, record.uid, record.kind, record.data, record.meta,
             f"{reason} by {self.actor}", time.time()),
        )  # fmt: skip

    def history(
        self, folder: Folder | str | None = None, *, item_id: str | None = None, limit: int = 100
    ) -> list[HistoryEntry]:
        """Versions replaced or deleted, newest first (of one folder or item, if given)."""
        query = (
            "SELECT hid, folder, item_id, side, version, uid, reason, at, kind, data, meta "
            "FROM history WHERE 1=1"
        )
        args: list[Any] = []
        if folder is not None:
            query += " AND folder = ?"
            args.append(self._folder_id(folder))
        if item_id is not None:
            query += " AND item_id = ?"
            args.append(item_id)
        query += " ORDER BY hid DESC LIMIT ?"
        args.append(limit)
        entries = []
        for (
            hid,
            fid,
            iid,
            side,
            version,
            uid,
            reason,
            at,
            kind,
            data,
            meta,
        ) in self.db.connection.execute(query, args).fetchall():
            what, _, by = reason.partition(" by ")
            record = _records.Record(kind, data, meta, uid)
            entries.append(
                HistoryEntry(hid, fid, iid, side, version, uid, what, by, at, record=record)
            )
        return entries

    def restore(self, entry: HistoryEntry | int) -> ItemRef:
        """Bring a version back into its folder: over the item of the same UID if the
        folder has one (which goes to the history in turn), else as a new item. The next
        sync of the folder's binding takes it to the server.

        :raises NotFoundError: no such history entry, or its folder is gone.
        """
        hid = entry if isinstance(entry, int) else entry.hid
        row = self.db.connection.execute(
            "SELECT folder, uid, kind, data, meta FROM history WHERE hid = ?", (hid,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no history entry {hid}", backend=self.name)
        folder_id, uid, kind, data, meta = row
        record = _records.Record(kind, data, meta, uid)
        collection = self.collection(folder_id)
        with self.db.write():
            current = collection.find_uid(uid) if uid is not None else None
            if current is None:
                return collection.store(record)
            return collection.store(record, replace=current)

    # -- conflicts ---------------------------------------------------------------

    def conflicts(self, folder: Folder | str | None = None) -> list[Conflict]:
        """The conflict queue (of one folder's binding, if given), oldest first."""
        query = (
            "SELECT c.cid, b.local_folder, c.side, c.item_id, c.version, c.other_id, c.uid, "
            "c.at, c.question, c.decision, c.kind, c.data, c.meta "
            "FROM conflicts c JOIN bindings b ON b.bid = c.binding"
        )
        args: list[Any] = []
        if folder is not None:
            query += " WHERE b.local_folder = ?"
            args.append(self._folder_id(folder))
        rows = self.db.connection.execute(query + " ORDER BY c.cid", args).fetchall()
        return [_conflict(row) for row in rows]

    def resolve(self, conflict: Conflict | int, *, keep: Literal["local", "remote"]) -> None:
        """Settle a conflict.

        For a conflict *keep both* queued (the server's version is in place on both
        sides): ``keep="remote"`` moves the queued version to the history; ``"local"``
        writes it over the item in place, and the next sync takes it to the server.

        For a question *ask* queued (both sides untouched): the next sync of the binding
        applies the decision — the chosen version goes to both sides, the other to the
        history.

        :raises NotFoundError: no such conflict.
        """
        cid = conflict if isinstance(conflict, int) else conflict.cid
        found = next((c for c in self.conflicts() if c.cid == cid), None)
        if found is None:
            raise NotFoundError(f"no conflict {cid}", backend=self.name)
        with self.db.write() as db:
            if found.question:
                db.execute("UPDATE conflicts SET decision = ? WHERE cid = ?", (keep, cid))
                return
            self._remember(db, found.folder, found.item_id, found.side, found.version,
                           found._record, "set aside")  # fmt: skip
            db.execute("DELETE FROM conflicts WHERE cid = ?", (cid,))
            if keep == "local":
                collection = self.collection(found.folder)
                current = collection.find_uid(found.uid) if found.uid is not None else None
                collection.store(found._record, replace=current)

    # -- bindings ----------------------------------------------------------------

    def bind(
        self,
        folder: Folder | str,
        backend: Backend,
        collection: str | None = None,
        *,
        direction: Direction | str = Direction.TWO_WAY,
        policy: ConflictPolicy | str = ConflictPolicy.KEEP_BOTH,
    ) -> Binding:
        """Bind a local folder to a collection of ``backend`` (a connected backend).

        ``collection=None`` finds one: the remote folder of the same kind and display
        name, else the first of that kind (the seed's "Resource left blank").

        :raises AlreadyExistsError: the folder is bound already.
        :raises NotFoundError: no remote collection fits.
        """
        from .binding import Binding

        local = self.folder(self._folder_id(folder))
        remote_id = collection if collection is not None else _pick(local, backend)
        spec = BindingSpec(
            local_folder=local.id,
            backend=backend.name,
            collection=remote_id,
            account=backend.account.email,
            direction=Direction(direction),
            conflict_policy=ConflictPolicy(policy),
        )
        with self.db.write() as db:
            if db.execute("SELECT 1 FROM bindings WHERE local_folder = ?", (local.id,)).fetchone():
                raise AlreadyExistsError(f"{local.id!r} is bound already", backend=self.name)
            db.execute(
                "INSERT INTO bindings (local_folder, backend, collection, account, direction, "
                "policy) VALUES (?, ?, ?, ?, ?, ?)",
                (spec.local_folder, spec.backend, spec.collection, spec.account,
                 str(spec.direction), str(spec.conflict_policy)),
            )  # fmt: skip
        return Binding(self, spec, backend)

    def create_bound_folder(
        self,
        name: str,
        kind: FolderKind | str,
        backend: Backend,
        *,
        display_name: str | None = None,
        color: str | None = None,
        direction: Direction | str = Direction.TWO_WAY,
        policy: ConflictPolicy | str = ConflictPolicy.KEEP_BOTH,
    ) -> Binding:
        """Create a local folder and a new collection of ``backend`` together, and bind
        them (the seed's "create additional folders and bind them with DAV collections").
        If the server refuses the collection, the local folder is not kept."""
        folder = self.create_folder(name, kind, display_name=display_name, color=color)
        try:
            remote = backend.create_folder(
                name, kind, display_name=display_name or name, color=color
            )
        except BaseException:
            self.delete_folder(folder)
            raise
        return self.bind(folder, backend, remote.id, direction=direction, policy=policy)

    def binding(self, folder: Folder | str, backend: Backend) -> Binding:
        """The binding of a local folder, with ``backend`` to reach its collection.

        :raises NotFoundError: the folder is not bound.
        """
        from .binding import Binding

        return Binding(self, self.binding_spec(folder), backend)

    def binding_spec(self, folder: Folder | str) -> BindingSpec:
        """What a local folder is bound to.

        :raises NotFoundError: the folder is not bound.
        """
        folder_id = self._folder_id(folder)
        row = self.db.connection.execute(
            "SELECT backend, collection, account, direction, policy FROM bindings "
            "WHERE local_folder = ?",
            (folder_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"{folder_id!r} is not bound", backend=self.name, url=folder_id)
        backend, collection, account, direction, policy = row
        return BindingSpec(
            local_folder=folder_id,
            backend=backend,
            collection=collection,
            account=account,
            direction=direction,
            conflict_policy=policy,
        )

    def unbind(self, folder: Folder | str) -> None:
        """Remove the binding of a local folder (the folder and its items stay), without
        connecting to its backend (:meth:`Binding.unbind` needs one).

        :raises NotFoundError: the folder is not bound.
        """
        folder_id = self._folder_id(folder)
        with self.db.write() as db:
            gone = db.execute("DELETE FROM bindings WHERE local_folder = ?", (folder_id,))
            if gone.rowcount == 0:
                raise NotFoundError(f"{folder_id!r} is not bound", backend=self.name, url=folder_id)

    def bindings(self) -> list[BindingSpec]:
        """Every binding of the store."""
        rows = self.db.connection.execute("SELECT local_folder FROM bindings").fetchall()
        return [self.binding_spec(folder_id) for (folder_id,) in rows]


def _pick(local: Folder, backend: Backend) -> str:
    """The remote collection for ``local`` when none is named."""
    candidates = [f for f in backend.list_folders() if f.kind is local.kind]
    if local.kind is FolderKind.TASKS:  # the seed product's convention
        candidates.sort(key=lambda f: f.display_name.casefold() != "tasks")
    for folder in candidates:
        if folder.display_name.casefold() == local.display_name.casefold():
            return folder.id
    if not candidates:
        raise NotFoundError(
            f"{backend.name} has no {local.kind} collection to bind {local.id!r} to",
            backend=backend.name,
        )
    return candidates[0].id


def _conflict(row: Sequence[Any]) -> Conflict:
    cid, fid, side, iid, version, other, uid, at, question, decision, kind, data, meta = row
    record = _records.Record(kind, data, meta, uid)
    return Conflict(
        cid, fid, side, iid, version, other, uid, at, bool(question), decision, record=record
    )


def _folder(row: Sequence[Any]) -> Folder:
    folder_id, kind, name, display_name, role, parent, color, description, read_only = row
    return Folder(
        id=folder_id,
        kind=kind,
        name=name,
        display_name=display_name,
        role=FolderRole(role),
        parent=parent,
        color=color,
        description=description,
        read_only=bool(read_only),
    )


class LocalCollection(Collection[Item]):
    """A folder of the :class:`LocalStore`."""

    backend: LocalStore
    batch_size = 200

    @property
    def _db(self) -> Database:
        return self.backend.db

    def _writing(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A write transaction; during a sync it stays open until the sync commits its
        batch, so that the items and the sync's records of them commit together."""
        return self._db.write(keep_open=self.backend.actor == "sync")

    # -- reading -------------------------------------------------------------------

    def changes(self, since: str | None = None) -> Changes:
        conn = self._db.connection
        row = conn.execute(
            "SELECT validity, seq FROM folders WHERE id = ?", (self.folder.id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no folder {self.folder.id!r}", backend="local")
        validity, seq = row
        state = f"{validity}:{seq}"
        start = _parse_state(since, validity, seq)
        if start is None:
            listing = spill_refs(
                ItemRef(item_id, str(version))
                for item_id, version in conn.execute(
                    "SELECT id, version FROM items WHERE folder = ?", (self.folder.id,)
                )
            )
            return Changes(listing, (), state, full=True)
        touched = dict.fromkeys(
            item_id
            for (item_id,) in conn.execute(
                "SELECT id FROM changes WHERE folder = ? AND seq > ? ORDER BY seq",
                (self.folder.id, start),
            )
        )
        versions = self._versions(list(touched))
        changed = [ItemRef(i, versions[i]) for i in touched if i in versions]
        deleted = [i for i in touched if i not in versions]
        return Changes(changed, deleted, state)

    def _versions(self, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        conn = self._db.connection
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                (item_id, str(version))
                for item_id, version in conn.execute(
                    f"SELECT id, version FROM items WHERE folder = ? AND id IN ({marks})",  # noqa: S608 - placeholders only
                    (self.folder.id, *chunk),
                )
            )
        return found

    def _get_batch(self, ids: Sequence[str]) -> Iterable[Entry[Item]]:
        marks = ",".join("?" * len(ids))
        rows = self._db.connection.execute(
            f"SELECT id, version, uid, kind, data, meta FROM items "  # noqa: S608 - placeholders only
            f"WHERE folder = ? AND id IN ({marks})",
            (self.folder.id, *ids),
        ).fetchall()
        entries = []
        for item_id, version, uid, kind, data, meta in rows:
            item = _records.decode(_records.Record(kind, data, meta, uid))
            raw = item.content if isinstance(item, Message) else data  # None: headers only
            entries.append(Entry(item_id, str(version), item, raw=raw))
        return entries

    def find_uid(self, uid: str) -> ItemRef | None:
        """The item with this UID (Message-ID for mail), if the folder has one."""
        row = self._db.connection.execute(  # without the hint SQLite scans the folder
            "SELECT id, version FROM items INDEXED BY items_by_uid WHERE folder = ? AND uid = ?",
            (self.folder.id, uid),
        ).fetchone()
        return None if row is None else ItemRef(row[0], str(row[1]))

    # -- writing -------------------------------------------------------------------

    def _create(self, item: Item) -> ItemRef:
        return self._create_raw(item, None)

    def _create_raw(self, item: Item, raw: bytes | None) -> ItemRef:
        record = _records.encode(item, raw=raw, exact=raw is not None)
        with self._writing():
            if record.uid is not None and record.kind != "mail":
                existing = self.find_uid(record.uid)
                if existing is not None:
                    raise AlreadyExistsError(
                        f"an item with UID {record.uid!r} exists as {existing.id!r}",
                        id=existing.id,
                        current_version=existing.version,
                        backend="local",
                        url=self.folder.id,
                    )
            return self.store(record)

    def _put(self, id: str, item: Item, if_match: str) -> ItemRef:
        return self._put_raw(id, item, if_match, None)

    def _put_raw(self, id: str, item: Item, if_match: str, raw: bytes | None) -> ItemRef:
        with self._writing():
            self._check(id, if_match)
            record = _records.encode(item, raw=raw, exact=raw is not None)
            return self.store(record, replace=ItemRef(id, if_match))

    def _delete(self, id: str, if_match: str) -> None:
        with self._writing() as db:
            self._check(id, if_match)
            self._forget(db, id, "deleted")
            db.execute("DELETE FROM items WHERE folder = ? AND id = ?", (self.folder.id, id))
            self._touch(db, id)

    def store(self, record: _records.Record, *, replace: ItemRef | None = None) -> ItemRef:
        """Write a record as a new item, or over ``replace`` (whose current version goes
        to the history). For the store's own use (restore, conflict resolution)."""
        with self._db.write() as db:
            if replace is None:
                item_id = _new_id()
                seq = self._touch(db, item_id)
                db.execute(
                    "INSERT INTO items (folder, id, version, uid, kind, data, meta) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self.folder.id, item_id, seq, record.uid, record.kind, record.data,
                     record.meta),
                )  # fmt: skip
                return ItemRef(item_id, str(seq))
            self._forget(db, replace.id, "replaced")
            seq = self._touch(db, replace.id)
            db.execute(
                "UPDATE items SET version = ?, uid = ?, kind = ?, data = ?, meta = ? "
                "WHERE folder = ? AND id = ?",
                (seq, record.uid, record.kind, record.data, record.meta, self.folder.id,
                 replace.id),
            )  # fmt: skip
            return ItemRef(replace.id, str(seq))

    def _check(self, id: str, if_match: str) -> None:
        row = self._db.connection.execute(
            "SELECT version FROM items WHERE folder = ? AND id = ?", (self.folder.id, id)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no item {id!r} in {self.folder.id}", id=id, backend="local", url=self.folder.id
            )
        if str(row[0]) != if_match:
            raise ConflictError(
                f"item {id!r} is at version {row[0]}, not {if_match}",
                id=id,
                current_version=str(row[0]),
                backend="local",
                url=self.folder.id,
            )

    def _forget(self, db: sqlite3.Connection, item_id: str, reason: str) -> None:
        """Copy the item's current version into the history."""
        row = db.execute(
            "SELECT version, uid, kind, data, meta FROM items WHERE folder = ? AND id = ?",
            (self.folder.id, item_id),
        ).fetchone()
        if row is not None:
            version, uid, kind, data, meta = row
            self.backend._remember(db, self.folder.id, item_id, "local", str(version),
                                   _records.Record(kind, data, meta, uid), reason)  # fmt: skip

    def _touch(self, db: sqlite3.Connection, item_id: str) -> int:
        """Log a change of ``item_id``; return the new sequence number (its version)."""
        (seq,) = db.execute(
            "UPDATE folders SET seq = seq + 1 WHERE id = ? RETURNING seq", (self.folder.id,)
        ).fetchone()
        db.execute(
            "INSERT INTO changes (folder, seq, id) VALUES (?, ?, ?)", (self.folder.id, seq, item_id)
        )
        return int(seq)


def _new_id() -> str:
    """A new item's id: 32 hex digits, a UUID version 7 (RFC 9562): the time in
    milliseconds, then 74 random bits.

    The ids of new items grow, so a sync batch's rows go to the right-hand end of the
    ``items`` table (clustered on the id), a few pages written per batch. With random
    ids (UUID4) every row lands on another page of a table larger than SQLite's cache,
    each one read and rewritten: a first sync of 10,000 messages wrote its batches
    2.5 times slower, and slower as the table grew (measured).
    """
    millis = time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF
    version, variant = 0x7, 0b10
    value = (
        millis << 80 | version << 76 | secrets.randbits(12) << 64 | variant << 62
    ) | secrets.randbits(62)
    return uuid.UUID(int=value).hex


def _parse_state(since: str | None, validity: str, seq: int) -> int | None:
    """The sequence number a state stands for, or ``None`` when a full listing is due."""
    if since is None:
        return None
    mine, _, number = since.partition(":")
    if mine != validity or not number.isdigit() or int(number) > seq:
        return None
    return int(number)
