"""The fast :func:`content_hash` gives exactly the values of the first implementation.

Stores keep these hashes with every pair: a value that changed would make an unchanged
item look edited (a copy, or a conflict, on the first sync after an upgrade). The first
implementation is frozen below as :func:`frozen_hash`, with the one deliberate change
since (whole messages, :func:`expected_hash`); hypothesis builds items of every
kind — every field drawn from its type, validators off (the hash must not depend on an
item being valid) — plus a plugin's item class holding anything the generic walk knows
(sets, lists, dicts, numbers, plain and int enums, str subclasses, bytes, zoned dates,
verbatim properties, volatile ones among them), and both must agree.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import types
import typing
import zoneinfo
from typing import Any, ClassVar

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient.fixed_offset import FixedOffset

from openprotocols.model import Appointment, Contact, ContactGroup, Message, Task
from openprotocols.model._base import Address, Item, RawProperty
from openprotocols.model.mail import Envelope, MessagePart
from openprotocols.sync import _hash, content_hash

# -- the first implementation, frozen (do not edit: it defines the stored values) ------

VOLATILE_PROPERTIES = frozenset({"DTSTAMP", "PRODID", "LAST-MODIFIED", "REV", "X-TUID"})
VOLATILE_FIELDS = frozenset({"last_modified", "modseq", "folder"})
_MAIL_IDENTITY = frozenset({"uid"})


def frozen_hash(item: Item) -> str:
    skip = VOLATILE_FIELDS | (_MAIL_IDENTITY if item.kind == "mail" else frozenset())
    tokens: list[str] = []
    _collect(item, skip, tokens)
    tokens.append("")
    return hashlib.blake2b(
        "\0".join(tokens).encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()


@functools.cache
def _field_names(cls: type, skip: frozenset[str]) -> tuple[str, ...] | None:
    if not attrs.has(cls):
        return None
    return tuple(field.name for field in attrs.fields(cls) if field.name not in skip)


def _collect(value: Any, skip: frozenset[str], out: list[str]) -> None:  # noqa: PLR0912
    cls: type = type(value)
    if cls is str:
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
        kept = [v for v in value if not _volatile(v)]
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


# -- strategies: every field of every item class, from its type --------------------------

# Lone surrogates too: the digest encodes with "surrogatepass".
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["", "\ud800", "a\udcffb", "\0\1"]))
ZONES = st.sampled_from(
    [
        None,
        dt.UTC,
        dt.timezone(dt.timedelta(hours=-5)),
        zoneinfo.ZoneInfo("Europe/Berlin"),
        FixedOffset(120),  # imapclient's INTERNALDATE zone
    ]
)
DATETIMES = st.builds(lambda moment, zone: moment.replace(tzinfo=zone), st.datetimes(), ZONES)
DATES = st.dates()
NAMES = st.one_of(
    st.sampled_from(["DTSTAMP", "dtstamp", "PRODID", "Rev", "X-TUID", "X-OTHER", "SUMMARY"]),
    st.text(max_size=6),
)
PROPERTIES = st.builds(
    RawProperty,
    NAMES,
    TEXT,
    st.lists(st.tuples(TEXT, TEXT), max_size=2).map(tuple),
    st.none() | TEXT,
)


def strategy(hint: Any) -> st.SearchStrategy[Any]:  # noqa: PLR0911 - one answer per kind of type
    """Values of a model field's type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy(arg) for arg in args))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            # one nested item at most: overrides and components nest without end
            size = 1 if attrs.has(args[0]) else 3
            return st.lists(strategy(args[0]), max_size=size).map(tuple)
        return st.tuples(*(strategy(arg) for arg in args))
    if origin is frozenset:
        return st.frozensets(strategy(args[0]), max_size=4)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        type(None): st.none(),
        str: TEXT,
        bytes: st.binary(max_size=40),
        bool: st.booleans(),
        int: st.integers(min_value=-3, max_value=10**12),
        dt.datetime: DATETIMES,
        dt.date: DATES,
        dt.timedelta: st.timedeltas(),
        RawProperty: PROPERTIES,
    }
    if hint in simple:
        return simple[hint]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if attrs.has(hint):
        return st.deferred(lambda: built(hint))
    raise AssertionError(f"no strategy for {hint!r}")


FLAGS = st.frozensets(
    st.sampled_from(["\\Seen", "\\seen", "\\ANSWERED", "\\Draft", "\\Custom", "$Label", "Junk"]),
    max_size=4,
)


@functools.cache
def built(cls: type) -> st.SearchStrategy[Any]:
    """Instances of an attrs class with every field drawn (converters run, validators
    do not: the hash takes any value)."""
    hints = typing.get_type_hints(cls)
    fields = {
        field.alias: FLAGS if field.name in ("flags", "keywords") else strategy(hints[field.name])
        for field in attrs.fields(cls)
    }
    return st.fixed_dictionaries(fields).map(functools.partial(_unvalidated, cls))


def _unvalidated(cls: type, fields: dict[str, Any]) -> Any:
    with attrs.validators.disabled():
        return cls(**fields)


# -- a plugin's item class: any value the walk knows --------------------------------------


class Colour(enum.Enum):
    RED = 1
    BLUE = (2, "b")


class Level(enum.IntEnum):
    LOW = 1


class Label(str):
    """A str subclass (not an enum)."""


@attrs.frozen
class Inner:
    uid: str
    folder: str | None = None
    note: Any = None


HASHABLE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    TEXT,
    TEXT.map(Label),
    st.binary(max_size=20),
    st.sampled_from([*Colour, *Level]),
    DATETIMES,
    DATES,
    st.times(),
    st.timedeltas(),
    PROPERTIES,
)
ANYTHING = st.recursive(
    HASHABLE,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(HASHABLE, max_size=3),
        st.sets(HASHABLE, max_size=3),
        st.dictionaries(HASHABLE, inner, max_size=3),
        st.builds(Inner, TEXT, st.none() | TEXT, inner),
    ),
    max_leaves=12,
)


@attrs.frozen
class PluginItem:
    kind: ClassVar[str] = "notes"

    uid: str
    last_modified: Any = None
    payload: Any = None
    extras: tuple[Any, ...] = ()


@attrs.frozen
class PluginMail:
    """A plugin's item of kind ``mail``: its ``uid`` (anywhere) is left out too."""

    kind: ClassVar[str] = "mail"

    uid: Any = None
    payload: Any = None


ITEMS = st.one_of(
    built(Appointment),
    built(Task),
    built(Contact),
    built(ContactGroup),
    built(Message),
    st.builds(PluginItem, TEXT, ANYTHING, ANYTHING, st.lists(ANYTHING, max_size=3).map(tuple)),
    st.builds(PluginMail, ANYTHING, ANYTHING),
)


# -- the one deliberate change since: whole messages ---------------------------------

DERIVED_FROM_CONTENT = frozenset({"size", "envelope", "headers", "parts"})
SERVER_DATES = frozenset({"internal_date"})


def expected_hash(item: Item) -> str:
    """The frozen values, but for a whole message (a ``Message`` with content): the
    frozen walk without the fields read from the content and the server's date of
    receipt, then the Bcc addresses."""
    if type(item) is not Message or item.content is None:
        return frozen_hash(item)
    skip = VOLATILE_FIELDS | _MAIL_IDENTITY | DERIVED_FROM_CONTENT | SERVER_DATES
    tokens: list[str] = []
    _collect(item, skip, tokens)
    if item.envelope.bcc:
        tokens.append("bcc")
        _collect(item.envelope.bcc, skip, tokens)
    tokens.append("")
    return hashlib.blake2b(
        "\0".join(tokens).encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()


@settings(max_examples=200, deadline=None)
@given(ITEMS)
def test_the_fast_hash_gives_the_frozen_values(item: Item) -> None:
    assert content_hash(item) == expected_hash(item)


def test_a_whole_message_hashes_by_its_bytes_and_what_they_do_not_say() -> None:
    whole = Message.from_flags({"\\Seen"}, content=b"Subject: a\r\n\r\nbody\r\n")
    described = attrs.evolve(
        whole,
        size=22,
        headers=b"Subject: a\r\n\r\n",
        parts=(MessagePart(section="1", encoding="7bit", charset="us-ascii"),),
    )
    assert content_hash(described) == content_hash(whole)  # read one way or the other
    assert content_hash(whole.with_flags("\\Flagged")) != content_hash(whole)
    assert content_hash(attrs.evolve(whole, content=b"Subject: b\r\n\r\nbody\r\n")) != (
        content_hash(whole)
    )
    received = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)
    assert content_hash(attrs.evolve(whole, internal_date=received)) == content_hash(whole)
    bcc = attrs.evolve(whole, envelope=Envelope(bcc=(Address("eve@example.org"),)))
    assert content_hash(bcc) != content_hash(whole)  # not in the bytes: hashed apart
    headers_only = attrs.evolve(whole, content=None, headers=b"Subject: a\r\n\r\n")
    assert content_hash(attrs.evolve(headers_only, size=99)) != content_hash(headers_only)


def test_a_fresh_walker_agrees_with_the_cached_one() -> None:
    """The writers are chosen once per type and kept: a second walk, from the cache,
    gives the same value as the first."""
    item = Message.from_flags({"\\Seen", "$Label"}, uid=3, content=b"x", folder="INBOX")
    first = content_hash(item)
    _hash._WHOLE_MAIL.writers.clear()
    assert content_hash(item) == first == expected_hash(item)
    headers_only = attrs.evolve(item, content=None)
    first = content_hash(headers_only)
    _hash._MAIL.writers.clear()
    assert content_hash(headers_only) == first == frozen_hash(headers_only)
