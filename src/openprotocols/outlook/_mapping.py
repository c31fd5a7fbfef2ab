"""The frame every item kind's mapping fits in: dispatch, and what rides along.

A :class:`Mapper` turns one model class into MAPI properties and back. It declares the
properties it *owns* — reads from and writes to the message, its recipient rows and its
attachment rows — and knows nothing else. This module does the rest, the same for every
kind:

- :func:`to_mapi` asks the mapper for the properties, then restores the MAPI properties
  the item carries in ``extended`` as ``X-OPENPROTOCOLS-MAPI-…`` lines (a property the
  mapper set wins), and keeps the item's other extended data (``X-`` properties of
  other clients, unknown components) in one named property,
  :data:`PidNameOpenProtocolsExtended`, so they come back too;
- :func:`from_mapi` picks the mapper by message class, hands it the properties, and
  gives the item an ``extended`` made of that kept data plus every property no mapper
  owns (except the store-local ones of :data:`STORE_LOCAL`), each as one line — in the
  order the item had them, new ones after.
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Iterator
from typing import Any, ClassVar

from openprotocols.errors import InvalidItemError
from openprotocols.model import Extended, RawComponent, RawProperty
from openprotocols.outlook import _xprops
from openprotocols.outlook import props as p
from openprotocols.outlook._propset import PropertySet

__all__ = [
    "STORE_LOCAL",
    "Mapper",
    "PidNameOpenProtocolsExtended",
    "from_mapi",
    "mapper_for_class",
    "mapper_for_item",
    "register",
    "to_mapi",
]

PidNameOpenProtocolsExtended = p.Named(
    p.PSETID_OPENPROTOCOLS, name="Extended", type=p.PropType.UNICODE
)
"""The item's extended data that is not a MAPI property, as JSON."""

PidNameOpenProtocolsRtfBody = p.Named(
    p.PSETID_OPENPROTOCOLS, name="RtfBody", type=p.PropType.BINARY
)
"""SHA-256 of the plain body beside which a carried compressed-RTF body was written: the
RTF is written back only while the body is still that (Outlook would show a stale RTF
body over a newer plain one)."""
_RTF = (p.PidTagRtfCompressed, p.PidTagRtfInSync)

STORE_LOCAL: frozenset[p.PropertyKey] = frozenset(
    {
        p.PidTagEntryId,
        p.PidTagRecordKey,
        p.PidTagSearchKey,
        p.PidTagStoreSupportMask,
        p.PidTagObjectType,
        p.PidTagChangeKey,
        p.PidTagPredecessorChangeList,
        p.PidTagMessageSize,
        p.PidTagAttachSize,
        p.PidTagAttachNumber,
        p.PidTagRowid,
        p.PidTagHasAttachments,
    }
)
"""Properties a store computes or assigns for its own use; they are not item content
and are neither carried nor compared."""

_CONTAINER = "OPENPROTOCOLS-EXTENDED"


class Mapper(abc.ABC):
    """The mapping of one model class. Subclasses set the class attributes and implement
    :meth:`to_mapi` and :meth:`from_mapi`; they ignore ``item.extended`` (the frame
    handles it) except for values nested in the item (reminders, overrides)."""

    item_type: ClassVar[type[Any]]
    message_classes: ClassVar[tuple[str, ...]]
    """Message classes this mapper reads, matched case-insensitively as a prefix on a
    dot boundary (``IPM.Contact`` also reads ``IPM.Contact.Custom``); the first is the
    class it writes."""
    owned: ClassVar[frozenset[p.PropertyKey]]
    """The message's properties the mapper reads or writes."""
    recipient_owned: ClassVar[frozenset[p.PropertyKey]] = frozenset()
    attachment_owned: ClassVar[frozenset[p.PropertyKey]] = frozenset()

    def claims(self, table: str, row: PropertySet) -> bool:
        """Whether the mapper reads this ``"recipient"`` or ``"attachment"`` row (by
        default every row). A row it does not claim rides along whole and comes back as
        a row of its own after the mapper's rows (a contact's file attachments beside its
        photo)."""
        return True

    @abc.abstractmethod
    def to_mapi(self, item: Any) -> PropertySet:
        """The item's own fields as MAPI properties (message class included)."""

    @abc.abstractmethod
    def from_mapi(self, props: PropertySet, extended: Extended) -> Any:
        """The item the properties describe, with ``extended`` as its extended data."""


_MAPPERS: list[Mapper] = []
_BUILTIN: list[bool] = []  # [True] once the model's own mappers are registered


def register(mapper: Mapper) -> Mapper:
    """Add ``mapper`` (a later registration for the same item type or class wins)."""
    if mapper.__module__ != __name__ and not mapper.__module__.startswith("openprotocols.outlook."):
        _load_builtin()  # so that a plugin's mapper comes after, and wins over, the built-in
    _MAPPERS.insert(0, mapper)
    return mapper


def mapper_for_item(item: object) -> Mapper:
    """The mapper for ``item``'s class.

    :raises InvalidItemError: no mapper knows the class.
    """
    _load_builtin()
    for mapper in _MAPPERS:
        if isinstance(item, mapper.item_type):
            return mapper
    raise InvalidItemError(f"no MAPI mapping for {type(item).__name__} items")


def mapper_for_class(message_class: str) -> Mapper:
    """The mapper for a message class (``IPM.Note`` when nothing more specific matches,
    as Outlook itself shows an unknown class as a note).
    """
    _load_builtin()
    wanted = message_class.upper()
    best: tuple[int, Mapper] | None = None
    for mapper in _MAPPERS:
        for prefix in mapper.message_classes:
            upper = prefix.upper()
            if (wanted == upper or wanted.startswith(upper + ".")) and (
                best is None or len(upper) > best[0]
            ):
                best = (len(upper), mapper)
    if best is None:
        return mapper_for_class("IPM.Note")
    return best[1]


def _load_builtin() -> None:
    if not _BUILTIN:
        _BUILTIN.append(True)
        from openprotocols.outlook import _builtin  # noqa: F401  (registers the mappers)


def to_mapi(item: object) -> PropertySet:
    """The MAPI properties of a model item (see the module docstring)."""
    mapper = mapper_for_item(item)
    props = mapper.to_mapi(item)
    extended: Extended = getattr(item, "extended", Extended())
    carried = [line for line in extended.properties if _xprops.is_mapi_property(line)]
    _xprops.restore(props, carried)
    _keep_custom_class(props, mapper, carried)
    _drop_stale_rtf(props)
    if extended:
        props[PidNameOpenProtocolsExtended] = _dump(extended)
    return props


def from_mapi(props: PropertySet) -> Any:
    """The model item a set of MAPI properties describes (see the module docstring).

    :raises InvalidItemError: the properties do not make a valid item of their class.
    """
    mapper = mapper_for_class(props.text(p.PidTagMessageClass) or "IPM.Note")
    carried = list(_carried(props, mapper))
    kept = props.text(PidNameOpenProtocolsExtended)
    extended = _merge(_load(kept) if kept else Extended(), carried)
    return mapper.from_mapi(props, extended)


def _carried(props: PropertySet, mapper: Mapper) -> Iterator[RawProperty]:
    owned = mapper.owned | STORE_LOCAL | {PidNameOpenProtocolsExtended, PidNameOpenProtocolsRtfBody}
    yield from _xprops.carried(props, owned)
    if p.PidTagRtfCompressed in props and p.PidTagRtfCompressed not in mapper.owned:
        yield _xprops.encode(PidNameOpenProtocolsRtfBody, _body_digest(props))
    message_class = props.text(p.PidTagMessageClass) or ""
    if message_class.upper() != mapper.message_classes[0].upper():
        yield _xprops.encode(p.PidTagMessageClass, message_class)  # a custom form's class
    for table, rows, row_owned in (
        ("recipient", props.recipients, mapper.recipient_owned),
        ("attachment", props.attachments, mapper.attachment_owned),
    ):
        claimed = [row for row in rows if mapper.claims(table, row)]
        for number, row in enumerate(claimed):
            yield from _xprops.carried(row, row_owned | STORE_LOCAL, (table, number))
        others = [row for row in rows if not mapper.claims(table, row)]
        for number, row in enumerate(others):
            yield from _xprops.carried(row, STORE_LOCAL, (f"extra-{table}", number))


def _body_digest(props: PropertySet) -> bytes:
    return hashlib.sha256((props.text(p.PidTagBody) or "").encode("utf-8")).digest()


def _drop_stale_rtf(props: PropertySet) -> None:
    """Drop a carried RTF body written beside another plain body than the one now set."""
    written_beside = props.pop(PidNameOpenProtocolsRtfBody, None)
    if p.PidTagRtfCompressed in props and written_beside != _body_digest(props):
        for key in _RTF:
            props.pop(key, None)


def _keep_custom_class(props: PropertySet, mapper: Mapper, carried: list[RawProperty]) -> None:
    """Write a custom form's message class (``IPM.Contact.MyForm``) back as it was, when
    it is a class of the mapper's kind."""
    own = mapper.message_classes[0].upper() + "."
    for line in carried:
        key, value, row = _xprops.decode(line)
        if (
            key == p.PidTagMessageClass
            and row is None
            and isinstance(value, str)
            and value.upper().startswith(own)
        ):
            props[p.PidTagMessageClass] = value


def _merge(kept: Extended, carried: list[RawProperty]) -> Extended:
    """The kept extended data with each MAPI line replaced by the property's current value
    (dropped if the property is gone), then the carried properties it did not name."""
    current = {_identity(line): line for line in carried}
    properties: list[RawProperty] = []
    for line in kept.properties:
        if not _xprops.is_mapi_property(line):
            properties.append(line)
        elif (fresh := current.pop(_identity(line), None)) is not None:
            properties.append(fresh)
    properties.extend(current.values())
    return Extended(properties=properties, components=kept.components)


def _identity(line: RawProperty) -> tuple[p.PropertyKey, _xprops.Row]:
    return _xprops.identity(line)


def _dump(extended: Extended) -> str:
    """Extended data as JSON (ASCII, so any character a value holds survives a MAPI
    string); MAPI lines keep only their place (their value is in the property itself)."""
    marks = [
        RawProperty(line.name, "", line.params) if _xprops.is_mapi_property(line) else line
        for line in extended.properties
    ]
    return json.dumps(_component(RawComponent(_CONTAINER, marks, extended.components)))


def _component(component: RawComponent) -> dict[str, Any]:
    return {
        "name": component.name,
        "properties": [
            [prop.name, prop.value, [list(pair) for pair in prop.params], prop.group]
            for prop in component.properties
        ],
        "components": [_component(child) for child in component.components],
    }


def _from_json(data: dict[str, Any]) -> RawComponent:
    return RawComponent(
        str(data["name"]),
        [
            RawProperty(str(name), str(value), [(str(k), str(v)) for k, v in params], group)
            for name, value, params, group in data["properties"]
        ],
        [_from_json(child) for child in data["components"]],
    )


def _load(text: str) -> Extended:
    try:
        container = _from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidItemError(f"{PidNameOpenProtocolsExtended}: unreadable ({exc})") from exc
    if container.name != _CONTAINER:
        raise InvalidItemError(f"{PidNameOpenProtocolsExtended}: not an extended container")
    return Extended(properties=container.properties, components=container.components)
