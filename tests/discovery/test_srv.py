"""The SRV discovery provider against a real DNS server (dnsmasq)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from openprotocols.backends.discovery import Outcome
from openprotocols.backends.srv import SrvProvider
from openprotocols.model import Security
from openprotocols.network import ConsentKind, ConsentRequest, Network
from openprotocols.testing.servers import DnsmasqServer, SRVRecord, TXTRecord

pytestmark = pytest.mark.servers

RECORDS = (
    SRVRecord("_imaps._tcp.example.test", "imap1.example.test", 993, priority=10, weight=1),
    SRVRecord("_imaps._tcp.example.test", "imap0.example.test", 10993, priority=0, weight=5),
    SRVRecord("_submission._tcp.example.test", "smtp.example.test", 587),
    SRVRecord.no_service("_pop3s._tcp.example.test"),
    SRVRecord("_caldavs._tcp.example.test", "dav.example.test", 8443),
    TXTRecord("_caldavs._tcp.example.test", "path=/dav/calendars/"),
    SRVRecord("_carddavs._tcp.example.test", "dav.hoster.test", 443),
    SRVRecord("_caldav._tcp.example.test", "dav.example.test", 8080),
)

Factory = Callable[[Iterable[object]], DnsmasqServer]


def attempts(dns: DnsmasqServer, consent: Callable[[ConsentRequest], bool] | None = None):  # type: ignore[no-untyped-def]
    """Run the provider and index its attempts by DNS name."""
    provider = SrvProvider(Network(resolver=dns.resolver(), consent=consent))
    return {a.target: a for a in provider.discover("ann@Example.TEST")}


def test_srv_records_in_rfc_2782_order(dnsmasq: Factory) -> None:
    """Targets come in priority order, with the security the service label implies."""
    found = attempts(dnsmasq(RECORDS))
    imaps = found["_imaps._tcp.example.test"]
    assert imaps.outcome is Outcome.FOUND
    assert [(e.host, e.port) for e in imaps.endpoints] == [
        ("imap0.example.test", 10993),
        ("imap1.example.test", 993),
    ]
    assert {e.security for e in imaps.endpoints} == {Security.SSL}
    assert imaps.endpoints[0].username == "ann@Example.TEST"
    (submission,) = found["_submission._tcp.example.test"].endpoints
    assert (submission.protocol, submission.security) == ("smtp", Security.STARTTLS)


def test_absent_and_no_service_records(dnsmasq: Factory) -> None:
    """A missing record and a "." record are both "not found", with different reasons."""
    found = attempts(dnsmasq(RECORDS))
    assert found["_imap._tcp.example.test"].outcome is Outcome.NOT_FOUND
    pop3s = found["_pop3s._tcp.example.test"]
    assert pop3s.outcome is Outcome.NOT_FOUND
    assert "not available" in pop3s.reason


def test_dav_path_from_txt(dnsmasq: Factory) -> None:
    """The TXT path= record becomes the endpoint's path."""
    (caldav,) = attempts(dnsmasq(RECORDS))["_caldavs._tcp.example.test"].endpoints
    assert (caldav.protocol, caldav.path) == ("caldav", "/dav/calendars/")
    assert caldav.url == "https://dav.example.test:8443/dav/calendars/"


def test_foreign_target_and_clear_text_need_consent(dnsmasq: Factory) -> None:
    """A target outside the domain, and plain HTTP, are refused without consent."""
    found = attempts(dnsmasq(RECORDS))
    carddav = found["_carddavs._tcp.example.test"]
    assert carddav.outcome is Outcome.REFUSED
    assert "dav.hoster.test:443 needs consent (foreign-host)" in carddav.reason
    assert found["_caldav._tcp.example.test"].outcome is Outcome.REFUSED


def test_consent_callback_sees_source_and_target(dnsmasq: Factory) -> None:
    """With consent, the foreign target is used; the callback saw where and why."""
    asked: list[ConsentRequest] = []

    def allow_foreign(request: ConsentRequest) -> bool:
        asked.append(request)
        return request.kind is ConsentKind.FOREIGN_HOST

    found = attempts(dnsmasq(RECORDS), allow_foreign)
    assert found["_carddavs._tcp.example.test"].outcome is Outcome.FOUND
    (request,) = [r for r in asked if r.kind is ConsentKind.FOREIGN_HOST]
    assert (request.host, request.domain) == ("dav.hoster.test", "example.test")
    assert "_carddavs._tcp.example.test" in request.reason
    assert found["_caldav._tcp.example.test"].outcome is Outcome.REFUSED  # clear text: no


def test_registered_as_a_builtin_provider() -> None:
    """The provider is registered by the built-in plugins."""
    from openprotocols.plugins import get_plugin_manager

    assert get_plugin_manager(entry_points=False).discovery_providers().get("srv") is SrvProvider
