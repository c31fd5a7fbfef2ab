"""The property bag: what a MAPI message is, in memory.

A :class:`PropertySet` maps property keys (:class:`~openprotocols.outlook.props.Tag` or
:class:`~openprotocols.outlook.props.Named`) to Python values, and holds the message's
recipient and attachment tables as lists of property sets of their own; an attachment
that is a message (``ATTACH_EMBEDDED_MSG``) holds it in :attr:`PropertySet.embedded`.

Values are checked against the key's type when set, so a wrong value fails where it is
written, not later in a .msg writer. Integers are kept signed, as MS-OXCDATA defines
them: a flag word given as ``0xFFFFFFFF`` reads back as ``-1``, the same 32 bits.

=================================  ======================================
type                               Python value
=================================  ======================================
INT16, INT32, INT64, CURRENCY       ``int``, signed (CURRENCY in 1/10,000 units)
FLOAT, DOUBLE, APPTIME              ``float``
BOOLEAN                             ``bool``
STRING8, UNICODE                    ``str``
SYSTIME                             aware :class:`~datetime.datetime` (UTC)
GUID                                :class:`uuid.UUID`
BINARY, OBJECT                      ``bytes``
ERROR                               ``int`` (an SCODE)
MV_…                                a ``tuple`` of the single type's values
=================================  ======================================
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

from openprotocols.errors import InvalidItemError
from openprotocols.outlook.props import Named, PropertyKey, PropType, Tag

__all__ = ["PropertySet", "Value", "filetime", "from_filetime"]

Value = int | float | bool | str | bytes | datetime | uuid.UUID | tuple[Any, ...]
"""A property value (see the module's table)."""

_INTS = {PropType.INT16, PropType.INT32, PropType.INT64, PropType.CURRENCY, PropType.ERROR}
_FLOATS = {PropType.FLOAT, PropType.DOUBLE, PropType.APPTIME}
_RANGES = {
    PropType.INT16: (-(2**15), 2**16 - 1),
    PropType.INT32: (-(2**31), 2**32 - 1),
    PropType.ERROR: (0, 2**32 - 1),
    PropType.INT64: (-(2**63), 2**64 - 1),
    PropType.CURRENCY: (-(2**63), 2**63 - 1),
}
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def filetime(value: datetime) -> int:
    """A datetime as a FILETIME: 100-nanosecond ticks since 1601-01-01 UTC."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


_LAST = datetime.max.replace(tzinfo=UTC)


def from_filetime(ticks: int) -> datetime:
    """A FILETIME as an aware UTC datetime (to the microsecond). A time past what a
    datetime can hold (the year 9999; MAPI's "never" is 0x7FFFFFFFFFFFFFFF, year 30828)
    reads as the last datetime there is."""
    try:
        return _EPOCH + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return _LAST


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_ACCEPTS: dict[PropType, Callable[[object], bool]] = {
    PropType.BOOLEAN: lambda v: isinstance(v, bool),
    PropType.STRING8: lambda v: isinstance(v, str),
    PropType.UNICODE: lambda v: isinstance(v, str),
    PropType.SYSTIME: lambda v: isinstance(v, datetime) and v.utcoffset() is not None,
    PropType.GUID: lambda v: isinstance(v, uuid.UUID),
    PropType.BINARY: lambda v: isinstance(v, bytes),
    PropType.OBJECT: lambda v: isinstance(v, bytes),
    **{kind: lambda v: isinstance(v, float) or _is_int(v) for kind in _FLOATS},
}


def _check_one(key: PropertyKey, kind: PropType, value: object) -> None:
    if kind in _INTS:
        low, high = _RANGES[kind]
        if not (_is_int(value) and low <= value <= high):  # type: ignore[operator]
            raise InvalidItemError(f"MAPI property {key}: {kind.name} needs an int in range")
    elif not _ACCEPTS[kind](value):
        raise InvalidItemError(
            f"MAPI property {key}: a {kind.name} value cannot be "
            f"{type(value).__name__} {value!r:.60}"
        )


def check_value(key: PropertyKey, value: object) -> None:
    """Raise :class:`InvalidItemError` unless ``value`` fits the type of ``key``."""
    if key.type.is_multi:
        if not isinstance(value, tuple):
            raise InvalidItemError(f"MAPI property {key}: a {key.type.name} value is a tuple")
        for one in value:
            _check_one(key, key.type.single, one)
    else:
        _check_one(key, key.type, value)


_BITS = {PropType.INT16: 16, PropType.INT32: 32, PropType.INT64: 64}


def _signed(kind: PropType, value: Value) -> Value:
    """An integer of an INTn type as its signed value (the same bits)."""
    bits = _BITS.get(kind.single)
    if bits is None:
        return value
    if isinstance(value, tuple):
        return tuple(_signed(kind.single, one) for one in value)
    if isinstance(value, int) and value >= 2 ** (bits - 1):
        return int(value - 2**bits)
    return value


class PropertySet(MutableMapping[PropertyKey, Value]):
    """The properties of one MAPI object (a message, a recipient row, an attachment).

    ``recipients`` and ``attachments`` are the message's tables, in order; ``embedded``
    is the message an attachment holds (its method is ``ATTACH_EMBEDDED_MSG``).
    Equality compares the properties, both tables and the embedded message.
    """

    __slots__ = ("_values", "attachments", "embedded", "recipients")

    def __init__(
        self,
        values: MutableMapping[PropertyKey, Value] | None = None,
        *,
        recipients: list[PropertySet] | None = None,
        attachments: list[PropertySet] | None = None,
        embedded: PropertySet | None = None,
    ) -> None:
        self._values: dict[PropertyKey, Value] = {}
        self.recipients: list[PropertySet] = list(recipients or ())
        self.attachments: list[PropertySet] = list(attachments or ())
        self.embedded = embedded
        for key, value in (values or {}).items():
            self[key] = value

    def __getitem__(self, key: PropertyKey) -> Value:
        return self._values[key]

    def __setitem__(self, key: PropertyKey, value: Value) -> None:
        if not isinstance(key, Tag | Named):
            raise TypeError(f"a MAPI property key is a Tag or a Named, not {key!r}")
        check_value(key, value)
        self._values[key] = _signed(key.type, value)

    def __delitem__(self, key: PropertyKey) -> None:
        del self._values[key]

    def __iter__(self) -> Iterator[PropertyKey]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PropertySet):
            return NotImplemented
        return (
            self._values == other._values
            and self.recipients == other.recipients
            and self.attachments == other.attachments
            and self.embedded == other.embedded
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"PropertySet({len(self._values)} properties, {len(self.recipients)} recipients, "
            f"{len(self.attachments)} attachments)"
        )

    def put(self, key: PropertyKey, value: Value | None) -> None:
        """Set ``key`` to ``value``, or leave it unset when ``value`` is ``None`` or an
        empty string or tuple (MAPI has no empty property; absent is the same)."""
        if value is None or value in {"", ()}:
            return
        self[key] = value

    def text(self, key: PropertyKey) -> str | None:
        """The string value of ``key``, or ``None``."""
        value = self._values.get(key)
        return value if isinstance(value, str) else None

    def number(self, key: PropertyKey) -> int | None:
        """The integer value of ``key``, or ``None``."""
        value = self._values.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def flag(self, key: PropertyKey) -> bool | None:
        """The boolean value of ``key``, or ``None``."""
        value = self._values.get(key)
        return value if isinstance(value, bool) else None

    def time(self, key: PropertyKey) -> datetime | None:
        """The SYSTIME value of ``key``, or ``None``."""
        value = self._values.get(key)
        return value if isinstance(value, datetime) else None

    def binary(self, key: PropertyKey) -> bytes | None:
        """The binary value of ``key``, or ``None``."""
        value = self._values.get(key)
        return value if isinstance(value, bytes) else None

    def strings(self, key: PropertyKey) -> tuple[str, ...]:
        """The multi-valued string value of ``key``; ``()`` when unset."""
        value = self._values.get(key)
        return value if isinstance(value, tuple) else ()

    def copy(self) -> PropertySet:
        """A deep copy (tables and embedded message copied too)."""
        return PropertySet(
            dict(self._values),
            recipients=[row.copy() for row in self.recipients],
            attachments=[row.copy() for row in self.attachments],
            embedded=self.embedded.copy() if self.embedded is not None else None,
        )
