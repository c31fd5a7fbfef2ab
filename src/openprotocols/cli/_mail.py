"""``send``, ``invitations`` and ``import``.

``send`` submits a message file with :func:`openprotocols.sending.send` and keeps the
copy (Bcc included) in the IMAP folder whose role is *sent*. ``invitations`` scans the
inbox with :func:`openprotocols.invitations.scan` and answers with
:func:`~openprotocols.invitations.respond`; an accepted event goes into a local calendar
folder, which the next sync takes to the server. ``import`` reads files with the
project's codecs into local folders and syncs their bindings, so every item reaches the
bound server folder through the same conditional writes as any other change.
"""

from __future__ import annotations

import logging
import mailbox
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import click

from openprotocols.errors import AlreadyExistsError, ConfigurationError, NotFoundError

from ._app import App
from ._output import print_json, print_table
from ._sync import report_line

if TYPE_CHECKING:
    from openprotocols.backends.base import Collection
    from openprotocols.backends.smtp import SMTPBackend
    from openprotocols.formats.imip import Invitation
    from openprotocols.model import Folder
    from openprotocols.store import LocalStore

log = logging.getLogger(__name__)

__all__ = ["COMMANDS"]


def _sent_folder(app: App) -> Collection[Any] | None:
    """The IMAP Sent folder of the account, if it has an IMAP server with one."""
    if not any(e.protocol == "imap" for e in app.account().endpoints):
        return None
    imap = app.connect("imap")
    folder = imap.folder_for("sent")  # type: ignore[attr-defined]
    if folder is None:
        app.warn("the IMAP server has no Sent folder: no copy is kept")
        return None
    collection: Collection[Any] = imap.collection(folder)
    return collection


@click.command()
@click.argument("source", type=click.File("rb"), default="-")
@click.option("--no-copy", is_flag=True, help="Keep no copy in the Sent folder.")
@click.pass_obj
def send(app: App, source: BinaryIO, no_copy: bool) -> None:
    """Send the message in SOURCE (an RFC 5322 file; standard input by default)."""
    from openprotocols import sending
    from openprotocols.formats import mime

    message = mime.parse(source.read())
    smtp = cast("SMTPBackend", app.connect("smtp"))
    sent = None if no_copy else _sent_folder(app)
    result = sending.send(smtp, message, sent=sent)
    accepted = ", ".join(result.submission.accepted)
    app.out(f"Sent {result.submission.message_id or 'the message'} to {accepted}.")
    if result.store_error is not None:
        app.warn(f"sent, but the copy could not be stored: {result.store_error}")
    elif result.stored is not None:
        app.out("A copy is in the Sent folder.")


# -- invitations ---------------------------------------------------------------------


def _scan(app: App, folder: str | None) -> list[Invitation]:
    from openprotocols import invitations

    imap = app.connect("imap")
    inbox = imap.collection(folder or "INBOX")
    found: list[Invitation] = []
    invitations.scan(
        inbox,
        lambda invitation, entry: found.append(invitation),
        download=lambda entry: inbox.fetch_body(entry.id).item,  # type: ignore[attr-defined]
    )
    return found


def _start(invitation: Invitation) -> str:
    appointments = invitation.appointments
    return str(appointments[0].start) if appointments else ""


@click.group(invoke_without_command=True)
@click.option("--folder", help="The mail folder to look in [default: INBOX].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def invitations(ctx: click.Context, folder: str | None, as_json: bool) -> None:
    """Meeting invitations in the inbox: list them, accept or decline one."""
    ctx.ensure_object(App)
    ctx.meta["invitations.folder"] = folder
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    found = _scan(app, folder)
    rows = [
        [i.method or "", i.uid or "", i.summary or "", str(i.organizer or ""), _start(i)]
        for i in found
    ]
    if as_json:
        keys = ["method", "uid", "summary", "organizer", "start"]
        print_json(app, [dict(zip(keys, row, strict=True)) for row in rows])
        return
    if not rows:
        app.out("No invitations.")
        return
    print_table(app, ["method", "uid", "summary", "organizer", "start"], rows)


def _local_folder(store: LocalStore, kind: str, chosen: str | None) -> Folder | None:
    """``chosen``, else the one local folder of ``kind`` (bound ones first)."""
    if chosen is not None:
        return store.folder(chosen)
    bound = {spec.local_folder for spec in store.bindings()}
    candidates = [f for f in store.list_folders() if f.kind == kind]
    candidates.sort(key=lambda f: f.id not in bound)
    return candidates[0] if candidates else None


def _answer(
    ctx: click.Context, uid: str, response: str, calendar: str | None, comment: str | None
) -> None:
    from openprotocols import invitations as flow
    from openprotocols.formats.imip import Method

    app = ctx.find_object(App)
    assert app is not None
    requests = [
        i
        for i in _scan(app, ctx.meta.get("invitations.folder"))
        if i.uid == uid and i.method is Method.REQUEST
    ]
    if not requests:
        raise NotFoundError(f"no invitation with UID {uid!r} in the inbox", backend="imap")
    smtp = cast("SMTPBackend", app.connect("smtp"))
    answered = flow.respond(
        requests[-1], response, smtp=smtp, comment=comment, sent=_sent_folder(app)
    )
    organizer = requests[-1].organizer
    app.out(f"Answered {response} to {organizer.email if organizer else 'the organizer'}.")
    if response == "decline":
        return
    store = app.store()
    folder = _local_folder(store, answered.event.kind, calendar)
    if folder is None:
        app.warn("no local calendar folder: the event is not kept (bind one first)")
        return
    collection = store.collection(folder)
    current = collection.find_uid(uid)
    if current is None:
        collection.create(answered.event)
    else:
        collection.put(current.id, answered.event, if_match=current.version)
    app.out(
        f"The event is in {folder.id}; `openprotocols sync {folder.id}` takes it to the server."
    )


def _response_command(response: str, summary: str) -> click.Command:
    @click.command(response, help=summary)
    @click.argument("uid")
    @click.option("--calendar", help="The local calendar folder for the event.")
    @click.option("--comment", help="A comment for the organizer.")
    @click.pass_context
    def command(ctx: click.Context, uid: str, calendar: str | None, comment: str | None) -> None:
        _answer(ctx, uid, response, calendar, comment)

    return command


invitations.add_command(_response_command("accept", "Accept the invitation UID."))
invitations.add_command(_response_command("tentative", "Accept the invitation UID tentatively."))
invitations.add_command(_response_command("decline", "Decline the invitation UID."))


# -- import --------------------------------------------------------------------------


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.iterdir() if p.is_file())
    else:
        yield path


def _read(path: Path) -> Iterator[Any]:
    """The items in one file, by its kind (see ``docs/cli.md``)."""
    from openprotocols.formats import ical, mime, vcard

    suffix = path.suffix.lower()
    if suffix == ".ics":
        yield from ical.parse(path.read_bytes()).items
    elif suffix == ".vcf":
        yield from vcard.parse(path.read_bytes()).items
    elif suffix == ".eml":
        yield mime.parse(path.read_bytes())
    elif suffix in (".pst", ".ost"):
        yield from _read_pst(path)
    elif suffix == ".msg":
        yield _read_msg(path)
    elif suffix in (".mbox", ".mbx", "") or path.read_bytes()[:5] == b"From ":
        yield from _read_mbox(path)
    else:
        raise ConfigurationError(
            f"{path}: not a file import reads (.ics, .vcf, .eml, mbox, .msg, .pst, .ost)"
        )


def _read_mbox(path: Path) -> Iterator[Any]:
    from openprotocols.formats import mime
    from openprotocols.model import Flag

    box = mailbox.mbox(path, create=False)
    try:
        for key in box.iterkeys():
            message = mime.parse(box.get_bytes(key))
            if "R" in box.get_message(key).get_flags():  # the Status: R header of mbox
                message = message.with_flags(Flag.SEEN)
            yield message
    finally:
        box.close()


def _read_pst(path: Path) -> Iterator[Any]:
    """The items of every folder of a .pst or .ost file that holds items; one that cannot
    be read is logged and skipped."""
    try:
        from openprotocols.outlook import pst
    except ImportError:  # pragma: no cover - olefile is missing: the outlook extra
        raise ConfigurationError(
            f"{path}: reading Outlook files needs pip install 'openprotocols[outlook,pst]'"
        ) from None
    with pst.open_pst(path) as archive:
        for folder in archive.folders():
            if folder.kind is None:
                continue
            for index, item in archive.items(folder):
                if isinstance(item, Exception):
                    log.warning("%s: skipped %s #%d: %s", path, "/".join(folder.path), index, item)
                else:
                    yield item


def _read_msg(path: Path) -> Any:
    try:
        from openprotocols.outlook import msg
    except ImportError:  # pragma: no cover - the outlook extra is missing
        raise ConfigurationError(
            f"{path}: reading .msg files needs pip install 'openprotocols[outlook]'"
        ) from None
    return msg.read(path.read_bytes())


@click.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--to", "folder", help="The local folder [default: the one of each item's kind].")
@click.option("--no-sync", is_flag=True, help="Only store the items locally.")
@click.pass_obj
def import_(app: App, path: Path, folder: str | None, no_sync: bool) -> None:
    """Import PATH (mbox, .eml, .ics, .vcf, .msg, .pst, .ost, a directory of them) and
    upload it."""
    store = app.store()
    target = store.folder(folder) if folder is not None else None
    added: dict[str, int] = {}
    present = 0
    for file in _files(path):
        for item in _read(file):
            local = target if target is not None and target.kind == item.kind else None
            local = local or _local_folder(store, item.kind, None)
            if local is None:
                raise ConfigurationError(f"no local {item.kind} folder: bind one, or give --to")
            try:
                store.collection(local).create(item)
            except AlreadyExistsError:
                present += 1
                continue
            added[local.id] = added.get(local.id, 0) + 1
    for local_id, count in added.items():
        app.out(f"Imported {count} items into {local_id}.")
    if present:
        app.out(f"{present} items were there already.")
    bound = {spec.local_folder for spec in store.bindings()}
    if no_sync:
        return
    rows = []
    for local_id in added:
        if local_id in bound:
            with app.progress() as progress:
                rows.append([local_id, *report_line(app.binding(local_id).sync(progress=progress))])
    if rows:
        print_table(app, ["folder", "local (+ ~ -)", "server (+ ~ -)", "conflicts", ""], rows)


COMMANDS = [send, invitations, import_]
