"""Pipelined reads: ``get()`` sends the next batch's ``UID FETCH`` before it reads this
batch's answer, and the connection stays usable by other commands in between, on
Dovecot and pymap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openprotocols.backends._imap import Connection, Pending
from openprotocols.backends.imap import IMAPBackend, IMAPCollection
from openprotocols.errors import ConnectionError
from openprotocols.model import Folder, Message

from .conftest import message

SUBJECTS = [f"m{n}" for n in range(6)]


@pytest.fixture
def six(
    backend: IMAPBackend, mailbox: Folder, other_client: Any
) -> tuple[IMAPCollection, list[str]]:
    """A mailbox of six messages, read two at a time; their ids in UID order."""
    for subject in SUBJECTS:
        other_client.append(mailbox.id, message(subject))
    collection = backend.collection(mailbox)
    collection.batch_size = 2
    refs = collection.changes().changed
    return collection, sorted((r.id for r in refs), key=lambda i: int(i.split(":")[1]))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Pending]:
    """Every pipelined FETCH sent from now on."""
    found: list[Pending] = []
    send = Connection.send_uid_fetch

    def spy(self: Connection, uids: str, items: str) -> Pending:
        found.append(send(self, uids, items))
        return found[-1]

    monkeypatch.setattr(Connection, "send_uid_fetch", spy)
    return found


def subjects(entries: Iterator[Any] | list[Any]) -> list[str]:
    items = [e.item for e in entries]
    assert all(isinstance(item, Message) for item in items)
    return sorted(item.subject for item in items)


def test_the_next_fetch_is_on_its_way_while_a_batch_is_read(
    six: tuple[IMAPCollection, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    collection, ids = six
    calls: list[str] = []
    send, read = Connection.send_uid_fetch, Connection.read_uid_fetch

    def sending(self: Connection, uids: str, items: str) -> Pending:
        calls.append(f"send {uids}")
        return send(self, uids, items)

    def reading(self: Connection, pending: Pending) -> Any:
        calls.append("read")
        return read(self, pending)

    monkeypatch.setattr(Connection, "send_uid_fetch", sending)
    monkeypatch.setattr(Connection, "read_uid_fetch", reading)
    uids = [i.split(":")[1] for i in ids]
    assert subjects(collection.get(ids)) == SUBJECTS
    assert calls == [
        f"send {uids[0]}:{uids[1]}",
        f"send {uids[2]}:{uids[3]}",
        "read",
        f"send {uids[4]}:{uids[5]}",
        "read",
        "read",
    ]


def test_commands_between_two_entries_leave_the_answers_on_their_way(
    six: tuple[IMAPCollection, list[str]], sent: list[Pending]
) -> None:
    """A listing (a new SELECT) and a single read while the next FETCH is on its way:
    its answer is read before they are sent and kept for the batch; they used to take
    it (and drop it as not theirs), losing two messages."""
    collection, ids = six
    got = []
    for entry in collection.get(ids):
        got.append(entry)
        if len(got) == 1:
            assert [p.done for p in sent] == [True, False]
            assert len(collection.changes().changed) == 6
            assert collection.get_one(ids[5]).item.subject == "m5"
    assert subjects(got) == SUBJECTS


def test_an_abandoned_read_leaves_nothing_behind(
    six: tuple[IMAPCollection, list[str]], sent: list[Pending]
) -> None:
    """A caller that stops early: the answer on its way is read by the next command and
    dropped, and the connection goes on as before."""
    collection, ids = six
    reading = collection.get(ids)
    next(reading)
    reading.close()
    assert len(collection.changes().changed) == 6
    assert sent[1].done
    assert not sent[1].received
    assert subjects(collection.get(ids)) == SUBJECTS


def test_a_connection_lost_with_a_fetch_on_its_way_is_a_connection_error(
    backend: IMAPBackend, six: tuple[IMAPCollection, list[str]]
) -> None:
    collection, ids = six
    reading = collection.get(ids)
    next(reading)
    backend._connection().drop()
    with pytest.raises(ConnectionError):
        list(reading)
    assert subjects(collection.get(ids)) == SUBJECTS  # on a new connection
