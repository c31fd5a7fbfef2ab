"""Property-based tests of the vCard codec: every model value survives serialize → parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import attrs
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from openprotocols.formats import vcard
from openprotocols.formats._contentline import format_line
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

VERSIONS = st.sampled_from(["3.0", "4.0"])

# Any text a user may type: multi-byte characters, line breaks and every special character
# of the format; no control characters (other than tab and newline) and no CR.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t\\;,:\"^=' é€😀"),
    max_size=40,
)
NONEMPTY = TEXT.filter(bool)
OPTIONAL = st.none() | NONEMPTY
SAFE = st.text(st.sampled_from("abcXYZ019-_./ é"), min_size=0, max_size=12)
XNAME = st.text(st.sampled_from("ABCXYZ0129-"), min_size=1, max_size=8)
PARAM_VALUE = SAFE | SAFE.map(lambda v: f'"{v};{v}:{v},"')
PARAMS = st.lists(st.tuples(XNAME.map(lambda n: f"X-P-{n}"), PARAM_VALUE), max_size=3).map(tuple)
URLISH = st.text(st.sampled_from("abcxyz0189:/.?=&%#~-_"), min_size=1, max_size=30).filter(
    lambda u: not u.lower().startswith("data:")
)
DATES = st.dates()
TIMESTAMPS = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(2100, 12, 30),
    timezones=st.none()
    | st.just(UTC)
    | st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
).map(lambda d: d.replace(microsecond=0))


@st.composite
def photos(draw: st.DrawFn) -> Photo:
    """An inline photo, a photo by URL, or both."""
    data = draw(st.none() | st.binary(max_size=64))
    url = draw(URLISH) if data is None else draw(st.none() | URLISH)
    content_type = draw(st.sampled_from([None, "image/jpeg", "image/png", "image/svg+xml"]))
    return Photo(data=data, url=url, content_type=content_type)


EXTENDED = st.lists(
    st.builds(
        RawProperty,
        name=XNAME.map(lambda n: f"X-T-{n}"),
        value=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
        params=PARAMS,
        group=st.none() | st.sampled_from(["item1", "item2", "G-3"]),
    ),
    max_size=4,
)


def contacts(
    text: st.SearchStrategy[str],
    times: st.SearchStrategy[datetime],
    *,
    params: st.SearchStrategy[tuple[tuple[str, str], ...]] = PARAMS,
    email_params: st.SearchStrategy[tuple[tuple[str, str], ...]] | None = None,
    extended: st.SearchStrategy[list[RawProperty]] = EXTENDED,
) -> st.SearchStrategy[Contact]:
    """Contacts with any field values: ``text`` for the free text, ``times`` for the
    time stamps (the Outlook adapter's tests draw other text and times than a vCard holds)."""
    nonempty = text.filter(bool)
    optional = st.none() | nonempty
    return st.builds(
        Contact,
        uid=nonempty,
        name=st.builds(
            PersonName,
            prefix=optional,
            given=optional,
            middle=optional,
            family=optional,
            suffix=optional,
        ),
        display_name=optional,
        file_as=st.none() | text,
        nickname=st.none() | text,
        emails=st.lists(
            st.builds(
                EmailAddress,
                text,
                display_name=st.none() | text,
                kind=st.none() | st.sampled_from(AddressKind),
                params=params if email_params is None else email_params,
            ),
            max_size=5,
        ),
        phones=st.lists(st.builds(Phone, text, st.sampled_from(PhoneKind), params), max_size=5),
        addresses=st.lists(
            st.builds(
                PostalAddress,
                kind=st.sampled_from(AddressKind),
                street=optional,
                city=optional,
                region=optional,
                postal_code=optional,
                country=optional,
                po_box=optional,
                extended_address=optional,
                label=st.none() | text,
                params=params,
            ),
            max_size=4,
        ),
        company=optional,
        department=optional,
        job_title=st.none() | text,
        office=st.none() | text,
        manager=st.none() | text,
        assistant=st.none() | text,
        spouse=st.none() | text,
        children=st.lists(text, max_size=3),
        birthday=st.none() | DATES,
        anniversary=st.none() | DATES,
        web_pages=st.lists(text, max_size=4),
        im_addresses=st.lists(text, max_size=3),
        notes=st.none() | text,
        photo=st.none() | photos(),
        gender=st.none() | st.sampled_from(Gender),
        categories=st.lists(nonempty, max_size=3),
        created=st.none() | times,
        last_modified=st.none() | times,
        extended=extended,
    )


def groups(
    text: st.SearchStrategy[str],
    times: st.SearchStrategy[datetime],
    *,
    extended: st.SearchStrategy[list[RawProperty]] = EXTENDED,
) -> st.SearchStrategy[ContactGroup]:
    """Contact groups with members of every shape (``text`` and ``times`` as above)."""
    nonempty = text.filter(bool)
    member = st.one_of(
        st.builds(GroupMember, name=st.none() | text, contact_uid=nonempty),
        st.builds(GroupMember, name=st.none() | text, email=nonempty),
        st.builds(GroupMember, name=st.none() | text, email=nonempty, contact_uid=nonempty),
    )
    return st.builds(
        ContactGroup,
        uid=nonempty,
        display_name=text,
        members=st.lists(member, max_size=5),
        notes=st.none() | text,
        categories=st.lists(nonempty, max_size=3),
        created=st.none() | times,
        last_modified=st.none() | times,
        extended=extended,
    )


CONTACTS = contacts(TEXT, TIMESTAMPS)
GROUPS = groups(TEXT, TIMESTAMPS)


def physical_lines_are_valid(data: bytes, *, utf8: bool = True) -> None:
    """Every physical line fits in 75 octets and (unless the card came from a Latin-1
    stream) is whole UTF-8."""
    assert data.endswith(b"\r\n")
    for line in data[:-2].split(b"\r\n"):
        assert len(line) <= 75
        if utf8:
            line.decode("utf-8")


@given(text=TEXT, version=VERSIONS)
def test_text_escaping_and_folding(text: str, version: str) -> None:
    """Any text survives escaping and folding at 75 octets, multi-byte characters whole."""
    contact = Contact.new("x", uid="u", notes=text, nickname=text, categories=[text or "c"])
    out = vcard.serialize(contact, version=version)
    physical_lines_are_valid(out)
    assert vcard.parse(out).items == (contact,)


@given(extended=EXTENDED, version=VERSIONS)
def test_x_properties_with_unknown_parameters(extended: list[RawProperty], version: str) -> None:
    """X-properties with any parameters are written and read back verbatim."""
    contact = Contact.new("x", uid="u", extended=extended)
    parsed = vcard.parse(vcard.serialize(contact, version=version))
    assert parsed.items[0].extended.properties == tuple(extended)


@settings(max_examples=300)
@given(contact=CONTACTS, version=VERSIONS)
def test_every_contact_field_round_trips(contact: Contact, version: str) -> None:
    """A contact with any field values serializes and parses back equal."""
    out = vcard.serialize(contact, version=version)
    physical_lines_are_valid(out)
    parsed = vcard.parse(out)
    assert parsed.items == (contact,)
    assert parsed.warnings == ()


@settings(max_examples=200)
@given(group=GROUPS, version=VERSIONS)
def test_every_group_field_round_trips(group: ContactGroup, version: str) -> None:
    """A contact group with any members serializes and parses back equal."""
    parsed = vcard.parse(vcard.serialize(group, version=version))
    assert parsed.items == (group,)


@settings(max_examples=300)
@given(before=CONTACTS, after=CONTACTS, version=VERSIONS)
def test_any_edit_against_the_original_parses_as_the_edit(
    before: Contact, after: Contact, version: str
) -> None:
    """Whatever changed, the minimal rewrite of the original card reads as the edited item."""
    original = vcard.serialize(before, version=version)
    edited = attrs.evolve(after, uid=before.uid)
    out = vcard.serialize(edited, original=original)
    physical_lines_are_valid(out)
    assert vcard.parse(out).items == (edited,)


@settings(max_examples=100)
@given(before=GROUPS, after=GROUPS, version=VERSIONS)
def test_any_group_edit_parses_as_the_edit(
    before: ContactGroup, after: ContactGroup, version: str
) -> None:
    """Whatever changed in a group, the rewrite of its card reads as the edited group."""
    original = vcard.serialize(before, version=version)
    edited = attrs.evolve(after, uid=before.uid)
    assert vcard.parse(vcard.serialize(edited, original=original)).items == (edited,)


@settings(max_examples=100)
@given(contact=CONTACTS, version=VERSIONS)
def test_unchanged_item_is_written_byte_for_byte(contact: Contact, version: str) -> None:
    """Re-serializing a parsed card without changes gives the same bytes."""
    data = vcard.serialize(contact, version=version)
    assert vcard.serialize(vcard.parse(data)) == data


CORPUS = Path(__file__).parent / "corpus" / "vcard"
CORPUS_CONTACTS = [
    (path.name, index)
    for path in sorted(CORPUS.glob("*.vcf"))
    for index, item in enumerate(vcard.parse(path.read_bytes()).items)
    if isinstance(item, Contact)
]
CONTACT_FIELDS = [a.name for a in attrs.fields(Contact) if a.name != "uid"]


@settings(max_examples=200)
@given(
    card=st.sampled_from(CORPUS_CONTACTS),
    other=CONTACTS,
    fields=st.sets(st.sampled_from(CONTACT_FIELDS), min_size=1, max_size=4),
)
def test_random_edits_of_corpus_cards(
    card: tuple[str, int], other: Contact, fields: set[str]
) -> None:
    """Any fields of any corpus card (2.1 included) replaced: the rewrite reads as the edit."""
    name, index = card
    data = (CORPUS / name).read_bytes()
    item = vcard.parse(data).items[index]
    edited = attrs.evolve(item, **{field: getattr(other, field) for field in fields})
    if name == "outlook-2.1.vcf":  # Windows-1252: verbatim lines and parameters must fit
        assume(all(_latin1(format_line(p)) for p in edited.extended.properties))
        assume(_latin1(_parameter_text(edited)))
    out = vcard.serialize(edited, original=data)
    physical_lines_are_valid(out, utf8=name != "outlook-2.1.vcf")  # Outlook's is Windows-1252
    assert vcard.parse(out).items == (edited,)


def _latin1(text: str) -> bool:
    """Whether Latin-1 can hold the text."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _parameter_text(contact: Contact) -> str:
    """Everything of a contact that is written into parameters."""
    parts = [str(e.params) + (e.display_name or "") for e in contact.emails]
    parts += [str(p.params) for p in contact.phones]
    parts += [str(a.params) for a in contact.addresses]
    parts.append(contact.photo.url or "" if contact.photo else "")
    return "".join(parts)
