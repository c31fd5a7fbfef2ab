"""The MIME corpus: every file round-trips, is documented, and survives mutation."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprotocols.errors import InvalidItemError, OpenProtocolsError
from openprotocols.formats import imip, mime
from openprotocols.formats._contentline import Warning
from openprotocols.model import Message, ResponseStatus

CORPUS = Path(__file__).parent / "corpus" / "mime"
FILES = sorted(CORPUS.glob("*.eml"))
FUZZ_EXAMPLES = int(os.environ.get("OPENPROTOCOLS_FUZZ_EXAMPLES", "500"))


def test_corpus_is_there() -> None:
    """The corpus is not empty (so the parametrized tests below can fail)."""
    assert len(FILES) >= 15


def test_readme_lists_every_file() -> None:
    """Each corpus file has a row in the README table, and each row a file."""
    listed = set(re.findall(r"^\| `([^`]+\.eml)` \|", (CORPUS / "README.md").read_text(), re.M))
    assert listed == {path.name for path in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_serialize_gives_back_the_bytes(path: Path) -> None:
    """serialize(parse(data)) == data, and headers is a prefix of data."""
    data = path.read_bytes()
    message = mime.parse(data)
    assert mime.serialize(message) == data
    assert message.headers is not None
    assert data.startswith(message.headers)
    assert message.size == len(data)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_parse_is_deterministic_and_headers_agree(path: Path) -> None:
    """Parsing twice gives equal messages; parse_headers reads the same envelope."""
    data = path.read_bytes()
    assert mime.parse(data) == mime.parse(data)
    assert mime.parse_headers(data).envelope == mime.parse(data).envelope


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_sections_form_a_tree(path: Path) -> None:
    """Sections are unique and each nested one has its parent listed before it."""
    sections = [part.section for part in mime.parse(path.read_bytes()).parts]
    assert len(sections) == len(set(sections))
    for index, section in enumerate(sections):
        parent = section.rpartition(".")[0]
        assert not parent or parent in sections[:index]


def assert_text_is_unicode(message: Message) -> None:
    """Every string read from the message is real Unicode (no surrogate escapes)."""
    envelope = message.envelope
    texts = [envelope.subject or "", envelope.message_id or "", envelope.in_reply_to or ""]
    for address in (*envelope.from_, *envelope.sender, *envelope.to, *envelope.cc):
        texts += [address.email, address.name or ""]
    for part in message.parts:
        texts += [part.filename or "", part.content_type, part.charset or ""]
    for text in texts:
        text.encode("utf-8")


def exercise(data: bytes) -> None:
    """Run every reading entry point on ``data``, as a client would."""
    warnings: list[Warning] = []
    try:
        message = mime.parse(data, warnings=warnings)
    except OpenProtocolsError:
        return
    assert mime.serialize(message) == data
    assert_text_is_unicode(message)
    mime.parse_headers(data)
    mime.text_body(message)
    mime.html_body(message)
    for attachment in mime.iter_attachments(message):
        assert attachment.data is not None
    for part in message.parts:
        mime.part_data(message, part.section)
    for invitation in imip.find_invitations(message):
        with contextlib.suppress(InvalidItemError):
            imip.build_reply(invitation, "juergen@example.org", ResponseStatus.ACCEPTED)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A corpus file with a few byte flips, insertions, deletions or a truncation."""
    data = bytearray(draw(st.sampled_from(FILES)).read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [b"\r\n", b"\n", b"\r", b":", b";", b"=", b'"', b"=?", b"?=", b"--", b"\x00"]
                )
                | st.binary(max_size=8)
            )
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
    return bytes(data)


@pytest.mark.timeout(max(120, FUZZ_EXAMPLES // 20))  # about 11 ms an input
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_fuzz_only_our_errors_escape(data: bytes) -> None:
    """Mutated corpus files never raise anything but openprotocols errors."""
    exercise(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n",
        b"\x00\xff" * 50,
        b"From:\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n--\r\n",
        b'Content-Type: multipart/mixed; boundary=""\r\n\r\n--\r\n--\r\n',
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n",
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"Q29udGVudC1UeXBlOiB0ZXh0L2NhbGVuZGFyDQoNCkJFR0lOOlZDQUxFTkRBUg0K\r\n",
        b'To: =?utf-8?b?====?= <a@b>, "\\\r\n\r\n',
        b"Date: Mon, 1 Jan 99999 00:00:00 +0000\r\n\r\n",
        b'Content-Type: text/plain; charset="utf-8\x00"\r\n\r\nx',
        b"Content-Type: text/calendar; method=\r\n\r\nBEGIN:VCALENDAR\r\nEND:VEVENT\r\n",
        b"Content-Disposition: attachment; filename*=utf-8''\r\n\r\nx",
        b"Message-ID: <\r\nReferences: <<<>>>\r\nIn-Reply-To: \r\n\r\n",
    ],
)
def test_hostile_inputs(data: bytes) -> None:
    """Hand-written hostile inputs: only openprotocols errors escape."""
    exercise(data)


def test_base64_encapsulated_message_is_opened() -> None:
    """A message/rfc822 sent base64-encoded (against RFC 2046) is decoded and numbered."""
    data = (
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"Q29udGVudC1UeXBlOiB0ZXh0L2NhbGVuZGFyDQoNCkJFR0lOOlZDQUxFTkRBUg0K\r\n"
    )
    parts = mime.parse(data).parts
    assert [(p.section, p.content_type) for p in parts] == [
        ("1", "message/rfc822"),
        ("1.1", "text/calendar"),
    ]
