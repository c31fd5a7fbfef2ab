"""Folders: roles, modified UTF-7 names, hierarchy, subscriptions, and noticing folders
that another client added or removed."""

from __future__ import annotations

from typing import Any

import pytest

from openprotocols.backends.imap import IMAPBackend
from openprotocols.errors import AlreadyExistsError, CapabilityError, NotFoundError
from openprotocols.model import FolderKind, FolderRole

from .conftest import unique


def test_roles(backend: IMAPBackend, server_name: str) -> None:
    """Dovecot names every role by SPECIAL-USE; pymap's Sent and Trash go by name."""
    roles = {folder.role: folder.id for folder in backend.list_folders()}
    assert roles[FolderRole.INBOX] == "INBOX"
    expected = {FolderRole.SENT: "Sent", FolderRole.TRASH: "Trash"}
    if server_name == "dovecot":
        expected |= {
            FolderRole.DRAFTS: "Drafts",
            FolderRole.JUNK: "Junk",
            FolderRole.ARCHIVE: "Archive",
        }
    for role, name in expected.items():
        assert roles[role] == name
    assert backend.folder_for("trash") is not None


def test_special_use_beats_names(backend: IMAPBackend, server_name: str) -> None:
    """A folder merely called "Sent Items" does not take the role from the \\Sent folder;
    where no folder has the attribute (pymap), the name decides."""
    name = "Deleted Items"
    backend.create_folder(name, FolderKind.MAIL)
    try:
        trash = backend.folder_for(FolderRole.TRASH)
        assert trash is not None
        assert trash.id == "Trash"
    finally:
        backend.delete_folder(name)


def test_non_ascii_names_round_trip(backend: IMAPBackend, other_client: Any) -> None:
    """A folder name is sent in modified UTF-7; display_name is the decoded name."""
    name = f"Entwürfe & Ärger {unique()}"
    folder = backend.create_folder(name, FolderKind.MAIL)
    try:
        assert folder.display_name == name
        assert folder.id.isascii()
        assert "&APw-" in folder.id
        assert "&-" in folder.id
        listed = {f.id: f for f in backend.list_folders()}
        assert listed[folder.id].display_name == name
        other_names = [entry[2] for entry in other_client.list_folders()]
        assert name in other_names  # imapclient decodes modified UTF-7 itself
        renamed = backend.rename_folder(folder, f"Überblick {unique()}")
        assert renamed.display_name.startswith("Überblick")
        assert backend.collection(renamed.id).changes().changed == ()
        folder = renamed
    finally:
        backend.delete_folder(folder)


def test_hierarchy_create_rename_delete(backend: IMAPBackend) -> None:
    """Children carry their parent; renaming a parent moves them; deleting removes all."""
    top = backend.create_folder(unique("top"), FolderKind.MAIL)
    child = backend.create_folder("child", FolderKind.MAIL, parent=top.id)
    delimiter = child.id[len(top.id)]
    assert child.parent == top.id
    assert child.id == f"{top.id}{delimiter}child"
    ids = [f.id for f in backend.list_folders()]
    assert ids.index(top.id) < ids.index(child.id)
    renamed = backend.rename_folder(top, unique("moved"))
    listed = {f.id: f for f in backend.list_folders()}
    assert f"{renamed.id}{delimiter}child" in listed
    assert top.id not in listed
    with pytest.raises(AlreadyExistsError):
        backend.create_folder("child", FolderKind.MAIL, parent=renamed.id)
    backend.delete_folder(renamed)
    assert not [i for i in (f.id for f in backend.list_folders()) if i.startswith(renamed.id)]
    with pytest.raises(NotFoundError):
        backend.delete_folder(renamed)
    with pytest.raises(NotFoundError):
        backend.rename_folder(renamed, "again")


def test_display_name_must_be_the_name(backend: IMAPBackend) -> None:
    """IMAP has no separate display name: a different one is refused before sending."""
    with pytest.raises(CapabilityError):
        backend.create_folder(unique(), FolderKind.MAIL, display_name="Something else")
    with pytest.raises(CapabilityError):
        backend.create_folder(unique(), FolderKind.CALENDAR)


def test_refresh_reports_added_and_removed(backend: IMAPBackend, other_client: Any) -> None:
    """Folders another client creates or deletes show up in refresh_folders()."""
    backend.refresh_folders()
    gone = unique("gone")
    backend.create_folder(gone, FolderKind.MAIL)
    backend.refresh_folders()
    new = unique("new")
    other_client.create_folder(new)
    other_client.delete_folder(gone)
    try:
        changes = backend.refresh_folders()
        assert [f.id for f in changes.added] == [new]
        assert [f.id for f in changes.removed] == [gone]
        assert new in {f.id for f in changes.folders}
        assert backend.refresh_folders().added == ()
    finally:
        other_client.delete_folder(new)


def test_subscribe(backend: IMAPBackend, other_client: Any) -> None:
    """New folders are subscribed; unsubscribe and subscribe work."""
    folder = backend.create_folder(unique(), FolderKind.MAIL)
    try:
        subscribed = lambda: {entry[2] for entry in other_client.list_sub_folders()}  # noqa: E731
        assert folder.id in subscribed()
        backend.subscribe_folder(folder, subscribed=False)
        assert folder.id not in subscribed()
        backend.subscribe_folder(folder.id)
        assert folder.id in subscribed()
    finally:
        backend.delete_folder(folder)


def test_namespaces(backend: IMAPBackend, server_name: str) -> None:
    """The personal namespace: Dovecot says so; pymap has no NAMESPACE (prefix "")."""
    (personal, *_) = backend.namespaces()
    assert personal.prefix == ""
    if server_name == "dovecot":
        assert personal.delimiter == "/"


def test_unknown_folder(backend: IMAPBackend) -> None:
    """A collection of a folder that does not exist is NotFoundError, as is its use."""
    with pytest.raises(NotFoundError):
        backend.collection(unique("missing"))
    folder = backend.create_folder(unique(), FolderKind.MAIL)
    collection = backend.collection(folder)
    backend.delete_folder(folder)
    with pytest.raises(NotFoundError):
        collection.changes()
