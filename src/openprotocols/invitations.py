"""Meeting invitations in mail (iMIP, RFC 6047): find them, answer them.

The flow, above the backends and through the collection protocol only:

1. :func:`scan` goes through a mail collection (an IMAP inbox, the local store's,
   the memory backend's): what changed since the state of the last scan
   (:meth:`Collection.changes <openprotocols.backends.base.Collection.changes>`), fetched
   in batches (:meth:`~openprotocols.backends.base.Collection.get`), and hands every
   iCalendar object found (:func:`openprotocols.formats.imip.find_invitations`) to the
   caller's handler. A headers-only message is looked into only when its structure lists
   a calendar part (:func:`~openprotocols.formats.imip.has_calendar_parts`), and then
   downloaded with the caller's ``download`` function; without one it is reported in
   :attr:`ScanResult.skipped`, never silently passed over.
2. The handler shows the invitation, or decides by rule, and calls :func:`respond` with
   accept, tentative or decline.
3. :func:`respond` sends the iMIP ``REPLY``
   (:func:`~openprotocols.formats.imip.build_reply_message`) to the organizer through the
   SMTP backend (:func:`openprotocols.sending.send`), and returns the event with the
   user's ``PARTSTAT`` set, to be put into a calendar collection.

A scan is at-least-once: the state is returned only after every handler call returned,
so a handler that raises leaves the state of the last scan in force and the next scan
sees the same messages again. A full listing (no state, or an expired one) hands over
every invitation still in the folder; handlers recognise repeats by
:attr:`Invitation.uid <openprotocols.formats.imip.Invitation.uid>` and ``SEQUENCE``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Any

import attrs

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.formats import imip
from openprotocols.formats.imip import Invitation, Method
from openprotocols.model._base import Address
from openprotocols.model.calendar import Appointment, Attendee, ResponseStatus, Task
from openprotocols.model.mail import Message
from openprotocols.sending import SendResult, send

if TYPE_CHECKING:
    from datetime import datetime

    from openprotocols.backends.base import Collection, Entry
    from openprotocols.backends.smtp import SMTPBackend

__all__ = ["Handler", "Response", "ScanResult", "respond", "scan"]

log = logging.getLogger(__name__)

Handler = Callable[[Invitation, "Entry[Message]"], None]
"""Called once per invitation found, with the message (id, version, item) it came in."""

Download = Callable[["Entry[Message]"], "Message"]
"""Returns the whole message (``content`` set) for a headers-only entry."""

_ALIASES = {
    "accept": ResponseStatus.ACCEPTED,
    "decline": ResponseStatus.DECLINED,
    "tentative": ResponseStatus.TENTATIVE,
}


@attrs.frozen
class ScanResult:
    """What :func:`scan` did. ``state`` is what to pass as ``since`` next time.

    ``found`` counts the invitations handed to the handler, ``scanned`` the messages
    looked at. ``skipped`` are the ids of headers-only messages with calendar parts that
    were not downloaded (no ``download`` given); ``unreadable`` those whose source could
    not be read at all.
    """

    state: str
    found: int = 0
    scanned: int = 0
    skipped: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()


@attrs.frozen
class Response:
    """What :func:`respond` did.

    ``items`` are the invitation's appointments (a series with its overrides) and tasks,
    with the attendee's answer set; ``event`` is the first of them, the one to put into a
    calendar. ``reply`` is the iMIP message sent, ``sent`` what the sending did.
    """

    items: tuple[Appointment | Task, ...]
    reply: Message
    sent: SendResult

    @property
    def event(self) -> Appointment | Task:
        """The (first) appointment or task, answered."""
        return self.items[0]


def scan(
    inbox: Collection[Any],
    handler: Handler,
    *,
    since: str | None = None,
    download: Download | None = None,
    methods: Container[Method | None] | None = None,
) -> ScanResult:
    """Find the invitations in the messages of ``inbox`` changed since ``since`` and hand
    each to ``handler``.

    :param since: the :attr:`ScanResult.state` of the last scan; ``None`` scans everything.
    :param download: fetches the whole message for a headers-only entry (the backend's
        body download); without it such messages are reported in ``skipped``.
    :param methods: hand over only invitations with these iTIP methods (e.g.
        ``{Method.REQUEST, Method.CANCEL}``); by default all.
    :returns: the new state and what was done. Exceptions of ``handler`` propagate (and
        the state does not advance).
    """
    changes = inbox.changes(since)
    found = scanned = 0
    skipped: list[str] = []
    unreadable: list[str] = []
    for entry in inbox.get(ref.id for ref in changes.changed):
        scanned += 1
        message = entry.item
        if not isinstance(message, Message) or message.is_deleted:
            continue
        if message.headers_only:
            if not imip.has_calendar_parts(message):
                continue
            if download is None:
                skipped.append(entry.id)
                continue
            message = download(entry)
        try:
            invitations = imip.find_invitations(message)
        except (ParseError, InvalidItemError) as exc:
            log.warning("Message %s in %r cannot be read for invitations: %s", entry.id, inbox, exc)
            unreadable.append(entry.id)
            continue
        for invitation in invitations:
            if methods is None or invitation.method in methods:
                handler(invitation, entry)
                found += 1
    return ScanResult(changes.state, found, scanned, tuple(skipped), tuple(unreadable))


def respond(
    invitation: Invitation,
    response: ResponseStatus | str,
    *,
    smtp: SMTPBackend,
    attendee: Address | str | None = None,
    comment: str | None = None,
    sent: Collection[Any] | None = None,
    now: datetime | None = None,
) -> Response:
    """Answer ``invitation`` (accept, tentative or decline) to its organizer by mail.

    :param response: a :class:`~openprotocols.model.ResponseStatus` (accepted, tentative,
        declined) or ``"accept"``, ``"tentative"``, ``"decline"``.
    :param smtp: the backend that sends the reply; its account is the sender, and with
        ``send_on_behalf_of`` the reply goes From the person represented.
    :param attendee: who answers; by default the person the account sends for
        (``send_on_behalf_of``) or the account, whichever the invitation lists.
    :param sent: a Sent collection for the copy of the reply.
    :returns: the answered items and the reply sent.
    :raises InvalidItemError: the invitation is not a request, holds no readable event,
        or ``response`` is not one of the three (nothing was sent).
    :raises BackendError: the reply could not be sent.
    """
    status = _status(response)
    who = _attendee(invitation, smtp, attendee)
    items = tuple(_answered(item, who, status) for item in invitation.items)
    if not items:
        raise InvalidItemError("the invitation holds no event the calendar codec could read")
    reply = imip.build_reply_message(
        invitation, who, status, account=smtp.account, comment=comment, now=now
    )
    return Response(items, reply, send(smtp, reply, sent=sent))


def _status(response: ResponseStatus | str) -> ResponseStatus:
    if isinstance(response, ResponseStatus):
        return response
    text = str(response).strip().lower()
    if text in _ALIASES:
        return _ALIASES[text]
    try:
        return ResponseStatus(text)
    except ValueError:
        raise InvalidItemError(f"{response!r} is not accept, tentative or decline") from None


def _attendee(invitation: Invitation, smtp: SMTPBackend, given: Address | str | None) -> Address:
    if given is not None:
        return given if isinstance(given, Address) else Address(given)
    account = smtp.account
    candidates = [account.address]
    if account.options.send_on_behalf_of is not None:
        candidates.insert(0, account.options.send_on_behalf_of)
    listed = {
        attendee.email.lower()
        for item in invitation.appointments
        for attendee in (*item.attendees, *(a for o in item.overrides for a in o.attendees))
    }
    return next((c for c in candidates if c.email.lower() in listed), candidates[0])


def _answered(
    item: Appointment | Task, who: Address, status: ResponseStatus, *, add: bool = True
) -> Appointment | Task:
    """``item`` with ``who``'s answer set; added as an attendee to the series (not to its
    overrides) when the invitation did not list them (invited through a list)."""
    if isinstance(item, Task):  # the model keeps no attendees for tasks
        return item
    wanted = who.email.lower()
    attendees = []
    listed = False
    for attendee in item.attendees:
        if attendee.email.lower() != wanted:
            attendees.append(attendee)
            continue
        listed = True
        params = tuple((k, v) for k, v in attendee.params if k.upper() != "PARTSTAT")
        attendees.append(attrs.evolve(attendee, response=status, rsvp=False, params=params))
    if not listed and add:
        attendees.append(Attendee(email=who.email, name=who.name, response=status))
    overrides = tuple(_answered(o, who, status, add=False) for o in item.overrides)
    return attrs.evolve(item, attendees=tuple(attendees), overrides=overrides)
