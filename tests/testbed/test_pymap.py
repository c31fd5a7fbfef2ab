"""pymap answers real IMAP (in memory with demo data, or Maildir with several users)."""

from __future__ import annotations

import pytest
from imapclient.exceptions import LoginError

from openprotocols.testing.servers import PymapServer, TestCA


def test_login_and_select_inbox(pymap_server: PymapServer) -> None:
    """demouser logs in and INBOX holds pymap's demo messages."""
    client = pymap_server.imap_client("demouser", "demopass", security="plain")
    try:
        selected = client.select_folder("INBOX", readonly=True)
        folders = {name for _, _, name in client.list_folders()}
    finally:
        client.logout()
    assert selected[b"EXISTS"] == 4
    assert {"INBOX", "Sent", "Trash"} <= folders


def test_no_condstore_or_qresync(pymap_server: PymapServer) -> None:
    """pymap offers MOVE and IDLE but not CONDSTORE, QRESYNC or SPECIAL-USE."""
    client = pymap_server.imap_client("demouser", security="plain")
    try:
        capabilities = set(client.capabilities())
    finally:
        client.logout()
    assert {b"MOVE", b"IDLE", b"UIDPLUS"} <= capabilities
    assert not {b"CONDSTORE", b"QRESYNC", b"SPECIAL-USE"} & capabilities


def test_wrong_password_fails(pymap_server: PymapServer) -> None:
    """A wrong password is refused with a LoginError."""
    with pytest.raises(LoginError):
        pymap_server.imap_client("demouser", "wrong", security="plain")


def test_maildir_backend_users_and_append() -> None:
    """With the Maildir backend each configured user can log in and append() stores a message."""
    with PymapServer(backend="maildir", users={"alice": "secret", "bob": "pw2"}) as server:
        uid = server.append("bob", "INBOX", b"Subject: hi\r\n\r\nhello\r\n", flags=[b"\\Flagged"])
        client = server.imap_client("bob", security="plain")
        try:
            client.select_folder("INBOX")
            fetched = client.fetch(client.search(), ["FLAGS", "BODY.PEEK[]"])
        finally:
            client.logout()
        with pytest.raises(LoginError):
            server.imap_client("alice", "pw2", security="plain")
    assert isinstance(uid, int)
    assert list(fetched) == [uid]
    assert b"\\Flagged" in fetched[uid][b"FLAGS"]
    # pymap's Maildir backend hands the message back with LF line endings, not CRLF.
    assert fetched[uid][b"BODY[]"].replace(b"\r\n", b"\n") == b"Subject: hi\n\nhello\n"


def test_starttls(test_ca: TestCA) -> None:
    """With tls=True pymap offers STARTTLS (test CA certificate) and login works after it."""
    with PymapServer(tls=True, ca=test_ca) as server:
        plain = server.imap_client(security="plain")
        try:
            assert b"STARTTLS" in plain.capabilities()
        finally:
            plain.logout()
        client = server.imap_client("demouser", security="starttls")
        try:
            assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 4
        finally:
            client.logout()
