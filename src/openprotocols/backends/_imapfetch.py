"""A fast reader of FETCH responses, with imapclient's parser as the reference.

imapclient's ``parse_fetch_response`` lexes every byte of a FETCH line outside literals
one character at a time through generators; on a first sync that is mostly the
BODYSTRUCTUREs, and it was a third of a first sync's time under cProfile. :func:`parse_fetch` reads
the same input (what imaplib leaves in ``untagged_responses["FETCH"]``) with one regular
expression per line and a loop over its tokens, and returns what
``parse_fetch_response(data, normalise_times=False, uid_is_key=False)`` returns: the same
keys, values and types (``defaultdict``, ``BodyData``, datetimes with imapclient's
``FixedOffset``, ``b"SEQ"``...). It is exact by construction, not by resemblance:

Tokens
    The expression :data:`_TOKEN` is imapclient's lexer (``response_lexer``) written as
    one pattern: atoms of its word characters with ``[...]`` sections, quoted strings
    with its escape rule (``\\\\`` and ``\\"`` resolved, any other backslash kept),
    parentheses, blanks (space, tab, CR, LF) between. Whatever else the lexer would make
    a token of (``%``, control characters) or refuse (an unclosed quote or bracket, a
    quote right after an atom) ends the line's match: the parser declines.
Atoms
    Converted as imapclient's ``atom()`` does: ``NIL`` is ``None``, digits without a
    leading zero an ``int``, quoted strings and other atoms ``bytes``.
Literals
    Only where imaplib puts them (the last token of a ``(line, literal)`` pair), of the
    announced size, as an item's value or inside a list: Dovecot and pymap send 8-bit
    BODYSTRUCTURE parameters (file names) as literals, and declining those would send
    whole batches to imapclient.
Items
    ``UID``, ``INTERNALDATE``, ``BODY`` and ``BODYSTRUCTURE`` as imapclient converts
    them: BODYSTRUCTURE through imapclient's own ``BodyData.create``, a non-canonical
    INTERNALDATE through its ``parse_to_datetime``; every other item as its value.

For anything else (an ``ENVELOPE``, a literal as a sequence number or an item's name, a
UID that is not a plain number, nesting deeper than :data:`_MAX_DEPTH`, a response
imapclient would refuse) it returns ``None`` and the caller parses the whole response set
with imapclient, as ``mime`` leaves unusual headers to ``email``. Declining costs one
wasted pass; answering differently would be a silent bug, so the tests compare both
parsers on generated and real responses. Time and memory are linear (possessive
patterns, a loop with an explicit stack). On Dovecot's responses for a first sync it is
3 to 4 times faster than imapclient, 6 times under cProfile
(``benchmarks/imap_fetch_parse.py``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

from imapclient.datetime_util import parse_to_datetime
from imapclient.fixed_offset import FixedOffset
from imapclient.response_types import BodyData

__all__ = ["parse_fetch"]

Parsed: TypeAlias = defaultdict[int, dict[bytes, Any]]

_TOKEN = re.compile(
    rb"""
    (?:
        (
            [()]
          | "[^"\\]*+(?:\\.[^"\\]*+)*+"                    # a quoted string
          | (?:[^\x00-\x20()%"\[]++|\[[^\]]*+\])++(?!")   # an atom, maybe with [...]
        )
      | [\s\S]++  # anything else: the rest of the line, read as an empty token
    )
    [ \t\r\n]*+
    """,
    re.VERBOSE | re.DOTALL,
)
_BLANKS = re.compile(rb"[ \t\r\n]*+")
_ESCAPED = re.compile(rb'\\([\\"])')
_LITERAL = re.compile(rb"\{([0-9]+)\}")
_MONTHS = b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_INTERNALDATE = re.compile(
    rb"( [1-9]|[0-3][0-9])-(" + b"|".join(_MONTHS) + rb")-([1-9][0-9]{3})"
    rb" ([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]) ([+-])([01][0-9]|2[0-3])([0-5][0-9])"
)
_MONTH_NUMBERS = {name: number for number, name in enumerate(_MONTHS, 1)}
_ZONES: dict[int, FixedOffset] = {}  # at most 2 * 24 * 60 offsets: the pattern bounds them
_MAX_DEPTH = 64
"""Deeper lists are left to imapclient, whose recursive parser may hit the recursion
limit on them (and so must be the one to answer)."""

_OPEN, _CLOSE, _QUOTE, _BRACE, _ZERO, _BACKSLASH = (ord(char) for char in '()"{0\\')


class _Unsure(Exception):
    """The response is outside what :func:`parse_fetch` reads with certainty."""


def parse_fetch(data: Sequence[Any]) -> Parsed | None:
    """FETCH responses as ``parse_fetch_response(data, normalise_times=False,
    uid_is_key=False)`` reads them, or ``None`` when not certain to read them the same.

    ``data`` is imaplib's list of untagged FETCH data: ``bytes`` lines and
    ``(line up to and including {n}, literal)`` pairs.
    """
    try:
        return _messages(_lists(data))
    except (_Unsure, ValueError):  # ValueError: int() of more digits than Python allows
        return None


def _lists(data: Sequence[Any]) -> list[Any]:
    """The top-level atoms of all the lines: sequence numbers and item lists."""
    top: list[Any] = []
    stack: list[list[Any]] = []  # the lists being read, outermost first
    current = top
    for chunk in data:
        line, literal = _line(chunk)
        blanks = _BLANKS.match(line)  # always matches, maybe nothing
        tokens = _TOKEN.findall(line, blanks.end() if blanks else 0)
        if b"" in tokens:
            raise _Unsure
        marker = tokens.pop() if literal is not None and tokens else None
        current = _read(tokens, current, stack)
        if literal is not None:
            _take_literal(line, marker, literal, current, len(stack))
    if stack:
        raise _Unsure
    return top


def _line(chunk: object) -> tuple[bytes, bytes | None]:
    """One item of imaplib's list as the line and the literal after it, if any."""
    if type(chunk) is bytes:
        return chunk, None
    if type(chunk) is tuple and len(chunk) == 2:
        line, literal = chunk
        if type(line) is bytes and type(literal) is bytes:
            return line, literal
    raise _Unsure


def _read(tokens: list[bytes], current: list[Any], stack: list[list[Any]]) -> list[Any]:
    """Add the atoms and lists of ``tokens`` to ``current``, opening and closing lists
    on ``stack``; the list being read at the end."""
    append = current.append  # rebound with current: this loop runs once per token
    for token in tokens:
        first = token[0]
        if first == _QUOTE:
            text = token[1:-1]
            append(_ESCAPED.sub(rb"\1", text) if _BACKSLASH in text else text)
        elif first == _OPEN:
            if len(stack) == _MAX_DEPTH:
                raise _Unsure
            stack.append(current)
            current = []
            append = current.append
        elif first == _CLOSE:
            if not stack:
                raise _Unsure  # imapclient would read a stray ")" as an atom
            done = tuple(current)
            current = stack.pop()
            append = current.append
            append(done)
        elif token == b"NIL":
            append(None)
        elif first == _BRACE:  # imapclient reads any such atom as a literal
            raise _Unsure
        elif token.isdigit() and (first != _ZERO or len(token) == 1):
            append(int(token))
        else:
            append(token)
    return current


def _take_literal(
    line: bytes, marker: bytes | None, literal: bytes, current: list[Any], depth: int
) -> None:
    """Append ``literal`` to the list being read if the line ends with its ``{n}``
    marker, inside a list (``depth`` above 0) and, in a message's list of items, as the
    value of the item just named; raise :class:`_Unsure` otherwise."""
    match = _LITERAL.fullmatch(marker) if marker is not None else None
    if (
        match is None
        or not line.endswith(b"}")
        or int(match[1]) != len(literal)
        or depth == 0
        or (depth == 1 and len(current) % 2 == 0)
    ):
        raise _Unsure
    current.append(literal)


def _messages(top: list[Any]) -> Parsed:
    """Each ``seq (name value ...)`` pair as imapclient's dictionary."""
    if len(top) % 2:
        raise _Unsure
    parsed: Parsed = defaultdict(dict)
    for index in range(0, len(top), 2):
        seq, items = top[index], top[index + 1]
        if type(seq) is not int or type(items) is not tuple or len(items) % 2:
            raise _Unsure
        values: dict[bytes, Any] = {b"SEQ": seq}
        for at in range(0, len(items), 2):
            name, value = items[at], items[at + 1]
            if type(name) is not bytes:
                raise _Unsure
            name = name.upper()
            if name == b"UID":
                if type(value) is not int:
                    raise _Unsure
            elif name == b"INTERNALDATE":
                value = _internaldate(value)
            elif name in (b"BODY", b"BODYSTRUCTURE"):
                value = _body(value)
            elif name == b"ENVELOPE":
                raise _Unsure
            values[name] = value
        parsed[seq].update(values)
    return parsed


def _internaldate(value: Any) -> datetime | None:
    """An INTERNALDATE as imapclient converts it (``normalise_times=False``)."""
    if value is None:
        return None
    if type(value) is not bytes:
        raise _Unsure
    match = _INTERNALDATE.fullmatch(value)
    # -0000 ("no zone information") is left to email.utils.parsedate_tz's own rule.
    if match is not None and not (match[7] == b"-" and match[8] == match[9] == b"00"):
        day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
        offset = int(zone_hours) * 3600 + int(zone_minutes) * 60
        try:
            return datetime(
                int(year),
                _MONTH_NUMBERS[month],
                int(day),
                int(hour),
                int(minute),
                int(second),
                tzinfo=_zone(offset if sign == b"+" else -offset),
            )
        except ValueError:  # the 31st of April: imapclient's own reading, below, says
            pass
    try:
        parsed: datetime = parse_to_datetime(value, normalise=False)
    except ValueError:  # what imapclient's _convert_INTERNALDATE does
        return None
    except Exception as exc:  # it raises on this: so must parse_fetch_response
        raise _Unsure from exc
    return parsed


def _zone(seconds: int) -> FixedOffset:
    """imapclient's time zone for an offset: one shared instance per offset (it is
    immutable, and making one costs more than the rest of the date)."""
    zone = _ZONES.get(seconds)
    if zone is None:
        zone = _ZONES[seconds] = FixedOffset(seconds / 60)  # as parse_to_datetime does
    return zone


def _body(value: Any) -> BodyData:
    """A BODY or BODYSTRUCTURE as imapclient converts it."""
    if type(value) is not tuple or not value:
        raise _Unsure
    try:
        return BodyData.create(value)
    except Exception as exc:  # imapclient raises on this one: let it
        raise _Unsure from exc
