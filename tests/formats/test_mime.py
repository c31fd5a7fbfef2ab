"""The MIME codec: reading messages into the model, building outgoing ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats import mime
from openprotocols.formats._contentline import Warning
from openprotocols.model import Account, AccountOptions, Address, Attachment, Message

CORPUS = Path(__file__).parent / "corpus" / "mime"


def corpus(name: str) -> bytes:
    """The bytes of one corpus file."""
    return (CORPUS / name).read_bytes()


def sample(**overrides: object) -> Message:
    """A small built message, with the given build() arguments changed."""
    arguments: dict[object, object] = {
        "from_": Address("ann@example.org", "Ann Lee"),
        "to": [Address("bob@example.net", "Bob")],
        "subject": "Hello",
        "text": "Hi Bob\n",
        "date": datetime(2024, 9, 2, 10, 0, tzinfo=UTC),
    }
    arguments.update(overrides)
    return mime.build(**arguments)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- parse


def test_parse_reads_the_envelope() -> None:
    """Addresses, subject, date, ids and references come from the headers."""
    message = mime.parse(corpus("plain-ascii.eml"))
    envelope = message.envelope
    assert envelope.from_ == (Address("ann@example.org", "Ann Lee"),)
    assert envelope.to == (
        Address("bob@example.net", "Bob"),
        Address("carla@example.net", "Smith, Carla"),
    )
    assert envelope.cc == (Address("team@example.org"),)
    assert envelope.subject == "Lunch on Friday?"
    assert envelope.date == datetime(2024, 9, 2, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert envelope.message_id == "<plain-1@example.org>"
    assert envelope.in_reply_to == "<earlier@example.net>"
    assert envelope.references == ("<first@example.net>", "<earlier@example.net>")


def test_parse_keeps_the_source_and_the_header_block() -> None:
    """content is the input, headers the block up to and including the empty line."""
    data = corpus("plain-ascii.eml")
    message = mime.parse(data)
    assert message.content is data or message.content == data
    assert message.headers is not None
    assert data.startswith(message.headers)
    assert message.headers.endswith(b"\r\n\r\n")
    assert message.headers.count(b"\r\n\r\n") == 1
    assert message.size == len(data)
    assert mime.serialize(message) == data


def test_encoded_words_are_decoded() -> None:
    """RFC 2047 subjects and display names read as Unicode, across folded lines."""
    envelope = mime.parse(corpus("alternative-qp-utf8.eml")).envelope
    assert envelope.subject == "Café meeting — 会議 notes"
    assert envelope.from_[0].name == "Zoë Saldana"
    assert envelope.to[0].name == "山田太郎"


def test_raw_eight_bit_headers_are_read() -> None:
    """UTF-8 headers (RFC 6532) read as UTF-8; Latin-1 ones are read, with a warning."""
    warnings: list[Warning] = []
    utf8 = mime.parse(corpus("utf8-headers-lf.eml"), warnings=warnings).envelope
    assert utf8.subject == "Grüße aus Köln"
    assert utf8.from_ == (Address("jürgen@bücher.example", "Jürgen Müller"),)
    assert warnings == []
    latin = mime.parse(corpus("latin1-8bit.eml"), warnings=warnings).envelope
    assert latin.subject == "Réunion demain"
    assert latin.from_[0].name == "François Pérez"
    assert any("not UTF-8" in str(w) for w in warnings)


def test_minus_zero_zone_reads_as_utc() -> None:
    """A "-0000" date (zone unknown) is aware, in UTC."""
    envelope = mime.parse(corpus("headers-only.eml")).envelope
    assert envelope.date == datetime(2024, 9, 7, 8, 0, tzinfo=UTC)


def test_parts_are_numbered_as_imap_does() -> None:
    """Sections follow IMAP: containers listed, encapsulated messages numbered below."""
    parts = mime.parse(corpus("nested-rfc822.eml")).parts
    assert [(p.section, p.content_type) for p in parts] == [
        ("1", "text/plain"),
        ("2", "message/rfc822"),
        ("2.1", "text/plain"),
        ("2.2", "text/csv"),
        ("3", "message/rfc822"),
        ("3.1", "text/plain"),
    ]
    google = mime.parse(corpus("google-invitation.eml")).parts
    assert [p.section for p in google] == ["1", "1.1", "1.2", "1.3", "2"]
    assert google[0].is_multipart


def test_single_part_message_body_is_section_one() -> None:
    """A message that is not multipart has its body at section 1."""
    (part,) = mime.parse(corpus("plain-ascii.eml")).parts
    assert part.section == "1"
    assert part.content_type == "text/plain"
    assert part.charset == "us-ascii"
    assert part.encoding == "7bit"
    assert part.size == len(b"Hi Bob,\r\n\r\nlunch on Friday at noon?\r\n\r\nAnn\r\n")


def test_file_names_in_every_encoding() -> None:
    """RFC 2231 (continued, charset), RFC 2047 quoted and unquoted file names decode."""
    message = mime.parse(corpus("attachments-2231-2047.eml"))
    names = {p.section: p.filename for p in message.parts}
    assert names["1.2"] == "logo.png"
    assert names["2"] == "Résumé.pdf"
    assert names["3"] == "€ Rechnung März.pdf"
    assert names["4"] == "Müller.txt"
    assert names["5"] == "über.bin"
    logo = message.part("1.2")
    assert logo is not None
    assert logo.content_id == "<logo@example.org>"
    assert logo.disposition == "inline"
    assert [p.section for p in message.attachments] == ["2", "3", "4", "5"]


def test_bodies_are_decoded() -> None:
    """text_body and html_body undo quoted-printable and the charset."""
    message = mime.parse(corpus("alternative-qp-utf8.eml"))
    text = mime.text_body(message)
    assert text is not None
    assert text.startswith("Café notes: the 会議 went well. A long line that is wrapped by")
    assert "\r" not in text
    assert mime.html_body(message) == "<p>Café notes: the 会議 went <b>well</b>.</p>\n"


def test_latin1_body_is_decoded() -> None:
    """An 8-bit ISO-8859-1 body reads with its charset."""
    assert mime.text_body(mime.parse(corpus("latin1-8bit.eml"))) == (
        "La réunion est déplacée à 10h.\n"
    )


def test_missing_bodies_are_none() -> None:
    """A message without an HTML part has no html_body, and vice versa."""
    assert mime.html_body(mime.parse(corpus("plain-ascii.eml"))) is None
    assert mime.text_body(mime.parse(corpus("attachments-2231-2047.eml"))) is None


def test_body_of_a_bounce_is_not_taken_from_the_returned_message() -> None:
    """The HTML of a message inside a bounce is not the bounce's HTML body."""
    message = mime.parse(corpus("bounce-with-invitation.eml"))
    assert mime.html_body(message) is None
    assert "User unknown" in (mime.text_body(message) or "")


def test_attachments_are_decoded_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """iter_attachments decodes a part only when the iterator reaches it."""
    decoded: list[object] = []
    original = mime._decoded

    def spy(part: object) -> bytes:
        decoded.append(part)
        return original(part)  # type: ignore[arg-type]

    monkeypatch.setattr(mime, "_decoded", spy)
    attachments = mime.iter_attachments(mime.parse(corpus("attachments-2231-2047.eml")))
    first = next(attachments)
    assert len(decoded) == 1
    assert first.filename == "logo.png"
    assert first.data is not None
    assert first.data.startswith(b"\x89PNG")
    rest = list(attachments)
    assert [a.filename for a in rest] == [
        "Résumé.pdf",
        "€ Rechnung März.pdf",
        "Müller.txt",
        "über.bin",
    ]
    assert rest[0].data is not None
    assert rest[0].data.startswith(b"%PDF-1.4")
    assert rest[2].data == b"Gr\xfc\xdfe\r\n"
    assert rest[3].data == b"\x00\x01\x02\x03\x04"
    assert len(decoded) == 5


def test_part_data_decodes_one_part() -> None:
    """part_data returns one part's decoded bytes, and refuses an unknown section."""
    message = mime.parse(corpus("exchange-request-base64.eml"))
    assert mime.part_data(message, "3").startswith(b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST")
    forwarded = mime.parse(corpus("nested-rfc822.eml"))
    assert mime.part_data(forwarded, "2").startswith(b"From: Ann Lee <ann@example.org>\r\n")
    with pytest.raises(InvalidItemError):
        mime.part_data(message, "9")


def test_headers_only_parse() -> None:
    """parse_headers reads the envelope of a header block and leaves content None."""
    data = corpus("plain-ascii.eml")
    message = mime.parse_headers(data)
    assert message.headers_only
    assert message.headers == mime.parse(data).headers
    assert message.envelope == mime.parse(data).envelope
    with pytest.raises(InvalidItemError):
        mime.serialize(message)
    with pytest.raises(InvalidItemError):
        mime.text_body(message)


def test_broken_headers_parse_with_warnings() -> None:
    """Bad dates and address lists give warnings and what could be read."""
    warnings: list[Warning] = []
    message = mime.parse(corpus("broken-headers.eml"), warnings=warnings)
    envelope = message.envelope
    assert envelope.date is None
    assert Address("good@example.org") in envelope.to
    assert envelope.cc == ()
    assert envelope.message_id == "not-in-brackets"
    assert any("Date" in str(w) for w in warnings)
    assert any("address" in str(w) for w in warnings)
    assert mime.text_body(message) == "Hello world"


@pytest.mark.parametrize("value", ["text/plain;utf-8*", "text/plain; charset*"])
def test_a_header_the_standard_library_crashes_on_is_kept_as_text(value: str) -> None:
    """Python's Content-Type parser raises ``IndexError`` on a parameter name ending in
    ``*`` without ``=`` (it records other faults as defects). The message still reads:
    envelope, text, and the part's type; its parameters are lost, with a warning."""
    source = (
        "From: a@example.org\r\nSubject: hi\r\nMessage-ID: <x@example.org>\r\n"
        f"Content-Type: {value}\r\n\r\nbody\r\n"
    ).encode()
    warnings: list[Warning] = []
    message = mime.parse(source, warnings=warnings)
    assert (message.subject, message.envelope.message_id) == ("hi", "<x@example.org>")
    assert mime.text_body(message).strip() == "body"
    assert message.parts[0].content_type == "text/plain"
    assert mime.parse_headers(source).envelope.message_id == "<x@example.org>"


def test_date_and_address_headers_the_standard_library_crashes_on() -> None:
    """A Date that overflows and address lists that make the parser raise: no date, the
    addresses from the old parser, a warning for each; the rest of the message reads."""
    source = (
        b'From: a@example.org, "\r\nTo: =?utf-8?q?a?= <\r\nDate: 1 Jan 99999999999 10:00\r\n'
        b"Subject: hi\r\n\r\nbody\r\n"
    )
    for read in (mime.parse, mime.parse_headers):
        warnings: list[Warning] = []
        message = read(source, warnings=warnings)
        assert message.subject == "hi"
        assert message.envelope.date is None
        assert Address("a@example.org") in message.envelope.from_
        assert any("Date" in str(w) for w in warnings)


def test_non_bytes_input_is_a_parse_error() -> None:
    """A str is refused with ParseError (never taken for anything else)."""
    with pytest.raises(ParseError):
        mime.parse("From: a@b\r\n\r\nx")  # type: ignore[arg-type]


def test_nesting_too_deep_is_a_parse_error() -> None:
    """Thousands of nested multiparts raise ParseError, not RecursionError."""
    data = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for level in range(3000):
        data += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (
            level,
            level + 1,
        )
    with pytest.raises(ParseError):
        mime.parse(data)


def test_moderate_nesting_is_listed_up_to_the_limit() -> None:
    """Parts below MAX_DEPTH are not listed, with a warning."""
    data = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for level in range(mime.MAX_DEPTH + 10):
        data += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (
            level,
            level + 1,
        )
    warnings: list[Warning] = []
    message = mime.parse(data, warnings=warnings)
    assert len(message.parts) == mime.MAX_DEPTH
    assert any("too deeply" in str(w) for w in warnings)


def test_header_block_end_variants() -> None:
    """The header block ends after the first empty line, whatever the line ends."""
    assert mime.header_block_end(b"A: 1\r\n\r\nbody") == 8
    assert mime.header_block_end(b"A: 1\n\nbody") == 6
    assert mime.header_block_end(b"\r\nbody") == 2
    assert mime.header_block_end(b"A: 1\r\n") == 6


# --------------------------------------------------------------------------- build


def test_build_round_trips_the_envelope() -> None:
    """Parsing what build() made gives back every envelope field."""
    message = sample(
        cc=[Address("carla@example.net")],
        reply_to=Address("replies@example.org"),
        in_reply_to="<earlier@example.net>",
        references=["<first@example.net>", "<earlier@example.net>"],
        message_id="<fixed@example.org>",
    )
    assert message.content is not None
    reparsed = mime.parse(message.content).envelope
    assert reparsed == attrs.evolve(message.envelope, bcc=())
    assert reparsed.subject == "Hello"
    assert reparsed.reply_to == (Address("replies@example.org"),)
    assert reparsed.date == datetime(2024, 9, 2, 10, 0, tzinfo=UTC)
    assert reparsed.message_id == "<fixed@example.org>"
    assert reparsed.references == ("<first@example.net>", "<earlier@example.net>")
    assert mime.serialize(message) == message.content
    assert message.content.count(b"\n") == message.content.count(b"\r\n")


def test_build_generates_message_id_and_date() -> None:
    """Without them, build() makes a unique Message-ID on the author's domain and a date."""
    first = sample(date=None)
    second = sample(date=None)
    assert first.envelope.message_id is not None
    assert first.envelope.message_id.endswith("@example.org>")
    assert first.envelope.message_id != second.envelope.message_id
    assert first.envelope.date is not None
    assert abs(first.envelope.date - datetime.now(UTC)) < timedelta(minutes=1)


def test_bcc_stays_off_the_wire_but_in_the_envelope() -> None:
    """Bcc is not in content, is in envelope.bcc and rcpt_to, and in the Sent copy."""
    secret = Address("secret@example.org", "Sëcret")
    message = sample(bcc=[secret], cc=[Address("carla@example.net")])
    assert message.content is not None
    assert b"secret@example.org" not in message.content
    assert b"Bcc" not in message.content
    assert message.envelope.bcc == (secret,)
    assert mime.rcpt_to(message) == ["bob@example.net", "carla@example.net", "secret@example.org"]
    sent = mime.for_sent_folder(message)
    assert sent.content is not None
    assert mime.parse(sent.content).envelope.bcc == (secret,)
    assert sent.headers is not None
    assert message.headers is not None
    assert sent.content[len(sent.headers) :] == message.content[len(message.headers) :]
    assert sent.headers.startswith(message.headers[:-2])
    assert mime.for_sent_folder(sent) == sent


def test_for_sent_folder_without_bcc_changes_nothing() -> None:
    """A message without Bcc is its own Sent copy."""
    message = sample()
    assert mime.for_sent_folder(message) is message


def test_rcpt_to_lists_each_address_once() -> None:
    """The same address in To and Bcc (any case) is one recipient."""
    message = sample(bcc=[Address("BOB@example.net")])
    assert mime.rcpt_to(message) == ["bob@example.net"]


def test_send_on_behalf_sets_from_and_sender() -> None:
    """From is the person represented, Sender the account (RFC 5322 section 3.6.2)."""
    account = Account(
        email="assistant@example.org",
        display_name="Pat Assistant",
        options=AccountOptions(
            send_on_behalf_of=Address("boss@example.org", "The Boss"),
            reply_to=Address("office@example.org"),
        ),
    )
    message = mime.build(account=account, to=Address("bob@example.net"), subject="x", text="y")
    assert message.envelope.from_ == (Address("boss@example.org", "The Boss"),)
    assert message.envelope.sender == (Address("assistant@example.org", "Pat Assistant"),)
    assert message.envelope.reply_to == (Address("office@example.org"),)
    assert mime.envelope_from(message) == "assistant@example.org"


def test_account_without_delegation_sends_as_itself() -> None:
    """An account's own name goes into From, and no Sender is written."""
    account = Account(
        email="ann@example.org", options=AccountOptions(sender_name="Ann from Accounts")
    )
    message = mime.build(account=account, to=Address("bob@example.net"), text="y")
    assert message.envelope.from_ == (Address("ann@example.org", "Ann from Accounts"),)
    assert message.envelope.sender == ()
    assert mime.envelope_from(message) == "ann@example.org"


def test_sender_equal_to_from_is_dropped_and_several_authors_need_one() -> None:
    """Sender is omitted when it is the author; several authors require it."""
    message = sample(sender=Address("ANN@example.org"))
    assert message.envelope.sender == ()
    with pytest.raises(InvalidItemError):
        sample(from_=[Address("a@example.org"), Address("b@example.org")])
    two = sample(
        from_=[Address("a@example.org"), Address("b@example.org")],
        sender=Address("a@example.org"),
    )
    assert two.envelope.sender == (Address("a@example.org"),)


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Hi\r\nBcc: victim@example.org"},
        {"subject": "Hi\nX-Injected: 1"},
        {"to": [Address("bob@example.net\r\nBcc: x@y")]},
        {"to": [Address("bob@example.net", "Bob\r\nBcc: x@y")]},
        {"in_reply_to": "<a@b>\r\nX: y"},
        {"references": ["<a@b>\nX: y"]},
        {"message_id": "<a@b>\rX: y"},
        {"headers": {"X-Mine": "ok\r\nBcc: x@y"}},
        {"headers": {"X-Mine\r\nBcc": "x@y"}},
        {"bcc": [Address("a@b\r\nX: y")]},
        {"attachments": [Attachment(filename="a\r\nb.txt", data=b"x")]},
    ],
)
def test_header_injection_is_refused(overrides: dict[str, object]) -> None:
    """A CR or LF in any header value raises InvalidItemError."""
    with pytest.raises(InvalidItemError):
        sample(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"from_": None},
        {"to": [Address("not an address")]},
        {"headers": {"Subject": "twice"}},
        {"headers": {"Bad Name": "x"}},
        {"attachments": [Attachment(filename="a.txt")]},
        {"attachments": [Attachment(filename="a.txt", data=b"x", content_type="nonsense")]},
    ],
)
def test_invalid_arguments_are_refused(overrides: dict[str, object]) -> None:
    """No author, a bad address, a reserved or invalid header, an empty attachment."""
    with pytest.raises(InvalidItemError):
        sample(**overrides)


def test_text_and_html_make_an_alternative_and_attachments_a_mixed() -> None:
    """Both bodies nest in multipart/alternative inside multipart/mixed with the files."""
    message = sample(
        html="<p>Hi Bob</p>",
        attachments=[
            Attachment(filename="Résumé €.pdf", content_type="application/pdf", data=b"%PDF"),
            Attachment(
                filename="logo.png",
                content_type="image/png",
                data=b"\x89PNG",
                content_id="logo@example.org",
                inline=True,
            ),
        ],
        headers=[("X-Priority", "1")],
    )
    assert message.content is not None
    types = [(p.section, p.content_type) for p in message.parts]
    assert types == [
        ("1", "multipart/alternative"),
        ("1.1", "text/plain"),
        ("1.2", "multipart/related"),
        ("1.2.1", "text/html"),
        ("1.2.2", "image/png"),
        ("2", "application/pdf"),
    ]
    assert mime.text_body(message) == "Hi Bob\n"
    assert mime.html_body(message) == "<p>Hi Bob</p>\n"
    files = {a.filename: a for a in mime.iter_attachments(message)}
    assert files["Résumé €.pdf"].data == b"%PDF"
    assert files["logo.png"].content_id == "<logo@example.org>"
    assert b"X-Priority: 1\r\n" in message.content
    assert message.content.count(b"MIME-Version") == 1


def test_non_ascii_text_is_sent_in_seven_bit_encodings() -> None:
    """No part needs 8BITMIME: non-ASCII text goes quoted-printable or base64."""
    message = sample(text="Grüße\n", html="<p>Grüße</p>", subject="Grüße")
    assert message.content is not None
    assert message.content.isascii()
    assert mime.text_body(message) == "Grüße\n"
    assert message.envelope.subject == "Grüße"


def test_idn_domain_is_encoded() -> None:
    """A non-ASCII domain is written in IDNA (punycode)."""
    message = sample(to=[Address("info@bücher.example")])
    assert message.envelope.to == (Address("info@xn--bcher-kva.example"),)


def test_non_ascii_local_part_uses_smtputf8() -> None:
    """A non-ASCII local part is written as UTF-8 (RFC 6532) and reads back."""
    message = sample(to=[Address("jürgen@example.org", "Jürgen")])
    assert message.envelope.to == (Address("jürgen@example.org", "Jürgen"),)


def test_calendar_alternative() -> None:
    """calendar adds text/calendar with the method read from the data."""
    calendar = b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n"
    message = sample(calendar=calendar)
    part = message.part("2")
    assert part is not None
    assert part.content_type == "text/calendar"
    assert mime.part_data(message, "2") == calendar
    assert message.content is not None
    assert b'method="REPLY"' in message.content


def test_long_message_ids_are_never_encoded() -> None:
    """Exchange's long message ids stay verbatim in In-Reply-To and References, folded
    between ids only."""
    long_id = "<AM0PR01MB1234C2A1E2B3F4D5A6B7C8D9E0F1A2@AM0PR01MB1234.eurprd01.prod.example.com>"
    message = sample(
        message_id=long_id, in_reply_to=long_id, references=[long_id, "<a@b>", long_id]
    )
    assert message.content is not None
    assert b"=?" not in message.content
    assert message.envelope.message_id == long_id
    assert message.envelope.in_reply_to == long_id
    assert message.envelope.references == (long_id, "<a@b>", long_id)
    with pytest.raises(InvalidItemError):
        sample(in_reply_to="<not one id> <but two>")


def test_naive_date_is_utc() -> None:
    """A naive date given to build() is taken as UTC."""
    message = sample(date=datetime(2024, 1, 1, 12, 0))
    assert message.envelope.date == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def test_encoded_word_in_an_unknown_charset_reads_as_text() -> None:
    """Bytes of an encoded word whose charset is unknown become Latin-1, not surrogates."""
    message = mime.parse(b"To: =?\x01so-8859-1?Q?J=FCrgen?= <j@example.org>\r\n\r\nx")
    assert message.envelope.to == (Address("j@example.org", "J\u00fcrgen"),)


def test_a_charset_name_with_a_nul_reads_as_ascii() -> None:
    """Found by the fuzz test: the standard library raises ValueError (not LookupError)
    for such a charset when a text part holds 8-bit bytes."""
    data = (
        b"From: J\xc3\xbcrgen <j@example.org>\nSubject: x\nMIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=\x00tf-8\nContent-Transfer-Encoding: 8bit\n\n"
        b"Sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9fe\n"
    )
    message = mime.parse(data)
    assert mime.serialize(message) == data
    assert mime.text_body(message) is not None
    assert [part.section for part in message.parts] == ["1"]
