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
import hashlib
from collections.abc import Iterator
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
    digest = hashlib.blake2b(digest_size=16)
    skip = VOLATILE_FIELDS | (_MAIL_IDENTITY if item.kind == "mail" else frozenset())
    for token in _tokens(item, skip):
        digest.update(token.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _tokens(value: Any, skip: frozenset[str]) -> Iterator[str]:  # noqa: PLR0912 - one branch per kind of value
    if value is None:
        yield "N"
    elif isinstance(value, RawProperty):
        if not _volatile(value):
            yield f"P{value.name.upper()}"
            yield from _tokens((value.params, value.group, value.value), skip)
    elif attrs.has(type(value)):
        yield f"A{type(value).__qualname__}"
        for field in attrs.fields(type(value)):
            if field.name not in skip:
                yield field.name
                yield from _tokens(getattr(value, field.name), skip)
    elif isinstance(value, enum.Enum):
        yield f"E{value.value}"
    elif isinstance(value, bool | int | float):
        yield f"{type(value).__name__[0]}{value!r}"
    elif isinstance(value, str):
        yield f"S{value}"
    elif isinstance(value, bytes):
        yield "B" + hashlib.blake2b(value, digest_size=16).hexdigest()
    elif isinstance(value, dt.datetime | dt.date | dt.time):
        zone = getattr(value, "tzinfo", None)
        yield f"D{value.isoformat()}|{getattr(zone, 'key', zone)}"
    elif isinstance(value, frozenset | set):
        inner = sorted("\1".join(_tokens(v, skip)) for v in value)
        yield f"F{len(inner)}"
        yield from inner
    elif isinstance(value, tuple | list):
        kept = [v for v in value if not _volatile(v)]  # counted only if hashed
        yield f"T{len(kept)}"
        for v in kept:
            yield from _tokens(v, skip)
    elif isinstance(value, dict):
        yield f"M{len(value)}"
        for key in sorted(value, key=repr):
            yield from _tokens(key, skip)
            yield from _tokens(value[key], skip)
    else:
        yield f"R{value!r}"


def _volatile(value: object) -> bool:
    return isinstance(value, RawProperty) and value.name.upper() in VOLATILE_PROPERTIES
