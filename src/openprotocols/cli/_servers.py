"""``directory`` (the CardDAV global directory) and ``capabilities`` (what each server of
the account supports, asked live)."""

from __future__ import annotations

from typing import Any

import click

from ._app import App
from ._output import print_json, print_table

__all__ = ["COMMANDS"]


@click.command()
@click.argument("text")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--url", help="The directory's address book, if the server does not name one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def directory(app: App, text: str, limit: int, url: str | None, as_json: bool) -> None:
    """Search the global address directory for TEXT (name, e-mail address, nickname)."""
    carddav = app.connect("carddav")
    found = carddav.directory(url).search(text, limit=limit)  # type: ignore[attr-defined]
    rows = [
        [
            entry.item.display_name or "",
            ", ".join(e.address for e in getattr(entry.item, "emails", ())),
        ]
        for entry in found
    ]
    if as_json:
        print_json(app, [{"name": name, "emails": emails} for name, emails in rows])
        return
    if not rows:
        app.out(f"Nobody found for {text!r}.")
        return
    print_table(app, ["name", "e-mail"], rows)


def _report(backend: Any) -> list[str]:
    """What one connected backend's server says it supports."""
    if hasattr(backend, "capability_report"):
        report = backend.capability_report()
        flags = (
            "sync_collection",
            "mkcalendar",
            "extended_mkcol",
            "vtodo",
            "scheduling",
            "groups",
            "directory",
        )
        lines = [
            f"server: {report.server or 'unknown'}",
            "DAV: " + ", ".join(sorted(report.dav_classes)),
        ]
        lines += [
            f"{flag.replace('_', '-')}: {'yes' if getattr(report, flag) else 'no'}"
            for flag in flags
        ]
        lines += [f"quirk: {quirk.issue}" for quirk in report.quirks]
        return lines
    if hasattr(backend, "server_capabilities"):
        return [" ".join(sorted(backend.server_capabilities()))]
    if hasattr(backend, "server_extensions"):
        return sorted(backend.server_extensions())
    return []


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def capabilities(app: App, as_json: bool) -> None:
    """What each server of the account supports (each is asked now)."""
    account = app.account()
    found: dict[str, dict[str, Any]] = {}
    for endpoint in account.endpoints:
        backend = app.connect(endpoint.protocol)
        found[endpoint.protocol] = {
            "url": endpoint.url,
            "backend": type(backend).description,
            "operations": str(type(backend).capabilities).removeprefix("Capability."),
            "server": _report(backend),
        }
    if as_json:
        print_json(app, found)
        return
    for protocol, info in found.items():
        app.out(f"{protocol}: {info['url']}")
        app.out(f"  backend: {info['backend']}")
        app.out(f"  operations: {info['operations']}")
        for line in info["server"]:
            app.out(f"  {line}")


COMMANDS = [directory, capabilities]
