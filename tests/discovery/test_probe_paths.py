"""The probe's less common paths against real servers: IMAP and POP3 in clear text (a
Dovecot without TLS, after consent) and POP3 with STLS.

Each test runs one :func:`openprotocols.backends._probe.probe` against a Dovecot started
for it and checks in Dovecot's own log how the login arrived.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openprotocols.backends._probe import probe
from openprotocols.errors import ConsentRequired
from openprotocols.model._base import Secret
from openprotocols.model.accounts import Security
from openprotocols.network import Network, Timeouts
from openprotocols.testing.pytest_plugin import TEST_USERS, require_root, unavailable
from openprotocols.testing.servers import DovecotServer, TestCA, dovecot_has_pop3

PASSWORD = Secret(TEST_USERS["alice"])


def network(port: int, test_ca: TestCA) -> Network:
    """A network sending mail.example.test (any port) to ``127.0.0.1:port``."""
    return Network(
        overrides={"mail.example.test": f"127.0.0.1:{port}"},
        ca_bundle=test_ca.ca_pem,
        timeouts=Timeouts(connect=2, read=5),
    )


@pytest.fixture(scope="module")
def clear_dovecot() -> Iterator[DovecotServer]:
    """Dovecot without TLS: IMAP and POP3 in clear text only, no STARTTLS offered."""
    require_root("Dovecot")
    if not dovecot_has_pop3():
        unavailable("Dovecot's POP3 server is not installed (apt-get install dovecot-pop3d)")
    with DovecotServer(users=TEST_USERS, tls=False, pop3=True) as server:
        yield server


@pytest.fixture(scope="module")
def pop3_dovecot(test_ca: TestCA) -> Iterator[DovecotServer]:
    """Dovecot serving POP3 with STLS on the plain port."""
    require_root("Dovecot")
    if not dovecot_has_pop3():
        unavailable("Dovecot's POP3 server is not installed (apt-get install dovecot-pop3d)")
    with DovecotServer(users=TEST_USERS, ca=test_ca, pop3=True) as server:
        yield server


def test_imap_clear_text_needs_consent_before_connecting(
    clear_dovecot: DovecotServer, test_ca: TestCA
) -> None:
    """Without the caller's consent no connection is made, so no password can leak."""
    net = network(clear_dovecot.imap_port, test_ca)
    with pytest.raises(ConsentRequired):
        probe(net, "imap", "mail.example.test", 143, Security.NONE, username="alice",
              password=PASSWORD)  # fmt: skip
    assert [login for login in clear_dovecot.logins() if login.protocol == "imap"] == []


def test_imap_clear_text_after_consent(clear_dovecot: DovecotServer, test_ca: TestCA) -> None:
    """With consent, a server without STARTTLS is used in clear text and logs in."""
    net = network(clear_dovecot.imap_port, test_ca)
    result = probe(
        net, "imap", "mail.example.test", 143, Security.NONE,
        username="alice", password=PASSWORD, clear_text_login=True,
    )  # fmt: skip
    assert result.security is Security.NONE
    assert "STARTTLS" not in result.capabilities
    assert result.login == "AUTHENTICATE PLAIN"
    login = clear_dovecot.logins(at_least=1)[-1]
    assert (login.protocol, login.user, login.tls) == ("imap", "alice", False)


def test_pop3_clear_text_after_consent(clear_dovecot: DovecotServer, test_ca: TestCA) -> None:
    """POP3 in clear text logs in with USER/PASS once the caller consented."""
    net = network(clear_dovecot.pop3_port, test_ca)
    result = probe(
        net, "pop3", "mail.example.test", 110, Security.NONE,
        username="alice", password=PASSWORD, clear_text_login=True,
    )  # fmt: skip
    assert result.login == "USER/PASS"
    login = [entry for entry in clear_dovecot.logins(at_least=1) if entry.protocol == "pop3"][-1]
    assert (login.user, login.tls) == ("alice", False)


def test_pop3_over_stls(pop3_dovecot: DovecotServer, test_ca: TestCA) -> None:
    """POP3 on the plain port upgrades with STLS before the password goes out."""
    net = network(pop3_dovecot.pop3_port, test_ca)
    result = probe(
        net, "pop3", "mail.example.test", 110, Security.STARTTLS,
        username="alice", password=PASSWORD,
    )  # fmt: skip
    assert result.security is Security.STARTTLS
    assert "STLS" not in result.capabilities  # learnt again over TLS
    assert result.login == "USER/PASS"
    login = [e for e in pop3_dovecot.logins(at_least=1) if e.protocol == "pop3"][-1]
    assert (login.user, login.tls) == ("alice", True)
