"""Directory search, free/busy, the capability report and consent, on both servers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.backends.carddav import CardDAVBackend, CardDAVCollection
from openprotocols.errors import CapabilityError, ConsentRequired, NotFoundError
from openprotocols.model import Account, Contact, Endpoint, FolderKind
from openprotocols.network import Network
from openprotocols.testing.servers import HTTPSServer

from .conftest import DavServer
from .test_items import vcf


@pytest.fixture
def people(dav_server: DavServer, carddav_backend: CardDAVBackend) -> Iterator[CardDAVCollection]:
    """An address book of 30 people, deleted afterwards."""
    folder = carddav_backend.create_folder(f"dir-{uuid.uuid4().hex[:8]}", FolderKind.CONTACTS)
    names = {f"p{n}.vcf": vcf(f"p{n}", f"Person {n:02d}") for n in range(28)}
    names["ann.vcf"] = vcf("ann", "Ann Smith")
    names["bob.vcf"] = vcf("bob", "Bob Jones")
    dav_server.bulk_load(folder.id, names, "text/vcard")
    yield carddav_backend.collection(folder)
    carddav_backend.delete_folder(folder)


def test_directory_search_is_a_live_query(
    carddav_backend: CardDAVBackend, people: CardDAVCollection
) -> None:
    """search() asks the server (name or e-mail contains the text, a limit), pages() pages
    the matches by multiget; nothing downloads the whole address book."""
    directory = carddav_backend.directory(people.href)
    found = directory.search("smith")
    assert [e.item.display_name for e in found] == ["Ann Smith"]
    assert isinstance(found[0].item, Contact)
    assert found[0].raw
    by_mail = directory.search("BOB@example")
    assert [e.item.display_name for e in by_mail] == ["Bob Jones"]
    assert len(directory.search("person", limit=5)) == 5
    pages = list(directory.pages("person", page_size=10))
    assert [len(p.entries) for p in pages] == [10, 10, 8]
    assert len({e.id for p in pages for e in p.entries}) == 28


def test_no_directory_without_gateway(carddav_backend: CardDAVBackend) -> None:
    """Neither test server offers a directory: both accept a PROPPATCH of
    directory-gateway on the principal but never return it, and neither marks an address
    book as a directory. So directory() finds none (the gateway path is tested against
    the scripted server in test_hostile.py)."""
    assert carddav_backend.principal.directory_gateway is None
    with pytest.raises(NotFoundError):
        carddav_backend.directory()
    assert not carddav_backend.capability_report().directory


def test_free_busy(dav_server: DavServer, caldav_backend: CalDAVBackend) -> None:
    """Free/busy needs a schedule outbox: Radicale has none (CapabilityError, nothing
    sent); Xandikos has one and answers the VFREEBUSY request."""
    start = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    if caldav_backend.principal.schedule_outbox is None:
        sent = caldav_backend.dav.requests
        with pytest.raises(CapabilityError):
            caldav_backend.free_busy(["bob@example.test"], start, start + dt.timedelta(days=1))
        assert caldav_backend.dav.requests == sent
        assert not caldav_backend.capability_report().scheduling
        return
    answer = caldav_backend.free_busy(["alice@example.test"], start, start + dt.timedelta(days=1))
    assert isinstance(answer, dict)


def test_capability_report(
    dav_server: DavServer, caldav_backend: CalDAVBackend, carddav_backend: CardDAVBackend
) -> None:
    """The report names the server, what it supports and the quirks that apply to it."""
    folder = caldav_backend.create_folder(f"caps-{uuid.uuid4().hex[:6]}", "calendar")
    cal = caldav_backend.capability_report()
    card = carddav_backend.capability_report()
    assert cal.server == card.server == dav_server.name
    assert cal.sync_collection
    assert cal.mkcalendar
    assert cal.vtodo
    assert card.extended_mkcol
    assert card.groups
    assert cal.quirks
    assert all(dav_server.name in q.servers for q in cal.quirks)
    assert cal.scheduling is (dav_server.name == "xandikos")
    caldav_backend.delete_folder(folder)


def test_no_clear_text_without_consent() -> None:
    """Without consent for clear text, open() raises and nothing reaches the server."""
    with HTTPSServer(tls=False) as server:
        account = Account(
            email="ann@example.test",
            endpoints=[
                Endpoint(protocol="caldav", host="127.0.0.1", port=server.port, security="none")
            ],
        )
        backend = CalDAVBackend(account, network=Network())
        with pytest.raises(ConsentRequired):
            backend.open()
        assert server.requests == []
