"""RFC 6764 service discovery (``backends._davlocate.locate``) against real servers.

Host names are virtual hosts of the discovery tests' web (``tests/discovery/conftest.py``):
one HTTPS and one plain-HTTP server answer for every name there, told apart by the
``Host`` header; a dnsmasq serves each test's SRV and TXT records. The user is always
``ann@example.test``: ``*.example.test`` is the user's own domain, ``hoster.test`` and
``evil.test`` are foreign.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprotocols._domains import same_site
from openprotocols.backends._davlocate import Candidate, locate
from openprotocols.backends._http_fetch import MAX_REDIRECTS
from openprotocols.errors import ConfigurationError, ConsentRequired
from openprotocols.formats._xml import parse_xml
from openprotocols.model.accounts import Account
from openprotocols.network import ConsentKind, ConsentRequest, Network, Timeouts
from openprotocols.testing.pytest_plugin import DnsmasqFactory
from openprotocols.testing.servers import (
    HTTPSServer,
    RadicaleServer,
    Request,
    Response,
    SRVRecord,
    TestCA,
    TXTRecord,
    free_port,
)

pytestmark = pytest.mark.servers

ANN = Account(email="ann@example.test")
DAV = Response(207, {"Content-Type": "application/xml; charset=utf-8"}, "<multistatus/>")
AUTH = Response(401, {"WWW-Authenticate": 'Basic realm="dav"'}, "")
CLOSED = f"127.0.0.1:{free_port()}"
"""An address where connections are refused (a port nobody listens on)."""

Web = Any  # tests/discovery/conftest.py's Web (conftest modules are not imported)
MakeWeb = Callable[..., Web]


class Consent:
    """A consent callback that records what it was asked and answers from a rule."""

    def __init__(self, rule: Callable[[ConsentRequest], bool] = lambda request: False):
        self.rule = rule
        self.asked: list[ConsentRequest] = []

    def __call__(self, request: ConsentRequest) -> bool:
        self.asked.append(request)
        return self.rule(request)


def run(
    web: Web,
    consent: Consent | None = None,
    *,
    kind: str = "caldav",
    extra: dict[str, str] | None = None,
) -> tuple[list[Candidate], ConsentRequired | None]:
    """Every candidate of a complete run, and the consent refusal it ended with, if any."""
    network = web.network(consent if consent is not None else Consent(), extra=extra)
    found: list[Candidate] = []
    with network.http_session() as session:
        try:
            found.extend(locate(kind, ANN, network, session))  # type: ignore[arg-type]
        except ConsentRequired as exc:
            return found, exc
    return found, None


def hosts_asked(web: Web) -> set[str]:
    """The hosts (``Host`` header without port) the servers received requests for."""
    return {(r.header("Host") or "").partition(":")[0] for r in web.requests()}


def assert_probes(requests: Iterable[Request]) -> None:
    """Every request was a credential-free PROPFIND of depth 0."""
    for request in requests:
        assert (request.method, request.header("Depth")) == ("PROPFIND", "0")
        assert request.header("Authorization") is None


# -- SRV ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["caldav", "carddav"])
def test_srv_and_txt_path(make_web: MakeWeb, kind: str) -> None:
    """SRV plus TXT ``path=`` gives the context URL first, without a request; the target's
    well-known URI follows as the next candidate."""
    web = make_web(
        [
            SRVRecord(f"_{kind}s._tcp.example.test", "mail.example.test", 8443),
            TXTRecord(f"_{kind}s._tcp.example.test", f"path=/dav/{kind}/"),
        ]
    )
    web.route(f"https://mail.example.test/.well-known/{kind}", AUTH)
    network = web.network(extra={"mail.example.test:8443": "https"})
    with network.http_session() as session:
        candidates = locate(kind, ANN, network, session)  # type: ignore[arg-type]
        assert next(candidates) == Candidate(
            f"https://mail.example.test:8443/dav/{kind}/", "srv+txt"
        )
        assert web.requests() == []  # lazy: nothing sent for a candidate not yet needed
        second = next(candidates)
    assert second == Candidate(f"https://mail.example.test:8443/.well-known/{kind}", "srv")
    assert_probes(web.requests())


def test_srv_without_txt_follows_the_targets_well_known(make_web: MakeWeb) -> None:
    """Without a TXT record, the target's /.well-known/caldav is probed and its redirect
    (relative here) followed to the context URL."""
    web = make_web([SRVRecord("_caldavs._tcp.example.test", "mail.example.test", 8443)])
    web.route("https://mail.example.test/.well-known/caldav", Response.redirect("/dav/", 301))
    web.route("https://mail.example.test/dav/", AUTH)
    found, refused = run(web, extra={"mail.example.test:8443": "https"})
    assert found[0] == Candidate("https://mail.example.test:8443/dav/", "srv")
    assert refused is None
    assert [r.path for r in web.requests("mail.example.test")] == ["/.well-known/caldav", "/dav/"]
    assert_probes(web.requests())


def test_srv_priority_then_weight(make_web: MakeWeb) -> None:
    """Targets come by priority, then weight: weight 65535 precedes weight 0 except with
    probability 1/65536 (RFC 2782's draw; the ordering itself is tested in formats)."""
    web = make_web(
        [
            SRVRecord("_caldavs._tcp.example.test", "autodiscover.example.test", 443, priority=10),
            SRVRecord("_caldavs._tcp.example.test", "mail.example.test", 443, weight=0),
            SRVRecord("_caldavs._tcp.example.test", "autoconfig.example.test", 443, weight=65535),
        ]
    )
    for host in ("autodiscover.example.test", "mail.example.test", "autoconfig.example.test"):
        web.route(f"https://{host}/.well-known/caldav", DAV)
    found, _ = run(web)
    assert [c.url for c in found] == [
        "https://autoconfig.example.test/.well-known/caldav",
        "https://mail.example.test/.well-known/caldav",
        "https://autodiscover.example.test/.well-known/caldav",
    ]


def test_srv_failover_when_the_first_target_refuses_connections(make_web: MakeWeb) -> None:
    """A target that refuses connections is passed over for the next one."""
    web = make_web(
        [
            SRVRecord("_caldavs._tcp.example.test", "autoconfig.example.test", 443, priority=0),
            SRVRecord("_caldavs._tcp.example.test", "mail.example.test", 443, priority=1),
        ]
    )
    web.route("https://mail.example.test/.well-known/caldav", DAV)
    found, _ = run(web, extra={"autoconfig.example.test:443": CLOSED})
    assert found[0] == Candidate("https://mail.example.test/.well-known/caldav", "srv")
    assert "autoconfig.example.test" not in hosts_asked(web)


def test_no_service_ends_the_srv_lookups(make_web: MakeWeb) -> None:
    """Target "." says "no CalDAV here": no SRV target is used, not even the clear-text
    one with consent; the well-known URI of the domain is still asked."""
    web = make_web(
        [
            SRVRecord.no_service("_caldavs._tcp.example.test"),
            SRVRecord("_caldav._tcp.example.test", "mail.example.test", 80),
        ]
    )
    web.route("http://mail.example.test/.well-known/caldav", DAV)
    found, refused = run(web, Consent(lambda request: True))
    assert (found, refused) == ([], None)
    assert web.requests(scheme="http") == []
    assert [r.path for r in web.requests("example.test")] == ["/.well-known/caldav", "/"]


def test_clear_text_srv_only_with_consent(make_web: MakeWeb) -> None:
    """``_caldav._tcp`` (plain HTTP) comes last, and only with clear-text consent."""
    web = make_web(
        [
            SRVRecord("_caldav._tcp.example.test", "mail.example.test", 80),
            TXTRecord("_caldav._tcp.example.test", "path=/cal/"),
        ]
    )
    web.route("http://mail.example.test/.well-known/caldav", AUTH)
    consent = Consent()
    found, refused = run(web, consent)
    assert found == []
    assert web.requests(scheme="http") == []
    assert isinstance(refused, ConsentRequired)
    assert isinstance(refused.reason, ConsentRequest)
    assert (refused.reason.kind, refused.reason.host) == (
        ConsentKind.CLEAR_TEXT,
        "mail.example.test",
    )
    assert len(consent.asked) == 1  # asked once per host and port

    found, refused = run(web, Consent(lambda request: request.kind is ConsentKind.CLEAR_TEXT))
    assert found == [
        Candidate("http://mail.example.test/cal/", "srv-clear+txt"),
        Candidate("http://mail.example.test/.well-known/caldav", "srv-clear"),
    ]
    assert refused is None


def test_foreign_srv_target_refused(make_web: MakeWeb) -> None:
    """A target outside the domain without consent: skipped, nothing sent to it; the
    refusal is raised once nothing else is left."""
    web = make_web(
        [
            SRVRecord("_caldavs._tcp.example.test", "mail.hoster.test", 443),
            TXTRecord("_caldavs._tcp.example.test", "path=/dav/"),
        ]
    )
    web.route("https://mail.hoster.test/.well-known/caldav", DAV)
    consent = Consent()
    found, refused = run(web, consent)
    assert found == []
    assert web.requests("mail.hoster.test") == []
    assert hosts_asked(web) == {"example.test"}  # the domain's own well-known URI and root
    assert isinstance(refused, ConsentRequired)
    assert isinstance(refused.reason, ConsentRequest)
    assert (refused.reason.kind, refused.reason.host) == (
        ConsentKind.FOREIGN_HOST,
        "mail.hoster.test",
    )
    assert [r.host for r in consent.asked] == ["mail.hoster.test"]  # once


def test_foreign_srv_target_approved(make_web: MakeWeb) -> None:
    """With consent, the foreign target is a candidate; the callback was told why."""
    web = make_web(
        [
            SRVRecord("_caldavs._tcp.example.test", "mail.hoster.test", 443),
            TXTRecord("_caldavs._tcp.example.test", "path=/dav/"),
        ]
    )
    consent = Consent(lambda request: request.kind is ConsentKind.FOREIGN_HOST)
    network = web.network(consent)
    with network.http_session() as session:
        first = next(locate("caldav", ANN, network, session))
    assert first == Candidate("https://mail.hoster.test/dav/", "srv+txt")
    (request,) = consent.asked
    assert (request.host, request.port, request.domain) == ("mail.hoster.test", 443, "example.test")
    assert "_caldavs._tcp.example.test" in request.reason


# -- .well-known -------------------------------------------------------------------


def test_well_known_multi_hop_redirect_inside_the_domain(make_web: MakeWeb) -> None:
    """Redirects within the domain (absolute, relative, of every status) are followed hop
    by hop to the DAV endpoint; no consent is needed."""
    web = make_web()
    web.route(
        "https://example.test/.well-known/caldav",
        Response.redirect("https://mail.example.test/wk", 301),
    )
    web.route("https://mail.example.test/wk", Response.redirect("/dav/", 302))
    web.route(
        "https://mail.example.test/dav/",
        Response.redirect("https://autoconfig.example.test/caldav/#frag", 308),
    )
    web.route("https://autoconfig.example.test/caldav/", AUTH)
    consent = Consent()
    found, refused = run(web, consent)
    assert found == [Candidate("https://autoconfig.example.test/caldav/", "well-known")]
    assert (refused, consent.asked) == (None, [])
    assert len(web.requests()) == 5  # four hops, then the root (404)
    assert_probes(web.requests())


def test_redirect_to_a_foreign_domain_stops_for_consent(make_web: MakeWeb) -> None:
    """A redirect out of the domain is not followed without consent; the next candidate
    still comes, and the refusal is raised after it."""
    web = make_web()
    web.route(
        "https://example.test/.well-known/caldav", Response.redirect("https://evil.test/dav/")
    )
    web.route("https://evil.test/dav/", DAV)
    web.route("https://example.test/", AUTH)
    network = web.network(Consent())
    with network.http_session() as session:
        candidates = locate("caldav", ANN, network, session)
        assert next(candidates) == Candidate("https://example.test/", "root")
        with pytest.raises(ConsentRequired, match=r"evil\.test"):
            next(candidates)
    assert "evil.test" not in hosts_asked(web)

    consent = Consent(lambda request: True)
    found, _ = run(web, consent)
    assert found[0] == Candidate("https://evil.test/dav/", "well-known")
    (request,) = consent.asked
    assert request.host == "evil.test"
    assert "https://example.test/.well-known/caldav" in request.reason


def test_https_to_http_redirect_needs_clear_text_consent(make_web: MakeWeb) -> None:
    """A downgrade to plain HTTP is refused without clear-text consent."""
    web = make_web()
    web.route(
        "https://example.test/.well-known/caldav",
        Response.redirect("http://example.test/dav/", 301),
    )
    web.route("http://example.test/dav/", DAV)
    found, refused = run(web)
    assert found == []
    assert web.requests(scheme="http") == []
    assert isinstance(refused, ConsentRequired)
    assert isinstance(refused.reason, ConsentRequest)
    assert refused.reason.kind is ConsentKind.CLEAR_TEXT

    found, refused = run(web, Consent(lambda request: request.kind is ConsentKind.CLEAR_TEXT))
    assert found == [Candidate("http://example.test/dav/", "well-known")]
    assert refused is None


def test_endless_redirects_end_at_the_budget(make_web: MakeWeb) -> None:
    """A chain of ever new URLs ends after MAX_REDIRECTS redirects."""
    web = make_web()

    def onwards(request: Request) -> Response:
        number = int(request.path.rpartition("/")[2] or 0)
        return Response.redirect(f"/hop/{number + 1}")

    web.route("https://example.test/.well-known/caldav", Response.redirect("/hop/1"))
    for number in range(1, 30):
        web.route(f"https://example.test/hop/{number}", onwards)
    found, _ = run(web)
    assert found == []
    hops = [r.path for r in web.requests() if r.path != "/"]
    assert len(hops) == 1 + MAX_REDIRECTS


def test_a_redirect_loop_is_not_asked_twice(make_web: MakeWeb) -> None:
    """A URL is asked at most once per run, so a loop ends when it closes."""
    web = make_web()
    web.route("https://example.test/.well-known/caldav", Response.redirect("/a"))
    web.route("https://example.test/a", Response.redirect("/.well-known/caldav"))
    found, _ = run(web)
    assert found == []
    assert [r.path for r in web.requests()] == ["/.well-known/caldav", "/a", "/"]


def test_not_found_and_method_not_allowed_are_not_candidates(make_web: MakeWeb) -> None:
    """A 404 or 405 (a web site, not DAV) at the well-known URI or the root is passed over."""
    web = make_web()
    web.route("https://example.test/.well-known/caldav", Response.text("no", 405))
    found, refused = run(web)
    assert (found, refused) == ([], None)
    assert len(web.requests()) == 2


def test_the_session_must_carry_no_credentials(make_web: MakeWeb) -> None:
    """Probes go without credentials: a session with auth is refused before any request."""
    web = make_web()
    network = web.network()
    with network.http_session() as session:
        session.auth = ("ann", "secret")
        with pytest.raises(ConfigurationError, match="without credentials"):
            next(locate("caldav", ANN, network, session))
    assert web.requests() == []


# -- no request ever reaches a host that is not permitted ----------------------------

FOREIGN = ("evil.test", "mail.hoster.test", "hoster.test")
OWN = ("example.test", "mail.example.test", "autoconfig.example.test")
PATHS = ("/.well-known/caldav", "/", "/a")
NODES = [
    (scheme, host, path) for scheme in ("https", "http") for host in OWN + FOREIGN for path in PATHS
]
JUNK = ("ftp://example.test/a", "https://ann:pw@mail.example.test/a", "//evil.test/a", "")
GRAPH_RECORDS = (
    SRVRecord("_caldavs._tcp.example.test", "mail.hoster.test", 443, priority=0),
    SRVRecord("_caldavs._tcp.example.test", "mail.example.test", 443, priority=1),
    TXTRecord("_caldavs._tcp.example.test", "path=/a"),
    SRVRecord("_caldav._tcp.example.test", "autoconfig.example.test", 80),
)

node = st.sampled_from(NODES)
url = node.map(lambda n: f"{n[0]}://{n[1]}{n[2]}")
ENTRIES = (  # where a run starts: loops come back here
    "https://mail.hoster.test/.well-known/caldav",
    "https://mail.example.test/.well-known/caldav",
    "https://example.test/.well-known/caldav",
    "https://example.test/",
    "http://autoconfig.example.test/.well-known/caldav",
)
location = st.one_of(url, st.sampled_from(ENTRIES), st.sampled_from(JUNK))
redirect = st.builds(Response.redirect, location, st.sampled_from([301, 302, 303, 307, 308]))
answer = st.one_of(  # redirects two times in three, so chains and loops are common
    st.sampled_from([DAV, AUTH, Response.text("no", 404), Response.text("no", 405)]),
    redirect,
    redirect,
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    graph=st.dictionaries(node, answer, min_size=len(NODES) // 3),
    foreign=st.dictionaries(st.sampled_from(FOREIGN), st.booleans()),
    clear_text=st.booleans(),
)
def test_no_request_reaches_a_host_that_is_not_permitted(
    make_web: MakeWeb,
    graph: dict[tuple[str, str, str], Response],
    foreign: dict[str, bool],
    clear_text: bool,
) -> None:
    """Over random redirect graphs, SRV targets inside and outside the domain, junk
    Locations and random consent answers: every request and every candidate goes to a
    host of the domain or one the user approved, plain HTTP only with clear-text consent,
    never with credentials, never twice to one URL."""
    web = make_web(GRAPH_RECORDS)
    for (scheme, host, path), response in graph.items():
        web.route(f"{scheme}://{host}{path}", response)

    def rule(request: ConsentRequest) -> bool:
        if request.kind is ConsentKind.CLEAR_TEXT:
            return clear_text
        return foreign.get(request.host, False)

    consent = Consent(rule)
    found, refused = run(web, consent)

    approved = {r.host for r in consent.asked if r.kind is ConsentKind.FOREIGN_HOST and rule(r)}
    plain = {r.host for r in consent.asked if r.kind is ConsentKind.CLEAR_TEXT and rule(r)}
    permitted = {h for h in OWN if same_site(h, "example.test")} | approved
    seen: set[tuple[bool, str | None, str]] = set()
    for request in web.requests():
        host = (request.header("Host") or "").partition(":")[0]
        assert host in permitted
        assert request.tls or host in plain
        assert request.header("Authorization") is None
        key = (request.tls, request.header("Host"), request.target)
        assert key not in seen
        seen.add(key)
    for candidate in found:
        scheme, _, rest = candidate.url.partition("://")
        host = rest.partition("/")[0].partition(":")[0]
        assert host in permitted
        assert scheme == "https" or host in plain
    assert len(web.requests()) <= 5 + MAX_REDIRECTS  # five starting points at most
    if refused is not None:
        assert any(not rule(r) for r in consent.asked)


# -- end to end: a real CalDAV server behind a .well-known redirect ------------------


@pytest.fixture(scope="module")
def radicale_tls(test_ca: TestCA) -> Iterator[RadicaleServer]:
    """Radicale over HTTPS (``test_ca``) with the user ``ann``."""
    with RadicaleServer(users={"ann": "secret"}, tls=True, ca=test_ca) as server:
        yield server


def test_first_candidate_answers_current_user_principal(
    radicale_tls: RadicaleServer,
    https_server: HTTPSServer,
    test_ca: TestCA,
    dnsmasq: DnsmasqFactory,
) -> None:
    """example.test's web server redirects /.well-known/caldav to the Radicale host of
    the domain; the first candidate answers an authenticated PROPFIND for
    current-user-principal with ann's principal."""
    dav_host = f"dav.example.test:{radicale_tls.port}"
    https_server.route("*", "/.well-known/caldav", Response.redirect(f"https://{dav_host}/", 301))
    network = Network(
        overrides={
            "example.test:443": f"127.0.0.1:{https_server.port}",
            dav_host: f"127.0.0.1:{radicale_tls.port}",
        },
        ca_bundle=test_ca.ca_pem_bytes,
        resolver=dnsmasq(()).resolver(),
        timeouts=Timeouts(connect=2, read=5),
    )
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>'
    )
    with network.http_session() as session:
        first = next(locate("caldav", ANN, network, session))
        assert first == Candidate(f"https://{dav_host}/", "well-known")
        response = session.request(
            "PROPFIND",
            first.url,
            data=body,
            headers={"Depth": "0", "Content-Type": "application/xml"},
            auth=("ann", "secret"),
            allow_redirects=False,
        )
    assert response.status_code == 207
    tree = parse_xml(response.content or b"", format="WebDAV")
    principal = tree.find(".//{DAV:}current-user-principal/{DAV:}href")
    assert principal is not None
    assert principal.text == "/ann/"


def test_backend_opens_from_an_email_address_alone(
    radicale_tls: RadicaleServer,
    https_server: HTTPSServer,
    test_ca: TestCA,
    dnsmasq: DnsmasqFactory,
) -> None:
    """The seed's "Resource left blank": an account with an address and a password (here
    on its IMAP endpoint) and no CalDAV settings finds its calendars through the
    domain's .well-known redirect, and only the located host gets the password."""
    from openprotocols.backends.caldav import CalDAVBackend
    from openprotocols.model import Endpoint, FolderKind

    dav_host = f"dav.example.test:{radicale_tls.port}"
    https_server.route("*", "/.well-known/caldav", Response.redirect(f"https://{dav_host}/", 301))
    network = Network(
        overrides={
            "example.test:443": f"127.0.0.1:{https_server.port}",
            dav_host: f"127.0.0.1:{radicale_tls.port}",
        },
        ca_bundle=test_ca.ca_pem_bytes,
        resolver=dnsmasq(()).resolver(),
        timeouts=Timeouts(connect=2, read=5),
    )
    account = Account(
        email="ann@example.test",
        endpoints=[
            Endpoint(protocol="imap", host="mail.example.test", username="ann", password="secret")
        ],
    )
    with CalDAVBackend(account, network=network) as backend:
        backend.open()
        created = backend.create_folder("work", FolderKind.CALENDAR, display_name="Work")
        assert created.display_name == "Work"
        assert "Work" in [folder.display_name for folder in backend.list_folders()]
    assert all(r.header("Authorization") is None for r in https_server.requests)
