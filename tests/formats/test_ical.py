"""The iCalendar codec: field mapping, minimal-diff edits, time zones and bad input."""

from __future__ import annotations

import difflib
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from openprotocols.errors import InvalidItemError, ParseError
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
    RawComponent,
    RawProperty,
    Recurrence,
    Reminder,
    ReminderAction,
    ResponseStatus,
    Sensitivity,
    Task,
    TaskStatus,
)

CORPUS = Path(__file__).parent / "corpus" / "ical"


def load(name: str) -> tuple[bytes, ical.Calendar]:
    """The bytes of a corpus file and the calendar parsed from them."""
    data = (CORPUS / name).read_bytes()
    return data, ical.parse(data)


def lines(data: bytes) -> list[str]:
    """Unfolded content lines of a stream."""
    text = re.sub(r"\r?\n[ \t]", "", data.decode("utf-8"))
    return [line for line in text.splitlines() if line]


def changes(before: bytes, after: bytes) -> tuple[list[str], list[str]]:
    """The content lines removed from and added to ``before``."""
    removed, added = [], []
    for line in difflib.ndiff(lines(before), lines(after)):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def stream(*content: str) -> bytes:
    """A VCALENDAR around ``content`` lines, CRLF-terminated."""
    return "\r\n".join(["BEGIN:VCALENDAR", *content, "END:VCALENDAR", ""]).encode()


def event(**fields: object) -> Appointment:
    """A plain appointment for tests that build their own."""
    values: dict[str, object] = {
        "uid": "t-1",
        "subject": "Test",
        "start": datetime(2026, 5, 4, 9, tzinfo=ZoneInfo("Europe/Berlin")),
        "end": datetime(2026, 5, 4, 10, tzinfo=ZoneInfo("Europe/Berlin")),
        "timezone": "Europe/Berlin",
    }
    values.update(fields)
    return Appointment(**values)  # type: ignore[arg-type]


def tzid(zone: RawComponent) -> str:
    """The TZID of a VTIMEZONE."""
    return next(p.value for p in zone.properties if p.name == "TZID")


def without_stamp(item: Appointment) -> Appointment:
    """``item`` without the DTSTAMP the writer adds to items it did not parse."""
    return attrs.evolve(item, extended=item.extended.without("DTSTAMP"))


# --------------------------------------------------------------------------- mapping


def test_outlook_fields() -> None:
    """Windows zones, the HTML body, CDO busy status, CLASS and PRIORITY are mapped."""
    _, calendar = load("outlook-export.ics")
    meeting, holiday, trip = calendar.items
    assert calendar.method == "PUBLISH"
    assert meeting.timezone == "W. Europe Standard Time"
    assert meeting.start == datetime(2026, 1, 13, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    assert meeting.start.tzinfo == ZoneInfo("Europe/Berlin")
    assert meeting.body is not None
    assert "Hiring; budget, travel" in meeting.body
    assert meeting.body_html is not None
    assert meeting.body_html.startswith("<!DOCTYPE HTML")
    assert meeting.location == "Besprechungsraum 3.14 (Gebäude Süd)"
    assert meeting.subject == "Team-Jour-fixe"
    assert meeting.recurrence is not None
    assert meeting.recurrence.exdates == (
        datetime(2026, 2, 10, 10, tzinfo=ZoneInfo("Europe/Berlin")),
    )
    assert meeting.importance is Importance.NORMAL
    assert meeting.busy_status is BusyStatus.BUSY
    assert meeting.created == datetime(2025, 12, 12, 8, 15, 22, tzinfo=UTC)
    assert meeting.reminders == (Reminder.minutes_before(15, description="Reminder"),)
    assert holiday.all_day
    assert holiday.start == date(2026, 1, 6)
    assert holiday.end == date(2026, 1, 7)
    assert holiday.busy_status is BusyStatus.FREE
    assert holiday.sensitivity is Sensitivity.PRIVATE
    assert holiday.importance is Importance.HIGH
    assert trip.end_timezone == "GMT Standard Time"
    assert trip.end.tzinfo == ZoneInfo("Europe/London")
    assert trip.busy_status is BusyStatus.OUT_OF_OFFICE
    assert trip.sensitivity is Sensitivity.CONFIDENTIAL
    assert trip.importance is Importance.LOW
    assert trip.sequence == 2
    assert trip.reminders[0].trigger == -timedelta(days=1)
    assert [p.name for p in trip.extended.properties] == [
        "DTSTAMP",
        "X-MICROSOFT-CDO-IMPORTANCE",
        "X-MS-OLK-CONFTYPE",
    ]


def test_teams_invitation_fields() -> None:
    """METHOD, the organizer, attendees with all their parameters, and BUSYSTATUS over
    INTENDEDSTATUS."""
    _, calendar = load("teams-invitation.ics")
    (meeting,) = calendar.items
    assert calendar.method == "REQUEST"
    assert meeting.busy_status is BusyStatus.TENTATIVE
    assert meeting.organizer is not None
    assert meeting.organizer.name == "Priya Natarajan"
    assert meeting.organizer.email == "priya.natarajan@fabrikam.example"
    anna, sean, room = meeting.attendees
    assert anna == Attendee(
        "anna.berger@contoso.example", "Anna Berger", rsvp=True, role=AttendeeRole.REQUIRED
    )
    assert sean.name == "O'Neil, Sean"
    assert sean.role is AttendeeRole.OPTIONAL
    assert room.type is AttendeeType.RESOURCE
    assert room.role is AttendeeRole.NON_PARTICIPANT
    assert meeting.timezone == "Pacific Standard Time"
    assert meeting.start.utcoffset() == timedelta(hours=-7)
    assert meeting.body is not None
    assert "Meeting ID: 245 113 727 913" in meeting.body
    assert meeting.extended.get("X-MICROSOFT-SKYPETEAMSMEETINGURL")


def test_google_series_override_alarms_and_attachment() -> None:
    """Overrides join their series, EXDATE lines add up, alarm extras stay in the alarm."""
    _, calendar = load("google-export.ics")
    series, holiday = calendar.items
    zone = ZoneInfo("America/New_York")
    assert series.recurrence == Recurrence(
        rule="FREQ=WEEKLY;WKST=SU;BYDAY=MO,WE,FR",
        exdates=(
            datetime(2026, 2, 16, 8, 30, tzinfo=zone),
            datetime(2026, 2, 18, 8, 30, tzinfo=zone),
        ),
    )
    (moved,) = series.overrides
    assert moved.recurrence_id == datetime(2026, 2, 13, 8, 30, tzinfo=zone)
    assert moved.subject == "Standup (late)"
    assert moved.location == "Room 4B"
    assert series.location == ""
    assert series.attendees[1].name == "Marta Kos"
    assert series.attendees[1].response is ResponseStatus.TENTATIVE
    assert series.attendees[1].params == (("X-NUM-GUESTS", "0"),)
    (attachment,) = series.attachments
    assert attachment.filename == "Standup notes"
    assert attachment.content_type == "application/vnd.google-apps.document"
    assert attachment.url is not None
    assert attachment.url.endswith("/edit")
    display, email = series.reminders
    assert display.trigger == -timedelta(minutes=10)
    assert email.action is ReminderAction.EMAIL
    assert [p.name for p in email.extended.properties] == ["SUMMARY", "ATTENDEE"]
    assert holiday.all_day
    assert holiday.busy_status is BusyStatus.FREE


def test_apple_extras_stay_verbatim() -> None:
    """Structured location, GEO, managed attachments and alarm extras are kept."""
    _, calendar = load("apple-icloud.ics")
    dinner, summer = calendar.items
    assert dinner.subject == "Dinner with Léa 🍽️"
    assert dinner.url == "https://www.kronenhalle.example/"
    assert dinner.location == "Kronenhalle\nRämistrasse 4, 8001 Zürich, Switzerland"
    (location,) = dinner.extended.get("X-APPLE-STRUCTURED-LOCATION")
    assert location.param("X-ADDRESS") == '"Rämistrasse 4, 8001 Zürich, Switzerland"'
    assert dinner.extended.get("GEO")[0].value == "47.366985;8.546094"
    (menu,) = dinner.attachments
    assert (menu.filename, menu.size, menu.content_type) == ("menu.pdf", 48211, "application/pdf")
    assert menu.params[0][0] == "MANAGED-ID"
    (audio,) = dinner.reminders
    assert audio.action is ReminderAction.AUDIO
    assert [p.name for p in audio.extended.properties] == [
        "X-WR-ALARMUID",
        "UID",
        "ATTACH",
        "X-APPLE-DEFAULT-ALARM",
        "ACKNOWLEDGED",
    ]
    (none_alarm,) = dinner.extended.components
    assert none_alarm.name == "VALARM"  # ACTION:NONE is no reminder, but it is kept
    assert summer.reminders[0].trigger == -timedelta(hours=15)


def test_evolution_and_thunderbird_fields() -> None:
    """Globally unique TZIDs resolve; SENT-BY and DELEGATED-* stay in params."""
    _, calendar = load("evolution.ics")
    review, slides = calendar.items
    assert review.start.tzinfo == ZoneInfo("Europe/London")
    assert review.timezone == "/freeassociation.sourceforge.net/Europe/London"
    assert review.organizer is not None
    assert review.organizer.params == (("SENT-BY", '"mailto:assistant@corp.example"'),)
    kim = review.attendee("kim@corp.example")
    assert kim is not None
    assert kim.response is ResponseStatus.DELEGATED
    assert kim.params == (("DELEGATED-TO", '"mailto:deputy@corp.example"'),)
    assert review.attendees[-1].type is AttendeeType.ROOM
    assert isinstance(slides, Task)
    assert slides.due == date(2026, 3, 4)
    _, calendar = load("thunderbird-lightning.ics")
    dentist, taxes = calendar.items
    assert dentist.categories == ("Osobní", "Zdraví")
    assert dentist.status is AppointmentStatus.TENTATIVE
    assert isinstance(taxes, Task)
    assert (taxes.status, taxes.percent_complete, taxes.priority) == (
        TaskStatus.IN_PROGRESS,
        40,
        1,
    )
    assert taxes.reminders[0].related_to_end
    assert taxes.reminders[0].trigger == -timedelta(days=2)


def test_nextcloud_fields() -> None:
    """Comma lists and repeated CATEGORIES, scheduling parameters, absolute triggers."""
    _, calendar = load("nextcloud.ics")
    meeting, task = calendar.items
    assert meeting.categories == ("Verein", "Ehrenamt", "Abends")
    assert meeting.location == "Vereinsheim, Am Sportplatz 1"
    assert [p.name for p in meeting.extended.properties] == ["DTSTAMP", "COLOR", "GEO"]
    ute, jonas, board = meeting.attendees
    assert ute.role is AttendeeRole.CHAIR
    assert ute.params == (("SCHEDULE-STATUS", "1.1"),)
    assert jonas.params == (("SCHEDULE-AGENT", "CLIENT"), ("LANGUAGE", "de"))
    assert board.type is AttendeeType.GROUP
    assert board.params == (("SCHEDULE-STATUS", "3.7"), ("X-NUM-GUESTS", "2"))
    email, display = meeting.reminders
    assert email.action is ReminderAction.EMAIL
    assert display.trigger == datetime(2026, 3, 12, 12, tzinfo=UTC)
    assert display.is_absolute
    assert task.is_completed
    assert task.completed == datetime(2026, 3, 6, 10, 15, tzinfo=UTC)


def test_recurrence_sets_and_overrides() -> None:
    """RDATE/EXDATE lists, a second RRULE, EXRULE and PERIOD RDATEs, overrides anywhere."""
    _, calendar = load("recurring-overrides.ics")
    yoga, school = calendar.items
    vienna = ZoneInfo("Europe/Vienna")
    assert yoga.subject == "Yoga"
    assert yoga.end - yoga.start == timedelta(hours=1, minutes=15)
    assert yoga.recurrence is not None
    assert yoga.recurrence.rule == "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260629T073000Z"
    assert yoga.recurrence.rdates == (
        datetime(2026, 1, 8, 9, 30, tzinfo=vienna),
        datetime(2026, 1, 15, 9, 30, tzinfo=vienna),
    )
    assert yoga.recurrence.exdates[-1] == datetime(2026, 2, 23, 8, 30, tzinfo=UTC)
    assert len(yoga.recurrence.exdates) == 4
    assert [p.name for p in yoga.extended.properties] == [
        "DTSTAMP",
        "RRULE",
        "EXRULE",
        "RDATE",
        "X-CORPUS-NOTE",
    ]
    before, future, cancelled = yoga.overrides
    assert before.recurrence_id == datetime(2026, 3, 2, 9, 30, tzinfo=vienna)
    assert cancelled.status is AppointmentStatus.CANCELLED
    source = calendar.original(future)
    assert source is not None
    rid = next(p for p in source.properties if p.name == "RECURRENCE-ID")
    assert rid.param("RANGE") == "THISANDFUTURE"
    assert school.recurrence is not None
    assert school.recurrence.exdates == (date(2026, 7, 4), date(2026, 7, 5))
    assert school.overrides[0].recurrence_id == date(2026, 7, 3)


def test_orphan_overrides_are_items_of_their_own() -> None:
    """Occurrences without their series are items with a recurrence_id and no rule."""
    data, calendar = load("orphan-occurrence-invitation.ics")
    first, second = calendar.items
    assert first.uid == second.uid
    assert first.is_override
    assert second.is_override
    assert first.recurrence is None
    assert not first.overrides
    edited = attrs.evolve(first, subject="Revisión (moved)")
    removed, added = changes(data, ical.serialize([edited, second], original=data))
    assert removed == ["SUMMARY:Revisión semanal"]
    assert added == ["SUMMARY:Revisión (moved)"]


def test_tasks() -> None:
    """VTODO fields, DURATION to due, the waiting companion and RECURRENCE-ID tasks."""
    _, calendar = load("tasks.ics")
    passport, report, flights, plants, repot, landlord = calendar.items
    assert isinstance(passport, Task)
    assert passport.due == date(2026, 3, 15)
    assert passport.importance is Importance.HIGH
    assert passport.body == "Photos, form, old passport."
    assert report.due == datetime(2026, 2, 5, 8, tzinfo=UTC)
    assert report.sensitivity is Sensitivity.CONFIDENTIAL
    assert flights.completed == datetime(2026, 1, 30, 17, 12, 33, tzinfo=UTC)
    assert plants.recurrence is not None
    assert plants.recurrence.rule == "FREQ=WEEKLY;BYDAY=MO"
    assert repot.uid == plants.uid
    assert repot.status is TaskStatus.CANCELLED
    assert repot.extended.get("RECURRENCE-ID")[0].value == "20260209"
    assert landlord.status is TaskStatus.WAITING
    assert landlord.due == datetime(2026, 2, 20, 17)


def test_all_day_floating_and_utc() -> None:
    """DATE values, missing DTEND, DURATION in weeks, floating and UTC times."""
    _, calendar = load("allday-floating.ics")
    multi, no_end, weeks, floating, utc, instant = calendar.items
    assert multi.end == date(2026, 12, 27)
    assert multi.busy_status is BusyStatus.FREE
    assert no_end.end == date(2026, 3, 15)
    assert weeks.start == date(2026, 4, 1)
    assert weeks.end == date(2026, 4, 8)
    assert floating.start == datetime(2026, 1, 2, 8)
    assert floating.timezone is None
    assert floating.reminders[0].trigger == timedelta(0)
    assert utc.start.tzinfo is UTC
    assert utc.timezone is None
    assert instant.end == instant.start


def test_custom_zones_and_unknown_components() -> None:
    """Zones only a VTIMEZONE defines are built from it; other components are kept."""
    _, calendar = load("custom-timezones-and-components.ics")
    outlook, atlantis, with_x = calendar.items
    assert outlook.start.utcoffset() == timedelta(hours=2)  # July: summer time
    assert outlook.timezone == "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"
    assert atlantis.start.utcoffset() == -timedelta(hours=2, minutes=30)
    assert [c.name for c in calendar.components] == [
        "VJOURNAL",
        "VFREEBUSY",
        "X-VENDOR-PANEL",
        "VEVENT",
    ]
    assert [c.name for c in with_x.extended.components] == ["VLOCATION", "VALARM"]
    assert [p.name for p in calendar.properties] == ["PRODID", "VERSION", "X-WR-CALNAME"]
    assert len(calendar.timezones) == 2
    assert not calendar.warnings or all(
        "UID" in w.message or "PROCEDURE" in w.message for w in calendar.warnings
    )


# --------------------------------------------------------------------------- edits


def test_editing_one_field_rewrites_only_its_line() -> None:
    """A new location adds one line; a new subject rewrites SUMMARY keeping LANGUAGE."""
    data, calendar = load("outlook-export.ics")
    meeting = calendar.items[0]
    edited = attrs.evolve(
        calendar, items=(attrs.evolve(meeting, location="Raum 2"), *calendar.items[1:])
    )
    assert changes(data, ical.serialize(edited)) == (
        ["LOCATION:Besprechungsraum 3.14 (Gebäude Süd)"],
        ["LOCATION:Raum 2"],
    )
    renamed = attrs.evolve(meeting, subject="Jour fixe; neu")
    assert changes(data, ical.serialize(renamed, original=data)) == (
        ["SUMMARY;LANGUAGE=de-de:Team-Jour-fixe"],
        ["SUMMARY;LANGUAGE=de-de:Jour fixe\\; neu"],
    )


def test_editing_an_attendee_keeps_its_parameter_order() -> None:
    """A changed answer rewrites that ATTENDEE line only, its parameters in place."""
    data, calendar = load("nextcloud.ics")
    meeting = calendar.items[0]
    jonas = attrs.evolve(meeting.attendees[1], response=ResponseStatus.ACCEPTED, rsvp=False)
    edited = attrs.evolve(meeting, attendees=(meeting.attendees[0], jonas, meeting.attendees[2]))
    removed, added = changes(data, ical.serialize(edited, original=data))
    assert removed == [
        "ATTENDEE;CN=Jonas Weber;CUTYPE=INDIVIDUAL;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;"
        "RSVP=TRUE;SCHEDULE-AGENT=CLIENT;LANGUAGE=de:mailto:jonas@verein.example"
    ]
    assert added == [
        "ATTENDEE;CN=Jonas Weber;CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;"
        "RSVP=FALSE;SCHEDULE-AGENT=CLIENT;LANGUAGE=de:mailto:jonas@verein.example"
    ]


def test_adding_and_removing_list_elements() -> None:
    """A new EXDATE adds a line; a removed attendee or category loses only its own."""
    data, calendar = load("google-export.ics")
    series = calendar.items[0]
    assert series.recurrence is not None
    extra = datetime(2026, 2, 20, 8, 30, tzinfo=ZoneInfo("America/New_York"))
    edited = attrs.evolve(
        series,
        recurrence=attrs.evolve(series.recurrence, exdates=(*series.recurrence.exdates, extra)),
        attendees=series.attendees[:1],
    )
    removed, added = changes(data, ical.serialize(edited, original=data))
    assert added == ["EXDATE;TZID=America/New_York:20260220T083000"]
    assert len(removed) == 1
    assert "marta.kos@example.org" in removed[0]
    data, calendar = load("nextcloud.ics")
    meeting = calendar.items[0]
    fewer = attrs.evolve(meeting, categories=("Verein", "Ehrenamt"))
    assert changes(data, ical.serialize(fewer, original=data)) == (["CATEGORIES:Abends"], [])


def test_moving_a_duration_event_keeps_the_duration_line() -> None:
    """A new start rewrites DTSTART; DURATION stays; a new length rewrites DURATION."""
    data, calendar = load("recurring-overrides.ics")
    yoga = calendar.items[0]
    moved = attrs.evolve(
        yoga, start=yoga.start + timedelta(hours=1), end=yoga.end + timedelta(hours=1)
    )
    assert changes(data, ical.serialize(moved, original=data)) == (
        ["DTSTART;TZID=Europe/Vienna:20260105T093000"],
        ["DTSTART;TZID=Europe/Vienna:20260105T103000"],
    )
    longer = attrs.evolve(yoga, end=yoga.end + timedelta(minutes=15))
    assert changes(data, ical.serialize(longer, original=data)) == (
        ["DURATION:PT1H15M"],
        ["DURATION:PT1H30M"],
    )


def test_editing_an_override_touches_only_its_component() -> None:
    """Changing one occurrence rewrites only a line of its own VEVENT."""
    data, calendar = load("google-export.ics")
    series = calendar.items[0]
    moved = attrs.evolve(series.overrides[0], location="Room 5C")
    edited = series.with_override(moved)
    assert changes(data, ical.serialize(edited, original=data)) == (
        ["LOCATION:Room 4B"],
        ["LOCATION:Room 5C"],
    )


def test_editing_alarms() -> None:
    """A changed trigger rewrites its TRIGGER line only; a removed alarm goes whole."""
    data, calendar = load("apple-icloud.ics")
    dinner = calendar.items[0]
    earlier = attrs.evolve(dinner.reminders[0], trigger=-timedelta(hours=2))
    assert changes(
        data, ical.serialize(attrs.evolve(dinner, reminders=[earlier]), original=data)
    ) == (
        ["TRIGGER:-PT1H"],
        ["TRIGGER:-PT2H"],
    )
    removed, added = changes(
        data, ical.serialize(attrs.evolve(dinner, reminders=()), original=data)
    )
    assert added == []
    assert "ACTION:AUDIO" in removed
    assert "TRIGGER:-PT1H" in removed
    assert "ACTION:NONE" not in removed  # the foreign alarm is not a reminder: it stays


def test_editing_busy_status_and_method() -> None:
    """Busy status rewrites BUSYSTATUS (INTENDEDSTATUS is the organizer's); METHOD its line."""
    data, calendar = load("teams-invitation.ics")
    meeting = calendar.items[0]
    edited = attrs.evolve(
        calendar, method="CANCEL", items=[attrs.evolve(meeting, busy_status=BusyStatus.FREE)]
    )
    removed, added = changes(data, ical.serialize(edited))
    assert sorted(removed) == [
        "METHOD:REQUEST",
        "TRANSP:OPAQUE",
        "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE",
    ]
    assert sorted(added) == [
        "METHOD:CANCEL",
        "TRANSP:TRANSPARENT",
        "X-MICROSOFT-CDO-BUSYSTATUS:FREE",
    ]
    assert ical.parse(ical.serialize(edited)).items[0].busy_status is BusyStatus.FREE


def test_a_changed_zone_is_written_even_for_the_same_instant() -> None:
    """Moving a start to another zone at the same instant rewrites DTSTART (and DTEND)."""
    data, calendar = load("outlook-export.ics")
    meeting = calendar.items[0]
    utc_start = meeting.start.astimezone(UTC)
    edited = attrs.evolve(meeting, start=utc_start, end=meeting.end.astimezone(UTC), timezone=None)
    removed, added = changes(data, ical.serialize(edited, original=data))
    assert added == ["DTEND:20260113T103000Z", "DTSTART:20260113T090000Z"]
    assert len(removed) == 2


def test_removing_and_adding_items_in_a_calendar() -> None:
    """A removed item loses its lines; a new one is appended with its zone generated."""
    _data, calendar = load("thunderbird-lightning.ics")
    new = event(uid="new-1")
    edited = attrs.evolve(calendar, items=(calendar.items[1], new))
    out = ical.serialize(edited)
    reread = ical.parse(out)
    assert [i.uid for i in reread.items] == [calendar.items[1].uid, "new-1"]
    assert [tzid(z) for z in reread.timezones] == ["Europe/Prague", "Europe/Berlin"]
    assert b"Zuba" not in out
    assert without_stamp(reread.items[1]) == new  # type: ignore[arg-type]


def test_unchanged_item_with_original_bytes_is_identical() -> None:
    """serialize(item, original=bytes) of an unchanged item gives the original lines."""
    for path in sorted(CORPUS.glob("[!s]*.ics")):
        data = path.read_bytes()
        calendar = ical.parse(data)
        for item in calendar.items:
            same_uid = [i for i in calendar.items if i.uid == item.uid]
            assert lines(ical.serialize(same_uid, original=data)) == lines(data)


# --------------------------------------------------------------------------- time zones


def test_windows_zone_without_vtimezone_resolves_and_is_generated() -> None:
    """A Windows zone name reads as its IANA zone, and writing a new item adds a VTIMEZONE
    under the name as written."""
    start = datetime(2026, 7, 1, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    item = event(start=start, end=start + timedelta(hours=1), timezone="W. Europe Standard Time")
    out = ical.serialize(item)
    assert "DTSTART;TZID=W. Europe Standard Time:20260701T090000" in lines(out)
    reread = ical.parse(out)
    assert [tzid(z) for z in reread.timezones] == ["W. Europe Standard Time"]
    assert without_stamp(reread.items[0]) == item  # type: ignore[arg-type]
    bare = out.replace(b"BEGIN:VTIMEZONE", b"X-A:").split(b"BEGIN:VEVENT")[1]
    only = ical.parse(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT" + bare)
    assert only.items[0].start.tzinfo == ZoneInfo("Europe/Berlin")


def test_unknown_zone_without_vtimezone_is_floating_with_a_warning() -> None:
    """An unknown TZID with no VTIMEZONE reads as floating, is kept and written back."""
    data = (
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=Mars/Olympus:20260101T100000\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    calendar = ical.parse(data)
    (item,) = calendar.items
    assert item.start == datetime(2026, 1, 1, 10)
    assert item.timezone == "Mars/Olympus"
    assert "Mars/Olympus" in str(calendar.warnings[0])
    assert calendar.warnings[0].line == 4
    fresh = ical.serialize(attrs.evolve(item, subject="x"))
    assert "DTSTART;TZID=Mars/Olympus:20260101T100000" in lines(fresh)
    assert b"VTIMEZONE" not in fresh


def test_missing_vtimezone_is_not_added_to_a_parsed_calendar() -> None:
    """A stream that used an IANA zone without VTIMEZONE is written back without one."""
    data = (
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=Europe/Rome:20260101T100000\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    calendar = ical.parse(data)
    assert calendar.items[0].start.tzinfo == ZoneInfo("Europe/Rome")
    assert not calendar.warnings
    assert ical.serialize(calendar) == data


def test_new_items_get_zone_names_utc_and_floating_right() -> None:
    """An aware start without a timezone name is written with its IANA key; UTC with Z;
    a naive one floating."""
    york = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("America/New_York"))
    out = lines(ical.serialize(event(start=york, end=york, timezone=None)))
    assert "DTSTART;TZID=America/New_York:20260105T090000" in out
    utc = datetime(2026, 1, 5, 9, tzinfo=UTC)
    out = lines(ical.serialize(event(start=utc, end=utc, timezone=None)))
    assert "DTSTART:20260105T090000Z" in out
    assert "BEGIN:VTIMEZONE" not in out
    naive = datetime(2026, 1, 5, 9)
    out = lines(ical.serialize(event(start=naive, end=naive, timezone=None)))
    assert "DTSTART:20260105T090000" in out


# --------------------------------------------------------------------------- writing new items


def test_a_new_item_is_a_complete_calendar() -> None:
    """PRODID, VERSION and DTSTAMP are added; defaults are not written."""
    item = Appointment.new("Lunch", date(2026, 5, 1), date(2026, 5, 2), uid="lunch")
    out = lines(ical.serialize(item))
    assert out[:3] == ["BEGIN:VCALENDAR", f"PRODID:{ical.PRODID}", "VERSION:2.0"]
    body = [line for line in out if not line.startswith(("BEGIN", "END", "PRODID", "VERSION"))]
    assert [line.split(":")[0].split(";")[0] for line in body] == [
        "UID",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "SUMMARY",
    ]


def test_every_field_survives_a_new_item() -> None:
    """An appointment with every field set is written and read back equal."""
    zone = ZoneInfo("Europe/Paris")
    start = datetime(2026, 6, 1, 14, tzinfo=zone)
    series = Appointment(
        uid="all@fields",
        subject="All; the, fields\\",
        start=start,
        end=start + timedelta(hours=2),
        timezone="Europe/Paris",
        location="Salle 1",
        body="Line 1\nLine 2",
        body_html="<p>Hi</p>",
        status=AppointmentStatus.TENTATIVE,
        busy_status=BusyStatus.WORKING_ELSEWHERE,
        sensitivity=Sensitivity.PERSONAL,
        importance=Importance.LOW,
        reminders=[
            Reminder(trigger=-timedelta(minutes=5), related_to_end=True, description="soon"),
            Reminder(trigger=datetime(2026, 6, 1, 10, tzinfo=UTC), action=ReminderAction.EMAIL),
        ],
        organizer=Organizer("boss@x.example", "The Boss", [("SENT-BY", '"mailto:a@b.c"')]),
        attendees=[
            Attendee(
                "a@b.c",
                "Ä, B",
                AttendeeRole.CHAIR,
                ResponseStatus.ACCEPTED,
                True,
                AttendeeType.ROOM,
                [("X-P", "1")],
            ),
            Attendee("urn:uuid:1234", None),
        ],
        recurrence=Recurrence(
            rule="FREQ=DAILY;COUNT=5",
            rdates=[start + timedelta(days=10)],
            exdates=[start + timedelta(days=1), start + timedelta(days=2)],
        ),
        categories=["a,b", "c"],
        attachments=[
            Attachment(filename="f.txt", content_type="text/plain", data=b"\x00\x01hello", size=7),
            Attachment(
                url="https://x.example/a", params=[("X-FILENAME", "a.pdf")], filename="a.pdf"
            ),
        ],
        url="https://example.org/event",
        sequence=3,
        created=datetime(2026, 1, 1, tzinfo=UTC),
        last_modified=datetime(2026, 1, 2, tzinfo=UTC),
        extended=[RawProperty("X-THING", "raw\\,value", [("X-Q", '"a:b"')])],
    )
    override = attrs.evolve(
        series,
        recurrence=None,
        recurrence_id=start + timedelta(days=3),
        subject="Moved",
        reminders=(),
        attachments=(),
    )
    series = series.with_override(override)
    reread = ical.parse(ical.serialize(series))
    (item,) = reread.items
    assert isinstance(item, Appointment)
    assert (
        attrs.evolve(without_stamp(item), overrides=[without_stamp(o) for o in item.overrides])
        == series
    )


def test_writing_refuses_line_breaks_in_raw_values() -> None:
    """A UID or extended value with a line break cannot be written (no injection)."""
    with pytest.raises(InvalidItemError):
        ical.serialize(event(uid="a\r\nATTENDEE:mailto:evil@x"))
    with pytest.raises(InvalidItemError):
        ical.serialize(event(extended=[RawProperty("X-A", "1\nX-B:2")]))


def test_serialize_refuses_what_is_not_an_item() -> None:
    """Only calendars and calendar items are written; original= goes with items."""
    with pytest.raises(TypeError):
        ical.serialize(["not an item"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        ical.serialize(ical.Calendar(), original=b"")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"", 1),
        (b"garbage", 1),
        (b"BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n", 1),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VTODO\r\n", 3),
        (b"UID:x\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", 1),
        (b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n", 3),
    ],
)
def test_malformed_input_raises_parse_error_with_the_line(data: bytes, line: int) -> None:
    """What is not iCalendar raises ParseError naming the line."""
    with pytest.raises(ParseError) as info:
        ical.parse(data)
    assert info.value.line == line
    assert info.value.format == "iCalendar"


def test_str_is_refused_and_never_read_as_a_path(tmp_path: Path) -> None:
    """A str (which icalendar would take for a file name) is refused outright."""
    secret = tmp_path / "secret.ics"
    secret.write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    with pytest.raises(TypeError):
        ical.parse(str(secret))  # type: ignore[arg-type]


def test_two_calendars_in_one_stream_are_merged_with_a_warning() -> None:
    """Concatenated VCALENDARs give one calendar holding all items."""
    one = stream("VERSION:2.0", "BEGIN:VEVENT", "UID:a", "DTSTART:20260101T100000Z", "END:VEVENT")
    calendar = ical.parse(one + one.replace(b"UID:a", b"UID:b"))
    assert [i.uid for i in calendar.items] == ["a", "b"]
    assert [p.name for p in calendar.properties] == ["VERSION"]
    assert "merged" in str(calendar.warnings[0])
    assert calendar.warnings[0].line == 8


def test_duplicate_uids_are_kept_apart() -> None:
    """Two series with one UID stay two items, and round-trip."""
    data, _ = load("allday-floating.ics")
    doubled = data.replace(b"UID:utc@corpus.example", b"UID:floating@corpus.example")
    calendar = ical.parse(doubled)
    assert [i.uid for i in calendar.items].count("floating@corpus.example") == 2
    assert lines(ical.serialize(calendar)) == lines(doubled)
    first = calendar.items[3]
    edited = attrs.evolve(
        calendar,
        items=[
            *calendar.items[:4],
            attrs.evolve(calendar.items[4], subject="B"),
            calendar.items[5],
        ],
    )
    removed, added = changes(doubled, ical.serialize(edited))
    assert removed == ["SUMMARY:Webinar (UTC)"]
    assert added == ["SUMMARY:B"]
    assert first.subject.startswith("Take pills")


def test_event_without_start_is_kept_verbatim() -> None:
    """A VEVENT the model cannot hold is a component, reported, and written back."""
    data = stream("BEGIN:VEVENT", "UID:a", "SUMMARY:no start", "END:VEVENT")
    calendar = ical.parse(data)
    assert calendar.items == ()
    assert calendar.components[0].name == "VEVENT"
    assert calendar.warnings[0].line == 2
    assert "DTSTART" in calendar.warnings[0].message
    assert ical.serialize(calendar) == data


def test_internal_errors_never_escape_raw(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception inside the parser surfaces as ParseError, chained."""
    from openprotocols.formats import _ical_items

    def boom(*_args: object) -> None:
        raise KeyError("boom")

    data, _ = load("allday-floating.ics")
    monkeypatch.setattr(_ical_items, "decode_event", boom)
    monkeypatch.setattr(ical, "decode_event", boom)
    with pytest.raises(ParseError, match="internal error") as info:
        ical.parse(data)
    assert isinstance(info.value.__cause__, KeyError)
