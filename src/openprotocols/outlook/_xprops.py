"""MAPI properties as ``X-OPENPROTOCOLS-MAPI-…`` properties, and back.

A MAPI property the model has no field for still has to survive Outlook → server →
Outlook. The adapter writes it into the item's ``extended`` as one content line, which
the iCalendar and vCard codecs keep verbatim, and reads it back into the same property:

.. code-block:: text

    X-OPENPROTOCOLS-MAPI-TAG;ID=0x3A4D;TYPE=INT16:1
    X-OPENPROTOCOLS-MAPI-LID;SET=PSETID_Appointment;ID=0x8214;TYPE=INT32:3
    X-OPENPROTOCOLS-MAPI-NAME;SET=PS_PUBLIC_STRINGS;NAME=urn%3Aschemas%3Ax;TYPE=UNICODE:a\\, b
    X-OPENPROTOCOLS-MAPI-TAG;IN=recipient-2;ID=0x5FDE;TYPE=INT32:0

- the name says how the property is identified: ``TAG`` (a tagged property, ``ID``),
  ``LID`` (a named property with a numeric id, ``SET`` and ``ID``) or ``NAME`` (a named
  property with a string name, ``SET`` and ``NAME``);
- ``SET`` is the property set's MS-OXPROPS name where it has one (``PSETID_Task``), else
  its GUID; ``ID`` is hexadecimal; ``NAME`` is percent-encoded (RFC 3986, everything but
  ``A-Z a-z 0-9 - . _ ~``);
- ``TYPE`` is the property type's name (:class:`~openprotocols.outlook.props.PropType`);
- ``IN`` names the table row the property belongs to (``recipient-N`` or
  ``attachment-N``, counted from 0 among the rows the mapping reads) when it is not the
  message's own; ``extra-recipient-N`` and ``extra-attachment-N`` name a row the mapping
  does not read at all, which comes back whole, after the mapping's own rows;
- the value: integers in decimal, floats as Python's shortest exact repr, booleans
  ``TRUE``/``FALSE``, times as UTC ``YYYYMMDDTHHMMSS[.ffffff]Z``, GUIDs in canonical
  form, binary as base64, strings escaped as iCalendar TEXT (``\\\\ \\; \\, \\n``, and
  ``\\r`` for a carriage return, which TEXT cannot otherwise carry); a multi-valued
  property lists its values separated by commas.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from openprotocols.errors import InvalidItemError
from openprotocols.model import RawProperty
from openprotocols.outlook._propset import PropertySet, Value, check_value
from openprotocols.outlook.props import SET_NAMES, Named, PropertyKey, PropType, Tag

__all__ = [
    "PREFIX",
    "Row",
    "carried",
    "decode",
    "encode",
    "identity",
    "is_mapi_property",
    "restore",
]

PREFIX = "X-OPENPROTOCOLS-MAPI-"
_SETS_BY_NAME = {name.upper(): guid for guid, name in SET_NAMES.items()}
_TEXT = {PropType.UNICODE, PropType.STRING8}
_ESCAPES = {"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"n": "\n", "N": "\n", "r": "\r"}

Row = tuple[str, int] | None
"""Where a property belongs: ``None`` for the message, ``(table, n)`` for a table row
(``table`` one of :data:`TABLES`)."""
TABLES = ("recipient", "attachment", "extra-recipient", "extra-attachment")


def is_mapi_property(prop: RawProperty) -> bool:
    """Whether ``prop`` is one of ours (an encoded MAPI property)."""
    return prop.name.upper().startswith(PREFIX)


def encode(key: PropertyKey, value: Value, row: Row = None) -> RawProperty:
    """The content line that carries MAPI property ``key`` with ``value``."""
    params: list[tuple[str, str]] = []
    if row is not None:
        params.append(("IN", f"{row[0]}-{row[1]}"))
    if isinstance(key, Tag):
        name = "TAG"
        params.append(("ID", f"0x{key.id:04X}"))
    else:
        params.append(("SET", SET_NAMES.get(key.set, str(key.set))))
        if key.id is not None:
            name = "LID"
            params.append(("ID", f"0x{key.id:04X}"))
        else:
            name = "NAME"
            params.append(("NAME", quote(key.name or "", safe="")))
    params.append(("TYPE", key.type.name))
    values = value if key.type.is_multi and isinstance(value, tuple) else (value,)
    text = ",".join(_encode_value(key.type.single, one) for one in values)
    return RawProperty(PREFIX + name, text, params)


def decode(prop: RawProperty) -> tuple[PropertyKey, Value, Row]:
    """The MAPI property an ``X-OPENPROTOCOLS-MAPI-…`` line carries, and its row.

    :raises InvalidItemError: the line is not a well-formed encoded property (its
        message names the line, so the caller can say which item holds it).
    """
    try:
        return _decode(prop)
    except (KeyError, ValueError, binascii.Error) as exc:
        raise InvalidItemError(f"{prop.name}: not a readable MAPI property ({exc})") from exc


def identity(prop: RawProperty) -> tuple[PropertyKey, Row]:
    """The property and row an ``X-OPENPROTOCOLS-MAPI-…`` line names (its value unread).

    :raises InvalidItemError: as :func:`decode`.
    """
    try:
        return _identity(prop)
    except (KeyError, ValueError) as exc:
        raise InvalidItemError(f"{prop.name}: not a readable MAPI property ({exc})") from exc


def _identity(prop: RawProperty) -> tuple[PropertyKey, Row]:
    kind = prop.name.upper().removeprefix(PREFIX)
    params = {name.upper(): value for name, value in prop.params}
    type_ = PropType[params["TYPE"].upper()]
    key: PropertyKey
    if kind == "TAG":
        key = Tag(int(params["ID"], 16), type_)
    elif kind in ("LID", "NAME"):
        label = params["SET"]
        guid = _SETS_BY_NAME.get(label.upper()) or uuid.UUID(label)
        if kind == "LID":
            key = Named(guid, id=int(params["ID"], 16), type=type_)
        else:
            key = Named(guid, name=unquote(params["NAME"]), type=type_)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    row: Row = None
    if "IN" in params:
        table, _, number = params["IN"].rpartition("-")
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        row = (table, int(number))
    return key, row


def _decode(prop: RawProperty) -> tuple[PropertyKey, Value, Row]:
    key, row = _identity(prop)
    type_ = key.type
    parts = _split(prop.value) if type_.is_multi else [prop.value]
    values = [_decode_value(type_.single, part) for part in parts]
    value: Value = tuple(values) if type_.is_multi else values[0]
    check_value(key, value)
    return key, value, row


def _encode_value(kind: PropType, value: Any) -> str:
    if kind is PropType.BOOLEAN:
        return "TRUE" if value else "FALSE"
    if kind in _TEXT:
        return "".join(_ESCAPES.get(char, char) for char in str(value))
    if kind is PropType.SYSTIME:
        moment: datetime = value.astimezone(UTC)
        fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
        return moment.strftime("%Y%m%dT%H%M%S") + fraction + "Z"
    if kind in (PropType.BINARY, PropType.OBJECT):
        return base64.b64encode(value).decode("ascii")
    if kind in (PropType.FLOAT, PropType.DOUBLE, PropType.APPTIME):
        return repr(float(value))
    return str(value)


def _decode_value(kind: PropType, text: str) -> Value:  # noqa: PLR0911
    if kind is PropType.BOOLEAN:
        if text.upper() not in ("TRUE", "FALSE"):
            raise ValueError(f"not a boolean: {text!r}")
        return text.upper() == "TRUE"
    if kind in _TEXT:
        return _unescape(text)
    if kind is PropType.SYSTIME:
        body = text.removesuffix("Z")
        pattern = "%Y%m%dT%H%M%S.%f" if "." in body else "%Y%m%dT%H%M%S"
        return datetime.strptime(body, pattern).replace(tzinfo=UTC)
    if kind in (PropType.BINARY, PropType.OBJECT):
        return base64.b64decode(text.encode("ascii"), validate=True)
    if kind in (PropType.FLOAT, PropType.DOUBLE, PropType.APPTIME):
        return float(text)
    if kind is PropType.GUID:
        return uuid.UUID(text)
    return int(text)


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "\\")
            out.append(_UNESCAPES.get(following, following))
        else:
            out.append(char)
    return "".join(out)


def _split(text: str) -> list[str]:
    """Split at commas that are not escaped (escapes stay for :func:`_unescape`)."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def carried(
    props: PropertySet, owned: frozenset[PropertyKey], row: Row = None
) -> Iterator[RawProperty]:
    """The encoded lines of the properties of ``props`` not in ``owned`` (the mapper's)."""
    for key, value in props.items():
        if key not in owned:
            yield encode(key, value, row)


def restore(props: PropertySet, lines: Iterable[RawProperty]) -> None:
    """Put the MAPI properties carried by ``lines`` back into ``props`` (and its rows);
    a property the mapping has already set is left as the mapping set it, a row of the
    mapping's that no longer exists is skipped, and the rows the mapping does not read
    are appended to their tables."""
    extra: dict[tuple[str, int], PropertySet] = {}
    for line in lines:
        key, value, row = decode(line)
        target = props
        if row is not None and row[0].startswith("extra-"):
            target = extra.setdefault(row, PropertySet())
        elif row is not None:
            table = props.recipients if row[0] == "recipient" else props.attachments
            if not 0 <= row[1] < len(table):
                continue
            target = table[row[1]]
        if key not in target:
            target[key] = value
    for (table_name, _number), row_props in sorted(extra.items()):
        table = props.recipients if table_name == "extra-recipient" else props.attachments
        table.append(row_props)
