"""Radicale and Xandikos answer real CalDAV/CardDAV requests."""

from __future__ import annotations

import uuid

import niquests
import pytest
from lxml import etree

from openprotocols.testing.servers import RadicaleServer, TestCA, XandikosServer

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
CARDDAV = "{urn:ietf:params:xml:ns:carddav}"

PROPFIND_PRINCIPAL = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>'
)
PROPFIND_RESOURCETYPE = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>'
)
MKCALENDAR = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
    b"<d:set><d:prop><d:displayname>Testbed</d:displayname></d:prop></d:set></c:mkcalendar>"
)
XML = {"Content-Type": "application/xml; charset=utf-8"}


def dav(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    depth: str | None = None,
    auth: tuple[str, str] | None = None,
    verify: str | bool = True,
) -> niquests.Response:
    """Send one WebDAV request and return the response."""
    headers = dict(XML)
    if depth is not None:
        headers["Depth"] = depth
    with niquests.Session() as session:
        return session.request(
            method, url, data=body, headers=headers, auth=auth, verify=verify, timeout=10
        )


def current_user_principal(multistatus: bytes) -> str:
    """Return the href of DAV:current-user-principal in a 207 body."""
    href = etree.fromstring(multistatus).find(f".//{DAV}current-user-principal/{DAV}href")
    assert href is not None, multistatus
    return str(href.text)


def resourcetypes(multistatus: bytes) -> set[str]:
    """Return the element names inside the first DAV:resourcetype of a 207 body."""
    resourcetype = etree.fromstring(multistatus).find(f".//{DAV}resourcetype")
    assert resourcetype is not None, multistatus
    return {str(child.tag) for child in resourcetype}


# -- Radicale ---------------------------------------------------------------------------


def test_radicale_propfind_current_user_principal(radicale: RadicaleServer) -> None:
    """PROPFIND on Radicale's root as alice answers 207 with alice's principal."""
    response = dav(
        "PROPFIND", radicale.url, PROPFIND_PRINCIPAL, depth="0", auth=("alice", "secret")
    )
    assert response.status_code == 207
    assert response.content is not None
    assert current_user_principal(response.content) == "/alice/"


def test_radicale_mkcalendar_creates_a_calendar(radicale: RadicaleServer) -> None:
    """MKCALENDAR under alice's principal answers 201 and the new collection is a calendar."""
    auth = ("alice", "secret")
    dav("PROPFIND", radicale.url, PROPFIND_PRINCIPAL, depth="0", auth=auth)  # creates /alice/
    url = f"{radicale.principal_url('alice')}{uuid.uuid4().hex}/"
    created = dav("MKCALENDAR", url, MKCALENDAR, auth=auth)
    assert created.status_code == 201
    found = dav("PROPFIND", url, PROPFIND_RESOURCETYPE, depth="0", auth=auth)
    assert found.status_code == 207
    assert found.content is not None
    assert resourcetypes(found.content) == {f"{DAV}collection", f"{CALDAV}calendar"}


def test_radicale_rejects_a_wrong_password(radicale: RadicaleServer) -> None:
    """Radicale answers 401 with a Basic challenge to a wrong password."""
    response = dav("PROPFIND", radicale.url, PROPFIND_PRINCIPAL, depth="0", auth=("alice", "nope"))
    assert response.status_code == 401
    assert "Basic" in (response.headers.get("WWW-Authenticate") or "")


def test_radicale_over_https_trusts_only_the_test_ca(test_ca: TestCA) -> None:
    """Radicale with tls=True serves HTTPS with the test CA's certificate; default trust fails."""
    with RadicaleServer(tls=True, ca=test_ca) as server:
        assert server.url.startswith("https://")
        response = dav(
            "PROPFIND",
            server.url,
            PROPFIND_PRINCIPAL,
            depth="0",
            auth=("anyone", "anything"),
            verify=str(test_ca.ca_pem),
        )
        assert response.status_code == 207
        assert response.content is not None
        assert current_user_principal(response.content) == "/anyone/"
        with pytest.raises(niquests.exceptions.SSLError):
            dav("PROPFIND", server.url, PROPFIND_PRINCIPAL, depth="0")


# -- Xandikos ---------------------------------------------------------------------------


def test_xandikos_propfind_current_user_principal(xandikos: XandikosServer) -> None:
    """PROPFIND on Xandikos's root answers 207 with the configured principal /user/."""
    response = dav("PROPFIND", xandikos.url, PROPFIND_PRINCIPAL, depth="0")
    assert response.status_code == 207
    assert response.content is not None
    assert current_user_principal(response.content) == "/user/"


def test_xandikos_default_collections_exist(xandikos: XandikosServer) -> None:
    """The calendar and address book made by --defaults are a calendar and an address book."""
    calendar = dav("PROPFIND", xandikos.calendar_url, PROPFIND_RESOURCETYPE, depth="0")
    addressbook = dav("PROPFIND", xandikos.addressbook_url, PROPFIND_RESOURCETYPE, depth="0")
    assert (calendar.status_code, addressbook.status_code) == (207, 207)
    assert calendar.content is not None
    assert addressbook.content is not None
    assert f"{CALDAV}calendar" in resourcetypes(calendar.content)
    assert f"{CARDDAV}addressbook" in resourcetypes(addressbook.content)


def test_xandikos_mkcalendar_creates_a_calendar(xandikos: XandikosServer) -> None:
    """MKCALENDAR in Xandikos's calendar home answers 201 and the collection is a calendar."""
    url = f"{xandikos.principal_url}calendars/{uuid.uuid4().hex}/"
    created = dav("MKCALENDAR", url, MKCALENDAR)
    assert created.status_code == 201
    found = dav("PROPFIND", url, PROPFIND_RESOURCETYPE, depth="0")
    assert found.status_code == 207
    assert found.content is not None
    assert f"{CALDAV}calendar" in resourcetypes(found.content)


def test_xandikos_unknown_path_is_not_found(xandikos: XandikosServer) -> None:
    """A PROPFIND on a missing path reports 404 (Xandikos: inside a 207), with no resourcetype."""
    response = dav("PROPFIND", f"{xandikos.url}nobody/here/", PROPFIND_RESOURCETYPE, depth="0")
    assert response.content is not None
    # Xandikos answers 207 Multi-Status whose only response carries "404 Not Found"
    # (RFC 4918 would allow a plain 404); clients must handle both forms.
    assert response.status_code == 207
    status = etree.fromstring(response.content).find(f"{DAV}response/{DAV}status")
    assert status is not None
    assert status.text == "HTTP/1.1 404 Not Found"
    assert etree.fromstring(response.content).find(f".//{DAV}resourcetype") is None
