"""Dovecot answers real IMAP over STARTTLS and implicit TLS."""

from __future__ import annotations

import contextlib
import ssl
import uuid

import pytest
from imapclient.exceptions import LoginError
from imapclient.imapclient import ARCHIVE, DRAFTS, JUNK, SENT, TRASH

from openprotocols.testing.servers import DovecotServer, TestCA

MESSAGE = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: Bob <bob@example.test>\r\n"
    b"Subject: test bed\r\n"
    b"Message-ID: <%s@example.test>\r\n"
    b"\r\n"
    b"Hello from the test bed.\r\n"
)


def test_starttls_login_and_capabilities(dovecot: DovecotServer, test_ca: TestCA) -> None:
    """STARTTLS login trusting only the test CA works and offers CONDSTORE, QRESYNC, SPECIAL-USE."""
    from imapclient import IMAPClient

    client = IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10)
    try:
        assert b"STARTTLS" in client.capabilities()
        client.starttls(test_ca.client_context())
        client.login("alice", "secret")
        capabilities = set(client.capabilities())
    finally:
        client.logout()
    assert {b"CONDSTORE", b"QRESYNC", b"SPECIAL-USE", b"MOVE", b"UIDPLUS"} <= capabilities


def test_implicit_tls_login(dovecot: DovecotServer, test_ca: TestCA) -> None:
    """A login on the imaps port (implicit TLS, test CA) works and INBOX can be selected."""
    from imapclient import IMAPClient

    assert dovecot.imaps_port is not None
    client = IMAPClient(
        dovecot.host,
        port=dovecot.imaps_port,
        ssl=True,
        ssl_context=test_ca.client_context(),
        timeout=10,
    )
    try:
        client.login("bob", "secret")
        selected = client.select_folder("INBOX")
    finally:
        client.logout()
    assert b"UIDVALIDITY" in selected


def test_tls_is_real(dovecot: DovecotServer) -> None:
    """Default trust (system CAs) rejects Dovecot's certificate, so the TLS is the test CA's."""
    from imapclient import IMAPClient

    client = IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(ssl.create_default_context())
    finally:
        with contextlib.suppress(OSError):  # the failed handshake already closed the socket
            client.shutdown()


def test_special_use_folders(dovecot: DovecotServer) -> None:
    """LIST shows Drafts, Sent, Trash, Junk and Archive with their RFC 6154 special-use flags."""
    client = dovecot.imap_client("alice")
    try:
        flags = {name: set(folder_flags) for folder_flags, _, name in client.list_folders()}
    finally:
        client.logout()
    assert {"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"} <= set(flags)
    for name, flag in [
        ("Drafts", DRAFTS),
        ("Sent", SENT),
        ("Trash", TRASH),
        ("Junk", JUNK),
        ("Archive", ARCHIVE),
    ]:
        assert flag in flags[name], (name, flags[name])


def test_append_and_fetch_back(dovecot: DovecotServer) -> None:
    """append() delivers a message with flags; FETCH returns the same bytes, flags and UID."""
    message = MESSAGE % uuid.uuid4().hex.encode()
    uid = dovecot.append("bob", "Archive", message, flags=[b"\\Flagged"])
    assert isinstance(uid, int)
    client = dovecot.imap_client("bob", security="tls")
    try:
        client.select_folder("Archive", readonly=True)
        fetched = client.fetch([uid], ["BODY.PEEK[]", "FLAGS"])
    finally:
        client.logout()
    assert fetched[uid][b"BODY[]"] == message
    assert b"\\Flagged" in fetched[uid][b"FLAGS"]


def test_wrong_password_fails(dovecot: DovecotServer) -> None:
    """A wrong password is refused with a LoginError."""
    with pytest.raises(LoginError):
        dovecot.imap_client("alice", "wrong")


def test_logins_record_tls(dovecot: DovecotServer) -> None:
    """logins() reports, from Dovecot's log, whether a user logged in over TLS."""
    user = f"u{uuid.uuid4().hex[:8]}"
    with DovecotServer(users={user: "pw"}, ca=dovecot.ca) as server:
        server.imap_client(user, security="plain").logout()
        server.imap_client(user, security="starttls").logout()
        logins = server.logins(at_least=2)
    assert [(login.user, login.tls) for login in logins] == [(user, False), (user, True)]


def test_plaintext_mode() -> None:
    """With tls=False Dovecot offers no STARTTLS, has no imaps port, and plain login works."""
    with DovecotServer(tls=False) as server:
        assert server.imaps_port is None
        client = server.imap_client(security="plain")
        try:
            assert b"STARTTLS" not in client.capabilities()
            client.login("alice", "secret")
            assert client.select_folder("INBOX")[b"EXISTS"] == 0
        finally:
            client.logout()
