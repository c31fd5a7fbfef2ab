"""iMIP: finding invitations in mail and answering them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from openprotocols.errors import InvalidItemError
from openprotocols.formats import imip, mime
from openprotocols.formats._contentline import parse_components, read_lines
from openprotocols.model import Account, Address, Attendee, Message, ResponseStatus
from openprotocols.model._base import RawComponent

CORPUS = Path(__file__).parent / "corpus" / "mime"
NOW = datetime(2024, 9, 11, 9, 30, tzinfo=UTC)
EXCHANGE_UID = (
    "040000008200E00074C5B7101A82E0080000000070F5B1C8C35ED9010000000000000000"
    "100000001B6D4E0B4AE3F44E93F5A1E1B2B7C3D4"
)


def load(name: str) -> Message:
    """Parse one corpus file."""
    return mime.parse((CORPUS / name).read_bytes())


def invitation(name: str) -> imip.Invitation:
    """The only invitation in a corpus file."""
    (found,) = imip.find_invitations(load(name))
    return found


def read_calendar(data: bytes) -> RawComponent:
    """The VCALENDAR of iCalendar bytes, read strictly (no warnings allowed)."""
    warnings: list[object] = []
    (calendar,) = parse_components(
        read_lines(data, format="test", warnings=warnings),  # type: ignore[arg-type]
        format="test",
        warnings=warnings,  # type: ignore[arg-type]
    )
    assert warnings == []
    return calendar


def props(component: RawComponent, name: str) -> list[str]:
    """The values of the properties called ``name``."""
    return [p.value for p in component.properties if p.name == name]


# --------------------------------------------------------------------------- finding


@pytest.mark.parametrize(
    ("name", "section", "method", "content_type", "nested"),
    [
        ("exchange-request-base64.eml", "3", imip.Method.REQUEST, "text/calendar", False),
        ("outlook-request-application-ics.eml", "2", imip.Method.REQUEST, "application/ics", False),
        ("forwarded-invitation.eml", "2.2", imip.Method.REQUEST, "text/calendar", True),
        ("bounce-with-invitation.eml", "3.3", imip.Method.REQUEST, "text/calendar", True),
        ("cancellation-single-part.eml", "1", imip.Method.CANCEL, "text/calendar", False),
        ("thunderbird-reply.eml", "2", imip.Method.REPLY, "text/calendar", False),
        (
            "exchange-occurrence-lowercase-ctype.eml",
            "2",
            imip.Method.REQUEST,
            "text/calendar",
            False,
        ),
    ],
)
def test_invitations_are_found(
    name: str, section: str, method: imip.Method, content_type: str, nested: bool
) -> None:
    """Each kind of calendar part is found, decoded, and its method read."""
    found = invitation(name)
    assert found.section == section
    assert found.method is method
    assert found.content_type == content_type
    assert found.nested is nested
    assert found.raw.startswith(b"BEGIN:VCALENDAR\r\n")
    assert found.calendar is not None
    assert found.components
    assert found.warnings == ()


def test_google_invitation_is_reported_once() -> None:
    """The alternative part and the identical invite.ics attachment are one invitation."""
    (found,) = imip.find_invitations(load("google-invitation.eml"))
    assert found.section == "1.3"
    assert found.uid == "7kukuqrfedlm2f9t0vl0lgl8hq@google.com"
    assert found.summary == "Coffee ☕"
    assert found.organizer == Address("bob.smith@gmail.com", "Bob Smith")
    assert found.sender == Address("bob.smith@gmail.com", "Bob Smith")


def test_quoted_printable_calendar_is_decoded() -> None:
    """A quoted-printable TEXT/CALENDAR inside a forwarded message decodes exactly."""
    found = invitation("forwarded-invitation.eml")
    google = imip.find_invitations(load("google-invitation.eml"))[0]
    assert found.raw.rstrip() == google.raw.rstrip()
    assert found.sender == Address("bob.smith@gmail.com", "Bob Smith")
    assert found.message_id == "<calendar-inner@google.com>"


def test_method_from_content_type_when_the_calendar_has_none() -> None:
    """Without METHOD in the calendar, the Content-Type's method= parameter is used."""
    message = mime.build(
        from_=Address("kim@example.org"),
        to=Address("ann@example.org"),
        calendar=b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
        calendar_method="PUBLISH",
    )
    (found,) = imip.find_invitations(message)
    assert found.method is imip.Method.PUBLISH


def test_method_mismatch_and_unknown_method_warn() -> None:
    """A METHOD that disagrees with the Content-Type, or an unknown one, is reported."""
    message = mime.build(
        from_=Address("kim@example.org"),
        calendar=b"BEGIN:VCALENDAR\r\nMETHOD:X-FOO\r\nEND:VCALENDAR\r\n",
        calendar_method="REQUEST",
    )
    (found,) = imip.find_invitations(message)
    assert found.method is None
    assert any("Content-Type" in str(w) for w in found.warnings)
    assert any("unknown" in str(w) for w in found.warnings)


def test_octet_stream_ics_attachment_counts() -> None:
    """An application/octet-stream part named *.ics is an invitation."""
    from openprotocols.model import Attachment

    raw = (CORPUS / "cancellation-single-part.eml").read_bytes()
    calendar = mime.part_data(mime.parse(raw), "1")
    message = mime.build(
        from_=Address("kim@example.org"),
        text="see attachment",
        attachments=[Attachment(filename="Meeting.ICS", data=calendar)],
    )
    (found,) = imip.find_invitations(message)
    assert found.method is imip.Method.CANCEL
    assert found.raw == calendar


def test_unreadable_calendar_is_reported_not_raised() -> None:
    """A calendar part that is not iCalendar gives an invitation with warnings."""
    message = mime.build(
        from_=Address("kim@example.org"),
        calendar=b"this is not a calendar\r\n",
        calendar_method="REQUEST",
    )
    (found,) = imip.find_invitations(message)
    assert found.calendar is None
    assert found.method is imip.Method.REQUEST
    assert found.warnings
    with pytest.raises(InvalidItemError):
        imip.build_reply(found, "ann@example.org", ResponseStatus.ACCEPTED)


def test_messages_without_invitations() -> None:
    """Plain mail holds no invitation; a headers-only message cannot be searched."""
    assert imip.find_invitations(load("plain-ascii.eml")) == []
    assert imip.find_invitations(load("nested-rfc822.eml")) == []
    with pytest.raises(InvalidItemError):
        imip.find_invitations(mime.parse_headers((CORPUS / "plain-ascii.eml").read_bytes()))


def test_has_calendar_parts_looks_at_the_structure() -> None:
    """has_calendar_parts answers from the parts list alone."""
    assert imip.has_calendar_parts(load("bounce-with-invitation.eml"))
    assert not imip.has_calendar_parts(load("plain-ascii.eml"))
    headers_only = attrs.evolve(load("exchange-request-base64.eml"), content=None)
    assert imip.has_calendar_parts(headers_only)


def test_charset_other_than_utf8_is_transcoded_for_reading() -> None:
    """A calendar declared windows-1252 is read correctly; raw keeps the bytes as sent."""
    calendar = (
        b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:1\r\n"
        b"SUMMARY:Caf\xe9\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    source = (
        b"From: kim@example.org\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/calendar; charset=windows-1252; method=REQUEST\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + calendar
    )
    (found,) = imip.find_invitations(mime.parse(source))
    assert found.summary == "Café"
    assert found.raw.rstrip() == calendar.rstrip()
    assert found.warnings == ()


# --------------------------------------------------------------------------- replying


@pytest.mark.parametrize(
    "response",
    [ResponseStatus.ACCEPTED, ResponseStatus.TENTATIVE, ResponseStatus.DECLINED],
)
def test_reply_per_rfc_5546(response: ResponseStatus) -> None:
    """A REPLY holds UID, SEQUENCE, DTSTAMP, ORGANIZER and the one ATTENDEE with PARTSTAT."""
    found = invitation("exchange-request-base64.eml")
    data = imip.build_reply(found, "juergen@example.org", response, now=NOW)
    calendar = read_calendar(data)
    assert props(calendar, "METHOD") == ["REPLY"]
    assert props(calendar, "VERSION") == ["2.0"]
    assert props(calendar, "PRODID") == [imip.PRODID]
    zones = [c for c in calendar.components if c.name == "VTIMEZONE"]
    (event,) = [c for c in calendar.components if c.name == "VEVENT"]
    assert len(zones) == 1  # DTSTART's TZID needs its VTIMEZONE
    assert props(event, "UID") == [EXCHANGE_UID]
    assert props(event, "SEQUENCE") == ["0"]
    assert props(event, "DTSTAMP") == ["20240911T093000Z"]
    assert props(event, "ORGANIZER") == ["mailto:kim.akers@contoso.onmicrosoft.com"]
    assert props(event, "RECURRENCE-ID") == []
    (attendee,) = [p for p in event.properties if p.name == "ATTENDEE"]
    assert attendee.value == "mailto:juergen@example.org"
    assert attendee.param("PARTSTAT") == response.value.upper()
    assert attendee.param("RSVP") is None
    assert attendee.param("CN") == "Jürgen Müller"
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    assert data.endswith(b"END:VCALENDAR\r\n")


def test_reply_to_an_occurrence_keeps_recurrence_id() -> None:
    """An invitation to one occurrence is answered with its RECURRENCE-ID and SEQUENCE."""
    found = invitation("exchange-occurrence-lowercase-ctype.eml")
    event = read_calendar(imip.build_reply(found, "juergen@example.org", "declined", now=NOW))
    (vevent,) = event.components
    assert props(vevent, "RECURRENCE-ID") == ["20241007T090000"]
    assert props(vevent, "SEQUENCE") == ["3"]
    (attendee,) = [p for p in vevent.properties if p.name == "ATTENDEE"]
    assert attendee.value == "mailto:Juergen@Example.org"  # as the organizer wrote it
    assert attendee.param("PARTSTAT") == "DECLINED"


def test_reply_for_an_attendee_the_request_does_not_list() -> None:
    """Someone invited through a list answers with their own ATTENDEE line."""
    found = invitation("exchange-request-base64.eml")
    data = imip.build_reply(
        found,
        Attendee(email="list-member@example.org", name='Lee "L" Member'),
        ResponseStatus.TENTATIVE,
        comment="Maybe; late",
        now=NOW,
    )
    (event,) = [c for c in read_calendar(data).components if c.name == "VEVENT"]
    (attendee,) = [p for p in event.properties if p.name == "ATTENDEE"]
    assert attendee.value == "mailto:list-member@example.org"
    assert attendee.param("CN") == "\"Lee 'L' Member\""
    assert props(event, "COMMENT") == ["Maybe\\; late"]


@pytest.mark.parametrize("response", ["needs-action", "delegated", "maybe"])
def test_reply_refuses_other_responses(response: str) -> None:
    """Only accepted, tentative and declined are answers."""
    with pytest.raises(InvalidItemError):
        imip.build_reply(invitation("exchange-request-base64.eml"), "a@b.c", response)


@pytest.mark.parametrize("name", ["cancellation-single-part.eml", "thunderbird-reply.eml"])
def test_only_requests_are_answered(name: str) -> None:
    """A CANCEL or a REPLY is not answered with a REPLY."""
    with pytest.raises(InvalidItemError):
        imip.build_reply(invitation(name), "juergen@example.org", ResponseStatus.ACCEPTED)


def test_reply_message_per_rfc_6047() -> None:
    """The reply mail goes to the organizer, says Accepted:, and carries method=REPLY."""
    found = invitation("exchange-request-base64.eml")
    message = imip.build_reply_message(
        found, Address("juergen@example.org", "Jürgen Müller"), "accepted", now=NOW
    )
    envelope = message.envelope
    assert envelope.to == (Address("kim.akers@contoso.onmicrosoft.com", "Kim Akers"),)
    assert envelope.from_ == (Address("juergen@example.org", "Jürgen Müller"),)
    assert envelope.subject == "Accepted: Quarterly review \u2013 Q3"
    assert envelope.in_reply_to == found.message_id
    assert [(p.section, p.content_type) for p in message.parts] == [
        ("1", "text/plain"),
        ("2", "text/calendar"),
    ]
    (reply,) = imip.find_invitations(message)
    assert reply.method is imip.Method.REPLY
    assert reply.raw == imip.build_reply(found, "juergen@example.org", "accepted", now=NOW)
    assert message.content is not None
    assert b'method="REPLY"' in message.content
    assert "has accepted" in (mime.text_body(message) or "")


def test_reply_message_from_an_account() -> None:
    """With an account, From comes from the account's settings."""
    found = invitation("google-invitation.eml")
    account = Account(email="juergen@example.org", display_name="Jürgen")
    message = imip.build_reply_message(found, "juergen@example.org", "tentative", account=account)
    assert message.envelope.from_ == (Address("juergen@example.org", "Jürgen"),)
    assert message.envelope.subject == "Tentative: Coffee ☕"


def test_items_are_read_by_the_ical_codec() -> None:
    """The calendar becomes model appointments: the series, or the occurrence it changes."""
    (event,) = invitation("exchange-request-base64.eml").appointments
    assert event.uid == EXCHANGE_UID
    assert event.subject == "Quarterly review \u2013 Q3"
    assert event.timezone == "W. Europe Standard Time"
    assert event.organizer is not None
    assert event.organizer.email == "kim.akers@contoso.onmicrosoft.com"
    assert [a.response for a in event.attendees] == [ResponseStatus.NEEDS_ACTION] * 2
    (occurrence,) = invitation("exchange-occurrence-lowercase-ctype.eml").appointments
    assert occurrence.recurrence_id is not None
    assert occurrence.sequence == 3


def test_reply_can_name_the_attendee_from_the_model() -> None:
    """An Attendee of the parsed appointment identifies who answers."""
    found = invitation("google-invitation.eml")
    me = next(a for a in found.appointments[0].attendees if a.email == "juergen@example.org")
    data = imip.build_reply(found, me, ResponseStatus.DECLINED, now=NOW)
    (event,) = read_calendar(data).components
    (attendee,) = [p for p in event.properties if p.name == "ATTENDEE"]
    assert attendee.param("PARTSTAT") == "DECLINED"
    assert attendee.param("X-NUM-GUESTS") == "0"  # the organizer's parameters are kept
