"""iMIP (RFC 6047): meeting invitations, replies and cancellations carried in mail.

:func:`find_invitations` finds every iCalendar object in a downloaded message — a
``text/calendar`` part with or without ``method=``, ``application/ics``, any letter
case, base64 or quoted-printable, also inside forwarded or bounced messages
(``message/rfc822``) — and returns one :class:`Invitation` each, with its iTIP method
(RFC 5546), its bytes as sent, and the calendar read into content lines. Exchange Online
delivers meeting requests to IMAP clients this way.

:func:`build_reply` writes the ``METHOD:REPLY`` iCalendar object an attendee sends back
to the organizer (RFC 5546 section 3.2.3); :func:`build_reply_message` wraps it in a mail
(RFC 6047 section 2.4) built by :func:`openprotocols.formats.mime.build`.

The reply is built from the request's own content lines, not from the model: ``UID``,
``RECURRENCE-ID``, ``ORGANIZER`` and the attendee's ``ATTENDEE`` parameters go back
exactly as the organizer's client wrote them, which is what it matches replies by.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import attrs

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats import ical, mime
from openprotocols.formats._contentline import (
    Warning,
    escape_text,
    parse_components,
    read_lines,
    serialize_component,
    unescape_text,
)
from openprotocols.model._base import Address, RawComponent, RawProperty, to_tuple
from openprotocols.model.accounts import Account
from openprotocols.model.calendar import Appointment, Attendee, ResponseStatus, Task
from openprotocols.model.mail import Message

__all__ = [
    "CALENDAR_TYPES",
    "PRODID",
    "Invitation",
    "Method",
    "build_reply",
    "build_reply_message",
    "find_invitations",
    "has_calendar_parts",
]

PRODID = "-//openprotocols//openprotocols//EN"
"""The ``PRODID`` of the iCalendar objects written here."""

CALENDAR_TYPES = frozenset(
    ("text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics")
)
"""Content types that hold an iCalendar object. A part of another type (Outlook's
``application/octet-stream``) counts too when its file name ends in ``.ics``."""


class Method(enum.StrEnum):
    """The iTIP method of a scheduling message (RFC 5546 section 1.4)."""

    PUBLISH = "PUBLISH"
    REQUEST = "REQUEST"
    REPLY = "REPLY"
    ADD = "ADD"
    CANCEL = "CANCEL"
    REFRESH = "REFRESH"
    COUNTER = "COUNTER"
    DECLINECOUNTER = "DECLINECOUNTER"


_REPLY_SUBJECT = {
    ResponseStatus.ACCEPTED: "Accepted",
    ResponseStatus.TENTATIVE: "Tentative",
    ResponseStatus.DECLINED: "Declined",
}
_REPLY_TEXT = {
    ResponseStatus.ACCEPTED: "accepted",
    ResponseStatus.TENTATIVE: "tentatively accepted",
    ResponseStatus.DECLINED: "declined",
}
_SCHEDULED = ("VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY")


@attrs.frozen(kw_only=True)
class Invitation:
    """One iCalendar object found in a message.

    ``method`` is the iCalendar ``METHOD``, or else the Content-Type's ``method=``
    parameter; ``None`` when neither names a known method. ``raw`` is the calendar as
    sent, with only the transfer encoding (base64, quoted-printable) undone; ``calendar``
    is its ``VCALENDAR`` read into uninterpreted content lines (``None`` if unreadable,
    see ``warnings``). ``items`` are the appointments and tasks
    :func:`openprotocols.formats.ical.parse` reads from it.

    ``section`` is the IMAP section of the part; ``sender``, ``message_id`` and
    ``subject`` describe the message the part belongs to — the forwarded or bounced one
    when ``nested`` is true.
    """

    method: Method | None
    raw: bytes
    section: str
    content_type: str = "text/calendar"
    charset: str | None = None
    sender: Address | None = None
    message_id: str | None = None
    subject: str | None = None
    nested: bool = False
    calendar: RawComponent | None = None
    items: tuple[Appointment | Task, ...] = attrs.field(default=(), converter=to_tuple)
    warnings: tuple[Warning, ...] = attrs.field(default=(), converter=to_tuple)

    @property
    def components(self) -> tuple[RawComponent, ...]:
        """The scheduling components (``VEVENT``, ``VTODO``...) of the calendar, in order."""
        if self.calendar is None:
            return ()
        return tuple(c for c in self.calendar.components if c.name.upper() in _SCHEDULED)

    @property
    def appointments(self) -> tuple[Appointment, ...]:
        """The items that are appointments."""
        return tuple(item for item in self.items if isinstance(item, Appointment))

    @property
    def uid(self) -> str | None:
        """The ``UID`` of the (first) scheduled component."""
        return _value(self.components, "UID")

    @property
    def summary(self) -> str | None:
        """The ``SUMMARY`` of the (first) scheduled component, unescaped."""
        value = _value(self.components, "SUMMARY")
        return unescape_text(value) if value is not None else None

    @property
    def organizer(self) -> Address | None:
        """The ``ORGANIZER`` as a mailbox (``mailto:`` removed, ``CN`` as the name)."""
        for component in self.components:
            for prop in component.properties:
                if prop.name.upper() == "ORGANIZER":
                    return _address(prop)
        return None


def _value(components: tuple[RawComponent, ...], name: str) -> str | None:
    for component in components:
        for prop in component.properties:
            if prop.name.upper() == name:
                return prop.value
    return None


def _unquote(value: str) -> str:
    if len(value) > 1 and value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    return value


def _mailbox(value: str) -> str:
    """A calendar user address without its ``mailto:``."""
    value = value.strip()
    return value[7:] if value[:7].lower() == "mailto:" else value


def _address(prop: RawProperty) -> Address:
    name = prop.param("CN")
    return Address(_mailbox(prop.value), _unquote(name) if name else None)


# --------------------------------------------------------------------------- finding


def has_calendar_parts(message: Message) -> bool:
    """Whether ``message.parts`` (from ``BODYSTRUCTURE``, or a parse) lists a part that
    may hold an invitation — to decide whether a headers-only message is worth
    downloading. Parts inside encapsulated messages count too."""
    return any(_is_calendar(part.content_type, part.filename) for part in message.parts)


def _is_calendar(content_type: str, filename: str | None) -> bool:
    content_type = content_type.lower()
    if content_type in CALENDAR_TYPES:
        return True
    return (
        content_type == "application/octet-stream"
        and filename is not None
        and filename.lower().endswith(".ics")
    )


def find_invitations(message: Message) -> list[Invitation]:
    """Every iCalendar object in ``message``, depth-first, as :class:`Invitation`.

    A message often carries the same object twice (Outlook and Google put it in the
    ``multipart/alternative`` *and* attach it as ``invite.ics``): identical bytes within
    the same (top or encapsulated) message are reported once, at their first section.

    :raises InvalidItemError: the message is headers-only (use
        :func:`has_calendar_parts` to decide whether to download it).
    :raises ParseError: the message cannot be read at all.
    """
    if message.content is None:
        raise InvalidItemError("the message is headers-only; download it to find invitations")
    msg = mime._source(message)
    found: list[Invitation] = []
    seen: set[tuple[int, bytes]] = set()
    owners: dict[int, tuple[Address | None, str | None, str | None]] = {}
    for section, part, owner in mime._walk_owned(msg):
        if part.is_multipart():
            continue
        warnings: list[Warning] = []
        described = mime._safe_describe(part, section, warnings)
        if not _is_calendar(described.content_type, described.filename):
            continue
        raw = mime._decoded(part)
        key = (id(owner), raw.rstrip())  # a 7bit part loses its last line end to the boundary
        if key in seen:
            continue
        seen.add(key)
        if id(owner) not in owners:
            envelope = mime._envelope(owner, [])
            sender = envelope.from_[0] if envelope.from_ else None
            owners[id(owner)] = (sender, envelope.message_id, envelope.subject)
        sender, message_id, subject = owners[id(owner)]
        found.append(
            _invitation(
                raw,
                part,
                section,
                described.content_type,
                described.charset,
                warnings,
                sender=sender,
                message_id=message_id,
                subject=subject,
                nested=owner is not msg,
            )
        )
    return found


def _invitation(
    raw: bytes,
    part: Any,
    section: str,
    content_type: str,
    charset: str | None,
    warnings: list[Warning],
    **context: Any,
) -> Invitation:
    data = _as_utf8(raw, charset, warnings)
    calendar: RawComponent | None = None
    try:
        tops = parse_components(
            read_lines(data, format="iCalendar", warnings=warnings),
            format="iCalendar",
            warnings=warnings,
        )
        calendar = next((c for c in tops if c.name.upper() == "VCALENDAR"), None)
        if calendar is None:
            warnings.append(Warning(None, f"part {section}: no VCALENDAR"))
    except ParseError as exc:
        warnings.append(Warning(exc.line, f"part {section}: {exc}"))
    method = _method(calendar, part, section, warnings)
    items = _items(data, section, warnings) if calendar is not None else ()
    return Invitation(
        method=method,
        raw=raw,
        section=section,
        content_type=content_type,
        charset=charset,
        calendar=calendar,
        items=items,
        warnings=warnings,
        **context,
    )


def _as_utf8(raw: bytes, charset: str | None, warnings: list[Warning]) -> bytes:
    """iCalendar is UTF-8 (RFC 5545 section 3.1.4); a part declared in another charset
    is transcoded for reading (``raw`` keeps the original)."""
    if charset is None or charset.replace("-", "").replace("_", "") in ("utf8", "usascii"):
        return raw
    try:
        return raw.decode(charset).encode("utf-8")
    except (LookupError, ValueError):  # unknown charset (or not a text codec), bad bytes
        warnings.append(Warning(None, f"calendar declared as {charset!r}; read as UTF-8"))
        return raw


def _method(
    calendar: RawComponent | None, part: Any, section: str, warnings: list[Warning]
) -> Method | None:
    written = None
    if calendar is not None:
        written = next(
            (p.value.strip() for p in calendar.properties if p.name.upper() == "METHOD"), None
        )
    try:
        param = part.get_param("method")
    except Exception:
        param = None
    param = param.strip() if isinstance(param, str) else None
    if written and param and written.upper() != param.upper():
        warnings.append(
            Warning(None, f"part {section}: METHOD:{written} but Content-Type method={param}")
        )
    chosen = written or param
    if not chosen:
        return None
    try:
        return Method(chosen.upper())
    except ValueError:
        warnings.append(Warning(None, f"part {section}: unknown iTIP method {chosen!r}"))
        return None


def _items(data: bytes, section: str, warnings: list[Warning]) -> tuple[Appointment | Task, ...]:
    """The appointments and tasks :func:`openprotocols.formats.ical.parse` reads."""
    try:
        return ical.parse(data).items
    except ParseError as exc:
        warnings.append(Warning(exc.line, f"part {section}: {exc}"))
        return ()


# --------------------------------------------------------------------------- replying


def _response(response: ResponseStatus | str) -> ResponseStatus:
    try:
        status = ResponseStatus(str(response).lower())
    except ValueError:
        status = None
    if status not in _REPLY_SUBJECT:
        raise InvalidItemError(
            f"a reply accepts, tentatively accepts or declines, not {response!r}"
        )
    assert status is not None
    return status


def _attendee_address(attendee: Attendee | Address | str) -> Address:
    if isinstance(attendee, Attendee):
        return attendee.address
    if isinstance(attendee, Address):
        return attendee
    return Address(attendee)


def build_reply(
    invitation: Invitation,
    attendee: Attendee | Address | str,
    response: ResponseStatus | str,
    *,
    comment: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """The ``METHOD:REPLY`` iCalendar object in which ``attendee`` answers ``invitation``
    (RFC 5546 section 3.2.3), as UTF-8 bytes with CRLF line ends, folded at 75 octets.

    One component answers each component of the request: the series (the one without
    ``RECURRENCE-ID``) when the request has it, else each occurrence it carries. Each
    holds ``UID``, ``RECURRENCE-ID``, ``SEQUENCE``, ``DTSTART``/``DTEND``, ``SUMMARY``
    and ``ORGANIZER`` as the request wrote them, a new ``DTSTAMP`` (``now``, default the
    current time), and the attendee's ``ATTENDEE`` line from the request with ``PARTSTAT``
    set to ``response`` (``RSVP`` dropped; other parameters kept); an attendee the
    request does not list (invited through a list) is added with its own address. The
    ``VTIMEZONE`` components those properties refer to are copied.

    :raises InvalidItemError: the invitation is not a ``REQUEST`` (or ``ADD``), its
        calendar could not be read, or ``response`` is not accepted / tentative /
        declined.
    """
    status = _response(response)
    if invitation.method not in (Method.REQUEST, Method.ADD, None):
        raise InvalidItemError(f"a {invitation.method} is not answered with a REPLY")
    if invitation.calendar is None or not invitation.components:
        raise InvalidItemError("the invitation holds no readable calendar component")
    if comment is not None:
        comment = comment.replace("\r\n", "\n").replace("\r", "\n")
    address = _attendee_address(attendee)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    requested = invitation.components
    masters = [c for c in requested if not _has(c, "RECURRENCE-ID")]
    answered = masters or list(requested)
    replies = [_reply_component(c, address, status, stamp, comment) for c in answered]
    zones = _zones_used(invitation.calendar, replies)
    calendar = RawComponent(
        name="VCALENDAR",
        properties=(
            RawProperty("PRODID", PRODID),
            RawProperty("VERSION", "2.0"),
            RawProperty("METHOD", "REPLY"),
        ),
        components=(*zones, *replies),
    )
    return b"\r\n".join(serialize_component(calendar)) + b"\r\n"


def _has(component: RawComponent, name: str) -> bool:
    return any(p.name.upper() == name for p in component.properties)


_COPIED = ("UID", "RECURRENCE-ID", "SEQUENCE", "DTSTART", "DTEND", "DUE", "DURATION", "SUMMARY")


def _reply_component(
    request: RawComponent,
    address: Address,
    status: ResponseStatus,
    stamp: str,
    comment: str | None,
) -> RawComponent:
    props: list[RawProperty] = []
    for name in _COPIED:
        props.extend(p for p in request.properties if p.name.upper() == name)
    props.append(RawProperty("DTSTAMP", stamp))
    props.extend(p for p in request.properties if p.name.upper() == "ORGANIZER")
    props.append(_reply_attendee(request, address, status))
    if comment:
        props.append(RawProperty("COMMENT", escape_text(comment)))
    return RawComponent(name=request.name, properties=tuple(props))


def _reply_attendee(request: RawComponent, address: Address, status: ResponseStatus) -> RawProperty:
    wanted = address.email.strip().lower()
    partstat = ("PARTSTAT", status.value.upper())
    for prop in request.properties:
        if prop.name.upper() == "ATTENDEE" and _mailbox(prop.value).lower() == wanted:
            params = [(k, v) for k, v in prop.params if k.upper() not in ("PARTSTAT", "RSVP")]
            return RawProperty(prop.name, prop.value, (*params, partstat), prop.group)
    params = [partstat]
    if address.name:
        name = address.name.replace('"', "'")
        params.insert(0, ("CN", f'"{name}"'))
    return RawProperty("ATTENDEE", f"mailto:{address.email.strip()}", params)


def _zones_used(calendar: RawComponent, components: list[RawComponent]) -> list[RawComponent]:
    used = {
        _unquote(value)
        for component in components
        for prop in component.properties
        for key, value in prop.params
        if key.upper() == "TZID"
    }
    return [
        zone
        for zone in calendar.components
        if zone.name.upper() == "VTIMEZONE" and (_value((zone,), "TZID") or "") in used
    ]


def build_reply_message(
    invitation: Invitation,
    attendee: Attendee | Address | str,
    response: ResponseStatus | str,
    *,
    account: Account | None = None,
    comment: str | None = None,
    now: datetime | None = None,
) -> Message:
    """The iMIP mail (RFC 6047) that carries :func:`build_reply` to the organizer.

    ``From`` is the attendee (or, with ``account``, what the account's options say —
    see :func:`openprotocols.formats.mime.build`), ``To`` the organizer (else the
    invitation's sender), the subject ``Accepted: <summary>`` (``Tentative:``,
    ``Declined:``), and the body a ``multipart/alternative`` of a short text and the
    ``text/calendar; method=REPLY`` part. It answers the invitation's message
    (``In-Reply-To``/``References``) when that had a Message-ID.

    :raises InvalidItemError: as :func:`build_reply`, or the invitation names no
        organizer and no sender to reply to.
    """
    status = _response(response)
    calendar = build_reply(invitation, attendee, status, comment=comment, now=now)
    recipient = invitation.organizer or invitation.sender
    if recipient is None:
        raise InvalidItemError("the invitation names no organizer to reply to")
    address = _attendee_address(attendee)
    summary = invitation.summary or invitation.subject or ""
    who = address.name or address.email
    text = f"{who} has {_REPLY_TEXT[status]} this invitation."
    if summary:
        text += f"\n\n{summary}"
    if comment:
        text += f"\n\n{comment}"
    references = (invitation.message_id,) if invitation.message_id else ()
    return mime.build(
        from_=None if account is not None else address,
        account=account,
        to=recipient,
        subject=_one_line(
            f"{_REPLY_SUBJECT[status]}: {summary}" if summary else _REPLY_SUBJECT[status]
        ),
        text=text + "\n",
        calendar=calendar,
        calendar_method="REPLY",
        in_reply_to=invitation.message_id,
        references=references,
    )


def _one_line(text: str) -> str:
    """A header value from text that may hold line breaks (a SUMMARY may)."""
    return " ".join(text.split())
