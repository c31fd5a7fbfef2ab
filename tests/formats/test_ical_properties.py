"""Property-based round trips of the iCalendar codec: every model field, escaping, folding,
unknown properties and parameters, recurrence sets, and minimal-diff edits."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from openprotocols.formats import ical
from openprotocols.formats._contentline import FOLD_OCTETS, format_line
from openprotocols.model import (
    Appointment,
    AppointmentStatus,
    Attachment,
    Attendee,
    AttendeeRole,
    AttendeeType,
    BusyStatus,
    Extended,
    Importance,
    Organizer,
    RawProperty,
    Recurrence,
    Reminder,
    ReminderAction,
    ResponseStatus,
    Sensitivity,
    Task,
    TaskStatus,
)

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]

# Text as users type it: any character but surrogates and CR (a lone CR is no line break
# of TEXT); newlines, the escaped characters and multi-byte characters are frequent.
text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
        st.sampled_from(list('\n;,\\:"^ é€😀漢')),
    ),
    max_size=120,
)
line_text = text.map(lambda s: s.replace("\n", " "))  # raw values: no line breaks
name_part = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
x_name = name_part.map(lambda s: f"X-{s}")
safe_param = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='";:,'),
    max_size=20,
)
quoted_param = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"'),
    max_size=20,
).map(lambda s: f'"{s}"')
param = st.tuples(x_name, st.one_of(safe_param, quoted_param))
params = st.lists(param, max_size=3).map(tuple)
x_property = st.builds(RawProperty, x_name, line_text, params)
email = st.one_of(
    st.from_regex(r"[a-z0-9._%+-]{1,12}@[a-z0-9-]{1,10}\.example", fullmatch=True),
    st.from_regex(r"urn:uuid:[0-9a-f]{8}", fullmatch=True),
)
seconds = st.integers(min_value=0, max_value=3 * 365 * 86400)
base = datetime(2025, 1, 1)
naive = seconds.map(lambda s: base + timedelta(seconds=s))
utc = naive.map(lambda d: d.replace(tzinfo=UTC))


@st.composite
def span(draw: st.DrawFn) -> tuple[Any, Any, str | None]:
    """A start, an end not before it, and the timezone name to go with them."""
    kind = draw(st.sampled_from(["date", "floating", "utc", "zone"]))
    start = draw(naive)
    length = timedelta(seconds=draw(st.integers(0, 30 * 86400)))
    if kind == "date":
        first = start.date()
        return first, first + timedelta(days=length.days), None
    if kind == "floating":
        return start, start + length, None
    if kind == "utc":
        return start.replace(tzinfo=UTC), (start + length).replace(tzinfo=UTC), None
    zone = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone)
    return start.replace(tzinfo=tz), (start + length).replace(tzinfo=tz), zone


def like(value: Any, offset: int) -> Any:
    """A value of the same kind as ``value`` (date, floating, aware), ``offset`` days later."""
    return value + timedelta(days=offset)


@st.composite
def recurrence(draw: st.DrawFn, start: Any) -> Recurrence | None:
    """A recurrence set whose dates are like ``start``."""
    if not draw(st.booleans()):
        return None
    rule = draw(
        st.one_of(
            st.none(),
            st.sampled_from(
                [
                    "FREQ=DAILY;COUNT=10",
                    "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20271231T000000Z",
                    "FREQ=MONTHLY;BYMONTHDAY=-1",
                ]
            ),
        )
    )
    offsets = st.lists(st.integers(1, 400), min_size=0 if rule else 1, max_size=4)
    return Recurrence(  # an empty Recurrence writes nothing and reads back as None
        rule=rule,
        rdates=[like(start, d) for d in draw(offsets)],
        exdates=[like(start, d) for d in draw(offsets)],
    )


reminders = st.lists(
    st.builds(
        Reminder,
        trigger=st.one_of(st.integers(-14 * 86400, 86400).map(lambda s: timedelta(seconds=s)), utc),
        related_to_end=st.booleans(),
        action=st.sampled_from(ReminderAction),
        description=st.one_of(st.none(), text),
        extended=st.lists(x_property, max_size=2).map(lambda p: Extended(properties=p)),
    ),
    max_size=3,
)
attendees = st.lists(
    st.builds(
        Attendee,
        email=email,
        name=st.one_of(st.none(), text),
        role=st.sampled_from(AttendeeRole),
        response=st.sampled_from(ResponseStatus),
        rsvp=st.booleans(),
        type=st.sampled_from(AttendeeType),
        params=params,
    ),
    max_size=4,
)
organizers = st.one_of(
    st.none(), st.builds(Organizer, email=email, name=st.one_of(st.none(), text), params=params)
)
attachments = st.lists(
    st.one_of(
        st.builds(
            Attachment,
            data=st.binary(max_size=60),
            filename=st.one_of(st.none(), line_text),
            content_type=st.one_of(st.none(), st.sampled_from(["text/plain", "image/png"])),
            size=st.one_of(st.none(), st.integers(0, 10**9)),
            params=params,
        ),
        st.builds(
            Attachment,
            url=st.from_regex(r"https://[a-z]{1,8}\.example/[a-z0-9/]{0,20}", fullmatch=True),
            filename=st.one_of(st.none(), line_text),
            params=params,
        ),
    ),
    max_size=2,
)
categories = st.lists(text, max_size=4).filter(lambda c: c != [""])  # "" alone is no list
optional_stamp = st.one_of(st.none(), utc)


@st.composite
def appointments(draw: st.DrawFn, *, overrides: bool = True) -> Appointment:
    """An appointment with every field drawn, possibly a series with overrides."""
    start, end, zone = draw(span())
    uid = draw(line_text)
    fields: dict[str, Any] = {
        "uid": uid,
        "subject": draw(text),
        "start": start,
        "end": end,
        "timezone": zone,
        "location": draw(st.one_of(st.none(), text)),
        "body": draw(st.one_of(st.none(), text)),
        "body_html": draw(st.one_of(st.none(), text)),
        "status": draw(st.sampled_from(AppointmentStatus)),
        "busy_status": draw(st.sampled_from(BusyStatus)),
        "sensitivity": draw(st.sampled_from(Sensitivity)),
        "importance": draw(st.sampled_from(Importance)),
        "reminders": draw(reminders),
        "organizer": draw(organizers),
        "attendees": draw(attendees),
        "recurrence": draw(recurrence(start)),
        "categories": draw(categories),
        "attachments": draw(attachments),
        "url": draw(st.one_of(st.none(), line_text)),
        "sequence": draw(st.integers(0, 1000)),
        "created": draw(optional_stamp),
        "last_modified": draw(optional_stamp),
        "extended": Extended(properties=draw(st.lists(x_property, max_size=3))),
    }
    item = Appointment(**fields)
    if overrides and item.recurrence is not None:
        for offset in draw(st.sets(st.integers(1, 60), max_size=2)):
            occurrence = draw(appointments(overrides=False))
            occurrence = attrs.evolve(
                occurrence, uid=uid, recurrence=None, recurrence_id=like(start, offset)
            )
            item = item.with_override(occurrence)
    return item


@st.composite
def tasks(draw: st.DrawFn) -> Task:
    """A task with every field drawn."""
    start, due, zone = draw(span())
    keep = draw(st.sampled_from(["both", "start", "due", "none"]))
    start = start if keep in ("both", "start") else None
    due = due if keep in ("both", "due") else None
    return Task(
        uid=draw(line_text),
        subject=draw(text),
        body=draw(st.one_of(st.none(), text)),
        start=start,
        due=due,
        timezone=zone if (start or due) is not None else None,
        completed=draw(optional_stamp),
        status=draw(st.sampled_from(TaskStatus)),
        percent_complete=draw(st.integers(0, 100)),
        priority=draw(st.integers(0, 9)),
        sensitivity=draw(st.sampled_from(Sensitivity)),
        reminders=draw(reminders),
        recurrence=draw(recurrence(start)) if start is not None else None,
        categories=draw(categories),
        created=draw(optional_stamp),
        last_modified=draw(optional_stamp),
        extended=Extended(properties=draw(st.lists(x_property, max_size=3))),
    )


def unstamped(item: Any) -> Any:
    """``item`` without the DTSTAMP the writer adds to items it did not parse."""
    item = attrs.evolve(item, extended=item.extended.without("DTSTAMP"))
    if isinstance(item, Appointment) and item.overrides:
        item = attrs.evolve(item, overrides=[unstamped(o) for o in item.overrides])
    return item


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two model values differ, as dotted paths (for readable failures)."""
    if a == b:
        return []
    if type(a) is type(b) and attrs.has(type(a)):
        return [
            d
            for f in attrs.fields(type(a))
            for d in differences(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
        ]
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=False))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [f"{path}: {a!r} != {b!r}"]


def physical_lines(data: bytes) -> list[bytes]:
    """The physical lines of a stream (CRLF-separated)."""
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(appointments(), tasks()),
        min_size=1,
        max_size=3,
        unique_by=lambda i: (type(i), i.uid),  # overrides join the first series of a UID
    )
)
def test_every_field_round_trips(items: list[Appointment | Task]) -> None:
    """Generated appointments and tasks are written and read back equal."""
    data = ical.serialize(items)
    calendar = ical.parse(data)
    assert differences(tuple(unstamped(i) for i in calendar.items), tuple(items)) == []
    assert not calendar.warnings
    again = ical.serialize(calendar)
    assert again == data  # the parsed calendar writes back byte for byte


@settings(max_examples=200, deadline=None)
@given(text, text, text)
def test_text_escaping_and_folding(subject: str, location: str, body: str) -> None:
    """Any text survives; folded lines fit 75 octets and never split a UTF-8 character."""
    item = Appointment(
        uid="u",
        subject=subject,
        location=location,
        body=body,
        body_html=body,
        start=date(2026, 1, 1),
        end=date(2026, 1, 2),
    )
    data = ical.serialize(item)
    for line in physical_lines(data):
        assert len(line) <= FOLD_OCTETS
        line.decode("utf-8")
    (back,) = ical.parse(data).items
    assert unstamped(back) == item


@settings(max_examples=200, deadline=None)
@given(st.lists(x_property, min_size=1, max_size=5))
def test_unknown_properties_and_parameters_are_written_as_they_stand(
    extra: list[RawProperty],
) -> None:
    """X- properties with unknown parameters are written verbatim and read back equal."""
    item = Appointment(
        uid="u", start=datetime(2026, 1, 1, 9), end=datetime(2026, 1, 1, 10), extended=extra
    )
    data = ical.serialize(item)
    unfolded = re.sub(rb"\r\n[ \t]", b"", data).decode("utf-8").split("\r\n")
    for prop in extra:
        assert format_line(prop) in unfolded
    (back,) = ical.parse(data).items
    assert unstamped(back).extended.properties == tuple(extra)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_recurrence_sets_round_trip(data: st.DataObject) -> None:
    """RRULE, RDATE and EXDATE lists of dates, floating, UTC and zoned times survive."""
    start, end, zone = data.draw(span())
    rule = data.draw(recurrence(start).filter(lambda r: r is not None))
    item = Appointment(uid="r", start=start, end=end, timezone=zone, recurrence=rule)
    (back,) = ical.parse(ical.serialize(item)).items
    assert unstamped(back) == item


EDITABLE = {
    "subject": ({"SUMMARY"}, text),
    "location": ({"LOCATION"}, st.one_of(st.none(), text)),
    "body": ({"DESCRIPTION"}, st.one_of(st.none(), text)),
    "body_html": ({"X-ALT-DESC"}, st.one_of(st.none(), text)),
    "status": ({"STATUS"}, st.sampled_from(AppointmentStatus)),
    "busy_status": (
        {"TRANSP", "X-MICROSOFT-CDO-BUSYSTATUS", "X-MICROSOFT-CDO-INTENDEDSTATUS"},
        st.sampled_from(BusyStatus),
    ),
    "sensitivity": ({"CLASS"}, st.sampled_from(Sensitivity)),
    "importance": ({"PRIORITY"}, st.sampled_from(Importance)),
    "organizer": ({"ORGANIZER"}, organizers),
    "attendees": ({"ATTENDEE"}, attendees),
    "categories": ({"CATEGORIES"}, categories),
    "attachments": ({"ATTACH"}, attachments),
    "url": ({"URL"}, st.one_of(st.none(), line_text)),
    "sequence": ({"SEQUENCE"}, st.integers(0, 1000)),
    "created": ({"CREATED"}, optional_stamp),
    "last_modified": ({"LAST-MODIFIED"}, optional_stamp),
}


def names_and_lines(data: bytes) -> list[tuple[str, str]]:
    """(property name, unfolded line) for each content line outside VALARMs."""
    out: list[tuple[str, str]] = []
    depth = 0
    for line in re.sub(rb"\r\n[ \t]", b"", data).decode("utf-8").split("\r\n"):
        if line == "BEGIN:VALARM":
            depth += 1
        if not depth and line:
            out.append((re.split("[;:]", line, maxsplit=1)[0].upper(), line))
        if line == "END:VALARM":
            depth -= 1
    return out


@settings(max_examples=200, deadline=None)
@given(appointments(overrides=False), st.sampled_from(sorted(EDITABLE)), st.data())
def test_an_edit_changes_only_the_lines_of_its_field(
    item: Appointment, field: str, data: st.DataObject
) -> None:
    """After editing one field of a parsed item, every line of the other fields is kept
    where it was, and the result reads back as the edited model."""
    original = ical.serialize(item)
    (parsed,) = ical.parse(original).items
    touched, values = EDITABLE[field]
    edited = attrs.evolve(parsed, **{field: data.draw(values)})
    written = ical.serialize(edited, original=original)
    (back,) = ical.parse(written).items
    assert back == edited
    keep = [entry for entry in names_and_lines(original) if entry[0] not in touched]
    assert [entry for entry in names_and_lines(written) if entry[0] not in touched] == keep


@settings(max_examples=100, deadline=None)
@given(appointments(overrides=False), reminders)
def test_editing_reminders_keeps_the_rest(item: Appointment, new: list[Reminder]) -> None:
    """New reminders change only VALARM components; the event's own lines stay."""
    original = ical.serialize(item)
    (parsed,) = ical.parse(original).items
    written = ical.serialize(attrs.evolve(parsed, reminders=new), original=original)
    (back,) = ical.parse(written).items
    assert back.reminders == tuple(new)
    assert names_and_lines(written) == names_and_lines(original)
