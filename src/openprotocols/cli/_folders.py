"""``folders``, ``bind``, ``unbind``, ``export`` and ``reset``.

Local folders live in the store; server folders on the account's backends (``imap`` for
mail, ``caldav`` for calendars and tasks, ``carddav`` for contacts). ``folders
--refresh`` is the seed's "Refresh Folder List": every server folder that is not bound
yet gets a local folder of the same name, bound to it, and bound folders that went away
on the server are reported (their local items stay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import click

from openprotocols.errors import ConfigurationError, NotFoundError
from openprotocols.model import ConflictPolicy, Direction, Folder, FolderKind

from ._app import BACKEND_FOR_KIND, App
from ._output import print_json, print_table
from ._sync import counts, report_line

if TYPE_CHECKING:
    from openprotocols.backends.base import Backend
    from openprotocols.store import LocalStore

__all__ = ["COMMANDS", "remote_folders"]

_KINDS = click.Choice([k.value for k in FolderKind])


def remote_folders(backend: Backend) -> list[Folder]:
    """The server's folders that can hold items (IMAP: listed again, so that folders
    another client created or deleted show; ``\\Noselect`` ones left out)."""
    refresh = getattr(backend, "refresh_folders", None)
    folders: list[Folder] = refresh().folders if refresh is not None else backend.list_folders()
    return [f for f in folders if not _no_select(f)]


def _no_select(folder: Folder) -> bool:
    return any("\\noselect" in p.value.lower() for p in folder.extended.get("X-IMAP-ATTRIBUTES"))


def _backends(app: App) -> list[str]:
    """The account's backends that hold folders."""
    account = app.account()
    have = {e.protocol for e in account.endpoints}
    return [name for name in ("imap", "caldav", "carddav") if name in have]


@click.command()
@click.option("--remote", is_flag=True, help="List the server's folders instead.")
@click.option("--refresh", is_flag=True, help="Bind every server folder not bound yet.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def folders(app: App, remote: bool, refresh: bool, as_json: bool) -> None:
    """The local folders and what they are bound to."""
    if refresh:
        _refresh(app)
    if remote:
        _list_remote(app, as_json)
        return
    store = app.store()
    bound = {spec.local_folder: spec for spec in store.bindings()}
    rows = []
    for folder in store.list_folders():
        spec = bound.get(folder.id)
        target = f"{spec.backend}:{spec.collection}" if spec else ""
        rows.append(
            [
                folder.id,
                folder.kind,
                len(store.collection(folder).list()),
                target,
                spec.account or "" if spec else "",
            ]
        )
    if as_json:
        keys = ["folder", "kind", "items", "bound_to", "account"]
        print_json(app, [dict(zip(keys, row, strict=True)) for row in rows])
        return
    if not rows:
        app.out("No local folders yet: `openprotocols folders --refresh` or `openprotocols bind`.")
        return
    print_table(app, ["folder", "kind", "items", "bound to", "account"], rows)


def _list_remote(app: App, as_json: bool) -> None:
    email = app.account().email
    bound = {
        (s.backend, s.collection): s.local_folder
        for s in app.store().bindings()
        if s.account in (None, email)
    }
    rows = []
    for name in _backends(app):
        for folder in remote_folders(app.connect(name)):
            rows.append(
                [
                    name,
                    folder.id,
                    folder.display_name,
                    folder.kind,
                    "" if folder.role == "none" else folder.role,
                    bound.get((name, folder.id), ""),
                ]
            )
    if as_json:
        keys = ["backend", "id", "name", "kind", "role", "bound_to"]
        print_json(app, [dict(zip(keys, row, strict=True)) for row in rows])
        return
    print_table(app, ["backend", "id", "name", "kind", "role", "bound to"], rows)


def _free_name(store: LocalStore, wanted: str) -> str:
    taken = {f.id for f in store.list_folders()}
    name, number = wanted, 2
    while name in taken:
        name, number = f"{wanted} ({number})", number + 1
    return name


def _refresh(app: App) -> None:
    store = app.store()
    email = app.account().email
    for name in _backends(app):
        backend = app.connect(name)
        found = remote_folders(backend)
        ids = {f.id for f in found}
        specs = [s for s in store.bindings() if s.backend == name and s.account in (None, email)]
        bound = {s.collection for s in specs}
        for folder in found:
            if folder.id in bound:
                continue
            local = _free_name(store, folder.display_name)
            store.add_folder(
                Folder.new(
                    local,
                    folder.kind,
                    display_name=folder.display_name,
                    role=folder.role,
                    color=folder.color,
                )
            )
            store.bind(local, backend, folder.id)
            app.out(f"new: {local} bound to {name}:{folder.id}")
        for spec in specs:
            if spec.collection not in ids:
                app.out(
                    f"gone from the server: {name}:{spec.collection} (local "
                    f"{spec.local_folder} keeps its items; `openprotocols unbind` it)"
                )


def _target(backend: Backend, target: str) -> Folder:
    """The server folder ``target`` names: its id, its URL, or its display name."""
    path = unquote(urlsplit(target).path) if "://" in target else target
    folders = backend.list_folders()
    for folder in folders:
        if target in (folder.id, unquote(folder.id)) or path in (folder.id, unquote(folder.id)):
            return folder
    by_name = [f for f in folders if f.display_name.casefold() == target.casefold()]
    if len(by_name) == 1:
        return by_name[0]
    raise NotFoundError(
        f"{backend.name} has no folder {target!r}", backend=backend.name, url=target
    )


def _backend_names(kind: str | None, target: str | None, given: str | None) -> list[str]:
    """The backends that may hold the server folder, most likely first."""
    if given:
        return [given]
    if kind:
        return [BACKEND_FOR_KIND[kind]]
    if target is None:
        raise ConfigurationError(
            "say what the folder holds with --kind (calendar, tasks, contacts)"
        )
    if not target.startswith("/") and "://" not in target:
        return ["imap"]  # a mailbox name
    return ["caldav", "carddav"]  # a DAV collection: whichever server has it


def _find(app: App, names: list[str], target: str | None) -> tuple[Backend, Folder | None]:
    """The first backend that has ``target`` (any of them when there is no target)."""
    missing: NotFoundError | None = None
    for name in names:
        backend = app.connect(name)
        if target is None:
            return backend, None
        try:
            return backend, _target(backend, target)
        except NotFoundError as error:
            missing = missing or error
    assert missing is not None
    raise missing


@click.command()
@click.argument("local")
@click.option("--to", "target", help="The server folder: its URL, id or name.")
@click.option("--discover", "find", is_flag=True, help="Find the server folder by kind and name.")
@click.option("--kind", type=_KINDS, help="What the folder holds (to create LOCAL).")
@click.option("--backend", "backend_name", help="The backend [default: by kind].")
@click.option(
    "--direction",
    type=click.Choice([d.value for d in Direction]),
    default=Direction.TWO_WAY.value,
    show_default=True,
)
@click.option(
    "--policy",
    type=click.Choice([p.value for p in ConflictPolicy]),
    default=ConflictPolicy.KEEP_BOTH.value,
    show_default=True,
    help="What to do when both sides changed an item.",
)
@click.pass_obj
def bind(
    app: App,
    local: str,
    target: str | None,
    find: bool,
    kind: str | None,
    backend_name: str | None,
    direction: str,
    policy: str,
) -> None:
    """Bind the local folder LOCAL (created if needed) to a server folder."""
    if (target is None) == (not find):
        raise click.UsageError("give either --to URL or --discover")
    store = app.store()
    existing = next((f for f in store.list_folders() if f.id == local), None)
    if existing is not None:
        kind = existing.kind
    backend, remote = _find(app, _backend_names(kind, target, backend_name), target)
    if existing is None:
        chosen = remote.kind if remote is not None else kind
        if chosen is None:
            raise ConfigurationError(f"{local!r} does not exist: say what it holds with --kind")
        store.create_folder(local, chosen, color=remote.color if remote else None)
    binding = store.bind(
        local, backend, remote.id if remote else None, direction=direction, policy=policy
    )
    app.out(f"Bound {local} to {backend.name}:{binding.spec.collection} ({direction}, {policy}).")
    app.out(f"`openprotocols sync {local}` syncs it.")


@click.command()
@click.argument("local")
@click.pass_obj
def unbind(app: App, local: str) -> None:
    """Forget what LOCAL is bound to (its items stay)."""
    app.store().unbind(local)
    app.out(f"{local} is no longer bound; its items stay.")


@click.command()
@click.argument("folder")
@click.option("--new", "name", required=True, help="The new server folder's name.")
@click.option("--display-name", help="Its display name [default: the local folder's].")
@click.pass_obj
def export(app: App, folder: str, name: str, display_name: str | None) -> None:
    """Copy FOLDER into a new server folder, bind them and upload every item."""
    from openprotocols import export_folder

    store = app.store()
    local = store.folder(folder)
    backend = app.connect(BACKEND_FOR_KIND[local.kind])
    with app.progress() as progress:
        binding, report = export_folder(
            store, folder, backend, name, display_name=display_name, progress=progress
        )
    uploaded = counts(report)["remote"]["created"]
    app.out(f"Exported {folder} to {backend.name}:{binding.spec.collection} ({uploaded} items).")


@click.command()
@click.argument("folder")
@click.option(
    "--discard-local-changes", is_flag=True, help="Drop local changes not synced yet, too."
)
@click.pass_obj
def reset(app: App, folder: str, discard_local_changes: bool) -> None:
    """Download FOLDER again from the server (the local copy goes to the history)."""
    binding = app.binding(folder)
    with app.progress() as progress:
        report = binding.reset_from_server(
            discard_local_changes=discard_local_changes, progress=progress
        )
    print_table(
        app,
        ["folder", "local (+ ~ -)", "server (+ ~ -)", "conflicts", ""],
        [[folder, *report_line(report)]],
    )


COMMANDS = [folders, bind, unbind, export, reset]
