"""Push: IDLE wakes within 2 s of an APPEND from another connection; NOOP polling where
IDLE is not used; a stop event ends the wait promptly."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from openprotocols.backends.imap import IMAPBackend
from openprotocols.model import Folder

from .conftest import message


def _run_idle(
    backend: IMAPBackend, folder: Folder, **options: Any
) -> tuple[threading.Event, threading.Event, threading.Thread, list[BaseException]]:
    woke = threading.Event()
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            backend.collection(folder).idle(woke.set, stop_event=stop, **options)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return woke, stop, thread, errors


@pytest.mark.parametrize("use_idle", [True, False], ids=["idle", "noop-polling"])
def test_wakes_on_append_from_another_connection(
    backend: IMAPBackend, mailbox: Folder, other_client: Any, use_idle: bool
) -> None:
    """An APPEND by another client wakes the waiter within 2 seconds."""
    woke, stop, thread, errors = _run_idle(backend, mailbox, use_idle=use_idle, poll_interval=0.2)
    try:
        time.sleep(0.5)  # let it select and start waiting
        assert not woke.is_set()
        started = time.monotonic()
        other_client.append(mailbox.id, message("push"))
        assert woke.wait(2.0), "no wake-up within 2 s"
        assert time.monotonic() - started < 2.0
    finally:
        stop.set()
        thread.join(3.0)
    assert not thread.is_alive()
    assert errors == []
    assert len(backend.collection(mailbox).list()) == 1


def test_stop_event_ends_idle_promptly(backend: IMAPBackend, mailbox: Folder) -> None:
    """Setting the stop event ends IDLE within about a second, without a callback."""
    woke, stop, thread, errors = _run_idle(backend, mailbox)
    time.sleep(0.3)
    started = time.monotonic()
    stop.set()
    thread.join(3.0)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2.0
    assert errors == []
    assert not woke.is_set()


def test_idle_is_renewed(make_backend: Any, mailbox: Folder, other_client: Any) -> None:
    """IDLE is ended and re-issued after idle_renewal seconds, and still wakes after."""
    backend = make_backend()
    backend.idle_renewal = 0.3  # an instance attribute shadows the 25-minute default
    woke, stop, thread, errors = _run_idle(backend, mailbox)
    try:
        time.sleep(1.2)  # several renewals
        assert not woke.is_set()
        other_client.append(mailbox.id, message("after renewal"))
        assert woke.wait(2.0)
    finally:
        stop.set()
        thread.join(3.0)
    assert errors == []
