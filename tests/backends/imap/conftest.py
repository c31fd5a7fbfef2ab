"""Fixtures for the IMAP backend's tests: accounts and backends on Dovecot and pymap.

Dovecot (the session fixture ``dovecot``) has CONDSTORE, QRESYNC, IDLE, MOVE and
SPECIAL-USE and is reached over implicit TLS; pymap (``pymap_server``, plain text, so the
account consents to clear text) has none of CONDSTORE, QRESYNC and SPECIAL-USE and
exercises the fall-back paths. Both servers are shared by the whole session: every test
works in folders of its own (:func:`unique`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from openprotocols.backends.imap import IMAPBackend
from openprotocols.errors import NotFoundError
from openprotocols.model import Account, Endpoint, Folder, FolderKind
from openprotocols.network import ConsentKind, ConsentRequest, Network
from openprotocols.testing.servers import DovecotServer, PymapServer, TestCA

SERVERS = ("dovecot", "pymap")


def unique(prefix: str = "t") -> str:
    """A folder name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def clear_text_ok(request: ConsentRequest) -> bool:
    """The consent callback of the pymap account: clear text to the local test server."""
    return request.kind is ConsentKind.CLEAR_TEXT and request.host == "127.0.0.1"


def dovecot_account(server: DovecotServer, *, security: str = "ssl", **fields: Any) -> Account:
    """Alice's account on Dovecot, over implicit TLS unless ``security`` says otherwise."""
    port = server.imaps_port if security == "ssl" else server.imap_port
    endpoint = Endpoint(
        protocol="imap",
        host="127.0.0.1",
        port=port,
        security=security,
        username=fields.pop("username", "alice"),
        password=fields.pop("password", "secret"),
    )
    return Account(email="alice@example.test", endpoints=[endpoint], **fields)


def pymap_account(server: PymapServer, **fields: Any) -> Account:
    """The demo user's account on pymap (clear text)."""
    endpoint = Endpoint(
        protocol="imap",
        host="127.0.0.1",
        port=server.port,
        security="none",
        username="demouser",
        password="demopass",
    )
    return Account(email="demouser@example.test", endpoints=[endpoint], **fields)


@pytest.fixture
def network(test_ca: TestCA) -> Network:
    """Trusts the session CA; consents to clear text to 127.0.0.1 (pymap)."""
    return Network(ca_bundle=test_ca.ca_pem_bytes, consent=clear_text_ok)


@pytest.fixture(params=SERVERS)
def server_name(request: pytest.FixtureRequest) -> str:
    """Each IMAP server of the test bed."""
    return str(request.param)


@pytest.fixture
def make_backend(
    request: pytest.FixtureRequest, network: Network, server_name: str
) -> Iterator[Callable[..., IMAPBackend]]:
    """Builds connected backends on the server under test; closes them afterwards."""
    opened: list[IMAPBackend] = []

    def make(**options: Any) -> IMAPBackend:
        account_fields = options.pop("account", {})
        if server_name == "dovecot":
            account = dovecot_account(request.getfixturevalue("dovecot"), **account_fields)
        else:
            account = pymap_account(request.getfixturevalue("pymap_server"), **account_fields)
        backend = IMAPBackend(account, network=network, **options)
        backend.open()
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        backend.close()


@pytest.fixture
def backend(make_backend: Callable[..., IMAPBackend]) -> IMAPBackend:
    """A connected backend on the server under test."""
    return make_backend()


@pytest.fixture
def other_client(request: pytest.FixtureRequest, server_name: str) -> Iterator[Any]:
    """A plain imapclient session on the same account: "another client"."""
    if server_name == "dovecot":
        client = request.getfixturevalue("dovecot").imap_client("alice", security="tls")
    else:
        client = request.getfixturevalue("pymap_server").imap_client("demouser", security="plain")
    yield client
    try:
        client.logout()
    except Exception:  # the server may have closed it; nothing to clean up
        client.shutdown()


@pytest.fixture
def mailbox(backend: IMAPBackend) -> Iterator[Folder]:
    """A new, empty mailbox of this test, deleted afterwards."""
    folder = backend.create_folder(unique(), FolderKind.MAIL)
    yield folder
    with contextlib.suppress(NotFoundError):  # the test may have deleted it
        backend.delete_folder(folder)


def message(subject: str = "Hello", *, body: str = "Body", message_id: str | None = None) -> bytes:
    """A small RFC 5322 message."""
    message_id = message_id or f"<{uuid.uuid4().hex}@imap.example.test>"
    return (
        f"From: ann@example.test\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: Mon, 23 Nov 2026 09:30:00 +0000\r\n\r\n{body}\r\n"
    ).encode()
