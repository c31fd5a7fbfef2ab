"""The sync engine as a hypothesis state machine: random edits and faults on both sides,
and the invariants that say nothing was lost.

Two variants share the rules: :class:`MemoryMachine` syncs two memory collections with a
:class:`~openprotocols.sync.MemoryStatus`; :class:`StoreMachine` syncs a
:class:`~openprotocols.store.LocalStore` folder (bound with ``store.bind``, so the SQLite
status and the store's history and conflict queue are exercised) with a memory
collection.

Rules: users create, edit, delete tasks on either side (sometimes the same UID on both
sides at once), put an item back unchanged (ETag churn); the server expires its states
(``forget_history``) or gives every item a new id (``replace_folder``, a UIDVALIDITY
change); a side is wiped, and the guard must stop the next sync until a later rule
confirms; syncs run with at most one injected fault.

**The faults are injected by a fault-injecting subclass of the collections**
(:class:`FaultMixin`): a spurious 412 or 404, a timeout or a dropped connection on the
N-th ``changes``/``get``/``put``/``create``/``delete`` call, another client's edit or
delete just before a write, and a *crash* (:class:`Crash`, not an openprotocols error, so
it propagates out of ``run()``) just before or just after a write. A real server cannot
produce these on demand, which is why a fake is allowed here. A 404 on a delete is made
true first (a retried DELETE): the engine rightly takes it for "gone". On the local store
only crashes are injected (another writer would need a second thread, and the sync holds
the database lock).

Invariants, after every step: no UID twice on a side; every version a user wrote is
current on a side, or was handed to ``Status.keep`` (the store: is in its history or
conflict queue), unless a user replaced or deleted it since; every write the engine
made was conditional, on a version the engine had read, and (if it went through) the
current one. The model names a version by UID and subject (nothing else varies), and, as
the engine compares contents rather than write histories, writing back an unchanged or
earlier content is no new version. After two quiet syncs (no faults, no edits): both
sides hold the same items by UID and content hash, each side's items are paired once,
and the second sync wrote nothing.

``OPENPROTOCOLS_SYNC_EXAMPLES`` sets the number of examples of the memory variant (200
by default; CI runs 500); the store variant runs half as many, with shorter runs. (The
codecs' ``OPENPROTOCOLS_FUZZ_EXAMPLES`` does not apply: one example here is a whole
sequence of syncs.)
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from openprotocols import errors
from openprotocols.backends.base import Changes, Collection, Entry, ItemRef
from openprotocols.backends.memory import MemoryBackend, MemoryCollection, MemoryServer
from openprotocols.errors import ConflictError, MassChangeError, NotFoundError, OpenProtocolsError
from openprotocols.model import Account, Folder, FolderKind, Task
from openprotocols.model._base import Extended, Item
from openprotocols.store import LocalStore
from openprotocols.store.binding import Binding
from openprotocols.store.local import LocalCollection
from openprotocols.sync import Engine, Guard, MemoryStatus, Side, SyncReport, content_hash
from openprotocols.sync._hash import VOLATILE_PROPERTIES

EXAMPLES = int(os.environ.get("OPENPROTOCOLS_SYNC_EXAMPLES", "200"))
STORE_EXAMPLES = max(10, EXAMPLES // 2)
FOLDER = "tasks"

T = TypeVar("T")
Key = tuple[str, str]
"""A version as the model tracks it: (UID, subject) — only these vary."""


class Crash(Exception):
    """The process "dies" here: raised by the fault injector, not by openprotocols."""


ERRORS = ("412", "404", "timeout", "offline")
RACES = ("race-edit", "race-delete")
CRASHES = ("crash-before", "crash-after")
OPS = ("changes", "get", "put", "create", "delete")
WRITES = ("put", "create", "delete")


@attrs.frozen
class Fault:
    """Make the ``call``-th ``op`` on ``side`` during the next sync fail as ``kind``
    (``op`` may also be ``"write"`` or ``"any"``: the ``call``-th write or call). A race
    (another client's edit or delete) comes before the first ``put`` or ``delete`` on
    ``side``, whatever ``op`` and ``call`` say."""

    side: Side
    op: str
    call: int
    kind: str


FAULTS = st.builds(
    Fault,
    side=st.sampled_from(list(Side)),
    op=st.sampled_from((*OPS, "write", "any")),
    call=st.integers(1, 2),
    kind=st.sampled_from(ERRORS + RACES + CRASHES),
)
SUBJECTS = st.text(alphabet="abxy é,;:\\\n", max_size=5)
PICKS = st.integers(0, 1000)


class Injector:
    """One side's fault schedule, and what the engine read there (for the check that
    every write names a version the engine had seen)."""

    def __init__(self, side: Side, race: Callable[[Side, str, str], None]) -> None:
        self.side = side
        self.race = race
        self.armed: Fault | None = None
        self.calls: Counter[str] = Counter()
        self.fired: str | None = None
        self.error: BaseException | None = None
        self.writes = 0
        self.seen: defaultdict[str, set[str]] = defaultdict(set)

    def arm(self, fault: Fault | None) -> None:
        """Start a sync with ``fault`` (if it is this side's) scheduled."""
        self.armed = fault if fault is not None and fault.side is self.side else None
        self.calls.clear()
        self.fired = self.error = None
        self.writes = 0

    def trigger(self, op: str) -> str | None:
        """Count a call of ``op``; the fault's kind if it is due now."""
        names = (op, "any", "write") if op in WRITES else (op, "any")
        self.calls.update(names)
        fault = self.armed
        if fault is None:
            return None
        if fault.kind in RACES:
            if op not in ("put", "delete"):
                return None
        elif fault.op not in names or fault.call != self.calls[fault.op]:
            return None
        self.armed = None
        return fault.kind

    def see(self, refs: Iterable[ItemRef]) -> None:
        for ref in refs:
            self.seen[ref.id].add(ref.version)


def _error(kind: str, item_id: str | None, current: str | None) -> BaseException:
    where = {"backend": "faulty", "url": FOLDER}
    if kind == "412":
        return ConflictError("injected 412", id=item_id, current_version=current, **where)
    if kind == "404":
        return NotFoundError("injected 404", id=item_id, **where)
    if kind == "timeout":
        return errors.TimeoutError("injected timeout", **where)
    if kind == "offline":
        return errors.ConnectionError("injected: connection reset", **where)
    return Crash(f"injected {kind}")


class FaultMixin(Collection[Item]):
    """Injects :attr:`injector`'s faults into a collection and checks that every write
    is conditional on a version the engine had read (see the module documentation)."""

    injector: Injector

    def _plain_changes(self, since: str | None) -> Changes:
        """The collection's own ``changes`` (reads are abstract in the base class)."""
        raise NotImplementedError

    def _plain_batch(self, ids: Sequence[str]) -> Iterable[Entry[Item]]:
        """The collection's own ``_get_batch``."""
        raise NotImplementedError

    def _call(self, op: str, item_id: str | None, action: Callable[[], T]) -> T:
        injector = self.injector
        kind = injector.trigger(op)
        if kind in RACES and item_id is not None:
            injector.race(injector.side, item_id, kind)
        if kind is not None:
            injector.fired = kind
        if kind == "404" and op == "delete":
            # a 404 on a delete says the item is gone, and the engine rightly believes
            # it: make it true (a retried DELETE whose first attempt went through)
            action()
        if kind in ERRORS or kind == "crash-before":
            injector.error = _error(kind or "", item_id, self._current(item_id))
            raise injector.error
        result = action()
        if kind == "crash-after":
            injector.error = Crash("injected crash-after")
            raise injector.error
        return result

    def _current(self, item_id: str | None) -> str | None:
        if item_id is None:
            return None
        found = list(self._plain_batch([item_id]))
        return found[0].version if found else None

    def _conditional(self, item_id: str, if_match: str, write: Callable[[], T]) -> T:
        """Run ``write`` after checking ``if_match`` was read; check it was current if
        the write went through."""
        assert if_match in self.injector.seen[item_id], (
            f"write to {self.injector.side}:{item_id} with if_match={if_match!r}, a version "
            f"the engine never read (it read {sorted(self.injector.seen[item_id])})"
        )
        current = self._current(item_id)
        result = write()  # ConflictError / NotFoundError propagate: nothing was written
        assert current == if_match, f"{item_id} was at {current}, written over as {if_match}"
        self.injector.writes += 1
        return result

    def changes(self, since: str | None = None) -> Changes:
        changes = self._call("changes", None, lambda: self._plain_changes(since))
        self.injector.see(changes.changed)
        return changes

    def _get_batch(self, ids: Sequence[str]) -> Iterable[Entry[Item]]:
        entries = self._call("get", None, lambda: list(self._plain_batch(ids)))
        self.injector.see(entry.ref for entry in entries)
        return entries

    def create(self, item: Item, *, raw: bytes | None = None) -> ItemRef:
        ref = self._call("create", None, lambda: super(FaultMixin, self).create(item, raw=raw))
        self.injector.writes += 1
        self.injector.see([ref])
        return ref

    def put(self, id: str, item: Item, *, if_match: str, raw: bytes | None = None) -> ItemRef:
        def write() -> ItemRef:
            return super(FaultMixin, self).put(id, item, if_match=if_match, raw=raw)

        ref = self._call("put", id, lambda: self._conditional(id, if_match, write))
        self.injector.see([ref])
        return ref

    def delete(self, id: str, *, if_match: str) -> None:
        def write() -> None:
            super(FaultMixin, self).delete(id, if_match=if_match)

        self._call("delete", id, lambda: self._conditional(id, if_match, write))


class FaultyMemory(FaultMixin, MemoryCollection):
    """A memory collection with injected faults."""

    def _plain_changes(self, since: str | None) -> Changes:
        return MemoryCollection.changes(self, since)

    def _plain_batch(self, ids: Sequence[str]) -> Iterable[Entry[Item]]:
        return MemoryCollection._get_batch(self, ids)


class FaultyLocal(FaultMixin, LocalCollection):
    """A local store folder with injected faults."""

    def _plain_changes(self, since: str | None) -> Changes:
        return LocalCollection.changes(self, since)

    def _plain_batch(self, ids: Sequence[str]) -> Iterable[Entry[Item]]:
        return LocalCollection._get_batch(self, ids)


class FaultyBackend(MemoryBackend):
    """A memory backend whose collections inject :attr:`injector`'s faults."""

    injector: Injector

    def collection(self, folder: Folder | str) -> FaultyMemory:
        plain = super().collection(folder)
        faulty = FaultyMemory(self, plain.folder)
        faulty.injector = self.injector
        return faulty


class FaultyBinding(Binding):
    """A binding whose local folder injects :attr:`injector`'s faults."""

    injector: Injector

    @property
    def local(self) -> LocalCollection:
        faulty = FaultyLocal(self.store, self.store.folder(self.spec.local_folder))
        faulty.injector = self.injector
        return faulty


def key(item: Item) -> Key:
    assert isinstance(item, Task)
    return item.uid, item.subject


def same_content(item: Item) -> str:
    """``content_hash`` without the volatile properties a store adds (a ``DTSTAMP``):
    works around the hash counting them (see test_engine_regressions.py)."""
    extended: Extended = getattr(item, "extended", Extended())
    kept = [p for p in extended.properties if p.name.upper() not in VOLATILE_PROPERTIES]
    return content_hash(attrs.evolve(item, extended=attrs.evolve(extended, properties=kept)))  # type: ignore[misc]


class SyncMachine(RuleBasedStateMachine):
    """The rules and invariants; a variant provides the sides, the sync and the kept
    versions."""

    server_sides: tuple[Side, ...] = tuple(Side)
    """Sides that are memory servers (expire states, replace ids, get recreated)."""
    crash_only: tuple[Side, ...] = ()
    """Sides where only crashes are injected."""

    def __init__(self) -> None:
        super().__init__()
        self.injectors = {side: Injector(side, self._race) for side in Side}
        self.live: set[Key] = set()  # what users wrote and did not replace or delete
        self.dead: set[Key] = set()  # what users replaced or deleted
        self.uids = (f"uid-{n}" for n in itertools.count())
        self.races = itertools.count()
        self.in_sync = False  # both sides equal and quiet: a wipe's effect is predictable
        self.pending: Side | None = None  # a wiped side the guard must protect

    # -- what a variant provides -----------------------------------------------------

    def user(self, side: Side) -> Collection[Item]:
        """The collection as a user edits it (no faults)."""
        raise NotImplementedError

    def server(self, side: Side) -> MemoryServer:
        raise NotImplementedError

    def run_sync(self, *, confirm: bool = False) -> SyncReport:
        raise NotImplementedError

    def kept(self) -> Iterator[Item]:
        raise NotImplementedError

    def pairs(self) -> int:
        raise NotImplementedError

    # -- the model -------------------------------------------------------------------

    def entries(self, side: Side) -> list[Entry[Item]]:
        collection = self.user(side)
        return sorted(collection.get(r.id for r in collection.list()), key=lambda e: e.id)

    def pick(self, side: Side, index: int) -> Entry[Item] | None:
        entries = self.entries(side)
        return entries[index % len(entries)] if entries else None

    def write(self, side: Side, item: Task, replacing: Entry[Item] | None = None) -> None:
        """A user writes ``item``: a new version, unless its content is the one it
        replaces (ETag churn) or one a user replaced or deleted before — the engine
        compares contents, not write histories, so writing an old content back is no
        change to it."""
        if replacing is None:
            self.user(side).create(item)
        else:
            self.user(side).put(replacing.id, item, if_match=replacing.version)
            if key(replacing.item) == key(item):
                return
            self.retire(replacing)
        if key(item) not in self.dead:
            self.live.add(key(item))

    def remove(self, side: Side, entry: Entry[Item]) -> None:
        self.user(side).delete(entry.id, if_match=entry.version)
        self.retire(entry)

    def retire(self, entry: Entry[Item]) -> None:
        """A user replaced or deleted ``entry``: its version need not be kept."""
        self.live.discard(key(entry.item))
        self.dead.add(key(entry.item))

    def _race(self, side: Side, item_id: str, kind: str) -> None:
        """Another client writes ``item_id`` just before the engine does."""
        found = list(self.user(side).get([item_id]))
        if not found:
            return
        (entry,) = found
        if kind == "race-edit":
            assert isinstance(entry.item, Task)
            self.write(side, attrs.evolve(entry.item, subject=f"race {next(self.races)}"), entry)
        else:
            self.remove(side, entry)

    def changed(self) -> None:
        self.in_sync = False

    # -- rules: users ----------------------------------------------------------------

    @precondition(lambda self: self.pending is None)
    @rule(side=st.sampled_from(list(Side)), subject=SUBJECTS)
    def create(self, side: Side, subject: str) -> None:
        self.write(side, Task.new(subject, uid=next(self.uids)))
        self.changed()

    @precondition(lambda self: self.pending is None)
    @rule(local=SUBJECTS, remote=st.none() | SUBJECTS)
    def create_on_both_sides(self, local: str, remote: str | None) -> None:
        """The same UID created on both sides before a sync (``None``: same content)."""
        uid = next(self.uids)
        self.write(Side.LOCAL, Task.new(local, uid=uid))
        self.write(Side.REMOTE, Task.new(local if remote is None else remote, uid=uid))
        self.changed()

    @precondition(lambda self: self.pending is None)
    @rule(side=st.sampled_from(list(Side)), index=PICKS, subject=SUBJECTS)
    def edit(self, side: Side, index: int, subject: str) -> None:
        entry = self.pick(side, index)
        if entry is not None:
            assert isinstance(entry.item, Task)
            self.write(side, attrs.evolve(entry.item, subject=subject), entry)
            self.changed()

    @precondition(lambda self: self.pending is None)
    @rule(side=st.sampled_from(list(Side)), index=PICKS)
    def delete(self, side: Side, index: int) -> None:
        entry = self.pick(side, index)
        if entry is not None:
            self.remove(side, entry)
            self.changed()

    @precondition(lambda self: self.pending is None)
    @rule(side=st.sampled_from(list(Side)), index=PICKS)
    def churn(self, side: Side, index: int) -> None:
        """The same item put back: a new version (ETag), the same content."""
        entry = self.pick(side, index)
        if entry is not None:
            self.user(side).put(entry.id, entry.item, if_match=entry.version)
            self.changed()

    # -- rules: servers --------------------------------------------------------------

    @precondition(lambda self: self.pending is None)
    @rule(side=st.sampled_from(list(Side)))
    def forget_history(self, side: Side) -> None:
        if side in self.server_sides:
            self.server(side).forget_history(FOLDER)
            self.changed()

    @precondition(lambda self: self.pending is None)
    @rule(side=st.sampled_from(list(Side)))
    def replace_ids(self, side: Side) -> None:
        """A UIDVALIDITY change: every item gets a new id."""
        if side in self.server_sides:
            self.server(side).replace_folder(FOLDER)
            self.changed()

    @precondition(lambda self: self.pending is None and self.in_sync)
    @rule(side=st.sampled_from(list(Side)))
    def recreate_empty(self, side: Side) -> None:
        """The collection is deleted and created again, empty: the next sync must not
        delete the other side's items until confirmed."""
        if side not in self.server_sides or not self.entries(side):
            return
        for entry in self.entries(side):
            self.retire(entry)
        server = self.server(side)
        server.delete_folder(FOLDER)
        server.add_folder(Folder.new(FOLDER, FolderKind.TASKS))
        self.pending = side
        self.changed()

    @precondition(lambda self: self.pending is None and self.in_sync)
    @rule(side=st.sampled_from(list(Side)))
    def delete_all(self, side: Side) -> None:
        """A user deletes every item of a side: more than ten stop the next sync."""
        entries = self.entries(side)
        for entry in entries:
            self.remove(side, entry)
        if len(entries) > Guard().minimum:
            self.pending = side
        self.changed()

    # -- rules: syncs ----------------------------------------------------------------

    @rule()
    def sync(self) -> None:
        self.sync_with_fault(None)

    @rule(fault=FAULTS)
    def sync_with_fault(self, fault: Fault | None) -> None:
        if fault is not None and fault.side in self.crash_only and fault.kind not in CRASHES:
            fault = None
        for injector in self.injectors.values():
            injector.arm(fault)
        try:
            report = self.run_sync()
        except MassChangeError as exc:
            event("sync: stopped by the guard")
            self.check_guard(exc)
            return
        except (Crash, OpenProtocolsError) as exc:
            self.check_failure(exc)
        else:
            fired = [f"{i.side} {i.fired}" for i in self.injectors.values() if i.fired]
            event(f"sync: {'offline' if report.offline else 'returned'}, fired {fired}")
            if self.pending is not None:  # only an offline side keeps the guard from stopping it
                assert report.offline, "the guard let a wiped side's sync through"
                assert not any(i.writes for i in self.injectors.values())
            elif not any(i.fired for i in self.injectors.values()):
                assert report.ok, report.errors
        finally:
            for injector in self.injectors.values():
                injector.arm(None)
        self.changed()

    def check_failure(self, exc: BaseException) -> None:
        """A sync raised: only an injected fault may do that."""
        event(f"sync: raised {type(exc).__name__}")
        injected = any(i.error is exc for i in self.injectors.values())
        assert injected, f"the sync failed without an injected fault: {exc!r}"
        if self.pending is not None:  # it failed before the guard could stop it
            assert not any(i.writes for i in self.injectors.values())

    def check_guard(self, exc: MassChangeError) -> None:
        """The guard stopped a sync: it wrote nothing, and it had reason to."""
        assert not any(i.writes for i in self.injectors.values())
        source = Side(str(exc.side)).other
        if self.pending is not None:
            assert self.pending is source, (self.pending, exc)
        else:  # not a wipe the model made: an emptied side or more than the minimum
            assert not self.entries(source) or exc.deletions > Guard().minimum, exc

    @precondition(lambda self: self.pending is not None)
    @rule()
    def confirm(self) -> None:
        """The user confirms the wipe: the other side is emptied too."""
        for injector in self.injectors.values():
            injector.arm(None)
        report = self.run_sync(confirm=True)
        assert report.ok, report.errors
        assert self.pending is not None
        assert not self.entries(self.pending.other)
        self.pending = None
        self.changed()

    @precondition(lambda self: self.pending is None)
    @rule()
    def two_quiet_syncs(self) -> None:
        """Two syncs without faults or edits: the sides are equal, the second wrote
        nothing."""
        for injector in self.injectors.values():
            injector.arm(None)
        first = self.quiet_sync()
        assert first.ok, first.errors
        second = self.quiet_sync()
        assert second.ok, second.errors
        assert second.writes == 0, (second.plan, second.created, second.updated, second.deleted)
        contents = {side: self.contents(side) for side in Side}
        assert contents[Side.LOCAL] == contents[Side.REMOTE]
        assert self.pairs() == sum(contents[Side.LOCAL].values())
        self.in_sync = True

    def quiet_sync(self) -> SyncReport:
        try:
            return self.run_sync()
        except MassChangeError as exc:  # a legitimate stop (checked); the user confirms
            self.check_guard(exc)
            return self.run_sync(confirm=True)

    def contents(self, side: Side) -> Counter[tuple[str | None, str]]:
        return Counter((e.item.uid, same_content(e.item)) for e in self.entries(side))  # type: ignore[misc]

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def no_uid_twice_on_a_side(self) -> None:
        for side in Side:
            uids = Counter(e.item.uid for e in self.entries(side))
            assert all(n == 1 for n in uids.values()), (side, uids)

    @invariant()
    def nothing_a_user_wrote_is_lost(self) -> None:
        present = {key(e.item) for side in Side for e in self.entries(side)}
        present |= {key(item) for item in self.kept()}
        missing = self.live - present
        assert not missing, f"versions lost: {sorted(missing)}"


class MemoryMachine(SyncMachine):
    """Two memory collections and a :class:`MemoryStatus`."""

    @initialize()
    def setup(self) -> None:
        self.backends = {}
        for side in Side:
            backend = FaultyBackend(Account(email=f"{side}@example.test"), server=MemoryServer())
            backend.injector = self.injectors[side]
            backend.server.add_folder(Folder.new(FOLDER, FolderKind.TASKS))
            self.backends[side] = backend
        self.status = MemoryStatus()

    def user(self, side: Side) -> Collection[Item]:
        backend = self.backends[side]
        return MemoryCollection(backend, Folder.new(FOLDER, FolderKind.TASKS))

    def server(self, side: Side) -> MemoryServer:
        return self.backends[side].server

    def run_sync(self, *, confirm: bool = False) -> SyncReport:
        local, remote = (self.backends[side].collection(FOLDER) for side in Side)
        return Engine(local, remote, self.status, guard=Guard(confirmed=confirm)).run()

    def kept(self) -> Iterator[Item]:
        return (kept.item for kept in self.status.kept)

    def pairs(self) -> int:
        return self.status.count()


class StoreMachine(SyncMachine):
    """A :class:`LocalStore` folder bound to a memory collection."""

    server_sides = (Side.REMOTE,)
    crash_only = (Side.LOCAL,)

    @initialize()
    def setup(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="sync-machine-"))
        self.store = LocalStore(self.directory / "store.sqlite")
        self.store.create_folder(FOLDER, FolderKind.TASKS)
        self.backend = FaultyBackend(Account(email="remote@example.test"), server=MemoryServer())
        self.backend.injector = self.injectors[Side.REMOTE]
        self.backend.server.add_folder(Folder.new(FOLDER, FolderKind.TASKS))
        spec = self.store.bind(FOLDER, self.backend, FOLDER).spec
        self.binding = FaultyBinding(self.store, spec, self.backend)
        self.binding.injector = self.injectors[Side.LOCAL]

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def user(self, side: Side) -> Collection[Item]:
        if side is Side.LOCAL:
            return self.store.collection(FOLDER)
        return MemoryCollection(self.backend, Folder.new(FOLDER, FolderKind.TASKS))

    def server(self, side: Side) -> MemoryServer:
        assert side is Side.REMOTE
        return self.backend.server

    def run_sync(self, *, confirm: bool = False) -> SyncReport:
        return self.binding.sync(confirm=confirm)

    def kept(self) -> Iterator[Item]:
        yield from (entry.item for entry in self.store.history(FOLDER, limit=1_000_000))
        yield from (conflict.item for conflict in self.store.conflicts(FOLDER))

    def pairs(self) -> int:
        return self.binding._status().count()


def _settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


MemoryMachine.TestCase.settings = _settings(EXAMPLES, 30)
StoreMachine.TestCase.settings = _settings(STORE_EXAMPLES, 25)

TestMemorySync = pytest.mark.timeout(max(120, EXAMPLES // 2))(MemoryMachine.TestCase)
TestStoreSync = pytest.mark.timeout(max(120, EXAMPLES))(StoreMachine.TestCase)
