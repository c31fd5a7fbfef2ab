"""The store's item records: every item survives encode → decode, records are stable, and
the server's bytes are kept byte for byte while the item is unchanged."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats import ical, mime, vcard
from openprotocols.model import (
    Address,
    Appointment,
    Attendee,
    Contact,
    ContactGroup,
    EmailAddress,
    Extended,
    Folder,
    FolderKind,
    GroupMember,
    Message,
    MessagePart,
    PersonName,
    Phone,
    PhoneKind,
    RawComponent,
    RawProperty,
    Recurrence,
    Reminder,
    Task,
)
from openprotocols.store._records import Record, decode, encode

CORPUS = Path(__file__).parent.parent / "formats" / "corpus"
ICS = sorted((CORPUS / "ical").glob("*.ics"))
VCF = sorted((CORPUS / "vcard").glob("*.vcf"))
EML = sorted((CORPUS / "mime").glob("*.eml"))

# -------------------------------------------------------------------------- strategies
# Small local ones: the codecs' own strategies live in their test modules.

text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from('\n;,\\:"é€😀'),
    max_size=40,
)
nonempty = st.text(st.sampled_from("abcXYZ019-_.@ é"), min_size=1, max_size=20)
x_props = st.lists(
    st.builds(
        RawProperty,
        st.text(st.sampled_from("ABCXYZ019"), min_size=1, max_size=8).map(lambda n: f"X-{n}"),
        st.text(st.sampled_from("abc XYZ019é-"), max_size=20),
        st.lists(st.tuples(st.just("X-P"), st.sampled_from(["a", '"b;c"'])), max_size=2),
    ),
    max_size=3,
)


def _mail(local: str) -> str:
    return f"{local}@x.example"


moment = st.integers(0, 2 * 365 * 86400).map(lambda s: datetime(2026, 1, 1) + timedelta(seconds=s))


@st.composite
def appointments(draw: st.DrawFn) -> Appointment:
    """An appointment of any time kind, maybe a series with one override."""
    start = draw(moment)
    kind = draw(st.sampled_from(["date", "floating", "utc", "zone"]))
    zone = None
    if kind == "date":
        start = start.date()  # type: ignore[assignment]
    elif kind == "utc":
        start = start.replace(tzinfo=UTC)
    elif kind == "zone":
        zone = draw(st.sampled_from(["Europe/Berlin", "America/New_York"]))
        start = start.replace(tzinfo=ZoneInfo(zone))
    end = start + timedelta(days=draw(st.integers(0, 3)))
    item = Appointment(
        uid=draw(nonempty),
        subject=draw(text),
        start=start,
        end=end,
        timezone=zone,
        location=draw(st.none() | text),
        body=draw(st.none() | text),
        categories=draw(st.lists(nonempty, max_size=3)),
        attendees=draw(st.lists(st.builds(Attendee, email=nonempty.map(_mail)), max_size=2)),
        reminders=draw(
            st.lists(st.builds(Reminder, trigger=st.just(timedelta(minutes=-15))), max_size=1)
        ),
        extended=Extended(properties=draw(x_props)),
    )
    if draw(st.booleans()):
        item = attrs.evolve(item, recurrence=Recurrence(rule="FREQ=DAILY;COUNT=5"))
        override = attrs.evolve(
            item,
            recurrence=None,
            recurrence_id=start + timedelta(days=1),
            start=start + timedelta(days=1),
            end=end + timedelta(days=1),
            subject=draw(text),
        )
        item = item.with_override(override)
    return item


tasks = st.builds(
    Task,
    uid=nonempty,
    subject=text,
    body=st.none() | text,
    due=st.none() | moment.map(lambda d: d.replace(tzinfo=UTC)),
    percent_complete=st.integers(0, 100),
    priority=st.integers(0, 9),
    extended=x_props.map(lambda p: Extended(properties=p)),
)
contacts = st.builds(
    Contact,
    uid=nonempty,
    name=st.builds(PersonName, given=st.none() | nonempty, family=st.none() | nonempty),
    display_name=st.none() | nonempty,
    emails=st.lists(st.builds(EmailAddress, nonempty.map(_mail)), max_size=2),
    phones=st.lists(st.builds(Phone, nonempty, st.sampled_from(PhoneKind)), max_size=2),
    notes=st.none() | text,
    birthday=st.none() | st.dates(date(1900, 1, 1), date(2100, 1, 1)),
    categories=st.lists(nonempty, max_size=2),
    extended=x_props.map(lambda p: Extended(properties=p)),
)
groups = st.builds(
    ContactGroup,
    uid=nonempty,
    display_name=nonempty,
    members=st.lists(st.builds(GroupMember, contact_uid=nonempty), max_size=3),
)
calendar_items = appointments() | tasks
contact_items = contacts | groups
# Mail: corpus messages (the codec's promise is tested on them) with drawn metadata.
flags = st.sets(st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted"]))
keywords = st.sets(st.sampled_from(["$Forwarded", "$Junk", "Work", "étiquette"]))
internal_dates = st.none() | st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
parts = st.lists(
    st.builds(
        MessagePart,
        section=st.sampled_from(["1", "1.1", "2", "2.3.1"]),
        content_type=st.sampled_from(["text/plain", "multipart/mixed", "image/png"]),
        charset=st.none() | st.just("utf-8"),
        size=st.none() | st.integers(0, 10**9),
        encoding=st.none() | st.just("base64"),
        filename=st.none() | text,
        disposition=st.none() | st.sampled_from(["inline", "attachment"]),
        content_id=st.none() | st.just("<cid@x>"),
    ),
    max_size=4,
)


def stamped(item: Any) -> Any:
    """``item`` after one normalising round trip (a new calendar item gains a DTSTAMP)."""
    return decode(encode(item))


def unstamped(item: Any) -> Any:
    """``item`` without the DTSTAMP the writer adds to a new calendar item."""
    item = attrs.evolve(item, extended=item.extended.without("DTSTAMP"))
    if isinstance(item, Appointment) and item.overrides:
        item = attrs.evolve(item, overrides=[unstamped(o) for o in item.overrides])
    return item


def corpus_message(name: str) -> Message:
    return mime.parse((CORPUS / "mime" / name).read_bytes())


# -------------------------------------------------------------------------- calendar


@settings(max_examples=60, deadline=None)
@given(calendar_items)
def test_a_new_calendar_item_round_trips_gaining_a_dtstamp(item: Appointment | Task) -> None:
    """decode(encode(item)) is the item plus the DTSTAMP, and stable from then on."""
    record = encode(item)
    assert (record.kind, record.uid, record.meta) == (item.kind, item.uid, "{}")
    once = decode(record)
    assert len(once.extended.get("DTSTAMP")) == 1
    assert unstamped(once) == item
    assert encode(once, raw=record.data).data == record.data  # the stored bytes are kept
    settled = encode(once)  # written afresh, the DTSTAMP line moves to extended's place
    assert decode(settled) == once
    assert encode(decode(settled)).data == settled.data  # stable from then on


@settings(max_examples=60, deadline=None)
@given(calendar_items, text)
def test_the_server_bytes_are_kept_until_the_item_changes(
    item: Appointment | Task, subject: str
) -> None:
    """Unchanged: ``raw`` byte for byte. Edited: the edit, as a minimal diff of ``raw``."""
    raw = ical.serialize(item)
    parsed = ical.parse(raw).items[0]
    assert encode(parsed, raw=raw).data == raw
    edited = attrs.evolve(parsed, subject=subject)
    record = encode(edited, raw=raw)
    assert decode(record) == edited
    assert encode(decode(record), raw=record.data).data == record.data
    assert without_summary(record.data) == without_summary(raw)  # only that line changed


def without_summary(data: bytes) -> list[bytes]:
    """The content lines of ``data`` but the SUMMARY lines (and their folds)."""
    lines = data.replace(b"\r\n ", b"").split(b"\r\n")
    return [line for line in lines if not line.startswith(b"SUMMARY")]


@pytest.mark.parametrize("path", ICS, ids=lambda p: p.name)
def test_calendar_corpus_items_round_trip_and_keep_their_bytes(path: Path) -> None:
    """Every item of every corpus file comes back equal; a file holding nothing but that
    item's UID is kept byte for byte, else the record holds that UID alone."""
    raw = path.read_bytes()
    items = ical.parse(raw).items
    for item in items:
        record = encode(item, raw=raw)
        assert decode(record) == item
        assert encode(decode(record), raw=record.data).data == record.data
        assert encode(decode(record)).data == encode(item).data  # no raw: written afresh
        kept = ical.parse(record.data).items
        assert {i.uid for i in kept} == {item.uid}
        if all(i.uid == item.uid for i in items):
            assert record.data == raw
        else:
            assert [i for i in items if i.uid == item.uid] == list(kept)


def test_orphan_occurrences_stay_together_and_each_is_found() -> None:
    """Two occurrences of one UID without their series: one resource, two records."""
    raw = (CORPUS / "ical" / "orphan-occurrence-invitation.ics").read_bytes()
    first, second = ical.parse(raw).items
    assert first.uid == second.uid
    assert isinstance(second, Appointment)
    assert encode(second, raw=raw).data == raw
    assert json.loads(encode(second, raw=raw).meta) == {"index": 1, "v": 1}
    edited = attrs.evolve(second, location="Room 7")
    record = encode(edited, raw=raw)
    assert decode(record) == edited
    assert ical.parse(record.data).items == (first, edited)  # the sibling is kept
    assert decode(encode(first, raw=record.data)) == first


def test_an_occurrence_moved_among_its_siblings_is_still_found() -> None:
    """An edit that changes the RECURRENCE-ID moves the occurrence to the end."""
    raw = (CORPUS / "ical" / "orphan-occurrence-invitation.ics").read_bytes()
    first, second = ical.parse(raw).items
    assert isinstance(first, Appointment)
    assert first.recurrence_id is not None
    moved = attrs.evolve(first, recurrence_id=first.recurrence_id + timedelta(days=400))
    record = encode(moved, raw=raw)
    assert decode(record) == moved
    assert set(ical.parse(record.data).items) == {second, moved}


def test_a_task_record_does_not_decode_as_an_event() -> None:
    record = encode(Appointment.new("x", date(2026, 1, 1), date(2026, 1, 2), uid="u"))
    with pytest.raises(ParseError, match="calendar item, not tasks") as caught:
        decode(attrs.evolve(record, kind="tasks"))
    assert caught.value.format == "store record"


def test_raw_of_another_item_is_not_used_as_a_base() -> None:
    """A UID not in ``raw``: the item is written afresh (as the backends do)."""
    item = Appointment.new("x", date(2026, 1, 1), date(2026, 1, 2), uid="mine")
    raw = ical.serialize(Appointment.new("y", date(2026, 1, 1), date(2026, 1, 2), uid="other"))
    assert unstamped(decode(encode(item, raw=raw))) == item
    assert b"other" not in encode(item, raw=raw).data


# -------------------------------------------------------------------------- contacts


@settings(max_examples=60, deadline=None)
@given(contact_items, st.none() | nonempty)
def test_contacts_round_trip_stably_and_keep_the_server_bytes(
    item: Contact | ContactGroup, notes: str | None
) -> None:
    record = encode(item)
    assert (record.kind, record.uid, record.meta) == ("contacts", item.uid, "{}")
    assert decode(record) == item
    assert encode(decode(record)).data == record.data
    raw = vcard.serialize(item, version="3.0")  # as a server stores it
    assert encode(vcard.parse(raw).items[0], raw=raw).data == raw
    edited = attrs.evolve(vcard.parse(raw).items[0], notes=notes)
    changed = encode(edited, raw=raw)
    assert decode(changed) == edited
    assert changed.data.startswith(b"BEGIN:VCARD\r\nVERSION:3.0\r\n")  # raw's version kept


@pytest.mark.parametrize("path", VCF, ids=lambda p: p.name)
def test_contact_corpus_items_round_trip(path: Path) -> None:
    """Every card of every corpus file; a one-card file is kept byte for byte."""
    raw = path.read_bytes()
    items = vcard.parse(raw).items
    for item in items:
        record = encode(item, raw=raw)
        assert decode(record) == item
        assert encode(decode(record), raw=record.data).data == record.data
        assert vcard.parse(record.data).items == (item,)
        if len(items) == 1:
            assert record.data == raw


# -------------------------------------------------------------------------- mail


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([p.name for p in EML]),
    flags,
    keywords,
    internal_dates,
    st.none() | st.integers(0, 10**9),
)
def test_whole_messages_keep_bytes_and_metadata(
    name: str, system: set[str], words: set[str], when: datetime | None, size: int | None
) -> None:
    message = attrs.evolve(
        corpus_message(name), flags=system, keywords=words, internal_date=when, size=size
    )
    record = encode(message)
    assert record.data is message.content
    assert record.uid == message.envelope.message_id
    assert decode(record) == message
    assert encode(decode(record)) == record
    meta = json.loads(record.meta)
    assert meta["v"] == 1
    assert "parts" not in meta
    assert record.meta == json.dumps(meta, sort_keys=True, separators=(",", ":"))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([p.name for p in EML]), flags, keywords, internal_dates, parts)
def test_headers_only_messages_keep_their_parts(
    name: str, system: set[str], words: set[str], when: datetime | None, layout: list[MessagePart]
) -> None:
    whole = corpus_message(name)
    assert whole.headers is not None
    message = attrs.evolve(
        mime.parse_headers(whole.headers),
        flags=system,
        keywords=words,
        internal_date=when,
        size=whole.size,
        parts=layout,
    )
    record = encode(message)
    assert record.data == whole.headers
    assert decode(record) == message
    assert encode(decode(record)) == record


def test_what_the_remote_tracks_is_not_stored() -> None:
    """folder, uid and modseq belong to the server copy; downloaded part data is a cache."""
    message = corpus_message("attachments-2231-2047.eml")
    headers_only = attrs.evolve(
        mime.parse_headers(message.content or b""),
        parts=[attrs.evolve(p, data=b"cached") for p in message.parts],
    )
    for item in (message, headers_only):
        remote = attrs.evolve(item, folder="INBOX", uid=7, modseq=42)
        back = decode(encode(remote))
        assert isinstance(back, Message)
        assert (back.folder, back.uid, back.modseq) == (None, None, None)
        assert all(p.data is None for p in back.parts)
    assert decode(encode(headers_only)).parts == message.parts


def test_bcc_and_extended_survive() -> None:
    """Bcc, which build() keeps out of the bytes, and extended server data are kept."""
    built = mime.build(
        from_=Address("ann@x.example"),
        to=Address("bob@x.example"),
        bcc=[Address("cy@x.example", "Cy"), Address("di@x.example")],
        subject="Hi",
        text="Hello",
    )
    assert b"cy@x.example" not in (built.content or b"")
    item = attrs.evolve(
        built,
        extended=Extended(
            [RawProperty("X-GM-LABELS", "Work", [("A", "1")], group="g")],
            [RawComponent("X-C", [RawProperty("X-P", "v")], [RawComponent("X-D")])],
        ),
    )
    assert decode(encode(item)) == item


def test_a_naive_internal_date_stays_naive() -> None:
    message = attrs.evolve(corpus_message("plain-ascii.eml"), internal_date=datetime(2026, 5, 1))
    assert decode(encode(message)) == message


# -------------------------------------------------------------------------- errors


def test_an_unknown_item_class_is_refused_by_name() -> None:
    with pytest.raises(InvalidItemError, match="Folder"):
        encode(Folder(id="x", name="x", kind=FolderKind.MAIL))  # type: ignore[arg-type]


def test_a_message_without_bytes_is_refused() -> None:
    with pytest.raises(InvalidItemError, match="neither content nor headers"):
        encode(Message.new(subject="draft"))


def mail_record(**meta: Any) -> Record:
    record = encode(attrs.evolve(corpus_message("plain-ascii.eml"), size=5))
    return attrs.evolve(record, meta=json.dumps({**json.loads(record.meta), **meta}))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (mail_record(v=2), "unknown record version 2"),
        (mail_record(v=None), "unknown record version None"),
        (attrs.evolve(mail_record(), meta="{"), "meta is not JSON"),
        (attrs.evolve(mail_record(), meta="[1]"), "not a JSON object"),
        (attrs.evolve(mail_record(), meta="{}"), "needs its meta"),
        (mail_record(headers_only="no"), "headers_only is not a boolean"),
        (mail_record(flags="\\Seen"), "lists of strings"),
        (mail_record(keywords=[1]), "lists of strings"),
        (mail_record(internal_date="yesterday"), "damaged record"),
        (mail_record(size="big"), "damaged record"),
        (mail_record(headers_only=True, parts=[{"section": "1", "colour": "red"}]), "damaged"),
        (mail_record(bcc=[["only-one"]]), "damaged record"),
        (mail_record(extended=["X", [["X-P", 1, [], None]], []]), "a string was expected"),
        (mail_record(extended=["X", [["X-P"]], []]), "damaged record"),
        (attrs.evolve(mail_record(), kind="notes"), "unknown item kind 'notes'"),
        (Record("calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "{}", "u"), "no item 0"),
        (Record("contacts", b"BEGIN:VCARD\r\nUID:a\r\nEND:VCARD\r\n", "{}", "b"), "no item 0"),
        (attrs.evolve(encode(Task(uid="t")), meta='{"index":"1","v":1}'), "no item '1'"),
        (attrs.evolve(encode(Task(uid="t")), meta='{"index":1,"v":1}'), "no item 1"),
    ],
)
def test_a_damaged_record_raises_parse_error(record: Record, message: str) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        decode(record)
    assert caught.value.format == "store record"


@pytest.mark.parametrize(
    "record",
    [
        Record("calendar", b"not a calendar", "{}", "u"),
        Record("tasks", b"BEGIN:VCALENDAR\r\nEND:VTODO\r\n", "{}", "u"),
        Record("contacts", b"\x00garbage:", "{}", "u"),
    ],
)
def test_bytes_the_codec_cannot_read_raise_its_parse_error(record: Record) -> None:
    with pytest.raises(ParseError):
        decode(record)


def test_values_breaking_the_model_raise_invalid_item_error() -> None:
    with pytest.raises(InvalidItemError, match="size must not be negative"):
        decode(mail_record(size=-1))
    with pytest.raises(InvalidItemError, match="keywords, not system flags"):
        decode(mail_record(flags=["Work"]))


RESOURCES = [p for p in ICS if len({i.uid for i in ical.parse(p.read_bytes()).items}) == 1]
"""The corpus files that could be CalDAV resources (one UID each)."""


@pytest.mark.parametrize("path", RESOURCES, ids=lambda p: p.name)
def test_exact_raw_is_kept_without_parsing_and_reads_back(path: Path) -> None:
    """``exact=True`` (a backend's entry, untouched) keeps the bytes as they are and the
    record reads back the same item; an orphan occurrence is still compared."""
    raw = path.read_bytes()
    for item in ical.parse(raw).items:
        record = encode(item, raw=raw, exact=True)
        assert decode(record) == item
        if isinstance(item, Appointment) and item.recurrence_id is not None:
            assert record == encode(item, raw=raw)  # compared, as without exact
        else:
            assert record.data is raw
            assert record.meta == "{}"
