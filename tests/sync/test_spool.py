"""The run's spool: both implementations keep the same promises, a plan is a sequence
read from it, a spool that fails is a typed error, and the engine's memory does not grow
with the collections when the status spools to SQLite (the local store's)."""

from __future__ import annotations

import gc
import sqlite3
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from openprotocols.backends.base import ItemRef
from openprotocols.backends.memory import MemoryBackend, MemoryCollection, MemoryServer
from openprotocols.errors import SyncError
from openprotocols.model import Account, Folder, FolderKind, Task
from openprotocols.store import LocalStore, _spool
from openprotocols.store._spool import CHUNK, SqliteSpool
from openprotocols.sync import Action, ActionKind, Pair, Progress, Side
from openprotocols.sync.plan import MemorySpool, Spool

SPOOLS: dict[str, Callable[[], Spool]] = {"memory": MemorySpool, "sqlite": SqliteSpool}
MANY = CHUNK * 2 + 7  # more than two chunks of the SQLite spool


@pytest.fixture(params=sorted(SPOOLS))
def spool(request: pytest.FixtureRequest) -> Spool:
    return SPOOLS[request.param]()


def collection(name: str) -> MemoryCollection:
    backend = MemoryBackend(Account(email=f"{name}@example.test"), server=MemoryServer())
    backend.server.add_folder(Folder.new("tasks", FolderKind.TASKS))
    return backend.collection("tasks")


def pair(key: int) -> Pair:
    return Pair(f"l{key}", "lv", f"r{key}", "rv", f"hash {key}", None, key=key)


# -- the protocol, for both spools -------------------------------------------------------


def test_changes_read_back_whole_and_the_last_version_counts(spool: Spool) -> None:
    spool.add_changed(Side.LOCAL, (ItemRef(f"id{n:05}", "v1") for n in range(MANY)))
    spool.add_changed(Side.LOCAL, [ItemRef("id00003", "v2")])
    spool.add_changed(Side.REMOTE, [ItemRef("other", "v")])
    local = dict(spool.changed(Side.LOCAL))
    assert len(local) == spool.count_changed(Side.LOCAL) == MANY
    assert local["id00003"] == "v2"
    assert dict(spool.changed(Side.REMOTE)) == {"other": "v"}


def test_an_id_listed_as_changed_is_not_deleted(spool: Spool) -> None:
    spool.add_changed(Side.LOCAL, [ItemRef("kept", "v")])
    spool.add_deleted(Side.LOCAL, ["kept", "gone", "gone"])
    spool.add_deleted(Side.REMOTE, ["kept"])  # another side's ids are another matter
    assert list(spool.deleted(Side.LOCAL)) == ["gone"]
    assert list(spool.deleted(Side.REMOTE)) == ["kept"]
    spool.undelete(Side.LOCAL, "gone")
    assert list(spool.deleted(Side.LOCAL)) == []


def test_deletions_may_be_read_from_the_spool_while_they_are_added(spool: Spool) -> None:
    """A full listing's deletions come from a generator; one that reads the spool
    itself must not deadlock (the SQLite spool holds no lock while it reads rows)."""
    spool.add_changed(Side.REMOTE, (ItemRef(f"r{n:05}", "v") for n in range(MANY)))
    spool.add_deleted(Side.LOCAL, (f"gone {i}" for i, _ in spool.changed(Side.REMOTE)))
    assert len(list(spool.deleted(Side.LOCAL))) == MANY


def test_touches_merge_per_pair_and_each_read_is_a_new_copy(spool: Spool) -> None:
    for key in range(1, MANY + 1):
        spool.touch(pair(key), Side.LOCAL, deleted=False)
    spool.touch(pair(5), Side.REMOTE, deleted=True)
    spool.touch(pair(6), Side.REMOTE, deleted=False)
    first = {p.key: (p, changed, deleted) for p, changed, deleted in spool.touched()}
    assert len(first) == MANY
    assert first[5][1:] == ({Side.LOCAL}, {Side.REMOTE})
    assert first[6][1:] == ({Side.LOCAL, Side.REMOTE}, set())
    assert first[7][1:] == ({Side.LOCAL}, set())
    assert first[7][0] == pair(7)
    again = {p.key: p for p, _, _ in spool.touched()}
    first[7][0].set(Side.LOCAL, "changed by execution", None)
    assert again[7] == pair(7)


def test_queues_keep_their_order_and_stay_apart(spool: Spool) -> None:
    items = [f"{n:05}" for n in reversed(range(MANY))]
    for item in items:
        spool.append("a", item)
        spool.append("b", "b" + item)
    assert list(spool.queue("a")) == items
    assert list(spool.queue("b")) == ["b" + i for i in items]
    assert list(spool.queue("never")) == []


def test_a_queue_is_read_from_another_thread_while_the_spool_is_written(spool: Spool) -> None:
    """A prefetching collection reads the ids it is given in its worker thread."""
    for n in range(MANY):
        spool.append("ids", str(n))
    read: list[str] = []
    worker = threading.Thread(target=lambda: read.extend(spool.queue("ids")))
    worker.start()
    for n in range(MANY):
        spool.append("other", str(n))
    worker.join(timeout=30)
    assert read == [str(n) for n in range(MANY)]


def test_planned_actions_are_a_sequence_with_groups_and_counts(spool: Spool) -> None:
    planned = [Action(ActionKind.UPDATE, Side.REMOTE, Side.LOCAL, "r1", pair(1)),
               Action(ActionKind.DELETE, Side.LOCAL, Side.REMOTE, "l2", pair(2))]  # fmt: skip
    planned += [Action(ActionKind.CREATE, Side.REMOTE, Side.LOCAL, f"n{n}") for n in range(MANY)]
    planned.append(Action(ActionKind.UPDATE, Side.LOCAL, Side.REMOTE, "l3", pair(3)))
    for action in planned:
        spool.add_action(action)
    actions = spool.actions()
    assert len(actions) == len(planned)
    assert list(actions) == planned
    assert actions[0] == planned[0]
    assert actions[-1] == planned[-1]
    assert actions[0].pair == pair(1)
    assert list(actions[CHUNK - 1 : CHUNK + 2]) == planned[CHUNK - 1 : CHUNK + 2]
    with pytest.raises(IndexError):
        actions[len(planned)]
    assert actions.groups() == [
        (ActionKind.UPDATE, Side.REMOTE),
        (ActionKind.DELETE, Side.LOCAL),
        (ActionKind.CREATE, Side.REMOTE),
        (ActionKind.UPDATE, Side.LOCAL),
    ]
    assert list(actions.group(ActionKind.UPDATE, Side.LOCAL)) == [planned[-1]]
    assert [a.id for a in actions.group(ActionKind.CREATE, Side.REMOTE)] == [
        f"n{n}" for n in range(MANY)
    ]
    assert actions.count_of(ActionKind.UPDATE) == 2
    assert actions.count_of(ActionKind.UPDATE, Side.LOCAL) == 1
    assert actions.count_of(ActionKind.CREATE, Side.REMOTE) == 0


# -- the engine over the SQLite spool ------------------------------------------------------


def test_a_plan_outlives_its_engine_and_reads_its_actions_from_the_spool(tmp_path: Path) -> None:
    remote = collection("remote")
    for n in range(20):
        remote.create(Task.new(f"old {n}"))
    with LocalStore(tmp_path / "store.sqlite") as store:
        store.create_folder("Tasks", FolderKind.TASKS)
        binding = store.bind("Tasks", remote.backend, "tasks")  # type: ignore[arg-type]
        assert binding.sync().ok
        refs = list(remote.list())
        for ref in refs[:3]:
            remote.put(ref.id, Task.new(f"edited {ref.id}"), if_match=ref.version)
        for ref in refs[3:5]:
            remote.delete(ref.id, if_match=ref.version)
        new = {remote.create(Task.new(f"new {n}")).id for n in range(CHUNK + 88)}

        plan = binding.plan()
        gc.collect()  # the plan holds its spool, not the engine that made it
        actions = list(plan.actions)
        assert len(plan) == len(actions) == 3 + 2 + CHUNK + 88
        assert {a.kind for a in actions[:5]} == {ActionKind.UPDATE, ActionKind.DELETE}
        assert {a.id for a in actions[5:]} == new  # none lost or doubled across chunks
        assert plan.count(ActionKind.CREATE, Side.LOCAL) == CHUNK + 88
        assert plan.count(ActionKind.UPDATE, Side.LOCAL) == 3
        assert plan.count(ActionKind.DELETE, Side.LOCAL) == 2
        assert plan.count(ActionKind.UPDATE, Side.REMOTE) == 0
        report = binding.sync()
        assert report.ok
        assert report.created[Side.LOCAL] == CHUNK + 88
        assert report.updated[Side.LOCAL] == 3
        assert report.deleted[Side.LOCAL] == 2


def test_a_failing_spool_is_a_sync_error_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The disk holding the spool's temporary file fills up: SQLite's own page limit
    stands in for the disk (a real SQLITE_FULL from a real SQLite)."""
    remote = collection("remote")
    for n in range(300):
        remote.create(Task.new(f"task {n}"))
    original = SqliteSpool.__init__

    def small(self: SqliteSpool) -> None:
        original(self)
        self.query("PRAGMA max_page_count = 8")

    monkeypatch.setattr(SqliteSpool, "__init__", small)
    with LocalStore(tmp_path / "store.sqlite") as store:
        store.create_folder("Tasks", FolderKind.TASKS)
        binding = store.bind("Tasks", remote.backend, "tasks")  # type: ignore[arg-type]
        with pytest.raises(SyncError, match="spool") as caught:
            binding.sync()
        assert isinstance(caught.value.__cause__, sqlite3.Error)
        assert store.collection("Tasks").list() == ()


def _engine_peaks(items: int, path: Path) -> list[int]:
    """The most memory the engine's and the spool's own code held at any progress event
    of a first sync of ``items`` tasks into a local store, then of a re-sync that lists
    both sides in full (``verify``); the collections' own allocations are left out."""
    remote = collection("remote")
    for n in range(items):
        remote.create(Task.new(f"task {n}"))
    mine = [tracemalloc.Filter(True, "*/openprotocols/sync/engine.py"),
            tracemalloc.Filter(True, "*/openprotocols/sync/plan.py"),
            tracemalloc.Filter(True, "*/openprotocols/store/_spool.py")]  # fmt: skip
    peaks: list[int] = []

    def sample(_: Progress) -> None:
        snapshot = tracemalloc.take_snapshot().filter_traces(mine)
        peaks[-1] = max(peaks[-1], sum(stat.size for stat in snapshot.statistics("filename")))

    with LocalStore(path / f"{items}.sqlite") as store:
        store.create_folder("Tasks", FolderKind.TASKS)
        binding = store.bind("Tasks", remote.backend, "tasks")  # type: ignore[arg-type]
        for verify in (False, True):
            peaks.append(0)
            gc.collect()
            tracemalloc.start()
            try:
                report = binding.sync(progress=sample, verify=verify)
            finally:
                tracemalloc.stop()
            assert report.ok
            assert report.created[Side.LOCAL] == (0 if verify else items)
    return peaks


def test_the_engines_memory_does_not_grow_with_the_collection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_spool, "CHUNK", 64)  # both sizes well above a chunk
    small, large = _engine_peaks(300, tmp_path), _engine_peaks(1500, tmp_path)
    # With the plan in memory, the listing and the plan held ~200 bytes per item here
    # (1,200 more items: ~240 KB more); with the spool, a few chunks of rows.
    for few, many in zip(small, large, strict=True):
        assert many < few * 1.25 + 8192, (small, large)
