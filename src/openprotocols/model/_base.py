"""What every model class shares: verbatim extension data, addresses, secrets, and helpers.

Model classes are frozen attrs value classes. They are changed with :func:`attrs.evolve`,
built through named constructors (``Appointment.new(...)``), hold only immutable values
(tuples and frozensets, never lists or dicts) and do no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs

__all__ = [
    "Address",
    "Extended",
    "Item",
    "RawComponent",
    "RawProperty",
    "Secret",
    "new_uid",
]


@runtime_checkable
class Item(Protocol):
    """What every item class is: ``Appointment``, ``Task``, ``Contact``, ``ContactGroup``,
    ``Message`` and any item class a plugin brings.

    ``kind`` names the folder kind the item lives in (a :class:`~openprotocols.model.FolderKind`
    value); ``uid`` is the item's own identifier (an iCalendar/vCard UID, an IMAP UID), which
    may differ from the id a collection files it under; ``extended`` keeps what the model
    has no field for.
    """

    kind: ClassVar[str]

    @property
    def uid(self) -> str | int | None: ...

    @property
    def extended(self) -> Extended: ...


def new_uid() -> str:
    """Return a new globally unique identifier for an item (RFC 4122 version 4)."""
    return str(uuid.uuid4())


def to_tuple(value: Iterable[Any] | None) -> tuple[Any, ...]:
    """attrs converter: any iterable (or ``None``) to a tuple, so models stay immutable."""
    return () if value is None else tuple(value)


def to_frozenset(value: Iterable[Any] | None) -> frozenset[Any]:
    """attrs converter: any iterable (or ``None``) to a frozenset."""
    return frozenset() if value is None else frozenset(value)


def to_params(
    value: Iterable[tuple[str, str]] | Mapping[str, str] | None,
) -> tuple[tuple[str, str], ...]:
    """attrs converter: parameters as ordered ``(name, value)`` pairs (a dict is accepted)."""
    if value is None:
        return ()
    pairs = value.items() if isinstance(value, Mapping) else value
    return tuple((str(name), str(val)) for name, val in pairs)


@attrs.frozen
class RawProperty:
    """One property (an iCalendar or vCard content line, or a mail header) kept verbatim.

    ``value`` is the value exactly as written on the wire, unescaped by nothing: a codec
    that writes it back emits the same characters. ``params`` keeps parameter order and
    repeated parameters; each parameter value is written as it stood (quotes included).
    ``group`` is the vCard group prefix (``item1`` in ``item1.X-ABLabel``), if any.
    """

    name: str
    value: str
    params: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=to_params)
    group: str | None = None

    def param(self, name: str) -> str | None:
        """Return the first value of parameter ``name`` (case-insensitive), or ``None``."""
        wanted = name.upper()
        return next((v for k, v in self.params if k.upper() == wanted), None)


@attrs.frozen
class RawComponent:
    """A component the model has no class for (``VJOURNAL``, an ``X-`` component, a foreign
    ``VALARM`` variant), kept with its properties and sub-components in their original order."""

    name: str
    properties: tuple[RawProperty, ...] = attrs.field(default=(), converter=to_tuple)
    components: tuple[RawComponent, ...] = attrs.field(default=(), converter=to_tuple)


@attrs.frozen
class Extended:
    """Everything an item holds that the model has no field for, kept verbatim.

    Codecs put every property, parameter and sub-component they do not map to a field
    here, and write it back unchanged, so that what another client or a server wrote
    survives a round trip through openprotocols. ``Extended()`` is empty and falsy.
    """

    properties: tuple[RawProperty, ...] = attrs.field(default=(), converter=to_tuple)
    components: tuple[RawComponent, ...] = attrs.field(default=(), converter=to_tuple)

    def __bool__(self) -> bool:
        return bool(self.properties or self.components)

    def get(self, name: str) -> tuple[RawProperty, ...]:
        """Return the kept properties called ``name`` (case-insensitive), in order."""
        wanted = name.upper()
        return tuple(p for p in self.properties if p.name.upper() == wanted)

    def with_property(self, prop: RawProperty) -> Extended:
        """Return a copy with ``prop`` appended."""
        return attrs.evolve(self, properties=(*self.properties, prop))

    def without(self, name: str) -> Extended:
        """Return a copy without the properties called ``name`` (case-insensitive)."""
        wanted = name.upper()
        return attrs.evolve(
            self, properties=tuple(p for p in self.properties if p.name.upper() != wanted)
        )


def _to_extended(value: Extended | Iterable[RawProperty] | None) -> Extended:
    if value is None:
        return Extended()
    if isinstance(value, Extended):
        return value
    return Extended(properties=tuple(value))


def extended_field() -> Any:
    """The ``extended`` field every item declares (accepts an iterable of properties too)."""
    return attrs.field(factory=Extended, converter=_to_extended, kw_only=True)


@attrs.frozen
class Address:
    """A mailbox: an e-mail address with an optional display name (``"Ann" <ann@x.org>``)."""

    email: str
    name: str | None = None

    def __str__(self) -> str:
        if self.name:
            escaped = self.name.replace("\\", "\\\\").replace('"', '\\"')
            return f'"{escaped}" <{self.email}>'
        return self.email


@attrs.frozen(repr=False)
class Secret:
    """A password or token. Its ``repr`` and ``str`` never show the value, so logs and
    tracebacks cannot leak it; call :meth:`reveal` where the value is really needed."""

    _value: str = attrs.field(alias="value")

    def reveal(self) -> str:
        """Return the secret value."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)
