"""The Mozilla autoconfig provider against real local HTTPS servers and dnsmasq (MX).

Host names are virtual hosts of the ``web`` fixture (see ``conftest.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openprotocols.backends.autoconfig import AutoconfigProvider
from openprotocols.backends.discovery import DiscoveryAttempt, Outcome
from openprotocols.errors import ConfigurationError
from openprotocols.model import Security
from openprotocols.model._base import Secret
from openprotocols.model.accounts import AuthMechanism
from openprotocols.network import ConsentRequest, Network
from openprotocols.testing.servers import Request, Response

pytestmark = pytest.mark.servers

PASSWORD = "s3cr3t-Pa55w0rd"
CONFIG = "/mail/config-v1.1.xml"
WELL_KNOWN = "/.well-known/autoconfig/mail/config-v1.1.xml"


def config_xml(host: str = "mail.example.test", provider: str = "example.test") -> str:
    """A clientConfig with IMAP (SSL), POP3 (plain), SMTP (STARTTLS) and a CalDAV URL."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{provider}">
    <domain>{provider}</domain>
    <displayName>Example</displayName>
    <incomingServer type="imap">
      <hostname>{host}</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>{host}</hostname><port>110</port><socketType>plain</socketType>
      <username>%EMAILLOCALPART%</username><authentication>OAuth2</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>{host}</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
  <calendar type="caldav">
    <serverURL>https://dav.{provider}/cal/%EMAILADDRESS%/</serverURL>
  </calendar>
</clientConfig>
"""


def run(net: Network, email: str = "ann@example.test", **kwargs: Any) -> list[DiscoveryAttempt]:
    """Run the provider (given a password, which it must never send)."""
    provider = kwargs.pop("provider", AutoconfigProvider)
    return list(provider(net).discover(email, password=Secret(PASSWORD)))


def found(attempts: list[DiscoveryAttempt]) -> DiscoveryAttempt:
    """The one attempt that found a configuration."""
    (hit,) = [a for a in attempts if a.outcome is Outcome.FOUND]
    return hit


def no_credentials(requests: list[Request]) -> None:
    """No request carried an Authorization header or the password."""
    for request in requests:
        assert request.header("Authorization") is None
        assert PASSWORD not in request.target
        assert PASSWORD.encode() not in request.body


def test_config_at_autoconfig_host_with_placeholders(web: Any) -> None:
    """autoconfig.<domain> is asked first, with the address; placeholders are filled."""
    web.route(f"https://autoconfig.example.test{CONFIG}", Response.xml(config_xml()))
    attempts = run(web.network())
    hit = found(attempts)
    assert hit.target == f"https://autoconfig.example.test{CONFIG}?emailaddress=ann@example.test"
    assert [(e.protocol, e.port, e.security, e.username, e.auth) for e in hit.endpoints] == [
        ("imap", 993, Security.SSL, "ann@example.test", AuthMechanism.PASSWORD),
        ("pop3", 110, Security.NONE, "ann", AuthMechanism.OAUTH2),
        ("smtp", 587, Security.STARTTLS, "ann@example.test", AuthMechanism.PASSWORD),
        ("caldav", None, Security.SSL, "ann@example.test", AuthMechanism.PASSWORD),
    ]
    assert hit.endpoints[3].url == "https://dav.example.test/cal/ann@example.test/"
    assert "clear-text consent" in hit.reason
    (request,) = web.requests()
    assert (request.method, request.query) == ("GET", "emailaddress=ann@example.test")
    no_credentials(web.requests())


def test_config_at_well_known_url(web: Any) -> None:
    """Without autoconfig.<domain>, the domain's .well-known URL is asked."""
    web.route(f"https://example.test{WELL_KNOWN}", Response.xml(config_xml()))
    attempts = run(web.network())
    assert [a.outcome for a in attempts] == [Outcome.NOT_FOUND, Outcome.FOUND]
    assert attempts[1].target == f"https://example.test{WELL_KNOWN}"


def test_config_from_an_ispdb_directory(web: Any, tmp_path: Path) -> None:
    """A caller-supplied ISPDB directory answers when the domain's servers do not."""
    (tmp_path / "example.test.xml").write_text(config_xml("imap.ispdb.test"))
    provider = AutoconfigProvider.with_ispdb(tmp_path)
    assert provider.name == "autoconfig"
    hit = found(run(web.network(), provider=provider))
    assert hit.target == str(tmp_path / "example.test.xml")
    assert hit.endpoints[0].host == "imap.ispdb.test"
    with pytest.raises(ConfigurationError):
        AutoconfigProvider.with_ispdb(tmp_path / "missing")


def test_mx_based_lookup_with_consent(web: Any, tmp_path: Path) -> None:
    """The MX host's provider is asked only after consent, naming the MX record."""
    web.route(
        f"https://autoconfig.hoster.test{CONFIG}",
        Response.xml(config_xml("mail.hoster.test", "hoster.test")),
    )
    asked: list[ConsentRequest] = []

    def allow(request: ConsentRequest) -> bool:
        asked.append(request)
        return True

    attempts = run(web.network(consent=allow), "ann@mxuser.test")
    hit = found(attempts)
    assert hit.target == f"https://autoconfig.hoster.test{CONFIG}?emailaddress=ann@mxuser.test"
    assert hit.endpoints[0].host == "mail.hoster.test"
    (request,) = asked
    assert (request.host, request.domain) == ("autoconfig.hoster.test", "mxuser.test")
    assert "mx1.hoster.test" in request.reason  # the preferred MX (10), not mx9.evil.test (20)
    no_credentials(web.requests())


def test_mx_based_lookup_without_consent_sends_nothing(web: Any, tmp_path: Path) -> None:
    """Consent refused: neither the provider's server nor its ISPDB entry is used."""
    web.route(f"https://autoconfig.hoster.test{CONFIG}", Response.xml(config_xml()))
    (tmp_path / "hoster.test").write_text(config_xml("mail.hoster.test", "hoster.test"))
    attempts = run(
        web.network(), "ann@mxuser.test", provider=AutoconfigProvider.with_ispdb(tmp_path)
    )
    assert web.requests("autoconfig.hoster.test") == []
    assert attempts[-1].outcome is Outcome.REFUSED
    assert not [a for a in attempts if a.outcome is Outcome.FOUND]


def test_mx_based_lookup_from_the_ispdb_directory(web: Any, tmp_path: Path) -> None:
    """With consent, the MX provider's ISPDB entry (file without .xml) is used first."""
    (tmp_path / "hoster.test").write_text(config_xml("mail.hoster.test", "hoster.test"))
    provider = AutoconfigProvider.with_ispdb(tmp_path)
    hit = found(
        run(web.network(consent=lambda request: True), "ann@mxuser.test", provider=provider)
    )
    assert hit.target == str(tmp_path / "hoster.test")
    assert web.requests("autoconfig.hoster.test") == []


def test_mx_inside_the_domain_is_not_asked_again(web: Any) -> None:
    """An MX host inside the user's own domain adds nothing: no consent, no request."""
    attempts = run(web.network(consent=lambda request: pytest.fail("asked")), "ann@selfmx.test")
    assert "asked already" in attempts[-1].reason


def test_redirects_https_only_and_same_site_or_consented(web: Any) -> None:
    """https -> https same-site is followed; -> http and -> foreign (no consent) are not."""
    first = f"https://autoconfig.example.test{CONFIG}"
    web.route(first, Response.redirect(f"https://mail.example.test{CONFIG}"))
    web.route(f"https://mail.example.test{CONFIG}", Response.xml(config_xml()))
    assert found(run(web.network())).target == f"https://mail.example.test{CONFIG}"

    web.route(first, Response.redirect(f"http://mail.example.test{CONFIG}"))
    web.route(
        f"https://example.test{WELL_KNOWN}",
        Response.redirect(f"https://autoconfig.evil.test{CONFIG}"),
    )
    web.route(f"https://autoconfig.evil.test{CONFIG}", Response.xml(config_xml()))
    attempts = run(web.network())
    assert [a.outcome for a in attempts[:2]] == [Outcome.REFUSED, Outcome.REDIRECTED]
    assert "only https://" in attempts[0].reason
    assert attempts[2].target == f"https://autoconfig.evil.test{CONFIG}"
    assert attempts[2].outcome is Outcome.REFUSED
    assert web.requests("autoconfig.evil.test") == []
    assert web.requests(scheme="http") == []


def test_never_sends_credentials_even_on_401(web: Any) -> None:
    """A 401 is a dead end: autoconfig never answers with credentials."""
    web.route(
        f"https://autoconfig.example.test{CONFIG}", Response(401, {"WWW-Authenticate": "Basic"})
    )
    attempts = run(web.network())
    assert attempts[0].reason == "HTTP 401"
    assert len(web.requests("autoconfig.example.test")) == 1
    no_credentials(web.requests())


@pytest.mark.parametrize(
    ("body", "reason"),
    [("<clientConfig><emailProvider>", "not well-formed"), ("x" * 2_000_000, "exceeds")],
    ids=["malformed", "oversize"],
)
def test_bad_documents_are_errors(web: Any, body: str, reason: str) -> None:
    """A malformed or oversize document is an ERROR attempt; the next place is asked."""
    web.route(f"https://autoconfig.example.test{CONFIG}", Response.xml(body))
    web.route(f"https://example.test{WELL_KNOWN}", Response.xml(config_xml()))
    attempts = run(web.network())
    assert attempts[0].outcome is Outcome.ERROR
    assert reason in attempts[0].reason
    assert attempts[1].outcome is Outcome.FOUND


@pytest.mark.parametrize("email", ["a@test", "a@co.uk", "not-an-address", "a@../../etc"])
def test_public_suffixes_and_bad_addresses_ask_nothing(web: Any, email: str) -> None:
    """A public-suffix domain or a malformed address stops before any request."""
    (attempt,) = run(web.network(), email)
    assert attempt.outcome in (Outcome.REFUSED, Outcome.ERROR)
    assert web.requests() == []


def test_password_never_in_logs_or_trace(web: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The password given to discover() appears in no log record and no trace entry."""
    caplog.set_level("DEBUG")
    web.route(f"https://autoconfig.example.test{CONFIG}", Response.xml(config_xml()))
    attempts = run(web.network())
    assert PASSWORD not in caplog.text
    assert PASSWORD not in "".join(str(a) + repr(a) for a in attempts)


def test_registered_as_a_builtin_provider() -> None:
    """The provider is registered by the built-in plugins, with order 30."""
    from openprotocols.plugins import get_plugin_manager

    registry = get_plugin_manager(entry_points=False).discovery_providers()
    assert registry.get("autoconfig") is AutoconfigProvider
    assert AutoconfigProvider.order == 30
