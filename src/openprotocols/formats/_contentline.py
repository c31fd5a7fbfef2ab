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
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import attrs

from openprotocols.errors import ParseError
from openprotocols.model._base import RawComponent, RawProperty

__all__ = [
    "FOLD_OCTETS",
    "LATIN_1",
    "Line",
    "LineNumbers",
    "Warning",
    "build_tree",
    "escape_text",
    "fold",
    "format_line",
    "parse_components",
    "parse_line",
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
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{format} data must be bytes, not {type(data).__name__}")
    raw = bytes(data).removeprefix(b"\xef\xbb\xbf")
    if b"\r" in raw.replace(b"\r\n", b""):
        warnings.append(Warning(None, "bare CR line ends read as line breaks"))
    physical = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    logical: list[tuple[int, list[bytes]]] = []
    for number, line in enumerate(physical, 1):
        if line[:1] in (b" ", b"\t") and logical and logical[-1][1]:
            logical[-1][1].append(line[1:])
        elif line.strip():
            logical.append((number, [line]))
        else:
            logical.append((number, []))  # a blank line ends a fold and is skipped
    joined = [(number, b"".join(parts)) for number, parts in logical if parts]
    try:
        texts = [line.decode("utf-8") for _, line in joined]
    except UnicodeDecodeError:
        bad = next(n for n, line in joined if not _is_utf8(line))
        warnings.append(Warning(bad, f"{format} is not UTF-8; read as Latin-1", code=LATIN_1))
        texts = [line.decode("latin-1") for _, line in joined]
    for (number, _), text in zip(joined, texts, strict=True):
        yield Line(number, text)


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
    text = line.text
    i, length = 0, len(text)
    while i < length and text[i] not in ";:":
        i += 1
    head = text[:i]
    group, _, name = head.rpartition(".")
    if not _NAME.fullmatch(name) or (group and not _NAME.fullmatch(group)):
        raise ParseError(f"not a content line: {text[:60]!r}", format=format, line=line.number)
    params: list[tuple[str, str]] = []
    while i < length and text[i] == ";":
        j = i + 1
        while j < length and text[j] not in "=;:":
            j += 1
        pname = text[i + 1 : j]
        if not pname:
            raise ParseError(f"{name}: a parameter without a name", format=format, line=line.number)
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
        raise ParseError(f"{name}: no ':' before the value", format=format, line=line.number)
    return RawProperty(name=name, value=text[i + 1 :], params=tuple(params), group=group or None)


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
    numbers: LineNumbers = {}
    stack: list[tuple[str, int, list[RawProperty], list[int], list[RawComponent]]] = []
    top: list[RawComponent] = []

    def close() -> None:
        name, begin, properties, lines_of, children = stack.pop()
        component = RawComponent(name=name, properties=properties, components=children)
        numbers[id(component)] = (begin, tuple(lines_of))
        (stack[-1][4] if stack else top).append(component)

    for line, prop in lines:
        upper = prop.name.upper()
        if upper == "BEGIN" and not prop.params:
            stack.append((prop.value.strip(), line.number, [], [], []))
        elif upper == "END" and not prop.params:
            name = prop.value.strip()
            if not stack or stack[-1][0].upper() != name.upper():
                expected = f"END:{stack[-1][0]}" if stack else "nothing"
                raise ParseError(
                    f"END:{name} where {expected} was expected", format=format, line=line.number
                )
            close()
        elif not stack:
            raise ParseError(
                f"{prop.name} outside of any component", format=format, line=line.number
            )
        else:
            stack[-1][2].append(prop)
            stack[-1][3].append(line.number)
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
    parsed = ((line, parse_line(line, format=format)) for line in lines)
    return build_tree(parsed, format=format, warnings=warnings)[0]


def serialize_component(component: RawComponent) -> Iterator[bytes]:
    """The folded lines of a component tree: ``BEGIN``, properties, sub-components, ``END``."""
    yield fold(f"BEGIN:{component.name}")
    for prop in component.properties:
        yield fold(format_line(prop))
    for child in component.components:
        yield from serialize_component(child)
    yield fold(f"END:{component.name}")


_ESCAPES = {"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"}


def escape_text(text: str, *, comma: bool = True) -> str:
    """Escape a TEXT value (backslash, semicolon, comma, newline) per RFC 5545 / 6350.

    ``comma=False`` leaves commas alone, for values where a comma is not special.
    """
    text = text.replace("\r\n", "\n")
    return "".join(_ESCAPES.get(c, c) if comma or c != "," else c for c in text)


def unescape_text(value: str) -> str:
    """Undo :func:`escape_text`; ``\\N`` reads as a newline, an unknown escape as itself."""
    out: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def split_text(value: str, separator: str) -> list[str]:
    """Split an escaped list or structured value at unescaped ``separator`` (``,`` or ``;``),
    unescaping each part."""
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
