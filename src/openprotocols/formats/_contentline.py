"""Content lines: the syntax iCalendar (RFC 5545 3.1) and vCard (RFC 6350 3.3) share.

A stream is a sequence of *content lines* ``[group.]name *(;param=value) :value``,
folded at 75 octets by a line break followed by one space or tab. This module reads such
streams into :class:`~openprotocols.model.RawProperty` values and
:class:`~openprotocols.model.RawComponent` trees *without interpreting any value*, and
writes them back, so a codec can keep every line it does not understand byte-for-byte.

Reading is tolerant of what real exports do (LF-only or CR-only line ends, stray CRs,
blank lines, Latin-1 bytes) and records each repair as a :class:`Warning`; it raises
:class:`~openprotocols.errors.ParseError`, naming the line, only for what cannot be read
at all (a line without a colon, an ``END`` that closes nothing).

Reading is the hot path of a CalDAV/CardDAV sync (every item of a collection), so it
takes shortcuts that give exactly what the plain readers give (tests compare them on
generated input): a stream that is UTF-8 and not folded is split in one go
(:func:`numbered_lines`); a line seen before, and a head (name and parameters) seen
before, are not read again (:func:`parse_text`, bounded caches; properties are
immutable); properties and components are made without attrs' ``__init__``, whose
converters would only copy what is already a tuple; and :func:`by_params` remembers what
codecs read from parameter lists, which repeat line after line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import attrs

from openprotocols.errors import ParseError
from openprotocols.model._base import RawComponent, RawProperty

__all__ = [
    "FOLD_OCTETS",
    "LATIN_1",
    "Line",
    "LineNumbers",
    "Warning",
    "build_numbered_tree",
    "build_tree",
    "by_params",
    "escape_text",
    "fold",
    "format_line",
    "numbered_lines",
    "parse_components",
    "parse_line",
    "parse_text",
    "read_lines",
    "serialize_component",
    "split_text",
    "unescape_text",
]

FOLD_OCTETS = 75
"""The longest a physical line may be, without its line break (RFC 5545 section 3.1)."""

_NAME = re.compile(r"[A-Za-z0-9-]+")


@attrs.frozen
class Warning:
    """Something a parser repaired or could not map; the data itself was kept.

    ``code`` names the kind of repair for code that must react to it (``"latin-1"``:
    the stream was not UTF-8 and was read as Latin-1); the message is for people.
    """

    line: int | None
    message: str
    code: str | None = attrs.field(default=None, kw_only=True)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


LATIN_1 = "latin-1"
"""The :attr:`Warning.code` of a stream that was read as Latin-1."""


@attrs.frozen
class Line:
    """One unfolded content line and the number of its first physical line."""

    number: int
    text: str


def read_lines(data: bytes, *, format: str, warnings: list[Warning]) -> Iterator[Line]:
    """Unfold ``data`` into logical lines, then decode them; blank lines are skipped.

    Accepts CRLF (the standard), LF and CR line ends. A line starting with a space or a
    tab continues the previous one (the one whitespace character is removed). Unfolding
    happens on the bytes, so a fold that split a multi-byte character does no harm. The
    stream is read as UTF-8, or as Latin-1 (a :class:`Warning` with code
    :data:`LATIN_1`) when it is not valid UTF-8.
    """
    for number, text in numbered_lines(data, format=format, warnings=warnings):
        yield Line(number, text)


def numbered_lines(data: bytes, *, format: str, warnings: list[Warning]) -> list[tuple[int, str]]:
    """What :func:`read_lines` yields, as ``(number, text)`` pairs in a list (the codecs'
    fast path: no :class:`Line` objects, no generator)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{format} data must be bytes, not {type(data).__name__}")
    raw = bytes(data).removeprefix(b"\xef\xbb\xbf")
    crs = raw.count(b"\r")
    crlfs = raw.count(b"\r\n") if crs else 0  # each CRLF holds one CR: the others are bare
    if crs != crlfs:
        warnings.append(Warning(None, "bare CR line ends read as line breaks"))
    elif _FOLD.search(raw) is None:
        # Without bare CRs every line break ends in LF, so nothing is folded: the lines
        # are the physical lines, and the stream decodes as a whole if each line does.
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            pass  # the general reader finds the line and reads Latin-1
        else:
            if not crs:
                physical = text.split("\n")
            elif raw.count(b"\n") == crlfs:
                physical = text.split("\r\n")
            else:
                physical = text.replace("\r\n", "\n").split("\n")
            return [(n, line) for n, line in enumerate(physical, 1) if line.strip(_BLANK)]
    return _unfolded(raw, format=format, warnings=warnings)


_FOLD = re.compile(rb"\n[ \t]")
_BLANK = " \t\n\r\x0b\x0c"  # what bytes.strip() removes: a line of only these is blank


def _unfolded(raw: bytes, *, format: str, warnings: list[Warning]) -> list[tuple[int, str]]:
    """:func:`numbered_lines` of any stream: folded lines, bare CRs, Latin-1."""
    physical = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    numbers: list[int] = []
    logical: list[list[bytes]] = []
    parts: list[bytes] | None = None  # the current line's pieces; None after a blank line
    for number, line in enumerate(physical, 1):
        if parts is not None and line[:1] in (b" ", b"\t"):
            parts.append(line[1:])
        elif line.strip():
            parts = [line]
            numbers.append(number)
            logical.append(parts)
        else:
            parts = None  # a blank line ends a fold and is skipped
    if not logical:
        return []
    joined = [pieces[0] if len(pieces) == 1 else b"".join(pieces) for pieces in logical]
    # No logical line holds a line break, so the stream decodes as a whole exactly when
    # each line does, and to the same text.
    try:
        texts = b"\n".join(joined).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        bad = next(n for n, line in zip(numbers, joined, strict=True) if not _is_utf8(line))
        warnings.append(Warning(bad, f"{format} is not UTF-8; read as Latin-1", code=LATIN_1))
        texts = b"\n".join(joined).decode("latin-1").split("\n")
    return list(zip(numbers, texts, strict=True))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_line(line: Line, *, format: str) -> RawProperty:
    """Split a logical line into group, name, parameters and the raw value.

    Parameter values keep their quotes, and the value is not unescaped, so
    :func:`format_line` gives back the same text. A vCard 2.1 bare parameter
    (``TEL;HOME:``) is kept as ``("", "HOME")``.

    :raises ParseError: no colon, or an empty or invalid name.
    """
    return parse_text(line.number, line.text, format=format)


# The head (group, name, parameters) of a line without quotes, which is most lines: no
# quoted parameter value can hide a ``;`` or ``:``, so the first colon ends the head.
_PLAIN_HEAD = re.compile(r'(?:([A-Za-z0-9-]+)\.)?([A-Za-z0-9-]+)((?:;[^;:="]+(?:=[^;:"]*)?)*)')
_Head = tuple[str, tuple[tuple[str, str], ...], str | None]  # name, parameters, group
# What was read, by head and by line. The caches are bounded: short keys only, and each
# is emptied when full (a stream's heads are soon read again).
_heads: dict[str, _Head] = {}
_HEADS_KEPT = 4096
_HEAD_CACHED = 200
_lines: dict[str, RawProperty] = {}  # a RawProperty is immutable: lines can share one
_LINES_KEPT = 2048
_LINE_CACHED = 100


def parse_text(number: int, text: str, *, format: str) -> RawProperty:
    """:func:`parse_line` of the line ``text`` numbered ``number``, without a :class:`Line`.

    Streams repeat lines and heads (name and parameters) line after line, so both are
    remembered. A new head without quotes is read with one regular expression; any other
    line (quoted parameter values, or not a content line) goes through the full reader,
    :func:`_parse_full`, whose head is remembered too. A test checks that the result is
    always the full reader's.
    """
    prop = _lines.get(text)
    if prop is not None:
        return prop
    colon = text.find(":")
    if colon < 0:
        return _parse_full(number, text, format=format)
    # A known head is followed by the first colon: the full reader stops at that colon
    # after the same characters, and a plain head holds no quote that could hide one.
    head = text[:colon]
    known = _heads.get(head)
    if known is None:
        match = None if '"' in head else _PLAIN_HEAD.fullmatch(head)
        if match is None:  # quotes, or an error to report
            prop = _parse_full(number, text, format=format)
            _remember(text[: len(text) - len(prop.value) - 1], prop.name, prop.params, prop.group)
            return prop
        group, name, params = match.groups()
        known = _remember(head, name, _plain_params(params) if params else (), group)
    # RawProperty(name, value, params, group) without attrs' __init__, whose converter
    # would copy params (the slowest part of a line): they are a tuple of str pairs here.
    prop = _new(RawProperty)
    _set_name(prop, known[0])
    _set_value(prop, text[colon + 1 :])
    _set_params(prop, known[1])
    _set_group(prop, known[2])
    if len(text) <= _LINE_CACHED:
        if len(_lines) >= _LINES_KEPT:
            _lines.clear()
        _lines[text] = prop
    return prop


def _remember(
    head: str, name: str, params: tuple[tuple[str, str], ...], group: str | None
) -> _Head:
    """Remember what a head (all of a line before the colon that ends it) holds."""
    known = (name, params, group)
    if len(head) <= _HEAD_CACHED:
        if len(_heads) >= _HEADS_KEPT:
            _heads.clear()
        _heads[head] = known
    return known


def _plain_params(params: str) -> tuple[tuple[str, str], ...]:
    """``;A=1;B;C=x=y`` as ``(("A", "1"), ("", "B"), ("C", "x=y"))``; without quotes a
    ``;`` always separates parameters."""
    pairs: list[tuple[str, str]] = []
    for param in params[1:].split(";"):
        key, equals, value = param.partition("=")
        pairs.append((key, value) if equals else ("", key))
    return tuple(pairs)


_new = object.__new__
# The slots of the frozen RawProperty, set directly (a test checks the result equals
# the constructed property).
_set_name, _set_value, _set_params, _set_group = (
    RawProperty.__dict__[field].__set__ for field in ("name", "value", "params", "group")
)
_set_component_name, _set_properties, _set_components = (
    RawComponent.__dict__[field].__set__ for field in ("name", "properties", "components")
)


def _parse_full(number: int, text: str, *, format: str) -> RawProperty:
    """The character-by-character reader behind :func:`parse_text`: quoted parameter
    values, and the errors."""
    i, length = 0, len(text)
    while i < length and text[i] not in ";:":
        i += 1
    head = text[:i]
    group, _, name = head.rpartition(".")
    if not _NAME.fullmatch(name) or (group and not _NAME.fullmatch(group)):
        raise ParseError(f"not a content line: {text[:60]!r}", format=format, line=number)
    params: list[tuple[str, str]] = []
    while i < length and text[i] == ";":
        j = i + 1
        while j < length and text[j] not in "=;:":
            j += 1
        pname = text[i + 1 : j]
        if not pname:
            raise ParseError(f"{name}: a parameter without a name", format=format, line=number)
        if j < length and text[j] == "=":
            j += 1
            value_start = j
            quoted = False
            while j < length and (quoted or text[j] not in ";:"):
                if text[j] == '"':
                    quoted = not quoted
                j += 1
            params.append((pname, text[value_start:j]))
        else:  # a vCard 2.1 bare parameter (TEL;HOME;VOICE:) is kept with an empty name
            params.append(("", pname))
        i = j
    if i >= length or text[i] != ":":
        raise ParseError(f"{name}: no ':' before the value", format=format, line=number)
    return RawProperty(name=name, value=text[i + 1 :], params=tuple(params), group=group or None)


_R = TypeVar("_R")
Params = tuple[tuple[str, str], ...]


def by_params(read: Callable[[Params], _R]) -> Callable[[Params], _R]:
    """``read`` (a pure function of a property's parameters, with an immutable result)
    remembered for short parameter lists, which streams repeat line after line
    (``TYPE=INTERNET,WORK``, ``CN=...;PARTSTAT=ACCEPTED``)."""
    known: dict[Params, _R] = {}

    def remembered(params: Params) -> _R:
        if params in known:
            return known[params]
        result = read(params)
        if sum(len(name) + len(value) for name, value in params) <= _HEAD_CACHED:
            if len(known) >= _HEADS_KEPT:
                known.clear()
            known[params] = result
        return result

    return remembered


def format_line(prop: RawProperty) -> str:
    """The unfolded text of a property, exactly as :func:`parse_line` read it."""
    head = f"{prop.group}.{prop.name}" if prop.group else prop.name
    params = "".join(f";{k}={v}" if k else f";{v}" for k, v in prop.params)
    return f"{head}{params}:{prop.value}"


def fold(text: str) -> bytes:
    """Encode a logical line as UTF-8 and fold it at :data:`FOLD_OCTETS` octets, never
    inside a multi-byte character; each continuation starts with one space."""
    encoded = text.encode("utf-8")
    if len(encoded) <= FOLD_OCTETS:
        return encoded
    pieces: list[bytes] = []
    start, limit = 0, FOLD_OCTETS
    while len(encoded) - start > limit:
        end = start + limit
        while end > start and (encoded[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        pieces.append(encoded[start:end])
        start, limit = end, FOLD_OCTETS - 1  # the leading space counts
    pieces.append(encoded[start:])
    return b"\r\n ".join(pieces)


LineNumbers = dict[int, tuple[int, tuple[int, ...]]]
"""For each component of a tree (keyed by ``id()``): the line of its ``BEGIN`` and the
lines of its properties, in order."""


def build_tree(
    lines: Iterable[tuple[Line, RawProperty]],
    *,
    format: str,
    warnings: list[Warning],
) -> tuple[list[RawComponent], LineNumbers]:
    """Build the component tree of ``BEGIN``/``END`` blocks from parsed lines, and say on
    which line each component and property stood.

    ``BEGIN`` and ``END`` count only without parameters. An unclosed component at the end
    is closed with a warning. Returns the top-level components and their line numbers.

    :raises ParseError: an ``END`` without its ``BEGIN``, or a property outside every
        component.
    """
    numbered = ((line.number, prop) for line, prop in lines)
    return build_numbered_tree(numbered, format=format, warnings=warnings)


def build_numbered_tree(
    lines: Iterable[tuple[int, RawProperty]],
    *,
    format: str,
    warnings: list[Warning],
) -> tuple[list[RawComponent], LineNumbers]:
    """:func:`build_tree` of ``(line number, property)`` pairs."""
    numbers: LineNumbers = {}
    stack: list[tuple[str, int, list[RawProperty], list[int], list[RawComponent]]] = []
    top: list[RawComponent] = []

    def close() -> None:
        name, begin, properties, lines_of, children = stack.pop()
        # RawComponent(name, properties, children) without attrs' __init__ (whose
        # converters would make the same tuples); a test checks they are equal
        component = _new(RawComponent)
        _set_component_name(component, name)
        _set_properties(component, tuple(properties))
        _set_components(component, tuple(children))
        numbers[id(component)] = (begin, tuple(lines_of))
        (stack[-1][4] if stack else top).append(component)

    for number, prop in lines:
        upper = prop.name.upper()
        if upper == "BEGIN" and not prop.params:
            stack.append((prop.value.strip(), number, [], [], []))
        elif upper == "END" and not prop.params:
            name = prop.value.strip()
            if not stack or stack[-1][0].upper() != name.upper():
                expected = f"END:{stack[-1][0]}" if stack else "nothing"
                raise ParseError(
                    f"END:{name} where {expected} was expected", format=format, line=number
                )
            close()
        elif not stack:
            raise ParseError(f"{prop.name} outside of any component", format=format, line=number)
        else:
            stack[-1][2].append(prop)
            stack[-1][3].append(number)
    while stack:
        name, number = stack[-1][0], stack[-1][1]
        warnings.append(Warning(number, f"BEGIN:{name} is never closed; closed at the end"))
        close()
    return top, numbers


def parse_components(
    lines: Iterable[Line],
    *,
    format: str,
    warnings: list[Warning],
) -> list[RawComponent]:
    """The component tree of unfolded ``lines`` (see :func:`build_tree`)."""
    parsed = ((line.number, parse_text(line.number, line.text, format=format)) for line in lines)
    return build_numbered_tree(parsed, format=format, warnings=warnings)[0]


def serialize_component(component: RawComponent) -> Iterator[bytes]:
    """The folded lines of a component tree: ``BEGIN``, properties, sub-components, ``END``."""
    yield fold(f"BEGIN:{component.name}")
    for prop in component.properties:
        yield fold(format_line(prop))
    for child in component.components:
        yield from serialize_component(child)
    yield fold(f"END:{component.name}")


_ESCAPES = {"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"}
_ESCAPE_ALL = str.maketrans(_ESCAPES)
_ESCAPE_NO_COMMA = str.maketrans({k: v for k, v in _ESCAPES.items() if k != ","})


def escape_text(text: str, *, comma: bool = True) -> str:
    """Escape a TEXT value (backslash, semicolon, comma, newline) per RFC 5545 / 6350.

    ``comma=False`` leaves commas alone, for values where a comma is not special.
    """
    text = text.replace("\r\n", "\n")
    return text.translate(_ESCAPE_ALL if comma else _ESCAPE_NO_COMMA)


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _unescaped(match: re.Match[str]) -> str:
    char = match.group(1)
    return "\n" if char in "nN" else char


def unescape_text(value: str) -> str:
    """Undo :func:`escape_text`; ``\\N`` reads as a newline, an unknown escape as itself."""
    if "\\" not in value:
        return value
    # Left to right, a backslash takes the character after it (a last one stays).
    return _ESCAPED.sub(_unescaped, value)


def split_text(value: str, separator: str) -> list[str]:
    """Split an escaped list or structured value at unescaped ``separator`` (``,`` or ``;``),
    unescaping each part."""
    if "\\" not in value and separator:  # no escapes: every separator splits as it is
        return value.split(separator)
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            current.append(value[i : i + 2])
            i += 2
            continue
        if char == separator:
            parts.append(unescape_text("".join(current)))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append(unescape_text("".join(current)))
    return parts
