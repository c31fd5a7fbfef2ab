"""Appointments and tasks: the items of calendar and task folders (iCalendar VEVENT and VTODO).

Times follow RFC 5545. A :class:`~datetime.date` is an all-day value. An aware
:class:`~datetime.datetime` is an instant; its ``tzinfo`` is the time zone. A naive
``datetime`` is *floating time* (RFC 5545 §3.3.5): the same wall-clock time wherever the
user is, as in "take pills at 08:00". One item never mixes dates with datetimes, nor
floating with aware values, in its start and end.

``timezone`` keeps the TZID exactly as the item wrote it, which may be a name no tzinfo
knows (Outlook writes ``"W. Europe Standard Time"``), so that it can be written back.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import attrs

from openprotocols.errors import InvalidItemError
from openprotocols.model._base import (
    Address,
    Extended,
    extended_field,
    new_uid,
    to_params,
    to_tuple,
)

__all__ = [
    "Appointment",
    "AppointmentStatus",
    "Attachment",
    "Attendee",
    "AttendeeRole",
    "AttendeeType",
    "BusyStatus",
    "Importance",
    "Organizer",
    "Recurrence",
    "Reminder",
    "ReminderAction",
    "ResponseStatus",
    "Sensitivity",
    "Task",
    "TaskStatus",
]


# --------------------------------------------------------------------------- enumerations


class BusyStatus(enum.StrEnum):
    """How an appointment shows in free/busy lookups (Outlook's "Show as").

    iCalendar's ``TRANSP`` only tells free from busy; the finer values travel in
    ``X-MICROSOFT-CDO-BUSYSTATUS`` where a client wrote it.
    """

    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OUT_OF_OFFICE = "out-of-office"
    WORKING_ELSEWHERE = "working-elsewhere"


class Sensitivity(enum.StrEnum):
    """Who may see an item's details (iCalendar ``CLASS``; ``personal`` is Outlook's own)."""

    NORMAL = "normal"
    PERSONAL = "personal"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"


class Importance(enum.StrEnum):
    """Outlook's three-level importance of an item."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"

    @classmethod
    def from_priority(cls, priority: int) -> Importance:
        """Return the importance of an iCalendar ``PRIORITY`` (RFC 5545 §3.8.1.9):
        1-4 are high, 6-9 low, and 5 or 0 (undefined) normal."""
        if 1 <= priority <= 4:
            return cls.HIGH
        if 6 <= priority <= 9:
            return cls.LOW
        return cls.NORMAL


class AppointmentStatus(enum.StrEnum):
    """Whether an appointment takes place (iCalendar ``STATUS`` of a VEVENT)."""

    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class TaskStatus(enum.StrEnum):
    """How far a task has got. ``waiting`` and ``deferred`` are Outlook's own; iCalendar
    knows the others (``NEEDS-ACTION``, ``IN-PROCESS``, ``COMPLETED``, ``CANCELLED``)."""

    NOT_STARTED = "not-started"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    WAITING = "waiting"
    DEFERRED = "deferred"
    CANCELLED = "cancelled"


class AttendeeRole(enum.StrEnum):
    """An attendee's part in a meeting (iCalendar ``ROLE``)."""

    CHAIR = "chair"
    REQUIRED = "required"
    OPTIONAL = "optional"
    NON_PARTICIPANT = "non-participant"


class ResponseStatus(enum.StrEnum):
    """An attendee's answer to an invitation (iCalendar ``PARTSTAT``)."""

    NEEDS_ACTION = "needs-action"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    DELEGATED = "delegated"


class AttendeeType(enum.StrEnum):
    """What an attendee is (iCalendar ``CUTYPE``): a person, a group, a room..."""

    INDIVIDUAL = "individual"
    GROUP = "group"
    RESOURCE = "resource"
    ROOM = "room"
    UNKNOWN = "unknown"


class ReminderAction(enum.StrEnum):
    """What a reminder does when it fires (iCalendar ``ACTION`` of a VALARM)."""

    DISPLAY = "display"
    AUDIO = "audio"
    EMAIL = "email"


# --------------------------------------------------------------------------- private helpers


def _owner(instance: object) -> str:
    """Name an instance in an error message: its class, and its uid when it has one."""
    uid = getattr(instance, "uid", None)
    name = type(instance).__name__
    return f"{name} {uid!r}" if uid is not None else name


def _in_range(low: int, high: int | None = None) -> Callable[[Any, Any, int | None], None]:
    """attrs validator: an integer (or ``None``) within ``low..high`` (no upper bound if None)."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
        if value is None or (low <= value and (high is None or value <= high)):
            return
        allowed = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidItemError(
            f"{_owner(instance)}: {attribute.name} must be {allowed}, got {value}"
        )

    return check


def _is_aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def _check_span(item: object, names: tuple[str, str], start: date | None, end: date | None) -> None:
    """Raise :class:`InvalidItemError` unless ``start`` and ``end`` are alike (both dates or
    both datetimes, both floating or both aware) and ``end`` is not earlier. ``names`` are
    the two fields' names, for the message; a ``None`` on either side passes."""
    owner, (first_name, second_name) = _owner(item), names
    if start is None or end is None:
        return
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise InvalidItemError(
            f"{owner}: {first_name} and {second_name} must both be dates (all-day) or both "
            f"datetimes, got {start!r} and {end!r}"
        )
    if (
        isinstance(start, datetime)
        and isinstance(end, datetime)
        and _is_aware(start) != _is_aware(end)
    ):
        raise InvalidItemError(
            f"{owner}: {first_name} and {second_name} must both be aware or both floating "
            f"(naive) datetimes, got {start!r} and {end!r}"
        )
    if end < start:
        raise InvalidItemError(
            f"{owner}: {second_name} {end.isoformat()} is before {first_name} {start.isoformat()}"
        )


# --------------------------------------------------------------------------- value types


@attrs.frozen
class Organizer:
    """The calendar user who organizes a meeting (iCalendar ``ORGANIZER``).

    ``email`` is the address without ``mailto:``; a calendar user address that is not a
    mailbox (``urn:uuid:...``) is kept as its full URI. ``params`` keeps the parameters
    the model has no field for (``SENT-BY``, ``DIR``, ``X-...``) verbatim, in order.
    """

    email: str
    name: str | None = None
    params: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=to_params)

    @property
    def address(self) -> Address:
        """The organizer as a mailbox, e.g. to write to them."""
        return Address(self.email, self.name)


@attrs.frozen
class Attendee:
    """A participant of a meeting (iCalendar ``ATTENDEE``, RFC 5545 §3.8.4.1).

    ``email`` is written as for :class:`Organizer`. ``rsvp`` says whether the organizer
    asked for an answer. ``params`` keeps the parameters the model has no field for
    (``DELEGATED-TO``, ``SENT-BY``, ``SCHEDULE-STATUS``, ``X-NUM-GUESTS``...) verbatim.
    An unrecognised ``ROLE``, ``PARTSTAT`` or ``CUTYPE`` reads as RFC 5545 prescribes
    (required, needs-action, unknown) while the value as written stays in ``params``.
    """

    email: str
    name: str | None = None
    role: AttendeeRole = AttendeeRole.REQUIRED
    response: ResponseStatus = ResponseStatus.NEEDS_ACTION
    rsvp: bool = False
    type: AttendeeType = AttendeeType.INDIVIDUAL
    params: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=to_params)

    @property
    def address(self) -> Address:
        """The attendee as a mailbox."""
        return Address(self.email, self.name)


@attrs.frozen
class Reminder:
    """An alarm on an appointment or a task (iCalendar ``VALARM``, RFC 5545 §3.6.6).

    ``trigger`` is either a :class:`~datetime.timedelta` relative to the start (negative
    means before) or an absolute, aware :class:`~datetime.datetime`. With
    ``related_to_end`` a relative trigger counts from the end of an appointment or the due
    time of a task instead; it means nothing for an absolute trigger. ``extended`` keeps
    the alarm's other properties (``UID``, ``ACKNOWLEDGED``, ``X-...``) verbatim.
    """

    trigger: timedelta | datetime = attrs.field()
    related_to_end: bool = False
    action: ReminderAction = ReminderAction.DISPLAY
    description: str | None = None
    extended: Extended = extended_field()

    @trigger.validator
    def _check_trigger(self, _attribute: attrs.Attribute[Any], trigger: object) -> None:
        if isinstance(trigger, datetime) and not _is_aware(trigger):
            raise InvalidItemError(
                f"Reminder: an absolute trigger must be an aware datetime, got {trigger!r}"
            )

    @classmethod
    def minutes_before(cls, minutes: int, **fields: Any) -> Reminder:
        """A reminder ``minutes`` before the start, as Outlook sets them."""
        return cls(trigger=-timedelta(minutes=minutes), **fields)

    @property
    def is_absolute(self) -> bool:
        """Whether the reminder fires at a fixed time rather than relative to the item."""
        return isinstance(self.trigger, datetime)


@attrs.frozen
class Recurrence:
    """How an item repeats (RFC 5545 §3.8.5).

    ``rule`` is the ``RRULE`` value verbatim, e.g. ``"FREQ=WEEKLY;BYDAY=MO,WE"``; the model
    does not parse it. ``rdates`` adds occurrences and ``exdates`` removes them; each is a
    date or datetime like the item's start. Rarities (a second ``RRULE``, ``EXRULE``,
    ``RDATE;VALUE=PERIOD``) stay in the item's ``extended``.
    """

    rule: str | None = None
    rdates: tuple[date | datetime, ...] = attrs.field(factory=tuple, converter=to_tuple)
    exdates: tuple[date | datetime, ...] = attrs.field(factory=tuple, converter=to_tuple)


@attrs.frozen(kw_only=True)
class Attachment:
    """A file attached to an item, held inline (``data``) or by reference (``url``).

    Both may be set (a server-managed attachment, RFC 8607, whose content was fetched);
    neither means the content is not downloaded yet. ``size`` is in bytes, if known;
    ``content_id`` names an inline part (``cid:`` in HTML) and ``inline`` says it belongs
    in the body rather than the attachment list. ``params`` keeps unmapped parameters
    (``MANAGED-ID``, ``X-...``) verbatim.
    """

    filename: str | None = None
    content_type: str | None = None
    data: bytes | None = None
    url: str | None = None
    size: int | None = attrs.field(default=None, validator=_in_range(0))
    content_id: str | None = None
    inline: bool = False
    params: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=to_params)


# --------------------------------------------------------------------------- items


@attrs.frozen(kw_only=True)
class Appointment:
    """An appointment or meeting in a calendar folder (iCalendar ``VEVENT``).

    ``start`` and ``end`` are both dates (all-day; ``end`` is exclusive, RFC 5545) or both
    datetimes, and ``end`` is never before ``start``; for an event written with
    ``DURATION`` or without ``DTEND`` the codec computes ``end`` (RFC 5545 §3.6.1).
    ``timezone`` is the TZID of ``start`` as written; ``end_timezone`` that of ``end`` if it
    differs (``None``: the same; Outlook and RFC 5545 allow two zones). A recurring series
    carries its ``recurrence`` and, in ``overrides``, the occurrences changed from it; each
    override is an ``Appointment`` with the series' ``uid`` and a ``recurrence_id`` naming
    the original start of the occurrence it replaces.
    ``sequence`` counts significant changes sent to attendees (RFC 5546).
    """

    kind: ClassVar[str] = "calendar"

    uid: str
    subject: str = ""
    start: date | datetime = attrs.field()
    end: date | datetime = attrs.field()
    timezone: str | None = None
    end_timezone: str | None = None
    location: str | None = None
    body: str | None = None
    body_html: str | None = None
    status: AppointmentStatus = AppointmentStatus.CONFIRMED
    busy_status: BusyStatus = BusyStatus.BUSY
    sensitivity: Sensitivity = Sensitivity.NORMAL
    importance: Importance = Importance.NORMAL
    reminders: tuple[Reminder, ...] = attrs.field(factory=tuple, converter=to_tuple)
    organizer: Organizer | None = None
    attendees: tuple[Attendee, ...] = attrs.field(factory=tuple, converter=to_tuple)
    recurrence: Recurrence | None = None
    recurrence_id: date | datetime | None = None
    overrides: tuple[Appointment, ...] = attrs.field(factory=tuple, converter=to_tuple)
    categories: tuple[str, ...] = attrs.field(factory=tuple, converter=to_tuple)
    attachments: tuple[Attachment, ...] = attrs.field(factory=tuple, converter=to_tuple)
    url: str | None = None
    sequence: int = attrs.field(default=0, validator=_in_range(0))
    created: datetime | None = None
    last_modified: datetime | None = None
    extended: Extended = extended_field()

    @end.validator
    def _check_end(self, _attribute: attrs.Attribute[Any], end: date) -> None:
        _check_span(self, ("start", "end"), self.start, end)

    @overrides.validator
    def _check_overrides(
        self, _attribute: attrs.Attribute[Any], overrides: tuple[Appointment, ...]
    ) -> None:
        for occurrence in overrides:
            if occurrence.recurrence_id is None:
                raise InvalidItemError(f"{_owner(self)}: an override needs a recurrence_id")
            if occurrence.uid != self.uid:
                raise InvalidItemError(
                    f"{_owner(self)}: override {occurrence.recurrence_id!r} has another "
                    f"uid, {occurrence.uid!r}"
                )
            if occurrence.overrides:
                raise InvalidItemError(
                    f"{_owner(self)}: override {occurrence.recurrence_id!r} has overrides "
                    "of its own"
                )

    @classmethod
    def new(
        cls,
        subject: str,
        start: date | datetime,
        end: date | datetime,
        *,
        uid: str | None = None,
        **fields: Any,
    ) -> Appointment:
        """Create an appointment with a new unique ``uid`` (unless one is given)."""
        return cls(
            uid=new_uid() if uid is None else uid, subject=subject, start=start, end=end, **fields
        )

    @property
    def all_day(self) -> bool:
        """Whether this is an all-day appointment (its start is a date, not a datetime)."""
        return not isinstance(self.start, datetime)

    @property
    def duration(self) -> timedelta:
        """How long the appointment lasts (whole days for an all-day one)."""
        return self.end - self.start

    @property
    def is_recurring(self) -> bool:
        """Whether this is a recurring series."""
        return self.recurrence is not None

    @property
    def is_override(self) -> bool:
        """Whether this is one changed occurrence of a series (it has a ``recurrence_id``)."""
        return self.recurrence_id is not None

    @property
    def is_meeting(self) -> bool:
        """Whether other people are invited (the appointment has attendees)."""
        return bool(self.attendees)

    def attendee(self, email: str) -> Attendee | None:
        """Return the attendee with address ``email`` (ignoring case), or ``None``."""
        wanted = email.casefold()
        return next((a for a in self.attendees if a.email.casefold() == wanted), None)

    def override_for(self, recurrence_id: date | datetime) -> Appointment | None:
        """Return the override of the occurrence originally at ``recurrence_id``, or ``None``."""
        return next((o for o in self.overrides if o.recurrence_id == recurrence_id), None)

    def with_override(self, occurrence: Appointment) -> Appointment:
        """Return a copy of the series with ``occurrence`` as an override.

        The occurrence takes the series' ``uid``; it replaces an override with the same
        ``recurrence_id`` in place, or is appended.
        """
        rid = occurrence.recurrence_id
        if rid is None:
            raise InvalidItemError(f"{_owner(self)}: an override needs a recurrence_id")
        occurrence = attrs.evolve(occurrence, uid=self.uid)
        if self.override_for(rid) is None:
            overrides = (*self.overrides, occurrence)
        else:
            overrides = tuple(occurrence if o.recurrence_id == rid else o for o in self.overrides)
        return attrs.evolve(self, overrides=overrides)

    def without_occurrence(self, recurrence_id: date | datetime) -> Appointment:
        """Return a copy of the series without the occurrence at ``recurrence_id``: it is
        added to the exception dates and its override, if any, is dropped."""
        if self.recurrence is None:
            raise InvalidItemError(f"{_owner(self)} is not recurring")
        exdates = self.recurrence.exdates
        if recurrence_id not in exdates:
            exdates = (*exdates, recurrence_id)
        return attrs.evolve(
            self,
            recurrence=attrs.evolve(self.recurrence, exdates=exdates),
            overrides=[o for o in self.overrides if o.recurrence_id != recurrence_id],
        )


@attrs.frozen(kw_only=True)
class Task:
    """A to-do in a task folder (iCalendar ``VTODO``).

    ``start`` and ``due`` are optional; when both are set they are alike (dates or
    datetimes, floating or aware) and ``due`` is not before ``start``. ``completed`` is
    when the task was done. ``priority`` is iCalendar's: 1 (highest) to 9 (lowest), 0 for
    undefined; :attr:`importance` reads it the way Outlook shows it. A task has a tuple of
    ``reminders`` like an appointment: Outlook sets at most one, but a VTODO may hold
    several alarms and none may be lost.
    """

    kind: ClassVar[str] = "tasks"

    uid: str
    subject: str = ""
    body: str | None = None
    start: date | datetime | None = None
    due: date | datetime | None = attrs.field(default=None)
    timezone: str | None = None
    completed: datetime | None = None
    status: TaskStatus = TaskStatus.NOT_STARTED
    percent_complete: int = attrs.field(default=0, validator=_in_range(0, 100))
    priority: int = attrs.field(default=0, validator=_in_range(0, 9))
    sensitivity: Sensitivity = Sensitivity.NORMAL
    reminders: tuple[Reminder, ...] = attrs.field(factory=tuple, converter=to_tuple)
    recurrence: Recurrence | None = None
    categories: tuple[str, ...] = attrs.field(factory=tuple, converter=to_tuple)
    created: datetime | None = None
    last_modified: datetime | None = None
    extended: Extended = extended_field()

    @due.validator
    def _check_due(self, _attribute: attrs.Attribute[Any], due: date | None) -> None:
        _check_span(self, ("start", "due"), self.start, due)

    @classmethod
    def new(cls, subject: str, *, uid: str | None = None, **fields: Any) -> Task:
        """Create a task with a new unique ``uid`` (unless one is given)."""
        return cls(uid=new_uid() if uid is None else uid, subject=subject, **fields)

    @property
    def importance(self) -> Importance:
        """The task's importance, read from its ``priority``."""
        return Importance.from_priority(self.priority)

    @property
    def is_completed(self) -> bool:
        """Whether the task is done."""
        return self.status is TaskStatus.COMPLETED

    def complete(self, at: datetime | None = None) -> Task:
        """Return a completed copy: status completed, 100 %, completed ``at`` (default now)."""
        return attrs.evolve(
            self,
            status=TaskStatus.COMPLETED,
            percent_complete=100,
            completed=datetime.now(UTC) if at is None else at,
        )
