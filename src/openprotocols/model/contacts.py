"""Contacts and contact groups: the items of contact folders (vCard, RFC 6350 and 2426).

Multi-valued vCard properties are tuples in their original order, and the model never
caps them at Outlook's slot counts: Outlook shows three e-mail addresses (the first three
of :attr:`Contact.emails`) and one phone number of each :class:`PhoneKind`, but a vCard
may hold more, and a sync must not drop them.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, ClassVar

import attrs

from openprotocols.errors import InvalidItemError
from openprotocols.model._base import (
    Address,
    Extended,
    extended_field,
    new_uid,
    to_params,
    to_tuple,
)

__all__ = [
    "AddressKind",
    "Contact",
    "ContactGroup",
    "EmailAddress",
    "Gender",
    "GroupMember",
    "PersonName",
    "Phone",
    "PhoneKind",
    "Photo",
    "PostalAddress",
]


class PhoneKind(enum.StrEnum):
    """What a phone number is for: Outlook's nineteen phone slots.

    vCard ``TEL`` types map onto these (``work`` to business, ``cell`` to mobile,
    ``fax`` with ``work`` to business-fax...); types with no slot (``text``, ``video``)
    stay in :attr:`Phone.params`.
    """

    ASSISTANT = "assistant"
    BUSINESS = "business"
    BUSINESS_2 = "business-2"
    BUSINESS_FAX = "business-fax"
    CALLBACK = "callback"
    CAR = "car"
    COMPANY_MAIN = "company-main"
    HOME = "home"
    HOME_2 = "home-2"
    HOME_FAX = "home-fax"
    ISDN = "isdn"
    MOBILE = "mobile"
    OTHER = "other"
    OTHER_FAX = "other-fax"
    PAGER = "pager"
    PRIMARY = "primary"
    RADIO = "radio"
    TELEX = "telex"
    TTY_TDD = "tty-tdd"


class AddressKind(enum.StrEnum):
    """Whether a postal or e-mail address is for work, home or something else."""

    BUSINESS = "business"
    HOME = "home"
    OTHER = "other"


class Gender(enum.StrEnum):
    """The sex component of vCard 4 ``GENDER`` (RFC 6350 §6.2.7); Outlook knows the first two."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    NONE = "none"
    UNKNOWN = "unknown"


@attrs.frozen(kw_only=True)
class PersonName:
    """The parts of a person's name (vCard ``N``). An empty name is falsy.

    ``middle`` is vCard's "additional names"; a part holding several names (vCard
    separates them with commas) is kept as written.
    """

    prefix: str | None = None
    given: str | None = None
    middle: str | None = None
    family: str | None = None
    suffix: str | None = None

    def __bool__(self) -> bool:
        return any((self.prefix, self.given, self.middle, self.family, self.suffix))

    @property
    def formatted(self) -> str:
        """The parts joined in Western order, e.g. ``"Dr. Ann B. Lee Jr."`` (may be empty)."""
        parts = (self.prefix, self.given, self.middle, self.family, self.suffix)
        return " ".join(part for part in parts if part)


@attrs.frozen
class Phone:
    """A phone number, as written, and what it is for.

    ``params`` keeps the ``TEL`` parameters the model has no field for (``PREF``, types
    without a :class:`PhoneKind`, ``X-...``) verbatim.
    """

    number: str
    kind: PhoneKind = PhoneKind.OTHER
    params: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=to_params)


@attrs.frozen
class EmailAddress:
    """An e-mail address of a contact, with the name to show for it (Outlook's "Display
    as") and, if the card says, whether it is for work or home. ``params`` as for
    :class:`Phone`."""

    address: str
    display_name: str | None = None
    kind: AddressKind | None = None
    params: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=to_params)

    @property
    def mailbox(self) -> Address:
        """The address as a mailbox, ready to put in a message."""
        return Address(self.address, self.display_name)


@attrs.frozen(kw_only=True)
class PostalAddress:
    """A postal address (vCard ``ADR``, RFC 6350 §6.3.1).

    ``region`` is the state or province; ``extended_address`` the apartment or suite;
    ``label`` the address as formatted for an envelope (vCard ``LABEL``), if given.
    ``params`` as for :class:`Phone`.
    """

    kind: AddressKind = AddressKind.OTHER
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    po_box: str | None = None
    extended_address: str | None = None
    label: str | None = None
    params: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=to_params)


@attrs.frozen(kw_only=True)
class Photo:
    """A contact's picture: inline ``data`` of ``content_type``, or a ``url`` to fetch it
    from (both when the fetched data is kept). At least one of ``data`` and ``url``."""

    data: bytes | None = None
    content_type: str | None = None
    url: str | None = attrs.field(default=None)

    @url.validator
    def _check_source(self, _attribute: attrs.Attribute[Any], url: str | None) -> None:
        if self.data is None and url is None:
            raise InvalidItemError("Photo: needs data or a url")


@attrs.frozen(kw_only=True)
class Contact:
    """A person in a contact folder (vCard ``KIND:individual``, or no ``KIND``).

    ``display_name`` is vCard ``FN``, ``file_as`` how Outlook sorts the card ("Lee, Ann").
    ``emails`` is ordered, the first three being Outlook's E-mail, E-mail 2 and E-mail 3;
    there may be more. ``im_addresses`` are as written, usually URIs
    (``xmpp:ann@example.org``). ``manager``, ``assistant`` and ``spouse`` are names.
    A ``birthday`` or ``anniversary`` without a year (vCard 4 ``--0415``) is stored with
    the year 1604, the convention Apple's clients use. ``last_modified`` is vCard ``REV``.
    """

    kind: ClassVar[str] = "contacts"

    uid: str
    name: PersonName = attrs.field(factory=PersonName)
    display_name: str | None = None
    file_as: str | None = None
    nickname: str | None = None
    emails: tuple[EmailAddress, ...] = attrs.field(factory=tuple, converter=to_tuple)
    phones: tuple[Phone, ...] = attrs.field(factory=tuple, converter=to_tuple)
    addresses: tuple[PostalAddress, ...] = attrs.field(factory=tuple, converter=to_tuple)
    company: str | None = None
    department: str | None = None
    job_title: str | None = None
    office: str | None = None
    manager: str | None = None
    assistant: str | None = None
    spouse: str | None = None
    children: tuple[str, ...] = attrs.field(factory=tuple, converter=to_tuple)
    birthday: date | None = None
    anniversary: date | None = None
    web_pages: tuple[str, ...] = attrs.field(factory=tuple, converter=to_tuple)
    im_addresses: tuple[str, ...] = attrs.field(factory=tuple, converter=to_tuple)
    notes: str | None = None
    photo: Photo | None = None
    gender: Gender | None = None
    categories: tuple[str, ...] = attrs.field(factory=tuple, converter=to_tuple)
    created: datetime | None = None
    last_modified: datetime | None = None
    extended: Extended = extended_field()

    @classmethod
    def new(
        cls, display_name: str | None = None, *, uid: str | None = None, **fields: Any
    ) -> Contact:
        """Create a contact with a new unique ``uid`` (unless one is given)."""
        return cls(uid=new_uid() if uid is None else uid, display_name=display_name, **fields)

    @property
    def email(self) -> str | None:
        """The first e-mail address, or ``None``."""
        return self.emails[0].address if self.emails else None

    def phone(self, kind: PhoneKind) -> str | None:
        """Return the first phone number of ``kind``, or ``None``."""
        return next((p.number for p in self.phones if p.kind is kind), None)

    def address(self, kind: AddressKind) -> PostalAddress | None:
        """Return the first postal address of ``kind``, or ``None``."""
        return next((a for a in self.addresses if a.kind is kind), None)


@attrs.frozen(kw_only=True)
class GroupMember:
    """A member of a contact group: a contact referenced by ``contact_uid``, a plain
    ``email`` address (Outlook's one-off member), or both. ``name`` is what to show."""

    name: str | None = None
    email: str | None = None
    contact_uid: str | None = attrs.field(default=None)

    @contact_uid.validator
    def _check_target(self, _attribute: attrs.Attribute[Any], contact_uid: str | None) -> None:
        if self.email is None and contact_uid is None:
            raise InvalidItemError(f"GroupMember {self.name!r}: needs an email or a contact_uid")


@attrs.frozen(kw_only=True)
class ContactGroup:
    """A distribution list in a contact folder (vCard 4 ``KIND:group`` with ``MEMBER``s,
    or Apple's ``X-ADDRESSBOOKSERVER-KIND:group``).

    Members keep their order; a member URI that is neither a mailbox nor a contact
    (``tel:``, ``sip:``) stays in ``extended`` as its raw property.
    """

    kind: ClassVar[str] = "contacts"

    uid: str
    display_name: str = ""
    members: tuple[GroupMember, ...] = attrs.field(factory=tuple, converter=to_tuple)
    notes: str | None = None
    categories: tuple[str, ...] = attrs.field(factory=tuple, converter=to_tuple)
    created: datetime | None = None
    last_modified: datetime | None = None
    extended: Extended = extended_field()

    @classmethod
    def new(cls, display_name: str, *, uid: str | None = None, **fields: Any) -> ContactGroup:
        """Create a group with a new unique ``uid`` (unless one is given)."""
        return cls(uid=new_uid() if uid is None else uid, display_name=display_name, **fields)

    @property
    def contact_uids(self) -> tuple[str, ...]:
        """The uids of the contacts the group references, in member order."""
        return tuple(m.contact_uid for m in self.members if m.contact_uid is not None)

    def with_member(self, member: GroupMember) -> ContactGroup:
        """Return a copy with ``member`` appended (unless it is already a member)."""
        if member in self.members:
            return self
        return attrs.evolve(self, members=(*self.members, member))
