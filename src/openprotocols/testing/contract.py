"""``BackendContractTests``: the tests every backend passes, for backend authors to subclass.

Subclass it in a test module and provide one fixture, ``backend``: a connected backend
whose folders the tests may create and delete (or, for a backend that cannot create
folders, override ``folder``)::

    import pytest
    from openprotocols.testing import BackendContractTests

    class TestMyBackend(BackendContractTests):
        @pytest.fixture
        def backend(self, my_server):
            with connect(account_for(my_server), "mybackend") as provider:
                yield provider

Every test runs once per folder kind (``mail``, ``calendar``, ``tasks``, ``contacts``) and
skips the kinds the backend does not hold; tests of optional capabilities skip when the
backend does not declare them. Class attributes tune the rest:

``enforces_unique_uids``
    ``True`` when creating a second item with the same UID must fail with
    :class:`~openprotocols.errors.AlreadyExistsError` (DAV servers); ``False`` for IMAP.

Override :meth:`sample_item` to test with richer items, and :meth:`assert_same_item` when
the server rewrites items (e.g. adds properties) so that equality is too strict.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import pytest

from openprotocols.backends.base import Backend, Capability, Changes, Collection, Entry
from openprotocols.errors import (
    AlreadyExistsError,
    CapabilityError,
    ConflictError,
    NotFoundError,
    ReadOnlyError,
)
from openprotocols.model._base import Item
from openprotocols.model.folders import Folder, FolderKind

__all__ = ["BackendContractTests"]

_TITLE_FIELDS = ("subject", "display_name")


def _title(item: Item) -> str | None:
    for name in _TITLE_FIELDS:
        value = getattr(item, name, None)
        if value is not None:
            return str(value)
    envelope = getattr(item, "envelope", None)
    return getattr(envelope, "subject", None)


class BackendContractTests:
    """The collection protocol, checked against a real backend. See the module docs."""

    enforces_unique_uids: ClassVar[bool] = True

    # -- fixtures a subclass provides or may override -----------------------------

    @pytest.fixture
    def backend(self) -> Backend:
        """A connected backend. Subclasses must provide this fixture."""
        raise pytest.UsageError(f"{type(self).__name__} must define a `backend` fixture")

    @pytest.fixture(params=[kind.value for kind in FolderKind])
    def kind(self, request: pytest.FixtureRequest, backend: Backend) -> FolderKind:
        """Each folder kind the backend holds."""
        kind = FolderKind(request.param)
        if kind not in backend.kinds:
            pytest.skip(f"{backend.name} does not hold {kind} folders")
        return kind

    @pytest.fixture
    def folder(self, backend: Backend, kind: FolderKind) -> Iterator[Folder]:
        """A new, empty folder of ``kind``, deleted afterwards."""
        if Capability.CREATE_FOLDERS not in backend.capabilities:
            pytest.skip(f"{backend.name} cannot create folders; override the `folder` fixture")
        name = f"contract-{kind}-{uuid.uuid4().hex[:8]}"
        folder = backend.create_folder(name, kind, display_name=f"Contract {kind}")
        yield folder
        if Capability.DELETE_FOLDERS in backend.capabilities:
            with contextlib.suppress(NotFoundError):  # the test may have deleted it
                backend.delete_folder(folder)

    @pytest.fixture
    def collection(self, backend: Backend, folder: Folder) -> Collection[Item]:
        """The collection of ``folder``."""
        return backend.collection(folder)

    def sample_item(self, kind: FolderKind, n: int = 0) -> Item:
        """A simple new item of ``kind``; ``n`` makes items of one test differ."""
        from openprotocols.model import Address, Appointment, Contact, Message, Task

        title = f"Contract item {n} {uuid.uuid4().hex[:6]}"
        if kind is FolderKind.CALENDAR:
            start = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC) + dt.timedelta(days=n)
            return Appointment.new(subject=title, start=start, end=start + dt.timedelta(hours=1))
        if kind is FolderKind.TASKS:
            return Task.new(subject=title)
        if kind is FolderKind.CONTACTS:
            return Contact.new(title)
        message_id = f"<{uuid.uuid4().hex}@contract.example.test>"
        content = (
            f"From: contract@example.test\r\nTo: to@example.test\r\nSubject: {title}\r\n"
            f"Message-ID: {message_id}\r\n\r\nBody {n}\r\n"
        ).encode()
        return Message.new(
            subject=title,
            from_=[Address("contract@example.test")],
            to=[Address("to@example.test")],
            message_id=message_id,
            content=content,
        )

    def changed_copy(self, item: Item) -> Item:
        """``item`` with a visible change (its title), for update tests."""
        fields = attrs.fields_dict(type(item))  # type: ignore[arg-type]  # items are attrs
        for name in _TITLE_FIELDS:
            if name in fields and getattr(item, name) is not None:
                value = getattr(item, name) + " (changed)"
                return attrs.evolve(item, **{name: value})  # type: ignore[misc]
        # Mail: a changed flag set is the change a mail server keeps.
        flags: frozenset[str] = getattr(item, "flags", frozenset())
        return attrs.evolve(item, flags=frozenset(flags) | {"\\Flagged"})  # type: ignore[misc]

    def assert_same_item(self, expected: Item, actual: Item) -> None:
        """Assert that ``actual`` (read back) is the item ``expected`` (written)."""
        assert type(actual) is type(expected)
        if isinstance(expected.uid, str):
            assert actual.uid == expected.uid
        assert _title(actual) == _title(expected)

    # -- helpers ----------------------------------------------------------------

    def _fill(self, collection: Collection[Item], kind: FolderKind, count: int) -> list[Any]:
        return [collection.create(self.sample_item(kind, n)) for n in range(count)]

    @staticmethod
    def _versions(changes: Changes) -> dict[str, str]:
        return {ref.id: ref.version for ref in changes.changed}

    # -- folders -------------------------------------------------------------------

    def test_list_folders_includes_new_folder(self, backend: Backend, folder: Folder) -> None:
        """A created folder is listed, with its kind and display name."""
        listed = {f.id: f for f in backend.list_folders()}
        assert folder.id in listed
        assert listed[folder.id].kind is folder.kind
        assert listed[folder.id].display_name == folder.display_name

    def test_collection_of_unknown_folder_is_not_found(self, backend: Backend) -> None:
        """Asking for a folder that does not exist raises NotFoundError."""
        with pytest.raises(NotFoundError):
            backend.collection(f"no-such-folder-{uuid.uuid4().hex}")

    def test_rename_folder(self, backend: Backend, folder: Folder) -> None:
        """A renamed folder is listed under its new display name."""
        if Capability.RENAME_FOLDERS not in backend.capabilities:
            with pytest.raises(CapabilityError):
                backend.rename_folder(folder, "Renamed")
            return
        renamed = backend.rename_folder(folder, "Renamed by contract")
        listed = {f.id: f for f in backend.list_folders()}
        assert listed[renamed.id].display_name == "Renamed by contract"

    def test_delete_folder(self, backend: Backend, folder: Folder) -> None:
        """A deleted folder is no longer listed and its collection is gone."""
        if Capability.DELETE_FOLDERS not in backend.capabilities:
            with pytest.raises(CapabilityError):
                backend.delete_folder(folder)
            return
        backend.delete_folder(folder)
        assert folder.id not in {f.id for f in backend.list_folders()}
        with pytest.raises(NotFoundError):
            backend.collection(folder).list()

    # -- reading and writing items ------------------------------------------------------

    def test_create_then_get(self, collection: Collection[Item], kind: FolderKind) -> None:
        """A created item can be read back by its id, at the version create() returned."""
        item = self.sample_item(kind)
        ref = collection.create(item)
        entry = collection.get_one(ref.id)
        assert (entry.id, entry.version) == (ref.id, ref.version)
        self.assert_same_item(item, entry.item)

    def test_get_in_batches_returns_every_item(
        self, collection: Collection[Item], kind: FolderKind
    ) -> None:
        """get() returns every requested item and never asks for more than a batch."""
        refs = self._fill(collection, kind, 5)
        collection.batch_size = 2  # an instance attribute shadows the class default
        asked: list[int] = []
        original = collection._send_batch

        def spy(ids: Any) -> Any:
            asked.append(len(ids))
            return original(ids)

        collection._send_batch = spy  # type: ignore[method-assign]
        got = {e.id: e for e in collection.get(r.id for r in refs)}
        assert set(got) == {r.id for r in refs}
        assert max(asked) <= 2
        assert sum(asked) == 5

    def test_get_skips_missing_ids(self, collection: Collection[Item], kind: FolderKind) -> None:
        """Ids that do not exist are skipped by get() and raise NotFoundError in get_one()."""
        ref = collection.create(self.sample_item(kind))
        missing = f"missing-{uuid.uuid4().hex}"
        assert [e.id for e in collection.get([missing, ref.id])] == [ref.id]
        with pytest.raises(NotFoundError):
            collection.get_one(missing)

    def test_put_changes_version(self, collection: Collection[Item], kind: FolderKind) -> None:
        """put() with the current version stores the item and returns a new version."""
        ref = collection.create(self.sample_item(kind))
        entry: Entry[Item] = collection.get_one(ref.id)
        changed = self.changed_copy(entry.item)
        new = collection.put(ref.id, changed, if_match=ref.version)
        assert new.id == ref.id
        assert new.version != ref.version
        stored = collection.get_one(ref.id)
        assert stored.version == new.version
        self.assert_same_item(changed, stored.item)

    def test_put_with_stale_version_conflicts(
        self, collection: Collection[Item], kind: FolderKind
    ) -> None:
        """put() with an old version fails with ConflictError and writes nothing."""
        ref = collection.create(self.sample_item(kind))
        item = collection.get_one(ref.id).item
        current = collection.put(ref.id, self.changed_copy(item), if_match=ref.version)
        with pytest.raises(ConflictError) as info:
            collection.put(ref.id, item, if_match=ref.version)
        assert info.value.current_version in (None, current.version)
        assert collection.get_one(ref.id).version == current.version

    def test_delete_with_stale_version_conflicts(
        self, collection: Collection[Item], kind: FolderKind
    ) -> None:
        """delete() with an old version fails with ConflictError and deletes nothing."""
        ref = collection.create(self.sample_item(kind))
        item = collection.get_one(ref.id).item
        current = collection.put(ref.id, self.changed_copy(item), if_match=ref.version)
        with pytest.raises(ConflictError):
            collection.delete(ref.id, if_match=ref.version)
        assert collection.get_one(ref.id).version == current.version

    def test_delete(self, collection: Collection[Item], kind: FolderKind) -> None:
        """A deleted item is gone; deleting or updating it again raises NotFoundError."""
        ref = collection.create(self.sample_item(kind))
        item = collection.get_one(ref.id).item
        collection.delete(ref.id, if_match=ref.version)
        assert ref.id not in {r.id for r in collection.list()}
        with pytest.raises(NotFoundError):
            collection.delete(ref.id, if_match=ref.version)
        with pytest.raises(NotFoundError):
            collection.put(ref.id, item, if_match=ref.version)

    def test_create_duplicate_uid(self, collection: Collection[Item], kind: FolderKind) -> None:
        """A second item with the same UID is refused where UIDs are unique."""
        item = self.sample_item(kind)
        if not self.enforces_unique_uids or not isinstance(item.uid, str):
            pytest.skip("UIDs are not unique in this collection")
        collection.create(item)
        with pytest.raises(AlreadyExistsError):
            collection.create(item)

    def test_wrong_kind_is_refused(
        self, backend: Backend, collection: Collection[Item], kind: FolderKind
    ) -> None:
        """An item of a kind the collection cannot hold is refused before anything is sent."""
        others = [k for k in FolderKind if not collection.accepts(self.sample_item(k))]
        if not others:
            pytest.skip("this collection accepts every kind")
        with pytest.raises(CapabilityError):
            collection.create(self.sample_item(others[0]))

    # -- changes ----------------------------------------------------------------

    def test_changes_without_state_lists_everything(
        self, collection: Collection[Item], kind: FolderKind
    ) -> None:
        """changes(None) is a full listing of every item and its current version."""
        refs = self._fill(collection, kind, 3)
        changes = collection.changes(None)
        assert changes.full
        assert changes.deleted == ()
        assert self._versions(changes) == {r.id: r.version for r in refs}

    def test_changes_report_exactly_what_changed(
        self, collection: Collection[Item], kind: FolderKind
    ) -> None:
        """changes(state) reports exactly the items created, updated and deleted since."""
        kept, updated, deleted = self._fill(collection, kind, 3)
        state = collection.changes(None).state
        created = collection.create(self.sample_item(kind, 10))
        item = collection.get_one(updated.id).item
        updated = collection.put(updated.id, self.changed_copy(item), if_match=updated.version)
        collection.delete(deleted.id, if_match=deleted.version)

        changes = collection.changes(state)
        if changes.full:  # allowed without INCREMENTAL: then it must be exact as a listing
            assert self._versions(changes) == {
                kept.id: kept.version,
                updated.id: updated.version,
                created.id: created.version,
            }
            return
        assert self._versions(changes) == {created.id: created.version, updated.id: updated.version}
        assert set(changes.deleted) == {deleted.id}

    def test_changes_since_latest_state_are_empty(
        self, backend: Backend, collection: Collection[Item], kind: FolderKind
    ) -> None:
        """With nothing changed, an incremental backend reports nothing."""
        if Capability.INCREMENTAL not in backend.capabilities:
            pytest.skip(f"{backend.name} is not incremental")
        self._fill(collection, kind, 2)
        state = collection.changes(None).state
        changes = collection.changes(state)
        assert (changes.changed, changes.deleted, changes.full) == ((), (), False)
        assert collection.changes(changes.state).changed == ()

    def test_changes_with_unusable_state_is_full(
        self, collection: Collection[Item], kind: FolderKind
    ) -> None:
        """A state the collection cannot use yields a full listing, never an error."""
        refs = self._fill(collection, kind, 2)
        changes = collection.changes("not-a-state-of-this-collection")
        assert changes.full
        assert self._versions(changes) == {r.id: r.version for r in refs}

    # -- read-only ----------------------------------------------------------------

    @pytest.fixture
    def read_only_collection(self, backend: Backend, kind: FolderKind) -> Collection[Item]:
        """A read-only collection of ``kind``; override where the backend has one."""
        pytest.skip("no read-only collection for this backend")

    def test_read_only_collection_refuses_writes(
        self, read_only_collection: Collection[Item], kind: FolderKind
    ) -> None:
        """Every write to a read-only collection raises ReadOnlyError before sending."""
        assert read_only_collection.read_only
        item = self.sample_item(kind)
        with pytest.raises(ReadOnlyError):
            read_only_collection.create(item)
        with pytest.raises(ReadOnlyError):
            read_only_collection.put("any", item, if_match="any")
        with pytest.raises(ReadOnlyError):
            read_only_collection.delete("any", if_match="any")
