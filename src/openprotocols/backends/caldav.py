"""The CalDAV backend (RFC 4791): calendars and task lists as collections.

::

    with CalDAVBackend(account, network=network) as backend:
        backend.open()
        for folder in backend.list_folders(): ...
        calendar = backend.collection(folder)
        changes = calendar.changes(state)            # sync-collection, O(changes)
        for entry in calendar.get(r.id for r in changes.changed):  # calendar-multiget
            entry.item, entry.raw                    # an Appointment/Task, the server's bytes

**Opening.** The context URL is the account's ``caldav`` endpoint (``Endpoint.url``), or,
without one, each candidate of RFC 6764 discovery in turn (``_davlocate``). A PROPFIND of
``current-user-principal`` there finds the principal, whose ``calendar-home-set`` is the
home of the calendars (and ``calendar-user-address-set`` / ``schedule-outbox-URL`` serve
free/busy). Plain ``http`` is used only after the consent callback allowed clear text to
that host, before the first byte is sent; so is any host outside the user's registrable
domain that the server points to (other than the configured one).

**Collections.** Every calendar in the home is a folder: its id is the collection's href,
its kind ``tasks`` when it accepts VTODO but not VEVENT, or when it is called "Tasks" and
accepts VTODO (the seed product's convention), else ``calendar``. A calendar accepting
both holds both kinds of item (:meth:`CalDAVCollection.accepts`).
:meth:`CalDAVBackend.tasks_folder` finds (or creates) the folder for tasks.
:meth:`CalDAVBackend.collections` tells more: supported components, the sync method,
read-only (from ``current-user-privilege-set``).

**Items** are ``.ics`` resources: ids are hrefs, versions ETags. Writes are conditional
(``If-None-Match: *`` on create, ``If-Match`` with the strong ETag on update and delete);
a 412 raises :class:`~openprotocols.errors.ConflictError` with the server's current ETag.
An update is written as a minimal change of the bytes the server holds at the expected
version (``ical.serialize(item, original=...)``), taken from recent reads or fetched
once. Nothing is ever deleted and re-created.

**Free/busy** goes to the principal's schedule outbox (RFC 6638); a server without one
raises :class:`~openprotocols.errors.CapabilityError`. :meth:`CalDAVBackend.davclient`
hands an application caldav's own client on a session of the same network layer, for
what caldav does and this backend does not (searches with recurrence expansion).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from openprotocols.errors import CapabilityError, NotFoundError, ProtocolError
from openprotocols.formats import ical
from openprotocols.hookspecs import hookimpl
from openprotocols.model._base import Item
from openprotocols.model.calendar import Appointment, Task
from openprotocols.model.folders import Folder, FolderKind

from ._dav import (
    APPLE,
    CALDAV,
    DAV,
    Capabilities,
    CollectionInfo,
    DavBackend,
    DavCollection,
    PropResponse,
    capability_report,
    element,
    read_only,
    sync_method,
)

if TYPE_CHECKING:
    from caldav.davclient import DAVClient

    from openprotocols.plugins import BackendRegistry

__all__ = ["BusyPeriod", "CalDAVBackend", "CalDAVCollection"]

_ALL_COMPONENTS = frozenset({"VEVENT", "VTODO", "VJOURNAL"})
_COMPONENT_OF = {FolderKind.CALENDAR: "VEVENT", FolderKind.TASKS: "VTODO"}


class CalDAVCollection(DavCollection):
    """A calendar: appointments and/or tasks as iCalendar resources."""

    content_type = "text/calendar; charset=utf-8"
    accept = "text/calendar"
    extension = ".ics"
    multiget_report = f"{{{CALDAV}}}calendar-multiget"
    data_property = f"{{{CALDAV}}}calendar-data"

    def accepts(self, item: Item) -> bool:
        """Appointments where the calendar takes VEVENT, tasks where it takes VTODO."""
        if isinstance(item, Appointment):
            return "VEVENT" in self.info.components
        if isinstance(item, Task):
            return "VTODO" in self.info.components
        return False

    def decode(self, data: bytes) -> Item | None:
        items = ical.parse(data).items
        return items[0] if items else None

    def encode(self, item: Item, original: bytes | None) -> bytes:
        assert isinstance(item, Appointment | Task)
        if original is not None:
            old = ical.parse(original)
            if any(i.uid == item.uid for i in old.items):
                return ical.serialize(item, original=old)
        return ical.serialize(item)


@attrs.frozen
class BusyPeriod:
    """One busy period of a free/busy answer (``kind``: ``BUSY``, ``BUSY-TENTATIVE``...)."""

    start: dt.datetime
    end: dt.datetime
    kind: str = "BUSY"


class CalDAVBackend(DavBackend):
    """Calendars and task lists on a CalDAV server (see the module documentation)."""

    name = "caldav"
    description = "Calendars and tasks on a CalDAV server (RFC 4791, 6578, 6638)."
    kinds = frozenset({FolderKind.CALENDAR, FolderKind.TASKS})
    home_property = f"{{{CALDAV}}}calendar-home-set"
    collection_type = f"{{{CALDAV}}}calendar"
    extra_props = (
        f"{{{CALDAV}}}supported-calendar-component-set",
        f"{{{CALDAV}}}calendar-description",
        f"{{{APPLE}}}calendar-color",
    )
    collection_class = CalDAVCollection

    def collection(self, folder: Folder | str) -> CalDAVCollection:
        found = super().collection(folder)
        assert isinstance(found, CalDAVCollection)
        return found

    def _info_from(self, href: str, response: PropResponse) -> CollectionInfo | None:
        types = response.child_names(f"{{{DAV}}}resourcetype")
        if self.collection_type not in types:
            return None
        components = _components(response)
        if not components & {"VEVENT", "VTODO"}:
            return None
        name = response.text(f"{{{DAV}}}displayname") or ""
        tasks = "VTODO" in components and (
            "VEVENT" not in components or name.strip().casefold() == "tasks"
        )
        return CollectionInfo(
            href=href,
            kind=FolderKind.TASKS if tasks else FolderKind.CALENDAR,
            display_name=name,
            color=response.text(f"{{{APPLE}}}calendar-color") or None,
            description=response.text(f"{{{CALDAV}}}calendar-description") or None,
            components=components,
            read_only=read_only(response),
            sync_method=sync_method(response),
            resource_types=frozenset(types),
        )

    def _create_folder(
        self,
        name: str,
        kind: FolderKind,
        *,
        parent: str | None,
        display_name: str,
        color: str | None,
    ) -> Folder:
        props = [
            element(f"{{{DAV}}}displayname", text=display_name),
            element(
                f"{{{CALDAV}}}supported-calendar-component-set",
                _comp(_COMPONENT_OF[kind]),
            ),
        ]
        if color:
            props.append(element(f"{{{APPLE}}}calendar-color", text=color))
        return self._make_collection(name, parent, "MKCALENDAR", f"{{{CALDAV}}}mkcalendar", props)

    # -- tasks -------------------------------------------------------------------------

    def tasks_folder(self, *, create: bool = False) -> Folder:
        """The folder tasks go to: a calendar that takes only VTODO, else one called
        "Tasks" that takes VTODO, else any that takes VTODO.

        :param create: when there is none, create a task list called "Tasks".
        :raises NotFoundError: there is none and ``create`` is false.
        """
        todo = [info for info in self.collections() if "VTODO" in info.components]
        ranked = sorted(
            todo,
            key=lambda info: (
                "VEVENT" in info.components,
                info.display_name.strip().casefold() != "tasks",
                info.read_only,
                info.href,
            ),
        )
        if ranked:
            return ranked[0].folder
        if not create:
            raise NotFoundError(
                "no calendar accepts tasks", backend=self.name, url=self.principal.home_url
            )
        return self.create_folder("tasks", FolderKind.TASKS, display_name="Tasks")

    # -- free/busy ----------------------------------------------------------------------

    def free_busy(
        self, attendees: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> dict[str, tuple[BusyPeriod, ...]]:
        """Busy periods of each attendee (an e-mail address) between ``start`` and ``end``,
        asked through the schedule outbox (RFC 6638 section 5).

        :raises CapabilityError: the server has no schedule outbox (nothing is sent).
        :raises ProtocolError: the answer cannot be read.
        """
        outbox = self.principal.schedule_outbox
        if outbox is None:
            raise CapabilityError(
                f"{self.principal.url} has no schedule outbox (RFC 6638)",
                capability="scheduling",
                backend=self.name,
                url=self.principal.url,
            )
        organizer = next(
            (a for a in self.principal.addresses if a.lower().startswith("mailto:")),
            f"mailto:{self.account.email}",
        )
        body = _freebusy_request(organizer, attendees, start, end)
        reply = self.dav.check(
            self.dav.request(
                "POST",
                outbox,
                body=body,
                headers={
                    "Content-Type": "text/calendar; charset=utf-8; method=REQUEST",
                    "Originator": organizer,
                    "Recipient": ", ".join(f"mailto:{a}" for a in attendees),
                },
            )
        )
        return _freebusy_answer(self, reply.url, self.dav.parse(reply))

    # -- capabilities, caldav -------------------------------------------------------------

    def capability_report(self) -> Capabilities:
        """What this server can do, as data, with the known quirks that apply to it."""
        return capability_report(self)

    def davclient(self) -> DAVClient:
        """A ``caldav.DAVClient`` for the principal, on a new session of this backend's
        network (same trust, resolver and timeouts) with the same credentials; RFC 6764
        discovery, config files and environment variables are off. The caller closes it.
        """
        from caldav.davclient import DAVClient

        client = DAVClient(url=self.principal.url, enable_rfc6764=False)
        client.session.close()
        client.session = self.network.http_session()
        # caldav passes verify= on every request: give it the network's trust.
        client.ssl_verify_cert = self.network.ca_bundle or True  # type: ignore[assignment]  # niquests takes PEM bytes too
        client.auth = self.dav.auth
        return client


def _comp(name: str) -> Any:
    node = element(f"{{{CALDAV}}}comp")
    node.set("name", name)
    return node


def _components(response: PropResponse) -> frozenset[str]:
    prop = response.props.get(f"{{{CALDAV}}}supported-calendar-component-set")
    if prop is None:
        return _ALL_COMPONENTS  # RFC 4791 5.2.3: absent means any
    return frozenset((comp.get("name") or "").upper() for comp in prop.iter(f"{{{CALDAV}}}comp"))


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _freebusy_request(
    organizer: str, attendees: Iterable[str], start: dt.datetime, end: dt.datetime
) -> bytes:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{ical.PRODID}",
        "METHOD:REQUEST",
        "BEGIN:VFREEBUSY",
        f"UID:{uuid.uuid4()}",
        f"DTSTAMP:{_utc(dt.datetime.now(dt.UTC))}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        f"ORGANIZER:{organizer}",
        *(f"ATTENDEE:mailto:{a}" for a in attendees),
        "END:VFREEBUSY",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def _freebusy_answer(
    backend: CalDAVBackend, url: str, root: Any
) -> dict[str, tuple[BusyPeriod, ...]]:
    from icalendar.prop import vPeriod

    result: dict[str, tuple[BusyPeriod, ...]] = {}
    for response in root.iter(f"{{{CALDAV}}}response"):
        recipient = response.find(f"{{{CALDAV}}}recipient")
        data = response.find(f"{{{CALDAV}}}calendar-data")
        if recipient is None or data is None:
            continue
        who = "".join(recipient.itertext()).strip().removeprefix("mailto:")
        periods: list[BusyPeriod] = []
        try:
            calendar = ical.parse((data.text or "").encode())
            for component in calendar.components:
                for prop in component.properties:
                    if prop.name.upper() != "FREEBUSY":
                        continue
                    kind = (prop.param("FBTYPE") or "BUSY").upper()
                    for value in prop.value.split(","):
                        begin, until = vPeriod.from_ical(value)  # type: ignore[no-untyped-call]
                        if isinstance(until, dt.timedelta):
                            until = begin + until
                        periods.append(BusyPeriod(begin, until, kind))
        except ValueError as exc:
            raise ProtocolError(
                f"unreadable free/busy answer from {url}: {exc}", backend=backend.name, url=url
            ) from exc
        result[who] = tuple(periods)
    return result


@hookimpl
def openprotocols_register_backends(registry: BackendRegistry) -> None:
    """Register the CalDAV backend."""
    registry.add(CalDAVBackend)
