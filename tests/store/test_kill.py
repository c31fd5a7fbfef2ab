"""Crash safety: a sync killed at any moment and run again loses nothing and duplicates
nothing, on either side, and leaves a sound database.

The kill test runs a binding's sync in a subprocess (``_kill_child.py``) against a Radicale
calendar of 300 events, with changes made on both sides beforehand (creates, edits and
deletes, of different items), and SIGKILLs it after a random delay within the measured
duration of such a sync; then a sync in the test process resumes. Every fifth run starts
from an empty store, so a large first sync is killed too. After each resume both sides
hold exactly the expected items (by UID, with the expected titles), the conflict queue
is empty, and ``PRAGMA integrity_check`` says ok. ``OPENPROTOCOLS_KILL_RUNS`` sets the
number of killed runs (default 20).

The deterministic variant crashes the sync (an exception, rolled back like a kill) right
after its N-th remote write, for every N up to the writes of the run: the server has
the write, the store does not know it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import pytest

from openprotocols.backends.caldav import CalDAVBackend, CalDAVCollection
from openprotocols.model import Appointment, FolderKind
from openprotocols.store import Binding, LocalStore
from openprotocols.testing.servers import RadicaleServer, dav_account

from ._servers import CALENDAR, OtherClient, Resource, dav_network, ics

EVENTS = 300
TESTS = Path(__file__).parents[1]  # the child runs as ``python -m store._kill_child`` here
RUNS = int(os.environ.get("OPENPROTOCOLS_KILL_RUNS", "20"))


@attrs.define
class Calendar:
    """A calendar on Radicale, what it should hold, and how to reach it."""

    radicale: RadicaleServer
    href: str
    other: OtherClient
    backend: CalDAVBackend
    truth: dict[str, str]
    """UID → SUMMARY of what both sides hold after a complete sync."""
    seen: dict[str, Resource] = attrs.Factory(dict)
    """The resources the other client saw last."""

    def server(self) -> dict[str, str]:
        """What the server holds (UID → SUMMARY), as the other client sees it."""
        self.seen = self.other.resources(self.href, CALENDAR)
        return {uid: r.title for uid, r in self.seen.items()}


def new_calendar(radicale: RadicaleServer, events: int) -> Iterator[Calendar]:
    backend = CalDAVBackend(dav_account(radicale.url, "alice", "secret"), network=dav_network())
    backend.open()
    folder = backend.create_folder(f"kill-{uuid.uuid4().hex[:8]}", FolderKind.CALENDAR)
    other = OtherClient(radicale.url, "alice", "secret")
    truth = {f"ev-{n}": f"Event {n}" for n in range(events)}
    other.put_calendar(folder.id, (ics(uid, title) for uid, title in truth.items()))
    yield Calendar(radicale, folder.id, other, backend, truth)
    backend.delete_folder(folder)
    backend.close()


@pytest.fixture(scope="module")
def calendar(radicale: RadicaleServer) -> Iterator[Calendar]:
    yield from new_calendar(radicale, EVENTS)


def new_store(path: Path, calendar: Calendar) -> None:
    with LocalStore(path) as store:
        store.create_folder("cal", FolderKind.CALENDAR)
        store.bind("cal", calendar.backend, calendar.href)


def event(title: str) -> Appointment:
    start = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
    return Appointment.new(subject=title, start=start, end=start + dt.timedelta(hours=1))


def change_both_sides(
    calendar: Calendar, binding: Binding, rng: random.Random, tag: str, *, local_edits: bool
) -> None:
    """Creates, edits and deletes on both sides (each item touched once), applied to
    ``calendar.truth`` as well."""
    truth = calendar.truth
    touched = rng.sample(sorted(truth), 12)
    resources = calendar.seen or calendar.other.resources(calendar.href, CALENDAR)
    for n, uid in enumerate(touched[:3]):  # the other client edits three...
        title = f"{tag} remote edit {n}"
        res = resources[uid]
        calendar.other.put(res.href, ics(uid, title), CALENDAR, etag=res.etag)
        truth[uid] = title
    for uid in touched[3:6]:  # ...deletes three...
        calendar.other.delete(resources[uid].href, resources[uid].etag)
        del truth[uid]
    for n in range(3):  # ...and adds three
        uid = f"{tag}-remote-{n}"
        calendar.other.put(f"{calendar.href}{uid}.ics", ics(uid, uid), CALENDAR)
        truth[uid] = uid
    local = binding.local
    for n in range(4):
        item = event(f"{tag} local new {n}")
        local.create(item)
        truth[item.uid] = item.subject
    if not local_edits:  # an empty store: nothing to edit or delete yet
        return
    for n, uid in enumerate(touched[6:9]):
        ref = local.find_uid(uid)
        assert ref is not None
        item = cast(Appointment, local.get_one(ref.id).item)
        title = f"{tag} local edit {n}"
        local.put(ref.id, attrs.evolve(item, subject=title), if_match=ref.version)
        truth[uid] = title
    for uid in touched[9:12]:
        ref = local.find_uid(uid)
        assert ref is not None
        local.delete(ref.id, if_match=ref.version)
        del truth[uid]


def assert_sound(path: Path, calendar: Calendar) -> None:
    """Both sides hold exactly ``truth`` (no UID twice), no conflict is queued, and the
    database passes its integrity check."""
    with LocalStore(path) as store:
        local = store.collection("cal")
        titles: dict[str, str] = {}
        for entry in local.get(ref.id for ref in local.list()):
            item = cast(Appointment, entry.item)
            assert item.uid not in titles, f"{item.uid} is duplicated locally"
            titles[item.uid] = item.subject
        assert store.conflicts() == []
    assert titles == calendar.truth
    assert calendar.server() == calendar.truth  # resources() asserts unique UIDs
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@attrs.define
class Child:
    """The syncing subprocess."""

    proc: subprocess.Popen[str]

    @classmethod
    def start(cls, path: Path, calendar: Calendar) -> Child:
        """Start the child; it connects while the test makes its changes."""
        url = calendar.radicale.url
        command = [sys.executable, "-m", "store._kill_child", str(path), "cal", url, "alice",
                   "secret"]  # fmt: skip
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=TESTS
        )
        return cls(proc)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Leave no child behind (a failed test): kill it if it still runs."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=60)

    def go(self) -> None:
        """Let the child sync (once it is connected)."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready", self.proc.communicate()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> float:
        """Wait for the sync to end; its duration."""
        out, _ = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, out
        return float(out.split()[-1])

    def kill_after(self, delay: float) -> float | None:
        """SIGKILL the child ``delay`` seconds into its sync. ``None`` if it was still
        running then, else the duration of its (complete) sync."""
        time.sleep(delay)
        running = self.proc.poll() is None
        self.proc.send_signal(signal.SIGKILL)
        out, _ = self.proc.communicate(timeout=60)
        if running:
            return None
        assert self.proc.returncode == 0, out
        return float(out.split()[-1])


def test_a_killed_sync_resumes_with_nothing_lost_or_duplicated(
    calendar: Calendar, tmp_path: Path
) -> None:
    seed = os.environ.get("OPENPROTOCOLS_KILL_SEED", str(random.randrange(1 << 32)))
    print(f"OPENPROTOCOLS_KILL_SEED={seed}")  # shown when the test fails: to replay it
    rng = random.Random(seed)
    # The shortest complete sync seen, by "starts from an empty store" (a first sync of
    # 300 events) or not; the first of each kind runs to its end to measure it.
    durations: dict[bool, float] = {}
    killed = mid_sync = 0
    path = tmp_path / "store-0.sqlite"
    run = 0
    while killed < RUNS:
        fresh = run % 5 == 0
        if fresh:
            path = tmp_path / f"store-{run}.sqlite"
            new_store(path, calendar)
        with Child.start(path, calendar) as child:
            with LocalStore(path) as store:
                binding = store.binding("cal", calendar.backend)
                change_both_sides(calendar, binding, rng, f"r{run}", local_edits=not fresh)
            child.go()
            if fresh not in durations:
                durations[fresh] = child.finish()
            else:
                took = child.kill_after(rng.uniform(0, durations[fresh]))
                if took is None:
                    mid_sync += 1
                else:
                    durations[fresh] = min(durations[fresh], took)
                killed += 1
        with LocalStore(path) as store:
            report = store.binding("cal", calendar.backend).sync()
            assert report.ok, report.errors
        assert_sound(path, calendar)
        run += 1
    assert mid_sync >= killed // 2, f"only {mid_sync} of {killed} kills hit a running sync"


class Crash(BaseException):
    """The process dies here (a BaseException: nothing may catch it as an error)."""


@pytest.fixture
def small_calendar(radicale: RadicaleServer) -> Iterator[Calendar]:
    yield from new_calendar(radicale, 20)


def crash_after(monkeypatch: pytest.MonkeyPatch, writes: int) -> Callable[[], int]:
    """Make the ``writes``-th remote write (create, put or delete) crash the process
    after the server did it; return a counter of remote writes."""
    count = 0

    def wrap(name: str) -> None:
        original = getattr(CalDAVCollection, name)

        def write(self: CalDAVCollection, *args: Any, **kwargs: Any) -> Any:
            nonlocal count
            result = original(self, *args, **kwargs)
            count += 1
            if count == writes:
                raise Crash(f"crashed after remote write {count}")
            return result

        monkeypatch.setattr(CalDAVCollection, name, write)

    for name in ("_create", "_put", "_delete"):
        wrap(name)
    return lambda: count


def test_a_crash_after_each_remote_write_resumes_cleanly(
    small_calendar: Calendar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.sqlite"
    new_store(path, small_calendar)
    with LocalStore(path) as store:
        store.binding("cal", small_calendar.backend).sync()
    rng = random.Random(7)
    writes = 1
    while True:
        with LocalStore(path) as store:
            binding = store.binding("cal", small_calendar.backend)
            change_both_sides(small_calendar, binding, rng, f"n{writes}", local_edits=True)
        with monkeypatch.context() as patched:
            counter = crash_after(patched, writes)
            with LocalStore(path) as store, pytest.raises(Crash):
                store.binding("cal", small_calendar.backend).sync()
        assert counter() == writes
        with LocalStore(path) as store:
            report = store.binding("cal", small_calendar.backend).sync()
            assert report.ok, report.errors
        assert_sound(path, small_calendar)
        if writes == 10:  # each run makes 10 remote writes: 4 creates, 3 edits, 3 deletes
            break
        writes += 1
