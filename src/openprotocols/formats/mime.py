"""RFC 5322 / MIME mail ⇄ :class:`~openprotocols.model.Message`, on top of the stdlib ``email``.

Reading (:func:`parse`, :func:`parse_headers`) never changes a byte: the model keeps the
source in :attr:`Message.content` and the header block in :attr:`Message.headers`, and
:func:`serialize` hands ``content`` back unchanged, so a received message is never
re-generated. What the model describes — the :class:`~openprotocols.model.Envelope`, the
size and the :class:`~openprotocols.model.MessagePart` layout numbered as IMAP numbers
sections — is read from the source with ``email.policy.default``. Header blocks and envelope
values in their plain, common forms are read by a faster path of our own that gives exactly
what ``email`` gives; anything unusual goes to ``email`` (see "fast path" below).

Bodies and attachments are decoded only when asked for: :func:`text_body`,
:func:`html_body`, :func:`part_data` and :func:`iter_attachments` (one part decoded at a
time).

Writing (:func:`build`) generates a new message: Message-ID and Date, Reply-To,
*send on behalf* (``From`` the person represented, ``Sender`` the account, RFC 5322
section 3.6.2) and Bcc, which is kept out of the bytes that go on the wire
(:attr:`Message.content`) but stays in :attr:`Envelope.bcc`; :func:`for_sent_folder`
gives the copy for the Sent folder with a ``Bcc`` header, and :func:`rcpt_to` the SMTP
recipients, Bcc included. Every header value is refused if it holds a CR or LF.

Malformed input parses as far as it can be read; what was repaired or skipped is reported
in the ``warnings`` list a caller passes. Only what cannot be read at all (not bytes,
nesting too deep for the parser) raises :class:`~openprotocols.errors.ParseError`; no
exception of ``email`` escapes.
"""

from __future__ import annotations

import base64
import binascii
import email.errors
import email.header
import email.headerregistry
import email.utils
import functools
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from typing import Any

import attrs

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats._contentline import Warning
from openprotocols.model._base import Address
from openprotocols.model.accounts import Account
from openprotocols.model.calendar import Attachment
from openprotocols.model.mail import Envelope, Message, MessagePart

__all__ = [
    "MAX_DEPTH",
    "Warning",
    "build",
    "envelope_from",
    "for_sent_folder",
    "header_block_end",
    "html_body",
    "iter_attachments",
    "parse",
    "parse_headers",
    "part_data",
    "rcpt_to",
    "serialize",
    "text_body",
]

MAX_DEPTH = 64
"""How deeply multiparts and encapsulated messages are followed; deeper parts are not
listed (with a warning). Real mail nests a handful of levels."""

_FORMAT = "MIME"


class _Unparsed(email.headerregistry.UnstructuredHeader):
    """A header whose parser crashed, kept as its text (see :class:`_HeaderFactory`)."""

    crash = ""
    """What the parser raised: ``"IndexError: string index out of range"``."""


class _HeaderFactory(email.headerregistry.HeaderRegistry):
    """``email.policy.default``'s header factory, with the work it repeats cached.

    The standard library parses a header again on every access (``get_content_type()``
    alone parses ``Content-Type``; the parser asks for each part's type several times) and
    makes a new class per header object. Here the classes are made once per header kind,
    and header objects are shared for equal ``(name, value)``: they are immutable (a
    ``str`` with read-only properties), so sharing cannot change a result. The cache is
    bounded in entries and in the length of the values it keeps.

    The standard library's header parsers record what is wrong with a value as defects,
    but some malformed values make them crash (``Content-Type: text/plain;utf-8*`` raises
    ``IndexError`` in Python 3.11). Such a header is kept as its text (:class:`_Unparsed`):
    one bad header must not make a whole message unreadable, and the readers here take
    it for an unreadable one.
    """

    _CACHED_VALUE = 2048
    """Longer values are parsed every time (bounds the memory the cache holds)."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[type[Any], type[email.headerregistry.BaseHeader]] = {}
        self._unparsed = type("_Unparsed", (_Unparsed, self.base_class), {})
        self._cached = functools.lru_cache(maxsize=512)(self._make)

    def __getitem__(self, name: str) -> type[email.headerregistry.BaseHeader]:
        kind = self.registry.get(name.lower(), self.default_class)
        made = self._classes.get(kind)
        if made is None:
            made = self._classes[kind] = super().__getitem__(name)
        return made

    def _make(self, name: str, value: Any) -> email.headerregistry.BaseHeader:
        try:
            return self[name](name, value)
        except Exception as exc:  # a crash of the parser (not a defect it records)
            unparsed = self._unparsed(name, value)
            unparsed.crash = f"{type(exc).__name__}: {exc}"  # a string: no traceback kept
            header: email.headerregistry.BaseHeader = unparsed
            return header

    def __call__(self, name: str, value: Any) -> email.headerregistry.BaseHeader:
        if type(value) is str and len(value) <= self._CACHED_VALUE:
            return self._cached(name, value)
        return self._make(name, value)


_POLICY = email_policy.default.clone(header_factory=_HeaderFactory())
_PARSER = BytesParser(policy=_POLICY)
_REGENERATE = _POLICY.clone(refold_source="none", linesep="\r\n")
# CRLF line ends, as SMTP and IMAP APPEND want them; 7-bit transfer encodings only, so
# that no server needs 8BITMIME (non-ASCII text goes quoted-printable or base64).
_WIRE = email_policy.SMTP.clone(cte_type="7bit")
_WIRE_UTF8 = email_policy.SMTPUTF8.clone(cte_type="7bit")

_MSGID = re.compile(r"<[^<>]*>")
_FOLDING = re.compile(r"\r?\n")
_RAW_NAME = re.compile(r"""(?i)(?:^|;)\s*(?:file)?name\s*=\s*("(?:[^"\\]|\\.)*"|[^;]+)""")
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # printable US-ASCII except the colon (RFC 5322 §2.2)

# Headers build() writes itself; extra headers may not set them.
_OWN_HEADERS = frozenset(
    name.lower()
    for name in (
        "From",
        "Sender",
        "Reply-To",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
    )
)
_ADDRESS_FIELDS = {
    "from": "from_",
    "sender": "sender",
    "reply-to": "reply_to",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
}
_ENVELOPE_HEADERS = frozenset(
    (*_ADDRESS_FIELDS, "subject", "date", "message-id", "in-reply-to", "references")
)


# --------------------------------------------------------------------------- reading


def header_block_end(data: bytes) -> int:
    """The offset just past the header block of ``data``: past the first empty line
    (which belongs to the block, as in IMAP's ``BODY[HEADER]``), or ``len(data)`` when
    there is no body."""
    return _split_headers(data)[1]


def _split_headers(data: bytes) -> tuple[int, int]:
    """Where the empty line ending the header block starts and ends; both are
    ``len(data)`` when there is none."""
    for start in (b"\r\n", b"\n"):
        if data.startswith(start):
            return 0, len(start)
    # The first line end followed by an empty line (\n\n or \n\r\n); find() is several
    # times faster than a regular expression, and the second search stops at the first.
    crlf = data.find(b"\n\r\n")
    lf = data.find(b"\n\n", 0, len(data) if crlf < 0 else crlf + 1)
    last = lf if lf >= 0 else crlf  # the line end of the last header line
    if last < 0:
        return len(data), len(data)
    return last + 1, last + (2 if last == lf else 3)


def parse(data: bytes, *, warnings: list[Warning] | None = None) -> Message:
    """Read a whole message (RFC 5322 source) into a :class:`Message`.

    ``content`` is ``data`` itself and ``headers`` its header block, byte for byte;
    ``size`` is ``len(data)``; ``envelope`` and ``parts`` are read from it. Repairs and
    unreadable headers are appended to ``warnings`` (if given) and never raise.

    :raises ParseError: ``data`` is not bytes, or cannot be read at all.
    """
    global _last_parsed  # noqa: PLW0603 - the one-entry cache of _source()
    data = _bytes(data)
    found: list[Warning] = []
    msg = _parse_email(data, headers_only=False)
    _last_parsed = (data, msg) if len(data) <= _CACHE_LIMIT else None
    envelope = _envelope(msg, found)
    parts = tuple(_parts(msg, found))
    _report_defects(msg, "message", found)
    if warnings is not None:
        warnings.extend(found)
    return Message(
        size=len(data),
        envelope=envelope,
        headers=data[: header_block_end(data)],
        content=data,
        parts=parts,
    )


def parse_headers(data: bytes, *, warnings: list[Warning] | None = None) -> Message:
    """Read a header block (an IMAP ``BODY.PEEK[HEADER]``) into a headers-only
    :class:`Message`: ``envelope`` and ``headers`` set, ``content`` ``None``.

    Anything after the header block is ignored. ``size`` and ``parts`` are left for the
    caller (IMAP's ``RFC822.SIZE`` and ``BODYSTRUCTURE``).

    :raises ParseError: ``data`` is not bytes.
    """
    data = _bytes(data)
    block = data[: header_block_end(data)]
    found: list[Warning] = []
    items: Iterable[tuple[str, Any]] | None = _simple_header_items(block)
    if items is None:
        items = _parse_email(block, headers_only=True).raw_items()
    envelope = _read_envelope(_raw_headers(items), found)
    if warnings is not None:
        warnings.extend(found)
    return Message(envelope=envelope, headers=block)


def serialize(message: Message) -> bytes:
    """The RFC 5322 source of ``message``: its ``content``, unchanged.

    A received message is never re-generated; a built one (:func:`build`) carries the
    generated bytes in ``content``.

    :raises InvalidItemError: the message is headers-only (nothing to write back).
    """
    if message.content is None:
        raise InvalidItemError(
            "a headers-only message has no source to serialize; download it, or use build()"
        )
    return message.content


def _bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise ParseError(f"a message must be bytes, not {type(data).__name__}", format=_FORMAT)


def _parse_email(data: bytes, *, headers_only: bool) -> EmailMessage:
    """Parse with ``email``; a failure of the parser itself becomes :class:`ParseError`."""
    try:
        parsed = _PARSER.parsebytes(data, headersonly=headers_only)
    except RecursionError as exc:
        raise ParseError("the message nests too deeply to be read", format=_FORMAT) from exc
    except Exception as exc:  # email is lenient; anything it still raises is unreadable input
        raise ParseError(f"the message cannot be read: {exc}", format=_FORMAT) from exc
    assert isinstance(parsed, EmailMessage)
    return parsed


def _raw_headers(items: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    """The envelope headers among a message's ``(name, value)`` items as written
    (``raw_items()``, unparsed), by lower-case name."""
    found: dict[str, list[str]] = {}
    for name, value in items:
        key = name.lower()
        if key in _ENVELOPE_HEADERS:
            found.setdefault(key, []).append(str(value))
    return found


def _eight_bit(name: str, raw: str, warnings: list[Warning]) -> str:
    """A header value with raw 8-bit bytes (which ``email`` keeps as surrogates) decoded:
    as UTF-8 (RFC 6532) if it is, else as Windows-1252 / Latin-1, with a warning."""
    if raw.isascii():
        return raw
    data = raw.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    warnings.append(Warning(None, f"{name}: 8-bit header that is not UTF-8; read as Windows-1252"))
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _header(name: str, raw: str, warnings: list[Warning]) -> Any:
    """The policy's header object for a raw value, or ``None`` (with a warning) when
    ``email`` fails on it."""
    header = _POLICY.header_fetch_parse(name, raw)
    if isinstance(header, _Unparsed):
        warnings.append(Warning(None, f"{name}: unreadable ({header.crash})"))
        return None
    for defect in getattr(header, "defects", ()):
        if not isinstance(defect, _UNICODE_DEFECTS):  # RFC 6532 allows UTF-8 in headers
            warnings.append(Warning(None, f"{name}: {defect}"))
    return header


_UNICODE_DEFECTS = (email.errors.NonASCIILocalPartDefect, email.errors.UndecodableBytesDefect)


def _text(value: str) -> str:
    """A string ``email`` decoded, without the surrogate escapes it leaves for bytes it
    could not decode (an encoded word in an unknown charset): each such byte is read as
    Latin-1, anything else unencodable becomes U+FFFD."""
    if value.isascii() or not any("\ud800" <= c <= "\udfff" for c in value):
        return value
    return "".join(
        chr(ord(c) - 0xDC00)
        if "\udc80" <= c <= "\udcff"
        else "\ufffd"
        if "\ud800" <= c <= "\udfff"
        else c
        for c in value
    )


def _unfold(raw: str) -> str:
    return _FOLDING.sub("", raw).strip()


def _envelope(msg: MIMEPart, warnings: list[Warning]) -> Envelope:
    return _read_envelope(_raw_headers(msg.raw_items()), warnings)


def _read_envelope(raw: dict[str, list[str]], warnings: list[Warning]) -> Envelope:
    fields: dict[str, Any] = {}
    for key, values in raw.items():
        if len(values) > 1 and key != "references":
            warnings.append(Warning(None, f"{key}: {len(values)} headers; the first is used"))
        values[:] = [_eight_bit(key, value, warnings) for value in values]
    for key, field in _ADDRESS_FIELDS.items():
        if key in raw:
            fields[field] = _read_addresses(key, raw[key][0], warnings)
    if "subject" in raw:
        fields["subject"] = _read_subject(raw["subject"][0], warnings)
    if "date" in raw:
        fields["date"] = _read_date(raw["date"][0], warnings)
    if "message-id" in raw:
        fields["message_id"] = _unfold(raw["message-id"][0]) or None
    if "in-reply-to" in raw:
        fields["in_reply_to"] = _unfold(raw["in-reply-to"][0]) or None
    if "references" in raw:
        text = " ".join(_unfold(value) for value in raw["references"])
        fields["references"] = tuple(_MSGID.findall(text)) or tuple(text.split())
    return Envelope(**fields)


_ENCODED_WORD = r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?="
_BETWEEN_ENCODED_WORDS = re.compile(rf"({_ENCODED_WORD})\s+(?={_ENCODED_WORD})")


def _read_addresses(name: str, raw: str, warnings: list[Warning]) -> tuple[Address, ...]:
    simple = _simple_addresses(raw)
    if simple is not None:
        return simple
    # RFC 2047 section 6.2: white space between encoded words is not displayed, but
    # email's address parser keeps it ("Jo hn" for a name split over two words).
    joined = _BETWEEN_ENCODED_WORDS.sub(r"\1", raw)
    found_warnings: list[Warning] = []
    header = _header(name, joined, found_warnings)
    warnings.extend(
        w for w in found_warnings if joined == raw or "after encoded-word" not in w.message
    )
    found: list[Address] = []
    try:
        mailboxes = [(a.display_name, a.addr_spec) for a in header.addresses] if header else None
    except Exception as exc:
        warnings.append(Warning(None, f"{name}: unreadable address ({type(exc).__name__})"))
        mailboxes = None
    if mailboxes is None:  # fall back on the old, simpler parser
        mailboxes = email.utils.getaddresses([_unfold(raw)])
    for display, written in mailboxes:
        spec = written.strip()
        if not spec or spec == "<>":
            if display:
                warnings.append(Warning(None, f"{name}: {display!r} has no address; skipped"))
            continue
        found.append(Address(_text(spec), _text(display) or None))
    return tuple(found)


def _read_subject(raw: str, warnings: list[Warning]) -> str:
    simple = _simple_subject(raw)
    if simple is not None:
        return simple
    header = _header("Subject", raw, warnings)
    if header is not None:
        try:
            return _text(str(header))
        except Exception as exc:  # pragma: no cover - str() of a parsed header
            warnings.append(Warning(None, f"Subject: {exc}"))
    return _unfold(raw)


def _read_date(raw: str, warnings: list[Warning]) -> datetime | None:
    value = _simple_date(raw)
    if value is None:
        header = _header("Date", raw, warnings)
        value = header.datetime if header is not None else None
    if value is None:
        warnings.append(Warning(None, f"Date: {_unfold(raw)!r} is not a date; ignored"))
        return None
    if value.tzinfo is None:  # "-0000": UTC, with no information on the local zone
        value = value.replace(tzinfo=UTC)
    return value


# --------------------------------------------------------------------------- fast path
#
# Reading a header block with email's parser and header objects costs about half a
# millisecond a message, most of an IMAP first sync. The functions below read the plain,
# common forms directly and give exactly what email would. They return None for anything
# they do not fully recognise (a malformed line, an encoded word, a comment, a group,
# 8-bit text, whatever email would report a defect for): that input takes the email
# path, which stays the reference. tests/formats/test_mime_fast_headers.py checks that
# both paths give the same message and the same warnings.

# A header field as email's feedparser and EmailPolicy.header_source_parse read it: a
# name of printable ASCII but the colon, the value after the colon and the blanks that
# follow it, continuation lines (starting with a blank) with their line ends, the last
# line end dropped. A lone CR (a line end to email) matches nothing here.
_SIMPLE_FIELD = r"([!-9;-~]+):[ \t]*+([^\r\n]*+(?:\r?\n[ \t][^\r\n]*+)*+)(?:\r?\n|\Z)"
_SIMPLE_FIELDS = re.compile(_SIMPLE_FIELD)
_SIMPLE_BLOCK = re.compile(rf"(?:{_SIMPLE_FIELD})*+(?:\r?\n)?")
_LINE_ENDS = re.compile(r"[\r\n]")  # what header_fetch_parse() removes from a value
_PLAIN_TEXT = re.compile(r"[\t -~]*")  # printable ASCII and blanks
_MIME_ATOM = r"[A-Za-z0-9!#$&+.^_`{|}~-]+"  # an RFC 2045 token without RFC 2231's * ' %
_SIMPLE_CONTENT_TYPE = re.compile(
    rf"""[ \t]*{_MIME_ATOM}/{_MIME_ATOM}[ \t]*
    (?:;[ \t]*{_MIME_ATOM}[ \t]*=[ \t]*(?:{_MIME_ATOM}|"[\t !#-\[\]-~]*")[ \t]*)*
    ;?[ \t]*""",
    re.VERBOSE,
)
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM_SPEC = rf"{_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*"
# One mailbox of an address list: local@domain, <local@domain>, Some Name <local@domain>
# or "Any, Name" <local@domain>; blanks around it, and the comma after it.
_SIMPLE_MAILBOX = re.compile(
    rf"""[ \t]*(?:
        (?P<bare>{_DOT_ATOM_SPEC})
        |(?:"(?P<quoted>[\t !#-\[\]-~]*)"|(?P<words>{_ATEXT}(?:[ \t]+{_ATEXT})*))?
         [ \t]*<(?P<angle>{_DOT_ATOM_SPEC})>
    )[ \t]*(?P<comma>,)?""",
    re.VERBOSE,
)


def _simple_header_items(block: bytes) -> list[tuple[str, str]] | None:
    """The ``(name, value)`` items email's parser would give for a plainly well-formed
    header block (``raw_items()``), or ``None`` for any other block.

    Besides the lines, the first Content-Type must be plain: email's parser reads it when
    it closes, and an odd one is left to email (what it would raise, it raises there).
    """
    text = block.decode("ascii", "surrogateescape")
    if _SIMPLE_BLOCK.fullmatch(text) is None:
        return None
    items: list[tuple[str, str]] = _SIMPLE_FIELDS.findall(text)
    for name, value in items:
        if name.lower() == "content-type":
            if _SIMPLE_CONTENT_TYPE.fullmatch(_LINE_ENDS.sub("", value)) is None:
                return None
            break
    return items


def _plain(raw: str) -> str | None:
    """A raw value as email's policy hands it to the header classes (line ends removed),
    if it is printable ASCII with no encoded word; else ``None``."""
    text = _LINE_ENDS.sub("", raw)
    if "=?" in text or _PLAIN_TEXT.fullmatch(text) is None:
        return None
    return text


def _simple_addresses(raw: str) -> tuple[Address, ...] | None:
    """A plain address list (see ``_SIMPLE_MAILBOX``) as email reads it, else ``None``.

    The display name is what email gives: the words of an unquoted name joined by one
    space, a quoted one as written between the quotes.
    """
    text = _plain(raw)
    if text is None:
        return None
    found: list[Address] = []
    at = 0
    while True:
        match = _SIMPLE_MAILBOX.match(text, at)
        if match is None:
            return None
        bare, quoted, words, angle, comma = match.group("bare", "quoted", "words", "angle", "comma")
        name = quoted if quoted is not None else " ".join(words.split()) if words else ""
        found.append(Address(bare or angle, name or None))
        at = match.end()
        if comma is None:
            return tuple(found) if at == len(text) else None


def _simple_subject(raw: str) -> str | None:
    """A plain subject as ``str()`` of email's header gives it (blanks kept), else
    ``None``."""
    return _plain(raw)


def _simple_date(raw: str) -> datetime | None:
    """The date email's ``DateHeader`` reads from ``raw`` when it reads one without a
    defect, else ``None``."""
    try:
        return email.utils.parsedate_to_datetime(_LINE_ENDS.sub("", raw))
    except Exception:  # not a date, or one email fails on: its path says why
        return None


def _report_defects(msg: MIMEPart, where: str, warnings: list[Warning]) -> None:
    for defect in msg.defects:
        text = (type(defect).__name__ + (f": {defect}" if str(defect) else "")).strip()
        warnings.append(Warning(None, f"{where}: {text}"))


# --------------------------------------------------------------------------- parts


def _walk(msg: MIMEPart, warnings: list[Warning] | None = None) -> Iterator[tuple[str, MIMEPart]]:
    """Every part of a parsed message with its IMAP section number, depth-first.

    A message's single body is its section ``1``; the children of a multipart are
    numbered from 1 below it; an encapsulated message (``message/rfc822``) at section
    ``2`` has its body parts at ``2.1``, ``2.2``... A multipart that is itself the body
    of a message has no section of its own in IMAP and is not listed; every other
    multipart is.
    """
    for section, part, _ in _walk_owned(msg, warnings):
        yield section, part


def _walk_owned(
    msg: MIMEPart, warnings: list[Warning] | None = None
) -> Iterator[tuple[str, MIMEPart, MIMEPart]]:
    """Like :func:`_walk`, with the message (top or encapsulated) each part belongs to."""
    sink: list[Warning] = [] if warnings is None else warnings
    yield from _walk_message(msg, "", 0, sink)


def _payload(part: MIMEPart) -> Any:
    """``part.get_payload()``, which for a text payload with 8-bit bytes decodes them
    with the declared charset and falls back to ASCII only on ``LookupError``: a charset
    name with a NUL in it raises ``ValueError`` from inside the standard library. Here
    that case gets the same ASCII fallback."""
    try:
        return part.get_payload()
    except ValueError:
        raw = getattr(part, "_payload", None)  # the one way around the stdlib decoding it
        if isinstance(raw, str):
            return raw.encode("ascii", "surrogateescape").decode("ascii", "replace")
        return raw


def _walk_message(
    msg: MIMEPart, prefix: str, depth: int, warnings: list[Warning]
) -> Iterator[tuple[str, MIMEPart, MIMEPart]]:
    payload = _payload(msg)
    if msg.is_multipart() and _maintype(msg) == "multipart" and isinstance(payload, list):
        for number, child in enumerate(payload, 1):
            yield from _walk_part(child, f"{prefix}{number}", msg, depth + 1, warnings)
    else:
        yield from _walk_part(msg, f"{prefix}1", msg, depth + 1, warnings)


def _walk_part(
    part: MIMEPart, section: str, owner: MIMEPart, depth: int, warnings: list[Warning]
) -> Iterator[tuple[str, MIMEPart, MIMEPart]]:
    yield section, part, owner
    if not part.is_multipart():
        return
    if depth >= MAX_DEPTH:
        warnings.append(Warning(None, f"parts below {section} nest too deeply; not listed"))
        return
    payload = _payload(part)
    if not isinstance(payload, list):  # pragma: no cover - is_multipart() says it is one
        return
    if _maintype(part) == "multipart":
        for number, child in enumerate(payload, 1):
            yield from _walk_part(child, f"{section}.{number}", owner, depth + 1, warnings)
    elif _content_type(part) in _ENCAPSULATING:  # the encapsulated message's parts
        inner = _encapsulated(part)
        if inner is not None:
            yield from _walk_message(inner, f"{section}.", depth + 1, warnings)


_ENCAPSULATING = frozenset(("message/rfc822", "message/global", "message/news"))
"""The types whose body IMAP numbers as a message of its own (other ``message/*`` types,
like ``delivery-status``, are leaves)."""


def _encapsulated(part: MIMEPart) -> MIMEPart | None:
    """The message inside a ``message/rfc822`` part, decoding it when (against RFC 2046)
    it was sent base64-encoded; ``None`` if there is none."""
    payload = _payload(part)
    if not isinstance(payload, list) or not payload:
        return None
    inner = payload[0]
    if not isinstance(inner, MIMEPart):  # pragma: no cover - our parser makes these
        return None
    if _encoding(part) == "base64" and not inner.keys():
        text = _payload(inner)
        if isinstance(text, str):
            try:
                decoded = base64.b64decode(text.encode("ascii", "surrogateescape"))
            except (binascii.Error, ValueError):
                return inner
            return _parse_email(decoded, headers_only=False)
    return inner


def _maintype(part: MIMEPart) -> str:
    try:
        return part.get_content_maintype()
    except Exception:
        return "application"


def _encoding(part: MIMEPart) -> str | None:
    raw = _raw_value(part, "content-transfer-encoding")
    return raw.strip().lower() or None if raw is not None else None


def _raw_value(part: MIMEPart, name: str) -> str | None:
    """The first header ``name`` of a part as written, unfolded, raw 8-bit decoded."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return _eight_bit(name, _unfold(str(value)), [])
    return None


def _mime_header(part: MIMEPart, name: str, section: str, warnings: list[Warning]) -> Any:
    raw = _raw_value(part, name)
    if raw is None:
        return None
    header = _POLICY.header_fetch_parse(name, raw)
    if isinstance(header, _Unparsed):
        crashed = header.crash.partition(":")[0]
        warnings.append(Warning(None, f"part {section}: {name} unreadable ({crashed})"))
        return None
    return header


def _filename(raw: str | None) -> str | None:
    """A ``filename=``/``name=`` that the header parser could not read (an unquoted RFC
    2047 encoded word, as some mailers write), decoded as far as possible."""
    if raw is None:
        return None
    match = _RAW_NAME.search(raw)
    if match is None:
        return None
    value = match.group(1).strip()
    if value.startswith('"') and value.endswith('"') and len(value) > 1:
        value = value[1:-1]
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:
        return value


def _describe(part: MIMEPart, section: str, warnings: list[Warning]) -> MessagePart:
    ctype = _mime_header(part, "content-type", section, warnings)
    disposition_header = _mime_header(part, "content-disposition", section, warnings)
    content_type = part.get_default_type()
    params: Mapping[str, str] = {}
    if ctype is not None:
        content_type, params = ctype.content_type, ctype.params
    if content_type.count("/") != 1:  # RFC 2045 §5.2: an invalid type reads as text/plain
        content_type = "text/plain"
    disposition: str | None = None
    disposition_params: Mapping[str, str] = {}
    if disposition_header is not None:
        disposition = disposition_header.content_disposition or None
        disposition_params = disposition_header.params
    filename = disposition_params.get("filename") or params.get("name")
    if filename is None:
        filename = _filename(_raw_value(part, "content-disposition")) or _filename(
            _raw_value(part, "content-type")
        )
    size = _encoded_size(part)
    charset = params.get("charset")
    content_id = _raw_value(part, "content-id")
    return MessagePart(
        section=section,
        content_type=_text(content_type.lower()),
        charset=_text(charset.lower()) if charset else None,
        size=size,
        encoding=_encoding(part),
        filename=_text(filename) if filename else None,
        disposition=_text(disposition.lower()) if disposition else None,
        content_id=content_id or None,
    )


def _encoded_size(part: MIMEPart) -> int | None:
    """The size in bytes of a leaf's body as written (as IMAP's BODYSTRUCTURE gives it):
    ``get_payload()`` decodes an 8-bit body by its charset, so its length would count
    characters. The bytes parser keeps the body as ASCII with one surrogate escape per
    other byte, so the length of what it keeps is the length in bytes."""
    raw = getattr(part, "_payload", None)
    return len(raw) if isinstance(raw, str) else None


def _safe_describe(part: MIMEPart, section: str, warnings: list[Warning]) -> MessagePart:
    try:
        return _describe(part, section, warnings)
    except Exception as exc:
        warnings.append(Warning(None, f"part {section}: unreadable ({type(exc).__name__})"))
        return MessagePart(section=section, content_type="application/octet-stream")


def _parts(msg: EmailMessage, warnings: list[Warning]) -> Iterator[MessagePart]:
    for section, part in _walk(msg, warnings):
        yield _safe_describe(part, section, warnings)
        if part is not msg:
            _report_defects(part, f"part {section}", warnings)


# --------------------------------------------------------------------------- bodies


# The last message parse() read, so that text_body(parse(data)) and the like do not
# parse it again: one entry, found by the identity of the content bytes (immutable, and
# held here, so the identity cannot be reused), and only read afterwards (nothing here
# changes a parsed email object). Large messages are not kept: memory stays bounded.
_last_parsed: tuple[bytes, EmailMessage] | None = None
_CACHE_LIMIT = 1024 * 1024


def _source(message: Message) -> EmailMessage:
    if message.content is None:
        raise InvalidItemError(
            "the message is headers-only; download its content to read bodies and attachments"
        )
    last = _last_parsed
    if last is not None and last[0] is message.content:
        return last[1]
    return _parse_email(message.content, headers_only=False)


def _body(message: Message, subtype: str) -> str | None:
    msg = _source(message)
    part: MIMEPart | None
    try:
        part = msg.get_body(preferencelist=(subtype,))
    except Exception:  # get_body() fails on some broken headers: the first such inline part
        part = next(
            (
                p
                for p in _own_leaves(msg, 0)
                if _content_type(p) == f"text/{subtype}" and not _is_attachment(p)
            ),
            None,
        )
    if part is None or _content_type(part) != f"text/{subtype}":
        return None
    return _decode_text(part).replace("\r\n", "\n")


def _own_leaves(part: MIMEPart, depth: int) -> Iterator[MIMEPart]:
    """The leaf parts of a message, not descending into encapsulated messages."""
    payload = _payload(part)
    if _maintype(part) == "multipart" and isinstance(payload, list):
        if depth < MAX_DEPTH:
            for child in payload:
                if isinstance(child, MIMEPart):
                    yield from _own_leaves(child, depth + 1)
    else:
        yield part


def _content_type(part: MIMEPart) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _is_attachment(part: MIMEPart) -> bool:
    try:
        return part.get_content_disposition() == "attachment"
    except Exception:
        return False


def _decode_text(part: MIMEPart) -> str:
    data = _decoded(part)
    try:
        charset = part.get_content_charset() or "us-ascii"
    except Exception:
        charset = "us-ascii"
    try:
        return data.decode(charset, errors="replace")
    except (LookupError, ValueError):  # unknown charset: UTF-8 if it is, else Latin-1
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _decoded(part: MIMEPart) -> bytes:
    """A leaf part's content with its transfer encoding undone (never raises)."""
    if part.is_multipart():  # message/*: the body as email generates it again
        try:
            whole = part.as_bytes(policy=_REGENERATE)
        except Exception:
            return b""
        body = whole[header_block_end(whole) :]
        if _encoding(part) == "base64":
            try:
                return base64.b64decode(body)
            except (binascii.Error, ValueError):
                return body
        return body
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = _payload(part)
    return payload.encode("ascii", "surrogateescape") if isinstance(payload, str) else b""


def text_body(message: Message) -> str | None:
    """The plain-text body of ``message`` (decoded, with ``\\n`` line ends), or ``None``
    if it has none.

    The body is chosen as ``email``'s ``get_body()`` chooses it (the preferred part of a
    ``multipart/alternative``, the start of a ``multipart/related``, never an attachment).

    :raises InvalidItemError: the message is headers-only.
    """
    return _body(message, "plain")


def html_body(message: Message) -> str | None:
    """The HTML body of ``message`` (decoded), or ``None`` if it has none.

    :raises InvalidItemError: the message is headers-only.
    """
    return _body(message, "html")


def part_data(message: Message, section: str) -> bytes:
    """The content of one part, with its transfer encoding (base64, quoted-printable)
    undone; for an encapsulated message, the message.

    :raises InvalidItemError: the message is headers-only, or has no such part.
    """
    msg = _source(message)
    for number, part in _walk(msg):
        if number == section:
            return _decoded(part)
    raise InvalidItemError(f"the message has no part {section!r}")


def iter_attachments(message: Message) -> Iterator[MessagePart]:
    """The attachments of ``message``, each with its ``data`` decoded, one at a time.

    An attachment is a part with ``Content-Disposition: attachment``, or any other
    non-multipart part that carries a file name (Apple Mail sends attachments
    ``inline``). Nothing is decoded before the iterator reaches it.

    :raises InvalidItemError: the message is headers-only.
    """
    msg = _source(message)
    warnings: list[Warning] = []
    for section, part in _walk(msg, warnings):
        if _maintype(part) == "multipart":
            continue
        described = _safe_describe(part, section, warnings)
        if described.is_attachment or described.filename is not None:
            yield attrs.evolve(described, data=_decoded(part))


# --------------------------------------------------------------------------- writing


def _check_value(what: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise InvalidItemError(f"{what} must not contain CR or LF: {value!r}")
    return value


def _addresses_of(value: Address | Iterable[Address] | None) -> tuple[Address, ...]:
    if value is None:
        return ()
    if isinstance(value, Address):
        return (value,)
    return tuple(value)


def _wire_address(what: str, address: Address) -> tuple[str, ...]:
    """The words of one mailbox in an address header: the display name (atoms, a quoted
    string, or RFC 2047 encoded words) and ``<addr-spec>``.

    Written here rather than by ``email``: its folder encodes the comma between two
    addresses as an encoded word when a name is long, which merges the two into one
    unreadable address (a recipient lost), and splits encoded words where its own parser
    then inserts spaces.
    """
    _check_value(f"{what} name", address.name or "")
    _check_value(f"{what} address", address.email)
    spec = address.email.strip()
    local, at, domain = spec.rpartition("@")
    if not spec or any(c.isspace() for c in spec) or not (at and local and domain):
        raise InvalidItemError(f"{what}: {address.email!r} is not an e-mail address")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidItemError(f"{what}: {domain!r} is not a valid domain") from exc
    try:
        if local.isascii():  # quotes a local part that needs it, refuses nonsense
            local = email.headerregistry.Address(username=local, domain=domain).addr_spec
            local = local.rpartition("@")[0]
        elif any(c in local for c in '"\\<>()[],;:@'):
            raise ValueError(local)
    except Exception as exc:
        raise InvalidItemError(f"{what}: {address.email!r} is not an e-mail address") from exc
    if not address.name:
        return (f"{local}@{domain}",)
    return (*_phrase(address.name), f"<{local}@{domain}>")


_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_EW_BYTES = 45  # a base64 encoded word of 45 octets is 72 characters long


def _phrase(name: str) -> list[str]:
    """A display name as words that may be folded between."""
    if not name:
        return []
    if _ATOMS.fullmatch(name) and "=?" not in name:
        return name.split(" ")
    if name.isascii() and name.isprintable() and "=?" not in name:
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return [f'"{escaped}"']
    words: list[str] = []
    chunk = b""
    for char in name:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _EW_BYTES:
            words.append(chunk.decode("utf-8"))
            chunk = b""
        chunk += encoded
    words.append(chunk.decode("utf-8"))
    return [
        "=?utf-8?b?" + base64.b64encode(word.encode("utf-8")).decode("ascii") + "?="
        for word in words
    ]


def _address_header(what: str, addresses: Sequence[Address]) -> bytes:
    """A whole address header line, folded between words at 78 characters."""
    words: list[str] = []
    for index, address in enumerate(addresses):
        mailbox = list(_wire_address(what, address))
        if index < len(addresses) - 1:
            mailbox[-1] += ","
        words.extend(mailbox)
    lines: list[str] = []
    line = f"{what}:"
    for word in words:
        if len(line) + 1 + len(word) > 78 and line != f"{what}:":
            lines.append(line)
            line = ""
        line += f" {word}"
    lines.append(line)
    return "\r\n".join(lines).encode("utf-8") + b"\r\n"


def _policy_for(addresses: Iterable[Address]) -> email_policy.EmailPolicy[EmailMessage]:
    """The wire policy; SMTPUTF8 (RFC 6532) when a local part is not ASCII."""
    if all(a.email.rpartition("@")[0].isascii() for a in addresses):
        return _WIRE
    return _WIRE_UTF8


def _same_mailbox(a: Address, b: Address) -> bool:
    return a.email.strip().lower() == b.email.strip().lower()


def build(
    *,
    from_: Address | Iterable[Address] | None = None,
    to: Address | Iterable[Address] = (),
    cc: Address | Iterable[Address] = (),
    bcc: Address | Iterable[Address] = (),
    sender: Address | None = None,
    reply_to: Address | Iterable[Address] = (),
    account: Account | None = None,
    subject: str = "",
    text: str | None = None,
    html: str | None = None,
    calendar: bytes | None = None,
    calendar_method: str | None = None,
    attachments: Iterable[Attachment] = (),
    in_reply_to: str | None = None,
    references: Iterable[str] = (),
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    message_id: str | None = None,
    date: datetime | None = None,
) -> Message:
    """Build an outgoing message; returns a :class:`Message` whose ``content`` is the
    source to send (``\\r\\n`` line ends, 7-bit transfer encodings) and whose ``envelope``
    is read back from it.

    Addressing: ``from_`` is the author. With ``account`` and no ``from_``, the account
    supplies them: ``From`` is the account (``sender_name`` or display name), or — when
    ``account.options.send_on_behalf_of`` is set — the person represented, with the
    account as ``Sender`` (RFC 5322 §3.6.2); ``reply_to`` defaults to the account's.
    A ``sender`` equal to the only ``from_`` is dropped (RFC 5322: SHOULD NOT); several
    ``from_`` need a ``sender``.

    ``bcc`` is *not* written into ``content`` (the bytes handed to SMTP) but kept in
    ``envelope.bcc``: :func:`rcpt_to` includes it, and :func:`for_sent_folder` returns
    the copy with a ``Bcc`` header for the Sent folder.

    Body: ``text`` and/or ``html`` (both: ``multipart/alternative``); ``calendar`` adds
    an iCalendar alternative (``text/calendar; method=...``, RFC 6047; the method is read
    from the data unless ``calendar_method`` says). ``attachments`` (model
    :class:`~openprotocols.model.Attachment` with ``data``) make a ``multipart/mixed``;
    an ``inline`` one with a ``content_id`` goes into a ``multipart/related`` with the
    HTML. ``headers`` adds other header fields (not those ``build`` writes itself).
    ``message_id`` and ``date`` are generated unless given (a naive ``date`` is UTC).

    Names and subjects may be any Unicode (RFC 2047 encoded); a domain is IDNA encoded;
    a non-ASCII local part makes the message RFC 6532 (SMTPUTF8) UTF-8.

    :raises InvalidItemError: a CR or LF in any header value, an invalid address,
        message id or header name, no author, or several authors and no sender.
    """
    if account is not None:
        from_, sender, reply_to = _account_addressing(account, from_, sender, reply_to)
    authors = _addresses_of(from_)
    if not authors:
        raise InvalidItemError("a message needs an author: give from_ or account")
    if sender is not None and len(authors) == 1 and _same_mailbox(sender, authors[0]):
        sender = None
    if sender is None and len(authors) > 1:
        raise InvalidItemError("a message with several From addresses needs a sender")
    groups = (
        ("From", authors),
        ("Sender", _addresses_of(sender)),
        ("Reply-To", _addresses_of(reply_to)),
        ("To", _addresses_of(to)),
        ("Cc", _addresses_of(cc)),
    )
    addressing = b"".join(_address_header(name, found) for name, found in groups if found)
    blind = _addresses_of(bcc)
    for address in blind:
        _wire_address("Bcc", address)  # validated now, written only by for_sent_folder()
    msg = EmailMessage(policy=_WIRE)
    msg["Subject"] = _check_value("subject", subject)
    when = date or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    msg["Date"] = email.utils.format_datetime(when)
    domain = authors[0].email.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = _message_id(
        "message_id", message_id or f"<{uuid.uuid4().hex}@{_ascii_domain(domain)}>"
    )
    threading = _threading_headers(in_reply_to, references)
    _set_extra_headers(msg, headers)
    _set_body(msg, text, html, calendar, calendar_method, tuple(attachments))
    for part in msg.walk():
        if part is not msg:  # email puts MIME-Version into parts it makes; only the top needs it
            del part["MIME-Version"]
    everyone = [address for _, found in groups for address in found]
    source = addressing + msg.as_bytes(policy=_policy_for((*everyone, *blind)))
    if threading:  # after Message-ID, which email always writes on a line of its own
        start = source.index(b"\r\nMessage-ID:") + 2
        at = source.index(b"\r\n", start) + 2
        source = source[:at] + threading + source[at:]
    built = parse(source)
    return attrs.evolve(built, envelope=attrs.evolve(built.envelope, bcc=blind))


def _threading_headers(in_reply_to: str | None, references: Iterable[str]) -> bytes:
    """``In-Reply-To`` and ``References`` as header lines, folded between message ids.

    They are written here, not by ``email``: its policy treats them as unstructured text
    and turns a long Exchange message id into an RFC 2047 encoded word, which no client
    would match.
    """
    lines = b""
    ids = [_message_id("in_reply_to", in_reply_to)] if in_reply_to else []
    for name, values in (("In-Reply-To", ids), ("References", list(references))):
        tokens = [_message_id(name, value) for value in values]
        if not tokens:
            continue
        line = f"{name}:"
        for token in tokens:
            if len(line) + 1 + len(token) > 78 and not line.endswith(":"):
                lines += line.encode("ascii") + b"\r\n"
                line = ""
            line += f" {token}"
        lines += line.encode("ascii") + b"\r\n"
    return lines


def _message_id(what: str, value: str) -> str:
    _check_value(what, value)
    value = value.strip()
    if not value or not value.isascii() or any(c.isspace() for c in value):
        raise InvalidItemError(f"{what}: {value!r} is not a message id")
    return value


def _set_extra_headers(
    msg: EmailMessage, headers: Mapping[str, str] | Iterable[tuple[str, str]]
) -> None:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        _check_value("header name", name)
        if not _FIELD_NAME.fullmatch(name):
            raise InvalidItemError(f"{name!r} is not a header field name")
        if name.lower() in _OWN_HEADERS:
            raise InvalidItemError(f"{name} is written by build(); pass it as its argument")
        msg[name] = _check_value(name, value)


def _ascii_domain(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "localhost"


def _account_addressing(
    account: Account,
    from_: Address | Iterable[Address] | None,
    sender: Address | None,
    reply_to: Address | Iterable[Address],
) -> tuple[Address | Iterable[Address] | None, Address | None, Address | Iterable[Address]]:
    options = account.options
    own = Address(account.email, options.sender_name or account.display_name)
    if from_ is None:
        if options.send_on_behalf_of is not None:
            from_, sender = options.send_on_behalf_of, sender or own
        else:
            from_ = own
    if not _addresses_of(reply_to) and options.reply_to is not None:
        reply_to = options.reply_to
    return from_, sender, reply_to


def _set_body(
    msg: EmailMessage,
    text: str | None,
    html: str | None,
    calendar: bytes | None,
    calendar_method: str | None,
    attachments: tuple[Attachment, ...],
) -> None:
    related = [a for a in attachments if a.inline and a.content_id and html is not None]
    attached = [a for a in attachments if a not in related]
    if text is None and html is None and calendar is None:
        text = ""
    started = False
    if text is not None:
        msg.set_content(text)
        started = True
    if html is not None:
        if started:
            msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(html, subtype="html")
            started = True
        html_part = _find_html(msg)
        for item in related:
            _add_file(html_part, item, related=True)
    if calendar is not None:
        method = calendar_method or _calendar_method(calendar)
        params = {"method": _check_value("calendar_method", method)} if method else {}
        try:
            body = calendar.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidItemError("calendar data must be UTF-8 (RFC 5545)") from exc
        if started:
            msg.add_alternative(body, subtype="calendar", params=params)
        else:
            msg.set_content(body, subtype="calendar", params=params)
    for item in attached:
        _add_file(msg, item, related=False)


def _find_html(msg: EmailMessage) -> EmailMessage:
    if not msg.is_multipart():
        return msg
    for part in msg.iter_parts():
        if part.get_content_type() == "text/html":
            assert isinstance(part, EmailMessage)
            return part
    return msg  # pragma: no cover - add_alternative() put it there


def _add_file(target: EmailMessage, item: Attachment, *, related: bool) -> None:
    if item.data is None:
        raise InvalidItemError(f"attachment {item.filename!r} has no data to send")
    maintype, _, subtype = (item.content_type or "application/octet-stream").partition("/")
    if not subtype or not _FIELD_NAME.fullmatch(maintype + subtype):
        raise InvalidItemError(f"{item.content_type!r} is not a content type")
    kwargs: dict[str, Any] = {}
    if item.filename:  # an empty name is no name
        kwargs["filename"] = _check_value("attachment file name", item.filename)
    if item.content_id is not None:
        cid = _check_value("content id", item.content_id)
        kwargs["cid"] = cid if cid.startswith("<") else f"<{cid}>"
    kwargs["disposition"] = "inline" if item.inline else "attachment"
    add = target.add_related if related else target.add_attachment
    if maintype.lower() == "message":  # set_content() wants a message object for these
        maintype, subtype = "application", "octet-stream"
    add(item.data, maintype, subtype, **kwargs)


_METHOD_LINE = re.compile(rb"(?im)^METHOD[ \t]*:[ \t]*([A-Za-z0-9-]+)")


def _calendar_method(calendar: bytes) -> str | None:
    match = _METHOD_LINE.search(calendar)
    return match.group(1).decode("ascii").upper() if match else None


def for_sent_folder(message: Message) -> Message:
    """The copy of a built message to store in the Sent folder: ``content`` with a
    ``Bcc`` header holding ``envelope.bcc`` (added at the end of the header block;
    nothing else changes). Unchanged when there is no Bcc or the header is there.
    """
    source = serialize(message)
    if not message.envelope.bcc:
        return message
    head = source[: header_block_end(source)]
    if re.search(rb"(?im)^bcc[ \t]*:", head):
        return message
    line = _address_header("Bcc", message.envelope.bcc)
    if b"\r\n" not in head:  # keep the source's line ends
        line = line.replace(b"\r\n", b"\n")
    cut, _ = _split_headers(source)
    if cut and not source[:cut].endswith(b"\n"):  # headers only, no final line end
        line = b"\r\n" + line
    copied = source[:cut] + line + source[cut:]
    return attrs.evolve(
        message, content=copied, headers=copied[: header_block_end(copied)], size=len(copied)
    )


def rcpt_to(message: Message) -> list[str]:
    """The SMTP envelope recipients (``RCPT TO``): To, Cc and Bcc addresses, each once
    (compared case-insensitively), in that order."""
    seen: set[str] = set()
    found: list[str] = []
    envelope = message.envelope
    for address in (*envelope.to, *envelope.cc, *envelope.bcc):
        key = address.email.strip().lower()
        if key and key not in seen:
            seen.add(key)
            found.append(address.email.strip())
    return found


def envelope_from(message: Message) -> str | None:
    """The SMTP reverse path (``MAIL FROM``): the ``Sender`` if there is one (the account
    sending on someone's behalf), else the first ``From`` address."""
    envelope = message.envelope
    chosen = envelope.sender or envelope.from_
    return chosen[0].email if chosen else None
