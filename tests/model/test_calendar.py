"""Appointments, tasks and their value types: construction, invariants and helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprotocols.errors import InvalidItemError
from openprotocols.model._base import Address, Extended, Item, RawComponent, RawProperty
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

BERLIN_SUMMER = timezone(timedelta(hours=2))
START = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
END = START + timedelta(hours=1)

ZONES = st.sampled_from([None, UTC, BERLIN_SUMMER, timezone(timedelta(hours=-5, minutes=-30))])
AWARE_ZONES = st.sampled_from([UTC, BERLIN_SUMMER, timezone(timedelta(hours=-5, minutes=-30))])
SPANS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800))
POSITIVE_SPANS = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=800))
DATETIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))
DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1))


def meeting(**fields: object) -> Appointment:
    """A one-hour appointment with a fixed uid, changed by ``fields``."""
    values: dict[str, object] = {"uid": "u1", "subject": "Review", "start": START, "end": END}
    values.update(fields)
    return Appointment(**values)  # type: ignore[arg-type]


def weekly(**fields: object) -> Appointment:
    """A weekly series with a fixed uid."""
    return meeting(recurrence=Recurrence("FREQ=WEEKLY;BYDAY=MO"), **fields)


# --------------------------------------------------------------------------- enumerations


def test_enumerations_read_well() -> None:
    """Enumeration values are the lower-case, hyphenated words the brief names."""
    assert BusyStatus.OUT_OF_OFFICE.value == "out-of-office"
    assert BusyStatus.WORKING_ELSEWHERE.value == "working-elsewhere"
    assert [s.value for s in Sensitivity] == ["normal", "personal", "private", "confidential"]
    assert [i.value for i in Importance] == ["low", "normal", "high"]
    assert AttendeeRole.NON_PARTICIPANT.value == "non-participant"
    assert ResponseStatus.NEEDS_ACTION.value == "needs-action"
    assert [t.value for t in AttendeeType] == ["individual", "group", "resource", "room", "unknown"]
    assert [s.value for s in TaskStatus] == [
        "not-started",
        "in-progress",
        "completed",
        "waiting",
        "deferred",
        "cancelled",
    ]
    assert [s.value for s in AppointmentStatus] == ["confirmed", "tentative", "cancelled"]


@pytest.mark.parametrize(
    ("priority", "importance"),
    [(0, Importance.NORMAL), (1, Importance.HIGH), (4, Importance.HIGH), (5, Importance.NORMAL),
     (6, Importance.LOW), (9, Importance.LOW)],
)  # fmt: skip
def test_importance_from_priority(priority: int, importance: Importance) -> None:
    """iCalendar priorities map onto Outlook's three levels as RFC 5545 describes."""
    assert Importance.from_priority(priority) is importance


# --------------------------------------------------------------------------- appointments


def test_appointment_defaults() -> None:
    """A new appointment holds what it was given and sensible defaults for the rest."""
    appointment = Appointment.new(subject="Review", start=START, end=END)
    assert (appointment.subject, appointment.start, appointment.end) == ("Review", START, END)
    assert appointment.busy_status is BusyStatus.BUSY
    assert appointment.sensitivity is Sensitivity.NORMAL
    assert appointment.importance is Importance.NORMAL
    assert appointment.status is AppointmentStatus.CONFIRMED
    assert (appointment.attendees, appointment.overrides, appointment.categories) == ((), (), ())
    assert appointment.extended == Extended()
    assert appointment.sequence == 0
    assert not appointment.all_day
    assert not appointment.is_recurring
    assert not appointment.is_meeting
    assert not appointment.is_override


def test_new_generates_distinct_uids() -> None:
    """Every ``new()`` appointment and task gets its own uid."""
    uids = {Appointment.new("A", START, END).uid for _ in range(50)}
    uids |= {Task.new("T").uid for _ in range(50)}
    assert len(uids) == 100


def test_new_keeps_a_given_uid() -> None:
    """``new()`` uses the uid it is given instead of generating one."""
    assert Appointment.new("A", START, END, uid="abc").uid == "abc"
    assert Task.new("T", uid="xyz").uid == "xyz"


def test_new_passes_other_fields_on() -> None:
    """Fields beyond subject, start and end go through ``new()`` to the class."""
    appointment = Appointment.new("A", START, END, location="Room 1", categories=["Work"])
    assert appointment.location == "Room 1"
    assert appointment.categories == ("Work",)


def test_items_name_their_folder_kind_and_satisfy_item() -> None:
    """Appointments live in calendar folders, tasks in task folders, and both are Items."""
    assert Appointment.kind == "calendar"
    assert Task.kind == "tasks"
    assert isinstance(meeting(), Item)
    assert isinstance(Task.new("T"), Item)


def test_appointment_is_immutable() -> None:
    """Assigning to a field of a frozen appointment fails."""
    appointment = meeting()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        appointment.subject = "Other"  # type: ignore[misc]


def test_evolve_leaves_the_original_unchanged() -> None:
    """``attrs.evolve`` returns a changed copy and the original keeps its values."""
    original = meeting()
    changed = attrs.evolve(original, subject="Other", end=END + timedelta(hours=1))
    assert changed.subject == "Other"
    assert changed.end == END + timedelta(hours=1)
    assert original.subject == "Review"
    assert original.end == END


def test_lists_become_tuples() -> None:
    """Collections passed as lists are stored as tuples."""
    appointment = meeting(
        attendees=[Attendee("ann@example.org")],
        categories=["Work", "Project"],
        reminders=[Reminder.minutes_before(15)],
        attachments=[Attachment(filename="a.txt", data=b"x")],
    )
    assert appointment.attendees == (Attendee("ann@example.org"),)
    assert appointment.categories == ("Work", "Project")
    assert isinstance(appointment.reminders, tuple)
    assert isinstance(appointment.attachments, tuple)
    recurrence = Recurrence("FREQ=DAILY", rdates=[date(2024, 1, 2)], exdates=[date(2024, 1, 3)])
    assert recurrence.rdates == (date(2024, 1, 2),)
    assert recurrence.exdates == (date(2024, 1, 3),)


def test_equal_appointments_are_equal_and_hash_alike() -> None:
    """Appointments with equal fields are equal, hash alike and work as set members."""
    first = meeting(attendees=[Attendee("ann@example.org")], categories=["Work"])
    second = meeting(attendees=(Attendee("ann@example.org"),), categories=("Work",))
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second, meeting(subject="Other")}) == 2


def test_extended_round_trips() -> None:
    """Unmapped properties and components survive construction, evolve and equality."""
    prop = RawProperty("X-MOZ-GENERATION", "3", params={"X-A": "b"})
    alarm = RawComponent("X-CUSTOM", [RawProperty("X-B", "c")])
    appointment = meeting(extended=Extended(properties=[prop], components=[alarm]))
    moved = attrs.evolve(appointment, location="Room 2")
    assert moved.extended.get("x-moz-generation") == (prop,)
    assert moved.extended.components == (alarm,)
    assert meeting(extended=[prop]).extended == Extended(properties=(prop,))


def test_all_day_appointment() -> None:
    """An appointment with dates is all-day and lasts whole days (end exclusive)."""
    appointment = meeting(start=date(2024, 5, 6), end=date(2024, 5, 8))
    assert appointment.all_day
    assert appointment.duration == timedelta(days=2)


def test_duration_of_a_timed_appointment() -> None:
    """``duration`` is end minus start."""
    assert meeting().duration == timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (END, START),
        (date(2024, 5, 7), date(2024, 5, 6)),
        (datetime(2024, 5, 6, 10, 0), datetime(2024, 5, 6, 9, 0)),
    ],
)
def test_end_before_start_is_rejected(start: date, end: date) -> None:
    """An appointment that ends before it starts is invalid."""
    with pytest.raises(InvalidItemError, match=r"end .* is before start"):
        meeting(start=start, end=end)


def test_evolve_validates_too() -> None:
    """Moving the start past the end with ``attrs.evolve`` is rejected."""
    with pytest.raises(InvalidItemError, match="is before start"):
        attrs.evolve(meeting(), start=END + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("start", "end"),
    [(START, START), (date(2024, 5, 6), date(2024, 5, 6))],
)
def test_zero_length_appointments_are_accepted(start: date, end: date) -> None:
    """End equal to start is allowed: RFC 5545 defines such events and servers hold them."""
    assert meeting(start=start, end=end).duration == timedelta(0)


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2024, 5, 6), datetime(2024, 5, 7, tzinfo=UTC)), (START, date(2024, 5, 7))],
)
def test_mixing_dates_and_datetimes_is_rejected(start: date, end: date) -> None:
    """Start and end must both be dates or both be datetimes."""
    with pytest.raises(InvalidItemError, match="both be dates"):
        meeting(start=start, end=end)


def test_mixing_floating_and_aware_is_rejected() -> None:
    """A floating (naive) start with an aware end, or the reverse, is invalid."""
    with pytest.raises(InvalidItemError, match="aware or both floating"):
        meeting(start=datetime(2024, 5, 6, 9, 0), end=END)
    with pytest.raises(InvalidItemError, match="aware or both floating"):
        meeting(start=START, end=datetime(2024, 5, 6, 10, 0))


def test_floating_times_are_accepted() -> None:
    """Two naive datetimes are floating time (RFC 5545 §3.3.5) and valid."""
    appointment = meeting(start=datetime(2024, 5, 6, 8, 0), end=datetime(2024, 5, 6, 8, 15))
    assert not appointment.all_day
    assert isinstance(appointment.start, datetime)
    assert appointment.start.tzinfo is None


def test_times_in_different_zones_compare_as_instants() -> None:
    """Start and end in different zones are ordered by the instants they denote."""
    start = datetime(2024, 5, 6, 10, 0, tzinfo=BERLIN_SUMMER)  # 08:00 UTC
    accepted = meeting(start=start, end=datetime(2024, 5, 6, 9, 0, tzinfo=UTC))
    assert accepted.duration == timedelta(hours=1)
    with pytest.raises(InvalidItemError):
        meeting(start=start, end=datetime(2024, 5, 6, 7, 0, tzinfo=UTC))


@given(start=DATETIMES, zone=ZONES, other=AWARE_ZONES, span=SPANS)
def test_any_ordered_datetime_pair_is_accepted(
    start: datetime, zone: timezone | None, other: timezone, span: timedelta
) -> None:
    """Any start with an end not before it is accepted, whatever zone the end is in."""
    start = start.replace(tzinfo=zone)
    end = start + span
    if zone is not None:
        end = end.astimezone(other)
    assert meeting(start=start, end=end).duration == span


@given(start=DATETIMES, zone=ZONES, span=POSITIVE_SPANS)
def test_any_reversed_datetime_pair_is_rejected(
    start: datetime, zone: timezone | None, span: timedelta
) -> None:
    """Any end strictly before its start is rejected."""
    start = start.replace(tzinfo=zone)
    with pytest.raises(InvalidItemError):
        meeting(start=start + span, end=start)


@given(start=DATES, days=st.integers(min_value=0, max_value=800))
def test_any_ordered_date_pair_is_accepted(start: date, days: int) -> None:
    """Any all-day start with an end on or after it is accepted."""
    assert meeting(start=start, end=start + timedelta(days=days)).all_day


@given(start=DATES, days=st.integers(min_value=1, max_value=800))
def test_any_reversed_date_pair_is_rejected(start: date, days: int) -> None:
    """Any all-day end before its start is rejected."""
    with pytest.raises(InvalidItemError):
        meeting(start=start + timedelta(days=days), end=start)


def test_a_windows_time_zone_name_is_kept() -> None:
    """A TZID that no tzinfo knows is kept as written, beside the aware datetimes."""
    appointment = meeting(timezone="W. Europe Standard Time", end_timezone="UTC")
    assert appointment.timezone == "W. Europe Standard Time"
    assert appointment.end_timezone == "UTC"


def test_negative_sequence_is_rejected() -> None:
    """SEQUENCE counts revisions from 0 and is never negative."""
    with pytest.raises(InvalidItemError, match="sequence must be at least 0"):
        meeting(sequence=-1)
    assert meeting(sequence=7).sequence == 7


def test_error_names_the_item() -> None:
    """Invariant errors name the item's class and uid, and are ValueErrors."""
    with pytest.raises(ValueError, match="Appointment 'u1'"):
        meeting(end=START - timedelta(hours=1))


# --------------------------------------------------------------------------- participants


def test_attendee_defaults_follow_rfc_5545() -> None:
    """An attendee is by default a required individual who has not answered."""
    attendee = Attendee("ann@example.org", "Ann")
    assert attendee.role is AttendeeRole.REQUIRED
    assert attendee.response is ResponseStatus.NEEDS_ACTION
    assert attendee.type is AttendeeType.INDIVIDUAL
    assert attendee.rsvp is False
    assert attendee.address == Address("ann@example.org", "Ann")


def test_unmapped_parameters_are_kept_in_order() -> None:
    """Parameters the model has no field for are stored as ordered pairs (dicts accepted)."""
    attendee = Attendee("ann@example.org", params={"X-NUM-GUESTS": "2", "DELEGATED-TO": "x"})
    assert attendee.params == (("X-NUM-GUESTS", "2"), ("DELEGATED-TO", "x"))
    organizer = Organizer("bob@example.org", params=[("SENT-BY", "mailto:eve@example.org")])
    assert organizer.params == (("SENT-BY", "mailto:eve@example.org"),)


def test_organizer_as_address() -> None:
    """An organizer reads as a mailbox."""
    assert str(Organizer("bob@example.org", "Bob").address) == '"Bob" <bob@example.org>'


def test_meeting_and_attendee_lookup() -> None:
    """An appointment with attendees is a meeting; attendees are found ignoring case."""
    ann = Attendee("Ann@Example.org", response=ResponseStatus.ACCEPTED)
    appointment = meeting(organizer=Organizer("bob@example.org"), attendees=[ann])
    assert appointment.is_meeting
    assert appointment.attendee("ann@example.ORG") is ann
    assert appointment.attendee("eve@example.org") is None


# --------------------------------------------------------------------------- reminders


def test_reminder_minutes_before() -> None:
    """``minutes_before`` makes a relative trigger before the start."""
    reminder = Reminder.minutes_before(15, description="Review")
    assert reminder.trigger == timedelta(minutes=-15)
    assert reminder.action is ReminderAction.DISPLAY
    assert reminder.description == "Review"
    assert not reminder.is_absolute
    assert not reminder.related_to_end


def test_absolute_reminder_must_be_aware() -> None:
    """An absolute trigger is an aware datetime; a naive one is rejected."""
    assert Reminder(START).is_absolute
    with pytest.raises(InvalidItemError, match="aware"):
        Reminder(datetime(2024, 5, 6, 9, 0))


def test_reminder_keeps_extended() -> None:
    """Alarm properties the model has no field for are kept on the reminder."""
    uid = RawProperty("UID", "a1")
    reminder = Reminder(timedelta(0), related_to_end=True, extended=Extended(properties=[uid]))
    assert reminder.extended.get("UID")[0].value == "a1"


# --------------------------------------------------------------------------- recurrence


def test_recurrence_rule_is_kept_verbatim() -> None:
    """The RRULE value is stored exactly as given and makes the appointment recurring."""
    series = weekly()
    assert series.recurrence is not None
    assert series.recurrence.rule == "FREQ=WEEKLY;BYDAY=MO"
    assert series.is_recurring


def test_with_override_appends_and_adopts_the_series_uid() -> None:
    """An override is appended, takes the series' uid, and leaves the series unchanged."""
    series = weekly()
    moved = Appointment.new(
        "Review (moved)",
        START + timedelta(days=7, hours=2),
        END + timedelta(days=7, hours=2),
        recurrence_id=START + timedelta(days=7),
    )
    changed = series.with_override(moved)
    assert series.overrides == ()
    assert len(changed.overrides) == 1
    override = changed.override_for(START + timedelta(days=7))
    assert override is not None
    assert override.uid == "u1"
    assert override.is_override
    assert override.subject == "Review (moved)"


def test_with_override_replaces_the_same_occurrence_in_place() -> None:
    """A second override of the same occurrence replaces the first and keeps the order."""
    first, second = START + timedelta(days=7), START + timedelta(days=14)
    series = weekly()
    for rid in (first, second):
        series = series.with_override(meeting(recurrence_id=rid, start=rid, end=rid))
    series = series.with_override(meeting(recurrence_id=first, start=first, end=first, subject="X"))
    assert [o.recurrence_id for o in series.overrides] == [first, second]
    assert series.overrides[0].subject == "X"


def test_override_needs_a_recurrence_id() -> None:
    """An override without a recurrence_id is rejected, by the helper and the class."""
    with pytest.raises(InvalidItemError, match="recurrence_id"):
        weekly().with_override(meeting())
    with pytest.raises(InvalidItemError, match="recurrence_id"):
        weekly(overrides=[meeting()])


def test_override_with_another_uid_is_rejected() -> None:
    """Every override shares the series' uid (RFC 4791 §4.1)."""
    stray = meeting(uid="other", recurrence_id=START)
    with pytest.raises(InvalidItemError, match="another uid"):
        weekly(overrides=[stray])


def test_nested_overrides_are_rejected() -> None:
    """An override cannot carry overrides of its own."""
    inner = meeting(recurrence_id=START + timedelta(days=7))
    outer = meeting(recurrence_id=START, overrides=[inner])
    with pytest.raises(InvalidItemError, match="overrides of its own"):
        weekly(overrides=[outer])


def test_without_occurrence_excludes_it_and_drops_its_override() -> None:
    """Removing an occurrence adds an exception date once and drops its override."""
    rid = START + timedelta(days=7)
    series = weekly().with_override(meeting(recurrence_id=rid))
    removed = series.without_occurrence(rid).without_occurrence(rid)
    assert removed.recurrence is not None
    assert removed.recurrence.exdates == (rid,)
    assert removed.overrides == ()
    assert removed.recurrence.rule == "FREQ=WEEKLY;BYDAY=MO"


def test_without_occurrence_needs_a_series() -> None:
    """A single appointment has no occurrences to exclude."""
    with pytest.raises(InvalidItemError, match="not recurring"):
        meeting().without_occurrence(START)


# --------------------------------------------------------------------------- attachments


def test_attachment_forms() -> None:
    """Attachments may be inline, by reference, both, or not downloaded yet."""
    inline = Attachment(filename="a.txt", content_type="text/plain", data=b"hi", size=2)
    linked = Attachment(url="https://example.org/a.pdf")
    both = Attachment(url="https://example.org/a.pdf", data=b"%PDF", params={"MANAGED-ID": "1"})
    empty = Attachment(size=0)
    assert inline.data == b"hi"
    assert linked.data is None
    assert both.params == (("MANAGED-ID", "1"),)
    assert empty.size == 0


def test_attachment_size_cannot_be_negative() -> None:
    """A negative size is rejected."""
    with pytest.raises(InvalidItemError, match="size must be at least 0"):
        Attachment(size=-1)


# --------------------------------------------------------------------------- tasks


def test_task_defaults() -> None:
    """A new task is not started, 0 % done, of undefined priority."""
    task = Task.new("Write report")
    assert task.subject == "Write report"
    assert task.status is TaskStatus.NOT_STARTED
    assert (task.percent_complete, task.priority) == (0, 0)
    assert task.importance is Importance.NORMAL
    assert task.start is task.due is task.completed is None
    assert not task.is_completed


@given(st.integers(min_value=0, max_value=100))
def test_any_percentage_is_accepted(percent: int) -> None:
    """Percent-complete from 0 to 100 is valid."""
    assert Task.new("T", percent_complete=percent).percent_complete == percent


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=101)))
def test_percentages_out_of_range_are_rejected(percent: int) -> None:
    """Percent-complete outside 0..100 is rejected."""
    with pytest.raises(InvalidItemError, match="percent_complete must be between 0 and 100"):
        Task.new("T", percent_complete=percent)


@pytest.mark.parametrize("priority", [0, 1, 5, 9])
def test_priorities_in_range_are_accepted(priority: int) -> None:
    """Priority 0 (undefined) to 9 is valid."""
    assert Task.new("T", priority=priority).priority == priority


@pytest.mark.parametrize("priority", [-1, 10])
def test_priorities_out_of_range_are_rejected(priority: int) -> None:
    """Priority outside 0..9 is rejected."""
    with pytest.raises(InvalidItemError, match="priority must be between 0 and 9"):
        Task.new("T", priority=priority)


def test_task_importance_reads_priority() -> None:
    """A task's importance follows its iCalendar priority."""
    assert Task.new("T", priority=1).importance is Importance.HIGH
    assert Task.new("T", priority=9).importance is Importance.LOW


def test_task_start_and_due_are_optional_alone() -> None:
    """A task may have only a start, only a due date, or neither."""
    assert Task.new("T", due=date(2024, 5, 6)).due == date(2024, 5, 6)
    assert Task.new("T", start=START).start == START


def test_task_due_before_start_is_rejected() -> None:
    """A task due before it starts is invalid."""
    with pytest.raises(InvalidItemError, match=r"due .* is before start"):
        Task.new("T", start=END, due=START)


def test_task_mixing_dates_and_datetimes_is_rejected() -> None:
    """A task's start and due are both dates or both datetimes."""
    with pytest.raises(InvalidItemError, match="both be dates"):
        Task.new("T", start=date(2024, 5, 6), due=END)


def test_task_mixing_floating_and_aware_is_rejected() -> None:
    """A task's start and due are both floating or both aware."""
    with pytest.raises(InvalidItemError, match="aware or both floating"):
        Task.new("T", start=datetime(2024, 5, 6, 9, 0), due=END)


def test_complete_at_a_given_time() -> None:
    """``complete(at)`` returns a completed copy and leaves the original open."""
    task = Task.new("T", percent_complete=40, status=TaskStatus.IN_PROGRESS)
    done = task.complete(END)
    assert done.is_completed
    assert (done.status, done.percent_complete, done.completed) == (TaskStatus.COMPLETED, 100, END)
    assert task.status is TaskStatus.IN_PROGRESS
    assert task.completed is None


def test_complete_defaults_to_now_in_utc() -> None:
    """``complete()`` without a time stamps the task with the current aware time."""
    before = datetime.now(UTC)
    done = Task.new("T").complete()
    assert done.completed is not None
    assert before <= done.completed <= datetime.now(UTC)


def test_task_keeps_several_reminders() -> None:
    """A task holds every alarm a VTODO carries, not just Outlook's one."""
    task = Task.new("T", reminders=[Reminder.minutes_before(10), Reminder(START)])
    assert len(task.reminders) == 2


def test_task_is_immutable_and_evolvable() -> None:
    """Tasks are frozen; ``attrs.evolve`` validates and copies."""
    task = Task.new("T")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        task.priority = 1  # type: ignore[misc]
    assert attrs.evolve(task, priority=1).priority == 1
    with pytest.raises(InvalidItemError):
        attrs.evolve(task, priority=10)


# --------------------------------------------------------------------------- all classes


@pytest.mark.parametrize(
    "cls",
    [Appointment, Task, Attendee, Organizer, Reminder, Recurrence, Attachment],
)
def test_annotations_resolve_at_runtime(cls: type) -> None:
    """Every field's type resolves at runtime, as cattrs and ``attrs.resolve_types`` need."""
    attrs.resolve_types(cls)
    assert all(not isinstance(field.type, str) for field in attrs.fields(cls))
