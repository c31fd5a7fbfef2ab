"""PST and OST import (libpff): Outlook's own data files, into the local store and
straight into a server folder."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from openprotocols.backends.imap import IMAPBackend
from openprotocols.errors import ParseError
from openprotocols.formats import mime
from openprotocols.model import Account, Endpoint, FolderKind, Message
from openprotocols.network import Network
from openprotocols.outlook import pst
from openprotocols.store import LocalStore
from openprotocols.testing.servers import DovecotServer, TestCA

FindFile = Callable[[str], Path]

ENRON_FOLDERS = {
    ("Top of Personal Folders", "lokay-m", "MLOKAY (Non-Privileged)"): 1,
    ("Top of Personal Folders", "lokay-m", "MLOKAY (Non-Privileged)", "TW-Commercial Group"): 14,
    ("Top of Personal Folders", "lokay-m", "MLOKAY (Non-Privileged)", "Systems"): 7,
    ("Top of Personal Folders", "lokay-m", "MLOKAY (Non-Privileged)", "Sent Items"): 2,
    ("Top of Personal Folders", "lokay-m", "MLOKAY (Non-Privileged)", "Personal"): 47,
}


@pytest.fixture
def enron(outlook_file: FindFile) -> Iterator[pst.PstFile]:
    with pst.open_pst(outlook_file("enron.pst")) as archive:
        yield archive


def test_the_folders_and_their_kinds_are_listed(enron: pst.PstFile) -> None:
    """Every folder with its path, kind and count; search folders hold no items."""
    folders = {f.path: f for f in enron.folders()}
    assert {path: f.count for path, f in folders.items() if f.count} == ENRON_FOLDERS
    assert all(folders[path].kind is FolderKind.MAIL for path in ENRON_FOLDERS)


def test_every_enron_message_reads(enron: pst.PstFile) -> None:
    """All 71 messages read into the model with a source, sender and subject."""
    read = [item for folder in enron.folders() for _, item in enron.items(folder)]
    assert len(read) == 71
    errors = [item for item in read if not isinstance(item, Message)]
    assert errors == []
    for message in read:
        assert isinstance(message, Message)
        assert message.content is not None
        assert message.subject is not None
        assert mime.text_body(message) is not None or mime.html_body(message) is not None


def test_import_into_the_local_store(enron: pst.PstFile, tmp_path: Path) -> None:
    """import_pst() mirrors the folders into a LocalStore with progress, and a second run
    into the same store reuses the folders."""
    seen: collections.Counter[tuple[str, ...]] = collections.Counter()
    with LocalStore(tmp_path / "store.sqlite") as store:
        report = pst.import_pst(
            enron, store, progress=lambda folder, done: seen.update([folder.path])
        )
        assert report.skipped == []
        assert report.written == ENRON_FOLDERS
        assert seen == ENRON_FOLDERS
        names = {f.name: f for f in store.list_folders()}
        personal = names["Top of Personal Folders/lokay-m/MLOKAY (Non-Privileged)/Personal"]
        stored = list(
            store.collection(personal).get(r.id for r in store.collection(personal).list())
        )
        assert len(stored) == 47
        subjects = {entry.item.subject for entry in stored}
        folder = next(f for f in enron.folders() if f.path[-1] == "Personal")
        assert subjects == {item.subject for _, item in enron.items(folder)}  # type: ignore[union-attr]
        again = pst.import_pst(enron, store, only=lambda f: f.path[-1] == "Systems")
        assert again.total == 7
        assert len(store.list_folders()) == len(names)


def test_import_straight_into_an_imap_folder(
    enron: pst.PstFile, dovecot: DovecotServer, test_ca: TestCA
) -> None:
    """import_folder() writes into any collection: here a Dovecot folder over TLS."""
    account = Account(
        email="alice@example.test",
        endpoints=[
            Endpoint(
                protocol="imap",
                host="127.0.0.1",
                port=dovecot.imaps_port,
                security="ssl",
                username="alice",
                password="secret",
            )
        ],
    )
    folder = next(f for f in enron.folders() if f.path[-1] == "Systems")
    with IMAPBackend(account, network=Network(ca_bundle=test_ca.ca_pem_bytes)) as backend:
        backend.open()
        target = backend.create_folder(f"pst-{id(folder):x}", FolderKind.MAIL)
        collection = backend.collection(target)
        report = pst.import_folder(enron, folder, collection)
        assert report.written == {folder.path: 7}
        assert report.skipped == []
        on_server = sorted(
            entry.item.subject or "" for entry in collection.get(r.id for r in collection.list())
        )
        assert on_server == sorted(item.subject or "" for _, item in enron.items(folder))  # type: ignore[union-attr]
        backend.delete_folder(target)


def test_a_file_that_is_not_a_pst_is_a_typed_error(tmp_path: Path) -> None:
    """Garbage gives ParseError naming the file."""
    path = tmp_path / "junk.pst"
    path.write_bytes(b"!BDN" + b"\0" * 1000)
    with pytest.raises(ParseError, match=r"junk\.pst"):
        pst.open_pst(path)
