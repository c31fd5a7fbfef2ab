"""The time-zone structures of calendar items (MS-OXOCAL §2.2.1.39-§2.2.1.42).

Outlook describes an appointment's time zone twice over:

- ``PidLidTimeZoneStruct`` (:class:`TZStruct`, 48 bytes): one rule — the bias from UTC
  and, where the zone has daylight saving time, when it starts and ends — which Outlook
  2003 and older clients use to expand a recurring series;
- ``PidLidAppointmentTimeZoneDefinitionStartDisplay``/``EndDisplay``/``Recur``
  (:class:`TZDefinition`): the zone's Windows key name (``"W. Europe Standard Time"``)
  and its rules by year (:class:`TZRule`), one of them flagged as the effective one.

:func:`rules_for` computes the rules of any :class:`~datetime.tzinfo` from its offsets
(for the years 1970-2037, one rule per run of years that agree; a year whose changes do
not fit one "daylight saving time from … to …" rule is approximated by its mid-year
offset), :func:`windows_name` gives the Windows name of an IANA zone (CLDR's table as
icalendar ships it, then any Windows zone with the same offsets), and :class:`RulesZone`
is a tzinfo built from rules, for a zone known by no name.

Times in the rules follow Windows' ``SYSTEMTIME`` conventions: ``wYear`` 0 and ``wDay``
1-5 is "the n-th (5: last) weekday ``wDayOfWeek`` of ``wMonth``"; the time of the start
of daylight saving time is in standard time, that of its end in daylight time; the bias
is UTC minus local time, in minutes.
"""

from __future__ import annotations

import calendar
import functools
import itertools
import struct
import zoneinfo
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

import attrs

from openprotocols.errors import ParseError
from openprotocols.outlook._recur import Reader

__all__ = [
    "TZRULE_FLAG_EFFECTIVE_TZREG",
    "TZRULE_FLAG_RECUR_CURRENT_TZREG",
    "RulesZone",
    "SystemTime",
    "TZDefinition",
    "TZRule",
    "TZStruct",
    "rules_for",
    "windows_name",
]

TZRULE_FLAG_RECUR_CURRENT_TZREG: Final = 0x0001
TZRULE_FLAG_EFFECTIVE_TZREG: Final = 0x0002
_MAJOR, _MINOR = 2, 1
_RULE_SIZE: Final = 0x003E  # TZRule.wReserved: the size of the rule after its first 4 bytes
_FIRST_YEAR, _LAST_YEAR = 1970, 2037
_MAX_RULES: Final = 1024


@attrs.frozen
class SystemTime:
    """A Windows ``SYSTEMTIME`` (eight 16-bit fields). With ``year`` 0 it is a yearly
    rule: ``day`` is the week (1-5, 5 the last) and ``day_of_week`` the day (0 Sunday)."""

    year: int = 0
    month: int = 0
    day_of_week: int = 0
    day: int = 0
    hour: int = 0
    minute: int = 0
    second: int = 0
    millisecond: int = 0

    def to_bytes(self) -> bytes:
        """The 16 bytes of the structure."""
        return struct.pack("<8H", *attrs.astuple(self))

    @classmethod
    def read(cls, reader: Reader) -> SystemTime:
        """Read and check one structure."""
        fields = struct.unpack("<8H", reader.take(16))
        value = cls(*fields)
        if value.month > 12 or value.day_of_week > 6 or value.hour > 24 or value.minute > 59:
            raise reader.fail(f"{value} is not a time of year")
        if value.month and not value.year and not 1 <= value.day <= 5:
            raise reader.fail(f"week {value.day} of a yearly rule is not 1-5")
        return value

    def moment(self, year: int) -> datetime | None:
        """When this rule falls in ``year`` (local, naive), or ``None`` if it never does."""
        if not self.month:
            return None
        try:
            if self.year:
                if self.year != year:
                    return None
                day = date(self.year, self.month, max(1, self.day))
            else:
                first = date(year, self.month, 1)
                python_dow = (self.day_of_week + 6) % 7
                number = 1 + (python_dow - first.weekday()) % 7 + 7 * (self.day - 1)
                while number > calendar.monthrange(year, self.month)[1]:
                    number -= 7
                day = date(year, self.month, number)
        except ValueError:
            return None
        return datetime.combine(day, datetime.min.time()) + timedelta(
            hours=self.hour, minutes=self.minute, seconds=self.second, milliseconds=self.millisecond
        )


@attrs.frozen(kw_only=True)
class TZRule:
    """A ``TZRule`` (MS-OXOCAL §2.2.1.41.1): the rule in force from 1 January of ``year``
    until the next rule's year."""

    flags: int = 0
    year: int
    bias: int
    standard_bias: int = 0
    daylight_bias: int = 0
    standard_date: SystemTime = SystemTime()
    daylight_date: SystemTime = SystemTime()

    @property
    def has_dst(self) -> bool:
        """Whether the rule switches to daylight saving time and back."""
        return bool(self.standard_date.month and self.daylight_date.month)

    @property
    def standard_offset(self) -> timedelta:
        """Local time minus UTC in standard time."""
        return -timedelta(minutes=self.bias + self.standard_bias)

    @property
    def daylight_offset(self) -> timedelta:
        """Local time minus UTC in daylight saving time."""
        return -timedelta(minutes=self.bias + self.daylight_bias)

    def same_rule(self, other: TZRule) -> bool:
        """Whether both rules say the same, whatever their year and flags."""
        return attrs.evolve(self, flags=0, year=0) == attrs.evolve(other, flags=0, year=0)

    def to_bytes(self) -> bytes:
        """The 66 bytes of the structure."""
        return (
            struct.pack("<BBHHH", _MAJOR, _MINOR, _RULE_SIZE, self.flags, self.year)
            + bytes(14)
            + struct.pack("<iii", self.bias, self.standard_bias, self.daylight_bias)
            + self.standard_date.to_bytes()
            + self.daylight_date.to_bytes()
        )

    @classmethod
    def read(cls, reader: Reader) -> TZRule:
        """Read one rule."""
        major, minor, size = reader.u8(), reader.u8(), reader.u16()
        if major != _MAJOR or size != _RULE_SIZE:
            raise reader.fail(f"TZRule version {major}.{minor} of size {size}")
        flags, year = reader.u16(), reader.u16()
        reader.take(14)  # X: zero, though Outlook has been seen to write garbage here
        bias, standard_bias, daylight_bias = reader.i32(), reader.i32(), reader.i32()
        for value in (bias, standard_bias, daylight_bias):
            if abs(value) > 24 * 60:
                raise reader.fail(f"a bias of {value} minutes")
        return cls(
            flags=flags,
            year=year,
            bias=bias,
            standard_bias=standard_bias,
            daylight_bias=daylight_bias,
            standard_date=SystemTime.read(reader),
            daylight_date=SystemTime.read(reader),
        )


@attrs.frozen(kw_only=True)
class TZDefinition:
    """A ``TZDEFINITION`` (MS-OXOCAL §2.2.1.41): the zone's key name and its rules."""

    key_name: str
    rules: tuple[TZRule, ...]

    def to_bytes(self) -> bytes:
        """The blob of a ``PidLidAppointmentTimeZoneDefinition…`` property."""
        name = self.key_name.encode("utf-16-le", errors="surrogatepass")
        header = struct.pack("<HH", 2, len(name) // 2) + name + struct.pack("<H", len(self.rules))
        return (
            struct.pack("<BBH", _MAJOR, _MINOR, len(header))
            + header
            + b"".join(rule.to_bytes() for rule in self.rules)
        )

    @classmethod
    def parse(cls, data: bytes, what: str) -> TZDefinition:
        """Read the blob of property ``what``.

        :raises ParseError: the blob is truncated or is no TZDEFINITION.
        """
        reader = Reader(data, what)
        major, _minor, header_size = reader.u8(), reader.u8(), reader.u16()
        if major != _MAJOR:
            raise reader.fail(f"TZDEFINITION major version {major}")
        header = Reader(reader.take(header_size), what)
        header.u16()  # Reserved: 0x0002
        key_name = header.take(2 * header.u16()).decode("utf-16-le", errors="surrogatepass")
        count = header.u16()
        if not 0 < count <= _MAX_RULES:
            raise reader.fail(f"{count} rules")
        rules = tuple(TZRule.read(reader) for _ in range(count))
        if any(b.year < a.year for a, b in itertools.pairwise(rules)):
            raise reader.fail("rules out of year order")
        return cls(key_name=key_name, rules=rules)

    def effective(self) -> TZRule:
        """The rule flagged effective (the last one when none is)."""
        return next(
            (r for r in self.rules if r.flags & TZRULE_FLAG_EFFECTIVE_TZREG), self.rules[-1]
        )


@attrs.frozen(kw_only=True)
class TZStruct:
    """``PidLidTimeZoneStruct`` (MS-OXOCAL §2.2.1.39): one rule."""

    bias: int
    standard_bias: int = 0
    daylight_bias: int = 0
    standard_year: int = 0
    standard_date: SystemTime = SystemTime()
    daylight_year: int = 0
    daylight_date: SystemTime = SystemTime()

    def to_bytes(self) -> bytes:
        """The 48 bytes of the property."""
        return (
            struct.pack(
                "<iiiH", self.bias, self.standard_bias, self.daylight_bias, self.standard_year
            )
            + self.standard_date.to_bytes()
            + struct.pack("<H", self.daylight_year)
            + self.daylight_date.to_bytes()
        )

    @classmethod
    def parse(cls, data: bytes, what: str = "PidLidTimeZoneStruct") -> TZStruct:
        """Read the property's blob.

        :raises ParseError: the blob is not 48 bytes or holds no time of year.
        """
        if len(data) != 48:
            raise ParseError(f"{what}: {len(data)} bytes, not 48", format=what, offset=0)
        reader = Reader(data, what)
        bias, standard_bias, daylight_bias, standard_year = (
            reader.i32(),
            reader.i32(),
            reader.i32(),
            reader.u16(),
        )
        standard_date = SystemTime.read(reader)
        daylight_year = reader.u16()
        return cls(
            bias=bias,
            standard_bias=standard_bias,
            daylight_bias=daylight_bias,
            standard_year=standard_year,
            standard_date=standard_date,
            daylight_year=daylight_year,
            daylight_date=SystemTime.read(reader),
        )

    @classmethod
    def of(cls, rule: TZRule) -> TZStruct:
        """The structure that says what ``rule`` says."""
        return cls(
            bias=rule.bias,
            standard_bias=rule.standard_bias,
            daylight_bias=rule.daylight_bias,
            standard_year=rule.standard_date.year,
            standard_date=rule.standard_date,
            daylight_year=rule.daylight_date.year,
            daylight_date=rule.daylight_date,
        )

    def rule(self) -> TZRule:
        """The structure as a rule for every year."""
        return TZRule(
            year=0,
            bias=self.bias,
            standard_bias=self.standard_bias,
            daylight_bias=self.daylight_bias,
            standard_date=self.standard_date,
            daylight_date=self.daylight_date,
        )


# --------------------------------------------------------------------------- rules of a zone


def _offset(zone: tzinfo, moment: datetime) -> timedelta:
    """Local time minus UTC at the UTC instant ``moment``."""
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _transitions(zone: tzinfo, year: int) -> Iterator[tuple[datetime, timedelta, timedelta]]:
    """(UTC instant, offset before, offset after) of each change of offset in ``year``."""
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    before = _offset(zone, moment)
    while moment < end:
        step = min(moment + timedelta(days=7), end)
        after = _offset(zone, step)
        if after != before:
            low, high = moment, step  # the change is in (low, high]: bisect to the minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle -= timedelta(microseconds=middle.microsecond, seconds=middle.second)
                if middle <= low:
                    break
                if _offset(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            if high < end:
                yield high, before, _offset(zone, high)
            before = _offset(zone, high)
            moment = high
            continue
        moment = step


def _yearly(moment: datetime) -> SystemTime:
    """A local date and time as the yearly rule "n-th weekday of the month"."""
    length = calendar.monthrange(moment.year, moment.month)[1]
    week = 5 if moment.day + 7 > length else (moment.day - 1) // 7 + 1
    return SystemTime(
        month=moment.month,
        day_of_week=(moment.weekday() + 1) % 7,
        day=week,
        hour=moment.hour,
        minute=moment.minute,
        second=moment.second,
    )


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _rule_of_year(zone: tzinfo, year: int) -> TZRule:
    changes = list(_transitions(zone, year))
    ups = [c for c in changes if c[2] > c[1]]
    downs = [c for c in changes if c[2] < c[1]]
    if len(ups) == 1 and len(downs) == 1 and ups[0][1] == downs[0][2] and ups[0][2] == downs[0][1]:
        (start, standard, daylight), (end, _, _) = ups[0], downs[0]
        return TZRule(
            year=year,
            bias=-_minutes(standard),
            daylight_bias=-_minutes(daylight - standard),
            daylight_date=_yearly((start + standard).replace(tzinfo=None)),
            standard_date=_yearly((end + daylight).replace(tzinfo=None)),
        )
    # no daylight saving time, or changes one rule cannot say: the offset at mid-year
    return TZRule(year=year, bias=-_minutes(_offset(zone, datetime(year, 7, 1, tzinfo=UTC))))


def rules_for(zone: tzinfo, effective_year: int, *, recur: bool = False) -> tuple[TZRule, ...]:
    """The rules of ``zone``, the one in force in ``effective_year`` flagged effective (and,
    with ``recur``, flagged as the one ``PidLidTimeZoneStruct`` holds)."""
    rules = _rules(zone)
    year = min(max(effective_year, _FIRST_YEAR), _LAST_YEAR)
    index = max(i for i, rule in enumerate(rules) if rule.year <= year)
    flags = TZRULE_FLAG_EFFECTIVE_TZREG | (TZRULE_FLAG_RECUR_CURRENT_TZREG if recur else 0)
    return tuple(attrs.evolve(r, flags=flags) if i == index else r for i, r in enumerate(rules))


def _rules(zone: tzinfo) -> tuple[TZRule, ...]:
    key = getattr(zone, "key", None)
    if isinstance(zone, zoneinfo.ZoneInfo) and isinstance(key, str):
        return _zone_rules(key)
    if zone is UTC:
        return (TZRule(year=_FIRST_YEAR, bias=0),)
    if isinstance(zone, RulesZone):
        return zone.rules
    return _compute_rules(zone)


@functools.lru_cache(maxsize=64)
def _zone_rules(key: str) -> tuple[TZRule, ...]:
    return _compute_rules(zoneinfo.ZoneInfo(key))


def _compute_rules(zone: tzinfo) -> tuple[TZRule, ...]:
    rules: list[TZRule] = []
    for year in range(_FIRST_YEAR, _LAST_YEAR + 1):
        rule = _rule_of_year(zone, year)
        if not rules or not rules[-1].same_rule(rule):
            rules.append(rule)
    return tuple(rules)


# --------------------------------------------------------------------------- names


@functools.lru_cache(maxsize=1)
def _cldr() -> dict[str, str]:
    """IANA name → Windows name, from the CLDR table icalendar ships."""
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    return {iana: windows for windows, iana in sorted(WINDOWS_TO_OLSON.items())}


def is_windows_name(name: str) -> bool:
    """Whether ``name`` is a Windows time-zone key name."""
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    return name in WINDOWS_TO_OLSON


@functools.lru_cache(maxsize=256)
def windows_name(iana: str) -> str | None:
    """The Windows name of IANA zone ``iana``: CLDR's, else the first (by name) Windows
    zone whose rules agree from 1970 on; ``None`` when none does."""
    if iana in _cldr():
        return _cldr()[iana]
    try:
        zone_rules = _zone_rules(iana)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    for candidate_iana, windows in sorted(_cldr().items(), key=lambda item: item[1]):
        try:
            if _same_rules(_zone_rules(candidate_iana), zone_rules):
                return windows
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return None


def _same_rules(a: Sequence[TZRule], b: Sequence[TZRule]) -> bool:
    return len(a) == len(b) and all(
        x.year == y.year and x.same_rule(y) for x, y in zip(a, b, strict=True)
    )


# --------------------------------------------------------------------------- a zone from rules


class RulesZone(tzinfo):
    """A tzinfo that follows TZRules (from a TZDEFINITION or a TZSTRUCT), for a zone whose
    name no tz database knows. ``key`` is that name, so the iCalendar writer uses it as the
    TZID."""

    def __init__(self, key: str, rules: Sequence[TZRule]) -> None:
        if not rules:
            raise ValueError("a zone needs at least one rule")
        self.key = key
        self.rules = tuple(sorted(rules, key=lambda rule: rule.year))

    def __repr__(self) -> str:
        return f"RulesZone({self.key!r}, {len(self.rules)} rules)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RulesZone):
            return NotImplemented
        return self.key == other.key and self.rules == other.rules

    def __hash__(self) -> int:
        return hash((self.key, self.rules))

    def _rule(self, year: int) -> TZRule:
        chosen = self.rules[0]
        for rule in self.rules:
            if rule.year <= year:
                chosen = rule
        return chosen

    def _daylight_span(self, year: int) -> tuple[TZRule, datetime, datetime] | None:
        """The rule of ``year`` and the UTC instants daylight time starts and ends."""
        rule = self._rule(year)
        start = rule.daylight_date.moment(year) if rule.has_dst else None
        end = rule.standard_date.moment(year) if rule.has_dst else None
        if start is None or end is None:
            return None
        return rule, start - rule.standard_offset, end - rule.daylight_offset

    def _in_daylight(self, moment: datetime) -> tuple[TZRule, bool]:
        """The rule at the naive UTC instant ``moment`` and whether it is daylight time."""
        span = self._daylight_span(moment.year)
        if span is None:
            return self._rule(moment.year), False
        rule, start, end = span
        if start <= end:
            return rule, start <= moment < end
        return rule, not end <= moment < start  # southern hemisphere: daylight over new year

    def fromutc(self, dt: datetime) -> datetime:
        if dt.tzinfo is not self:
            raise ValueError("fromutc: dt.tzinfo is not self")
        moment = dt.replace(tzinfo=None)
        rule, daylight = self._in_daylight(moment)
        local = moment + (rule.daylight_offset if daylight else rule.standard_offset)
        fold = 0
        if not daylight and rule.has_dst and rule.daylight_offset > rule.standard_offset:
            # the repeated hour after daylight time ends: the second time is fold 1
            earlier = moment - (rule.daylight_offset - rule.standard_offset)
            fold = int(self._in_daylight(earlier)[1])
        return local.replace(tzinfo=self, fold=fold)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return self._rule(_LAST_YEAR).standard_offset
        wall = dt.replace(tzinfo=None, fold=0)
        rule = self._rule(wall.year)
        standard, daylight = rule.standard_offset, rule.daylight_offset
        as_daylight = self._in_daylight(wall - daylight)[1]
        as_standard = not self._in_daylight(wall - standard)[1]
        if as_daylight and as_standard:  # repeated hour
            return standard if dt.fold else daylight
        if as_daylight:
            return daylight
        if as_standard:
            return standard
        return daylight if dt.fold else standard  # skipped hour (PEP 495)

    def dst(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(0)
        return self.utcoffset(dt) - self._rule(dt.year).standard_offset

    def tzname(self, dt: datetime | None) -> str:
        return self.key
