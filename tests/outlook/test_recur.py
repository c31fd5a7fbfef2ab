"""The recurrence blobs (MS-OXOCAL §2.2.1.44) against the specification's worked examples,
RRULE ⇄ pattern, the dates a pattern gives, and hostile blobs."""

from __future__ import annotations

from datetime import date, datetime

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprotocols.errors import ParseError
from openprotocols.model import Appointment, Recurrence
from openprotocols.outlook import props as p
from openprotocols.outlook import to_mapi
from openprotocols.outlook._recur import (
    ARO_LOCATION,
    ARO_SUBJECT,
    END_AFTER_COUNT,
    END_BY_DATE,
    END_NEVER,
    NO_END_DATE,
    AppointmentRecurrencePattern,
    Frequency,
    PatternType,
    RecurrencePattern,
    date_of,
    first_date_time,
    minutes_of,
    occurrences,
    pattern_for_rule,
    rule_for_pattern,
)

# MS-OXOCAL §4.1.1.3 "Daily Recurrence BLOB with Exceptions": every three days from
# 4/7/2011 until 5/4/2011, 8:00-8:30 A.M.; the instances of 4/19 and 4/22 deleted.
SPEC_DAILY = bytes.fromhex(
    "043004300A2000000000A0050000E010000000000000212000000A00000000000000020000"
    "00A0C1DC0C80D2DC0C00000000207EDC0C0016DD0C0630000009300000E0010000FE010000"
    "00000000000000000000"
)
# MS-OXOCAL §4.1.1.2 "Recurrence BLOB with Exceptions": every Monday, Thursday and Friday,
# 10:00-10:30 A.M., 12 times from 3/26/2007; the 4/16 instance moved to 11:00 with a new
# subject ("Simple Recurrence with exceptions") and location ("34/4141").
SPEC_WEEKLY = bytes.fromhex(
    "043004300B2001000000C0210000010000000000000032000000222000000C000000000000"
    "0001000000A096BC0C01000000A096BC0C8020BC0C20ADBC0C063000000930000058020000"
    "7602000001003499BC0C5299BC0CF898BC0C11002200210053696D706C6520526563757272"
    "656E6365207769746820657863657074696F6E730800070033342F34313431000000000400"
    "000000000000000000003499BC0C5299BC0CF898BC0C2100530069006D0070006C00650020"
    "0052006500630075007200720065006E006300650020007700690074006800200065007800"
    "630065007000740069006F006E0073000700330034002F0034003100340031000000000000"
    "000000"
)


def test_the_daily_example_reads_field_by_field() -> None:
    """Every field of §4.1.1.3 as the specification's table explains it."""
    blob = AppointmentRecurrencePattern.parse(SPEC_DAILY)
    pattern = blob.pattern
    assert (pattern.frequency, pattern.pattern_type, pattern.calendar_type) == (0x200A, 0, 0)
    assert pattern.first_date_time == 1440  # 215,776,800 % 4320
    assert pattern.period == 4320  # every three days, in minutes
    assert (pattern.end_type, pattern.occurrence_count, pattern.first_dow) == (END_BY_DATE, 10, 0)
    assert [date_of(m).date() for m in pattern.deleted] == [date(2011, 4, 19), date(2011, 4, 22)]
    assert pattern.modified == ()
    assert date_of(pattern.start_date) == datetime(2011, 4, 7)
    assert date_of(pattern.end_date) == datetime(2011, 5, 4)
    assert (blob.reader_version2, blob.writer_version2) == (0x3006, 0x3009)
    assert (blob.start_time_offset, blob.end_time_offset) == (480, 510)  # 8:00 to 8:30
    assert blob.exceptions == ()
    assert blob.to_bytes() == SPEC_DAILY


def test_the_weekly_example_with_an_exception_reads_field_by_field() -> None:
    """§4.1.1.2: the pattern, then one ExceptionInfo and its ExtendedException."""
    blob = AppointmentRecurrencePattern.parse(SPEC_WEEKLY)
    pattern = blob.pattern
    assert (pattern.frequency, pattern.pattern_type, pattern.period) == (0x200B, 1, 1)
    assert pattern.first_date_time == 0x21C0  # the Sunday starting week 1 of 1601
    assert pattern.days == 0x32  # Monday 0x02, Thursday 0x10, Friday 0x20
    assert (pattern.end_type, pattern.occurrence_count) == (END_AFTER_COUNT, 12)
    assert pattern.deleted == pattern.modified == (minutes_of(date(2007, 4, 16)),)
    assert date_of(pattern.start_date).date() == date(2007, 3, 26)
    assert date_of(pattern.end_date).date() == date(2007, 4, 20)  # the 12th occurrence
    assert (blob.start_time_offset, blob.end_time_offset) == (600, 630)
    (exception,) = blob.exceptions
    assert date_of(exception.start) == datetime(2007, 4, 16, 11)
    assert date_of(exception.end) == datetime(2007, 4, 16, 11, 30)
    assert date_of(exception.original_start) == datetime(2007, 4, 16, 10)
    assert exception.flags == ARO_SUBJECT | ARO_LOCATION
    assert exception.subject == exception.wide_subject == "Simple Recurrence with exceptions"
    assert exception.location == exception.wide_location == "34/4141"
    assert exception.change_highlight == 0
    assert blob.to_bytes() == SPEC_WEEKLY


def test_the_writer_makes_the_daily_example_from_an_appointment() -> None:
    """A model series saying what §4.1.1.3 says gives its blob byte for byte."""
    series = Appointment(
        uid="daily",
        start=datetime(2011, 4, 7, 8),
        end=datetime(2011, 4, 7, 8, 30),
        recurrence=Recurrence(
            rule="FREQ=DAILY;UNTIL=20110504T080000;INTERVAL=3",
            exdates=[datetime(2011, 4, 19, 8), datetime(2011, 4, 22, 8)],
        ),
    )
    assert to_mapi(series)[p.PidLidAppointmentRecur] == SPEC_DAILY


def test_the_writer_makes_the_weekly_example_from_a_series_with_an_override() -> None:
    """§4.1.1.2 from a series and its moved, renamed occurrence, byte for byte."""
    series = Appointment(
        uid="weekly",
        subject="Simple Recurrence",
        location="34/4639",
        start=datetime(2007, 3, 26, 10),
        end=datetime(2007, 3, 26, 10, 30),
        recurrence=Recurrence(rule="FREQ=WEEKLY;COUNT=12;BYDAY=MO,TH,FR;WKST=SU"),
    )
    moved = attrs.evolve(
        series,
        recurrence=None,
        subject="Simple Recurrence with exceptions",
        location="34/4141",
        start=datetime(2007, 4, 16, 11),
        end=datetime(2007, 4, 16, 11, 30),
        recurrence_id=datetime(2007, 4, 16, 10),
    )
    assert to_mapi(series.with_override(moved))[p.PidLidAppointmentRecur] == SPEC_WEEKLY


# -- RRULE ⇄ pattern ---------------------------------------------------------------------

DAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]


@st.composite
def canonical_rules(draw: st.DrawFn) -> tuple[str, date]:
    """A rule Outlook's pattern says exactly, written in the canonical form, and a start."""
    start = draw(st.dates(date(1990, 1, 1), date(2040, 12, 31)))
    freq = draw(
        st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "MONTHLY-NTH", "YEARLY", "YEARLY-NTH"])
    )
    parts = [f"FREQ={freq.split('-')[0]}"]
    end = draw(st.sampled_from(["count", "none"]))
    if end == "count":
        parts.append(f"COUNT={draw(st.integers(1, 60))}")
    limit = {"DAILY": 999, "WEEKLY": 99, "YEARLY": 8}.get(freq.split("-")[0], 99)
    interval = draw(st.one_of(st.just(1), st.integers(2, limit)))
    if interval != 1:
        parts.append(f"INTERVAL={interval}")
    days = sorted(draw(st.sets(st.integers(0, 6), min_size=1)))
    wkst = draw(st.integers(0, 6))
    if freq == "WEEKLY":
        parts.append("BYDAY=" + ",".join(DAYS[d] for d in days))
    elif freq.endswith("NTH"):
        nth = draw(st.sampled_from([1, 2, 3, 4, -1]))
        if days == list(range(7)) and nth == -1:
            parts.append("BYMONTHDAY=-1")
        else:
            parts.append("BYDAY=" + ",".join(DAYS[d] for d in days))
        if freq == "YEARLY-NTH":
            parts.append(f"BYMONTH={draw(st.integers(1, 12))}")
        if not (days == list(range(7)) and nth == -1):
            parts.append(f"BYSETPOS={nth}")
    elif freq in ("MONTHLY", "YEARLY"):
        parts.append(f"BYMONTHDAY={draw(st.one_of(st.integers(1, 31), st.just(-1)))}")
        if freq == "YEARLY":
            parts.append(f"BYMONTH={draw(st.integers(1, 12))}")
    default = 1 if freq == "WEEKLY" else 0
    if wkst != default:
        parts.append(f"WKST={DAYS[wkst]}")
    return ";".join(parts), start


def _pattern(rule: str, start: date) -> RecurrencePattern:
    choice = pattern_for_rule(rule, start)
    assert choice is not None
    return RecurrencePattern(
        frequency=choice.frequency,
        pattern_type=choice.pattern_type,
        first_date_time=first_date_time(choice, start),
        period=choice.period,
        days=choice.days,
        day_of_month=choice.day_of_month,
        nth=choice.nth,
        end_type=END_AFTER_COUNT if choice.count else END_NEVER,
        occurrence_count=choice.count or 10,
        first_dow=choice.first_dow,
        start_date=minutes_of(start),
        end_date=NO_END_DATE,
    )


@settings(max_examples=300, deadline=None)
@given(canonical_rules())
def test_a_canonical_rule_survives_the_pattern(case: tuple[str, date]) -> None:
    """Rule → pattern → blob → pattern → rule gives the rule back, flagged exact."""
    rule, start = case
    choice = pattern_for_rule(rule, start)
    assert choice is not None
    assert choice.exact
    pattern = RecurrencePattern.parse(_pattern(rule, start).to_bytes())
    assert rule_for_pattern(pattern, lambda d: d.strftime("%Y%m%d")) == rule


@pytest.mark.parametrize(
    ("rule", "frequency", "pattern_type", "period"),
    [
        ("FREQ=DAILY;BYHOUR=9,17", Frequency.DAILY, PatternType.DAY, 1440),
        ("FREQ=HOURLY;INTERVAL=2", Frequency.DAILY, PatternType.DAY, 1440),
        ("FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1", Frequency.YEARLY, PatternType.MONTH, 12),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", Frequency.MONTHLY, PatternType.MONTH, 1),
        ("FREQ=WEEKLY;INTERVAL=250", Frequency.WEEKLY, PatternType.WEEK, 99),
        ("FREQ=MONTHLY;BYDAY=1MO,-1FR", Frequency.MONTHLY, PatternType.MONTH_NTH, 1),
    ],
)
def test_a_rule_a_pattern_cannot_say_gets_the_closest_pattern(
    rule: str, frequency: int, pattern_type: int, period: int
) -> None:
    """What a pattern cannot hold is dropped or bent, and the choice says it is inexact."""
    choice = pattern_for_rule(rule, date(2025, 3, 3))
    assert choice is not None
    assert (choice.frequency, choice.pattern_type, choice.period) == (
        frequency,
        pattern_type,
        period,
    )
    assert not choice.exact


@pytest.mark.parametrize(
    "rule", ["", "BYDAY=MO", "FREQ=FORTNIGHTLY", "FREQ=DAILY;FREQ=WEEKLY", "garbage"]
)
def test_what_is_no_rule_gives_no_pattern(rule: str) -> None:
    assert pattern_for_rule(rule, date(2025, 1, 1)) is None


def test_every_weekday_is_outlooks_weekly_monday_to_friday() -> None:
    choice = pattern_for_rule("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", date(2025, 3, 3))
    assert choice is not None
    assert (choice.frequency, choice.pattern_type, choice.days) == (Frequency.WEEKLY, 1, 0x3E)


def test_day_31_falls_on_the_last_day_of_shorter_months() -> None:
    """Outlook's monthly "day 31" (unlike RFC 5545's BYMONTHDAY=31, which skips)."""
    pattern = _pattern("FREQ=MONTHLY;COUNT=4;BYMONTHDAY=31", date(2024, 1, 31))
    assert list(occurrences(pattern, limit=4)) == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]


def test_the_nth_weekday_patterns() -> None:
    """Last Friday monthly; the second Tuesday of November every other year."""
    last_friday = _pattern("FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1", date(2025, 1, 1))
    assert list(occurrences(last_friday, limit=3)) == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 28),
    ]
    election = _pattern("FREQ=YEARLY;INTERVAL=2;BYDAY=TU;BYMONTH=11;BYSETPOS=2", date(2024, 1, 1))
    assert list(occurrences(election, limit=2)) == [date(2024, 11, 12), date(2026, 11, 10)]


def test_first_date_time_follows_the_specification() -> None:
    """§2.2.1.44.1.1: daily = StartDate % Period; monthly = the month (months since 1601 %
    Period) as minutes."""
    daily = pattern_for_rule("FREQ=DAILY;INTERVAL=3", date(2011, 4, 7))
    assert daily is not None
    assert first_date_time(daily, date(2011, 4, 7)) == 1440
    monthly = pattern_for_rule("FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=7", date(2025, 6, 7))
    assert monthly is not None
    months = ((2025 - 1601) * 12 + 5) % 5
    assert first_date_time(monthly, date(2025, 6, 7)) == minutes_of(date(1601, 1 + months, 1))


# -- hostile blobs -----------------------------------------------------------------------


@pytest.mark.parametrize("blob", [SPEC_DAILY, SPEC_WEEKLY], ids=["daily", "weekly"])
def test_every_truncation_is_a_parse_error(blob: bytes) -> None:
    for size in range(len(blob)):
        with pytest.raises(ParseError) as error:
            AppointmentRecurrencePattern.parse(blob[:size])
        assert error.value.format == "PidLidAppointmentRecur"


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupted_blobs_raise_only_parse_errors(data: st.DataObject) -> None:
    """Any byte of an example changed, or random bytes: a ParseError or a valid blob."""
    blob = bytearray(data.draw(st.sampled_from([SPEC_DAILY, SPEC_WEEKLY])))
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    for candidate in (bytes(blob), data.draw(st.binary(max_size=200))):
        try:
            parsed = AppointmentRecurrencePattern.parse(candidate)
        except ParseError:
            continue
        list(occurrences(parsed.pattern, limit=50))  # a parsed pattern can be expanded
        rule_for_pattern(parsed.pattern, str)


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (4, b"\x0e\x20", "frequency"),  # RecurFrequency 0x200E
        (14, b"\x00\x00\x00\x00", "Period is 0"),
        (22, b"\x00\x00\x00\x00", "day mask"),
        (38, b"\xff\xff\xff\x7f", "DeletedInstanceCount"),
    ],
)
def test_inconsistent_fields_are_named(offset: int, value: bytes, message: str) -> None:
    blob = SPEC_WEEKLY[:offset] + value + SPEC_WEEKLY[offset + len(value) :]
    with pytest.raises(ParseError, match=message):
        AppointmentRecurrencePattern.parse(blob)


def test_an_exception_count_that_disagrees_is_refused() -> None:
    position = SPEC_WEEKLY.index(bytes.fromhex("7602000001003499"))  # EndTimeOffset, count
    blob = SPEC_WEEKLY[: position + 4] + b"\x02\x00" + SPEC_WEEKLY[position + 6 :]
    with pytest.raises(ParseError, match="ExceptionCount"):
        AppointmentRecurrencePattern.parse(blob)
