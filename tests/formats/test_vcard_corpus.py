"""The vCard corpus: real-world shaped cards survive parse and serialize, and edits stay minimal."""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest

from openprotocols.formats import vcard
from openprotocols.formats._contentline import format_line, read_lines
from openprotocols.formats._vcard_values import join_qp_soft_breaks
from openprotocols.model.contacts import (
    Contact,
    ContactGroup,
    EmailAddress,
    Gender,
    GroupMember,
    Photo,
)

CORPUS = Path(__file__).parent / "corpus" / "vcard"
FILES = sorted(CORPUS.glob("*.vcf"))

# items and warnings each corpus file is expected to give
EXPECTED = {
    "android-2.1.vcf": (1, 1),
    "apple-contacts-3.0.vcf": (2, 0),
    "evolution-3.0.vcf": (1, 0),
    "google-3.0.vcf": (1, 1),
    "kaddressbook-3.0.vcf": (1, 0),
    "nextcloud-4.0.vcf": (2, 0),
    "outlook-2.1.vcf": (1, 2),
    "sloppy-lf.vcf": (2, 6),
    "thunderbird-4.0.vcf": (1, 0),
}


def unfolded(data: bytes) -> list[str]:
    """The logical content lines of a stream."""
    return [line.text for line in read_lines(join_qp_soft_breaks(data), format="t", warnings=[])]


def test_corpus_is_complete() -> None:
    """Every corpus file has an expectation and a line in the corpus README."""
    readme = (CORPUS / "README.md").read_text()
    assert sorted(EXPECTED) == [f.name for f in FILES]
    for name in EXPECTED:
        assert f"`{name}`" in readme


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_parse_counts_items_and_warnings(path: Path) -> None:
    """Each file gives the expected number of items and warnings."""
    parsed = vcard.parse(path.read_bytes())
    assert (len(parsed.items), len(parsed.warnings)) == EXPECTED[path.name]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_serialize_gives_identical_content_lines(path: Path) -> None:
    """parse → serialize keeps every content line as it was (only folding may differ)."""
    data = path.read_bytes()
    out = vcard.serialize(vcard.parse(data))
    assert unfolded(out) == unfolded(data)
    assert max(len(line) for line in out.split(b"\r\n")) <= 75


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_parse_serialize_parse_gives_equal_items(path: Path) -> None:
    """parse → serialize → parse loses no property, parameter or value."""
    parsed = vcard.parse(path.read_bytes())
    assert vcard.parse(vcard.serialize(parsed)).items == parsed.items


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_line_is_mapped_or_kept(path: Path) -> None:
    """No input line is silently dropped: each is a field's source or in ``extended``."""
    parsed = vcard.parse(path.read_bytes())
    for item, source in zip(parsed.items, parsed.sources, strict=True):
        mapped = {i for element in source.elements for i in element.lines}
        kept = set(source.extended)
        version = {source.version_index} - {None}
        assert not mapped & kept
        assert mapped | kept | version == set(range(len(source.properties)))
        assert item.extended.properties == tuple(source.properties[i] for i in source.extended)


def _changed(name: str, value: Any) -> Any:  # noqa: PLR0911 - one case per field type
    """A different value for the field ``name`` currently holding ``value``."""
    if name in ("emails",):
        return (attrs.evolve(value[0], address="changed@x.test"), *value[1:])
    if name == "phones":
        return (attrs.evolve(value[0], number="+1 555 0000"), *value[1:])
    if name == "addresses":
        return (attrs.evolve(value[0], city="Changed"), *value[1:])
    if name == "members":
        return (*value[1:], GroupMember(email="new@x.test"))
    if name in ("birthday", "anniversary"):
        return date(2001, 2, 3)
    if name == "photo":
        return Photo(data=b"new", content_type="image/png")
    if name == "gender":
        return Gender.OTHER if value is not Gender.OTHER else Gender.MALE
    if name == "name":
        return attrs.evolve(value, given="Changed")
    if name in ("last_modified", "created"):
        return value.replace(year=2030)
    if isinstance(value, tuple):
        return (*value[:-1], "Changed")
    return "Changed"


def _cases() -> list[tuple[str, int, str]]:
    cases = []
    for path in FILES:
        parsed = vcard.parse(path.read_bytes())
        for index, item in enumerate(parsed.items):
            for field in attrs.fields(type(item)):
                value = getattr(item, field.name)
                if field.name not in ("uid", "extended") and value not in (None, (), ""):
                    cases.append((path.name, index, field.name))
    return cases


@pytest.mark.parametrize(("name", "index", "field"), _cases())
def test_editing_one_field_rewrites_only_its_lines(name: str, index: int, field: str) -> None:
    """Changing any one field of any corpus card leaves every other line in place."""
    data = (CORPUS / name).read_bytes()
    parsed = vcard.parse(data)
    item, source = parsed.items[index], parsed.sources[index]
    edited = attrs.evolve(item, **{field: _changed(field, getattr(item, field))})
    out = vcard.serialize(edited, original=data)
    assert vcard.parse(out).items[0] == edited

    attribute_fields = {"company": "org", "department": "org"}
    own = {i for e in source.elements for i in e.lines if _owner(e.field) == field}
    own |= {
        i for e in source.elements if e.field == attribute_fields.get(field, "") for i in e.lines
    }
    if field == "display_name" and isinstance(item, ContactGroup):
        own |= {i for e in source.elements if e.field == "group_n" for i in e.lines}
    before = [format_line(p) for p in source.properties]
    after = unfolded(out)[1:-1]
    untouched = [t for i, t in enumerate(before) if i not in own]
    remaining = [t for t in after if t in untouched]
    assert remaining == untouched  # every other line is there, in its order
    assert after[0].upper().startswith("VERSION")


def _owner(field: str) -> str:
    """The model attribute of a codec field."""
    contact = {"n": "name", "fn": "display_name", "email": "emails", "tel": "phones",
               "adr": "addresses", "title": "job_title", "bday": "birthday", "url": "web_pages",
               "impp": "im_addresses", "note": "notes", "rev": "last_modified",
               "member": "members"}  # fmt: skip
    return contact.get(field, field)


def test_new_items_next_to_corpus_items() -> None:
    """New contacts can be serialized with parsed ones into one stream."""
    parsed = vcard.parse((CORPUS / "nextcloud-4.0.vcf").read_bytes())
    new = Contact.new("New Person", emails=[EmailAddress("n@x.test")])
    out = vcard.serialize([*parsed.items, new])
    again = vcard.parse(out)
    assert again.items[:2] == parsed.items
    assert again.items[2] == new


def test_unified_diff_is_empty_for_untouched_corpus() -> None:
    """A whole-corpus stream round-trips line for line (a readable failure if not)."""
    data = b"".join(path.read_bytes() for path in FILES if "2.1" not in path.name)
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    out = vcard.serialize(vcard.parse(data))
    diff = list(difflib.unified_diff(unfolded(data), unfolded(out), lineterm=""))
    assert diff == []
