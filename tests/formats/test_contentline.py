"""The shared content-line layer of iCalendar and vCard."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from openprotocols.errors import ParseError
from openprotocols.formats import ical
from openprotocols.formats._contentline import (
    FOLD_OCTETS,
    LATIN_1,
    Line,
    Warning,
    _is_utf8,
    _parse_full,
    build_tree,
    escape_text,
    fold,
    format_line,
    numbered_lines,
    parse_components,
    parse_line,
    parse_text,
    read_lines,
    serialize_component,
    split_text,
    unescape_text,
)
from openprotocols.formats._ical_values import parse_datetime
from openprotocols.model import RawComponent, RawProperty


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


# -- the fast paths agree with the plain readers -----------------------------------------
#
# parse_text reads most lines with a regular expression and remembers heads and whole
# lines; numbered_lines, unescape_text and split_text have shortcuts for the common case.
# Each is compared with the plain reader it must agree with, on generated input that
# hits both the shortcuts and their edges (quotes, bare parameters, dots, odd line ends).

HEAD_PIECES = ["A", "x-Y", "item1", ".", ";", ":", "=", '"', ",", " ", "^", "\\", "é", "\t", "9"]


@st.composite
def content_lines(draw: st.DrawFn) -> str:
    """Mostly well-formed content lines, with quoted, bare and odd parameters."""
    if draw(st.booleans()):  # anything made of the characters that matter
        return "".join(draw(st.lists(st.sampled_from(HEAD_PIECES), max_size=12)))
    name = draw(st.sampled_from(["SUMMARY", "item1.EMAIL", "X-A-1", "a.b.c", ".N", "", "B AD"]))
    params = draw(
        st.lists(
            st.sampled_from(
                ["TYPE=WORK", "HOME", 'CN="Doe, Jane"', "X=a=b", 'Q="a;b:c"', "=X", "", "E="]
            ),
            max_size=3,
        )
    )
    value = draw(st.sampled_from(["x", "", "a:b;c", 'q"q', "Café"]))
    colon = draw(st.sampled_from([":", ":", ""]))
    return name + "".join(f";{p}" for p in params) + colon + value


def full_or_error(number: int, text: str) -> RawProperty | str:
    """The plain reader's property, or its error message."""
    try:
        return _parse_full(number, text, format="t")
    except ParseError as exc:
        return f"{exc} @{exc.line}"


def fast_or_error(number: int, text: str) -> RawProperty | str:
    """parse_text's property, or its error message."""
    try:
        return parse_text(number, text, format="t")
    except ParseError as exc:
        return f"{exc} @{exc.line}"


@given(content_lines(), st.integers(1, 9))
def test_fast_line_reader_agrees_with_the_full_reader(text: str, number: int) -> None:
    """parse_text (regular expression, remembered heads and lines, properties built
    without attrs' __init__) gives what the character-by-character reader gives, the
    first time and from its caches; so does parse_line."""
    expected = full_or_error(number, text)
    for _ in range(2):  # the second time from the caches
        got = fast_or_error(number, text)
        assert got == expected
        assert type(got) is type(expected)
        assert repr(got) == repr(expected)
        if isinstance(got, RawProperty):
            assert hash(got) == hash(expected)
            assert got == RawProperty(got.name, got.value, got.params, got.group)
            assert parse_line(Line(number, text), format="t") == expected


def test_built_components_equal_constructed_ones() -> None:
    """build_tree makes its components without attrs' __init__; they are what the
    constructor makes (equal, same hash and repr), nested ones too."""
    data = b"BEGIN:A\r\nX:1\r\nBEGIN:B\r\nY;P=1:2\r\nEND:B\r\nBEGIN:C\r\nEND:C\r\nEND:A\r\n"
    (top,) = parse_components(lines(data)[0], format="t", warnings=[])
    for component in (top, *top.components):
        made = RawComponent(component.name, component.properties, component.components)
        assert component == made
        assert (hash(component), repr(component)) == (hash(made), repr(made))
        assert type(component.properties) is tuple
        assert type(component.components) is tuple


def plain_lines(data: bytes, format: str, warnings: list[Warning]) -> list[tuple[int, str]]:
    """The straightforward unfolding read_lines promises (the reference)."""
    raw = data.removeprefix(b"\xef\xbb\xbf")
    if b"\r" in raw.replace(b"\r\n", b""):
        warnings.append(Warning(None, "bare CR line ends read as line breaks"))
    logical: list[tuple[int, list[bytes]]] = []
    for number, line in enumerate(
        raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"), 1
    ):
        if line[:1] in (b" ", b"\t") and logical and logical[-1][1]:
            logical[-1][1].append(line[1:])
        else:
            logical.append((number, [line] if line.strip() else []))
    joined = [(number, b"".join(parts)) for number, parts in logical if parts]
    try:
        return [(number, line.decode("utf-8")) for number, line in joined]
    except UnicodeDecodeError:
        bad = next(n for n, line in joined if not _is_utf8(line))
        warnings.append(Warning(bad, f"{format} is not UTF-8; read as Latin-1", code=LATIN_1))
        return [(number, line.decode("latin-1")) for number, line in joined]


STREAM_PIECES = [
    b"A:1", b"B;X=2:y", b"\r\n", b"\n", b"\r", b" ", b"\t", b"\x0b", b"\x0c", b"\xc3",
    b"\xa9", b"\xff", b"\xef\xbb\xbf", b"\xc2\xa0", b"", b"x", b"\r\n ", b"\n\t", b"\r\t",
]  # fmt: skip


@settings(max_examples=300)
@given(st.lists(st.sampled_from(STREAM_PIECES), max_size=16))
@example([b" ", b"\r\n", b"A:1", b"\r\n ", b"x", b"\r\n"])  # a blank first line, then a fold
@example([b"A:1", b"\n", b"\x0b", b"\n\t", b"x", b"\n"])  # a blank line ends a fold
@example([b"A:1", b"\r\n ", b"x", b"\r\n", b"\r\n"])  # a blank last line
def test_fast_unfolding_agrees_with_the_plain_one(pieces: list[bytes]) -> None:
    """numbered_lines (and read_lines) give the reference's lines and warnings, folded
    or not, CRLF, LF or bare CR, UTF-8 or Latin-1, with blank lines anywhere."""
    data = b"".join(pieces)
    expected_warnings: list[Warning] = []
    expected = plain_lines(data, "t", expected_warnings)
    warnings: list[Warning] = []
    assert numbered_lines(data, format="t", warnings=warnings) == expected
    assert warnings == expected_warnings
    assert [(line.number, line.text) for line in lines(data)[0]] == expected


def plain_unescape(value: str) -> str:
    """unescape_text as a loop (the reference)."""
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append("\n" if value[i + 1] in "nN" else value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def plain_split(value: str, separator: str) -> list[str]:
    """split_text as a loop (the reference)."""
    parts: list[str] = []
    current = ""
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            current += value[i : i + 2]
            i += 2
            continue
        if value[i] == separator:
            parts.append(plain_unescape(current))
            current = ""
        else:
            current += value[i]
        i += 1
    return [*parts, plain_unescape(current)]


@given(st.text(alphabet="ab\\nN;,\n\r é", max_size=20), st.sampled_from([",", ";"]))
def test_text_shortcuts_agree_with_the_loops(value: str, separator: str) -> None:
    """unescape_text, split_text and escape_text match their plain loops."""
    assert unescape_text(value) == plain_unescape(value)
    assert split_text(value, separator) == plain_split(value, separator)
    for comma in (True, False):
        expected = "".join(
            {"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"}.get(c, c)
            if comma or c != ","
            else c
            for c in value.replace("\r\n", "\n")
        )
        assert escape_text(value, comma=comma) == expected


def plain_datetime(text: str, zone: tzinfo | None) -> datetime:
    """parse_datetime by its regular expression alone (the reference)."""
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)", text.strip())
    if match is None:
        raise ValueError(f"not a DATE-TIME: {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in match.groups()[:6])
    return datetime(y, mo, d, h, mi, min(s, 59), tzinfo=UTC if match[7] else zone)


DATETIME_PIECES = [
    ["2026", "0000", "٢٠٢٦"],
    ["01", "13"],
    ["29", "30"],  # 20260230 does not exist
    ["T", "t"],
    ["13", "24"],
    ["30"],
    ["00", "60"],
    ["", "Z", "z"],
]


@settings(max_examples=400)
@given(
    st.one_of(
        st.tuples(*(st.sampled_from(choices) for choices in DATETIME_PIECES)).map("".join),
        st.text(alphabet="0123456789TZ ٣", max_size=17),
    )
)
def test_datetime_shortcut_agrees_with_the_pattern(text: str) -> None:
    """parse_datetime's fromisoformat shortcut gives the regular expression's value (the
    same zone object) or its error: leap seconds, days that do not exist, non-ASCII
    digits, a lower-case T, UTC."""
    for zone in (None, ZoneInfo("Europe/Berlin")):
        try:
            expected: datetime | str = plain_datetime(text, zone)
        except ValueError as exc:
            expected = str(exc)
        try:
            got: datetime | str = parse_datetime(text, zone)
        except ValueError as exc:
            got = str(exc)
        assert got == expected
        if isinstance(got, datetime) and isinstance(expected, datetime):
            assert got.tzinfo is expected.tzinfo


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VTODO\r\nBEGIN:X\r\nbad\r\n", 3, "END:VTODO"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VTODO\r\nbad line\r\n", 4, "not a content"),
        (b"BEGIN:VCALENDAR\r\nUID:1\r\nEND:VTODO\r\nbad line\r\n", 4, "not a content"),
        (b"UID:x\r\nbad line\r\n", 1, "outside of any component"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nbad\r\nEND:VEVENT\r\nEND:X\r\n", 6, "END:X"),
    ],
)
def test_ical_reports_the_first_error_in_reading_order(
    data: bytes, line: int, message: str
) -> None:
    """iCalendar reads its lines in one pass before building the tree, yet reports the
    error the line-by-line reading met first: a tree error before a line that cannot be
    read or joined to the one before it (the line before it does not count: it would
    have been joined)."""
    with pytest.raises(ParseError, match=message) as info:
        ical.parse(data)
    assert info.value.line == line
