"""The recurrence blobs of appointments and tasks (MS-OXOCAL §2.2.1.44), and RRULE ⇄ pattern.

Outlook keeps how an item repeats in one binary property: ``PidLidAppointmentRecur`` holds
an :class:`AppointmentRecurrencePattern` — a :class:`RecurrencePattern` (frequency, period,
days, range, deleted and modified instance dates), the times of day, and one
:class:`ExceptionInfo` per modified occurrence with what changed (subject, location, busy
status, reminder…) — and ``PidLidTaskRecurrence`` holds a bare :class:`RecurrencePattern`.
This module reads and writes those structures byte for byte as the specification lays them
out (little-endian; times are whole minutes since 1601-01-01 in the item's own time zone),
and converts a pattern to and from an RFC 5545 ``RRULE``:

- :func:`pattern_for_rule` gives the pattern of an RRULE, or the closest one Outlook can
  show when the rule says more than a pattern can (``BYHOUR``, two ``BYMONTH`` values, an
  ``HOURLY`` frequency…): the parts a pattern cannot hold are dropped, and the caller keeps
  the rule text itself elsewhere;
- :func:`rule_for_pattern` gives the RRULE of a pattern, always in one canonical form:
  ``FREQ``, then ``COUNT`` or ``UNTIL``, ``INTERVAL`` (when not 1), ``BYDAY``,
  ``BYMONTHDAY``, ``BYMONTH``, ``BYSETPOS``, ``WKST`` (when not Monday, RFC 5545's
  default, and only where it matters: weekly rules);
- :func:`occurrences` lists the dates a pattern gives, as Outlook counts them (so a "day 31"
  monthly pattern falls on the last day of shorter months), to fill in the range fields.

Reading is defensive: a truncated or inconsistent blob raises
:class:`~openprotocols.errors.ParseError` naming the property and the byte offset, never an
``IndexError`` or ``struct.error``.
"""

from __future__ import annotations

import calendar
import struct
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Final

import attrs

from openprotocols.errors import ParseError

__all__ = [
    "ARO_APPTCOLOR",
    "ARO_ATTACHMENT",
    "ARO_BUSYSTATUS",
    "ARO_EXCEPTIONAL_BODY",
    "ARO_LOCATION",
    "ARO_MEETINGTYPE",
    "ARO_REMINDER",
    "ARO_REMINDERDELTA",
    "ARO_SUBJECT",
    "ARO_SUBTYPE",
    "END_AFTER_COUNT",
    "END_BY_DATE",
    "END_NEVER",
    "NO_END_DATE",
    "AppointmentRecurrencePattern",
    "ExceptionInfo",
    "Frequency",
    "PatternType",
    "Reader",
    "RecurrencePattern",
    "date_of",
    "minutes_of",
    "occurrences",
    "parse_rule",
    "pattern_for_rule",
    "recurrence_type",
    "rule_for_pattern",
]

EPOCH: Final = date(1601, 1, 1)
"""Day 0 of the minute counts in the blobs (a Monday)."""
MINUTES_PER_DAY: Final = 1440
MINUTES_PER_WEEK: Final = 7 * MINUTES_PER_DAY
NO_END_DATE: Final = 0x5AE980DF
"""``EndDate`` of a pattern without an end (31 December 4500, 23:59)."""

END_BY_DATE: Final = 0x2021
END_AFTER_COUNT: Final = 0x2022
END_NEVER: Final = 0x2023
_END_NEVER_ALT: Final = 0xFFFFFFFF  # what some writers use instead of 0x2023

_PATTERN_VERSION: Final = 0x3004
_READER_VERSION2: Final = 0x3006
_WRITER_VERSION2: Final = 0x3009  # Outlook 2007 and later: ExtendedException has ChangeHighlight
_CHANGE_HIGHLIGHT_VERSION: Final = 0x3009
_OLDEST_WRITER2: Final = 0x3008  # below: no ReservedBlock1, ExtendedException or ReservedBlock2

ARO_SUBJECT: Final = 0x0001
ARO_MEETINGTYPE: Final = 0x0002
ARO_REMINDERDELTA: Final = 0x0004
ARO_REMINDER: Final = 0x0008
ARO_LOCATION: Final = 0x0010
ARO_BUSYSTATUS: Final = 0x0020
ARO_ATTACHMENT: Final = 0x0040
ARO_SUBTYPE: Final = 0x0080
ARO_APPTCOLOR: Final = 0x0100
ARO_EXCEPTIONAL_BODY: Final = 0x0200

_MAX_INSTANCES: Final = 10_000
"""Deleted or modified instances a blob may list; more is a hostile blob, not a calendar."""


class Frequency:
    """``RecurFrequency`` values."""

    DAILY: Final = 0x200A
    WEEKLY: Final = 0x200B
    MONTHLY: Final = 0x200C
    YEARLY: Final = 0x200D


class PatternType:
    """``PatternType`` values (the ``Hj…`` ones are the Hijri-calendar variants)."""

    DAY: Final = 0x0000
    WEEK: Final = 0x0001
    MONTH: Final = 0x0002
    MONTH_NTH: Final = 0x0003
    MONTH_END: Final = 0x0004
    HJ_MONTH: Final = 0x000A
    HJ_MONTH_NTH: Final = 0x000B
    HJ_MONTH_END: Final = 0x000C


_WEEK_MASKED = {PatternType.WEEK}
_NTH = {PatternType.MONTH_NTH, PatternType.HJ_MONTH_NTH}
_DAY_OF_MONTH = {
    PatternType.MONTH,
    PatternType.MONTH_END,
    PatternType.HJ_MONTH,
    PatternType.HJ_MONTH_END,
}
_VALID_TYPES = {
    Frequency.DAILY: {
        PatternType.DAY,
        PatternType.WEEK,
    },  # "every weekday" is daily in Outlook's UI
    Frequency.WEEKLY: {PatternType.WEEK},
    Frequency.MONTHLY: _NTH | _DAY_OF_MONTH,
    Frequency.YEARLY: _NTH | _DAY_OF_MONTH,
}
_DAY_NAMES = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")
"""Day names by Outlook's day number (0 = Sunday), also the bit order of day masks."""


# --------------------------------------------------------------------------- bytes


class Reader:
    """Reads little-endian fields from a blob, raising :class:`ParseError` (with the
    property's name and the byte offset) instead of running off its end."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.what = what
        self.offset = 0

    def fail(self, message: str) -> ParseError:
        """The error for ``message`` at the current offset."""
        return ParseError(
            f"{self.what}: {message} (at byte {self.offset} of {len(self.data)})",
            format=self.what,
            offset=self.offset,
        )

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes."""
        if size < 0 or self.offset + size > len(self.data):
            raise self.fail(f"truncated: {size} more bytes expected")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def u8(self) -> int:
        """An unsigned byte."""
        return self.take(1)[0]

    def u16(self) -> int:
        """An unsigned 16-bit integer."""
        return int.from_bytes(self.take(2), "little")

    def u32(self) -> int:
        """An unsigned 32-bit integer."""
        return int.from_bytes(self.take(4), "little")

    def i32(self) -> int:
        """A signed 32-bit integer."""
        return int.from_bytes(self.take(4), "little", signed=True)

    def block(self) -> bytes:
        """A size-prefixed block (a 32-bit size, then that many bytes)."""
        return self.take(self.u32())

    def count(self, what: str, limit: int = _MAX_INSTANCES) -> int:
        """A 32-bit count, refused past ``limit``."""
        value = self.u32()
        if value > limit:
            raise self.fail(f"{what} {value} is beyond any real item")
        return value


def _u16(value: int) -> bytes:
    return struct.pack("<H", value)


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _block(data: bytes) -> bytes:
    return _u32(len(data)) + data


def minutes_of(day: date) -> int:
    """Minutes from 1601-01-01 to midnight of ``day``."""
    return (day - EPOCH).days * MINUTES_PER_DAY


def date_of(minutes: int) -> datetime:
    """The (naive, local) date and time ``minutes`` after 1601-01-01."""
    return datetime(1601, 1, 1) + timedelta(minutes=minutes)


# --------------------------------------------------------------------------- structures


@attrs.frozen(kw_only=True)
class RecurrencePattern:
    """A ``RecurrencePattern`` structure (MS-OXOCAL §2.2.1.44.1).

    ``days`` is the day mask of weekly and "n-th weekday" patterns (bit 0 Sunday … bit 6
    Saturday), ``day_of_month`` the day of monthly ones, ``nth`` the week of an "n-th
    weekday" pattern (1-4, 5 for the last). Instance dates and ``start_date``/``end_date``
    are minutes since 1601 of local midnights.
    """

    frequency: int
    pattern_type: int
    calendar_type: int = 0
    first_date_time: int
    period: int
    sliding: int = 0
    days: int = 0
    day_of_month: int = 0
    nth: int = 0
    end_type: int
    occurrence_count: int
    first_dow: int = 0
    deleted: tuple[int, ...] = ()
    modified: tuple[int, ...] = ()
    start_date: int
    end_date: int

    def to_bytes(self) -> bytes:
        """The structure as Outlook stores it."""
        out = [
            _u16(_PATTERN_VERSION),
            _u16(_PATTERN_VERSION),
            _u16(self.frequency),
            _u16(self.pattern_type),
            _u16(self.calendar_type),
            _u32(self.first_date_time),
            _u32(self.period),
            _u32(self.sliding),
        ]
        if self.pattern_type in _WEEK_MASKED:
            out.append(_u32(self.days))
        elif self.pattern_type in _NTH:
            out += [_u32(self.days), _u32(self.nth)]
        elif self.pattern_type in _DAY_OF_MONTH:
            out.append(_u32(self.day_of_month))
        out += [_u32(self.end_type), _u32(self.occurrence_count), _u32(self.first_dow)]
        for dates in (self.deleted, self.modified):
            out.append(_u32(len(dates)))
            out += [_u32(value) for value in dates]
        out += [_u32(self.start_date), _u32(self.end_date)]
        return b"".join(out)

    @classmethod
    def read(cls, reader: Reader) -> RecurrencePattern:
        """Read the structure at the reader's offset, checking what a pattern must be."""
        if (reader.u16(), reader.u16()) != (_PATTERN_VERSION, _PATTERN_VERSION):
            raise reader.fail("ReaderVersion/WriterVersion is not 0x3004")
        frequency, pattern_type, calendar_type = reader.u16(), reader.u16(), reader.u16()
        if pattern_type not in _VALID_TYPES.get(frequency, ()):
            raise reader.fail(f"frequency 0x{frequency:04X} with pattern type {pattern_type}")
        first_date_time, period, sliding = reader.u32(), reader.u32(), reader.u32()
        if period == 0:
            raise reader.fail("Period is 0")
        days = day_of_month = nth = 0
        if pattern_type in _WEEK_MASKED:
            days = reader.u32()
        elif pattern_type in _NTH:
            days, nth = reader.u32(), reader.u32()
            if not 1 <= nth <= 5:
                raise reader.fail(f"week of month {nth} is not 1-5")
        elif pattern_type in _DAY_OF_MONTH:
            day_of_month = reader.u32()
            if not 1 <= day_of_month <= 31:
                raise reader.fail(f"day of month {day_of_month} is not 1-31")
        if (pattern_type in _WEEK_MASKED | _NTH) and not 0 < days < 0x80:
            raise reader.fail(f"day mask 0x{days:X} names no day of the week")
        end_type, occurrence_count, first_dow = reader.u32(), reader.u32(), reader.u32()
        if end_type not in (END_BY_DATE, END_AFTER_COUNT, END_NEVER, _END_NEVER_ALT):
            raise reader.fail(f"EndType 0x{end_type:X}")
        if first_dow > 6:
            raise reader.fail(f"FirstDOW {first_dow} is not a day of the week")
        deleted = tuple(reader.u32() for _ in range(reader.count("DeletedInstanceCount")))
        modified = tuple(reader.u32() for _ in range(reader.count("ModifiedInstanceCount")))
        start_date, end_date = reader.u32(), reader.u32()
        return cls(
            frequency=frequency,
            pattern_type=pattern_type,
            calendar_type=calendar_type,
            first_date_time=first_date_time,
            period=period,
            sliding=sliding,
            days=days,
            day_of_month=day_of_month,
            nth=nth,
            end_type=END_NEVER if end_type == _END_NEVER_ALT else end_type,
            occurrence_count=occurrence_count,
            first_dow=first_dow,
            deleted=deleted,
            modified=modified,
            start_date=start_date,
            end_date=end_date,
        )

    @classmethod
    def parse(cls, data: bytes, what: str = "PidLidTaskRecurrence") -> RecurrencePattern:
        """A bare pattern blob (a task's)."""
        return cls.read(Reader(data, what))

    @property
    def has_end(self) -> bool:
        """Whether the range ends (by date or by count)."""
        return self.end_type in (END_BY_DATE, END_AFTER_COUNT)


@attrs.frozen(kw_only=True)
class ExceptionInfo:
    """One modified occurrence: an ``ExceptionInfo`` structure (§2.2.1.44.2) and its
    ``ExtendedException`` (§2.2.1.44.3) together.

    ``start``, ``end`` and ``original_start`` are local minutes since 1601. ``flags`` are
    the ``ARO_…`` override flags; a field is ``None`` unless its flag is set. ``subject``
    and ``location`` are the 8-bit strings of ExceptionInfo, ``wide_subject`` and
    ``wide_location`` the Unicode ones of ExtendedException (read in preference).
    """

    start: int
    end: int
    original_start: int
    flags: int = 0
    subject: str | None = None
    meeting_type: int | None = None
    reminder_delta: int | None = None
    reminder_set: int | None = None
    location: str | None = None
    busy_status: int | None = None
    attachment: int | None = None
    sub_type: int | None = None
    color: int | None = None
    change_highlight: int = 0
    change_highlight_reserved: bytes = b""
    reserved_ee1: bytes = b""
    wide_subject: str | None = None
    wide_location: str | None = None
    reserved_ee2: bytes = b""

    @property
    def has_extended_times(self) -> bool:
        """Whether ExtendedException repeats the times (it does with a subject or location)."""
        return bool(self.flags & (ARO_SUBJECT | ARO_LOCATION))

    def info_bytes(self) -> bytes:
        """The ExceptionInfo structure."""
        out = [_u32(self.start), _u32(self.end), _u32(self.original_start), _u16(self.flags)]
        if self.flags & ARO_SUBJECT:
            out.append(_ansi(self.subject or ""))
        for flag, value in (
            (ARO_MEETINGTYPE, self.meeting_type),
            (ARO_REMINDERDELTA, self.reminder_delta),
            (ARO_REMINDER, self.reminder_set),
        ):
            if self.flags & flag:
                out.append(_u32(value or 0))
        if self.flags & ARO_LOCATION:
            out.append(_ansi(self.location or ""))
        for flag, value in (
            (ARO_BUSYSTATUS, self.busy_status),
            (ARO_ATTACHMENT, self.attachment),
            (ARO_SUBTYPE, self.sub_type),
            (ARO_APPTCOLOR, self.color),
        ):
            if self.flags & flag:
                out.append(_u32(value or 0))
        return b"".join(out)

    def extended_bytes(self, writer_version2: int) -> bytes:
        """The ExtendedException structure (its form depends on the writer version)."""
        out = []
        if writer_version2 >= _CHANGE_HIGHLIGHT_VERSION:
            highlight = _u32(self.change_highlight) + self.change_highlight_reserved
            out.append(_block(highlight))
        out.append(_block(self.reserved_ee1))
        if self.has_extended_times:
            out += [_u32(self.start), _u32(self.end), _u32(self.original_start)]
            if self.flags & ARO_SUBJECT:
                out.append(_wide(self.wide_subject or ""))
            if self.flags & ARO_LOCATION:
                out.append(_wide(self.wide_location or ""))
            out.append(_block(self.reserved_ee2))
        return b"".join(out)

    @classmethod
    def read(cls, reader: Reader) -> ExceptionInfo:
        """Read an ExceptionInfo structure."""
        start, end, original = reader.u32(), reader.u32(), reader.u32()
        flags = reader.u16()
        subject = _read_ansi(reader, "subject") if flags & ARO_SUBJECT else None
        meeting_type = reader.u32() if flags & ARO_MEETINGTYPE else None
        reminder_delta = reader.u32() if flags & ARO_REMINDERDELTA else None
        reminder_set = reader.u32() if flags & ARO_REMINDER else None
        location = _read_ansi(reader, "location") if flags & ARO_LOCATION else None
        busy_status = reader.u32() if flags & ARO_BUSYSTATUS else None
        attachment = reader.u32() if flags & ARO_ATTACHMENT else None
        sub_type = reader.u32() if flags & ARO_SUBTYPE else None
        color = reader.u32() if flags & ARO_APPTCOLOR else None
        return cls(
            start=start,
            end=end,
            original_start=original,
            flags=flags,
            subject=subject,
            meeting_type=meeting_type,
            reminder_delta=reminder_delta,
            reminder_set=reminder_set,
            location=location,
            busy_status=busy_status,
            attachment=attachment,
            sub_type=sub_type,
            color=color,
        )

    def read_extended(self, reader: Reader, writer_version2: int) -> ExceptionInfo:
        """This exception with its ExtendedException read from ``reader``."""
        highlight_value, highlight_rest = self.change_highlight, self.change_highlight_reserved
        if writer_version2 >= _CHANGE_HIGHLIGHT_VERSION:
            highlight = reader.block()
            if len(highlight) < 4:
                raise reader.fail("ChangeHighlightSize is below 4")
            highlight_value = int.from_bytes(highlight[:4], "little")
            highlight_rest = highlight[4:]
        reserved_ee1 = reader.block()
        wide_subject, wide_location, reserved_ee2 = None, None, b""
        if self.has_extended_times:
            times = (reader.u32(), reader.u32(), reader.u32())
            if times != (self.start, self.end, self.original_start):
                raise reader.fail("ExtendedException times differ from its ExceptionInfo")
            if self.flags & ARO_SUBJECT:
                wide_subject = _read_wide(reader)
            if self.flags & ARO_LOCATION:
                wide_location = _read_wide(reader)
            reserved_ee2 = reader.block()
        return attrs.evolve(
            self,
            change_highlight=highlight_value,
            change_highlight_reserved=highlight_rest,
            reserved_ee1=reserved_ee1,
            wide_subject=wide_subject,
            wide_location=wide_location,
            reserved_ee2=reserved_ee2,
        )

    @property
    def shown_subject(self) -> str | None:
        """The subject (Unicode where the blob has it), if the exception changes it."""
        if not self.flags & ARO_SUBJECT:
            return None
        return self.wide_subject if self.wide_subject is not None else self.subject

    @property
    def shown_location(self) -> str | None:
        """The location (Unicode where the blob has it), if the exception changes it."""
        if not self.flags & ARO_LOCATION:
            return None
        return self.wide_location if self.wide_location is not None else self.location


def _ansi(text: str) -> bytes:
    """An 8-bit string with its two length fields (the first one more than the second)."""
    data = text.encode("cp1252", errors="replace")[:0xFFFE]
    return _u16(len(data) + 1) + _u16(len(data)) + data


def _read_ansi(reader: Reader, what: str) -> str:
    length, length2 = reader.u16(), reader.u16()
    if length != length2 + 1:
        raise reader.fail(f"the two lengths of the {what} disagree ({length}, {length2})")
    return reader.take(length2).decode("cp1252", errors="replace")


def _wide(text: str) -> bytes:
    data = text.encode("utf-16-le", errors="surrogatepass")[: 0xFFFF * 2]
    return _u16(len(data) // 2) + data


def _read_wide(reader: Reader) -> str:
    return reader.take(2 * reader.u16()).decode("utf-16-le", errors="surrogatepass")


@attrs.frozen(kw_only=True)
class AppointmentRecurrencePattern:
    """An ``AppointmentRecurrencePattern`` structure (MS-OXOCAL §2.2.1.44.5): the pattern,
    the local start and end times of day in minutes, and the exceptions."""

    pattern: RecurrencePattern
    reader_version2: int = _READER_VERSION2
    writer_version2: int = _WRITER_VERSION2
    start_time_offset: int
    end_time_offset: int
    exceptions: tuple[ExceptionInfo, ...] = ()
    reserved1: bytes = b""
    reserved2: bytes = b""

    def to_bytes(self) -> bytes:
        """The blob of ``PidLidAppointmentRecur``."""
        out = [
            self.pattern.to_bytes(),
            _u32(self.reader_version2),
            _u32(self.writer_version2),
            _u32(self.start_time_offset),
            _u32(self.end_time_offset),
            _u16(len(self.exceptions)),
        ]
        out += [exception.info_bytes() for exception in self.exceptions]
        if self.writer_version2 >= _OLDEST_WRITER2:
            out.append(_block(self.reserved1))
            out += [e.extended_bytes(self.writer_version2) for e in self.exceptions]
            out.append(_block(self.reserved2))
        return b"".join(out)

    @classmethod
    def parse(
        cls, data: bytes, what: str = "PidLidAppointmentRecur"
    ) -> AppointmentRecurrencePattern:
        """Read the blob of ``PidLidAppointmentRecur``.

        :raises ParseError: the blob is truncated or inconsistent.
        """
        reader = Reader(data, what)
        pattern = RecurrencePattern.read(reader)
        reader_version2, writer_version2 = reader.u32(), reader.u32()
        start_offset, end_offset = reader.u32(), reader.u32()
        if end_offset < start_offset:
            raise reader.fail("EndTimeOffset is before StartTimeOffset")
        count = reader.u16()
        if count != len(pattern.modified):
            raise reader.fail(
                f"ExceptionCount {count} is not ModifiedInstanceCount {len(pattern.modified)}"
            )
        exceptions = [ExceptionInfo.read(reader) for _ in range(count)]
        reserved1 = reserved2 = b""
        # Outlook 2003 wrote 0x3006 and nothing after the ExceptionInfos when it had no
        # extended data to write; anything else carries the three trailing parts.
        if writer_version2 >= _OLDEST_WRITER2 or reader.offset < len(data):
            reserved1 = reader.block()
            exceptions = [e.read_extended(reader, writer_version2) for e in exceptions]
            reserved2 = reader.block()
        return cls(
            pattern=pattern,
            reader_version2=reader_version2,
            writer_version2=writer_version2,
            start_time_offset=start_offset,
            end_time_offset=end_offset,
            exceptions=tuple(exceptions),
            reserved1=reserved1,
            reserved2=reserved2,
        )


# --------------------------------------------------------------------------- occurrences


def _months_of(day: date) -> int:
    return (day.year - 1601) * 12 + day.month - 1


def _month_date(months: int, day: int) -> date:
    """Day ``day`` of the month ``months`` after January 1601, clamped to the month's end
    (Outlook's rule: "day 31" falls on the 30th of a 30-day month)."""
    year, month = 1601 + months // 12, months % 12 + 1
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _nth_date(months: int, mask: int, nth: int) -> date | None:
    """The ``nth`` (5: last) day of the month that is in ``mask``."""
    year, month = 1601 + months // 12, months % 12 + 1
    length = calendar.monthrange(year, month)[1]
    days = [
        date(year, month, d)
        for d in range(1, length + 1)
        if mask & (1 << ((date(year, month, d).weekday() + 1) % 7))
    ]
    if not days:
        return None
    return days[-1] if nth == 5 else days[nth - 1] if nth <= len(days) else None


def occurrences(pattern: RecurrencePattern, limit: int = 1000) -> Iterator[date]:
    """The dates of the pattern, from its start date on, as Outlook computes them (at most
    ``limit``, and none past a dated end). Deleted instances are included: they count in
    the range."""
    start = date_of(pattern.start_date).date()
    last = date_of(pattern.end_date).date() if pattern.end_type == END_BY_DATE else date.max
    produced = 0
    try:
        for day in _candidates(pattern, start):
            if day > last or produced >= limit:
                return
            if day >= start:
                produced += 1
                yield day
    except OverflowError:  # a hostile pattern ran past year 9999
        return


def _candidates(pattern: RecurrencePattern, start: date) -> Iterator[date]:
    """Pattern dates in order from around ``start``, bounded (a hostile pattern whose
    days never occur cannot loop forever)."""
    if pattern.pattern_type == PatternType.DAY:
        return _daily(pattern, start)
    if pattern.pattern_type == PatternType.WEEK:
        return _weekly(pattern, start)
    return _monthly(pattern, start)


def _daily(pattern: RecurrencePattern, start: date) -> Iterator[date]:
    period_days = max(1, pattern.period // MINUTES_PER_DAY)
    first = (start - EPOCH).days
    offset = (first * MINUTES_PER_DAY - pattern.first_date_time) // MINUTES_PER_DAY
    first -= offset % period_days
    for step in range(_MAX_INSTANCES):
        yield EPOCH + timedelta(days=first + step * period_days)


def _weekly(pattern: RecurrencePattern, start: date) -> Iterator[date]:
    week_start = start - timedelta(days=(start.weekday() + 1 - pattern.first_dow) % 7)
    period_weeks = pattern.period if pattern.frequency == Frequency.WEEKLY else 1
    span = period_weeks * MINUTES_PER_WEEK
    week_start -= timedelta(minutes=(minutes_of(week_start) - pattern.first_date_time) % span)
    order = [(pattern.first_dow + i) % 7 for i in range(7)]
    for step in range(2000):
        base = week_start + timedelta(weeks=step * period_weeks)
        for offset, dow in enumerate(order):
            if pattern.days & (1 << dow):
                yield base + timedelta(days=offset)


def _monthly(pattern: RecurrencePattern, start: date) -> Iterator[date]:
    """Monthly and yearly patterns (a yearly one is every 12·n months)."""
    anchor = _months_of(date_of(pattern.first_date_time).date())
    months = _months_of(start)
    months -= (months - anchor) % pattern.period
    for step in range(2000):
        current = months + step * pattern.period
        if current // 12 + 1601 > 9999:
            return
        if pattern.pattern_type in _NTH:
            found = _nth_date(current, pattern.days, pattern.nth)
            if found is not None:
                yield found
        elif pattern.pattern_type in (PatternType.MONTH_END, PatternType.HJ_MONTH_END):
            yield _month_date(current, 31)
        else:
            yield _month_date(current, pattern.day_of_month)


# --------------------------------------------------------------------------- RRULE


def parse_rule(text: str) -> dict[str, str] | None:
    """An RRULE's parts by upper-case name, or ``None`` when it is not ``NAME=VALUE;…``
    with a known ``FREQ`` and each name once."""
    parts: dict[str, str] = {}
    for chunk in text.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip().upper()
        if not sep or not name or name in parts:
            return None
        parts[name] = value.strip()
    if parts.get("FREQ", "").upper() not in (
        "SECONDLY",
        "MINUTELY",
        "HOURLY",
        "DAILY",
        "WEEKLY",
        "MONTHLY",
        "YEARLY",
    ):
        return None
    return parts


def _int(text: str | None, low: int, high: int) -> int | None:
    try:
        value = int(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and low <= value <= high else None


def _ints(text: str | None, low: int, high: int) -> list[int]:
    values = [_int(part, low, high) for part in (text or "").split(",") if part.strip()]
    return [v for v in values if v is not None and v != 0]


def _byday(text: str | None) -> list[tuple[int, int]]:
    """``BYDAY`` as (ordinal or 0, Outlook day number) pairs; malformed entries dropped."""
    out = []
    for raw in (text or "").upper().split(","):
        part = raw.strip()
        name, ordinal = part[-2:], part[:-2]
        if name not in _DAY_NAMES:
            continue
        number = _int(ordinal, -53, 53) if ordinal not in ("", "+") else 0
        if number is not None:
            out.append((number, _DAY_NAMES.index(name)))
    return out


def _is_weekdays(byday: list[tuple[int, int]], interval: int) -> bool:
    """Whether a daily rule is Outlook's "every weekday"."""
    return interval == 1 and sorted(day for _, day in byday) == [1, 2, 3, 4, 5]


def _mask(days: list[int]) -> int:
    mask = 0
    for day in days:
        mask |= 1 << day
    return mask


@attrs.frozen
class PatternChoice:
    """What :func:`pattern_for_rule` makes of an RRULE: the pattern fields without the
    range, how the range ends, and whether the pattern says all the rule says."""

    frequency: int
    pattern_type: int
    period: int
    days: int = 0
    day_of_month: int = 0
    nth: int = 0
    month: int = 0
    first_dow: int = 0
    count: int | None = None
    until: str | None = None
    exact: bool = True


_LIMITS = {Frequency.DAILY: 999, Frequency.WEEKLY: 99, Frequency.MONTHLY: 99, Frequency.YEARLY: 8}
_OUTLOOK_PARTS = {
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
}


def pattern_for_rule(rule: str, start: date) -> PatternChoice | None:  # noqa: PLR0911, PLR0912, PLR0915
    """The Outlook pattern closest to the RRULE ``rule`` for a series starting on ``start``
    (its local date), or ``None`` when ``rule`` is no RRULE at all. ``exact`` is false when
    parts were dropped or bent (documented in ``docs/outlook.md``)."""
    parts = parse_rule(rule)
    if parts is None:
        return None
    exact = set(parts) <= _OUTLOOK_PARTS
    freq = parts["FREQ"].upper()
    interval = _int(parts.get("INTERVAL", "1"), 1, 10**6) or 1
    if freq in ("SECONDLY", "MINUTELY", "HOURLY"):  # several a day: Outlook's daily at most
        freq, interval, exact = "DAILY", 1, False
    wkst = _byday(parts.get("WKST", ""))
    count = _int(parts.get("COUNT"), 1, 999) if "COUNT" in parts else None
    until = parts.get("UNTIL") if count is None else None
    if ("COUNT" in parts and count is None) or ("COUNT" in parts and "UNTIL" in parts):
        exact = False
    byday = _byday(parts.get("BYDAY"))
    monthdays = _ints(parts.get("BYMONTHDAY"), -31, 31)
    months = _ints(parts.get("BYMONTH"), 1, 12)
    setpos = _ints(parts.get("BYSETPOS"), -366, 366)
    kind = {"DAILY": Frequency.DAILY, "WEEKLY": Frequency.WEEKLY, "MONTHLY": Frequency.MONTHLY}.get(
        freq, Frequency.YEARLY
    )
    if interval > _LIMITS[kind]:
        interval, exact = _LIMITS[kind], False
    start_dow = (start.weekday() + 1) % 7
    # RFC 5545's week starts on Monday; Outlook's own default (for patterns where the
    # week does not matter) is Sunday
    weekly = kind == Frequency.WEEKLY or (kind == Frequency.DAILY and _is_weekdays(byday, interval))
    first_dow = wkst[0][1] if wkst else 1 if weekly else 0

    def choose(frequency: int, pattern_type: int, period: int, **fields: int) -> PatternChoice:
        return PatternChoice(
            frequency,
            pattern_type,
            period,
            first_dow=first_dow,
            count=count,
            until=until,
            exact=exact,
            **fields,
        )

    if kind == Frequency.DAILY:
        weekdays = [day for n, day in byday]
        if monthdays or months or setpos:
            exact = False
        if _is_weekdays(byday, interval):
            # Outlook's "every weekday" is a weekly pattern of Monday to Friday
            return choose(Frequency.WEEKLY, PatternType.WEEK, 1, days=0x3E)
        if weekdays:
            exact = False
        return choose(Frequency.DAILY, PatternType.DAY, interval * MINUTES_PER_DAY)
    if kind == Frequency.WEEKLY:
        if monthdays or months or setpos or any(n for n, _ in byday):
            exact = False
        days = _mask([day for _, day in byday]) or 1 << start_dow
        return choose(kind, PatternType.WEEK, interval, days=days)
    # monthly and yearly
    if kind == Frequency.YEARLY:
        month = months[0] if months else start.month
        if len(months) > 1:
            exact = False
        period = interval * 12
    else:
        month = 0
        if months:
            exact = False
        period = interval
    nth_days = [day for _, day in byday]
    ordinals = {n for n, _ in byday}
    if byday and not monthdays:
        if ordinals == {0} and len(setpos) == 1 and (1 <= setpos[0] <= 4 or setpos[0] == -1):
            nth = 5 if setpos[0] == -1 else setpos[0]
        elif (
            len(ordinals) == 1
            and not setpos
            and (1 <= next(iter(ordinals)) <= 4 or ordinals == {-1})
        ):
            nth = 5 if ordinals == {-1} else next(iter(ordinals))
        else:
            exact = False
            first = next(iter(sorted(ordinals)))
            nth = 5 if first < 0 else min(max(first, 1), 4)
        return choose(
            kind, PatternType.MONTH_NTH, period, days=_mask(nth_days), nth=nth, month=month
        )
    if byday or setpos or len(monthdays) > 1:
        exact = False
    day = monthdays[0] if monthdays else start.day
    if day == -1:  # Outlook's "last day of the month": the last of any weekday
        return choose(kind, PatternType.MONTH_NTH, period, days=0x7F, nth=5, month=month)
    if day < 0:
        day, exact = max(1, 32 + day), False
    return choose(kind, PatternType.MONTH, period, day_of_month=day, month=month)


def first_date_time(choice: PatternChoice, start: date) -> int:
    """``FirstDateTime`` (MS-OXOCAL §2.2.1.44.1.1) of a pattern starting on ``start``."""
    if choice.pattern_type == PatternType.DAY:
        return minutes_of(start) % choice.period
    if choice.pattern_type == PatternType.WEEK:
        week_start = start - timedelta(days=(start.weekday() + 1 - choice.first_dow) % 7)
        period = choice.period if choice.frequency == Frequency.WEEKLY else 1
        return minutes_of(week_start) % (period * MINUTES_PER_WEEK)
    months = _months_of(start)
    if choice.month:  # yearly: the first month is the rule's month, in the start's year or after
        months = (start.year - 1601) * 12 + choice.month - 1
    return minutes_of(_month_date(months % choice.period, 1))


def recurrence_type(frequency: int) -> int:
    """``PidLidRecurrenceType`` of a frequency (1 daily … 4 yearly; 0 none)."""
    return {Frequency.DAILY: 1, Frequency.WEEKLY: 2, Frequency.MONTHLY: 3, Frequency.YEARLY: 4}.get(
        frequency, 0
    )


def rule_for_pattern(pattern: RecurrencePattern, until: Callable[[date], str]) -> str:  # noqa: PLR0912
    """The RRULE of ``pattern`` in canonical form (see the module docstring); ``until``
    writes the ``UNTIL`` value for the local date of the last occurrence."""
    parts: list[str] = []
    kind = pattern.pattern_type
    if pattern.frequency == Frequency.YEARLY:
        freq, interval = "YEARLY", max(1, pattern.period // 12)
    elif pattern.frequency == Frequency.MONTHLY:
        freq, interval = "MONTHLY", pattern.period
    elif kind == PatternType.WEEK:
        freq, interval = "WEEKLY", pattern.period if pattern.frequency == Frequency.WEEKLY else 1
    else:
        freq, interval = "DAILY", max(1, pattern.period // MINUTES_PER_DAY)
    parts.append(f"FREQ={freq}")
    if pattern.end_type == END_AFTER_COUNT:
        parts.append(f"COUNT={pattern.occurrence_count}")
    elif pattern.end_type == END_BY_DATE:
        parts.append(f"UNTIL={until(date_of(pattern.end_date).date())}")
    if interval != 1:
        parts.append(f"INTERVAL={interval}")
    names = ",".join(name for bit, name in enumerate(_DAY_NAMES) if pattern.days & (1 << bit))
    if kind == PatternType.WEEK:
        parts.append(f"BYDAY={names}")
    elif kind in _NTH:
        if pattern.days == 0x7F and pattern.nth == 5:
            parts.append("BYMONTHDAY=-1")
        else:
            parts += [f"BYDAY={names}", f"BYSETPOS={-1 if pattern.nth == 5 else pattern.nth}"]
    elif kind in (PatternType.MONTH_END, PatternType.HJ_MONTH_END):
        parts.append("BYMONTHDAY=-1")
    elif kind in _DAY_OF_MONTH:
        parts.append(f"BYMONTHDAY={pattern.day_of_month}")
    if pattern.frequency == Frequency.YEARLY:
        month = _months_of(date_of(pattern.first_date_time).date()) % 12 + 1
        position = next((i for i, p in enumerate(parts) if p.startswith("BYSETPOS")), len(parts))
        parts.insert(position, f"BYMONTH={month}")
    if pattern.first_dow != (1 if freq == "WEEKLY" else 0):
        parts.append(f"WKST={_DAY_NAMES[pattern.first_dow]}")
    return ";".join(parts)
