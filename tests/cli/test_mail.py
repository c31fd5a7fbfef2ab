"""Mail commands on Dovecot and aiosmtpd: bind a mailbox, import an mbox and .eml files,
send with Bcc (and the Sent copy), answer an invitation, refresh the folder list."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from openprotocols.backends.imap import IMAPBackend
from openprotocols.cli._config import Config
from openprotocols.cli._errors import ExitCode
from openprotocols.formats import mime
from openprotocols.model import Account, Address, Endpoint, FolderKind, Message
from openprotocols.network import Network
from openprotocols.outlook import pst
from openprotocols.store import LocalStore
from openprotocols.testing.servers import DovecotServer, SMTPServer, TestCA

from .conftest import ALICE, Cli

MBOX = (
    b"From kim@example.test Mon Jan  6 09:00:00 2025\n"
    b"From: Kim <kim@example.test>\nTo: alice@example.test\nSubject: Read one\n"
    b"Message-ID: <read-{tag}@example.test>\nStatus: RO\n\nAlready read.\n\n"
    b"From kim@example.test Mon Jan  6 10:00:00 2025\n"
    b"From: Kim <kim@example.test>\nTo: alice@example.test\nSubject: New one\n"
    b"Message-ID: <new-{tag}@example.test>\n\n>From the start of a line.\n"
)
REQUEST = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//example//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VEVENT\r\nUID:review-{tag}@example.test\r\nSEQUENCE:0\r\n"
    b"DTSTAMP:20250110T081500Z\r\nDTSTART:20250116T090000Z\r\nDTEND:20250116T100000Z\r\n"
    b"SUMMARY:Quarterly review\r\nORGANIZER;CN=Kim:mailto:kim@example.test\r\n"
    b"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.test\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
def mailbox(dovecot: DovecotServer, test_ca: TestCA) -> Iterator[tuple[IMAPBackend, str]]:
    """Alice's IMAP server as another client sees it, and a fresh mailbox of this test."""
    account = Account(
        email=ALICE,
        endpoints=[Endpoint(protocol="imap", host="127.0.0.1", port=dovecot.imaps_port,
                            username="alice", password="secret")],
    )  # fmt: skip
    with IMAPBackend(account, network=Network(ca_bundle=test_ca.ca_pem_bytes)) as backend:
        name = f"cli-{uuid.uuid4().hex[:8]}"
        backend.create_folder(name, FolderKind.MAIL)
        yield backend, name
        if any(f.id == name for f in backend.list_folders()):
            backend.delete_folder(name)


def test_mail_import_send_invitations_and_folder_list(
    configured: Cli,
    tmp_path: Path,
    mailbox: tuple[IMAPBackend, str],
    smtp_server: SMTPServer,
) -> None:
    imap, name = mailbox
    tag = uuid.uuid4().hex[:8]
    bound = configured("bind", "Archive", "--to", name)
    assert bound.exit_code == 0, bound.output
    assert f"Bound Archive to imap:{name}" in bound.stdout

    (tmp_path / "old.mbox").write_bytes(MBOX.replace(b"{tag}", tag.encode()))
    imported = configured("import", str(tmp_path / "old.mbox"), "--to", "Archive")
    assert imported.exit_code == 0, imported.output
    assert "Imported 2 items into Archive." in imported.stdout
    assert "+2 ~0 -0" in imported.stdout  # uploaded by the sync that follows
    server = imap.collection(name)
    entries = {e.item.envelope.subject: e.item for e in server.get(r.id for r in server.list())}
    assert sorted(entries) == ["New one", "Read one"]
    assert "\\Seen" in entries["Read one"].flags
    assert "\\Seen" not in entries["New one"].flags
    (tmp_path / "eml").mkdir()
    (tmp_path / "eml" / "one.eml").write_bytes(
        mime.build(from_=Address("kim@example.test"), to=Address(ALICE), subject="Loose file",
                   text="Hello.\n", calendar=REQUEST.replace(b"{tag}", tag.encode())).content or b""
    )  # fmt: skip
    assert "Imported 1 items into Archive." in configured("import", str(tmp_path / "eml")).stdout
    assert len(server.list()) == 3

    listed = configured("invitations", "--folder", name, "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == [
        {"method": "REQUEST", "uid": f"review-{tag}@example.test", "summary": "Quarterly review",
         "organizer": '"Kim" <kim@example.test>', "start": "2025-01-16 09:00:00+00:00"}
    ]  # fmt: skip
    with LocalStore(tmp_path / "store.sqlite") as store:
        store.create_folder("Calendar", FolderKind.CALENDAR)
    answered = configured("invitations", "--folder", name, "accept", f"review-{tag}@example.test")
    assert answered.exit_code == 0, answered.output
    assert "Answered accept to kim@example.test." in answered.stdout
    (reply,) = smtp_server.messages
    assert reply.rcpt_tos == ("kim@example.test",)
    assert b"PARTSTAT=ACCEPTED" in reply.data
    with LocalStore(tmp_path / "store.sqlite") as store:
        assert store.collection("Calendar").find_uid(f"review-{tag}@example.test") is not None
    missing = configured("invitations", "--folder", name, "decline", "nope")
    assert missing.exit_code == ExitCode.NOT_FOUND

    smtp_server.clear()
    message = mime.build(
        from_=Address(ALICE, "Alice"), to=Address("bob@example.test"),
        bcc=Address("carol@example.test"), subject=f"Numbers {tag}", text="Attached.\n",
    )  # fmt: skip
    draft = mime.for_sent_folder(message).content or b""  # a file as a mail program writes it
    assert b"Bcc: carol@example.test" in draft
    (tmp_path / "out.eml").write_bytes(draft)
    sent = configured("send", str(tmp_path / "out.eml"))
    assert sent.exit_code == 0, sent.output
    assert "A copy is in the Sent folder." in sent.stdout
    (received,) = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["bob@example.test", "carol@example.test"]
    assert b"carol@" not in received.data
    sent_folder = imap.collection("Sent")
    copies = [e.item for e in sent_folder.get(r.id for r in sent_folder.list())
              if e.item.envelope.subject == f"Numbers {tag}"]  # fmt: skip
    assert [a.email for a in copies[0].envelope.bcc] == ["carol@example.test"]
    piped = configured("send", "--no-copy", input=draft.decode())
    assert piped.exit_code == 0, piped.output
    assert "Sent" in piped.stdout
    assert "copy" not in piped.stdout

    config = Config.load(configured.config)  # the seed's "update folders at start-up"
    config.account_table(ALICE)["options"]["update_folders_at_startup"] = True
    config.save()
    assert "server folders are not bound" in configured("sync", "Archive").stderr
    imap.delete_folder(name)
    gone = configured("sync", "Archive")
    assert f"Archive: {name} is gone from the server" in gone.stderr
    assert gone.exit_code == ExitCode.NOT_FOUND

    refreshed = configured("folders", "--refresh")
    assert refreshed.exit_code == 0, refreshed.output
    assert "bound to imap:INBOX" in refreshed.stdout
    assert f"gone from the server: imap:{name}" in refreshed.stdout
    assert "new:" not in configured("folders", "--refresh").stdout
    assert "Archive" in configured("folders").stdout


def test_import_refuses_what_it_cannot_read(configured: Cli, tmp_path: Path) -> None:
    (tmp_path / "mail.pst").write_bytes(b"!BDN")
    pst = configured("import", str(tmp_path / "mail.pst"))
    assert pst.exit_code == ExitCode.CONFIGURATION
    assert "mail.pst: not a readable PST file" in pst.stderr
    (tmp_path / "notes.txt").write_text("hello")
    assert configured("import", str(tmp_path / "notes.txt")).exit_code == ExitCode.CONFIGURATION
    (tmp_path / "a.ics").write_bytes(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VEVENT\r\n")
    assert configured("import", str(tmp_path / "a.ics")).exit_code == ExitCode.CONFIGURATION


def test_import_outlook_files(
    configured: Cli,
    tmp_path: Path,
    mailbox: tuple[IMAPBackend, str],
    outlook_file: Callable[[str], Path],
) -> None:
    """A PST file (every folder that holds items) and a loose .msg file go to the local
    folder of their kind, and the sync that follows uploads them to its server folder."""
    imap, name = mailbox
    assert configured("bind", "Archive", "--to", name).exit_code == 0
    imported = configured("import", str(outlook_file("enron.pst")))
    assert imported.exit_code == 0, imported.output
    assert "Imported 71 items into Archive." in imported.stdout
    assert "+71 ~0 -0" in imported.stdout
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "one.msg").write_bytes(outlook_file("msgreader-test.msg").read_bytes())
    again = configured("import", str(loose), "--no-sync")
    assert "Imported 1 items into Archive." in again.stdout
    with LocalStore(tmp_path / "store.sqlite") as store:
        assert len(store.collection("Archive").list()) == 72
    server = imap.collection(name)
    on_server = sorted(e.item.subject or "" for e in server.get(r.id for r in server.list()))
    with pst.open_pst(outlook_file("enron.pst")) as archive:
        in_file = sorted(
            item.subject or ""
            for folder in archive.folders()
            for _, item in archive.items(folder)
            if isinstance(item, Message)
        )
    assert on_server == in_file
