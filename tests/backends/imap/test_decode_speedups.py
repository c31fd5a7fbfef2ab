"""The IMAP decode path builds each message once; it must build the same message as the
first implementation, which parsed the header block and then copied the message three
times (``attrs.evolve`` for size and parts, again for folder, UID and dates, and
``with_flags``). That recipe is frozen below and compared on the MIME corpus with drawn
flags and fields, whole and headers-only, with and without a ``BODYSTRUCTURE``.

No server is needed: the FETCH data is what the fast FETCH parser hands over (the
server-side layouts are compared with :func:`mime.parse` in ``test_whole_messages.py``).
"""

from __future__ import annotations

import datetime as dt
import email.header
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient.fixed_offset import FixedOffset

from openprotocols.backends import imap
from openprotocols.formats import mime
from openprotocols.model import Message

CORPUS = sorted((Path(__file__).parents[2] / "formats" / "corpus" / "mime").glob("*.eml"))

# -- the first implementation's recipe, frozen --------------------------------------------


def frozen_whole(raw: bytes, data: dict[bytes, Any], flags: Any, **fields: Any) -> Message:
    parts = imap._parts(data[b"BODYSTRUCTURE"]) if b"BODYSTRUCTURE" in data else ()
    if not parts:
        message = mime.parse(raw)
    else:
        headers = mime.parse_headers(raw[: mime.header_block_end(raw)])
        message = attrs.evolve(headers, size=len(raw), content=raw, parts=parts)
    return attrs.evolve(message, **fields).with_flags(*flags)


def frozen_headers(data: dict[bytes, Any], flags: Any, **fields: Any) -> Message:
    header = data.get(b"BODY[HEADER]")
    parsed = mime.parse_headers(header if isinstance(header, bytes) else b"")
    size = data.get(b"RFC822.SIZE")
    message = attrs.evolve(
        parsed,
        size=size if isinstance(size, int) and size >= 0 else None,
        parts=imap._parts(data[b"BODYSTRUCTURE"]) if b"BODYSTRUCTURE" in data else (),
        **fields,
    )
    return message.with_flags(*flags)


def frozen_words(text: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except Exception:
        return text


# -- FETCH data as the parser gives it ----------------------------------------------------

STRUCTURE = (
    [
        (b"text", b"plain", (b"charset", b"utf-8"), None, None, b"7bit", 30, 2, None, None, None),
        (
            b"application",
            b"pdf",
            (b"name", b"=?utf-8?q?r=C3=A9sum=C3=A9?=.pdf"),
            None,
            None,
            b"base64",
            18,
            None,
            (b"attachment", (b"filename", b"report.pdf")),
            None,
            None,
        ),
    ],
    b"mixed",
    (b"boundary", b"x"),
    None,
    None,
    None,
)

FLAGS = st.frozensets(
    st.sampled_from(["\\Seen", "\\SEEN", "\\Answered", "\\Draft", "\\Custom", "$Label", "Junk"]),
    max_size=4,
)
FIELDS = st.fixed_dictionaries(
    {
        "folder": st.sampled_from(["INBOX", "Archiv/2026"]),
        "uid": st.integers(min_value=1, max_value=2**32 - 1),
        "modseq": st.none() | st.integers(min_value=0, max_value=2**63 - 1),
        "internal_date": st.none()
        | st.datetimes().map(lambda moment: moment.replace(tzinfo=FixedOffset(60))),
    }
)


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
@settings(max_examples=5, deadline=None)
@given(flags=FLAGS, fields=FIELDS, structured=st.booleans())
def test_a_whole_message_is_built_as_before(
    path: Path, flags: frozenset[str], fields: dict[str, Any], structured: bool
) -> None:
    raw = path.read_bytes()
    data: dict[bytes, Any] = {b"BODYSTRUCTURE": STRUCTURE} if structured else {}
    built = imap._whole_message(raw, data, flags, **fields)
    assert built == frozen_whole(raw, data, flags, **fields)
    assert built.content is raw  # kept, not copied


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
@settings(max_examples=5, deadline=None)
@given(
    flags=FLAGS,
    fields=FIELDS,
    structured=st.booleans(),
    size=st.none() | st.integers(min_value=-1, max_value=10**6),
)
def test_a_headers_only_message_is_built_as_before(
    path: Path, flags: frozenset[str], fields: dict[str, Any], structured: bool, size: int | None
) -> None:
    raw = path.read_bytes()
    data: dict[bytes, Any] = {b"BODY[HEADER]": raw[: mime.header_block_end(raw)]}
    if structured:
        data[b"BODYSTRUCTURE"] = STRUCTURE
    if size is not None:
        data[b"RFC822.SIZE"] = size
    assert imap._headers_message(data, flags, **fields) == frozen_headers(data, flags, **fields)


def test_a_message_without_a_header_block_is_built_as_before() -> None:
    fields = {"folder": "INBOX", "uid": 7, "internal_date": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}
    assert imap._headers_message({}, {"\\Seen"}, **fields) == frozen_headers(
        {}, {"\\Seen"}, **fields
    )


@given(st.text(max_size=30) | st.sampled_from(["=?utf-8?q?=C3=BC?=", "a =?x?b?", "=?"]))
def test_file_names_decode_as_before(text: str) -> None:
    """Without ``=?`` the email package's round trip is skipped: it gave the text back."""
    assert imap.decode_header_words(text) == frozen_words(text)
