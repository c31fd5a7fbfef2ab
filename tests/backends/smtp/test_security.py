"""Connection security and authentication against aiosmtpd: TLS always verified, STARTTLS
required, clear text only with consent, typed errors for refused logins."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from openprotocols.backends._probe import CertificateFailure, NoStartTLS
from openprotocols.backends.smtp import SMTPBackend
from openprotocols.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionSecurityError,
    ConsentRequired,
    TimeoutError,
)
from openprotocols.formats import mime
from openprotocols.model import Account, Address, Endpoint
from openprotocols.network import ConsentKind, ConsentRequest, Network, Timeouts
from openprotocols.testing.servers import SMTPServer, TestCA

from .conftest import HOST, smtp_account

ALICE = Address("alice@example.test")
TO = Address("to@example.test")


def message() -> object:
    """A small message to send."""
    return mime.build(from_=ALICE, to=TO, subject="x", text="x\n")


@pytest.fixture(scope="module")
def tls_server(test_ca: TestCA) -> Iterator[SMTPServer]:
    """Implicit TLS ("port 465")."""
    with SMTPServer(security="tls", ca=test_ca) as server:
        yield server


@pytest.fixture(scope="module")
def plain_server() -> Iterator[SMTPServer]:
    """No STARTTLS at all, and AUTH offered in clear text: what a stripping attacker shows."""
    with SMTPServer(security="plain") as server:
        yield server


@pytest.fixture(scope="module")
def oauth_server(test_ca: TestCA) -> Iterator[SMTPServer]:
    """STARTTLS, with AUTH XOAUTH2 accepting alice's token."""
    with SMTPServer(ca=test_ca, tokens={"alice": "token-1"}) as server:
        yield server


def test_wrong_password_is_an_authentication_error(
    smtp_server: SMTPServer, network: Network
) -> None:
    account = smtp_account(smtp_server.port, password="wrong")
    with pytest.raises(AuthenticationError) as caught:
        SMTPBackend(account, network=network).open()
    assert caught.value.backend == "smtp"
    assert caught.value.url == f"smtp://{HOST}:{smtp_server.port}"
    assert "wrong" not in str(caught.value)
    assert [(a.login, a.success) for a in smtp_server.auth_attempts] == [("alice", False)]


def test_auth_login_when_plain_is_not_offered(test_ca: TestCA, network: Network) -> None:
    """A server offering only AUTH LOGIN gets the user name and password that way."""
    with SMTPServer(ca=test_ca, exclude_mechanisms=["PLAIN"]) as server:
        with SMTPBackend(smtp_account(server.port), network=network) as smtp:
            smtp.open()
            smtp.send(message())  # type: ignore[arg-type]
        assert [(a.mechanism, a.login, a.success) for a in server.auth_attempts] == [
            ("LOGIN", "alice", True)
        ]
        assert len(server.messages) == 1


def test_implicit_tls(tls_server: SMTPServer, network: Network) -> None:
    tls_server.clear()
    account = smtp_account(tls_server.port, security="ssl")
    with SMTPBackend(account, network=network) as smtp:
        smtp.send(message())  # type: ignore[arg-type]
    (received,) = tls_server.messages
    assert received.tls
    assert received.login == "alice"


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_an_untrusted_certificate_is_refused_before_any_login(
    security: str, smtp_server: SMTPServer, tls_server: SMTPServer
) -> None:
    tls_server.clear()
    server = smtp_server if security == "starttls" else tls_server
    system_trust = Network(overrides={HOST: "127.0.0.1"})  # the test CA is not trusted
    with pytest.raises(CertificateFailure):
        SMTPBackend(smtp_account(server.port, security=security), network=system_trust).open()
    assert server.auth_attempts == []


def test_a_certificate_for_another_name_is_refused(
    smtp_server: SMTPServer, test_ca: TestCA
) -> None:
    other = "mail.elsewhere.invalid"
    network = Network(overrides={other: "127.0.0.1"}, ca_bundle=test_ca.ca_pem_bytes)
    account = smtp_account(smtp_server.port, host=other)
    with pytest.raises(ConnectionSecurityError):
        SMTPBackend(account, network=network).open()
    assert smtp_server.auth_attempts == []


def test_no_starttls_is_refused_and_no_credential_is_sent(
    plain_server: SMTPServer, network: Network
) -> None:
    plain_server.clear()
    with pytest.raises(NoStartTLS):
        SMTPBackend(smtp_account(plain_server.port), network=network).open()
    assert plain_server.auth_attempts == []


def test_clear_text_needs_consent(plain_server: SMTPServer, network: Network) -> None:
    plain_server.clear()
    account = smtp_account(plain_server.port, security="none")
    with pytest.raises(ConsentRequired) as caught:
        SMTPBackend(account, network=network).open()
    assert plain_server.auth_attempts == []
    request = caught.value.reason
    assert isinstance(request, ConsentRequest)
    assert request.kind is ConsentKind.CLEAR_TEXT

    asked: list[ConsentRequest] = []
    consenting = Network(overrides={HOST: "127.0.0.1"}, consent=lambda r: asked.append(r) or True)
    with SMTPBackend(account, network=consenting) as smtp:
        smtp.send(message())  # type: ignore[arg-type]
    assert [r.port for r in asked] == [plain_server.port]
    (received,) = plain_server.messages
    assert not received.tls
    assert received.login == "alice"


def oauth_account(port: int) -> Account:
    """alice on ``port`` with OAuth2 and no password."""
    return smtp_account(port, password=None, auth="oauth2")


def test_xoauth2_with_the_token_provider(oauth_server: SMTPServer, network: Network) -> None:
    oauth_server.clear()
    calls: list[tuple[Account, Endpoint]] = []

    def token(account: Account, endpoint: Endpoint) -> str:
        calls.append((account, endpoint))
        return "token-1"

    account = oauth_account(oauth_server.port)
    with SMTPBackend(account, network=network, token_provider=token) as smtp:
        smtp.send(message())  # type: ignore[arg-type]

    assert [(a.mechanism, a.login, a.success) for a in oauth_server.auth_attempts] == [
        ("XOAUTH2", "alice", True)
    ]
    assert oauth_server.messages[0].login == "alice"
    ((called_account, endpoint),) = calls
    assert called_account is account
    assert endpoint.protocol == "smtp"


def test_a_refused_token_is_an_authentication_error(
    oauth_server: SMTPServer, network: Network
) -> None:
    oauth_server.clear()
    smtp = SMTPBackend(
        oauth_account(oauth_server.port), network=network, token_provider=lambda a, e: "stale"
    )
    with pytest.raises(AuthenticationError):
        smtp.open()
    assert [(a.mechanism, a.success) for a in oauth_server.auth_attempts] == [("XOAUTH2", False)]


def test_oauth2_without_a_token_provider_is_a_configuration_error(
    oauth_server: SMTPServer, network: Network
) -> None:
    oauth_server.clear()
    with pytest.raises(ConfigurationError):
        SMTPBackend(oauth_account(oauth_server.port), network=network).open()
    assert oauth_server.auth_attempts == []


def test_a_silent_server_times_out(network: Network) -> None:
    """A listening socket that never greets: the fault no real server produces on demand
    (the kernel accepts the connection into the backlog; nobody answers)."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        quick = Network(
            overrides={HOST: "127.0.0.1"},
            ca_bundle=network.ca_bundle,
            timeouts=Timeouts(connect=2, read=0.3),
        )
        with pytest.raises(TimeoutError) as caught:
            SMTPBackend(smtp_account(port), network=quick).open()
    assert caught.value.backend == "smtp"
