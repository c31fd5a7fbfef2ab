"""The demo: the whole flow of openprotocols against servers it starts on 127.0.0.1.

``python -m openprotocols.demo`` (or ``openprotocols demo``) starts Radicale (CalDAV,
CardDAV), pymap (IMAP), aiosmtpd (SMTP) and an Autodiscover endpoint from the test bed
(:mod:`openprotocols.testing.servers`), all with TLS from a throw-away certificate
authority, fills them with sample mail, appointments, tasks and contacts, and then does
what an application does, through the public API only: discover the account from its
address, connect, bind local folders, sync, edit on both sides, meet a conflict, delete
and restore, export a folder, send with Bcc. Each step prints its title and one line
saying what happened; each checks its outcome, so a wrong result stops the demo with a
non-zero exit status instead of scrolling by.

Nothing leaves the machine: the :class:`~openprotocols.network.Network` sends the
account's host names (``example.test``, ``mail.example.test``...) to the local ports
through overrides, and its resolver has no name server, so any other lookup fails at
once. Everything is written below one temporary directory, removed at the end unless
``keep=True``; the servers are stopped either way.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import importlib.util
import logging
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import attrs
import rich.console
from rich.markup import escape

if TYPE_CHECKING:
    from openprotocols.backends.base import Backend, Collection
    from openprotocols.backends.caldav import CalDAVBackend
    from openprotocols.backends.carddav import CardDAVBackend
    from openprotocols.backends.imap import IMAPBackend
    from openprotocols.backends.smtp import SMTPBackend
    from openprotocols.discovery import DiscoveryResult
    from openprotocols.model import Account, Appointment, Contact, Task
    from openprotocols.network import Network
    from openprotocols.store import Binding, LocalStore
    from openprotocols.sync import SyncReport
    from openprotocols.testing.servers import (
        HTTPSServer,
        PymapServer,
        RadicaleServer,
        Request,
        Response,
        SMTPServer,
        TestCA,
    )

__all__ = ["STEPS", "DemoFailure", "main", "run"]

EMAIL = "alice@example.test"
USER = "alice"
PASSWORD = "demo-password"  # noqa: S105 - the demo's own throw-away servers
NAME = "Alice Example"
DOMAIN = "example.test"
TIMEZONE = ZoneInfo("Europe/Berlin")

#: The test bed's Python packages, all in the ``test`` extra.
NEEDED = ("radicale", "pymap", "aiosmtpd", "trustme")
INSTALL_HINT = "pip install 'openprotocols[test]' (in a checkout: ./scripts/demo)"

#: The step titles, in order.
STEPS = (
    "Start the servers",
    "Fill them with sample data",
    "Discover the account from its address",
    "Add the account",
    "Connect the backends",
    "Create the local store",
    "Bind the folders",
    "Sync",
    "Edit on both sides",
    "Sync again",
    "A conflict, kept both ways",
    "Delete and restore an item",
    "Export a local folder to a new collection",
    "Send a message with Bcc and find it in Sent",
)

_T = TypeVar("_T")


class DemoFailure(Exception):
    """A step did not get the result it expected (a bug somewhere: report it)."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailure(message)


def run(*, keep: bool = False, console: rich.console.Console | None = None) -> int:
    """Run the demo; return the process exit status (0 = every step worked).

    :param keep: keep the temporary directory (the store, the servers' data) and say
        where it is; the servers are stopped either way.
    :param console: where to print (a new :class:`rich.console.Console` by default).
    :returns: 0 when every step worked, 1 when one failed (it is printed with its
        traceback), 2 when the test bed's packages are missing.
    """
    console = console if console is not None else rich.console.Console()
    from openprotocols.testing.servers import ServerError

    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        console.print(
            f"[red]The demo needs {', '.join(missing)} from the test extra:[/] "
            f"{escape(INSTALL_HINT)}",
            highlight=False,
            soft_wrap=True,  # one line, however narrow the terminal
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="openprotocols-demo-"))
    console.print(
        f"[bold]openprotocols demo[/]: servers on 127.0.0.1, files in {escape(str(workdir))}",
        highlight=False,
    )
    started = time.monotonic()
    stopped = "servers stopped"
    try:
        with _quiet_smtp_server(), _Demo(workdir, console, keep=keep) as demo:
            status = demo.run()
    except ServerError as exc:  # raised by a server that would not stop
        status, stopped = 1, f"[red]stopping the servers failed: {escape(str(exc))}[/]"
    finally:
        if keep:
            console.print(f"Kept {escape(str(workdir))} (the store: store.sqlite)", highlight=False)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    verdict = "[green]done[/]" if status == 0 else "[red]failed[/]"
    console.print(f"{verdict} in {time.monotonic() - started:.1f} s; {stopped}", highlight=False)
    return status


@contextlib.contextmanager
def _quiet_smtp_server() -> Iterator[None]:
    """Silence aiosmtpd's own log while the demo runs: it warns at every AUTH that a
    field it sets itself is deprecated, which says nothing about the demo."""
    logger = logging.getLogger("mail.log")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# -- sample data ----------------------------------------------------------------------


def _next_monday() -> dt.date:
    today = dt.date.today()
    return today + dt.timedelta(days=7 - today.weekday())


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TIMEZONE)


def _sample_appointments() -> list[Appointment]:
    """A weekly meeting with one occurrence moved and one cancelled, and two more."""
    from openprotocols.model import Appointment, Recurrence

    monday = _next_monday()
    series = Appointment.new(
        "Team meeting",
        _at(monday, 9, 30),
        _at(monday, 10),
        uid="team-meeting@example.test",
        timezone="Europe/Berlin",
        location="Room 1",
        recurrence=Recurrence("FREQ=WEEKLY;BYDAY=MO;COUNT=8"),
    )
    third = monday + dt.timedelta(weeks=2)
    moved = Appointment.new(
        "Team meeting (moved to Tuesday)",
        _at(third + dt.timedelta(days=1), 14),
        _at(third + dt.timedelta(days=1), 14, 30),
        uid=series.uid,
        timezone="Europe/Berlin",
        location="Room 3",
        recurrence_id=_at(third, 9, 30),
    )
    series = series.with_override(moved).without_occurrence(
        _at(third + dt.timedelta(weeks=2), 9, 30)
    )
    review = Appointment.new(
        "Project review",
        _at(monday + dt.timedelta(days=3), 11),
        _at(monday + dt.timedelta(days=3), 12),
        uid="project-review@example.test",
        timezone="Europe/Berlin",
        location="Room 2",
    )
    dentist = Appointment.new(
        "Dentist",
        _at(monday + dt.timedelta(days=4), 16),
        _at(monday + dt.timedelta(days=4), 17),
        uid="dentist@example.test",
        timezone="Europe/Berlin",
    )
    return [series, review, dentist]


def _sample_tasks() -> list[Task]:
    """Three tasks, two of them due."""
    from openprotocols.model import Task

    monday = _next_monday()
    return [
        Task.new("Book the venue", uid="venue@example.test", due=monday + dt.timedelta(days=2)),
        Task.new("Send the agenda", uid="agenda@example.test", due=monday),
        Task.new("Renew the passport", uid="passport@example.test"),
    ]


def _sample_contacts() -> list[Contact]:
    """Three people."""
    from openprotocols.model import Contact, EmailAddress, PersonName

    people = [("Bob", "Builder"), ("Carol", "Singer"), ("Dave", "Diver")]
    return [
        Contact.new(
            f"{given} {family}",
            uid=f"{given.lower()}@example.test",
            name=PersonName(given=given, family=family),
            emails=[EmailAddress(f"{given.lower()}@example.test")],
        )
        for given, family in people
    ]


def _sample_mail() -> list[bytes]:
    """Three messages for the inbox."""
    from openprotocols.formats import mime
    from openprotocols.model import Address

    alice = Address(EMAIL, NAME)
    return [
        mime.build(
            from_=Address(f"{sender.lower()}@example.test", sender),
            to=alice,
            subject=subject,
            text=text,
            message_id=f"<{n}@demo.example.test>",
        ).content
        or b""
        for n, (sender, subject, text) in enumerate(
            [
                ("Bob", "Welcome to the team", "Hi Alice, welcome aboard!\n"),
                ("Carol", "Agenda for Monday", "1. Budget\n2. Venue\n3. Anything else\n"),
                ("Dave", "Photos from the trip", "They are on the shared drive.\n"),
            ]
        )
    ]


# -- the demo -------------------------------------------------------------------------


def _synced(binding: Binding) -> SyncReport:
    report = binding.sync()
    _check(report.ok, f"the sync of {binding.spec.local_folder} failed: {report.errors}")
    return report


def _title(item: Any) -> str:
    from openprotocols.model import Message

    if isinstance(item, Message):
        return item.envelope.subject or ""
    return str(getattr(item, "subject", None) or getattr(item, "display_name", ""))


class _Demo:
    """The servers, the account, the store, and one method per step."""

    def __init__(self, workdir: Path, console: rich.console.Console, *, keep: bool) -> None:
        self.workdir = workdir
        self.console = console
        self.keep = keep
        self.stack = contextlib.ExitStack()
        self.bindings: dict[str, Binding] = {}

    def __enter__(self) -> _Demo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stack.close()

    # -- the frame ----------------------------------------------------------------------

    def run(self) -> int:
        """Run every step in order; stop at the first that fails. Returns the status."""
        steps: list[Callable[[], str]] = [
            self.start_servers,
            self.fill,
            self.discover,
            self.add_account,
            self.connect,
            self.create_store,
            self.bind,
            self.first_sync,
            self.edit_both_sides,
            self.sync_again,
            self.conflict,
            self.delete_and_restore,
            self.export,
            self.send,
        ]
        for number, (title, step) in enumerate(zip(STEPS, steps, strict=True), start=1):
            self.console.print(f"[bold cyan]{number:2}. {title}[/]", highlight=False)
            try:
                result = step()
            except Exception as exc:
                self.console.print(
                    f"    [red]✗ {escape(type(exc).__name__)}: {escape(str(exc))}[/]",
                    highlight=False,
                )
                self.console.print(traceback.format_exc(), style="dim", markup=False)
                return 1
            self.console.print(f"    [green]✓[/] {escape(result)}", highlight=False)
        return 0

    def detail(self, text: str) -> None:
        """A dimmed line of detail under a step's title (its result line comes last)."""
        self.console.print(f"      {escape(text)}", style="dim", highlight=False)

    def _enter(self, value: contextlib.AbstractContextManager[_T]) -> _T:
        """Enter ``value`` (a server starts) and leave it when the demo ends (it stops)."""
        return self.stack.enter_context(value)

    # -- 1. the servers -----------------------------------------------------------------

    def start_servers(self) -> str:
        from openprotocols.testing.servers import (
            HTTPSServer,
            PymapServer,
            RadicaleServer,
            SMTPServer,
            TestCA,
        )

        base = self.workdir / "servers"
        base.mkdir()
        self.ca: TestCA = TestCA(self.workdir / "ca", names=[DOMAIN, f"*.{DOMAIN}"])
        users = {USER: PASSWORD}
        self.radicale: RadicaleServer = self._enter(
            RadicaleServer(users=users, tls=True, ca=self.ca, base_dir=base, keep_files=self.keep)
        )
        self.pymap: PymapServer = self._enter(
            PymapServer(
                users=users,
                demo_data=False,
                tls=True,
                ca=self.ca,
                base_dir=base,
                keep_files=self.keep,
            )
        )
        self.smtp_server: SMTPServer = self._enter(SMTPServer(users=users, ca=self.ca))
        self.web: HTTPSServer = self._enter(HTTPSServer(ca=self.ca))
        self.web.route("POST", "/autodiscover/autodiscover.xml", self._autodiscover)
        dav_home = f"https://dav.{DOMAIN}:{self.radicale.port}/"
        for service in ("caldav", "carddav"):
            self.web.route("*", f"/.well-known/{service}", _redirect(dav_home))
        self.network = self._network()
        return (
            f"Radicale (CalDAV, CardDAV) on port {self.radicale.port}, pymap (IMAP) on "
            f"{self.pymap.port}, aiosmtpd (SMTP) on {self.smtp_server.port}, Autodiscover "
            f"(HTTPS) on {self.web.port}; TLS certificates from a throw-away CA"
        )

    def _network(self) -> Network:
        """The demo's network: the account's names go to the local servers, nothing else
        resolves, and only the demo's CA is trusted."""
        import dns.resolver

        from openprotocols.network import Network, Timeouts

        nowhere = dns.resolver.Resolver(configure=False)
        nowhere.nameservers = []  # every lookup fails at once: nothing leaves the host
        local = {
            f"{DOMAIN}:443": self.web.port,  # Autodiscover, .well-known/caldav, carddav
            f"dav.{DOMAIN}:{self.radicale.port}": self.radicale.port,
            f"mail.{DOMAIN}:{self.pymap.port}": self.pymap.port,
            f"mail.{DOMAIN}:{self.smtp_server.port}": self.smtp_server.port,
        }
        return Network(
            overrides={name: f"127.0.0.1:{port}" for name, port in local.items()},
            ca_bundle=self.ca.ca_pem_bytes,
            resolver=nowhere,
            timeouts=Timeouts(connect=5, read=30),
        )

    def _autodiscover(self, request: Request) -> Response:
        """Outlook's Autodiscover (POX), as an administrator of example.test serves it:
        only to a client that sends the account's password."""
        from openprotocols.testing.servers import Response

        expected = "Basic " + base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode()
        if request.header("Authorization") != expected:
            return Response(401, {"WWW-Authenticate": 'Basic realm="autodiscover"'})

        def protocol(kind: str, port: int) -> str:
            return (
                f"<Protocol><Type>{kind}</Type><Server>mail.{DOMAIN}</Server>"
                f"<Port>{port}</Port><LoginName>{USER}</LoginName>"
                "<Encryption>TLS</Encryption></Protocol>"
            )

        return Response.xml(
            '<?xml version="1.0" encoding="utf-8"?>'
            '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/'
            'responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/'
            'autodiscover/outlook/responseschema/2006a"><Account>'
            "<AccountType>email</AccountType><Action>settings</Action>"
            + protocol("IMAP", self.pymap.port)
            + protocol("SMTP", self.smtp_server.port)
            + "</Account></Response></Autodiscover>"
        )

    # -- 2. sample data -----------------------------------------------------------------

    def fill(self) -> str:
        """Put the sample data on the servers as another client would: plain WebDAV
        requests and IMAP APPEND, nothing of the library's backends."""
        from openprotocols.formats import ical, vcard

        appointments, tasks, contacts = _sample_appointments(), _sample_tasks(), _sample_contacts()
        with _DavClient(f"https://dav.{DOMAIN}:{self.radicale.port}", self.network) as dav:
            dav.make_calendar(f"/{USER}/calendar/", "Calendar", "VEVENT")
            dav.make_calendar(f"/{USER}/tasks/", "Tasks", "VTODO")
            dav.make_addressbook(f"/{USER}/contacts/", "Contacts")
            for appointment in appointments:
                dav.put(f"/{USER}/calendar/{appointment.uid}.ics", ical.serialize(appointment))
            for task in tasks:
                dav.put(f"/{USER}/tasks/{task.uid}.ics", ical.serialize(task))
            for contact in contacts:
                dav.put(f"/{USER}/contacts/{contact.uid}.vcf", vcard.serialize(contact))
        client = self.pymap.imap_client(USER)
        try:
            client.create_folder("Sent")
        finally:
            client.logout()
        mail = _sample_mail()
        for message in mail:
            self.pymap.append(USER, "INBOX", message)
        return (
            f"{len(mail)} messages in INBOX, {len(appointments)} appointments (a weekly "
            f"meeting with one occurrence moved and one cancelled), {len(tasks)} tasks, "
            f"{len(contacts)} contacts"
        )

    # -- 3. discovery -------------------------------------------------------------------

    def discover(self) -> str:
        import openprotocols

        # Autodiscover names no CalDAV or CardDAV servers (its DAV type is Hotmail's
        # WebDAV mail); those are located by the DAV backends when they connect.
        self.discovered: DiscoveryResult = openprotocols.discover(
            EMAIL, PASSWORD, network=self.network, protocols=("imap", "smtp"), timeout=20
        )
        # The trace holds every place looked at; show Autodiscover's, count the rest
        # (autoconfig and SRV find nothing: the demo's network has no DNS).
        others = 0
        for attempt in self.discovered.trace:
            if attempt.mechanism == "autodiscover":
                self.detail(str(attempt))
            else:
                others += 1
        self.detail(f"... and {others} attempts of autoconfig and srv, which found nothing")
        found = [
            f"{s.endpoint.protocol} {s.endpoint.host}:{s.endpoint.port} ({s.endpoint.security})"
            for s in self.discovered.settings
        ]
        imap = self.discovered.best("imap")
        _check(imap is not None and imap.mechanism == "autodiscover", "no IMAP from Autodiscover")
        assert imap is not None
        return f"{imap.mechanism} found {', '.join(found)} at {imap.source}"

    # -- 4. the account -----------------------------------------------------------------

    def add_account(self) -> str:
        from openprotocols.model import Secret

        found = self.discovered.account()
        endpoints = [attrs.evolve(e, password=Secret(PASSWORD)) for e in found.endpoints]
        self.account: Account = attrs.evolve(found, display_name=NAME, endpoints=endpoints)
        protocols = ", ".join(e.protocol for e in self.account.endpoints)
        return (
            f"{self.account.email}: {protocols} from discovery, with the password; no CalDAV "
            f"or CardDAV endpoint, so the DAV backends will locate the servers (RFC 6764)"
        )

    # -- 5. the backends ----------------------------------------------------------------

    def connect(self) -> str:
        import openprotocols

        def connect(name: str) -> Any:
            backend = openprotocols.connect(self.account, name, network=self.network)
            return self._enter(backend)

        self.imap: IMAPBackend = connect("imap")
        self.caldav: CalDAVBackend = connect("caldav")
        self.carddav: CardDAVBackend = connect("carddav")
        self.smtp: SMTPBackend = connect("smtp")
        mailboxes = [f.id for f in self.imap.list_folders()]
        calendars = [f.display_name for f in self.caldav.list_folders()]
        books = [f.display_name for f in self.carddav.list_folders()]
        asked = {request.path for request in self.web.requests}
        for backend in (self.caldav, self.carddav):
            well_known = f"/.well-known/{backend.name}"
            _check(well_known in asked, f"{backend.name} did not ask {well_known}")
            self.detail(
                f"{backend.name}: https://{DOMAIN}{well_known} led to the home "
                f"{backend.principal.home_url}"
            )
        return (
            f"imap: {', '.join(mailboxes)}; caldav: {', '.join(calendars)}; carddav: "
            f"{', '.join(books)}; smtp: logged in"
        )

    # -- 6. the store -------------------------------------------------------------------

    def create_store(self) -> str:
        import openprotocols

        self.store: LocalStore = self._enter(
            openprotocols.LocalStore(self.workdir / "store.sqlite")
        )
        return f"{self.store.path}"

    # -- 7. bindings --------------------------------------------------------------------

    def bind(self) -> str:
        from openprotocols.model import FolderKind

        plan: list[tuple[str, FolderKind, Backend, str | None]] = [
            ("Calendar", FolderKind.CALENDAR, self.caldav, None),
            ("Tasks", FolderKind.TASKS, self.caldav, None),
            ("Contacts", FolderKind.CONTACTS, self.carddav, None),
            ("Inbox", FolderKind.MAIL, self.imap, "INBOX"),
        ]
        for name, kind, backend, collection in plan:
            folder = self.store.create_folder(name, kind)
            self.bindings[name] = self.store.bind(folder, backend, collection)
        return ", ".join(f"{name} → {b.spec.collection}" for name, b in self.bindings.items())

    # -- 8. sync ------------------------------------------------------------------------

    def first_sync(self) -> str:
        from openprotocols.sync import Side

        done = []
        for name, binding in self.bindings.items():
            report = _synced(binding)
            done.append(f"{report.created[Side.LOCAL]} {name.lower()}")
        meeting = _find(self.bindings["Calendar"].local, lambda a: _title(a) == "Team meeting")
        series = _as_appointment(meeting.item)
        recurrence = series.recurrence
        _check(
            recurrence is not None and len(recurrence.exdates) == 1 and len(series.overrides) == 1,
            f"the weekly meeting lost its exceptions: {series!r}",
        )
        return (
            f"downloaded {', '.join(done)} items; the weekly meeting came with its moved "
            "and its cancelled occurrence"
        )

    # -- 9. edits on both sides ---------------------------------------------------------

    def edit_both_sides(self) -> str:
        from openprotocols.formats import mime
        from openprotocols.model import Address, Contact, EmailAddress, Flag, Message, Task

        # Here, in the local store (as an application would, offline or not).
        tasks = self.bindings["Tasks"].local
        agenda = _find(tasks, lambda t: isinstance(t, Task) and t.uid == "agenda@example.test")
        tasks.put(agenda.id, _as(Task, agenda.item).complete(), if_match=agenda.version)
        self.bindings["Contacts"].local.create(
            Contact.new(
                "Erin Baker", uid="erin@example.test", emails=[EmailAddress("erin@example.test")]
            )
        )
        inbox = self.bindings["Inbox"].local
        welcome = _find(inbox, lambda m: _title(m) == "Welcome to the team")
        message = _as(Message, welcome.item)
        inbox.put(welcome.id, attrs.evolve(message, flags=message.flags | {Flag.SEEN}),
                  if_match=welcome.version)  # fmt: skip

        # On the server, as another client would.
        calendar = self.bindings["Calendar"].remote
        dentist = _find(calendar, lambda a: _title(a) == "Dentist")
        item = _as_appointment(dentist.item)
        hour = dt.timedelta(hours=1)
        calendar.put(dentist.id, attrs.evolve(item, start=item.start + hour, end=item.end + hour),
                     if_match=dentist.version)  # fmt: skip
        lunch = mime.build(
            from_=Address("bob@example.test", "Bob"),
            to=Address(EMAIL, NAME),
            subject="Lunch on Friday?",
            text="The usual place?\n",
            message_id="<lunch@demo.example.test>",
        )
        self.pymap.append(USER, "INBOX", lunch.content or b"")
        return (
            "here: completed 'Send the agenda', added contact 'Erin Baker', read 'Welcome "
            "to the team'; on the server: 'Dentist' moved by an hour, 'Lunch on Friday?' "
            "arrived"
        )

    # -- 10. sync again -----------------------------------------------------------------

    def sync_again(self) -> str:
        from openprotocols.model import Message, Task
        from openprotocols.sync import Side

        up: list[str] = []
        down: list[str] = []
        for name, binding in self.bindings.items():
            report = _synced(binding)
            for side, names in ((Side.REMOTE, up), (Side.LOCAL, down)):
                count = report.created[side] + report.updated[side] + report.deleted[side]
                names.extend([name] * count)
        agenda = _find(self.bindings["Tasks"].remote, lambda t: _title(t) == "Send the agenda")
        _check(_as(Task, agenda.item).is_completed, "the completed task did not reach the server")
        _find(self.bindings["Contacts"].remote, lambda c: _title(c) == "Erin Baker")
        welcome = _find(self.bindings["Inbox"].remote, lambda m: _title(m) == "Welcome to the team")
        _check(_as(Message, welcome.item).is_seen, "the read flag did not reach the server")
        _find(self.bindings["Inbox"].local, lambda m: _title(m) == "Lunch on Friday?")
        dentist = _find(self.bindings["Calendar"].local, lambda a: _title(a) == "Dentist")
        moved = _as_appointment(dentist.item).start
        _check(isinstance(moved, dt.datetime) and moved.hour == 17, "the moved event is not here")
        return (
            f"{len(up)} changes uploaded ({', '.join(up)}), {len(down)} downloaded "
            f"({', '.join(down)}); both sides agree"
        )

    # -- 11. a conflict -----------------------------------------------------------------

    def conflict(self) -> str:
        binding = self.bindings["Calendar"]

        def review(collection: Collection[Any]) -> Any:
            return _find(collection, lambda a: _title(a) == "Project review")

        here, there = review(binding.local), review(binding.remote)
        binding.local.put(here.id, attrs.evolve(here.item, location="Room 4"),
                          if_match=here.version)  # fmt: skip
        binding.remote.put(there.id, attrs.evolve(there.item, location="Room 7"),
                           if_match=there.version)  # fmt: skip
        report = _synced(binding)
        _check(report.conflicts == 1, f"expected one conflict, the sync met {report.conflicts}")
        (queued,) = self.store.conflicts("Calendar")
        now = _as_appointment(review(binding.local).item)
        kept = _as_appointment(queued.item)
        _check((now.location, kept.location) == ("Room 7", "Room 4"), "not kept both ways")
        return (
            "'Project review' moved to Room 4 here and to Room 7 on the server: the "
            f"server's {now.location} is in place on both sides, the local {kept.location} "
            "waits in store.conflicts() for store.resolve()"
        )

    # -- 12. delete and restore ---------------------------------------------------------

    def delete_and_restore(self) -> str:
        from openprotocols.sync import Side

        binding = self.bindings["Contacts"]
        dave = _find(binding.local, lambda c: _title(c) == "Dave Diver")
        binding.local.delete(dave.id, if_match=dave.version)
        _synced(binding)
        on_server = {_title(e.item) for e in _entries(binding.remote)}
        _check("Dave Diver" not in on_server, "the delete did not reach the server")
        entry = next(e for e in self.store.history("Contacts") if e.reason == "deleted")
        _check(_title(entry.item) == "Dave Diver", "the history lost the deleted contact")
        self.store.restore(entry)
        report = _synced(binding)
        _check(report.created[Side.REMOTE] == 1, "the restored contact was not uploaded")
        _find(binding.remote, lambda c: _title(c) == "Dave Diver")
        return (
            "deleted 'Dave Diver' here, the sync deleted it on the server; store.history() "
            "kept it, store.restore() brought it back, the next sync re-created it there"
        )

    # -- 13. export ---------------------------------------------------------------------

    def export(self) -> str:
        import openprotocols
        from openprotocols.model import FolderKind, Task
        from openprotocols.sync import Side

        self.store.create_folder("Holiday", FolderKind.TASKS)
        holiday = self.store.collection("Holiday")
        for subject in ("Pack the tent", "Water the plants before leaving"):
            holiday.create(Task.new(subject))
        binding, report = openprotocols.export_folder(self.store, "Holiday", self.caldav, "holiday")
        _check(report.created[Side.REMOTE] == 2, f"uploaded {report.created[Side.REMOTE]}")
        _check(len(binding.remote.list()) == 2, "the new collection does not hold 2 tasks")
        return (
            f"local folder Holiday (2 tasks) → new collection {binding.spec.collection} (2 tasks)"
        )

    # -- 14. send -----------------------------------------------------------------------

    def send(self) -> str:
        from openprotocols import sending
        from openprotocols.backends.imap import IMAPCollection
        from openprotocols.formats import mime
        from openprotocols.model import Address

        folder = self.imap.folder_for("sent")
        _check(folder is not None, "the IMAP server has no Sent folder")
        assert folder is not None
        sent = self.imap.collection(folder)
        message = mime.build(
            account=self.account,
            to=Address("bob@example.test", "Bob Builder"),
            bcc=Address("carol@example.test", "Carol Singer"),
            subject="Minutes of the team meeting",
            text="Budget approved; venue booked.\n",
        )
        result = sending.send(self.smtp, message, sent=sent)
        _check(result.store_error is None, f"the Sent copy was not stored: {result.store_error}")
        received = self.smtp_server.messages[-1]
        _check("carol@example.test" in received.rcpt_tos, "Carol was not a recipient")
        _check(b"carol@example.test" not in received.data, "the Bcc went out in the message")
        copy = _find(sent, lambda m: m.envelope.message_id == message.envelope.message_id)
        assert isinstance(sent, IMAPCollection)
        raw = sent.fetch_body(copy.id).raw or b""
        _check(b"Bcc: Carol Singer <carol@example.test>" in raw, "the Sent copy lost its Bcc")
        return (
            f"sent to {', '.join(received.rcpt_tos)}; the SMTP server's copy has no Bcc "
            f"header, the copy in {folder.id} has 'Bcc: Carol Singer <carol@example.test>'"
        )


# -- helpers --------------------------------------------------------------------------


def _entries(collection: Collection[Any]) -> Iterator[Any]:
    return collection.get(ref.id for ref in collection.list())


def _find(collection: Collection[Any], wanted: Callable[[Any], bool]) -> Any:
    """The first entry of ``collection`` whose item is ``wanted`` (a demo's few items)."""
    for entry in _entries(collection):
        if wanted(entry.item):
            return entry
    raise DemoFailure(f"not found in {collection!r}")


def _as(cls: type[_T], item: object) -> _T:
    _check(isinstance(item, cls), f"expected a {cls.__name__}, got {item!r}")
    return item  # type: ignore[return-value]


def _as_appointment(item: object) -> Appointment:
    from openprotocols.model import Appointment

    return _as(Appointment, item)


def _redirect(location: str) -> Response:
    from openprotocols.testing.servers import Response

    return Response.redirect(location, 301)


class _DavClient:
    """Another client of the DAV server, for the sample data: plain WebDAV requests."""

    def __init__(self, url: str, network: Network) -> None:
        self.url = url.rstrip("/")
        self.session = network.http_session()
        self.session.auth = (USER, PASSWORD)

    def __enter__(self) -> _DavClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()

    def _request(self, method: str, path: str, body: bytes, content_type: str,
                 **headers: str) -> None:  # fmt: skip
        reply = self.session.request(
            method,
            self.url + path,
            data=body,
            headers={"Content-Type": content_type, **headers},
        )
        _check(reply.status_code in (200, 201, 204), f"{method} {path}: {reply.status_code}")

    def make_calendar(self, path: str, name: str, component: str) -> None:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set>'
            f"<D:prop><D:displayname>{name}</D:displayname><C:supported-calendar-component-set>"
            f'<C:comp name="{component}"/></C:supported-calendar-component-set></D:prop>'
            "</D:set></C:mkcalendar>"
        )
        self._request("MKCALENDAR", path, body.encode(), "application/xml; charset=utf-8")

    def make_addressbook(self, path: str, name: str) -> None:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>'
            "<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
            f"<D:displayname>{name}</D:displayname></D:prop></D:set></D:mkcol>"
        )
        self._request("MKCOL", path, body.encode(), "application/xml; charset=utf-8")

    def put(self, path: str, data: bytes) -> None:
        kind = "text/vcard" if path.endswith(".vcf") else "text/calendar"
        self._request("PUT", path, data, f"{kind}; charset=utf-8", **{"If-None-Match": "*"})


# -- the command ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m openprotocols.demo [--keep]``."""
    parser = argparse.ArgumentParser(
        prog="python -m openprotocols.demo",
        description="Run openprotocols against servers it starts on 127.0.0.1.",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (the store, the servers' data) and say where",
    )
    args = parser.parse_args(argv)
    try:
        return run(keep=args.keep)
    except KeyboardInterrupt:  # the servers are stopped and the files removed by now
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
