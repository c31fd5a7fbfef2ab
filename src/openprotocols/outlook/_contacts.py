"""Contacts and distribution lists on MAPI properties (MS-OXOCNTC).

Outlook keeps a contact in fixed *slots*: three e-mail addresses, one phone number of each
of nineteen kinds, one business, home and other address, a business and a personal web
page, one IM address. The model is a vCard and holds lists. Writing fills the slots the way
Outlook does (the first e-mail is Email1, the first business phone is
``PidTagBusinessTelephoneNumber``…), so Outlook shows the item correctly; reading an item
Outlook made builds the lists from the slots alone.

What the slots cannot say — a fourth e-mail, two phones of one kind, the order of the
phones, vCard parameters, an address's extended part — goes into a *residue*: one named
property of our own set per list (:data:`PidNameOpenProtocolsContactEmails`…), holding the
whole list as JSON, written only when the slots alone would not give the list back.
Reading uses the residue while the slots still say what the residue says (nothing was
edited in Outlook); once someone edits the slots in Outlook, the slots win and only the
residue's entries that had no slot (the fourth e-mail, the second business phone) are
kept. Dates the SYSTIME type cannot hold (before 1601, or floating) work the same way,
one field at a time.

A distribution list keeps its members as entry ids in two parallel multi-valued binary
properties. Plain e-mail members are written as one-off entry ids (MS-OXCDATA 2.2.5.1,
:class:`OneOffEntryId`). A member that references a contact by uid cannot be written as a
``WrappedEntryId`` without a store to resolve the uid, so it is written as a one-off for
its address (Outlook shows and mails it) and the reference rides in the residue. Reading
understands one-off and wrapped entry ids and the large-list stream
(``PidLidDistributionListStream``); a wrapped reference to a contact becomes a
``contact_uid`` derived from the contact's entry id — the same uid this mapping derives for
the contact itself when it has no uid of ours (see :func:`derived_uid`).

The mapping tables are in ``docs/outlook.md`` (Contacts, Distribution lists).
"""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import attrs

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.model import Extended
from openprotocols.model.contacts import (
    AddressKind,
    Contact,
    ContactGroup,
    EmailAddress,
    Gender,
    GroupMember,
    PersonName,
    Phone,
    PhoneKind,
    Photo,
    PostalAddress,
)
from openprotocols.outlook import props as p
from openprotocols.outlook._common import midnight_utc, put_categories, utc
from openprotocols.outlook._mapping import Mapper, register
from openprotocols.outlook._propset import PropertySet

__all__ = [
    "ContactGroupMapper",
    "ContactMapper",
    "OneOffEntryId",
    "PidNameOpenProtocolsContactAddresses",
    "PidNameOpenProtocolsContactDates",
    "PidNameOpenProtocolsContactEmails",
    "PidNameOpenProtocolsContactGender",
    "PidNameOpenProtocolsContactImAddresses",
    "PidNameOpenProtocolsContactPhones",
    "PidNameOpenProtocolsContactPhoto",
    "PidNameOpenProtocolsContactUid",
    "PidNameOpenProtocolsContactWebPages",
    "PidNameOpenProtocolsGroupMembers",
    "WrappedEntryId",
    "derived_uid",
    "distribution_list_checksum",
    "file_under_id",
    "parse_distribution_list_stream",
]

_T = p.PropType
_OWN = p.PSETID_OPENPROTOCOLS


def _own(name: str, type_: p.PropType = _T.UNICODE) -> p.Named:
    return p.Named(_OWN, name=name, type=type_)


PidNameOpenProtocolsContactUid = _own("ContactUid")
"""The vCard UID of a contact or a distribution list."""
PidNameOpenProtocolsContactEmails = _own("ContactEmails")
"""Residue: every e-mail address as JSON ``[address, display name, kind, params]``."""
PidNameOpenProtocolsContactPhones = _own("ContactPhones")
"""Residue: every phone, in order, as JSON ``[number, kind, params]``."""
PidNameOpenProtocolsContactAddresses = _own("ContactAddresses")
"""Residue: every postal address, in order, as JSON objects of the model's fields."""
PidNameOpenProtocolsContactWebPages = _own("ContactWebPages")
"""Residue: every web page, in order (JSON list of strings)."""
PidNameOpenProtocolsContactImAddresses = _own("ContactImAddresses")
"""Residue: every IM address, in order (JSON list of strings)."""
PidNameOpenProtocolsContactGender = _own("ContactGender")
"""Residue: a gender Outlook has no value for (JSON list of one ``other`` or ``none``)."""
PidNameOpenProtocolsContactDates = _own("ContactDates")
"""Residue: dates SYSTIME cannot hold (before 1601, floating), JSON ``{field: ISO 8601}``."""
PidNameOpenProtocolsContactPhoto = _own("ContactPhoto")
"""The photo's URL and, for a photo with no data, its content type (JSON object)."""
PidNameOpenProtocolsGroupMembers = _own("GroupMembers")
"""Residue: every member of a distribution list as JSON ``[name, email, contact_uid]``."""

_UID_NAMESPACE = p.PSETID_OPENPROTOCOLS

CONTACT_CLASS = "IPM.Contact"
DIST_LIST_CLASS = "IPM.DistList"
FILE_UNDER_EMPTY = 0x00000000
FILE_UNDER_CUSTOM = -1  # 0xFFFFFFFF as the signed PtypInteger32 it is stored as
ATTACH_BY_VALUE = 1
PHOTO_FILENAME = "ContactPicture.jpg"
_SYSTIME_MIN = datetime(1601, 1, 1, tzinfo=UTC)


class _Malformed(ValueError):
    """A residue property of ours that does not have the shape we write."""


# -- entry ids (MS-OXCDATA 2.2.5.1, MS-OXOCNTC 2.2.2.2) ---------------------------------

ONE_OFF_PROVIDER = bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")
"""``ProviderUID`` of a one-off entry id (MS-OXCDATA 2.2.5.1)."""
WRAPPED_PROVIDER = bytes.fromhex("C091ADD3519DCF11A4A900AA0047FAA4")
"""``ProviderUID`` of a ``WrappedEntryId`` (MS-OXOCNTC 2.2.2.2.4.1.1)."""
ONE_OFF_UNICODE = 0x8000
"""Flag ``U``: the strings are UTF-16LE (``MAPI_ONE_OFF_UNICODE``)."""
ONE_OFF_NO_LOOKUP = 0x1000
"""Flag ``L``: do not look the address up in the address book."""
ONE_OFF_NO_RICH_INFO = 0x0001
"""Flag ``M``: send MIME, not TNEF (``MAPI_ONE_OFF_NO_RICH_INFO``)."""
ONE_OFF_FLAGS = ONE_OFF_UNICODE | ONE_OFF_NO_LOOKUP | ONE_OFF_NO_RICH_INFO
"""The flags Outlook writes for an SMTP one-off (the 16-bit word ``0x9001``)."""
_ENTRY_ID = "MAPI entry ID"


@attrs.frozen
class OneOffEntryId:
    """A one-off entry id: a recipient that is not in any address book, all in the id.

    Layout (MS-OXCDATA 2.2.5.1, little-endian): 4 zero bytes, the 16-byte one-off
    ``ProviderUID``, a 16-bit version (0), a 16-bit flags word, then the display name,
    the address type and the address, each null-terminated — UTF-16LE when the flags
    have :data:`ONE_OFF_UNICODE`, else 8-bit (read as Windows-1252).
    """

    display_name: str
    address_type: str
    address: str
    flags: int = ONE_OFF_FLAGS

    def to_bytes(self) -> bytes:
        """The entry id. A NUL inside a string cannot be written (it would end the
        string) and becomes U+FFFD; a character an 8-bit id cannot hold becomes ``?``."""
        unicode = bool(self.flags & ONE_OFF_UNICODE)
        head = bytes(4) + ONE_OFF_PROVIDER + struct.pack("<HH", 0, self.flags)
        return head + b"".join(
            _c_string(text, unicode)
            for text in (self.display_name, self.address_type, self.address)
        )

    @classmethod
    def parse(cls, data: bytes) -> OneOffEntryId:
        """Read a one-off entry id.

        :raises ParseError: the bytes are not one (another provider, truncated,
            unterminated strings, bytes left over).
        """
        if len(data) < 24:
            raise ParseError(
                "a one-off entry ID has a 24-byte header", format=_ENTRY_ID, offset=len(data)
            )
        if data[4:20] != ONE_OFF_PROVIDER:
            raise ParseError("not a one-off entry ID (provider UID)", format=_ENTRY_ID, offset=4)
        version, flags = struct.unpack_from("<HH", data, 20)
        if version != 0:
            raise ParseError(f"one-off entry ID version {version}", format=_ENTRY_ID, offset=20)
        unicode = bool(flags & ONE_OFF_UNICODE)
        offset = 24
        texts: list[str] = []
        for _ in range(3):
            text, offset = _read_c_string(data, offset, unicode)
            texts.append(text)
        if data[offset:].strip(b"\0"):
            raise ParseError("bytes after a one-off entry ID", format=_ENTRY_ID, offset=offset)
        return cls(texts[0], texts[1], texts[2], flags)


def _c_string(text: str, unicode: bool) -> bytes:
    text = text.replace("\0", "\ufffd")
    if unicode:
        return text.encode("utf-16-le", "surrogatepass") + b"\0\0"
    return text.encode("cp1252", "replace") + b"\0"


def _read_c_string(data: bytes, offset: int, unicode: bool) -> tuple[str, int]:
    if unicode:
        end = offset
        while end + 1 < len(data) and (data[end] or data[end + 1]):
            end += 2
        if end + 1 >= len(data):
            raise ParseError("an unterminated string", format=_ENTRY_ID, offset=offset)
        return data[offset:end].decode("utf-16-le", "surrogatepass"), end + 2
    end = data.find(b"\0", offset)
    if end < 0:
        raise ParseError("an unterminated string", format=_ENTRY_ID, offset=offset)
    return data[offset:end].decode("cp1252", "replace"), end + 1


@attrs.frozen
class WrappedEntryId:
    """A ``WrappedEntryId`` (MS-OXOCNTC 2.2.2.2.4.1.1): a member of a distribution list
    that is an object of a store or an address book.

    Layout: 4 zero bytes, the 16-byte wrapped ``ProviderUID``, one ``type`` byte, then
    the embedded entry id. The low 4 bits of ``type`` say what is embedded: 0 a one-off
    entry id, 3 a contact, 4 a distribution list (both message entry ids of a store),
    5 and 6 a user and a list of the global address list.
    """

    type: int
    embedded: bytes

    ONE_OFF: ClassVar[int] = 0
    CONTACT: ClassVar[int] = 3
    DIST_LIST: ClassVar[int] = 4

    @property
    def kind(self) -> int:
        """What is embedded (the low 4 bits of :attr:`type`)."""
        return self.type & 0x0F

    def to_bytes(self) -> bytes:
        """The entry id."""
        return bytes(4) + WRAPPED_PROVIDER + bytes([self.type]) + self.embedded

    @classmethod
    def parse(cls, data: bytes) -> WrappedEntryId:
        """Read a wrapped entry id.

        :raises ParseError: the bytes are not one.
        """
        if len(data) < 21:
            raise ParseError(
                "a wrapped entry ID has a 21-byte header", format=_ENTRY_ID, offset=len(data)
            )
        if data[4:20] != WRAPPED_PROVIDER:
            raise ParseError("not a wrapped entry ID (provider UID)", format=_ENTRY_ID, offset=4)
        return cls(data[20], data[21:])


def distribution_list_checksum(members: Iterable[bytes]) -> int:
    """``PidLidDistributionListChecksum`` of the members' entry ids (MS-OXOCNTC 3.1.5.11):
    the CRC-32 of IEEE 802.3 (polynomial ``0xEDB88320``) over every byte of every entry
    id, seeded with 0 and neither pre- nor post-inverted — unlike zlib's CRC-32, which
    inverts both, hence the inversions here. Returned as the signed 32-bit value stored."""
    state = 0xFFFFFFFF  # zlib's view of a raw register of 0
    for member in members:
        state = zlib.crc32(member, state)
    return _int32(state ^ 0xFFFFFFFF)


_STREAM_HEADER = struct.Struct("<HHIIIIII")


def parse_distribution_list_stream(data: bytes) -> list[tuple[bytes, bytes | None]]:
    """The members of ``PidLidDistributionListStream`` (MS-OXOCNTC 2.2.2.2.4): each
    member's entry id and its one-off entry id (``None`` when it has none).

    :raises ParseError: the stream is malformed.
    """
    if len(data) < _STREAM_HEADER.size:
        raise ParseError("a distribution list stream is too short", format=_ENTRY_ID, offset=0)
    version, _reserved, _build, _flags, count, *_sizes = _STREAM_HEADER.unpack_from(data)
    if version != 1:
        raise ParseError(f"distribution list stream version {version}", format=_ENTRY_ID)
    offset = _STREAM_HEADER.size
    members: list[tuple[bytes, bytes | None]] = []
    for _ in range(count):  # each member takes at least 12 bytes, so a bogus count fails fast
        entry_id, offset = _sized(data, offset)
        one_off, offset = _sized(data, offset)
        _extra, offset = _sized(data, offset)
        members.append((entry_id, one_off or None))
    return members


def _sized(data: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(data):
        raise ParseError("a distribution list stream ends early", format=_ENTRY_ID, offset=offset)
    (size,) = struct.unpack_from("<I", data, offset)
    end = offset + 4 + size
    if end > len(data):
        raise ParseError("a member runs past the stream", format=_ENTRY_ID, offset=offset)
    return data[offset + 4 : end], end


def _int32(value: int) -> int:
    """An unsigned 32-bit value as the signed PtypInteger32 it is stored as."""
    return value - (1 << 32) if value >= 1 << 31 else value


def derived_uid(entry_id: bytes) -> str:
    """The uid of an item Outlook made, derived from its entry id (a version 5 UUID).

    A distribution list's reference to a contact embeds the contact's entry id, so a
    member and the contact it references get the same uid.
    """
    return str(uuid.uuid5(_UID_NAMESPACE, "mapi-entryid:" + entry_id.hex().upper()))


def _uid(props: PropertySet) -> str:
    """Our uid, else one derived from the entry id, the search key or the record key,
    else from the content (stable as long as nothing changes)."""
    kept = props.text(PidNameOpenProtocolsContactUid)
    if kept is not None:
        return kept
    entry_id = props.binary(p.PidTagEntryId)
    if entry_id:
        return derived_uid(entry_id)
    for key in (p.PidTagSearchKey, p.PidTagRecordKey):
        value = props.binary(key)
        if value:
            return str(uuid.uuid5(_UID_NAMESPACE, f"{key}:{value.hex().upper()}"))
    digest = hashlib.sha256()
    for each in sorted(props, key=str):
        digest.update(f"{each}={props[each]!r}\0".encode("utf-8", "surrogatepass"))
    return str(uuid.uuid5(_UID_NAMESPACE, "mapi-content:" + digest.hexdigest()))


# -- residues: what the slots cannot say ------------------------------------------------

_Item = TypeVar("_Item")


@attrs.frozen
class _Slots(Generic[_Item]):
    """How one list of the model sits in Outlook's slots, and in its residue."""

    keys: frozenset[p.PropertyKey]
    """Every property :attr:`write` may set (and :attr:`read` looks at)."""
    residue: p.Named
    write: Callable[[PropertySet, Sequence[_Item]], None]
    read: Callable[[PropertySet], list[_Item]]
    stale: Callable[[list[_Item], list[_Item]], list[_Item]]
    """The list after an edit in Outlook, from the slots' list and the residue's."""
    dump: Callable[[_Item], Any]
    load: Callable[[Any], _Item]


def _put_list(props: PropertySet, slots: _Slots[_Item], items: Sequence[_Item]) -> None:
    fresh = PropertySet()
    slots.write(fresh, items)
    props.update(fresh)
    if slots.read(fresh) != list(items):
        props[slots.residue] = _dumps([slots.dump(item) for item in items])


def _get_list(props: PropertySet, slots: _Slots[_Item]) -> list[_Item]:
    current = slots.read(props)
    kept = _loads(props, slots.residue)
    if kept is None:
        return current
    try:
        if not isinstance(kept, list):
            raise _Malformed("not a list")
        items = [slots.load(one) for one in kept]
    except (_Malformed, ValueError, TypeError) as exc:
        raise InvalidItemError(f"{slots.residue}: malformed ({exc})") from exc
    fresh = PropertySet()
    slots.write(fresh, items)
    if dict(fresh) == {key: props[key] for key in slots.keys if key in props}:
        return items
    return slots.stale(current, items)  # edited in Outlook: the slots win


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _loads(props: PropertySet, key: p.Named) -> Any:
    text = props.text(key)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidItemError(f"{key}: not JSON ({exc})") from exc


def _keep_after(count: int) -> Callable[[list[_Item], list[_Item]], list[_Item]]:
    """A :attr:`_Slots.stale` for lists whose first ``count`` items have slots: the
    slots' items, then the residue's items that had none."""
    return lambda current, kept: current + kept[count:]


def _keep_unslotted(
    kind: Callable[[_Item], Any],
) -> Callable[[list[_Item], list[_Item]], list[_Item]]:
    """A :attr:`_Slots.stale` for lists slotted by kind: the slots' items, then the
    residue's items that were not the first of their kind."""

    def stale(current: list[_Item], kept: list[_Item]) -> list[_Item]:
        firsts = set(_first_indexes(kept, kind))
        return current + [item for i, item in enumerate(kept) if i not in firsts]

    return stale


def _first_indexes(items: Sequence[_Item], kind: Callable[[_Item], Any]) -> Iterator[int]:
    """The index of the first item of each kind, in list order."""
    seen: set[Any] = set()
    for index, item in enumerate(items):
        if kind(item) not in seen:
            seen.add(kind(item))
            yield index


def _firsts(items: Sequence[_Item], kind: Callable[[_Item], Any]) -> list[_Item]:
    """The first item of each kind, in list order."""
    return [items[i] for i in _first_indexes(items, kind)]


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Malformed(f"{value!r:.40} is not a string")
    return value


def _opt(value: Any) -> str | None:
    return None if value is None else _str(value)


def _params(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise _Malformed("parameters are not a list")
    pairs = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise _Malformed("a parameter is not a pair")
        pairs.append((_str(pair[0]), _str(pair[1])))
    return tuple(pairs)


def _fields(value: Any, count: int) -> list[Any]:
    if not isinstance(value, list) or len(value) != count:
        raise _Malformed(f"not a list of {count}")
    return value


def _mapi_text(text: str) -> str:
    """Model text (``\\n`` line breaks) as MAPI stores it (``\\r\\n``)."""
    return text.replace("\n", "\r\n")


def _model_text(text: str) -> str:
    """The inverse of :func:`_mapi_text`."""
    return text.replace("\r\n", "\n")


def _set(props: PropertySet, key: p.PropertyKey, value: str | None) -> None:
    """Set a string property unless the value is ``None`` (an empty string is kept)."""
    if value is not None:
        props[key] = value


# -- e-mail addresses (MS-OXOCNTC 2.2.1.2) ------------------------------------------------

_EMAIL_SLOTS = (
    (
        p.PidLidEmail1DisplayName,
        p.PidLidEmail1AddressType,
        p.PidLidEmail1EmailAddress,
        p.PidLidEmail1OriginalDisplayName,
        p.PidLidEmail1OriginalEntryId,
    ),
    (
        p.PidLidEmail2DisplayName,
        p.PidLidEmail2AddressType,
        p.PidLidEmail2EmailAddress,
        p.PidLidEmail2OriginalDisplayName,
        p.PidLidEmail2OriginalEntryId,
    ),
    (
        p.PidLidEmail3DisplayName,
        p.PidLidEmail3AddressType,
        p.PidLidEmail3EmailAddress,
        p.PidLidEmail3OriginalDisplayName,
        p.PidLidEmail3OriginalEntryId,
    ),
)
ADDRESS_TYPE_PARAM = "X-MAPI-ADDRTYPE"
"""The parameter that keeps an address type other than ``SMTP`` (an Exchange ``EX``)."""


def _address_type(email: EmailAddress) -> str:
    return next((v for k, v in email.params if k.upper() == ADDRESS_TYPE_PARAM), "SMTP")


def _write_emails(props: PropertySet, emails: Sequence[EmailAddress]) -> None:
    for email, (name, type_, address, original, entry_id) in zip(
        emails, _EMAIL_SLOTS, strict=False
    ):
        kind = _address_type(email)
        props[address] = email.address
        props[type_] = kind
        props[original] = email.address
        _set(props, name, email.display_name)
        if kind == "SMTP":
            shown = email.display_name or email.address
            props[entry_id] = OneOffEntryId(shown, "SMTP", email.address).to_bytes()


def _read_emails(props: PropertySet) -> list[EmailAddress]:
    emails = []
    for name, type_, address, _original, _entry_id in _EMAIL_SLOTS:
        value = props.text(address)
        if value is None:
            continue
        kind = props.text(type_)
        params = () if kind in (None, "SMTP") else ((ADDRESS_TYPE_PARAM, kind),)
        emails.append(EmailAddress(value, props.text(name), None, params))
    return emails


def _load_email(value: Any) -> EmailAddress:
    address, name, kind, params = _fields(value, 4)
    return EmailAddress(
        _str(address),
        _opt(name),
        None if kind is None else AddressKind(_str(kind)),
        _params(params),
    )


_EMAILS = _Slots[EmailAddress](
    keys=frozenset(key for slot in _EMAIL_SLOTS for key in slot),
    residue=PidNameOpenProtocolsContactEmails,
    write=_write_emails,
    read=_read_emails,
    stale=_keep_after(3),
    dump=lambda e: [e.address, e.display_name, e.kind, [list(pair) for pair in e.params]],
    load=_load_email,
)


# -- phones (MS-OXOCNTC 2.2.1.4) -----------------------------------------------------------

PHONE_TAGS: dict[PhoneKind, p.Tag] = {
    PhoneKind.ASSISTANT: p.PidTagAssistantTelephoneNumber,
    PhoneKind.BUSINESS: p.PidTagBusinessTelephoneNumber,
    PhoneKind.BUSINESS_2: p.PidTagBusiness2TelephoneNumber,
    PhoneKind.BUSINESS_FAX: p.PidTagBusinessFaxNumber,
    PhoneKind.CALLBACK: p.PidTagCallbackTelephoneNumber,
    PhoneKind.CAR: p.PidTagCarTelephoneNumber,
    PhoneKind.COMPANY_MAIN: p.PidTagCompanyMainTelephoneNumber,
    PhoneKind.HOME: p.PidTagHomeTelephoneNumber,
    PhoneKind.HOME_2: p.PidTagHome2TelephoneNumber,
    PhoneKind.HOME_FAX: p.PidTagHomeFaxNumber,
    PhoneKind.ISDN: p.PidTagIsdnNumber,
    PhoneKind.MOBILE: p.PidTagMobileTelephoneNumber,
    PhoneKind.OTHER: p.PidTagOtherTelephoneNumber,
    PhoneKind.OTHER_FAX: p.PidTagPrimaryFaxNumber,
    PhoneKind.PAGER: p.PidTagPagerTelephoneNumber,
    PhoneKind.PRIMARY: p.PidTagPrimaryTelephoneNumber,
    PhoneKind.RADIO: p.PidTagRadioTelephoneNumber,
    PhoneKind.TELEX: p.PidTagTelexNumber,
    PhoneKind.TTY_TDD: p.PidTagTtyTddPhoneNumber,
}
"""Each phone kind's property. Outlook's "Other Fax" is ``PidTagPrimaryFaxNumber``."""


def _write_phones(props: PropertySet, phones: Sequence[Phone]) -> None:
    for phone in _firsts(phones, lambda one: one.kind):
        props[PHONE_TAGS[phone.kind]] = phone.number


def _read_phones(props: PropertySet) -> list[Phone]:
    return [
        Phone(number, kind)
        for kind, tag in PHONE_TAGS.items()
        if (number := props.text(tag)) is not None
    ]


def _load_phone(value: Any) -> Phone:
    number, kind, params = _fields(value, 3)
    return Phone(_str(number), PhoneKind(_str(kind)), _params(params))


_PHONES = _Slots[Phone](
    keys=frozenset(PHONE_TAGS.values()),
    residue=PidNameOpenProtocolsContactPhones,
    write=_write_phones,
    read=_read_phones,
    stale=_keep_unslotted(lambda phone: phone.kind),
    dump=lambda ph: [ph.number, ph.kind, [list(pair) for pair in ph.params]],
    load=_load_phone,
)


# -- postal addresses (MS-OXOCNTC 2.2.1.3) ------------------------------------------------

_ADDRESS_PARTS = ("street", "city", "region", "postal_code", "country", "po_box")
_ADDRESS_GROUPS: dict[AddressKind, tuple[tuple[p.PropertyKey, ...], p.PropertyKey, int]] = {
    AddressKind.BUSINESS: (
        (
            p.PidLidWorkAddressStreet,
            p.PidLidWorkAddressCity,
            p.PidLidWorkAddressState,
            p.PidLidWorkAddressPostalCode,
            p.PidLidWorkAddressCountry,
            p.PidLidWorkAddressPostOfficeBox,
        ),
        p.PidLidWorkAddress,
        2,
    ),
    AddressKind.HOME: (
        (
            p.PidTagHomeAddressStreet,
            p.PidTagHomeAddressCity,
            p.PidTagHomeAddressStateOrProvince,
            p.PidTagHomeAddressPostalCode,
            p.PidTagHomeAddressCountry,
            p.PidTagHomeAddressPostOfficeBox,
        ),
        p.PidLidHomeAddress,
        1,
    ),
    AddressKind.OTHER: (
        (
            p.PidTagOtherAddressStreet,
            p.PidTagOtherAddressCity,
            p.PidTagOtherAddressStateOrProvince,
            p.PidTagOtherAddressPostalCode,
            p.PidTagOtherAddressCountry,
            p.PidTagOtherAddressPostOfficeBox,
        ),
        p.PidLidOtherAddress,
        3,
    ),
}
"""Each kind's part properties (in :data:`_ADDRESS_PARTS` order), its full-text property
and its ``PidLidPostalAddressId`` value."""
_MAILING_PARTS = (
    p.PidTagStreetAddress,
    p.PidTagLocality,
    p.PidTagStateOrProvince,
    p.PidTagPostalCode,
    p.PidTagCountry,
    p.PidTagPostOfficeBox,
)
"""The mailing address: a copy of the address ``PidLidPostalAddressId`` names."""
NO_MAILING_ADDRESS = 0
MAILING_MARK = ("TYPE", "pref")
"""The parameter a mailing address reads with (Outlook's own vCard export marks it so)."""


def _is_mailing(address: PostalAddress) -> bool:
    for name, value in address.params:
        if name.upper() == "PREF":
            return True
        if name.upper() in ("TYPE", "") and "pref" in (t.strip().lower() for t in value.split(",")):
            return True
    return False


def _full_address(address: PostalAddress) -> str:
    """The address as one text, as Outlook composes it when none is given: street;
    city, region and postal code; country — one line each (``\\n``-separated)."""
    tail = " ".join(part for part in (address.region, address.postal_code) if part)
    locality = ", ".join(part for part in (address.city, tail) if part)
    return "\n".join(line for line in (address.street, locality, address.country) if line)


def _write_addresses(props: PropertySet, addresses: Sequence[PostalAddress]) -> None:
    firsts = list(_firsts(addresses, lambda one: one.kind))
    mailing = next((one for one in firsts if _is_mailing(one)), None)
    for address in firsts:
        keys, full_key, mailing_id = _ADDRESS_GROUPS[address.kind]
        parts = [getattr(address, name) for name in _ADDRESS_PARTS]
        full = address.label if address.label is not None else _full_address(address)
        for key, value in zip(keys, parts, strict=True):
            _set(props, key, None if value is None else _mapi_text(value))
        props.put(full_key, _mapi_text(full))
        if address is mailing:
            props[p.PidLidPostalAddressId] = mailing_id
            for key, value in zip(_MAILING_PARTS, parts, strict=True):
                _set(props, key, None if value is None else _mapi_text(value))
            props.put(p.PidTagPostalAddress, _mapi_text(full))
    if firsts and mailing is None:
        props[p.PidLidPostalAddressId] = NO_MAILING_ADDRESS


def _read_addresses(props: PropertySet) -> list[PostalAddress]:
    mailing_id = props.number(p.PidLidPostalAddressId)
    addresses = []
    for kind, (keys, full_key, kind_id) in _ADDRESS_GROUPS.items():
        if not any(key in props for key in (*keys, full_key)):
            continue
        texts = {name: props.text(key) for name, key in zip(_ADDRESS_PARTS, keys, strict=True)}
        parts = {name: None if text is None else _model_text(text) for name, text in texts.items()}
        address = PostalAddress(
            kind=kind, params=(MAILING_MARK,) if mailing_id == kind_id else (), **parts
        )
        full = props.text(full_key)
        if full is not None and _model_text(full) != _full_address(address):
            address = attrs.evolve(address, label=_model_text(full))
        addresses.append(address)
    return addresses


def _dump_address(address: PostalAddress) -> dict[str, Any]:
    fields = {
        name: getattr(address, name) for name in (*_ADDRESS_PARTS, "extended_address", "label")
    }
    return {"kind": address.kind, **fields, "params": [list(pair) for pair in address.params]}


def _load_address(value: Any) -> PostalAddress:
    if not isinstance(value, dict):
        raise _Malformed("an address is not an object")
    texts = {name: _opt(value.get(name)) for name in (*_ADDRESS_PARTS, "extended_address", "label")}
    return PostalAddress(
        kind=AddressKind(_str(value.get("kind"))), params=_params(value.get("params")), **texts
    )


_ADDRESSES = _Slots[PostalAddress](
    keys=frozenset(
        {
            p.PidLidPostalAddressId,
            p.PidTagPostalAddress,
            *_MAILING_PARTS,
            *(key for keys, full, _ in _ADDRESS_GROUPS.values() for key in (*keys, full)),
        }
    ),
    residue=PidNameOpenProtocolsContactAddresses,
    write=_write_addresses,
    read=_read_addresses,
    stale=_keep_unslotted(lambda address: address.kind),
    dump=_dump_address,
    load=_load_address,
)


# -- web pages, IM, gender ---------------------------------------------------------------


def _write_web_pages(props: PropertySet, pages: Sequence[str]) -> None:
    if pages:
        props[p.PidTagBusinessHomePage] = pages[0]
        props[p.PidLidHtml] = pages[0]  # Outlook's "Web page address"; it writes both
    if len(pages) > 1:
        props[p.PidTagPersonalHomePage] = pages[1]


def _read_web_pages(props: PropertySet) -> list[str]:
    business, html = props.text(p.PidTagBusinessHomePage), props.text(p.PidLidHtml)
    personal = props.text(p.PidTagPersonalHomePage)
    first = business if business is not None else html
    pages = [page for page in (first, personal) if page is not None]
    if business is not None and html is not None and html != business:
        pages.append(html)
    return pages


_WEB_PAGES = _Slots[str](
    keys=frozenset({p.PidTagBusinessHomePage, p.PidLidHtml, p.PidTagPersonalHomePage}),
    residue=PidNameOpenProtocolsContactWebPages,
    write=_write_web_pages,
    read=_read_web_pages,
    stale=_keep_after(2),
    dump=lambda page: page,
    load=_str,
)


def _write_im(props: PropertySet, addresses: Sequence[str]) -> None:
    if addresses:
        props[p.PidLidInstantMessagingAddress] = addresses[0]


def _read_im(props: PropertySet) -> list[str]:
    address = props.text(p.PidLidInstantMessagingAddress)
    return [] if address is None else [address]


_IM = _Slots[str](
    keys=frozenset({p.PidLidInstantMessagingAddress}),
    residue=PidNameOpenProtocolsContactImAddresses,
    write=_write_im,
    read=_read_im,
    stale=_keep_after(1),
    dump=lambda address: address,
    load=_str,
)

GENDERS = {Gender.UNKNOWN: 0, Gender.FEMALE: 1, Gender.MALE: 2}
"""``PidTagGender`` values (MS-OXOCNTC 2.2.1.10.3); other and none are written as 0."""


def _write_gender(props: PropertySet, gender: Sequence[Gender]) -> None:
    if gender:
        props[p.PidTagGender] = GENDERS.get(gender[0], 0)


def _read_gender(props: PropertySet) -> list[Gender]:
    value = props.number(p.PidTagGender)
    if value is None:
        return []
    return [next((g for g, v in GENDERS.items() if v == value), Gender.UNKNOWN)]


_GENDER = _Slots[Gender](
    keys=frozenset({p.PidTagGender}),
    residue=PidNameOpenProtocolsContactGender,
    write=_write_gender,
    read=_read_gender,
    stale=lambda current, _kept: current,
    dump=lambda gender: gender,
    load=lambda value: Gender(_str(value)),
)


# -- dates ---------------------------------------------------------------------------------

_DATE_FIELDS: dict[str, tuple[p.PropertyKey, ...]] = {
    "birthday": (p.PidTagBirthday, p.PidLidBirthdayLocal),
    "anniversary": (p.PidTagWeddingAnniversary, p.PidLidWeddingAnniversaryLocal),
    "created": (p.PidTagCreationTime,),
    "last_modified": (p.PidTagLastModificationTime,),
}


def _write_date(props: PropertySet, field: str, value: date | datetime | None) -> None:
    """A birthday as Outlook 2010 writes it: ``PidTagBirthday`` and ``PidLidBirthdayLocal``,
    both at midnight UTC of the day; a time as its UTC instant (a floating time as if it
    were UTC). Nothing for a value before 1601, which SYSTIME cannot hold."""
    if value is None:
        return
    if isinstance(value, datetime):
        moment = utc(value) if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    else:
        moment = midnight_utc(value)
    if moment >= _SYSTIME_MIN:
        for key in _DATE_FIELDS[field]:
            props[key] = moment


def _read_date(props: PropertySet, field: str) -> date | datetime | None:
    keys = _DATE_FIELDS[field]
    if len(keys) == 1:
        return props.time(keys[0])
    utc_day, local_day = (props.time(key) for key in keys)
    if local_day is not None:  # midnight of the day, "without any time zone conversion"
        return utc(local_day).date()
    if utc_day is not None:  # local midnight in UTC: from 12:00 on, it is the next day's
        return (utc(utc_day) + timedelta(hours=12)).date()
    return None


def _put_dates(props: PropertySet, values: dict[str, date | datetime | None]) -> None:
    residue: dict[str, str] = {}
    for field, value in values.items():
        fresh = PropertySet()
        _write_date(fresh, field, value)
        props.update(fresh)
        if value is not None and _read_date(fresh, field) != value:
            residue[field] = value.isoformat()  # before 1601, or floating
    if residue:
        props[PidNameOpenProtocolsContactDates] = _dumps(residue)


def _get_dates(props: PropertySet, fields: Iterable[str]) -> dict[str, Any]:
    kept = _loads(props, PidNameOpenProtocolsContactDates)
    if kept is not None and not isinstance(kept, dict):
        raise InvalidItemError(f"{PidNameOpenProtocolsContactDates}: malformed (not an object)")
    values: dict[str, Any] = {}
    for field in fields:
        values[field] = _read_date(props, field)
        if kept is None or field not in kept:
            continue
        try:
            text = _str(kept[field])
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidItemError(
                f"{PidNameOpenProtocolsContactDates}: malformed ({exc})"
            ) from exc
        fresh = PropertySet()
        _write_date(fresh, field, value)
        if dict(fresh) == {key: props[key] for key in _DATE_FIELDS[field] if key in props}:
            values[field] = value  # else edited in Outlook: the property wins
    return values


# -- file as (MS-OXOCNTC 2.2.1.1.12) ------------------------------------------------------


def _join(separator: str, *parts: str) -> str:
    return separator.join(part for part in parts if part)


def _file_under_formats(contact: Contact) -> Iterator[tuple[int, str]]:
    """``(PidLidFileUnderId, the PidLidFileUnder it means)`` in the order we prefer
    them; a missing name part drops its separators, as MS-OXOCNTC allows."""
    name = contact.name
    given, middle = name.given or "", name.middle or ""
    surname, generation = name.family or "", name.suffix or ""
    company = contact.company or ""
    first_last = _join(", ", surname, _join(" ", given, middle))
    spaced = _join(" ", surname, given, middle)
    joined = _join(" ", surname + given, middle)
    yield 0x8017, first_last
    yield 0x8037, _join(" ", given, middle, surname, generation)
    yield 0x8036, _join(" ", surname, given, middle, generation)
    yield 0x8031, spaced
    yield 0x8030, joined
    yield 0x8038, _join(" ", surname + given, middle, generation)
    yield 0x3A16, company
    yield 0x3001, contact.display_name or ""
    yield 0x3A06, given
    yield 0x3A11, surname
    yield 0x8019, _join("\r\n", first_last, company)
    yield 0x8018, _join("\r\n", company, first_last)
    yield 0x8035, _join("\r\n", spaced, company)
    yield 0x8033, _join("\r\n", company, spaced)
    yield 0x8034, _join("\r\n", joined, company)
    yield 0x8032, _join("\r\n", company, joined)


def file_under_id(contact: Contact) -> int:
    """The ``PidLidFileUnderId`` that describes ``contact.file_as``: the format it
    matches (so Outlook keeps it up to date as the name changes), else custom."""
    if contact.file_as == "":
        return FILE_UNDER_EMPTY
    return next(
        (id_ for id_, text in _file_under_formats(contact) if text == contact.file_as),
        FILE_UNDER_CUSTOM,
    )


# -- the photo -----------------------------------------------------------------------------

_PHOTO_ROW_KEYS = frozenset(
    {
        p.PidTagAttachMethod,
        p.PidTagAttachDataBinary,
        p.PidTagAttachLongFilename,
        p.PidTagAttachExtension,
        p.PidTagAttachMimeTag,
        p.PidTagAttachmentContactPhoto,
    }
)


def _put_photo(props: PropertySet, photo: Photo | None) -> None:
    props[p.PidLidHasPicture] = photo is not None and photo.data is not None
    if photo is None:
        return
    if photo.data is not None:
        row = PropertySet()
        row[p.PidTagAttachMethod] = ATTACH_BY_VALUE
        row[p.PidTagAttachDataBinary] = photo.data
        row[p.PidTagAttachLongFilename] = PHOTO_FILENAME
        row[p.PidTagAttachExtension] = ".jpg"
        row[p.PidTagAttachmentContactPhoto] = True
        _set(row, p.PidTagAttachMimeTag, photo.content_type)
        props.attachments.insert(0, row)
    if photo.url is not None:
        kept: dict[str, Any] = {"url": photo.url, "inline": photo.data is not None}
        if photo.data is None:
            kept["content_type"] = photo.content_type
        props[PidNameOpenProtocolsContactPhoto] = _dumps(kept)


def _get_photo(props: PropertySet) -> Photo | None:
    row = next((r for r in props.attachments if r.flag(p.PidTagAttachmentContactPhoto)), None)
    data = None if row is None else row.binary(p.PidTagAttachDataBinary)
    kept = _loads(props, PidNameOpenProtocolsContactPhoto)
    try:
        if kept is not None and not isinstance(kept, dict):
            raise _Malformed("not an object")
        url = None if kept is None else _opt(kept.get("url"))
        if kept is not None and kept.get("inline") is True and data is None:
            url = None  # the picture was removed in Outlook
        if data is not None:
            assert row is not None
            return Photo(data=data, content_type=row.text(p.PidTagAttachMimeTag), url=url)
        if url is not None:
            assert kept is not None
            return Photo(url=url, content_type=_opt(kept.get("content_type")))
    except _Malformed as exc:
        raise InvalidItemError(f"{PidNameOpenProtocolsContactPhoto}: malformed ({exc})") from exc
    return None


# -- contacts ------------------------------------------------------------------------------

_NAME_PARTS = (
    ("prefix", p.PidTagDisplayNamePrefix),
    ("given", p.PidTagGivenName),
    ("middle", p.PidTagMiddleName),
    ("family", p.PidTagSurname),
    ("suffix", p.PidTagGeneration),
)
_TEXT_FIELDS = (
    ("nickname", p.PidTagNickname),
    ("company", p.PidTagCompanyName),
    ("department", p.PidTagDepartmentName),
    ("job_title", p.PidTagTitle),
    ("office", p.PidTagOfficeLocation),
    ("manager", p.PidTagManagerName),
    ("assistant", p.PidTagAssistant),
    ("spouse", p.PidTagSpouseName),
)
_SUBJECTS = (p.PidTagSubject, p.PidTagNormalizedSubject, p.PidTagConversationTopic)
"""Outlook files the name as the subject too (MS-OXVCARD: ``FN`` imports into them)."""
_FAX_INDEXES = {PhoneKind.BUSINESS_FAX: 3, PhoneKind.HOME_FAX: 4, PhoneKind.OTHER_FAX: 5}
"""``PidLidAddressBookProviderEmailList`` values of the fax numbers (MS-OXOCNTC 2.2.1.2.11)."""


def _put_address_book_state(props: PropertySet) -> None:
    """``PidLidAddressBookProviderEmailList`` and ``…ArrayType``: which e-mail and fax
    slots are in use, kept in step as MS-OXOCNTC requires."""
    used = [i for i, slot in enumerate(_EMAIL_SLOTS) if slot[2] in props]
    used += [index for kind, index in _FAX_INDEXES.items() if PHONE_TAGS[kind] in props]
    if used:
        props[p.PidLidAddressBookProviderEmailList] = tuple(used)
        props[p.PidLidAddressBookProviderArrayType] = sum(1 << index for index in used)


class ContactMapper(Mapper):
    """``Contact`` ⇄ ``IPM.Contact`` (see the module docstring and ``docs/outlook.md``)."""

    item_type = Contact
    message_classes: ClassVar[tuple[str, ...]] = (CONTACT_CLASS,)
    owned: ClassVar[frozenset[p.PropertyKey]] = frozenset(
        {
            p.PidTagMessageClass,
            p.PidTagDisplayName,
            *_SUBJECTS,
            *(key for _, key in _NAME_PARTS),
            *(key for _, key in _TEXT_FIELDS),
            p.PidLidFileUnder,
            p.PidLidFileUnderId,
            p.PidTagChildrensNames,
            p.PidTagBody,
            p.PidNameKeywords,
            p.PidLidHasPicture,
            p.PidLidAddressBookProviderEmailList,
            p.PidLidAddressBookProviderArrayType,
            *(key for keys in _DATE_FIELDS.values() for key in keys),
            *_EMAILS.keys,
            *_PHONES.keys,
            *_ADDRESSES.keys,
            *_WEB_PAGES.keys,
            *_IM.keys,
            *_GENDER.keys,
            PidNameOpenProtocolsContactUid,
            PidNameOpenProtocolsContactEmails,
            PidNameOpenProtocolsContactPhones,
            PidNameOpenProtocolsContactAddresses,
            PidNameOpenProtocolsContactWebPages,
            PidNameOpenProtocolsContactImAddresses,
            PidNameOpenProtocolsContactGender,
            PidNameOpenProtocolsContactDates,
            PidNameOpenProtocolsContactPhoto,
        }
    )
    attachment_owned: ClassVar[frozenset[p.PropertyKey]] = _PHOTO_ROW_KEYS

    def claims(self, table: str, row: PropertySet) -> bool:
        """Only the photo's attachment row: other files attached to a contact ride along."""
        return table != "attachment" or bool(row.flag(p.PidTagAttachmentContactPhoto))

    def to_mapi(self, item: Any) -> PropertySet:
        """The contact's properties."""
        contact: Contact = item
        props = PropertySet()
        props[p.PidTagMessageClass] = CONTACT_CLASS
        props[PidNameOpenProtocolsContactUid] = contact.uid
        for field, key in _NAME_PARTS:
            _set(props, key, getattr(contact.name, field))
        for field, key in _TEXT_FIELDS:
            _set(props, key, getattr(contact, field))
        for key in (p.PidTagDisplayName, *_SUBJECTS):
            _set(props, key, contact.display_name)
        if contact.file_as is not None:
            props[p.PidLidFileUnder] = contact.file_as
            props[p.PidLidFileUnderId] = file_under_id(contact)
        props.put(p.PidTagChildrensNames, contact.children)
        _set(props, p.PidTagBody, None if contact.notes is None else _mapi_text(contact.notes))
        put_categories(props, contact.categories)
        _put_list(props, _EMAILS, contact.emails)
        _put_list(props, _PHONES, contact.phones)
        _put_address_book_state(props)
        _put_list(props, _ADDRESSES, contact.addresses)
        _put_list(props, _WEB_PAGES, contact.web_pages)
        _put_list(props, _IM, contact.im_addresses)
        _put_list(props, _GENDER, () if contact.gender is None else (contact.gender,))
        _put_dates(
            props,
            {
                "birthday": contact.birthday,
                "anniversary": contact.anniversary,
                "created": contact.created,
                "last_modified": contact.last_modified,
            },
        )
        _put_photo(props, contact.photo)
        return props

    def from_mapi(self, props: PropertySet, extended: Extended) -> Any:
        """The contact the properties describe."""
        display_name = next(
            (
                text
                for key in (p.PidTagDisplayName, p.PidTagNormalizedSubject, p.PidTagSubject)
                if (text := props.text(key)) is not None
            ),
            None,
        )
        notes = props.text(p.PidTagBody)
        gender = _get_list(props, _GENDER)
        texts: dict[str, Any] = {field: props.text(key) for field, key in _TEXT_FIELDS}
        return Contact(
            uid=_uid(props),
            name=PersonName(**{field: props.text(key) for field, key in _NAME_PARTS}),
            display_name=display_name,
            file_as=props.text(p.PidLidFileUnder),
            **texts,
            emails=_get_list(props, _EMAILS),
            phones=_get_list(props, _PHONES),
            addresses=_get_list(props, _ADDRESSES),
            children=props.strings(p.PidTagChildrensNames),
            web_pages=_get_list(props, _WEB_PAGES),
            im_addresses=_get_list(props, _IM),
            notes=None if notes is None else _model_text(notes),
            photo=_get_photo(props),
            gender=gender[0] if gender else None,
            categories=props.strings(p.PidNameKeywords),
            **_get_dates(props, _DATE_FIELDS),
            extended=extended,
        )


# -- distribution lists (MS-OXOCNTC 2.2.2) -----------------------------------------------


def _one_off(member: GroupMember) -> bytes:
    assert member.email is not None
    shown = member.name if member.name is not None else member.email
    return OneOffEntryId(shown, "SMTP", member.email).to_bytes()


def _write_members(props: PropertySet, members: Sequence[GroupMember]) -> None:
    entries = tuple(_one_off(member) for member in members if member.email is not None)
    if entries:
        props[p.PidLidDistributionListMembers] = entries
        props[p.PidLidDistributionListOneOffMembers] = entries
        props[p.PidLidDistributionListChecksum] = distribution_list_checksum(entries)


def _member_entries(props: PropertySet) -> list[tuple[bytes | None, bytes | None]]:
    stream = props.binary(p.PidLidDistributionListStream)
    if stream is not None:  # it supersedes the two lists (MS-OXOCNTC 2.2.2.2.4)
        try:
            return list(parse_distribution_list_stream(stream))
        except ParseError as exc:
            raise InvalidItemError(f"PidLidDistributionListStream: {exc}") from exc
    members = _binaries(props, p.PidLidDistributionListMembers)
    one_offs = _binaries(props, p.PidLidDistributionListOneOffMembers)
    count = max(len(members), len(one_offs))
    return [
        (
            members[i] if i < len(members) else None,
            one_offs[i] if i < len(one_offs) and one_offs[i] else None,
        )
        for i in range(count)
    ]


def _binaries(props: PropertySet, key: p.Named) -> tuple[bytes, ...]:
    value = props.get(key, ())
    return tuple(one for one in value if isinstance(one, bytes)) if isinstance(value, tuple) else ()


def _read_member(entry_id: bytes | None, one_off: bytes | None) -> GroupMember:
    """A member from its entry id and its one-off entry id (either may be missing)."""
    shown: OneOffEntryId | None = None
    if one_off is not None:
        try:
            shown = OneOffEntryId.parse(one_off)
        except ParseError:
            shown = None  # the entry id may still say who it is
    contact_uid = None
    if entry_id is not None:
        try:
            if entry_id[4:20] == WRAPPED_PROVIDER:
                wrapped = WrappedEntryId.parse(entry_id)
                if wrapped.kind == WrappedEntryId.ONE_OFF:
                    shown = OneOffEntryId.parse(wrapped.embedded)
                elif (
                    wrapped.kind in (WrappedEntryId.CONTACT, WrappedEntryId.DIST_LIST)
                    or shown is None
                ):
                    contact_uid = derived_uid(wrapped.embedded)
            else:
                shown = OneOffEntryId.parse(entry_id)
        except ParseError as exc:
            if shown is None:
                raise InvalidItemError(f"a distribution list member is unreadable: {exc}") from exc
    if shown is None and contact_uid is None:
        raise InvalidItemError("a distribution list member has no entry ID")
    return GroupMember(
        name=None if shown is None else shown.display_name,
        email=None if shown is None else shown.address,
        contact_uid=contact_uid,
    )


def _read_members(props: PropertySet) -> list[GroupMember]:
    return [_read_member(entry_id, one_off) for entry_id, one_off in _member_entries(props)]


def _load_member(value: Any) -> GroupMember:
    name, email, contact_uid = _fields(value, 3)
    return GroupMember(name=_opt(name), email=_opt(email), contact_uid=_opt(contact_uid))


def _stale_members(current: list[GroupMember], kept: list[GroupMember]) -> list[GroupMember]:
    """After an edit in Outlook: the members Outlook has, each taking back its contact
    reference from the residue (matched by name and address), then the residue's
    members that have no address and so were not in Outlook's lists."""
    references = [member for member in kept if member.contact_uid is not None]
    result = []
    for member in current:
        match = next(
            (r for r in references if (r.name, r.email) == (member.name, member.email)), None
        )
        if member.contact_uid is None and match is not None:
            references.remove(match)
            result.append(match)
        else:
            result.append(member)
    return result + [member for member in kept if member.email is None]


_MEMBERS = _Slots[GroupMember](
    keys=frozenset(
        {
            p.PidLidDistributionListMembers,
            p.PidLidDistributionListOneOffMembers,
            p.PidLidDistributionListChecksum,
            p.PidLidDistributionListStream,
        }
    ),
    residue=PidNameOpenProtocolsGroupMembers,
    write=_write_members,
    read=_read_members,
    stale=_stale_members,
    dump=lambda m: [m.name, m.email, m.contact_uid],
    load=_load_member,
)


class ContactGroupMapper(Mapper):
    """``ContactGroup`` ⇄ ``IPM.DistList`` (see the module docstring)."""

    item_type = ContactGroup
    message_classes: ClassVar[tuple[str, ...]] = (DIST_LIST_CLASS,)
    owned: ClassVar[frozenset[p.PropertyKey]] = frozenset(
        {
            p.PidTagMessageClass,
            p.PidLidDistributionListName,
            p.PidTagDisplayName,
            *_SUBJECTS,
            p.PidLidFileUnder,
            p.PidLidFileUnderId,
            p.PidTagBody,
            p.PidNameKeywords,
            p.PidTagCreationTime,
            p.PidTagLastModificationTime,
            *_MEMBERS.keys,
            PidNameOpenProtocolsContactUid,
            PidNameOpenProtocolsGroupMembers,
            PidNameOpenProtocolsContactDates,
        }
    )

    def claims(self, table: str, row: PropertySet) -> bool:
        """No row: a list's members are in its properties; anything attached rides along."""
        return False

    def to_mapi(self, item: Any) -> PropertySet:
        """The distribution list's properties."""
        group: ContactGroup = item
        props = PropertySet()
        props[p.PidTagMessageClass] = DIST_LIST_CLASS
        props[PidNameOpenProtocolsContactUid] = group.uid
        for key in (p.PidLidDistributionListName, p.PidTagDisplayName, *_SUBJECTS):
            props[key] = group.display_name
        props[p.PidLidFileUnder] = group.display_name
        props[p.PidLidFileUnderId] = FILE_UNDER_CUSTOM if group.display_name else FILE_UNDER_EMPTY
        _set(props, p.PidTagBody, None if group.notes is None else _mapi_text(group.notes))
        put_categories(props, group.categories)
        _put_list(props, _MEMBERS, group.members)
        _put_dates(props, {"created": group.created, "last_modified": group.last_modified})
        return props

    def from_mapi(self, props: PropertySet, extended: Extended) -> Any:
        """The distribution list the properties describe."""
        display_name = next(
            (
                text
                for key in (
                    p.PidLidDistributionListName,
                    p.PidTagDisplayName,
                    p.PidTagNormalizedSubject,
                    p.PidTagSubject,
                )
                if (text := props.text(key)) is not None
            ),
            "",
        )
        notes = props.text(p.PidTagBody)
        return ContactGroup(
            uid=_uid(props),
            display_name=display_name,
            members=_get_list(props, _MEMBERS),
            notes=None if notes is None else _model_text(notes),
            categories=props.strings(p.PidNameKeywords),
            **_get_dates(props, ("created", "last_modified")),
            extended=extended,
        )


register(ContactMapper())
register(ContactGroupMapper())
