"""Appointments and tasks on MAPI properties (MS-OXOCAL, MS-OXOTASK).

Each field of :class:`~openprotocols.model.Appointment` and
:class:`~openprotocols.model.Task` goes to the properties Outlook itself writes for it
(``docs/outlook.md`` has the table): the times to ``PidLidAppointmentStartWhole`` and
friends with the time zone as TZDEFINITION structures (:mod:`._tzstruct`), the recurrence
to the ``PidLidAppointmentRecur`` blob (:mod:`._recur`) with one exception attachment per
changed occurrence, attendees to recipient rows, the UID to ``PidLidGlobalObjectId``.

Outlook's properties cannot say everything the model holds: a floating time, the exact
TZID ``Europe/Berlin`` where Outlook has ``W. Europe Standard Time``, a second reminder, an
RRULE with ``BYHOUR``, an ``RDATE``, an attendee's ``DELEGATED`` answer. The mapping is
exact all the same by one rule, applied the same way to every field: after writing the
standard properties it reads them back, and for each field whose value read back differs
from the item's it keeps, in a named property of openprotocols' own set, the item's value
*and* the value the standard properties gave (the *basis*). A reader takes the kept value
only while the standard properties still give the basis; once Outlook has changed the
field, Outlook's value wins. So a round trip is exact, an item made by Outlook (which has
none of these properties) reads from its standard properties alone, and an edit made in
Outlook is never overridden by a stale copy.

The own properties (``PSETID_OpenProtocols``, by name; values are JSON):

- ``CalendarFields`` (message): the kept fields, ``{"field": {"basis": …, "value": …}}``;
- ``CalendarFloating`` (message, boolean): start and end are floating times, stored as
  wall-clock times of the item's zone (UTC when it has none) so Outlook shows them;
- ``CalendarException`` (the message of an exception attachment, boolean): the message
  was written whole by openprotocols, so nothing is inherited from the series (Outlook
  leaves out of an exception what equals the series);
- ``CalendarRecipient`` (recipient row): the kept organizer or attendee;
- ``CalendarAttachment`` (attachment row): the kept attachment fields (not its data).

Meeting requests, responses and cancellations (``IPM.Schedule.Meeting.…``) read as
appointments; a response sets its sender's answer among the attendees, a cancellation
cancels. They are written back as appointments.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, ClassVar, Final, TypeVar, cast
from zoneinfo import ZoneInfo

import attrs

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats._timezones import iana_name, zone_key
from openprotocols.model import Extended, RawComponent, RawProperty
from openprotocols.model.calendar import (
    Appointment,
    AppointmentStatus,
    Attachment,
    Attendee,
    AttendeeRole,
    AttendeeType,
    BusyStatus,
    Importance,
    Organizer,
    Recurrence,
    Reminder,
    ReminderAction,
    ResponseStatus,
    Sensitivity,
    Task,
    TaskStatus,
)
from openprotocols.outlook import _recur, _xprops
from openprotocols.outlook import props as p
from openprotocols.outlook._common import (
    get_importance,
    get_sensitivity,
    midnight_utc,
    put_categories,
    put_importance,
    put_sensitivity,
)
from openprotocols.outlook._mapping import Mapper, from_mapi, register, to_mapi
from openprotocols.outlook._propset import PropertySet, Value
from openprotocols.outlook._recur import (
    AppointmentRecurrencePattern,
    ExceptionInfo,
    RecurrencePattern,
)
from openprotocols.outlook._tzstruct import (
    RulesZone,
    TZDefinition,
    TZStruct,
    is_windows_name,
    rules_for,
    windows_name,
)

__all__ = [
    "EXCEPTION_CLASS",
    "AppointmentMapper",
    "PidNameCalendarAttachment",
    "PidNameCalendarException",
    "PidNameCalendarFields",
    "PidNameCalendarFloating",
    "PidNameCalendarRecipient",
    "TaskMapper",
    "global_object_id",
    "uid_of_global_object_id",
]

T = TypeVar("T")
Json = Any

# --------------------------------------------------------------------------- own properties

PidNameCalendarFields = p.Named(
    p.PSETID_OPENPROTOCOLS, name="CalendarFields", type=p.PropType.UNICODE
)
"""Fields the standard properties do not give back exactly: JSON, with their basis."""
PidNameCalendarFloating = p.Named(
    p.PSETID_OPENPROTOCOLS, name="CalendarFloating", type=p.PropType.BOOLEAN
)
"""Start and end are floating times (RFC 5545 §3.3.5)."""
PidNameCalendarException = p.Named(
    p.PSETID_OPENPROTOCOLS, name="CalendarException", type=p.PropType.BOOLEAN
)
"""An exception's message is whole: none of its fields is inherited from the series."""
PidNameCalendarRecipient = p.Named(
    p.PSETID_OPENPROTOCOLS, name="CalendarRecipient", type=p.PropType.UNICODE
)
"""A recipient row's organizer or attendee where the row does not give it back exactly."""
PidNameCalendarAttachment = p.Named(
    p.PSETID_OPENPROTOCOLS, name="CalendarAttachment", type=p.PropType.UNICODE
)
"""An attachment row's fields (not its data) where the row does not give them back."""

EXCEPTION_CLASS: Final = "IPM.OLE.CLASS.{00061055-0000-0000-C000-000000000046}"
"""The message class of the message in an exception attachment."""

# MS-OXOCAL values
_ASF_MEETING, _ASF_RECEIVED, _ASF_CANCELED = 0x1, 0x2, 0x4
_RECIP_SENDABLE, _RECIP_ORGANIZER = 0x1, 0x2
_AF_EXCEPTION = 0x2
_ATTACH_BY_VALUE, _ATTACH_EMBEDDED_MSG, _ATTACH_OLE, _ATTACH_BY_WEB_REFERENCE = 1, 5, 6, 7
_MAPI_TO, _MAPI_CC, _MAPI_BCC = 1, 2, 3
_CP_UTF8 = 65001
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu", "GMT"})

_BUSY: dict[BusyStatus, int] = {
    BusyStatus.FREE: 0,
    BusyStatus.TENTATIVE: 1,
    BusyStatus.BUSY: 2,
    BusyStatus.OUT_OF_OFFICE: 3,
    BusyStatus.WORKING_ELSEWHERE: 4,
}
_TRACK: dict[ResponseStatus, int] = {
    ResponseStatus.NEEDS_ACTION: 0,
    ResponseStatus.TENTATIVE: 2,
    ResponseStatus.ACCEPTED: 3,
    ResponseStatus.DECLINED: 4,
}
_TASK_STATUS: dict[TaskStatus, int] = {
    TaskStatus.NOT_STARTED: 0,
    TaskStatus.IN_PROGRESS: 1,
    TaskStatus.COMPLETED: 2,
    TaskStatus.WAITING: 3,
    TaskStatus.DEFERRED: 4,
    TaskStatus.CANCELLED: 4,  # Outlook has no "cancelled"; the nearest is "deferred"
}
_PRIORITY: dict[Importance, int] = {Importance.HIGH: 1, Importance.NORMAL: 0, Importance.LOW: 9}
_DEFAULT_REMINDER = 15
_PATTERN_YEARS = (1602, 4499)  # a pattern counts minutes from 1601 and ends by 4500
_CODEPAGES = {65001: "utf-8", 1200: "utf-16-le", 20127: "ascii", 28591: "latin-1"}


# --------------------------------------------------------------------------- JSON values


def _json(value: Json) -> Json:
    """``value`` as JSON reads it back (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


def _bad(what: str, detail: object) -> InvalidItemError:
    return InvalidItemError(f"{what}: unreadable value {detail!r:.80}")


def _text(data: Json, what: str, *, optional: bool = True) -> str | None:
    """A JSON string (or null, where ``optional``), else an error naming ``what``."""
    if isinstance(data, str) or (optional and data is None):
        return data
    raise _bad(what, data)


def _when_json(value: date | datetime | None) -> Json:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            return {"utc": value.astimezone(UTC).isoformat(), "zone": zone_key(value.tzinfo)}
        return {"local": value.isoformat()}
    return {"date": value.isoformat()}


def _when(data: Json, what: str) -> Any:
    """A date or datetime from :func:`_when_json`; an aware one in its zone when the zone
    is known by name, else in UTC."""
    if data is None:
        return None
    try:
        if "date" in data:
            return date.fromisoformat(data["date"])
        if "local" in data:
            return datetime.fromisoformat(data["local"])
        moment = datetime.fromisoformat(data["utc"])
        if moment.tzinfo is None:
            raise ValueError("not aware")
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise _bad(what, data) from exc
    name = data.get("zone")
    zone = _resolve(name) if isinstance(name, str) else None
    try:
        return moment.astimezone(zone or UTC)
    except OverflowError:
        return moment


def _whens(data: Json, what: str) -> tuple[Any, ...]:
    if not isinstance(data, list):
        raise _bad(what, data)
    return tuple(_when(item, what) for item in data)


def _extended_json(extended: Extended) -> Json:
    def component(c: RawComponent) -> Json:
        return [c.name, [prop(x) for x in c.properties], [component(x) for x in c.components]]

    def prop(x: RawProperty) -> Json:
        return [x.name, x.value, [list(pair) for pair in x.params], x.group]

    return {
        "properties": [prop(x) for x in extended.properties],
        "components": [component(x) for x in extended.components],
    }


def _extended(data: Json, what: str) -> Extended:
    def prop(x: Json) -> RawProperty:
        name, value, params, group = x
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("a property is a name and a value")
        return RawProperty(name, value, [(str(k), str(v)) for k, v in params], _text(group, what))

    def component(c: Json) -> RawComponent:
        name, properties, children = c
        return RawComponent(name, [prop(x) for x in properties], [component(x) for x in children])

    try:
        return Extended(
            [prop(x) for x in data["properties"]], [component(x) for x in data["components"]]
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise _bad(what, data) from exc


def _reminder_json(reminder: Reminder) -> Json:
    trigger = reminder.trigger
    return {
        "trigger": _when_json(trigger)
        if isinstance(trigger, datetime)
        else {"delta": [trigger.days, trigger.seconds, trigger.microseconds]},
        "related_to_end": reminder.related_to_end,
        "action": reminder.action.value,
        "description": reminder.description,
        "extended": _extended_json(reminder.extended),
    }


def _reminder(data: Json, what: str) -> Reminder:
    try:
        trigger = data["trigger"]
        moment: timedelta | datetime = (
            timedelta(
                days=trigger["delta"][0],
                seconds=trigger["delta"][1],
                microseconds=trigger["delta"][2],
            )
            if "delta" in trigger
            else _when(trigger, what)
        )
        return Reminder(
            trigger=moment,
            related_to_end=bool(data["related_to_end"]),
            action=ReminderAction(data["action"]),
            description=_text(data["description"], what),
            extended=_extended(data["extended"], what),
        )
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        raise _bad(what, data) from exc


def _params(data: Json, what: str) -> tuple[tuple[str, str], ...]:
    try:
        return tuple((str(k), str(v)) for k, v in data)
    except (TypeError, ValueError) as exc:
        raise _bad(what, data) from exc


def _party_json(party: Organizer | Attendee) -> Json:
    data: dict[str, Json] = {
        "email": party.email,
        "name": party.name,
        "params": [list(pair) for pair in party.params],
    }
    if isinstance(party, Attendee):
        data |= {
            "role": party.role.value,
            "response": party.response.value,
            "rsvp": party.rsvp,
            "type": party.type.value,
        }
    return data


def _party(data: Json, what: str) -> Organizer | Attendee:
    try:
        email = _text(data["email"], what, optional=False) or ""
        name = _text(data["name"], what)
        if "role" not in data:
            return Organizer(email, name, _params(data["params"], what))
        return Attendee(
            email=email,
            name=name,
            role=AttendeeRole(data["role"]),
            response=ResponseStatus(data["response"]),
            rsvp=bool(data["rsvp"]),
            type=AttendeeType(data["type"]),
            params=_params(data["params"], what),
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise _bad(what, data) from exc


def _attachment_json(attachment: Attachment) -> Json:
    """The attachment without its data (that is always in the row exactly)."""
    return {
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "url": attachment.url,
        "size": attachment.size,
        "content_id": attachment.content_id,
        "inline": attachment.inline,
        "params": [list(pair) for pair in attachment.params],
    }


@attrs.frozen
class _Codec:
    """How a field's value is written as JSON and read back."""

    encode: Callable[[Any], Json]
    decode: Callable[[Json, str], Any]


def _plain(kind: type | tuple[type, ...]) -> _Codec:
    def decode(data: Json, what: str) -> Any:
        if data is not None and not isinstance(data, kind):
            raise _bad(what, data)
        return data

    return _Codec(lambda value: value, decode)


def _enum(kind: Callable[[Any], Any]) -> _Codec:
    def decode(data: Json, what: str) -> Any:
        try:
            return kind(data)
        except (ValueError, TypeError) as exc:
            raise _bad(what, data) from exc

    return _Codec(lambda value: value.value, decode)


def _strings_decode(data: Json, what: str) -> tuple[str, ...]:
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise _bad(what, data)
    return tuple(data)


def _reminders_decode(data: Json, what: str) -> tuple[Reminder, ...]:
    if not isinstance(data, list):
        raise _bad(what, data)
    return tuple(_reminder(x, what) for x in data)


_TEXT = _plain(str)
_INT = _plain(int)
_BOOL = _plain(bool)
_WHEN = _Codec(_when_json, _when)
_WHENS = _Codec(lambda values: [_when_json(v) for v in values], _whens)
_STRINGS = _Codec(list, _strings_decode)
_REMINDERS = _Codec(lambda values: [_reminder_json(r) for r in values], _reminders_decode)


# --------------------------------------------------------------------------- kept fields


class _Kept:
    """The fields a message keeps beside its standard properties (see the module docstring).

    Reading, :meth:`take` gives the kept value of a field whose basis is what the standard
    properties give now, else their value. Writing (``model`` given), it records each
    field whose model value the standard properties do not give, and returns the model's.
    """

    def __init__(
        self,
        stored: str | None,
        *,
        model: Mapping[str, Any] | None = None,
        what: str = "CalendarFields",
    ) -> None:
        self.what = what
        self.model = model
        self.written: dict[str, Json] = {}
        self.stored: dict[str, Json] = {}
        if stored is not None:
            try:
                loaded = json.loads(stored)
            except ValueError as exc:
                raise InvalidItemError(f"{what}: not JSON ({exc})") from exc
            if not isinstance(loaded, dict):
                raise _bad(what, loaded)
            self.stored = loaded

    @property
    def writing(self) -> bool:
        """Whether this records a model's fields (rather than reading kept ones)."""
        return self.model is not None

    def take(self, field: str, derived: T, codec: _Codec) -> T:
        """The value of ``field``, given what the standard properties say (``derived``)."""
        basis = _json(codec.encode(derived))
        if self.model is not None:
            value = self.model[field]
            exact = _json(codec.encode(value))
            if exact != basis:
                self.written[field] = {"basis": basis, "value": exact}
            return cast(T, value)
        entry = self.stored.get(field)
        if isinstance(entry, dict) and entry.get("basis") == basis and "value" in entry:
            return cast(T, codec.decode(entry["value"], f"{self.what} {field}"))
        return derived

    def dump(self) -> str | None:
        """The JSON to store, or ``None`` when nothing needs keeping."""
        if not self.written:
            return None
        return json.dumps(self.written, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------- time zones


def _resolve(name: str | None) -> tzinfo | None:
    """The zone a TZID names (UTC as :data:`datetime.UTC`), or ``None``."""
    if name is None:
        return None
    if name.strip() in _UTC_NAMES:
        return UTC
    iana = iana_name(name)
    if iana is None:
        return None
    return UTC if iana in _UTC_NAMES else ZoneInfo(iana)


def _is_aware(value: object) -> bool:
    return (
        isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None
    )


def _zone_of(value: date | datetime | None, name: str | None) -> tzinfo | None:
    """The zone an item's times are in: an aware value's own, else the one its TZID names."""
    if isinstance(value, datetime) and _is_aware(value):
        return value.tzinfo
    return _resolve(name)


def _key_name(zone: tzinfo, hint: str | None) -> str:
    """The TZDEFINITION key name of ``zone``: a Windows name where there is one."""
    if hint is not None and is_windows_name(hint) and _same_zone(_resolve(hint), zone):
        return hint
    key = zone_key(zone) or zone.tzname(None) or "UTC"
    if key in _UTC_NAMES:
        return "UTC"
    return windows_name(key) or key


def _same_zone(a: tzinfo | None, b: tzinfo) -> bool:
    return a is not None and (a is b or zone_key(a) == zone_key(b))


def _definition(zone: tzinfo, key: str, year: int, *, recur: bool = False) -> TZDefinition:
    return TZDefinition(key_name=key, rules=rules_for(zone, year, recur=recur))


def _read_definition(props: PropertySet, key: p.Named) -> TZDefinition | None:
    blob = props.binary(key)
    if blob is None:
        return None
    try:
        return TZDefinition.parse(blob, p.NAMES.get(key, str(key)))
    except ParseError as exc:
        raise InvalidItemError(str(exc)) from exc


def _read_struct(props: PropertySet) -> TZStruct | None:
    blob = props.binary(p.PidLidTimeZoneStruct)
    if blob is None:
        return None
    try:
        return TZStruct.parse(blob)
    except ParseError as exc:
        raise InvalidItemError(str(exc)) from exc


_EARLIEST: Final = datetime(1601, 1, 2, tzinfo=UTC)
_LATEST: Final = datetime(9999, 12, 30, tzinfo=UTC)


def _clamp_time(moment: datetime) -> datetime:
    """A time a PtypTime (a FILETIME) can hold: the model's years 1-1600 and the last
    day of 9999 are clamped (the exact value is kept among the fields)."""
    return min(max(moment, _EARLIEST), _LATEST)


def _shift(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, clamped like :func:`_clamp_time` instead of overflowing."""
    try:
        return _clamp_time(moment + delta)
    except OverflowError:
        return _EARLIEST if delta < timedelta(0) else _LATEST


def _to_utc(value: date | datetime, zone: tzinfo) -> datetime:
    """The instant of a value (clamped to what MAPI holds): an aware one's own; a
    floating time or a date (its midnight) as wall-clock time in ``zone``."""
    try:
        if isinstance(value, datetime):
            if _is_aware(value):
                return _clamp_time(value.astimezone(UTC))
            return _clamp_time(value.replace(tzinfo=zone).astimezone(UTC))
        return _clamp_time(datetime.combine(value, time(), tzinfo=zone).astimezone(UTC))
    except OverflowError:
        return _EARLIEST if value.year < 5000 else _LATEST


def _local(value: date | datetime, zone: tzinfo) -> datetime:
    """A value as naive wall-clock time in ``zone`` (a date as its midnight)."""
    if isinstance(value, datetime):
        if not _is_aware(value):
            return value
        try:
            return value.astimezone(zone).replace(tzinfo=None)
        except OverflowError:
            return value.replace(tzinfo=None)
    return datetime.combine(value, time())


def _like(moment: datetime, kind: date | datetime, zone: tzinfo, floating: bool) -> date | datetime:
    """The instant ``moment`` as a value of the kind of ``kind``."""
    if not isinstance(kind, datetime):
        return moment.astimezone(zone).date()
    if floating or not _is_aware(kind):
        return moment.astimezone(zone).replace(tzinfo=None)
    return moment.astimezone(zone)


def _minutes(local: datetime) -> int:
    """Local minutes since 1601 (clamped to what the blob can hold)."""
    value = _recur.minutes_of(local.date()) + local.hour * 60 + local.minute
    return min(max(value, 0), 0xFFFFFFFF)


def _blob_time(minutes: int, zone: tzinfo) -> datetime:
    """The UTC instant of local blob minutes."""
    return _recur.date_of(minutes).replace(tzinfo=zone).astimezone(UTC)


# --------------------------------------------------------------------------- global object ids

_GOID_PREFIX: Final = bytes.fromhex("040000008200E00074C5B7101A82E008")
_VCAL_UID: Final = b"vCal-Uid\x01\x00\x00\x00"
_GOID_HEADER: Final = 40


def global_object_id(uid: str, instance: date | None = None) -> bytes:
    """``PidLidGlobalObjectId`` for ``uid`` (MS-OXOCAL §2.2.1.27, MS-OXCICAL UID): the bytes
    a UID in Outlook's hexadecimal form stands for, otherwise the "vCal-Uid" form holding
    the UID's UTF-8. ``instance`` is an exception's original date (zero for the series)."""
    stamp = (
        instance.year.to_bytes(2, "big") + bytes((instance.month, instance.day))
        if instance is not None
        else bytes(4)
    )
    encoded = _encoded_global_id(uid)
    if encoded is not None:
        return encoded[:16] + stamp + encoded[20:]
    try:  # surrogateescape: the bytes a UID was read from (see below) come back as they were
        text = uid.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        text = uid.encode("utf-8", errors="surrogatepass")
    data = _VCAL_UID + text + b"\x00"
    return _GOID_PREFIX + stamp + bytes(16) + len(data).to_bytes(4, "little") + data


def _encoded_global_id(uid: str) -> bytes | None:
    """The bytes of a UID that is exactly how Outlook writes a global id it made."""
    if len(uid) < 2 * _GOID_HEADER or len(uid) % 2 or uid != uid.upper():
        return None
    try:
        blob = bytes.fromhex(uid)
    except ValueError:
        return None
    if not blob.startswith(_GOID_PREFIX) or any(blob[16:20]):
        return None
    size = int.from_bytes(blob[36:40], "little")
    if size != len(blob) - _GOID_HEADER or blob[_GOID_HEADER:].startswith(_VCAL_UID):
        return None
    return blob


def uid_of_global_object_id(blob: bytes) -> str | None:
    """The UID Outlook exports for a global object id: the text of a "vCal-Uid" one, the
    hexadecimal of any other with the instance date zeroed; ``None`` for no global id."""
    if len(blob) < _GOID_HEADER or not blob.startswith(_GOID_PREFIX):
        return None
    clean = blob[:16] + bytes(4) + blob[20:]
    size = int.from_bytes(blob[36:40], "little")
    data = blob[_GOID_HEADER : _GOID_HEADER + size]
    if data.startswith(_VCAL_UID):
        text = data[len(_VCAL_UID) :]
        text = text[:-1] if text.endswith(b"\x00") else text
        return text.decode("utf-8", errors="surrogateescape")
    return clean.hex().upper()


def _fallback_uid(props: PropertySet) -> str:
    """A stable UID for an item without one (Outlook's tasks): from its search key, else
    from its subject and creation time."""
    key = props.binary(p.PidTagSearchKey)
    if key:
        return key.hex().upper()
    created = props.time(p.PidTagCreationTime)
    seed = f"{props.text(p.PidTagSubject)}|{created.isoformat() if created else ''}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "openprotocols:" + seed))


# --------------------------------------------------------------------------- strings


def _nul(text: str | None) -> str | None:
    """``text`` as a MAPI string holds it: up to its first NUL (the rest is kept)."""
    return text.split("\x00", 1)[0] if text is not None else None


# --------------------------------------------------------------------------- bodies


def _put_bodies(props: PropertySet, body: str | None, html: str | None) -> None:
    props.put(p.PidTagBody, _nul(body))
    if html is not None:
        props[p.PidTagHtml] = html.encode("utf-8", errors="surrogatepass")
        props[p.PidTagInternetCodepage] = _CP_UTF8


def _html(props: PropertySet) -> str | None:
    data = props.binary(p.PidTagHtml)
    if data is None:
        return None
    page = props.number(p.PidTagInternetCodepage) or _CP_UTF8
    name = _CODEPAGES.get(page, f"cp{page}")
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8"
    errors = "surrogatepass" if name == "utf-8" else "replace"
    try:
        return data.decode(name, errors=errors)
    except UnicodeDecodeError:
        return data.decode(name, errors="replace")


# --------------------------------------------------------------------------- recipients


def _recipient_row(party: Organizer | Attendee, *, organizer: bool) -> PropertySet:
    row = PropertySet()
    email = _nul(party.email) or ""
    row[p.PidTagDisplayName] = (_nul(party.name) if party.name is not None else None) or email
    row[p.PidTagEmailAddress] = email
    row[p.PidTagAddressType] = "SMTP"
    if "@" in email and ":" not in email:
        row[p.PidTagSmtpAddress] = email
    if organizer:
        row[p.PidTagRecipientType] = _MAPI_TO
        row[p.PidTagRecipientFlags] = _RECIP_SENDABLE | _RECIP_ORGANIZER
    else:
        attendee = cast(Attendee, party)
        row[p.PidTagRecipientFlags] = _RECIP_SENDABLE
        if attendee.type in (AttendeeType.RESOURCE, AttendeeType.ROOM):
            row[p.PidTagRecipientType] = _MAPI_BCC
        elif attendee.role is AttendeeRole.OPTIONAL:
            row[p.PidTagRecipientType] = _MAPI_CC
        else:
            row[p.PidTagRecipientType] = _MAPI_TO
        row[p.PidTagRecipientTrackStatus] = _TRACK.get(attendee.response, 0)
    return row


def _is_organizer_row(row: PropertySet) -> bool:
    return bool((row.number(p.PidTagRecipientFlags) or 0) & _RECIP_ORGANIZER)


def _party_of_row(row: PropertySet, rsvp: bool, *, organizer: bool) -> Organizer | Attendee:
    email = row.text(p.PidTagSmtpAddress) or row.text(p.PidTagEmailAddress) or ""
    name = row.text(p.PidTagDisplayName)
    if organizer:
        return Organizer(email, name)
    kind = row.number(p.PidTagRecipientType)
    track = row.number(p.PidTagRecipientTrackStatus)
    response = next((k for k, v in _TRACK.items() if v == track), ResponseStatus.NEEDS_ACTION)
    return Attendee(
        email=email,
        name=name,
        role=AttendeeRole.OPTIONAL if kind == _MAPI_CC else AttendeeRole.REQUIRED,
        response=response,
        rsvp=rsvp,
        type=AttendeeType.RESOURCE if kind == _MAPI_BCC else AttendeeType.INDIVIDUAL,
    )


def _row_party(
    row: PropertySet, rsvp: bool, model: Organizer | Attendee | None
) -> Organizer | Attendee:
    """The party of a row, kept exactly (writing ``model`` keeps it in the row)."""
    organizer = _is_organizer_row(row)
    derived = _party_of_row(row, rsvp, organizer=organizer)
    kept = _Kept(
        row.text(PidNameCalendarRecipient),
        model=None if model is None else {"party": model},
        what="CalendarRecipient",
    )
    codec = _Codec(_party_json, _party)
    party = kept.take("party", derived, codec)
    dump = kept.dump()
    if dump is not None:
        row[PidNameCalendarRecipient] = dump
    if isinstance(party, Organizer) != organizer:
        return derived  # the kept party is of the other kind: the row changed, Outlook wins
    return party


# --------------------------------------------------------------------------- attachments


def _attachment_row(attachment: Attachment) -> PropertySet:
    row = PropertySet()
    by_value = attachment.data is not None or attachment.url is None
    row[p.PidTagAttachMethod] = _ATTACH_BY_VALUE if by_value else _ATTACH_BY_WEB_REFERENCE
    if attachment.data is not None:
        row[p.PidTagAttachDataBinary] = attachment.data
    row.put(p.PidTagAttachLongFilename, _nul(attachment.filename))
    row.put(p.PidTagAttachMimeTag, _nul(attachment.content_type))
    row.put(p.PidTagAttachContentId, _nul(attachment.content_id))
    row.put(p.PidTagAttachLongPathname, _nul(attachment.url))
    if attachment.inline:
        row[p.PidTagAttachmentHidden] = True
    _row_attachment(row, attachment)
    return row


def _row_attachment(row: PropertySet, model: Attachment | None = None) -> Attachment:
    """The attachment of a row, kept exactly (writing ``model`` keeps it in the row)."""
    derived = Attachment(
        filename=row.text(p.PidTagAttachLongFilename),
        content_type=row.text(p.PidTagAttachMimeTag),
        data=row.binary(p.PidTagAttachDataBinary),
        url=row.text(p.PidTagAttachLongPathname),
        content_id=row.text(p.PidTagAttachContentId),
        inline=row.flag(p.PidTagAttachmentHidden) is True,
    )

    def decode(data: Json, what: str) -> Attachment:
        try:
            size = data["size"]
            if size is not None and not isinstance(size, int):
                raise TypeError("size")
            return attrs.evolve(
                derived,
                filename=_text(data["filename"], what),
                content_type=_text(data["content_type"], what),
                url=_text(data["url"], what),
                size=size,
                content_id=_text(data["content_id"], what),
                inline=bool(data["inline"]),
                params=_params(data["params"], what),
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise _bad(what, data) from exc

    kept = _Kept(
        row.text(PidNameCalendarAttachment),
        model=None if model is None else {"attachment": model},
        what="CalendarAttachment",
    )
    attachment = kept.take("attachment", derived, _Codec(_attachment_json, decode))
    dump = kept.dump()
    if dump is not None:
        row[PidNameCalendarAttachment] = dump
    return attachment


def _is_exception_row(row: PropertySet) -> bool:
    return bool((row.number(p.PidTagAttachmentFlags) or 0) & _AF_EXCEPTION)


# --------------------------------------------------------------------------- reminders


def _outlook_reminder(
    reminders: Sequence[Reminder], anchor: datetime | None, *, absolute: bool
) -> tuple[int, datetime] | None:
    """The reminder Outlook shows, as (minutes before ``anchor``, when it fires): the first
    display reminder Outlook's single reminder can be. Appointments (``absolute`` false)
    count from the start; tasks fire at a time."""
    for reminder in reminders:
        if reminder.action is not ReminderAction.DISPLAY:
            continue
        if isinstance(reminder.trigger, datetime):
            fires = _clamp_time(reminder.trigger.astimezone(UTC))
        elif (
            anchor is None
            or reminder.related_to_end
            or (not absolute and reminder.trigger > timedelta(0))
        ):
            continue
        else:
            fires = _shift(anchor, reminder.trigger)
        if anchor is None:
            return 0, fires
        minutes = round((anchor - fires).total_seconds() / 60)
        if not absolute and minutes < 0:
            continue
        return minutes, fires
    return None


# --------------------------------------------------------------------------- recurrence


def _until_formatter(kind: date | datetime, zone: tzinfo, floating: bool) -> Callable[[date], str]:
    """How a pattern's last date becomes an UNTIL of the series' kind (RFC 5545: a date,
    a floating time, or UTC)."""

    def write(last: date) -> str:
        if not isinstance(kind, datetime):
            return last.strftime("%Y%m%d")
        moment = datetime.combine(
            last, kind.time() if not _is_aware(kind) else kind.astimezone(zone).time()
        )
        if floating or not _is_aware(kind):
            return moment.strftime("%Y%m%dT%H%M%S")
        return moment.replace(tzinfo=zone).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    return write


def _until_local(text: str, zone: tzinfo) -> datetime | None:
    """An UNTIL value as local wall-clock time, or ``None`` when it is no date."""
    value = text.strip().upper()
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").replace(hour=23, minute=59, second=59)
        if value.endswith("Z"):
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return moment.astimezone(zone).replace(tzinfo=None)
        return datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError:
        return None


def _pattern(rule: str, start_local: datetime, zone: tzinfo) -> RecurrencePattern | None:
    """The pattern closest to ``rule`` for a series starting at ``start_local``, with its
    range filled in as Outlook fills it; ``None`` when ``rule`` is no RRULE."""
    choice = _recur.pattern_for_rule(rule, start_local.date())
    if choice is None or not _PATTERN_YEARS[0] <= start_local.year <= _PATTERN_YEARS[1]:
        return None  # no rule, or a start no pattern can hold: the rule is kept as a field
    start = start_local.date()
    pattern = RecurrencePattern(
        frequency=choice.frequency,
        pattern_type=choice.pattern_type,
        first_date_time=_recur.first_date_time(choice, start),
        period=choice.period,
        days=choice.days,
        day_of_month=choice.day_of_month,
        nth=choice.nth,
        end_type=_recur.END_NEVER,
        occurrence_count=10,  # what Outlook writes for a series without end
        first_dow=choice.first_dow,
        start_date=_recur.minutes_of(start),
        end_date=_recur.NO_END_DATE,
    )
    until = _until_local(choice.until, zone) if choice.until is not None else None
    if choice.count is not None:
        dates = list(_recur.occurrences(pattern, limit=choice.count))
        if dates:
            return attrs.evolve(
                pattern,
                end_type=_recur.END_AFTER_COUNT,
                occurrence_count=choice.count,
                end_date=_recur.minutes_of(dates[-1]),
            )
    elif until is not None:
        dates = [
            d
            for d in _recur.occurrences(pattern, limit=999)
            if datetime.combine(d, start_local.time()) <= until
        ]
        if dates:
            return attrs.evolve(
                pattern,
                end_type=_recur.END_BY_DATE,
                occurrence_count=len(dates),
                end_date=_recur.minutes_of(dates[-1]),
            )
    return pattern


def _parse_recur(blob: bytes) -> AppointmentRecurrencePattern:
    try:
        return AppointmentRecurrencePattern.parse(blob)
    except ParseError as exc:
        raise InvalidItemError(str(exc)) from exc


def _describe(pattern: RecurrencePattern, start: datetime, end: datetime | None) -> str:
    """The English display text Outlook keeps in ``PidLidRecurrencePattern``."""
    rule = _recur.rule_for_pattern(pattern, lambda last: last.strftime("%d.%m.%Y"))
    parts = dict(part.split("=", 1) for part in rule.split(";"))
    unit = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}[parts["FREQ"]]
    every = f"every {parts['INTERVAL']} {unit}s" if "INTERVAL" in parts else f"every {unit}"
    if "BYDAY" in parts:
        every += f" on {parts['BYDAY']}"
    if "BYSETPOS" in parts:
        every += f" (occurrence {parts['BYSETPOS']})"
    if "BYMONTHDAY" in parts:
        every += f" on day {parts['BYMONTHDAY']}"
    if "BYMONTH" in parts:
        every += f" of month {parts['BYMONTH']}"
    text = f"Occurs {every} effective {start:%d.%m.%Y}"
    if "UNTIL" in parts:
        text += f" until {parts['UNTIL']}"
    elif "COUNT" in parts:
        text += f", {parts['COUNT']} times"
    if end is not None:
        text += f" from {start:%H:%M} to {end:%H:%M}"
    return text


# --------------------------------------------------------------------------- appointments

_APPOINTMENT_CLASSES: Final = (
    "IPM.Appointment",
    "IPM.Schedule.Meeting.Request",
    "IPM.Schedule.Meeting.Canceled",
    "IPM.Schedule.Meeting.Resp.Pos",
    "IPM.Schedule.Meeting.Resp.Neg",
    "IPM.Schedule.Meeting.Resp.Tent",
    EXCEPTION_CLASS,
)
_RESPONSES: Final = {
    "IPM.SCHEDULE.MEETING.RESP.POS": ResponseStatus.ACCEPTED,
    "IPM.SCHEDULE.MEETING.RESP.NEG": ResponseStatus.DECLINED,
    "IPM.SCHEDULE.MEETING.RESP.TENT": ResponseStatus.TENTATIVE,
}

_TIMES: Final[frozenset[p.PropertyKey]] = frozenset(
    {
        p.PidLidAppointmentStartWhole,
        p.PidLidAppointmentEndWhole,
        p.PidTagStartDate,
        p.PidTagEndDate,
        p.PidLidCommonStart,
        p.PidLidCommonEnd,
        p.PidLidAppointmentDuration,
        p.PidLidAppointmentSubType,
        p.PidLidClipStart,
        p.PidLidClipEnd,
    }
)
_ZONES: Final[frozenset[p.PropertyKey]] = frozenset(
    {
        p.PidLidTimeZoneStruct,
        p.PidLidAppointmentTimeZoneDefinitionStartDisplay,
        p.PidLidAppointmentTimeZoneDefinitionEndDisplay,
        p.PidLidAppointmentTimeZoneDefinitionRecur,
    }
)
_REMINDER_KEYS: Final[frozenset[p.PropertyKey]] = frozenset(
    {p.PidLidReminderSet, p.PidLidReminderDelta, p.PidLidReminderTime, p.PidLidReminderSignalTime}
)
_COMMON: Final[frozenset[p.PropertyKey]] = frozenset(
    {
        p.PidTagMessageClass,
        p.PidTagSubject,
        p.PidTagBody,
        p.PidTagHtml,
        p.PidTagInternetCodepage,
        p.PidTagSensitivity,
        p.PidLidPrivate,
        p.PidTagImportance,
        p.PidNameKeywords,
        p.PidTagCreationTime,
        p.PidTagLastModificationTime,
        PidNameCalendarFields,
        PidNameCalendarFloating,
    }
)
_INHERITED: Final[frozenset[p.PropertyKey]] = frozenset(
    {
        p.PidTagSubject,
        p.PidTagBody,
        p.PidTagHtml,
        p.PidTagInternetCodepage,
        p.PidTagSensitivity,
        p.PidLidPrivate,
        p.PidTagImportance,
        p.PidNameKeywords,
        p.PidLidLocation,
        p.PidLidBusyStatus,
        p.PidLidAppointmentStateFlags,
        p.PidLidAppointmentSequence,
        p.PidLidAppointmentSubType,
        p.PidLidReminderSet,
        p.PidLidReminderDelta,
        p.PidLidGlobalObjectId,
        p.PidLidCleanGlobalObjectId,
        p.PidTagResponseRequested,
        *_ZONES,
    }
)
"""What an exception made by Outlook takes from its series when its message lacks it."""


@attrs.frozen
class _Clock:
    """How an item's times are stored: the zone of its wall-clock times, whether they float."""

    zone: tzinfo
    floating: bool


class AppointmentMapper(Mapper):
    """Appointments (``IPM.Appointment``) and the meeting messages read as appointments."""

    item_type: ClassVar[type[Any]] = Appointment
    message_classes: ClassVar[tuple[str, ...]] = _APPOINTMENT_CLASSES
    owned: ClassVar[frozenset[p.PropertyKey]] = frozenset(
        {
            *_COMMON,
            *_TIMES,
            *_ZONES,
            *_REMINDER_KEYS,
            p.PidLidLocation,
            p.PidLidBusyStatus,
            p.PidLidAppointmentStateFlags,
            p.PidLidAppointmentSequence,
            p.PidLidGlobalObjectId,
            p.PidLidCleanGlobalObjectId,
            p.PidLidAppointmentRecur,
            p.PidLidRecurring,
            p.PidLidRecurrenceType,
            p.PidLidRecurrencePattern,
            p.PidLidExceptionReplaceTime,
            p.PidLidFExceptionalBody,
            p.PidLidFExceptionalAttendees,
            p.PidTagResponseRequested,
            PidNameCalendarException,
        }
    )
    recipient_owned: ClassVar[frozenset[p.PropertyKey]] = frozenset(
        {
            p.PidTagRecipientType,
            p.PidTagRecipientFlags,
            p.PidTagRecipientTrackStatus,
            p.PidTagDisplayName,
            p.PidTagEmailAddress,
            p.PidTagAddressType,
            p.PidTagSmtpAddress,
            PidNameCalendarRecipient,
        }
    )
    attachment_owned: ClassVar[frozenset[p.PropertyKey]] = frozenset(
        {
            p.PidTagAttachMethod,
            p.PidTagAttachDataBinary,
            p.PidTagAttachLongFilename,
            p.PidTagAttachMimeTag,
            p.PidTagAttachContentId,
            p.PidTagAttachLongPathname,
            p.PidTagAttachmentHidden,
            p.PidTagAttachmentFlags,
            p.PidTagExceptionStartTime,
            p.PidTagExceptionEndTime,
            p.PidTagExceptionReplaceTime,
            PidNameCalendarAttachment,
        }
    )

    def claims(self, table: str, row: PropertySet) -> bool:
        """Every recipient row; the attachment rows of files and of changed occurrences
        (an attached message or OLE object, which the model cannot hold, rides along)."""
        if table != "attachment" or _is_exception_row(row):
            return True
        return row.number(p.PidTagAttachMethod) not in (_ATTACH_EMBEDDED_MSG, _ATTACH_OLE)

    # -- writing -------------------------------------------------------------------------

    def to_mapi(self, item: Any) -> PropertySet:
        appointment = cast(Appointment, item)
        props = PropertySet()
        props[p.PidTagMessageClass] = "IPM.Appointment"
        clock = self._put_times(props, appointment)
        props.put(p.PidTagSubject, _nul(appointment.subject))
        props.put(p.PidLidLocation, _nul(appointment.location))
        _put_bodies(props, appointment.body, appointment.body_html)
        props[p.PidLidBusyStatus] = _BUSY[appointment.busy_status]
        props[p.PidLidAppointmentStateFlags] = self._state_flags(appointment)
        put_sensitivity(props, appointment.sensitivity)
        put_importance(props, appointment.importance)
        put_categories(props, tuple(_nul(c) or "" for c in appointment.categories))
        props[p.PidLidAppointmentSequence] = appointment.sequence
        props.put(p.PidTagCreationTime, _stamp(appointment.created))
        props.put(p.PidTagLastModificationTime, _stamp(appointment.last_modified))
        self._put_reminder(props, appointment, clock)
        self._put_parties(props, appointment)
        original = None
        if appointment.recurrence_id is not None:
            original = _to_utc(appointment.recurrence_id, clock.zone)
            props[p.PidLidExceptionReplaceTime] = original
        instance = original.astimezone(clock.zone).date() if original is not None else None
        props[p.PidLidGlobalObjectId] = global_object_id(appointment.uid, instance)
        props[p.PidLidCleanGlobalObjectId] = global_object_id(appointment.uid)
        props.attachments = [_attachment_row(a) for a in appointment.attachments]
        self._put_recurrence(props, appointment, clock)
        self._read(props, Extended(), model=appointment)  # keeps what did not come back
        return props

    @staticmethod
    def _state_flags(appointment: Appointment) -> int:
        flags = _ASF_MEETING if appointment.attendees else 0
        if appointment.status is AppointmentStatus.CANCELLED:
            flags |= _ASF_CANCELED
        if _received(appointment.extended):
            flags |= _ASF_RECEIVED
        return flags

    def _put_times(self, props: PropertySet, item: Appointment) -> _Clock:
        floating = isinstance(item.start, datetime) and not _is_aware(item.start)
        start_zone = _zone_of(item.start, item.timezone)
        end_name = item.end_timezone if item.end_timezone is not None else item.timezone
        end_zone = _zone_of(item.end, end_name) or start_zone
        zone = start_zone or UTC
        start, end = _to_utc(item.start, zone), _to_utc(item.end, end_zone or zone)
        for key, value in (
            (p.PidLidAppointmentStartWhole, start),
            (p.PidLidAppointmentEndWhole, end),
            (p.PidTagStartDate, start),
            (p.PidTagEndDate, end),
            (p.PidLidCommonStart, start),
            (p.PidLidCommonEnd, end),
            (p.PidLidClipStart, start),
            (p.PidLidClipEnd, end),
        ):
            props[key] = value
        props[p.PidLidAppointmentDuration] = _clamp32(round((end - start).total_seconds() / 60))
        props[p.PidLidAppointmentSubType] = not isinstance(item.start, datetime)
        if floating:
            props[PidNameCalendarFloating] = True
        year = _local(item.start, zone).year
        if start_zone is not None:
            props[p.PidLidAppointmentTimeZoneDefinitionStartDisplay] = _definition(
                start_zone, _key_name(start_zone, item.timezone), year
            ).to_bytes()
            last_zone = end_zone or start_zone
            props[p.PidLidAppointmentTimeZoneDefinitionEndDisplay] = _definition(
                last_zone, _key_name(last_zone, end_name), year
            ).to_bytes()
        return _Clock(zone, floating)

    @staticmethod
    def _put_reminder(props: PropertySet, item: Appointment, clock: _Clock) -> None:
        start = _to_utc(item.start, clock.zone)
        chosen = _outlook_reminder(item.reminders, start, absolute=False)
        props[p.PidLidReminderSet] = chosen is not None
        # without a reminder Outlook still writes its default of 15 minutes before
        minutes = _clamp32(chosen[0]) if chosen is not None else _DEFAULT_REMINDER
        props[p.PidLidReminderDelta] = minutes
        props[p.PidLidReminderTime] = start
        props[p.PidLidReminderSignalTime] = _shift(start, -timedelta(minutes=minutes))

    @staticmethod
    def _put_parties(props: PropertySet, item: Appointment) -> None:
        rows: list[PropertySet] = []
        if item.organizer is not None:
            rows.append(_recipient_row(item.organizer, organizer=True))
        rows += [_recipient_row(a, organizer=False) for a in item.attendees]
        # Outlook asks for responses by default; a meeting asks if any attendee is asked
        rsvp = any(a.rsvp for a in item.attendees) if item.attendees else True
        props[p.PidTagResponseRequested] = rsvp
        parties: list[Organizer | Attendee] = (
            [item.organizer] if item.organizer is not None else []
        ) + list(item.attendees)
        for row, party in zip(rows, parties, strict=True):
            _row_party(row, rsvp, party)
        props.recipients = rows

    def _put_recurrence(self, props: PropertySet, item: Appointment, clock: _Clock) -> None:
        rule = item.recurrence.rule if item.recurrence is not None else None
        start_local = _local(item.start, clock.zone)
        end_local = _local(item.end, clock.zone)
        pattern = _pattern(rule, start_local, clock.zone) if rule is not None else None
        originals: dict[date, Appointment] = {}
        for override in item.overrides:
            assert override.recurrence_id is not None  # the model checks it
            original = _local(override.recurrence_id, clock.zone)
            originals.setdefault(original.date(), override)
            props.attachments.append(self._exception_row(override, item, clock))
        if item.overrides:
            props[p.PidLidFExceptionalAttendees] = any(
                o.attendees or o.organizer is not None for o in item.overrides
            )
        props[p.PidLidRecurring] = pattern is not None
        if pattern is None:
            props[p.PidLidRecurrencePattern] = ""  # as Outlook writes it for a single item
            return
        exdates = item.recurrence.exdates if item.recurrence is not None else ()
        deleted = {_local(d, clock.zone).date() for d in exdates} | set(originals)
        infos = sorted(
            (self._exception_info(o, item, clock) for o in originals.values()),
            key=lambda info: (info.start, info.original_start),
        )
        pattern = attrs.evolve(
            pattern,
            deleted=tuple(sorted(_minutes(datetime.combine(d, time())) for d in deleted)),
            modified=tuple(_recur.minutes_of(_recur.date_of(i.start).date()) for i in infos),
        )
        offset = start_local.hour * 60 + start_local.minute
        duration = max(0, round((end_local - start_local).total_seconds() / 60))
        blob = AppointmentRecurrencePattern(
            pattern=pattern,
            start_time_offset=offset,
            end_time_offset=_clamp32(offset + duration),
            exceptions=tuple(infos),
        )
        props[p.PidLidAppointmentRecur] = blob.to_bytes()
        props[p.PidLidRecurrenceType] = _recur.recurrence_type(pattern.frequency)
        props[p.PidLidRecurrencePattern] = _describe(
            pattern, start_local, end_local if isinstance(item.start, datetime) else None
        )
        props[p.PidLidClipStart] = _to_utc(start_local.date(), clock.zone)
        props[p.PidLidClipEnd] = (
            _to_utc(_recur.date_of(pattern.end_date).date(), clock.zone)
            if pattern.has_end
            else _recur.date_of(_recur.NO_END_DATE).replace(tzinfo=UTC)
        )
        zone = _zone_of(item.start, item.timezone) or UTC
        key = _key_name(zone, item.timezone)
        definition = _definition(zone, key, start_local.year, recur=True)
        props[p.PidLidAppointmentTimeZoneDefinitionRecur] = definition.to_bytes()
        props[p.PidLidTimeZoneStruct] = TZStruct.of(definition.effective()).to_bytes()

    def _exception_info(
        self, override: Appointment, series: Appointment, clock: _Clock
    ) -> ExceptionInfo:
        assert override.recurrence_id is not None
        start = _local(override.start, clock.zone)
        end = max(_local(override.end, clock.zone), start)
        flags, fields = 0, cast(dict[str, Any], {})
        if override.subject != series.subject:
            flags |= _recur.ARO_SUBJECT
            fields |= {"subject": override.subject, "wide_subject": override.subject}
        if (override.location or "") != (series.location or ""):
            flags |= _recur.ARO_LOCATION
            fields |= {
                "location": override.location or "",
                "wide_location": override.location or "",
            }
        if override.busy_status is not series.busy_status:
            flags |= _recur.ARO_BUSYSTATUS
            fields["busy_status"] = _BUSY[override.busy_status]
        own = _outlook_reminder(
            override.reminders, _to_utc(override.start, clock.zone), absolute=False
        )
        theirs = _outlook_reminder(
            series.reminders, _to_utc(series.start, clock.zone), absolute=False
        )
        if (own is None) != (theirs is None):
            flags |= _recur.ARO_REMINDER
            fields["reminder_set"] = int(own is not None)
        if own is not None and (theirs is None or own[0] != theirs[0]):
            flags |= _recur.ARO_REMINDERDELTA
            fields["reminder_delta"] = _clamp32(own[0])
        if isinstance(override.start, datetime) != isinstance(series.start, datetime):
            flags |= _recur.ARO_SUBTYPE
            fields["sub_type"] = int(not isinstance(override.start, datetime))
        if override.attachments:
            flags |= _recur.ARO_ATTACHMENT
            fields["attachment"] = 1
        if override.body != series.body:
            flags |= _recur.ARO_EXCEPTIONAL_BODY
        return ExceptionInfo(
            start=_minutes(start),
            end=_minutes(end),
            original_start=_minutes(_local(override.recurrence_id, clock.zone)),
            flags=flags,
            **fields,
        )

    @staticmethod
    def _exception_row(override: Appointment, series: Appointment, clock: _Clock) -> PropertySet:
        assert override.recurrence_id is not None
        message = to_mapi(override)
        message[p.PidTagMessageClass] = EXCEPTION_CLASS
        message[PidNameCalendarException] = True
        message[p.PidLidFExceptionalBody] = override.body != series.body
        start, end = _local(override.start, clock.zone), _local(override.end, clock.zone)
        row = PropertySet(embedded=message)
        row[p.PidTagAttachMethod] = _ATTACH_EMBEDDED_MSG
        row[p.PidTagAttachmentFlags] = _AF_EXCEPTION
        row[p.PidTagAttachmentHidden] = True
        row[p.PidTagExceptionStartTime] = start.replace(tzinfo=UTC)
        row[p.PidTagExceptionEndTime] = max(end, start).replace(tzinfo=UTC)
        row[p.PidTagExceptionReplaceTime] = _to_utc(override.recurrence_id, clock.zone)
        return row

    # -- reading -------------------------------------------------------------------------

    def from_mapi(self, props: PropertySet, extended: Extended) -> Any:
        return self._read(props, extended)

    def _read(  # noqa: PLR0915
        self, props: PropertySet, extended: Extended, *, model: Appointment | None = None
    ) -> Appointment:
        """The appointment the properties give. With ``model`` (writing), it records in
        ``props`` the fields that do not come back as the model has them."""
        fields = _model_fields(model)
        kept = _Kept(props.text(PidNameCalendarFields), model=fields)
        message_class = (props.text(p.PidTagMessageClass) or "").upper()
        goid = props.binary(p.PidLidCleanGlobalObjectId) or props.binary(p.PidLidGlobalObjectId)
        derived_uid = uid_of_global_object_id(goid) if goid else None
        uid = kept.take("uid", _fallback_uid(props) if derived_uid is None else derived_uid, _TEXT)

        start_definition = _read_definition(
            props, p.PidLidAppointmentTimeZoneDefinitionStartDisplay
        )
        end_definition = _read_definition(props, p.PidLidAppointmentTimeZoneDefinitionEndDisplay)
        recur_definition = _read_definition(props, p.PidLidAppointmentTimeZoneDefinitionRecur)
        struct = _read_struct(props)
        description = props.text(p.PidLidTimeZoneDescription)
        derived_zone = (
            start_definition.key_name
            if start_definition is not None
            else description
            if struct
            else None
        )
        timezone = kept.take("timezone", derived_zone, _TEXT)
        derived_end_zone = end_definition.key_name if end_definition is not None else None
        if derived_end_zone == derived_zone:
            derived_end_zone = None
        end_timezone = kept.take("end_timezone", derived_end_zone, _TEXT)
        zone = (
            _resolve(timezone)
            or _rules_zone(start_definition)
            or _rules_zone(recur_definition)
            or (RulesZone(description or "", [struct.rule()]) if struct else None)
            or UTC
        )
        end_zone = zone
        if end_timezone is not None:
            end_zone = _resolve(end_timezone) or _rules_zone(end_definition) or zone
        floating = props.flag(PidNameCalendarFloating) is True
        all_day = props.flag(p.PidLidAppointmentSubType) is True
        start_utc = _first_time(
            props, p.PidLidAppointmentStartWhole, p.PidLidCommonStart, p.PidTagStartDate
        )
        end_utc = _first_time(
            props, p.PidLidAppointmentEndWhole, p.PidLidCommonEnd, p.PidTagEndDate
        )
        if start_utc is None:
            raise InvalidItemError(f"appointment {uid!r}: no start (PidLidAppointmentStartWhole)")
        end_utc = max(end_utc or start_utc, start_utc)
        start, end = _derived_span(
            start_utc, end_utc, zone, end_zone, all_day=all_day, floating=floating
        )
        start = kept.take("start", start, _WHEN)
        end = kept.take("end", end, _WHEN)
        clock = _Clock(zone, floating)

        flags = props.number(p.PidLidAppointmentStateFlags) or 0
        cancelled = bool(flags & _ASF_CANCELED) or message_class.startswith(
            "IPM.SCHEDULE.MEETING.CANCELED"
        )
        busy = props.number(p.PidLidBusyStatus)
        values: dict[str, Any] = {
            "subject": kept.take("subject", props.text(p.PidTagSubject) or "", _TEXT),
            "location": kept.take("location", props.text(p.PidLidLocation), _TEXT),
            "body": kept.take("body", props.text(p.PidTagBody), _TEXT),
            "body_html": kept.take("body_html", _html(props), _TEXT),
            "status": kept.take(
                "status",
                AppointmentStatus.CANCELLED if cancelled else AppointmentStatus.CONFIRMED,
                _enum(AppointmentStatus),
            ),
            "busy_status": kept.take(
                "busy_status",
                next((k for k, v in _BUSY.items() if v == busy), BusyStatus.BUSY),
                _enum(BusyStatus),
            ),
            "sensitivity": kept.take("sensitivity", get_sensitivity(props), _enum(Sensitivity)),
            "importance": kept.take("importance", get_importance(props), _enum(Importance)),
            "categories": kept.take("categories", props.strings(p.PidNameKeywords), _STRINGS),
            "url": kept.take("url", None, _TEXT),
            "sequence": kept.take(
                "sequence", max(0, props.number(p.PidLidAppointmentSequence) or 0), _INT
            ),
            "created": kept.take("created", props.time(p.PidTagCreationTime), _WHEN),
            "last_modified": kept.take(
                "last_modified", props.time(p.PidTagLastModificationTime), _WHEN
            ),
        }
        derived_reminders: tuple[Reminder, ...] = ()
        if props.flag(p.PidLidReminderSet):
            delta = props.number(p.PidLidReminderDelta)
            derived_reminders = (
                Reminder.minutes_before(_DEFAULT_REMINDER if delta is None else delta),
            )
        values["reminders"] = kept.take("reminders", derived_reminders, _REMINDERS)
        replaced = props.time(p.PidLidExceptionReplaceTime)
        derived_rid = _like(replaced, start, zone, floating) if replaced is not None else None
        values["recurrence_id"] = kept.take("recurrence_id", derived_rid, _WHEN)

        organizer, attendees = self._read_parties(props, message_class)
        recurrence, overrides = self._read_recurrence(
            props, kept, uid, start, end, clock, organizer, attendees, model
        )
        attachments = tuple(
            _row_attachment(row)
            for row in props.attachments
            if not _is_exception_row(row) and self.claims("attachment", row)
        )
        dump = kept.dump()
        if dump is not None:
            props[PidNameCalendarFields] = dump
        if model is not None:
            return model
        try:
            return Appointment(
                uid=uid,
                start=start,
                end=end,
                timezone=timezone,
                end_timezone=end_timezone,
                organizer=organizer,
                attendees=attendees,
                recurrence=recurrence,
                overrides=overrides,
                attachments=attachments,
                extended=extended,
                **values,
            )
        except InvalidItemError as exc:
            raise InvalidItemError(f"appointment {uid!r}: {exc}") from exc

    @staticmethod
    def _read_parties(
        props: PropertySet, message_class: str
    ) -> tuple[Organizer | None, tuple[Attendee, ...]]:
        rsvp = props.flag(p.PidTagResponseRequested) is True
        organizer: Organizer | None = None
        attendees: list[Attendee] = []
        for row in props.recipients:
            party = _row_party(row, rsvp, None)
            if isinstance(party, Organizer) and organizer is None:
                organizer = party
            elif isinstance(party, Attendee):
                attendees.append(party)
        response = next((v for k, v in _RESPONSES.items() if message_class.startswith(k)), None)
        if response is not None:  # a meeting response: its sender answers
            sender = props.text(p.PidTagSentRepresentingSmtpAddress) or props.text(
                p.PidTagSenderSmtpAddress
            )
            if sender:
                name = props.text(p.PidTagSentRepresentingName) or props.text(p.PidTagSenderName)
                found = [
                    i for i, a in enumerate(attendees) if a.email.casefold() == sender.casefold()
                ]
                if found:
                    attendees[found[0]] = attrs.evolve(attendees[found[0]], response=response)
                else:
                    attendees.append(Attendee(sender, name, response=response))
        return organizer, tuple(attendees)

    def _read_recurrence(
        self,
        props: PropertySet,
        kept: _Kept,
        uid: str,
        start: date | datetime,
        end: date | datetime,
        clock: _Clock,
        organizer: Organizer | None,
        attendees: tuple[Attendee, ...],
        model: Appointment | None,
    ) -> tuple[Recurrence | None, tuple[Appointment, ...]]:
        blob = props.binary(p.PidLidAppointmentRecur)
        recur = _parse_recur(blob) if blob is not None else None
        rows = [row for row in props.attachments if _is_exception_row(row)]
        originals: set[date] = set()
        replaced: list[datetime | None] = []
        for row in rows:
            moment = row.time(p.PidTagExceptionReplaceTime) or (
                row.embedded.time(p.PidLidExceptionReplaceTime)
                if row.embedded is not None
                else None
            )
            replaced.append(moment)
            if moment is not None:
                originals.add(moment.astimezone(clock.zone).date())
        infos = {
            _recur.date_of(info.original_start).date(): info
            for info in (recur.exceptions if recur is not None else ())
        }
        derived_rule = None
        derived_exdates: tuple[date | datetime, ...] = ()
        if recur is not None:
            until = _until_formatter(start, clock.zone, clock.floating)
            derived_rule = _recur.rule_for_pattern(recur.pattern, until)
            local_start = _local(start, clock.zone)
            deleted = [_recur.date_of(m).date() for m in recur.pattern.deleted]
            derived_exdates = tuple(
                _like(
                    _to_utc(datetime.combine(d, local_start.time()), clock.zone),
                    start,
                    clock.zone,
                    clock.floating,
                )
                if isinstance(start, datetime)
                else d
                for d in deleted
                if d not in originals and d not in infos
            )
        recurring = kept.take("recurring", recur is not None, _BOOL)
        rule = kept.take("rule", derived_rule, _TEXT)
        rdates = kept.take("rdates", (), _WHENS)
        exdates = kept.take("exdates", derived_exdates, _WHENS)
        recurrence = Recurrence(rule=rule, rdates=rdates, exdates=exdates) if recurring else None
        if model is not None:
            return recurrence, ()
        series = _Series(uid, start, end, clock, props, organizer, attendees)
        overrides = []
        for row, moment in zip(rows, replaced, strict=True):
            if row.embedded is None:
                continue
            info = (
                infos.pop(moment.astimezone(clock.zone).date(), None)
                if moment is not None
                else None
            )
            overrides.append(series.override(row.embedded, info, moment))
        for info in infos.values():  # changed occurrences whose message is missing
            overrides.append(series.override(None, info, None))
        return recurrence, tuple(overrides)


def _rules_zone(definition: TZDefinition | None) -> tzinfo | None:
    if definition is None:
        return None
    known = _resolve(definition.key_name)
    if known is not None:
        return known
    if definition.key_name in _UTC_NAMES and all(
        r.bias == 0 and not r.has_dst for r in definition.rules
    ):
        return UTC
    return RulesZone(definition.key_name, definition.rules)


def _first_time(props: PropertySet, *keys: p.PropertyKey) -> datetime | None:
    return next((value for key in keys if (value := props.time(key)) is not None), None)


def _derived_span(
    start: datetime, end: datetime, zone: tzinfo, end_zone: tzinfo, *, all_day: bool, floating: bool
) -> tuple[date | datetime, date | datetime]:
    if all_day:
        first = start.astimezone(zone)
        last = end.astimezone(end_zone)
        last_day = last.date() + (timedelta(days=1) if last.time() != time() else timedelta(0))
        return first.date(), max(last_day, first.date())
    if floating:
        return start.astimezone(zone).replace(tzinfo=None), end.astimezone(end_zone).replace(
            tzinfo=None
        )
    return start.astimezone(zone), end.astimezone(end_zone)


def _stamp(value: datetime | None) -> datetime | None:
    """A creation or change time as a SYSTIME (a naive one taken as UTC; the exact value
    is kept if it does not come back)."""
    if value is None:
        return None
    return _to_utc(value, UTC)


def _clamp32(value: int) -> int:
    return min(max(value, 0), 0x7FFFFFFF)


def _received(extended: Extended) -> bool:
    """Whether the item is a received meeting: Outlook's ``PidLidResponseStatus`` (carried
    in ``extended``, since the model has no field for it) is an attendee's answer."""
    for line in extended.properties:
        if _xprops.is_mapi_property(line):
            try:
                key, value, row = _xprops.decode(line)
            except InvalidItemError:
                continue
            if key == p.PidLidResponseStatus and row is None:
                return value not in (0, 1)
    return False


def _model_fields(model: Appointment | Task | None) -> dict[str, Any] | None:
    if model is None:
        return None
    fields = {f.name: getattr(model, f.name) for f in attrs.fields(type(model))}
    recurrence = model.recurrence
    fields |= {
        "recurring": recurrence is not None,
        "rule": recurrence.rule if recurrence is not None else None,
        "rdates": recurrence.rdates if recurrence is not None else (),
        "exdates": recurrence.exdates if recurrence is not None else (),
    }
    return fields


@attrs.frozen
class _Series:
    """What an exception of a series needs from it."""

    uid: str
    start: date | datetime
    end: date | datetime
    clock: _Clock
    props: PropertySet
    organizer: Organizer | None
    attendees: tuple[Attendee, ...]

    def override(
        self, message: PropertySet | None, info: ExceptionInfo | None, replaced: datetime | None
    ) -> Appointment:
        """The override an exception attachment's message (and its ExceptionInfo) gives."""
        whole = message is not None and message.flag(PidNameCalendarException) is True
        if message is not None and whole:
            message = message.copy()
            # read as the appointment it is (the frame would keep another class as data)
            message[p.PidTagMessageClass] = _APPOINTMENT_CLASSES[0]
            occurrence = from_mapi(message)
        else:
            occurrence = from_mapi(self._completed(message, info, replaced))
        if not isinstance(occurrence, Appointment):
            raise InvalidItemError(f"appointment {self.uid!r}: an exception is no appointment")
        occurrence = attrs.evolve(occurrence, uid=self.uid)
        if whole:
            return occurrence
        rid = occurrence.recurrence_id
        if replaced is None and info is not None:
            replaced = _blob_time(info.original_start, self.clock.zone)
        if replaced is not None:
            rid = _like(replaced, self.start, self.clock.zone, self.clock.floating)
        if rid is None:
            raise InvalidItemError(f"appointment {self.uid!r}: an exception names no occurrence")
        changes: dict[str, Any] = {"recurrence_id": rid}
        if message is None or not message.recipients:
            changes |= {"organizer": self.organizer, "attendees": self.attendees}
        return attrs.evolve(occurrence, **changes)

    def _completed(  # noqa: PLR0912
        self, message: PropertySet | None, info: ExceptionInfo | None, replaced: datetime | None
    ) -> PropertySet:
        """An exception message made by Outlook, with what it leaves to the series."""
        props = message.copy() if message is not None else PropertySet()
        props[p.PidTagMessageClass] = _APPOINTMENT_CLASSES[0]
        for key in _INHERITED:
            if key not in props and key in self.props:
                props[key] = self.props[key]
        zone = self.clock.zone
        if info is not None:
            if p.PidLidAppointmentStartWhole not in props:
                props[p.PidLidAppointmentStartWhole] = _blob_time(info.start, zone)
                props[p.PidLidAppointmentEndWhole] = _blob_time(max(info.end, info.start), zone)
            changed: list[tuple[p.PropertyKey, Value | None]] = [
                (p.PidTagSubject, info.shown_subject),
                (p.PidLidLocation, info.shown_location),
                (p.PidLidBusyStatus, info.busy_status),
                (p.PidLidReminderDelta, info.reminder_delta),
            ]
            for key, value in changed:
                if value is not None and key not in (message or {}):
                    props[key] = value
            if info.reminder_set is not None and p.PidLidReminderSet not in (message or {}):
                props[p.PidLidReminderSet] = bool(info.reminder_set)
            if info.sub_type is not None and p.PidLidAppointmentSubType not in (message or {}):
                props[p.PidLidAppointmentSubType] = bool(info.sub_type)
        if p.PidLidAppointmentStartWhole not in props:
            for key in (p.PidLidAppointmentStartWhole, p.PidLidAppointmentEndWhole):
                if key in self.props:
                    props[key] = self.props[key]
        if replaced is not None and p.PidLidExceptionReplaceTime not in props:
            props[p.PidLidExceptionReplaceTime] = replaced
        if PidNameCalendarFloating in self.props:
            props[PidNameCalendarFloating] = True
        return props


# --------------------------------------------------------------------------- tasks


class TaskMapper(Mapper):
    """Tasks (``IPM.Task``)."""

    item_type: ClassVar[type[Any]] = Task
    message_classes: ClassVar[tuple[str, ...]] = ("IPM.Task",)
    owned: ClassVar[frozenset[p.PropertyKey]] = frozenset(
        {
            *_COMMON,
            *_REMINDER_KEYS,
            p.PidLidTaskStatus,
            p.PidLidPercentComplete,
            p.PidLidTaskStartDate,
            p.PidLidTaskDueDate,
            p.PidLidCommonStart,
            p.PidLidCommonEnd,
            p.PidLidTaskDateCompleted,
            p.PidLidTaskComplete,
            p.PidLidTaskRecurrence,
            p.PidLidTaskFRecurring,
            p.PidLidTaskGlobalId,
        }
    )

    def to_mapi(self, item: Any) -> PropertySet:
        task = cast(Task, item)
        props = PropertySet()
        props[p.PidTagMessageClass] = "IPM.Task"
        props.put(p.PidTagSubject, _nul(task.subject))
        _put_bodies(props, task.body, None)
        props[p.PidLidTaskStatus] = _TASK_STATUS[task.status]
        props[p.PidLidPercentComplete] = task.percent_complete / 100
        props[p.PidLidTaskComplete] = task.status is TaskStatus.COMPLETED
        zone = _zone_of(task.start if task.start is not None else task.due, task.timezone) or UTC
        for value, date_key, common_key in (
            (task.start, p.PidLidTaskStartDate, p.PidLidCommonStart),
            (task.due, p.PidLidTaskDueDate, p.PidLidCommonEnd),
        ):
            if value is not None:
                local = _local(value, zone)
                props[date_key] = _clamp_time(midnight_utc(local.date()))
                props[common_key] = _to_utc(local.date(), zone)
        if task.completed is not None:
            completed = _local(task.completed, zone).date()
            props[p.PidLidTaskDateCompleted] = _clamp_time(midnight_utc(completed))
        put_importance(props, task.importance)
        put_sensitivity(props, task.sensitivity)
        put_categories(props, tuple(_nul(c) or "" for c in task.categories))
        props.put(p.PidTagCreationTime, _stamp(task.created))
        props.put(p.PidTagLastModificationTime, _stamp(task.last_modified))
        self._put_reminder(props, task, zone)
        with contextlib.suppress(ValueError):  # not a UUID: the UID is kept among the fields
            props[p.PidLidTaskGlobalId] = uuid.UUID(task.uid).bytes
        anchor = task.start if task.start is not None else task.due
        rule = task.recurrence.rule if task.recurrence is not None else None
        if rule is not None and anchor is not None:
            pattern = _pattern(rule, _local(anchor, zone), zone)
            if pattern is not None:
                exdates = task.recurrence.exdates if task.recurrence is not None else ()
                deleted = sorted(
                    {_minutes(datetime.combine(_local(d, zone).date(), time())) for d in exdates}
                )
                props[p.PidLidTaskRecurrence] = attrs.evolve(
                    pattern, deleted=tuple(deleted)
                ).to_bytes()
        props[p.PidLidTaskFRecurring] = p.PidLidTaskRecurrence in props
        self._read(props, Extended(), model=task)
        return props

    @staticmethod
    def _put_reminder(props: PropertySet, task: Task, zone: tzinfo) -> None:
        start = _to_utc(task.start, zone) if task.start is not None else None
        due = _to_utc(task.due, zone) if task.due is not None else None
        fires: datetime | None = None
        for reminder in task.reminders:
            if reminder.action is not ReminderAction.DISPLAY:
                continue
            if isinstance(reminder.trigger, datetime):
                fires = _clamp_time(reminder.trigger.astimezone(UTC))
            else:
                anchor = due if reminder.related_to_end else start
                fires = _shift(anchor, reminder.trigger) if anchor is not None else None
            if fires is not None:
                break
        props[p.PidLidReminderSet] = fires is not None
        if fires is not None:
            props[p.PidLidReminderTime] = fires
            props[p.PidLidReminderSignalTime] = fires

    def from_mapi(self, props: PropertySet, extended: Extended) -> Any:
        return self._read(props, extended)

    def _read(self, props: PropertySet, extended: Extended, *, model: Task | None = None) -> Task:
        kept = _Kept(props.text(PidNameCalendarFields), model=_model_fields(model))
        global_id = props.binary(p.PidLidTaskGlobalId)
        derived_uid = (
            str(uuid.UUID(bytes=global_id)) if global_id and len(global_id) == 16 else None
        )
        uid = kept.take("uid", derived_uid or _fallback_uid(props), _TEXT)
        timezone = kept.take("timezone", None, _TEXT)
        zone = _resolve(timezone) or UTC
        start_day, due_day = props.time(p.PidLidTaskStartDate), props.time(p.PidLidTaskDueDate)
        start = kept.take("start", start_day.date() if start_day else None, _WHEN)
        due = kept.take("due", due_day.date() if due_day else None, _WHEN)
        done = props.time(p.PidLidTaskDateCompleted)
        status_number = props.number(p.PidLidTaskStatus)
        status = next(
            (k for k, v in _TASK_STATUS.items() if v == status_number), TaskStatus.NOT_STARTED
        )
        if props.flag(p.PidLidTaskComplete):
            status = TaskStatus.COMPLETED
        percent = props.get(p.PidLidPercentComplete)
        derived_percent = (
            min(max(round(percent * 100), 0), 100) if isinstance(percent, float | int) else 0
        )
        reminders: tuple[Reminder, ...] = ()
        fires = props.time(p.PidLidReminderTime) or props.time(p.PidLidReminderSignalTime)
        if props.flag(p.PidLidReminderSet) and fires is not None:
            reminders = (Reminder(trigger=fires),)
        recurrence = self._read_recurrence(props, kept, start if start is not None else due, zone)
        values: dict[str, Any] = {
            "subject": kept.take("subject", props.text(p.PidTagSubject) or "", _TEXT),
            "body": kept.take("body", props.text(p.PidTagBody), _TEXT),
            "completed": kept.take("completed", done, _WHEN),
            "status": kept.take("status", status, _enum(TaskStatus)),
            "percent_complete": kept.take("percent_complete", derived_percent, _INT),
            "priority": kept.take("priority", _PRIORITY[get_importance(props)], _INT),
            "sensitivity": kept.take("sensitivity", get_sensitivity(props), _enum(Sensitivity)),
            "reminders": kept.take("reminders", reminders, _REMINDERS),
            "categories": kept.take("categories", props.strings(p.PidNameKeywords), _STRINGS),
            "created": kept.take("created", props.time(p.PidTagCreationTime), _WHEN),
            "last_modified": kept.take(
                "last_modified", props.time(p.PidTagLastModificationTime), _WHEN
            ),
        }
        dump = kept.dump()
        if dump is not None:
            props[PidNameCalendarFields] = dump
        if model is not None:
            return model
        try:
            return Task(
                uid=uid,
                start=start,
                due=due,
                timezone=timezone,
                recurrence=recurrence,
                extended=extended,
                **values,
            )
        except InvalidItemError as exc:
            raise InvalidItemError(f"task {uid!r}: {exc}") from exc

    @staticmethod
    def _read_recurrence(
        props: PropertySet, kept: _Kept, anchor: date | datetime | None, zone: tzinfo
    ) -> Recurrence | None:
        blob = props.binary(p.PidLidTaskRecurrence)
        pattern: RecurrencePattern | None = None
        if blob is not None:
            try:
                pattern = RecurrencePattern.parse(blob)
            except ParseError as exc:
                raise InvalidItemError(str(exc)) from exc
        derived_rule: str | None = None
        derived_exdates: tuple[date, ...] = ()
        if pattern is not None:
            kind: date | datetime = anchor if anchor is not None else date(2000, 1, 1)
            derived_rule = _recur.rule_for_pattern(pattern, _until_formatter(kind, zone, False))
            derived_exdates = tuple(_recur.date_of(m).date() for m in pattern.deleted)
        recurring = kept.take("recurring", pattern is not None, _BOOL)
        rule = kept.take("rule", derived_rule, _TEXT)
        rdates = kept.take("rdates", (), _WHENS)
        exdates = kept.take("exdates", derived_exdates, _WHENS)
        return Recurrence(rule=rule, rdates=rdates, exdates=exdates) if recurring else None


register(AppointmentMapper())
register(TaskMapper())
