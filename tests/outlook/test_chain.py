"""The whole chain for every item kind: model → MAPI → .msg → MAPI → model → iCalendar or
vCard → model is the identity on every field (extended included), and every property of
every .msg written reads back the same in a second reader, extract-msg (test-only)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import extract_msg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.formats.test_ical_properties import appointments, differences, tasks
from tests.outlook.test_contacts import VCARD_TEXT, VCARD_TIMES, contacts, groups

from openprotocols.formats import ical, vcard
from openprotocols.model import Appointment, Contact, ContactGroup, Recurrence, Task
from openprotocols.outlook import PropertySet, from_mapi, msg, to_mapi
from openprotocols.outlook._propset import filetime
from openprotocols.outlook.props import Named, PropertyKey, PropType

CHAIN = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def through_msg(item: Any) -> Any:
    """model → MAPI → .msg → MAPI → model, checking the properties survive the file."""
    props = to_mapi(item)
    again = msg.read_properties(msg.write_properties(props))
    assert again == props
    return from_mapi(again)


@CHAIN
@given(st.one_of(appointments(), tasks()))
def test_calendar_items_survive_the_chain(item: Appointment | Task) -> None:
    (parsed,) = ical.parse(ical.serialize(item)).items  # an item as a CalDAV server holds it
    back = through_msg(parsed)
    assert differences(back, parsed) == []
    (reread,) = ical.parse(ical.serialize(back)).items
    assert differences(reread, parsed) == []


@CHAIN
@given(
    st.one_of(contacts(VCARD_TEXT, VCARD_TIMES), groups(VCARD_TEXT, VCARD_TIMES)),
    st.sampled_from(["3.0", "4.0"]),
)
def test_contact_items_survive_the_chain(item: Contact | ContactGroup, version: str) -> None:
    parsed = vcard.parse(vcard.serialize(item, version=version)).items[0]
    back = through_msg(parsed)
    assert back == parsed
    assert vcard.parse(vcard.serialize(back, version=version)).items[0] == parsed


def test_a_series_with_changed_and_deleted_occurrences_survives_the_chain() -> None:
    """The recurring meeting of the issue: a moved occurrence, a deleted one, an
    Outlook-only property, through .msg and iCalendar and back."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("America/New_York")
    series = Appointment(
        uid="planning@example.org",
        subject="Planning",
        start=datetime(2026, 1, 5, 10, tzinfo=zone),
        end=datetime(2026, 1, 5, 11, tzinfo=zone),
        timezone="America/New_York",
        recurrence=Recurrence(rule="FREQ=WEEKLY;BYDAY=MO;COUNT=10"),
    )
    moved = Appointment(
        uid=series.uid,
        subject="Planning (moved)",
        start=datetime(2026, 1, 13, 15, tzinfo=zone),
        end=datetime(2026, 1, 13, 16, tzinfo=zone),
        location="Room 2",
        recurrence_id=datetime(2026, 1, 12, 10, tzinfo=zone),
    )
    series = series.with_override(moved).without_occurrence(datetime(2026, 1, 19, 10, tzinfo=zone))
    (series,) = ical.parse(ical.serialize(series)).items  # as a CalDAV server holds it
    props = to_mapi(series)
    addin = Named(
        uuid.UUID("11111111-2222-3333-4444-555555555555"), name="Project", type=PropType.UNICODE
    )
    props[addin] = "Apollo"
    from_outlook = from_mapi(msg.read_properties(msg.write_properties(props)))
    assert from_outlook.overrides[0].subject == "Planning (moved)"
    assert from_outlook.recurrence.exdates == (datetime(2026, 1, 19, 10, tzinfo=zone),)
    (on_server,) = ical.parse(ical.serialize(from_outlook)).items
    assert on_server == from_outlook
    back = msg.read_properties(msg.write(on_server))
    assert back[addin] == "Apollo"
    assert from_mapi(back) == from_outlook


# -- a second reader ---------------------------------------------------------------------


def _extract_msg_value(read: Any, key: PropertyKey) -> Any:
    """What extract-msg reads for one property of the message's own."""
    if isinstance(key, Named):
        name = f"{key.id:04X}" if key.id is not None else key.name
        return read.getNamedProp(name, "{" + str(key.set).upper() + "}")
    prop = read.props.get(f"{key.tag:08X}")
    if prop is not None and hasattr(prop, "value"):
        return prop.value
    found, value = read._getTypedStream(f"__substg1.0_{key.id:04X}", _type=f"{key.type:04X}")
    assert found, key
    return value


def _same(ours: Any, theirs: Any, kind: PropType) -> bool:
    if theirs is None and ours in ("", b""):
        return True  # extract-msg reads an empty stream as no value
    if kind.is_multi:
        return len(ours) == len(theirs) and all(
            _same(a, b, kind.single) for a, b in zip(ours, theirs, strict=True)
        )
    if isinstance(ours, int) and not isinstance(ours, bool) and isinstance(theirs, int):
        bits = {PropType.INT16: 16, PropType.INT32: 32}.get(kind, 64)
        return ours % 2**bits == theirs % 2**bits
    if kind is PropType.GUID:
        return str(ours).lower() in str(theirs).lower() or ours.bytes_le == theirs
    if kind is PropType.SYSTIME:
        return _same_time(ours, theirs)
    return bool(ours == theirs)


def _same_time(ours: datetime, theirs: Any) -> bool:
    if hasattr(theirs, "filetime"):
        # extract-msg reads a time after the year 4500 as a "null date" that is an hour
        # off (it counts from 1970-01-01 01:00), but it keeps the raw ticks
        return bool(filetime(ours) == theirs.filetime)
    return isinstance(theirs, datetime) and ours == theirs.astimezone(UTC)


@CHAIN
@given(
    st.one_of(
        appointments(),
        tasks(),
        contacts(VCARD_TEXT, VCARD_TIMES),
        groups(VCARD_TEXT, VCARD_TIMES),
    )
)
def test_extract_msg_reads_every_property(item: Any) -> None:
    """Every property we write into a .msg, tagged or named, reads back the same in
    extract-msg, with the same numbers of recipients and attachments."""
    props: PropertySet = to_mapi(item)
    with extract_msg.openMsg(msg.write_properties(props), strict=False) as read:
        for key, value in props.items():
            if key.type in (PropType.OBJECT,):
                continue
            theirs = _extract_msg_value(read, key)
            assert _same(value, theirs, key.type), (key, value, theirs)
        assert len(read.recipients) == len(props.recipients)
        assert len(read.attachments) == len(props.attachments)
