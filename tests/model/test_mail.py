"""Mail messages, envelopes, parts and flags: construction, invariants and helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprotocols.errors import InvalidItemError
from openprotocols.model._base import Address, Extended, Item, RawProperty
from openprotocols.model.mail import Envelope, Flag, Message, MessagePart

ANN = Address("ann@example.org", "Ann")
BOB = Address("bob@example.org")

# IMAP flag atoms: system flags (any case, known or not) and keywords.
SYSTEM = st.sampled_from(["\\Seen", "\\seen", "\\ANSWERED", "\\Flagged", "\\Deleted", "\\Draft",
                          "\\Recent", "\\X-Unknown"])  # fmt: skip
KEYWORDS = st.from_regex(r"[$A-Za-z][A-Za-z0-9_.-]{0,15}", fullmatch=True)


def stored(**fields: object) -> Message:
    """A headers-only message as a server lists it, changed by ``fields``."""
    values: dict[str, object] = {
        "folder": "INBOX",
        "uid": 42,
        "size": 1234,
        "internal_date": datetime(2024, 5, 6, 9, 0, tzinfo=UTC),
        "envelope": Envelope(subject="Hello", from_=[ANN], to=[BOB]),
    }
    values.update(fields)
    return Message(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- flags


def test_system_flags_carry_their_backslash() -> None:
    """Flag values are the IMAP system flags as written on the wire."""
    assert [f.value for f in Flag] == ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]


def test_from_flags_sorts_system_flags_and_keywords() -> None:
    """One mixed set of flags is split into system flags and keywords."""
    message = Message.from_flags(["\\Seen", "$Forwarded", "\\Flagged", "Work"], uid=7)
    assert message.flags == {Flag.SEEN, Flag.FLAGGED}
    assert message.keywords == {"$Forwarded", "Work"}
    assert message.uid == 7


def test_known_system_flags_are_spelled_canonically() -> None:
    """IMAP flags are case-insensitive: ``\\seen`` from a server reads as ``\\Seen``."""
    message = Message.from_flags(["\\seen", "\\FLAGGED"])
    assert message.is_seen
    assert message.is_flagged
    assert message.flags == {"\\Seen", "\\Flagged"}


def test_unknown_system_flags_are_kept() -> None:
    """A system flag the model does not know (``\\Recent``) is kept among the flags."""
    assert Message.from_flags(["\\Recent"]).flags == {"\\Recent"}


@given(st.sets(st.one_of(SYSTEM, KEYWORDS), max_size=12))
def test_from_flags_keeps_every_flag(values: set[str]) -> None:
    """Splitting loses nothing: the union is the input, known flags canonically spelled."""
    message = Message.from_flags(values)
    canonical = {({f.lower(): f.value for f in Flag}).get(v.lower(), v) for v in values}
    assert message.all_flags == canonical
    assert all(f.startswith("\\") for f in message.flags)
    assert not any(k.startswith("\\") for k in message.keywords)


def test_a_keyword_among_system_flags_is_rejected() -> None:
    """``flags`` holds only system flags."""
    with pytest.raises(InvalidItemError, match="are keywords, not system flags"):
        Message(flags=["\\Seen", "$Junk"])


def test_a_system_flag_among_keywords_is_rejected() -> None:
    """``keywords`` holds no system flag."""
    with pytest.raises(InvalidItemError, match="are system flags, not keywords"):
        Message(keywords=["\\Seen"])


def test_flag_properties() -> None:
    """Each ``is_*`` property reads its system flag."""
    message = Message.from_flags(list(Flag))
    assert message.is_seen
    assert message.is_answered
    assert message.is_flagged
    assert message.is_deleted
    assert message.is_draft
    bare = Message()
    assert not any(
        (bare.is_seen, bare.is_answered, bare.is_flagged, bare.is_deleted, bare.is_draft)
    )


def test_with_and_without_flags() -> None:
    """Flags are added and removed on a copy, each into its own set."""
    message = stored()
    flagged = message.with_flags("\\seen", "$Important")
    assert flagged.is_seen
    assert flagged.keywords == {"$Important"}
    assert message.flags == message.keywords == frozenset()
    cleared = flagged.without_flags(Flag.SEEN, "$Important")
    assert cleared.all_flags == frozenset()
    assert cleared == message


# --------------------------------------------------------------------------- messages


def test_stored_message_is_headers_only() -> None:
    """A message listed by a server has no content, which is normal."""
    message = stored()
    assert message.headers_only
    assert message.content is None
    assert message.subject == "Hello"
    assert message.envelope.from_ == (ANN,)


def test_downloaded_message_is_not_headers_only() -> None:
    """Filling ``content`` makes the message complete; the original stays headers-only."""
    message = stored()
    full = attrs.evolve(message, content=b"Subject: Hello\r\n\r\nHi\r\n")
    assert not full.headers_only
    assert message.headers_only


def test_message_lives_in_mail_folders() -> None:
    """Messages name the mail folder kind and are Items (with an int or no uid)."""
    assert Message.kind == "mail"
    assert isinstance(stored(), Item)
    assert isinstance(Message(), Item)


def test_new_message_is_an_unstored_draft() -> None:
    """``new()`` makes a draft with no folder and no uid, envelope fields given directly."""
    draft = Message.new(subject="Hi", from_=[ANN], to=[BOB], content=b"...")
    assert draft.uid is None
    assert draft.folder is None
    assert draft.is_draft
    assert draft.envelope == Envelope(subject="Hi", from_=(ANN,), to=(BOB,))
    assert draft.content == b"..."


def test_new_message_with_own_flags_and_envelope() -> None:
    """``new()`` takes other flags, and envelope fields amend a given envelope."""
    message = Message.new(flags=["\\Seen", "$Sent"], envelope=Envelope(subject="A"), cc=[BOB])
    assert not message.is_draft
    assert message.keywords == {"$Sent"}
    assert message.envelope == Envelope(subject="A", cc=(BOB,))


def test_uid_must_be_positive() -> None:
    """IMAP UIDs are positive numbers."""
    with pytest.raises(InvalidItemError, match="positive"):
        stored(uid=0)
    assert stored(uid=1).uid == 1


@pytest.mark.parametrize("field", ["size", "modseq"])
def test_counts_cannot_be_negative(field: str) -> None:
    """Sizes and mod-sequences are never negative; zero is fine."""
    with pytest.raises(InvalidItemError, match=f"{field} must not be negative"):
        stored(**{field: -1})
    assert getattr(stored(**{field: 0}), field) == 0


def test_message_is_immutable() -> None:
    """Assigning to a field of a frozen message fails."""
    message = stored()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.uid = 43  # type: ignore[misc]


def test_lists_become_tuples_and_sets_frozensets() -> None:
    """Collections passed as lists are stored immutably."""
    message = stored(parts=[MessagePart(section="1")], flags=["\\Seen"], keywords=["x"])
    assert isinstance(message.parts, tuple)
    assert isinstance(message.flags, frozenset)
    assert isinstance(message.keywords, frozenset)
    envelope = Envelope(to=[ANN], cc=[BOB], references=["<a@x>", "<b@x>"])
    assert envelope.to == (ANN,)
    assert envelope.references == ("<a@x>", "<b@x>")


def test_equal_messages_are_equal_and_hash_alike() -> None:
    """Messages with equal fields are equal and hash alike."""
    first = stored(flags=["\\Seen"], parts=[MessagePart(section="1")])
    second = stored(flags={Flag.SEEN}, parts=(MessagePart(section="1"),))
    assert first == second
    assert hash(first) == hash(second)
    assert first != stored()


def test_extended_round_trips() -> None:
    """What the server said beyond the model is kept through evolve."""
    labels = RawProperty("X-GM-LABELS", '("\\\\Important" Work)')
    message = attrs.evolve(stored(extended=[labels]), uid=43)
    assert message.extended == Extended(properties=(labels,))


# --------------------------------------------------------------------------- parts


def test_parts_lookup_and_attachments() -> None:
    """Parts are found by section; attachments are those so disposed."""
    text = MessagePart(section="1.1", content_type="text/plain", charset="utf-8", size=10)
    html = MessagePart(section="1.2", content_type="text/html", size=20)
    pdf = MessagePart(
        section="2",
        content_type="application/pdf",
        filename="a.pdf",
        disposition="ATTACHMENT",
        encoding="base64",
        size=300,
    )
    container = MessagePart(section="1", content_type="multipart/alternative")
    message = stored(parts=[container, text, html, pdf])
    assert message.part("1.2") is html
    assert message.part("3") is None
    assert message.attachments == (pdf,)
    assert container.is_multipart
    assert not text.is_multipart


def test_part_data_is_loaded_lazily() -> None:
    """A part's data is None until the backend fills it in."""
    part = MessagePart(section="2", content_type="application/pdf")
    assert not part.downloaded
    loaded = attrs.evolve(part, data=b"%PDF")
    assert loaded.downloaded
    assert part.data is None


def test_part_size_cannot_be_negative() -> None:
    """A negative part size is rejected."""
    with pytest.raises(InvalidItemError, match="size must not be negative"):
        MessagePart(section="1", size=-5)


# --------------------------------------------------------------------------- all classes


@pytest.mark.parametrize("cls", [Envelope, MessagePart, Message])
def test_annotations_resolve_at_runtime(cls: type) -> None:
    """Every field's type resolves at runtime, as cattrs and ``attrs.resolve_types`` need."""
    attrs.resolve_types(cls)
    assert all(not isinstance(field.type, str) for field in attrs.fields(cls))
