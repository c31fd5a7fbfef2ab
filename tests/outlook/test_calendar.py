"""Appointments and tasks on MAPI properties: exact round trips, the properties written
(as MS-OXOCAL and MS-OXOTASK say), property sets as Outlook writes them, recurring series
with changed and deleted occurrences, meeting messages, and hostile input."""

from __future__ import annotations

import base64
import collections
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.formats.test_ical_properties import appointments, differences, tasks
from tests.outlook.test_recur import SPEC_WEEKLY, canonical_rules

from openprotocols.errors import InvalidItemError
from openprotocols.formats import ical
from openprotocols.model import (
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
    ResponseStatus,
    Sensitivity,
    Task,
    TaskStatus,
)
from openprotocols.outlook import PropertySet, from_mapi, to_mapi
from openprotocols.outlook import props as p
from openprotocols.outlook._calendar import (
    EXCEPTION_CLASS,
    PidNameCalendarException,
    PidNameCalendarFields,
    PidNameCalendarFloating,
    PidNameCalendarRecipient,
    global_object_id,
    uid_of_global_object_id,
)
from openprotocols.outlook._mapping import PidNameOpenProtocolsExtended
from openprotocols.outlook._recur import (
    ARO_BUSYSTATUS,
    AppointmentRecurrencePattern,
    ExceptionInfo,
    RecurrencePattern,
    date_of,
    minutes_of,
)
from openprotocols.outlook._tzstruct import TZDefinition, TZStruct, rules_for

BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def round_trips(item: Any) -> None:
    """The item comes back equal, and writing it again gives the same properties."""
    props = to_mapi(item)
    back = from_mapi(props)
    assert differences(back, item) == []
    assert to_mapi(back) == props


# -- round trips -------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(appointments(), tasks()))
def test_every_field_round_trips(item: Appointment | Task) -> None:
    """Model → MAPI → model is identity on every field, overrides and extended included."""
    round_trips(item)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(appointments(), tasks()))
def test_items_from_icalendar_round_trip(item: Appointment | Task) -> None:
    """What the iCalendar codec reads goes through MAPI unchanged."""
    (parsed,) = ical.parse(ical.serialize(item)).items
    round_trips(parsed)


ODD_ZONES = [
    # (timezone as written, tzinfo of the times or None for floating)
    ("W. Europe Standard Time", BERLIN),  # a Windows name, as Outlook and Exchange write
    ("Asia/Calcutta", ZoneInfo("Asia/Calcutta")),  # an IANA alias
    ("Europe/Amsterdam", ZoneInfo("Europe/Amsterdam")),
    ("My Own Zone", None),  # a TZID nobody knows, whose times read as floating
    ("Europe/Berlin", None),  # floating times with a zone named
    (None, UTC),
]
ODD_RULES = [
    "FREQ=DAILY;BYHOUR=9,17",
    "FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU",
    "FREQ=MONTHLY;BYDAY=2TU",
    "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
    "FREQ=WEEKLY;UNTIL=20261231T235959Z",
    "FREQ=DAILY;COUNT=5;UNTIL=20260101",
    "not a rule at all",
]


@st.composite
def odd_appointments(draw: st.DrawFn) -> Appointment:
    """Appointments with what Outlook's properties cannot say directly: Windows and unknown
    TZIDs, two zones, RRULEs a pattern cannot hold, RDATEs, several reminders."""
    item = draw(appointments(overrides=False))
    name, zone = draw(st.sampled_from(ODD_ZONES))
    start = datetime(2025, 3, 1, 9, 30) + timedelta(hours=draw(st.integers(0, 24 * 400)))
    end = start + timedelta(minutes=draw(st.integers(0, 3000)))
    end_zone = draw(st.sampled_from([None, "America/New_York"])) if zone is not None else None
    item = attrs.evolve(
        item,
        start=start.replace(tzinfo=zone),
        end=end.replace(tzinfo=ZoneInfo(end_zone) if end_zone else zone),
        timezone=name,
        end_timezone=end_zone,
    )
    rule, _ = draw(canonical_rules())
    rule = draw(st.sampled_from([*ODD_RULES, rule]))
    offsets = draw(st.lists(st.integers(1, 300), max_size=3))
    recurrence = Recurrence(
        rule=rule,
        rdates=[item.start + timedelta(days=d, hours=1) for d in offsets],
        exdates=[item.start + timedelta(days=d) for d in offsets],
    )
    item = attrs.evolve(item, recurrence=recurrence)
    for offset in draw(st.sets(st.integers(1, 40), max_size=2)):
        occurrence = attrs.evolve(
            item,
            recurrence=None,
            overrides=(),
            subject=f"moved {offset}",
            start=item.start + timedelta(days=offset, hours=2),
            end=item.end + timedelta(days=offset, hours=2),
            recurrence_id=item.start + timedelta(days=offset),
        )
        item = item.with_override(occurrence)
    return item


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_appointments())
def test_what_outlook_cannot_say_round_trips_too(item: Appointment) -> None:
    round_trips(item)


# -- the properties written --------------------------------------------------------------


def meeting() -> Appointment:
    return Appointment(
        uid="040000008200E00074C5B7101A82E00800000000E040C9C12685C4010000000000000000"
        "100000000BF0ED4B6E4EE94E9E39E3867B378EF3",  # an Outlook UID
        subject="Planning",
        location="Room 1",
        body="Agenda",
        start=datetime(2025, 3, 4, 10, tzinfo=BERLIN),
        end=datetime(2025, 3, 4, 11, 30, tzinfo=BERLIN),
        timezone="W. Europe Standard Time",
        busy_status=BusyStatus.OUT_OF_OFFICE,
        sensitivity=Sensitivity.PRIVATE,
        importance=Importance.HIGH,
        categories=("Work", "Q1"),
        reminders=[Reminder.minutes_before(30)],
        organizer=Organizer("ann@example.org", "Ann"),
        attendees=[
            Attendee("bob@example.org", "Bob", response=ResponseStatus.ACCEPTED, rsvp=True),
            Attendee(
                "cy@example.org", role=AttendeeRole.OPTIONAL, response=ResponseStatus.DECLINED
            ),
            Attendee("room@example.org", "Room 1", type=AttendeeType.ROOM),
        ],
        attachments=[Attachment(filename="a.txt", content_type="text/plain", data=b"hi")],
        sequence=3,
        status=AppointmentStatus.CANCELLED,
    )


def test_a_meeting_is_written_as_outlook_writes_it() -> None:
    props = to_mapi(meeting())
    start, end = datetime(2025, 3, 4, 9, tzinfo=UTC), datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    for key in (
        p.PidLidAppointmentStartWhole,
        p.PidTagStartDate,
        p.PidLidCommonStart,
        p.PidLidClipStart,
    ):
        assert props[key] == start
    for key in (p.PidLidAppointmentEndWhole, p.PidTagEndDate, p.PidLidCommonEnd, p.PidLidClipEnd):
        assert props[key] == end
    assert props[p.PidTagMessageClass] == "IPM.Appointment"
    assert props[p.PidLidAppointmentDuration] == 90
    assert props[p.PidLidAppointmentSubType] is False
    assert props[p.PidLidLocation] == "Room 1"
    assert props[p.PidLidBusyStatus] == 3  # olOutOfOffice
    assert props[p.PidLidAppointmentStateFlags] == 0x1 | 0x4  # asfMeeting | asfCanceled
    assert (props[p.PidTagSensitivity], props[p.PidLidPrivate]) == (2, True)
    assert props[p.PidTagImportance] == 2
    assert props[p.PidNameKeywords] == ("Work", "Q1")
    assert props[p.PidLidAppointmentSequence] == 3
    assert (props[p.PidLidReminderSet], props[p.PidLidReminderDelta]) == (True, 30)
    assert props[p.PidLidReminderSignalTime] == start - timedelta(minutes=30)
    assert props[p.PidTagResponseRequested] is True
    definition = TZDefinition.parse(props[p.PidLidAppointmentTimeZoneDefinitionStartDisplay], "x")
    assert definition.key_name == "W. Europe Standard Time"
    assert p.PidLidAppointmentRecur not in props
    assert props[p.PidLidRecurring] is False
    goid = props[p.PidLidGlobalObjectId]
    assert goid == props[p.PidLidCleanGlobalObjectId] == bytes.fromhex(meeting().uid)
    organizer, bob, cy, room = props.recipients
    assert (organizer[p.PidTagRecipientFlags], organizer[p.PidTagRecipientType]) == (0x3, 1)
    assert organizer[p.PidTagSmtpAddress] == "ann@example.org"
    assert organizer[p.PidTagDisplayName] == "Ann"
    assert (bob[p.PidTagRecipientType], bob[p.PidTagRecipientTrackStatus]) == (1, 3)
    assert (cy[p.PidTagRecipientType], cy[p.PidTagRecipientTrackStatus]) == (2, 4)
    assert room[p.PidTagRecipientType] == 3  # a resource goes in Bcc
    assert all(row[p.PidTagAddressType] == "SMTP" for row in props.recipients)
    (attachment,) = props.attachments
    assert attachment[p.PidTagAttachMethod] == 1
    assert attachment[p.PidTagAttachDataBinary] == b"hi"
    assert attachment[p.PidTagAttachLongFilename] == "a.txt"
    assert attachment[p.PidTagAttachMimeTag] == "text/plain"
    assert PidNameCalendarFields not in props  # every field came back from Outlook's own
    assert json.loads(room[PidNameCalendarRecipient])["party"]["value"]["type"] == "room"
    round_trips(meeting())


def test_an_all_day_appointment_is_midnight_to_midnight_in_its_zone() -> None:
    item = Appointment(
        uid="a", start=date(2025, 7, 1), end=date(2025, 7, 3), timezone="Europe/Berlin"
    )
    props = to_mapi(item)
    assert props[p.PidLidAppointmentSubType] is True
    assert props[p.PidLidAppointmentStartWhole] == datetime(2025, 6, 30, 22, tzinfo=UTC)
    assert props[p.PidLidAppointmentEndWhole] == datetime(2025, 7, 2, 22, tzinfo=UTC)
    assert props[p.PidLidAppointmentDuration] == 2 * 1440
    round_trips(item)
    without_zone = attrs.evolve(item, timezone=None)  # midnight UTC, no zone written
    props = to_mapi(without_zone)
    assert props[p.PidLidAppointmentStartWhole] == datetime(2025, 7, 1, tzinfo=UTC)
    assert p.PidLidAppointmentTimeZoneDefinitionStartDisplay not in props
    round_trips(without_zone)


def test_floating_times_are_wall_clock_times_of_the_zone() -> None:
    item = Appointment(uid="f", start=datetime(2025, 1, 1, 8), end=datetime(2025, 1, 1, 9))
    props = to_mapi(item)
    assert props[PidNameCalendarFloating] is True
    assert props[p.PidLidAppointmentStartWhole] == datetime(2025, 1, 1, 8, tzinfo=UTC)
    assert from_mapi(props).start == datetime(2025, 1, 1, 8)
    round_trips(item)


def test_the_exact_tzid_is_kept_beside_the_windows_name() -> None:
    item = attrs.evolve(meeting(), timezone="Europe/Berlin", status=AppointmentStatus.CONFIRMED)
    props = to_mapi(item)
    definition = TZDefinition.parse(props[p.PidLidAppointmentTimeZoneDefinitionStartDisplay], "x")
    assert definition.key_name == "W. Europe Standard Time"
    kept = json.loads(props[PidNameCalendarFields])["timezone"]
    assert kept == {"basis": "W. Europe Standard Time", "value": "Europe/Berlin"}
    assert from_mapi(props).timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("goid", "uid"),
    [
        # MS-ASEMAIL §4.3 example 1: an Outlook id, exported as hexadecimal without the
        # instance date
        (
            "BAAAAIIA4AB0xbcQGoLgCAfUCRDgQMnBJoXEAQAAAAAAAAAAEAAAAAvw7UtuTulOnjnjhns3jvM=",
            "040000008200E00074C5B7101A82E00800000000E040C9C12685C4010000000000000000"
            "100000000BF0ED4B6E4EE94E9E39E3867B378EF3",
        ),
        # example 2: a "vCal-Uid" id holding another program's UID
        (
            "BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAAAAAAMwAAAHZDYWwtVWlkAQAAAHs4MTQxMkQz"
            "Qy0yQTI0LTRFOUQtQjIwRS0xMUY3QkJFOTI3OTl9AA==",
            "{81412D3C-2A24-4E9D-B20E-11F7BBE92799}",
        ),
    ],
)
def test_global_object_ids_and_uids(goid: str, uid: str) -> None:
    """Both directions of MS-OXCICAL's UID rule, on the MS-ASEMAIL examples."""
    blob = base64.b64decode(goid)
    assert uid_of_global_object_id(blob) == uid
    clean = blob[:16] + bytes(4) + blob[20:]
    assert global_object_id(uid) == clean
    assert global_object_id(uid, date(2004, 9, 16))[16:20] == bytes.fromhex("07D40910")


@pytest.mark.parametrize(
    "uid", ["", "a\x00b", "lowercase040000008200e00074c5b7101a82e008", "x" * 300]
)
def test_any_other_uid_survives_in_the_vcal_form(uid: str) -> None:
    blob = global_object_id(uid)
    assert blob[40:52] == b"vCal-Uid\x01\x00\x00\x00"
    assert int.from_bytes(blob[36:40], "little") == len(blob) - 40
    assert uid_of_global_object_id(blob) == uid


# -- as Outlook writes them ----------------------------------------------------------------


def _definition(zone: ZoneInfo, key: str, *, recur: bool = False) -> bytes:
    return TZDefinition(key_name=key, rules=rules_for(zone, 2025, recur=recur)).to_bytes()


def outlook_meeting() -> PropertySet:
    """A meeting as Outlook keeps it in an attendee's calendar (not yet answered)."""
    start, end = datetime(2025, 3, 4, 9, tzinfo=UTC), datetime(2025, 3, 4, 10, tzinfo=UTC)
    props = PropertySet(
        {
            p.PidTagMessageClass: "IPM.Appointment",
            p.PidTagSubject: "Planning",
            p.PidTagBody: "Agenda\r\n",
            p.PidLidLocation: "Room 1",
            p.PidLidAppointmentStartWhole: start,
            p.PidLidAppointmentEndWhole: end,
            p.PidTagStartDate: start,
            p.PidTagEndDate: end,
            p.PidLidCommonStart: start,
            p.PidLidCommonEnd: end,
            p.PidLidClipStart: start,
            p.PidLidClipEnd: end,
            p.PidLidAppointmentDuration: 60,
            p.PidLidAppointmentSubType: False,
            p.PidLidAppointmentTimeZoneDefinitionStartDisplay: _definition(
                BERLIN, "W. Europe Standard Time"
            ),
            p.PidLidAppointmentTimeZoneDefinitionEndDisplay: _definition(
                BERLIN, "W. Europe Standard Time"
            ),
            p.PidLidTimeZoneDescription: "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm",
            p.PidLidBusyStatus: 1,
            p.PidLidIntendedBusyStatus: 2,
            p.PidLidAppointmentStateFlags: 0x3,  # a meeting, received
            p.PidLidResponseStatus: 5,  # not responded
            p.PidLidFInvited: True,
            p.PidLidReminderSet: True,
            p.PidLidReminderDelta: 15,
            p.PidLidReminderTime: start,
            p.PidLidReminderSignalTime: start - timedelta(minutes=15),
            p.PidLidGlobalObjectId: bytes.fromhex(meeting().uid),
            p.PidLidCleanGlobalObjectId: bytes.fromhex(meeting().uid),
            p.PidTagSensitivity: 0,
            p.PidLidPrivate: False,
            p.PidTagImportance: 1,
            p.PidNameKeywords: ("Work",),
            p.PidLidAppointmentSequence: 2,
            p.PidTagResponseRequested: True,
            p.PidLidRecurring: False,
            p.PidLidRecurrencePattern: "",
            p.PidLidAppointmentColor: 3,
            p.PidTagCreationTime: datetime(2025, 2, 1, 12, tzinfo=UTC),
        }
    )
    people = [
        ("Ann", "ann@example.org", 1, 0x3, None),
        ("Bob", "bob@example.org", 1, 0x1, 3),
        ("Cy", "cy@example.org", 2, 0x1, 0),
        ("Room 1", "room@example.org", 3, 0x1, 2),
    ]
    for name, address, kind, flags, track in people:
        row = PropertySet(
            {
                p.PidTagDisplayName: name,
                p.PidTagEmailAddress: address,
                p.PidTagAddressType: "SMTP",
                p.PidTagSmtpAddress: address,
                p.PidTagRecipientType: kind,
                p.PidTagRecipientFlags: flags,
                p.PidTagRecipientOrder: len(props.recipients),
            }
        )
        if track is not None:
            row[p.PidTagRecipientTrackStatus] = track
        props.recipients.append(row)
    return props


def test_an_outlook_meeting_reads_from_its_standard_properties() -> None:
    item = from_mapi(outlook_meeting())
    assert isinstance(item, Appointment)
    assert item.uid == meeting().uid
    assert (item.subject, item.location, item.body) == ("Planning", "Room 1", "Agenda\r\n")
    assert item.start == datetime(2025, 3, 4, 10, tzinfo=BERLIN)
    assert item.start.tzinfo == BERLIN
    assert item.timezone == "W. Europe Standard Time"
    assert item.end == datetime(2025, 3, 4, 11, tzinfo=BERLIN)
    assert item.end_timezone is None
    assert item.busy_status is BusyStatus.TENTATIVE
    assert item.status is AppointmentStatus.CONFIRMED
    assert item.reminders == (Reminder.minutes_before(15),)
    assert item.categories == ("Work",)
    assert item.sequence == 2
    assert item.created == datetime(2025, 2, 1, 12, tzinfo=UTC)
    assert item.organizer == Organizer("ann@example.org", "Ann")
    assert item.attendees == (
        Attendee("bob@example.org", "Bob", response=ResponseStatus.ACCEPTED, rsvp=True),
        Attendee("cy@example.org", "Cy", role=AttendeeRole.OPTIONAL, rsvp=True),
        Attendee(
            "room@example.org",
            "Room 1",
            type=AttendeeType.RESOURCE,
            response=ResponseStatus.TENTATIVE,
            rsvp=True,
        ),
    )
    carried = {line.param("ID") for line in item.extended.properties}
    assert {"0x8214", "0x8218", "0x8224", "0x8229", "0x8234"} <= carried  # Outlook's own


def test_an_outlook_meeting_keeps_every_property() -> None:
    """to_mapi(from_mapi(props)) gives Outlook's properties back, with Outlook's values
    (the meeting stays a received one: asfReceived comes from the carried response)."""
    props = outlook_meeting()
    again = to_mapi(from_mapi(props))
    for key, value in props.items():
        assert again.get(key) == value, p.NAMES.get(key, key)
    for row, row_again in zip(props.recipients, again.recipients, strict=True):
        assert all(row_again.get(key) == value for key, value in row.items())
    assert set(again) - set(props) == {PidNameOpenProtocolsExtended}  # the carried ones' order


def outlook_series() -> PropertySet:
    """The weekly series of MS-OXOCAL §4.1.1.2 as Outlook keeps it in Los Angeles: the
    4/16 occurrence moved (with an exception attachment whose message holds only what
    changed), the 4/19 one deleted, and the 4/26 one made free (no attachment: its
    message is missing, as in a damaged file)."""
    blob = AppointmentRecurrencePattern.parse(SPEC_WEEKLY)
    free = ExceptionInfo(
        start=minutes_of(date(2007, 4, 26)) + 600,
        end=minutes_of(date(2007, 4, 26)) + 630,
        original_start=minutes_of(date(2007, 4, 26)) + 600,
        flags=ARO_BUSYSTATUS,
        busy_status=0,
    )
    deleted = (
        minutes_of(date(2007, 4, 16)),
        minutes_of(date(2007, 4, 19)),
        minutes_of(date(2007, 4, 26)),
    )
    pattern = attrs.evolve(blob.pattern, deleted=deleted, modified=(deleted[0], deleted[2]))
    blob = attrs.evolve(blob, pattern=pattern, exceptions=(*blob.exceptions, free))
    start = datetime(2007, 3, 26, 17, tzinfo=UTC)  # 10:00 in Los Angeles
    key = "Pacific Standard Time"
    props = PropertySet(
        {
            p.PidTagMessageClass: "IPM.Appointment",
            p.PidTagSubject: "Simple Recurrence",
            p.PidLidLocation: "34/4639",
            p.PidTagBody: "Weekly sync",
            p.PidLidAppointmentStartWhole: start,
            p.PidLidAppointmentEndWhole: start + timedelta(minutes=30),
            p.PidLidAppointmentSubType: False,
            p.PidLidBusyStatus: 2,
            p.PidLidReminderSet: True,
            p.PidLidReminderDelta: 15,
            p.PidLidAppointmentRecur: blob.to_bytes(),
            p.PidLidRecurring: True,
            p.PidLidAppointmentTimeZoneDefinitionStartDisplay: _definition(LOS_ANGELES, key),
            p.PidLidAppointmentTimeZoneDefinitionRecur: _definition(LOS_ANGELES, key, recur=True),
            p.PidLidTimeZoneStruct: TZStruct.of(
                TZDefinition.parse(_definition(LOS_ANGELES, key, recur=True), "x").effective()
            ).to_bytes(),
            p.PidLidGlobalObjectId: global_object_id("weekly-sync"),
        }
    )
    props.recipients.append(
        PropertySet(
            {
                p.PidTagDisplayName: "Ann",
                p.PidTagSmtpAddress: "ann@example.org",
                p.PidTagRecipientFlags: 3,
            }
        )
    )
    moved = PropertySet(
        {
            p.PidTagMessageClass: EXCEPTION_CLASS,
            p.PidTagSubject: "Simple Recurrence with exceptions",
            p.PidLidLocation: "34/4141",
            p.PidLidAppointmentStartWhole: datetime(2007, 4, 16, 18, tzinfo=UTC),
            p.PidLidAppointmentEndWhole: datetime(2007, 4, 16, 18, 30, tzinfo=UTC),
            p.PidLidExceptionReplaceTime: datetime(2007, 4, 16, 17, tzinfo=UTC),
            p.PidLidAppointmentColor: 5,  # Outlook's own: carried in the override's extended
        }
    )
    props.attachments.append(
        PropertySet(
            {
                p.PidTagAttachMethod: 5,
                p.PidTagAttachmentFlags: 0x2,
                p.PidTagAttachmentHidden: True,
                p.PidTagExceptionStartTime: datetime(2007, 4, 16, 11, tzinfo=UTC),
                p.PidTagExceptionEndTime: datetime(2007, 4, 16, 11, 30, tzinfo=UTC),
                p.PidTagExceptionReplaceTime: datetime(2007, 4, 16, 17, tzinfo=UTC),
                p.PidTagRenderingPosition: -1,
            },
            embedded=moved,
        )
    )
    return props


def test_an_outlook_series_with_changed_and_deleted_occurrences() -> None:
    series = from_mapi(outlook_series())
    assert isinstance(series, Appointment)
    assert series.uid == "weekly-sync"
    assert series.timezone == "Pacific Standard Time"
    assert series.start == datetime(2007, 3, 26, 10, tzinfo=LOS_ANGELES)
    assert series.recurrence == Recurrence(
        rule="FREQ=WEEKLY;COUNT=12;BYDAY=MO,TH,FR;WKST=SU",
        exdates=[datetime(2007, 4, 19, 10, tzinfo=LOS_ANGELES)],
    )
    moved, free = series.overrides
    assert moved.recurrence_id == datetime(2007, 4, 16, 10, tzinfo=LOS_ANGELES)
    assert moved.start == datetime(2007, 4, 16, 11, tzinfo=LOS_ANGELES)
    assert (moved.subject, moved.location) == ("Simple Recurrence with exceptions", "34/4141")
    assert moved.body == "Weekly sync"  # left to the series
    assert moved.reminders == (Reminder.minutes_before(15),)
    assert moved.organizer == Organizer("ann@example.org", "Ann")
    assert [line.param("ID") for line in moved.extended.properties] == ["0x8214"]
    assert free.recurrence_id == free.start == datetime(2007, 4, 26, 10, tzinfo=LOS_ANGELES)
    assert (free.subject, free.busy_status) == ("Simple Recurrence", BusyStatus.FREE)
    round_trips(series)


def test_an_outlook_series_keeps_its_blob() -> None:
    """Written back, the pattern and the changed occurrences are Outlook's, byte for byte;
    the occurrence whose message was missing gets one."""
    props = outlook_series()
    again = to_mapi(from_mapi(props))
    assert again[p.PidLidAppointmentRecur] == props[p.PidLidAppointmentRecur]
    assert again[p.PidLidTimeZoneStruct] == props[p.PidLidTimeZoneStruct]
    first, second = again.attachments
    assert first.embedded is not None
    assert second.embedded is not None
    assert first.embedded[p.PidLidAppointmentColor] == 5
    assert first[p.PidTagRenderingPosition] == -1
    assert first.embedded[PidNameCalendarException] is True
    assert second[p.PidTagExceptionReplaceTime] == datetime(2007, 4, 26, 17, tzinfo=UTC)


def test_an_edit_made_in_outlook_wins_over_a_kept_value() -> None:
    """The kept TZID and RRULE hold only while Outlook's properties still say their basis."""
    item = Appointment(
        uid="e",
        start=datetime(2025, 3, 3, 9, tzinfo=BERLIN),
        end=datetime(2025, 3, 3, 10, tzinfo=BERLIN),
        timezone="Europe/Berlin",
        recurrence=Recurrence(rule="FREQ=WEEKLY;BYDAY=MO;BYHOUR=9"),
    )
    props = to_mapi(item)
    kept = json.loads(props[PidNameCalendarFields])
    assert kept["rule"] == {
        "basis": "FREQ=WEEKLY;BYDAY=MO",
        "value": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9",
    }
    assert from_mapi(props) == item
    # the user moves the series to London time and makes it daily, in Outlook
    london = ZoneInfo("Europe/London")
    props[p.PidLidAppointmentTimeZoneDefinitionStartDisplay] = _definition(
        london, "GMT Standard Time"
    )
    props[p.PidLidAppointmentTimeZoneDefinitionEndDisplay] = _definition(
        london, "GMT Standard Time"
    )
    blob = AppointmentRecurrencePattern.parse(props[p.PidLidAppointmentRecur])
    daily = attrs.evolve(
        blob.pattern,
        frequency=0x200A,
        pattern_type=0,
        period=1440,
        days=0,
        first_date_time=0,
        first_dow=0,
    )
    props[p.PidLidAppointmentRecur] = attrs.evolve(blob, pattern=daily).to_bytes()
    edited = from_mapi(props)
    assert edited.timezone == "GMT Standard Time"
    assert edited.start.tzinfo == london
    assert edited.recurrence is not None
    assert edited.recurrence.rule == "FREQ=DAILY"


def test_a_rule_a_pattern_cannot_say_is_kept_and_outlook_gets_the_closest() -> None:
    item = Appointment(
        uid="r",
        start=datetime(2025, 1, 1, 9, tzinfo=UTC),
        end=datetime(2025, 1, 1, 10, tzinfo=UTC),
        recurrence=Recurrence(
            rule="FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1;COUNT=6",
            rdates=[datetime(2025, 5, 5, 9, tzinfo=UTC)],
        ),
    )
    props = to_mapi(item)
    pattern = AppointmentRecurrencePattern.parse(props[p.PidLidAppointmentRecur]).pattern
    assert (pattern.frequency, pattern.day_of_month, pattern.occurrence_count) == (0x200D, 1, 6)
    assert date_of(pattern.end_date).date() == date(2030, 1, 1)
    assert from_mapi(props) == item


# -- meeting messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message_class", "response"),
    [
        ("IPM.Schedule.Meeting.Resp.Pos", ResponseStatus.ACCEPTED),
        ("IPM.Schedule.Meeting.Resp.Neg", ResponseStatus.DECLINED),
        ("IPM.Schedule.Meeting.Resp.Tent", ResponseStatus.TENTATIVE),
    ],
)
def test_a_meeting_response_answers_for_its_sender(
    message_class: str, response: ResponseStatus
) -> None:
    props = outlook_meeting()
    props[p.PidTagMessageClass] = message_class
    props[p.PidTagSentRepresentingSmtpAddress] = "CY@example.org"
    props[p.PidTagSentRepresentingName] = "Cy"
    item = from_mapi(props)
    assert item.attendee("cy@example.org").response is response
    props[p.PidTagSentRepresentingSmtpAddress] = "dee@example.org"
    assert from_mapi(props).attendees[-1] == Attendee("dee@example.org", "Cy", response=response)


def test_meeting_requests_and_cancellations_read_as_appointments() -> None:
    props = outlook_meeting()
    props[p.PidTagMessageClass] = "IPM.Schedule.Meeting.Request"
    assert from_mapi(props).status is AppointmentStatus.CONFIRMED
    props[p.PidTagMessageClass] = "IPM.Schedule.Meeting.Canceled"
    cancelled = from_mapi(props)
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert to_mapi(cancelled)[p.PidLidAppointmentStateFlags] & 0x4


# -- tasks -----------------------------------------------------------------------------------


def test_a_task_is_written_as_outlook_writes_it() -> None:
    task = Task(
        uid="6f1c1c3e-2b0f-4d7a-9a51-0e9b5b0c7d11",
        subject="Report",
        start=date(2025, 4, 1),
        due=date(2025, 4, 4),
        status=TaskStatus.IN_PROGRESS,
        percent_complete=40,
        priority=1,
        reminders=[Reminder(trigger=datetime(2025, 4, 3, 8, tzinfo=UTC))],
        recurrence=Recurrence(rule="FREQ=WEEKLY;BYDAY=TU"),
    )
    props = to_mapi(task)
    assert props[p.PidTagMessageClass] == "IPM.Task"
    assert props[p.PidLidTaskStatus] == 1
    assert props[p.PidLidPercentComplete] == 0.4
    assert props[p.PidLidTaskComplete] is False
    assert props[p.PidLidTaskStartDate] == datetime(2025, 4, 1, tzinfo=UTC)
    assert props[p.PidLidTaskDueDate] == datetime(2025, 4, 4, tzinfo=UTC)
    assert props[p.PidTagImportance] == 2
    assert (props[p.PidLidReminderSet], props[p.PidLidReminderTime]) == (
        True,
        datetime(2025, 4, 3, 8, tzinfo=UTC),
    )
    assert props[p.PidLidTaskGlobalId] == bytes.fromhex("6f1c1c3e2b0f4d7a9a510e9b5b0c7d11")
    pattern = RecurrencePattern.parse(props[p.PidLidTaskRecurrence])
    assert (pattern.frequency, pattern.days, props[p.PidLidTaskFRecurring]) == (0x200B, 0x04, True)
    assert PidNameCalendarFields not in props  # all of it came back from Outlook's properties
    round_trips(task)


def test_an_outlook_task_reads() -> None:
    props = PropertySet(
        {
            p.PidTagMessageClass: "IPM.Task",
            p.PidTagSubject: "Call back",
            p.PidLidTaskStatus: 2,
            p.PidLidTaskComplete: True,
            p.PidLidPercentComplete: 1.0,
            p.PidLidTaskDueDate: datetime(2025, 5, 2, tzinfo=UTC),
            p.PidLidTaskDateCompleted: datetime(2025, 5, 1, tzinfo=UTC),
            p.PidTagImportance: 0,
            p.PidLidTaskMode: 0,
            p.PidTagSearchKey: b"\x01\x02",
        }
    )
    task = from_mapi(props)
    assert task == Task(
        uid="0102",
        subject="Call back",
        due=date(2025, 5, 2),
        status=TaskStatus.COMPLETED,
        percent_complete=100,
        completed=datetime(2025, 5, 1, tzinfo=UTC),
        priority=9,
        extended=task.extended,
    )
    assert [line.param("ID") for line in task.extended.properties] == ["0x8518"]  # TaskMode


# -- hostile input ---------------------------------------------------------------------------


def _broken(change: Callable[[PropertySet], None]) -> PropertySet:
    props = to_mapi(meeting())
    change(props)
    return props


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s.__setitem__(p.PidLidAppointmentRecur, SPEC_WEEKLY[:50]),
            "PidLidAppointmentRecur",
        ),
        (
            lambda s: s.__setitem__(p.PidLidAppointmentTimeZoneDefinitionStartDisplay, b"\x02\x01"),
            "StartDisplay",
        ),
        (lambda s: s.__setitem__(p.PidLidTimeZoneStruct, b"\x00" * 10), "PidLidTimeZoneStruct"),
        (lambda s: s.__setitem__(PidNameCalendarFields, "{not json"), "CalendarFields"),
        (
            lambda s: s.__setitem__(
                PidNameCalendarFields, '{"status": {"basis": "cancelled", "value": "nope"}}'
            ),
            "status",
        ),
        (lambda s: s.__delitem__(p.PidLidAppointmentStartWhole), "no start"),
    ],
)
def test_malformed_properties_are_invalid_items(
    change: Callable[[PropertySet], None], message: str
) -> None:
    props = _broken(change)
    if message == "no start":
        for key in (p.PidLidCommonStart, p.PidTagStartDate):
            del props[key]
    with pytest.raises(InvalidItemError, match=message):
        from_mapi(props)


# -- a real Outlook calendar -------------------------------------------------------------------


def test_the_appointments_of_an_outlook_com_calendar(outlook_file: Callable[[str], Path]) -> None:
    """The 160 holidays of holidays.ost (Exchange Online): every one reads, the recurring
    ones as yearly rules, and writing them back keeps every property but the recomputed
    time-zone rules (see docs/outlook.md) and what the store assigns."""
    pst = pytest.importorskip("openprotocols.outlook.pst")
    recomputed = {
        p.PidLidAppointmentTimeZoneDefinitionStartDisplay,
        p.PidLidAppointmentTimeZoneDefinitionEndDisplay,
        p.PidLidAppointmentTimeZoneDefinitionRecur,
        p.PidLidRecurrencePattern,
        p.PidTagInternetCodepage,
        p.PidTagMessageSize,
        p.PidTagSearchKey,
    }
    counts: collections.Counter[str] = collections.Counter()
    with pst.open_pst(outlook_file("holidays.ost")) as archive:
        for folder in archive.folders():
            for _, props in archive.properties(folder):
                assert isinstance(props, PropertySet)
                if not (props.text(p.PidTagMessageClass) or "").startswith("IPM.Appointment"):
                    continue
                item = from_mapi(props)
                assert isinstance(item, Appointment)
                assert item.all_day
                assert item.timezone == "Mountain Standard Time"
                counts["recurring" if item.recurrence else "single"] += 1
                if item.subject.endswith("Independence Day") and item.recurrence:
                    assert item.recurrence.rule == "FREQ=YEARLY;BYMONTHDAY=4;BYMONTH=7"
                    counts["july"] += 1
                again = to_mapi(item)
                changed = {k for k, v in props.items() if again.get(k) != v}
                assert changed <= recomputed
                assert from_mapi(again) == item
    assert counts == {"single": 147, "recurring": 13, "july": 1}


BLOBS = [
    p.PidLidAppointmentRecur,
    p.PidLidAppointmentTimeZoneDefinitionStartDisplay,
    p.PidLidAppointmentTimeZoneDefinitionRecur,
    p.PidLidTimeZoneStruct,
    p.PidLidGlobalObjectId,
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_damaged_series_is_an_invalid_item_or_an_appointment(data: st.DataObject) -> None:
    """Changed bytes in any blob, or any JSON where a kept field should be: the reader
    gives an appointment or an InvalidItemError, never another exception."""
    props = outlook_series()
    key = data.draw(st.sampled_from(BLOBS))
    blob = bytearray(props[key])
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    props[key] = bytes(blob)
    if data.draw(st.booleans()):
        field = data.draw(
            st.sampled_from(["start", "rule", "exdates", "reminders", "uid", "timezone"])
        )
        derived = json.loads(to_mapi(from_mapi(outlook_series())).get(PidNameCalendarFields, "{}"))
        basis = derived.get(field, {}).get("basis")
        props[PidNameCalendarFields] = json.dumps(
            {field: {"basis": basis, "value": data.draw(json_values)}}
        )
    try:
        item = from_mapi(props)
    except InvalidItemError:
        return
    to_mapi(item)


@pytest.mark.parametrize(
    "item",
    [
        Appointment(uid="a", start=date(1, 1, 1), end=date(1, 1, 2), timezone="Asia/Tokyo"),
        Appointment(
            uid="b", start=date(9999, 12, 30), end=date(9999, 12, 31), timezone="America/New_York"
        ),
        Appointment(
            uid="c",
            start=datetime(1500, 1, 1, tzinfo=UTC),
            end=datetime(1500, 1, 1, tzinfo=UTC),
            recurrence=Recurrence(rule="FREQ=DAILY;COUNT=3"),
            reminders=[Reminder.minutes_before(10**9)],
        ),
        Task(
            uid="t",
            start=date(1, 1, 1),
            due=date(9999, 12, 31),
            completed=datetime(1, 1, 1, tzinfo=UTC),
            reminders=[Reminder(trigger=timedelta(days=-5))],
            recurrence=Recurrence(rule="FREQ=YEARLY"),
        ),
    ],
    ids=["year-1", "year-9999", "before-1601", "task"],
)
def test_times_a_filetime_cannot_hold_are_clamped_and_kept(item: Appointment | Task) -> None:
    """Outlook's times run from 1601 to 9999: the properties hold the nearest, the kept
    fields the item's own."""
    props = to_mapi(item)
    assert all(
        v >= datetime(1601, 1, 2, tzinfo=UTC) for v in props.values() if isinstance(v, datetime)
    )
    round_trips(item)


def test_text_with_a_nul_is_cut_where_mapi_cuts_it_and_kept() -> None:
    """A MAPI string ends at its first NUL; the whole text is a kept field."""
    item = Task(uid="n", subject="to do\x00later", categories=("a\x00b",))
    props = to_mapi(item)
    assert props[p.PidTagSubject] == "to do"
    assert props[p.PidNameKeywords] == ("a",)
    round_trips(item)
