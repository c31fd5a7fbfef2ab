"""The invitation flow: scan a memory inbox, answer by SMTP (aiosmtpd), get the event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from openprotocols import invitations
from openprotocols.backends.base import Entry
from openprotocols.backends.memory import MemoryBackend, MemoryCollection, MemoryServer
from openprotocols.backends.smtp import SMTPBackend
from openprotocols.errors import InvalidItemError
from openprotocols.formats import imip, mime
from openprotocols.model import (
    Account,
    Address,
    Appointment,
    Endpoint,
    Folder,
    FolderKind,
    Message,
    ResponseStatus,
)
from openprotocols.network import Network
from openprotocols.testing.servers import SMTPServer, TestCA

CORPUS = Path(__file__).parent / "formats" / "corpus" / "mime"
NOW = datetime(2024, 9, 11, 9, 30, tzinfo=UTC)
ORGANIZER = "kim.akers@contoso.onmicrosoft.com"
ME = "juergen@example.org"


def corpus(name: str) -> Message:
    """A corpus message, as a mail backend holds it (flags unset)."""
    return mime.parse((CORPUS / name).read_bytes())


@pytest.fixture
def inbox() -> MemoryCollection:
    """An empty inbox on a fresh memory server."""
    memory = MemoryBackend(Account(email=ME), server=MemoryServer())
    memory.server.add_folder(Folder.new("INBOX", FolderKind.MAIL))
    memory.server.add_folder(Folder.new("Sent", FolderKind.MAIL))
    return memory.collection("INBOX")


@pytest.fixture
def smtp(smtp_server: SMTPServer, test_ca: TestCA) -> Iterator[SMTPBackend]:
    """Jürgen's SMTP backend, logging in as alice on the session's aiosmtpd."""
    account = Account(
        email=ME,
        display_name="Jürgen Müller",
        endpoints=[
            Endpoint(
                protocol="smtp",
                host="smtp.example.test",
                port=smtp_server.port,
                security="starttls",
                username="alice",
                password="secret",
            )
        ],
    )
    network = Network(overrides={"smtp.example.test": "127.0.0.1"}, ca_bundle=test_ca.ca_pem_bytes)
    with SMTPBackend(account, network=network) as backend:
        yield backend


class Collect:
    """A handler that remembers what it was given."""

    def __init__(self) -> None:
        self.found: list[tuple[imip.Invitation, Entry[Message]]] = []

    def __call__(self, invitation: imip.Invitation, entry: Entry[Message]) -> None:
        self.found.append((invitation, entry))


def test_scan_hands_over_invitations_only_and_is_incremental(inbox: MemoryCollection) -> None:
    inbox.create(corpus("plain-ascii.eml"))
    request = inbox.create(corpus("exchange-request-base64.eml"))
    handler = Collect()

    first = invitations.scan(inbox, handler)

    assert (first.found, first.scanned) == (1, 2)
    ((invitation, entry),) = handler.found
    assert entry.id == request.id
    assert invitation.method is imip.Method.REQUEST
    assert invitation.organizer == Address(ORGANIZER, "Kim Akers")

    again = invitations.scan(inbox, handler, since=first.state)
    assert (again.found, again.scanned) == (0, 0)

    inbox.create(corpus("google-invitation.eml"))
    third = invitations.scan(inbox, handler, since=again.state)
    assert (third.found, third.scanned) == (1, 1)
    assert handler.found[-1][0].uid == "7kukuqrfedlm2f9t0vl0lgl8hq@google.com"


def test_headers_only_messages_are_downloaded_or_reported(inbox: MemoryCollection) -> None:
    whole = corpus("exchange-request-base64.eml")
    headers_only = attrs.evolve(whole, content=None)  # as an IMAP backend lists it
    plain = attrs.evolve(corpus("plain-ascii.eml"), content=None)
    ref = inbox.create(headers_only)
    inbox.create(plain)

    skipped = invitations.scan(inbox, Collect())
    assert skipped.skipped == (ref.id,)
    assert skipped.found == 0

    asked: list[str] = []

    def download(entry: Entry[Message]) -> Message:
        asked.append(entry.id)
        return whole

    handler = Collect()
    found = invitations.scan(inbox, handler, download=download)
    assert asked == [ref.id]  # only the message whose structure lists a calendar part
    assert found.found == 1
    assert found.skipped == ()


def test_methods_filter(inbox: MemoryCollection) -> None:
    inbox.create(corpus("exchange-request-base64.eml"))
    inbox.create(corpus("cancellation-single-part.eml"))
    handler = Collect()
    result = invitations.scan(inbox, handler, methods={imip.Method.CANCEL})
    assert result.found == 1
    assert handler.found[0][0].method is imip.Method.CANCEL


@pytest.mark.parametrize(
    ("response", "status"),
    [
        ("accept", ResponseStatus.ACCEPTED),
        ("tentative", ResponseStatus.TENTATIVE),
        (ResponseStatus.DECLINED, ResponseStatus.DECLINED),
    ],
)
def test_respond_sends_the_reply_and_returns_the_event(
    response: str | ResponseStatus,
    status: ResponseStatus,
    inbox: MemoryCollection,
    smtp: SMTPBackend,
    smtp_server: SMTPServer,
) -> None:
    inbox.create(corpus("exchange-request-base64.eml"))
    handler = Collect()
    invitations.scan(inbox, handler)
    ((invitation, _),) = handler.found
    sent = inbox.backend.collection("Sent")

    answered = invitations.respond(invitation, response, smtp=smtp, sent=sent, now=NOW)

    (received,) = smtp_server.messages
    assert received.rcpt_tos == (ORGANIZER,)
    assert received.mail_from == ME
    (reply,) = imip.find_invitations(mime.parse(received.data))
    assert reply.method is imip.Method.REPLY
    (component,) = reply.components
    attendees = [p for p in component.properties if p.name == "ATTENDEE"]
    assert [a.value for a in attendees] == [f"mailto:{ME}"]
    assert attendees[0].param("PARTSTAT") == status.value.upper()
    assert reply.uid == invitation.uid

    event = answered.event
    assert isinstance(event, Appointment)
    assert event.uid == invitation.uid
    by_email = {a.email: a for a in event.attendees}
    assert by_email[ME].response is status
    assert not by_email[ME].rsvp
    assert by_email["ann@example.org"].response is ResponseStatus.NEEDS_ACTION
    assert answered.sent.stored is not None  # the reply's copy is in Sent


def test_a_cancellation_is_not_answered(
    inbox: MemoryCollection, smtp: SMTPBackend, smtp_server: SMTPServer
) -> None:
    (cancel,) = imip.find_invitations(corpus("cancellation-single-part.eml"))
    with pytest.raises(InvalidItemError):
        invitations.respond(cancel, "accept", smtp=smtp)
    with pytest.raises(InvalidItemError):
        invitations.respond(cancel, "maybe", smtp=smtp)
    assert smtp_server.messages == []
