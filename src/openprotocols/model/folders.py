"""Folders: what a provider holds items in (a mailbox, a calendar, an address book)."""

from __future__ import annotations

import enum

import attrs

from ._base import Extended, extended_field

__all__ = ["Folder", "FolderKind", "FolderRole"]


class FolderKind(enum.StrEnum):
    """What a folder holds. Each item class names its kind in ``Item.kind``."""

    MAIL = "mail"
    CALENDAR = "calendar"
    TASKS = "tasks"
    CONTACTS = "contacts"


class FolderRole(enum.StrEnum):
    """The special purpose of a mail folder (RFC 6154 special-use), or ``NONE``."""

    NONE = "none"
    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    TRASH = "trash"
    JUNK = "junk"
    ARCHIVE = "archive"


def _color(value: str | None) -> str | None:
    """Normalise a colour to ``#RRGGBB`` or ``#RRGGBBAA`` (CalDAV's Apple extension style)."""
    if value is None:
        return None
    text = value.strip()
    digits = text.removeprefix("#")
    if len(digits) in (6, 8) and all(c in "0123456789abcdefABCDEF" for c in digits):
        return "#" + digits.upper()
    return text  # kept as the server wrote it: a colour is never worth losing data over


@attrs.frozen(kw_only=True)
class Folder:
    """A folder of items on one provider.

    ``id`` is the provider's stable name for it: an IMAP mailbox path, a DAV collection
    URL, a store folder key. ``parent`` is the parent folder's ``id`` (``None`` at the top).
    ``name`` is the last path segment as the protocol spells it; ``display_name`` what a
    person sees (a DAV displayname, a decoded IMAP name).
    """

    id: str
    kind: FolderKind = attrs.field(converter=FolderKind)
    name: str = ""
    display_name: str = ""
    role: FolderRole = attrs.field(default=FolderRole.NONE, converter=FolderRole)
    parent: str | None = None
    color: str | None = attrs.field(default=None, converter=_color)
    description: str | None = None
    read_only: bool = False
    extended: Extended = extended_field()

    def __attrs_post_init__(self) -> None:
        if not self.display_name:
            object.__setattr__(self, "display_name", self.name or self.id)

    @classmethod
    def new(
        cls,
        id: str,
        kind: FolderKind | str,
        *,
        name: str | None = None,
        display_name: str = "",
        role: FolderRole | str = FolderRole.NONE,
        parent: str | None = None,
        color: str | None = None,
    ) -> Folder:
        """Build a folder; ``name`` defaults to the last path segment of ``id``."""
        if name is None:
            name = id.rstrip("/").rsplit("/", 1)[-1]
        return cls(
            id=id,
            kind=FolderKind(kind),
            name=name,
            display_name=display_name,
            role=FolderRole(role),
            parent=parent,
            color=color,
        )
