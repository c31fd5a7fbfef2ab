"""The time-zone structures (MS-OXOCAL §2.2.1.39-§2.2.1.42): their bytes, the rules of a
zone, and a tzinfo built from rules.

The specification has no worked example of these blobs, so the expected bytes are built
here field by field from its structure tables.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprotocols.errors import ParseError
from openprotocols.outlook._tzstruct import (
    TZRULE_FLAG_EFFECTIVE_TZREG,
    TZRULE_FLAG_RECUR_CURRENT_TZREG,
    RulesZone,
    SystemTime,
    TZDefinition,
    TZRule,
    TZStruct,
    rules_for,
    windows_name,
)

MOUNTAIN = "Mountain Standard Time"


def _system_time(month: int, week: int, hour: int) -> bytes:
    """A yearly SYSTEMTIME: year 0, the month, Sunday, the week, the hour."""
    return struct.pack("<8H", 0, month, 0, week, hour, 0, 0, 0)


def _rule(flags: int, year: int, standard: bytes, daylight: bytes) -> bytes:
    """A TZRule of US Mountain time (bias 420, daylight bias -60), field by field."""
    return (
        bytes([0x02, 0x01])  # bMajorVersion, bMinorVersion
        + struct.pack("<H", 0x003E)  # wReserved
        + struct.pack("<HH", flags, year)  # wTZRuleFlags, wYear
        + bytes(14)  # X
        + struct.pack("<iii", 420, 0, -60)  # lBias, lStandardBias, lDaylightBias
        + standard
        + daylight
    )


# A TZDEFINITION as Exchange wrote it for a holiday calendar (PidLidAppointmentTimeZone-
# DefinitionRecur of the public holidays.ost): the old US rule from year 1, the 2007 rule
# flagged effective.
KEY = MOUNTAIN.encode("utf-16-le")
MOUNTAIN_BLOB = (
    bytes([0x02, 0x01])
    + struct.pack("<H", 2 + 2 + len(KEY) + 2)  # cbHeader: Reserved, cchKeyName, KeyName, cRules
    + struct.pack("<HH", 0x0002, len(MOUNTAIN))
    + KEY
    + struct.pack("<H", 2)
    + _rule(0, 1, _system_time(10, 5, 2), _system_time(4, 1, 2))
    + _rule(TZRULE_FLAG_EFFECTIVE_TZREG, 2007, _system_time(11, 1, 2), _system_time(3, 2, 2))
)


def test_a_definition_reads_field_by_field() -> None:
    definition = TZDefinition.parse(MOUNTAIN_BLOB, "PidLidAppointmentTimeZoneDefinitionRecur")
    assert definition.key_name == MOUNTAIN
    old, new = definition.rules
    assert (old.year, new.year) == (1, 2007)
    assert definition.effective() is new
    assert (new.bias, new.standard_bias, new.daylight_bias) == (420, 0, -60)
    assert new.daylight_date == SystemTime(month=3, day=2, hour=2)  # second Sunday of March
    assert new.standard_date == SystemTime(month=11, day=1, hour=2)  # first Sunday of November
    assert definition.to_bytes() == MOUNTAIN_BLOB


def test_a_zone_built_from_the_definition_keeps_mountain_time() -> None:
    """The rules give America/Denver's offsets from 2007 on, and its key is the name."""
    definition = TZDefinition.parse(MOUNTAIN_BLOB, "x")
    zone = RulesZone(definition.key_name, definition.rules)
    denver = ZoneInfo("America/Denver")
    for moment in (
        datetime(2025, 3, 9, 8, 59),
        datetime(2025, 3, 9, 9, 0),
        datetime(2025, 11, 2, 7, 59),
        datetime(2025, 11, 2, 8, 0),
        datetime(2030, 7, 1),
        datetime(2031, 1, 1),
    ):
        instant = moment.replace(tzinfo=UTC)
        assert instant.astimezone(zone).utcoffset() == instant.astimezone(denver).utcoffset()
    assert zone.tzname(None) == MOUNTAIN


def test_the_rules_of_berlin() -> None:
    """From 1996: last Sunday of March 2:00 to last Sunday of October 3:00, one hour."""
    rules = rules_for(ZoneInfo("Europe/Berlin"), 2025, recur=True)
    effective = [r for r in rules if r.flags]
    assert len(effective) == 1
    (rule,) = effective
    assert rule.flags == TZRULE_FLAG_EFFECTIVE_TZREG | TZRULE_FLAG_RECUR_CURRENT_TZREG
    assert (rule.year, rule.bias, rule.standard_bias, rule.daylight_bias) == (1996, -60, 0, -60)
    assert rule.daylight_date == SystemTime(month=3, day_of_week=0, day=5, hour=2)
    assert rule.standard_date == SystemTime(month=10, day_of_week=0, day=5, hour=3)
    assert rules[0].year == 1970
    assert not rules[0].has_dst  # no daylight time in the 1970s


def test_a_zone_without_daylight_time_has_one_rule() -> None:
    (rule,) = rules_for(ZoneInfo("Asia/Kolkata"), 2025)
    assert (rule.bias, rule.has_dst, rule.flags) == (-330, False, TZRULE_FLAG_EFFECTIVE_TZREG)
    (utc,) = rules_for(UTC, 2025)
    assert utc.bias == 0


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.datetimes(datetime(1971, 1, 1), datetime(2037, 12, 31)),
)
def test_a_rules_zone_agrees_with_the_tz_database(name: str, moment: datetime) -> None:
    """Every instant gets the offset zoneinfo gives, and wall-clock times convert back,
    except in the years a zone's changes do not fit one rule (approximated, documented)."""
    reference = ZoneInfo(name)
    zone = RulesZone(name, rules_for(reference, 2025))
    instant = moment.replace(tzinfo=UTC)
    rule = zone._rule(moment.year)
    year_fits = rule.has_dst or all(
        datetime(moment.year, month, 1, tzinfo=UTC).astimezone(reference).utcoffset()
        == rule.standard_offset
        for month in range(1, 13)
    )
    if not year_fits:
        return
    local = instant.astimezone(zone)
    assert local.utcoffset() == instant.astimezone(reference).utcoffset()
    assert local.astimezone(UTC) == instant


def test_windows_names() -> None:
    """CLDR's names, an alias by its rules, and nothing for what names no zone."""
    assert windows_name("Europe/Berlin") == "W. Europe Standard Time"
    assert windows_name("America/New_York") == "Eastern Standard Time"
    assert windows_name("Asia/Kolkata") == "India Standard Time"  # CLDR says Asia/Calcutta
    assert windows_name("Etc/UTC") == "UTC"
    assert windows_name("Not/AZone") is None


def test_tzstruct_is_the_effective_rule_in_48_bytes() -> None:
    rule = next(r for r in rules_for(ZoneInfo("America/New_York"), 2025) if r.flags)
    blob = TZStruct.of(rule).to_bytes()
    assert len(blob) == 48
    assert struct.unpack("<iiiH", blob[:14]) == (300, 0, -60, 0)
    assert blob[14:30] == SystemTime(month=11, day=1, hour=2).to_bytes()  # standard date
    assert blob[30:32] == b"\x00\x00"
    assert blob[32:] == SystemTime(month=3, day=2, hour=2).to_bytes()  # daylight date
    parsed = TZStruct.parse(blob)
    assert parsed.rule().same_rule(rule)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (MOUNTAIN_BLOB[:-1], "truncated"),
        (MOUNTAIN_BLOB[:1], "truncated"),
        (b"\x03" + MOUNTAIN_BLOB[1:], "major version"),
        (MOUNTAIN_BLOB[: 8 + len(KEY)] + b"\x00\x00" + MOUNTAIN_BLOB[10 + len(KEY) :], "0 rules"),
    ],
)
def test_a_broken_definition_is_a_parse_error(blob: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        TZDefinition.parse(blob, "PidLidAppointmentTimeZoneDefinitionStartDisplay")


def test_broken_rules_are_refused() -> None:
    header = MOUNTAIN_BLOB[: 8 + len(KEY)] + struct.pack("<H", 1)
    good = _rule(0, 2007, _system_time(11, 1, 2), _system_time(3, 2, 2))
    assert TZDefinition.parse(header + good, "x").rules[0].year == 2007
    for bad in (
        _rule(0, 2007, _system_time(13, 1, 2), _system_time(3, 2, 2)),  # month 13
        _rule(0, 2007, _system_time(11, 6, 2), _system_time(3, 2, 2)),  # week 6
        good[:22] + struct.pack("<i", 100_000) + good[26:],  # a bias of 69 days
        good[:2] + struct.pack("<H", 0x40) + good[4:],  # not a 0x3E-byte rule
    ):
        with pytest.raises(ParseError):
            TZDefinition.parse(header + bad, "x")
    with pytest.raises(ParseError, match="48"):
        TZStruct.parse(b"\x00" * 47)
    with pytest.raises(ParseError, match="out of year order"):
        TZDefinition.parse(
            MOUNTAIN_BLOB[: 8 + len(KEY) + 2]
            + _rule(0, 2007, _system_time(11, 1, 2), _system_time(3, 2, 2))
            + _rule(0, 1, _system_time(10, 5, 2), _system_time(4, 1, 2)),
            "x",
        )


def test_a_rules_zone_handles_the_repeated_and_the_skipped_hour() -> None:
    """PEP 495: fold picks the first or second 01:30 of the night daylight time ends, and a
    time in the skipped hour converts as zoneinfo converts it."""
    zone = RulesZone("X", rules_for(ZoneInfo("America/New_York"), 2025))
    reference = ZoneInfo("America/New_York")
    for wall in (datetime(2025, 11, 2, 1, 30), datetime(2025, 3, 9, 2, 30)):
        for fold in (0, 1):
            mine = wall.replace(tzinfo=zone, fold=fold)
            theirs = wall.replace(tzinfo=reference, fold=fold)
            assert mine.utcoffset() == theirs.utcoffset()
            assert mine.astimezone(UTC) == theirs.astimezone(UTC)
    assert zone.dst(datetime(2025, 7, 1)) == timedelta(hours=1)
    assert TZRule(year=0, bias=0).standard_offset == timedelta(0)
