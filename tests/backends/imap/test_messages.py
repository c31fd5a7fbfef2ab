"""Messages: headers first and bodies on demand, conditional flag writes, content
replacement, delete to Trash, move and mark-all-read."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from openprotocols.backends.imap import IMAPBackend
from openprotocols.errors import ConflictError, InvalidItemError, NotFoundError, ReadOnlyError
from openprotocols.formats import mime
from openprotocols.model import AccountOptions, Folder, FolderKind, Message
from openprotocols.sync import content_hash

from .conftest import message, unique

MULTIPART = (
    b"From: ann@example.test\r\nTo: bob@example.test\r\nSubject: With attachment\r\n"
    b"Message-ID: <multi@example.test>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Gr=C3=BC=C3=9Fe\r\n"
    b'--b1\r\nContent-Type: application/pdf; name="report.pdf"\r\n'
    b'Content-Disposition: attachment; filename="report.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n--b1--\r\n"
)


def test_headers_only_then_body_on_demand(
    backend: IMAPBackend, mailbox: Folder, other_client: Any
) -> None:
    """get() gives headers, size and MIME layout; fetch_body/fetch_part load the rest."""
    other_client.append(mailbox.id, MULTIPART, flags=["\\Seen"])
    collection = backend.collection(mailbox)
    (ref,) = collection.changes().changed
    entry = collection.get_one(ref.id)
    item = entry.item
    assert item.headers_only
    assert entry.raw is None
    assert item.subject == "With attachment"
    assert item.is_seen
    assert item.envelope.message_id == "<multi@example.test>"
    assert item.size == len(MULTIPART)
    assert item.headers is not None
    assert [(p.section, p.content_type) for p in item.parts] == [
        ("1", "text/plain"),
        ("2", "application/pdf"),
    ]
    assert [(p.filename, p.encoding) for p in item.attachments] == [("report.pdf", "base64")]
    parsed = mime.parse(MULTIPART).parts  # the same layout as a whole-message parse
    assert [(p.section, p.content_type, p.filename) for p in parsed] == [
        (p.section, p.content_type, p.filename) for p in item.parts
    ]

    whole = collection.fetch_body(ref.id)
    assert whole.raw == MULTIPART
    assert whole.item.content == MULTIPART
    assert whole.version == entry.version
    assert whole.item.uid == item.uid
    text = collection.fetch_part(ref.id, "1")
    assert text.data is not None
    assert text.data.decode("utf-8").strip() == "Grüße"
    pdf = collection.fetch_part(ref.id, "2")
    assert pdf.data is not None
    assert pdf.data.startswith(b"%PDF-1.4")
    with pytest.raises(NotFoundError):
        collection.fetch_part(ref.id, "7")


def test_download_entire_messages(make_backend: Any, server_name: str, other_client: Any) -> None:
    """With download_entire_messages, get() returns whole messages with raw bytes."""
    backend = make_backend(account={"options": AccountOptions(download_entire_messages=True)})
    folder = backend.create_folder(unique(), FolderKind.MAIL)
    try:
        other_client.append(folder.id, MULTIPART)
        collection = backend.collection(folder)
        (entry,) = collection.get(r.id for r in collection.changes().changed)
        assert entry.raw == MULTIPART
        assert not entry.item.headers_only
        assert entry.item.attachments[0].filename == "report.pdf"
    finally:
        backend.delete_folder(folder)


def test_put_conflicts_with_another_clients_flag_change(
    backend: IMAPBackend, mailbox: Folder, other_client: Any
) -> None:
    """A flag write based on an old version fails and writes nothing (UNCHANGEDSINCE on
    Dovecot, compare-then-store on pymap)."""
    collection = backend.collection(mailbox)
    ref = collection.create(Message.new(content=message("conflict"), flags=()))
    other_client.select_folder(mailbox.id)
    other_client.add_flags([int(ref.id.split(":")[1])], ["\\Answered"])
    item = collection.get_one(ref.id).item
    with pytest.raises(ConflictError) as info:
        collection.put(ref.id, item.with_flags("\\Seen"), if_match=ref.version)
    current = collection.get_one(ref.id)
    assert info.value.current_version == current.version
    assert not current.item.is_seen
    assert current.item.is_answered
    updated = collection.put(ref.id, current.item.with_flags("\\Seen"), if_match=current.version)
    assert collection.get_one(ref.id).item.is_seen
    assert updated.version != current.version


def test_put_with_new_content_replaces_the_message(backend: IMAPBackend, mailbox: Folder) -> None:
    """IMAP messages are immutable: new content is a new message (new id), the old one goes."""
    collection = backend.collection(mailbox)
    draft = Message.new(content=message("Draft 1", body="first"))
    ref = collection.create(draft)
    edited = Message.new(content=message("Draft 2", body="second, longer"))
    new = collection.put(ref.id, edited, if_match=ref.version)
    assert new.id != ref.id
    listed = collection.list()
    assert [r.id for r in listed] == [new.id]
    stored = collection.fetch_body(new.id)
    assert stored.raw == edited.content
    assert stored.item.is_draft
    same = collection.put(new.id, stored.item.with_flags("\\Flagged"), if_match=stored.version)
    assert same.id == new.id  # the same content: a flag change only


def test_create_needs_content(backend: IMAPBackend, mailbox: Folder) -> None:
    """A headers-only message cannot be appended."""
    with pytest.raises(InvalidItemError):
        backend.collection(mailbox).create(Message.new(subject="no body"))


def test_delete_to_trash(make_backend: Any, server_name: str) -> None:
    """With delete="trash" a deleted message lands in Trash; deleted there, it is gone.
    pymap's demo Trash is read-only: the delete fails and the message stays."""
    backend = make_backend(delete="trash")
    folder = backend.create_folder(unique(), FolderKind.MAIL)
    marker = unique("trashed")
    try:
        collection = backend.collection(folder)
        ref = collection.create(Message.new(content=message(marker), flags=()))
        if server_name == "pymap":
            with pytest.raises(ReadOnlyError):
                collection.delete(ref.id, if_match=ref.version)
            assert [r.id for r in collection.list()] == [ref.id]
            return
        collection.delete(ref.id, if_match=ref.version)
        assert collection.list() == ()
        trash = backend.collection(backend.folder_for("trash") or "Trash")
        found = [e for e in trash.get(r.id for r in trash.list()) if e.item.subject == marker]
        assert len(found) == 1
        trash.delete(found[0].id, if_match=found[0].version)
        assert found[0].id not in {r.id for r in trash.list()}
    finally:
        backend.delete_folder(folder)


def test_move(backend: IMAPBackend, mailbox: Folder) -> None:
    """move() carries messages to another folder and says their new ids."""
    collection = backend.collection(mailbox)
    refs = [
        collection.create(Message.new(content=message(f"move {n}"), flags=())) for n in range(3)
    ]
    target = backend.create_folder(unique(), FolderKind.MAIL)
    try:
        moved = collection.move([refs[0].id, refs[2].id, "1:999999"], target)
        assert set(moved) == {refs[0].id, refs[2].id}
        assert [r.id for r in collection.list()] == [refs[1].id]
        there = backend.collection(target)
        listed = {r.id for r in there.list()}
        assert set(moved.values()) == listed
        assert sorted(e.item.subject for e in there.get(listed)) == ["move 0", "move 2"]
    finally:
        backend.delete_folder(target)


def test_move_without_move_capability(backend: IMAPBackend, mailbox: Folder) -> None:
    """Without MOVE: COPY, \\Deleted and UID EXPUNGE, and nothing else is expunged."""
    collection = backend.collection(mailbox)
    keep = collection.create(Message.new(content=message("keep"), flags=("\\Deleted",)))
    move = collection.create(Message.new(content=message("move"), flags=()))
    conn = backend._connection()
    conn.capabilities = conn.capabilities - {"MOVE"}
    target = backend.create_folder(unique(), FolderKind.MAIL)
    try:
        collection.move([move.id], target)
        assert [r.id for r in collection.list()] == [keep.id]  # still there, still \Deleted
        assert [
            e.item.subject
            for e in backend.collection(target).get(r.id for r in backend.collection(target).list())
        ] == ["move"]
    finally:
        backend.delete_folder(target)


def test_mark_all_read(backend: IMAPBackend, mailbox: Folder, other_client: Any) -> None:
    """mark_all_read() sets \\Seen on every unread message in a few STOREs."""
    for n in range(5):
        other_client.append(mailbox.id, message(f"unread {n}"), flags=["\\Seen"] if n == 0 else [])
    collection = backend.collection(mailbox)
    state = collection.changes().state
    assert collection.mark_all_read() == 4
    changes = collection.changes(state)
    assert len(changes.changed) == 4
    assert all(e.item.is_seen for e in collection.get(r.id for r in collection.list()))
    assert collection.mark_all_read() == 0


def test_append_without_uidplus_finds_the_new_uid(backend: IMAPBackend, mailbox: Folder) -> None:
    """Without UIDPLUS (no APPENDUID): the new message's UID is found by its Message-ID."""
    collection = backend.collection(mailbox)
    collection.create(Message.new(content=message("first"), flags=()))
    conn = backend._connection()
    conn.capabilities = conn.capabilities - {"UIDPLUS"}
    ref = collection.create(Message.new(content=message("second"), flags=()))
    assert collection.get_one(ref.id).item.envelope.subject == "second"
    assert len(collection.list()) == 2


def test_the_same_message_fetched_twice_hashes_the_same(
    backend: IMAPBackend, mailbox: Folder, other_client: Any
) -> None:
    """INTERNALDATE's time zone is a plain ``datetime.timezone``: imapclient's own
    ``FixedOffset`` prints its memory address, which made every fetch of a message hash
    differently (a moved version was never "the same content")."""
    other_client.append(mailbox.id, message("Twice"), flags=["\\Seen"])
    collection = backend.collection(mailbox.id)
    (ref,) = collection.list()
    first, second = collection.get_one(ref.id), collection.get_one(ref.id)
    assert first.item.internal_date is not None
    assert type(first.item.internal_date.tzinfo) is dt.timezone
    assert content_hash(first.item) == content_hash(second.item)


@pytest.mark.parametrize("whole", [False, True], ids=["headers", "whole"])
def test_get_returns_only_the_messages_asked_for(
    make_backend: Any, server_name: str, other_client: Any, whole: bool
) -> None:
    """Another client's flag change on messages outside the batch comes back with the
    batch's UID FETCH (Dovecot sends it, with the UID under QRESYNC): it is not an entry
    (it was one, without content, before)."""
    options = AccountOptions(download_entire_messages=whole)
    backend = make_backend(account={"options": options})
    folder = backend.create_folder(unique(), FolderKind.MAIL)
    try:
        for n in range(6):
            other_client.append(folder.id, message(f"m{n}"))
        collection = backend.collection(folder)
        refs = collection.changes().changed
        ids = sorted((r.id for r in refs), key=lambda i: int(i.split(":")[1]))
        assert len(list(collection.get(ids[:3]))) == 3  # the folder is now selected
        other_client.select_folder(folder.id)
        other_client.add_flags([int(i.split(":")[1]) for i in ids[3:]], ["\\Flagged"])
        entries = list(collection.get(ids[:3]))
        assert sorted(e.id for e in entries) == sorted(ids[:3])
        assert all(e.item.subject for e in entries)
    finally:
        backend.delete_folder(folder)
