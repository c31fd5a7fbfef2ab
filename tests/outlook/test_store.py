"""A folder of .msg files as a collection provider: the collection contract, and sync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openprotocols.backends.base import Collection
from openprotocols.errors import ConflictError, NotFoundError
from openprotocols.model import FolderKind, Item
from openprotocols.outlook import msg
from openprotocols.outlook.store import MsgFolder, MsgStore
from openprotocols.testing import BackendContractTests

pytest.importorskip("olefile")


class TestMsgFolder(BackendContractTests):
    """MsgFolder passes the collection-protocol contract for every kind."""

    enforces_unique_uids = False  # an Outlook folder may hold two items with one UID

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[MsgFolder]:
        """A provider over an empty directory."""
        with MsgFolder(tmp_path) as provider:
            yield provider

    @pytest.fixture
    def read_only_collection(self, kind: FolderKind) -> Collection[Item]:
        """MsgFolder has no read-only folders (file permissions are not its business)."""
        pytest.skip("a directory of .msg files has no read-only folders")


def test_an_exported_folder_is_recognised_by_its_messages(tmp_path: Path) -> None:
    """A directory Outlook exported (no marker file) takes its kind from its messages."""
    from datetime import UTC, datetime

    from openprotocols.model import Appointment

    item = Appointment.new(
        "Review", datetime(2026, 5, 1, 9, tzinfo=UTC), datetime(2026, 5, 1, 10, tzinfo=UTC)
    )
    (tmp_path / "one.msg").write_bytes(msg.write(item))
    with MsgFolder(tmp_path) as provider:
        (folder,) = provider.list_folders()
        assert folder.kind is FolderKind.CALENDAR
        (entry,) = provider.collection(folder).get(["one"])
        assert entry.item == item


def test_a_write_over_a_changed_file_is_refused(tmp_path: Path) -> None:
    """Conditional writes compare the bytes on disk: another writer's change is not lost."""
    from openprotocols.formats import mime
    from openprotocols.model import Address

    message = mime.build(
        from_=Address("ann@example.org"), to=[Address("bob@example.org")], subject="One", text="x"
    )
    with MsgFolder(tmp_path, kind="mail") as provider:
        collection = provider.collection(".")
        ref = collection.create(message)
        changed = mime.build(from_=Address("ann@example.org"), subject="Two", text="y")
        (tmp_path / f"{ref.id}.msg").write_bytes(msg.write(changed))  # Outlook edits it
        with pytest.raises(ConflictError) as caught:
            collection.put(ref.id, message, if_match=ref.version)
        assert caught.value.current_version != ref.version
        assert collection.get_one(ref.id).item.subject == "Two"


def test_entry_ids_cannot_leave_the_folder(tmp_path: Path) -> None:
    """An id with a path in it names no message (no file outside the folder is read)."""
    (tmp_path / "secret.msg").write_bytes(b"x")
    inner = tmp_path / "inner"
    inner.mkdir()
    store = MsgStore(tmp_path)
    with pytest.raises(NotFoundError):
        store.folder("inner").get("../secret")
    with pytest.raises(NotFoundError):
        store.folder("../..")
