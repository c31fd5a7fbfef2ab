"""A small, safe JSON codec for the values of :mod:`openprotocols.model`.

An attrs instance becomes a JSON object tagged with its class name; JSON arrays are
tuples (the model's only sequence type); the types JSON lacks are tagged objects::

    {"$class": "Task", "uid": "…", "subject": "Call Bob", "reminders": [], …}
    {"$enum": "TaskStatus", "value": "completed"}
    {"$date": "2026-11-23"}
    {"$datetime": "2026-11-23T09:30:00+01:00", "zone": "Europe/Berlin"}
    {"$timedelta": [days, seconds, microseconds]}
    {"$bytes": "<base64>"}
    {"$frozenset": […]}

Reading is safe on hostile input: class and enum names are looked up among the public
names of :mod:`openprotocols.model` only (nothing is ever imported by a name read from a
file), and every value goes through the model's own constructors, converters and
validators. Whatever that refuses raises :class:`~openprotocols.errors.ParseError` naming
the file. Not checked: that each field holds its annotated type (the model does not
check that either), so a hand-edited ``"subject": 3`` is read as it stands.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from openprotocols import model
from openprotocols.errors import InvalidItemError, OpenProtocolsError, ParseError
from openprotocols.model import Item

__all__ = ["dump_item", "load_item"]

FORMAT = "jsondir item"

_PUBLIC = {name: getattr(model, name) for name in model.__all__}
#: The only classes a file may name: the model's attrs classes and its enumerations.
_CLASSES: dict[str, type] = {
    n: c for n, c in _PUBLIC.items() if isinstance(c, type) and attrs.has(c)
}
_ENUMS: dict[str, type[enum.Enum]] = {
    n: c for n, c in _PUBLIC.items() if isinstance(c, type) and issubclass(c, enum.Enum)
}

#: What the model and the standard library raise on bad data: each becomes a ParseError.
_BAD_DATA = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    ArithmeticError,
    RecursionError,
    OpenProtocolsError,
)


def dump_item(item: Item) -> bytes:
    """Serialize ``item``; equal items give equal bytes (keys are sorted).

    :raises InvalidItemError: the item holds a value that is not a model value.
    """
    return json.dumps(_encode(item), ensure_ascii=False, sort_keys=True, indent=1).encode()


def load_item(data: bytes, filename: str) -> Item:
    """Read an item written by :func:`dump_item`.

    :param filename: names the file in error messages.
    :raises ParseError: the data is not JSON, names something outside the model, breaks
        a rule of the model, or is not an item.
    """
    try:
        value = _decode(json.loads(data))
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"{filename}: {exc.msg}", format=FORMAT, line=exc.lineno, column=exc.colno
        ) from exc
    except _BAD_DATA as exc:
        raise ParseError(f"{filename}: {exc}", format=FORMAT) from exc
    if not isinstance(value, Item):
        raise ParseError(f"{filename}: holds {type(value).__name__!r}, not an item", format=FORMAT)
    return value


def _encode(value: Any) -> Any:  # noqa: PLR0911 - one return per JSON form
    """The JSON form of a model value (checks come in the order subclasses need)."""
    if isinstance(value, enum.Enum):  # before str: the model's enums are StrEnums
        return {"$enum": _model_name(type(value), _ENUMS), "value": value.value}
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, frozenset):
        return {"$frozenset": sorted((_encode(v) for v in value), key=json.dumps)}
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        tagged = {"$datetime": value.isoformat()}
        if isinstance(value.tzinfo, ZoneInfo) and value.tzinfo.key:
            tagged["zone"] = value.tzinfo.key  # an offset alone would lose the DST rules
        return tagged
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if attrs.has(type(value)):
        fields = {
            a.alias or a.name: _encode(getattr(value, a.name))
            for a in attrs.fields(type(value))
            if a.init
        }
        return {"$class": _model_name(type(value), _CLASSES), **fields}
    raise InvalidItemError(f"a jsondir item cannot hold a {type(value).__qualname__}")


def _model_name(cls: type, allowed: dict[str, Any]) -> str:
    name = cls.__name__
    if allowed.get(name) is not cls:
        raise InvalidItemError(f"{cls.__qualname__} is not a class of openprotocols.model")
    return name


def _decode(value: Any) -> Any:  # noqa: PLR0911 - one return per JSON form
    """The model value of a JSON value; raises one of :data:`_BAD_DATA` on bad input."""
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if not isinstance(value, dict):
        return value  # str, int, float, bool or None
    match value:
        case {"$class": str(name), **fields}:
            return _lookup(name, _CLASSES)(**{k: _decode(v) for k, v in fields.items()})
        case {"$enum": str(name), "value": raw}:
            return _lookup(name, _ENUMS)(raw)
        case {"$datetime": str(text)}:
            moment = dt.datetime.fromisoformat(text)
            zone = value.get("zone")
            return moment.astimezone(ZoneInfo(zone)) if zone is not None else moment
        case {"$date": str(text)}:
            return dt.date.fromisoformat(text)
        case {"$timedelta": [int(days), int(seconds), int(microseconds)]}:
            return dt.timedelta(days, seconds, microseconds)
        case {"$bytes": str(text)}:
            return base64.b64decode(text, validate=True)
        case {"$frozenset": list(members)}:
            return frozenset(_decode(v) for v in members)
    raise ValueError(f"unknown object with keys {sorted(value)}")


def _lookup(name: str, allowed: dict[str, Any]) -> Any:
    try:
        return allowed[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a class of openprotocols.model") from None
