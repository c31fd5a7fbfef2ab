"""Sending through aiosmtpd (STARTTLS and AUTH required): envelope, headers, Sent copy."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from email import message_from_bytes

import attrs
import pytest

from openprotocols import sending
from openprotocols.backends.memory import MemoryCollection
from openprotocols.backends.smtp import RecipientsRefusedError, SMTPBackend
from openprotocols.errors import InvalidItemError, NotFoundError, ReadOnlyError
from openprotocols.formats import mime
from openprotocols.model import Account, Address, Endpoint, Message
from openprotocols.model.accounts import AccountOptions
from openprotocols.model.mail import Flag
from openprotocols.network import Network
from openprotocols.plugins import BackendRegistry
from openprotocols.testing.servers import SMTPServer, TestCA

from .conftest import smtp_account

ALICE = Address("alice@example.test", "Alice Example")
TO = Address("to@example.test", "To Person")
CC = Address("cc@example.test")
BCC = Address("hidden@example.test", "Hidden Person")


def headers(data: bytes) -> list[str]:
    """The header names of a message, lower-case."""
    return [name.lower() for name in message_from_bytes(data)]


def test_bcc_reaches_everyone_but_stays_off_the_wire_and_in_the_sent_copy(
    backend: SMTPBackend,
    smtp_server: SMTPServer,
    mail_folder: Callable[[str], MemoryCollection],
) -> None:
    sent = mail_folder("Sent")
    message = mime.build(
        account=backend.account, to=TO, cc=CC, bcc=BCC, subject="Budget", text="Numbers.\n"
    )

    result = sending.send(backend, message, sent=sent)

    (received,) = smtp_server.messages
    assert received.rcpt_tos == (TO.email, CC.email, BCC.email)
    assert received.mail_from == "alice@example.test"
    assert received.login == "alice"
    assert received.tls
    assert "bcc" not in headers(received.data)
    assert BCC.email.encode() not in received.data
    assert result.submission.accepted == received.rcpt_tos
    assert result.stored is not None
    assert result.store_error is None
    stored = sent.get_one(result.stored.id).item
    assert isinstance(stored, Message)
    assert stored.content is not None
    assert message_from_bytes(stored.content)["Bcc"] == "Hidden Person <hidden@example.test>"
    assert stored.flags == {Flag.SEEN}
    assert mime.parse(stored.content).envelope.bcc == (BCC,)


def test_a_bcc_header_in_the_source_is_removed_from_the_wire(
    backend: SMTPBackend, smtp_server: SMTPServer
) -> None:
    """A message read back from Drafts carries its Bcc as a header: it still goes only
    into the envelope."""
    built = mime.build(from_=ALICE, to=TO, bcc=BCC, subject="Draft", text="x\n")
    draft = mime.parse(mime.for_sent_folder(built).content or b"")
    assert b"Bcc:" in (draft.content or b"")

    backend.send(draft)

    (received,) = smtp_server.messages
    assert BCC.email in received.rcpt_tos
    assert "bcc" not in headers(received.data)
    assert received.data.replace(b"\r\n", b"\n").endswith(b"x\n")


def test_send_on_behalf_of_another_person(smtp_server: SMTPServer, network: Network) -> None:
    boss = Address("boss@example.test", "The Boss")
    account = smtp_account(
        smtp_server.port,
        options=AccountOptions(send_on_behalf_of=boss, reply_to=Address("team@example.test")),
    )
    message = mime.build(account=account, to=TO, subject="For the boss", text="Hi\n")

    with SMTPBackend(account, network=network) as smtp:
        smtp.send(message)

    (received,) = smtp_server.messages
    parsed = message_from_bytes(received.data)
    assert parsed["From"] == "The Boss <boss@example.test>"
    assert parsed["Sender"] == "Alice Example <alice@example.test>"
    assert parsed["Reply-To"] == "team@example.test"
    assert received.mail_from == "alice@example.test"  # the account, not the boss


def test_one_connection_sends_several_messages(
    backend: SMTPBackend, smtp_server: SMTPServer
) -> None:
    for number in range(3):
        backend.send(mime.build(from_=ALICE, to=TO, subject=f"n{number}", text="x\n"))
    assert [m.data.count(b"Subject: n") for m in smtp_server.messages] == [1, 1, 1]
    assert len(smtp_server.auth_attempts) == 1


def test_a_dropped_connection_is_reopened_before_the_next_message(
    backend: SMTPBackend, smtp_server: SMTPServer
) -> None:
    backend.send(mime.build(from_=ALICE, to=TO, subject="one", text="x\n"))
    assert backend._client is not None
    backend._client.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr] # as if the server hung up

    backend.send(mime.build(from_=ALICE, to=TO, subject="two", text="x\n"))

    assert len(smtp_server.messages) == 2
    assert len(smtp_server.auth_attempts) == 2


@pytest.fixture(scope="module")
def refusing_server(test_ca: TestCA) -> Iterator[SMTPServer]:
    """A server that has no mailbox for nobody@example.test."""
    with SMTPServer(ca=test_ca, refused_recipients=["nobody@example.test"]) as server:
        yield server


def test_a_refused_recipient_stops_the_transaction(
    refusing_server: SMTPServer, network: Network
) -> None:
    refusing_server.clear()
    nobody = Address("nobody@example.test")
    message = mime.build(from_=ALICE, to=[TO, nobody], subject="x", text="x\n")

    with SMTPBackend(smtp_account(refusing_server.port), network=network) as smtp:
        with pytest.raises(RecipientsRefusedError) as caught:
            smtp.send(message)
        assert caught.value.refused.keys() == {"nobody@example.test"}
        assert caught.value.refused["nobody@example.test"][0] == 550
        assert caught.value.accepted == (TO.email,)
        assert refusing_server.messages == []

        submission = smtp.send(message, allow_partial=True)

    (received,) = refusing_server.messages
    assert received.rcpt_tos == (TO.email,)
    assert submission.accepted == (TO.email,)
    assert set(submission.refused) == {"nobody@example.test"}


def test_every_recipient_refused_is_an_error_even_when_partial_is_allowed(
    refusing_server: SMTPServer, network: Network
) -> None:
    refusing_server.clear()
    message = mime.build(from_=ALICE, to=Address("nobody@example.test"), subject="x", text="")
    smtp = SMTPBackend(smtp_account(refusing_server.port), network=network)
    with smtp, pytest.raises(RecipientsRefusedError):
        smtp.send(message, allow_partial=True)
    assert refusing_server.messages == []


def test_what_cannot_be_sent_is_refused_before_connecting(network: Network) -> None:
    account = smtp_account(1)  # nothing listens on port 1: connecting would fail
    smtp = SMTPBackend(account, network=network)
    no_recipient = mime.build(from_=ALICE, subject="x", text="")
    headers_only = Message(envelope=no_recipient.envelope)
    bad = attrs.evolve(
        no_recipient,
        envelope=attrs.evolve(no_recipient.envelope, to=(Address("a@b.test>\r\nRCPT"),)),
    )
    for message in (no_recipient, headers_only, bad):
        with pytest.raises(InvalidItemError):
            smtp.send(message)


def test_credentials_never_reach_a_log(
    backend: SMTPBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend.send(mime.build(from_=ALICE, to=TO, subject="x", text="x\n"))
    backend.close()
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "secret" not in text
    assert "AGFsaWNlAHNlY3JldA" not in text  # base64 of "\0alice\0secret"
    assert backend._client is None


def test_the_backend_has_no_folders_and_registers(backend: SMTPBackend) -> None:
    from openprotocols.backends import smtp as module

    assert backend.list_folders() == []
    with pytest.raises(NotFoundError):
        backend.collection("INBOX")
    registry = BackendRegistry()
    module.openprotocols_register_backends(registry)
    assert registry.get("smtp") is SMTPBackend


def test_same_credentials_as_the_mailbox(smtp_server: SMTPServer, network: Network) -> None:
    """With the default option, the IMAP endpoint's login is used for SMTP too."""
    base = smtp_account(smtp_server.port, username=None, password=None)
    imap = Endpoint(protocol="imap", host="imap.example.test", username="bob", password="secret")
    account = Account(email=base.email, endpoints=(*base.endpoints, imap))

    with SMTPBackend(account, network=network) as smtp:
        smtp.send(mime.build(from_=ALICE, to=TO, subject="x", text="x\n"))

    assert [(a.login, a.success) for a in smtp_server.auth_attempts] == [("bob", True)]


def test_separate_smtp_credentials(smtp_server: SMTPServer, network: Network) -> None:
    base = smtp_account(smtp_server.port, options=AccountOptions(smtp_auth_same_as_incoming=False))
    imap = Endpoint(protocol="imap", host="imap.example.test", username="bob", password="wrong")
    account = attrs.evolve(base, endpoints=(*base.endpoints, imap))

    with SMTPBackend(account, network=network) as smtp:
        smtp.send(mime.build(from_=ALICE, to=TO, subject="x", text="x\n"))

    assert [(a.login, a.success) for a in smtp_server.auth_attempts] == [("alice", True)]


def test_a_sent_copy_that_cannot_be_stored_does_not_fail_the_send(
    backend: SMTPBackend,
    smtp_server: SMTPServer,
    mail_folder: Callable[[str], MemoryCollection],
) -> None:
    sent = mail_folder("Sent")
    sent.backend.read_only = True
    message = mime.build(from_=ALICE, to=TO, bcc=BCC, subject="x", text="x\n")

    result = sending.send(backend, message, sent=sent)

    assert len(smtp_server.messages) == 1
    assert result.stored is None
    assert isinstance(result.store_error, ReadOnlyError)
    assert b"Bcc:" in (result.sent_copy.content or b"")
