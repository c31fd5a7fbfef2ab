"""The Autodiscover provider against real local HTTPS/HTTP servers and dnsmasq.

Every host name is a virtual host of the ``web`` fixture (see ``conftest.py``): one
HTTPS and one HTTP server answer for all of them, so a test can check which host got
which request, and with which headers.
"""

from __future__ import annotations

import base64
import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprotocols._domains import same_site
from openprotocols.backends.autoconfig import AutoconfigProvider
from openprotocols.backends.autodiscover import AutodiscoverProvider, endpoints_from
from openprotocols.backends.discovery import DiscoveryAttempt, Outcome
from openprotocols.formats.autodiscover import parse_response
from openprotocols.model import Security
from openprotocols.model._base import Secret
from openprotocols.model.accounts import AuthMechanism
from openprotocols.network import ConsentKind, ConsentRequest, Network, Timeouts
from openprotocols.testing.servers import HTTPSServer, Request, Response, TestCA

pytestmark = pytest.mark.servers

PATH = "/autodiscover/autodiscover.xml"
PASSWORD = "s3cr3t-Pa55w0rd"
SECRET = Secret(PASSWORD)
BASIC = "Basic " + base64.b64encode(f"ann@example.test:{PASSWORD}".encode()).decode()


def protocol(kind: str, server: str, port: int, **elements: str) -> str:
    """One <Protocol> element."""
    extra = "".join(f"<{name}>{value}</{name}>" for name, value in elements.items())
    return (
        f"<Protocol><Type>{kind}</Type><Server>{server}</Server><Port>{port}</Port>"
        f"{extra}</Protocol>"
    )


def document(account: str) -> str:
    """An Autodiscover response around ``account`` (the inner XML of <Account>)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
        '<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">'
        f"<Account><AccountType>email</AccountType>{account}</Account></Response></Autodiscover>"
    )


def settings_xml(server: str = "mail.example.test", **elements: str) -> str:
    """A settings answer with IMAP (993, SSL) and SMTP (587, SSL on: STARTTLS)."""
    return document(
        "<Action>settings</Action>"
        + protocol("IMAP", server, 993, SSL="on", **elements)
        + protocol("SMTP", server, 587, SSL="on", **elements)
    )


def redirect_url_xml(url: str) -> str:
    """An Action redirectUrl answer."""
    return document(f"<Action>redirectUrl</Action><RedirectUrl>{url}</RedirectUrl>")


def redirect_addr_xml(address: str) -> str:
    """An Action redirectAddr answer."""
    return document(f"<Action>redirectAddr</Action><RedirectAddr>{address}</RedirectAddr>")


ERROR_XML = (
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
    '<Response><Error Time="1" Id="2"><ErrorCode>600</ErrorCode><Message>Invalid Request</Message>'
    "<DebugData /></Error></Response></Autodiscover>"
)


def challenge_then(answer: Response, expected: str = BASIC) -> Callable[[Request], Response]:
    """A route that answers 401 (Basic offered) until the right credentials come."""

    def serve(request: Request) -> Response:
        if request.header("Authorization") == expected:
            return answer
        return Response(401, {"WWW-Authenticate": 'Basic realm="autodiscover"'}, "")

    return serve


def run(
    net: Network, email: str = "ann@example.test", password: Secret | None = SECRET
) -> list[DiscoveryAttempt]:
    """Run the provider to the end."""
    return list(AutodiscoverProvider(net).discover(email, password=password))


def found(attempts: list[DiscoveryAttempt]) -> DiscoveryAttempt:
    """The one attempt that found settings."""
    (hit,) = [a for a in attempts if a.outcome is Outcome.FOUND]
    return hit


def authorized_hosts(web: Any) -> set[str]:
    """The hosts that received an Authorization header."""
    return {
        (r.header("Host") or "").partition(":")[0]
        for r in web.requests()
        if r.header("Authorization") is not None
    }


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Every test starts and ends with an empty Autodiscover cache."""
    AutodiscoverProvider.clear_cache()
    yield
    AutodiscoverProvider.clear_cache()


# -- the four locations, in order -------------------------------------------------------


def test_settings_from_the_first_post(web: Any) -> None:
    """Step 1 (https://<domain>/...) answers: the settings are used, nothing else asked."""
    web.route(f"https://example.test{PATH}", Response.xml(settings_xml()))
    attempts = run(web.network())
    hit = found(attempts)
    assert hit.target == f"https://example.test{PATH}"
    assert [(e.protocol, e.host, e.port, e.security) for e in hit.endpoints] == [
        ("imap", "mail.example.test", 993, Security.SSL),
        ("smtp", "mail.example.test", 587, Security.STARTTLS),
    ]
    (request,) = web.requests()
    assert request.method == "POST"
    assert b"<EMailAddress>ann@example.test</EMailAddress>" in request.body
    assert request.header("Authorization") is None
    assert len(attempts) == 1


def test_settings_from_the_second_post(web: Any) -> None:
    """Step 1 has nothing (404); step 2 at autodiscover.<domain> answers."""
    web.route(f"https://autodiscover.example.test{PATH}", Response.xml(settings_xml()))
    attempts = run(web.network())
    assert [(a.target, a.outcome) for a in attempts] == [
        (f"https://example.test{PATH}", Outcome.NOT_FOUND),
        (f"https://autodiscover.example.test{PATH}", Outcome.FOUND),
    ]


def test_static_405_answer(web: Any) -> None:
    """A 405 carrying the XML (the seed's static file) is a valid answer."""
    web.route(f"https://example.test{PATH}", Response.xml(settings_xml(), status=405))
    hit = found(run(web.network()))
    assert "static answer" in hit.reason


def test_http_get_redirect_to_https_is_followed(web: Any) -> None:
    """Step 3's plain GET redirects to https; the POST there finds settings."""
    target = f"https://mail.example.test{PATH}"
    web.route(f"http://autodiscover.example.test{PATH}", Response.redirect(target))
    web.route(target, Response.xml(settings_xml()))
    hit = found(run(web.network()))
    assert hit.target == target
    (get,) = web.requests(scheme="http")
    assert (get.method, get.body, get.header("Authorization")) == ("GET", b"", None)
    assert web.requests("mail.example.test")[0].method == "POST"


def test_http_get_xml_redirect_url_to_https_is_followed(web: Any) -> None:
    """The seed's unencrypted XML redirect (redirectUrl) to https is followed."""
    target = f"https://mail.example.test{PATH}"
    web.route(f"http://autodiscover.example.test{PATH}", Response.xml(redirect_url_xml(target)))
    web.route(target, Response.xml(settings_xml()))
    assert found(run(web.network())).target == target


def test_http_get_redirect_to_http_is_refused(web: Any) -> None:
    """A redirect from the plain GET to another http:// URL is not followed."""
    target = f"http://mail.example.test{PATH}"
    web.route(f"http://autodiscover.example.test{PATH}", Response.redirect(target))
    web.route(target, Response.xml(settings_xml()))
    attempts = run(web.network())
    assert not [a for a in attempts if a.outcome is Outcome.FOUND]
    (refusal,) = [a for a in attempts if a.outcome is Outcome.REFUSED]
    assert "only https://" in refusal.reason
    assert web.requests("mail.example.test") == []


def test_settings_over_plain_http_are_not_used(web: Any) -> None:
    """Settings served by the plain-HTTP step are refused, and no credentials go there."""
    web.route(f"http://autodiscover.example.test{PATH}", Response.xml(settings_xml()))
    attempts = run(web.network())
    (refusal,) = [a for a in attempts if a.target.startswith("http://")]
    assert refusal.outcome is Outcome.REFUSED
    assert "never used" in refusal.reason
    assert not [a for a in attempts if a.outcome is Outcome.FOUND]


def test_no_cookie_travels_to_the_plain_http_step(web: Any) -> None:
    """A cookie set over https by autodiscover.<domain> is not sent to its plain-HTTP URL."""
    web.route(
        f"https://autodiscover.example.test{PATH}",
        Response(404, [("Set-Cookie", "session=abc; Path=/"), ("Content-Type", "text/plain")]),
    )
    run(web.network())
    (get,) = web.requests(scheme="http")
    assert get.header("Cookie") is None


def test_plain_http_401_never_gets_credentials(web: Any) -> None:
    """A 401 on the plain GET is a dead end: nothing is sent again, with or without TLS."""
    web.route(
        f"http://autodiscover.example.test{PATH}", challenge_then(Response.xml(settings_xml()))
    )
    run(web.network())
    (get,) = web.requests(scheme="http")
    assert get.header("Authorization") is None


def test_srv_record_redirects_to_its_https_target(web: Any) -> None:
    """Step 4: _autodiscover._tcp.<domain> points to https://<target>:<port>/..."""
    web.route(f"https://mail.srvdomain.test{PATH}", Response.xml(settings_xml()))
    attempts = run(web.network(extra={"mail.srvdomain.test:8443": "https"}), "ann@srvdomain.test")
    assert [a.target for a in attempts] == [
        f"https://srvdomain.test{PATH}",
        f"https://autodiscover.srvdomain.test{PATH}",
        f"http://autodiscover.srvdomain.test{PATH}",
        "_autodiscover._tcp.srvdomain.test",
        f"https://mail.srvdomain.test:8443{PATH}",
    ]
    assert f"redirected to https://mail.srvdomain.test:8443{PATH}" in attempts[3].reason
    assert attempts[-1].outcome is Outcome.FOUND


# -- redirects: counting, loops, addresses -----------------------------------------------


def chain(web: Any, hops: int) -> None:
    """Step 1 redirects ``hops`` times, alternating HTTP 3xx and XML redirectUrl, then
    the last URL has settings."""
    statuses = (301, 302, 303, 307, 308)
    for hop in range(hops):
        here = f"https://example.test{PATH}" if hop == 0 else f"https://example.test/hop/{hop}"
        there = f"https://example.test/hop/{hop + 1}"
        if hop % 2:
            web.route(here, Response.xml(redirect_url_xml(there)))
        else:
            web.route(here, Response.redirect(there, status=statuses[hop % 5]))
    web.route(f"https://example.test/hop/{hops}", Response.xml(settings_xml()))


def test_ten_redirects_are_followed(web: Any) -> None:
    """Ten redirects of mixed kinds (3xx and redirectUrl) are followed to the settings."""
    chain(web, 10)
    attempts = run(web.network())
    assert found(attempts).target == "https://example.test/hop/10"
    assert len(web.requests()) == 11


def test_the_eleventh_redirect_is_refused(web: Any) -> None:
    """An eleventh redirect ends the run: not followed, and no further step is tried."""
    chain(web, 11)
    attempts = run(web.network())
    assert attempts[-1].outcome is Outcome.REFUSED
    assert "redirect number 11 refused" in attempts[-1].reason
    assert not [a for a in attempts if a.outcome is Outcome.FOUND]
    assert len(web.requests()) == 11  # /hop/11 never asked
    assert web.requests("autodiscover.example.test") == []


def test_url_loop_is_detected(web: Any) -> None:
    """A -> B -> A is refused as a loop; the next step is still tried."""
    a, b = f"https://example.test{PATH}", "https://example.test/b"
    web.route(a, Response.redirect(b))
    web.route(b, Response.xml(redirect_url_xml(a)))
    web.route(f"https://autodiscover.example.test{PATH}", Response.xml(settings_xml()))
    attempts = run(web.network())
    assert any("loop" in x.reason for x in attempts if x.outcome is Outcome.REFUSED)
    assert [r.path for r in web.requests("example.test")] == [PATH, "/b"]
    assert found(attempts).target == f"https://autodiscover.example.test{PATH}"


def test_redirect_addr_starts_again_with_the_new_address(web: Any) -> None:
    """redirectAddr: the steps start over for the new address, whose POST carries it."""
    web.route(
        f"https://example.test{PATH}", Response.xml(redirect_addr_xml("ann.b@mail.example.test"))
    )
    web.route(f"https://autodiscover.mail.example.test{PATH}", Response.xml(settings_xml()))
    net = web.network()
    web.route(f"https://mail.example.test{PATH}", Response.xml(settings_xml("imap.example.test")))
    hit = found(run(net))
    assert hit.target == f"https://mail.example.test{PATH}"
    assert (
        b"<EMailAddress>ann.b@mail.example.test</EMailAddress>"
        in web.requests("mail.example.test")[0].body
    )
    assert hit.endpoints[0].username == "ann.b"  # the local part of the address asked


def test_address_loop_is_detected(web: Any) -> None:
    """ann -> bob -> ann through redirectAddr is refused as a loop."""
    web.route(f"https://example.test{PATH}", Response.xml(redirect_addr_xml("bob@hoster.test")))
    web.route(f"https://hoster.test{PATH}", Response.xml(redirect_addr_xml("ann@example.test")))
    attempts = run(web.network(consent=lambda request: True))
    (loop,) = [a for a in attempts if "address loop" in a.reason]
    assert (loop.target, loop.outcome) == (f"https://hoster.test{PATH}", Outcome.REFUSED)
    assert "ann@example.test asked already" in loop.reason
    assert len(web.requests("example.test")) == 1  # ann's steps are not run again


def test_redirect_addr_to_a_foreign_domain_needs_consent(web: Any) -> None:
    """The new address's hosts are foreign: without consent nothing is sent there."""
    web.route(f"https://example.test{PATH}", Response.xml(redirect_addr_xml("ann@hoster.test")))
    attempts = run(web.network())
    assert web.requests("hoster.test") == []
    assert web.requests("autodiscover.hoster.test") == []
    assert not [a for a in attempts if a.outcome is Outcome.FOUND]


# -- foreign hosts, consent and credentials ------------------------------------------


def test_foreign_redirect_without_consent_reaches_nothing(web: Any) -> None:
    """A redirect to another domain, consent refused: the foreign host gets no request."""
    target = f"https://autodiscover.hoster.test{PATH}"
    web.route(f"https://example.test{PATH}", Response.redirect(target))
    web.route(target, challenge_then(Response.xml(settings_xml())))
    asked: list[ConsentRequest] = []

    def refuse(request: ConsentRequest) -> bool:
        asked.append(request)
        return False

    attempts = run(web.network(consent=refuse))
    assert web.requests("autodiscover.hoster.test") == []
    (request,) = asked
    assert (request.kind, request.host, request.domain) == (
        ConsentKind.FOREIGN_HOST,
        "autodiscover.hoster.test",
        "example.test",
    )
    assert request.reason == f"redirected from https://example.test{PATH}"
    refused = next(a for a in attempts if a.target == target)
    assert refused.outcome is Outcome.REFUSED
    assert "nothing sent" in refused.reason


def test_foreign_redirect_with_consent_gets_credentials_only_after_401(web: Any) -> None:
    """With consent the foreign host is asked, first without, then (after 401) with them."""
    target = f"https://autodiscover.hoster.test{PATH}"
    web.route(f"https://example.test{PATH}", Response.redirect(target))
    web.route(target, challenge_then(Response.xml(settings_xml("mail.hoster.test"))))
    hit = found(run(web.network(consent=lambda request: True)))
    assert hit.endpoints[0].host == "mail.hoster.test"
    first, second = web.requests("autodiscover.hoster.test")
    assert first.header("Authorization") is None
    assert second.header("Authorization") == BASIC
    assert web.requests("example.test")[0].header("Authorization") is None


def test_same_site_401_gets_credentials_and_without_password_stops(web: Any) -> None:
    """A same-site 401 is answered once with Basic; without a password it is a dead end."""
    web.route(f"https://example.test{PATH}", challenge_then(Response.xml(settings_xml())))
    assert found(run(web.network())).target == f"https://example.test{PATH}"
    assert [r.header("Authorization") for r in web.requests()] == [None, BASIC]
    web.https.clear()
    AutodiscoverProvider.clear_cache()
    attempts = run(web.network(), password=None)
    assert "none given" in attempts[0].reason
    assert authorized_hosts(web) == set()


def test_refused_credentials_are_an_error_not_a_loop(web: Any) -> None:
    """A second 401 (wrong password) ends that URL with ERROR; nothing is retried."""
    web.route(f"https://example.test{PATH}", challenge_then(Response.xml(settings_xml()), "x"))
    attempts = run(web.network())
    assert attempts[1].outcome is Outcome.ERROR
    assert "credentials were refused" in attempts[1].reason
    assert len(web.requests("example.test")) == 2


@pytest.mark.parametrize("email", ["a@test", "a@co.uk", "a@github.io", "a@TEST."])
def test_public_suffix_is_never_asked(web: Any, email: str) -> None:
    """An address in a public suffix stops before anything (no autodiscover.<tld>)."""
    suffixes = ("test", "co.uk", "github.io")
    hosts = [*suffixes, *(f"autodiscover.{s}" for s in suffixes)]
    net = web.network(extra={f"{host}:{port}": "https" for host in hosts for port in (80, 443)})
    (attempt,) = run(net, email)
    assert attempt.outcome is Outcome.REFUSED
    assert "public suffix" in attempt.reason
    assert web.requests() == []


def test_untrusted_certificate_is_an_error_and_nothing_is_sent(web: Any) -> None:
    """A certificate from an unknown CA fails step 1 with ERROR; step 2 still runs."""
    with TestCA(names=["example.test"]) as stranger, HTTPSServer(ca=stranger) as rogue:
        rogue.route("*", PATH, Response.xml(settings_xml("mail.rogue.test")))
        web.route(f"https://autodiscover.example.test{PATH}", Response.xml(settings_xml()))
        attempts = run(web.network(extra={"example.test:443": f"127.0.0.1:{rogue.port}"}))
        assert rogue.requests == []
    assert attempts[0].outcome is Outcome.ERROR
    assert "TLS failed" in attempts[0].reason
    assert found(attempts).target == f"https://autodiscover.example.test{PATH}"


@pytest.mark.parametrize(
    ("names", "expired", "reason"),
    [(["elsewhere.test"], False, "match"), (["example.test"], True, "expired")],
    ids=["wrong-host", "expired"],
)
def test_invalid_certificate_from_a_trusted_ca_is_an_error(
    web: Any, names: list[str], expired: bool, reason: str
) -> None:
    """A trusted CA's certificate for other names, or one whose validity has ended, is
    refused for example.test; nothing is sent, and the next location is tried."""
    with TestCA(names=names, expired=expired) as other, HTTPSServer(ca=other) as bad:
        bad.route("*", PATH, Response.xml(settings_xml("mail.bad.test")))
        web.route(f"https://autodiscover.example.test{PATH}", Response.xml(settings_xml()))
        net = web.network(
            extra={"example.test:443": f"127.0.0.1:{bad.port}"},
            ca_bundle=web.ca.read_bytes() + other.ca_pem.read_bytes(),
        )
        attempts = run(net)
        assert bad.requests == []
    assert attempts[0].outcome is Outcome.ERROR
    assert "TLS failed" in attempts[0].reason
    assert reason in attempts[0].reason
    assert found(attempts).target == f"https://autodiscover.example.test{PATH}"


# -- bad answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<Autodiscover><Response><Account>", "not well-formed"),
        (
            '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            "<Autodiscover>&x;</Autodiscover>",
            "Autodiscover",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            "<Autodiscover>&c;</Autodiscover>",
            "Autodiscover",
        ),
        ("x" * 2_000_000, "exceeds"),
    ],
    ids=["malformed", "xxe", "billion-laughs", "oversize"],
)
def test_bad_answers_are_quick_errors(web: Any, body: str, reason: str) -> None:
    """Malformed, hostile or oversize answers give an ERROR attempt, quickly."""
    web.route(f"https://example.test{PATH}", Response.xml(body))
    start = time.monotonic()
    attempts = run(web.network())
    assert time.monotonic() - start < 3
    assert attempts[0].outcome is Outcome.ERROR
    assert reason in attempts[0].reason


def test_oversize_body_without_length_is_cut_off(discovery_ca: TestCA) -> None:
    """A body streamed without Content-Length is read only up to the cap (a raw TLS socket
    server stands in here: the test bed's HTTPSServer always sends a Content-Length)."""
    listener = socket.create_server(("127.0.0.1", 0))
    context = discovery_ca.server_context()

    def serve() -> None:
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            received = b""
            while b"</Autodiscover>" not in received:  # read it all: unread data means RST
                received += tls.recv(65536)
            tls.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\n\r\n")
            try:
                for _ in range(64):  # 4 MiB, far past the 1 MiB cap
                    tls.sendall(b"<" * 65536)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    net = Network(
        overrides={"example.test:443": f"127.0.0.1:{listener.getsockname()[1]}"},
        ca_bundle=discovery_ca.ca_pem,
        timeouts=Timeouts(connect=2, read=5),
    )
    provider = AutodiscoverProvider(net)
    attempt = next(iter(provider.discover("ann@example.test")))
    listener.close()
    assert attempt.outcome is Outcome.ERROR
    assert "exceeds" in attempt.reason


def test_error_answer_is_an_error_attempt(web: Any) -> None:
    """An <Error> answer is an ERROR attempt naming the code; the next step still runs."""
    web.route(f"https://example.test{PATH}", Response.xml(ERROR_XML))
    web.route(f"https://autodiscover.example.test{PATH}", Response.xml(settings_xml()))
    attempts = run(web.network())
    assert attempts[0].outcome is Outcome.ERROR
    assert "600" in attempts[0].reason
    assert attempts[1].outcome is Outcome.FOUND


def test_credentials_never_in_logs_or_trace(web: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the password nor the Basic token appears in a log record or a trace entry."""
    caplog.set_level("DEBUG")
    target = f"https://autodiscover.hoster.test{PATH}"
    web.route(f"https://example.test{PATH}", challenge_then(Response.redirect(target)))
    web.route(target, challenge_then(Response.xml(settings_xml())))
    attempts = run(web.network(consent=lambda request: True))
    found(attempts)
    token = BASIC.split()[1]
    text = caplog.text + "\n".join(str(a) + repr(a) for a in attempts)
    assert PASSWORD not in text
    assert token not in text
    assert len(caplog.records) >= len(attempts)


# -- cache and local override ----------------------------------------------------------


def test_answers_are_cached_for_their_ttl(web: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second run within the TTL asks nobody; after it, the servers are asked again."""
    now = [dt.datetime(2030, 1, 1, tzinfo=dt.UTC)]
    monkeypatch.setattr(AutodiscoverProvider, "clock", staticmethod(lambda: now[0]))
    web.route(f"https://example.test{PATH}", Response.xml(settings_xml(TTL="2")))
    net = web.network()
    first = found(run(net))
    (cached,) = run(net)
    assert cached.outcome is Outcome.FOUND
    assert cached.endpoints == first.endpoints
    assert "cached" in cached.reason
    assert len(web.requests()) == 1
    now[0] += dt.timedelta(hours=2, seconds=1)
    assert "cached" not in found(run(net)).reason
    assert len(web.requests()) == 2
    AutodiscoverProvider.clear_cache()
    run(net)
    assert len(web.requests()) == 3


def test_cache_keeps_no_credentials_and_rechecks_consent(web: Any) -> None:
    """A cached answer that came through a consented host needs that consent again."""
    target = f"https://autodiscover.hoster.test{PATH}"
    web.route(f"https://example.test{PATH}", Response.redirect(target))
    web.route(target, challenge_then(Response.xml(settings_xml())))
    first = found(run(web.network(consent=lambda request: True)))
    assert all(e.password is None for e in first.endpoints)
    (cached,) = run(web.network(consent=lambda request: True))
    assert "cached" in cached.reason
    before = len(web.requests())
    attempts = run(web.network())  # no consent: the cache is not used, hoster not asked
    assert not [a for a in attempts if a.outcome is Outcome.FOUND]
    assert len(web.requests("autodiscover.hoster.test")) == 2
    assert len(web.requests()) > before


def test_local_override_only_when_the_servers_have_nothing(web: Any, tmp_path: Path) -> None:
    """The local XML is the last resort; a server answer always wins over it."""
    local = settings_xml("local.example.test")
    (tmp_path / "example.test.xml").write_text(local)
    for provider in (
        AutodiscoverProvider.with_overrides({"Example.TEST": local.encode()}),
        AutodiscoverProvider.with_overrides(directory=tmp_path),
    ):
        assert provider.name == "autodiscover"
        hit = found(list(provider(web.network()).discover("ann@example.test")))
        assert hit.endpoints[0].host == "local.example.test"
        assert "local XML" in hit.reason
        AutodiscoverProvider.clear_cache()
    web.route(f"https://autodiscover.example.test{PATH}", Response.xml(settings_xml()))
    provider = AutodiscoverProvider.with_overrides({"example.test": local.encode()})
    hit = found(list(provider(web.network()).discover("ann@example.test")))
    assert hit.endpoints[0].host == "mail.example.test"


def test_override_subclass_replaces_the_builtin_in_a_plugin_manager() -> None:
    """As docs/discovery.md shows: block the built-in module, register the subclass."""
    import openprotocols
    from openprotocols.plugins import get_plugin_manager

    provider = AutodiscoverProvider.with_overrides({"example.test": b"<x/>"})

    class LocalAutodiscover:
        @openprotocols.hookimpl
        def openprotocols_register_discovery_providers(self, registry: Any) -> None:
            registry.add(provider)

    pm = get_plugin_manager(
        entry_points=False,
        blocked=["openprotocols.backends.autodiscover"],
        plugins=[LocalAutodiscover()],
    )
    assert pm.discovery_providers().get("autodiscover") is provider
    assert pm.discovery_providers().ordered()[0] is provider


# -- settings to endpoints (pure) --------------------------------------------------------


@pytest.mark.parametrize(
    ("elements", "port", "security"),
    [
        ({"SSL": "on"}, 993, Security.SSL),
        ({"SSL": "on"}, 143, Security.STARTTLS),
        ({"SSL": "1"}, 465, Security.SSL),
        ({"SSL": "on"}, 587, Security.STARTTLS),
        ({"SSL": "on"}, 25, Security.STARTTLS),
        ({"SSL": "off"}, 143, Security.NONE),
        ({"SSL": "0"}, 993, Security.NONE),
        ({"Encryption": "TLS"}, 993, Security.STARTTLS),
        ({"Encryption": "SSL"}, 143, Security.SSL),
        ({"Encryption": "None", "SSL": "on"}, 993, Security.NONE),
        ({"Encryption": "Auto"}, 587, Security.STARTTLS),
    ],
)
def test_security_from_ssl_and_encryption(
    elements: dict[str, str], port: int, security: Security
) -> None:
    """SSL on/off and Encryption map to implicit TLS, STARTTLS or clear text."""
    response = parse_response(
        document(
            "<Action>settings</Action>" + protocol("IMAP", "m.example.test", port, **elements)
        ).encode()
    )
    (endpoint,), _ = endpoints_from(response, "ann@example.test")
    assert (endpoint.port, endpoint.security) == (port, security)


def test_login_names_and_notes() -> None:
    """LoginName wins; else the local part (noted); other types are kept in the notes."""
    response = parse_response(
        document(
            "<Action>settings</Action>"
            + protocol("POP3", "pop.example.test", 995, LoginName="ann@example.test")
            + protocol("SMTP", "smtp.example.test", 25, AuthRequired="off", SMTPLast="on")
            + "<Protocol><Type>EXPR</Type><Server>ex.example.test</Server></Protocol>"
            + "<Protocol><Type>WEB</Type><Server>https://web.example.test/</Server></Protocol>"
        ).encode()
    )
    (pop, smtp), notes = endpoints_from(response, "ann@example.test")
    assert (pop.protocol, pop.username, pop.security) == ("pop3", "ann@example.test", Security.SSL)
    assert (smtp.username, smtp.auth) == ("ann", AuthMechanism.NONE)
    assert "local part 'ann'" in notes[1]
    assert "SMTPLast" in notes[1]
    assert notes[2:] == [
        "EXPR at ex.example.test not used",
        "WEB at https://web.example.test/ not used",
    ]


def test_registered_as_a_builtin_provider() -> None:
    """The provider is registered by the built-in plugins, before autoconfig and SRV."""
    from openprotocols.plugins import get_plugin_manager

    registry = get_plugin_manager(entry_points=False).discovery_providers()
    assert registry.get("autodiscover") is AutodiscoverProvider
    assert AutodiscoverProvider.order == 20


# -- generated: no credentials ever leave the permitted hosts --------------------------

GRAPH_HOSTS = (
    "example.test",
    "autodiscover.example.test",
    "mail.example.test",
    "hoster.test",
    "autodiscover.hoster.test",
    "evil.test",
)
NODES = [(host, path) for host in GRAPH_HOSTS for path in (PATH, "/n1", "/n2")]

node = st.sampled_from(NODES)
behaviour = st.one_of(
    st.tuples(st.just("404")),
    st.tuples(st.just("settings")),
    st.tuples(st.just("challenge-settings")),
    st.tuples(st.sampled_from(["301", "302", "307", "308"]), node, st.booleans()),
    st.tuples(st.just("xml-redirect"), node, st.booleans()),
    st.tuples(st.just("challenge-redirect"), node, st.booleans()),
    st.tuples(
        st.just("redirect-addr"),
        st.sampled_from(["bob@hoster.test", "ann@evil.test", "x@mail.example.test"]),
    ),
)


def _url(target: tuple[str, str], secure: bool) -> str:
    host, path = target
    return f"{'https' if secure else 'http'}://{host}{path}"


def _serve(plan: dict[tuple[str, str], tuple[Any, ...]]) -> Callable[[str, Request], Response]:
    def serve(host: str, request: Request) -> Response:
        kind, *args = plan.get((host, request.path), ("404",))
        if kind.startswith("challenge") and request.header("Authorization") is None:
            return Response(401, {"WWW-Authenticate": "Basic"}, "")
        if kind in ("settings", "challenge-settings"):
            response = Response.xml(settings_xml(), status=405)
        elif kind in ("301", "302", "307", "308"):
            response = Response.redirect(_url(args[0], args[1]), status=int(kind))
        elif kind in ("xml-redirect", "challenge-redirect"):
            response = Response.xml(redirect_url_xml(_url(args[0], args[1])))
        elif kind == "redirect-addr":
            response = Response.xml(redirect_addr_xml(args[0]))
        else:
            response = Response(404)
        return response

    return serve


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.dictionaries(node, behaviour, max_size=12),
    consent=st.dictionaries(st.sampled_from(GRAPH_HOSTS), st.booleans()),
    password=st.booleans(),
)
def test_credentials_never_leave_the_permitted_hosts(
    web: Any, plan: dict[tuple[str, str], tuple[Any, ...]], consent: dict[str, bool], password: bool
) -> None:
    """Over random redirect graphs and consent answers, a request carrying credentials (or
    the password anywhere) only ever reaches a same-site or consented host, over TLS."""
    AutodiscoverProvider.clear_cache()
    web.https.clear()
    web.http.clear()
    serve = _serve(plan)
    for host in GRAPH_HOSTS:
        for path in (PATH, "/n1", "/n2"):
            web.route(f"https://{host}{path}", lambda request, host=host: serve(host, request))
            web.route(f"http://{host}{path}", lambda request, host=host: serve(host, request))
    asked: list[str] = []

    def answer(request: ConsentRequest) -> bool:
        asked.append(request.host)
        return consent.get(request.host, False)

    attempts = run(web.network(consent=answer), password=SECRET if password else None)
    assert_only_permitted_hosts(web, "example.test", GRAPH_HOSTS, asked, consent, password)
    assert sum(1 for a in attempts if a.outcome is Outcome.FOUND) <= 1


def assert_only_permitted_hosts(
    web: Any,
    domain: str,
    hosts: Iterable[str],
    asked: list[str],
    consent: dict[str, bool],
    password: bool,
    *,
    once: bool = True,
) -> None:
    """Every request went to a host in ``domain``'s site or one the user approved when
    asked (``once``: asked at most once per host); credentials (and the password) only
    over TLS, after a 401 for the same URL."""
    permitted = {h for h in hosts if same_site(h, domain)}
    permitted |= {h for h, yes in consent.items() if yes and h in asked}
    challenged: set[tuple[str | None, str]] = set()
    for request in web.https.requests + web.http.requests:
        host = (request.header("Host") or "").partition(":")[0]
        assert host in permitted  # nothing at all reaches a host without consent
        assert PASSWORD.encode() not in request.body
        assert PASSWORD not in request.path
        if request.header("Authorization") is None:
            challenged.add((request.header("Host"), request.path))
        else:  # only over TLS, and only after the same URL was asked without credentials
            assert request.tls
            assert password
            assert (request.header("Host"), request.path) in challenged
    if once:
        assert len(asked) == len(set(asked))


AUTOCONFIG_PATHS = ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml")


def _spelled(data: st.DataObject, domain: str) -> str:
    """``domain`` as a user might type it: its U-label form for an IDN, random letter
    case, and maybe a trailing dot."""
    name = domain.encode("ascii").decode("idna")
    name = "".join(c.upper() if data.draw(st.booleans()) else c for c in name)
    return name + ("." if data.draw(st.booleans()) else "")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), password=st.booleans())
def test_domain_shapes_keep_credentials_inside_the_site(
    web: Any, domain_shapes: dict[str, tuple[str, ...]], data: st.DataObject, password: bool
) -> None:
    """Over user domains of every shape (a multi-label public suffix, a private PSL
    suffix, an IDN, a subdomain of the registrable domain; typed in any letter case, with
    or without a trailing dot), random redirect graphs among the domain's hosts, its
    foreign siblings and its public suffix, and random consent answers: Autodiscover and
    autoconfig reach only same-site or consented hosts, and credentials only over TLS."""
    AutodiscoverProvider.clear_cache()
    web.https.clear()
    web.http.clear()
    domain = data.draw(st.sampled_from(sorted(domain_shapes)), label="domain")
    hosts = [
        name
        for base in (domain, *domain_shapes[domain])
        for name in (base, f"autodiscover.{base}", f"autoconfig.{base}")
    ]
    paths = (PATH, "/n1", *AUTOCONFIG_PATHS)
    nodes = [(host, path) for host in hosts for path in paths]
    node = st.sampled_from(nodes)
    shaped = st.one_of(
        st.tuples(st.just("404")),
        st.tuples(st.just("settings")),
        st.tuples(st.just("challenge-settings")),
        st.tuples(st.sampled_from(["301", "302", "307", "308"]), node, st.booleans()),
        st.tuples(st.just("xml-redirect"), node, st.booleans()),
        st.tuples(st.just("challenge-redirect"), node, st.booleans()),
        st.tuples(st.just("redirect-addr"), st.sampled_from([f"bob@{h}" for h in hosts])),
    )
    entries = [
        (domain, PATH),
        (f"autodiscover.{domain}", PATH),
        (f"autoconfig.{domain}", AUTOCONFIG_PATHS[0]),
        (domain, AUTOCONFIG_PATHS[1]),
    ]  # where the providers start: always answered, so that the graph is reached
    plan = data.draw(st.fixed_dictionaries(dict.fromkeys(entries, shaped)), label="entries")
    plan |= data.draw(st.dictionaries(node, shaped, max_size=10), label="plan")
    consent = data.draw(st.dictionaries(st.sampled_from(hosts), st.booleans()), label="consent")
    email = f"ann@{_spelled(data, domain)}"
    serve = _serve(plan)
    for host in hosts:
        for path in paths:
            web.route(f"https://{host}{path}", lambda request, host=host: serve(host, request))
            web.route(f"http://{host}{path}", lambda request, host=host: serve(host, request))
    asked: list[list[str]] = []

    def answer(request: ConsentRequest) -> bool:
        asked[-1].append(request.host)
        return consent.get(request.host, False)

    net = web.network(consent=answer)
    secret = SECRET if password else None
    for provider in (AutodiscoverProvider(net), AutoconfigProvider(net)):
        asked.append([])
        attempts = list(provider.discover(email, password=secret))
        assert attempts  # every provider says what it did, even when refusing
        assert len(asked[-1]) == len(set(asked[-1]))  # (discover() shares answers among them)
    everyone = [host for hosts_asked in asked for host in hosts_asked]
    assert_only_permitted_hosts(web, domain, hosts, everyone, consent, password, once=False)
