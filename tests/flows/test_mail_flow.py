"""Mail end to end on real servers: SMTP submission (aiosmtpd) with the Sent copy stored
over IMAP (Dovecot), and the invitation flow reading a Dovecot inbox headers-first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from openprotocols import invitations, sending
from openprotocols.backends.base import Entry
from openprotocols.backends.imap import IMAPBackend, IMAPCollection
from openprotocols.backends.smtp import SMTPBackend
from openprotocols.formats import imip, mime
from openprotocols.model import Account, Address, Endpoint, FolderKind, Message, ResponseStatus
from openprotocols.network import Network
from openprotocols.testing.servers import DovecotServer, SMTPServer, TestCA

CORPUS = Path(__file__).parents[1] / "formats" / "corpus" / "mime"
ME = "alice@example.test"


@pytest.fixture
def network(test_ca: TestCA) -> Network:
    """``mail.example.test`` is 127.0.0.1 (the test CA's certificate covers it)."""
    return Network(overrides={"mail.example.test": "127.0.0.1"}, ca_bundle=test_ca.ca_pem_bytes)


@pytest.fixture
def account(dovecot: DovecotServer, smtp_server: SMTPServer) -> Account:
    """Alice: IMAP on Dovecot (implicit TLS), SMTP on aiosmtpd (STARTTLS), one login."""
    return Account(
        email=ME,
        display_name="Alice",
        endpoints=[
            Endpoint(
                protocol="imap",
                host="mail.example.test",
                port=dovecot.imaps_port,
                username="alice",
                password="secret",
            ),
            Endpoint(
                protocol="smtp",
                host="mail.example.test",
                port=smtp_server.port,
                security="starttls",
            ),
        ],
    )


@pytest.fixture
def imap(account: Account, network: Network) -> Iterator[IMAPBackend]:
    with IMAPBackend(account, network=network) as backend:
        backend.open()
        yield backend


@pytest.fixture
def smtp(account: Account, network: Network) -> Iterator[SMTPBackend]:
    with SMTPBackend(account, network=network) as backend:
        yield backend


@pytest.fixture
def folder(imap: IMAPBackend) -> Iterator[IMAPCollection]:
    """A fresh mailbox of this test, deleted afterwards."""
    created = imap.create_folder(f"flow-{uuid.uuid4().hex[:8]}", FolderKind.MAIL)
    yield imap.collection(created)
    imap.delete_folder(created)


def test_bcc_goes_on_the_envelope_only_and_stays_in_the_sent_copy(
    smtp: SMTPBackend, smtp_server: SMTPServer, folder: IMAPCollection
) -> None:
    message = mime.build(
        from_=Address(ME, "Alice"),
        to=Address("bob@example.test"),
        bcc=[Address("carol@example.test"), Address("dave@example.test")],
        subject="Quarterly numbers",
        text="See attached.\n",
    )
    result = sending.send(smtp, message, sent=folder)

    (received,) = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["bob@example.test", "carol@example.test",
                                         "dave@example.test"]  # fmt: skip
    assert b"carol@example.test" not in received.data
    assert result.stored is not None
    assert result.store_error is None
    stored = folder.fetch_body(result.stored.id)
    assert stored.raw is not None
    kept = mime.parse(stored.raw)
    assert sorted(a.email for a in kept.envelope.bcc) == ["carol@example.test",
                                                          "dave@example.test"]  # fmt: skip
    assert "\\Seen" in stored.item.flags


def test_invitation_in_an_imap_inbox_is_answered_by_smtp(
    smtp: SMTPBackend, smtp_server: SMTPServer, folder: IMAPCollection
) -> None:
    folder.create(mime.parse((CORPUS / "google-invitation.eml").read_bytes()))
    folder.create(mime.parse((CORPUS / "plain-ascii.eml").read_bytes()))
    found: list[tuple[imip.Invitation, Entry[Message]]] = []

    def download(entry: Entry[Message]) -> Message:
        return folder.fetch_body(entry.id).item

    first = invitations.scan(folder, lambda i, e: found.append((i, e)), download=download)
    assert first.scanned == 2
    assert first.skipped == ()
    ((invitation, entry),) = found
    assert entry.item.content is None  # listed headers-first; only the invitation downloaded
    me = "juergen@example.org"  # the invited attendee of the corpus message
    assert invitation.organizer is not None

    answer = invitations.respond(
        invitation, "accept", smtp=smtp, attendee=me, now=datetime(2024, 1, 1, tzinfo=UTC)
    )
    (received,) = smtp_server.messages
    assert received.rcpt_tos == (invitation.organizer.email,)
    (reply,) = imip.find_invitations(mime.parse(received.data))
    assert reply.method is imip.Method.REPLY
    assert reply.uid == invitation.uid
    event = answer.event
    assert event is not None
    assert {a.email: a.response for a in event.attendees}[me] is ResponseStatus.ACCEPTED
    again = invitations.scan(folder, lambda i, e: found.append((i, e)), since=first.state)
    assert again.scanned == 0
    assert len(found) == 1
