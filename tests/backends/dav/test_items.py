"""DAV-specific behaviour of items on both servers: bulk, out-of-band changes, conflicts,
expired tokens, the fallback sync methods and byte-identical round trips."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import attrs
import pytest

from openprotocols.backends import base
from openprotocols.backends._dav import SYNC_CTAG, SYNC_ETAG
from openprotocols.backends.base import Listing
from openprotocols.backends.caldav import CalDAVBackend, CalDAVCollection
from openprotocols.backends.carddav import CardDAVBackend, CardDAVCollection
from openprotocols.errors import ConflictError
from openprotocols.model import Appointment, Contact, FolderKind, Task

from .conftest import DavServer


def ics(uid: str, summary: str) -> bytes:
    """An event as another client would write it (our codec never produced these bytes)."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other Client//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20261123T093000Z\r\nDTEND:20261123T103000Z\r\n"
        f"SUMMARY:{summary}\r\nX-OTHER-CLIENT;X-P=1:keep me\r\nLOCATION:Room 1\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def vcf(uid: str, name: str) -> bytes:
    """A contact as another client would write it."""
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\n"
        f"EMAIL;TYPE=WORK:{uid}@example.test\r\nitem1.X-ABLabel:Keep\r\nEND:VCARD\r\n"
    ).encode()


@pytest.fixture
def calendar(caldav_backend: CalDAVBackend) -> Iterator[CalDAVCollection]:
    """A new calendar, deleted afterwards."""
    folder = caldav_backend.create_folder(f"cal-{uuid.uuid4().hex[:8]}", FolderKind.CALENDAR)
    yield caldav_backend.collection(folder)
    caldav_backend.delete_folder(folder)


@pytest.fixture
def addressbook(carddav_backend: CardDAVBackend) -> Iterator[CardDAVCollection]:
    """A new address book, deleted afterwards."""
    folder = carddav_backend.create_folder(f"ab-{uuid.uuid4().hex[:8]}", FolderKind.CONTACTS)
    yield carddav_backend.collection(folder)
    carddav_backend.delete_folder(folder)


def _put(server: DavServer, url: str, data: bytes, content_type: str) -> str:
    with server.session() as session:
        reply = session.put(
            url, data=data, headers={"Content-Type": content_type, "If-None-Match": "*"}
        )
    assert reply.status_code in (201, 204), reply.text
    return str(reply.headers["ETag"])


def test_create_calendar_and_address_book_with_colour(
    caldav_backend: CalDAVBackend, carddav_backend: CardDAVBackend
) -> None:
    """MKCALENDAR and extended MKCOL create collections with name and colour, listed with
    their components and sync method; rename and delete work."""
    name = f"work-{uuid.uuid4().hex[:6]}"
    cal = caldav_backend.create_folder(name, "calendar", display_name="Work", color="#ff8800")
    tasks = caldav_backend.create_folder(name + "-t", "tasks", display_name="To do")
    book = carddav_backend.create_folder(name + "-c", "contacts", display_name="People")
    infos = {i.href: i for i in caldav_backend.collections()}
    assert (cal.display_name, cal.color, cal.kind) == ("Work", "#FF8800", FolderKind.CALENDAR)
    assert infos[cal.id].components == {"VEVENT"}
    assert infos[tasks.id].components == {"VTODO"}
    assert infos[tasks.id].kind is FolderKind.TASKS
    assert infos[cal.id].sync_method == "sync-collection"
    assert not infos[cal.id].read_only
    assert book.display_name == "People"
    assert book.id in {f.id for f in carddav_backend.list_folders()}
    renamed = caldav_backend.rename_folder(cal, "Work (renamed)")
    assert renamed.display_name == "Work (renamed)"
    for backend, folder in (
        (caldav_backend, cal),
        (caldav_backend, tasks),
        (carddav_backend, book),
    ):
        backend.delete_folder(folder)
    assert cal.id not in {f.id for f in caldav_backend.list_folders()}


def test_tasks_folder_convention(caldav_backend: CalDAVBackend) -> None:
    """Tasks go to a VTODO-only calendar; a calendar called "Tasks" taking both counts too;
    with none, one is created on request."""
    for info in caldav_backend.collections():  # the server's defaults may take VTODO
        if "VTODO" in info.components:
            caldav_backend.delete_folder(info.href)
    with pytest.raises(Exception, match="no calendar accepts tasks"):
        caldav_backend.tasks_folder()
    created = caldav_backend.tasks_folder(create=True)
    assert created.kind is FolderKind.TASKS
    assert created.display_name == "Tasks"
    assert caldav_backend.tasks_folder().id == created.id
    task = Task.new("Write the report")
    ref = caldav_backend.collection(created).create(task)
    assert caldav_backend.collection(created).get_one(ref.id).item.uid == task.uid
    caldav_backend.delete_folder(created)


def test_500_events(dav_server: DavServer, calendar: CalDAVCollection) -> None:
    """500 events another client stored are listed in one report and fetched in
    multiget batches of 100."""
    dav_server.bulk_load(
        calendar.href,
        {f"bulk-{n}.ics": ics(f"bulk-{n}", f"Event {n}") for n in range(500)},
        "text/calendar",
    )
    before = calendar.dav.requests
    changes = calendar.changes()
    assert changes.full
    assert len(changes.changed) == 500
    entries = list(calendar.get(r.id for r in changes.changed))
    assert calendar.dav.requests - before == 1 + 5
    assert {e.item.subject for e in entries} == {f"Event {n}" for n in range(500)}
    assert {(e.id, e.version) for e in entries} == {(r.id, r.version) for r in changes.changed}


def test_500_contacts(dav_server: DavServer, addressbook: CardDAVCollection) -> None:
    """500 contacts another client stored are listed and fetched in multiget batches."""
    dav_server.bulk_load(
        addressbook.href,
        {f"bulk-{n}.vcf": vcf(f"bulk-{n}", f"Person {n}") for n in range(500)},
        "text/vcard",
    )
    changes = addressbook.changes()
    assert changes.full
    assert len(changes.changed) == 500
    entries = list(addressbook.get(r.id for r in changes.changed))
    assert {e.item.display_name for e in entries} == {f"Person {n}" for n in range(500)}


def test_out_of_band_changes_are_reported_exactly(
    dav_server: DavServer, calendar: CalDAVCollection
) -> None:
    """Another client changes, adds and deletes; changes(state) reports exactly that."""
    base = dav_server.url.rstrip("/") + calendar.href
    for n in range(4):
        _put(dav_server, f"{base}oob-{n}.ics", ics(f"oob-{n}", f"Event {n}"), "text/calendar")
    before = calendar.changes()
    versions = {r.id: r.version for r in before.changed}
    with dav_server.session() as session:
        changed = session.put(
            f"{base}oob-1.ics",
            data=ics("oob-1", "Changed"),
            headers={
                "Content-Type": "text/calendar",
                "If-Match": versions[f"{calendar.href}oob-1.ics"],
            },
        )
        assert changed.status_code in (200, 201, 204)
        deleted = session.delete(f"{base}oob-2.ics")
        assert deleted.status_code in (200, 204)
    added = _put(dav_server, f"{base}oob-9.ics", ics("oob-9", "New"), "text/calendar")
    after = calendar.changes(before.state)
    assert not after.full
    assert {r.id: r.version for r in after.changed} == {
        f"{calendar.href}oob-1.ics": changed.headers["ETag"],
        f"{calendar.href}oob-9.ics": added,
    }
    assert set(after.deleted) == {f"{calendar.href}oob-2.ics"}
    assert calendar.changes(after.state).changed == ()


def test_out_of_band_contact_changes_with_caldav_free_client(
    dav_server: DavServer, addressbook: CardDAVCollection
) -> None:
    """The same for an address book."""
    base = dav_server.url.rstrip("/") + addressbook.href
    _put(dav_server, f"{base}a.vcf", vcf("a", "Ann"), "text/vcard")
    state = addressbook.changes().state
    added = _put(dav_server, f"{base}b.vcf", vcf("b", "Bob"), "text/vcard")
    after = addressbook.changes(state)
    assert [(r.id, r.version) for r in after.changed] == [(f"{addressbook.href}b.vcf", added)]
    assert after.deleted == ()


def test_stale_etag_gives_conflict_with_current_version(
    dav_server: DavServer, calendar: CalDAVCollection
) -> None:
    """An update against a version another client replaced fails with the current ETag,
    whether the item was read before (cache) or not."""
    url = dav_server.url.rstrip("/") + calendar.href + "stale.ics"
    old = _put(dav_server, url, ics("stale", "One"), "text/calendar")
    entry = calendar.get_one(calendar.href + "stale.ics")
    with dav_server.session() as session:
        reply = session.put(
            url,
            data=ics("stale", "Two"),
            headers={"Content-Type": "text/calendar", "If-Match": old},
        )
    current = reply.headers["ETag"]
    changed = attrs.evolve(entry.item, subject="Mine")
    with pytest.raises(ConflictError) as info:
        calendar.put(entry.id, changed, if_match=old)
    assert info.value.current_version == current
    with pytest.raises(ConflictError) as info:
        calendar.delete(entry.id, if_match=old)
    assert info.value.current_version == current
    assert calendar.get_one(entry.id).item.subject == "Two"


def test_expired_sync_token_recovers_with_full_listing(calendar: CalDAVCollection) -> None:
    """A token the server refuses (valid-sync-token) gives a full listing and a new state."""
    ref = calendar.create(Appointment.new(subject="x", start=_start(), end=_start(1)))
    state = calendar.changes().state
    token = state.removeprefix("sync:")
    expired = "sync:" + token[:-6] + "000000"
    changes = calendar.changes(expired)
    assert changes.full
    assert [(r.id, r.version) for r in changes.changed] == [(ref.id, ref.version)]
    assert calendar.changes(changes.state).changed == ()


@pytest.mark.parametrize("spilled", [False, True], ids=["held", "spilled"])
@pytest.mark.parametrize("method", [SYNC_CTAG, SYNC_ETAG])
def test_fallback_sync_methods(
    calendar: CalDAVCollection, method: str, spilled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without sync-collection: unchanged → empty; changed → full listing of every item
    (``spilled``: read from the PROPFIND answer on disk, as for a large collection)."""
    if spilled:
        monkeypatch.setattr(base, "HELD_REFS", 1)
    calendar.info = attrs.evolve(calendar.info, sync_method=method)
    first = calendar.create(Appointment.new(subject="a", start=_start(), end=_start(1)))
    state = calendar.changes().state
    if method == SYNC_CTAG and not state.removeprefix("ctag:").strip("None"):
        pytest.fail("the server gives no getctag")
    assert calendar.changes(state).changed == ()
    second = calendar.create(Appointment.new(subject="b", start=_start(), end=_start(1)))
    changes = calendar.changes(state)
    assert changes.full
    assert isinstance(changes.changed, Listing) is spilled
    assert {r.id for r in changes.changed} == {first.id, second.id}
    assert calendar.changes(changes.state).changed == ()


def test_events_round_trip_byte_identical(
    dav_server: DavServer, calendar: CalDAVCollection
) -> None:
    """Entry.raw is exactly what a GET gives, and an edit written back changes only the
    edited line of what the server held. (Both servers re-serialise iCalendar on PUT,
    Radicale through vobject and Xandikos through icalendar: they reorder properties, so
    the comparison is with the server's bytes, not with the other client's.)"""
    url = dav_server.url.rstrip("/") + calendar.href + "exact.ics"
    _put(dav_server, url, ics("exact", "Original"), "text/calendar")
    entry = calendar.get_one(calendar.href + "exact.ics")
    with dav_server.session() as session:
        held = session.get(url).content
    assert entry.raw == held
    assert b"X-OTHER-CLIENT;X-P=1:keep me\r\n" in held
    edited = attrs.evolve(entry.item, subject="Edited")
    ref = calendar.put(entry.id, edited, if_match=entry.version)
    stored = calendar.get_one(entry.id)
    assert stored.version == ref.version
    assert stored.raw == held.replace(b"SUMMARY:Original", b"SUMMARY:Edited")


def test_contacts_round_trip_byte_identical_on_xandikos(
    dav_server: DavServer, addressbook: CardDAVCollection
) -> None:
    """Xandikos keeps a card's bytes: they come back unchanged, and an edit changes only
    the FN line. Radicale re-serialises cards through vobject (a documented quirk), so
    there only the content survives."""
    data = vcf("card", "Carol")
    url = dav_server.url.rstrip("/") + addressbook.href + "card.vcf"
    _put(dav_server, url, data, "text/vcard")
    entry = addressbook.get_one(addressbook.href + "card.vcf")
    assert isinstance(entry.item, Contact)
    edited = attrs.evolve(entry.item, display_name="Caroline")
    addressbook.put(entry.id, edited, if_match=entry.version)
    stored = addressbook.get_one(entry.id)
    assert stored.item.display_name == "Caroline"
    if dav_server.name == "xandikos":
        assert entry.raw == data
        assert stored.raw == data.replace(b"FN:Carol", b"FN:Caroline")
    else:
        assert stored.item.emails == entry.item.emails
        assert stored.item.extended.get("X-ABLABEL") or stored.item.extended.get("X-ABLabel")


def _start(hours: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC) + dt.timedelta(hours=hours)
