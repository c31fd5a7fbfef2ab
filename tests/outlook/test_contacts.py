"""Contacts and distribution lists on MAPI properties (MS-OXOCNTC).

Property-based round trips (model → MAPI → model, and through vCard), property sets as
Outlook writes them, the exact bytes of one-off entry ids and the checksum, and hostile
entry ids.
"""

from __future__ import annotations

import contextlib
import json
import struct
import zlib
from datetime import UTC, date, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.formats.test_vcard_properties import contacts as vcard_contacts
from tests.formats.test_vcard_properties import groups as vcard_groups

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats import vcard
from openprotocols.model import RawProperty
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
from openprotocols.outlook import PropertySet, from_mapi, to_mapi
from openprotocols.outlook import props as p
from openprotocols.outlook._contacts import (
    PHONE_TAGS,
    OneOffEntryId,
    PidNameOpenProtocolsContactAddresses,
    PidNameOpenProtocolsContactDates,
    PidNameOpenProtocolsContactEmails,
    PidNameOpenProtocolsContactPhones,
    PidNameOpenProtocolsContactUid,
    PidNameOpenProtocolsGroupMembers,
    WrappedEntryId,
    derived_uid,
    distribution_list_checksum,
    file_under_id,
    parse_distribution_list_stream,
)
from openprotocols.outlook._mapping import PidNameOpenProtocolsExtended

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ---------------------------------------------------------------------------

# Text the vCard codec keeps exactly (no control characters but tab and newline) ...
VCARD_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t\\;,:\"^=' é€😀"),
    max_size=30,
)
# ... and any text the model can hold, carriage returns and lone surrogates included.
ANY_TEXT = st.lists(
    st.characters().filter(lambda c: c != "\r") | st.sampled_from(["\r\n", "\r", "\0"]),
    max_size=15,
).map("".join)
SAFE = st.text(st.sampled_from("abcXYZ019-_./ é"), max_size=12)
XNAME = st.text(st.sampled_from("ABCXYZ0129-"), min_size=1, max_size=8)
PARAMS = st.lists(
    st.tuples(XNAME.map(lambda n: f"X-P-{n}"), SAFE) | st.just(("TYPE", "pref")), max_size=3
).map(tuple)
ZONES = (
    st.none()
    | st.just(UTC)
    | st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
)
VCARD_TIMES = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2100, 12, 30), timezones=ZONES
).map(lambda d: d.replace(microsecond=0))
ANY_TIMES = st.datetimes(timezones=ZONES)
SIMPLE_EXTENDED = st.lists(
    st.builds(RawProperty, name=XNAME.map(lambda n: f"X-T-{n}"), value=SAFE), max_size=3
)


def contacts(
    text: st.SearchStrategy[str], times: st.SearchStrategy[datetime]
) -> st.SearchStrategy[Contact]:
    """The vCard tests' contacts, with the parameters Outlook's mapping cares about
    (``TYPE=pref``, an Exchange address type)."""
    return vcard_contacts(
        text,
        times,
        params=PARAMS,
        email_params=PARAMS | st.just((("X-MAPI-ADDRTYPE", "EX"),)),
        extended=SIMPLE_EXTENDED,
    )


def groups(
    text: st.SearchStrategy[str], times: st.SearchStrategy[datetime]
) -> st.SearchStrategy[ContactGroup]:
    """The vCard tests' groups."""
    return vcard_groups(text, times, extended=SIMPLE_EXTENDED)


# -- round trips ---------------------------------------------------------------------------


@FAST
@given(contacts(ANY_TEXT, ANY_TIMES))
def test_every_contact_survives_mapi(contact: Contact) -> None:
    """model → MAPI → model is the identity on every field, ``extended`` included."""
    props = to_mapi(contact)
    back = from_mapi(props)
    assert back == contact
    assert all(
        type(a) is type(b) for a, b in zip(attrs.astuple(back), attrs.astuple(contact), strict=True)
    )


@FAST
@given(groups(ANY_TEXT, ANY_TIMES))
def test_every_group_survives_mapi(group: ContactGroup) -> None:
    """The same for distribution lists."""
    assert from_mapi(to_mapi(group)) == group


@FAST
@given(contacts(VCARD_TEXT, VCARD_TIMES), st.sampled_from(["3.0", "4.0"]))
def test_contacts_through_vcard_and_mapi(contact: Contact, version: str) -> None:
    """item → vCard → item → MAPI → item, where the vCard codec is exact."""
    parsed = vcard.parse(vcard.serialize(contact, version=version)).items[0]
    assert parsed == contact
    assert from_mapi(to_mapi(parsed)) == parsed
    assert (
        vcard.parse(vcard.serialize(from_mapi(to_mapi(parsed)), version=version)).items[0]
        == contact
    )


@FAST
@given(groups(VCARD_TEXT, VCARD_TIMES), st.sampled_from(["3.0", "4.0"]))
def test_groups_through_vcard_and_mapi(group: ContactGroup, version: str) -> None:
    """The same for contact groups."""
    parsed = vcard.parse(vcard.serialize(group, version=version)).items[0]
    assert parsed == group
    assert from_mapi(to_mapi(parsed)) == group


def test_slots_carry_a_plain_contact_without_any_residue() -> None:
    """A contact Outlook's slots can hold needs none of our properties but the uid."""
    contact = Contact(
        uid="u",
        name=PersonName(given="Ann", family="Lee"),
        display_name="Ann Lee",
        emails=[
            EmailAddress("ann@example.org", "Ann Lee (ann@example.org)"),
            EmailAddress("a@b.c"),
        ],
        phones=[Phone("1", PhoneKind.BUSINESS), Phone("2", PhoneKind.MOBILE)],
        addresses=[
            PostalAddress(
                kind=AddressKind.BUSINESS, street="1 Main", city="Town", params=[("TYPE", "pref")]
            )
        ],
        birthday=date(1980, 4, 15),
        web_pages=["https://a.example", "https://b.example"],
        gender=Gender.MALE,
    )
    props = to_mapi(contact)
    own = [key for key in props if isinstance(key, p.Named) and key.set == p.PSETID_OPENPROTOCOLS]
    assert own == [PidNameOpenProtocolsContactUid]
    assert from_mapi(props) == contact


def test_what_the_slots_cannot_hold_goes_to_the_residue() -> None:
    """A fourth e-mail, two phones of one kind, a second business address, a date before
    1601 and a floating time come back from our own properties."""
    contact = Contact(
        uid="u",
        emails=[EmailAddress(f"{n}@x.org") for n in range(4)],
        phones=[Phone("1", PhoneKind.HOME), Phone("2", PhoneKind.HOME, [("TYPE", "voice")])],
        addresses=[
            PostalAddress(kind=AddressKind.BUSINESS, city="A"),
            PostalAddress(kind=AddressKind.BUSINESS, city="B", extended_address="Suite 5"),
        ],
        birthday=date(1500, 1, 1),
        created=datetime(2020, 1, 1, 10, 0),
    )
    props = to_mapi(contact)
    for key in (
        PidNameOpenProtocolsContactEmails,
        PidNameOpenProtocolsContactPhones,
        PidNameOpenProtocolsContactAddresses,
        PidNameOpenProtocolsContactDates,
    ):
        assert key in props
    assert p.PidLidEmail3EmailAddress in props
    assert props[p.PidTagHomeTelephoneNumber] == "1"
    assert props[p.PidLidWorkAddressCity] == "A"
    assert p.PidTagBirthday not in props  # SYSTIME cannot hold 1500
    assert props[p.PidTagCreationTime] == datetime(2020, 1, 1, 10, 0, tzinfo=UTC)
    assert from_mapi(props) == contact


def test_an_edit_in_outlook_wins_and_keeps_what_had_no_slot() -> None:
    """Outlook changes Email1 and the home phone after we wrote them: the slots win, and
    the fourth e-mail and the second home phone (which had no slot) stay."""
    contact = Contact(
        uid="u",
        emails=[EmailAddress(f"{n}@x.org", params=[("TYPE", "work")]) for n in range(4)],
        phones=[Phone("1", PhoneKind.HOME), Phone("2", PhoneKind.HOME)],
        birthday=date(1500, 1, 1),
        created=datetime(2020, 1, 1, 10, 0),
    )
    props = to_mapi(contact)
    props[p.PidLidEmail1EmailAddress] = "new@x.org"
    props[p.PidTagHomeTelephoneNumber] = "9"
    props[p.PidTagBirthday] = datetime(1990, 5, 1, tzinfo=UTC)
    props[p.PidTagLastModificationTime] = datetime(2024, 1, 1, tzinfo=UTC)  # the store saved
    back = from_mapi(props)
    assert [e.address for e in back.emails] == ["new@x.org", "1@x.org", "2@x.org", "3@x.org"]
    assert back.phones == (Phone("9", PhoneKind.HOME), Phone("2", PhoneKind.HOME))
    assert back.birthday == date(1990, 5, 1)
    assert back.created == datetime(2020, 1, 1, 10, 0)  # its own field was not edited


# -- what Outlook writes ---------------------------------------------------------------------


def _one_off(name: str, address: str) -> bytes:
    return OneOffEntryId(name, "SMTP", address).to_bytes()


def outlook_contact() -> PropertySet:
    """A contact as Outlook 2016 saves one: two e-mail addresses, a business address only
    in the named properties (no mailing address), a birthday entered in UTC+2."""
    props = PropertySet()
    values: dict[p.PropertyKey, object] = {
        p.PidTagMessageClass: "IPM.Contact",
        p.PidTagEntryId: bytes.fromhex("00000000" + "AB" * 42),
        p.PidTagDisplayName: "Ann B. Lee",
        p.PidTagSubject: "Ann B. Lee",
        p.PidTagNormalizedSubject: "Ann B. Lee",
        p.PidTagConversationTopic: "Ann B. Lee",
        p.PidTagGivenName: "Ann",
        p.PidTagMiddleName: "B.",
        p.PidTagSurname: "Lee",
        p.PidTagInitials: "A.B.L.",
        p.PidLidFileUnder: "Lee, Ann B.",
        p.PidLidFileUnderId: 0x8017,
        p.PidTagCompanyName: "Example Corp",
        p.PidTagTitle: "Engineer",
        p.PidLidEmail1DisplayName: "Ann Lee (ann@example.org)",
        p.PidLidEmail1AddressType: "SMTP",
        p.PidLidEmail1EmailAddress: "ann@example.org",
        p.PidLidEmail1OriginalDisplayName: "ann@example.org",
        p.PidLidEmail1OriginalEntryId: _one_off("Ann Lee (ann@example.org)", "ann@example.org"),
        p.PidLidEmail2DisplayName: "Ann (home)",
        p.PidLidEmail2AddressType: "SMTP",
        p.PidLidEmail2EmailAddress: "ann@home.example",
        p.PidLidEmail2OriginalDisplayName: "ann@home.example",
        p.PidLidEmail2OriginalEntryId: _one_off("Ann (home)", "ann@home.example"),
        p.PidLidAddressBookProviderEmailList: (0, 1),
        p.PidLidAddressBookProviderArrayType: 3,
        p.PidTagBusinessTelephoneNumber: "+1 555 0100",
        p.PidTagMobileTelephoneNumber: "+1 555 0101",
        p.PidLidWorkAddressStreet: "1 Main St\r\nSuite 5",
        p.PidLidWorkAddressCity: "Springfield",
        p.PidLidWorkAddressState: "IL",
        p.PidLidWorkAddressPostalCode: "62701",
        p.PidLidWorkAddressCountry: "United States of America",
        p.PidLidWorkAddress: (
            "1 Main St\r\nSuite 5\r\nSpringfield, IL  62701\r\nUnited States of America"
        ),
        p.PidLidPostalAddressId: 0,
        p.PidTagBusinessHomePage: "https://example.org/ann",
        p.PidLidHtml: "https://example.org/ann",
        p.PidLidInstantMessagingAddress: "ann@im.example",
        p.PidTagBirthday: datetime(1980, 4, 14, 22, 0, tzinfo=UTC),
        p.PidTagGender: 1,
        p.PidTagBody: "Met at the conference.\r\nLikes tea.",
        p.PidNameKeywords: ("Customers",),
        p.PidTagCreationTime: datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
        p.PidTagLastModificationTime: datetime(2024, 3, 2, 9, 30, tzinfo=UTC),
    }
    for key, value in values.items():
        props[key] = value
    return props


def test_a_contact_outlook_made() -> None:
    """The standard properties alone make the contact Outlook shows."""
    contact = from_mapi(outlook_contact())
    assert contact == Contact(
        uid=derived_uid(bytes.fromhex("00000000" + "AB" * 42)),
        name=PersonName(given="Ann", middle="B.", family="Lee"),
        display_name="Ann B. Lee",
        file_as="Lee, Ann B.",
        company="Example Corp",
        job_title="Engineer",
        emails=[
            EmailAddress("ann@example.org", "Ann Lee (ann@example.org)"),
            EmailAddress("ann@home.example", "Ann (home)"),
        ],
        phones=[Phone("+1 555 0100", PhoneKind.BUSINESS), Phone("+1 555 0101", PhoneKind.MOBILE)],
        addresses=[
            PostalAddress(
                kind=AddressKind.BUSINESS,
                street="1 Main St\nSuite 5",
                city="Springfield",
                region="IL",
                postal_code="62701",
                country="United States of America",
                label="1 Main St\nSuite 5\nSpringfield, IL  62701\nUnited States of America",
            )
        ],
        web_pages=["https://example.org/ann"],
        im_addresses=["ann@im.example"],
        birthday=date(1980, 4, 15),
        gender=Gender.FEMALE,
        notes="Met at the conference.\nLikes tea.",
        categories=["Customers"],
        created=datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
        last_modified=datetime(2024, 3, 2, 9, 30, tzinfo=UTC),
        extended=contact.extended,
    )
    assert [line.value for line in contact.extended.properties] == ["A.B.L."]  # PidTagInitials


def test_an_outlook_contact_comes_back_with_every_property() -> None:
    """to_mapi(from_mapi(props)) keeps every property Outlook wrote, with its value —
    but the birthday, which is rewritten at midnight UTC with PidLidBirthdayLocal."""
    original = outlook_contact()
    again = to_mapi(from_mapi(original))
    derived = {p.PidTagBirthday}
    for key, value in original.items():
        if key is p.PidTagEntryId:
            continue  # store-local: the store keeps it, not the item
        if key not in derived:
            assert again.get(key) == value, key
    assert (
        again[p.PidTagBirthday] == again[p.PidLidBirthdayLocal] == datetime(1980, 4, 15, tzinfo=UTC)
    )
    assert set(again) - set(original) == {
        p.PidLidBirthdayLocal,
        p.PidLidHasPicture,
        PidNameOpenProtocolsContactUid,
        PidNameOpenProtocolsExtended,  # the frame's: where the carried Initials sit
    }


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (datetime(1980, 4, 15, 0, 0), date(1980, 4, 15)),  # UTC
        (datetime(1980, 4, 14, 22, 0), date(1980, 4, 15)),  # UTC+2
        (datetime(1980, 4, 14, 12, 0), date(1980, 4, 15)),  # UTC+12
        (datetime(1980, 4, 15, 5, 0), date(1980, 4, 15)),  # UTC-5
        (datetime(1980, 4, 15, 11, 59), date(1980, 4, 15)),  # UTC-11:59, or Outlook's 11:59
    ],
)
def test_a_birthday_outlook_wrote_in_any_zone(stored: datetime, expected: date) -> None:
    """PidTagBirthday is local midnight in UTC: from 12:00 UTC on it is the next day."""
    props = PropertySet(
        {p.PidTagMessageClass: "IPM.Contact", p.PidTagBirthday: stored.replace(tzinfo=UTC)}
    )
    assert from_mapi(props).birthday == expected


def test_the_local_birthday_wins() -> None:
    """PidLidBirthdayLocal is the day itself; PidTagBirthday only where it is missing."""
    props = PropertySet(
        {
            p.PidTagMessageClass: "IPM.Contact",
            p.PidTagWeddingAnniversary: datetime(2001, 6, 1, 22, 0, tzinfo=UTC),
            p.PidLidWeddingAnniversaryLocal: datetime(2001, 6, 1, 0, 0, tzinfo=UTC),
        }
    )
    assert from_mapi(props).anniversary == date(2001, 6, 1)


def test_dates_are_written_at_midnight_utc() -> None:
    """Both birthday properties at 00:00 UTC of the day."""
    props = to_mapi(Contact(uid="u", birthday=date(1999, 12, 31), anniversary=date(1604, 2, 29)))
    assert (
        props[p.PidTagBirthday]
        == props[p.PidLidBirthdayLocal]
        == datetime(1999, 12, 31, tzinfo=UTC)
    )
    assert props[p.PidTagWeddingAnniversary] == datetime(1604, 2, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        (
            Contact(
                uid="u",
                name=PersonName(given="Ann", middle="B", family="Lee"),
                file_as="Lee, Ann B",
            ),
            0x8017,
        ),
        (Contact(uid="u", name=PersonName(given="Ann", family="Lee"), file_as="Ann Lee"), 0x8037),
        (
            Contact(
                uid="u", name=PersonName(given="Ann", family="Lee"), company="Acme", file_as="Acme"
            ),
            0x3A16,
        ),
        (
            Contact(
                uid="u",
                name=PersonName(given="Ann", family="Lee"),
                company="Acme",
                file_as="Lee, Ann\r\nAcme",
            ),
            0x8019,
        ),
        (
            Contact(
                uid="u",
                company="Acme",
                file_as="Acme\r\nLee, Ann",
                name=PersonName(given="Ann", family="Lee"),
            ),
            0x8018,
        ),
        (Contact(uid="u", name=PersonName(given="Ann", family="Lee"), file_as="Nana"), -1),
        (Contact(uid="u", name=PersonName(given="Ann", family="Lee"), file_as=""), 0),
    ],
)
def test_file_under_id_names_the_format(contact: Contact, expected: int) -> None:
    """PidLidFileUnderId is the MS-OXOCNTC format the file-as text follows, else custom."""
    assert file_under_id(contact) == expected
    props = to_mapi(contact)
    assert props[p.PidLidFileUnder] == contact.file_as
    assert props[p.PidLidFileUnderId] == expected


@pytest.mark.parametrize(
    ("value", "gender"), [(0, Gender.UNKNOWN), (1, Gender.FEMALE), (2, Gender.MALE), (None, None)]
)
def test_gender(value: int | None, gender: Gender | None) -> None:
    """PidTagGender 0 is "unspecified", 1 female, 2 male."""
    props = PropertySet({p.PidTagMessageClass: "IPM.Contact"})
    if value is not None:
        props[p.PidTagGender] = value
    assert from_mapi(props).gender is gender
    other = to_mapi(Contact(uid="u", gender=Gender.OTHER))
    assert other[p.PidTagGender] == 0
    assert from_mapi(other).gender is Gender.OTHER


def test_every_phone_kind_has_its_property() -> None:
    """The nineteen kinds, each in its own property, as Outlook's list has them."""
    phones = [Phone(f"+{n}", kind) for n, kind in enumerate(PhoneKind)]
    props = to_mapi(Contact(uid="u", phones=phones))
    assert len(PHONE_TAGS) == len(PhoneKind) == 19
    assert len(set(PHONE_TAGS.values())) == 19
    for phone in phones:
        assert props[PHONE_TAGS[phone.kind]] == phone.number
    assert props[p.PidTagPrimaryFaxNumber] == next(
        ph.number for ph in phones if ph.kind is PhoneKind.OTHER_FAX
    )
    assert from_mapi(props).phones == tuple(phones)


def test_email_slots_and_address_book_state() -> None:
    """Email1, 2 and 3 with display name, type, address, original display name and a one-off
    original entry id; the e-mail list and array type name the used slots and faxes."""
    contact = Contact(
        uid="u",
        emails=[EmailAddress("a@x.org", "Ann"), EmailAddress("b@x.org")],
        phones=[Phone("1", PhoneKind.HOME_FAX)],
    )
    props = to_mapi(contact)
    assert props[p.PidLidEmail1DisplayName] == "Ann"
    assert props[p.PidLidEmail1AddressType] == props[p.PidLidEmail2AddressType] == "SMTP"
    assert props[p.PidLidEmail2OriginalDisplayName] == "b@x.org"
    assert p.PidLidEmail2DisplayName not in props
    assert OneOffEntryId.parse(props[p.PidLidEmail1OriginalEntryId]) == OneOffEntryId(
        "Ann", "SMTP", "a@x.org"
    )
    assert OneOffEntryId.parse(props[p.PidLidEmail2OriginalEntryId]) == OneOffEntryId(
        "b@x.org", "SMTP", "b@x.org"
    )
    assert props[p.PidLidAddressBookProviderEmailList] == (0, 1, 4)
    assert props[p.PidLidAddressBookProviderArrayType] == 0b10011


def test_an_exchange_address_keeps_its_type() -> None:
    """An ``EX`` address Outlook took from the directory reads with its type as a parameter
    and goes back as ``EX``."""
    props = PropertySet(
        {
            p.PidTagMessageClass: "IPM.Contact",
            p.PidLidEmail1AddressType: "EX",
            p.PidLidEmail1EmailAddress: "/o=Example/ou=First/cn=Recipients/cn=ann",
        }
    )
    contact = from_mapi(props)
    assert contact.emails == (
        EmailAddress(
            "/o=Example/ou=First/cn=Recipients/cn=ann", params=[("X-MAPI-ADDRTYPE", "EX")]
        ),
    )
    assert to_mapi(contact)[p.PidLidEmail1AddressType] == "EX"


def test_addresses_mailing_and_full_text() -> None:
    """Business in PidLidWorkAddress*, home and other in the tagged groups; the mailing
    address (the one marked preferred) copied to PidTagStreetAddress… with its id."""
    home = PostalAddress(
        kind=AddressKind.HOME, street="2 Elm", city="Oak", params=[("TYPE", "pref")]
    )
    work = PostalAddress(kind=AddressKind.BUSINESS, street="1 Main", label="Main Street One")
    other = PostalAddress(kind=AddressKind.OTHER, country="NZ")
    props = to_mapi(Contact(uid="u", addresses=[work, home, other]))
    assert props[p.PidLidWorkAddressStreet] == "1 Main"
    assert props[p.PidLidWorkAddress] == "Main Street One"
    assert props[p.PidTagHomeAddressCity] == "Oak"
    assert props[p.PidLidHomeAddress] == "2 Elm\r\nOak"
    assert props[p.PidTagOtherAddressCountry] == props[p.PidLidOtherAddress] == "NZ"
    assert props[p.PidLidPostalAddressId] == 1
    assert props[p.PidTagStreetAddress] == "2 Elm"
    assert props[p.PidTagLocality] == "Oak"
    assert props[p.PidTagPostalAddress] == "2 Elm\r\nOak"
    assert p.PidLidWorkAddressCity not in props
    assert from_mapi(props).addresses == (work, home, other)


def test_the_photo_is_an_attachment() -> None:
    """PidTagAttachmentContactPhoto, ContactPicture.jpg, by value; PidLidHasPicture."""
    props = to_mapi(Contact(uid="u", photo=Photo(data=b"\xff\xd8\xff", content_type="image/jpeg")))
    assert props[p.PidLidHasPicture] is True
    (row,) = props.attachments
    assert row[p.PidTagAttachmentContactPhoto] is True
    assert row[p.PidTagAttachLongFilename] == "ContactPicture.jpg"
    assert row[p.PidTagAttachMethod] == 1
    assert row[p.PidTagAttachDataBinary] == b"\xff\xd8\xff"
    by_url = to_mapi(Contact(uid="u", photo=Photo(url="https://x.example/a.png")))
    assert by_url.attachments == []
    assert by_url[p.PidLidHasPicture] is False
    assert from_mapi(by_url).photo == Photo(url="https://x.example/a.png")


def test_a_photo_removed_in_outlook_stays_removed() -> None:
    """The kept URL of an inline photo does not bring it back once Outlook dropped it."""
    props = to_mapi(Contact(uid="u", photo=Photo(data=b"x", url="https://x.example/p")))
    props.attachments.clear()
    assert from_mapi(props).photo is None


def test_our_residue_must_be_well_formed() -> None:
    """A malformed property of ours is an InvalidItemError, not a crash."""
    for key, text in [
        (PidNameOpenProtocolsContactEmails, "{"),
        (PidNameOpenProtocolsContactEmails, '[["a", null, "nope", []]]'),
        (PidNameOpenProtocolsContactPhones, '[[1, "home", []]]'),
        (PidNameOpenProtocolsContactAddresses, "[5]"),
        (PidNameOpenProtocolsContactDates, '{"birthday": "yesterday"}'),
        (PidNameOpenProtocolsGroupMembers, '[["a", null, null]]'),
        (PidNameOpenProtocolsContactEmails, "[" * 100_000),
    ]:
        message_class = "IPM.DistList" if key is PidNameOpenProtocolsGroupMembers else "IPM.Contact"
        props = PropertySet({p.PidTagMessageClass: message_class, key: text})
        with pytest.raises(InvalidItemError):
            from_mapi(props)


# -- entry ids ---------------------------------------------------------------------------------


def test_one_off_entry_id_bytes() -> None:
    """MS-OXCDATA 2.2.5.1: flags, provider UID, version, flags word (U|L|M = 0x9001),
    then display name, address type and address as null-terminated UTF-16LE."""
    expected = (
        b"\x00\x00\x00\x00"
        + bytes(
            [
                0x81,
                0x2B,
                0x1F,
                0xA4,
                0xBE,
                0xA3,
                0x10,
                0x19,
                0x9D,
                0x6E,
                0x00,
                0xDD,
                0x01,
                0x0F,
                0x54,
                0x02,
            ]
        )
        + b"\x00\x00"
        + b"\x01\x90"
        + "Ann Rösler\0".encode("utf-16-le")
        + "SMTP\0".encode("utf-16-le")
        + "ann@example.org\0".encode("utf-16-le")
    )
    entry = OneOffEntryId("Ann Rösler", "SMTP", "ann@example.org")
    assert entry.to_bytes() == expected
    assert OneOffEntryId.parse(expected) == entry


def test_an_8_bit_one_off_entry_id() -> None:
    """Without the Unicode flag the strings are 8-bit (Windows-1252)."""
    data = (
        bytes(4) + bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402") + struct.pack("<HH", 0, 0x0001)
    )
    data += b"J\xfcrgen\0SMTP\0j@x.de\0"
    assert OneOffEntryId.parse(data) == OneOffEntryId("Jürgen", "SMTP", "j@x.de", 0x0001)
    assert OneOffEntryId.parse(data).to_bytes() == data


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(23),
        bytes(4) + bytes(16) + bytes(4),  # another provider
        bytes(4)
        + bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")
        + b"\x01\x00\x00\x80",  # version 1
        bytes(4)
        + bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")
        + b"\x00\x00\x00\x80"
        + "Ann".encode("utf-16-le"),
        bytes(4)
        + bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")
        + b"\x00\x00\x00\x80"
        + b"A\x00\x00",
        bytes(4)
        + bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")
        + b"\x00\x00\x00\x00"
        + b"A\0B\0",
        _one_off("a", "b") + b"junk",
    ],
)
def test_malformed_one_off_entry_ids(data: bytes) -> None:
    """Truncated, foreign, unterminated or padded with garbage: a ParseError."""
    with pytest.raises(ParseError):
        OneOffEntryId.parse(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.booleans())
def test_hostile_entry_ids_give_typed_errors(tail: bytes, one_off: bool) -> None:
    """Any bytes after a valid header either parse or give a ParseError."""
    head = bytes(4) + (
        bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402") + b"\x00\x00" if one_off else b""
    )
    for data in (head + tail, tail):
        for parse in (OneOffEntryId.parse, WrappedEntryId.parse, parse_distribution_list_stream):
            with contextlib.suppress(ParseError):
                parse(data)


def _crc32_bitwise(chunks: list[bytes]) -> int:
    """The CRC of MS-OXOCNTC 3.1.5.11, bit by bit: polynomial 0xEDB88320, seed 0."""
    crc = 0
    for chunk in chunks:
        for byte in chunk:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc


@given(st.lists(st.binary(max_size=40), max_size=4))
def test_checksum_is_the_specified_crc(members: list[bytes]) -> None:
    """Seed 0, no inversion — not zlib's CRC-32 — stored as a signed 32-bit integer."""
    assert distribution_list_checksum(members) & 0xFFFFFFFF == _crc32_bitwise(members)
    assert -(2**31) <= distribution_list_checksum(members) < 2**31


def test_checksum_differs_from_zlib() -> None:
    """Guard against the obvious mistake."""
    data = [b"member one", b"member two"]
    assert distribution_list_checksum(data) & 0xFFFFFFFF != zlib.crc32(b"".join(data))


# -- distribution lists --------------------------------------------------------------------------


def test_a_list_of_one_off_and_contact_members() -> None:
    """E-mail members as one-off entry ids in both lists; a member referencing a contact
    as a one-off for its address, the reference in our residue; a member with only a
    reference only there; the checksum over the members' entry ids."""
    group = ContactGroup(
        uid="g",
        display_name="Team",
        members=[
            GroupMember(name="Ann", email="ann@x.org"),
            GroupMember(name="Bob", email="bob@x.org", contact_uid="bob-uid"),
            GroupMember(contact_uid="carol-uid"),
        ],
    )
    props = to_mapi(group)
    members = props[p.PidLidDistributionListMembers]
    assert members == props[p.PidLidDistributionListOneOffMembers]
    assert members == (_one_off("Ann", "ann@x.org"), _one_off("Bob", "bob@x.org"))
    assert props[p.PidLidDistributionListChecksum] == distribution_list_checksum(members)
    assert props[p.PidLidDistributionListName] == props[p.PidTagDisplayName] == "Team"
    assert json.loads(props[p.Named(p.PSETID_OPENPROTOCOLS, name="GroupMembers")])[2] == [
        None,
        None,
        "carol-uid",
    ]
    assert from_mapi(props) == group


def test_a_list_outlook_made() -> None:
    """One-off members, a wrapped reference to a contact (read with the uid derived from
    the contact's entry id) and a wrapped one-off."""
    contact_entry_id = bytes.fromhex("00000000" + "CD" * 66)
    wrapped_contact = WrappedEntryId(0xC3, contact_entry_id).to_bytes()
    wrapped_one_off = WrappedEntryId(0x00, _one_off("Dan", "dan@x.org")).to_bytes()
    props = PropertySet(
        {
            p.PidTagMessageClass: "IPM.DistList",
            p.PidLidDistributionListName: "Friends",
            p.PidLidDistributionListMembers: (
                _one_off("Ann", "ann@x.org"),
                wrapped_contact,
                wrapped_one_off,
            ),
            p.PidLidDistributionListOneOffMembers: (
                _one_off("Ann", "ann@x.org"),
                _one_off("Bob Lee (bob@x.org)", "bob@x.org"),
                _one_off("Dan", "dan@x.org"),
            ),
        }
    )
    group = from_mapi(props)
    assert group.display_name == "Friends"
    assert group.members == (
        GroupMember(name="Ann", email="ann@x.org"),
        GroupMember(
            name="Bob Lee (bob@x.org)", email="bob@x.org", contact_uid=derived_uid(contact_entry_id)
        ),
        GroupMember(name="Dan", email="dan@x.org"),
    )
    contact = from_mapi(
        PropertySet({p.PidTagMessageClass: "IPM.Contact", p.PidTagEntryId: contact_entry_id})
    )
    assert contact.uid == group.members[1].contact_uid


def test_the_stream_supersedes_the_lists() -> None:
    """PidLidDistributionListStream (for lists past 15,000 bytes) is read when present."""
    entries = [_one_off("Ann", "ann@x.org"), _one_off("Bob", "bob@x.org")]
    body = b"".join(
        struct.pack("<I", len(e)) + e + struct.pack("<I", len(e)) + e + struct.pack("<I", 0)
        for e in entries
    )
    header = struct.pack("<HHIIIIII", 1, 0, 16, 0, len(entries), 0, 0, 0)
    props = PropertySet(
        {
            p.PidTagMessageClass: "IPM.DistList",
            p.PidLidDistributionListStream: header + body + bytes(8),
            p.PidLidDistributionListMembers: (_one_off("Stale", "stale@x.org"),),
        }
    )
    assert from_mapi(props).members == (
        GroupMember(name="Ann", email="ann@x.org"),
        GroupMember(name="Bob", email="bob@x.org"),
    )
    props[p.PidLidDistributionListStream] = header[:-4]
    with pytest.raises(InvalidItemError):
        from_mapi(props)


def test_malformed_members() -> None:
    """A broken entry id with a readable one-off reads from the one-off; with neither,
    the list is an InvalidItemError (never an IndexError or struct.error)."""
    props = PropertySet(
        {
            p.PidTagMessageClass: "IPM.DistList",
            p.PidLidDistributionListMembers: (b"\x00\x00garbage",),
            p.PidLidDistributionListOneOffMembers: (_one_off("Ann", "ann@x.org"),),
        }
    )
    assert from_mapi(props).members == (GroupMember(name="Ann", email="ann@x.org"),)
    props[p.PidLidDistributionListOneOffMembers] = (b"\xff" * 30,)
    with pytest.raises(InvalidItemError):
        from_mapi(props)
    props[p.PidLidDistributionListMembers] = (WrappedEntryId(0x80, b"\x01").to_bytes(),)
    with pytest.raises(InvalidItemError):
        from_mapi(props)


def test_members_edited_in_outlook_keep_their_references() -> None:
    """Outlook drops a member: the others keep their contact references."""
    group = ContactGroup(
        uid="g",
        members=[
            GroupMember(name="Ann", email="ann@x.org", contact_uid="ann-uid"),
            GroupMember(name="Bob", email="bob@x.org", contact_uid="bob-uid"),
            GroupMember(contact_uid="carol-uid"),
        ],
    )
    props = to_mapi(group)
    kept = (_one_off("Bob", "bob@x.org"),)
    props[p.PidLidDistributionListMembers] = props[p.PidLidDistributionListOneOffMembers] = kept
    props[p.PidLidDistributionListChecksum] = distribution_list_checksum(kept)
    assert from_mapi(props).members == (
        GroupMember(name="Bob", email="bob@x.org", contact_uid="bob-uid"),
        GroupMember(contact_uid="carol-uid"),
    )


def test_outlook_photo_row_keeps_its_other_properties() -> None:
    """The photo row Outlook wrote comes back with the properties we do not map."""
    row = PropertySet(
        {
            p.PidTagAttachMethod: 1,
            p.PidTagAttachDataBinary: b"\xff\xd8\xff\xe0",
            p.PidTagAttachLongFilename: "ContactPicture.jpg",
            p.PidTagAttachFilename: "ContactP.jpg",
            p.PidTagAttachExtension: ".jpg",
            p.PidTagAttachmentContactPhoto: True,
            p.PidTagAttachmentHidden: False,
            p.PidTagRenderingPosition: -1,
        }
    )
    props = PropertySet(
        {p.PidTagMessageClass: "IPM.Contact", p.PidLidHasPicture: True}, attachments=[row]
    )
    contact = from_mapi(props)
    assert contact.photo == Photo(data=b"\xff\xd8\xff\xe0")
    again = to_mapi(contact)
    assert again.attachments == [row]
