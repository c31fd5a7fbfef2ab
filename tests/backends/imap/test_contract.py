"""The IMAP backend passes the collection-protocol contract on Dovecot and on pymap."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from openprotocols.backends.imap import IMAPBackend, IMAPCollection
from openprotocols.errors import NotFoundError
from openprotocols.model import Folder, FolderKind
from openprotocols.network import Network
from openprotocols.testing import BackendContractTests
from openprotocols.testing.servers import DovecotServer, PymapServer

from .conftest import dovecot_account, pymap_account, unique


class _IMAPContract(BackendContractTests):
    enforces_unique_uids = False  # a mailbox may hold the same message twice

    @pytest.fixture
    def folder(self, backend: IMAPBackend, kind: FolderKind) -> Iterator[Folder]:
        """A new mailbox inside a parent of its own, so that the contract's fixed rename
        target ("Renamed by contract") is unique too. An IMAP folder's display name is its
        name, so the folder is created with the same display name."""
        parent = backend.create_folder(unique("contract"), kind)
        name = f"contract-{kind}"
        folder = backend.create_folder(name, kind, parent=parent.id, display_name=name)
        yield folder
        with contextlib.suppress(NotFoundError):
            backend.delete_folder(parent)


class TestDovecotContract(_IMAPContract):
    """Dovecot: CONDSTORE and QRESYNC, implicit TLS."""

    @pytest.fixture
    def backend(self, dovecot: DovecotServer, network: Network) -> Iterator[IMAPBackend]:
        with IMAPBackend(dovecot_account(dovecot), network=network) as backend:
            backend.open()
            yield backend


class TestPymapContract(_IMAPContract):
    """pymap: no CONDSTORE, QRESYNC or SPECIAL-USE (the flag-comparison fall-back)."""

    @pytest.fixture
    def backend(self, pymap_server: PymapServer, network: Network) -> Iterator[IMAPBackend]:
        with IMAPBackend(pymap_account(pymap_server), network=network) as backend:
            backend.open()
            yield backend

    @pytest.fixture
    def read_only_collection(self, backend: IMAPBackend, kind: FolderKind) -> IMAPCollection:
        """pymap's demo Trash, which the server selects read-only."""
        collection = backend.collection("Trash")
        collection.changes()  # the server says READ-ONLY when it is selected
        return collection
