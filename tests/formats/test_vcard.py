"""The vCard codec: mapping of every field, minimal edits, versions, bad input."""

from __future__ import annotations

import difflib
from datetime import UTC, date, datetime
from pathlib import Path

import attrs
import pytest

from openprotocols.errors import ConfigurationError, ParseError
from openprotocols.formats import vcard
from openprotocols.formats._contentline import read_lines
from openprotocols.formats._vcard_values import fold_qp, join_qp_soft_breaks
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

CORPUS = Path(__file__).parent / "corpus" / "vcard"


def corpus(name: str) -> bytes:
    """The bytes of a corpus file."""
    return (CORPUS / name).read_bytes()


def unfolded(data: bytes) -> list[str]:
    """The logical content lines of a stream."""
    return [line.text for line in read_lines(join_qp_soft_breaks(data), format="t", warnings=[])]


def changes(before: bytes, after: bytes) -> tuple[list[str], list[str]]:
    """The content lines only in ``before`` and only in ``after``."""
    old, new = unfolded(before), unfolded(after)
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes():
        if tag != "equal":
            removed += old[i1:i2]
            added += new[j1:j2]
    return removed, added


def card(*lines: str, version: str = "3.0") -> bytes:
    """A one-card stream with CRLF line ends."""
    body = ["BEGIN:VCARD", f"VERSION:{version}", *lines, "END:VCARD"]
    return ("\r\n".join(body) + "\r\n").encode()


def one(data: bytes) -> Contact:
    """The single contact of a stream."""
    item = vcard.parse(data).items[0]
    assert isinstance(item, Contact)
    return item


def edit(data: bytes, **changes_: object) -> tuple[bytes, Contact]:
    """Parse a one-card stream, change fields, serialize against the original."""
    contact = attrs.evolve(one(data), **changes_)  # type: ignore[arg-type]
    return vcard.serialize(contact, original=data), contact


# -- mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kind", "params"),
    [
        ("TEL;TYPE=WORK:1", PhoneKind.BUSINESS, ()),
        ("TEL;TYPE=work,voice:1", PhoneKind.BUSINESS, ()),
        ("TEL;TYPE=HOME;TYPE=VOICE:1", PhoneKind.HOME, ()),
        ("TEL;TYPE=CELL:1", PhoneKind.MOBILE, ()),
        ("TEL;TYPE=work,cell:1", PhoneKind.MOBILE, (("TYPE", "work"),)),
        ("TEL;TYPE=work,fax:1", PhoneKind.BUSINESS_FAX, ()),
        ('TEL;TYPE="home,fax":1', PhoneKind.HOME_FAX, ()),
        ("TEL;TYPE=FAX:1", PhoneKind.OTHER_FAX, ()),
        ("TEL;TYPE=PAGER:1", PhoneKind.PAGER, ()),
        ("TEL;TYPE=CAR:1", PhoneKind.CAR, ()),
        ("TEL;TYPE=ISDN:1", PhoneKind.ISDN, ()),
        ("TEL;TYPE=textphone:1", PhoneKind.TTY_TDD, ()),
        ("TEL;type=MAIN:1", PhoneKind.COMPANY_MAIN, ()),
        ("TEL;TYPE=VOICE:1", PhoneKind.OTHER, ()),
        ("TEL:1", PhoneKind.OTHER, ()),
        ("TEL;TYPE=CELL;TYPE=pref:1", PhoneKind.MOBILE, (("TYPE", "pref"),)),
        ("TEL;TYPE=work;TYPE=x-second:1", PhoneKind.BUSINESS_2, ()),
        ("TEL;TYPE=X-EVOLUTION-CALLBACK:1", PhoneKind.CALLBACK, ()),
        ("X-MS-TEL;TYPE=RADIO:1", PhoneKind.RADIO, ()),
        ("TEL;PREF;X-ABC=1:1", PhoneKind.OTHER, (("", "PREF"), ("X-ABC", "1"))),
    ],
)
def test_tel_types_map_to_phone_kinds(line: str, kind: PhoneKind, params: tuple[object]) -> None:
    """TEL type combinations map to Outlook's phone slots; other types stay in params."""
    phone = one(card(line, "UID:1")).phones[0]
    assert (phone.kind, phone.params) == (kind, params)


def test_every_phone_kind_round_trips() -> None:
    """A new phone of every kind reads back as that kind, in 3.0 and 4.0."""
    phones = [Phone(f"+1 {i}", kind) for i, kind in enumerate(PhoneKind)]
    contact = Contact.new("P", phones=phones)
    for version in ("3.0", "4.0"):
        assert one(vcard.serialize(contact, version=version)).phones == tuple(phones)


def test_tel_uri_value() -> None:
    """A vCard 4.0 ``tel:`` URI reads as the number; the VALUE parameter is kept."""
    contact = one(card("TEL;VALUE=uri;TYPE=cell:tel:+1-555-0100", "UID:1", version="4.0"))
    assert contact.phones == (Phone("+1-555-0100", PhoneKind.MOBILE, (("VALUE", "uri"),)),)
    changed = attrs.evolve(contact.phones[0], number="+1-555-0111")
    out = vcard.serialize(attrs.evolve(contact, phones=(changed,)), original=None)
    assert "TEL;TYPE=cell;VALUE=uri:tel:+1-555-0111" in unfolded(out)


def test_email_kinds_display_name_and_order() -> None:
    """EMAIL order, work/home types and the X-CN display name are read and written."""
    contact = one(
        card(
            "EMAIL;TYPE=INTERNET,WORK:a@x.test",
            "EMAIL;TYPE=HOME;X-CN=\"Lee, Ann ^'A^'\":b@x.test",
            "EMAIL:c@x.test",
            "EMAIL:d@x.test",
            "UID:1",
        )
    )
    assert [e.address for e in contact.emails] == ["a@x.test", "b@x.test", "c@x.test", "d@x.test"]
    assert contact.emails[0] == EmailAddress(
        "a@x.test", kind=AddressKind.BUSINESS, params=(("TYPE", "INTERNET"),)
    )
    assert contact.emails[1].display_name == 'Lee, Ann "A"'
    assert contact.emails[1].kind is AddressKind.HOME
    assert contact.email == "a@x.test"


def test_structured_name_org_and_address() -> None:
    """N, ORG and ADR components map to their fields; empty components are None."""
    contact = one(
        card(
            "N:Lee;Ann;B.,C.;Dr.;",
            "ORG:Example\\, Inc.;R&D;Lab 3",
            "ADR;TYPE=work:PO 1;Suite 2;1 Main St;Town;ST;12345;Land",
            "ADR:;;Only street;;;;",
            "UID:1",
        )
    )
    assert contact.name == PersonName(prefix="Dr.", given="Ann", middle="B.,C.", family="Lee")
    assert (contact.company, contact.department) == ("Example, Inc.", "R&D")
    work = contact.address(AddressKind.BUSINESS)
    assert work == PostalAddress(
        kind=AddressKind.BUSINESS,
        po_box="PO 1",
        extended_address="Suite 2",
        street="1 Main St",
        city="Town",
        region="ST",
        postal_code="12345",
        country="Land",
    )
    assert contact.addresses[1] == PostalAddress(street="Only street")


def test_labels_join_their_address() -> None:
    """A 3.0 LABEL joins the ADR with its TYPE (or group); a 4.0 LABEL parameter is read."""
    three = one(
        card(
            "ADR;TYPE=HOME:;;1 Home St;;;;",
            "ADR;TYPE=WORK:;;1 Work St;;;;",
            "LABEL;TYPE=WORK:1 Work St\\nTown",
            "item1.ADR:;;Other St;;;;",
            "item1.LABEL:Other St",
            "LABEL;TYPE=PARCEL:orphan",
            "UID:1",
        )
    )
    assert [a.label for a in three.addresses] == [None, "1 Work St\nTown", "Other St"]
    assert three.extended.get("LABEL")[0].value == "orphan"
    four = one(card('ADR;LABEL="1 St^nTown":;;1 St;Town;;;', "UID:1", version="4.0"))
    assert four.addresses[0].label == "1 St\nTown"


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("BDAY:19850415", "birthday", date(1985, 4, 15)),
        ("BDAY:1985-04-15", "birthday", date(1985, 4, 15)),
        ("BDAY:--0415", "birthday", date(1604, 4, 15)),
        ("BDAY:--04-15", "birthday", date(1604, 4, 15)),
        ("BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15", "birthday", date(1604, 4, 15)),
        ("BDAY:1985-04-15T00:00:00Z", "birthday", date(1985, 4, 15)),
        ("ANNIVERSARY:20100612", "anniversary", date(2010, 6, 12)),
        ("X-ANNIVERSARY:2010-06-12", "anniversary", date(2010, 6, 12)),
        ("X-MS-ANNIVERSARY:20100612", "anniversary", date(2010, 6, 12)),
        ("X-EVOLUTION-ANNIVERSARY:2010-06-12", "anniversary", date(2010, 6, 12)),
        ("REV:20240102T030405Z", "last_modified", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (
            "REV:2024-01-02T03:04:05.250Z",
            "last_modified",
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        (
            "REV:2024-01-02T05:04:05+02:00",
            "last_modified",
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        ("REV:20240102T030405", "last_modified", datetime(2024, 1, 2, 3, 4, 5)),
        ("CREATED:20240102T030405Z", "created", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("GENDER:M", "gender", Gender.MALE),
        ("GENDER:F;woman", "gender", Gender.FEMALE),
        ("X-GENDER:Female", "gender", Gender.FEMALE),
        ("X-WAB-GENDER:2", "gender", Gender.MALE),
        ("X-MS-MANAGER:Boss", "manager", "Boss"),
        ("X-MANAGER:Boss", "manager", "Boss"),
        ("RELATED;VALUE=text;TYPE=x-manager:Boss", "manager", "Boss"),
        ("X-EVOLUTION-ASSISTANT:Help", "assistant", "Help"),
        ("X-KADDRESSBOOK-X-SpouseName:Pat", "spouse", "Pat"),
        ("RELATED;TYPE=spouse;VALUE=text:Pat", "spouse", "Pat"),
        ("X-EVOLUTION-FILE-AS:Lee\\, Ann", "file_as", "Lee, Ann"),
        ("X-EVOLUTION-OFFICE:B-12", "office", "B-12"),
        ("TITLE:CEO", "job_title", "CEO"),
        ("NICKNAME:Annie", "nickname", "Annie"),
        ("NOTE:a\\nb\\;c\\,d\\\\e", "notes", "a\nb;c,d\\e"),
        ("URL:http\\://x.test/a", "web_pages", ("http://x.test/a",)),
        ("IMPP:xmpp:a@x.test", "im_addresses", ("xmpp:a@x.test",)),
        ("X-JABBER:a@x.test", "im_addresses", ("xmpp:a@x.test",)),
        ("X-AIM:ann", "im_addresses", ("aim:ann",)),
        ("CATEGORIES:a,b\\,c", "categories", ("a", "b,c")),
        ("X-MS-CHILD:Kid", "children", ("Kid",)),
    ],
)
def test_property_maps_to_field(line: str, field: str, expected: object) -> None:
    """Each known property (and its vendor variants) reads into its model field."""
    assert getattr(one(card(line, "UID:1")), field) == expected


def test_bad_values_are_kept_with_a_warning() -> None:
    """A date, timestamp or photo that cannot be read stays verbatim, with a warning."""
    data = card("BDAY:circa 1800", "REV:later", "PHOTO;ENCODING=b:***", "UID:1")
    parsed = vcard.parse(data)
    contact = parsed.items[0]
    assert isinstance(contact, Contact)
    assert contact.birthday is None
    assert [p.name for p in contact.extended.properties] == ["BDAY", "REV", "PHOTO"]
    assert [w.line for w in parsed.warnings] == [3, 4, 5]
    assert unfolded(vcard.serialize(parsed)) == unfolded(data)


def test_bday_as_text_is_not_a_date() -> None:
    """A vCard 4.0 ``BDAY;VALUE=text`` stays extended without a warning."""
    parsed = vcard.parse(card("BDAY;VALUE=text:circa 1800", "UID:1", version="4.0"))
    assert parsed.warnings == ()
    assert parsed.items[0].extended.get("BDAY")


@pytest.mark.parametrize(
    ("line", "version"),
    [
        ("PHOTO;ENCODING=b;TYPE=JPEG:AAEC", "3.0"),
        ("PHOTO;ENCODING=BASE64;JPEG:AAEC", "2.1"),
        ("PHOTO:data:image/jpeg;base64,AAEC", "4.0"),
    ],
)
def test_inline_photo(line: str, version: str) -> None:
    """Inline photos of every version read as bytes with their media type."""
    contact = one(card(line, "UID:1", version=version))
    assert contact.photo == Photo(data=b"\x00\x01\x02", content_type="image/jpeg")


def test_photo_by_url() -> None:
    """A photo by URL keeps the URL (and a 4.0 MEDIATYPE)."""
    assert one(card("PHOTO;VALUE=uri:https://x.test/p.jpg", "UID:1")).photo == Photo(
        url="https://x.test/p.jpg"
    )
    four = one(card("PHOTO;MEDIATYPE=image/png:https://x.test/p", "UID:1", version="4.0"))
    assert four.photo == Photo(url="https://x.test/p", content_type="image/png")


def test_new_photo_in_4_0_is_a_data_uri() -> None:
    """vCard 4.0 writes inline photos as data: URIs (which vobject would lose)."""
    contact = Contact.new("P", uid="1", photo=Photo(data=b"\xff\xd8", content_type="image/jpeg"))
    assert "PHOTO:data:image/jpeg;base64,/9g=" in unfolded(vcard.serialize(contact))
    three = unfolded(vcard.serialize(contact, version="3.0"))
    assert "PHOTO;ENCODING=b;TYPE=JPEG:/9g=" in three


def test_vcard_21_quoted_printable_and_charset() -> None:
    """vCard 2.1: soft line breaks, quoted-printable UTF-8 and Windows-1252 bytes."""
    data = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=Windows-1252:M\xfcller;J\xfcrgen\r\n"
        b"NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:=E2=82=AC 5=0D=0Anext=\r\n"
        b" line=\r\ncontinues\r\nTEL;WORK;VOICE:1\r\nUID:u\r\nEND:VCARD\r\n"
    )
    contact = one(data)
    assert contact.name.family == "Müller"
    assert contact.notes == "€ 5\nnext linecontinues"
    assert contact.phones == (Phone("1", PhoneKind.BUSINESS),)


def test_vcard_21_edit_writes_21_lines() -> None:
    """Editing a 2.1 card keeps it 2.1; new non-ASCII text is quoted-printable UTF-8."""
    data = corpus("outlook-2.1.vcf")
    out, contact = edit(data, job_title="Geschäftsführerin\nund Inhaberin")
    removed, added = changes(data, out)
    assert removed == ["TITLE;CHARSET=Windows-1252:Geschäftsführer"]
    assert added == [
        f"UID:{contact.uid}",  # the card had none: the derived uid is kept from now on
        "TITLE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:"
        "Gesch=C3=A4ftsf=C3=BChrerin=0D=0Aund Inhaberin",
    ]
    assert one(out) == contact


def test_groups_vcard4_and_apple() -> None:
    """KIND:group and Apple's X-ADDRESSBOOKSERVER-KIND read as groups with members."""
    four = vcard.parse(
        card(
            "KIND:group",
            "FN:Team",
            "MEMBER:urn:uuid:abc",
            'MEMBER;X-CN="Bo":mailto:bo@x.test',
            "MEMBER:sip:x@x.test",
            "UID:g",
            version="4.0",
        )
    ).items[0]
    assert isinstance(four, ContactGroup)
    assert four.display_name == "Team"
    assert four.members == (
        GroupMember(contact_uid="abc"),
        GroupMember(name="Bo", email="bo@x.test"),
    )
    assert four.extended.get("MEMBER")[0].value == "sip:x@x.test"
    apple = vcard.parse(corpus("apple-contacts-3.0.vcf")).items[1]
    assert isinstance(apple, ContactGroup)
    assert apple.contact_uids[0] == "6B29FC40-CA47-1067-B31D-00DD010662DA"


def test_apple_labelled_related_names_and_dates() -> None:
    """Apple's X-ABRELATEDNAMES and X-ABDATE map by their X-ABLabel."""
    contact = vcard.parse(corpus("apple-contacts-3.0.vcf")).items[0]
    assert isinstance(contact, Contact)
    assert (contact.spouse, contact.manager, contact.children) == (
        "Jane Appleseed",
        "Tim",
        ("Little Johnny",),
    )
    assert contact.anniversary == date(2004, 8, 20)


def test_duplicate_single_valued_properties_stay_extended() -> None:
    """Only the first FN maps; a second one is kept verbatim."""
    contact = one(card("FN:First", "FN:Second", "UID:1"))
    assert contact.display_name == "First"
    assert contact.extended.get("FN")[0].value == "Second"


def test_unknown_properties_keep_group_case_and_params() -> None:
    """Unmapped properties are kept verbatim, group and case included."""
    contact = one(card('item1.X-ABLabel;X-Q="a;b":_$!<Other>!$_', "UID:1"))
    assert contact.extended.properties == (
        RawProperty("X-ABLabel", "_$!<Other>!$_", (("X-Q", '"a;b"'),), "item1"),
    )


# -- writing new cards -------------------------------------------------------------------


def test_new_contact_as_4_0() -> None:
    """A new contact is written as vCard 4.0, VERSION first, in a fixed field order."""
    contact = Contact.new(
        "Ann Lee",
        uid="u-1",
        name=PersonName(given="Ann", family="Lee"),
        emails=[EmailAddress("ann@x.test", display_name="Ann", kind=AddressKind.HOME)],
        birthday=date(1604, 4, 15),
        spouse="Bob",
    )
    assert unfolded(vcard.serialize(contact)) == [
        "BEGIN:VCARD",
        "VERSION:4.0",
        "UID:u-1",
        "N:Lee;Ann;;;",
        "FN:Ann Lee",
        "EMAIL;TYPE=home;X-CN=Ann:ann@x.test",
        "BDAY:--0415",
        "RELATED;VALUE=text;TYPE=spouse:Bob",
        "END:VCARD",
    ]


def test_new_contact_as_3_0() -> None:
    """``version="3.0"`` writes RFC 2426 forms (X- properties where 3.0 has none)."""
    contact = Contact.new(
        None,
        uid="u-1",
        phones=[Phone("1", PhoneKind.BUSINESS_FAX)],
        anniversary=date(2001, 2, 3),
        gender=Gender.FEMALE,
        created=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert unfolded(vcard.serialize(contact, version="3.0")) == [
        "BEGIN:VCARD",
        "VERSION:3.0",
        "UID:u-1",
        "N:;;;;",
        "FN:",
        "TEL;TYPE=WORK,FAX:1",
        "X-ANNIVERSARY:2001-02-03",
        "X-GENDER:Female",
        "X-CREATED:2024-01-02T03:04:05Z",
        "END:VCARD",
    ]


def test_new_group_as_3_0_and_4_0() -> None:
    """New groups are KIND:group + MEMBER in 4.0 and Apple's form in 3.0."""
    group = ContactGroup.new(
        "Team", uid="g", members=[GroupMember(contact_uid="a"), GroupMember(email="b@x.test")]
    )
    assert unfolded(vcard.serialize(group))[2:-1] == [
        "KIND:group",
        "UID:g",
        "FN:Team",
        "MEMBER:urn:uuid:a",
        "MEMBER:mailto:b@x.test",
    ]
    assert unfolded(vcard.serialize(group, version="3.0"))[2:-1] == [
        "X-ADDRESSBOOKSERVER-KIND:group",
        "UID:g",
        "N:Team;;;;",
        "FN:Team",
        "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:a",
        "X-ADDRESSBOOKSERVER-MEMBER:mailto:b@x.test",
    ]


def test_unknown_version_is_refused() -> None:
    """Only 3.0 and 4.0 can be asked for (2.1 is read, not written new)."""
    with pytest.raises(ConfigurationError):
        vcard.serialize(Contact.new("x"), version="2.1")


def test_lines_are_folded_at_75_octets_without_splitting_characters() -> None:
    """Long lines fold at 75 octets and never inside a multi-byte character."""
    out = vcard.serialize(Contact.new("ü" * 100, uid="1"))
    physical = out.split(b"\r\n")
    assert max(len(p) for p in physical) <= 75
    for piece in physical:
        piece.decode("utf-8")  # raises if a character was split
    assert one(out).display_name == "ü" * 100


# -- lossless edits ------------------------------------------------------------------------


def test_unchanged_cards_are_written_with_their_lines() -> None:
    """Serializing a parse result gives the same content lines, stream order kept."""
    data = corpus("nextcloud-4.0.vcf") + corpus("evolution-3.0.vcf")
    assert unfolded(vcard.serialize(vcard.parse(data))) == unfolded(data)


def test_changing_a_phone_number_rewrites_only_its_line() -> None:
    """The changed line keeps its property name, group and parameters."""
    data = corpus("apple-contacts-3.0.vcf")
    parsed = vcard.parse(data)
    contact = parsed.items[0]
    assert isinstance(contact, Contact)
    phones = list(contact.phones)
    phones[3] = attrs.evolve(phones[3], number="(408) 555-0199")
    edited = attrs.evolve(parsed, items=(attrs.evolve(contact, phones=phones), parsed.items[1]))
    assert changes(data, vcard.serialize(edited)) == (
        ["TEL;type=WORK;type=FAX:(408) 555-0102"],
        ["TEL;type=WORK;type=FAX:(408) 555-0199"],
    )


def test_changing_a_grouped_email_keeps_its_group() -> None:
    """An Apple ``itemN.`` group stays on the rewritten line, so its label still applies."""
    data = corpus("apple-contacts-3.0.vcf")
    contact = vcard.parse(data).items[0]
    assert isinstance(contact, Contact)
    emails = (contact.emails[0], attrs.evolve(contact.emails[1], address="new@icloud.example"))
    out = vcard.serialize(attrs.evolve(contact, emails=emails), original=data)
    assert changes(unfolded_card(data, 0), out)[1] == [
        "item2.EMAIL;type=INTERNET:new@icloud.example"
    ]


def test_changing_spouse_keeps_apple_line() -> None:
    """An edited Apple related name is rewritten in place, group and label kept."""
    data = corpus("apple-contacts-3.0.vcf")
    contact = vcard.parse(data).items[0]
    out = vcard.serialize(attrs.evolve(contact, spouse="Janet"), original=data)
    assert changes(unfolded_card(data, 0), out) == (
        ["item7.X-ABRELATEDNAMES;type=pref:Jane Appleseed"],
        ["item7.X-ABRELATEDNAMES;type=pref:Janet"],
    )


@pytest.mark.parametrize(
    ("name", "changes_", "removed", "added"),
    [
        (
            "thunderbird-4.0.vcf",
            {"display_name": "David Smith"},
            ["FN:Dave Smith"],
            ["FN:David Smith"],
        ),
        ("thunderbird-4.0.vcf", {"nickname": None}, ["NICKNAME:Davey"], []),
        (
            "thunderbird-4.0.vcf",
            {"categories": ("VIP",)},
            [],
            ["CATEGORIES:VIP"],
        ),
        (
            "evolution-3.0.vcf",
            {"file_as": "Diaz; Carla"},
            ["X-EVOLUTION-FILE-AS:Diaz\\, Carla"],
            ["X-EVOLUTION-FILE-AS:Diaz\\; Carla"],
        ),
        (
            "evolution-3.0.vcf",
            {"im_addresses": ("xmpp:carla@new.example", "aim:carlaaim")},
            ["X-JABBER;TYPE=HOME;X-EVOLUTION-UI-SLOT=1:carla@jabber.example"],
            ["X-JABBER;TYPE=HOME;X-EVOLUTION-UI-SLOT=1:carla@new.example"],
        ),
        (
            "nextcloud-4.0.vcf",
            {"birthday": date(1990, 4, 15)},
            ["BDAY:--0415"],
            ["BDAY:19900415"],
        ),
        (
            "nextcloud-4.0.vcf",
            {"gender": Gender.MALE},
            ["GENDER:F"],
            ["GENDER:M"],
        ),
        (
            "google-3.0.vcf",
            {"company": "Navy", "department": "Research"},
            ["item1.ORG:US Navy"],
            ["item1.ORG:Navy;Research"],
        ),
    ],
)
def test_one_field_edit_changes_one_line(
    name: str, changes_: dict[str, object], removed: list[str], added: list[str]
) -> None:
    """Editing one field rewrites, adds or removes only that field's line."""
    data = corpus(name)
    first = vcard.parse(data).items[0]
    edited = attrs.evolve(first, **changes_)  # type: ignore[arg-type]
    out = vcard.serialize([edited], original=data)
    old_lines, new_lines = changes(unfolded_card(data, 0), out)
    if "UID:" not in data.decode():
        new_lines.remove(f"UID:{first.uid}")  # a card without UID gets its uid on an edit
    assert (old_lines, new_lines) == (removed, added)
    assert vcard.parse(out).items[0] == edited


def test_adding_an_email_puts_it_after_the_others() -> None:
    """A new list element is inserted after its field's last line."""
    data = corpus("thunderbird-4.0.vcf")
    contact = one(data)
    out, edited = edit(data, emails=(*contact.emails, EmailAddress("third@x.test")))
    lines = unfolded(out)
    assert lines[lines.index("EMAIL:dave.smith@work.example") + 1] == "EMAIL:third@x.test"
    assert one(out) == edited


def test_reordering_emails_is_kept() -> None:
    """Outlook's Email1-3 follow the order, so a reorder is written as one."""
    data = corpus("google-3.0.vcf")
    contact = one(data)
    emails = (contact.emails[1], contact.emails[0], *contact.emails[2:])
    out, edited = edit(data, emails=emails)
    assert one(out).emails == emails
    assert sorted(unfolded(out)) == sorted([*unfolded(data), f"UID:{edited.uid}"])
    assert unfolded(out)[5:7] == [
        "EMAIL;TYPE=INTERNET;TYPE=HOME:grace@home.example",
        "EMAIL;TYPE=INTERNET;TYPE=WORK:grace@navy.example",
    ]


def test_photo_change_in_4_0_rewrites_only_the_photo() -> None:
    """A new photo replaces the data: URI line and nothing else."""
    data = corpus("nextcloud-4.0.vcf")
    contact = vcard.parse(data).items[0]
    photo = Photo(data=b"\x89PNG\r\n", content_type="image/png")
    out = vcard.serialize(attrs.evolve(contact, photo=photo), original=data)
    removed, added = changes(unfolded_card(data, 0), out)
    assert [line[:25] for line in removed] == ["PHOTO:data:image/jpeg;bas"]
    assert added == ["PHOTO:data:image/png;base64,iVBORw0K"]


def test_address_with_label_in_3_0() -> None:
    """A 3.0 address is written as ADR + LABEL; an unchanged LABEL line stays the same."""
    data = corpus("evolution-3.0.vcf")
    contact = one(data)
    address = attrs.evolve(contact.addresses[0], street="600 Main St")
    out, edited = edit(data, addresses=(address,))
    assert changes(data, out) == (
        ["ADR;TYPE=WORK:;Suite 100;500 Main St;Springfield;OR;97477;USA"],
        ["ADR;TYPE=WORK:;Suite 100;600 Main St;Springfield;OR;97477;USA"],
    )
    assert one(out) == edited
    relabelled = attrs.evolve(address, label="Suite 100\n600 Main St")
    out, edited = edit(data, addresses=(relabelled,))
    removed, added = changes(data, out)
    assert [line.split(":")[0] for line in removed] == ["ADR;TYPE=WORK", "LABEL;TYPE=WORK"]
    assert [line.split(":")[0] for line in added] == ["ADR;TYPE=WORK", "LABEL;TYPE=WORK"]
    assert one(out) == edited


def test_group_member_added() -> None:
    """Adding a member to an Apple group adds one X-ADDRESSBOOKSERVER-MEMBER line."""
    data = corpus("apple-contacts-3.0.vcf")
    parsed = vcard.parse(data)
    group = parsed.items[1]
    assert isinstance(group, ContactGroup)
    edited = group.with_member(GroupMember(contact_uid="new-uid"))
    out = vcard.serialize(edited, original=data)
    assert changes(unfolded_card(data, 1), out) == (
        [],
        ["X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:new-uid"],
    )


def unfolded_card(data: bytes, index: int) -> bytes:
    """The ``index``-th card of a stream, on its own."""
    return vcard.serialize(vcard.parse(data).items[index], original=data)


def test_renaming_a_3_0_group_rewrites_fn_and_n() -> None:
    """A 3.0 group's N follows its display name."""
    data = corpus("apple-contacts-3.0.vcf")
    group = vcard.parse(data).items[1]
    out = vcard.serialize(attrs.evolve(group, display_name="Kin"), original=data)
    assert changes(unfolded_card(data, 1), out) == (
        ["N:Family;;;;", "FN:Family"],
        ["N:Kin;;;;", "FN:Kin"],
    )


def test_extended_property_removed_and_added() -> None:
    """Extended properties dropped from the item disappear; new ones follow the last kept
    one (here taking the removed line's place)."""
    data = corpus("evolution-3.0.vcf")
    contact = one(data)
    extended = contact.extended.without("X-MOZILLA-HTML").with_property(RawProperty("X-NEW", "1"))
    out, edited = edit(data, extended=extended)
    assert changes(data, out) == (["X-MOZILLA-HTML:FALSE"], ["X-NEW:1"])
    lines = unfolded(out)
    assert lines[lines.index("FBURL:http://cal.example.com/carla/freebusy") + 1] == "X-NEW:1"
    assert one(out) == edited
    out, edited = edit(data, extended=(RawProperty("X-FIRST", "0"), *contact.extended.properties))
    assert changes(data, out) == ([], ["X-FIRST:0"])
    assert one(out) == edited


def test_version_moves_first_on_edit() -> None:
    """An edited card gets VERSION right after BEGIN; an unchanged one keeps its order."""
    data = b"BEGIN:VCARD\r\nFN:A\r\nVERSION:3.0\r\nUID:1\r\nEND:VCARD\r\n"
    assert unfolded(vcard.serialize(vcard.parse(data))) == unfolded(data)
    out, _ = edit(data, display_name="B")
    assert unfolded(out) == ["BEGIN:VCARD", "VERSION:3.0", "FN:B", "UID:1", "END:VCARD"]


def test_card_without_uid_gets_a_stable_one() -> None:
    """A missing UID is derived from the content; it is written only once the card is
    edited, so the edited card keeps the uid it was read with."""
    data = card("FN:A")
    first, second = one(data), one(data)
    assert first.uid == second.uid
    assert unfolded(vcard.serialize(first, original=data)) == unfolded(data)
    out, edited = edit(data, display_name="B")
    assert unfolded(out)[:4] == ["BEGIN:VCARD", "VERSION:3.0", f"UID:{first.uid}", "FN:B"]
    assert one(out) == edited
    out, _ = edit(data, uid="new")
    assert "UID:new" in unfolded(out)


def test_original_matched_by_uid_among_several() -> None:
    """``serialize(items, original=...)`` finds each item's card by uid."""
    data = corpus("nextcloud-4.0.vcf")
    contact, group = vcard.parse(data).items
    out = vcard.serialize([group, contact], original=data)
    assert sorted(unfolded(out)) == sorted(unfolded(data))


def test_parse_result_with_new_item() -> None:
    """A parse result with an item appended writes the old cards unchanged and the new one fresh."""
    data = corpus("thunderbird-4.0.vcf")
    parsed = vcard.parse(data)
    extra = Contact.new("New", uid="n")
    out = vcard.serialize(attrs.evolve(parsed, items=(*parsed.items, extra)), version="3.0")
    lines = unfolded(out)
    assert lines[: len(unfolded(data))] == unfolded(data)
    assert lines[len(unfolded(data)) + 1] == "VERSION:3.0"


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nno colon here\r\nEND:VCARD\r\n", 3),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCALENDAR\r\n", 3),
        (b"FN:outside\r\n", 1),
        (b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", 1),
        (b"BEGIN:VCARD\r\nEND:VCARD\r\nEND:VCARD\r\n", 3),
        (b"BEGIN:VCARD\r\nVERSION:2.1\r\nN;=ENCODING=QUOTED-PRINTABLE:x\r\nEND:VCARD\r\n", 3),
    ],
)
def test_malformed_input_raises_parse_error_with_line(data: bytes, line: int) -> None:
    """Malformed streams raise ParseError naming the line."""
    with pytest.raises(ParseError) as info:
        vcard.parse(data)
    assert info.value.line == line
    assert info.value.format == "vCard"


def test_str_is_refused() -> None:
    """Only bytes are parsed."""
    with pytest.raises(TypeError):
        vcard.parse("BEGIN:VCARD")  # type: ignore[arg-type]


def test_sloppy_input_parses_with_warnings() -> None:
    """LF-only, lower-case names, no UID or VERSION: parsed, kept, and reported."""
    parsed = vcard.parse(corpus("sloppy-lf.vcf"))
    messages = [w.message for w in parsed.warnings]
    assert any("no VERSION" in m for m in messages)
    assert sum("no UID" in m for m in messages) == 2
    first = parsed.items[0]
    assert isinstance(first, Contact)
    assert first.display_name == "Sloppy Sam"
    assert first.extended.get("X-FUNNY-CASE")[0].name == "X-funny-Case"


def test_unclosed_card_is_closed_with_a_warning() -> None:
    """A truncated stream keeps what it has."""
    parsed = vcard.parse(b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Cut\r\n")
    assert parsed.items[0].display_name == "Cut"
    assert "never closed" in parsed.warnings[0].message


def test_empty_stream_has_no_items() -> None:
    """An empty stream is an empty address book."""
    assert vcard.parse(b"").items == ()


def test_windows_1252_card_is_written_back_in_its_bytes() -> None:
    """A card from a stream that is not UTF-8 keeps its bytes; new text Latin-1 cannot
    hold becomes quoted-printable UTF-8."""
    data = corpus("outlook-2.1.vcf")
    out = vcard.serialize(vcard.parse(data))
    assert b"N;LANGUAGE=de;CHARSET=Windows-1252:M\xfcller;J\xfcrgen;;Dr.;\r\n" in out
    assert unfolded(out) == unfolded(data)
    edited, contact = edit(data, nickname="Jürgen €", spouse="Юрий")
    assert b"NICKNAME:J\xfcrgen \x80" not in edited  # € is not Latin-1: quoted-printable
    assert b"NICKNAME;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen =E2=82=AC" in edited
    assert one(edited) == contact


def test_latin1_3_0_card_edit() -> None:
    """A sloppy Latin-1 3.0 card stays Latin-1; text outside Latin-1 is quoted-printable."""
    data = card("FN:M\xfcller", "NOTE:d\xe9j\xe0", "UID:1").decode().encode("latin-1")
    out, contact = edit(data, display_name="M\xebller")
    assert b"FN:M\xebller\r\n" in out
    assert b"NOTE:d\xe9j\xe0\r\n" in out
    assert one(out) == contact
    out, contact = edit(data, display_name="Юрий")
    assert b"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=D0=AE=D1=80=D0=B8=D0=B9\r\n" in out
    assert one(out) == contact


@pytest.mark.parametrize("width", [73, 74, 75, 76])
def test_a_quoted_printable_line_whose_parameters_fill_a_line_stays_within_75_octets(
    width: int,
) -> None:
    """The name and parameters end at the fold limit: no room for a soft break's "=",
    so the value starts on an ordinary folded line (found by hypothesis: 76 octets)."""
    prefix = "TEL;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE;X-P="
    line = f"{prefix}{'x' * (width - len(prefix) - 1)}:=C3=A9 caf=C3=A9 " + "=41" * 40
    folded = fold_qp(line)
    assert all(len(piece) <= 75 for piece in folded.split(b"\r\n")), folded
    assert join_qp_soft_breaks(folded).replace(b"\r\n ", b"") == line.encode()
