"""Connecting securely: TLS on Dovecot, consent for clear text, and an adversarial
STARTTLS server that never receives a credential in clear text. Also malformed and
oversized responses: a typed ProtocolError, the connection dropped and opened again."""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from openprotocols.backends.imap import IMAPBackend
from openprotocols.errors import (
    AuthenticationError,
    ConnectionSecurityError,
    ConsentRequired,
    ProtocolError,
)
from openprotocols.model import Account, AuthMechanism, Endpoint, Folder, FolderKind
from openprotocols.network import Network, Timeouts
from openprotocols.testing.servers import DovecotServer, TestCA

from .conftest import clear_text_ok, dovecot_account

PASSWORD = "s3cret-password"
TOKEN = "ya29.token-value"


# ----------------------------------------------------------------- real server (Dovecot)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_dovecot_logins_use_tls(dovecot: DovecotServer, network: Network, security: str) -> None:
    """Implicit TLS and STARTTLS both log in over TLS (Dovecot's log says so)."""
    before = len(dovecot.logins())
    with IMAPBackend(dovecot_account(dovecot, security=security), network=network) as backend:
        backend.open()
        assert any(f.id == "INBOX" for f in backend.list_folders())
    logins = dovecot.logins(at_least=before + 1)[before:]
    assert logins
    assert all(login.tls for login in logins)
    assert {login.user for login in logins} == {"alice"}


def test_untrusted_certificate_is_refused(dovecot: DovecotServer) -> None:
    """Without the test CA in the trust store, TLS fails and nothing is sent."""
    with pytest.raises(ConnectionSecurityError):
        IMAPBackend(dovecot_account(dovecot), network=Network()).open()


def test_wrong_password(dovecot: DovecotServer, network: Network) -> None:
    """A refused login is an AuthenticationError without the password in it."""
    account = dovecot_account(dovecot, password="wrong-password")
    with pytest.raises(AuthenticationError) as info:
        IMAPBackend(account, network=network).open()
    assert "wrong-password" not in str(info.value)


def test_clear_text_needs_consent(dovecot: DovecotServer, test_ca: TestCA) -> None:
    """security=none without consent raises ConsentRequired before connecting."""
    account = dovecot_account(dovecot, security="none")
    with pytest.raises(ConsentRequired):
        IMAPBackend(account, network=Network(ca_bundle=test_ca.ca_pem_bytes)).open()


def test_credentials_never_logged(
    dovecot: DovecotServer, network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    """Debug logging of everything shows neither the password nor its PLAIN encoding."""
    caplog.set_level("DEBUG")
    with IMAPBackend(dovecot_account(dovecot), network=network) as backend:
        backend.open()
        backend.list_folders()
    encoded = base64.b64encode(b"\0alice\0secret").decode()
    assert "secret" not in caplog.text
    assert encoded not in caplog.text


# ----------------------------------------------------------------- the fake server


class FakeIMAP:
    """A scripted IMAP server on a thread.

    Why a fake: it injects the faults no real server produces on demand — bytes after
    the STARTTLS ``OK`` (response injection), untagged data before it, a stripped
    STARTTLS capability, a ``PREAUTH`` greeting, a malformed or an oversized response —
    and records every byte it received, and whether TLS was on, so a test can prove
    that no credential ever arrived in clear text.
    """

    def __init__(self, ca: TestCA, scenario: str, *, capabilities: str = "AUTH=PLAIN") -> None:
        self.ca = ca
        self.scenario = scenario
        self.capabilities = capabilities
        self.clear = bytearray()
        self.secure = bytearray()
        self.connections = 0
        self._current: socket.socket | None = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() on Linux
        with contextlib.suppress(OSError):
            self.listener.close()
        self.thread.join(2.0)

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self._current = sock
            with contextlib.suppress(OSError, ssl.SSLError, ValueError):
                self._session(sock)
            with contextlib.suppress(OSError):
                if self._current is not None:
                    self._current.close()

    def _caps(self, tls: bool) -> str:
        caps = f"IMAP4rev1 {self.capabilities}"
        if not tls and self.scenario != "stripped":
            caps += " STARTTLS"
        return caps

    def _session(self, sock: socket.socket) -> None:
        tls = False
        reader = sock.makefile("rb")
        greeting = "* PREAUTH welcome\r\n" if self.scenario == "preauth" else "* OK ready\r\n"
        sock.sendall(greeting.encode())
        while True:
            line = reader.readline(65536)
            if not line:
                return
            (self.secure if tls else self.clear).extend(line)
            tag, _, rest = line.decode("ascii", "replace").rstrip("\r\n").partition(" ")
            command = rest.split(" ")[0].upper()
            if command == "CAPABILITY":
                sock.sendall(f"* CAPABILITY {self._caps(tls)}\r\n{tag} OK done\r\n".encode())
            elif command == "STARTTLS":
                if self.scenario == "refuse-starttls":
                    sock.sendall(f"{tag} NO not now\r\n".encode())
                    continue
                before = b"* 7 EXISTS\r\n" if self.scenario == "inject-before" else b""
                after = (
                    b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
                    if self.scenario == "inject-after"
                    else b""
                )
                sock.sendall(before + f"{tag} OK begin TLS\r\n".encode() + after)
                reader.close()
                sock = self._current = self.ca.server_context().wrap_socket(sock, server_side=True)
                reader = sock.makefile("rb")
                tls = True
            elif command == "AUTHENTICATE":
                sock.sendall(b"+ \r\n")
                answer = reader.readline(65536)
                (self.secure if tls else self.clear).extend(answer)
                sock.sendall(f"{tag} OK logged in\r\n".encode())
            elif command in ("LOGIN", "NOOP", "ENABLE", "UNSELECT"):
                sock.sendall(f"{tag} OK done\r\n".encode())
            elif command == "SELECT":
                sock.sendall(self._select(tag))
            elif command == "LOGOUT":
                sock.sendall(f"* BYE bye\r\n{tag} OK done\r\n".encode())
                return
            else:
                sock.sendall(f"{tag} BAD unknown\r\n".encode())

    def _select(self, tag: str) -> bytes:
        if self.scenario == "malformed" and self.connections == 1:
            return b")(this is not IMAP\r\n"
        if self.scenario == "huge-literal" and self.connections == 1:
            return b"* 1 FETCH (UID 1 BODY[] {4000000000}\r\nxx"
        return (
            f"* 0 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 1] ok\r\n"
            f"{tag} OK [READ-WRITE] selected\r\n"
        ).encode()

    def saw_credential_in_clear(self) -> bool:
        """Whether the password, the token or their SASL encodings arrived without TLS."""
        secrets = [PASSWORD.encode(), TOKEN.encode()]
        for secret in list(secrets):
            secrets.append(base64.b64encode(b"\0alice\0" + secret))
        return any(secret in bytes(self.clear) for secret in secrets)


@pytest.fixture
def fake(test_ca: TestCA, request: pytest.FixtureRequest) -> Iterator[FakeIMAP]:
    """A fake IMAP server playing the scenario given by the test's parameter."""
    server = FakeIMAP(test_ca, getattr(request, "param", "ok"))
    yield server
    server.close()


def _backend(fake: FakeIMAP, test_ca: TestCA, security: str, **endpoint: Any) -> IMAPBackend:
    account = Account(
        email="alice@example.test",
        endpoints=[
            Endpoint(
                protocol="imap",
                host="127.0.0.1",
                port=fake.port,
                security=security,
                username="alice",
                password=PASSWORD,
                **endpoint,
            )
        ],
    )
    network = Network(
        ca_bundle=test_ca.ca_pem_bytes,
        timeouts=Timeouts(connect=2.0, read=3.0),
        consent=clear_text_ok,
    )
    return IMAPBackend(account, network=network, token_provider=lambda a, e: TOKEN)


@pytest.mark.parametrize(
    "fake", ["inject-after", "stripped", "preauth", "refuse-starttls"], indirect=True
)
def test_starttls_attacks_are_refused(fake: FakeIMAP, test_ca: TestCA) -> None:
    """Injected bytes after the STARTTLS OK, a stripped STARTTLS, a PREAUTH greeting and a
    refused STARTTLS all end in ConnectionSecurityError, and the password never goes out."""
    backend = _backend(fake, test_ca, "starttls")
    with pytest.raises(ConnectionSecurityError):
        backend.open()
    backend.close()
    assert fake.connections == 1
    assert not fake.saw_credential_in_clear()
    assert b"AUTHENTICATE" not in fake.clear
    assert b"LOGIN" not in fake.clear


@pytest.mark.parametrize("fake", ["inject-before"], indirect=True)
def test_untagged_data_before_starttls_is_discarded(fake: FakeIMAP, test_ca: TestCA) -> None:
    """An EXISTS sent in clear text before the STARTTLS OK is forgotten; the login goes
    over TLS."""
    backend = _backend(fake, test_ca, "starttls")
    backend.open()
    try:
        conn = backend._connection()
        assert "EXISTS" not in conn.client._imap.untagged_responses
        assert b"AUTHENTICATE PLAIN" in fake.secure
        assert not fake.saw_credential_in_clear()
        assert "STARTTLS" not in conn.capabilities  # re-read over TLS
    finally:
        backend.close()


@pytest.mark.parametrize("fake", ["ok"], indirect=True)
def test_oauth2_uses_the_token_provider(fake: FakeIMAP, test_ca: TestCA) -> None:
    """With auth=oauth2 the token provider's token goes out as XOAUTH2, over TLS."""
    fake.capabilities = "AUTH=XOAUTH2"
    backend = _backend(fake, test_ca, "starttls", auth=AuthMechanism.OAUTH2)
    backend.open()
    backend.close()
    sent = bytes(fake.secure).split(b"AUTHENTICATE XOAUTH2\r\n", 1)[1].split(b"\r\n", 1)[0]
    assert base64.b64decode(sent) == f"user=alice\1auth=Bearer {TOKEN}\1\1".encode()
    assert not fake.saw_credential_in_clear()


@pytest.mark.parametrize("fake", ["malformed", "huge-literal"], indirect=True)
def test_bad_response_drops_and_reconnects(fake: FakeIMAP, test_ca: TestCA) -> None:
    """A malformed response, or a literal over the limit, is a ProtocolError; the
    connection is dropped and the next call opens a new one and works."""
    backend = _backend(fake, test_ca, "none")
    collection = backend.collection(Folder.new("INBOX", FolderKind.MAIL))
    try:
        with pytest.raises(ProtocolError):
            collection.changes()
        changes = collection.changes()
        assert changes.full
        assert changes.changed == ()
        assert fake.connections == 2
    finally:
        backend.close()
