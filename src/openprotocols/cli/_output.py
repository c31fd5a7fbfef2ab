"""How commands print: tables for people, JSON for machines, one item in a few words."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import App

__all__ = ["describe_item", "print_json", "print_table", "when"]


def print_table(app: App, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A table on standard output (plain text, no markup interpreted in the cells)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(*columns, box=None, pad_edge=False, header_style="bold")
    for row in rows:
        table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    app.console.print(table)


def print_json(app: App, data: Any) -> None:
    """``data`` as indented JSON on standard output (not through rich: no wrapping)."""
    import click

    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def when(timestamp: float) -> str:
    """A POSIX time as local date and time, to the second."""
    return dt.datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def describe_item(item: object) -> str:
    """A few words naming an item: a message's subject, an event's or a task's subject,
    a contact's name."""
    envelope = getattr(item, "envelope", None)
    if envelope is not None:
        return str(getattr(envelope, "subject", "") or "(no subject)")
    for field in ("subject", "display_name"):
        value = getattr(item, field, None)
        if value:
            return str(value)
    return str(getattr(item, "uid", "") or "(unnamed)")
