"""Whole messages (``download_entire_messages``, ``fetch_body``): one FETCH per batch,
the MIME layout from the server's BODYSTRUCTURE instead of a parse of the source, and
messages over the literal limit kept headers-only.

The layout test APPENDs the MIME corpus (``tests/formats/corpus/mime/``) and compares
each message's parts with what :func:`mime.parse` reads from the same bytes. Where a
server's BODYSTRUCTURE legitimately says something else, :func:`as_server_states`
adjusts the expectation and says why; every other field must be equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from openprotocols.backends import imap
from openprotocols.backends._imap import Connection, Limits
from openprotocols.backends.imap import IMAPBackend
from openprotocols.formats import mime
from openprotocols.model import AccountOptions, Folder, FolderKind, Message, MessagePart

from .conftest import message, unique

CORPUS = sorted((Path(__file__).parents[2] / "formats" / "corpus" / "mime").glob("*.eml"))
WHOLE = {"options": AccountOptions(download_entire_messages=True)}


def as_server_states(part: MessagePart, server: str, name: str) -> MessagePart:
    """:func:`mime.parse`'s description of a part, changed where the server's
    BODYSTRUCTURE says something else for a documented reason. Sizes that only the
    server knows are compared by :func:`comparable`."""
    if part.is_multipart:
        # BODYSTRUCTURE gives a multipart its subtype and parameters only (RFC 3501
        # body-type-mpart); the backend lists it by section and type.
        return MessagePart(section=part.section, content_type=part.content_type)
    if part.encoding is None:
        # body-fld-enc is not optional: without a Content-Transfer-Encoding header the
        # servers state the default, 7BIT (RFC 2045 section 6.1); mime.parse says what
        # the source says (nothing).
        part = attrs.evolve(part, encoding="7bit")
    broken_type = name == "broken-headers.eml" and part.section == "2"
    if server == "dovecot":
        if part.content_type.startswith("text/") and part.charset is None and not broken_type:
            # Dovecot states RFC 2045 section 5.2's default charset for text/* parts
            # that name none. (Not for "Content-Type: /", which it passes on as "" "";
            # both read that as text/plain.)
            part = attrs.evolve(part, charset="us-ascii")
        if broken_type:
            # The boundary is never closed: the part runs to the end of the message.
            # Dovecot counts its last line end (2 octets); the email package drops it,
            # as it does before a boundary.
            part = attrs.evolve(part, size=(part.size or 0) + 2)
    if server == "pymap" and name == "attachments-2231-2047.eml" and part.section == "5":
        # An unquoted RFC 2047 word as filename= (invalid, seen in the wild): pymap
        # drops the parameter; mime.parse recovers "über.bin".
        part = attrs.evolve(part, filename=None)
    return part


def comparable(
    expected: MessagePart, got: MessagePart, server: str
) -> tuple[MessagePart, MessagePart]:
    """Both parts without the sizes that differ for a documented reason, which are
    checked here instead."""
    if got.content_type.startswith("message/"):
        # An encapsulated message (or a delivery status): the server states its octets;
        # the email package parses it into headers and parts and keeps no size.
        assert expected.size is None
        assert isinstance(got.size, int), got
        assert got.size > 0, got
        return expected, attrs.evolve(got, size=None)
    if server == "pymap" and not got.is_multipart:
        # pymap counts a part's MIME header into body-fld-octets (RFC 3501 counts the
        # body only): its sizes are larger than the body's.
        assert isinstance(got.size, int), got
        assert got.size > (expected.size or 0), got
        return attrs.evolve(expected, size=None), attrs.evolve(got, size=None)
    return expected, got


@pytest.fixture
def corpus_folder(make_backend: Any, other_client: Any) -> Iterator[tuple[IMAPBackend, Folder]]:
    """A whole-message backend and a new folder holding the MIME corpus."""
    backend = make_backend(account=WHOLE)
    folder = backend.create_folder(unique("corpus"), FolderKind.MAIL)
    try:
        for path in CORPUS:
            other_client.append(folder.id, path.read_bytes())
        yield backend, folder
    finally:
        backend.delete_folder(folder)


def test_parts_from_bodystructure_match_a_parse(
    corpus_folder: tuple[IMAPBackend, Folder], server_name: str
) -> None:
    """Every corpus message comes back whole, with the envelope, header block, size and
    content a parse gives, and the parts a parse gives up to the documented differences."""
    backend, folder = corpus_folder
    collection = backend.collection(folder)
    entries = list(collection.get(r.id for r in collection.changes().changed))
    assert len(entries) == len(CORPUS)
    mismatches = []
    for path, entry in zip(CORPUS, entries, strict=True):  # APPEND order is UID order
        assert entry.raw is not None
        item = entry.item
        parsed = mime.parse(entry.raw)
        assert parsed.subject == mime.parse(path.read_bytes()).subject
        assert (item.content, item.headers, item.size, item.envelope) == (
            parsed.content,
            parsed.headers,
            parsed.size,
            parsed.envelope,
        ), path.name
        assert [p.section for p in item.parts] == [p.section for p in parsed.parts], path.name
        for part, stated in zip(parsed.parts, item.parts, strict=True):
            expected = as_server_states(part, server_name, path.name)
            expected, got = comparable(expected, stated, server_name)
            if expected != got:
                mismatches.append((path.name, expected, got))
    assert mismatches == [], "\n".join(f"{n}\n  mime {e}\n  imap {g}" for n, e, g in mismatches)


def test_one_fetch_per_batch_and_oversize_stays_headers_only(
    make_backend: Any, server_name: str, other_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is one UID FETCH; a message over the literal limit comes back cut at the
    limit and is kept headers-only (headers, size and parts), the others whole."""
    big = message("Big", body="x" * 5000)
    small = message("Small")
    backend = make_backend(account=WHOLE, limits=Limits(max_literal=2000))
    folder = backend.create_folder(unique(), FolderKind.MAIL)
    try:
        other_client.append(folder.id, big)
        other_client.append(folder.id, small)
        collection = backend.collection(folder)
        ids = [r.id for r in collection.changes().changed]
        fetches: list[str] = []
        for name in ("uid_fetch", "send_uid_fetch"):  # one by one, or pipelined
            original = getattr(Connection, name)

            def counting(
                self: Connection, uids: str, items: str, _original: Any = original, **kw: Any
            ) -> Any:
                fetches.append(items)
                return _original(self, uids, items, **kw)

            monkeypatch.setattr(Connection, name, counting)
        entries = {e.item.subject: e for e in collection.get(ids)}
        assert len(fetches) == 1
        assert "BODYSTRUCTURE" in fetches[0]
        assert "BODY.PEEK[]<0.2000>" in fetches[0]
        cut = entries["Big"]
        assert cut.raw is None
        assert cut.item.headers_only
        assert cut.item.size == len(big)
        assert cut.item.headers == big[: mime.header_block_end(big)]
        assert [(p.section, p.content_type) for p in cut.item.parts] == [("1", "text/plain")]
        assert entries["Small"].raw == small
        assert not entries["Small"].item.headers_only
    finally:
        backend.delete_folder(folder)


def test_fetch_body_has_the_parsed_envelope(backend: IMAPBackend, mailbox: Folder) -> None:
    """fetch_body() builds the message the same way (headers-only setting or not)."""
    content = CORPUS[0].read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    collection = backend.collection(mailbox)
    ref = collection.create(Message.new(content=content))
    whole = collection.fetch_body(ref.id)
    parsed = mime.parse(content)
    assert whole.raw == content
    assert (whole.item.envelope, whole.item.headers, whole.item.size) == (
        parsed.envelope,
        parsed.headers,
        parsed.size,
    )
    assert [p.section for p in whole.item.parts] == [p.section for p in parsed.parts]


@pytest.mark.parametrize(
    "data",
    [{}, {b"BODYSTRUCTURE": None}, {b"BODYSTRUCTURE": (b"text",)}, {b"BODYSTRUCTURE": ()}],
    ids=["missing", "nil", "truncated", "empty"],
)
def test_without_a_readable_bodystructure_the_source_is_parsed(data: dict[bytes, Any]) -> None:
    """No structure from the server (or one that cannot be read): mime.parse it is."""
    raw = (CORPUS[0].parent / "nested-rfc822.eml").read_bytes()
    assert imap._whole_message(raw, data) == mime.parse(raw)
