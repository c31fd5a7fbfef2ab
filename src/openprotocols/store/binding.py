"""A local folder bound to a server collection: sync, plan, reset, export.

:class:`Binding` joins the three parts: the store's folder (a
:class:`~openprotocols.store.local.LocalCollection`), the server's collection (from a
connected backend) and the sync engine (:class:`~openprotocols.sync.Engine`), whose
memory — the pairs and the two states — lives in the store's database
(:class:`SqliteStatus`), so that the items a batch wrote locally and the pairs recording
them commit in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from openprotocols.errors import OpenProtocolsError
from openprotocols.model.bindings import Binding as BindingSpec
from openprotocols.model.bindings import ConflictPolicy
from openprotocols.sync import (
    Engine,
    Guard,
    Kept,
    KeptReason,
    Pair,
    Plan,
    Progress,
    Side,
    SyncReport,
)

from . import _records
from ._spool import SqliteSpool, pair_of, pair_values

if TYPE_CHECKING:
    from openprotocols.backends.base import Backend, Collection

    from .local import LocalCollection, LocalStore

__all__ = ["Binding", "SqliteStatus", "export_folder", "sync_all"]

log = logging.getLogger(__name__)

_PAIR_COLUMNS = "pid, local_id, local_version, remote_id, remote_version, hash, uid"
_CHUNK = 512


class SqliteStatus:
    """The engine's :class:`~openprotocols.sync.Status` for one binding, in the store's
    database. Everything between two :meth:`commit` calls is one transaction, together
    with the local items the engine wrote in between."""

    def __init__(self, store: LocalStore, bid: int, folder: str) -> None:
        self.store = store
        self.db = store.db
        self.bid = bid
        self.folder = folder

    def _begin(self) -> None:
        if not self.db.in_transaction:
            self.db.begin()

    def spool(self) -> SqliteSpool:
        """A temporary database for one run's changes and plan (:mod:`._spool`)."""
        return SqliteSpool()

    def state(self, side: Side) -> str | None:
        column = "local_state" if side is Side.LOCAL else "remote_state"
        row = self.db.connection.execute(
            f"SELECT {column} FROM bindings WHERE bid = ?",  # noqa: S608 - a fixed column
            (self.bid,),
        ).fetchone()
        return None if row is None else row[0]

    def pair(self, side: Side, id: str) -> Pair | None:
        column = "local_id" if side is Side.LOCAL else "remote_id"
        row = self.db.connection.execute(
            f"SELECT {_PAIR_COLUMNS} FROM pairs WHERE binding = ? AND {column} = ?",  # noqa: S608
            (self.bid, id),
        ).fetchone()
        return None if row is None else _pair(row)

    def pairs(self) -> Iterator[Pair]:
        """Every pair, read a chunk at a time (a full listing of a large folder must
        not hold them all)."""
        last = 0
        while True:
            rows = self.db.connection.execute(
                f"SELECT {_PAIR_COLUMNS} FROM pairs WHERE binding = ? AND pid > ? "  # noqa: S608
                f"ORDER BY pid LIMIT {_CHUNK}",
                (self.bid, last),
            ).fetchall()
            yield from map(_pair, rows)
            if len(rows) < _CHUNK:
                return
            last = rows[-1][0]

    def count(self) -> int:
        (count,) = self.db.connection.execute(
            "SELECT count(*) FROM pairs WHERE binding = ?", (self.bid,)
        ).fetchone()
        return int(count)

    def save(self, pair: Pair) -> None:
        self._begin()
        values = pair_values(pair)
        conn = self.db.connection
        if pair.key is None:
            pair.key = conn.execute(
                "INSERT INTO pairs (binding, local_id, local_version, remote_id, "
                "remote_version, hash, uid) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING pid",
                (self.bid, *values),
            ).fetchone()[0]
        else:
            conn.execute(
                "UPDATE pairs SET local_id = ?, local_version = ?, remote_id = ?, "
                "remote_version = ?, hash = ?, uid = ? WHERE pid = ?",
                (*values, pair.key),
            )

    def drop(self, pair: Pair) -> None:
        if pair.key is not None:
            self._begin()
            self.db.connection.execute("DELETE FROM pairs WHERE pid = ?", (pair.key,))

    def keep(self, kept: Kept) -> None:
        self._begin()
        record = _records.encode(kept.item, raw=kept.raw)
        conn = self.db.connection
        if kept.reason in (KeptReason.CONFLICT, KeptReason.QUESTION):
            conn.execute(
                "INSERT OR IGNORE INTO conflicts (binding, side, item_id, version, other_id, "
                "uid, kind, data, meta, at, question) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.bid, str(kept.side), kept.id, kept.version, kept.other_id, record.uid,
                 record.kind, record.data, record.meta, time.time(),
                 int(kept.reason is KeptReason.QUESTION)),
            )  # fmt: skip
        else:
            self.store._remember(conn, self.folder, kept.id, str(kept.side), kept.version,
                                 record, "replaced")  # fmt: skip

    def commit(self, states: dict[Side, str] | None = None) -> None:
        self._begin()
        if states:
            self.db.connection.execute(
                "UPDATE bindings SET local_state = ?, remote_state = ? WHERE bid = ?",
                (states[Side.LOCAL], states[Side.REMOTE], self.bid),
            )
        self.db.commit()

    def decision(self, pair: Pair) -> Side | None:
        if pair.local_id is None:
            return None
        row = self.db.connection.execute(
            "SELECT cid, decision FROM conflicts WHERE binding = ? AND item_id = ? "
            "AND question = 1 AND decision IS NOT NULL",
            (self.bid, pair.local_id),
        ).fetchone()
        if row is None:
            return None
        self._begin()
        self.db.connection.execute("DELETE FROM conflicts WHERE cid = ?", (row[0],))
        return Side(row[1])

    def reset(self) -> None:
        """Forget every pair and both states (for a reset from the server)."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM pairs WHERE binding = ?", (self.bid,))
            conn.execute(
                "UPDATE bindings SET local_state = NULL, remote_state = NULL WHERE bid = ?",
                (self.bid,),
            )


def _pair(row: tuple[Any, ...]) -> Pair:
    return pair_of(row[0], row[1:])


class Binding:
    """A local folder of ``store`` bound to a collection of ``backend`` (connected).
    Built by :meth:`LocalStore.bind <openprotocols.store.LocalStore.bind>` or
    :meth:`LocalStore.binding <openprotocols.store.LocalStore.binding>`; ``spec`` is the
    plain :class:`openprotocols.model.Binding` value it stands for."""

    def __init__(self, store: LocalStore, spec: BindingSpec, backend: Backend) -> None:
        self.store = store
        self.spec = spec
        self.backend = backend

    def __repr__(self) -> str:
        return f"<Binding {self.spec.local_folder} -> {self.spec.backend}:{self.spec.collection}>"

    @property
    def local(self) -> LocalCollection:
        """The local folder's collection."""
        return self.store.collection(self.spec.local_folder)

    @property
    def remote(self) -> Collection[Any]:
        """The server's collection."""
        return self.backend.collection(self.spec.collection)

    def _status(self) -> SqliteStatus:
        row = self.store.db.connection.execute(
            "SELECT bid FROM bindings WHERE local_folder = ?", (self.spec.local_folder,)
        ).fetchone()
        return SqliteStatus(self.store, int(row[0]), self.spec.local_folder)

    def _engine(
        self,
        *,
        progress: Callable[[Progress], None] | None = None,
        confirm: bool = False,
        policy: ConflictPolicy | None = None,
        verify: bool = False,
    ) -> Engine:
        folder = self.spec.local_folder

        def report(event: Progress) -> None:
            if progress is not None:
                progress(attrs.evolve(event, folder=folder))

        return Engine(
            self.local,
            self.remote,
            self._status(),
            direction=self.spec.direction,
            policy=policy or self.spec.conflict_policy,
            guard=Guard(confirmed=confirm),
            progress=report,
            verify=verify,
        )

    def plan(self) -> Plan:
        """What :meth:`sync` would do now, without doing it.

        :raises MassChangeError: the guard would stop the sync.
        """
        return self._engine().plan()

    def sync(
        self,
        *,
        dry_run: bool = False,
        progress: Callable[[Progress], None] | None = None,
        confirm: bool = False,
        verify: bool = False,
    ) -> SyncReport:
        """Sync the folder with its collection (see :mod:`openprotocols.sync.engine`).

        :param dry_run: plan only; the report's ``plan`` says what would happen.
        :param progress: called with :class:`~openprotocols.sync.Progress` events (their
            ``folder`` is this binding's local folder).
        :param confirm: let a sync through that the mass-change guard would stop.
        :param verify: the troubleshooting mode: list both sides in full and check every
            item's version instead of trusting the saved states.
        :raises MassChangeError: the guard stopped the sync (nothing was written).
        """
        return self._run(dry_run=dry_run, progress=progress, confirm=confirm, verify=verify)

    def _run(self, **options: Any) -> SyncReport:
        dry_run = options.pop("dry_run", False)
        engine = self._engine(**options)
        db = self.store.db
        with self.store.acting("sync"):
            try:
                report = engine.run(dry_run=dry_run)
            except BaseException:
                if db.in_transaction:
                    db.rollback()
                raise
            if db.in_transaction:  # a dry run, or a run that ended before any batch
                db.rollback() if dry_run else db.commit()
        log.info(
            "Synced %s: %d written, %d conflicts, %d errors%s",
            self.spec.local_folder,
            report.writes,
            report.conflicts,
            len(report.errors),
            " (offline)" if report.offline else "",
        )
        return report

    def reset_from_server(
        self,
        *,
        discard_local_changes: bool = False,
        progress: Callable[[Progress], None] | None = None,
    ) -> SyncReport:
        """Drop the local copy of the folder and download it again.

        Local changes not yet synced are kept (and uploaded, winning over the server's
        version) unless ``discard_local_changes``; everything dropped goes to the history.
        """
        status = self._status()
        local = self.local
        pending: set[str] = set()
        if not discard_local_changes:
            changes = local.changes(status.state(Side.LOCAL))
            pending = {ref.id for ref in changes.changed} if not changes.full else set()
        with self.store.acting("sync"), self.store.db.write():
            for ref in local.list():
                if ref.id not in pending:
                    local.delete(ref.id, if_match=ref.version)
            status.reset()
        return self._run(progress=progress, confirm=True, policy=ConflictPolicy.LOCAL_WINS)

    def unbind(self) -> None:
        """Remove the binding (the local folder and its items stay)."""
        self.store.unbind(self.spec.local_folder)


def export_folder(
    store: LocalStore,
    folder: str,
    backend: Backend,
    name: str,
    *,
    display_name: str | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> tuple[Binding, SyncReport]:
    """Copy a local folder into a new collection of ``backend`` and bind them (the seed's
    "Export.."): the collection is created with the folder's kind and colour, the folder
    is bound to it, and a first sync uploads every item.

    :returns: the binding and the report of the first sync.
    :raises AlreadyExistsError: the folder is bound already, or the collection exists.
    """
    local = store.folder(folder)
    created = backend.create_folder(
        name, local.kind, display_name=display_name or local.display_name, color=local.color
    )
    binding = store.bind(local.id, backend, created.id)
    return binding, binding.sync(progress=progress)


def sync_all(
    bindings: Iterable[Binding],
    *,
    concurrent: bool = True,
    max_workers: int = 4,
    progress: Callable[[Progress], None] | None = None,
    verify: bool = False,
) -> dict[str, SyncReport | OpenProtocolsError]:
    """Sync several bindings (an account's folders), in parallel on a bounded pool of
    threads, or one at a time with ``concurrent=False`` (the seed's "Disable concurrent
    downloading and synchronisation"; :attr:`AccountOptions.concurrent_sync
    <openprotocols.model.AccountOptions.concurrent_sync>`).

    Each worker thread has its own database connection, and the IMAP backend its own
    server connection; the store's writes are serialised, the network waits are not.
    One binding's failure (the guard, an error) does not stop the others.

    :returns: each local folder's report, or the error that stopped its sync.
    """
    bindings = list(bindings)

    def one(binding: Binding) -> SyncReport | OpenProtocolsError:
        try:
            return binding.sync(progress=progress, verify=verify)
        except OpenProtocolsError as exc:
            log.warning("Sync of %s stopped: %s", binding.spec.local_folder, exc)
            return exc
        finally:
            binding.store.close()  # this thread's connection

    workers = max(1, min(max_workers, len(bindings))) if concurrent else 1
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
        results = list(pool.map(one, bindings))
    return {b.spec.local_folder: result for b, result in zip(bindings, results, strict=True)}
