"""The iCalendar corpus: real-world shapes survive parse → serialise unchanged."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from openprotocols.formats import ical

CORPUS = Path(__file__).parent / "corpus" / "ical"
FILES = sorted(CORPUS.glob("*.ics"))
REPAIRED = {"sloppy-unfolded-lines.ics"}  # repaired on reading: checked for idempotence


def content_lines(data: bytes) -> list[str]:
    """The logical lines of ``data``: line ends normalised, unfolded at byte level."""
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    data = re.sub(rb"\n[ \t]", b"", data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return [line for line in text.split("\n") if line.strip()]


def test_every_corpus_file_has_a_note() -> None:
    """Each corpus file is listed in the README with the quirk it exercises."""
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert FILES, "the corpus is empty"
    for path in FILES:
        assert f"`{path.name}`" in readme, f"{path.name} has no note in README.md"


@pytest.mark.parametrize("path", [p for p in FILES if p.name not in REPAIRED], ids=lambda p: p.name)
def test_round_trip_keeps_every_content_line(path: Path) -> None:
    """parse → serialise gives back the same content lines, in the same order."""
    data = path.read_bytes()
    assert content_lines(ical.serialize(ical.parse(data))) == content_lines(data)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_round_trip_gives_equal_models(path: Path) -> None:
    """parse → serialise → parse gives an equal calendar, and writing it again is stable."""
    first = ical.parse(path.read_bytes())
    written = ical.serialize(first)
    second = ical.parse(written)
    assert second == first
    assert ical.serialize(second) == written
    assert first.items, "every corpus file holds at least one item"


@pytest.mark.parametrize(
    "path", [p for p in FILES if not p.name.startswith("sloppy")], ids=lambda p: p.name
)
def test_rewriting_every_item_from_scratch_keeps_the_models(path: Path) -> None:
    """Items written without their source lines (as a new calendar) read back equal."""
    calendar = ical.parse(path.read_bytes())
    fresh = ical.Calendar(
        items=calendar.items,
        method=calendar.method,
        properties=calendar.properties,
        timezones=calendar.timezones,
        components=calendar.components,
    )
    again = ical.parse(ical.serialize(fresh))
    assert len(again.items) == len(calendar.items)
    for before, after in zip(calendar.items, again.items, strict=True):
        assert after == before
    assert again.components == calendar.components


def test_sloppy_unfolded_lines_are_repaired_with_warnings() -> None:
    """Raw line breaks join the line before them (as an escaped newline), a fold without
    its space joins without one, and each repair is reported."""
    calendar = ical.parse((CORPUS / "sloppy-unfolded-lines.ics").read_bytes())
    (event,) = calendar.items
    assert event.body == (
        "First line of the description\nsecond line, written as a raw line break\n"
        "Third line: with a colon, still text"
    )
    (long,) = event.extended.get("X-LONG")
    assert long.value.endswith("without the leading space the next line needs")
    assert [w.line for w in calendar.warnings] == [11, 12, 14]


def test_sloppy_export_reports_each_repair() -> None:
    """The sloppy LF-only export parses; every line the model cannot take is kept in
    extended and named in a warning."""
    calendar = ical.parse((CORPUS / "sloppy-lf-only.ics").read_bytes())
    messages = "\n".join(str(w) for w in calendar.warnings)
    for expected in (
        "Nowhere/Special",
        "STATUS: 'POSTPONED'",
        "DTEND does not fit DTSTART (it is before the start)",
        "VTIMEZONE is unusable",
        "TRIGGER",
        "PERCENT-COMPLETE: 150",
        "DUE does not fit DTSTART",
    ):
        assert expected in messages
    first, second, third, fourth, task = calendar.items
    assert first.subject.startswith("Café with a fold inside a character")
    assert first.timezone == "  Nowhere/Special "  # as written, for writing back
    assert first.start.tzinfo is None  # unknown zone: floating, with a warning
    assert [p.name for p in first.extended.properties] == ["DTSTAMP", "STATUS", "X-ODD"]
    assert second.end == second.start
    assert [p.name for p in second.extended.properties] == [
        "DTSTAMP",
        "DTEND",
        "CREATED",
        "SEQUENCE",
    ]
    assert second.reminders == ()
    assert second.extended.components[0].name == "VALARM"
    assert third.recurrence is None
    assert third.extended.get("EXDATE")
    assert fourth.end == fourth.start + timedelta(days=1)
    assert task.percent_complete == 0
    assert task.due is None
    assert {p.name for p in task.extended.properties} >= {"PERCENT-COMPLETE", "PRIORITY", "DUE"}
