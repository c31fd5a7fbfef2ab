"""The property bag, the X-OPENPROTOCOLS-MAPI encoding and the frame every mapping fits in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprotocols.errors import InvalidItemError
from openprotocols.model import Extended, RawComponent, RawProperty
from openprotocols.outlook import PropertySet, from_mapi, props, to_mapi
from openprotocols.outlook import _xprops as xprops
from openprotocols.outlook._mapping import PidNameOpenProtocolsExtended, mapper_for_class
from openprotocols.outlook.props import Named, PropType, Tag

# -- values of every type --------------------------------------------------------------

_SCALARS = {
    PropType.INT16: st.integers(-(2**15), 2**15 - 1),
    PropType.INT32: st.integers(-(2**31), 2**31 - 1),
    PropType.INT64: st.integers(-(2**63), 2**63 - 1),
    PropType.CURRENCY: st.integers(-(2**63), 2**63 - 1),
    PropType.ERROR: st.integers(0, 2**32 - 1),
    PropType.DOUBLE: st.floats(allow_nan=False),
    PropType.FLOAT: st.floats(allow_nan=False, width=32),
    PropType.APPTIME: st.floats(allow_nan=False),
    PropType.BOOLEAN: st.booleans(),
    PropType.UNICODE: st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")
    ),
    PropType.STRING8: st.text(st.characters(max_codepoint=0xFF, blacklist_characters="\0")),
    PropType.SYSTIME: st.datetimes(
        min_value=datetime(1601, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
    ),
    PropType.GUID: st.uuids(),
    PropType.BINARY: st.binary(max_size=40),
}


@st.composite
def keyed_values(draw: st.DrawFn) -> tuple[props.PropertyKey, object]:
    """A property key of any type, tagged or named, and a value of that type."""
    single = draw(st.sampled_from(sorted(_SCALARS)))
    multi = draw(st.booleans()) and single not in (PropType.ERROR, PropType.BOOLEAN)
    kind = single.multi() if multi else single
    shape = draw(st.sampled_from(["tag", "lid", "name"]))
    guid = draw(st.sampled_from([props.PSETID_COMMON, props.PS_PUBLIC_STRINGS, uuid.UUID(int=7)]))
    key: props.PropertyKey
    if shape == "tag":
        key = Tag(draw(st.integers(1, 0x7FFF)), kind)
    elif shape == "lid":
        key = Named(guid, id=draw(st.integers(0, 0xFFFF)), type=kind)
    else:
        key = Named(guid, name=draw(st.text(min_size=1, max_size=30)), type=kind)
    values = (
        st.lists(_SCALARS[single], min_size=1, max_size=4).map(tuple) if multi else _SCALARS[single]
    )
    return key, draw(values)


@settings(max_examples=400, deadline=None)
@given(
    keyed_values(),
    st.none() | st.tuples(st.sampled_from(["recipient", "attachment"]), st.integers(0, 9)),
)
def test_every_property_survives_its_x_encoding(
    pair: tuple[props.PropertyKey, object], row: xprops.Row
) -> None:
    """encode() then decode() gives back the key, the value and the row, for every type."""
    key, value = pair
    bag = PropertySet()
    bag[key] = value  # type: ignore[assignment]
    line = xprops.encode(key, bag[key], row)
    assert line.name.startswith("X-OPENPROTOCOLS-MAPI-")
    assert "\n" not in line.value
    assert "\r" not in line.value
    assert xprops.decode(line) == (key, bag[key], row)


def test_the_encoding_is_the_documented_one() -> None:
    """The lines look exactly as docs/outlook.md shows them."""
    line = xprops.encode(props.PidLidAppointmentColor, 3)
    assert (line.name, line.params, line.value) == (
        "X-OPENPROTOCOLS-MAPI-LID",
        (("SET", "PSETID_Appointment"), ("ID", "0x8214"), ("TYPE", "INT32")),
        "3",
    )
    named = xprops.encode(
        Named(props.PS_PUBLIC_STRINGS, name="urn:x", type=PropType.MV_UNICODE), ("a,b", "c")
    )
    assert named.params[1] == ("NAME", "urn%3Ax")
    assert named.value == "a\\,b,c"
    tagged = xprops.encode(Tag(0x3A4D, PropType.INT16), 1, ("recipient", 2))
    assert tagged.params == (("IN", "recipient-2"), ("ID", "0x3A4D"), ("TYPE", "INT16"))


@pytest.mark.parametrize(
    "line",
    [
        RawProperty("X-OPENPROTOCOLS-MAPI-TAG", "1", [("ID", "0x3A4D")]),  # no TYPE
        RawProperty("X-OPENPROTOCOLS-MAPI-TAG", "x", [("ID", "0x3A4D"), ("TYPE", "INT16")]),
        RawProperty("X-OPENPROTOCOLS-MAPI-TAG", "99999", [("ID", "0x3A4D"), ("TYPE", "INT16")]),
        RawProperty(
            "X-OPENPROTOCOLS-MAPI-LID", "1", [("SET", "nope"), ("ID", "1"), ("TYPE", "INT32")]
        ),
        RawProperty("X-OPENPROTOCOLS-MAPI-BIN", "!!", [("ID", "0x1"), ("TYPE", "BINARY")]),
        RawProperty("X-OPENPROTOCOLS-MAPI-TAG", "!!", [("ID", "0x1"), ("TYPE", "BINARY")]),
        RawProperty(
            "X-OPENPROTOCOLS-MAPI-TAG", "1", [("IN", "x-1"), ("ID", "0x1"), ("TYPE", "INT32")]
        ),
    ],
)
def test_a_damaged_line_is_a_typed_error(line: RawProperty) -> None:
    """What another program did to a line is reported with the line's name, not a crash."""
    with pytest.raises(InvalidItemError, match="X-OPENPROTOCOLS-MAPI"):
        xprops.decode(line)


def test_values_are_checked_where_they_are_set() -> None:
    """A wrong value fails when set, naming the property; integers are kept signed."""
    bag = PropertySet()
    with pytest.raises(InvalidItemError, match="0x0037001F"):
        bag[props.PidTagSubject] = b"bytes"  # type: ignore[assignment]
    with pytest.raises(InvalidItemError):
        bag[props.PidTagMessageFlags] = 2**32
    with pytest.raises(InvalidItemError):
        bag[props.PidTagCreationTime] = datetime(2026, 1, 1)  # naive
    bag[props.PidTagMessageFlags] = 0xFFFFFFFF
    assert bag[props.PidTagMessageFlags] == -1
    bag.put(props.PidTagBody, "")
    assert props.PidTagBody not in bag


def test_message_classes_pick_their_mapper() -> None:
    """A class picks the longest matching prefix on a dot boundary; unknown ones read as notes."""
    assert mapper_for_class("IPM.Contact.Special").message_classes[0] == "IPM.Contact"
    assert mapper_for_class("ipm.note.smime").message_classes[0] == "IPM.Note"
    assert mapper_for_class("IPM.Contactless").message_classes[0] == "IPM.Note"
    assert mapper_for_class("Something.Else").message_classes[0] == "IPM.Note"


def test_unknown_properties_ride_along_in_place_and_come_back() -> None:
    """Outlook-only properties become X- lines in ``extended`` (in their place among the
    item's other extended data) and the same MAPI properties again."""
    from openprotocols.formats import mime
    from openprotocols.model import Address

    message = mime.build(
        from_=Address("ann@example.org"), to=[Address("bob@example.org")], subject="x", text="y"
    )
    bag = to_mapi(message)
    color = Named(props.PSETID_COMMON, id=0x8510, type=PropType.INT32)
    bag[color] = 7
    bag.recipients[0][Tag(0x5FDE, PropType.INT32)] = 3
    item = from_mapi(bag)
    lines = item.extended.properties
    assert [line.name for line in lines] == ["X-OPENPROTOCOLS-MAPI-LID", "X-OPENPROTOCOLS-MAPI-TAG"]
    # another client's X- property and component arrive, before and after ours
    foreign = RawProperty("X-OTHER", "a;b", [("P", '"q:r"')])
    component = RawComponent("X-THING", [RawProperty("A", "1")])
    item2 = attrs.evolve(
        item, extended=Extended(properties=(lines[1], foreign, lines[0]), components=(component,))
    )
    again = to_mapi(item2)
    assert again[color] == 7
    assert again.recipients[0][Tag(0x5FDE, PropType.INT32)] == 3
    assert PidNameOpenProtocolsExtended in again
    assert from_mapi(again).extended == item2.extended
    # Outlook changes one carried property and deletes the other: the item follows
    again[color] = 9
    del again.recipients[0][Tag(0x5FDE, PropType.INT32)]
    changed = from_mapi(again).extended
    assert [p.name for p in changed.properties] == ["X-OTHER", "X-OPENPROTOCOLS-MAPI-LID"]
    assert xprops.decode(changed.properties[1])[1] == 9


def test_rows_a_mapping_does_not_read_come_back_whole() -> None:
    """A contact's file attachment beside its photo, and a custom form's class, survive."""
    from openprotocols.model import Contact

    bag = to_mapi(Contact.new("Ann Example"))
    bag[props.PidTagMessageClass] = "IPM.Contact.CrmForm"
    letter = PropertySet()
    letter[props.PidTagAttachMethod] = 1
    letter[props.PidTagAttachLongFilename] = "letter.pdf"
    letter[props.PidTagAttachDataBinary] = b"%PDF-1.7"
    bag.attachments.append(letter)
    contact = from_mapi(bag)
    assert any("extra-attachment-0" in str(line.params) for line in contact.extended.properties)
    again = to_mapi(contact)
    assert again[props.PidTagMessageClass] == "IPM.Contact.CrmForm"
    assert again.attachments == [letter]
    assert from_mapi(again) == contact


def test_an_rtf_body_is_dropped_once_the_plain_body_changed() -> None:
    """Outlook's compressed RTF body rides along while the plain body is the one it was
    written beside; an edit elsewhere drops it, so Outlook shows the new text."""
    from openprotocols.model import Contact

    bag = to_mapi(Contact.new("Ann Example", notes="Call on Monday"))
    bag[props.PidTagRtfCompressed] = b"LZFu-rtf-bytes"
    bag[props.PidTagRtfInSync] = True
    contact = from_mapi(bag)
    assert to_mapi(contact)[props.PidTagRtfCompressed] == b"LZFu-rtf-bytes"
    edited = to_mapi(attrs.evolve(contact, notes="Call on Tuesday"))
    assert props.PidTagRtfCompressed not in edited
    assert props.PidTagRtfInSync not in edited
    assert edited[props.PidTagBody] == "Call on Tuesday"


def test_a_filetime_past_the_year_9999_reads_as_the_last_datetime() -> None:
    """MAPI's "never" (0x7FFFFFFFFFFFFFFF) is past what a datetime holds: it reads as
    datetime.max, not as an OverflowError out of a .msg or PST reader."""
    from openprotocols.outlook._propset import from_filetime

    assert from_filetime(0x7FFFFFFFFFFFFFFF) == datetime.max.replace(tzinfo=UTC)
    assert from_filetime(0) == datetime(1601, 1, 1, tzinfo=UTC)
