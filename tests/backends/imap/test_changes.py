"""changes() reports exactly what another client did, on Dovecot (QRESYNC, and CONDSTORE
without QRESYNC) and on pymap (flag comparison), and survives a UIDVALIDITY reset."""

from __future__ import annotations

from typing import Any

import pytest

from openprotocols.backends._imap import Connection
from openprotocols.backends.imap import IMAPBackend, IMAPCollection, fingerprint
from openprotocols.model import Folder, FolderKind
from openprotocols.network import Network
from openprotocols.testing.servers import DovecotServer

from .conftest import dovecot_account, message, unique


def _uids(other: Any, folder: str) -> list[int]:
    other.select_folder(folder)
    return sorted(other.search(["ALL"]))


def _id_of(collection: IMAPCollection, uid: int) -> str:
    validity = collection.changes().state.split(".")[2]
    return f"{validity}:{uid}"


def test_state_names_the_strategy(backend: IMAPBackend, mailbox: Folder, server_name: str) -> None:
    """Dovecot is asked with QRESYNC, pymap by comparing flags."""
    state = backend.collection(mailbox).changes().state
    assert state.split(".")[1] == ("q" if server_name == "dovecot" else "f")


def test_other_clients_changes_are_reported_exactly(
    backend: IMAPBackend, mailbox: Folder, other_client: Any, server_name: str
) -> None:
    """Flag changes, expunges, appends and moves by another client, nothing else."""
    collection = backend.collection(mailbox)
    for n in range(4):
        other_client.append(mailbox.id, message(f"m{n}"))
    first = collection.changes()
    assert first.full
    assert len(first.changed) == 4
    flagged, expunged, moved, untouched = _uids(other_client, mailbox.id)
    target = backend.create_folder(unique(), FolderKind.MAIL)
    try:
        other_client.add_flags([flagged], ["\\Flagged", "$Label1"])
        other_client.delete_messages([expunged])
        other_client.uid_expunge([expunged])
        other_client.move([moved], target.id)
        other_client.append(mailbox.id, message("new"))
        new_uid = max(_uids(other_client, mailbox.id))

        changes = collection.changes(first.state)
        ids = {
            uid: _id_of(collection, uid) for uid in (flagged, expunged, moved, untouched, new_uid)
        }
        assert not changes.full
        assert {ref.id for ref in changes.changed} == {ids[flagged], ids[new_uid]}
        assert set(changes.deleted) == {ids[expunged], ids[moved]}
        before = {ref.id: ref.version for ref in first.changed}
        after = {ref.id: ref.version for ref in changes.changed}
        assert after[ids[flagged]] != before[ids[flagged]]
        entry = collection.get_one(ids[flagged])
        assert entry.item.is_flagged
        if server_name == "dovecot":  # pymap keeps no keywords it does not know
            assert entry.item.keywords == {"$Label1"}

        again = collection.changes(changes.state)
        assert (again.changed, again.deleted, again.full) == ((), (), False)
        moved_in = backend.collection(target).changes()
        assert [
            e.item.subject for e in backend.collection(target).get(r.id for r in moved_in.changed)
        ] == ["m2"]
    finally:
        backend.delete_folder(target)


def test_flag_removal_is_a_change(backend: IMAPBackend, mailbox: Folder, other_client: Any) -> None:
    """Removing a flag changes the version too (and \\Recent never does)."""
    other_client.append(mailbox.id, message("seen"), flags=["\\Seen"])
    collection = backend.collection(mailbox)
    first = collection.changes()
    (uid,) = _uids(other_client, mailbox.id)
    other_client.remove_flags([uid], ["\\Seen"])
    changes = collection.changes(first.state)
    assert [ref.id for ref in changes.changed] == [first.changed[0].id]
    assert not collection.get_one(first.changed[0].id).item.is_seen


def test_condstore_without_qresync(dovecot: DovecotServer, network: Network) -> None:
    """With QRESYNC switched off, CONDSTORE and the UID set in the state find the same
    (Dovecot with QRESYNC hidden from the backend)."""
    with IMAPBackend(dovecot_account(dovecot), network=network) as backend:
        conn = backend._connection()
        conn.capabilities = conn.capabilities - {"QRESYNC"}
        name = unique("condstore")
        backend.create_folder(name, FolderKind.MAIL)
        other = dovecot.imap_client("alice", security="tls")
        try:
            collection = backend.collection(name)
            for n in range(3):
                other.append(name, message(f"c{n}"))
            first = collection.changes()
            assert first.state.split(".")[1] == "c"
            one, two, _ = _uids(other, name)
            other.add_flags([one], ["\\Answered"])
            other.delete_messages([two])
            other.uid_expunge([two])
            other.append(name, message("c3"))
            four = max(_uids(other, name))
            changes = collection.changes(first.state)
            assert [r.id for r in changes.changed] == [_id_of(collection, u) for u in (one, four)]
            assert list(changes.deleted) == [_id_of(collection, two)]
            unchanged = collection.changes(changes.state)
            assert (unchanged.changed, unchanged.deleted) == ((), ())
        finally:
            other.logout()
            backend.delete_folder(name)


def test_uidvalidity_reset_gives_full_listing_with_new_ids(
    backend: IMAPBackend, other_client: Any
) -> None:
    """Deleting and recreating a mailbox (a new UIDVALIDITY): the next changes() is a full
    listing under new ids, without duplicates, and the fingerprints match the old ones."""
    name = unique("reset")
    backend.create_folder(name, FolderKind.MAIL)
    try:
        collection = backend.collection(name)
        sources = [message(f"r{n}") for n in range(3)]
        for source in sources:
            other_client.append(name, source)
        first = collection.changes()
        old_prints = {fingerprint(e.item) for e in collection.get(r.id for r in first.changed)}
        assert old_prints == set(collection.fingerprints(r.id for r in first.changed).values())

        other_client.delete_folder(name)
        other_client.create_folder(name)
        for source in sources:
            other_client.append(name, source)

        changes = collection.changes(first.state)
        assert changes.full
        assert changes.deleted == ()
        new_ids = [ref.id for ref in changes.changed]
        assert len(new_ids) == len(set(new_ids)) == 3
        assert not set(new_ids) & {ref.id for ref in first.changed}
        assert set(collection.fingerprints(new_ids).values()) == old_prints
        assert all(p.message_id for p in old_prints)
        assert list(collection.get(r.id for r in first.changed)) == []  # old ids: gone
    finally:
        backend.delete_folder(name)


def _listing(collection: IMAPCollection, batch: int) -> tuple[list[tuple[str, str]], str]:
    collection.listing_batch = batch
    changes = collection.changes()
    assert changes.full
    return [(ref.id, ref.version) for ref in changes.changed], changes.state


def _qresync_hidden(backend: IMAPBackend) -> None:
    conn = backend._connection()
    conn.capabilities = conn.capabilities - {"QRESYNC"}


def test_a_full_listing_is_read_in_chunks(
    backend: IMAPBackend, mailbox: Folder, other_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full listing reads ``listing_batch`` messages per FETCH, by number, and lists
    and states exactly what one FETCH of all lists: every message once, in UID order;
    the state then finds the next change (QRESYNC on Dovecot, flag digests on pymap)."""
    _check_chunked_listing(backend, mailbox, other_client, monkeypatch)


@pytest.mark.parametrize("server_name", ["dovecot"])
def test_a_full_condstore_listing_is_read_in_chunks(
    backend: IMAPBackend, mailbox: Folder, other_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with CONDSTORE without QRESYNC, whose state holds every UID."""
    _qresync_hidden(backend)
    _check_chunked_listing(backend, mailbox, other_client, monkeypatch)


def _check_chunked_listing(
    backend: IMAPBackend, mailbox: Folder, other_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(7):
        other_client.append(mailbox.id, message(f"m{n}"), flags=["\\Seen"] if n % 2 else [])
    collection = backend.collection(mailbox)
    whole, whole_state = _listing(collection, 1000)
    asked: list[tuple[int, int]] = []
    fetch_numbers = Connection.fetch_numbers

    def spy(self: Connection, first: int, last: int, items: str) -> Any:
        asked.append((first, last))
        return fetch_numbers(self, first, last, items)

    monkeypatch.setattr(Connection, "fetch_numbers", spy)
    chunked, chunked_state = _listing(collection, 3)

    assert asked == [(1, 3), (4, 6), (7, 7)]
    assert chunked == whole
    assert len(whole) == 7
    assert [int(i.split(":")[1]) for i, _ in whole] == _uids(other_client, mailbox.id)
    assert chunked_state == whole_state
    flagged = _uids(other_client, mailbox.id)[4]
    other_client.add_flags([flagged], ["\\Flagged"])
    changes = collection.changes(chunked_state)
    assert not changes.full
    assert [ref.id for ref in changes.changed] == [_id_of(collection, flagged)]


def test_an_expunge_reported_during_a_chunked_listing_reads_the_rest_by_uid(
    backend: IMAPBackend,
    mailbox: Folder,
    other_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should a server report an expunge with a FETCH by number (RFC 3501 forbids it:
    neither Dovecot nor pymap does, so the report is injected into the real answer, the
    one fake here), that chunk's numbers may have moved: it is dropped, and the rest is
    read with ``UID FETCH n:*`` after the last UID read. Nothing is missed or listed
    twice."""
    for n in range(7):
        other_client.append(mailbox.id, message(f"m{n}"))
    collection = backend.collection(mailbox)
    whole, _ = _listing(collection, 1000)
    run = Connection._run
    sent: list[str] = []

    def injecting(self: Connection, what: str, command: bytes, args: Any, **kw: Any) -> Any:
        sent.append(" ".join([what, *(a.decode() for a in args)]))
        answer = run(self, what, command, args, **kw)
        if what == "FETCH" and args[0] == b"4:6":
            self._imap.untagged_responses.setdefault("EXPUNGE", []).append(b"2")
        return answer

    monkeypatch.setattr(Connection, "_run", injecting)
    chunked, _ = _listing(collection, 3)

    assert chunked == whole
    third_uid = int(whole[2][0].split(":")[1])
    fetches = [s.split(" (")[0] for s in sent if "FETCH" in s]
    assert fetches == ["FETCH 1:3", "FETCH 4:6", f"UID FETCH {third_uid + 1}:*"]
