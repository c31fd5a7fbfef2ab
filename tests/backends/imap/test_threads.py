"""Connections and threads: every thread has its own connection, and a thread that ended
leaves it to the next one, on Dovecot and pymap."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from openprotocols.backends._imap import Connection
from openprotocols.backends.imap import IMAPBackend
from openprotocols.model import Folder


@pytest.fixture
def opened(backend: IMAPBackend, monkeypatch: pytest.MonkeyPatch) -> list[Connection]:
    """The connections the backend opens from now on."""
    connections: list[Connection] = []
    new_connection = backend._new_connection

    def counted() -> Connection:
        connections.append(new_connection())
        return connections[-1]

    monkeypatch.setattr(backend, "_new_connection", counted)
    return connections


def _in_threads(workers: int, call: Callable[[], object]) -> list[int]:
    """Run ``call`` in ``workers`` threads at once (each waits for the others, so none
    can take over another's connection) and end them; the threads' identities."""
    barrier = threading.Barrier(workers)

    def one(_: int) -> int:
        barrier.wait(timeout=10)
        call()
        return threading.get_ident()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(workers)))


def test_threads_that_ended_leave_their_connections_to_the_next(
    backend: IMAPBackend, mailbox: Folder, opened: list[Connection]
) -> None:
    """Three pools of two threads, one after the other (as three parallel syncs of an
    account's folders), log in twice, not six times."""
    collection = backend.collection(mailbox)
    for _ in range(3):
        _in_threads(2, collection.changes)
    assert len(opened) == 2
    assert not any(conn.broken for conn in opened)


def test_a_broken_connection_is_not_handed_on(
    backend: IMAPBackend, mailbox: Folder, opened: list[Connection]
) -> None:
    """A thread whose connection broke leaves nothing behind; the next thread logs in."""
    collection = backend.collection(mailbox)

    def break_it() -> None:
        collection.changes()
        backend._connection().drop()

    _in_threads(1, break_it)
    _in_threads(1, collection.changes)
    assert len(opened) == 2
    assert opened[0].broken
    assert not opened[1].broken


def test_closing_the_backend_keeps_nothing_for_later_threads(
    backend: IMAPBackend, mailbox: Folder, opened: list[Connection]
) -> None:
    """After :meth:`IMAPBackend.close`, a thread that ends gives back no closed connection:
    the next one logs in again."""
    collection = backend.collection(mailbox)
    ready, release = threading.Event(), threading.Event()

    def hold_until_closed() -> None:
        collection.changes()
        ready.set()
        release.wait(timeout=10)

    worker = threading.Thread(target=hold_until_closed)
    worker.start()
    assert ready.wait(timeout=10)
    backend.close()
    release.set()
    worker.join()
    _in_threads(1, collection.changes)
    assert len(opened) == 2
    assert opened[1] is not opened[0]
