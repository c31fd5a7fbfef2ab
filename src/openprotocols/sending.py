"""Sending mail with its Sent copy, and saving drafts: the steps above the backends.

The SMTP backend only submits; the Sent and Drafts folders are mail collections of any
backend (IMAP, the local store, the memory backend). This module joins the two:

- :func:`send` submits a message through an :class:`~openprotocols.backends.smtp.SMTPBackend`
  and then creates its copy in the Sent collection, if one is given. The copy is
  :func:`openprotocols.formats.mime.for_sent_folder`: the bytes sent plus a ``Bcc`` header,
  so the Sent copy *keeps its Bcc recipients*, while the bytes on the wire carry none.
  The message is out once the server took it: a Sent copy that cannot be stored is
  reported in :attr:`SendResult.store_error`, never raised as if the sending had failed
  (which would invite a second, duplicate send).
- :func:`save_draft` creates the new version of a draft and only then deletes the
  previous one (conditionally, at the version the caller saw), so a failure between the
  two steps leaves two drafts, never none.

The folders are typed ``Collection[Any]``: a mail backend's ``Collection[Message]`` and a
generic store's ``Collection[Item]`` both fit (the collection checks the item's kind).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs

from openprotocols.backends.base import ItemRef
from openprotocols.backends.smtp import Submission
from openprotocols.errors import BackendError, NotFoundError
from openprotocols.formats import mime
from openprotocols.model.mail import Flag, Message

if TYPE_CHECKING:
    from openprotocols.backends.base import Collection
    from openprotocols.backends.smtp import SMTPBackend

__all__ = ["SavedDraft", "SendResult", "save_draft", "send"]

log = logging.getLogger(__name__)


@attrs.frozen
class SendResult:
    """What :func:`send` did.

    ``submission`` is what the server took (accepted and refused recipients);
    ``sent_copy`` the message for the Sent folder (with Bcc); ``stored`` where it was
    created there, or ``None`` (no Sent collection, or storing failed: ``store_error``
    says why, and ``sent_copy`` can be stored later).
    """

    submission: Submission
    sent_copy: Message
    stored: ItemRef | None = None
    store_error: BackendError | None = None


@attrs.frozen
class SavedDraft:
    """What :func:`save_draft` did: ``ref`` is the new draft. ``stale`` is the previous
    draft when it could not be deleted (``error`` says why); it is still in the folder."""

    ref: ItemRef
    stale: ItemRef | None = None
    error: BackendError | None = None


def send(
    smtp: SMTPBackend,
    message: Message,
    *,
    sent: Collection[Any] | None = None,
    allow_partial: bool = False,
) -> SendResult:
    """Submit ``message`` (built by :func:`openprotocols.formats.mime.build`) and store its
    copy, Bcc included and marked ``\\Seen``, in ``sent``.

    :raises BackendError: from :meth:`SMTPBackend.send
        <openprotocols.backends.smtp.SMTPBackend.send>`, when nothing was sent; errors
        storing the copy are returned in :attr:`SendResult.store_error` instead.
    """
    copy = attrs.evolve(
        mime.for_sent_folder(message), folder=None, uid=None, flags={Flag.SEEN}, keywords=()
    )
    submission = smtp.send(message, allow_partial=allow_partial)
    if sent is None:
        return SendResult(submission, copy)
    try:
        stored = sent.create(copy)
    except BackendError as exc:
        log.warning("Sent %s but could not store it in %r: %s", submission.message_id, sent, exc)
        return SendResult(submission, copy, store_error=exc)
    return SendResult(submission, copy, stored)


def save_draft(
    drafts: Collection[Any], message: Message, *, replaces: ItemRef | None = None
) -> SavedDraft:
    """Store ``message`` in ``drafts`` (Bcc kept, flagged ``\\Draft``), then delete the
    draft it replaces, if it is still at the version in ``replaces``.

    A previous draft already gone counts as deleted. One that changed meanwhile (another
    client edited it) or that could not be deleted stays, and is named in
    :attr:`SavedDraft.stale`: nothing the user wrote is lost.

    :raises BackendError: the new draft could not be created (the previous one is
        untouched).
    """
    draft = mime.for_sent_folder(message)
    draft = attrs.evolve(draft, folder=None, uid=None, flags=draft.flags | {Flag.DRAFT, Flag.SEEN})
    ref = drafts.create(draft)
    if replaces is None:
        return SavedDraft(ref)
    try:
        drafts.delete(replaces.id, if_match=replaces.version)
    except NotFoundError:
        pass
    except BackendError as exc:
        log.warning("Saved draft %s; the previous %s stays: %s", ref.id, replaces.id, exc)
        return SavedDraft(ref, stale=replaces, error=exc)
    return SavedDraft(ref)
