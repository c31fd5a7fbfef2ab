"""The network layer without servers: overrides, consent, trust settings."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from openprotocols.errors import ConfigurationError, ConnectionError, ConsentRequired
from openprotocols.network import ConsentKind, ConsentRequest, Network, Override, Timeouts


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("example.test", "127.0.0.1", Override("example.test", None, "127.0.0.1", None)),
        ("Example.TEST.:443", "127.0.0.1:8443", Override("example.test", 443, "127.0.0.1", 8443)),
        ("[::1]:993", "[::1]:10993", Override("::1", 993, "::1", 10993)),
        ("host.test", "::1", Override("host.test", None, "::1", None)),
    ],
)
def test_override_parse(source: str, target: str, expected: Override) -> None:
    """Overrides parse host, optional port, IPv6 in brackets, and normalise case."""
    assert Override.parse(source, target) == expected


@pytest.mark.parametrize("bad", ["", ":443", "host:port", "host:70000"])
def test_override_parse_refuses_garbage(bad: str) -> None:
    """A malformed override is a ConfigurationError naming the text."""
    with pytest.raises(ConfigurationError):
        Override.parse(bad, "127.0.0.1")


def test_target_applies_first_matching_override() -> None:
    """A port-specific override wins for its port; others fall through."""
    net = Network(overrides={"a.test:443": "127.0.0.1:8443", "a.test": "127.0.0.2"})
    assert net.target("a.test", 443) == ("127.0.0.1", 8443)
    assert net.target("A.test", 993) == ("127.0.0.2", 993)
    assert net.target("b.test", 443) == ("b.test", 443)
    assert net.resolve("a.test", 443) == [("127.0.0.1", 8443)]


def test_consent_is_refused_without_callback() -> None:
    """Without a consent callback, anything needing consent raises ConsentRequired."""
    request = ConsentRequest(
        kind=ConsentKind.CLEAR_TEXT,
        protocol="imap",
        host="mail.test",
        port=143,
        reason="the server offers no TLS",
    )
    with pytest.raises(ConsentRequired) as info:
        Network().require_consent(request)
    assert info.value.reason is request
    assert "imap to mail.test:143 without encryption" in str(info.value)


def test_consent_callback_decides() -> None:
    """The callback sees the request; its answer decides."""
    seen: list[ConsentRequest] = []

    def only_foreign(request: ConsentRequest) -> bool:
        seen.append(request)
        return request.kind is ConsentKind.FOREIGN_HOST

    net = Network(consent=only_foreign)
    foreign = ConsentRequest(
        kind=ConsentKind.FOREIGN_HOST,
        protocol="https",
        host="dav.other.test",
        domain="example.test",
    )
    net.require_consent(foreign)
    with pytest.raises(ConsentRequired):
        net.require_consent(
            ConsentRequest(kind=ConsentKind.CLEAR_TEXT, protocol="smtp", host="mail.example.test")
        )
    assert seen[0] is foreign
    assert str(foreign) == "https to dav.other.test, outside example.test"


def test_ssl_context_verifies_and_requires_tls12() -> None:
    """The TLS context always verifies the chain and the host name."""
    context = Network().ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_missing_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    """A CA bundle path that does not exist is refused when the Network is built."""
    with pytest.raises(ConfigurationError, match="does not exist"):
        Network(ca_bundle=tmp_path / "nope.pem")


def test_connect_to_closed_port_is_connection_error() -> None:
    """Connecting where nothing listens raises our ConnectionError, naming the target."""
    import socket

    with socket.socket() as probe:  # find a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    net = Network(overrides={"closed.test": "127.0.0.1"}, timeouts=Timeouts(connect=2))
    with pytest.raises(ConnectionError, match=f"closed.test:{port}"):
        net.connect("closed.test", port)


def test_http_session_settings() -> None:
    """An HTTP session gets the network's trust, ignores the environment, has timeouts."""
    session = Network(ca_bundle=b"-----BEGIN CERTIFICATE-----\n").http_session()
    try:
        assert session.verify == b"-----BEGIN CERTIFICATE-----\n"
        assert session.trust_env is False
    finally:
        session.close()
