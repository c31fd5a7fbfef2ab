"""The fast FETCH reader (``_imapfetch.parse_fetch``) against imapclient's parser, its
reference.

For every input the fast reader either declines (``None``) or returns exactly what
``parse_fetch_response(data, normalise_times=False, uid_is_key=False)`` returns: the same
keys in the same order, the same values, the same types at every level (``defaultdict``,
``BodyData``, ``bytes``, ``int``, ``None``, datetimes with imapclient's zone type, offset
and name; see :func:`shape`). Where imapclient raises, the fast reader must decline.

Generated responses are written as a server sends them and read by imaplib's own reader
(:class:`Replay`), so they reach both parsers split into lines and literals as on a
connection. Clean ones (what servers send, in every form the grammar allows) must take
the fast path; mutated ones and byte soup must read the same or decline. Real responses
come from Dovecot and pymap, for the item lists the backend fetches.
"""

from __future__ import annotations

import imaplib
import io
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from imapclient.fixed_offset import FixedOffset
from imapclient.response_parser import parse_fetch_response

from openprotocols.backends import _imap, _imapfetch
from openprotocols.backends._imapfetch import parse_fetch
from openprotocols.backends.imap import _HEADER_ITEMS, _WHOLE_ITEMS, IMAPBackend
from openprotocols.network import Network
from openprotocols.testing.servers import DovecotServer, PymapServer

from .conftest import dovecot_account, unique

CORPUS = sorted((Path(__file__).parents[2] / "formats" / "corpus" / "mime").glob("*.eml"))
# Each example is a whole response set parsed twice (imapclient is slow): an eightieth
# of the codecs' inputs (250 in CI), at least 100.
EXAMPLES = max(100, int(os.environ.get("OPENPROTOCOLS_FUZZ_EXAMPLES", "500")) // 80)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEWER = settings(FUZZ, max_examples=max(50, EXAMPLES // 4))


# --------------------------------------------------------------------------- comparing


def shape(value: Any) -> Any:
    """``value`` with its type at every level: equal shapes mean the same answer. A
    datetime's zone counts by type, offset and name; a dictionary's order counts."""
    if isinstance(value, dict):
        items = [(shape(key), shape(item)) for key, item in value.items()]
        return type(value), getattr(value, "default_factory", None), items
    if isinstance(value, tuple | list):
        return type(value), [shape(item) for item in value]
    if isinstance(value, datetime):
        # Asked of the zone itself: datetime checks the offset (imapclient makes "+2400").
        zone = value.tzinfo
        stated = (zone.utcoffset(None), zone.tzname(None)) if zone else None
        return datetime, value.replace(tzinfo=None), type(zone), stated
    return type(value), value


def reference(data: list[Any]) -> Any:
    """imapclient's reading, as the adapter asks for it."""
    return parse_fetch_response(data, normalise_times=False, uid_is_key=False)


def assert_same(data: list[Any], *, fast: bool = False) -> None:
    """The fast reader gives imapclient's answer, or declines (only allowed unless
    ``fast``); where imapclient raises, it declines."""
    found = parse_fetch(data)
    try:
        expected = reference(data)
    except Exception:  # whatever imapclient raises, the fast reader must not answer
        assert found is None, data
        return
    if found is None:
        assert not fast, f"declined: {data!r}"
        return
    assert shape(found) == shape(expected), data


class Replay(imaplib.IMAP4):
    """imaplib's response reader over bytes in memory, so that generated responses are
    split into lines and ``(line, literal)`` pairs exactly as on a connection. Nothing
    is connected and no command is sent: it only reads."""

    def __init__(self, wire: bytes) -> None:  # not IMAP4's: that one connects
        self.debug = 0
        self.untagged_responses: dict[str, list[Any]] = {}
        self.tagged_commands: dict[bytes, Any] = {}
        self._mode_ascii()
        self.tagre = re.compile(rb"(?P<tag>T\d+) (?P<type>[A-Z]+) (?P<data>.*)", re.ASCII)
        self.file = io.BytesIO(wire)
        self._size = len(wire)

    def _log(self, line: str) -> None:
        pass

    def fetch_data(self) -> list[Any]:
        """What imaplib files under ``FETCH`` after reading all the bytes."""
        while self.file.tell() < self._size:
            self._get_response()
        return self.untagged_responses.get("FETCH", [])


def replayed(wire: bytes) -> list[Any]:
    """The FETCH data imaplib makes of ``wire``."""
    return Replay(wire).fetch_data()


# --------------------------------------------------------------------------- values


def quoted(text: bytes) -> bytes:
    """``text`` as an IMAP quoted string."""
    return b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data: bytes) -> bytes:
    """``data`` as an IMAP literal (what follows it goes on the next line)."""
    return b"{%d}\r\n" % len(data) + data


TEXT_PIECES = [b"a", b"Z", b"7", b" ", b"  ", b"\t", b"(", b")", b"{3}", b"{", b"}", b"%"]
TEXT_PIECES += [b"[", b"]", b"\\", b'"', b"NIL", b"\xc3\xa9", b"\x01", b"*", b"=?utf-8?q?x?="]
text = st.lists(st.sampled_from(TEXT_PIECES), max_size=6).map(b"".join)
# A quoted string whose backslashes escape anything (imapclient keeps "\x" as it is).
ESCAPE_PIECES = [b"a", b" ", b"\\\\", b'\\"', b"\\x", b"\\ ", b"\\(", b"\\\xc3", b"\\N"]
raw_quoted = st.lists(st.sampled_from(ESCAPE_PIECES), max_size=5).map(
    lambda pieces: b'"' + b"".join(pieces) + b'"'
)
COMMON = [b"us-ascii", b"UTF-8", b"7bit", b"base64", b"", b"Ann Lee", b"=?utf-8?q?R=C3=A9?="]
COMMON += [b'a "b" \\ c', b"x (y)", b"{3}", b"NIL", b"12"]
common = st.sampled_from([quoted(value) for value in COMMON])
# Mostly the common strings: a generated one costs a draw per piece.
string = st.one_of(common, common, text.map(quoted), raw_quoted)
number = st.one_of(
    st.integers(0, 2**32), st.integers(2**32, 2**70), st.sampled_from([0, 1, 10])
).map(lambda n: b"%d" % n)
LITERAL_PIECES = [b"a", b")", b"(", b"{", b"}", b"{5}", b"\r\n", b"\r", b"\n", b'"', b"\\", b"\x00"]
literal_data = st.one_of(
    st.binary(max_size=40), st.lists(st.sampled_from(LITERAL_PIECES), max_size=12).map(b"".join)
)
# Servers send a string with 8-bit or CR/LF in it as a literal, in a BODYSTRUCTURE too.
nstring = st.one_of(st.just(b"NIL"), string, literal_data.map(literal))
FLAGS = [b"\\Seen", b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Draft", b"\\Recent", b"\\*"]
FLAGS += [b"$Forwarded", b"$MDNSent", b"$Junk", b"NonJunk", b"$label1", b"Work.Items"]
keyword = st.text("abcXYZ019$_-.&'+/=?^`|~!#]", min_size=1, max_size=8).map(str.encode)
flag_list = st.lists(st.sampled_from(FLAGS) | keyword, max_size=6).map(
    lambda flags: b"(" + b" ".join(flags) + b")"
)
MONTHS = [datetime(2000, month, 1).strftime("%b") for month in range(1, 13)]
ODD_DATES = [
    b"17-Jul-1996 02:44:25 -0000",
    b"17-jul-1996 02:44:25 -0700",
    b"7-Jul-1996 02:44:25 -0700",
    b"17-Jul-96 02:44:25 -0700",
    b"17-Jul-0096 02:44:25 -0700",
    b"00-Jan-2020 00:00:00 +0000",
    b"31-Apr-2020 00:00:00 +0000",
    b"29-Feb-2023 00:00:00 +0000",
    b"29-Feb-2024 00:00:00 +0000",
    b"17-Jul-1996 24:00:00 +0000",
    b"17-Jul-1996 23:59:60 +0000",
    b"17-Jul-1996 02:44:25 +2400",
    b"17-Jul-1996 02:44:25 +0060",
    b"17-Jul-1996 02:44:25",
    b"17-Jul-1996 02:44 +0100",
    b"17-Jul-1996 02.44.25 +0100",
    b"Wed, 17 Jul 1996 02:44:25 -0700",
    b"Wed, 17 Jul 1996 02.44.25 -0700",
    b"17-Jul-1996 02:44:25 EST",
    b"17-Jul-9999 23:59:59 -2359",
    b"01-Jan-1000 00:00:00 +0000",
    b"17-Jul-99999999999999999999 02:44:25 +0000",
    b" 17-Jul-1996 02:44:25 +0000 ",
    b"",
    b"yesterday",
]


@st.composite
def internaldate(draw: st.DrawFn) -> bytes:
    """An INTERNALDATE: mostly as servers write it (either day form, any zone), or odd."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from([b"NIL"] + [quoted(odd) for odd in ODD_DATES]))
    when = draw(st.datetimes(datetime(1000, 1, 1), datetime(9999, 12, 31, 23, 59, 59)))
    minutes = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    day = f"{when.day:2d}" if draw(st.booleans()) else f"{when.day:02d}"
    sign = "-" if minutes < 0 else "+"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    stamp = f"{day}-{MONTHS[when.month - 1]}-{when.year} {when:%H:%M:%S} {zone}"
    return quoted(stamp.encode())


# --------------------------------------------------------------------------- BODYSTRUCTURE


def parenthesised(items: list[bytes]) -> bytes:
    return b"(" + b" ".join(items) + b")"


params = st.one_of(
    st.just(b"NIL"),
    st.lists(st.tuples(string, nstring), min_size=1, max_size=3).map(
        lambda pairs: parenthesised([b"%s %s" % pair for pair in pairs])
    ),
)
extension = st.recursive(
    nstring | number,
    lambda inner: st.lists(inner, min_size=1, max_size=3).map(parenthesised),
    max_leaves=6,
)
disposition = st.one_of(
    st.just(b"NIL"),
    st.tuples(st.sampled_from([b'"attachment"', b'"inline"', b'"INLINE"']), params).map(
        lambda pair: parenthesised(list(pair))
    ),
)
language = st.one_of(nstring, st.lists(string, min_size=1, max_size=2).map(parenthesised))


@st.composite
def extensions(draw: st.DrawFn, first: st.SearchStrategy[bytes]) -> list[bytes]:
    """Optional extension data: ``first`` (MD5 or parameters), disposition, language,
    location, then anything (a prefix of them, maybe none)."""
    fields = [first, disposition, language, nstring, extension, extension]
    return [draw(field) for field in fields[: draw(st.integers(0, len(fields)))]]


address = st.tuples(nstring, nstring, nstring, nstring).map(lambda a: parenthesised(list(a)))
addresses = st.one_of(st.just(b"NIL"), st.lists(address, min_size=1, max_size=2).map(b"".join))
envelope = st.tuples(
    nstring, nstring, addresses, addresses, addresses, addresses, addresses, addresses
).flatmap(lambda head: st.tuples(nstring, nstring).map(lambda tail: parenthesised([*head, *tail])))
TYPES = [b'"TEXT"', b'"text"', b'"application"', b'"IMAGE"', b'"message"', b'""']
SUBTYPES = [b'"PLAIN"', b'"html"', b'"pdf"', b'"delivery-status"', b'"octet-stream"', b'""']


@st.composite
def body(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A BODYSTRUCTURE (or BODY): single part (text, basic, message/rfc822 with its
    envelope and body) or multipart, with or without extension data."""
    kinds = ["text", "basic", "message", "multipart"] if depth < 2 else ["text", "basic"]
    kind = draw(st.sampled_from(kinds))
    if kind == "multipart":
        parts = draw(st.lists(body(depth + 1), min_size=1, max_size=3))
        joined = draw(st.sampled_from([b"", b" "])).join(parts)  # RFC 3501: no blank
        subtype = draw(st.sampled_from([b'"MIXED"', b'"alternative"', b'"related"']))
        return parenthesised([joined, subtype, *draw(extensions(params))])
    if kind == "text":
        head = [draw(st.sampled_from(TYPES[:2])), draw(st.sampled_from(SUBTYPES))]
    elif kind == "message":
        head = [b'"MESSAGE"', b'"RFC822"']
    else:
        head = [draw(st.sampled_from(TYPES[2:])), draw(st.sampled_from(SUBTYPES))]
    fields = [*head, draw(params), draw(nstring), draw(nstring), draw(string), draw(number)]
    if kind == "message":
        fields += [draw(envelope), draw(body(depth + 1)), draw(number)]
    elif kind == "text":
        fields.append(draw(number))
    return parenthesised(fields + draw(extensions(nstring)))


# --------------------------------------------------------------------------- responses

SECTIONS = [b"BODY[]", b"BODY[HEADER]", b"BODY[TEXT]", b"BODY[1]", b"BODY[1.2.MIME]"]
SECTIONS += [b"BODY[HEADER.FIELDS (SUBJECT FROM)]", b"BODY[]<0>", b"BODY[]<1024>", b"RFC822"]
SECTIONS += [b"RFC822.HEADER", b"RFC822.TEXT", b"BINARY[1]", b"BINARY[]", b"BODY[2.HEADER]"]


def spelled(name: bytes) -> st.SearchStrategy[bytes]:
    """An item name as servers write it (upper case), or in other cases."""
    return st.sampled_from([name, name, name, name.lower(), name.title()])


def item(name: bytes, value: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.tuples(spelled(name), value).map(b" ".join)


items = st.one_of(
    item(b"UID", number),
    item(b"FLAGS", flag_list),
    item(b"INTERNALDATE", internaldate()),
    item(b"RFC822.SIZE", number),
    item(b"MODSEQ", number.map(lambda n: b"(" + n + b")")),
    item(b"BODYSTRUCTURE", body()),
    item(b"BODY", body()),
    st.tuples(st.sampled_from(SECTIONS), nstring).map(b" ".join),
    item(b"BINARY.SIZE[1]", number),
    item(b"EMAILID", st.just(b"(M6d99ac3275bb4e)")),
    item(b"THREADID", st.just(b"NIL")),
    item(b"X-GM-MSGID", number),
    item(b"PREVIEW", nstring),
)
SEPARATORS = [b" "] * 12 + [b"  ", b"\t", b" \t "]


@st.composite
def response(draw: st.DrawFn) -> bytes:
    """One ``* n FETCH (...)`` response, blanks between items mostly single spaces."""
    parts = draw(st.lists(items, max_size=7))
    separator = st.sampled_from(SEPARATORS)
    joined = b"".join(
        part + (draw(separator) if i < len(parts) - 1 else b"") for i, part in enumerate(parts)
    )
    seq = draw(st.integers(1, 10**6) | st.sampled_from([1, 2]))  # some repeat: merged
    return b"* %d FETCH (%s)\r\n" % (seq, joined)


responses = st.lists(response(), min_size=1, max_size=3).map(b"".join)
MUTATIONS = [b"(", b")", b'"', b"\\", b"{3}", b"{0}\r\n", b"%", b"[", b"]", b" ", b"NIL", b"0"]
MUTATIONS += [b"01", b"\x00", b"\r", b"\xe9", b"ENVELOPE", b"UID", b"{", b"}", b"-1", b"{1}\r\n"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A clean response set with a few insertions, deletions or replacements after the
    first ``* n FETCH`` (a change to that makes it something else than FETCH data)."""
    wire = draw(responses)
    after = wire.index(b"FETCH ") + len(b"FETCH ")
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(after, len(wire)))
        end = start + draw(st.sampled_from([0, 0, 1, 2, 5]))
        wire = wire[:start] + draw(st.sampled_from(MUTATIONS)) + wire[end:]
    return wire


SOUP = [b"1", b"2", b"0", b"01", b" ", b"  ", b"(", b")", b'"a"', b'"', b"\\", b"NIL", b"nil"]
SOUP += [b"UID", b"uid", b"FLAGS", b"BODY", b"BODY[]", b"INTERNALDATE", b"ENVELOPE", b"[", b"]"]
SOUP += [b"{3}", b"{", b"%", b"\t", b"\x00", b"\xff", b'"1-Jan-2020 00:00:00 +0000"', b"MODSEQ"]
soup_line = st.lists(st.sampled_from(SOUP), max_size=14).map(b"".join)
soup_chunk = st.one_of(
    soup_line,
    st.tuples(soup_line, st.sampled_from([b" {3}", b"{3}", b" {03}", b" {2}", b"", b" {3} "]))
    .map(b"".join)
    .flatmap(lambda line: st.tuples(st.just(line), st.sampled_from([b"abc", b"a)", b"", b"{3}"]))),
)


# --------------------------------------------------------------------------- generated


@pytest.mark.timeout(max(120, EXAMPLES // 5))
@FUZZ
@given(responses)
def test_generated_responses_take_the_fast_path_and_read_the_same(wire: bytes) -> None:
    """What a server may send for our items (and the others) is read without imapclient,
    exactly as imapclient reads it."""
    assert_same(replayed(wire), fast=True)


@pytest.mark.timeout(max(120, EXAMPLES // 5))
@FUZZ
@given(mutated())
def test_mutated_responses_read_the_same_or_fall_back(wire: bytes) -> None:
    """A response set with something broken or unusual in it reads the same, or the fast
    reader declines."""
    try:
        data = replayed(wire)
    except imaplib.IMAP4.error:  # imaplib itself refuses it: no FETCH data to parse
        assume(False)
    assert_same(data)


@pytest.mark.timeout(max(120, EXAMPLES // 5))
@FUZZ
@given(st.lists(soup_chunk, max_size=5))
def test_byte_soup_reads_the_same_or_falls_back(data: list[Any]) -> None:
    """Lines and ``(line, literal)`` pairs of the tokens that matter, in any order."""
    assert_same(data)


@pytest.mark.timeout(max(120, EXAMPLES // 5))
@FEWER
@given(responses, st.data())
def test_literals_of_another_size_are_left_to_imapclient(wire: bytes, data: st.DataObject) -> None:
    """A literal a byte longer or shorter than its ``{n}`` (imaplib cuts one short at the
    end of the stream) is declined; imapclient refuses it."""
    chunks = replayed(wire)
    pairs = [index for index, chunk in enumerate(chunks) if isinstance(chunk, tuple)]
    assume(pairs)
    index = data.draw(st.sampled_from(pairs))
    line, value = chunks[index]
    chunks[index] = (
        line,
        data.draw(st.sampled_from([value + b"x", value[:-1]] if value else [b"x"])),
    )
    assert parse_fetch(chunks) is None
    assert_same(chunks)


# --------------------------------------------------------------------------- by hand


@pytest.mark.parametrize(
    "data",
    [
        [b'1 (UID 5 FLAGS (\\Seen $Forwarded) INTERNALDATE " 7-Jul-1996 02:44:25 -0700")'],
        [b'1 (INTERNALDATE "17-Jul-1996 02:44:25 -0000" UID 1)'],  # -0000 read by imapclient's code
        [b'1 (INTERNALDATE "31-Apr-2020 00:00:00 +0000" UID 1)'],  # no such day: None
        [b"1 (INTERNALDATE NIL UID 1)"],
        [(b"1 (UID 5 BODY[]<0> {5}", b"a)\r\n{"), b" FLAGS ())"],
        [(b"1 (UID 5 BODY[HEADER] {0}", b""), b")"],
        [(b"1 (BODY[1] {1}", b"x"), (b" BODY[2] {1}", b"y"), b" UID 9)"],
        [b"1 (uid 5 flags (\\Seen) modseq (12345678901234567890))"],
        [b"1 (UID 5)", b"1 (FLAGS (\\Seen))", b"2 (FLAGS ())"],  # the same message twice
        [b'1 (UID 5 BODY[HEADER.FIELDS (SUBJECT "X")] "a\\\\b\\"c\\d")'],
        [b"1  (UID\t5  FLAGS ( \\Seen ) )  "],
        [b'1 (UID 5 X "a"Y "b""c" (1))'],  # a quoted string ends a token (a name too)
        [b"1 (UID 5 X 0123 Y 0 Z 00)"],  # leading zeros: bytes, as imapclient has them
        [b'1 (UID 5 BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 0 0))'],
        [b'1 (UID 5 BODY ((NIL) "mixed"))'],
        [
            (b'1 (UID 1 BODYSTRUCTURE ("text" "plain" ("name" {3}', b"\xe9.a"),
            (b") {2}", b"()"),
            b' NIL "7bit" 1 1 NIL ("attachment" ("filename" NIL)) NIL NIL))',
        ],
        [],
    ],
)
def test_forms_taking_the_fast_path(data: list[Any]) -> None:
    """Unusual but well-formed responses are read without imapclient, as it reads them."""
    assert parse_fetch(data) is not None
    assert_same(data, fast=True)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ([b"1 (UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))"], "ENVELOPE"),
        ([(b"1 (UID {1}", b"5"), b")"], "a literal UID"),
        ([(b"1 (UID 5 {3}", b"UID"), b" 6)"], "a literal where an item's name belongs"),
        ([(b"1 {5}", b"(UID)")], "a literal where the list of items belongs"),
        ([(b"1 (UID 5 BODY[] {3}", b"ab"), b")"], "a literal shorter than announced"),
        ([(b"1 (UID 5 BODY[] {1}", b"ab"), b")"], "a literal longer than announced"),
        ([(b"1 (UID 5 BODY[] {2} ", b"ab"), b")"], "a blank after the literal's size"),
        ([(b"1 (UID 5 BODY[] {2} X {2}", b"ab"), b")"], "two sizes in one line"),
        ([(b"1 (UID 5 BODY[]{2}", b"ab"), b")"], "a size glued to the name"),
        ([b"1 (UID 5 BODY[] {2})"], "a literal's size without a literal"),
        ([(b"{2}", b"ab")], "a literal at the top"),
        ([b'1 (UID "5")'], "a quoted UID (imapclient reads it as 5)"),
        ([b"1 (UID 05)"], "a UID with a leading zero (imapclient reads it as 5)"),
        ([b"01 (UID 5)"], "a sequence number with a leading zero"),
        ([b"1 (UID -5)"], "a negative UID"),
        ([b"1 (UID 5 X 50%)"], "an atom imapclient splits at %"),
        ([b"1 (UID 5 X a\x00b)"], "a control character"),
        ([b'1 (UID 5 X "open)'], "an unclosed quoted string"),
        ([b"1 (UID 5 BODY[HEADER)"], "an unclosed bracket"),
        ([b'1 (UID 5 X ab"c")'], "a quote right after an atom"),
        ([b"1 (UID 5) )"], "a stray parenthesis"),
        ([b"1 (UID 5"], "an open list"),
        ([b"1 (UID)"], "an item without a value"),
        ([b"1 (5 UID)"], "a number where a name belongs"),
        ([b"1 UID 5"], "no list"),
        ([b"1"], "a sequence number alone"),
        ([b"1 (UID 5 BODYSTRUCTURE NIL)"], "a BODYSTRUCTURE that is not a list"),
        ([b"1 (UID 5 BODYSTRUCTURE ())"], "an empty BODYSTRUCTURE"),
        ([b"1 (UID 5 BODYSTRUCTURE ((NIL) NIL))"], "a BODYSTRUCTURE imapclient cannot convert"),
        ([b"1 (UID 5 INTERNALDATE 5)"], "an INTERNALDATE that is a number"),
        ([b"1 (UID 5 X " + b"(" * 70 + b")" * 70 + b")"], "nesting deeper than the limit"),
        ([b"1 (UID 5 X " + b"9" * 5000 + b")"], "more digits than int() takes"),
        ([None], "None"),
        ([b"1 (UID 5)", "1 (UID 6)"], "a str"),
        ([(b"1 (UID 5 X {1}", b"a", b"b"), b")"], "a triple"),
    ],
)
def test_forms_left_to_imapclient(data: list[Any], why: str) -> None:
    """Anything outside the fast reader's grammar is declined, whatever imapclient makes
    of it (an answer or an error)."""
    assert parse_fetch(data) is None, why
    assert_same(data)


LARGE = 1024 * 1024


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"1 (UID 5 FLAGS (" + b"$k " * (LARGE // 3) + b"))", "read"),
        (b'1 (UID 5 X "' + b"a\\\\" * (LARGE // 3) + b'")', "read"),
        (b"1 (UID 5 X (" + b"(NIL)" * (LARGE // 5) + b"))", "read"),
        (b"1 (UID 5 X [" + b"a" * LARGE + b"])", "read"),
        (b"1 (UID 5 X " + b" " * LARGE + b"1)", "read"),
        (b'1 (UID 5 X "' + b"a\\" * (LARGE // 2), "declined"),
        (b"1 (UID 5 X " + b"[" * LARGE, "declined"),
        (b"1 (UID 5 X " + b"a[" * (LARGE // 2), "declined"),
        (b"1 (UID 5 X " + b'"' * LARGE, "declined"),
        (b"1 (UID 5 X " + b"(" * LARGE, "declined"),
        (b"1 (UID 5 X " + b"%" * LARGE, "declined"),
        (b" " * LARGE, "read"),
    ],
    ids=lambda value: value[:12].decode("latin-1") if isinstance(value, bytes) else value,
)
def test_a_megabyte_line_takes_linear_time(line: bytes, expected: str) -> None:
    """The patterns do not backtrack: a 1 MiB line of anything is read or declined in
    about the time a pass over it takes (a quadratic pass would take hours)."""
    start = time.perf_counter()
    found = parse_fetch([line])
    elapsed = time.perf_counter() - start
    assert (found is not None) == (expected == "read")
    assert elapsed < 5.0, elapsed


def test_the_differential_test_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that gets one detail wrong (a literal one byte short) is caught."""
    data = [(b"1 (UID 5 BODY[] {3}", b"abc"), b")"]
    assert_same(data, fast=True)
    original = _imapfetch._take_literal

    def short(line: bytes, marker: Any, literal: bytes, current: list[Any], depth: int) -> None:
        original(line, marker, literal, current, depth)
        current[-1] = current[-1][:-1]

    monkeypatch.setattr(_imapfetch, "_take_literal", short)
    with pytest.raises(AssertionError):
        assert_same(data, fast=True)


def test_shapes_tell_types_and_zones_apart() -> None:
    """The comparison sees what ``==`` does not: types, zones, order."""
    assert shape((1,)) != shape([1])
    assert shape({b"A": 1}) != shape({b"A": True})
    assert shape({b"A": 1, b"B": 2}) != shape({b"B": 2, b"A": 1})
    utc = datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert shape(utc) != shape(datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=1))))
    assert shape(utc) != shape(datetime(2026, 1, 1, 8, tzinfo=FixedOffset(0)))


# --------------------------------------------------------------------------- real servers

ITEM_LISTS = {
    "whole": _WHOLE_ITEMS.format(limit=64 * 1024 * 1024) + " MODSEQ",
    "headers": _HEADER_ITEMS + " MODSEQ",
    "flags": "UID FLAGS MODSEQ",
    "size": "UID RFC822.SIZE",
    "size and header": "UID RFC822.SIZE BODY.PEEK[HEADER]",
    "part": "UID BODYSTRUCTURE BODY.PEEK[1]",
    "source": "UID BODY.PEEK[]",
}
FLAG_SETS = [(b"\\Seen", b"$Forwarded"), (), (b"\\Flagged", b"Work"), (b"\\Answered", b"\\Draft")]


@pytest.fixture(scope="module", params=["dovecot", "pymap"])
def captured(request: pytest.FixtureRequest) -> Iterator[dict[str, list[Any]]]:
    """The raw FETCH data a real server sends for the MIME corpus, per item list (pymap
    has no CONDSTORE: no MODSEQ there)."""
    server: DovecotServer | PymapServer = request.getfixturevalue(
        "dovecot" if request.param == "dovecot" else "pymap_server"
    )
    if isinstance(server, DovecotServer):
        client = server.imap_client("alice", security="tls")
    else:
        client = server.imap_client("demouser", security="plain")
    folder = unique("fetch")
    client.create_folder(folder)
    try:
        for index, path in enumerate(CORPUS):
            client.append(folder, path.read_bytes(), flags=FLAG_SETS[index % len(FLAG_SETS)])
        client.select_folder(folder)
        found = {}
        for name, items in ITEM_LISTS.items():
            wanted = items.replace(" MODSEQ", "") if isinstance(server, PymapServer) else items
            typ, data = client._imap.uid("FETCH", "1:*", f"({wanted})")
            assert typ == "OK", (name, data)
            found[name] = data
        yield found
    finally:
        client.close_folder()
        client.delete_folder(folder)
        client.logout()


@pytest.mark.parametrize("name", ITEM_LISTS)
def test_real_responses_take_the_fast_path_and_read_the_same(
    captured: dict[str, list[Any]], name: str
) -> None:
    """What Dovecot and pymap send for the backend's item lists is read without
    imapclient, as imapclient reads it; every message is there."""
    data = captured[name]
    assert_same(data, fast=True)
    found = parse_fetch(data)
    assert found is not None
    assert sorted(values[b"UID"] for values in found.values()) == sorted(
        values[b"UID"] for values in reference(data).values()
    )
    assert len(found) == len(CORPUS)


EIGHT_BIT = (
    "From: ann@example.test\r\nSubject: Grüße\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n"
    '--b\r\nContent-Type: application/octet-stream; name="M\u00fcller.bin"\r\n\r\nxx\r\n'
    "--b--\r\n"
).encode()


def test_the_adapter_reads_fast_and_falls_back(dovecot: DovecotServer, network: Network) -> None:
    """Through the adapter's ``_fetched`` on Dovecot: an 8-bit file name, which Dovecot
    sends as a literal inside BODYSTRUCTURE, is read by the fast reader; an ENVELOPE
    (outside its grammar) is declined and read by imapclient. Both as imapclient reads
    the same bytes."""
    client = dovecot.imap_client("alice", security="tls")
    folder = unique("fetch")
    client.create_folder(folder)
    backend = IMAPBackend(dovecot_account(dovecot), network=network)
    backend.open()
    try:
        client.append(folder, EIGHT_BIT)
        conn = backend._connection()
        conn.select(folder)
        calls: list[tuple[list[Any], Any]] = []

        def spy(data: list[Any]) -> Any:
            result = parse_fetch(data)
            calls.append((list(data), result))
            return result

        with mock.patch.object(_imap, "parse_fetch", spy):
            structure = conn.uid_fetch("1", "UID BODYSTRUCTURE")
            envelope = conn.uid_fetch("1", "UID ENVELOPE")
        [(structure_data, read), (envelope_data, declined)] = calls
        assert any(isinstance(chunk, tuple) for chunk in structure_data)  # the literal
        assert read is not None
        assert shape(structure) == shape({1: reference(structure_data)[1]})
        attachment = structure[1][b"BODYSTRUCTURE"][0][1]
        assert attachment[2] == (b"name", "Müller.bin".encode())
        assert declined is None
        assert envelope == {1: reference(envelope_data)[1]}
        assert envelope[1][b"ENVELOPE"].subject == "Grüße".encode()
    finally:
        backend.close()
        client.delete_folder(folder)
        client.logout()
