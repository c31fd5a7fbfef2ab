"""Mail ⇄ MAPI (MS-OXOMSG, MS-OXCMSG): a :class:`~openprotocols.model.Message`.

The model's message *is* its RFC 5322 source (``content``); Outlook's is a set of
properties. Writing maps what Outlook shows — subject, sender and the person represented
(*send on behalf*), recipients by type, dates, flags, plain and HTML bodies,
attachments, the transport headers — and keeps the source itself in
``PidNameOpenProtocolsMime`` beside a digest of those mapped properties. Reading uses
the kept source while the digest still matches (nothing was edited in Outlook, so the
message comes back byte for byte); otherwise, and for a message Outlook made, it builds a
new source from the properties with :func:`openprotocols.formats.mime.build`.

IMAP state that is not content travels too: system flags in ``PidTagMessageFlags``
(read, unsent = draft), ``PidTagFlagStatus`` (flagged) and ``PidTagLastVerbExecuted``
(answered, forwarded); user keywords as categories; ``$``-keywords, the folder, UID,
mod-sequence and RFC 822 size in properties of our own set.
"""

from __future__ import annotations

import email.header
import email.utils
import hashlib
import json
import struct
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

import attrs

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats import mime
from openprotocols.model import Address, Envelope, Extended, Flag, Message, MessagePart
from openprotocols.model.calendar import Attachment
from openprotocols.outlook import props as p
from openprotocols.outlook._contacts import OneOffEntryId
from openprotocols.outlook._mapping import Mapper, from_mapi, register
from openprotocols.outlook._propset import PropertySet

__all__ = ["MailMapper"]

_OWN = p.PSETID_OPENPROTOCOLS
PidNameOpenProtocolsMime = p.Named(_OWN, name="Mime", type=p.PropType.BINARY)
"""The message's RFC 5322 source, as the model held it."""
PidNameOpenProtocolsMimeDigest = p.Named(_OWN, name="MimeDigest", type=p.PropType.BINARY)
"""SHA-256 of the mapped properties when the source was kept (see :func:`_digest`)."""
PidNameOpenProtocolsHeaders = p.Named(_OWN, name="Headers", type=p.PropType.BINARY)
"""The header block when it is not UTF-8 (else it is ``PidTagTransportMessageHeaders``)."""
PidNameOpenProtocolsImapKeywords = p.Named(_OWN, name="ImapKeywords", type=p.PropType.MV_UNICODE)
"""IMAP keywords that are not categories (``$Junk``, ``$MDNSent``…)."""
PidNameOpenProtocolsImapFolder = p.Named(_OWN, name="ImapFolder", type=p.PropType.UNICODE)
PidNameOpenProtocolsImapUid = p.Named(_OWN, name="ImapUid", type=p.PropType.INT64)
PidNameOpenProtocolsImapModseq = p.Named(_OWN, name="ImapModseq", type=p.PropType.INT64)
PidNameOpenProtocolsSize = p.Named(_OWN, name="Rfc822Size", type=p.PropType.INT64)
PidNameOpenProtocolsAddresses = p.Named(_OWN, name="Addresses", type=p.PropType.UNICODE)
"""The envelope's address lists exactly (JSON), for what rows cannot say: several
authors, Reply-To, a display name equal to its address."""
PidNameOpenProtocolsParts = p.Named(_OWN, name="Parts", type=p.PropType.UNICODE)
"""The MIME layout (JSON) of a headers-only message, whose source is not there to read."""

MSGFLAG_READ = 0x0001
MSGFLAG_UNSENT = 0x0008
MSGFLAG_HASATTACH = 0x0010
FLAG_STATUS_FLAGGED = 2
VERB_REPLY_TO_SENDER = 102
VERB_FORWARD = 104
FORWARDED = "$Forwarded"
RECIPIENT_TYPES = {"to": 1, "cc": 2, "bcc": 3}
NATIVE_PLAIN, NATIVE_HTML = 1, 3
CODEPAGE_UTF8 = 65001
ATTACH_BY_VALUE = 1
ATTACH_MHTML_REF = 0x4


class MailMapper(Mapper):
    """``Message`` ⇄ ``IPM.Note``."""

    item_type = Message
    message_classes: ClassVar[tuple[str, ...]] = ("IPM.Note", "IPM", "REPORT.IPM.Note")
    owned = frozenset(
        {
            p.PidTagMessageClass,
            p.PidTagSubject,
            p.PidTagNormalizedSubject,
            p.PidTagConversationTopic,
            p.PidTagBody,
            p.PidTagHtml,
            p.PidTagNativeBody,
            p.PidTagInternetCodepage,
            p.PidTagMessageFlags,
            p.PidTagFlagStatus,
            p.PidTagLastVerbExecuted,
            p.PidTagClientSubmitTime,
            p.PidTagMessageDeliveryTime,
            p.PidTagInternetMessageId,
            p.PidTagInReplyToId,
            p.PidTagInternetReferences,
            p.PidTagTransportMessageHeaders,
            p.PidTagSenderName,
            p.PidTagSenderEmailAddress,
            p.PidTagSenderAddressType,
            p.PidTagSenderSmtpAddress,
            p.PidTagSentRepresentingName,
            p.PidTagSentRepresentingEmailAddress,
            p.PidTagSentRepresentingAddressType,
            p.PidTagSentRepresentingSmtpAddress,
            p.PidTagReplyRecipientNames,
            p.PidTagReplyRecipientEntries,
            p.PidTagDisplayTo,
            p.PidTagDisplayCc,
            p.PidTagDisplayBcc,
            p.PidNameKeywords,
            PidNameOpenProtocolsMime,
            PidNameOpenProtocolsMimeDigest,
            PidNameOpenProtocolsHeaders,
            PidNameOpenProtocolsImapKeywords,
            PidNameOpenProtocolsImapFolder,
            PidNameOpenProtocolsImapUid,
            PidNameOpenProtocolsImapModseq,
            PidNameOpenProtocolsSize,
            PidNameOpenProtocolsAddresses,
            PidNameOpenProtocolsParts,
        }
    )
    recipient_owned = frozenset(
        {
            p.PidTagRecipientType,
            p.PidTagDisplayName,
            p.PidTagEmailAddress,
            p.PidTagAddressType,
            p.PidTagSmtpAddress,
            p.PidTagRecipientDisplayName,
        }
    )
    attachment_owned = frozenset(
        {
            p.PidTagAttachMethod,
            p.PidTagAttachDataBinary,
            p.PidTagAttachFilename,
            p.PidTagAttachLongFilename,
            p.PidTagAttachExtension,
            p.PidTagAttachMimeTag,
            p.PidTagAttachContentId,
            p.PidTagAttachFlags,
            p.PidTagAttachmentHidden,
            p.PidTagRenderingPosition,
        }
    )

    def to_mapi(self, item: Any) -> PropertySet:
        message: Message = item
        props = PropertySet()
        props[p.PidTagMessageClass] = "IPM.Note"
        _put_envelope(props, message.envelope)
        _put_state(props, message)
        if message.headers is not None:
            try:
                props[p.PidTagTransportMessageHeaders] = message.headers.decode("utf-8")
            except UnicodeDecodeError:
                props[PidNameOpenProtocolsHeaders] = message.headers
        if message.content is not None:
            _put_content(props, message)
            props[PidNameOpenProtocolsMime] = message.content
            props[PidNameOpenProtocolsMimeDigest] = _digest(props)
        elif message.parts:
            props[PidNameOpenProtocolsParts] = json.dumps(
                [attrs.asdict(part, value_serializer=_jsonable) for part in message.parts]
            )
        return props

    def from_mapi(self, props: PropertySet, extended: Extended) -> Message:
        content = _kept_source(props)
        if content is None and _has_body(props):
            content = _build_source(props)
        if content is not None:
            message = _parse(content)
        elif (headers := _headers(props)) is not None:
            message = attrs.evolve(mime.parse_headers(headers), parts=_parts(props))
        else:
            message = Message(envelope=_envelope_from(props), parts=_parts(props))
        exact = _exact_addresses(props) or {"bcc": _rows(props, "bcc")}
        return attrs.evolve(
            message,
            envelope=attrs.evolve(message.envelope, **exact),  # type: ignore[arg-type]
            extended=extended,
            **_state(props, message),
        )


def _jsonable(_instance: object, _field: object, value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def _parts(props: PropertySet) -> tuple[MessagePart, ...]:
    raw = props.text(PidNameOpenProtocolsParts)
    if raw is None:
        return ()
    try:
        return tuple(
            MessagePart(**{**part, "data": bytes.fromhex(part["data"]) if part["data"] else None})
            for part in json.loads(raw)
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidItemError(f"{PidNameOpenProtocolsParts}: unreadable ({exc})") from exc


def _address_props(address: Address) -> tuple[str, str, str]:
    return (address.name or address.email, "SMTP", address.email)


def _put_envelope(props: PropertySet, envelope: Envelope) -> None:
    props.put(p.PidTagSubject, envelope.subject)
    props.put(p.PidTagNormalizedSubject, envelope.subject)
    props.put(p.PidTagConversationTopic, envelope.subject)
    if envelope.date is not None:
        props[p.PidTagClientSubmitTime] = _utc(envelope.date)
    props.put(p.PidTagInternetMessageId, envelope.message_id)
    props.put(p.PidTagInReplyToId, envelope.in_reply_to)
    props.put(p.PidTagInternetReferences, " ".join(envelope.references))
    author = envelope.from_[0] if envelope.from_ else None
    sender = envelope.sender[0] if envelope.sender else author
    for address, keys in (
        (author, _REPRESENTING),
        (sender, _SENDER),
    ):
        if address is not None:
            for key, value in zip(keys, (*_address_props(address), address.email), strict=True):
                props[key] = value
    for kind in ("to", "cc", "bcc"):
        for address in getattr(envelope, kind):
            name, address_type, email = _address_props(address)
            row = PropertySet()
            row[p.PidTagRecipientType] = RECIPIENT_TYPES[kind]
            row[p.PidTagDisplayName] = name
            row[p.PidTagRecipientDisplayName] = name
            row[p.PidTagAddressType] = address_type
            row[p.PidTagEmailAddress] = email
            row[p.PidTagSmtpAddress] = email
            props.recipients.append(row)
    for key, kind in (
        (p.PidTagDisplayTo, "to"),
        (p.PidTagDisplayCc, "cc"),
        (p.PidTagDisplayBcc, "bcc"),
    ):
        props.put(key, "; ".join(a.name or a.email for a in getattr(envelope, kind)))
    props.put(p.PidTagReplyRecipientNames, "; ".join(a.name or a.email for a in envelope.reply_to))
    if envelope.reply_to:
        props[p.PidTagReplyRecipientEntries] = _flat_entry_list(
            OneOffEntryId(a.name or a.email, "SMTP", a.email).to_bytes() for a in envelope.reply_to
        )
    if _needs_exact(envelope):
        props[PidNameOpenProtocolsAddresses] = json.dumps(
            {name: [[a.email, a.name] for a in getattr(envelope, name)] for name in _LISTS}
        )


_REPRESENTING = (
    p.PidTagSentRepresentingName,
    p.PidTagSentRepresentingAddressType,
    p.PidTagSentRepresentingEmailAddress,
    p.PidTagSentRepresentingSmtpAddress,
)
_SENDER = (
    p.PidTagSenderName,
    p.PidTagSenderAddressType,
    p.PidTagSenderEmailAddress,
    p.PidTagSenderSmtpAddress,
)
_LISTS = ("from_", "sender", "reply_to", "to", "cc", "bcc")


def _needs_exact(envelope: Envelope) -> bool:
    """Whether the rows and sender properties cannot say the envelope's addresses."""
    every = [a for name in _LISTS for a in getattr(envelope, name)]
    return (
        len(envelope.from_) > 1
        or len(envelope.sender) > 1
        or any(a.name in {a.email, ""} for a in every)
    )


def _exact_addresses(props: PropertySet) -> dict[str, tuple[Address, ...]] | None:
    raw = props.text(PidNameOpenProtocolsAddresses)
    if raw is None:
        return None
    try:
        lists = json.loads(raw)
        return {
            name: tuple(Address(email, name_) for email, name_ in lists[name]) for name in _LISTS
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidItemError(f"{PidNameOpenProtocolsAddresses}: unreadable ({exc})") from exc


def _put_state(props: PropertySet, message: Message) -> None:
    flags = 0
    if message.is_seen:
        flags |= MSGFLAG_READ
    if message.is_draft:
        flags |= MSGFLAG_UNSENT
    if message.attachments:
        flags |= MSGFLAG_HASATTACH
    props[p.PidTagMessageFlags] = flags
    if message.is_flagged:
        props[p.PidTagFlagStatus] = FLAG_STATUS_FLAGGED
    if FORWARDED in message.keywords:
        props[p.PidTagLastVerbExecuted] = VERB_FORWARD
    elif message.is_answered:
        props[p.PidTagLastVerbExecuted] = VERB_REPLY_TO_SENDER
    others = set(message.flags) - {Flag.SEEN, Flag.DRAFT, Flag.FLAGGED, Flag.ANSWERED}
    if FORWARDED in message.keywords and message.is_answered:
        others.add(Flag.ANSWERED)
    special = sorted(k for k in message.keywords if k.startswith("$") and k != FORWARDED)
    props.put(PidNameOpenProtocolsImapKeywords, (*sorted(others), *special))
    props.put(
        p.PidNameKeywords, tuple(sorted(k for k in message.keywords if not k.startswith("$")))
    )
    if message.internal_date is not None:
        props[p.PidTagMessageDeliveryTime] = _utc(message.internal_date)
    props.put(PidNameOpenProtocolsImapFolder, message.folder)
    props.put(PidNameOpenProtocolsImapUid, message.uid)
    props.put(PidNameOpenProtocolsImapModseq, message.modseq)
    props.put(PidNameOpenProtocolsSize, message.size)


def _state(props: PropertySet, message: Message) -> dict[str, Any]:
    flags_value = props.number(p.PidTagMessageFlags) or 0
    flags: set[str] = set()
    if flags_value & MSGFLAG_READ:
        flags.add(Flag.SEEN)
    if flags_value & MSGFLAG_UNSENT:
        flags.add(Flag.DRAFT)
    if props.number(p.PidTagFlagStatus) == FLAG_STATUS_FLAGGED:
        flags.add(Flag.FLAGGED)
    verb = props.number(p.PidTagLastVerbExecuted)
    keywords = set(props.strings(p.PidNameKeywords))
    if verb == VERB_FORWARD:
        keywords.add(FORWARDED)
    elif verb is not None and 102 <= verb <= 103:
        flags.add(Flag.ANSWERED)
    for extra in props.strings(PidNameOpenProtocolsImapKeywords):
        (flags if extra.startswith("\\") else keywords).add(extra)
    size = props.number(PidNameOpenProtocolsSize)
    return {
        "flags": flags,
        "keywords": keywords,
        "internal_date": props.time(p.PidTagMessageDeliveryTime),
        "folder": props.text(PidNameOpenProtocolsImapFolder),
        "uid": props.number(PidNameOpenProtocolsImapUid),
        "modseq": props.number(PidNameOpenProtocolsImapModseq),
        "size": size if size is not None or message.content is None else message.size,
    }


def _put_content(props: PropertySet, message: Message) -> None:
    """Bodies and attachments, read from the source."""
    text, html = mime.text_body(message), mime.html_body(message)
    if text is not None:
        props[p.PidTagBody] = text.replace("\n", "\r\n")
    if html is not None:
        props[p.PidTagHtml] = html.encode("utf-8")
        props[p.PidTagInternetCodepage] = CODEPAGE_UTF8
    props[p.PidTagNativeBody] = NATIVE_HTML if html is not None else NATIVE_PLAIN
    for part in mime.iter_attachments(message):
        row = PropertySet()
        row[p.PidTagAttachMethod] = ATTACH_BY_VALUE
        row[p.PidTagAttachDataBinary] = part.data or b""
        if part.filename:
            row[p.PidTagAttachLongFilename] = part.filename
            row[p.PidTagAttachFilename] = part.filename
            if "." in part.filename:
                row[p.PidTagAttachExtension] = "." + part.filename.rpartition(".")[2]
        row[p.PidTagAttachMimeTag] = part.content_type
        if part.content_id:
            row[p.PidTagAttachContentId] = part.content_id.strip("<>")
        if not part.is_attachment:
            row[p.PidTagAttachmentHidden] = True
            row[p.PidTagAttachFlags] = ATTACH_MHTML_REF
        row[p.PidTagRenderingPosition] = -1  # not rendered in the body
        props.attachments.append(row)


def _digest(props: PropertySet) -> bytes:
    """SHA-256 over the mapped properties a reader in Outlook can change: if it differs
    on reading, the kept source no longer says what the properties say."""
    watched = [key for key in sorted(MailMapper.owned - _UNWATCHED, key=str) if key in props]
    hasher = hashlib.sha256()
    for key in watched:
        hasher.update(str(key).encode() + b"=" + repr(props[key]).encode() + b"\0")
    for table in (props.recipients, props.attachments):
        hasher.update(b"|")
        for row in table:
            hasher.update(repr(sorted((str(k), repr(v)) for k, v in row.items())).encode())
    return hasher.digest()


_UNWATCHED = frozenset(
    {
        PidNameOpenProtocolsMime,
        PidNameOpenProtocolsMimeDigest,
        PidNameOpenProtocolsImapKeywords,
        PidNameOpenProtocolsImapFolder,
        PidNameOpenProtocolsImapUid,
        PidNameOpenProtocolsImapModseq,
        PidNameOpenProtocolsSize,
        p.PidTagMessageFlags,
        p.PidTagFlagStatus,
        p.PidTagLastVerbExecuted,
        p.PidNameKeywords,
        p.PidTagMessageDeliveryTime,
    }
)
"""State, not content: changing it in Outlook does not make the source stale."""


def _kept_source(props: PropertySet) -> bytes | None:
    source = props.binary(PidNameOpenProtocolsMime)
    if source is None:
        return None
    stripped = props.copy()
    for row in (*stripped.recipients, *stripped.attachments):
        for key in [
            k for k in row if k not in MailMapper.recipient_owned | MailMapper.attachment_owned
        ]:
            del row[key]
    return source if props.binary(PidNameOpenProtocolsMimeDigest) == _digest(stripped) else None


def _has_body(props: PropertySet) -> bool:
    return any(key in props for key in (p.PidTagBody, p.PidTagHtml)) or bool(props.attachments)


def _rows(props: PropertySet, kind: str) -> tuple[Address, ...]:
    wanted = RECIPIENT_TYPES[kind]
    return tuple(
        _row_address(row) for row in props.recipients if row.number(p.PidTagRecipientType) == wanted
    )


def _row_address(row: PropertySet) -> Address:
    email = row.text(p.PidTagSmtpAddress) or row.text(p.PidTagEmailAddress) or ""
    name = row.text(p.PidTagDisplayName) or row.text(p.PidTagRecipientDisplayName)
    return Address(email, None if name in (None, email) else name)


def _named(props: PropertySet, keys: tuple[p.PropertyKey, ...]) -> Address | None:
    name, _type, email, smtp = (props.text(key) for key in keys)
    address = smtp or email
    if not address:
        return None
    return Address(address, None if name in (None, address) else name)


def _envelope_from(props: PropertySet) -> Envelope:
    author = _named(props, _REPRESENTING)
    sender = _named(props, _SENDER)
    references = props.text(p.PidTagInternetReferences)
    return Envelope(
        date=props.time(p.PidTagClientSubmitTime),
        subject=props.text(p.PidTagSubject),
        from_=(author,) if author else (),
        sender=(sender,) if sender and sender != author else (),
        to=_rows(props, "to"),
        cc=_rows(props, "cc"),
        message_id=props.text(p.PidTagInternetMessageId),
        reply_to=_reply_to(props),
        in_reply_to=props.text(p.PidTagInReplyToId),
        references=tuple(references.split()) if references else (),
    )


def _flat_entry_list(entries: Iterable[bytes]) -> bytes:
    """A FlatEntryList (MS-OXCDATA §2.3.3): count, size, then each entry id with its
    length, padded to four bytes."""
    body = bytearray()
    count = 0
    for entry in entries:
        body += struct.pack("<I", len(entry)) + entry + b"\0" * (-len(entry) % 4)
        count += 1
    return struct.pack("<II", count, len(body)) + bytes(body)


def _reply_to(props: PropertySet) -> tuple[Address, ...]:
    """The Reply-To addresses Outlook keeps as one-off entry ids; others are skipped
    (an address-book entry needs the address book to be read)."""
    data = props.binary(p.PidTagReplyRecipientEntries)
    if data is None or len(data) < 8:
        return ()
    (count,) = struct.unpack_from("<I", data)
    found: list[Address] = []
    offset = 8
    for _ in range(min(count, 1024)):
        if offset + 4 > len(data):
            break
        (size,) = struct.unpack_from("<I", data, offset)
        entry = data[offset + 4 : offset + 4 + size]
        offset += 4 + size + (-size % 4)
        try:
            one_off = OneOffEntryId.parse(entry)
        except ParseError:
            continue
        name = one_off.display_name
        found.append(Address(one_off.address, None if name in ("", one_off.address) else name))
    return tuple(found)


def _headers(props: PropertySet) -> bytes | None:
    raw = props.binary(PidNameOpenProtocolsHeaders)
    if raw is not None:
        return raw
    text = props.text(p.PidTagTransportMessageHeaders)
    return text.encode("utf-8") if text is not None else None


def _build_source(props: PropertySet) -> bytes:
    """A new RFC 5322 source from the properties (a message Outlook made or edited)."""
    envelope = _envelope_from(props)
    html = props.binary(p.PidTagHtml)
    text = props.text(p.PidTagBody)
    lists = {name: getattr(envelope, name) for name in ("from_", "sender", "to", "cc")}
    usable = {name: [a for a in found if _mailable(a)] for name, found in lists.items()}
    author = tuple(usable["from_"]) or tuple(usable["sender"]) or (_NOBODY,)
    try:
        built = mime.build(
            from_=author,
            sender=usable["sender"][0] if usable["sender"] and usable["from_"] else None,
            to=usable["to"],
            cc=usable["cc"],
            subject=(envelope.subject or "").replace("\r", " ").replace("\n", " "),
            text=text.replace("\r\n", "\n") if text is not None else None,
            html=_decode_html(props, html) if html is not None else None,
            attachments=tuple(_attachments(props.attachments)),
            reply_to=[a for a in envelope.reply_to if _mailable(a)],
            in_reply_to=envelope.in_reply_to,
            references=envelope.references,
            message_id=envelope.message_id,
            date=envelope.date,
        )
    except InvalidItemError as exc:
        raise InvalidItemError(f"the message's properties do not make a message: {exc}") from exc
    assert built.content is not None
    source = built.content
    if author == (_NOBODY,):  # a draft nobody has sent yet: build() needs an author
        source = source.removeprefix(b"From: " + _NOBODY.email.encode() + b"\r\n")
    for name, header in (("from_", b"From"), ("to", b"To"), ("cc", b"Cc")):
        if others := [a for a in lists[name] if not _mailable(a)]:
            source = _add_groups(source, header, others)
    transport = _headers(props)
    return _graft(transport, source) if transport else source


def _mailable(address: Address) -> bool:
    """Whether an address can be written as a mailbox (an Exchange X.500 address or a
    bare display name, as old PST files hold, cannot)."""
    try:
        mime.build(from_=address)
    except InvalidItemError:
        return False
    return True


def _add_groups(source: bytes, header: bytes, addresses: list[Address]) -> bytes:
    """Add addresses that are no mailboxes to a header field as empty groups named after
    them (RFC 5322 §3.4 ``display-name:;``), so what Outlook showed is still shown."""
    groups = ", ".join(_group_name(a) + ":;" for a in addresses).encode("ascii")
    end = mime.header_block_end(source)
    fields = _fields(source[:end])
    for index, field in enumerate(fields):
        if field.split(b":", 1)[0].strip().lower() == header.lower():
            fields[index] = field.rstrip(b"\r\n") + b", " + groups + b"\r\n"
            break
    else:
        fields.insert(0, header + b": " + groups + b"\r\n")
    return b"".join(fields) + b"\r\n" + source[end:]


def _group_name(address: Address) -> str:
    name = " ".join((address.name or address.email).replace(":", " ").replace(";", " ").split())
    if not name.isascii():
        return email.header.Header(name, "utf-8").encode()
    return f'"{email.utils.quote(name)}"' if any(c in name for c in '()<>[],."\\@/=') else name


def _fields(block: bytes) -> list[bytes]:
    """The header fields of a header block, each with its continuation lines."""
    fields: list[bytes] = []
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        elif line.strip():
            fields.append(line if line.endswith(b"\n") else line + b"\r\n")
    return fields


_MAPPED_FIELDS = frozenset(
    {
        b"mime-version",
        b"subject",
        b"from",
        b"sender",
        b"reply-to",
        b"to",
        b"cc",
        b"bcc",
        b"date",
        b"message-id",
        b"in-reply-to",
        b"references",
    }
)


def _is_mapped(field: bytes) -> bool:
    """Whether a header field is one the properties say (so the built source has it)."""
    name = field.split(b":", 1)[0].strip().lower()
    return name.startswith(b"content-") or name in _MAPPED_FIELDS


def _graft(transport: bytes, built: bytes) -> bytes:
    """The message as it was received: the transport headers Outlook kept (``Received``,
    ``DKIM-Signature``, ``X-…``) before the fields and body built from the properties."""
    end = mime.header_block_end(built)
    kept = [f for f in _fields(transport[: mime.header_block_end(transport)]) if not _is_mapped(f)]
    return b"".join(kept) + built[:end] + built[end:]


_NOBODY = Address("nobody@invalid")


def _decode_html(props: PropertySet, html: bytes) -> str:
    codepage = props.number(p.PidTagInternetCodepage)
    encoding = {65001: "utf-8", 1252: "cp1252", 28591: "latin-1", 20127: "ascii"}.get(
        codepage or 65001, "utf-8"
    )
    return html.decode(encoding, errors="replace")


def _attachments(rows: Iterable[PropertySet]) -> Iterable[Attachment]:
    for row in rows:
        name = row.text(p.PidTagAttachLongFilename) or row.text(p.PidTagAttachFilename)
        data = row.binary(p.PidTagAttachDataBinary)
        content_type = row.text(p.PidTagAttachMimeTag) or "application/octet-stream"
        if data is None and row.embedded is not None:
            data, content_type = _embedded_source(row.embedded), "message/rfc822"
            name = name or (row.embedded.text(p.PidTagSubject) or "message") + ".eml"
        if data is None:
            continue  # an OLE object: its properties ride along, it is not a MIME part
        yield Attachment(
            filename=name,
            content_type=content_type,
            data=data,
            content_id=row.text(p.PidTagAttachContentId),
            inline=bool(row.flag(p.PidTagAttachmentHidden)),
        )


def _embedded_source(props: PropertySet) -> bytes | None:
    """The RFC 5322 source of an attached message (``ATTACH_EMBEDDED_MSG``)."""
    item = from_mapi(props)
    return item.content if isinstance(item, Message) else None


def _parse(content: bytes) -> Message:
    try:
        return mime.parse(content)
    except ParseError as exc:
        raise InvalidItemError(f"the message's source is unreadable: {exc}") from exc


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


register(MailMapper())
