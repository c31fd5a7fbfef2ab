"""``sync``, ``history``, ``restore``, ``conflicts`` and ``resolve``.

``sync`` connects every backend its bindings need first (so that questions about
passwords and permissions come before the progress bars), then hands the bindings to
:func:`openprotocols.store.sync_all` — in parallel unless ``--one-at-a-time`` or an
account's ``concurrent_sync`` is off — or, for ``--dry-run`` and ``--confirm``, syncs them
one by one with :meth:`Binding.sync`. One folder's failure does not stop the others; the
exit status is that of the first failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from openprotocols.errors import NotFoundError, OpenProtocolsError

from ._app import App
from ._errors import ExitCode, describe
from ._output import describe_item, print_json, print_table, when

if TYPE_CHECKING:
    from openprotocols.model import Binding as BindingSpec
    from openprotocols.store import Binding
    from openprotocols.sync import Plan, SyncReport

__all__ = ["COMMANDS", "counts", "report_line"]


def counts(report: SyncReport) -> dict[str, dict[str, int]]:
    """Writes per side: ``{"local": {"created": n, ...}, "remote": {...}}``."""
    from openprotocols.sync import Side

    return {
        str(side): {
            "created": report.created[side],
            "updated": report.updated[side],
            "deleted": report.deleted[side],
        }
        for side in Side
    }


def _changes(created: int, updated: int, deleted: int) -> str:
    return f"+{created} ~{updated} -{deleted}"


def report_line(report: SyncReport) -> list[object]:
    """Table cells for a report: to local, to server, conflicts, errors."""
    from openprotocols.sync import ActionKind, Side

    if report.dry_run:
        return [
            *(_planned(report.plan, side) for side in Side),
            report.plan.count(ActionKind.CONFLICT),
            "(dry run)",
        ]
    written = counts(report)
    notes = [f"{len(report.errors)} failed"] if report.errors else []
    notes += ["offline"] if report.offline else []
    notes += [f"{report.unresolved} to decide"] if report.unresolved else []
    return [
        _changes(**written["local"]),
        _changes(**written["remote"]),
        report.conflicts,
        ", ".join(notes),
    ]


def _planned(plan: Plan, side: Any) -> str:
    from openprotocols.sync import ActionKind

    created = plan.count(ActionKind.CREATE, side) + plan.count(ActionKind.RESTORE, side)
    return _changes(
        created, plan.count(ActionKind.UPDATE, side), plan.count(ActionKind.DELETE, side)
    )


def _selected(app: App, folders: tuple[str, ...]) -> list[BindingSpec]:
    specs = app.store().bindings()
    if folders:
        by_folder = {spec.local_folder: spec for spec in specs}
        missing = [f for f in folders if f not in by_folder]
        if missing:
            raise NotFoundError(f"not bound: {', '.join(missing)}", backend="local")
        return [by_folder[f] for f in folders]
    if app.account_option:
        return [s for s in specs if s.account in (None, app.account_option)]
    return specs


def _check_folder_lists(app: App, specs: list[BindingSpec]) -> None:
    """The seed's "update folders at start-up": say which bound server folders are gone
    and how many are not bound, before syncing."""
    from ._folders import remote_folders

    for email, backend_name in sorted({(s.account or "", s.backend) for s in specs}):
        account = app.account(email or None)
        if not account.options.update_folders_at_startup:
            continue
        backend = app.connect(backend_name, account.email)
        remote = {f.id for f in remote_folders(backend)}
        bound = {
            s.collection
            for s in app.store().bindings()
            if s.backend == backend_name and s.account in (None, account.email)
        }
        for spec in specs:
            if spec.backend == backend_name and spec.collection not in remote:
                app.warn(f"{spec.local_folder}: {spec.collection} is gone from the server")
        unbound = len(remote - bound)
        if unbound:
            app.note(
                f"{backend_name}: {unbound} server folders are not bound "
                "(`openprotocols folders --remote`)"
            )


@click.command()
@click.argument("folders", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Only show what would be done.")
@click.option("--one-at-a-time", is_flag=True, help="One folder at a time (concurrency off).")
@click.option("--verify", is_flag=True, help="Check every item on both sides (troubleshooting).")
@click.option("--confirm", is_flag=True, help="Let through a sync that deletes many items.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def sync(
    app: App,
    folders: tuple[str, ...],
    dry_run: bool,
    one_at_a_time: bool,
    verify: bool,
    confirm: bool,
    as_json: bool,
) -> None:
    """Sync the bound FOLDERS (all bound folders if none are named)."""
    specs = _selected(app, folders)
    if not specs:
        app.out("Nothing is bound yet: bind a folder with `openprotocols bind`.")
        return
    _check_folder_lists(app, specs)
    bindings = [app.binding(spec.local_folder) for spec in specs]
    accounts = {b.backend.account.email: b.backend.account for b in bindings}
    verify = verify or any(a.options.troubleshooting for a in accounts.values())
    concurrent = not one_at_a_time and all(a.options.concurrent_sync for a in accounts.values())
    with app.progress() as progress:
        if dry_run or confirm:
            results = {
                b.spec.local_folder: _one(b, dry_run, confirm, verify, progress) for b in bindings
            }
        else:
            from openprotocols.store import sync_all

            results = sync_all(bindings, concurrent=concurrent, progress=progress, verify=verify)
    _print_results(app, results, as_json)


def _one(binding: Binding, dry_run: bool, confirm: bool, verify: bool, progress: Any) -> Any:
    try:
        return binding.sync(dry_run=dry_run, confirm=confirm, verify=verify, progress=progress)
    except OpenProtocolsError as error:
        return error


def _print_results(app: App, results: dict[str, Any], as_json: bool) -> None:
    failures = [(f, r) for f, r in results.items() if isinstance(r, OpenProtocolsError)]
    reports = {f: r for f, r in results.items() if not isinstance(r, OpenProtocolsError)}
    if as_json:
        print_json(
            app,
            {
                "reports": {
                    f: {
                        **counts(r),
                        "conflicts": r.conflicts,
                        "unresolved": r.unresolved,
                        "errors": [f"{i}: {e}" for i, e in r.errors],
                        "offline": r.offline,
                        "dry_run": r.dry_run,
                    }
                    for f, r in reports.items()
                },
                "failed": {f: str(e) for f, e in failures},
            },
        )
    else:
        print_table(
            app,
            ["folder", "local (+ ~ -)", "server (+ ~ -)", "conflicts", ""],
            [[folder, *report_line(report)] for folder, report in reports.items()],
        )
    codes: list[ExitCode] = []
    for folder, error in failures:
        code, hint = describe(error)
        codes.append(code)
        click.echo(f"error: {folder}: {app.redactor.redact(str(error))}", err=True)
        click.echo(f"hint: {hint}", err=True)
    for folder, report in reports.items():
        for item, error in report.errors:
            app.warn(f"{folder}: {item}: {app.redactor.redact(str(error))}")
        codes += [ExitCode.INCOMPLETE] if report.errors else []
        codes += [ExitCode.CONNECTION] if report.offline else []
    if any(r.conflicts or r.unresolved for r in reports.values()):
        app.note("Conflicts: see `openprotocols conflicts`.")
    if codes:
        click.get_current_context().exit(int(codes[0]))


@click.command()
@click.argument("folder")
@click.option("--item", "item_id", help="Only the versions of this item (its id).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def history(app: App, folder: str, item_id: str | None, limit: int, as_json: bool) -> None:
    """Versions replaced or deleted in FOLDER, newest first (restore them by their id)."""
    store = app.store()
    store.folder(folder)
    entries = store.history(folder, item_id=item_id, limit=limit)
    rows = [
        [e.hid, when(e.at), f"{e.reason} by {e.by}", e.side, describe_item(e.item), e.uid or ""]
        for e in entries
    ]
    if as_json:
        keys = ["id", "at", "reason", "side", "what", "uid"]
        print_json(app, [dict(zip(keys, row, strict=True)) for row in rows])
        return
    if not rows:
        app.out(f"No history for {folder}.")
        return
    print_table(app, ["id", "when", "what happened", "side", "item", "uid"], rows)


@click.command()
@click.argument("entry", type=int, metavar="ITEM")
@click.pass_obj
def restore(app: App, entry: int) -> None:
    """Bring back the version ITEM (an id from `openprotocols history`)."""
    store = app.store()
    ref = store.restore(entry)
    app.out(f"Restored history entry {entry} (now item {ref.id}).")
    app.out("The next `openprotocols sync` of its folder takes it to the server.")


@click.command()
@click.argument("folder", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def conflicts(app: App, folder: str | None, as_json: bool) -> None:
    """Versions that lost a conflict, or wait for a decision."""
    found = app.store().conflicts(folder)
    rows = [
        [
            c.cid,
            c.folder,
            when(c.at),
            "decide" if c.question else "kept",
            c.side,
            describe_item(c.item),
            c.decision or "",
        ]
        for c in found
    ]
    if as_json:
        keys = ["id", "folder", "at", "state", "side", "what", "decision"]
        print_json(app, [dict(zip(keys, row, strict=True)) for row in rows])
        return
    if not rows:
        app.out("No conflicts.")
        return
    print_table(app, ["id", "folder", "when", "state", "side", "item", "decision"], rows)
    app.out("Decide with `openprotocols resolve ID --keep local|remote`.")


@click.command()
@click.argument("ids", nargs=-1, type=int, metavar="[CONFLICT]...")
@click.option(
    "--keep",
    type=click.Choice(["local", "remote"]),
    required=True,
    help="Which version stays: the local one or the server's.",
)
@click.option("--all", "every", is_flag=True, help="Every conflict (of --folder, if given).")
@click.option("--folder", help="With --all: only this folder's conflicts.")
@click.pass_obj
def resolve(app: App, ids: tuple[int, ...], keep: str, every: bool, folder: str | None) -> None:
    """Settle conflicts (ids from `openprotocols conflicts`)."""
    store = app.store()
    chosen = list(ids) or ([c.cid for c in store.conflicts(folder)] if every else [])
    if not chosen:
        raise click.UsageError("name the conflicts to resolve, or give --all")
    for cid in chosen:
        store.resolve(cid, keep="local" if keep == "local" else "remote")
    app.out(f"Resolved {len(chosen)} conflict(s), keeping the {keep} version.")
    app.out("The next `openprotocols sync` applies it on both sides.")


COMMANDS = [sync, history, restore, conflicts, resolve]
