"""vCard 2.1 (read), 3.0 and 4.0 ⇄ :class:`~openprotocols.model.Contact` and
:class:`~openprotocols.model.ContactGroup`, without losing a byte another client wrote.

:func:`parse` reads a stream of cards into a :class:`ParsedVCards` (one item per
``VCARD``, the warnings, and the lines each card was read from); :func:`serialize` writes
items back. The fidelity promise:

- an unchanged item is written with exactly the content lines it was read from (same
  order, case, parameters, escaping; only the folding may differ);
- an item changed with :func:`attrs.evolve` is written with only the lines of the changed
  values rewritten; everything else keeps its line and its place. ``VERSION`` moves to the
  front of an edited card;
- properties the model has no field for are in ``item.extended`` (verbatim, group kept,
  ``item1.X-ABLabel`` with its case) and are written back as they came.

New items (not parsed) are written as vCard 4.0, or 3.0 with ``version="3.0"`` (CardDAV
servers that re-serialise through vobject, such as Radicale, handle 3.0 better). An
existing card keeps its version, 2.1 included. The field mapping is documented in
``docs/formats-vcard.md``.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeAlias

import attrs

from openprotocols.errors import ConfigurationError, ParseError
from openprotocols.formats._contentline import (
    LATIN_1,
    Warning,
    fold,
    format_line,
    numbered_lines,
    parse_text,
)
from openprotocols.formats._vcard_props import SCALAR_FIELDS, Context, Label, decode, encode
from openprotocols.formats._vcard_props import type_set as _type_set
from openprotocols.formats._vcard_props import value_like as _value_like
from openprotocols.formats._vcard_values import (
    Unmapped,
    fold_octets,
    fold_qp,
    is_qp,
    is_transfer_param,
    join_qp_soft_breaks,
    qp_encode,
)
from openprotocols.model._base import Extended, RawComponent, RawProperty, to_tuple
from openprotocols.model.contacts import Contact, ContactGroup

__all__ = ["CardSource", "ContactItem", "ParsedVCards", "Warning", "parse", "serialize"]

FORMAT = "vCard"
ContactItem: TypeAlias = Contact | ContactGroup
"""What a vCard holds: a contact or a contact group."""

_NEW_VERSIONS = ("3.0", "4.0")

# Model attribute of each field (``org`` fills two; ``kind`` and ``group_n`` are structure).
_CONTACT_ATTRS = {
    "uid": "uid", "n": "name", "fn": "display_name", "file_as": "file_as",
    "nickname": "nickname", "email": "emails", "tel": "phones", "adr": "addresses",
    "title": "job_title", "office": "office", "manager": "manager", "assistant": "assistant",
    "spouse": "spouse", "children": "children", "bday": "birthday",
    "anniversary": "anniversary", "url": "web_pages", "impp": "im_addresses", "note": "notes",
    "photo": "photo", "gender": "gender", "categories": "categories", "created": "created",
    "rev": "last_modified",
}  # fmt: skip
_GROUP_ATTRS = {
    "uid": "uid", "fn": "display_name", "member": "members", "note": "notes",
    "categories": "categories", "created": "created", "rev": "last_modified",
}  # fmt: skip
_LIST_FIELDS = frozenset({"email", "tel", "adr", "children", "url", "impp", "member"})
# The order fields are written in on a new card.
_CONTACT_ORDER = (
    "uid", "n", "fn", "nickname", "file_as", "org", "title", "office", "email", "tel", "adr",
    "url", "impp", "bday", "anniversary", "gender", "manager", "assistant", "spouse",
    "children", "note", "categories", "photo", "created", "rev",
)  # fmt: skip
_GROUP_ORDER = ("kind", "uid", "group_n", "fn", "member", "note", "categories", "created", "rev")


@attrs.frozen(eq=False)
class _Element:
    """One value of a model field and the indices of the lines it was read from."""

    field: str
    value: Any
    lines: tuple[int, ...]


@attrs.frozen(eq=False, repr=False)
class CardSource:
    """The lines one card was read from and what each of them meant (opaque).

    :func:`serialize` uses it to write an unchanged item with its original lines and an
    edited one with only the changed lines rewritten.
    """

    version: str
    context: Context
    item: ContactItem
    begin: RawProperty
    end: RawProperty
    properties: tuple[RawProperty, ...]
    version_index: int | None
    elements: tuple[_Element, ...]
    extended: tuple[int, ...]
    components: tuple[RawComponent, ...]

    def __repr__(self) -> str:
        return f"<CardSource vCard {self.version} uid={self.item.uid!r}>"


@attrs.frozen
class ParsedVCards:
    """What :func:`parse` read from a vCard stream.

    ``items`` holds one :class:`~openprotocols.model.Contact` or
    :class:`~openprotocols.model.ContactGroup` per ``VCARD``, in stream order;
    ``warnings`` what was repaired or could not be mapped (the data itself is kept in the
    item); ``sources`` the original lines of each card, which :func:`serialize` uses to
    write unchanged cards identically. Replace ``items`` with :func:`attrs.evolve` and
    serialize the result to write back a minimal change.
    """

    items: tuple[ContactItem, ...] = attrs.field(converter=to_tuple)
    warnings: tuple[Warning, ...] = attrs.field(default=(), converter=to_tuple)
    sources: tuple[CardSource, ...] = attrs.field(
        default=(), converter=to_tuple, eq=False, repr=False
    )


# -- reading -----------------------------------------------------------------------------

_set_field, _set_element_value, _set_lines = (
    _Element.__dict__[name].__set__ for name in ("field", "value", "lines")
)


def _element(field: str, value: Any, lines: tuple[int, ...]) -> _Element:
    """``_Element(field, value, lines)`` without attrs' ``__init__``, for the element of
    every line of every card."""
    element = object.__new__(_Element)
    _set_field(element, field)
    _set_element_value(element, value)
    _set_lines(element, lines)
    return element


@attrs.define
class _Open:
    name: str
    number: int
    begin: RawProperty
    properties: list[RawProperty] = attrs.Factory(list)
    numbers: list[int] = attrs.Factory(list)
    components: list[RawComponent] = attrs.Factory(list)


@attrs.frozen
class _RawCard:
    begin: RawProperty
    end: RawProperty
    number: int
    properties: tuple[RawProperty, ...]
    numbers: tuple[int, ...]
    components: tuple[RawComponent, ...]


def _read(data: bytes, warnings: list[Warning]) -> list[_RawCard]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"vCard data must be bytes, not {type(data).__name__}")
    data = join_qp_soft_breaks(bytes(data))
    stack: list[_Open] = []
    cards: list[_RawCard] = []
    for number, text in numbered_lines(data, format=FORMAT, warnings=warnings):
        prop = parse_text(number, text, format=FORMAT)  # refuses ";=X" (a nameless parameter)
        upper = prop.name.upper()
        if upper == "BEGIN":
            name = prop.value.strip()
            if not stack and name.upper() != "VCARD":
                raise ParseError(
                    f"BEGIN:{name[:40]} where BEGIN:VCARD was expected",
                    format=FORMAT,
                    line=number,
                )
            stack.append(_Open(name, number, prop))
        elif upper == "END":
            name = prop.value.strip()
            if not stack or stack[-1].name.upper() != name.upper():
                expected = f"END:{stack[-1].name}" if stack else "BEGIN:VCARD"
                raise ParseError(
                    f"END:{name[:40]} where {expected} was expected",
                    format=FORMAT,
                    line=number,
                )
            _close(stack, cards, prop)
        elif not stack:
            raise ParseError(f"{prop.name} outside of any vCard", format=FORMAT, line=number)
        else:
            stack[-1].properties.append(prop)
            stack[-1].numbers.append(number)
    while stack:
        warnings.append(
            Warning(stack[-1].number, f"BEGIN:{stack[-1].name} is never closed; closed at the end")
        )
        _close(stack, cards, RawProperty("END", stack[-1].name))
    return cards


def _close(stack: list[_Open], cards: list[_RawCard], end: RawProperty) -> None:
    done = stack.pop()
    if stack:
        stack[-1].components.append(
            RawComponent(done.name, tuple(done.properties), tuple(done.components))
        )
    else:
        cards.append(
            _RawCard(
                done.begin,
                end,
                done.number,
                tuple(done.properties),
                tuple(done.numbers),
                tuple(done.components),
            )
        )


def _version_of(card: _RawCard, warnings: list[Warning]) -> tuple[str, int | None]:
    for index, prop in enumerate(card.properties):
        if prop.name.upper() == "VERSION":
            text = prop.value.strip()
            if text in ("2.1", "3.0", "4.0"):
                return text, index
            guess = {"2": "2.1", "3": "3.0", "4": "4.0"}.get(text[:1], "4.0")
            warnings.append(
                Warning(card.numbers[index], f"VERSION:{text[:20]} is unknown; read as {guess}")
            )
            return guess, index
    warnings.append(Warning(card.number, "the vCard has no VERSION; read as 3.0"))
    return "3.0", None


def _decode_card(  # noqa: PLR0912
    card: _RawCard, warnings: list[Warning], latin1: bool
) -> tuple[ContactItem, CardSource]:
    version, version_index = _version_of(card, warnings)
    props = card.properties
    is_group = False
    apple_group = False
    labels: dict[str, str] = {}
    for prop in props:
        upper = prop.name.upper()
        if upper in ("KIND", "X-ADDRESSBOOKSERVER-KIND") and prop.value.strip().lower() == "group":
            is_group = True
            apple_group = upper != "KIND"
        elif upper == "X-ABLABEL" and prop.group:
            labels[prop.group.lower()] = prop.value
    ctx = Context(version, is_group, labels, latin1, apple_group)

    elements: list[_Element] = []
    extended: list[int] = []
    taken: set[str] = set()
    labels_found: list[tuple[int, Label]] = []
    for index, prop in enumerate(props):
        if index == version_index:
            continue
        notes: list[str] = []
        try:
            got = decode(prop, ctx, notes)
        except Unmapped as exc:
            warnings.append(Warning(card.numbers[index], f"{prop.name}: {exc}; kept as is"))
            got = None
        for note in notes:
            warnings.append(Warning(card.numbers[index], note))
        if got is None:
            extended.append(index)
            continue
        field, value = got
        if field == "label":
            labels_found.append((index, value))
        elif field in SCALAR_FIELDS and field in taken:
            extended.append(index)
        else:
            taken.add(field)
            elements.append(_element(field, value, (index,)))
    for index, label in labels_found:
        if not _attach_label(elements, props, index, label):
            extended.append(index)
    elements = _merge_categories(elements)
    if "uid" not in taken:
        canonical = "\n".join(format_line(p) for p in props)
        uid = str(uuid.uuid5(uuid.NAMESPACE_OID, canonical))
        warnings.append(Warning(card.number, f"the vCard has no UID; using {uid}"))
        elements.append(_Element("uid", uid, ()))
    extended.sort()

    item = _build(ctx, elements, [props[i] for i in extended], card.components)
    source = CardSource(
        version=version,
        context=ctx,
        item=item,
        begin=card.begin,
        end=card.end,
        properties=props,
        version_index=version_index,
        elements=tuple(elements),
        extended=tuple(extended),
        components=card.components,
    )
    return item, source


def _attach_label(
    elements: list[_Element], props: tuple[RawProperty, ...], index: int, label: Label
) -> bool:
    """Join a vCard 3.0 LABEL to its ADR: same group, else the same TYPEs (the nearest
    address before it, else the first after it)."""
    best: int | None = None
    for position, element in enumerate(elements):
        if element.field != "adr" or element.value.label is not None:
            continue
        line = props[element.lines[0]]
        if label.group is not None:
            if (line.group or "").lower() != label.group.lower():
                continue
        elif line.group is not None or frozenset(_type_set(line.params)) - {"pref"} != label.types:
            continue
        if element.lines[0] < index:
            best = position
        elif best is None:
            best = position
            break
    if best is None:
        return False
    element = elements[best]
    elements[best] = _Element(
        "adr", attrs.evolve(element.value, label=label.text), (*element.lines, index)
    )
    return True


def _merge_categories(elements: list[_Element]) -> list[_Element]:
    found = [e for e in elements if e.field == "categories"]
    if len(found) < 2:
        return elements
    merged = _Element(
        "categories",
        tuple(c for e in found for c in e.value),
        tuple(i for e in found for i in e.lines),
    )
    out = [e for e in elements if e.field != "categories"]
    out.append(merged)
    return out


def _build(
    ctx: Context,
    elements: Iterable[_Element],
    extended: list[RawProperty],
    components: tuple[RawComponent, ...],
) -> ContactItem:
    attrs_of = _GROUP_ATTRS if ctx.group else _CONTACT_ATTRS
    fields: dict[str, Any] = {}
    lists: dict[str, list[Any]] = {}
    for element in elements:
        if element.field == "org":
            fields["company"], fields["department"] = element.value
            continue
        name = attrs_of.get(element.field)
        if name is None:
            continue
        if element.field in _LIST_FIELDS:
            lists.setdefault(name, []).append(element.value)
        else:
            fields[name] = element.value
    fields.update(lists)
    fields["extended"] = Extended(tuple(extended), components)
    if ctx.group:
        return ContactGroup(**fields)
    return Contact(**fields)


def parse(data: bytes) -> ParsedVCards:
    """Read a vCard stream (one or more cards, vCard 2.1, 3.0 or 4.0).

    Sloppy input (LF-only line ends, bad folding, Latin-1 bytes, a missing ``UID`` or
    ``VERSION``, an unreadable date or photo) is read with a warning, and whatever could
    not be mapped is kept verbatim in the item's ``extended``.

    :param data: the bytes as they came from the server or file (never ``str``).
    :raises ParseError: a line that is not a content line, a property outside a card, an
        ``END`` that closes nothing, or a stream that holds something other than vCards.
    """
    warnings: list[Warning] = []
    cards = _read(data, warnings)
    latin1 = any(w.code == LATIN_1 for w in warnings)
    items: list[ContactItem] = []
    sources: list[CardSource] = []
    for card in cards:
        item, source = _decode_card(card, warnings, latin1)
        items.append(item)
        sources.append(source)
    return ParsedVCards(tuple(items), tuple(warnings), tuple(sources))


# -- writing -----------------------------------------------------------------------------


def _model_values(item: ContactItem, field: str, source: CardSource | None) -> list[Any]:
    """The elements ``field`` has in ``item`` (a scalar field gives one, maybe empty)."""
    if field == "kind":
        return [True]
    if field == "org":
        assert isinstance(item, Contact)
        return [(item.company, item.department)]
    if field == "group_n":
        if source is not None and item.display_name == source.item.display_name:
            old = [e.value for e in source.elements if e.field == "group_n"]
            return old[:1]
        return [item.display_name]
    attrs_of = _GROUP_ATTRS if isinstance(item, ContactGroup) else _CONTACT_ATTRS
    value = getattr(item, attrs_of[field])
    if field in _LIST_FIELDS:
        return list(value)
    return [value]


def _is_empty(field: str, value: Any) -> bool:
    if value is None:
        return True
    if field == "org":
        return bool(value == (None, None))
    if field in ("n", "categories"):
        return not value
    return False


def _wanted(item: ContactItem, field: str, version: str, source: CardSource | None) -> list[Any]:
    """The elements to write for ``field``: empty scalars only where a card needs them."""
    values = _model_values(item, field, source)
    if field in _LIST_FIELDS or not values or not _is_empty(field, values[0]):
        return values
    if source is None:
        required = field == "fn" or (field == "n" and version != "4.0")
        return values if required else []
    old = [e.value for e in source.elements if e.field == field]
    return values if old == values else []


def _ctx_for_new(item: ContactItem, version: str) -> Context:
    return Context(version, isinstance(item, ContactGroup))


def _fresh_card(item: ContactItem, version: str) -> list[RawProperty]:
    ctx = _ctx_for_new(item, version)
    lines = [RawProperty("VERSION", version)]
    order = _GROUP_ORDER if ctx.group else _CONTACT_ORDER
    for field in order:
        if field == "group_n" and version == "4.0":
            continue
        for value in _wanted(item, field, version, None):
            lines.extend(encode(field, value, ctx))
    lines.extend(item.extended.properties)
    return lines


def _replacement(
    field: str, value: Any, previous: RawProperty | None, ctx: Context
) -> list[RawProperty]:
    """Lines for a changed element; a one-line element keeps the previous line's name,
    group and parameters when the value alone changed."""
    fresh = encode(field, value, ctx)
    if previous is None:
        return fresh
    if len(fresh) == 1:
        params = tuple(p for p in previous.params if not is_transfer_param(*p))
        params += tuple(p for p in fresh[0].params if is_transfer_param(*p))
        candidate = RawProperty(
            previous.name, _value_like(previous, fresh[0]), params, previous.group
        )
        try:
            if decode(candidate, ctx, []) == (field, value):
                return [candidate]
        except Unmapped:
            pass
    return [attrs.evolve(line, group=previous.group) for line in fresh]


@attrs.define
class _Plan:
    """Output lines with sort keys: ``(position, sequence)``; position is an original
    line index, or between two of them for an inserted line."""

    keyed: list[tuple[float, int, RawProperty]] = attrs.Factory(list)
    sequence: int = 0
    changed: bool = False

    def put(self, position: float, lines: Iterable[RawProperty]) -> None:
        for line in lines:
            self.sequence += 1
            self.keyed.append((position, self.sequence, line))


def _plan_field(  # noqa: PLR0912
    plan: _Plan,
    props: tuple[RawProperty, ...],
    old: list[_Element],
    new: list[Any],
    write: Callable[[Any, RawProperty | None], list[RawProperty]],
) -> None:
    """Place the lines of one field: unchanged elements keep their lines and places (in
    the new order: a moved element keeps its lines too), changed ones are written by
    ``write(value, previous line)`` where the old element stood, new ones after the
    field's last line."""
    end = len(props) + 0.5
    if [e.value for e in old] == new:
        for element in old:
            for index in element.lines:
                plan.put(index, [props[index]])
        return
    plan.changed = True

    def first(element: _Element) -> float:
        return element.lines[0] if element.lines else -0.5

    def after(element: _Element) -> float:
        return max(element.lines) + 0.5 if element.lines else -0.5

    try:
        matcher = difflib.SequenceMatcher(None, [e.value for e in old], new, autojunk=False)
        opcodes = matcher.get_opcodes()
        movable: dict[Any, list[_Element]] = {}
        for tag, i1, i2, _, _ in opcodes:
            if tag != "equal":
                for element in old[i1:i2]:
                    movable.setdefault(element.value, []).append(element)
    except TypeError:  # an unhashable value: replace everything in order
        opcodes = [("replace", 0, len(old), 0, len(new))]
        movable = {}
    used: set[int] = set()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            for element in old[i1:i2]:
                for index in element.lines:
                    plan.put(index, [props[index]])
            continue
        anchor = after(old[i1 - 1]) if i1 > 0 else (first(old[0]) - 0.5 if old else end)
        for value in new[j1:j2]:
            moved = next((e for e in movable.get(value, ()) if id(e) not in used), None)
            if moved is not None:  # the same element elsewhere: its lines move here as they are
                used.add(id(moved))
                plan.put(anchor, [props[index] for index in moved.lines])
                continue
            replaced = next((e for e in old[i1:i2] if id(e) not in used), None)
            if replaced is not None:
                used.add(id(replaced))
                previous = props[replaced.lines[0]] if replaced.lines else None
                plan.put(first(replaced), write(value, previous))
                anchor = after(replaced)
            else:
                plan.put(anchor, write(value, None))


class _Stale:
    """The old value of a line whose meaning changed with its label: equal to nothing."""


_LABELLED = frozenset({"X-ABRELATEDNAMES", "X-ABDATE"})


def _relabelled(item: ContactItem, source: CardSource) -> tuple[Context, list[_Element]]:
    """The context of the edited card (Apple labels come from the new ``extended``) and
    the source elements, those whose line now means something else marked stale."""
    ctx = source.context
    labels = {
        p.group.lower(): p.value
        for p in item.extended.properties
        if p.group and p.name.upper() == "X-ABLABEL"
    }
    if labels == ctx.labels:
        return ctx, list(source.elements)
    ctx = attrs.evolve(ctx, labels=labels)
    elements = []
    for element in source.elements:
        line = source.properties[element.lines[0]] if element.lines else None
        if line is not None and line.name.upper() in _LABELLED:
            try:
                meaning = decode(line, ctx, [])
            except Unmapped:
                meaning = None
            if meaning != (element.field, element.value):
                element = _Element(element.field, _Stale(), element.lines)  # noqa: PLW2901
        elements.append(element)
    return ctx, elements


def _edited_card(item: ContactItem, source: CardSource) -> list[RawProperty]:
    props = source.properties
    ctx, elements = _relabelled(item, source)
    plan = _Plan()
    by_field: dict[str, list[_Element]] = {}
    for element in elements:
        by_field.setdefault(element.field, []).append(element)
    order = _GROUP_ORDER if ctx.group else _CONTACT_ORDER
    derived_uid = [e for e in by_field.get("uid", []) if not e.lines and e.value == item.uid]
    for field in (*order, *(f for f in by_field if f not in order)):
        if (field == "group_n" and "group_n" not in by_field) or (field == "uid" and derived_uid):
            continue
        new = _wanted(item, field, source.version, source)

        def write(
            value: Any, previous: RawProperty | None, field: str = field
        ) -> list[RawProperty]:
            if previous is None:
                return encode(field, value, ctx)
            return _replacement(field, value, previous, ctx)

        _plan_field(plan, props, by_field.get(field, []), new, write)

    kept = [_Element("extended", props[i], (i,)) for i in source.extended]
    _plan_field(plan, props, kept, list(item.extended.properties), lambda value, _: [value])

    if derived_uid and plan.changed:  # keep the uid the card was given when read
        plan.put(-0.5, encode("uid", item.uid, ctx))
    if source.version_index is not None:
        version_line = props[source.version_index]
        plan.put(-1.0 if plan.changed else source.version_index, [version_line])
    elif plan.changed:
        plan.put(-1.0, [RawProperty("VERSION", source.version)])
    plan.keyed.sort(key=lambda entry: (entry[0], entry[1]))
    return [line for _, _, line in plan.keyed]


def _line_bytes(prop: RawProperty, latin1: bool) -> bytes:
    """One folded line. A card read from a stream that was not UTF-8 is written back in
    Latin-1, byte for byte; a new line that Latin-1 cannot hold becomes quoted-printable."""
    text = format_line(prop)
    if not latin1:
        return fold_qp(text) if is_qp(prop) else fold(text)
    try:
        encoded = text.encode("latin-1")
    except UnicodeEncodeError:
        params = tuple(p for p in prop.params if not is_transfer_param(*p))
        params += (("CHARSET", "UTF-8"), ("ENCODING", "QUOTED-PRINTABLE"))
        return fold_qp(
            format_line(RawProperty(prop.name, qp_encode(prop.value), params, prop.group))
        )
    return fold_qp(text, "latin-1") if is_qp(prop) else fold_octets(encoded, utf8=False)


def _component_bytes(component: RawComponent, latin1: bool) -> Iterator[bytes]:
    yield _line_bytes(RawProperty("BEGIN", component.name), latin1)
    for prop in component.properties:
        yield _line_bytes(prop, latin1)
    for child in component.components:
        yield from _component_bytes(child, latin1)
    yield _line_bytes(RawProperty("END", component.name), latin1)


def _card_bytes(
    begin: RawProperty,
    lines: Iterable[RawProperty],
    components: Iterable[RawComponent],
    end: RawProperty,
    latin1: bool = False,
) -> Iterator[bytes]:
    yield _line_bytes(begin, latin1)
    for line in lines:
        yield _line_bytes(line, latin1)
    for component in components:
        yield from _component_bytes(component, latin1)
    yield _line_bytes(end, latin1)


def _write(item: ContactItem, source: CardSource | None, version: str) -> Iterator[bytes]:
    if source is None:
        return _card_bytes(
            RawProperty("BEGIN", "VCARD"),
            _fresh_card(item, version),
            item.extended.components,
            RawProperty("END", "VCARD"),
        )
    if item == source.item:
        lines: list[RawProperty] = list(source.properties)
    else:
        lines = _edited_card(item, source)
    latin1 = source.context.latin1
    return _card_bytes(source.begin, lines, item.extended.components, source.end, latin1)


def _find_source(
    item: ContactItem,
    index: int,
    own: tuple[CardSource, ...],
    pool: tuple[CardSource, ...],
    lone: CardSource | None,
) -> CardSource | None:
    """The card ``item`` was read from: the one at its position, else the one with its
    uid, else the lone card of a lone item."""

    def fits(source: CardSource) -> bool:
        return type(source.item) is type(item)

    if index < len(own) and own[index].item.uid == item.uid and fits(own[index]):
        return own[index]
    for source in (*own, *pool):
        if source.item.uid == item.uid and fits(source):
            return source
    return lone if lone is not None and fits(lone) else None


def serialize(
    value: ParsedVCards | ContactItem | Iterable[ContactItem],
    *,
    version: str | None = None,
    original: bytes | ParsedVCards | None = None,
) -> bytes:
    """Write items as a vCard stream (CRLF line ends, folded at 75 octets, UTF-8).

    :param value: what :func:`parse` returned (possibly with edited ``items``), one item,
        or several.
    :param version: the vCard version of *new* items, ``"4.0"`` (the default) or
        ``"3.0"``. An item read from a card keeps that card's version.
    :param original: the bytes (or parse result) the item(s) were read from, when they
        were not passed as a :class:`ParsedVCards`, e.g. a store that keeps the server's
        bytes next to the model: each item is matched by ``uid`` (a lone card matches a
        lone item) and written as a minimal change of its original card.
    :raises ConfigurationError: an unknown ``version``.
    :raises ParseError: ``original`` is not a vCard stream.
    """
    chosen = "4.0" if version is None else version
    if chosen not in _NEW_VERSIONS:
        raise ConfigurationError(f"vCard version must be one of {_NEW_VERSIONS}, not {version!r}")
    if isinstance(original, bytes | bytearray | memoryview):
        original = parse(bytes(original))
    pool = original.sources if original is not None else ()
    own: tuple[CardSource, ...] = ()
    items: list[ContactItem]
    if isinstance(value, ParsedVCards):
        items, own = list(value.items), value.sources
    elif isinstance(value, Contact | ContactGroup):
        items = [value]
    else:
        items = list(value)
    lone = pool[0] if len(pool) == 1 and len(items) == 1 else None
    out: list[bytes] = []
    for index, item in enumerate(items):
        source = _find_source(item, index, own, pool, lone)
        out.extend(_write(item, source, chosen))
    return b"".join(line + b"\r\n" for line in out)
