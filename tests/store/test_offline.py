"""Offline: a binding whose server went away keeps its local changes, reports itself
offline and writes nothing; when the server is back, the next sync replays the changes
with conditional writes, and what conflicts on replay goes through the policy.

The server is a Radicale of this test alone, stopped and started again on the same port
and the same storage directory, so the very same backend object (and its HTTP session)
lives through the outage, as an application's would.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import attrs
import pytest

from openprotocols.backends._dav import DavClient
from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.model import Appointment, FolderKind
from openprotocols.model.bindings import ConflictPolicy
from openprotocols.store import Binding, LocalStore
from openprotocols.sync import Side
from openprotocols.testing.servers import RadicaleServer, dav_account

from ._servers import CALENDAR, OtherClient, dav_network, ics

USERS = {"alice": "secret"}


class RestartableRadicale(RadicaleServer):
    """Radicale whose storage lives in ``storage`` (kept across stop and start) and which
    listens on the same port when started again."""

    def __init__(self, storage: Path) -> None:
        super().__init__(users=USERS, extra_args=["--storage-filesystem-folder", str(storage)])
        self._fixed_port: int | None = None

    def _prepare(self, workdir: Path) -> list[str]:
        command = super()._prepare(workdir)  # chooses a free port, unless we have one
        if self._fixed_port is None:
            self._fixed_port = self._port
            return command
        self._port = self._fixed_port
        return [*command, "--server-hosts", f"{self.host}:{self._port}"]


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[RestartableRadicale]:
    """A Radicale of this test (shadows the session's: this one is stopped)."""
    server = RestartableRadicale(tmp_path / "collections")
    with server:
        yield server


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, str]]]:
    """Every PUT and DELETE the DAV backends send, with its headers."""
    sent: list[tuple[str, dict[str, str]]] = []
    original = DavClient.request

    def request(self: DavClient, method: str, url: str, **options: Any) -> Any:
        headers: Mapping[str, str] = options.get("headers") or {}
        if method in ("PUT", "DELETE"):
            sent.append((method, dict(headers)))
        return original(self, method, url, **options)

    monkeypatch.setattr(DavClient, "request", request)
    return sent


def summaries(binding: Binding) -> dict[str, str]:
    local = binding.local
    events = (cast(Appointment, e.item) for e in local.get(ref.id for ref in local.list()))
    return {event.uid: event.subject for event in events}


def edit(binding: Binding, uid: str, subject: str) -> None:
    ref = binding.local.find_uid(uid)
    assert ref is not None
    item = cast(Appointment, binding.local.get_one(ref.id).item)
    binding.local.put(ref.id, attrs.evolve(item, subject=subject), if_match=ref.version)


@pytest.mark.parametrize("policy", [ConflictPolicy.KEEP_BOTH, ConflictPolicy.LOCAL_WINS])
def test_offline_changes_are_replayed_when_the_server_is_back(
    radicale: RestartableRadicale,
    tmp_path: Path,
    writes: list[tuple[str, dict[str, str]]],
    policy: ConflictPolicy,
) -> None:
    other = OtherClient(radicale.url, "alice", "secret")
    with (
        CalDAVBackend(
            dav_account(radicale.url, "alice", "secret"), network=dav_network()
        ) as backend,
        LocalStore(tmp_path / "store.sqlite") as store,
    ):
        backend.open()
        href = backend.create_folder(f"cal-{uuid.uuid4().hex[:6]}", FolderKind.CALENDAR).id
        for n in range(5):
            other.put(f"{href}e{n}.ics", ics(f"e{n}", f"Event {n}"), CALENDAR)
        store.create_folder("cal", FolderKind.CALENDAR)
        binding = store.bind("cal", backend, href, policy=policy)
        assert binding.sync().created[Side.LOCAL] == 5
        before = other.resources(href, CALENDAR)

        radicale.stop()
        start = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
        binding.local.create(Appointment.new(uid="new", subject="Written offline", start=start,
                                             end=start + dt.timedelta(hours=1)))  # fmt: skip
        edit(binding, "e0", "Edited offline")
        edit(binding, "e2", "Mine offline")
        ref = binding.local.find_uid("e1")
        assert ref is not None
        binding.local.delete(ref.id, if_match=ref.version)
        del writes[:]
        for _ in range(2):  # offline, and again: nothing is lost by trying
            report = binding.sync()
            assert report.offline
            assert not report.ok
            assert (report.writes, len(report.plan)) == (0, 0)
        assert writes == []

        radicale.start()  # the same port and storage: the backend reconnects by itself
        after = other.resources(href, CALENDAR)
        assert {u: r.etag for u, r in after.items()} == {u: r.etag for u, r in before.items()}
        other.put(after["e2"].href, ics("e2", "Theirs meanwhile"), CALENDAR, etag=after["e2"].etag)
        other.put(after["e3"].href, ics("e3", "Edited there"), CALENDAR, etag=after["e3"].etag)

        report = binding.sync()
        assert report.ok, report.errors
        assert report.conflicts == 1
        assert report.created[Side.REMOTE] == 1
        assert report.deleted[Side.REMOTE] == 1
        # Every write of the replay was conditional.
        assert writes
        for method, headers in writes:
            assert "If-Match" in headers or "If-None-Match" in headers, (method, headers)

        on_server = {u: r.title for u, r in other.resources(href, CALENDAR).items()}
        assert on_server == summaries(binding)
        assert on_server["new"] == "Written offline"
        assert on_server["e0"] == "Edited offline"
        assert on_server["e3"] == "Edited there"
        assert "e1" not in on_server

        if policy is ConflictPolicy.KEEP_BOTH:  # the server's version stays, mine is queued
            assert on_server["e2"] == "Theirs meanwhile"
            (conflict,) = store.conflicts("cal")
            assert (conflict.uid, cast(Appointment, conflict.item).subject) == (
                "e2",
                "Mine offline",
            )
        else:  # mine goes to the server, theirs to the history
            assert on_server["e2"] == "Mine offline"
            assert store.conflicts() == []
            kept = [h for h in store.history("cal") if h.side == "remote"]
            assert [(h.uid, cast(Appointment, h.item).subject) for h in kept] == [
                ("e2", "Theirs meanwhile")
            ]

        for _ in range(2):
            quiet = binding.sync()
            assert (quiet.ok, quiet.writes) == (True, 0)
