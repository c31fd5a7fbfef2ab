"""iCalendar value types (RFC 5545 section 3.3) and parameter values (RFC 6868), both ways.

Strict readers: each raises :class:`ValueError` for text that is not the type, and the
codec turns that into a warning and keeps the line verbatim.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta, tzinfo

__all__ = [
    "format_date",
    "format_datetime",
    "format_duration",
    "format_param",
    "is_uri",
    "parse_date",
    "parse_datetime",
    "parse_duration",
    "parse_param",
]

_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATETIME = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)")
_DURATION = re.compile(r"([+-]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_NEEDS_QUOTES = re.compile(r'[;:,^\n"]|^\s|\s$')


def parse_date(text: str) -> date:
    """Read a DATE (``20260131``)."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a DATE: {text!r}")
    year, month, day = (int(g) for g in match.groups())
    return date(year, month, day)


def parse_datetime(text: str, zone: tzinfo | None) -> datetime:
    """Read a DATE-TIME (``20260131T093000`` or ``...Z``); ``zone`` is the TZID's zone.

    A ``Z`` suffix means UTC whatever ``zone`` says; without it the value is local to
    ``zone``, or floating (naive) when ``zone`` is ``None``.
    """
    value = text.strip()
    if _plain_datetime(value):  # the usual form: read in C, and only if it reads
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass  # a leap second or a day that does not exist: read below, as always
        else:
            if zone is None or value[-1] == "Z":
                return moment
            return datetime(
                moment.year,
                moment.month,
                moment.day,
                moment.hour,
                moment.minute,
                moment.second,
                tzinfo=zone,
            )
    match = _DATETIME.fullmatch(value)
    if match is None:
        raise ValueError(f"not a DATE-TIME: {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in match.groups()[:6])
    if s == 60:  # a leap second (RFC 5545 allows it); Python does not
        s = 59
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC if match[7] else zone)


def _plain_datetime(value: str) -> bool:
    """Whether ``value`` is ``YYYYMMDDTHHMMSS`` or that with ``Z``, in ASCII digits: a
    string _DATETIME matches that :meth:`datetime.fromisoformat` reads the same way
    (or refuses)."""
    return (
        (len(value) == 15 or (len(value) == 16 and value[15] == "Z"))
        and value[8] == "T"
        and value.isascii()
        and value[:8].isdigit()
        and value[9:15].isdigit()
    )


def format_date(value: date) -> str:
    """Write a DATE."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def format_datetime(value: datetime, *, utc: bool = False) -> str:
    """Write a DATE-TIME as local time, or (``utc=True``) converted to UTC with a ``Z``."""
    if utc:
        value = value.astimezone(UTC)
    text = (
        f"{value.year:04d}{value.month:02d}{value.day:02d}"
        f"T{value.hour:02d}{value.minute:02d}{value.second:02d}"
    )
    return text + "Z" if utc else text


def parse_duration(text: str) -> timedelta:
    """Read a DURATION (``-PT15M``, ``P1D``, ``P2W``)."""
    # Streams repeat a few durations (every alarm's TRIGGER): short ones are remembered.
    return _known_duration(text) if len(text) <= 32 else _read_duration(text)


def _read_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if match is None or text.strip().rstrip("T").endswith("P") or text.strip().endswith("T"):
        raise ValueError(f"not a DURATION: {text!r}")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    value = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return -value if sign == "-" else value


_known_duration = functools.lru_cache(maxsize=256)(_read_duration)


def format_duration(value: timedelta) -> str:
    """Write a DURATION; whole weeks as ``PnW``, otherwise days and a time part."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    days, seconds = value.days, value.seconds + (1 if value.microseconds >= 500_000 else 0)
    if seconds == 0 and days and days % 7 == 0:
        return f"{sign}P{days // 7}W"
    text = f"{sign}P{days}D" if days else f"{sign}P"
    if seconds or not days:
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        text += "T"
        if hours:
            text += f"{hours}H"
        if minutes:
            text += f"{minutes}M"
        if secs or not (hours or minutes):
            text += f"{secs}S"
    return text


def parse_param(value: str) -> str:
    """A parameter value as meant: quotes removed, RFC 6868 ``^n ^^ ^'`` decoded."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    if "^" not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        pair = value[i : i + 2]
        if pair in ("^n", "^N"):
            out.append("\n")
        elif pair == "^^":
            out.append("^")
        elif pair == "^'":
            out.append('"')
        else:
            out.append(value[i])
            i += 1
            continue
        i += 2
    return "".join(out)


def format_param(value: str) -> str:
    """A parameter value as written: RFC 6868 encoded, quoted where it must be."""
    if not _NEEDS_QUOTES.search(value):
        return value
    encoded = value.replace("^", "^^").replace("\n", "^n").replace('"', "^'")
    return f'"{encoded}"'


def is_uri(text: str) -> bool:
    """Whether ``text`` starts with a URI scheme (``mailto:``, ``urn:``, ``https:``)."""
    return _SCHEME.match(text) is not None
