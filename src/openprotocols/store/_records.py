"""How the local store persists one item: its wire bytes, plus a little JSON.

A :class:`Record` holds an item as the protocol's own bytes (iCalendar, vCard, RFC 5322)
rather than as a pickled or JSON-mapped model: the codecs already promise a lossless round
trip, the bytes can be handed to a server or an export as they are, and an item stored
from a server keeps that server's bytes, so that a later edit is written as a minimal diff
of them. ``meta`` carries, as compact JSON with a version key (``{"v": 1, ...}``), only
what the bytes do not; ``"{}"`` when there is nothing.

**Calendar items and contacts.** With ``raw`` (the bytes of the resource the item came
from) an item that is exactly what ``raw`` holds (the items of its UID, and nothing of
other UIDs) is stored as ``raw`` itself, byte for byte; an edited one as a minimal diff of
``raw`` (only the lines of the changed fields rewritten), with ``raw`` parsed once.
Without ``raw`` the item is written afresh: an appointment or task without a ``DTSTAMP``
in ``extended`` gains one (RFC 5545 wants it), so a *new* item reads back with that
``DTSTAMP``; from then on the record is stable. A new contact is written as vCard 4.0.

*Several items with one UID.* A series with its overrides is one :class:`Appointment`,
but a resource may hold several *orphan* occurrences of one UID (an invitation to two
occurrences of a series the calendar does not have), which :func:`ical.parse` reads as
several items. The record keeps them all (they are one server resource; a record with
one of them only would lose the others when its bytes are written back), and ``meta``
names the position of this record's item among the items of its UID (``"index"``, only
when it is not the first). An edited occurrence replaces the sibling with its
``RECURRENCE-ID`` (else the first). Items of *other* UIDs in ``raw`` (a file of many
events, a non-conforming resource) are left out, so a record holds one item however big
its source; everything else in ``raw`` (VTIMEZONEs, ``X-`` components) stays. A vCard
record likewise holds one card.

**Mail.** ``data`` is the whole source (``content``), or the header block of a
headers-only message. ``meta`` holds what the bytes do not: ``flags``, ``keywords``,
``internal_date`` (ISO 8601, with its offset when it has one), ``size``,
``headers_only``, and for a headers-only message its ``parts`` (every
:class:`MessagePart` field but ``data``); a whole message's parts are read again from its
content. Also kept when present: ``bcc`` (which :func:`mime.build` keeps out of the bytes)
and ``extended``. Not kept: ``folder``, ``uid`` and ``modseq`` (the remote's, the store
tracks them itself), downloaded part ``data`` (a cache; :func:`mime.part_data` reads it
from ``content``), and an ``envelope`` edited apart from its bytes (it is read from them
again; checking would cost a header parse, about 1 ms, per message). ``raw`` is ignored:
a message carries its own bytes.

**Errors.** Bad data in a record raises :class:`~openprotocols.errors.ParseError`
(format ``"store record"``) or the codecs' own ``ParseError``/``InvalidItemError``; an
item class this module does not know raises :class:`~openprotocols.errors.InvalidItemError`.

**Cost** (timeit; an event of 60 lines with its VTIMEZONE / a contact of 33 lines):
encode with an unchanged ``raw`` 1.1 / 0.8 ms (one parse; the comparison is free), with
an edit 1.7 / 1.2 ms, without ``raw`` 0.55 / 0.35 ms; decode 1.1 / 0.8 ms.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias, TypeVar

import attrs

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats import ical, mime, vcard
from openprotocols.model._base import Address, Extended, Item, RawComponent, RawProperty
from openprotocols.model.calendar import Appointment, Task
from openprotocols.model.contacts import Contact, ContactGroup
from openprotocols.model.mail import Message, MessagePart

__all__ = ["FORMAT", "VERSION", "Record", "decode", "encode"]

FORMAT = "store record"
VERSION = 1
EMPTY = "{}"

CalendarItem: TypeAlias = Appointment | Task
ContactItem: TypeAlias = Contact | ContactGroup
_T = TypeVar("_T", CalendarItem, ContactItem)
# Fields of a MessagePart kept for a headers-only message: all but the downloaded data.
_PART_FIELDS = tuple(f.name for f in attrs.fields(MessagePart) if f.name != "data")


@attrs.frozen
class Record:
    """One stored item: ``kind`` (``Item.kind``), the wire bytes, JSON ``meta``, and the
    item's UID for lookups (the ``Message-ID`` for mail; ``None`` when it has none)."""

    kind: str
    data: bytes
    meta: str
    uid: str | None


def encode(item: Item, *, raw: bytes | None = None, exact: bool = False) -> Record:
    """The record that stores ``item``.

    :param raw: the server's bytes ``item`` was read from (calendar items and contacts):
        kept byte for byte when the item is unchanged, else the base of a minimal diff.
    :param exact: the caller vouches that ``raw`` holds exactly ``item`` (a backend's
        entry, untouched): ``raw`` is kept without being parsed again to compare. Not for
        an orphan occurrence (an appointment with a ``recurrence_id``), which is compared.
    :raises InvalidItemError: an item class the store cannot hold, a message with neither
        content nor headers, or a value the codec cannot write.
    :raises ParseError: ``raw`` is not iCalendar / vCard.
    """
    if exact and raw is not None and _whole_resource(item):
        return Record(item.kind, raw, EMPTY, str(item.uid))
    if isinstance(item, Appointment | Task):
        return _encode_calendar(item, raw)
    if isinstance(item, Contact | ContactGroup):
        return _encode_contact(item, raw)
    if isinstance(item, Message):
        return _encode_message(item)
    raise InvalidItemError(f"the store cannot hold a {type(item).__name__}")


def decode(record: Record) -> Item:
    """The item ``record`` stores.

    :raises ParseError: the record is damaged: bytes the codec cannot read, ``meta`` that
        is not JSON or of an unknown version, no item of the record's UID and kind.
    :raises InvalidItemError: the stored values break a model invariant.
    """
    meta = _read_meta(record.meta)
    try:
        if record.kind in (Appointment.kind, Task.kind):
            return _decode_calendar(record, meta)
        if record.kind == Contact.kind:
            return _decode_contact(record)
        if record.kind == Message.kind:
            return _decode_message(record.data, meta)
    except (ParseError, InvalidItemError):
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # meta of the wrong shape
        raise ParseError(f"damaged record: {type(exc).__name__}: {exc}", format=FORMAT) from exc
    raise ParseError(f"unknown item kind {record.kind!r}", format=FORMAT)


# --------------------------------------------------------------------------- meta


def _whole_resource(item: Item) -> bool:
    """Whether ``item`` is all a resource of its own holds (not mail, which carries its
    bytes, and not one orphan occurrence among others of its UID)."""
    if isinstance(item, Appointment):
        return item.recurrence_id is None
    return isinstance(item, Task | Contact | ContactGroup)


def _write_meta(fields: dict[str, Any]) -> str:
    if not fields:
        return EMPTY
    return json.dumps({"v": VERSION, **fields}, sort_keys=True, separators=(",", ":"))


def _read_meta(text: str) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ParseError(f"meta is not JSON: {exc}", format=FORMAT) from exc
    if not isinstance(meta, dict):
        raise ParseError("meta is not a JSON object", format=FORMAT)
    if meta and meta.get("v") != VERSION:
        raise ParseError(f"unknown record version {meta.get('v')!r}", format=FORMAT)
    return meta


# --------------------------------------------------------------------------- calendar


def _slot(item: CalendarItem) -> tuple[str, object]:
    """What tells apart items of one UID: the component and its RECURRENCE-ID (a task
    keeps it in ``extended``)."""
    if isinstance(item, Appointment):
        return "VEVENT", item.recurrence_id
    rid = item.extended.get("RECURRENCE-ID")
    return "VTODO", rid[0].value if rid else None


def _position(items: Sequence[CalendarItem], item: CalendarItem) -> int:
    return next((k for k, other in enumerate(items) if _slot(other) == _slot(item)), 0)


def _encode_calendar(item: CalendarItem, raw: bytes | None) -> Record:
    if raw is None:
        return Record(item.kind, ical.serialize(item), EMPTY, item.uid)
    calendar = ical.parse(raw)  # once: compared with, then the base of the diff
    same = [i for i in calendar.items if i.uid == item.uid]
    if not same:  # not the item's resource: write it afresh, as the backends do
        return Record(item.kind, ical.serialize(item), EMPTY, item.uid)
    index = _position(same, item)
    data = raw
    if same[index] != item or len(same) < len(calendar.items):
        same[index] = item
        data = ical.serialize(attrs.evolve(calendar, items=same))  # the rest as it stood
        if len(same) > 1:  # an edit may move an occurrence among its siblings
            index = _position([i for i in ical.parse(data).items if i.uid == item.uid], item)
    return Record(item.kind, data, _write_meta({"index": index} if index else {}), item.uid)


def _decode_calendar(record: Record, meta: dict[str, Any]) -> CalendarItem:
    item = _pick(ical.parse(record.data).items, record, meta.get("index", 0))
    if item.kind != record.kind:
        raise ParseError(f"the record holds a {item.kind} item, not {record.kind}", format=FORMAT)
    return item


def _pick(items: Sequence[_T], record: Record, index: object) -> _T:
    """The ``index``-th item of the record's UID."""
    same = [i for i in items if record.uid is None or i.uid == record.uid]
    if not isinstance(index, int) or not 0 <= index < len(same):
        raise ParseError(f"no item {index!r} of UID {record.uid!r} in the record", format=FORMAT)
    return same[index]


# --------------------------------------------------------------------------- contacts


def _encode_contact(item: ContactItem, raw: bytes | None) -> Record:
    if raw is None:
        return Record(item.kind, vcard.serialize(item), EMPTY, item.uid)
    parsed = vcard.parse(raw)  # once: compared with, then the base of the diff
    if parsed.items == (item,):
        data = raw
    elif any(i.uid == item.uid for i in parsed.items):
        data = vcard.serialize(item, original=parsed)  # this card alone, minimal diff
    else:  # not the item's card: write it afresh, as the backends do
        data = vcard.serialize(item)
    return Record(item.kind, data, EMPTY, item.uid)


def _decode_contact(record: Record) -> ContactItem:
    return _pick(vcard.parse(record.data).items, record, 0)


# --------------------------------------------------------------------------- mail


def _encode_message(item: Message) -> Record:
    data = item.content if item.content is not None else item.headers
    if data is None:
        raise InvalidItemError("a message with neither content nor headers has nothing to store")
    message_id = item.envelope.message_id
    if message_id is None and item.content is not None:
        # Message.new(content=...) reads nothing from the bytes, and the store's index of
        # UIDs needs the Message-ID (find_uid; a restore replaces the current version)
        header = item.content[: mime.header_block_end(item.content)]
        message_id = mime.parse_headers(header).envelope.message_id
    meta: dict[str, Any] = {
        "flags": sorted(item.flags),
        "keywords": sorted(item.keywords),
        "internal_date": None if item.internal_date is None else item.internal_date.isoformat(),
        "size": item.size,
        "headers_only": item.headers_only,
    }
    if item.headers_only:
        meta["parts"] = [{name: getattr(p, name) for name in _PART_FIELDS} for p in item.parts]
    if item.envelope.bcc:
        meta["bcc"] = [[a.email, a.name] for a in item.envelope.bcc]
    if item.extended:
        holder = RawComponent("", item.extended.properties, item.extended.components)
        meta["extended"] = _component_json(holder)
    return Record(item.kind, data, _write_meta(meta), message_id)


def _decode_message(data: bytes, meta: dict[str, Any]) -> Message:
    if not meta:
        raise ParseError("a mail record needs its meta", format=FORMAT)
    headers_only = meta["headers_only"]
    if not isinstance(headers_only, bool):
        raise ParseError("headers_only is not a boolean", format=FORMAT)
    message = mime.parse_headers(data) if headers_only else mime.parse(data)
    date = meta["internal_date"]
    fields: dict[str, Any] = {
        "flags": _strings(meta["flags"]),
        "keywords": _strings(meta["keywords"]),
        "internal_date": None if date is None else datetime.fromisoformat(date),
        "size": meta["size"],
    }
    if headers_only:
        fields["parts"] = tuple(MessagePart(**part) for part in meta.get("parts", ()))
    if "bcc" in meta:
        bcc = tuple(Address(email, name) for email, name in meta["bcc"])
        fields["envelope"] = attrs.evolve(message.envelope, bcc=bcc)
    if "extended" in meta:
        holder = _component(meta["extended"])
        fields["extended"] = Extended(holder.properties, holder.components)
    return attrs.evolve(message, **fields)


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ParseError("flags and keywords must be lists of strings", format=FORMAT)
    return value


# Verbatim properties and components as JSON: [name, value, params, group] and
# [name, properties, components].


def _component_json(component: RawComponent) -> list[Any]:
    return [
        component.name,
        [[p.name, p.value, [list(kv) for kv in p.params], p.group] for p in component.properties],
        [_component_json(c) for c in component.components],
    ]


def _component(value: Sequence[Any]) -> RawComponent:
    name, properties, components = value
    return RawComponent(
        _text(name), [_property(p) for p in properties], [_component(c) for c in components]
    )


def _property(value: Sequence[Any]) -> RawProperty:
    name, text, params, group = value
    pairs = [(_text(k), _text(v)) for k, v in params]
    return RawProperty(_text(name), _text(text), pairs, None if group is None else _text(group))


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ParseError(f"a string was expected in extended, not {value!r}", format=FORMAT)
    return value
