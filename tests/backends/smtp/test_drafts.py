"""Drafts are replaced create-first, delete-second: a failure never loses a draft."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from openprotocols import sending
from openprotocols.backends.memory import MemoryCollection
from openprotocols.errors import ConflictError, ReadOnlyError
from openprotocols.formats import mime
from openprotocols.model import Address, Message
from openprotocols.model.mail import Flag

ALICE = Address("alice@example.test")


def draft(text: str) -> Message:
    """A draft with a Bcc recipient."""
    return mime.build(
        from_=ALICE, to=Address("to@example.test"), bcc=Address("b@example.test"), text=text
    )


def contents(folder: MemoryCollection) -> list[bytes]:
    """The sources of every message in ``folder``."""
    entries = folder.get(ref.id for ref in folder.list())
    return [e.item.content for e in entries if isinstance(e.item, Message) and e.item.content]


def test_a_draft_keeps_its_bcc_and_is_flagged(
    mail_folder: Callable[[str], MemoryCollection],
) -> None:
    drafts = mail_folder("Drafts")
    saved = sending.save_draft(drafts, draft("first\n"))
    stored = drafts.get_one(saved.ref.id).item
    assert isinstance(stored, Message)
    assert {Flag.DRAFT, Flag.SEEN} <= stored.flags
    assert b"Bcc: b@example.test" in (stored.content or b"")


def test_a_new_version_replaces_the_previous_one(
    mail_folder: Callable[[str], MemoryCollection],
) -> None:
    drafts = mail_folder("Drafts")
    first = sending.save_draft(drafts, draft("first\n"))
    second = sending.save_draft(drafts, draft("second\n"), replaces=first.ref)
    assert second.stale is None
    assert second.error is None
    (only,) = contents(drafts)
    assert b"second" in only


def test_a_previous_draft_changed_elsewhere_is_kept(
    mail_folder: Callable[[str], MemoryCollection],
) -> None:
    drafts = mail_folder("Drafts")
    first = sending.save_draft(drafts, draft("first\n"))
    edited = drafts.get_one(first.ref.id).item
    drafts.put(first.ref.id, attrs.evolve(edited, keywords={"$edited"}), if_match=first.ref.version)

    second = sending.save_draft(drafts, draft("second\n"), replaces=first.ref)

    assert second.stale == first.ref
    assert isinstance(second.error, ConflictError)
    assert len(contents(drafts)) == 2


def test_a_previous_draft_already_gone_is_fine(
    mail_folder: Callable[[str], MemoryCollection],
) -> None:
    drafts = mail_folder("Drafts")
    first = sending.save_draft(drafts, draft("first\n"))
    drafts.delete(first.ref.id, if_match=first.ref.version)
    second = sending.save_draft(drafts, draft("second\n"), replaces=first.ref)
    assert second.stale is None
    assert len(contents(drafts)) == 1


def test_when_the_new_draft_cannot_be_stored_the_old_one_stays(
    mail_folder: Callable[[str], MemoryCollection],
) -> None:
    drafts = mail_folder("Drafts")
    first = sending.save_draft(drafts, draft("first\n"))
    drafts.backend.read_only = True
    with pytest.raises(ReadOnlyError):
        sending.save_draft(drafts, draft("second\n"), replaces=first.ref)
    drafts.backend.read_only = False
    (only,) = contents(drafts)
    assert b"first" in only
