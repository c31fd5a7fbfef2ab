"""A content hash of an item that ignores what changes without the content changing.

Servers and clients touch some properties on every write — ``DTSTAMP``, ``PRODID``,
``LAST-MODIFIED``, ``REV`` — and collections attach their own bookkeeping to items (an
IMAP message's UID, folder and mod-sequence). Two items that differ only there are the
same to the user, so the sync engine compares :func:`content_hash` values, not versions:
a version that moved with an equal hash (an ETag churned by the server) is not a change.

The hash walks the model generically (attrs classes, tuples, sets, enums, dates), so a
plugin's item class is hashed without registering anything. Every value becomes one or
more string tokens; the digest is of the tokens, each followed by a NUL. Stores keep
these digests, so the tokens must not change: ``tests/sync/test_hash_stability.py``
compares them with a frozen copy of the first implementation, and with the one
deliberate change since (whole messages, below).

A *whole* message (a :class:`Message` with ``content``) is hashed by what its bytes do
not say: ``content`` itself, flags, keywords, ``extended`` and the envelope's ``bcc``
(which :func:`~openprotocols.formats.mime.build` keeps out of the bytes). The fields read
from the bytes (:data:`DERIVED_FROM_CONTENT`) are left out, as each side reads them its
own way: a server's ``BODYSTRUCTURE`` says ``7bit`` and ``us-ascii`` where the store's
parse of the same bytes says nothing, and the same message would never hash the same on
both sides. So is ``internal_date``, the server's date of receipt (:data:`SERVER_DATES`):
a message written in the store has none until a sync appends it and the server gives it
one. (Before this rule, whole messages hashed every field: a pair saved then matches no
new hash, so its next change of flags is copied once even if the other side made the
same change.)

Speed (the hash runs for every item a sync fetches): what a value becomes depends on its
type alone, so a :class:`_Walker` decides once per type which token writer it gets and
keeps it in a dictionary, instead of asking a chain of ``isinstance`` questions for every
value; an attrs class gets a writer that knows its fields. Strings and ``None``, the
commonest field values, are written inline.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
from collections.abc import Callable
from typing import Any

import attrs

from openprotocols.model._base import Item, RawProperty
from openprotocols.model.mail import Message

__all__ = [
    "DERIVED_FROM_CONTENT",
    "SERVER_DATES",
    "VOLATILE_FIELDS",
    "VOLATILE_PROPERTIES",
    "content_hash",
]

VOLATILE_PROPERTIES = frozenset({"DTSTAMP", "PRODID", "LAST-MODIFIED", "REV", "X-TUID"})
"""Verbatim (``extended``) properties left out of the hash."""

VOLATILE_FIELDS = frozenset({"last_modified", "modseq", "folder"})
"""Model fields left out of the hash: change stamps and a collection's bookkeeping."""

_MAIL_IDENTITY = frozenset({"uid"})  # an IMAP UID is the server's, not the message's

DERIVED_FROM_CONTENT = frozenset({"size", "envelope", "headers", "parts"})
"""Fields of a whole :class:`Message` read from its ``content``, left out of its hash."""

SERVER_DATES = frozenset({"internal_date"})
"""Fields of a whole :class:`Message` its server sets, left out of its hash."""

Writer = Callable[[Any, list[str]], None]
"""Appends the tokens of a value to a list."""


def content_hash(item: Item) -> str:
    """A stable hex digest of ``item``'s content (see the module documentation)."""
    tokens: list[str] = []
    if type(item) is Message and item.content is not None:
        _WHOLE_MAIL.collect(item, tokens)
        if item.envelope.bcc:
            tokens.append("bcc")
            _WHOLE_MAIL.collect(item.envelope.bcc, tokens)
    else:
        (_MAIL if item.kind == "mail" else _OTHER).collect(item, tokens)
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


class _Walker:
    """The token writers for one set of skipped fields, by the type of the value."""

    def __init__(self, skip: frozenset[str]) -> None:
        self.skip = skip
        self.writers: dict[type, Writer] = {}

    def collect(self, value: Any, out: list[str]) -> None:
        """Append the tokens of ``value`` to ``out``."""
        (self.writers.get(type(value)) or self._learn(type(value)))(value, out)

    def _learn(self, cls: type) -> Writer:
        writer = self.writers[cls] = self._writer(cls)
        return writer

    def _writer(self, cls: type) -> Writer:  # noqa: PLR0911 - one writer per kind of value
        """The writer for values of ``cls``; the order of the questions decides which
        writer a type gets (a bool is an int, a StrEnum a str), so it must not change."""
        if cls is str:
            return _string
        if cls is type(None):
            return _none
        if cls is RawProperty:
            return self._property
        if (names := _field_names(cls, self.skip)) is not None:
            return self._fields(cls, names)
        if issubclass(cls, enum.Enum):
            return _enum
        if issubclass(cls, bool | int | float):
            return _number(cls.__name__[0])
        if issubclass(cls, str):
            return _string
        if issubclass(cls, bytes):
            return _bytes
        if issubclass(cls, dt.datetime | dt.date | dt.time):
            return _moment
        if issubclass(cls, frozenset | set):
            return self._set
        if issubclass(cls, tuple | list):
            return self._sequence
        if issubclass(cls, dict):
            return self._mapping
        return _repr

    def _fields(self, cls: type, names: tuple[str, ...]) -> Writer:
        head = "A" + cls.__qualname__
        writers, learn = self.writers, self._learn

        def write(value: Any, out: list[str]) -> None:
            out.append(head)
            for name in names:
                out.append(name)
                field = getattr(value, name)
                kind = type(field)
                if kind is str:
                    out.append("S" + field)
                elif field is None:
                    out.append("N")
                else:  # collect(), inline: this runs for most fields of every item
                    (writers.get(kind) or learn(kind))(field, out)

        return write

    def _property(self, value: RawProperty, out: list[str]) -> None:
        if not _volatile(value):
            out.append("P" + value.name.upper())
            self._sequence((value.params, value.group, value.value), out)

    def _sequence(self, value: tuple[Any, ...] | list[Any], out: list[str]) -> None:
        if not value:
            out.append("T0")
            return
        kept = [v for v in value if not _volatile(v)]  # counted only if hashed
        out.append(f"T{len(kept)}")
        collect = self.collect
        for v in kept:
            if type(v) is str:
                out.append("S" + v)
            else:
                collect(v, out)

    def _set(self, value: frozenset[Any] | set[Any], out: list[str]) -> None:
        inner: list[str] = []
        for v in value:
            if type(v) is str:
                inner.append("S" + v)  # its one token: nothing to join
            else:
                found: list[str] = []
                self.collect(v, found)
                inner.append("\1".join(found))
        inner.sort()
        out.append(f"F{len(inner)}")
        out.extend(inner)

    def _mapping(self, value: dict[Any, Any], out: list[str]) -> None:
        out.append(f"M{len(value)}")
        for key in sorted(value, key=repr):
            self.collect(key, out)
            self.collect(value[key], out)


def _string(value: str, out: list[str]) -> None:
    out.append("S" + value)


def _none(value: None, out: list[str]) -> None:
    out.append("N")


def _enum(value: enum.Enum, out: list[str]) -> None:
    out.append(f"E{value.value}")


def _number(prefix: str) -> Writer:
    def write(value: float, out: list[str]) -> None:
        out.append(f"{prefix}{value!r}")

    return write


def _bytes(value: bytes, out: list[str]) -> None:
    out.append("B" + hashlib.blake2b(value, digest_size=16).hexdigest())


def _moment(value: dt.datetime | dt.date | dt.time, out: list[str]) -> None:
    zone = getattr(value, "tzinfo", None)
    out.append(f"D{value.isoformat()}|{getattr(zone, 'key', zone)}")


def _repr(value: object, out: list[str]) -> None:
    out.append(f"R{value!r}")


def _volatile(value: object) -> bool:
    return isinstance(value, RawProperty) and value.name.upper() in VOLATILE_PROPERTIES


_OTHER = _Walker(VOLATILE_FIELDS)
_MAIL = _Walker(VOLATILE_FIELDS | _MAIL_IDENTITY)
_WHOLE_MAIL = _Walker(VOLATILE_FIELDS | _MAIL_IDENTITY | DERIVED_FROM_CONTENT | SERVER_DATES)
