"""Time zones of iCalendar data: TZID → tzinfo on reading, tzinfo → TZID and VTIMEZONE on writing.

The rules (see docs/formats-icalendar.md):

1. A TZID that names an IANA zone (``Europe/Berlin``), a Windows zone as Outlook and
   Exchange write them (``W. Europe Standard Time``) or an IANA zone behind a "globally
   unique" prefix (``/freeassociation.sourceforge.net/Europe/Berlin``) reads as that
   :class:`zoneinfo.ZoneInfo`, whether or not the stream has a VTIMEZONE for it: clients
   agree on what these names mean, and rules in a VTIMEZONE are often stale.
2. Any other TZID reads as a tzinfo built from its VTIMEZONE (by icalendar and dateutil).
3. A TZID with neither reads as floating time, and the reader is warned.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime, tzinfo

from openprotocols.formats._contentline import parse_components, read_lines, unescape_text
from openprotocols.model._base import RawComponent, RawProperty

__all__ = ["ZoneResolver", "generate_vtimezone", "iana_name", "tzid_for", "zone_key"]

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"})


@functools.lru_cache(maxsize=512)
def _zoneinfo(key: str) -> zoneinfo.ZoneInfo | None:
    if not key or len(key) > 100 or key.startswith(("/", ".")) or "\\" in key:
        return None
    try:
        return zoneinfo.ZoneInfo(key)
    except Exception:  # ZoneInfoNotFoundError, ValueError, an OSError for odd names
        return None


@functools.lru_cache(maxsize=512)
def iana_name(tzid: str) -> str | None:
    """The IANA zone a TZID means without a VTIMEZONE (rule 1), or ``None``."""
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    cleaned = tzid.strip().strip('"').strip()
    candidates = [cleaned.strip("/")]
    if cleaned in WINDOWS_TO_OLSON:
        candidates.append(WINDOWS_TO_OLSON[cleaned])
    if cleaned.startswith("/"):
        parts = cleaned.strip("/").split("/")
        candidates.extend("/".join(parts[start:]) for start in range(1, len(parts)))
    for candidate in candidates:
        zone = _zoneinfo(candidate)
        if zone is not None:
            return zone.key
    return None


def zone_key(zone: tzinfo | None) -> str | None:
    """The name a tzinfo goes by: a ZoneInfo key, the TZID of a VTIMEZONE-built zone."""
    if zone is None:
        return None
    if zone is UTC:
        return "UTC"
    key = getattr(zone, "key", None)
    if isinstance(key, str):
        return key
    tzid = getattr(zone, "_tzid", None)  # dateutil's zone from a VTIMEZONE, TEXT-escaped
    return unescape_text(tzid) if isinstance(tzid, str) else None


def _matches(tzid: str, zone: tzinfo) -> bool:
    key = zone_key(zone)
    if key is None:
        return False
    if key == tzid:
        return True
    iana = iana_name(tzid)
    return iana is not None and iana == key


def tzid_for(value: datetime, hint: str | None) -> str | None:
    """The TZID to write ``value`` with: ``None`` for floating time, ``"Z"`` for UTC.

    ``hint`` (the item's ``timezone`` as written) wins when it names ``value``'s zone, so
    ``W. Europe Standard Time`` stays so. A naive value is written with a hint that names
    no known zone (one the reader could not resolve and read as floating), and without a
    TZID otherwise. An aware value whose zone has no name (a fixed offset) is written in
    UTC.
    """
    zone = value.tzinfo
    if zone is None:  # floating; or a zone the reader could not resolve, kept by name
        return hint if hint is not None and iana_name(hint) is None else None
    if hint is not None and _matches(hint, zone):
        return hint
    key = zone_key(zone)
    if key is None or key in _UTC_NAMES:
        return "Z"
    return key


class ZoneResolver:
    """Resolves the TZIDs of one stream, with that stream's VTIMEZONE components."""

    def __init__(self, vtimezones: dict[str, RawComponent]) -> None:
        self._vtimezones = vtimezones
        self._cache: dict[str, tzinfo | None] = {}
        self.errors: dict[str, str] = {}

    def resolve(self, tzid: str) -> tzinfo | None:
        """The zone of ``tzid``, or ``None`` when neither rule 1 nor rule 2 gives one."""
        try:
            return self._cache[tzid]
        except KeyError:
            pass
        iana = iana_name(tzid)
        zone: tzinfo | None = _zoneinfo(iana) if iana is not None else None
        if zone is None:
            component = self._vtimezones.get(tzid.strip().strip('"'))
            if component is not None:
                zone = self._build(tzid, component)
        self._cache[tzid] = zone
        return zone

    def _build(self, tzid: str, component: RawComponent) -> tzinfo | None:
        from icalendar import Timezone

        from openprotocols.formats._contentline import serialize_component

        data = b"\r\n".join(serialize_component(component)) + b"\r\n"
        try:  # never a str: icalendar would take a one-line str for a file name
            parsed = Timezone.from_ical(data)
            if not isinstance(parsed, Timezone):
                raise ValueError("not a VTIMEZONE")
            zone = parsed.to_tz(lookup_tzid=False)
            datetime(2000, 1, 1, tzinfo=zone).utcoffset()  # fails early on broken rules
        except Exception as exc:  # anything icalendar or dateutil raise
            self.errors[tzid] = f"{type(exc).__name__}: {exc}"
            return None
        return zone  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=256)
def generate_vtimezone(tzid: str) -> RawComponent | None:
    """A VTIMEZONE for ``tzid`` from the IANA data (1970-2038), named ``tzid``; ``None``
    when ``tzid`` names no zone icalendar can describe."""
    iana = iana_name(tzid)
    if iana is None:
        return None
    from icalendar import Timezone

    try:
        data = Timezone.from_tzid(iana).to_ical()
        tree = parse_components(
            read_lines(data, format="iCalendar", warnings=[]), format="iCalendar", warnings=[]
        )
    except Exception:  # anything icalendar raises for a zone it cannot describe
        return None
    (component,) = tree
    properties = tuple(
        RawProperty("TZID", tzid) if p.name.upper() == "TZID" else p for p in component.properties
    )
    return RawComponent(component.name, properties, component.components)
