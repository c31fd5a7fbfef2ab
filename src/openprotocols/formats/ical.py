"""iCalendar (RFC 5545) ⇄ :class:`~openprotocols.model.Appointment` and
:class:`~openprotocols.model.Task`, losslessly.

::

    calendar = parse(data)                       # a Calendar: items, method, the rest verbatim
    event = calendar.items[0]
    edited = attrs.evolve(calendar, items=[attrs.evolve(event, location="Room 2")])
    serialize(edited)                            # only the LOCATION line differs from data
    serialize(attrs.evolve(event, location="Room 2"), original=data)   # the same, for a store
    serialize(Appointment.new("Lunch", start, end))   # a new VCALENDAR, VTIMEZONEs generated

**The promise.** ``serialize(parse(data))`` gives back the content lines of ``data`` (after
unfolding): every component, property, parameter and value, in their order, with their
quoting and escaping. An item changed with :func:`attrs.evolve` is written with only the
lines of the changed fields rewritten; every other line stays as it was. How: the
:class:`Calendar` remembers each item's source component; on writing, each group of lines
(``DTSTART``; ``DTEND`` or ``DURATION``; each ``ATTENDEE``...) is compared with the value
that was parsed from it, and written as it was where they agree. What the model has no
field for lives verbatim in ``extended`` (``Reminder.extended`` for alarms).

**Series and overrides.** A recurring series is one :class:`Appointment`; the VEVENTs with
its UID and a ``RECURRENCE-ID`` are its ``overrides``. An *orphan* override — an occurrence
whose series is not in the stream, as in an invitation to one occurrence — is an item of
its own: an ``Appointment`` with ``recurrence_id`` set and no ``recurrence``. Tasks have no
overrides in the model: a VTODO with ``RECURRENCE-ID`` is a ``Task`` of its own that keeps
that line in ``extended``.

**Bad input.** Malformed data raises :class:`~openprotocols.errors.ParseError` naming the
line; sloppy data (LF-only or bare-CR line ends, a fold inside a UTF-8 character, a line
break that was not folded, an unknown TZID, a DTEND before DTSTART, an unreadable date)
parses, keeps the line verbatim in ``extended`` and reports a :class:`Warning` in
``Calendar.warnings``. No exception of icalendar or dateutil escapes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats._contentline import (
    LineNumbers,
    Warning,
    build_numbered_tree,
    fold,
    format_line,
    numbered_lines,
    parse_text,
    unescape_text,
)
from openprotocols.formats._ical_items import (
    DecodeContext,
    EncodeContext,
    Source,
    align,
    decode_event,
    decode_todo,
    encode_event,
    encode_todo,
)
from openprotocols.formats._timezones import ZoneResolver, generate_vtimezone
from openprotocols.model._base import RawComponent, RawProperty, to_tuple
from openprotocols.model.calendar import Appointment, Task

__all__ = ["FORMAT", "Calendar", "Warning", "parse", "serialize"]

FORMAT = "iCalendar"
PRODID = "-//openprotocols//openprotocols//EN"

CalendarItem = Appointment | Task
_Key = tuple[str, str, Any, int]


@attrs.frozen(eq=False)
class _Memory:
    """What a parsed calendar remembers of its bytes, to write them back unchanged."""

    name: str
    properties: tuple[RawProperty, ...]
    method: str | None
    layout: tuple[tuple[str, Any], ...]  # ("tz" | "comp", RawComponent) or ("item", key)
    sources: Mapping[_Key, Source]
    missing_tzids: frozenset[str]


@attrs.frozen
class Calendar:
    """An iCalendar stream: its items and, verbatim, everything else it holds.

    ``items`` are the appointments and tasks in stream order: a series with its
    overrides is one :class:`Appointment`, an orphan override is an ``Appointment`` with a
    ``recurrence_id``. ``method`` is ``METHOD`` (upper case; ``None`` for a plain
    calendar). ``properties`` are the other VCALENDAR properties (``VERSION``, ``PRODID``,
    ``X-WR-CALNAME``...), ``timezones`` the VTIMEZONE components and ``components``
    everything else (VJOURNAL, VFREEBUSY, ``X-`` components, and a VEVENT or VTODO the
    model cannot hold, such as one without a UID), all verbatim. ``warnings`` lists what
    the parser repaired; it does not take part in ``==``.

    A parsed calendar remembers its source, so :func:`serialize` writes unchanged items
    back byte for byte; change it with :func:`attrs.evolve`.
    """

    items: tuple[CalendarItem, ...] = attrs.field(factory=tuple, converter=to_tuple)
    method: str | None = None
    properties: tuple[RawProperty, ...] = attrs.field(factory=tuple, converter=to_tuple)
    timezones: tuple[RawComponent, ...] = attrs.field(factory=tuple, converter=to_tuple)
    components: tuple[RawComponent, ...] = attrs.field(factory=tuple, converter=to_tuple)
    warnings: tuple[Warning, ...] = attrs.field(factory=tuple, converter=to_tuple, eq=False)
    _memory: _Memory | None = attrs.field(default=None, eq=False, repr=False, alias="memory")

    def original(self, item: CalendarItem) -> RawComponent | None:
        """The component ``item`` was parsed from, as written (``None`` for a new item).

        For an override this is its own VEVENT; it shows what the model does not, such
        as ``RANGE=THISANDFUTURE`` on the ``RECURRENCE-ID`` line.
        """
        if self._memory is None:
            return None
        source = self._memory.sources.get(_key(item, 0))
        return None if source is None else source.component


def _key(item: CalendarItem, ordinal: int) -> _Key:
    if isinstance(item, Appointment):
        return ("VEVENT", item.uid, item.recurrence_id, ordinal)
    rid = next(
        (p.value for p in item.extended.properties if p.name.upper() == "RECURRENCE-ID"), None
    )
    return ("VTODO", item.uid, rid, ordinal)


# --------------------------------------------------------------------------- reading


def _repaired(
    lines: Iterable[tuple[int, str]], warnings: list[Warning]
) -> Iterator[tuple[int, RawProperty]]:
    """Parsed lines; a line that is not a content line continues the one before it (an
    exporter forgot to fold or to escape a line break), with a warning."""
    previous: RawProperty | None = None
    before, before_text = 0, ""  # the number and the text of the line ``previous`` is
    last = 0  # octets of the line read last: a full one (73+) was folded without a space
    for number, text in lines:
        try:
            prop = parse_text(number, text, format=FORMAT)
        except ParseError:
            if previous is None or previous.name.upper() in ("BEGIN", "END"):
                raise
            joint = "" if last >= 73 else "\\n"
            before_text = before_text + joint + text
            warnings.append(Warning(number, f"not a content line; joined to line {before}"))
            previous = parse_text(before, before_text, format=FORMAT)
            last = len(text.encode("utf-8"))
            continue
        if previous is not None:
            yield before, previous
        previous, before, before_text = prop, number, text
        last = len(text.encode("utf-8"))
    if previous is not None:
        yield before, previous


def _read_tree(data: bytes, warnings: list[Warning]) -> tuple[list[RawComponent], LineNumbers]:
    """The component tree, and for each component its line and its properties' lines."""
    lines = numbered_lines(data, format=FORMAT, warnings=warnings)
    parsed: Iterable[tuple[int, RawProperty]]
    try:  # most streams: every line reads, in one pass
        parsed = [(number, parse_text(number, text, format=FORMAT)) for number, text in lines]
    except ParseError:  # read again line by line, joining what can be joined
        parsed = _repaired(lines, warnings)
    return build_numbered_tree(parsed, format=FORMAT, warnings=warnings)


def parse(data: bytes) -> Calendar:
    """Read an iCalendar stream.

    :raises ParseError: the data is not iCalendar (no VCALENDAR, a line that cannot be
        read, an ``END`` that closes nothing); the error names the line.
    :raises TypeError: ``data`` is not bytes (a ``str`` is refused on purpose).
    """
    warnings: list[Warning] = []
    try:
        return _parse(data, warnings)
    except (ParseError, TypeError):
        raise
    except Exception as exc:  # a bug of ours or a dependency's: never let it escape raw
        raise ParseError(f"internal error: {type(exc).__name__}: {exc}", format=FORMAT) from exc


def _parse(data: bytes, warnings: list[Warning]) -> Calendar:  # noqa: PLR0912
    top, numbers = _read_tree(data, warnings)
    calendars = [c for c in top if c.name.upper() == "VCALENDAR"]
    if not calendars:
        raise ParseError("no BEGIN:VCALENDAR", format=FORMAT, line=1)
    for other in top:
        if other.name.upper() != "VCALENDAR":
            begin = numbers.get(id(other), (None,))[0]
            raise ParseError(f"BEGIN:{other.name} outside VCALENDAR", format=FORMAT, line=begin)
    if len(calendars) > 1:
        warnings.append(
            Warning(
                numbers[id(calendars[1])][0],
                f"{len(calendars)} VCALENDAR objects in one stream; merged into one",
            )
        )
    first = calendars[0]

    method: str | None = None
    properties: list[RawProperty] = []
    for number, calendar in enumerate(calendars):
        lines = numbers[id(calendar)][1]
        for index, prop in enumerate(calendar.properties):
            if prop.name.upper() == "METHOD" and method is None and number == 0:
                method = prop.value.strip().upper()
            elif number == 0 or prop not in properties:
                if prop.name.upper() == "METHOD" and number == 0:
                    warnings.append(Warning(lines[index], "a second METHOD; kept verbatim"))
                properties.append(prop)

    vtimezones: dict[str, RawComponent] = {}
    for calendar in calendars:
        for child in calendar.components:
            if child.name.upper() == "VTIMEZONE":
                tzid = next((p.value for p in child.properties if p.name.upper() == "TZID"), "")
                vtimezones.setdefault(unescape_text(tzid).strip(), child)
    ctx = DecodeContext(ZoneResolver(vtimezones), warnings, numbers)

    layout: list[tuple[str, Any]] = []
    timezones: list[RawComponent] = []
    components: list[RawComponent] = []
    decoded: list[Source] = []
    used_tzids: set[str] = set()
    for calendar in calendars:
        for child in calendar.components:
            name = child.name.upper()
            source = None
            if name == "VTIMEZONE":
                timezones.append(child)
                layout.append(("tz", child))
                continue
            if name in ("VEVENT", "VTODO"):
                used_tzids.update(_tzids(child))
                source = (decode_event if name == "VEVENT" else decode_todo)(child, ctx)
            if source is None:
                components.append(child)
                layout.append(("comp", child))
            else:
                decoded.append(source)
                layout.append(("item", len(decoded) - 1))

    items, sources, keys = _assemble(decoded)
    memory = _Memory(
        name=first.name,
        properties=first.properties,
        method=method,
        layout=tuple((kind, keys[ref] if kind == "item" else ref) for kind, ref in layout),
        sources=sources,
        missing_tzids=frozenset(t for t in used_tzids if t not in vtimezones),
    )
    return Calendar(
        items=items,
        method=method,
        properties=properties,
        timezones=timezones,
        components=components,
        warnings=sorted(warnings, key=lambda w: w.line or 0),
        memory=memory,
    )


def _tzids(component: RawComponent) -> Iterator[str]:
    for prop in component.properties:
        for key, value in prop.params:
            if key.upper() == "TZID":
                yield value.strip().strip('"')
    for child in component.components:
        yield from _tzids(child)


def _assemble(
    decoded: list[Source],
) -> tuple[list[CalendarItem], dict[_Key, Source], list[_Key]]:
    """Items in stream order, overrides inside their series; sources by key."""
    keys: list[_Key] = []
    seen: dict[tuple[str, str, Any], int] = {}  # not a Counter: this runs for every item
    sources: dict[_Key, Source] = {}
    for source in decoded:
        base = _key(source.model, 0)[:3]
        count = seen.get(base, 0)
        key = (*base, count)
        seen[base] = count + 1
        keys.append(key)
        sources[key] = source
    series = {
        s.model.uid
        for s in decoded
        if isinstance(s.model, Appointment) and s.model.recurrence_id is None
    }
    items: list[CalendarItem] = []
    position: dict[str, int] = {}
    overrides: dict[str, list[Appointment]] = {}
    for source in decoded:
        model = source.model
        if isinstance(model, Appointment):
            if model.recurrence_id is not None and model.uid in series:
                overrides.setdefault(model.uid, []).append(model)
                continue
            if model.recurrence_id is None:
                position.setdefault(model.uid, len(items))
        items.append(model)
    for uid, occurrences in overrides.items():
        master = items[position[uid]]
        assert isinstance(master, Appointment)
        items[position[uid]] = attrs.evolve(master, overrides=occurrences)
    return items, sources, keys


# --------------------------------------------------------------------------- writing


def _flatten(items: Iterable[CalendarItem]) -> Iterator[tuple[_Key, CalendarItem]]:
    seen: Counter[tuple[str, str, Any]] = Counter()
    for item in items:
        parts: list[CalendarItem] = [item]
        if isinstance(item, Appointment):
            parts.extend(item.overrides)
        for part in parts:
            base = _key(part, 0)[:3]
            yield (*base, seen[base]), part
            seen[base] += 1


def _encode(item: CalendarItem, source: Source | None, enc: EncodeContext) -> RawComponent:
    if isinstance(item, Appointment):
        if source is not None and not isinstance(source.model, Appointment):
            source = None
        return encode_event(item, source, enc)
    if source is not None and not isinstance(source.model, Task):
        source = None
    return encode_todo(item, source, enc)


def _tzid_of(component: RawComponent) -> str:
    value = next((p.value for p in component.properties if p.name.upper() == "TZID"), "")
    return unescape_text(value).strip()


def _calendar_properties(calendar: Calendar) -> list[RawProperty]:
    memory = calendar._memory
    method = None if calendar.method is None else RawProperty("METHOD", calendar.method.upper())
    if memory is None:
        props = list(calendar.properties)
        names = {p.name.upper() for p in props}
        head = [] if "PRODID" in names else [RawProperty("PRODID", PRODID)]
        if "VERSION" not in names:
            head.append(RawProperty("VERSION", "2.0"))
        if method is not None:
            head.append(method)
        return head + props
    at = next((i for i, p in enumerate(memory.properties) if p.name.upper() == "METHOD"), None)
    others = [(i, p) for i, p in enumerate(memory.properties) if i != at]
    place, pending = align(calendar.properties, others)
    if at is not None and method is not None:
        place[at] = [memory.properties[at] if calendar.method == memory.method else method]
    elif method is not None:
        pending.insert(0, method)
    return [p for i in sorted(place) for p in place[i]] + pending


def _components(calendar: Calendar, enc: EncodeContext) -> list[RawComponent]:
    memory = calendar._memory
    sources = memory.sources if memory else {}
    encoded: dict[_Key, RawComponent] = {}
    for key, item in _flatten(calendar.items):
        encoded[key] = _encode(item, sources.get(key), enc)
    out: list[RawComponent] = []
    zones = Counter(calendar.timezones)
    others = Counter(calendar.components)
    tz_at: int | None = None
    item_at: int | None = None
    for kind, ref in memory.layout if memory else ():
        if kind == "item":
            if ref in encoded:
                item_at = len(out) if item_at is None else item_at
                out.append(encoded.pop(ref))
            continue
        pool = zones if kind == "tz" else others
        if pool[ref] > 0:
            pool[ref] -= 1
            out.append(ref)
            if kind == "tz":
                tz_at = len(out)
    new_zones = list(_leftovers(calendar.timezones, zones))
    present = {_tzid_of(z) for z in calendar.timezones}
    missing = memory.missing_tzids if memory else frozenset()
    for tzid in enc.tzids:
        if tzid not in present and tzid not in missing:
            generated = generate_vtimezone(tzid)
            if generated is not None:
                new_zones.append(generated)
                present.add(tzid)
    at = tz_at if tz_at is not None else item_at if item_at is not None else len(out)
    out[at:at] = new_zones
    out.extend(encoded.values())
    out.extend(_leftovers(calendar.components, others))
    return out


def _leftovers(
    values: Iterable[RawComponent], pool: Counter[RawComponent]
) -> Iterator[RawComponent]:
    """The values the walk over the layout did not consume, in their order."""
    for value in values:
        if pool[value] > 0:
            pool[value] -= 1
            yield value


def _lines(component: RawComponent) -> Iterator[bytes]:
    yield fold(f"BEGIN:{component.name}")
    for prop in component.properties:
        text = format_line(prop)
        if "\n" in text or "\r" in text:
            raise InvalidItemError(f"{prop.name} cannot be written: it contains a line break")
        yield fold(text)
    for child in component.components:
        yield from _lines(child)
    yield fold(f"END:{component.name}")


def serialize(
    value: Calendar | CalendarItem | Iterable[CalendarItem],
    *,
    original: bytes | Calendar | None = None,
) -> bytes:
    """Write a calendar, one item or several items as an iCalendar stream (CRLF, folded).

    A :class:`Calendar` from :func:`parse` is written back as it was read, but for the
    lines of what changed. Items alone make a new VCALENDAR with a VTIMEZONE for each
    zone they use; each gets the ``DTSTAMP`` RFC 5545 requires if ``extended`` has none.

    ``original`` — the bytes (or the parsed calendar) an edited item came from, as a
    sync store keeps them — makes writing items minimal-diff: the result is ``original``
    with its items of the same UIDs replaced by the given ones (pass a series with its
    overrides, or every orphan occurrence of that UID), everything else unchanged.

    :raises InvalidItemError: a value cannot be written (a line break in a UID or a URL).
    :raises TypeError: ``original`` with a ``Calendar``, or something that is not an item.
    """
    if isinstance(value, Calendar):
        if original is not None:
            raise TypeError("original= goes with items, not with a Calendar")
        calendar = value
    else:
        items = (value,) if isinstance(value, Appointment | Task) else tuple(value)
        for item in items:
            if not isinstance(item, Appointment | Task):
                raise TypeError(f"not a calendar item: {type(item).__name__}")
        if original is None:
            calendar = Calendar(items=items)
        else:
            base = original if isinstance(original, Calendar) else parse(original)
            calendar = attrs.evolve(base, items=_replace(base.items, items))
    enc = EncodeContext()
    root = RawComponent(
        calendar._memory.name if calendar._memory else "VCALENDAR",
        _calendar_properties(calendar),
        _components(calendar, enc),
    )
    return b"\r\n".join(_lines(root)) + b"\r\n"


def _replace(old: tuple[CalendarItem, ...], new: tuple[CalendarItem, ...]) -> list[CalendarItem]:
    uids = {item.uid for item in new}
    out: list[CalendarItem] = []
    placed: set[str] = set()
    for item in old:
        if item.uid not in uids:
            out.append(item)
        elif item.uid not in placed:
            placed.add(item.uid)
            out.extend(n for n in new if n.uid == item.uid)
    out.extend(n for n in new if n.uid not in placed)
    return out
