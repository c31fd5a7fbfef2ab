"""Contacts, contact groups and their value types: construction, invariants and helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprotocols.errors import InvalidItemError
from openprotocols.model._base import Address, Extended, Item, RawProperty
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

ANN = PersonName(prefix="Dr.", given="Ann", middle="B.", family="Lee", suffix="Jr.")


def ann(**fields: object) -> Contact:
    """A contact with a fixed uid, changed by ``fields``."""
    values: dict[str, object] = {"uid": "c1", "name": ANN, "display_name": "Ann Lee"}
    values.update(fields)
    return Contact(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- value types


def test_phone_kinds_include_outlooks_slots() -> None:
    """The phone kinds the brief requires are spelled exactly."""
    required = {
        "business", "business-2", "home", "home-2", "mobile", "other", "business-fax",
        "home-fax", "pager", "assistant", "car", "company-main",
    }  # fmt: skip
    assert required <= {kind.value for kind in PhoneKind}
    assert PhoneKind.OTHER_FAX.value == "other-fax"


def test_other_enumerations() -> None:
    """Address kinds and genders read well."""
    assert [k.value for k in AddressKind] == ["business", "home", "other"]
    assert Gender.FEMALE.value == "female"


def test_person_name_formats_in_western_order() -> None:
    """The formatted name joins the present parts with spaces."""
    assert ANN.formatted == "Dr. Ann B. Lee Jr."
    assert PersonName(given="Ann", family="Lee").formatted == "Ann Lee"


def test_empty_person_name_is_falsy() -> None:
    """A name without parts is falsy and formats as an empty string."""
    assert not PersonName()
    assert PersonName().formatted == ""
    assert PersonName(family="Lee")


def test_phone_defaults_and_params() -> None:
    """A phone number is of kind other unless told; unmapped parameters are kept."""
    assert Phone("+49 30 1234").kind is PhoneKind.OTHER
    phone = Phone("+49 30 1234", PhoneKind.MOBILE, params={"TYPE": "text"})
    assert phone.params == (("TYPE", "text"),)


def test_email_address_as_mailbox() -> None:
    """A contact's e-mail address reads as a mailbox with its display name."""
    email = EmailAddress("ann@example.org", "Ann (work)", AddressKind.BUSINESS)
    assert email.mailbox == Address("ann@example.org", "Ann (work)")


def test_postal_address_fields() -> None:
    """A postal address holds its parts and defaults to kind other."""
    address = PostalAddress(street="1 Main St", city="Springfield", postal_code="12345")
    assert address.kind is AddressKind.OTHER
    assert (address.street, address.city, address.postal_code) == (
        "1 Main St",
        "Springfield",
        "12345",
    )


def test_photo_needs_data_or_url() -> None:
    """A photo without data and without a url is rejected."""
    with pytest.raises(InvalidItemError, match="needs data or a url"):
        Photo(content_type="image/jpeg")


def test_photo_forms() -> None:
    """A photo may be inline, a link, or both."""
    assert Photo(data=b"\xff\xd8", content_type="image/jpeg").url is None
    assert Photo(url="https://example.org/ann.jpg").data is None
    assert Photo(data=b"\xff\xd8", url="https://example.org/ann.jpg").data == b"\xff\xd8"


# --------------------------------------------------------------------------- contacts


def test_new_contact_generates_distinct_uids() -> None:
    """Every ``new()`` contact and group gets its own uid."""
    uids = {Contact.new("A").uid for _ in range(50)} | {
        ContactGroup.new("G").uid for _ in range(50)
    }
    assert len(uids) == 100


def test_new_contact_keeps_a_given_uid_and_fields() -> None:
    """``new()`` keeps a given uid and passes other fields on."""
    contact = Contact.new("Ann Lee", uid="c9", company="ACME", children=["Bo", "Cy"])
    assert (contact.uid, contact.display_name, contact.company) == ("c9", "Ann Lee", "ACME")
    assert contact.children == ("Bo", "Cy")


def test_contact_defaults() -> None:
    """A new contact has an empty name, no addresses and empty extended data."""
    contact = Contact.new()
    assert not contact.name
    assert contact.display_name is None
    assert (contact.emails, contact.phones, contact.addresses) == ((), (), ())
    assert contact.email is None
    assert contact.extended == Extended()


def test_contacts_and_groups_live_in_contact_folders() -> None:
    """Both item classes name the contacts folder kind and are Items."""
    assert Contact.kind == ContactGroup.kind == "contacts"
    assert isinstance(ann(), Item)
    assert isinstance(ContactGroup.new("G"), Item)


def test_contact_is_immutable() -> None:
    """Assigning to a field of a frozen contact fails."""
    contact = ann()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        contact.company = "ACME"  # type: ignore[misc]


def test_evolve_leaves_the_original_unchanged() -> None:
    """``attrs.evolve`` returns a changed copy and the original keeps its values."""
    original = ann()
    changed = attrs.evolve(original, job_title="CTO", name=attrs.evolve(ANN, family="Ray"))
    assert (changed.job_title, changed.name.family) == ("CTO", "Ray")
    assert (original.job_title, original.name.family) == (None, "Lee")


def test_lists_become_tuples() -> None:
    """Every collection passed as a list is stored as a tuple."""
    contact = ann(
        emails=[EmailAddress("a@example.org")],
        phones=[Phone("1")],
        addresses=[PostalAddress(city="X")],
        children=["Bo"],
        web_pages=["https://example.org"],
        im_addresses=["xmpp:ann@example.org"],
        categories=["Friends"],
    )
    for name in ("emails", "phones", "addresses", "children", "web_pages", "im_addresses",
                 "categories"):  # fmt: skip
        assert isinstance(getattr(contact, name), tuple), name


def test_more_than_three_emails_are_kept_in_order() -> None:
    """Outlook shows three addresses, but a vCard may hold more and none is dropped."""
    emails = [EmailAddress(f"ann{i}@example.org") for i in range(5)]
    contact = ann(emails=emails)
    assert [e.address for e in contact.emails] == [f"ann{i}@example.org" for i in range(5)]
    assert contact.email == "ann0@example.org"


@given(st.lists(st.sampled_from(list(PhoneKind)), max_size=30))
def test_any_number_of_phones_of_any_kinds_is_accepted(kinds: list[PhoneKind]) -> None:
    """Several numbers of one kind, or many numbers, are valid: no Outlook slot limit."""
    phones = [Phone(str(i), kind) for i, kind in enumerate(kinds)]
    contact = ann(phones=phones)
    assert contact.phones == tuple(phones)
    for kind in set(kinds):
        assert contact.phone(kind) == str(kinds.index(kind))


def test_phone_lookup() -> None:
    """``phone(kind)`` returns the first number of that kind, or None."""
    contact = ann(
        phones=[
            Phone("1", PhoneKind.BUSINESS),
            Phone("2", PhoneKind.MOBILE),
            Phone("3", PhoneKind.MOBILE),
        ]
    )
    assert contact.phone(PhoneKind.MOBILE) == "2"
    assert contact.phone(PhoneKind.PAGER) is None


def test_address_lookup() -> None:
    """``address(kind)`` returns the first postal address of that kind, or None."""
    home = PostalAddress(kind=AddressKind.HOME, city="Berlin")
    contact = ann(addresses=[PostalAddress(kind=AddressKind.BUSINESS, city="Bonn"), home])
    assert contact.address(AddressKind.HOME) is home
    assert contact.address(AddressKind.OTHER) is None


def test_dates_and_personal_fields() -> None:
    """Birthday, anniversary (a yearless one as 1604), gender and photo are stored."""
    contact = ann(
        birthday=date(1604, 4, 15),
        anniversary=date(2010, 6, 1),
        gender=Gender.FEMALE,
        photo=Photo(url="https://example.org/ann.jpg"),
        last_modified=datetime(2024, 5, 6, tzinfo=UTC),
    )
    assert contact.birthday == date(1604, 4, 15)
    assert contact.gender is Gender.FEMALE
    assert contact.photo is not None


def test_equal_contacts_are_equal_and_hash_alike() -> None:
    """Contacts with equal fields are equal and hash alike."""
    first = ann(emails=[EmailAddress("a@example.org")], categories=["X"])
    second = ann(emails=(EmailAddress("a@example.org"),), categories=("X",))
    assert first == second
    assert hash(first) == hash(second)
    assert first != ann(categories=["Y"])


def test_extended_round_trips() -> None:
    """Unmapped vCard properties, groups included, survive construction and evolve."""
    label = RawProperty("X-ABLabel", "Work iPhone", group="item1")
    contact = attrs.evolve(ann(extended=[label]), notes="hi")
    assert contact.extended.get("x-ablabel") == (label,)
    assert contact.extended.properties[0].group == "item1"


# --------------------------------------------------------------------------- groups


def test_group_member_needs_an_email_or_a_contact() -> None:
    """A member pointing at neither an address nor a contact is rejected."""
    with pytest.raises(InvalidItemError, match="needs an email or a contact_uid"):
        GroupMember(name="Nobody")


def test_group_member_forms() -> None:
    """A member may be a contact reference, a plain address, or both."""
    assert GroupMember(contact_uid="c1").email is None
    assert GroupMember(email="bo@example.org", name="Bo").contact_uid is None
    assert GroupMember(email="bo@example.org", contact_uid="c2").contact_uid == "c2"


def test_group_members_and_helpers() -> None:
    """Members are a tuple; ``contact_uids`` lists referenced contacts; ``with_member`` adds."""
    group = ContactGroup.new("Team", members=[GroupMember(contact_uid="c1")], notes="n")
    assert group.display_name == "Team"
    assert isinstance(group.members, tuple)
    bo = GroupMember(email="bo@example.org")
    grown = group.with_member(bo).with_member(GroupMember(contact_uid="c2"))
    assert grown.members[1] == bo
    assert grown.contact_uids == ("c1", "c2")
    assert group.members == (GroupMember(contact_uid="c1"),)


def test_with_member_ignores_an_existing_member() -> None:
    """Adding a member already in the group returns the group unchanged."""
    group = ContactGroup.new("Team", members=[GroupMember(contact_uid="c1")])
    assert group.with_member(GroupMember(contact_uid="c1")) is group


def test_group_is_immutable_and_keeps_extended() -> None:
    """Groups are frozen and keep unmapped properties."""
    group = ContactGroup.new("Team", extended=[RawProperty("X-ADDRESSBOOKSERVER-KIND", "group")])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        group.display_name = "Other"  # type: ignore[misc]
    assert group.extended.get("X-ADDRESSBOOKSERVER-KIND")[0].value == "group"


# --------------------------------------------------------------------------- all classes


@pytest.mark.parametrize(
    "cls",
    [Contact, ContactGroup, GroupMember, PersonName, Phone, EmailAddress, PostalAddress, Photo],
)
def test_annotations_resolve_at_runtime(cls: type) -> None:
    """Every field's type resolves at runtime, as cattrs and ``attrs.resolve_types`` need."""
    attrs.resolve_types(cls)
    assert all(not isinstance(field.type, str) for field in attrs.fields(cls))
