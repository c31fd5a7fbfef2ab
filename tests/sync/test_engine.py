"""The sync engine between two memory collections: every rule of the engine's module
documentation, one scenario each."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from openprotocols.backends.base import Changes
from openprotocols.backends.memory import MemoryBackend, MemoryCollection, MemoryServer
from openprotocols.errors import ConnectionError, MassChangeError
from openprotocols.model import Account, Folder, FolderKind, Task
from openprotocols.model.bindings import ConflictPolicy, Direction
from openprotocols.sync import (
    ActionKind,
    Engine,
    Guard,
    KeptReason,
    MemoryStatus,
    Side,
    SyncReport,
)


def collection(name: str) -> MemoryCollection:
    """A tasks folder on a server of its own."""
    backend = MemoryBackend(Account(email=f"{name}@example.test"), server=MemoryServer())
    backend.server.add_folder(Folder.new("tasks", FolderKind.TASKS))
    return backend.collection("tasks")


@attrs.define
class World:
    local: MemoryCollection
    remote: MemoryCollection
    status: MemoryStatus

    def sync(self, **options: Any) -> SyncReport:
        report = Engine(self.local, self.remote, self.status, **options).run()
        assert report.ok, report.errors
        return report

    def subjects(self, side: Side) -> list[str]:
        coll = self.local if side is Side.LOCAL else self.remote
        return sorted(e.item.subject for e in coll.get(r.id for r in coll.list()))

    def find(self, side: Side, subject: str) -> tuple[str, str, Task]:
        coll = self.local if side is Side.LOCAL else self.remote
        for entry in coll.get(r.id for r in coll.list()):
            if entry.item.subject == subject:
                return entry.id, entry.version, entry.item
        raise KeyError(subject)

    def edit(self, side: Side, subject: str, new: str) -> None:
        coll = self.local if side is Side.LOCAL else self.remote
        item_id, version, item = self.find(side, subject)
        coll.put(item_id, attrs.evolve(item, subject=new), if_match=version)

    def delete(self, side: Side, subject: str) -> None:
        coll = self.local if side is Side.LOCAL else self.remote
        item_id, version, _ = self.find(side, subject)
        coll.delete(item_id, if_match=version)


@pytest.fixture
def world() -> World:
    return World(collection("local"), collection("remote"), MemoryStatus())


def assert_quiet(world: World) -> None:
    """Two more runs change nothing and write nothing."""
    for _ in range(2):
        report = world.sync()
        assert report.writes == 0
        assert len(report.plan) == 0 or all(
            a.kind is ActionKind.UPDATE for a in report.plan.actions
        )
    assert world.subjects(Side.LOCAL) == world.subjects(Side.REMOTE)


def test_first_sync_downloads_everything_then_nothing(world: World) -> None:
    for n in range(5):
        world.remote.create(Task.new(f"task {n}"))
    report = world.sync()
    assert report.created == {Side.LOCAL: 5, Side.REMOTE: 0}
    assert world.subjects(Side.LOCAL) == [f"task {n}" for n in range(5)]
    assert_quiet(world)


def test_changes_flow_both_ways(world: World) -> None:
    world.remote.create(Task.new("a"))
    world.remote.create(Task.new("b"))
    world.sync()
    world.local.create(Task.new("c"))
    world.edit(Side.LOCAL, "a", "a2")
    world.edit(Side.REMOTE, "b", "b2")
    report = world.sync()
    assert report.created[Side.REMOTE] == 1
    assert report.updated == {Side.LOCAL: 1, Side.REMOTE: 1}
    assert world.subjects(Side.REMOTE) == ["a2", "b2", "c"]
    world.delete(Side.REMOTE, "a2")
    world.delete(Side.LOCAL, "c")
    report = world.sync()
    assert report.deleted == {Side.LOCAL: 1, Side.REMOTE: 1}
    assert world.subjects(Side.LOCAL) == ["b2"]
    assert_quiet(world)


def test_conflict_keep_both_keeps_the_server_version_and_queues_the_local_one(
    world: World,
) -> None:
    world.remote.create(Task.new("a"))
    world.sync()
    world.edit(Side.LOCAL, "a", "mine")
    world.edit(Side.REMOTE, "a", "theirs")
    report = world.sync()
    assert report.conflicts == 1
    assert world.subjects(Side.LOCAL) == ["theirs"]
    (kept,) = world.status.kept
    assert (kept.reason, kept.side, kept.item.subject) == (KeptReason.CONFLICT, Side.LOCAL, "mine")
    assert_quiet(world)


@pytest.mark.parametrize(
    ("policy", "result", "kept"),
    [
        (ConflictPolicy.SERVER_WINS, "theirs", []),
        (ConflictPolicy.LOCAL_WINS, "mine", [(KeptReason.REPLACED, Side.REMOTE, "theirs")]),
    ],
)
def test_conflict_policies(
    world: World, policy: ConflictPolicy, result: str, kept: list[tuple[Any, ...]]
) -> None:
    world.remote.create(Task.new("a"))
    world.sync()
    world.edit(Side.LOCAL, "a", "mine")
    world.edit(Side.REMOTE, "a", "theirs")
    world.sync(policy=policy)
    assert world.subjects(Side.LOCAL) == world.subjects(Side.REMOTE) == [result]
    assert [(k.reason, k.side, k.item.subject) for k in world.status.kept] == kept


def test_ask_leaves_both_sides_alone(world: World) -> None:
    world.remote.create(Task.new("a"))
    world.sync()
    world.edit(Side.LOCAL, "a", "mine")
    world.edit(Side.REMOTE, "a", "theirs")
    report = world.sync(policy=ConflictPolicy.ASK)
    assert (report.unresolved, report.writes) == (1, 0)
    assert world.subjects(Side.LOCAL) == ["mine"]
    assert world.subjects(Side.REMOTE) == ["theirs"]


def test_same_edit_on_both_sides_is_no_conflict(world: World) -> None:
    world.remote.create(Task.new("a"))
    world.sync()
    world.edit(Side.LOCAL, "a", "same")
    world.edit(Side.REMOTE, "a", "same")
    report = world.sync()
    assert (report.conflicts, report.writes) == (0, 0)


@pytest.mark.parametrize("editor", list(Side))
def test_an_edit_beats_a_delete(world: World, editor: Side) -> None:
    world.remote.create(Task.new("a"))
    world.sync()
    world.edit(editor, "a", "edited")
    world.delete(editor.other, "a")
    report = world.sync()
    assert report.created[editor.other] == 1
    assert world.subjects(Side.LOCAL) == world.subjects(Side.REMOTE) == ["edited"]
    assert_quiet(world)


def test_a_new_version_with_the_same_content_writes_nothing(world: World) -> None:
    world.remote.create(Task.new("a"))
    world.sync()
    item_id, version, item = world.find(Side.REMOTE, "a")
    world.remote.put(item_id, item, if_match=version)  # an ETag churned by the server
    report = world.sync()
    assert (report.writes, report.unchanged) == (0, 1)


def test_first_sync_of_two_full_sides_matches_instead_of_duplicating(world: World) -> None:
    for n in range(3):
        task = Task.new(f"task {n}")
        world.local.create(task)
        world.remote.create(task)
    world.local.create(Task.new("local only"))
    differing = Task.new("remote")
    world.remote.create(differing)
    world.local.create(attrs.evolve(differing, subject="local"))
    report = world.sync()
    assert report.created == {Side.LOCAL: 0, Side.REMOTE: 1}
    assert report.conflicts == 1  # same UID, different contents: keep both
    assert world.subjects(Side.REMOTE) == ["local only", "remote", "task 0", "task 1", "task 2"]
    assert_quiet(world)


def test_replaced_ids_are_reassociated_not_deleted_and_recreated(world: World) -> None:
    for n in range(20):
        world.remote.create(Task.new(f"task {n}"))
    world.sync()
    world.remote.backend.server.replace_folder("tasks")  # new ids: a UIDVALIDITY change
    report = world.sync()
    assert report.plan.reassociated == 20
    assert report.writes == 0
    assert_quiet(world)


def test_expired_state_gives_a_full_listing_and_no_writes(world: World) -> None:
    for n in range(3):
        world.remote.create(Task.new(f"task {n}"))
    world.sync()
    world.remote.backend.server.forget_history("tasks")
    report = world.sync()
    assert report.plan.full == {Side.REMOTE}
    assert report.writes == 0


def test_mass_deletion_stops_before_writing(world: World) -> None:
    for n in range(20):
        world.remote.create(Task.new(f"task {n}"))
    world.sync()
    for n in range(15):
        world.delete(Side.REMOTE, f"task {n}")
    with pytest.raises(MassChangeError) as caught:
        world.sync()
    assert (caught.value.side, caught.value.deletions, caught.value.total) == ("local", 15, 20)
    assert len(world.subjects(Side.LOCAL)) == 20
    report = world.sync(guard=Guard(confirmed=True))
    assert report.deleted[Side.LOCAL] == 15


def test_a_suddenly_empty_side_stops_the_sync(world: World) -> None:
    for n in range(3):
        world.remote.create(Task.new(f"task {n}"))
    world.sync()
    server = world.remote.backend.server
    server.delete_folder("tasks")
    server.add_folder(Folder.new("tasks", FolderKind.TASKS))  # the same folder, emptied
    with pytest.raises(MassChangeError, match="suddenly empty"):
        world.sync()
    assert len(world.subjects(Side.LOCAL)) == 3


@pytest.mark.parametrize("deleted", [2, 3])
def test_deletes_reported_one_by_one_below_the_minimum_need_no_confirmation(
    world: World, deleted: int
) -> None:
    """Deletes a side reports one by one (an incremental listing) are someone's deliberate
    deletes: below the guard's minimum they go through, even the last item of a side.
    Only a full listing with nothing in it (a collection recreated empty, a wiped
    mailbox) counts as a side suddenly empty."""
    for n in range(3):
        world.remote.create(Task.new(f"task {n}"))
    world.sync()
    for n in range(deleted):
        world.delete(Side.REMOTE, f"task {n}")
    report = world.sync()
    assert report.plan.full == set()
    assert report.deleted[Side.LOCAL] == deleted
    assert world.subjects(Side.LOCAL) == world.subjects(Side.REMOTE)


class Offline(MemoryCollection):
    """A remote that cannot be reached (a fault injected on purpose)."""

    def changes(self, since: str | None = None) -> Changes:
        raise ConnectionError("no route to host")


def test_offline_remote_keeps_local_changes_for_later(world: World) -> None:
    world.remote.create(Task.new("a"))
    world.sync()
    world.local.create(Task.new("written offline"))
    offline = Offline(world.remote.backend, world.remote.folder)
    report = Engine(world.local, offline, world.status).run()
    assert report.offline
    assert report.writes == 0
    report = world.sync()
    assert report.created[Side.REMOTE] == 1
    assert world.subjects(Side.REMOTE) == ["a", "written offline"]


@pytest.mark.parametrize(
    ("direction", "local", "remote"),
    [
        (Direction.DOWNLOAD, ["a2", "b2"], ["a", "b2"]),  # the local edit stays local
        (Direction.UPLOAD, ["a2", "b"], ["a2", "b2"]),  # the remote edit stays remote
    ],
)
def test_directions(
    world: World, direction: Direction, local: list[str], remote: list[str]
) -> None:
    world.remote.create(Task.new("a"))
    world.remote.create(Task.new("b"))
    world.sync()
    world.edit(Side.LOCAL, "a", "a2")
    world.edit(Side.REMOTE, "b", "b2")
    report = world.sync(direction=direction)
    assert report.skipped == 1
    assert world.subjects(Side.LOCAL) == local
    assert world.subjects(Side.REMOTE) == remote


def test_dry_run_plans_without_writing(world: World) -> None:
    world.remote.create(Task.new("a"))
    report = Engine(world.local, world.remote, world.status).run(dry_run=True)
    assert report.plan.count(ActionKind.CREATE, Side.LOCAL) == 1
    assert report.writes == 0
    assert world.subjects(Side.LOCAL) == []
    assert world.status.count() == 0


def test_a_write_race_becomes_a_conflict_not_a_lost_update(world: World) -> None:
    """The remote item changes between changes() and the write (a 412): the policy
    decides, with the remote's current version."""
    world.remote.create(Task.new("a"))
    world.sync()
    world.edit(Side.LOCAL, "a", "mine")
    engine = Engine(world.local, world.remote, world.status)
    plan = engine.plan()
    world.edit(Side.REMOTE, "a", "raced")  # after the plan, before the write
    report = SyncReport(plan)
    engine._execute(plan, report)
    assert report.conflicts == 1
    assert world.subjects(Side.LOCAL) == ["raced"]
    assert [k.item.subject for k in world.status.kept] == ["mine"]


def test_progress_events(world: World) -> None:
    for n in range(3):
        world.remote.create(Task.new(f"task {n}"))
    events: list[Any] = []
    Engine(world.local, world.remote, world.status, progress=events.append).run()
    assert [e.phase for e in events][-1] == "apply"
    assert events[-1].done == events[-1].total == 3


def test_the_next_run_does_not_read_back_its_own_writes(world: World) -> None:
    """The states saved are those after the run's own writes (when nothing else came in
    meanwhile), so the next run lists nothing instead of the whole first download."""
    for n in range(5):
        world.remote.create(Task.new(f"task {n}"))
    world.local.create(Task.new("local"))
    world.sync()
    for side, collection in ((Side.LOCAL, world.local), (Side.REMOTE, world.remote)):
        since = world.status.state(side)
        assert since is not None
        assert collection.changes(since).changed == ()


def test_a_first_sync_reads_each_side_with_one_get_and_commits_per_batch(world: World) -> None:
    """The items to copy come from a single ``get`` (so a collection that prefetches keeps
    its requests flowing across batches), applied and committed a batch at a time."""
    for n in range(25):
        world.remote.create(Task.new(f"task {n}"))
    asked: list[int] = []
    get = world.remote.get

    def counting_get(ids: Any) -> Any:
        ids = list(ids)
        asked.append(len(ids))
        return get(ids)

    world.remote.get = counting_get  # type: ignore[method-assign]
    events: list[Any] = []
    report = Engine(
        world.local, world.remote, world.status, batch_size=10, progress=events.append
    ).run()
    assert report.created[Side.LOCAL] == 25
    assert asked == [25]
    assert [e.done for e in events if e.phase == "apply"] == [10, 20, 25]
