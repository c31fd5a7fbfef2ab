"""A hostile SMTP server never receives a credential in clear text.

The server here is a fake on a thread, on purpose: it injects what a man in the middle
would (responses before the TLS handshake, a refused STARTTLS, replies out of step),
which no real server produces on demand. It records every byte received before TLS, and
completes TLS (with the test CA) if the client goes on, so a client that ignored the
injection would be seen logging in.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from openprotocols.backends._probe import NoStartTLS, Tampering
from openprotocols.backends.smtp import SMTPBackend
from openprotocols.errors import ConnectionSecurityError
from openprotocols.network import Network
from openprotocols.testing.servers import TestCA

from .conftest import smtp_account

EHLO = b"250-fake.example.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
SECRETS = (b"secret", base64.b64encode(b"\0alice\0secret"), base64.b64encode(b"secret"))


class FakeServer:
    """One connection: ``on_starttls`` is the raw answer to STARTTLS; ``greeting`` the
    bytes sent first. Everything received in clear text lands in :attr:`clear`; whether
    a TLS session was started, in :attr:`tls_started`."""

    def __init__(self, ca: TestCA, *, on_starttls: bytes, greeting: bytes = b"220 fake\r\n"):
        self.context = ca.server_context()
        self.on_starttls = on_starttls
        self.greeting = greeting
        self.clear = b""
        self.tls_started = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        with contextlib.suppress(OSError), self.listener:
            conn, _ = self.listener.accept()
            conn.settimeout(5)
            with conn:
                conn.sendall(self.greeting)
                reader = conn.makefile("rb")
                while line := reader.readline(4096):
                    self.clear += line
                    command = line.strip().upper()
                    if command.startswith(b"EHLO"):
                        conn.sendall(EHLO)
                    elif command == b"STARTTLS":
                        conn.sendall(self.on_starttls)
                        if self.on_starttls.startswith(b"220 "):
                            self._tls(conn)
                            return
                    elif command == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        return
                    else:
                        conn.sendall(b"250 ok\r\n")

    def _tls(self, conn: socket.socket) -> None:
        """Go on over TLS, accepting any login, as an attacker's relay would."""
        # An explicit handshake: wrap_socket skips it when the client has already hung
        # up, which would look like a TLS session that never was.
        with self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False) as tls:
            tls.do_handshake()
            self.tls_started = True
            reader = tls.makefile("rb")
            while line := reader.readline(4096):
                if line.upper().startswith(b"EHLO"):
                    tls.sendall(b"250-fake\r\n250 AUTH PLAIN LOGIN\r\n")
                elif line.upper().startswith(b"AUTH"):
                    tls.sendall(b"235 ok\r\n")
                else:
                    tls.sendall(b"250 ok\r\n")


@pytest.fixture
def fake(test_ca: TestCA, request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    on_starttls, greeting = request.param
    server = FakeServer(test_ca, on_starttls=on_starttls, greeting=greeting)
    server.thread.start()
    yield server
    server.listener.close()
    server.thread.join(5)


CASES = {
    # B1: a reply injected behind "220 go ahead", in the same segment
    "injected-after-starttls": (
        b"220 go ahead\r\n250-fake\r\n250 AUTH PLAIN\r\n",
        b"220 fake\r\n",
        Tampering,
    ),
    # an attacker refusing the upgrade
    "starttls-refused": (b"454 4.7.0 TLS not available\r\n", b"220 fake\r\n", NoStartTLS),
    # replies pipelined ahead of the commands: EHLO's answer arrives with the greeting,
    # so the client reads the next one (another EHLO reply) as the answer to STARTTLS
    "replies-out-of-step": (b"220 go ahead\r\n", b"220 fake\r\n" + EHLO, NoStartTLS),
}


@pytest.mark.parametrize(
    ("fake", "error"),
    [((start, greet), error) for start, greet, error in CASES.values()],
    ids=list(CASES),
    indirect=["fake"],
)
def test_no_credential_in_clear_text(
    fake: FakeServer, error: type[ConnectionSecurityError], test_ca: TestCA
) -> None:
    network = Network(overrides={"smtp.example.test": "127.0.0.1"}, ca_bundle=test_ca.ca_pem_bytes)
    smtp = SMTPBackend(smtp_account(fake.port), network=network)

    with pytest.raises(error) as caught:
        smtp.open()

    fake.thread.join(5)
    assert isinstance(caught.value, ConnectionSecurityError)
    assert b"AUTH" not in fake.clear.upper()
    assert not any(secret in fake.clear for secret in SECRETS)
    assert not fake.tls_started  # the client stopped; it did not go on as if nothing happened
