"""A content hash of an item that ignores what changes without the content changing.

Servers and clients touch some properties on every write — ``DTSTAMP``, ``PRODID``,
``LAST-MODIFIED``, ``REV`` — and collections attach their own bookkeeping to items (an
IMAP message's UID, folder and mod-sequence). Two items that differ only there are the
same to the user, so the sync engine compares :func:`content_hash` values, not versions:
a version that moved with an equal hash (an ETag churned by the server) is not a change.

The hash walks the model generically (attrs classes, tuples, sets, enums, dates), so a
plugin's item class is hashed without registering anything.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
from typing import Any

import attrs

from openprotocols.model._base import Item, RawProperty

__all__ = ["VOLATILE_FIELDS", "VOLATILE_PROPERTIES", "content_hash"]

VOLATILE_PROPERTIES = frozenset({"DTSTAMP", "PRODID", "LAST-MODIFIED", "REV", "X-TUID"})
"""Verbatim (``extended``) properties left out of the hash."""

VOLATILE_FIELDS = frozenset({"last_modified", "modseq", "folder"})
"""Model fields left out of the hash: change stamps and a collection's bookkeeping."""

_MAIL_IDENTITY = frozenset({"uid"})  # an IMAP UID is the server's, not the message's


def content_hash(item: Item) -> str:
    """A stable hex digest of ``item``'s content (see the module documentation)."""
    skip = VOLATILE_FIELDS | (_MAIL_IDENTITY if item.kind == "mail" else frozenset())
    tokens: list[str] = []
    _collect(item, skip, tokens)
    tokens.append("")  # every token is followed by a NUL, the last one too
    return hashlib.blake2b(
        "\0".join(tokens).encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()


@functools.cache
def _field_names(cls: type, skip: frozenset[str]) -> tuple[str, ...] | None:
    """The fields of an attrs class to hash, in order; ``None`` for any other class."""
    if not attrs.has(cls):
        return None
    return tuple(field.name for field in attrs.fields(cls) if field.name not in skip)


def _collect(value: Any, skip: frozenset[str], out: list[str]) -> None:  # noqa: PLR0912 - one branch per kind of value
    """Append the tokens of ``value`` to ``out`` (a list, not a generator: this runs for
    every item a sync fetches)."""
    cls: type = type(value)
    if cls is str:  # the commonest value first (a StrEnum is an enum, below)
        out.append("S" + value)
    elif value is None:
        out.append("N")
    elif cls is RawProperty:
        if not _volatile(value):
            out.append("P" + value.name.upper())
            _collect((value.params, value.group, value.value), skip, out)
    elif (names := _field_names(cls, skip)) is not None:
        out.append("A" + cls.__qualname__)
        for name in names:
            out.append(name)
            _collect(getattr(value, name), skip, out)
    elif isinstance(value, enum.Enum):
        out.append(f"E{value.value}")
    elif isinstance(value, bool | int | float):
        out.append(f"{cls.__name__[0]}{value!r}")
    elif isinstance(value, str):
        out.append("S" + value)
    elif isinstance(value, bytes):
        out.append("B" + hashlib.blake2b(value, digest_size=16).hexdigest())
    elif isinstance(value, dt.datetime | dt.date | dt.time):
        zone = getattr(value, "tzinfo", None)
        out.append(f"D{value.isoformat()}|{getattr(zone, 'key', zone)}")
    elif isinstance(value, frozenset | set):
        inner = sorted("\1".join(_tokens_of(v, skip)) for v in value)
        out.append(f"F{len(inner)}")
        out.extend(inner)
    elif isinstance(value, tuple | list):
        kept = [v for v in value if not _volatile(v)]  # counted only if hashed
        out.append(f"T{len(kept)}")
        for v in kept:
            _collect(v, skip, out)
    elif isinstance(value, dict):
        out.append(f"M{len(value)}")
        for key in sorted(value, key=repr):
            _collect(key, skip, out)
            _collect(value[key], skip, out)
    else:
        out.append(f"R{value!r}")


def _tokens_of(value: Any, skip: frozenset[str]) -> list[str]:
    found: list[str] = []
    _collect(value, skip, found)
    return found


def _volatile(value: object) -> bool:
    return isinstance(value, RawProperty) and value.name.upper() in VOLATILE_PROPERTIES
