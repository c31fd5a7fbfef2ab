"""Mail messages: the items of mail folders, as an IMAP server describes them.

A :class:`Message` usually arrives *headers-only*: its flags, its :class:`Envelope`, its
size and the layout of its MIME parts (from ``BODYSTRUCTURE``), with no body. That is
normal, not an error. Bodies are loaded lazily: when a caller asks, the backend fetches
the full source into :attr:`Message.content`, or one part's bytes into
:attr:`MessagePart.data`, and returns an updated copy; the model itself never fetches.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from openprotocols.errors import InvalidItemError
from openprotocols.model._base import Address, Extended, extended_field, to_tuple

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Envelope", "Flag", "Message", "MessagePart"]


class Flag(enum.StrEnum):
    """The IMAP system flags (RFC 9051 §2.3.2), spelled as on the wire."""

    SEEN = "\\Seen"
    ANSWERED = "\\Answered"
    FLAGGED = "\\Flagged"
    DELETED = "\\Deleted"
    DRAFT = "\\Draft"


_SYSTEM_FLAGS: dict[str, Flag] = {flag.casefold(): flag for flag in Flag}


def _canonical(flag: str) -> str:
    """Spell a known system flag canonically (IMAP flags are case-insensitive)."""
    return _SYSTEM_FLAGS.get(flag.casefold(), flag)


def _is_system(flag: str) -> bool:
    return flag.startswith("\\")


def _to_flags(values: Iterable[str] | None) -> frozenset[str]:
    """attrs converter: flags as a frozenset, known system flags spelled canonically."""
    return frozenset(_canonical(flag) for flag in values or ())


def _split(values: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Split IMAP flags into system flags (``\\...``) and keywords."""
    flags = _to_flags(values)
    system = frozenset(flag for flag in flags if _is_system(flag))
    return system, flags - system


def _owner(instance: object) -> str:
    """Name an instance in an error message: its class, and its uid when it has one."""
    uid = getattr(instance, "uid", None)
    name = type(instance).__name__
    return f"{name} {uid!r}" if uid is not None else name


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    """attrs validator: ``None`` or an integer of at least 0."""
    if value is not None and value < 0:
        raise InvalidItemError(
            f"{_owner(instance)}: {attribute.name} must not be negative, got {value}"
        )


@attrs.frozen(kw_only=True)
class Envelope:
    """The addressing headers of a message, as in an IMAP ``ENVELOPE`` (RFC 9051 §7.5.2).

    ``from_`` is the ``From`` header (the trailing underscore because ``from`` is a Python
    keyword; imapclient spells it the same way). Like ``sender`` and the other address
    fields it is a tuple: RFC 5322 allows several authors. ``date`` is the ``Date``
    header, aware when it carried a zone; ``None`` when missing or unreadable.
    ``references`` (not part of the IMAP envelope) are the ``References`` message-ids.
    """

    date: datetime | None = None
    subject: str | None = None
    from_: tuple[Address, ...] = attrs.field(factory=tuple, converter=to_tuple)
    sender: tuple[Address, ...] = attrs.field(factory=tuple, converter=to_tuple)
    reply_to: tuple[Address, ...] = attrs.field(factory=tuple, converter=to_tuple)
    to: tuple[Address, ...] = attrs.field(factory=tuple, converter=to_tuple)
    cc: tuple[Address, ...] = attrs.field(factory=tuple, converter=to_tuple)
    bcc: tuple[Address, ...] = attrs.field(factory=tuple, converter=to_tuple)
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = attrs.field(factory=tuple, converter=to_tuple)


@attrs.frozen(kw_only=True)
class MessagePart:
    """One MIME part of a message, as ``BODYSTRUCTURE`` describes it.

    ``section`` is the IMAP part number (``"1"``, ``"1.2"``). ``content_type`` is
    ``type/subtype`` in lower case; multipart containers are listed too, so the tree can
    be rebuilt from the sections. ``size`` is the encoded size in bytes, ``encoding`` the
    ``Content-Transfer-Encoding``, ``disposition`` ``"inline"`` or ``"attachment"`` if
    given. ``data`` is the decoded content, or ``None`` until it is downloaded.
    """

    section: str
    content_type: str = "text/plain"
    charset: str | None = None
    size: int | None = attrs.field(default=None, validator=_non_negative)
    encoding: str | None = None
    filename: str | None = None
    disposition: str | None = None
    content_id: str | None = None
    data: bytes | None = None

    @property
    def is_attachment(self) -> bool:
        """Whether the part is marked as an attachment (``Content-Disposition: attachment``)."""
        return self.disposition is not None and self.disposition.lower() == "attachment"

    @property
    def is_multipart(self) -> bool:
        """Whether the part is a container of other parts."""
        return self.content_type.lower().startswith("multipart/")

    @property
    def downloaded(self) -> bool:
        """Whether ``data`` has been fetched."""
        return self.data is not None


@attrs.frozen(kw_only=True)
class Message:
    """A mail message in a folder.

    ``folder`` is the id of the folder holding it and ``uid`` its IMAP UID there; both
    are ``None`` for a message not stored yet (a draft being composed). Flags are kept in
    two sets: ``flags`` holds the system flags (``\\Seen``...; see :class:`Flag`) and
    ``keywords`` every other flag (``$Forwarded``, ``$Junk``, user labels); use
    :meth:`from_flags` or :meth:`with_flags` to sort a mixed set. ``modseq`` is the
    message's CONDSTORE mod-sequence (RFC 7162), if the server has them. ``internal_date``
    is when the server received it; ``size`` its RFC 822 size in bytes.

    ``headers`` is the raw header block and ``content`` the full RFC 5322 source; each is
    ``None`` until downloaded, and a headers-only message (:attr:`headers_only`) is the
    normal case. ``parts`` lists the MIME parts depth-first. ``extended`` keeps what the
    server said that the model has no field for (Gmail's ``X-GM-LABELS``...).
    """

    kind: ClassVar[str] = "mail"

    folder: str | None = None
    uid: int | None = attrs.field(default=None)
    flags: frozenset[str] = attrs.field(factory=frozenset, converter=_to_flags)
    keywords: frozenset[str] = attrs.field(factory=frozenset, converter=_to_flags)
    modseq: int | None = attrs.field(default=None, validator=_non_negative)
    internal_date: datetime | None = None
    size: int | None = attrs.field(default=None, validator=_non_negative)
    envelope: Envelope = attrs.field(factory=Envelope)
    headers: bytes | None = None
    content: bytes | None = None
    parts: tuple[MessagePart, ...] = attrs.field(factory=tuple, converter=to_tuple)
    extended: Extended = extended_field()

    @uid.validator
    def _check_uid(self, _attribute: attrs.Attribute[Any], uid: int | None) -> None:
        if uid is not None and uid < 1:
            raise InvalidItemError(f"Message: an IMAP UID is a positive number, got {uid}")

    @flags.validator
    def _check_flags(self, _attribute: attrs.Attribute[Any], flags: frozenset[str]) -> None:
        if keywords := sorted(flag for flag in flags if not _is_system(flag)):
            raise InvalidItemError(
                f"{_owner(self)}: {keywords} are keywords, not system flags; "
                "use Message.from_flags() to sort them"
            )

    @keywords.validator
    def _check_keywords(self, _attribute: attrs.Attribute[Any], keywords: frozenset[str]) -> None:
        if flags := sorted(flag for flag in keywords if _is_system(flag)):
            raise InvalidItemError(
                f"{_owner(self)}: {flags} are system flags, not keywords; "
                "use Message.from_flags() to sort them"
            )

    @classmethod
    def from_flags(cls, flags: Iterable[str], **fields: Any) -> Message:
        """Create a message from one mixed set of IMAP flags, as a ``FETCH FLAGS`` returns
        it, sorted into ``flags`` and ``keywords``."""
        system, keywords = _split(flags)
        return cls(flags=system, keywords=keywords, **fields)

    @classmethod
    def new(cls, *, flags: Iterable[str] = (Flag.DRAFT,), **fields: Any) -> Message:
        """Create a message to be stored or sent: a draft (``\\Draft``) unless ``flags``
        says otherwise, with no ``folder`` and no ``uid`` (the server assigns it).

        Envelope fields may be given directly, e.g.
        ``Message.new(subject="Hi", to=[Address("ann@example.org")], content=source)``.
        """
        envelope_fields = {
            name: fields.pop(name) for name in attrs.fields_dict(Envelope) if name in fields
        }
        envelope = attrs.evolve(fields.pop("envelope", Envelope()), **envelope_fields)
        return cls.from_flags(flags, envelope=envelope, **fields)

    @property
    def all_flags(self) -> frozenset[str]:
        """System flags and keywords together, as IMAP stores them."""
        return self.flags | self.keywords

    @property
    def is_seen(self) -> bool:
        """Whether the message has been read."""
        return Flag.SEEN in self.flags

    @property
    def is_answered(self) -> bool:
        """Whether the message has been answered."""
        return Flag.ANSWERED in self.flags

    @property
    def is_flagged(self) -> bool:
        """Whether the message is flagged for follow-up."""
        return Flag.FLAGGED in self.flags

    @property
    def is_deleted(self) -> bool:
        """Whether the message is marked for deletion (it goes on the next expunge)."""
        return Flag.DELETED in self.flags

    @property
    def is_draft(self) -> bool:
        """Whether the message is a draft."""
        return Flag.DRAFT in self.flags

    @property
    def headers_only(self) -> bool:
        """Whether the full source has not been downloaded (``content`` is ``None``)."""
        return self.content is None

    @property
    def subject(self) -> str | None:
        """The envelope's subject."""
        return self.envelope.subject

    @property
    def attachments(self) -> tuple[MessagePart, ...]:
        """The parts marked as attachments."""
        return tuple(part for part in self.parts if part.is_attachment)

    def part(self, section: str) -> MessagePart | None:
        """Return the part with IMAP section number ``section``, or ``None``."""
        return next((part for part in self.parts if part.section == section), None)

    def with_flags(self, *flags: str) -> Message:
        """Return a copy with ``flags`` added, each sorted into system flags or keywords."""
        system, keywords = _split(flags)
        return attrs.evolve(self, flags=self.flags | system, keywords=self.keywords | keywords)

    def without_flags(self, *flags: str) -> Message:
        """Return a copy with ``flags`` removed (system flags or keywords)."""
        system, keywords = _split(flags)
        return attrs.evolve(self, flags=self.flags - system, keywords=self.keywords - keywords)
