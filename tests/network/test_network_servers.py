"""The network layer against real servers: dnsmasq, an HTTPS server and Dovecot."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterable

import niquests
import pytest

from openprotocols.errors import ConnectionError
from openprotocols.network import Network, Timeouts
from openprotocols.testing.servers import (
    DnsmasqServer,
    DovecotServer,
    HostRecord,
    HTTPSServer,
    Response,
    TestCA,
)

pytestmark = pytest.mark.servers

RECORDS = (
    HostRecord("autodiscover.example.test"),
    HostRecord("mail.example.test"),
)


@pytest.fixture
def dns(dnsmasq: Callable[[Iterable[object]], DnsmasqServer]) -> DnsmasqServer:
    """dnsmasq answering for the test domain's hosts."""
    return dnsmasq(RECORDS)


def test_http_resolves_through_the_networks_dns(
    dns: DnsmasqServer, https_server: HTTPSServer, test_ca: TestCA
) -> None:
    """A name only dnsmasq knows reaches the server; TLS is verified against that name."""
    https_server.route("GET", "/hello", Response.text("hi"))
    net = Network(resolver=dns.resolver(), ca_bundle=test_ca.ca_pem)
    with net.http_session() as session:
        answer = session.get(f"https://autodiscover.example.test:{https_server.port}/hello")
    assert (answer.status_code, answer.text) == (200, "hi")
    (request,) = https_server.requests
    assert request.header("Host") == f"autodiscover.example.test:{https_server.port}"


def test_http_override_maps_host_and_port(https_server: HTTPSServer, test_ca: TestCA) -> None:
    """An override sends https://name/ (port 443) to the test server's port."""
    https_server.route("GET", "/x", Response.text("overridden"))
    net = Network(
        overrides={"autodiscover.example.test:443": f"127.0.0.1:{https_server.port}"},
        ca_bundle=test_ca.ca_pem,
    )
    with net.http_session() as session:
        assert session.get("https://autodiscover.example.test/x").text == "overridden"


def test_http_refuses_an_untrusted_certificate(https_server: HTTPSServer) -> None:
    """With system trust only, the test CA's certificate is refused."""
    https_server.route("GET", "/x", Response.text("secret"))
    net = Network(overrides={"autodiscover.example.test": "127.0.0.1"})
    with net.http_session() as session, pytest.raises(niquests.exceptions.SSLError):
        session.get(f"https://autodiscover.example.test:{https_server.port}/x")
    assert https_server.requests == []  # nothing was sent


def test_unknown_name_is_a_connection_error(dns: DnsmasqServer) -> None:
    """A name dnsmasq does not know fails with our ConnectionError, naming the host."""
    net = Network(resolver=dns.resolver(), timeouts=Timeouts(connect=3))
    with pytest.raises(ConnectionError, match=r"cannot resolve nowhere\.example\.test"):
        net.connect("nowhere.example.test", 993)


def test_imap_tls_socket_through_the_network(
    dns: DnsmasqServer, dovecot: DovecotServer, test_ca: TestCA
) -> None:
    """Network.connect plus ssl_context gives a verified TLS link to Dovecot's IMAPS port."""
    assert dovecot.imaps_port is not None
    net = Network(resolver=dns.resolver(), ca_bundle=test_ca.ca_pem)
    raw = net.connect("mail.example.test", dovecot.imaps_port)
    with net.ssl_context().wrap_socket(raw, server_hostname="mail.example.test") as tls:
        greeting = tls.recv(1024)
    assert greeting.startswith(b"* OK")


def test_tls_name_mismatch_is_refused(dovecot: DovecotServer, test_ca: TestCA) -> None:
    """An override never changes the name a certificate is checked against."""
    assert dovecot.imaps_port is not None
    net = Network(overrides={"mail.elsewhere.test": "127.0.0.1"}, ca_bundle=test_ca.ca_pem)
    raw = net.connect("mail.elsewhere.test", dovecot.imaps_port)
    with pytest.raises(ssl.SSLCertVerificationError, match=r"mismatch|doesn't match"):
        net.ssl_context().wrap_socket(raw, server_hostname="mail.elsewhere.test")


def test_read_timeout_is_set_on_sockets(https_server: HTTPSServer) -> None:
    """Sockets from Network.connect carry the read timeout."""
    net = Network(timeouts=Timeouts(connect=2, read=7))
    with net.connect("127.0.0.1", https_server.port) as sock:
        assert isinstance(sock, socket.socket)
        assert sock.gettimeout() == 7
