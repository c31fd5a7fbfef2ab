"""Outlook folders exported as .msg files, bound to real servers through the sync engine:
items go both ways, and Outlook-only properties survive the server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from tests.store._servers import dav_network

from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.backends.carddav import CardDAVBackend
from openprotocols.model import (
    Account,
    Appointment,
    Contact,
    EmailAddress,
    FolderKind,
    PersonName,
)
from openprotocols.network import Network
from openprotocols.outlook import msg, props
from openprotocols.outlook.props import Named, PropType
from openprotocols.outlook.store import MsgFolder
from openprotocols.sync import Engine, MemoryStatus
from openprotocols.testing.servers import RadicaleServer, dav_account

# An Outlook add-in's property: no iCalendar or vCard field knows it.
ADDIN = Named(
    uuid.UUID("11111111-2222-3333-4444-555555555555"), name="CrmLinkId", type=PropType.UNICODE
)


@pytest.fixture
def account(radicale: RadicaleServer) -> Account:
    return dav_account(radicale.url, "alice", "secret")


@pytest.fixture
def network() -> Network:
    return dav_network()


@pytest.fixture
def calendar(account: Account, network: Network) -> Iterator[tuple[CalDAVBackend, str]]:
    with CalDAVBackend(account, network=network) as backend:
        backend.open()
        folder = backend.create_folder(f"outlook-{uuid.uuid4().hex[:8]}", FolderKind.CALENDAR)
        yield backend, folder.id
        backend.delete_folder(folder)


def _sync(outlook: MsgFolder, remote: object, status: MemoryStatus) -> None:
    report = Engine(outlook.collection("."), remote, status).run()  # type: ignore[arg-type]
    assert report.ok, report.errors


def test_an_exported_calendar_syncs_with_caldav(
    tmp_path: Path, calendar: tuple[CalDAVBackend, str]
) -> None:
    """A .msg appointment reaches Radicale with its Outlook-only property as an X- line;
    a server-side edit comes back into the .msg file with that property still there."""
    backend, collection_id = calendar
    remote = backend.collection(collection_id)
    review = Appointment.new(
        "Design review", datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC)
    )
    bag = msg.read_properties(msg.write(review))
    bag[ADDIN] = "crm-4711"
    (tmp_path / "review.msg").write_bytes(msg.write_properties(bag))
    status = MemoryStatus()
    with MsgFolder(tmp_path, kind="calendar") as outlook:
        _sync(outlook, remote, status)
        (ref,) = remote.list()
        on_server = remote.get_one(ref.id)
        assert on_server.raw is not None
        assert b"X-OPENPROTOCOLS-MAPI-NAME" in on_server.raw
        assert b"crm-4711" in on_server.raw
        # another CalDAV client moves the meeting
        moved = attrs.evolve(on_server.item, subject="Design review (moved)", location="Room 7")
        remote.put(ref.id, moved, if_match=ref.version)
        _sync(outlook, remote, status)
    back = msg.read_properties((tmp_path / "review.msg").read_bytes())
    assert back[props.PidTagSubject] == "Design review (moved)"
    assert back[props.PidLidLocation] == "Room 7"
    assert back[ADDIN] == "crm-4711"


def test_an_exported_contacts_folder_syncs_with_carddav(
    tmp_path: Path, account: Account, network: Network
) -> None:
    """Contacts go from .msg files to Radicale and a new server contact comes back as a .msg."""
    with CardDAVBackend(account, network=network) as backend:
        backend.open()
        folder = backend.create_folder(f"outlook-{uuid.uuid4().hex[:8]}", FolderKind.CONTACTS)
        try:
            remote = backend.collection(folder)
            ann = Contact.new(
                "Ann Example",
                name=PersonName(given="Ann", family="Example"),
                emails=[EmailAddress("ann@example.org")],
            )
            (tmp_path / "ann.msg").write_bytes(msg.write(ann))
            status = MemoryStatus()
            with MsgFolder(tmp_path, kind="contacts") as outlook:
                _sync(outlook, remote, status)
                assert [e.item.display_name for e in remote.get(r.id for r in remote.list())] == [
                    "Ann Example"
                ]
                remote.create(Contact.new("Bob Server", emails=[EmailAddress("bob@example.org")]))
                _sync(outlook, remote, status)
            files = sorted(tmp_path.glob("*.msg"))
            assert len(files) == 2
            names = {msg.read(f.read_bytes()).display_name for f in files}
            assert names == {"Ann Example", "Bob Server"}
        finally:
            backend.delete_folder(folder)
