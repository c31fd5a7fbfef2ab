"""Fixtures for the SMTP backend: accounts pointing at the session's aiosmtpd server.

The server's certificate (``test_ca``) is valid for ``*.example.test``; the network maps
``smtp.example.test`` to 127.0.0.1 and trusts only the test CA.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from openprotocols.backends.memory import MemoryBackend, MemoryCollection, MemoryServer
from openprotocols.backends.smtp import SMTPBackend
from openprotocols.model import Account, Endpoint, Folder, FolderKind
from openprotocols.model.accounts import AccountOptions
from openprotocols.network import Network
from openprotocols.testing.servers import SMTPServer, TestCA

HOST = "smtp.example.test"


@pytest.fixture
def network(test_ca: TestCA) -> Network:
    """Trusts the test CA; ``smtp.example.test`` is 127.0.0.1."""
    return Network(overrides={HOST: "127.0.0.1"}, ca_bundle=test_ca.ca_pem_bytes)


def smtp_account(
    port: int,
    *,
    security: str = "starttls",
    username: str | None = "alice",
    password: str | None = "secret",  # noqa: S107 - the test server's account
    options: AccountOptions | None = None,
    **endpoint: Any,
) -> Account:
    """An account whose only endpoint is SMTP on ``port`` of ``smtp.example.test``."""
    return Account(
        email="alice@example.test",
        display_name="Alice Example",
        endpoints=[
            Endpoint(
                protocol="smtp",
                host=endpoint.pop("host", HOST),
                port=port,
                security=security,
                username=username,
                password=password,
                **endpoint,
            )
        ],
        options=options or AccountOptions(),
    )


@pytest.fixture
def account(smtp_server: SMTPServer) -> Account:
    """alice/secret on the session's STARTTLS server."""
    return smtp_account(smtp_server.port)


@pytest.fixture
def backend(account: Account, network: Network) -> Iterator[SMTPBackend]:
    """An SMTP backend for ``account``, closed after the test."""
    with SMTPBackend(account, network=network) as smtp:
        yield smtp


@pytest.fixture
def mail_folder() -> Callable[[str], MemoryCollection]:
    """Makes mail collections (Sent, Drafts...) on a fresh memory server."""
    memory = MemoryBackend(Account(email="alice@example.test"), server=MemoryServer())

    def make(folder_id: str) -> MemoryCollection:
        memory.server.add_folder(Folder.new(folder_id, FolderKind.MAIL))
        return memory.collection(folder_id)

    return make
