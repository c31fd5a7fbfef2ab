"""Value-level helpers of the vCard codec: transfer encodings, parameters, dates, photos.

Everything here is pure string work on one property; :mod:`._vcard_props` decides what
a property means and :mod:`.vcard` keeps the lines.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime, timedelta, timezone

from openprotocols.formats._contentline import FOLD_OCTETS, escape_text, unescape_text
from openprotocols.model._base import RawProperty

__all__ = [
    "NO_YEAR",
    "TRANSFER_TOKENS",
    "Unmapped",
    "b64decode",
    "b64encode",
    "caret_decode",
    "decode_charset",
    "fold_octets",
    "fold_qp",
    "format_date",
    "format_datetime",
    "is_qp",
    "is_transfer_param",
    "join_qp_soft_breaks",
    "param_quote",
    "param_unquote",
    "parse_date",
    "parse_datetime",
    "percent_decode",
    "qp_decode",
    "qp_encode",
    "text_escape",
    "uri_decode",
    "uri_encode",
]

# vCard 2.1 bare parameters that are an ENCODING or a CHARSET, not a TYPE.
TRANSFER_TOKENS = frozenset({"QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT"})


class Unmapped(Exception):
    """A mapped property whose value the codec cannot read; it is kept verbatim instead."""


# -- parameters ------------------------------------------------------------------------


def is_transfer_param(name: str, value: str) -> bool:
    """Whether a parameter only says how the value is carried (ENCODING, CHARSET)."""
    upper = name.upper()
    if upper in ("ENCODING", "CHARSET"):
        return True
    return not name and value.upper() in TRANSFER_TOKENS


def is_qp(prop: RawProperty) -> bool:
    """Whether the property's value is quoted-printable (vCard 2.1)."""
    for name, value in prop.params:
        upper = name.upper()
        if (upper == "ENCODING" or not upper) and value.strip('"').upper() == "QUOTED-PRINTABLE":
            return True
    return False


_CARET = re.compile(r"\^([\^nN'])")


def caret_decode(value: str) -> str:
    """Undo RFC 6868 parameter value encoding (``^^``, ``^n``, ``^'``)."""
    if "^" not in value:
        return value
    return _CARET.sub(lambda m: {"^": "^", "n": "\n", "N": "\n", "'": '"'}[m.group(1)], value)


def param_unquote(value: str) -> str:
    """A parameter value as text: quotes removed and RFC 6868 escapes undone."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return caret_decode(value)


_PARAM_SAFE = re.compile(r"[^\";:,\x00-\x1f\x7f^]*")


def param_quote(value: str) -> str:
    """A parameter value as written: RFC 6868-encoded, quoted when it needs quotes."""
    if _PARAM_SAFE.fullmatch(value):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("^", "^^").replace("\n", "^n").replace('"', "^'")
    value = "".join(c for c in value if c >= " " or c == "\t")
    return f'"{value}"'


# -- text --------------------------------------------------------------------------------


def text_escape(text: str, version: str, *, comma: bool = True) -> str:
    """Escape a TEXT value for ``version``; vCard 2.1 escapes only backslash and ``;`` and
    leaves newlines to quoted-printable."""
    if version == "2.1":
        return text.replace("\r\n", "\n").replace("\\", "\\\\").replace(";", "\\;")
    return escape_text(text, comma=comma)


def uri_encode(uri: str) -> str:
    """A URI value as written: unchanged, unless it holds a backslash or a line break."""
    if "\\" in uri or "\n" in uri or "\r" in uri:
        return escape_text(uri, comma=False)
    return uri


def uri_decode(value: str) -> str:
    """A URI value as text; backslash escapes (Apple writes ``http\\://``) are undone."""
    return unescape_text(value) if "\\" in value else value


def qp_encode(text: str) -> str:
    """Quoted-printable (RFC 2045) of the UTF-8 text, line breaks as ``=0D=0A``, no soft
    breaks (folding adds them)."""
    out: list[str] = []
    for byte in text.replace("\r\n", "\n").encode("utf-8"):
        if byte == 0x0A:
            out.append("=0D=0A")
        elif (33 <= byte <= 126 and byte != 0x3D) or byte == 0x20:
            out.append(chr(byte))
        else:
            out.append(f"={byte:02X}")
    return "".join(out)


def fold_octets(encoded: bytes, *, utf8: bool = True) -> bytes:
    """Fold encoded text at :data:`FOLD_OCTETS` octets (continuations start with a space);
    ``utf8`` keeps multi-byte characters whole (Latin-1 text has none)."""
    if len(encoded) <= FOLD_OCTETS:
        return encoded
    pieces: list[bytes] = []
    start, limit = 0, FOLD_OCTETS
    while len(encoded) - start > limit:
        end = start + limit
        if utf8:
            while end > start + 1 and (encoded[end] & 0xC0) == 0x80:
                end -= 1
        pieces.append(encoded[start:end])
        start, limit = end, FOLD_OCTETS - 1
    pieces.append(encoded[start:])
    return b"\r\n ".join(pieces)


def fold_qp(text: str, encoding: str = "utf-8") -> bytes:
    """Fold a quoted-printable line: the name and parameters as usual, the value with
    soft line breaks (``=`` CRLF, the next line without a leading space, vCard 2.1),
    never inside an ``=XX`` escape."""
    encoded = text.encode(encoding)
    utf8 = encoding == "utf-8"
    if len(encoded) <= FOLD_OCTETS:
        return encoded
    colon = _value_start(encoded)
    if colon < 0:
        return fold_octets(encoded, utf8=utf8)
    pieces = fold_octets(encoded[: colon + 1], utf8=utf8).split(b"\r\n")
    current = pieces.pop()
    value = encoded[colon + 1 :]
    start = 0
    while len(value) - start > FOLD_OCTETS - len(current):
        room = FOLD_OCTETS - 1 - len(current)  # keep one octet for the "="
        if room < 3:
            if current.strip() and len(current) < FOLD_OCTETS:
                pieces.append(current + b"=")  # a soft break: the next line is literal
                current = b""
            else:  # no room even for the "=": an ordinary fold, the next line indented
                pieces.append(current)
                current = b" "
            continue
        end = start + room
        if value[end - 1 : end] == b"=":
            end -= 1
        elif value[end - 2 : end - 1] == b"=":
            end -= 2
        while utf8 and end > start + 1 and (value[end] & 0xC0) == 0x80:
            end -= 1
        pieces.append(current + value[start:end] + b"=")
        current, start = b"", end
    pieces.append(current + value[start:])
    return b"\r\n".join(pieces)


def _value_start(line: bytes) -> int:
    """The index of the colon that ends a line's name and parameters (quotes skipped)."""
    quoted = False
    for i, byte in enumerate(line):
        if byte == 0x22:
            quoted = not quoted
        elif byte == 0x3A and not quoted:
            return i
    return -1


_QP_HEAD = re.compile(rb"quoted-printable", re.IGNORECASE)


def _head_is_qp(head: bytes) -> bool:
    """Whether a line's name and parameters say quoted-printable, as :func:`is_qp` reads
    them from the parsed line (``ENCODING=QUOTED-PRINTABLE`` or the bare 2.1 form)."""
    if not _QP_HEAD.search(head):
        return False
    parts: list[bytes] = []
    quoted, start = False, 0
    for i, byte in enumerate(head):
        if byte == 0x22:
            quoted = not quoted
        elif byte == 0x3B and not quoted:
            parts.append(head[start:i])
            start = i + 1
    parts.append(head[start:])
    for part in parts[1:]:
        name, equals, value = part.partition(b"=")
        if not equals:
            name, value = b"", part
        if name.upper() in (b"ENCODING", b"") and value.strip(b'"').upper() == b"QUOTED-PRINTABLE":
            return True
    return False


def join_qp_soft_breaks(data: bytes) -> bytes:
    """Turn vCard 2.1 quoted-printable soft line breaks into ordinary folding.

    A quoted-printable value may continue on the next physical line after a trailing
    ``=`` without any leading whitespace. The ``=`` is removed and a space put before the
    continuation, so :func:`~openprotocols.formats._contentline.read_lines` joins the lines
    and line numbers stay right.
    """
    if b"quoted-printable" not in data.lower():  # _QP_HEAD.search(data), ten times faster
        return data
    out: list[bytes] = []
    continuing = False
    logical = b""
    for raw in data.splitlines(keepends=True):
        body = raw.rstrip(b"\r\n")
        ending = raw[len(body) :]
        if continuing:  # after a soft break the next line is literal, leading space too
            continuing = body.endswith(b"=")
            out.append(b" " + (body[:-1] + ending if continuing else raw))
            continue
        logical = logical + body[1:] if body[:1] in (b" ", b"\t") else body
        colon = _value_start(logical) if body.endswith(b"=") else -1
        if 0 <= colon < len(logical) - 1 and _head_is_qp(logical[:colon]):
            out.append(body[:-1] + ending)
            continuing = True
        else:
            out.append(raw)
    return b"".join(out)


def qp_decode(value: str, charset: str | None) -> tuple[str, bool]:
    """Decode a quoted-printable value in ``charset``; line breaks read as ``\\n``.

    Returns the text and whether the charset had to be guessed (unknown or wrong).
    """
    raw = binascii.a2b_qp(value.encode("utf-8", "surrogateescape"))
    text, guessed = decode_charset(raw, charset)
    return text.replace("\r\n", "\n"), guessed


def decode_charset(raw: bytes, charset: str | None) -> tuple[str, bool]:
    """``raw`` decoded in ``charset`` (UTF-8 if none); falls back to Windows-1252."""
    try:
        return raw.decode(charset or "utf-8"), False
    except (LookupError, ValueError):  # unknown charset, bad bytes, a NUL in the name
        try:
            return raw.decode("utf-8"), True
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace"), True


# -- dates -------------------------------------------------------------------------------

_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})(?:T[0-9:.,+\-Z]*)?")
_NO_YEAR = re.compile(r"--(\d{2})-?(\d{2})")
_DATETIME = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:T(\d{2}):?(\d{2}):?(\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
NO_YEAR = 1604
"""The year a date without a year is stored with (Apple's convention, a leap year)."""


def parse_date(value: str) -> date:
    """A vCard date: ``19850415``, ``1985-04-15``, ``--0415``, or the date of a date-time.

    :raises Unmapped: anything else (``VALUE=text``, a year alone).
    """
    value = value.strip()
    try:
        if m := _NO_YEAR.fullmatch(value):
            return date(NO_YEAR, int(m.group(1)), int(m.group(2)))
        if m := _DATE.fullmatch(value):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        raise Unmapped(f"not a date: {value[:40]!r}") from exc
    raise Unmapped(f"not a date: {value[:40]!r}")


def format_date(day: date, version: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A date as vCard ``version`` writes it, and the parameters it needs: a date without
    a year (year 1604) is ``--MMDD`` in 4.0 and Apple's ``X-APPLE-OMIT-YEAR`` in 3.0."""
    if version == "4.0":
        if day.year == NO_YEAR:
            return f"--{day.month:02d}{day.day:02d}", ()
        return f"{day.year:04d}{day.month:02d}{day.day:02d}", ()
    text = f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    if day.year == NO_YEAR and version == "3.0":
        return text, (("X-APPLE-OMIT-YEAR", str(NO_YEAR)),)
    return text, ()


def parse_datetime(value: str) -> datetime:
    """A vCard timestamp (``REV``): basic or extended ISO 8601, ``Z``, an offset or none
    (naive); a date alone is midnight. Fractions of a second are dropped.

    :raises Unmapped: anything else.
    """
    m = _DATETIME.fullmatch(value.strip())
    if not m:
        raise Unmapped(f"not a timestamp: {value[:40]!r}")
    year, month, day, hour, minute, second, zone = m.groups()
    tz: timezone | None = None
    if zone == "Z":
        tz = UTC
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        try:
            tz = timezone(sign * timedelta(minutes=minutes))
        except ValueError as exc:
            raise Unmapped(f"bad offset: {value[:40]!r}") from exc
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            min(int(second or 0), 59),  # a leap second reads as :59
            tzinfo=tz,
        )
    except ValueError as exc:
        raise Unmapped(f"not a timestamp: {value[:40]!r}") from exc


def format_datetime(moment: datetime, version: str) -> str:
    """A timestamp in UTC (``Z``) when it has a zone, floating otherwise; basic format in
    vCard 4.0, extended (``1995-10-31T22:27:10Z``) in 3.0 and 2.1."""
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        moment = moment.astimezone(UTC)
        zone = "Z"
    else:
        zone = ""
    if version == "4.0":
        return (
            f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
            f"T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}{zone}"
        )
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{zone}"
    )


# -- binary ------------------------------------------------------------------------------


def b64decode(value: str) -> bytes:
    """Base64 with whitespace anywhere (folded vCard 2.1 data) and missing padding.

    :raises Unmapped: not base64.
    """
    compact = "".join(value.split())
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unmapped("the inline data is not base64") from exc


def b64encode(data: bytes) -> str:
    """Base64 on one logical line (folding splits it)."""
    return base64.b64encode(data).decode("ascii")


def percent_decode(text: str) -> bytes:
    """``%XX`` escapes of a ``data:`` URI without ``;base64`` as bytes."""
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        if raw[i] == 0x25 and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)
