"""Common Settings Discover (the ``guess`` provider) against Dovecot and aiosmtpd.

Every candidate host name is sent where a test wants it by the network's overrides;
all the others get NXDOMAIN from a dnsmasq that knows no records, as unknown names do.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import pytest

import openprotocols
from openprotocols.backends import _probe
from openprotocols.backends.discovery import DiscoveryAttempt, Outcome
from openprotocols.backends.guess import PORTS, SEED_PORTS, GuessProvider
from openprotocols.errors import ConnectionSecurityError
from openprotocols.model._base import Secret
from openprotocols.model.accounts import Endpoint, Security
from openprotocols.network import ConsentKind, ConsentRequest, Network, Timeouts
from openprotocols.plugins import get_plugin_manager
from openprotocols.testing.pytest_plugin import TEST_USERS, require_root, unavailable
from openprotocols.testing.servers import (
    DnsmasqServer,
    DovecotServer,
    SMTPServer,
    TestCA,
    dovecot_has_pop3,
)

Guess = GuessProvider.with_options(budget=10.0, probe_timeout=5.0)
PASSWORD = TEST_USERS["alice"]


@pytest.fixture(scope="module")
def no_records(dnsmasq: Callable[[Iterable[object]], DnsmasqServer]) -> DnsmasqServer:
    """A DNS server that answers NXDOMAIN for every name under ``.test``."""
    return dnsmasq(())


@pytest.fixture(scope="module")
def dovecot_pop3(test_ca: TestCA) -> Iterator[DovecotServer]:
    """Dovecot serving POP3 (STLS on ``pop3_port``, implicit TLS on ``pop3s_port``)."""
    if not dovecot_has_pop3():
        unavailable("Dovecot's POP3 server is not installed (apt-get install dovecot-pop3d)")
    require_root("Dovecot")
    with DovecotServer(users=TEST_USERS, ca=test_ca, pop3=True) as server:
        yield server


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port that refuses connections (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def network(no_records: DnsmasqServer, test_ca: TestCA) -> Callable[..., Network]:
    """Build a network: ``network({"name:port": "127.0.0.1:port"}, consent=...)``."""

    def build(
        overrides: Mapping[str, str],
        consent: Callable[[ConsentRequest], bool] | None = None,
    ) -> Network:
        return Network(
            overrides=overrides,
            ca_bundle=test_ca.ca_pem,
            resolver=no_records.resolver(),
            timeouts=Timeouts(connect=2, read=5),
            consent=consent,
        )

    return build


def run(
    network: Network, email: str = "alice@example.test", password: str | None = PASSWORD
) -> list[DiscoveryAttempt]:
    """All the attempts of one run of the provider."""
    secret = Secret(password) if password is not None else None
    return list(Guess(network).discover(email, password=secret))


def found(attempts: list[DiscoveryAttempt], protocol: str) -> list[Endpoint]:
    """The endpoints found for ``protocol``, in trace order."""
    return [
        endpoint
        for attempt in attempts
        if attempt.outcome is Outcome.FOUND
        for endpoint in attempt.endpoints
        if endpoint.protocol == protocol
    ]


def by_target(attempts: list[DiscoveryAttempt]) -> dict[str, DiscoveryAttempt]:
    """The attempts keyed by target."""
    return {attempt.target: attempt for attempt in attempts}


class Listener:
    """A local TCP server that says nothing: it holds each connection ``hold`` seconds
    (or forever, never accepting, with ``accept=False``) and counts them."""

    def __init__(self, *, hold: float = 0.0, accept: bool = True) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port: int = self.sock.getsockname()[1]
        self.hold = hold
        self.lock = threading.Lock()
        self.active = self.most = self.total = 0
        if accept:
            threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.active += 1
                self.total += 1
                self.most = max(self.most, self.active)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        time.sleep(self.hold)
        with self.lock:
            self.active -= 1  # before closing: the client cannot connect again earlier
        conn.close()

    def close(self) -> None:
        self.sock.close()


def everything_to(port: int) -> dict[str, str]:
    """Overrides sending every candidate host, on any port, to ``127.0.0.1:port``."""
    hosts = ("example.test", "mail", "imap", "pop3", "pop", "smtp")
    return {(h if "." in h else f"{h}.example.test"): f"127.0.0.1:{port}" for h in hosts}


# -- the table -------------------------------------------------------------------------


def test_candidates_follow_the_seed_order() -> None:
    """Candidates go host by host, then user name (full address first), then port."""
    provider = GuessProvider(Network())
    candidates = provider.candidates("ann@example.org", "ann", "example.org", login=True)
    imap = [(c.host, c.username, c.port, c.security) for c in candidates if c.protocol == "imap"]
    assert imap[:5] == [
        ("mail.example.org", "ann@example.org", 993, Security.SSL),
        ("mail.example.org", "ann@example.org", 143, Security.STARTTLS),
        ("mail.example.org", "ann", 993, Security.SSL),
        ("mail.example.org", "ann", 143, Security.STARTTLS),
        ("imap.example.org", "ann@example.org", 993, Security.SSL),
    ]
    hosts = {p: list(dict.fromkeys(c.host for c in candidates if c.protocol == p)) for p in PORTS}
    assert hosts == {
        "imap": ["mail.example.org", "imap.example.org", "example.org"],
        "pop3": ["mail.example.org", "pop3.example.org", "pop.example.org", "example.org"],
        "smtp": ["mail.example.org", "smtp.example.org", "example.org"],
    }
    assert [c.protocol for c in candidates] == sorted(
        (c.protocol for c in candidates), key=["imap", "pop3", "smtp"].index
    )
    assert [c.rank for c in candidates] == list(range(len(candidates)))
    assert SEED_PORTS["smtp"] == (
        (587, Security.SSL),
        (587, Security.STARTTLS),
        (25, Security.SSL),
        (25, Security.STARTTLS),
    )
    no_login = provider.candidates("ann@example.org", "ann", "example.org", login=False)
    assert {c.username for c in no_login} == {None}


def test_public_suffix_is_not_guessed_under() -> None:
    """An address whose domain is a public suffix gets one refused attempt, no probe."""
    attempts = list(GuessProvider(Network()).discover("ann@test"))
    assert [(a.outcome, a.target) for a in attempts] == [(Outcome.REFUSED, "test")]


# -- IMAP, POP3, SMTP ------------------------------------------------------------------


def test_imap_over_implicit_tls_without_password(
    dovecot: DovecotServer, network: Callable[..., Network]
) -> None:
    """Without a password, an IMAP server on mail.<domain>:993 is found, login not tried."""
    net = network({"mail.example.test:993": f"127.0.0.1:{dovecot.imaps_port}"})
    attempts = run(net, password=None)
    first = by_target(attempts)["imaps://mail.example.test:993"]
    assert first.outcome is Outcome.FOUND
    assert "login not tried" in first.reason
    assert found(attempts, "imap")[0] == Endpoint(
        protocol="imap",
        host="mail.example.test",
        port=993,
        security=Security.SSL,
        username="alice@example.test",
    )


def test_local_part_after_full_address_refused(
    dovecot: DovecotServer, network: Callable[..., Network]
) -> None:
    """The full address is refused by Dovecot, the local part logs in, over TLS."""
    before = len(dovecot.logins())
    net = network({"mail.example.test:993": f"127.0.0.1:{dovecot.imaps_port}"})
    attempts = by_target(run(net))
    refused = attempts["imaps://mail.example.test:993 as alice@example.test"]
    assert refused.outcome is Outcome.AUTH_REQUIRED
    assert "login tried" in refused.reason
    winner = attempts["imaps://mail.example.test:993 as alice"]
    assert winner.outcome is Outcome.FOUND
    assert winner.endpoints[0].username == "alice"
    logins = dovecot.logins(at_least=before + 1)[before:]
    assert [(login.user, login.tls) for login in logins] == [("alice", True)]


def test_imap_over_starttls_when_993_is_closed(
    dovecot: DovecotServer, network: Callable[..., Network], closed_port: int
) -> None:
    """With 993 refusing connections, IMAP is found on 143 with STARTTLS."""
    net = network(
        {
            "mail.example.test:993": f"127.0.0.1:{closed_port}",
            "mail.example.test:143": f"127.0.0.1:{dovecot.imap_port}",
        }
    )
    attempts = run(net)
    assert by_target(attempts)["imaps://mail.example.test:993 as alice@example.test"].outcome is (
        Outcome.NOT_FOUND
    )
    endpoint = found(attempts, "imap")[0]
    assert (endpoint.port, endpoint.security, endpoint.username) == (
        143,
        Security.STARTTLS,
        "alice",
    )


def test_pop3_found_when_there_is_no_imap(
    dovecot_pop3: DovecotServer, network: Callable[..., Network]
) -> None:
    """Where pop3.<domain> is all there is, POP3 is found and logs in over TLS."""
    net = network({"pop3.example.test:995": f"127.0.0.1:{dovecot_pop3.pop3s_port}"})
    attempts = run(net)
    assert found(attempts, "imap") == []
    endpoint = found(attempts, "pop3")[0]
    assert (endpoint.host, endpoint.port, endpoint.security, endpoint.username) == (
        "pop3.example.test",
        995,
        Security.SSL,
        "alice",
    )
    login = dovecot_pop3.logins(at_least=1)[-1]
    assert (login.protocol, login.user, login.tls) == ("pop3", "alice", True)


def test_smtp_on_587_with_starttls(
    smtp_server: SMTPServer, network: Callable[..., Network]
) -> None:
    """SMTP submission is found on mail.<domain>:587 with STARTTLS and AUTH."""
    net = network({"mail.example.test:587": f"127.0.0.1:{smtp_server.port}"})
    attempts = run(net)
    endpoint = found(attempts, "smtp")[0]
    assert (endpoint.host, endpoint.port, endpoint.security, endpoint.username) == (
        "mail.example.test",
        587,
        Security.STARTTLS,
        "alice",
    )
    assert [(a.login, a.success) for a in smtp_server.auth_attempts] == [
        ("alice@example.test", False),
        ("alice", True),
    ]


def test_winner_follows_the_seed_order_not_the_finish_order(
    dovecot: DovecotServer, network: Callable[..., Network]
) -> None:
    """A slow mail.<domain> beats a fast imap.<domain>: it ranks first in the seed."""
    slow = Listener(hold=0.5)  # mail.example.test:993 answers nothing for half a second
    try:
        net = network(
            {
                "mail.example.test:993": f"127.0.0.1:{slow.port}",
                "mail.example.test:143": f"127.0.0.1:{dovecot.imap_port}",
                "imap.example.test:993": f"127.0.0.1:{dovecot.imaps_port}",
            }
        )
        attempts = run(net, password=None)
    finally:
        slow.close()
    assert found(attempts, "imap")[0].host == "mail.example.test"
    assert found(attempts, "imap")[0].port == 143
    imap_targets = [a.target for a in attempts if a.target.startswith("imap")]
    assert imap_targets[:2] == [
        "imaps://mail.example.test:993",
        "imap://mail.example.test:143 (STARTTLS)",
    ]


# -- clear text and certificates -------------------------------------------------------


@pytest.fixture
def plain_smtp() -> Iterator[SMTPServer]:
    """An SMTP server without TLS at all (AUTH allowed in clear text)."""
    with SMTPServer(users=TEST_USERS, security="plain") as server:
        yield server


def test_clear_text_not_tried_without_consent(
    plain_smtp: SMTPServer, network: Callable[..., Network]
) -> None:
    """A server without STARTTLS is refused, and with consent refused nothing is sent."""
    asked: list[ConsentRequest] = []

    def refuse(request: ConsentRequest) -> bool:
        asked.append(request)
        return False

    net = network({"mail.example.test:25": f"127.0.0.1:{plain_smtp.port}"}, consent=refuse)
    attempts = by_target(run(net))
    no_tls = attempts["smtp://mail.example.test:25 (STARTTLS) as alice@example.test"]
    assert no_tls.outcome is Outcome.REFUSED
    assert attempts["smtp://mail.example.test:25 (clear text)"].outcome is Outcome.REFUSED
    assert [(r.kind, r.protocol, r.host, r.port) for r in asked] == [
        (ConsentKind.CLEAR_TEXT, "smtp", "mail.example.test", 25)
    ]
    assert plain_smtp.auth_attempts == []
    assert not any(a.outcome is Outcome.FOUND for a in attempts.values())


def test_clear_text_tried_after_consent(
    plain_smtp: SMTPServer, dovecot: DovecotServer, network: Callable[..., Network]
) -> None:
    """With consent (asked once), the same server is tried in clear text and found."""
    asked: list[ConsentRequest] = []

    def agree(request: ConsentRequest) -> bool:
        asked.append(request)
        return True

    net = network(
        {
            "mail.example.test:993": f"127.0.0.1:{dovecot.imaps_port}",
            "mail.example.test:25": f"127.0.0.1:{plain_smtp.port}",
        },
        consent=agree,
    )
    attempts = run(net)
    assert len(asked) == 1
    assert "password would be sent unencrypted" in asked[0].reason
    assert found(attempts, "imap")[0].security is Security.SSL  # IMAP never asks: TLS worked
    endpoint = found(attempts, "smtp")[0]
    assert (endpoint.port, endpoint.security, endpoint.username) == (25, Security.NONE, "alice")
    assert [(a.login, a.success) for a in plain_smtp.auth_attempts] == [
        ("alice@example.test", False),
        ("alice", True),
    ]


def test_wrong_host_certificate_is_an_error_and_nothing_is_sent(
    dovecot: DovecotServer, smtp_server: SMTPServer, network: Callable[..., Network]
) -> None:
    """A certificate not valid for the name is an error; no login, no clear-text retry."""
    before = len(dovecot.logins())
    asked: list[ConsentRequest] = []
    net = network(
        {  # the test CA's certificate names example.test, not other.test
            "mail.other.test:993": f"127.0.0.1:{dovecot.imaps_port}",
            "mail.other.test:143": f"127.0.0.1:{dovecot.imap_port}",
            "mail.other.test:587": f"127.0.0.1:{smtp_server.port}",
        },
        consent=lambda request: asked.append(request) is None,
    )
    attempts = by_target(run(net, "alice@other.test"))
    for target in (
        "imaps://mail.other.test:993 as alice@other.test",
        "imap://mail.other.test:143 (STARTTLS) as alice@other.test",
        "smtp://mail.other.test:587 (STARTTLS) as alice@other.test",
    ):
        assert attempts[target].outcome is Outcome.ERROR
        assert "certificate" in attempts[target].reason
    assert not any(a.outcome is Outcome.FOUND for a in attempts.values())
    assert asked == []  # nothing answered without TLS: no clear-text question
    assert smtp_server.auth_attempts == []
    time.sleep(0.2)  # Dovecot logs asynchronously
    assert len(dovecot.logins()) == before


def test_starttls_response_injection_is_refused(test_ca: TestCA) -> None:
    """Bytes sent after the STARTTLS OK, before the handshake, end the probe.

    A fake server: no real server of the test bed injects responses on purpose.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"* OK IMAP4rev1 ready\r\n")
            for reply in (
                b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\np1 OK done\r\n",
                b"p2 OK begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n",
            ):
                received.append(conn.recv(4096))
                conn.sendall(reply)
            conn.settimeout(2)
            received.append(conn.recv(4096))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    net = Network(ca_bundle=test_ca.ca_pem, timeouts=Timeouts(connect=2, read=2))
    with pytest.raises(_probe.Tampering):
        _probe.probe(
            net,
            "imap",
            "localhost",
            server.getsockname()[1],
            Security.STARTTLS,
            username="alice",
            password=Secret(PASSWORD),
        )
    thread.join(5)
    server.close()
    assert received[:2] == [b"p1 CAPABILITY\r\n", b"p2 STARTTLS\r\n"]
    assert all(PASSWORD.encode() not in data for data in received)
    assert issubclass(_probe.Tampering, ConnectionSecurityError)


# -- parallelism, time, secrecy --------------------------------------------------------


def test_concurrent_connections_are_bounded(network: Callable[..., Network]) -> None:
    """No more than ``concurrency`` probes are connected at once, and that many are."""
    listener = Listener(hold=0.15)
    provider = GuessProvider.with_options(
        concurrency=2,
        incoming=("imap",),
        ports={"imap": ((993, Security.SSL),), "smtp": ((587, Security.STARTTLS),)},
    )
    try:
        attempts = list(provider(network(everything_to(listener.port))).discover("a@example.test"))
    finally:
        listener.close()
    assert listener.total == 6  # three IMAP and three SMTP hosts, one port each
    assert listener.most == 2
    assert len(attempts) == 6
    assert all(a.outcome in (Outcome.ERROR, Outcome.NOT_FOUND) for a in attempts)


def test_time_budget_is_honoured(network: Callable[..., Network]) -> None:
    """Servers that accept and never answer cannot keep the run past its budget."""
    black_hole = Listener(accept=False)
    provider = GuessProvider.with_options(budget=1.0, probe_timeout=30.0)
    start = time.monotonic()
    try:
        attempts = list(
            provider(network(everything_to(black_hole.port))).discover("a@example.test")
        )
    finally:
        black_hole.close()
    elapsed = time.monotonic() - start
    assert elapsed < 2.5
    assert attempts[-1].outcome is Outcome.ERROR
    assert "time budget of 1 s ran out" in attempts[-1].reason
    assert not any(a.outcome is Outcome.FOUND for a in attempts)


def test_password_never_in_logs_or_trace(
    dovecot: DovecotServer,
    smtp_server: SMTPServer,
    network: Callable[..., Network],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Neither the password nor its SASL encoding appears in a log line or the trace."""
    caplog.set_level(logging.DEBUG, logger="openprotocols")
    net = network(
        {
            "mail.example.test:993": f"127.0.0.1:{dovecot.imaps_port}",
            "smtp.example.test:587": f"127.0.0.1:{smtp_server.port}",
        }
    )
    result = openprotocols.discover(
        "alice@example.test",
        PASSWORD,
        network=net,
        plugin_manager=get_plugin_manager(
            entry_points=False,
            blocked=[
                "openprotocols.backends.autodiscover",
                "openprotocols.backends.autoconfig",
                "openprotocols.backends.srv",
            ],
        ),
    )
    imap, smtp = result.best("imap"), result.best("smtp")
    assert imap is not None
    assert smtp is not None
    assert (imap.mechanism, imap.endpoint.username, smtp.endpoint.host) == (
        "guess",
        "alice",
        "smtp.example.test",
    )
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("openprotocols")]
    text = "\n".join(ours) + result.render_trace() + repr(result)
    for user in ("alice", "alice@example.test"):
        sasl = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
        assert sasl not in text
    assert PASSWORD not in text
    assert any(line.startswith("[guess]") for line in ours)  # logged, without the password
