"""The memory backend: the contract, plus what only a reference implementation shows."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence

import pytest

from openprotocols import connect
from openprotocols.backends.base import Collection, Entry
from openprotocols.backends.memory import MemoryBackend, MemoryCollection, MemoryServer
from openprotocols.errors import CapabilityError, ReadOnlyError
from openprotocols.model import Account, Appointment, Endpoint, Folder, FolderKind, Item
from openprotocols.plugins import get_plugin_manager
from openprotocols.testing import BackendContractTests


@pytest.fixture
def server_name() -> Iterator[str]:
    """A process-wide memory server name of its own, forgotten afterwards."""
    name = f"test-{uuid.uuid4().hex}"
    yield name
    MemoryServer.forget(name)


def account_for(server_name: str) -> Account:
    """An account whose memory endpoint names the server."""
    return Account(
        email="ann@example.test",
        endpoints=[Endpoint(protocol="memory", host=server_name)],
    )


class TestMemoryBackend(BackendContractTests):
    """The memory backend passes the collection-protocol contract."""

    @pytest.fixture
    def backend(self, server_name: str) -> Iterator[MemoryBackend]:
        """A memory backend connected through openprotocols.connect()."""
        pm = get_plugin_manager(entry_points=False)
        with connect(account_for(server_name), "memory", plugin_manager=pm) as backend:
            assert isinstance(backend, MemoryBackend)
            yield backend

    @pytest.fixture
    def read_only_collection(self, backend: MemoryBackend, kind: FolderKind) -> Collection[Item]:
        """A folder the server marks read-only."""
        folder = backend.server.add_folder(
            Folder(id=f"ro-{kind}", kind=kind, display_name="Read-only", read_only=True)
        )
        return backend.collection(folder)


def test_connections_to_one_server_share_data(server_name: str) -> None:
    """Two accounts naming the same memory host see the same folders and items."""
    one = MemoryBackend(account_for(server_name))
    two = MemoryBackend(account_for(server_name))
    folder = one.create_folder("Calendar", FolderKind.CALENDAR)
    item = Appointment.new(subject="Shared", start=_when(), end=_when(1))
    ref = one.collection(folder).create(item)
    assert two.collection(folder.id).get_one(ref.id).item == item


def test_read_only_backend_refuses_folder_changes(server_name: str) -> None:
    """A read-only backend refuses folder creation before touching the server."""
    backend = MemoryBackend(account_for(server_name), read_only=True)
    with pytest.raises(ReadOnlyError):
        backend.create_folder("Calendar", FolderKind.CALENDAR)
    assert backend.list_folders() == []


def test_forget_history_turns_the_next_changes_full(server_name: str) -> None:
    """An expired state gives a full listing of the current items."""
    backend = MemoryBackend(account_for(server_name))
    collection = backend.collection(backend.create_folder("Cal", FolderKind.CALENDAR))
    ref = collection.create(Appointment.new(subject="A", start=_when(), end=_when(1)))
    state = collection.changes().state
    backend.server.forget_history(collection.folder.id)
    changes = collection.changes(state)
    assert changes.full
    assert [r.id for r in changes.changed] == [ref.id]


def test_replace_folder_gives_new_ids_and_full_listing(server_name: str) -> None:
    """A server-side reset keeps the items under new ids and invalidates old states."""
    backend = MemoryBackend(account_for(server_name))
    collection = backend.collection(backend.create_folder("Cal", FolderKind.CALENDAR))
    item = Appointment.new(subject="A", start=_when(), end=_when(1))
    old = collection.create(item)
    state = collection.changes().state
    backend.server.replace_folder(collection.folder.id)
    changes = collection.changes(state)
    assert changes.full
    (new,) = changes.changed
    assert new.id != old.id
    assert collection.get_one(new.id).item == item


def test_create_folder_of_unsupported_kind_is_refused(server_name: str) -> None:
    """A backend refuses folder kinds it does not declare, before any change."""

    class CalendarsOnly(MemoryBackend):
        kinds = frozenset({FolderKind.CALENDAR})

    backend = CalendarsOnly(account_for(server_name))
    with pytest.raises(CapabilityError):
        backend.create_folder("Contacts", FolderKind.CONTACTS)
    assert backend.list_folders() == []


def test_deleting_a_parent_deletes_children(server_name: str) -> None:
    """Deleting a folder deletes its sub-folders too."""
    backend = MemoryBackend(account_for(server_name))
    parent = backend.create_folder("Parent", FolderKind.MAIL)
    child = backend.create_folder("Child", FolderKind.MAIL, parent=parent.id)
    assert child.id == "Parent/Child"
    assert [f.id for f in backend.list_folders()] == ["Parent", "Parent/Child"]
    backend.delete_folder(parent)
    assert backend.list_folders() == []


def _when(hours: int = 0):  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC) + dt.timedelta(hours=hours)


class _Prefetching(MemoryCollection):
    """A memory collection that fetches two batches ahead and records each batch asked
    for; every batch after the first waits for ``release`` (to catch the worker mid-way)."""

    prefetch = 2
    batch_size = 10

    def __init__(self, backend: MemoryBackend, folder: Folder) -> None:
        super().__init__(backend, folder)
        self.asked: list[int] = []
        self.release = threading.Event()

    def _get_batch(self, ids: Sequence[str]) -> Iterable[Entry[Item]]:
        self.asked.append(len(self.asked))
        if len(self.asked) > 1:
            self.release.wait(5)
        return super()._get_batch(ids)


def _prefetching(server_name: str, items: int) -> tuple[_Prefetching, list[str]]:
    backend = MemoryBackend(account_for(server_name))
    folder = backend.create_folder("Cal", FolderKind.CALENDAR)
    plain = backend.collection(folder)
    ids = [
        plain.create(Appointment.new(subject=f"A{n}", start=_when(), end=_when(1))).id
        for n in range(items)
    ]
    return _Prefetching(backend, folder), ids


def test_prefetch_asks_two_batches_ahead_and_delivers_each_once(server_name: str) -> None:
    collection, ids = _prefetching(server_name, 95)
    collection.release.set()
    entries = collection.get(ids)
    first = next(entries)
    deadline = time.monotonic() + 2
    while len(collection.asked) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert collection.asked == [0, 1, 2]  # batch 0 consumed, batches 1 and 2 fetched
    assert sorted([first.id, *(entry.id for entry in entries)]) == sorted(ids)
    assert collection.asked == list(range(10))


def test_a_caller_that_stops_early_waits_only_for_the_running_batch(server_name: str) -> None:
    """Stopping after the first entry: the batch the worker is fetching completes, the
    one queued behind it is never asked for."""
    collection, ids = _prefetching(server_name, 95)
    entries = collection.get(ids)
    next(entries)  # batch 0 consumed; the worker is in batch 1, batch 2 is queued
    threading.Timer(0.2, collection.release.set).start()
    entries.close()  # returns once batch 1 is done
    assert collection.asked == [0, 1]
