"""What each vCard property means: one content line ⇄ one *element* of a model field.

:func:`decode` reads a property into ``(field, value)`` — ``("email", EmailAddress(...))``,
``("fn", "Ann Lee")`` — or ``None`` when the model has no field for it (the line is then
kept verbatim in ``extended``). :func:`encode` writes a value as fresh content lines for a
vCard version. The pair is exact: ``decode(encode(field, value))`` gives ``value`` back,
which is what lets :mod:`openprotocols.formats.vcard` keep every line whose element is
unchanged and rewrite only the others. The mapping table is in ``docs/formats-vcard.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

import attrs

from openprotocols.formats._contentline import Params, by_params, split_text, unescape_text
from openprotocols.formats._vcard_values import (
    Unmapped,
    b64decode,
    b64encode,
    decode_charset,
    format_date,
    format_datetime,
    is_qp,
    is_transfer_param,
    param_quote,
    param_unquote,
    parse_date,
    parse_datetime,
    percent_decode,
    qp_decode,
    qp_encode,
    text_escape,
    uri_decode,
    uri_encode,
)
from openprotocols.model._base import RawProperty
from openprotocols.model.contacts import (
    AddressKind,
    EmailAddress,
    Gender,
    GroupMember,
    PersonName,
    Phone,
    PhoneKind,
    Photo,
    PostalAddress,
)

__all__ = ["SCALAR_FIELDS", "Context", "Label", "decode", "encode", "type_set", "value_like"]

SCALAR_FIELDS = frozenset(
    {
        "uid", "kind", "n", "group_n", "fn", "file_as", "nickname", "org", "title", "office",
        "manager", "assistant", "spouse", "bday", "anniversary", "note", "photo", "gender",
        "created", "rev",
    }
)  # fmt: skip
"""Fields with one value: the first line that gives it maps, later ones stay extended."""


@attrs.frozen
class Context:
    """What decoding and encoding a line depends on besides the line itself."""

    version: str
    """``"2.1"``, ``"3.0"`` or ``"4.0"``."""
    group: bool = False
    """The card is a contact group."""
    labels: Mapping[str, str] = attrs.field(factory=dict)
    """Apple's ``itemN.X-ABLabel`` values by lower-case group."""
    latin1: bool = False
    """The stream was not UTF-8 and was read as Latin-1 (``CHARSET=`` may fix a line)."""
    apple_group: bool = False
    """The group uses ``X-ADDRESSBOOKSERVER-KIND`` (so members are ``-MEMBER``)."""


@attrs.frozen
class Label:
    """A vCard 3.0 ``LABEL`` waiting to be joined to its ``ADR``."""

    text: str
    types: frozenset[str]
    group: str | None


# -- reading values --------------------------------------------------------------------


def _charset(prop: RawProperty) -> str | None:
    charset = prop.param("CHARSET")
    return param_unquote(charset) if charset else None


def wire(prop: RawProperty, ctx: Context, notes: list[str]) -> str:
    """The value with its transfer encoding (quoted-printable, a charset) undone."""
    if is_qp(prop):
        charset = _charset(prop)
        text, guessed = qp_decode(prop.value, charset)
        if guessed and charset:
            notes.append(f"{prop.name}: the text is not {charset}; read as UTF-8 or Windows-1252")
        return text
    if ctx.latin1 and (charset := _charset(prop)):
        text, guessed = decode_charset(prop.value.encode("latin-1", "replace"), charset)
        if not guessed:
            return text
    return prop.value


def _text(prop: RawProperty, ctx: Context, notes: list[str]) -> str:
    return unescape_text(wire(prop, ctx, notes))


def _is_type(name: str, value: str) -> bool:
    return name.upper() == "TYPE" or (not name and not is_transfer_param(name, value))


def type_set(params: Iterable[tuple[str, str]]) -> list[str]:
    """The lower-case TYPE tokens of the parameters (``TYPE=a,b``, repeated ``TYPE``, and
    vCard 2.1 bare parameters)."""
    tokens: list[str] = []
    for name, value in params:
        if _is_type(name, value):
            tokens.extend(t.strip().lower() for t in param_unquote(value).split(","))
    return tokens


def _rest(
    params: Iterable[tuple[str, str]], consumed: set[str], drop: Iterable[str] = ()
) -> Params:
    """The parameters the model keeps: without transfer parameters, the ``drop`` names
    and the consumed TYPE tokens."""
    dropped = {d.upper() for d in drop}
    out: list[tuple[str, str]] = []
    for name, value in params:
        if is_transfer_param(name, value) or name.upper() in dropped:
            continue
        if _is_type(name, value) and consumed:
            quoted = len(value) >= 2 and value[0] == '"' and value[-1] == '"'
            inner = value[1:-1] if quoted else value
            kept = [t for t in inner.split(",") if t.strip().lower() not in consumed]
            if not kept:
                continue
            joined = ",".join(kept)
            out.append((name, f'"{joined}"' if quoted else joined))
            continue
        out.append((name, value))
    return tuple(out)


# -- kinds -------------------------------------------------------------------------------

_PHONE_SPECIAL: dict[str, PhoneKind] = {
    "x-assistant": PhoneKind.ASSISTANT,
    "assistant": PhoneKind.ASSISTANT,
    "x-callback": PhoneKind.CALLBACK,
    "callback": PhoneKind.CALLBACK,
    "main": PhoneKind.COMPANY_MAIN,
    "x-company-main": PhoneKind.COMPANY_MAIN,
    "company": PhoneKind.COMPANY_MAIN,
    "x-radio": PhoneKind.RADIO,
    "radio": PhoneKind.RADIO,
    "x-telex": PhoneKind.TELEX,
    "telex": PhoneKind.TELEX,
    "tlx": PhoneKind.TELEX,
    "textphone": PhoneKind.TTY_TDD,
    "ttytdd": PhoneKind.TTY_TDD,
    "x-primary": PhoneKind.PRIMARY,
    # Evolution writes the Outlook slots it shares as X-EVOLUTION-* types
    "x-evolution-assistant": PhoneKind.ASSISTANT,
    "x-evolution-callback": PhoneKind.CALLBACK,
    "x-evolution-company": PhoneKind.COMPANY_MAIN,
    "x-evolution-radio": PhoneKind.RADIO,
    "x-evolution-telex": PhoneKind.TELEX,
    "x-evolution-tty": PhoneKind.TTY_TDD,
}
_PHONE_TOKENS: dict[PhoneKind, tuple[str, ...]] = {
    PhoneKind.ASSISTANT: ("x-assistant",),
    PhoneKind.BUSINESS: ("work",),
    PhoneKind.BUSINESS_2: ("work", "x-second"),
    PhoneKind.BUSINESS_FAX: ("work", "fax"),
    PhoneKind.CALLBACK: ("x-callback",),
    PhoneKind.CAR: ("car",),
    PhoneKind.COMPANY_MAIN: ("main",),
    PhoneKind.HOME: ("home",),
    PhoneKind.HOME_2: ("home", "x-second"),
    PhoneKind.HOME_FAX: ("home", "fax"),
    PhoneKind.ISDN: ("isdn",),
    PhoneKind.MOBILE: ("cell",),
    PhoneKind.OTHER: ("voice",),
    PhoneKind.OTHER_FAX: ("fax",),
    PhoneKind.PAGER: ("pager",),
    PhoneKind.PRIMARY: ("x-primary",),
    PhoneKind.RADIO: ("x-radio",),
    PhoneKind.TELEX: ("x-telex",),
    PhoneKind.TTY_TDD: ("textphone",),
}


def phone_kind(tokens: list[str]) -> tuple[PhoneKind, set[str]]:  # noqa: PLR0911
    """The :class:`PhoneKind` of a set of TEL types, and the tokens it accounts for."""
    present = set(tokens)
    base = {"voice"}
    for token in tokens:
        if token in _PHONE_SPECIAL:
            return _PHONE_SPECIAL[token], base | {token}
    if "fax" in present:
        for side, kind in (("work", PhoneKind.BUSINESS_FAX), ("home", PhoneKind.HOME_FAX)):
            if side in present:
                return kind, base | {"fax", side}
        return PhoneKind.OTHER_FAX, base | {"fax"}
    for token, kind in (
        ("cell", PhoneKind.MOBILE),
        ("mobile", PhoneKind.MOBILE),
        ("pager", PhoneKind.PAGER),
        ("car", PhoneKind.CAR),
        ("isdn", PhoneKind.ISDN),
    ):
        if token in present:
            return kind, base | {token}
    second = "x-second" in present
    if "work" in present:
        if second:
            return PhoneKind.BUSINESS_2, base | {"work", "x-second"}
        return PhoneKind.BUSINESS, base | {"work"}
    if "home" in present:
        if second:
            return PhoneKind.HOME_2, base | {"home", "x-second"}
        return PhoneKind.HOME, base | {"home"}
    return PhoneKind.OTHER, base | {"other"}


def address_kind(tokens: list[str]) -> tuple[AddressKind | None, set[str]]:
    """Work, home or other from TYPE tokens (``None`` when none of them is there)."""
    present = set(tokens)
    for token, kind in (
        ("work", AddressKind.BUSINESS),
        ("home", AddressKind.HOME),
        ("other", AddressKind.OTHER),
    ):
        if token in present:
            return kind, {token}
    return None, set()


_ADDRESS_TOKENS = {AddressKind.BUSINESS: "work", AddressKind.HOME: "home"}


# -- decoding ----------------------------------------------------------------------------

_IM_SCHEMES = {
    "X-AIM": "aim:",
    "X-ICQ": "icq:",
    "X-JABBER": "xmpp:",
    "X-GOOGLE-TALK": "xmpp:",
    "X-MSN": "msnim:",
    "X-YAHOO": "ymsgr:",
    "X-SKYPE": "skype:",
    "X-SKYPE-USERNAME": "skype:",
    "X-GADUGADU": "gg:",
    "X-QQ": "qq:",
    "X-MS-IMADDRESS": "",
}
_RELATED_NAMES = {
    "X-MS-MANAGER": "manager",
    "X-MANAGER": "manager",
    "X-EVOLUTION-MANAGER": "manager",
    "X-KADDRESSBOOK-X-MANAGERSNAME": "manager",
    "X-MS-ASSISTANT": "assistant",
    "X-ASSISTANT": "assistant",
    "X-EVOLUTION-ASSISTANT": "assistant",
    "X-KADDRESSBOOK-X-ASSISTANTSNAME": "assistant",
    "X-MS-SPOUSE": "spouse",
    "X-SPOUSE": "spouse",
    "X-EVOLUTION-SPOUSE": "spouse",
    "X-KADDRESSBOOK-X-SPOUSENAME": "spouse",
    "X-MS-CHILD": "children",
    "X-CHILD": "children",
}
_RELATED_TYPES = {
    "spouse": "spouse",
    "child": "children",
    "x-manager": "manager",
    "manager": "manager",
    "x-assistant": "assistant",
    "assistant": "assistant",
}
_APPLE_RELATED = {
    "_$!<spouse>!$_": "spouse",
    "_$!<child>!$_": "children",
    "_$!<manager>!$_": "manager",
    "_$!<assistant>!$_": "assistant",
}
_APPLE_ANNIVERSARY = "_$!<anniversary>!$_"
_TEXT_FIELDS = {
    "X-EVOLUTION-FILE-AS": "file_as",
    "NICKNAME": "nickname",
    "TITLE": "title",
    "X-EVOLUTION-OFFICE": "office",
    "X-KADDRESSBOOK-X-OFFICE": "office",
    "NOTE": "note",
}
_ANNIVERSARIES = (
    "ANNIVERSARY",
    "X-ANNIVERSARY",
    "X-MS-ANNIVERSARY",
    "X-EVOLUTION-ANNIVERSARY",
    "X-KADDRESSBOOK-X-ANNIVERSARY",
)
_GENDER_CODES = {"m": Gender.MALE, "f": Gender.FEMALE, "o": Gender.OTHER, "n": Gender.NONE}
_GENDER_CODES["u"] = Gender.UNKNOWN
_GENDER_WORDS = {g.value: g for g in Gender} | _GENDER_CODES
_GENDER_LETTER = {v: k.upper() for k, v in _GENDER_CODES.items()}


def _empty_none(text: str) -> str | None:
    return text or None


def _decode_n(prop: RawProperty, ctx: Context, notes: list[str]) -> tuple[str, Any] | None:
    parts = [*split_text(wire(prop, ctx, notes), ";"), "", "", "", "", ""]
    if ctx.group:
        if any(parts[1:5]):
            return None
        return "group_n", parts[0]
    return "n", PersonName(
        family=parts[0] or None,
        given=parts[1] or None,
        middle=parts[2] or None,
        prefix=parts[3] or None,
        suffix=parts[4] or None,
    )


def _decode_email(prop: RawProperty, ctx: Context, notes: list[str]) -> tuple[str, Any]:
    kind, display_name, params = _email_params(prop.params)
    return "email", EmailAddress(
        _text(prop, ctx, notes), display_name=display_name, kind=kind, params=params
    )


@by_params
def _email_params(params: Params) -> tuple[AddressKind | None, str | None, Params]:
    kind, consumed = address_kind(type_set(params))
    cn = next((v for k, v in params if k.upper() == "X-CN"), None)
    display_name = param_unquote(cn) if cn is not None else None
    return kind, display_name, _rest(params, consumed, ("X-CN",))


def _decode_tel(prop: RawProperty, ctx: Context, notes: list[str]) -> tuple[str, Any]:
    kind, uri, params = _tel_params(prop.params)
    number = unescape_text(wire(prop, ctx, notes))
    if uri and number[:4].lower() == "tel:":
        number = number[4:]
    return "tel", Phone(number, kind, params)


@by_params
def _tel_params(params: Params) -> tuple[PhoneKind, bool, Params]:
    kind, consumed = phone_kind(type_set(params))
    value_type = next((v for k, v in params if k.upper() == "VALUE"), None)
    uri = bool(value_type) and param_unquote(value_type or "").lower() == "uri"
    return kind, uri, _rest(params, consumed)


def _decode_adr(prop: RawProperty, ctx: Context, notes: list[str]) -> tuple[str, Any]:
    kind, label, params = _adr_params(prop.params)
    parts = [*split_text(wire(prop, ctx, notes), ";"), "", "", "", "", "", "", ""]
    return "adr", PostalAddress(
        kind=kind,
        po_box=parts[0] or None,
        extended_address=parts[1] or None,
        street=parts[2] or None,
        city=parts[3] or None,
        region=parts[4] or None,
        postal_code=parts[5] or None,
        country=parts[6] or None,
        label=label,
        params=params,
    )


@by_params
def _adr_params(params: Params) -> tuple[AddressKind, str | None, Params]:
    kind, consumed = address_kind(type_set(params))
    label = next((v for k, v in params if k.upper() == "LABEL"), None)
    text = param_unquote(label) if label is not None else None
    return kind or AddressKind.OTHER, text, _rest(params, consumed, ("LABEL",))


def _decode_photo(prop: RawProperty, ctx: Context, notes: list[str]) -> tuple[str, Any]:
    value = prop.value.strip()
    encoding = prop.param("ENCODING")
    bare = {v.upper() for k, v in prop.params if not k}
    extra_url = prop.param("X-URL")
    url = param_unquote(extra_url) if extra_url is not None else None
    content_type: str | None = None
    for token in type_set(prop.params):
        if token and token not in ("pref", "base64", "b"):
            content_type = token if "/" in token else f"image/{token}"
            break
    mediatype = prop.param("MEDIATYPE")
    if mediatype is not None:
        content_type = param_unquote(mediatype).lower() or None
    if (encoding and param_unquote(encoding).upper() in ("B", "BASE64")) or "BASE64" in bare:
        return "photo", Photo(data=b64decode(value), content_type=content_type, url=url)
    if value[:5].lower() == "data:":
        meta, comma, payload = value[5:].partition(",")
        if not comma:
            raise Unmapped("a data: URI without a comma")
        if meta.lower().endswith(";base64"):
            data = b64decode(payload)
            meta = meta[:-7]
        else:
            data = percent_decode(payload)
        return "photo", Photo(data=data, content_type=meta.lower() or None, url=url)
    if not value:
        raise Unmapped("an empty PHOTO")
    return "photo", Photo(url=uri_decode(value), content_type=content_type)


def _decode_member(prop: RawProperty, ctx: Context, notes: list[str]) -> tuple[str, Any] | None:
    value = uri_decode(wire(prop, ctx, notes))
    cn = prop.param("X-CN")
    name = param_unquote(cn) if cn is not None else None
    lower = value.lower()
    if lower.startswith("urn:uuid:") and len(value) > 9:
        email = prop.param("X-EMAIL")
        return "member", GroupMember(
            name=name,
            contact_uid=value[9:],
            email=param_unquote(email) if email is not None else None,
        )
    if lower.startswith("mailto:") and len(value) > 7:
        return "member", GroupMember(name=name, email=value[7:])
    return None


def _decode_related(prop: RawProperty, ctx: Context, notes: list[str]) -> tuple[str, Any] | None:
    value_type = prop.param("VALUE")
    if value_type is None or param_unquote(value_type).lower() != "text":
        return None
    for token in type_set(prop.params):
        if token in _RELATED_TYPES:
            return _RELATED_TYPES[token], _text(prop, ctx, notes)
    return None


def _decode_gender(prop: RawProperty, ctx: Context, notes: list[str]) -> tuple[str, Any] | None:
    text = wire(prop, ctx, notes)
    name = prop.name.upper()
    if name == "X-WAB-GENDER":
        gender = {"1": Gender.FEMALE, "2": Gender.MALE}.get(text.strip())
    elif name == "GENDER":
        gender = _GENDER_CODES.get(text.split(";", 1)[0].strip().lower())
    else:
        gender = _GENDER_WORDS.get(text.strip().lower())
    return ("gender", gender) if gender is not None else None


def _label_of(prop: RawProperty, ctx: Context) -> str | None:
    return ctx.labels.get(prop.group.lower()) if prop.group else None


def decode(  # noqa: PLR0911, PLR0912 - a dispatch on the property name
    prop: RawProperty, ctx: Context, notes: list[str]
) -> tuple[str, Any] | None:
    """The field and element one property gives, or ``None`` when it stays extended.

    :raises Unmapped: a property the model maps, with a value that cannot be read.
    """
    name = prop.name.upper()
    if name in ("KIND", "X-ADDRESSBOOKSERVER-KIND"):
        return ("kind", True) if prop.value.strip().lower() == "group" and ctx.group else None
    if name == "UID":
        return "uid", _text(prop, ctx, notes)
    if name == "FN":
        text = _text(prop, ctx, notes)
        return "fn", (text if ctx.group else _empty_none(text))
    if name == "N":
        return _decode_n(prop, ctx, notes)
    if name == "CATEGORIES":
        return "categories", tuple(c for c in split_text(wire(prop, ctx, notes), ",") if c)
    if name in ("MEMBER", "X-ADDRESSBOOKSERVER-MEMBER"):
        return _decode_member(prop, ctx, notes) if ctx.group else None
    if name == "NOTE":
        return "note", _text(prop, ctx, notes)
    if name in ("REV", "CREATED", "X-CREATED"):
        return ("rev" if name == "REV" else "created"), parse_datetime(wire(prop, ctx, notes))
    if ctx.group:
        return None
    decoder = _DECODERS.get(name)
    if decoder is not None:
        return decoder(prop, ctx, notes)
    if name in _TEXT_FIELDS:
        return _TEXT_FIELDS[name], _text(prop, ctx, notes)
    if name in _RELATED_NAMES:
        return _RELATED_NAMES[name], _text(prop, ctx, notes)
    if name in _IM_SCHEMES:
        value = uri_decode(wire(prop, ctx, notes))
        scheme = _IM_SCHEMES[name]
        if scheme and not value.lower().startswith(scheme):
            value = scheme + value
        return "impp", value
    if name in _ANNIVERSARIES:
        return "anniversary", parse_date(wire(prop, ctx, notes))
    if name == "X-ABRELATEDNAMES":
        field = _APPLE_RELATED.get((_label_of(prop, ctx) or "").lower())
        return (field, _text(prop, ctx, notes)) if field else None
    if name == "X-ABDATE" and (_label_of(prop, ctx) or "").lower() == _APPLE_ANNIVERSARY:
        return "anniversary", parse_date(wire(prop, ctx, notes))
    return None


_Decoder = Callable[[RawProperty, Context, list[str]], "tuple[str, Any] | None"]
_DECODERS: dict[str, _Decoder] = {
    "EMAIL": _decode_email,
    "TEL": _decode_tel,
    "X-MS-TEL": _decode_tel,
    "ADR": _decode_adr,
    "PHOTO": _decode_photo,
    "RELATED": _decode_related,
    "GENDER": _decode_gender,
    "X-GENDER": _decode_gender,
    "X-WAB-GENDER": _decode_gender,
    "ORG": lambda p, c, n: (
        "org",
        tuple((part or None) for part in [*split_text(wire(p, c, n), ";"), ""][:2]),
    ),
    "LABEL": lambda p, c, n: (
        "label",
        Label(_text(p, c, n), frozenset(type_set(p.params)) - {"pref"}, p.group),
    ),
    "BDAY": lambda p, c, n: _decode_bday(p, c, n),  # noqa: PLW0108 - defined below
    "URL": lambda p, c, n: ("url", uri_decode(wire(p, c, n))),
    "IMPP": lambda p, c, n: ("impp", uri_decode(wire(p, c, n))),
}


def _decode_bday(prop: RawProperty, ctx: Context, notes: list[str]) -> tuple[str, Any] | None:
    value_type = prop.param("VALUE")
    if value_type is not None and param_unquote(value_type).lower() == "text":
        return None
    return "bday", parse_date(wire(prop, ctx, notes))


# -- encoding ----------------------------------------------------------------------------


def _types(tokens: Iterable[str], version: str) -> Params:
    tokens = list(tokens)
    if not tokens:
        return ()
    if version == "2.1":
        return tuple(("", t.upper()) for t in tokens)
    if version == "3.0":
        return (("TYPE", ",".join(t.upper() for t in tokens)),)
    return (("TYPE", ",".join(tokens)),)


def _line(
    name: str, value: str, ctx: Context, params: Params = (), *, text: bool = True
) -> RawProperty:
    """A property; in vCard 2.1 a text value that needs it becomes quoted-printable."""
    if ctx.version == "2.1" and text and (not value.isascii() or "\n" in value):
        params = (*params, ("CHARSET", "UTF-8"), ("ENCODING", "QUOTED-PRINTABLE"))
        value = qp_encode(value)
    return RawProperty(name, value, params)


def _t(text: str, ctx: Context, *, comma: bool = True) -> str:
    return text_escape(text, ctx.version, comma=comma)


def _encode_photo(photo: Photo, ctx: Context) -> RawProperty:
    both = photo.url is not None and photo.data is not None
    extra: Params = (("X-URL", param_quote(photo.url or "")),) if both else ()
    content_type = photo.content_type
    if photo.data is None:
        assert photo.url is not None  # the model's invariant
        if ctx.version == "4.0":
            media = (("MEDIATYPE", param_quote(content_type)),) if content_type else ()
            return RawProperty("PHOTO", uri_encode(photo.url), media)
        value_param = ("VALUE", "URL" if ctx.version == "2.1" else "uri")
        return RawProperty(
            "PHOTO", uri_encode(photo.url), (value_param, *_photo_type(content_type, ctx))
        )
    if ctx.version == "4.0":
        return RawProperty(
            "PHOTO", f"data:{content_type or ''};base64,{b64encode(photo.data)}", extra
        )
    encoding = ("ENCODING", "BASE64" if ctx.version == "2.1" else "b")
    return RawProperty(
        "PHOTO", b64encode(photo.data), (encoding, *_photo_type(content_type, ctx), *extra)
    )


def _photo_type(content_type: str | None, ctx: Context) -> Params:
    if not content_type:
        return ()
    major, _, minor = content_type.partition("/")
    if major == "image" and minor.isalnum():
        return (("TYPE", minor.upper()),)
    return (("TYPE", param_quote(content_type)),)


def _encode_related(field: str, name: str, ctx: Context) -> RawProperty:
    if ctx.version == "4.0" and field in ("spouse", "children"):
        kind = "spouse" if field == "spouse" else "child"
        return _line("RELATED", _t(name, ctx), ctx, (("VALUE", "text"), ("TYPE", kind)))
    prop = {"manager": "X-MS-MANAGER", "assistant": "X-MS-ASSISTANT", "spouse": "X-MS-SPOUSE"}
    return _line(prop.get(field, "X-MS-CHILD"), _t(name, ctx), ctx)


def _encode_adr(adr: PostalAddress, ctx: Context) -> list[RawProperty]:
    token = _ADDRESS_TOKENS.get(adr.kind)
    types = _types([token] if token else [], ctx.version)
    parts = (
        adr.po_box, adr.extended_address, adr.street, adr.city, adr.region,
        adr.postal_code, adr.country,
    )  # fmt: skip
    value = ";".join(_t(p or "", ctx, comma=False) for p in parts)
    params: Params = (*types, *adr.params)
    if adr.label is not None and ctx.version == "4.0":
        params = (*params, ("LABEL", param_quote(adr.label)))
    lines = [_line("ADR", value, ctx, params)]
    if adr.label is not None and ctx.version != "4.0":
        label_types = tuple((k, v) for k, v in params if _is_type(k, v))
        lines.append(_line("LABEL", _t(adr.label, ctx), ctx, label_types))
    return lines


def encode(  # noqa: PLR0911, PLR0912 - a dispatch on the field
    field: str, value: Any, ctx: Context
) -> list[RawProperty]:
    """Fresh content lines (without a group) for one element of ``field`` in ``ctx.version``."""
    v = ctx.version
    if field == "uid":
        return [_line("UID", _t(value, ctx), ctx)]
    if field == "kind":
        if v == "4.0" and not ctx.apple_group:
            return [RawProperty("KIND", "group")]
        return [RawProperty("X-ADDRESSBOOKSERVER-KIND", "group")]
    if field == "n":
        name: PersonName = value
        parts = (name.family, name.given, name.middle, name.prefix, name.suffix)
        return [_line("N", ";".join(_t(p or "", ctx, comma=False) for p in parts), ctx)]
    if field == "group_n":
        return [_line("N", _t(value, ctx, comma=False) + ";;;;", ctx)]
    if field == "fn":
        return [_line("FN", _t(value or "", ctx), ctx)]
    if field in ("file_as", "nickname", "title", "office", "note"):
        names = {"file_as": "X-EVOLUTION-FILE-AS", "office": "X-EVOLUTION-OFFICE"}
        return [_line(names.get(field, field.upper()), _t(value, ctx), ctx)]
    if field in ("manager", "assistant", "spouse", "children"):
        return [_encode_related(field, value, ctx)]
    if field == "email":
        email: EmailAddress = value
        token = {AddressKind.BUSINESS: "work", AddressKind.HOME: "home"}.get(
            email.kind or AddressKind.OTHER, "other" if email.kind else None
        )
        params: Params = (*_types([token] if token else [], v), *email.params)
        if email.display_name is not None:
            params = (*params, ("X-CN", param_quote(email.display_name)))
        return [_line("EMAIL", _t(email.address, ctx), ctx, params)]
    if field == "tel":
        phone: Phone = value
        params = (*_types(_PHONE_TOKENS[phone.kind], v), *phone.params)
        number = _t(phone.number, ctx, comma=False)
        value_type = next((p for k, p in phone.params if k.upper() == "VALUE"), None)
        if value_type is not None and param_unquote(value_type).lower() == "uri":
            number = "tel:" + number
        return [_line("TEL", number, ctx, params)]
    if field == "adr":
        return _encode_adr(value, ctx)
    if field == "org":
        company, department = value
        text = _t(company or "", ctx)
        if department is not None:
            text += ";" + _t(department, ctx)
        return [_line("ORG", text, ctx)]
    if field in ("bday", "anniversary"):
        day: date = value
        text, extra = format_date(day, v)
        name_ = "BDAY" if field == "bday" else ("ANNIVERSARY" if v == "4.0" else "X-ANNIVERSARY")
        return [RawProperty(name_, text, extra)]
    if field in ("url", "impp"):
        return [RawProperty(field.upper(), uri_encode(value))]
    if field == "photo":
        return [_encode_photo(value, ctx)]
    if field == "categories":  # a list: its commas are escaped in 2.1 too
        items = [_t(c, ctx) for c in value]
        if v == "2.1":
            items = [c.replace(",", "\\,") for c in items]
        return [_line("CATEGORIES", ",".join(items), ctx)]
    if field == "gender":
        gender: Gender = value
        if v == "4.0":
            return [RawProperty("GENDER", _GENDER_LETTER[gender])]
        return [RawProperty("X-GENDER", gender.value.capitalize())]
    if field in ("created", "rev"):
        moment: datetime = value
        prop_name = "REV" if field == "rev" else ("CREATED" if v == "4.0" else "X-CREATED")
        return [RawProperty(prop_name, format_datetime(moment, v))]
    if field == "member":
        return [_encode_member(value, ctx)]
    raise AssertionError(f"no encoder for {field}")  # pragma: no cover


def _encode_member(member: GroupMember, ctx: Context) -> RawProperty:
    name = (
        "MEMBER" if ctx.version == "4.0" and not ctx.apple_group else "X-ADDRESSBOOKSERVER-MEMBER"
    )
    params: Params = ()
    if member.name is not None:
        params = (("X-CN", param_quote(member.name)),)
    if member.contact_uid is not None:
        if member.email is not None:
            params = (*params, ("X-EMAIL", param_quote(member.email)))
        return RawProperty(name, uri_encode("urn:uuid:" + member.contact_uid), params)
    return RawProperty(name, uri_encode(f"mailto:{member.email}"), params)


def value_like(previous: RawProperty, fresh: RawProperty) -> str:
    """The value ``fresh`` would have if written as ``previous``'s property (an instant
    messaging address keeps its ``X-JABBER`` without the ``xmpp:``)."""
    scheme = _IM_SCHEMES.get(previous.name.upper())
    if scheme and fresh.value.lower().startswith(scheme):
        return fresh.value[len(scheme) :]
    return fresh.value
