"""Parse + serialise 1,000 events (recurrence, time zones, attendees, alarms) with the
openprotocols iCalendar codec and with bare icalendar (``Calendar.from_ical`` /
``to_ical``) on the same bytes; print the times and the ratio (target: at most 1.5x).

Each figure is the best of several runs, so the numbers are comparable between runs.

    python benchmarks/formats_ical.py [--events N] [--runs N]
"""

from __future__ import annotations

import argparse

from _timing import best

ZONES = {
    "Europe/Berlin": ("+0100", "+0200", "CET", "CEST", "-1SU;BYMONTH=10", "-1SU;BYMONTH=3"),
    "America/New_York": ("-0500", "-0400", "EST", "EDT", "1SU;BYMONTH=11", "2SU;BYMONTH=3"),
    "W. Europe Standard Time": (
        "+0100",
        "+0200",
        "CET",
        "CEST",
        "-1SU;BYMONTH=10",
        "-1SU;BYMONTH=3",
    ),
}


def vtimezone(tzid: str) -> list[str]:
    """A two-rule VTIMEZONE as clients write them."""
    std, dst, std_name, dst_name, std_rule, dst_rule = ZONES[tzid]
    return [
        "BEGIN:VTIMEZONE",
        f"TZID:{tzid}",
        "BEGIN:STANDARD",
        "DTSTART:19701025T030000",
        f"RRULE:FREQ=YEARLY;BYDAY={std_rule}",
        f"TZOFFSETFROM:{dst}",
        f"TZOFFSETTO:{std}",
        f"TZNAME:{std_name}",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:19700329T020000",
        f"RRULE:FREQ=YEARLY;BYDAY={dst_rule}",
        f"TZOFFSETFROM:{std}",
        f"TZOFFSETTO:{dst}",
        f"TZNAME:{dst_name}",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
    ]


def event(n: int) -> list[str]:
    """One event: every third recurring with exceptions, in one of the zones."""
    tzid = list(ZONES)[n % len(ZONES)]
    day = 1 + n % 28
    month = 1 + n % 12
    lines = [
        "BEGIN:VEVENT",
        f"UID:bench-{n}@openprotocols.example",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID={tzid}:2026{month:02d}{day:02d}T{8 + n % 9:02d}3000",
        f"DTEND;TZID={tzid}:2026{month:02d}{day:02d}T{9 + n % 9:02d}0000",
        f"SUMMARY:Meeting number {n}\\, with an escaped comma",
        "DESCRIPTION:Agenda:\\n1. Numbers\\n2. Plans for the next quarter\\, with a long"
        " line that has to be folded when it is written out again",
        f"LOCATION:Room {n % 40}",
        "ORGANIZER;CN=Organizer:mailto:organizer@example.org",
        f'ATTENDEE;CN="Doe, Jane";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:j{n}@example.org',
        "ATTENDEE;CN=Bob;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org",
        "CATEGORIES:Work,Planning",
        "SEQUENCE:1",
        "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
    ]
    if n % 3 == 0:
        lines += [
            "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=20",
            f"EXDATE;TZID={tzid}:2026{month:02d}{day:02d}T{8 + n % 9:02d}3000",
        ]
    lines += [
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "TRIGGER:-PT15M",
        "DESCRIPTION:Reminder",
        "END:VALARM",
        "END:VEVENT",
    ]
    return lines


def stream(events: int) -> bytes:
    """A VCALENDAR with the zones and ``events`` events, as CRLF bytes."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//openprotocols//bench//EN"]
    for tzid in ZONES:
        lines += vtimezone(tzid)
    for n in range(events):
        lines += event(n)
    lines.append("END:VCALENDAR")
    from openprotocols.formats._contentline import fold  # folded at 75 octets, as clients do

    return b"\r\n".join(fold(line) for line in lines) + b"\r\n"


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import icalendar

    from openprotocols.formats import ical

    data = stream(args.events)
    # warm up caches both sides use (zoneinfo, icalendar's lookups)
    ical.serialize(ical.parse(data))
    icalendar.Calendar.from_ical(data).to_ical()

    ours_parse = best(lambda: ical.parse(data), args.runs)
    calendar = ical.parse(data)
    ours_write = best(lambda: ical.serialize(calendar), args.runs)
    theirs_parse = best(lambda: icalendar.Calendar.from_ical(data), args.runs)
    parsed = icalendar.Calendar.from_ical(data)
    theirs_write = best(parsed.to_ical, args.runs)
    assert ical.serialize(calendar) == data, "the benchmark data must round-trip exactly"

    print(f"{args.events} events, {len(data) / 1024:.0f} KiB, best of {args.runs} runs")
    print(f"{'':28}{'parse':>10}{'serialise':>12}{'total':>10}")
    rows = [
        ("openprotocols.formats.ical", ours_parse, ours_write),
        (f"icalendar {icalendar.__version__}", theirs_parse, theirs_write),
    ]
    for name, read, write in rows:
        print(
            f"{name:28}{read * 1000:>8.0f}ms{write * 1000:>10.0f}ms{(read + write) * 1000:>8.0f}ms"
        )
    ratio = (ours_parse + ours_write) / (theirs_parse + theirs_write)
    print(f"ratio (ours / icalendar): {ratio:.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
