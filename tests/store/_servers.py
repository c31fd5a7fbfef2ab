"""Helpers for the store's end-to-end tests: DAV accounts on the test bed's servers, and
"another client" that reads and writes a collection with plain HTTP requests, so that
what the binding wrote is checked without the code that wrote it.

(The DAV backend tests have similar helpers in ``tests/backends/dav/conftest.py``; with
pytest's importlib import mode that module cannot be imported from here.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import attrs
import niquests

from openprotocols.formats._xml import parse_xml
from openprotocols.network import ConsentKind, ConsentRequest, Network

CALENDAR = "text/calendar"
VCARD = "text/vcard"

_DAV = "DAV:"
_QUERY = {
    CALENDAR: (
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
    ),
    VCARD: (
        '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
        "<D:prop><D:getetag/><C:address-data/></D:prop></C:addressbook-query>"
    ),
}


def allow_local_clear_text(request: ConsentRequest) -> bool:
    """Clear text to 127.0.0.1 (the test servers) only; nothing else."""
    return request.kind is ConsentKind.CLEAR_TEXT and request.host == "127.0.0.1"


def dav_network() -> Network:
    """A network that consents to clear text to the local test servers."""
    return Network(consent=allow_local_clear_text)


def ics(uid: str, summary: str) -> bytes:
    """An event as another client writes it, with a property our model has no field for."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other Client//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20261123T093000Z\r\nDTEND:20261123T103000Z\r\n"
        f"SUMMARY:{summary}\r\nX-OTHER-CLIENT:keep me\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def vcf(uid: str, name: str) -> bytes:
    """A contact as another client writes it, with a property our model has no field for."""
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\n"
        "X-OTHER-CLIENT:keep me\r\nEND:VCARD\r\n"
    ).encode()


def field(data: bytes, name: str) -> str:
    """The value of the first (unfolded) ``name`` line of an iCalendar or vCard."""
    text = re.sub(r"\r?\n[ \t]", "", data.decode())
    found = re.search(rf"^{name}(?:;[^:\r\n]*)?:(.*?)\r?$", text, re.MULTILINE)
    assert found is not None, f"no {name} in {text!r}"
    return found.group(1)


@attrs.frozen
class Resource:
    """One resource as another client sees it."""

    href: str
    etag: str
    data: bytes

    @property
    def uid(self) -> str:
        return field(self.data, "UID")

    @property
    def title(self) -> str:
        """SUMMARY of an event, FN of a contact."""
        return field(self.data, "SUMMARY" if b"BEGIN:VCALENDAR" in self.data else "FN")


@attrs.define
class OtherClient:
    """Another client of a DAV server: plain HTTP requests, nothing of openprotocols but
    the safe XML parser."""

    url: str
    username: str | None = None
    password: str | None = None

    def _session(self) -> niquests.Session:
        session = niquests.Session()
        if self.password:
            session.auth = (self.username or "", self.password)
        return session

    def _url(self, href: str) -> str:
        return self.url.rstrip("/") + href

    def put(self, href: str, data: bytes, content_type: str, *, etag: str | None = None) -> str:
        """Create (``etag=None``) or replace a resource; return its new ETag."""
        condition = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        with self._session() as session:
            reply = session.put(
                self._url(href), data=data, headers={"Content-Type": content_type, **condition}
            )
        assert reply.status_code in (200, 201, 204), reply.text
        return str(reply.headers["ETag"])

    def put_calendar(self, href: str, events: Iterable[bytes]) -> None:
        """Replace the content of the calendar ``href`` with ``events`` in one request
        (Radicale's collection upload: much faster than a PUT per event)."""
        body = b"".join(
            b"BEGIN:VEVENT" + e.split(b"BEGIN:VEVENT", 1)[1].rsplit(b"END:VCALENDAR", 1)[0]
            for e in events
        )
        head = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other Client//EN\r\n"
        with self._session() as session:
            reply = session.put(
                self._url(href),
                data=head + body + b"END:VCALENDAR\r\n",
                headers={"Content-Type": CALENDAR},
            )
        assert reply.status_code in (200, 201, 204), reply.text

    def delete(self, href: str, etag: str) -> None:
        with self._session() as session:
            reply = session.delete(self._url(href), headers={"If-Match": etag})
        assert reply.status_code in (200, 204), reply.text

    def resources(self, collection: str, content_type: str) -> dict[str, Resource]:
        """Every resource of ``collection``, by UID (asserting UIDs are unique)."""
        with self._session() as session:
            reply = session.request(
                "REPORT",
                self._url(collection),
                data=_QUERY[content_type].encode(),
                headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
            )
        assert reply.status_code == 207, reply.text
        assert reply.content is not None
        found: dict[str, Resource] = {}
        root = parse_xml(reply.content, format="multistatus", max_size=1 << 26)
        for resource in _resources(root):
            assert resource.uid not in found, f"UID {resource.uid} is duplicated"
            found[resource.uid] = resource
        return found


def _resources(root: object) -> Iterator[Resource]:
    for response in root.iter(f"{{{_DAV}}}response"):  # type: ignore[attr-defined]
        href = response.findtext(f"{{{_DAV}}}href")
        etag = next(response.iter(f"{{{_DAV}}}getetag")).text
        data = next(
            e.text for e in response.iter() if e.tag.endswith(("calendar-data", "address-data"))
        )
        yield Resource(href, etag, re.sub(r"\r?\n", "\r\n", data).encode())
