"""Bindings: a local folder tied to a remote collection, and how to keep them in step."""

from __future__ import annotations

import enum

import attrs

__all__ = ["Binding", "ConflictPolicy", "Direction"]


class Direction(enum.StrEnum):
    """Which way changes flow between the local folder and the remote collection."""

    TWO_WAY = "two-way"
    DOWNLOAD = "download"
    """Server to local only; local changes are kept locally and reported, never uploaded."""
    UPLOAD = "upload"
    """Local to server only (e.g. an export that keeps going)."""


class ConflictPolicy(enum.StrEnum):
    """What to do when both sides changed the same item since the last sync.

    Every policy keeps both versions: the losing one goes to the store's history, where
    it can be restored. Nothing is ever silently dropped.
    """

    KEEP_BOTH = "keep-both"
    """Keep the server's version in place and the local one as a conflict copy."""
    SERVER_WINS = "server-wins"
    LOCAL_WINS = "local-wins"
    NEWEST_WINS = "newest-wins"
    """By last-modified time; ties go to the server."""
    ASK = "ask"
    """Leave both untouched and queue the conflict for the user."""


@attrs.frozen(kw_only=True)
class Binding:
    """A local folder bound to a remote collection.

    ``backend`` is the registered backend name, ``collection`` the remote collection's id
    (a DAV URL, an IMAP mailbox path), ``account`` the account's e-mail address.
    This is a plain value; the sync engine attaches the behaviour (``sync()``).
    """

    local_folder: str
    backend: str
    collection: str
    account: str | None = None
    direction: Direction = attrs.field(default=Direction.TWO_WAY, converter=Direction)
    conflict_policy: ConflictPolicy = attrs.field(
        default=ConflictPolicy.KEEP_BOTH, converter=ConflictPolicy
    )
