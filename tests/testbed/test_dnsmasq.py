"""dnsmasq answers real DNS queries for the records it is given."""

from __future__ import annotations

import dns.resolver
import pytest

from openprotocols.testing.pytest_plugin import DnsmasqFactory
from openprotocols.testing.servers import (
    CNAMERecord,
    DnsmasqServer,
    DNSRecord,
    HostRecord,
    MXRecord,
    SRVRecord,
    TXTRecord,
)

RECORDS = (
    SRVRecord("_caldavs._tcp.example.test", "dav.example.test", 8443, priority=10, weight=5),
    SRVRecord("_caldavs._tcp.example.test", "dav2.example.test", 443, priority=20, weight=1),
    SRVRecord.no_service("_carddav._tcp.example.test"),
    TXTRecord("_caldavs._tcp.example.test", "path=/dav/calendars/"),
    TXTRecord("multi.example.test", "a, with comma", 'quote " and \\ backslash'),
    HostRecord("dav.example.test", "127.0.0.1", "::1"),
    HostRecord("dav2.example.test", "127.0.0.2"),
    CNAMERecord("www.example.test", "dav.example.test"),
    MXRecord("example.test", "mail.example.test", 5),
)


@pytest.fixture(scope="module")
def dns_server(dnsmasq: DnsmasqFactory) -> DnsmasqServer:
    """A dnsmasq serving RECORDS."""
    return dnsmasq(RECORDS)


def test_srv_records(dns_server: DnsmasqServer) -> None:
    """SRV answers carry the configured priority, weight, port and target of every record."""
    answer = dns_server.resolver().resolve("_caldavs._tcp.example.test", "SRV")
    got = sorted((r.priority, r.weight, r.port, r.target.to_text()) for r in answer)
    assert got == [(10, 5, 8443, "dav.example.test."), (20, 1, 443, "dav2.example.test.")]


def test_srv_no_service(dns_server: DnsmasqServer) -> None:
    """SRVRecord.no_service yields the RFC 2782 "no service" record: target "." and port 0."""
    [record] = dns_server.resolver().resolve("_carddav._tcp.example.test", "SRV")
    assert (record.target.to_text(), record.port) == (".", 0)


def test_txt_records(dns_server: DnsmasqServer) -> None:
    """TXT answers keep each string, including commas, quotes and backslashes."""
    resolver = dns_server.resolver()
    [path] = resolver.resolve("_caldavs._tcp.example.test", "TXT")
    [multi] = resolver.resolve("multi.example.test", "TXT")
    assert path.strings == (b"path=/dav/calendars/",)
    assert multi.strings == (b"a, with comma", b'quote " and \\ backslash')


def test_host_records_are_exact(dns_server: DnsmasqServer) -> None:
    """A and AAAA come from host-record, which does not answer for subdomains."""
    resolver = dns_server.resolver()
    assert [r.address for r in resolver.resolve("dav.example.test", "A")] == ["127.0.0.1"]
    assert [r.address for r in resolver.resolve("dav.example.test", "AAAA")] == ["::1"]
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("sub.dav.example.test", "A")


def test_cname_and_mx(dns_server: DnsmasqServer) -> None:
    """A CNAME to a host record is followed to its address; MX has its preference."""
    resolver = dns_server.resolver()
    answer = resolver.resolve("www.example.test", "A")
    assert answer.canonical_name.to_text() == "dav.example.test."
    assert [r.address for r in answer] == ["127.0.0.1"]
    [mx] = resolver.resolve("example.test", "MX")
    assert (mx.preference, mx.exchange.to_text()) == (5, "mail.example.test.")


def test_unknown_names(dns_server: DnsmasqServer) -> None:
    """Unknown names under .test get NXDOMAIN; names outside it are refused (no upstream)."""
    resolver = dns_server.resolver()
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("_imaps._tcp.example.test", "SRV")
    with pytest.raises(dns.resolver.NoNameservers):
        resolver.resolve("example.com", "A")


def test_factory_shares_servers_by_record_set(
    dnsmasq: DnsmasqFactory, dns_server: DnsmasqServer
) -> None:
    """The factory returns the running server for a known record set, a new one otherwise."""
    assert dnsmasq(RECORDS) is dns_server
    other = dnsmasq([HostRecord("other.example.test", "127.0.0.3")])
    assert other is not dns_server
    assert other.port != dns_server.port
    [a] = other.resolver().resolve("other.example.test", "A")
    assert a.address == "127.0.0.3"
    with pytest.raises(dns.resolver.NXDOMAIN):
        other.resolver().resolve("dav.example.test", "A")


async def _resolve_async(server: DnsmasqServer) -> list[str]:
    answer = await server.async_resolver().resolve("dav2.example.test", "A")
    return [r.address for r in answer]


def test_async_resolver(dns_server: DnsmasqServer) -> None:
    """async_resolver() asks the same server through dnspython's asyncio resolver."""
    import asyncio

    assert asyncio.run(_resolve_async(dns_server)) == ["127.0.0.2"]


@pytest.mark.parametrize(
    "record",
    [
        HostRecord("bad,name.test"),
        TXTRecord("x.test", "line\nbreak"),
        SRVRecord("_x._tcp.test", "t.test", 70000),
        HostRecord("noaddress.test", None, None),
    ],
)
def test_records_that_would_corrupt_the_config_are_refused(record: DNSRecord) -> None:
    """Records that cannot be written safely into dnsmasq.conf raise ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011 - each record fails for its own reason
        DnsmasqServer([record])
