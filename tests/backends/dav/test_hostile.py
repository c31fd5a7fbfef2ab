"""Bad and unusual answers, from a scripted HTTPS server (``https_server``): faults and
features the real test servers cannot produce on demand (malformed XML, a wrong root
element, a nonsense status line, a huge body, a truncated sync report, a
directory-gateway). Each bad answer must be a ProtocolError naming the URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openprotocols.backends._dav import SYNC_COLLECTION, SYNC_CTAG, SYNC_ETAG
from openprotocols.backends.base import ItemRef, Listing
from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.backends.carddav import CardDAVBackend
from openprotocols.errors import ProtocolError
from openprotocols.model import Account, Endpoint
from openprotocols.network import Network
from openprotocols.testing.servers import HTTPSServer, Request, Response, TestCA

MS = (
    '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"'
    ' xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:r="urn:ietf:params:xml:ns:carddav">'
    "{}</d:multistatus>"
)


def prop_response(href: str, props: str, status: str = "HTTP/1.1 200 OK") -> str:
    """One multistatus response with found properties."""
    return (
        f"<d:response><d:href>{href}</d:href><d:propstat><d:prop>{props}</d:prop>"
        f"<d:status>{status}</d:status></d:propstat></d:response>"
    )


def multistatus(*responses: str, extra: str = "") -> Response:
    """A 207 answer."""
    return Response.xml(MS.format(extra + "".join(responses)), status=207)


@pytest.fixture
def scripted(https_server: HTTPSServer) -> HTTPSServer:
    """A server with a principal /p/ whose calendar and address-book home is /p/h/."""
    https_server.route(
        "PROPFIND",
        "/",
        multistatus(
            prop_response(
                "/", "<d:current-user-principal><d:href>/p/</d:href></d:current-user-principal>"
            )
        ),
    )
    https_server.route(
        "PROPFIND",
        "/p/",
        multistatus(
            prop_response(
                "/p/",
                "<c:calendar-home-set><d:href>/p/h/</d:href></c:calendar-home-set>"
                "<r:addressbook-home-set><d:href>/p/h/</d:href></r:addressbook-home-set>"
                "<r:directory-gateway><d:href>/p/gal/</d:href></r:directory-gateway>",
            )
        ),
    )
    return https_server


def _backend(cls: type, server: HTTPSServer, ca: TestCA) -> object:
    account = Account(
        email="ann@example.test",
        endpoints=[
            Endpoint(protocol=p, host="127.0.0.1", port=server.port, username="ann", password="pw")
            for p in ("caldav", "carddav")
        ],
    )
    return cls(account, network=Network(ca_bundle=ca.ca_pem_bytes))


@pytest.fixture
def caldav(scripted: HTTPSServer, test_ca: TestCA) -> Iterator[CalDAVBackend]:
    """An open CalDAV backend on the scripted server."""
    backend = _backend(CalDAVBackend, scripted, test_ca)
    assert isinstance(backend, CalDAVBackend)
    backend.open()
    yield backend
    backend.close()


BAD_ANSWERS = {
    "not well-formed": Response.xml("<d:multistatus xmlns:d='DAV:'><d:response>", status=207),
    "a DOCTYPE": Response.xml(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><d:multistatus xmlns:d="DAV:"/>',
        status=207,
    ),
    "wrong root element": Response.xml('<d:error xmlns:d="DAV:"/>', status=207),
    "response without href": multistatus(
        "<d:response><d:status>HTTP/1.1 200 OK</d:status></d:response>"
    ),
    "nonsense status line": multistatus(
        prop_response("/p/h/x/", "<d:displayname/>", status="banana")
    ),
    "unexpected status": Response.text("I am a teapot", status=418),
    "unexpected 200": Response.xml("<x/>", status=200),
    "claimed huge body": Response(
        207, {"Content-Type": "text/xml", "Content-Length": str(10**9)}, b""
    ),
}


@pytest.mark.parametrize("answer", list(BAD_ANSWERS), ids=list(BAD_ANSWERS))
def test_bad_answers_are_protocol_errors(
    scripted: HTTPSServer, caldav: CalDAVBackend, answer: str
) -> None:
    """Each bad answer to the collection listing is a ProtocolError naming the URL."""
    scripted.route("PROPFIND", "/p/h/", BAD_ANSWERS[answer])
    with pytest.raises(ProtocolError) as info:
        caldav.list_folders()
    assert info.value.url == scripted.url_for("/p/h/")
    assert scripted.url_for("/p/h/") in str(info.value)


def test_body_over_the_cap_is_not_read(scripted: HTTPSServer, caldav: CalDAVBackend) -> None:
    """A body past the size cap is abandoned: ProtocolError naming the URL."""
    caldav.dav.max_body = 10_000
    scripted.route(
        "PROPFIND",
        "/p/h/",
        multistatus(prop_response("/p/h/", "<d:displayname>" + "x" * 20_000 + "</d:displayname>")),
    )
    with pytest.raises(ProtocolError, match="exceeds 10000 bytes") as info:
        caldav.list_folders()
    assert info.value.url == scripted.url_for("/p/h/")


CAL = prop_response(
    "/p/h/c/",
    "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>C</d:displayname>"
    "<d:supported-report-set><d:supported-report><d:report><d:sync-collection/></d:report>"
    "</d:supported-report></d:supported-report-set>",
)


UNLISTED = prop_response(  # a calendar whose reports are not listed
    "/p/h/c/",
    "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>C</d:displayname>",
)


@pytest.mark.parametrize(
    ("listing", "state", "method"),
    [
        (CAL, "", SYNC_COLLECTION),  # reports listed: the state is never asked
        (UNLISTED, "<d:sync-token>t1</d:sync-token>", SYNC_COLLECTION),
        (UNLISTED, "<x:getctag xmlns:x='http://calendarserver.org/ns/'>7</x:getctag>", SYNC_CTAG),
        (UNLISTED, "", SYNC_ETAG),
    ],
)
def test_a_collections_state_is_asked_only_when_its_reports_are_unlisted(
    scripted: HTTPSServer, caldav: CalDAVBackend, listing: str, state: str, method: str
) -> None:
    """``sync-token`` and ``getctag`` can cost a server a read of every item (Radicale):
    they are asked only of a collection that lists no report, whose sync method they
    tell."""

    def propfind(request: Request) -> Response:
        asked = "getctag" in request.text
        return multistatus(listing.replace("</d:prop>", state + "</d:prop>") if asked else listing)

    for depth_one in (False, True):
        scripted.clear()
        scripted.route("PROPFIND", "/p/h/c/", propfind)
        scripted.route("PROPFIND", "/p/h/", propfind)
        if depth_one:
            (info,) = caldav.collections()
        else:
            caldav._infos.clear()
            info = caldav.collection_info("/p/h/c/")
        assert info.sync_method == method
        asked = [r for r in scripted.requests if r.method == "PROPFIND" and "/p/h/" in r.path]
        states = ["getctag" in r.text and "sync-token" in r.text for r in asked]
        assert states == ([False] if listing is CAL else [False, True])


def test_truncated_sync_report_is_paged_through(
    scripted: HTTPSServer, caldav: CalDAVBackend
) -> None:
    """A 507 for the collection in a sync report means "ask again from this token": the
    pages are merged (a later delete wins over an earlier change)."""
    scripted.route("PROPFIND", "/p/h/c/", multistatus(CAL))
    pages = {
        "": multistatus(
            prop_response("/p/h/c/a.ics", '<d:getetag>"1"</d:getetag>'),
            prop_response("/p/h/c/b.ics", '<d:getetag>"2"</d:getetag>'),
            "<d:response><d:href>/p/h/c/</d:href>"
            "<d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>",
            extra="<d:sync-token>t1</d:sync-token>",
        ),
        "t1": multistatus(
            prop_response("/p/h/c/c.ics", '<d:getetag>"3"</d:getetag>'),
            "<d:response><d:href>/p/h/c/b.ics</d:href>"
            "<d:status>HTTP/1.1 404 Not Found</d:status></d:response>",
            extra="<d:sync-token>t2</d:sync-token>",
        ),
    }

    def sync(request: Request) -> Response:
        token = (
            request.text.split("<D:sync-token>")[1].split("<")[0]
            if "<D:sync-token>" in request.text
            else ""
        )
        return pages[token]

    scripted.route("REPORT", "/p/h/c/", sync)
    changes = caldav.collection("/p/h/c/").changes()
    assert changes.full
    assert {(r.id, r.version) for r in changes.changed} == {
        ("/p/h/c/a.ics", '"1"'),
        ("/p/h/c/c.ics", '"3"'),
    }
    assert changes.state == "sync:t2"


def test_a_long_truncated_sync_report_is_merged_out_of_memory(
    scripted: HTTPSServer, caldav: CalDAVBackend
) -> None:
    """Three pages of 400 members: the merge (a later page's word winning) ends in a
    Listing on disk, as one long page does; it was a list in memory."""
    scripted.route("PROPFIND", "/p/h/c/", multistatus(CAL))
    gone = "<d:status>HTTP/1.1 404 Not Found</d:status>"
    truncated = (
        "<d:response><d:href>/p/h/c/</d:href>"
        "<d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>"
    )

    def member(n: int, etag: str) -> str:
        return prop_response(f"/p/h/c/{n}.ics", f'<d:getetag>"{etag}"</d:getetag>')

    def deleted(n: int) -> str:
        return f"<d:response><d:href>/p/h/c/{n}.ics</d:href>{gone}</d:response>"

    pages = {
        "": multistatus(*(member(n, "a") for n in range(400)), truncated, extra=TOKEN),
        "t1": multistatus(
            *(member(n, "b") for n in range(400, 800)),
            *(deleted(n) for n in range(100)),  # gone after page one listed them
            *(member(n, "c") for n in range(100, 200)),  # changed since
            truncated,
            extra="<d:sync-token>t2</d:sync-token>",
        ),
        "t2": multistatus(
            *(member(n, "d") for n in range(10)),  # back again
            *(member(n, "e") for n in range(800, 1200)),
            extra="<d:sync-token>t3</d:sync-token>",
        ),
    }

    def sync(request: Request) -> Response:
        asked = request.text.split("<D:sync-token>")
        return pages[asked[1].split("<")[0] if len(asked) > 1 else ""]

    scripted.route("REPORT", "/p/h/c/", sync)
    changes = caldav.collection("/p/h/c/").changes()
    assert isinstance(changes.changed, Listing)
    expected = {f"/p/h/c/{n}.ics": '"d"' for n in range(10)}
    expected |= {f"/p/h/c/{n}.ics": '"c"' for n in range(100, 200)}
    expected |= {f"/p/h/c/{n}.ics": '"a"' for n in range(200, 400)}
    expected |= {f"/p/h/c/{n}.ics": '"b"' for n in range(400, 800)}
    expected |= {f"/p/h/c/{n}.ics": '"e"' for n in range(800, 1200)}
    assert {r.id: r.version for r in changes.changed} == expected
    assert len(changes.changed) == len(expected)
    assert changes.state == "sync:t3"


def test_an_incremental_truncated_sync_report_merges_deletes(
    scripted: HTTPSServer, caldav: CalDAVBackend
) -> None:
    """From a token, the pages' deletes are merged too: a later page's change brings
    back an href an earlier page deleted, a later delete wins over an earlier change,
    and the deleted hrefs come out sorted, as from one page."""
    scripted.route("PROPFIND", "/p/h/c/", multistatus(CAL))
    gone = "<d:status>HTTP/1.1 404 Not Found</d:status>"
    truncated = (
        "<d:response><d:href>/p/h/c/</d:href>"
        "<d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>"
    )

    def deleted(name: str) -> str:
        return f"<d:response><d:href>/p/h/c/{name}.ics</d:href>{gone}</d:response>"

    pages = {
        "t0": multistatus(
            deleted("z"),
            deleted("back"),
            prop_response("/p/h/c/later-gone.ics", '<d:getetag>"1"</d:getetag>'),
            truncated,
            extra="<d:sync-token>t1</d:sync-token>",
        ),
        "t1": multistatus(
            prop_response("/p/h/c/back.ics", '<d:getetag>"2"</d:getetag>'),
            deleted("later-gone"),
            deleted("a"),
            extra="<d:sync-token>t2</d:sync-token>",
        ),
    }

    def sync(request: Request) -> Response:
        return pages[request.text.split("<D:sync-token>")[1].split("<")[0]]

    scripted.route("REPORT", "/p/h/c/", sync)
    changes = caldav.collection("/p/h/c/").changes("sync:t0")
    assert not changes.full
    assert [(r.id, r.version) for r in changes.changed] == [("/p/h/c/back.ics", '"2"')]
    assert list(changes.deleted) == ["/p/h/c/a.ics", "/p/h/c/later-gone.ics", "/p/h/c/z.ics"]
    assert changes.state == "sync:t2"


def test_directory_gateway(scripted: HTTPSServer, test_ca: TestCA) -> None:
    """The principal's directory-gateway is the directory; a search is one
    addressbook-query with a text-match and a limit."""
    card = "BEGIN:VCARD\nVERSION:3.0\nUID:ann\nFN:Ann Smith\nEND:VCARD\n"
    scripted.route(
        "PROPFIND",
        "/p/gal/",
        multistatus(
            prop_response(
                "/p/gal/", "<d:resourcetype><d:collection/><r:addressbook/></d:resourcetype>"
            )
        ),
    )
    scripted.route(
        "REPORT",
        "/p/gal/",
        multistatus(
            prop_response(
                "/p/gal/ann.vcf",
                f'<d:getetag>"9"</d:getetag><r:address-data>{card}</r:address-data>',
            )
        ),
    )
    backend = _backend(CardDAVBackend, scripted, test_ca)
    assert isinstance(backend, CardDAVBackend)
    with backend:
        backend.open()
        found = backend.directory().search("smi", limit=7)
    assert [(e.id, e.item.display_name) for e in found] == [("/p/gal/ann.vcf", "Ann Smith")]
    assert found[0].raw == card.replace("\n", "\r\n").encode()
    query = [r for r in scripted.requests if r.method == "REPORT"][-1].text
    assert "addressbook-query" in query
    assert ">smi<" in query
    assert ">7<" in query


TOKEN = "<d:sync-token>t1</d:sync-token>"


def _sync_answer(*members: str, token: str = TOKEN) -> Response:
    return multistatus(*members, extra=token)


def _members(count: int) -> list[str]:
    return [prop_response(f"/p/h/c/{n}.ics", f'<d:getetag>"{n}"</d:getetag>') for n in range(count)]


BAD_SYNC_ANSWERS = {
    # past the first hundred members: the whole answer is read before anything is used
    "not well-formed late": Response.xml(
        MS.format("".join(_members(300))).removesuffix("</d:multistatus>"), status=207
    ),
    "a DOCTYPE": Response.xml(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
        + MS.format("".join(_members(300))).removeprefix('<?xml version="1.0"?>'),
        status=207,
    ),
    "wrong root element": Response.xml('<d:error xmlns:d="DAV:"/>', status=207),
    "no sync token": _sync_answer(*_members(300), token=""),
    "a member without an ETag late": _sync_answer(
        *_members(300), prop_response("/p/h/c/x.ics", "<d:displayname/>")
    ),
    "a response without href": _sync_answer(
        *_members(300), "<d:response><d:status>HTTP/1.1 200 OK</d:status></d:response>"
    ),
}


@pytest.mark.parametrize("answer", list(BAD_SYNC_ANSWERS), ids=list(BAD_SYNC_ANSWERS))
def test_bad_long_sync_answers_are_protocol_errors(
    scripted: HTTPSServer, caldav: CalDAVBackend, answer: str
) -> None:
    """A long sync listing is read from a temporary file, a response at a time: a fault
    anywhere in it is still a ProtocolError naming the URL, raised by ``changes()``
    before a single ref is handed out."""
    scripted.route("PROPFIND", "/p/h/c/", multistatus(CAL))
    scripted.route("REPORT", "/p/h/c/", BAD_SYNC_ANSWERS[answer])
    with pytest.raises(ProtocolError) as info:
        caldav.collection("/p/h/c/").changes()
    assert info.value.url == scripted.url_for("/p/h/c/")


def test_a_long_sync_listing_stays_on_disk_and_reads_again(
    scripted: HTTPSServer, caldav: CalDAVBackend
) -> None:
    """More members than the backend holds in memory: ``changed`` is a Listing read from
    the spilled answer, the same refs each time it is iterated; deletions, the token and
    the sub-collections it skips are as for a short one."""
    scripted.route("PROPFIND", "/p/h/c/", multistatus(CAL))
    members = _members(1000)
    scripted.route(
        "REPORT",
        "/p/h/c/",
        _sync_answer(
            *members[:500],
            prop_response("/p/h/c/sub/", "<d:resourcetype><d:collection/></d:resourcetype>"),
            "<d:response><d:href>/p/h/c/gone.ics</d:href>"
            "<d:status>HTTP/1.1 404 Not Found</d:status></d:response>",
            *members[500:],
        ),
    )
    changes = caldav.collection("/p/h/c/").changes("sync:t0")
    assert isinstance(changes.changed, Listing)
    assert len(changes.changed) == 1000
    first = list(changes.changed)
    assert first == list(changes.changed)
    assert first == [ItemRef(f"/p/h/c/{n}.ics", f'"{n}"') for n in range(1000)]
    assert changes.deleted == ("/p/h/c/gone.ics",)
    assert changes.state == "sync:t1"
    assert not changes.full


def _etag_listing(scripted: HTTPSServer, *members: str) -> None:
    """/p/h/c/ lists no report and has no state properties (the ETag sync method); a
    PROPFIND of depth 1 answers with ``members``."""

    def propfind(request: Request) -> Response:
        if {k.lower(): v for k, v in request.headers}.get("depth") == "1":
            return multistatus(UNLISTED, *members)
        return multistatus(UNLISTED)

    scripted.route("PROPFIND", "/p/h/c/", propfind)


def test_a_long_etag_listing_stays_on_disk_and_its_state_ignores_order(
    scripted: HTTPSServer, caldav: CalDAVBackend
) -> None:
    """Without sync-collection, a collection is listed by PROPFIND: more members than the
    backend holds in memory are read from the spilled answer, with sub-collections (even
    without a trailing slash) and members without an ETag left out; the state is the
    same whatever order the server lists the members in, and a changed ETag changes it."""
    members = _members(1000)
    odd = [
        prop_response("/p/h/c/sub", "<d:resourcetype><d:collection/></d:resourcetype>"),
        prop_response("/p/h/c/no-etag.ics", "<d:displayname>x</d:displayname>"),
    ]
    _etag_listing(scripted, *members[:500], *odd, *members[500:])
    collection = caldav.collection("/p/h/c/")
    assert collection.info.sync_method == SYNC_ETAG
    changes = collection.changes()
    assert isinstance(changes.changed, Listing)
    assert list(changes.changed) == [ItemRef(f"/p/h/c/{n}.ics", f'"{n}"') for n in range(1000)]
    assert changes.full
    _etag_listing(scripted, *reversed(members))
    assert collection.changes(changes.state).changed == ()
    _etag_listing(
        scripted, *members[1:], prop_response("/p/h/c/0.ics", '<d:getetag>"x"</d:getetag>')
    )
    again = collection.changes(changes.state)
    assert again.state != changes.state
    assert again.full


def test_an_etag_listing_cut_short_is_a_protocol_error(
    scripted: HTTPSServer, caldav: CalDAVBackend
) -> None:
    """A 507 for the collection in a PROPFIND listing: the members it left out would look
    deleted, so ``changes()`` raises instead of answering with part of the collection."""
    _etag_listing(
        scripted,
        *_members(300),
        "<d:response><d:href>/p/h/c/</d:href>"
        "<d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>",
    )
    with pytest.raises(ProtocolError) as info:
        caldav.collection("/p/h/c/").changes()
    assert info.value.url == scripted.url_for("/p/h/c/")
    assert "507" in str(info.value)
