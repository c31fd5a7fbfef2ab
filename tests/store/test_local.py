"""The local store: the collection protocol, history and restore, bindings to a memory
server (the engine's own rules are in tests/sync), export, reset, conflicts."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from openprotocols.backends.base import Listing
from openprotocols.backends.memory import MemoryBackend, MemoryServer
from openprotocols.errors import AlreadyExistsError, NotFoundError
from openprotocols.model import Account, Folder, FolderKind, Task
from openprotocols.model._base import Extended, RawProperty
from openprotocols.store import LocalStore, export_folder, sync_all
from openprotocols.store._db import PAGE_SIZE
from openprotocols.sync import Progress, Side
from openprotocols.testing import BackendContractTests


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    with LocalStore(tmp_path / "store.sqlite") as local:
        yield local


@pytest.fixture
def server() -> MemoryBackend:
    """A memory "server" with a tasks collection."""
    backend = MemoryBackend(Account(email="ann@example.test"), server=MemoryServer())
    backend.server.add_folder(Folder.new("remote-tasks", FolderKind.TASKS, display_name="Tasks"))
    return backend


class TestLocalStoreContract(BackendContractTests):
    @pytest.fixture
    def backend(self, store: LocalStore) -> LocalStore:  # type: ignore[override]
        return store


def subjects(collection: object) -> list[str]:
    refs = collection.list()  # type: ignore[attr-defined]
    return sorted(e.item.subject for e in collection.get(r.id for r in refs))  # type: ignore[attr-defined]


def test_a_binding_syncs_both_ways_and_survives_reopening(
    store: LocalStore, server: MemoryBackend, tmp_path: Path
) -> None:
    server.collection("remote-tasks").create(Task.new("from the server"))
    store.create_folder("tasks", FolderKind.TASKS)
    binding = store.bind("tasks", server)  # the collection is found by kind and name
    assert binding.spec.collection == "remote-tasks"
    assert binding.sync().created[Side.LOCAL] == 1
    store.collection("tasks").create(Task.new("written locally"))
    store.close()

    with LocalStore(tmp_path / "store.sqlite") as again:
        report = again.binding("tasks", server).sync()
        assert report.created[Side.REMOTE] == 1
        assert report.created[Side.LOCAL] == 0
        assert subjects(server.collection("remote-tasks")) == ["from the server", "written locally"]
        assert again.binding("tasks", server).sync().writes == 0
        with pytest.raises(AlreadyExistsError):
            again.bind("tasks", server)


def test_every_replaced_or_deleted_version_can_be_restored(
    store: LocalStore, server: MemoryBackend
) -> None:
    store.create_folder("tasks", FolderKind.TASKS)
    binding = store.bind("tasks", server, "remote-tasks")
    tasks = store.collection("tasks")
    ref = tasks.create(Task.new("v1"))
    item = tasks.get_one(ref.id).item
    ref = tasks.put(ref.id, attrs.evolve(item, subject="v2"), if_match=ref.version)
    binding.sync()
    remote = server.collection("remote-tasks")
    (rref,) = remote.list()
    remote.delete(rref.id, if_match=rref.version)  # deleted on the server
    binding.sync()
    assert tasks.list() == ()
    history = store.history("tasks")
    assert [(h.item.subject, h.reason, h.by) for h in history] == [
        ("v2", "deleted", "sync"),
        ("v1", "replaced", "user"),
    ]
    store.restore(history[0])
    assert subjects(tasks) == ["v2"]
    binding.sync()
    assert subjects(remote) == ["v2"]  # and back on the server


def test_conflict_queue_and_resolution(store: LocalStore, server: MemoryBackend) -> None:
    store.create_folder("tasks", FolderKind.TASKS)
    binding = store.bind("tasks", server, "remote-tasks")
    remote = server.collection("remote-tasks")
    ref = remote.create(Task.new("original"))
    binding.sync()
    tasks = store.collection("tasks")
    (local_ref,) = tasks.list()
    item = tasks.get_one(local_ref.id).item
    tasks.put(local_ref.id, attrs.evolve(item, subject="mine"), if_match=local_ref.version)
    remote.put(ref.id, attrs.evolve(item, subject="theirs"), if_match=ref.version)
    report = binding.sync()
    assert report.conflicts == 1
    assert subjects(tasks) == ["theirs"]
    (conflict,) = store.conflicts("tasks")
    assert conflict.item.subject == "mine"
    store.resolve(conflict, keep="local")
    assert store.conflicts() == []
    binding.sync()
    assert subjects(remote) == subjects(tasks) == ["mine"]


def test_reset_from_server_keeps_pending_local_changes(
    store: LocalStore, server: MemoryBackend
) -> None:
    store.create_folder("tasks", FolderKind.TASKS)
    binding = store.bind("tasks", server, "remote-tasks")
    remote = server.collection("remote-tasks")
    for subject in ("a", "b"):
        remote.create(Task.new(subject))
    binding.sync()
    tasks = store.collection("tasks")
    tasks.create(Task.new("pending"))
    report = binding.reset_from_server()
    assert report.ok
    assert subjects(tasks) == ["a", "b", "pending"]
    assert subjects(remote) == ["a", "b", "pending"]
    binding.reset_from_server(discard_local_changes=True)
    assert subjects(tasks) == ["a", "b", "pending"]  # "pending" is on the server by now


def test_export_folder_creates_binds_and_uploads(store: LocalStore, server: MemoryBackend) -> None:
    store.create_folder("notes", FolderKind.TASKS, color="#FF0000")
    for subject in ("x", "y", "z"):
        store.collection("notes").create(Task.new(subject))
    binding, report = export_folder(store, "notes", server, "exported")
    assert report.created[Side.REMOTE] == 3
    assert subjects(server.collection(binding.spec.collection)) == ["x", "y", "z"]
    assert server.collection("exported").folder.color == "#FF0000"


def test_binding_without_a_matching_collection(store: LocalStore, server: MemoryBackend) -> None:
    store.create_folder("contacts", FolderKind.CONTACTS)
    with pytest.raises(NotFoundError):
        store.bind("contacts", server)


def test_the_database_is_sound(store: LocalStore, server: MemoryBackend) -> None:
    store.create_folder("tasks", FolderKind.TASKS)
    store.bind("tasks", server, "remote-tasks").sync()
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA page_size").fetchone() == (PAGE_SIZE,)


def test_an_existing_store_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # a store made before 16 KiB pages
        db.execute("PRAGMA journal_mode=WAL")
    with LocalStore(path) as store:
        store.create_folder("tasks", FolderKind.TASKS)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (4096,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# The items table of schema 1, as stores made before schema 2 hold it.
_ITEMS_V1 = """
CREATE TABLE items_v1 (
    folder TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    id TEXT NOT NULL, version INTEGER NOT NULL, uid TEXT, kind TEXT NOT NULL,
    data BLOB NOT NULL, meta TEXT NOT NULL, PRIMARY KEY (folder, id)
) WITHOUT ROWID;
INSERT INTO items_v1 SELECT folder, id, version, uid, kind, data, meta FROM items;
DROP TABLE items;
ALTER TABLE items_v1 RENAME TO items;
CREATE INDEX items_by_uid ON items (folder, uid);
UPDATE meta SET value = '1' WHERE key = 'schema';
"""


def test_a_schema_1_store_is_migrated_with_its_items(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with LocalStore(path) as store:
        store.create_folder("tasks", FolderKind.TASKS)
        tasks = store.collection("tasks")
        refs = [tasks.create(Task.new(f"task {n}")) for n in range(5)]
        tasks.delete(refs[0].id, if_match=refs[0].version)
    with sqlite3.connect(path) as db:
        db.executescript(_ITEMS_V1)
        with pytest.raises(sqlite3.OperationalError):  # WITHOUT ROWID: schema 1 indeed
            db.execute("SELECT rowid FROM items")
    with LocalStore(path) as store:
        tasks = store.collection("tasks")
        assert sorted(r.id for r in tasks.list()) == sorted(r.id for r in refs[1:])
        assert sorted(e.item.subject for e in tasks.get(r.id for r in refs[1:])) == [
            f"task {n}" for n in range(1, 5)
        ]
        assert tasks.find_uid(str(next(tasks.get([refs[1].id])).item.uid)) == refs[1]
        assert [h.item_id for h in store.history("tasks")] == [refs[0].id]
        tasks.create(Task.new("after the migration"))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
        assert db.execute("SELECT count(rowid) FROM items").fetchone() == (5,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        indexes = {row[1] for row in db.execute("PRAGMA index_list(items)")}
        assert "items_by_uid" in indexes


def test_create_bound_folder_and_sync_all_in_parallel(
    store: LocalStore, server: MemoryBackend
) -> None:
    bindings = [
        store.create_bound_folder(f"list-{n}", FolderKind.TASKS, server, color="#00FF00")
        for n in range(3)
    ]
    assert {f.id for f in server.list_folders()} >= {"list-0", "list-1", "list-2"}
    for n, binding in enumerate(bindings):
        for m in range(n + 1):
            binding.local.create(Task.new(f"{n}.{m}"))
    events: list[Progress] = []
    lock = threading.Lock()

    def progress(event: Progress) -> None:
        with lock:
            events.append(event)

    reports = sync_all(bindings, max_workers=3, progress=progress)
    assert {folder: r.created[Side.REMOTE] for folder, r in reports.items()} == {  # type: ignore[union-attr]
        "list-0": 1,
        "list-1": 2,
        "list-2": 3,
    }
    assert {e.folder for e in events} == {"list-0", "list-1", "list-2"}
    one_at_a_time = sync_all(bindings, concurrent=False)
    assert all(r.writes == 0 for r in one_at_a_time.values())  # type: ignore[union-attr]


def test_verify_mode_checks_every_item_against_the_server(
    store: LocalStore, server: MemoryBackend
) -> None:
    store.create_folder("tasks", FolderKind.TASKS)
    binding = store.bind("tasks", server, "remote-tasks")
    server.collection("remote-tasks").create(Task.new("a"))
    binding.sync()
    assert binding.sync().plan.full == frozenset()
    report = binding.sync(verify=True)
    assert report.plan.full == {Side.LOCAL, Side.REMOTE}
    assert report.writes == 0


def test_x_properties_a_server_drops_stay_local(store: LocalStore, server: MemoryBackend) -> None:
    """A server that does not store X- properties must not make the local copy lose
    them: they are merged back into what comes down, and go up with the next edit."""
    store.create_folder("tasks", FolderKind.TASKS)
    binding = store.bind("tasks", server, "remote-tasks")
    tasks = store.collection("tasks")
    extra = RawProperty("X-OUTLOOK-CATEGORY-COLOR", "red")
    ref = tasks.create(attrs.evolve(Task.new("a"), extended=Extended([extra])))
    binding.sync()
    remote = server.collection("remote-tasks")
    (rref,) = remote.list()
    stripped = attrs.evolve(remote.get_one(rref.id).item, extended=Extended(), subject="b")
    remote.put(rref.id, stripped, if_match=rref.version)  # the server dropped it
    binding.sync()
    (ref,) = tasks.list()
    mine = tasks.get_one(ref.id).item
    assert mine.subject == "b"
    assert mine.extended.get("X-OUTLOOK-CATEGORY-COLOR") == (extra,)
    assert binding.sync().writes == 0


@pytest.mark.parametrize(("keep", "result"), [("local", "mine"), ("remote", "theirs")])
def test_ask_waits_for_the_users_decision(
    store: LocalStore, server: MemoryBackend, keep: str, result: str
) -> None:
    store.create_folder("tasks", FolderKind.TASKS)
    binding = store.bind("tasks", server, "remote-tasks", policy="ask")
    remote = server.collection("remote-tasks")
    ref = remote.create(Task.new("original"))
    binding.sync()
    tasks = store.collection("tasks")
    (local_ref,) = tasks.list()
    item = tasks.get_one(local_ref.id).item
    tasks.put(local_ref.id, attrs.evolve(item, subject="mine"), if_match=local_ref.version)
    remote.put(ref.id, attrs.evolve(item, subject="theirs"), if_match=ref.version)
    for _ in range(2):  # asked again until answered, and queued once
        report = binding.sync()
        assert (report.unresolved, report.writes) == (1, 0)
    (question,) = store.conflicts("tasks")
    assert question.question
    store.resolve(question, keep=keep)  # type: ignore[arg-type]
    report = binding.sync()
    assert report.writes == 1
    assert subjects(tasks) == subjects(remote) == [result]
    assert store.conflicts() == []
    assert binding.sync().writes == 0


def test_entries_carry_the_stored_bytes_and_none_for_headers_only_mail(store: LocalStore) -> None:
    from openprotocols.formats import mime

    store.create_folder("inbox", FolderKind.MAIL)
    inbox = store.collection("inbox")
    source = b"From: a@example.org\r\nSubject: s\r\nMessage-ID: <m1@example.org>\r\n\r\nbody\r\n"
    whole = inbox.create(mime.parse(source))
    headers_only = inbox.create(
        attrs.evolve(mime.parse_headers(source.replace(b"<m1", b"<m2")), size=40)
    )
    assert inbox.get_one(whole.id).raw == source
    assert inbox.get_one(headers_only.id).raw is None
    tasks = store.create_folder("tasks", FolderKind.TASKS)
    ref = store.collection(tasks).create(Task.new("t"))
    raw = store.collection(tasks).get_one(ref.id).raw
    assert raw is not None
    assert raw.startswith(b"BEGIN:VCALENDAR")


def test_a_full_listing_sees_every_pair_past_the_first_chunk(
    store: LocalStore, server: MemoryBackend
) -> None:
    """The status reads its pairs a chunk at a time: a verify run (both sides listed in
    full) must still find the deletions among the last pairs."""
    remote = server.collection("remote-tasks")
    for n in range(1100):  # more than two chunks of pairs
        remote.create(Task.new(f"task {n}"))
    store.create_folder("tasks", FolderKind.TASKS)
    binding = store.bind("tasks", server, "remote-tasks")
    assert binding.sync().created[Side.LOCAL] == 1100
    listing = binding.local.changes().changed  # the store's own full listing is spilled too
    assert isinstance(listing, Listing)
    assert len(listing) == 1100
    assert sorted(listing, key=str) == sorted(binding.local.list(), key=str)
    last = remote.list()[-3:]
    for ref in last:
        remote.delete(ref.id, if_match=ref.version)
    report = binding.sync(verify=True)
    assert report.deleted == {Side.LOCAL: 3, Side.REMOTE: 0}
    assert len(binding.local.list()) == 1097


def test_a_message_given_as_bytes_alone_is_found_by_its_message_id(store: LocalStore) -> None:
    """``Message.new(content=...)`` reads nothing from the bytes (the model does not parse
    MIME), so the store takes the Message-ID from the header block: ``find_uid`` finds
    the message, and restoring an older version replaces it instead of adding a copy
    that the next sync would upload a second time."""
    from openprotocols.model import Message

    store.create_folder("inbox", FolderKind.MAIL)
    inbox = store.collection("inbox")
    source = b"From: a@example.org\r\nSubject: s\r\nMessage-ID: <m1@example.org>\r\n\r\nbody\r\n"
    ref = inbox.create(Message.new(content=source, flags=()))
    assert inbox.find_uid("<m1@example.org>") == ref
    item = inbox.get_one(ref.id).item
    inbox.put(ref.id, item.with_flags("\\Seen"), if_match=ref.version)
    (unread,) = store.history("inbox")
    store.restore(unread)
    (only,) = inbox.list()
    assert only.id == ref.id
    assert not inbox.get_one(only.id).item.is_seen
