"""Mail on MAPI properties and in .msg files: model ⇄ MAPI ⇄ .msg, Outlook's own files,
and a second reader (extract-msg) for what we write."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import attrs
import olefile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.formats.test_mime_properties import addresses, header_text

from openprotocols.formats import mime
from openprotocols.model import Address, Attachment, Message, RawProperty
from openprotocols.outlook import from_mapi, msg, props, to_mapi
from openprotocols.outlook._mapping import STORE_LOCAL

FindFile = Callable[[str], Path]

keywords = st.sampled_from(["$Forwarded", "$Junk", "$MDNSent", "work", "Projekt Ä", "\\Deleted"])
flags = st.sets(
    st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Draft"]) | keywords, max_size=5
)


@st.composite
def messages(draw: st.DrawFn) -> Callable[[], Message]:
    """Messages as the IMAP backend and build() make them: a source, flags, IMAP state
    (a function that builds one: build() draws MIME boundaries at random, which a
    strategy must not do)."""
    attachments = draw(
        st.lists(
            st.builds(
                Attachment,
                filename=st.from_regex(r"[a-z]{1,8}\.(txt|pdf|png)", fullmatch=True),
                content_type=st.sampled_from(["application/pdf", "image/png", "text/plain"]),
                data=st.binary(min_size=1, max_size=200),
            ),
            max_size=2,
        )
    )
    arguments = {
        "from_": draw(addresses),
        "sender": draw(st.none() | addresses),
        "to": draw(st.lists(addresses, min_size=1, max_size=3)),
        "cc": draw(st.lists(addresses, max_size=2)),
        "bcc": draw(st.lists(addresses, max_size=2)),
        "reply_to": draw(st.lists(addresses, max_size=1)),
        "subject": draw(header_text),
        "text": draw(st.none() | st.text(max_size=80)),
        "html": draw(st.none() | st.just("<p>Hello <b>there</b></p>")),
        "attachments": attachments,
        "date": datetime(2026, 11, 21, 10, 30, tzinfo=UTC),
    }
    state: dict[str, object] = {}
    if draw(st.booleans()):
        state.update(
            folder="INBOX",
            uid=draw(st.integers(1, 2**32 - 1)),
            modseq=draw(st.integers(1, 2**63 - 1)),
        )
    if draw(st.booleans()):
        state["internal_date"] = datetime(2026, 11, 21, 11, tzinfo=UTC)
    if draw(st.booleans()):
        state["extended"] = [RawProperty("X-GM-LABELS", '"\\\\Important" work')]
    chosen = draw(flags)
    return lambda: attrs.evolve(mime.build(**arguments).with_flags(*chosen), **state)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(messages())
def test_a_message_survives_mapi_and_msg(make: Callable[[], Message]) -> None:
    """model → MAPI → .msg → MAPI → model is identity on every field."""
    message = make()
    assert from_mapi(to_mapi(message)) == message
    assert msg.read(msg.write(message)) == message


def test_a_headers_only_message_survives() -> None:
    """A message known by its headers and BODYSTRUCTURE only keeps them (and no source)."""
    full = mime.build(
        from_=Address("ann@example.org", "Ann"),
        to=[Address("bob@example.org")],
        subject="Hi",
        text="x",
    )
    assert full.content is not None
    headers_only = attrs.evolve(
        mime.parse_headers(full.content), uid=3, size=full.size, parts=full.parts
    )
    back = msg.read(msg.write(headers_only))
    assert back == headers_only
    assert back.content is None


def test_outlook_sees_what_it_expects() -> None:
    """The properties Outlook reads are set as MS-OXOMSG says (a test of values, not of a
    round trip)."""
    message = mime.build(
        from_=Address("boss@example.org", "Boss"),
        sender=Address("assistant@example.org", "Assistant"),
        to=[Address("ann@example.org", "Ann")],
        cc=[Address("cc@example.org")],
        subject="Budget",
        text="Numbers\nattached",
        attachments=[Attachment(filename="q3.pdf", content_type="application/pdf", data=b"%PDF")],
    ).with_flags("\\Seen", "\\Flagged", "\\Answered", "Finance")
    bag = to_mapi(message)
    assert bag[props.PidTagMessageClass] == "IPM.Note"
    assert bag[props.PidTagSubject] == "Budget"
    assert bag[props.PidTagBody] == "Numbers\r\nattached\r\n"
    assert bag[props.PidTagSentRepresentingSmtpAddress] == "boss@example.org"  # on behalf of
    assert bag[props.PidTagSenderSmtpAddress] == "assistant@example.org"
    assert bag[props.PidTagMessageFlags] & 0x1  # MSGFLAG_READ
    assert bag[props.PidTagFlagStatus] == 2
    assert bag[props.PidTagLastVerbExecuted] == 102
    assert bag[props.PidNameKeywords] == ("Finance",)
    assert [(r[props.PidTagRecipientType], r[props.PidTagSmtpAddress]) for r in bag.recipients] == [
        (1, "ann@example.org"),
        (2, "cc@example.org"),
    ]
    assert bag[props.PidTagDisplayTo] == "Ann"
    (attachment,) = bag.attachments
    assert attachment[props.PidTagAttachLongFilename] == "q3.pdf"
    assert attachment[props.PidTagAttachDataBinary] == b"%PDF"
    assert attachment[props.PidTagAttachMethod] == 1


def test_an_outlook_edit_rebuilds_the_source() -> None:
    """When Outlook changed what the source says, the source is rebuilt from the
    properties, and the received headers stay."""
    message = mime.parse(
        b"Received: from mx.example.org by mail.example.org; Sat, 21 Nov 2026 10:00:00 +0000\r\n"
        b"From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: Draft\r\n"
        b"Message-ID: <1@example.org>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
        b"Content-Type: text/plain\r\n\r\nold body\r\n"
    )
    bag = to_mapi(message)
    bag[props.PidTagSubject] = "Final"
    bag[props.PidTagBody] = "new body"
    edited = from_mapi(bag)
    assert edited.subject == "Final"
    assert mime.text_body(edited) == "new body\n"
    assert edited.content is not None
    assert edited.content.startswith(b"Received: from mx.example.org")
    assert edited.envelope.message_id == "<1@example.org>"


def test_flags_changed_in_outlook_do_not_rebuild_the_source() -> None:
    """Reading or flagging in Outlook is state, not content: the source stays byte for byte."""
    message = mime.build(
        from_=Address("ann@example.org"), to=[Address("bob@example.org")], subject="s", text="t"
    )
    bag = to_mapi(message)
    bag[props.PidTagMessageFlags] = 0x1
    bag[props.PidTagFlagStatus] = 2
    back = from_mapi(bag)
    assert back.content == message.content
    assert back.is_seen
    assert back.is_flagged


OUTLOOK_MESSAGES = [
    # file, subject, author, attachment names (as Outlook lists them)
    (
        "mail-parser-outlook-1.msg",
        "Newsletter Prüfung Personalwesen / Prüfung Eröffnungsbilanz",
        "NueblingV@w-vwa.de",
        ["newsletter.png", "spacer.gif", "image004.jpg", "image006.jpg", "image008.jpg"],
    ),
    ("msg-parser-outer.msg", "outer subject", None, [None]),
    (
        "msg-parser-other.msg",
        "投递状态通知 (Failure Notice)",
        "mailer-daemon@tjdpf.org.cn",
        ["default_attachment.eml"],
    ),
    (
        "msgreader-test.msg",
        "asdf",
        "christoph@freiraum.xyz",
        ["5AAoPFgV-nJ965R7o-98C38840-4454-4750-9AEF-F53DB3E37548.jpg"],
    ),
]


@pytest.mark.parametrize(("name", "subject", "author", "attachments"), OUTLOOK_MESSAGES)
def test_outlook_made_messages_are_read(
    outlook_file: FindFile,
    name: str,
    subject: str,
    author: str | None,
    attachments: list[str | None],
) -> None:
    """Messages Outlook wrote read into the model: subject, author, recipients, bodies;
    writing their properties again gives the same properties back."""
    data = outlook_file(name).read_bytes()
    bag = msg.read_properties(data)
    assert [row.text(props.PidTagAttachLongFilename) for row in bag.attachments] == attachments
    assert msg.read_properties(msg.write_properties(bag)) == bag
    message = msg.read(data)
    assert isinstance(message, Message)
    assert message.subject == subject
    assert [a.email for a in message.envelope.from_] == ([author] if author else [])
    assert message.envelope.to
    assert message.content is not None
    assert mime.text_body(message) or mime.html_body(message)
    # the item goes back to MAPI with every property Outlook set still there
    again = to_mapi(message)
    for key in bag:
        if key in again or bag[key] in ("", ()):  # MAPI: empty and absent are the same
            continue
        assert key in STORE_LOCAL or key in DERIVED, props.NAMES.get(key, key)


# What Outlook writes that the rebuilt source says in its own way: the headers (rebuilt
# around the received ones) and the code page (the rebuilt source is UTF-8).
DERIVED = {props.PidTagTransportMessageHeaders, props.PidTagInternetCodepage}


def test_extract_msg_reads_what_we_write(tmp_path: Path) -> None:
    """A second, independent reader (extract-msg, test-only) sees the same message."""
    extract_msg = pytest.importorskip("extract_msg")
    message = mime.build(
        from_=Address("ann@example.org", "Ann Example"),
        to=[Address("bob@example.org", "Bob")],
        cc=[Address("carol@example.org")],
        subject="Quarterly figures ✓",
        text="See attached.\nAnn",
        attachments=[
            Attachment(filename="figures.csv", content_type="text/csv", data=b"a,b\n1,2\n")
        ],
    )
    path = tmp_path / "out.msg"
    path.write_bytes(msg.write(message))
    assert olefile.isOleFile(str(path))
    with extract_msg.openMsg(str(path)) as read:
        assert read.subject == "Quarterly figures ✓"
        assert "ann@example.org" in read.sender
        assert "bob@example.org" in read.to
        assert "carol@example.org" in read.cc
        assert read.body.replace("\r\n", "\n").startswith("See attached.\nAnn")
        (attachment,) = read.attachments
        assert attachment.longFilename == "figures.csv"
        assert attachment.data == b"a,b\n1,2\n"


def test_exchange_addresses_keep_their_names() -> None:
    """A recipient with no SMTP address (an Exchange X.500 address in an old PST) is
    written as a group named after it, not dropped and not an error."""
    bag = to_mapi(
        mime.build(
            from_=Address("ann@example.org"), to=[Address("bob@example.org")], subject="s", text="t"
        )
    )
    del bag[props.PidTagSubject]  # edited: the source is rebuilt
    row = bag.recipients[0]
    row[props.PidTagSmtpAddress] = "/O=EXAMPLE/OU=FIRST/CN=RECIPIENTS/CN=BOB"
    row[props.PidTagEmailAddress] = "/O=EXAMPLE/OU=FIRST/CN=RECIPIENTS/CN=BOB"
    row[props.PidTagDisplayName] = "Bob Example"
    message = from_mapi(bag)
    assert message.content is not None
    assert b"To: Bob Example:;" in message.content


def test_reply_to_is_outlooks_reply_recipient_list() -> None:
    """Reply-To is written as Outlook's one-off entry list and read back from it when the
    source is rebuilt."""
    message = mime.build(
        from_=Address("ann@example.org"),
        to=[Address("bob@example.org")],
        reply_to=[Address("team@example.org", "Team")],
        subject="s",
        text="t",
    )
    bag = to_mapi(message)
    entries = bag[props.PidTagReplyRecipientEntries]
    assert isinstance(entries, bytes)
    assert entries[:4] == b"\x01\x00\x00\x00"  # one entry
    assert "team@example.org".encode("utf-16-le") in entries
    assert bag[props.PidTagReplyRecipientNames] == "Team"
    bag[props.PidTagSubject] = "edited"  # the source is rebuilt from the properties
    rebuilt = from_mapi(bag)
    assert rebuilt.envelope.reply_to == (Address("team@example.org", "Team"),)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_damaged_msg_file_is_a_parse_error_or_a_message(data: st.DataObject) -> None:
    """Bytes flipped anywhere in a .msg (property table, streams, name map, directory)
    give ParseError or InvalidItemError, never an exception of olefile or struct."""
    from openprotocols.errors import InvalidItemError, ParseError

    original = bytearray(_SAMPLE_MSG)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(original) - 1))
        original[at] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ParseError, InvalidItemError):
        msg.read(bytes(original))


_SAMPLE_MSG = msg.write(
    mime.build(
        from_=Address("ann@example.org", "Ann"),
        to=[Address("bob@example.org")],
        reply_to=[Address("team@example.org")],
        subject="Sample",
        text="Body",
        attachments=[Attachment(filename="a.txt", content_type="text/plain", data=b"x" * 300)],
    ).with_flags("\\Seen", "Work")
)
