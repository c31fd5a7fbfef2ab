"""VEVENT, VTODO and VALARM ⇄ Appointment, Task and Reminder, remembering every source line.

Decoding sorts each property of a component into a *group* (the model fields it fills:
``start`` is ``DTSTART`` → ``start`` and ``timezone``) or into ``extended``, and keeps a
:class:`Source`: the component as written, which lines fed which group, and the model as
decoded. Encoding with that source compares, group by group, the model it is given with the
decoded one; where they agree it writes the original lines, where they differ it writes new
lines in the place of the old ones (reusing their parameters), so an edit changes only the
lines of the fields that changed. Lists (attendees, categories, exception dates, alarms)
are compared element by element, and an unchanged element keeps its line.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import attrs

from openprotocols.errors import InvalidItemError
from openprotocols.formats._contentline import (
    Params,
    Warning,
    by_params,
    escape_text,
    split_text,
    unescape_text,
)
from openprotocols.formats._ical_values import (
    format_date,
    format_datetime,
    format_duration,
    format_param,
    is_uri,
    parse_date,
    parse_datetime,
    parse_duration,
    parse_param,
)
from openprotocols.formats._timezones import ZoneResolver, tzid_for, zone_key
from openprotocols.model._base import Extended, RawComponent, RawProperty
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

__all__ = [
    "DecodeContext",
    "EncodeContext",
    "Source",
    "align",
    "decode_alarm",
    "decode_event",
    "decode_todo",
    "encode_event",
    "encode_todo",
    "same",
]

TASK_STATUS_EXTRA = "X-OPENPROTOCOLS-TASK-STATUS"
"""Companion of ``STATUS`` for Outlook's task states iCalendar lacks (waiting, deferred)."""


# --------------------------------------------------------------------------- contexts


@attrs.frozen(eq=False)
class Source:
    """A component as parsed: the verbatim lines, which lines fed which group, and the
    model as decoded (for masters: without overrides)."""

    component: RawComponent
    groups: Mapping[str, tuple[int, ...]]
    elements: Mapping[int, tuple[Any, ...]]
    model: Any
    alarms: Mapping[int, Source] = attrs.field(factory=dict)


class DecodeContext:
    """What decoding one stream shares: its zones, its warnings, the line numbers."""

    def __init__(
        self,
        resolver: ZoneResolver,
        warnings: list[Warning],
        numbers: Mapping[int, tuple[int, tuple[int, ...]]],
    ) -> None:
        self.resolver = resolver
        self.warnings = warnings
        self.numbers = numbers
        self.unresolved: set[str] = set()

    def line(self, component: RawComponent, index: int | None = None) -> int | None:
        """The line number of a component (``index=None``) or of one of its properties."""
        begin, lines = self.numbers.get(id(component), (None, ()))
        if index is None:
            return begin
        return lines[index] if index < len(lines) else begin

    def warn(self, component: RawComponent, index: int | None, message: str) -> None:
        """Record a warning about a component or one of its properties."""
        self.warnings.append(Warning(self.line(component, index), message))


class EncodeContext:
    """What encoding one stream collects: the TZIDs that new lines use, and the time."""

    def __init__(self, now: datetime | None = None) -> None:
        self.tzids: dict[str, tzinfo | None] = {}
        self.now = now or datetime.now(UTC)


# --------------------------------------------------------------------------- comparison


def same(a: object, b: object) -> bool:
    """Equality that also tells time zones apart (``==`` compares aware datetimes as
    instants, so 10:00 Berlin equals 09:00 UTC; a changed zone must be written)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, datetime):
        assert isinstance(b, datetime)
        return (
            a == b and zone_key(a.tzinfo) == zone_key(b.tzinfo) and a.utcoffset() == b.utcoffset()
        )
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if attrs.has(type(a)):
        return all(
            same(getattr(a, f.name), getattr(b, f.name))
            for f in attrs.fields(type(a))  # type: ignore[arg-type]
        )
    return a == b


# --------------------------------------------------------------------------- reading values


class _Keep(Exception):
    """A property that cannot be mapped: keep it verbatim, with this message as warning."""


def _param(prop: RawProperty, name: str) -> str | None:
    """``parse_param(prop.param(name))``, or ``None`` (a loop: this runs on every date)."""
    if prop.params:
        wanted = name.upper()
        for key, value in prop.params:
            if key.upper() == wanted:
                return parse_param(value)
    return None


class _Reader:
    """Sorts the properties of one component into groups and extended."""

    def __init__(self, component: RawComponent, ctx: DecodeContext) -> None:
        self.component = component
        self.ctx = ctx
        self.groups: dict[str, list[int]] = {}
        self.elements: dict[int, tuple[Any, ...]] = {}
        self.kept: set[int] = set()

    def take(self, group: str, index: int, elements: tuple[Any, ...] | None = None) -> None:
        self.groups.setdefault(group, []).append(index)
        if elements is not None:
            self.elements[index] = elements

    def has(self, group: str) -> bool:
        return group in self.groups

    def release(self, group: str, message: str) -> None:
        """Move a group's lines to extended (a value that contradicts another)."""
        for index in self.groups.pop(group, []):
            self.kept.add(index)
            self.elements.pop(index, None)
            self.ctx.warn(self.component, index, message)

    def keep(self, index: int, message: str | None = None) -> None:
        self.kept.add(index)
        if message:
            self.ctx.warn(self.component, index, message)

    def extended_properties(self) -> tuple[RawProperty, ...]:
        props = self.component.properties
        return tuple(props[i] for i in sorted(self.kept))

    def source(self, model: Any, alarms: Mapping[int, Source] | None = None) -> Source:
        return Source(
            component=self.component,
            groups={k: tuple(v) for k, v in self.groups.items()},
            elements=self.elements,
            model=model,
            alarms=alarms or {},
        )

    def when(self, prop: RawProperty) -> date | datetime:
        """A DATE or DATE-TIME value, in the zone its TZID names."""
        values = self.whens(prop)
        if len(values) != 1:
            raise _Keep(f"{prop.name}: one value expected, got {len(values)}")
        return values[0]

    def whens(self, prop: RawProperty) -> tuple[date | datetime, ...]:
        """The values of a DATE / DATE-TIME list (EXDATE, RDATE)."""
        kind = (_param(prop, "VALUE") or "").upper()
        texts = prop.value.split(",")
        try:
            if kind == "DATE" or (not kind and all(len(t.strip()) == 8 for t in texts)):
                return tuple(parse_date(t) for t in texts)
            if kind not in ("", "DATE-TIME"):
                raise _Keep(f"{prop.name}: VALUE={kind} is not mapped; kept verbatim")
            zone = self.zone(prop)
            return tuple(parse_datetime(t, zone) for t in texts)
        except ValueError as exc:
            raise _Keep(f"{prop.name}: {exc}; kept verbatim") from None

    def zone(self, prop: RawProperty) -> tzinfo | None:
        tzid = _param(prop, "TZID")
        if tzid is None:
            return None
        zone = self.ctx.resolver.resolve(tzid)
        if zone is None and tzid not in self.ctx.unresolved:
            self.ctx.unresolved.add(tzid)
            reason = self.ctx.resolver.errors.get(tzid.strip().strip('"'))
            why = f"its VTIMEZONE is unusable ({reason})" if reason else "no VTIMEZONE defines it"
            self.ctx.warn(
                self.component,
                self.component.properties.index(prop),
                f"TZID {tzid!r} is no known zone and {why}; its times read as floating",
            )
        return zone

    def tzid(self, prop: RawProperty) -> str | None:
        return _param(prop, "TZID")


def _int(prop: RawProperty, low: int, high: int | None) -> int:
    try:
        value = int(prop.value.strip())
    except ValueError:
        raise _Keep(f"{prop.name}: {prop.value!r} is not an integer; kept verbatim") from None
    if value < low or (high is not None and value > high):
        raise _Keep(f"{prop.name}: {value} is out of range; kept verbatim")
    return value


def _stamp(reader: _Reader, prop: RawProperty) -> datetime:
    value = reader.when(prop)
    if not isinstance(value, datetime):
        raise _Keep(f"{prop.name}: a date where a date-time belongs; kept verbatim")
    return value


_ROLES = {
    "CHAIR": AttendeeRole.CHAIR,
    "REQ-PARTICIPANT": AttendeeRole.REQUIRED,
    "OPT-PARTICIPANT": AttendeeRole.OPTIONAL,
    "NON-PARTICIPANT": AttendeeRole.NON_PARTICIPANT,
}
_ROLE_NAMES = {v: k for k, v in _ROLES.items()}
_PARTSTATS = {s.value.upper(): s for s in ResponseStatus}
_CUTYPES = {t.value.upper(): t for t in AttendeeType}
_BOOLS = {"TRUE": True, "FALSE": False}


def _address(value: str) -> str:
    return value[7:] if value[:7].lower() == "mailto:" else value


def _address_value(email: str) -> str:
    return email if is_uri(email) else f"mailto:{email}"


def _read_attendee(prop: RawProperty) -> Attendee:
    name, role, response, rsvp, kind, params = _attendee_params(prop.params)
    return Attendee(
        email=_address(prop.value),
        name=name,
        role=role,
        response=response,
        rsvp=rsvp,
        type=kind,
        params=params,
    )


@by_params
def _attendee_params(
    params: Params,
) -> tuple[str | None, AttendeeRole, ResponseStatus, bool, AttendeeType, Params]:
    name: str | None = None
    role, response = AttendeeRole.REQUIRED, ResponseStatus.NEEDS_ACTION
    rsvp, kind = False, AttendeeType.INDIVIDUAL
    rest: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, raw in params:
        upper = key.upper()
        if upper in ("CN", "ROLE", "PARTSTAT", "RSVP", "CUTYPE") and upper not in seen:
            seen.add(upper)
            value = parse_param(raw)
            if upper == "CN":
                name = value
                continue
            if upper == "ROLE" and value.upper() in _ROLES:
                role = _ROLES[value.upper()]
                continue
            if upper == "PARTSTAT" and value.upper() in _PARTSTATS:
                response = _PARTSTATS[value.upper()]
                continue
            if upper == "RSVP" and value.upper() in _BOOLS:
                rsvp = _BOOLS[value.upper()]
                continue
            if upper == "CUTYPE" and value.upper() in _CUTYPES:
                kind = _CUTYPES[value.upper()]
                continue
        rest.append((key, raw))
    return name, role, response, rsvp, kind, tuple(rest)


def _read_organizer(prop: RawProperty) -> Organizer:
    name, params = _organizer_params(prop.params)
    return Organizer(email=_address(prop.value), name=name, params=params)


@by_params
def _organizer_params(params: Params) -> tuple[str | None, Params]:
    name: str | None = None
    rest: list[tuple[str, str]] = []
    for key, raw in params:
        if key.upper() == "CN" and name is None:
            name = parse_param(raw)
        else:
            rest.append((key, raw))
    return name, tuple(rest)


def _read_attachment(prop: RawProperty) -> Attachment:  # noqa: PLR0912
    fields: dict[str, Any] = {}
    params: list[tuple[str, str]] = []
    encoding = kind = None
    x_filename = None
    for key, raw in prop.params:
        upper, value = key.upper(), parse_param(raw)
        if upper == "FMTTYPE" and "content_type" not in fields:
            fields["content_type"] = value
        elif upper == "FILENAME" and "filename" not in fields:
            fields["filename"] = value
        elif upper == "SIZE" and "size" not in fields and value.isdigit():
            fields["size"] = int(value)
        elif upper == "ENCODING" and encoding is None and value.upper() == "BASE64":
            encoding = value
        elif upper == "VALUE" and kind is None and value.upper() in ("BINARY", "URI"):
            kind = value.upper()
        else:
            if upper == "X-FILENAME" and x_filename is None:
                x_filename = value
            params.append((key, raw))
    if (encoding is None) != (kind in (None, "URI")):
        raise _Keep("ATTACH: ENCODING=BASE64 and VALUE=BINARY go together; kept verbatim")
    if kind == "URI" and encoding is None:
        params.insert(0, ("VALUE", "URI"))  # unusual but legal: keep it where it can be seen
        kind = None
    if encoding is not None:
        try:
            fields["data"] = base64.b64decode(prop.value, validate=True)
        except (binascii.Error, ValueError):
            raise _Keep("ATTACH: the inline data is not base64; kept verbatim") from None
    else:
        fields["url"] = prop.value
    if "filename" not in fields and x_filename is not None:
        fields["filename"] = x_filename
    return Attachment(params=params, **fields)


_EVENT_STATUS = {s.value.upper(): s for s in AppointmentStatus}
_TASK_STATUS = {
    "NEEDS-ACTION": TaskStatus.NOT_STARTED,
    "IN-PROCESS": TaskStatus.IN_PROGRESS,
    "COMPLETED": TaskStatus.COMPLETED,
    "CANCELLED": TaskStatus.CANCELLED,
}
_TASK_STATUS_NAMES = {v: k for k, v in _TASK_STATUS.items()}
_TASK_EXTRA = {"WAITING": TaskStatus.WAITING, "DEFERRED": TaskStatus.DEFERRED}
_CLASSES = {
    "PUBLIC": Sensitivity.NORMAL,
    "PRIVATE": Sensitivity.PRIVATE,
    "CONFIDENTIAL": Sensitivity.CONFIDENTIAL,
    "X-PERSONAL": Sensitivity.PERSONAL,
}
_CLASS_NAMES = {v: k for k, v in _CLASSES.items()}
_CDO = {
    "FREE": BusyStatus.FREE,
    "TENTATIVE": BusyStatus.TENTATIVE,
    "BUSY": BusyStatus.BUSY,
    "OOF": BusyStatus.OUT_OF_OFFICE,
    "WORKINGELSEWHERE": BusyStatus.WORKING_ELSEWHERE,
}
_CDO_NAMES = {v: k for k, v in _CDO.items()}
_BUSY = "X-MICROSOFT-CDO-BUSYSTATUS"
_INTENDED = "X-MICROSOFT-CDO-INTENDEDSTATUS"
_ACTIONS = {a.value.upper(): a for a in ReminderAction}


# --------------------------------------------------------------------------- decoding


_Handler = Callable[[_Reader, int, RawProperty, dict[str, Any]], None]


def _single(group: str, read: Callable[[_Reader, RawProperty, dict[str, Any]], None]) -> _Handler:
    """A handler for a property that may occur once: later ones go to extended."""

    def handle(reader: _Reader, index: int, prop: RawProperty, fields: dict[str, Any]) -> None:
        if group in reader.groups:  # reader.has(group), inline: this runs on most lines
            reader.keep(index, f"a second {prop.name}; kept verbatim")
            return
        read(reader, prop, fields)
        reader.groups[group] = [index]  # reader.take(group, index) of a new group

    return handle


def _text(field: str) -> Callable[[_Reader, RawProperty, dict[str, Any]], None]:
    def read(_reader: _Reader, prop: RawProperty, fields: dict[str, Any]) -> None:
        fields[field] = unescape_text(prop.value)

    return read


def _set(field: str, value: Callable[[_Reader, RawProperty], Any]) -> Any:
    def read(reader: _Reader, prop: RawProperty, fields: dict[str, Any]) -> None:
        fields[field] = value(reader, prop)

    return read


def _read_start(reader: _Reader, prop: RawProperty, fields: dict[str, Any]) -> None:
    fields["start"] = reader.when(prop)
    fields["_start_tzid"] = reader.tzid(prop)


def _read_end(reader: _Reader, prop: RawProperty, fields: dict[str, Any]) -> None:
    if prop.name.upper() == "DURATION":
        try:
            fields["_duration"] = parse_duration(prop.value)
        except ValueError as exc:
            raise _Keep(f"DURATION: {exc}; kept verbatim") from None
    else:
        fields["_end"] = reader.when(prop)
        fields["_end_tzid"] = reader.tzid(prop)


def _read_html(reader: _Reader, index: int, prop: RawProperty, fields: dict[str, Any]) -> None:
    if (_param(prop, "FMTTYPE") or "").lower() != "text/html" or reader.has("html"):
        reader.keep(index)
        return
    fields["body_html"] = unescape_text(prop.value)
    reader.take("html", index)


def _enum_reader(field: str, table: Mapping[str, Any]) -> Any:
    def read(_reader: _Reader, prop: RawProperty, fields: dict[str, Any]) -> None:
        value = table.get(prop.value.strip().upper())
        if value is None:
            raise _Keep(f"{prop.name}: {prop.value!r} is not mapped; kept verbatim")
        fields[field] = value

    return read


def _read_class(reader: _Reader, prop: RawProperty, fields: dict[str, Any]) -> None:
    value = _CLASSES.get(prop.value.strip().upper())
    if value is None:
        reader.ctx.warn(
            reader.component,
            reader.component.properties.index(prop),
            f"CLASS:{prop.value} is unknown; read as private (RFC 5545 section 3.8.1.3)",
        )
        value = Sensitivity.PRIVATE
    fields["sensitivity"] = value


def _read_busy(reader: _Reader, index: int, prop: RawProperty, fields: dict[str, Any]) -> None:
    name, value = prop.name.upper(), prop.value.strip().upper()
    slot = {"TRANSP": "_transp", _BUSY: "_cdo", _INTENDED: "_intended"}[name]
    valid = value in ("OPAQUE", "TRANSPARENT") if name == "TRANSP" else value in _CDO
    if slot in fields or not valid:
        reader.keep(index, None if valid else f"{prop.name}:{prop.value} is not mapped; kept")
        return
    fields[slot] = value
    reader.take("busy", index)


def _read_task_status(reader: _Reader, index: int, prop: RawProperty, f: dict[str, Any]) -> None:
    name, value = prop.name.upper(), prop.value.strip().upper()
    if name == "STATUS":
        if "_status" in f or value not in _TASK_STATUS:
            reader.keep(index, f"STATUS:{prop.value} is not mapped here; kept verbatim")
            return
        f["_status"] = _TASK_STATUS[value]
    else:
        if "_status_extra" in f or value not in _TASK_EXTRA:
            reader.keep(index)
            return
        f["_status_extra"] = _TASK_EXTRA[value]
    reader.take("status", index)


def _list(group: str, read: Callable[[_Reader, RawProperty], tuple[Any, ...]]) -> _Handler:
    def handle(reader: _Reader, index: int, prop: RawProperty, fields: dict[str, Any]) -> None:
        values = read(reader, prop)
        fields.setdefault(group, []).extend(values)
        reader.take(group, index, values)

    return handle


def _read_rdate(reader: _Reader, prop: RawProperty) -> tuple[Any, ...]:
    if (_param(prop, "VALUE") or "").upper() == "PERIOD":
        raise _Keep("")  # RDATE;VALUE=PERIOD lives in extended by design
    return reader.whens(prop)


def _read_rrule(reader: _Reader, index: int, prop: RawProperty, fields: dict[str, Any]) -> None:
    if reader.has("rrule"):
        reader.keep(index, "a second RRULE; kept verbatim in extended")
        return
    fields["_rule"] = prop.value
    reader.take("rrule", index)


def _wrap(read: Callable[[RawProperty], Any]) -> Callable[[_Reader, RawProperty], tuple[Any]]:
    def handle(_reader: _Reader, prop: RawProperty) -> tuple[Any]:
        try:
            return (read(prop),)
        except _Keep:
            raise
        except (ValueError, InvalidItemError) as exc:
            raise _Keep(f"{prop.name}: {exc}; kept verbatim") from None

    return handle


_COMMON: dict[str, _Handler] = {
    "UID": _single("uid", lambda _r, p, f: f.__setitem__("uid", p.value)),
    "SUMMARY": _single("summary", _text("subject")),
    "DESCRIPTION": _single("description", _text("body")),
    "DTSTART": _single("start", _read_start),
    "CLASS": _single("class", _read_class),
    "CATEGORIES": _list("categories", lambda _r, p: tuple(split_text(p.value, ","))),
    "RRULE": _read_rrule,
    "RDATE": _list("rdate", _read_rdate),
    "EXDATE": _list("exdate", lambda r, p: r.whens(p)),
    "CREATED": _single("created", _set("created", _stamp)),
    "LAST-MODIFIED": _single("last_modified", _set("last_modified", _stamp)),
}

_EVENT: dict[str, _Handler] = {
    **_COMMON,
    "LOCATION": _single("location", _text("location")),
    "X-ALT-DESC": _read_html,
    "DTEND": _single("end", _read_end),
    "DURATION": _single("end", _read_end),
    "STATUS": _single("status", _enum_reader("status", _EVENT_STATUS)),
    "TRANSP": _read_busy,
    _BUSY: _read_busy,
    _INTENDED: _read_busy,
    "PRIORITY": _single(
        "priority", _set("importance", lambda _r, p: Importance.from_priority(_int(p, 0, 9)))
    ),
    "ORGANIZER": _single("organizer", _set("organizer", lambda _r, p: _read_organizer(p))),
    "ATTENDEE": _list("attendees", _wrap(_read_attendee)),
    "ATTACH": _list("attach", _wrap(_read_attachment)),
    "URL": _single("url", _set("url", lambda _r, p: p.value)),
    "SEQUENCE": _single("sequence", _set("sequence", lambda _r, p: _int(p, 0, None))),
    "RECURRENCE-ID": _single("recurrence_id", _set("recurrence_id", lambda r, p: r.when(p))),
}

_TODO: dict[str, _Handler] = {
    **_COMMON,
    "DUE": _single("due", _read_end),
    "DURATION": _single("due", _read_end),
    "COMPLETED": _single("completed", _set("completed", _stamp)),
    "STATUS": _read_task_status,
    TASK_STATUS_EXTRA: _read_task_status,
    "PERCENT-COMPLETE": _single("percent", _set("percent_complete", lambda _r, p: _int(p, 0, 100))),
    "PRIORITY": _single("priority", _set("priority", lambda _r, p: _int(p, 0, 9))),
}

_ALARM: dict[str, _Handler] = {
    "ACTION": _single("action", _enum_reader("action", _ACTIONS)),
    "DESCRIPTION": _single("description", _text("description")),
}


def _read_properties(reader: _Reader, handlers: Mapping[str, _Handler]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for index, prop in enumerate(reader.component.properties):
        handler = handlers.get(prop.name.upper())
        if handler is None:
            reader.keep(index)
            continue
        try:
            handler(reader, index, prop, fields)
        except _Keep as exc:
            reader.keep(index, str(exc) or None)
    return fields


def _compatible(start: date, end: date) -> str | None:
    """Why ``end`` cannot go with ``start`` (as the model's invariant says), or None."""
    if isinstance(start, datetime) != isinstance(end, datetime):
        return "one is a date and the other a date-time"
    if (
        isinstance(start, datetime)
        and isinstance(end, datetime)
        and (start.tzinfo is None) != (end.tzinfo is None)
    ):
        return "one is floating and the other is not"
    if end < start:
        return "it is before the start"
    return None


def _default_end(start: date) -> date:
    return start if isinstance(start, datetime) else start + timedelta(days=1)


def _span(reader: _Reader, fields: dict[str, Any], group: str, name: str) -> date | None:
    """The end (``DTEND``/``DURATION``) or due date of an item, checked against its start."""
    start = fields.get("start")
    if "_duration" in fields:
        if start is None:
            reader.release(group, f"DURATION without DTSTART; kept verbatim ({name})")
            return None
        duration = fields["_duration"]
        if duration < timedelta(0) or (
            not isinstance(start, datetime) and duration % timedelta(days=1)
        ):
            reader.release(group, f"DURATION {format_duration(duration)} does not fit DTSTART")
            return None
        total: date = start + duration
        return total
    end = fields.get("_end")
    if end is None or start is None:
        return end
    problem = _compatible(start, end)
    if problem:
        reader.release(group, f"{name} does not fit DTSTART ({problem}); kept verbatim")
        return None
    return end  # type: ignore[no-any-return]


def _recurrence(fields: dict[str, Any]) -> Recurrence | None:
    rule, rdates, exdates = fields.get("_rule"), fields.get("rdate"), fields.get("exdate")
    if rule is None and not rdates and not exdates:
        return None
    return Recurrence(rule=rule, rdates=rdates or (), exdates=exdates or ())


def _decode_alarms(
    component: RawComponent, ctx: DecodeContext
) -> tuple[list[Reminder], list[RawComponent], dict[int, Source]]:
    reminders: list[Reminder] = []
    others: list[RawComponent] = []
    sources: dict[int, Source] = {}
    for index, child in enumerate(component.components):
        decoded = decode_alarm(child, ctx) if child.name.upper() == "VALARM" else None
        if decoded is None:
            others.append(child)
        else:
            reminders.append(decoded.model)
            sources[index] = decoded
    return reminders, others, sources


def _read_trigger(reader: _Reader, prop: RawProperty, fields: dict[str, Any]) -> None:
    fields["related_to_end"] = (_param(prop, "RELATED") or "").upper() == "END"
    if (_param(prop, "VALUE") or "DURATION").upper() == "DATE-TIME":
        absolute = reader.when(prop)
        if not isinstance(absolute, datetime) or absolute.tzinfo is None:
            raise _Keep("TRIGGER: an absolute trigger must be in UTC")
        fields["trigger"] = absolute
        return
    try:
        fields["trigger"] = parse_duration(prop.value)
    except ValueError as exc:
        raise _Keep(f"TRIGGER: {exc}") from None


_ALARM["TRIGGER"] = _single("trigger", _read_trigger)


def decode_alarm(component: RawComponent, ctx: DecodeContext) -> Source | None:
    """A VALARM as a :class:`Reminder` and its source; ``None`` keeps it verbatim in the
    item's ``extended.components`` (an action the model lacks, such as ``PROCEDURE``, or
    no usable trigger; both are reported)."""
    reader = _Reader(component, ctx)
    fields = _read_properties(reader, _ALARM)
    if "action" not in fields or "trigger" not in fields:
        if "action" in fields and not any(
            p.name.upper() == "TRIGGER" for p in component.properties
        ):
            ctx.warn(component, None, "VALARM without a usable TRIGGER; kept verbatim")
        elif "action" not in fields and not any(
            p.name.upper() == "ACTION" for p in component.properties
        ):
            ctx.warn(component, None, "VALARM without ACTION; kept verbatim")
        return None
    reminder = Reminder(
        trigger=fields["trigger"],
        related_to_end=fields["related_to_end"],
        action=fields["action"],
        description=fields.get("description"),
        extended=Extended(reader.extended_properties(), component.components),
    )
    return reader.source(reminder)


def decode_event(component: RawComponent, ctx: DecodeContext) -> Source | None:
    """A VEVENT as an :class:`Appointment` (without overrides) and its source; ``None``
    (with a warning) when it cannot be one and must be kept verbatim."""
    reader = _Reader(component, ctx)
    fields = _read_properties(reader, _EVENT)
    if "uid" not in fields or "start" not in fields:
        missing = "UID" if "uid" not in fields else "a usable DTSTART"
        ctx.warn(component, None, f"VEVENT without {missing}; kept verbatim")
        return None
    end = _span(reader, fields, "end", "DTEND")
    start = fields["start"]
    end_tzid = fields.get("_end_tzid")
    start_tzid = fields.get("_start_tzid")
    if end is None:
        end, end_tzid = _default_end(start), None
    reminders, others, alarms = _decode_alarms(component, ctx)
    busy = fields.get("_cdo") or fields.get("_intended")
    busy_status = (
        _CDO[busy]
        if busy
        else BusyStatus.FREE
        if fields.get("_transp") == "TRANSPARENT"
        else BusyStatus.BUSY
    )
    try:
        appointment = Appointment(
            uid=fields["uid"],
            subject=fields.get("subject", ""),
            start=start,
            end=end,
            timezone=start_tzid,
            end_timezone=end_tzid if end_tzid != start_tzid else None,
            location=fields.get("location"),
            body=fields.get("body"),
            body_html=fields.get("body_html"),
            status=fields.get("status", AppointmentStatus.CONFIRMED),
            busy_status=busy_status,
            sensitivity=fields.get("sensitivity", Sensitivity.NORMAL),
            importance=fields.get("importance", Importance.NORMAL),
            reminders=reminders,
            organizer=fields.get("organizer"),
            attendees=fields.get("attendees", ()),
            recurrence=_recurrence(fields),
            recurrence_id=fields.get("recurrence_id"),
            categories=fields.get("categories", ()),
            attachments=fields.get("attach", ()),
            url=fields.get("url"),
            sequence=fields.get("sequence", 0),
            created=fields.get("created"),
            last_modified=fields.get("last_modified"),
            extended=Extended(reader.extended_properties(), others),
        )
    except InvalidItemError as exc:  # a combination the checks above did not foresee
        ctx.warn(component, None, f"VEVENT kept verbatim: {exc}")
        return None
    return reader.source(appointment, alarms)


def decode_todo(component: RawComponent, ctx: DecodeContext) -> Source | None:
    """A VTODO as a :class:`Task` and its source; ``None`` (with a warning) when it
    cannot be one and must be kept verbatim."""
    reader = _Reader(component, ctx)
    fields = _read_properties(reader, _TODO)
    if "uid" not in fields:
        ctx.warn(component, None, "VTODO without UID; kept verbatim")
        return None
    due = _span(reader, fields, "due", "DUE")
    if due is None:
        fields.pop("_end_tzid", None)
    status = fields.get("_status", TaskStatus.NOT_STARTED)
    extra = fields.get("_status_extra")
    if extra is not None and status in (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS):
        status = extra
    reminders, others, alarms = _decode_alarms(component, ctx)
    timezone = fields.get("_start_tzid") if "start" in fields else fields.get("_end_tzid")
    try:
        task = Task(
            uid=fields["uid"],
            subject=fields.get("subject", ""),
            body=fields.get("body"),
            start=fields.get("start"),
            due=due,
            timezone=timezone,
            completed=fields.get("completed"),
            status=status,
            percent_complete=fields.get("percent_complete", 0),
            priority=fields.get("priority", 0),
            sensitivity=fields.get("sensitivity", Sensitivity.NORMAL),
            reminders=reminders,
            recurrence=_recurrence(fields),
            categories=fields.get("categories", ()),
            created=fields.get("created"),
            last_modified=fields.get("last_modified"),
            extended=Extended(reader.extended_properties(), others),
        )
    except InvalidItemError as exc:
        ctx.warn(component, None, f"VTODO kept verbatim: {exc}")
        return None
    return reader.source(task, alarms)


# --------------------------------------------------------------------------- writing values


def _safe(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise InvalidItemError(f"{what} cannot be written: it contains a line break")
    return value


def _when_line(
    name: str,
    value: date,
    hint: str | None,
    base: RawProperty | None,
    enc: EncodeContext,
    *,
    utc: bool = False,
) -> RawProperty:
    """A DATE / DATE-TIME line; ``base`` lends its name and other parameters."""
    params = [p for p in base.params if p[0].upper() not in ("TZID", "VALUE")] if base else []
    name = base.name if base else name
    if not isinstance(value, datetime):
        return RawProperty(name, format_date(value), [("VALUE", "DATE"), *params])
    if utc and value.tzinfo is not None:
        return RawProperty(name, format_datetime(value, utc=True), params)
    tzid = tzid_for(value, hint)
    if tzid is None:
        return RawProperty(name, format_datetime(value), params)
    if tzid == "Z":
        return RawProperty(name, format_datetime(value, utc=True), params)
    enc.tzids.setdefault(tzid, value.tzinfo)
    return RawProperty(name, format_datetime(value), [("TZID", format_param(tzid)), *params])


def _whens_line(
    name: str, values: Sequence[date], hint: str | None, enc: EncodeContext
) -> list[RawProperty]:
    return [_when_line(name, value, hint, None, enc) for value in values]


def align(
    values: Sequence[Any], originals: Sequence[tuple[int, Any]]
) -> tuple[dict[int, list[Any]], list[Any]]:
    """Place ``values`` (in their order) among ``originals`` (``(position, value)``): a value
    equal to a later original takes that original's position; the others go just before
    the next value placed so, or to the returned tail. Unchanged lists keep every
    position; a reordered one is written in its new order."""
    placed: dict[int, list[Any]] = {}
    pending: list[Any] = []
    start = 0
    for value in values:
        for k in range(start, len(originals)):
            position, original = originals[k]
            if original == value:
                placed[position] = [*pending, value]
                pending = []
                start = k + 1
                break
        else:
            pending.append(value)
    return placed, pending


def _patch_params(
    base: RawProperty | None,
    wanted: Sequence[tuple[str, str | None, bool]],
    extra: Sequence[tuple[str, str]],
) -> list[tuple[str, str]]:
    """Parameters for a rewritten line: ``wanted`` are the mapped ones as ``(name, value,
    is_default)`` (value ``None``: absent), ``extra`` the unmapped ones kept verbatim.

    With a ``base`` line its order is kept: each mapped parameter takes the place of its
    first occurrence, unmapped ones stay where they were; a default value is written only
    where the base wrote that parameter. A mapped parameter whose name ``extra`` also
    holds is left to ``extra`` when the model has its default (an unknown value).
    """
    names = {k.upper() for k, _ in extra}
    want = {
        name: value
        for name, value, default in wanted
        if value is not None and not (default and name in names)
    }
    defaults = {name for name, _, default in wanted if default}
    base_params = base.params if base else ()
    placed, pending = align(extra, list(enumerate(base_params)))
    out: list[tuple[str, str]] = []
    done: set[str] = set()
    for i, (key, _raw) in enumerate(base_params):
        upper = key.upper()
        if i in placed:
            out.extend(placed[i])
        elif upper in want and upper not in done:
            out.append((key, want[upper]))
            done.add(upper)
    for name, value in want.items():
        if name not in done and name not in defaults:
            out.append((name, value))
    out.extend(pending)
    return out


def _attendee_line(attendee: Attendee, base: RawProperty | None) -> RawProperty:
    attendee = attrs.evolve(
        attendee,
        role=AttendeeRole(attendee.role),
        response=ResponseStatus(attendee.response),
        type=AttendeeType(attendee.type),
    )
    wanted = [
        ("CUTYPE", attendee.type.value.upper(), attendee.type is AttendeeType.INDIVIDUAL),
        ("ROLE", _ROLE_NAMES[attendee.role], attendee.role is AttendeeRole.REQUIRED),
        (
            "PARTSTAT",
            attendee.response.value.upper(),
            attendee.response is ResponseStatus.NEEDS_ACTION,
        ),
        ("RSVP", "TRUE" if attendee.rsvp else "FALSE", not attendee.rsvp),
        ("CN", None if attendee.name is None else format_param(attendee.name), False),
    ]
    return RawProperty(
        base.name if base else "ATTENDEE",
        _safe(_address_value(attendee.email), "an attendee address"),
        _patch_params(base, wanted, attendee.params),
    )


def _organizer_line(organizer: Organizer, base: RawProperty | None) -> RawProperty:
    wanted = [("CN", None if organizer.name is None else format_param(organizer.name), False)]
    return RawProperty(
        base.name if base else "ORGANIZER",
        _safe(_address_value(organizer.email), "the organizer address"),
        _patch_params(base, wanted, organizer.params),
    )


def _attachment_line(attachment: Attachment, base: RawProperty | None) -> list[RawProperty]:
    if attachment.url is None and attachment.data is None:
        return []  # nothing to write: the content was never fetched
    filename = attachment.filename
    if filename is not None and any(
        k.upper() == "X-FILENAME" and parse_param(v) == filename for k, v in attachment.params
    ):
        filename = None  # it reads back from X-FILENAME
    inline = attachment.url is None
    fmt = None if attachment.content_type is None else format_param(attachment.content_type)
    wanted = [
        ("FMTTYPE", fmt, False),
        ("ENCODING", "BASE64" if inline else None, False),
        ("VALUE", "BINARY" if inline else None, False),
        ("FILENAME", None if filename is None else format_param(filename), False),
        ("SIZE", None if attachment.size is None else str(attachment.size), False),
    ]
    if attachment.url is not None:
        value = _safe(attachment.url, "an attachment URL")
    else:
        assert attachment.data is not None
        value = base64.b64encode(attachment.data).decode("ascii")
    return [
        RawProperty(
            base.name if base else "ATTACH", value, _patch_params(base, wanted, attachment.params)
        )
    ]


def _reuse_each(
    values: Sequence[Any],
    originals: Sequence[RawProperty],
    elements: Sequence[tuple[Any, ...]],
    make: Callable[[Any, RawProperty | None], list[RawProperty]],
    pair: Callable[[Any, Any], bool] | None = None,
) -> list[RawProperty]:
    """Lines for a list written one element a line: an unchanged element keeps its line;
    a changed one is rewritten on the line of its ``pair`` (same attendee address)."""
    used = [False] * len(originals)
    chosen: list[int | None] = [None] * len(values)
    for vi, value in enumerate(values):
        for oi, elems in enumerate(elements):
            if not used[oi] and len(elems) == 1 and same(elems[0], value):
                used[oi], chosen[vi] = True, oi
                break
    out: list[RawProperty] = []
    for vi, value in enumerate(values):
        picked = chosen[vi]
        if picked is not None:
            out.append(originals[picked])
            continue
        base = None
        for oj, elems in enumerate(elements):
            if pair and not used[oj] and len(elems) == 1 and pair(elems[0], value):
                used[oj], base = True, originals[oj]
                break
        out.extend(make(value, base))
    return out


def _reuse_chunks(
    values: Sequence[Any],
    originals: Sequence[RawProperty],
    elements: Sequence[tuple[Any, ...]],
    make: Callable[[list[Any]], list[RawProperty]],
) -> list[RawProperty]:
    """Lines for a list written several elements a line (CATEGORIES, EXDATE): a line
    whose elements still follow each other in the model is kept; the rest is new."""
    used = [False] * len(originals)
    out: list[RawProperty] = []
    pending: list[Any] = []
    i = 0
    while i < len(values):
        for oi, elems in enumerate(elements):
            n = len(elems)
            if not used[oi] and n and same(tuple(values[i : i + n]), tuple(elems)):
                if pending:
                    out.extend(make(pending))
                    pending = []
                out.append(originals[oi])
                used[oi] = True
                i += n
                break
        else:
            pending.append(values[i])
            i += 1
    if pending:
        out.extend(make(pending))
    return out


# --------------------------------------------------------------------------- groups


_Encode = Callable[
    [Any, list[RawProperty], list[tuple[Any, ...]], EncodeContext], list[RawProperty]
]


@attrs.frozen
class _Group:
    """Model fields and the lines that carry them."""

    name: str
    get: Callable[[Any], Any]
    encode: _Encode
    # date-time properties that must not occur twice: when the group writes new lines, a
    # stale copy kept in extended (a DTEND before DTSTART) is dropped, or it would win
    names: tuple[str, ...] = ()
    unchanged: Callable[[Any, Any, list[RawProperty]], bool] | None = None


def _fields(*names: str) -> Callable[[Any], Any]:
    if len(names) == 1:
        (name,) = names
        return lambda model: getattr(model, name)
    return lambda model: tuple(getattr(model, n) for n in names)


def _text_group(group: str, prop: str, field: str, default: Any = None) -> _Group:
    def encode(
        model: Any, orig: list[RawProperty], _e: Any, _c: EncodeContext
    ) -> list[RawProperty]:
        value = getattr(model, field)
        if value is None or (value == default and not orig):
            return []
        base = orig[0] if orig else None
        return [
            RawProperty(
                base.name if base else prop, escape_text(value), base.params if base else ()
            )
        ]

    return _Group(group, _fields(field), encode)


def _token_group(
    group: str, prop: str, field: str, write: Callable[[Any], str | None], default: Any
) -> _Group:
    def encode(
        model: Any, orig: list[RawProperty], _e: Any, _c: EncodeContext
    ) -> list[RawProperty]:
        value = getattr(model, field)
        text = write(value)
        if text is None or (value == default and not orig):
            return []
        base = orig[0] if orig else None
        return [RawProperty(base.name if base else prop, text, base.params if base else ())]

    return _Group(group, _fields(field), encode)


def _when_group(
    group: str, prop: str, field: str, hint: Callable[[Any], str | None], *, utc: bool = False
) -> _Group:
    def encode(
        model: Any, orig: list[RawProperty], _e: Any, enc: EncodeContext
    ) -> list[RawProperty]:
        value = getattr(model, field)
        if value is None:
            return []
        return [_when_line(prop, value, hint(model), orig[0] if orig else None, enc, utc=utc)]

    return _Group(group, _fields(field), encode, (prop,))


def _start_group(fields: tuple[str, ...]) -> _Group:
    group = _when_group("start", "DTSTART", "start", lambda m: m.timezone)
    return attrs.evolve(group, get=_fields(*fields))


def _end_unchanged(model: Appointment, parsed: Appointment, orig: list[RawProperty]) -> bool:
    if not orig:
        return model.end_timezone is None and same(model.end, _default_end(model.start))
    if orig[0].name.upper() == "DURATION":
        return model.end_timezone is None and model.end - model.start == parsed.end - parsed.start
    return same(model.end, parsed.end) and model.end_timezone == parsed.end_timezone


def _encode_end(
    model: Appointment, orig: list[RawProperty], _e: Any, enc: EncodeContext
) -> list[RawProperty]:
    base = orig[0] if orig else None
    if base is not None and base.name.upper() == "DURATION" and model.end_timezone is None:
        return [RawProperty(base.name, format_duration(model.end - model.start), base.params)]
    dtend = base if base is not None and base.name.upper() == "DTEND" else None
    hint = model.end_timezone or model.timezone
    return [_when_line("DTEND", model.end, hint, dtend, enc)]


def _due_unchanged(model: Task, parsed: Task, orig: list[RawProperty]) -> bool:
    if orig and orig[0].name.upper() == "DURATION":
        if model.due is None or model.start is None or parsed.due is None or parsed.start is None:
            return False
        return model.due - model.start == parsed.due - parsed.start
    return same(model.due, parsed.due) and model.timezone == parsed.timezone


def _encode_due(
    model: Task, orig: list[RawProperty], _e: Any, enc: EncodeContext
) -> list[RawProperty]:
    if model.due is None:
        return []
    base = orig[0] if orig else None
    if base is not None and base.name.upper() == "DURATION" and model.start is not None:
        return [RawProperty(base.name, format_duration(model.due - model.start), base.params)]
    due = base if base is not None and base.name.upper() == "DUE" else None
    return [_when_line("DUE", model.due, model.timezone, due, enc)]


def _encode_busy(
    model: Appointment, orig: list[RawProperty], _e: Any, _c: EncodeContext
) -> list[RawProperty]:
    value = BusyStatus(model.busy_status)
    cdo = _CDO_NAMES[value]
    names = [p.name.upper() for p in orig]
    out: list[RawProperty] = []
    for prop, name in zip(orig, names, strict=True):
        if name == "TRANSP":
            text = "TRANSPARENT" if value is BusyStatus.FREE else "OPAQUE"
            out.append(RawProperty(prop.name, text, prop.params))
        elif name == _BUSY or (name == _INTENDED and _BUSY not in names):
            out.append(RawProperty(prop.name, cdo, prop.params))
        else:
            out.append(prop)
    fine = value not in (BusyStatus.FREE, BusyStatus.BUSY)
    if "TRANSP" not in names and (value is BusyStatus.FREE or fine):
        out.append(RawProperty("TRANSP", "TRANSPARENT" if value is BusyStatus.FREE else "OPAQUE"))
    if fine and _BUSY not in names and _INTENDED not in names:
        out.append(RawProperty(_BUSY, cdo))
    return out


def _encode_task_status(
    model: Task, orig: list[RawProperty], _e: Any, _c: EncodeContext
) -> list[RawProperty]:
    status = TaskStatus(model.status)
    extra = status if status in (TaskStatus.WAITING, TaskStatus.DEFERRED) else None
    base_status = TaskStatus.NOT_STARTED if extra else status
    out: list[RawProperty] = []
    wrote_status = wrote_extra = False
    for prop in orig:
        if prop.name.upper() == "STATUS":
            out.append(RawProperty(prop.name, _TASK_STATUS_NAMES[base_status], prop.params))
            wrote_status = True
        elif extra is not None:
            out.append(RawProperty(prop.name, extra.value.upper(), prop.params))
            wrote_extra = True
    if not wrote_status and (base_status is not TaskStatus.NOT_STARTED or orig):
        out.insert(0, RawProperty("STATUS", _TASK_STATUS_NAMES[base_status]))
    if extra is not None and not wrote_extra:
        out.append(RawProperty(TASK_STATUS_EXTRA, extra.value.upper()))
    return out


def _html_group() -> _Group:
    def encode(
        model: Any, orig: list[RawProperty], _e: Any, _c: EncodeContext
    ) -> list[RawProperty]:
        if model.body_html is None:
            return []
        base = orig[0] if orig else None
        params = base.params if base else (("FMTTYPE", "text/html"),)
        return [
            RawProperty(base.name if base else "X-ALT-DESC", escape_text(model.body_html), params)
        ]

    return _Group("html", _fields("body_html"), encode)


def _recurrence_part(part: str) -> Callable[[Any], Any]:
    def get(model: Any) -> Any:
        recurrence = model.recurrence
        if recurrence is None:
            return None if part == "rule" else ()
        return getattr(recurrence, part)

    return get


def _rrule_group() -> _Group:
    def encode(
        model: Any, orig: list[RawProperty], _e: Any, _c: EncodeContext
    ) -> list[RawProperty]:
        rule = _recurrence_part("rule")(model)
        if rule is None:
            return []
        base = orig[0] if orig else None
        return [
            RawProperty(
                base.name if base else "RRULE", _safe(rule, "RRULE"), base.params if base else ()
            )
        ]

    return _Group("rrule", _recurrence_part("rule"), encode)


def _dates_group(group: str, prop: str, part: str) -> _Group:
    def encode(
        model: Any, orig: list[RawProperty], elements: list[tuple[Any, ...]], enc: EncodeContext
    ) -> list[RawProperty]:
        values = _recurrence_part(part)(model)
        return _reuse_chunks(
            values, orig, elements, lambda chunk: _whens_line(prop, chunk, model.timezone, enc)
        )

    return _Group(group, _recurrence_part(part), encode)


def _categories_group() -> _Group:
    def make(chunk: list[str]) -> list[RawProperty]:
        return [RawProperty("CATEGORIES", ",".join(escape_text(c) for c in chunk))]

    def encode(
        model: Any, orig: list[RawProperty], elements: list[tuple[Any, ...]], _c: EncodeContext
    ) -> list[RawProperty]:
        return _reuse_chunks(model.categories, orig, elements, make)

    return _Group("categories", _fields("categories"), encode)


def _each_group(
    group: str,
    field: str,
    make: Callable[[Any, RawProperty | None], list[RawProperty]],
    pair: Callable[[Any, Any], bool] | None = None,
) -> _Group:
    def encode(
        model: Any, orig: list[RawProperty], elements: list[tuple[Any, ...]], _c: EncodeContext
    ) -> list[RawProperty]:
        return _reuse_each(getattr(model, field), orig, elements, make, pair)

    return _Group(group, _fields(field), encode)


def _same_address(a: Any, b: Any) -> bool:
    return bool(a.email.casefold() == b.email.casefold())


def _utc_stamp_group(group: str, prop: str, field: str) -> _Group:
    return _when_group(group, prop, field, lambda _m: None, utc=True)


_PRIORITY_OF = {Importance.HIGH: "1", Importance.NORMAL: "5", Importance.LOW: "9"}

EVENT_GROUPS: tuple[_Group, ...] = (
    _token_group("uid", "UID", "uid", lambda v: _safe(v, "a UID"), None),
    _when_group("recurrence_id", "RECURRENCE-ID", "recurrence_id", lambda m: m.timezone),
    _token_group("sequence", "SEQUENCE", "sequence", str, 0),
    _start_group(("start", "timezone")),
    _Group(
        "end", _fields("end", "end_timezone"), _encode_end, ("DTEND", "DURATION"), _end_unchanged
    ),
    _text_group("summary", "SUMMARY", "subject", ""),
    _text_group("location", "LOCATION", "location"),
    _text_group("description", "DESCRIPTION", "body"),
    _html_group(),
    _token_group(
        "status", "STATUS", "status", lambda v: str(v).upper(), AppointmentStatus.CONFIRMED
    ),
    _Group("busy", _fields("busy_status"), _encode_busy),
    _token_group("class", "CLASS", "sensitivity", _CLASS_NAMES.__getitem__, Sensitivity.NORMAL),
    _token_group("priority", "PRIORITY", "importance", _PRIORITY_OF.__getitem__, Importance.NORMAL),
    _Group(
        "organizer",
        _fields("organizer"),
        lambda m, o, _e, _c: (
            [] if m.organizer is None else [_organizer_line(m.organizer, o[0] if o else None)]
        ),
    ),
    _each_group("attendees", "attendees", lambda a, b: [_attendee_line(a, b)], _same_address),
    _categories_group(),
    _token_group("url", "URL", "url", lambda v: None if v is None else _safe(v, "URL"), None),
    _rrule_group(),
    _dates_group("rdate", "RDATE", "rdates"),
    _dates_group("exdate", "EXDATE", "exdates"),
    _each_group("attach", "attachments", _attachment_line),
    _utc_stamp_group("created", "CREATED", "created"),
    _utc_stamp_group("last_modified", "LAST-MODIFIED", "last_modified"),
)

TODO_GROUPS: tuple[_Group, ...] = (
    _token_group("uid", "UID", "uid", lambda v: _safe(v, "a UID"), None),
    _start_group(("start", "timezone")),
    _Group("due", _fields("due", "timezone"), _encode_due, ("DUE", "DURATION"), _due_unchanged),
    _text_group("summary", "SUMMARY", "subject", ""),
    _text_group("description", "DESCRIPTION", "body"),
    _Group("status", _fields("status"), _encode_task_status),
    _token_group("percent", "PERCENT-COMPLETE", "percent_complete", str, 0),
    _token_group("priority", "PRIORITY", "priority", str, 0),
    _token_group("class", "CLASS", "sensitivity", _CLASS_NAMES.__getitem__, Sensitivity.NORMAL),
    _categories_group(),
    _rrule_group(),
    _dates_group("rdate", "RDATE", "rdates"),
    _dates_group("exdate", "EXDATE", "exdates"),
    _utc_stamp_group("completed", "COMPLETED", "completed"),
    _utc_stamp_group("created", "CREATED", "created"),
    _utc_stamp_group("last_modified", "LAST-MODIFIED", "last_modified"),
)


def _trigger_unchanged(model: Reminder, parsed: Reminder, _orig: list[RawProperty]) -> bool:
    return same(model.trigger, parsed.trigger) and model.related_to_end == parsed.related_to_end


def _encode_trigger(
    model: Reminder, orig: list[RawProperty], _e: Any, _c: EncodeContext
) -> list[RawProperty]:
    base = orig[0] if orig else None
    keep = [p for p in base.params if p[0].upper() not in ("VALUE", "RELATED")] if base else []
    related = [("RELATED", "END")] if model.related_to_end else []
    if base is not None and not model.related_to_end:
        related = [p for p in base.params if p[0].upper() == "RELATED" and p[1].upper() == "START"]
    if isinstance(model.trigger, datetime):  # an absolute trigger
        value = format_datetime(model.trigger, utc=True)
        params = [("VALUE", "DATE-TIME"), *related, *keep]
    else:
        value, params = format_duration(model.trigger), [*related, *keep]
    return [RawProperty(base.name if base else "TRIGGER", value, params)]


ALARM_GROUPS: tuple[_Group, ...] = (
    _token_group("action", "ACTION", "action", lambda v: str(v).upper(), None),
    _Group(
        "trigger",
        _fields("trigger", "related_to_end"),
        _encode_trigger,
        ("TRIGGER",),
        _trigger_unchanged,
    ),
    _text_group("description", "DESCRIPTION", "description"),
)


# --------------------------------------------------------------------------- merging


def merge_properties(
    model: Any,
    source: Source | None,
    groups: Iterable[_Group],
    extended: Sequence[RawProperty],
    enc: EncodeContext,
) -> list[RawProperty]:
    """The properties of a component for ``model``: original lines where the model
    agrees with what was parsed from them, new lines in their place where it does not,
    and ``extended`` where it stood (new extended properties at the end)."""
    props = source.component.properties if source else ()
    place: dict[int, list[RawProperty]] = {}
    tail: list[RawProperty] = []
    dropped: set[str] = set()
    for group in groups:
        indices = source.groups.get(group.name, ()) if source else ()
        orig = [props[i] for i in indices]
        if source is not None:
            if group.unchanged is not None:
                unchanged = group.unchanged(model, source.model, orig)
            else:
                unchanged = same(group.get(model), group.get(source.model))
            if unchanged:
                for i in indices:
                    place[i] = [props[i]]
                continue
        elements = [source.elements.get(i, ()) for i in indices] if source else []
        lines = group.encode(model, orig, elements, enc)
        if lines:
            dropped.update(group.names)
        if not indices:
            tail.extend(lines)
            continue
        # line k takes the place of the group's k-th original line; more go after the last
        for k, i in enumerate(indices):
            place[i] = lines[k : k + 1]
        place[indices[-1]] = place[indices[-1]] + lines[len(indices) :]
    grouped = {i for indices in source.groups.values() for i in indices} if source else set()
    kept = [p for p in extended if p.name.upper() not in dropped]
    placed, pending = align(kept, [(i, p) for i, p in enumerate(props) if i not in grouped])
    place.update(placed)
    out = [line for i in sorted(place) for line in place[i]]
    out.extend(tail)
    out.extend(pending)
    return out


def merge_components(
    reminders: Sequence[Reminder],
    others: Sequence[RawComponent],
    source: Source | None,
    enc: EncodeContext,
) -> list[RawComponent]:
    """The sub-components: alarms and kept components, each where it stood."""
    orig = source.component.components if source else ()
    alarms = source.alarms if source else {}
    place: dict[int, list[RawComponent]] = {}
    tail: list[RawComponent] = []
    indices = sorted(alarms)
    parsed = tuple(alarms[i].model for i in indices)
    if indices and same(tuple(reminders), parsed):
        for i in indices:
            place[i] = [orig[i]]
    elif reminders or indices:
        used: set[int] = set()
        chosen: list[int | None] = [None] * len(reminders)
        for ri, reminder in enumerate(reminders):
            for i in indices:
                if i not in used and same(alarms[i].model, reminder):
                    used.add(i)
                    chosen[ri] = i
                    break
        spare = [i for i in indices if i not in used]
        written: list[RawComponent] = []
        for ri, reminder in enumerate(reminders):
            index = chosen[ri]
            if index is not None:
                written.append(orig[index])
            else:
                base = alarms[spare.pop(0)] if spare else None
                written.append(encode_alarm(reminder, base, enc))
        if indices:
            place[indices[0]] = written
        else:
            tail.extend(written)
    placed, pending = align(others, [(i, c) for i, c in enumerate(orig) if i not in alarms])
    for i, children in placed.items():
        place[i] = children + place.get(i, [])
    out = [c for i in sorted(place) for c in place[i]]
    out.extend(tail)
    out.extend(pending)
    return out


def encode_alarm(reminder: Reminder, source: Source | None, enc: EncodeContext) -> RawComponent:
    """A VALARM for ``reminder``, minimal-diff against ``source`` when given."""
    props = merge_properties(reminder, source, ALARM_GROUPS, reminder.extended.properties, enc)
    children = merge_components((), reminder.extended.components, source, enc)
    return RawComponent(source.component.name if source else "VALARM", props, children)


def _with_stamp(props: list[RawProperty], model: Appointment | Task, enc: EncodeContext) -> None:
    """Add the DTSTAMP RFC 5545 requires to a component the codec did not parse."""
    if any(p.name.upper() == "DTSTAMP" for p in props):
        return
    stamp = model.last_modified or model.created
    if stamp is None or stamp.tzinfo is None:
        stamp = enc.now
    at = 1 if props and props[0].name.upper() == "UID" else 0
    props.insert(at, RawProperty("DTSTAMP", format_datetime(stamp, utc=True)))


def encode_event(
    appointment: Appointment, source: Source | None, enc: EncodeContext
) -> RawComponent:
    """A VEVENT for ``appointment`` (not its overrides), minimal-diff against ``source``."""
    props = merge_properties(
        appointment, source, EVENT_GROUPS, appointment.extended.properties, enc
    )
    if source is None:
        _with_stamp(props, appointment, enc)
    children = merge_components(appointment.reminders, appointment.extended.components, source, enc)
    return RawComponent(source.component.name if source else "VEVENT", props, children)


def encode_todo(task: Task, source: Source | None, enc: EncodeContext) -> RawComponent:
    """A VTODO for ``task``, minimal-diff against ``source``."""
    props = merge_properties(task, source, TODO_GROUPS, task.extended.properties, enc)
    if source is None:
        _with_stamp(props, task, enc)
    children = merge_components(task.reminders, task.extended.components, source, enc)
    return RawComponent(source.component.name if source else "VTODO", props, children)
