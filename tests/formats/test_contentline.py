"""The shared content-line layer of iCalendar and vCard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprotocols.errors import ParseError
from openprotocols.formats._contentline import (
    FOLD_OCTETS,
    LATIN_1,
    Line,
    Warning,
    build_tree,
    escape_text,
    fold,
    format_line,
    parse_components,
    parse_line,
    read_lines,
    serialize_component,
    split_text,
    unescape_text,
)


def lines(data: bytes) -> tuple[list[Line], list[Warning]]:
    """Read ``data`` and return its logical lines and the warnings."""
    warnings: list[Warning] = []
    return list(read_lines(data, format="test", warnings=warnings)), warnings


def test_unfolding_and_line_numbers() -> None:
    """Continuations join their line; numbers name the first physical line."""
    got, warnings = lines(b"A:one\r\n two\r\n\tthree\r\n\r\nB:x\r\n")
    assert got == [Line(1, "A:onetwothree"), Line(5, "B:x")]
    assert warnings == []


def test_sloppy_line_ends_are_read_and_reported() -> None:
    """LF-only and bare CR line ends parse; bare CRs are reported."""
    assert lines(b"A:1\nB:2\n")[0] == [Line(1, "A:1"), Line(2, "B:2")]
    got, warnings = lines(b"A:1\rB:2\r")
    assert [line.text for line in got] == ["A:1", "B:2"]
    assert "bare CR" in str(warnings[0])


def test_latin1_input_is_read_with_a_warning() -> None:
    """Bytes that are not UTF-8 are read as Latin-1, and the line is named."""
    got, warnings = lines(b"A:ok\r\nN:M\xfcller\r\n")
    assert got[1].text == "N:Müller"
    assert (warnings[0].line, warnings[0].code) == (2, LATIN_1)


def test_fold_inside_a_character_is_unfolded_on_bytes() -> None:
    """A fold that splits a UTF-8 sequence is undone before decoding (RFC 5545 3.1)."""
    folded = "SUMMARY:Café".encode()
    data = folded[:-1] + b"\r\n " + folded[-1:] + b"\r\n"
    got, warnings = lines(data)
    assert got == [Line(1, "SUMMARY:Café")]
    assert warnings == []


def test_str_input_is_refused() -> None:
    """Only bytes are accepted (a str might be taken for a file path by other parsers)."""
    with pytest.raises(TypeError):
        list(read_lines("A:1", format="test", warnings=[]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "SUMMARY:hello",
        'ATTENDEE;CN="Doe, Jane";ROLE=REQ-PARTICIPANT:mailto:j@x.test',
        "item1.X-ABLabel:_$!<Other>!$_",
        "TEL;HOME;VOICE:+1 555",
        "X-EMPTY;X-P=:",
        'DESCRIPTION;ALTREP="cid:a:b";LANGUAGE=en:colon: inside',
    ],
)
def test_parse_and_format_line_round_trip(text: str) -> None:
    """Formatting a parsed line gives back exactly the same text."""
    assert format_line(parse_line(Line(1, text), format="test")) == text


def test_parse_line_parts() -> None:
    """Group, name, quoted parameters and the raw value are separated."""
    prop = parse_line(Line(3, 'item1.EMAIL;TYPE=INTERNET;X-Q="a;b:c":x@y.test'), format="t")
    assert (prop.group, prop.name, prop.value) == ("item1", "EMAIL", "x@y.test")
    assert prop.params == (("TYPE", "INTERNET"), ("X-Q", '"a;b:c"'))


@pytest.mark.parametrize("text", ["no colon here", ":value", "BAD NAME:x", "A;P=1", "TEL;=X:1"])
def test_malformed_lines_name_the_line(text: str) -> None:
    """A line that is not a content line raises ParseError with its number."""
    with pytest.raises(ParseError) as info:
        parse_line(Line(7, text), format="iCalendar")
    assert info.value.line == 7
    assert "iCalendar" in str(info.value)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_fold_never_splits_characters_and_unfolds_back(value: str) -> None:
    """Folded lines fit in 75 octets, never split UTF-8, and unfold to the original."""
    text = "X:" + value.replace("\r", "").replace("\n", "")
    folded = fold(text)
    for physical in folded.split(b"\r\n"):
        assert len(physical) <= FOLD_OCTETS
        physical.decode("utf-8")  # raises if a character was split
    assert [line.text for line in lines(folded + b"\r\n")[0]] == [text]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=100))
def test_text_escaping_round_trips(value: str) -> None:
    """unescape(escape(x)) == x (with CRLF normalised to LF)."""
    value = value.replace("\r", "")
    assert unescape_text(escape_text(value)) == value


def test_split_text_honours_escapes() -> None:
    """Structured values split at unescaped separators only."""
    assert split_text(r"Doe\;Smith;Jane;;Dr.", ";") == ["Doe;Smith", "Jane", "", "Dr."]
    assert split_text(r"a\,b,c", ",") == ["a,b", "c"]


def test_component_tree_round_trip() -> None:
    """BEGIN/END blocks become a tree that serialises back to the same lines."""
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nBEGIN:VALARM\r\n"
        b"ACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    warnings: list[Warning] = []
    (calendar,) = parse_components(
        read_lines(data, format="t", warnings=warnings), format="t", warnings=warnings
    )
    assert calendar.components[0].components[0].name == "VALARM"
    assert b"\r\n".join(serialize_component(calendar)) + b"\r\n" == data


def test_component_errors_and_repairs() -> None:
    """A stray END is an error; a missing END is repaired with a warning."""
    with pytest.raises(ParseError, match="END:VEVENT") as info:
        parse_components(
            read_lines(b"BEGIN:VCALENDAR\r\nEND:VEVENT\r\n", format="t", warnings=[]),
            format="t",
            warnings=[],
        )
    assert info.value.line == 2
    with pytest.raises(ParseError, match="outside"):
        parse_components(read_lines(b"UID:1\r\n", format="t", warnings=[]), format="t", warnings=[])
    warnings: list[Warning] = []
    (card,) = parse_components(
        read_lines(b"BEGIN:VCARD\r\nFN:x\r\n", format="t", warnings=warnings),
        format="t",
        warnings=warnings,
    )
    assert card.properties[0].value == "x"
    assert "never closed" in str(warnings[0])


def test_build_tree_records_line_numbers() -> None:
    """build_tree says where each component began and where each property stood."""
    data = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\n X\r\nBEGIN;X=1:Y\r\n"
    data += b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    warnings: list[Warning] = []
    parsed = [(line, parse_line(line, format="t")) for line in lines(data)[0]]
    (calendar,), numbers = build_tree(parsed, format="t", warnings=warnings)
    (event,) = calendar.components
    assert numbers[id(calendar)] == (1, (2,))
    assert numbers[id(event)] == (3, (4, 6))  # BEGIN with a parameter is a property
    assert [p.value for p in event.properties] == ["1X", "Y"]
