"""The engine keeps a run's listings and plan in its spool, not in memory: the plan is
a lazy sequence over the spool, and the engine's own memory does not grow with the
collections."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import pytest

from openprotocols.backends.memory import MemoryBackend, MemoryCollection, MemoryServer
from openprotocols.model import Account, Folder, FolderKind, Task
from openprotocols.store import LocalStore
from openprotocols.sync import ActionKind, Engine, MemoryStatus, Progress, Side, _spool
from openprotocols.sync._spool import CHUNK


def collection(name: str) -> MemoryCollection:
    backend = MemoryBackend(Account(email=f"{name}@example.test"), server=MemoryServer())
    backend.server.add_folder(Folder.new("tasks", FolderKind.TASKS))
    return backend.collection("tasks")


def test_a_plan_is_a_sequence_read_from_the_spool() -> None:
    local, remote, status = collection("local"), collection("remote"), MemoryStatus()
    for n in range(20):
        remote.create(Task.new(f"old {n}"))
    assert Engine(local, remote, status).run().ok
    edited = list(local.get(ref.id for ref in local.list()))[:3]
    for entry in edited:
        local.put(entry.id, Task.new(f"edited {entry.id}"), if_match=entry.version)
    kept = {status.pair(Side.LOCAL, e.id).remote_id for e in edited}  # type: ignore[union-attr]
    for ref in [ref for ref in remote.list() if ref.id not in kept][:2]:
        remote.delete(ref.id, if_match=ref.version)
    new = {remote.create(Task.new(f"new {n}")).id for n in range(CHUNK + 88)}  # > one chunk

    engine = Engine(local, remote, status)
    plan = engine.plan()
    del engine
    gc.collect()  # the plan outlives its engine: it holds the spool

    actions = list(plan.actions)
    assert len(plan) == len(actions) == 3 + 2 + CHUNK + 88
    # the changes to known pairs first, then the new items
    assert {a.kind for a in actions[:5]} == {ActionKind.UPDATE, ActionKind.DELETE}
    creates = actions[5:]
    assert {a.id for a in creates} == new  # none lost or doubled across the chunks
    assert all(
        a.kind is ActionKind.CREATE and a.source is Side.REMOTE and a.target is Side.LOCAL
        for a in creates
    )
    assert plan.count(ActionKind.CREATE) == CHUNK + 88
    assert plan.count(ActionKind.UPDATE, Side.REMOTE) == 3
    assert plan.count(ActionKind.UPDATE, Side.LOCAL) == 0
    assert plan.count(ActionKind.DELETE, Side.LOCAL) == 2
    for action in actions:
        if action.kind is not ActionKind.CREATE:
            assert action.pair is not None
            assert action.pair.key is not None
    assert plan.actions[0] == actions[0]
    assert plan.actions[-1] == actions[-1]
    assert list(plan.actions[CHUNK - 2 : CHUNK + 2]) == actions[CHUNK - 2 : CHUNK + 2]
    with pytest.raises(IndexError):
        plan.actions[len(actions)]


def test_each_read_of_a_planned_pair_is_a_new_copy() -> None:
    """Execution updates an action's pair before it writes: that must never reach the
    status (a failed write would leave it there) nor another read of the plan."""
    local, remote, status = collection("local"), collection("remote"), MemoryStatus()
    remote.create(Task.new("a"))
    assert Engine(local, remote, status).run().ok
    (ref,) = remote.list()
    remote.put(ref.id, Task.new("b"), if_match=ref.version)
    plan = Engine(local, remote, status).plan()
    first, second = plan.actions[0].pair, plan.actions[0].pair
    assert first is not None
    assert first == second
    assert first is not second
    assert first is not status.pair(Side.REMOTE, ref.id)


def _engine_peaks(items: int, path: Path) -> list[int]:
    """The most memory the engine's and the spool's own code held at any progress event
    of a first sync of ``items`` tasks into a local store, then of a re-sync that lists
    both sides in full (``verify``); the collections' own allocations are left out."""
    remote = collection("remote")
    for n in range(items):
        remote.create(Task.new(f"task {n}"))
    mine = [tracemalloc.Filter(True, "*/openprotocols/sync/engine.py"),
            tracemalloc.Filter(True, "*/openprotocols/sync/_spool.py")]  # fmt: skip
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
    # Before the spool, the listing and the plan held ~200 bytes per item here (1,200
    # more items: ~240 KB more); now a few chunks of rows, whatever the size.
    for few, many in zip(small, large, strict=True):
        assert many < few * 1.25 + 8192, (small, large)
