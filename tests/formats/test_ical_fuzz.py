"""Fuzzing the iCalendar parser with mutated corpus files.

The oracle: ``parse`` returns a calendar or raises :class:`ParseError` — never another
exception, and never its "internal error" (a bug caught by the safety net); a calendar
it returns serialises, and that output parses back to an equal calendar.

``OPENPROTOCOLS_FUZZ_EXAMPLES`` sets the number of inputs (500 by default; CI runs
20,000 or more).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprotocols.errors import ParseError
from openprotocols.formats import ical

CORPUS = sorted((Path(__file__).parent / "corpus" / "ical").glob("*.ics"))
EXAMPLES = int(os.environ.get("OPENPROTOCOLS_FUZZ_EXAMPLES", "500"))
TOKENS = [
    b":",
    b";",
    b",",
    b"=",
    b'"',
    b"\\",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b"\xc3",
    b"\xff",
    b"BEGIN:VEVENT\r\n",
    b"END:VEVENT\r\n",
    b"BEGIN:VALARM\r\n",
    b"END:VCALENDAR\r\n",
    b"TZID=",
    b"VALUE=DATE",
    b"VALUE=DATE-TIME",
    b"VALUE=PERIOD",
    b"RANGE=THISANDFUTURE",
    b"RECURRENCE-ID:",
    b"DTEND:",
    b"DURATION:",
    b"-P",
    b"T",
    b"Z",
    b"99",
    b"0000",
    b"+2599",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A corpus file with a few byte flips, insertions, truncations and line shuffles."""
    data = bytearray(draw(st.sampled_from(CORPUS)).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "truncate", "delete", "swap", "copy"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif kind == "truncate":
            del data[at:]
        else:
            lines = bytes(data).split(b"\r\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "delete":
                del lines[i]
            elif kind == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(j, lines[i])
            data = bytearray(b"\r\n".join(lines))
    return bytes(data)


@pytest.mark.timeout(max(120, EXAMPLES // 40))  # about 10 ms an input, with room to spare
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_only_parse_errors_escape(data: bytes) -> None:
    """Mutated input parses or raises ParseError; what parses writes and re-reads equal."""
    try:
        calendar = ical.parse(data)
    except ParseError as exc:
        error: ParseError | None = exc
    else:
        error = None
    if error is not None:
        assert "internal error" not in str(error), str(error)
        return
    written = ical.serialize(calendar)
    again = ical.parse(written)
    assert again == calendar
    assert ical.serialize(again) == written
