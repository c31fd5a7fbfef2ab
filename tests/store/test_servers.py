"""The store's scenarios end to end: a store folder bound to a calendar and an address
book on Radicale and Xandikos, and to a Dovecot mailbox.

Each test walks one binding through its life: the first sync down of 50 items another
client put on the server; local creates, edits and deletes reaching the server (checked
by that other client, with plain requests); the other client's changes reaching the
store; a conflict under *keep both* (the server's version in place, the local one in
the conflict queue); a server-side reset (an expired sync token; for IMAP a mailbox
deleted and recreated, so a new UIDVALIDITY) re-associated without duplicates or
deletions; and quiet syncs that write nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import pytest

from openprotocols.backends import _dav, base
from openprotocols.backends._dav import DavBackend
from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.backends.carddav import CardDAVBackend
from openprotocols.backends.imap import IMAPBackend, IMAPCollection
from openprotocols.formats import mime
from openprotocols.model import Account, AccountOptions, Endpoint, FolderKind, Message
from openprotocols.network import Network
from openprotocols.store import Binding, LocalStore
from openprotocols.sync import Side, SyncReport, content_hash
from openprotocols.testing.servers import (
    DovecotServer,
    RadicaleServer,
    TestCA,
    XandikosServer,
    dav_account,
)

from ._servers import CALENDAR, VCARD, OtherClient, dav_network, field, ics, vcf

ITEMS = 50


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    with LocalStore(tmp_path / "store.sqlite") as local:
        yield local


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def titles(binding: Binding) -> dict[str, str]:
    """The local folder's items: UID (Message-ID for mail) → title, asserting no UID
    appears twice."""
    local = binding.local
    found: dict[str, str] = {}
    for entry in local.get(ref.id for ref in local.list()):
        item: Any = entry.item
        if isinstance(item, Message):
            key, title = str(item.envelope.message_id), _mail_title(item)
        else:
            key, title = str(item.uid), _title(item)
        assert key not in found, f"{key} is duplicated locally"
        found[key] = title
    return found


def assert_quiet(binding: Binding) -> None:
    """Two more syncs find nothing to do and write nothing."""
    for _ in range(2):
        report = binding.sync()
        assert report.ok, report.errors
        assert (report.writes, report.conflicts) == (0, 0)


def synced(binding: Binding) -> SyncReport:
    report = binding.sync()
    assert report.ok, report.errors
    return report


def counts(report: SyncReport, side: Side) -> tuple[int, int, int]:
    return report.created[side], report.updated[side], report.deleted[side]


# -- DAV ----------------------------------------------------------------------------------


@attrs.frozen
class Dav:
    """A DAV server of the test bed: how to connect, and another client on it."""

    name: str
    account: Account
    other: OtherClient


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> Dav:
    if request.param == "radicale":
        radicale: RadicaleServer = request.getfixturevalue("radicale")
        user, password = "alice", "secret"
        url = radicale.url
    else:
        xandikos: XandikosServer = request.getfixturevalue("xandikos")
        user, password, url = None, None, xandikos.url
    return Dav(request.param, dav_account(url, user, password), OtherClient(url, user, password))


DAV_KINDS = {
    FolderKind.CALENDAR: (CalDAVBackend, CALENDAR, ics),
    FolderKind.CONTACTS: (CardDAVBackend, VCARD, vcf),
}


def retitled(item: Any, title: str) -> Any:
    name = "subject" if hasattr(item, "subject") else "display_name"
    return attrs.evolve(item, **{name: title})


def edit_locally(binding: Binding, uid: str, title: str) -> None:
    local = binding.local
    ref = local.find_uid(uid)
    assert ref is not None
    item = local.get_one(ref.id).item
    local.put(ref.id, retitled(item, title), if_match=ref.version)


def delete_locally(binding: Binding, uid: str) -> None:
    ref = binding.local.find_uid(uid)
    assert ref is not None
    binding.local.delete(ref.id, if_match=ref.version)


@pytest.mark.parametrize("kind", list(DAV_KINDS), ids=str)
def test_dav_binding_end_to_end(
    dav: Dav, kind: FolderKind, store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Full listings (the first sync, the reset) come as a Listing read from a temporary
    # file, as a large collection's would; the small incremental ones as tuples.
    monkeypatch.setattr(base, "HELD_REFS", ITEMS // 5)  # the store's full listing too
    monkeypatch.setattr(_dav, "SPILL", 1024)
    backend_class, content_type, make = DAV_KINDS[kind]
    backend: DavBackend = backend_class(dav.account, network=dav_network())
    with backend:
        backend.open()
        folder = backend.create_folder(unique("bind"), kind)
        try:
            _dav_scenario(dav.other, backend, folder.id, kind, content_type, make, store)
        finally:
            backend.delete_folder(folder)


def _dav_scenario(
    other: OtherClient,
    backend: DavBackend,
    href: str,
    kind: FolderKind,
    content_type: str,
    make: Any,
    store: LocalStore,
) -> None:
    def server() -> dict[str, str]:
        return {uid: r.title for uid, r in other.resources(href, content_type).items()}

    suffix = ".ics" if content_type == CALENDAR else ".vcf"
    for n in range(ITEMS):
        other.put(f"{href}item-{n}{suffix}", make(f"item-{n}", f"Item {n}"), content_type)

    # The first sync downloads everything, and then there is nothing to do.
    store.create_folder("bound", kind)
    binding = store.bind("bound", backend, href)
    report = synced(binding)
    assert counts(report, Side.LOCAL) == (ITEMS, 0, 0)
    assert counts(report, Side.REMOTE) == (0, 0, 0)
    assert titles(binding) == server() == {f"item-{n}": f"Item {n}" for n in range(ITEMS)}
    assert_quiet(binding)

    # Local creates, edits and deletes reach the server.
    created = [backend_item(kind, f"Local {n}") for n in range(2)]
    for item in created:
        binding.local.create(item)
    edit_locally(binding, "item-0", "Edited locally 0")
    edit_locally(binding, "item-1", "Edited locally 1")
    delete_locally(binding, "item-2")
    delete_locally(binding, "item-3")
    report = synced(binding)
    assert counts(report, Side.REMOTE) == (2, 2, 2)
    assert counts(report, Side.LOCAL) == (0, 0, 0)
    on_server = other.resources(href, content_type)
    assert {uid: r.title for uid, r in on_server.items()} == titles(binding)
    assert on_server["item-0"].title == "Edited locally 0"
    assert "item-2" not in on_server
    assert {item.uid for item in created} <= on_server.keys()
    # What the model has no field for survived the local edit (a minimal diff).
    assert field(on_server["item-0"].data, "X-OTHER-CLIENT") == "keep me"
    assert_quiet(binding)

    # The other client's changes reach the store.
    other.put(f"{href}item-4{suffix}", make("item-4", "Edited there"), content_type,
              etag=on_server["item-4"].etag)  # fmt: skip
    other.delete(on_server["item-5"].href, on_server["item-5"].etag)
    other.put(f"{href}new-0{suffix}", make("new-0", "New there"), content_type)
    report = synced(binding)
    assert counts(report, Side.LOCAL) == (1, 1, 1)
    assert counts(report, Side.REMOTE) == (0, 0, 0)
    local = titles(binding)
    assert local == server()
    assert (local["item-4"], local["new-0"]) == ("Edited there", "New there")
    assert "item-5" not in local
    assert_quiet(binding)

    # Both sides edit one item: keep both puts the server's version in place and queues
    # the local one.
    edit_locally(binding, "item-6", "Mine")
    now = other.resources(href, content_type)["item-6"]
    other.put(now.href, make("item-6", "Theirs"), content_type, etag=now.etag)
    report = synced(binding)
    assert report.conflicts == 1
    assert titles(binding)["item-6"] == server()["item-6"] == "Theirs"
    (conflict,) = store.conflicts("bound")
    assert (conflict.side, conflict.uid) == ("local", "item-6")
    assert _title(conflict.item) == "Mine"
    assert_quiet(binding)

    # An expired sync token: a full listing, re-associated with the pairs; one change
    # made meanwhile arrives, nothing is duplicated or deleted.
    now = other.resources(href, content_type)["item-7"]
    other.put(now.href, make("item-7", "While expired"), content_type, etag=now.etag)
    expire_remote_state(store, "bound")
    report = synced(binding)
    assert Side.REMOTE in report.plan.full
    assert counts(report, Side.LOCAL) == (0, 1, 0)
    assert counts(report, Side.REMOTE) == (0, 0, 0)
    local = titles(binding)
    assert local == server()
    assert len(local) == ITEMS + 2 - 2 + 1 - 1
    assert local["item-7"] == "While expired"
    assert_quiet(binding)


def backend_item(kind: FolderKind, title: str) -> Any:
    from openprotocols.model import Appointment, Contact

    if kind is FolderKind.CONTACTS:
        return Contact.new(title)
    start = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
    return Appointment.new(subject=title, start=start, end=start + dt.timedelta(hours=1))


def _title(item: Any) -> str:
    return str(item.subject if hasattr(item, "subject") else item.display_name)


def expire_remote_state(store: LocalStore, folder: str) -> None:
    """Make the binding's remote state a sync token the server no longer knows."""
    with store.db.write() as db:
        (state,) = db.execute(
            "SELECT remote_state FROM bindings WHERE local_folder = ?", (folder,)
        ).fetchone()
        assert state.startswith("sync:"), state
        db.execute(
            "UPDATE bindings SET remote_state = ? WHERE local_folder = ?",
            (state[:-6] + "000000", folder),
        )


def _mail_title(message: Message) -> str:
    return f"{message.subject}|{','.join(sorted(message.all_flags))}"


# -- IMAP ---------------------------------------------------------------------------------

WHEN = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)


def mail(subject: str, message_id: str) -> bytes:
    """A small RFC 5322 message."""
    return (
        f"From: ann@example.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: Mon, 23 Nov 2026 09:30:00 +0000\r\n\r\n"
        f"Body of {subject}\r\n"
    ).encode()


def mid(name: str) -> str:
    return f"<{name}@example.test>"


@attrs.define
class OtherImap:
    """Another IMAP client on the mailbox (imapclient, as any mail program)."""

    client: Any
    mailbox: str

    def messages(self) -> dict[str, str]:
        """Message-ID → "subject|flags" of every message, asserting no duplicates."""
        self.client.select_folder(self.mailbox)
        fetched = self.client.fetch(self.client.search("ALL"), ["ENVELOPE", "FLAGS"])
        found: dict[str, str] = {}
        for data in fetched.values():
            envelope = data[b"ENVELOPE"]
            key = envelope.message_id.decode()
            flags = sorted(f.decode() for f in data[b"FLAGS"] if f != b"\\Recent")
            assert key not in found, f"{key} is duplicated on the server"
            found[key] = f"{envelope.subject.decode()}|{','.join(flags)}"
        return found

    def uid_of(self, message_id: str) -> int:
        self.client.select_folder(self.mailbox)
        (uid,) = self.client.search(["HEADER", "Message-ID", message_id])
        return int(uid)

    def append(self, subject: str, message_id: str, flags: tuple[bytes, ...] = ()) -> None:
        self.client.append(self.mailbox, mail(subject, message_id), flags, WHEN)

    def add_flags(self, message_id: str, flag: bytes) -> None:
        self.client.add_flags([self.uid_of(message_id)], [flag])

    def expunge(self, message_id: str) -> None:
        uid = self.uid_of(message_id)
        self.client.add_flags([uid], [b"\\Deleted"])
        self.client.uid_expunge([uid])

    def recreate(self) -> None:
        """Delete and recreate the mailbox, then APPEND its messages again: the same
        messages under a new UIDVALIDITY."""
        self.client.select_folder(self.mailbox)
        fetched = self.client.fetch(self.client.search("ALL"), ["BODY.PEEK[]", "FLAGS",
                                                                 "INTERNALDATE"])  # fmt: skip
        self.client.unselect_folder()
        self.client.delete_folder(self.mailbox)
        self.client.create_folder(self.mailbox)
        for data in fetched.values():
            flags = tuple(f for f in data[b"FLAGS"] if f != b"\\Recent")
            self.client.append(self.mailbox, data[b"BODY[]"], flags, data[b"INTERNALDATE"])


def edit_flags(binding: Binding, message_id: str, flag: str) -> None:
    local = binding.local
    ref = local.find_uid(message_id)
    assert ref is not None
    message = cast(Message, local.get_one(ref.id).item)
    local.put(ref.id, message.with_flags(flag), if_match=ref.version)


@pytest.fixture(params=["headers", "whole"])
def imap(
    dovecot: DovecotServer, test_ca: TestCA, request: pytest.FixtureRequest
) -> Iterator[tuple[IMAPBackend, OtherImap]]:
    """The backend downloads headers only (the default) or whole messages."""
    with imap_mailbox(dovecot, test_ca, whole=request.param == "whole") as found:
        yield found


@contextlib.contextmanager
def imap_mailbox(
    dovecot: DovecotServer, test_ca: TestCA, *, whole: bool
) -> Iterator[tuple[IMAPBackend, OtherImap]]:
    """A new mailbox on Dovecot, the backend (whole messages or headers only) and
    another client on it."""
    endpoint = Endpoint(protocol="imap", host="127.0.0.1", port=dovecot.imaps_port,
                        security="ssl", username="alice", password="secret")  # fmt: skip
    options = AccountOptions(download_entire_messages=whole)
    account = Account(email="alice@example.test", endpoints=[endpoint], options=options)
    backend = IMAPBackend(account, network=Network(ca_bundle=test_ca.ca_pem_bytes))
    backend.open()
    name = unique("bind")
    backend.create_folder(name, FolderKind.MAIL)
    client = dovecot.imap_client("alice", security="tls")
    try:
        yield backend, OtherImap(client, name)
    finally:
        client.logout()
        backend.delete_folder(name)
        backend.close()


def test_imap_binding_end_to_end(
    imap: tuple[IMAPBackend, OtherImap], store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Full listings in chunks, and spilled to a temporary file, as a large mailbox's are.
    monkeypatch.setattr(IMAPCollection, "listing_batch", ITEMS // 3)
    monkeypatch.setattr(base, "HELD_REFS", ITEMS // 5)
    backend, other = imap
    for n in range(ITEMS):
        other.append(f"Mail {n}", mid(f"m{n}"), (b"\\Seen",) if n % 2 else ())

    store.create_folder("inbox", FolderKind.MAIL)
    binding = store.bind("inbox", backend, other.mailbox)
    report = synced(binding)
    assert counts(report, Side.LOCAL) == (ITEMS, 0, 0)
    assert titles(binding) == other.messages()
    assert len(titles(binding)) == ITEMS
    assert_quiet(binding)

    # Local: two new messages, two flagged, two deleted.
    for n in range(2):
        binding.local.create(Message.new(content=mail(f"Local {n}", mid(f"l{n}")), flags=()))
    edit_flags(binding, mid("m0"), "\\Flagged")
    edit_flags(binding, mid("m1"), "$Label1")
    delete_locally(binding, mid("m2"))
    delete_locally(binding, mid("m3"))
    report = synced(binding)
    assert counts(report, Side.REMOTE) == (2, 2, 2)
    assert counts(report, Side.LOCAL) == (0, 0, 0)
    on_server = other.messages()
    assert on_server == titles(binding)
    assert on_server[mid("m0")] == "Mail 0|\\Flagged"
    assert on_server[mid("m1")] == "Mail 1|$Label1,\\Seen"
    assert on_server[mid("l1")] == "Local 1|"
    assert mid("m2") not in on_server
    assert_quiet(binding)

    # The other client's changes.
    other.append("New there", mid("n0"))
    other.add_flags(mid("m4"), b"\\Answered")
    other.expunge(mid("m5"))
    report = synced(binding)
    assert counts(report, Side.LOCAL) == (1, 1, 1)
    assert counts(report, Side.REMOTE) == (0, 0, 0)
    local = titles(binding)
    assert local == other.messages()
    assert local[mid("m4")] == "Mail 4|\\Answered"
    assert_quiet(binding)

    # A conflict: both sides flag one message differently.
    edit_flags(binding, mid("m6"), "\\Seen")
    other.add_flags(mid("m6"), b"\\Flagged")
    report = synced(binding)
    assert report.conflicts == 1
    assert titles(binding)[mid("m6")] == other.messages()[mid("m6")] == "Mail 6|\\Flagged"
    (conflict,) = store.conflicts("inbox")
    assert conflict.side == "local"
    assert cast(Message, conflict.item).all_flags == {"\\Seen"}
    assert_quiet(binding)

    # The mailbox is deleted and recreated with the same messages: a new UIDVALIDITY,
    # new ids, the same items.
    remote = backend.collection(other.mailbox)
    before = {ref.id for ref in remote.list()}
    other.recreate()
    assert before.isdisjoint(ref.id for ref in remote.list())  # every id is new
    report = synced(binding)
    assert report.plan.reassociated == len(before)
    assert counts(report, Side.REMOTE) == (0, 0, 0)
    assert report.deleted[Side.LOCAL] == report.created[Side.LOCAL] == 0
    local = titles(binding)
    assert local == other.messages()
    assert len(local) == ITEMS + 2 - 2 + 1 - 1
    assert_quiet(binding)


def test_imap_the_same_edit_on_both_sides_is_no_conflict(
    imap: tuple[IMAPBackend, OtherImap], store: LocalStore
) -> None:
    """A message read from the server (its parts from BODYSTRUCTURE) and its copy in the
    store (for a whole message, its parts from the store's own parse of the bytes) hash
    the same, so a flag set on both sides between two syncs is one edit, not a
    conflict."""
    backend, other = imap
    other.append("Plain", mid("mp"))
    store.create_folder("inbox", FolderKind.MAIL)
    binding = store.bind("inbox", backend, other.mailbox)
    synced(binding)
    ref = binding.local.find_uid(mid("mp"))
    assert ref is not None
    (remote_ref,) = backend.collection(other.mailbox).list()
    local_entry = binding.local.get_one(ref.id)
    remote_entry = backend.collection(other.mailbox).get_one(remote_ref.id)
    assert content_hash(local_entry.item) == content_hash(remote_entry.item)

    flag_on_both_sides(binding, other, mid("mp"), "Plain")


@pytest.mark.parametrize("imap", ["whole"], indirect=True)
def test_imap_the_same_edit_of_a_message_written_locally_is_no_conflict(
    imap: tuple[IMAPBackend, OtherImap], store: LocalStore
) -> None:
    """A message written in the store has no internal date; the server gives it one when
    the sync appends it. The date is the server's bookkeeping, not the message's, so the
    two copies still hash the same and the same flag set on both sides is one edit.

    Whole messages only: when the backend downloads headers, the server's copy is
    headers-only and the store's whole, they cannot hash alike, and the same edit is a
    conflict that keeps both (``docs/sync.md``)."""
    backend, other = imap
    store.create_folder("inbox", FolderKind.MAIL)
    binding = store.bind("inbox", backend, other.mailbox)
    binding.local.create(mime.parse(mail("Written here", mid("wh"))))  # as an app writes one
    synced(binding)
    assert other.messages() == {mid("wh"): "Written here|"}

    flag_on_both_sides(binding, other, mid("wh"), "Written here")


def flag_on_both_sides(binding: Binding, other: OtherImap, message_id: str, subject: str) -> None:
    """Flag the message here and on the server, sync: one edit, no conflict."""
    edit_flags(binding, message_id, "\\Flagged")
    other.add_flags(message_id, b"\\Flagged")
    report = synced(binding)
    assert report.conflicts == 0
    assert binding.store.conflicts(binding.spec.local_folder) == []
    assert titles(binding) == other.messages() == {message_id: f"{subject}|\\Flagged"}
    assert_quiet(binding)
