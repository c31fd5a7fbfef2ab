"""The fast header path of ``mime`` against ``email``, its reference.

``parse_headers`` splits plainly well-formed header blocks itself, and the envelope readers
read plain addresses, subjects and dates themselves; anything else goes through the
stdlib ``email`` as before. These tests run the same input both ways — the fast path, and
the reference path (every fast reader patched to decline) — and demand the same
:class:`Message` (compared by ``repr``, so a date's zone counts) and the same warnings, or
the same error. Generated inputs mix clean forms (which must take the fast path: checked
too) with the nasty ones that must fall back.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprotocols.errors import OpenProtocolsError
from openprotocols.formats import mime
from openprotocols.formats._contentline import Warning
from openprotocols.model import Message

CORPUS = Path(__file__).parent / "corpus" / "mime"
FILES = sorted(CORPUS.glob("*.eml"))
# A twentieth of the codec fuzz tests' inputs: each example here reads its input twice,
# and the comparisons are many (1,000 each in CI)
EXAMPLES = max(200, int(os.environ.get("OPENPROTOCOLS_FUZZ_EXAMPLES", "500")) // 20)
FAST_READERS = ("_simple_header_items", "_simple_addresses", "_simple_subject", "_simple_date")


@contextlib.contextmanager
def reference_path() -> Iterator[None]:
    """Read with ``email`` only, as before the fast path: every fast reader declines."""
    with contextlib.ExitStack() as stack:
        for name in FAST_READERS:
            stack.enter_context(mock.patch.object(mime, name, return_value=None))
        yield


Outcome = tuple[str, str, list[Warning]]


def outcome(read: Callable[..., Message], data: bytes) -> Outcome:
    """What ``read`` makes of ``data``: the message's repr and the warnings, or the error."""
    warnings: list[Warning] = []
    try:
        message = read(data, warnings=warnings)
    except OpenProtocolsError as exc:
        return type(exc).__name__, str(exc), warnings
    return "message", repr(message), warnings


def assert_same(data: bytes) -> None:
    """parse_headers and parse give the same on the fast and the reference path."""
    for read in (mime.parse_headers, mime.parse):
        fast = outcome(read, data)
        with reference_path():
            reference = outcome(read, data)
        assert fast == reference, (read.__name__, data)


# --------------------------------------------------------------------------- values

ATEXT = "abcXYZ0189!#$%&'*+/=?^_`{|}~-"
BLANKS = st.sampled_from(["", " ", "  ", "\t", " \t "])
SOME_BLANK = st.sampled_from([" ", "  ", "\t", " \t "])
atom = st.text(st.sampled_from(ATEXT), min_size=1, max_size=6).filter(lambda s: "=?" not in s)
dot_atom = st.lists(atom, min_size=1, max_size=3).map(".".join)
addr_spec = st.builds("{}@{}".format, dot_atom, dot_atom).filter(lambda s: "=?" not in s)
QUOTABLE = [" ", "\t", "a", "Z", ",", ";", ":", "<", ">", "@", "(", ")", ".", "'", "["]
quoted_text = st.text(st.sampled_from(QUOTABLE), max_size=10)
# What may not be in a quoted name the fast path reads, but email reads (differently).
odd_quoted_text = st.lists(
    st.sampled_from([*QUOTABLE, "\\", '\\"', "\\\\", "=?a?q?b?=", "é", "\x01", "\r\n "]),
    max_size=6,
).map("".join)


@st.composite
def clean_mailbox(draw: st.DrawFn, *, odd: bool = False) -> str:
    """One mailbox in a form the fast path reads; or, if ``odd``, one whose display name
    holds what it does not read."""
    spec = draw(addr_spec)
    kind = draw(st.sampled_from(["bare", "angle", "words", "quoted"]))
    if kind == "bare":
        return spec
    if kind == "angle":
        return f"<{spec}>"
    if kind == "words":
        words = draw(st.lists(atom | st.just(".") if odd else atom, min_size=1, max_size=4))
        name = words[0] + "".join(draw(SOME_BLANK) + word for word in words[1:])
    else:
        name = f'"{draw(odd_quoted_text if odd else quoted_text)}"'
    return f"{name}{draw(BLANKS)}<{spec}>"


NASTY_MAILBOXES = [
    "(comment) a@b.c",
    "a@b.c (comment)",
    "Group: a@b.c, d@e.f;",
    "Empty:;",
    "=?utf-8?q?J=C3=B6rg?= <j@x.org>",
    "=?utf-8?b?w7Y=?= =?utf-8?b?w7Y=?= <a@b>",
    '"a\\"b" <a@b>',
    '"a\\\\b" <c@d>',
    "J. Q. Smith <a@b>",
    "a..b@c",
    "a@b..c",
    ".a@b",
    "a@[1.2.3.4]",
    "<@route:a@b>",
    "a b@c",
    "nobody",
    "<>",
    '"unclosed <a@b>',
    "a@b <c@d>",
    "Jörg <j@x.org>",
    "jörg@x.org",
    "a@b.c.",
    "<a@b",
    "a@b>",
    '"" <a@b>',
    "x\x01y <a@b>",
    "a\\b@c",
    "=?bogus?x?y?= <a@b>",
    '"=?utf-8?q?x?=" <a@b>',
    "a@b;",
    "Name <a@b> junk",
    "< a@b >",
    "Name < a@b>",
    "a @ b",
    "\x7f <a@b>",
    "",
    " ",
]
ADDRESS_PIECES = ["a", "b.c", "@", "<", ">", '"', "\\", ",", " ", "\t", "(", ")", ":", ";", "."]
ADDRESS_PIECES += ["[", "]", "=?", "?=", "é", "\x01", "Ann", "x@y.z", "<x@y.z>"]
address_soup = st.lists(st.sampled_from(ADDRESS_PIECES), max_size=10).map("".join)
ODD_PIECES = ["\\", '"', '\\"', "=?", "é", "\x01", "\x7f", "\x0b", ".", "(", ")", ",", ":", ";"]
ODD_PIECES += ["<", ">", "@", "[", "]", " ", "\t", "\r\n "]


@st.composite
def perturbed_mailbox(draw: st.DrawFn) -> str:
    """A clean mailbox with one odd character (or a few) put in anywhere."""
    text = draw(clean_mailbox())
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(ODD_PIECES)) + text[at:]


mailbox = st.one_of(
    clean_mailbox(),
    clean_mailbox(odd=True),
    perturbed_mailbox(),
    st.sampled_from(NASTY_MAILBOXES),
    address_soup,
)
CLEAN_SEPARATORS = [",", ", ", " , ", ",\r\n ", ",\n\t", " ,\t"]


@st.composite
def address_list(draw: st.DrawFn, *, clean: bool = False) -> str:
    """Mailboxes joined by commas, with blanks (and, unless clean, some nonsense) around
    them."""
    items = draw(st.lists(clean_mailbox() if clean else mailbox, min_size=1, max_size=4))
    separators = st.sampled_from(CLEAN_SEPARATORS + ([] if clean else [",,", ";", " "]))
    text = items[0] + "".join(draw(separators) + each for each in items[1:])
    ends = ["", " ", "\t"] + ([] if clean else [",", ", "])
    return draw(BLANKS) + text + draw(st.sampled_from(ends))


SUBJECT_PIECES = [
    "a",
    "Re:",
    " ",
    "  ",
    "\t",
    "=?",
    "?=",
    "=?utf-8?q?caf=C3=A9?=",
    "=?iso-8859-1?b?6Q==?=",
    "é",
    "€",
    "\x01",
    "\x7f",
    "\\",
    '"',
    "(x)",
    "\x0b",
    "\x0c",
    "\x1c",
]
subject = st.lists(st.sampled_from(SUBJECT_PIECES), max_size=8).map("".join)


@st.composite
def date(draw: st.DrawFn) -> str:
    """A date as mailers write it, in one of the variants RFC 5322 allows, or junk."""
    when = draw(st.datetimes(datetime(1901, 1, 1), datetime(2200, 1, 1)))
    minutes = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    text = email.utils.format_datetime(when.replace(tzinfo=timezone(timedelta(minutes=minutes))))
    variant = draw(st.integers(0, 9))
    if variant == 1:
        text = text.partition(", ")[2]  # no day of the week
    elif variant == 2:
        text = text[:-5] + draw(st.sampled_from(["GMT", "UT", "EST", "PDT", "Z", "-0000", "XYZ"]))
    elif variant == 3:
        text = re.sub(r" (\d\d)(\d\d) ", r" \2 ", text)  # a two-digit year
    elif variant == 4:
        text = draw(
            st.sampled_from(
                [
                    "",
                    " ",
                    "not a date",
                    "32 Jan 2020 00:00 +0000",
                    "Thu, 01 Jan 2026 25:00:00 +0000",
                    "1 Jan 99999 00:00 +0000",
                    "Thu, 01 Jan 2026 08:00:00 +9999",
                    "Thu, 01 Jan 2026 08:00:00 +2400",
                    "Thu, 01 Jan 2026 08:00",
                    "2026-01-01T08:00:00Z",
                    "Thu, 01 Jan 2026 08:00:00 +0000 (UTC)",
                    "Thu,01 Jan 2026 08:00:00 +0000",
                    "Thü, 01 Jan 2026 08:00:00 +0000",
                ]
            )
        )
    elif variant == 5:
        text = text.replace(" ", draw(SOME_BLANK))
    return draw(BLANKS) + text + draw(BLANKS)


CONTENT_TYPES = [
    "text/plain",
    "text/plain; charset=utf-8",
    'text/plain; charset="us-ascii"; format=flowed',
    'multipart/mixed; boundary="=_b 1"',
    "multipart/alternative;\r\n\tboundary=xyz",
    "TEXT/HTML ; CHARSET = UTF-8 ;",
    "multipart/mixed; boundary=----=_Part_1",
    "text/plain; name*=utf-8''%E2%82%AC",
    "text/plain; name*0=a; name*1=b",
    "text/plain; charset=",
    'text/plain; charset="',
    'text/plain; charset="a\\"b"',
    "text/plain; charset='x'",
    "/",
    "text",
    "",
    "text/plain (comment)",
    "text/plain; =x",
    "text/plain;;",
    "tëxt/plain",
    "text/plain; a=b c",
    ";utf-8*",  # email's parser raises IndexError (ParseError for us) on this one
]


# --------------------------------------------------------------------------- blocks

addresses = address_list(clean=True) | address_list()
NAMES: dict[str, st.SearchStrategy[str]] = {
    "From": addresses,
    "To": addresses,
    "Cc": addresses,
    "Bcc": addresses,
    "Sender": addresses,
    "Reply-To": addresses,
    "Subject": subject,
    "Date": date(),
    "Content-Type": st.sampled_from(CONTENT_TYPES),
    "Message-ID": st.sampled_from(["<a@b>", " <a@b> ", "a@b", "", "<a@b> <c@d>"]),
    "In-Reply-To": st.sampled_from(["<a@b>", "<x@y> (comment)", "", "é"]),
    "References": st.lists(st.sampled_from(["<a@b>", "<c@d>", "x"]), max_size=3).map(" ".join),
    "MIME-Version": st.just("1.0"),
    "X-Mailer": subject,
    "Received": st.just("from a by b; Thu, 01 Jan 2026 08:00:00 +0000"),
}
NASTY_LINES = [
    "no colon here",
    " leading or stray continuation",
    "\tanother",
    "From someone@example.org Thu Jan  1 00:00:00 2026",
    ":no name",
    "X Y: a blank in the name",
    "X-Y : a blank before the colon",
    "Bad\x80Name: eight bit",
    "X-Empty:",
    "\x00",
    " ",
    "",
]


@st.composite
def folded(draw: st.DrawFn, value: str, *, anywhere: bool = True) -> str:
    """``value`` with some blanks turned into folds, and maybe (if ``anywhere``) a fold
    elsewhere, which adds a blank."""
    out = []
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    for char in value:
        if char in " \t" and draw(st.integers(0, 4)) == 0:
            out.append(eol)
        out.append(char)
    if anywhere and value and draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(value)))
        out.insert(at, eol + draw(SOME_BLANK))
    return "".join(out)


PLAIN_CONTENT_TYPES = CONTENT_TYPES[:6]  # the ones the fast path takes (the others: email)


@st.composite
def field(draw: st.DrawFn, *, nasty: bool = True) -> str:
    """One header field: a name in any case, a separator, a (folded) value; unless
    ``nasty``, a Content-Type is a plain one."""
    name = draw(st.sampled_from(sorted(NAMES)))
    if name == "Content-Type" and not nasty:
        value = draw(folded(draw(st.sampled_from(PLAIN_CONTENT_TYPES)), anywhere=False))
    else:
        value = draw(folded(draw(NAMES[name])))
    written = draw(st.sampled_from([name, name.lower(), name.upper()]))
    return written + ":" + draw(BLANKS) + value


@st.composite
def header_block(draw: st.DrawFn, *, nasty: bool = True) -> bytes:
    """A header block (maybe with a body after it): fields, with nasty lines if allowed,
    in one of the line end styles, as UTF-8 or Latin-1."""
    lines = draw(st.lists(field(nasty=nasty), max_size=10))
    if nasty:
        for _ in range(draw(st.integers(0, 2))):
            at = draw(st.integers(0, len(lines)))
            lines.insert(at, draw(st.sampled_from(NASTY_LINES)))
    eol = draw(st.sampled_from(["\r\n", "\n", "mixed", "cr"] if nasty else ["\r\n", "\n"]))
    text = "\r\n".join(lines)
    if eol == "\n":
        text = text.replace("\r\n", "\n")
    elif eol in ("mixed", "cr"):
        other = "\n" if eol == "mixed" else "\r"
        text = "".join(
            part if part != "\r\n" or draw(st.booleans()) else other
            for part in re.split("(\r\n)", text)
        )
    tail = draw(st.sampled_from(["", "eol", "eol", "body"]))
    if tail != "":
        text += ("\r\n" if eol != "\n" else "\n") * 2
    if tail == "body":
        text += "body: text\r\n"
    charset = draw(st.sampled_from(["utf-8", "latin-1"]))
    return text.encode(charset, "replace")


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The checks that clean input takes the fast path need fewer examples than the comparisons.
FEWER = settings(FUZZ, max_examples=max(EXAMPLES // 3, 50))


# --------------------------------------------------------------------------- the tests


@pytest.mark.timeout(max(120, EXAMPLES // 10))
@FUZZ
@given(header_block())
def test_generated_blocks_read_the_same_both_ways(data: bytes) -> None:
    """Any generated header block (clean or nasty) gives the same message and warnings."""
    assert_same(data)


@pytest.mark.timeout(max(120, EXAMPLES // 10))
@FUZZ
@given(
    st.lists(
        st.sampled_from([b"a", b"X: ", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"<", b"@"])
        | st.sampled_from([b'"', b",", b"=?", b"(", b"\\", b"\x80", b"\xc3\xa9", b"From "])
        | st.sampled_from([b"To: ", b"Date: ", b"Subject: ", b"Content-Type: "]),
        max_size=30,
    ).map(b"".join)
)
def test_arbitrary_bytes_read_the_same_both_ways(data: bytes) -> None:
    """Byte soup made of the characters that matter gives the same both ways."""
    assert_same(data)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_reads_the_same_both_ways(path: Path) -> None:
    """Every corpus message, whole and as its header block, gives the same both ways."""
    data = path.read_bytes()
    assert_same(data)
    assert_same(data[: mime.header_block_end(data)])


@FEWER
@given(header_block(nasty=False))
def test_clean_blocks_take_the_fast_path(data: bytes) -> None:
    """A block of well-formed lines with a plain Content-Type is split without ``email``,
    as ``email`` would split it (whatever the other values hold)."""
    block = data[: mime.header_block_end(data)]
    items = mime._simple_header_items(block)
    assert items is not None
    expected = mime._PARSER.parsebytes(block, headersonly=True).raw_items()
    assert items == [(name, str(value)) for name, value in expected]


def read_both_ways(read: Callable[[str, list[Warning]], object], value: str) -> None:
    """One envelope reader gives the same result and warnings both ways."""
    warnings: list[Warning] = []
    found = read(value, warnings)
    with reference_path():
        reference_warnings: list[Warning] = []
        reference = read(value, reference_warnings)
    assert (repr(found), warnings) == (repr(reference), reference_warnings)


@FUZZ
@given(addresses)
def test_address_lists_read_the_same_both_ways(value: str) -> None:
    """An address header value (clean, nearly clean or nasty) reads the same both ways."""
    read_both_ways(functools.partial(mime._read_addresses, "to"), value)


@FUZZ
@given(st.one_of(clean_mailbox(), clean_mailbox(odd=True), perturbed_mailbox()))
def test_mailboxes_read_the_same_both_ways(value: str) -> None:
    """One mailbox, clean or with something odd in it, reads the same both ways."""
    read_both_ways(functools.partial(mime._read_addresses, "from"), value)


@FUZZ
@given(
    st.one_of(subject, st.text(max_size=20), st.text(" \ta=?\x0b\x85é", max_size=8).flatmap(folded))
)
def test_subjects_read_the_same_both_ways(value: str) -> None:
    """A Subject value reads the same both ways."""
    read_both_ways(mime._read_subject, value)


@FUZZ
@given(date() | st.text(" 0123456789:+-,ADFGJMNOSTUWZacdeghilnoprtuvy", max_size=40))
def test_dates_read_the_same_both_ways(value: str) -> None:
    """A Date value reads the same both ways (the zone too: repr is compared)."""
    read_both_ways(mime._read_date, value)


@FEWER
@given(address_list(clean=True).filter(lambda s: "=?" not in s))
def test_clean_address_lists_take_the_fast_path(value: str) -> None:
    """Plain address lists are read without ``email``, as ``email`` reads them."""
    fast = mime._simple_addresses(value)
    assert fast is not None
    with reference_path():
        assert fast == mime._read_addresses("to", value, [])


@FUZZ
@given(date())
def test_dates_email_reads_take_the_fast_path(value: str) -> None:
    """Every date ``email`` reads without complaint is read without its header object."""
    warnings: list[Warning] = []
    with reference_path():
        expected = mime._read_date(value, warnings)
    assert (mime._simple_date(value) is not None) == (not warnings)
    assert repr(mime._read_date(value, [])) == repr(expected)


@pytest.mark.parametrize(
    ("value", "fast"),
    [
        ("a@b.example", True),
        ("Ann Example <ann@x.org>, <bob@y.org>", True),
        ('"Example, Ann" <ann@x.org>', True),
        ('"  spaced\tname " <ann@x.org>', True),
        ("Ann  \t Example<ann@x.org>", True),
        ("Ann Q. Example <ann@x.org>", False),  # email reports the "." as obsolete
        ("ann@x.org (Ann)", False),
        ("Team: ann@x.org;", False),
        ("=?utf-8?q?Ann?= <ann@x.org>", False),
        ('"Ann \\"A\\"" <ann@x.org>', False),
        ("ann@x.org,", False),
        ("ann@x.org,,bob@y.org", False),
        ("Änn <ann@x.org>", False),
    ],
)
def test_address_forms(value: str, fast: bool) -> None:
    """Which address forms the fast path reads; all read as ``email`` reads them."""
    assert (mime._simple_addresses(value) is not None) is fast
    warnings: list[Warning] = []
    found = mime._read_addresses("to", value, warnings)
    with reference_path():
        reference_warnings: list[Warning] = []
        assert found == mime._read_addresses("to", value, reference_warnings)
    assert warnings == reference_warnings


@pytest.mark.parametrize(
    "data",
    [
        b"Subject: a\r\n\r\n",
        b"Subject: a\r\n",
        b"Subject: a",
        b"Subject:\r\n a\r\n \r\n\r\n",
        b"Subject: \t\r\n\r\n",
        b"Subject: \t \r\n\tb\r\nTo: a@b\n\n",
        b"\r\n",
        b"",
    ],
)
def test_block_forms_taking_the_fast_path(data: bytes) -> None:
    """Odd but well-formed blocks are split without ``email``, exactly as it splits them."""
    items = mime._simple_header_items(data)
    assert items is not None
    expected = mime._PARSER.parsebytes(data, headersonly=True).raw_items()
    assert items == [(name, str(value)) for name, value in expected]


@pytest.mark.parametrize(
    "data",
    [
        b" Subject: leading continuation\r\n\r\n",
        b"From a@b Thu Jan  1 00:00:00 2026\r\nSubject: mbox\r\n\r\n",
        b"Subject: a\rTo: b@c\r\n\r\n",  # a lone CR ends a line for email
        b"Subject a\r\n\r\n",
        b":a\r\n\r\n",
        b"X Y: z\r\n\r\n",
        b"Content-Type: text/plain; name*=utf-8''%E2%82%AC\r\n\r\n",
        b"Content-Type: text/plain (comment)\r\n\r\n",
        b"Content-Type: ;utf-8*\r\n\r\n",  # email raises on it: so must parse_headers
    ],
)
def test_block_forms_left_to_email(data: bytes) -> None:
    """Anything unusual in a block is left to ``email``."""
    assert mime._simple_header_items(data) is None
    assert_same(data)


def old_split_headers(data: bytes) -> tuple[int, int]:
    """``_split_headers`` as it was, with a regular expression."""
    for start in (b"\r\n", b"\n"):
        if data.startswith(start):
            return 0, len(start)
    match = re.search(rb"\r?\n\r?\n", data)
    if match is None:
        return len(data), len(data)
    return data.index(b"\n", match.start()) + 1, match.end()


@FUZZ
@given(st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b"\n\r"]), max_size=12).map(b"".join))
def test_the_end_of_the_header_block_is_found_as_before(data: bytes) -> None:
    """The faster search for the empty line finds what the regular expression found."""
    assert mime._split_headers(data) == old_split_headers(data)


def test_the_differential_test_can_fail() -> None:
    """A fast path that gets one thing wrong is caught by the comparison."""
    data = b"From: Ann  Example <ann@x.org>\r\nSubject: hi\r\n\r\n"
    assert_same(data)
    wrong = mock.patch.object(mime, "_simple_subject", lambda raw: raw.strip().upper())
    with wrong, pytest.raises(AssertionError):
        assert_same(data)


def test_timezones_are_compared() -> None:
    """Equal instants in different zones are different dates here (repr is compared)."""
    utc = outcome(mime.parse_headers, b"Date: Thu, 01 Jan 2026 08:00:00 +0000\r\n\r\n")
    other = outcome(mime.parse_headers, b"Date: Thu, 01 Jan 2026 09:00:00 +0100\r\n\r\n")
    assert utc != other
    assert datetime(2026, 1, 1, 8, tzinfo=UTC) == datetime(
        2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=1))
    )
