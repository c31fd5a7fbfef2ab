"""Outlook .msg files (MS-OXMSG): a :class:`~openprotocols.outlook.PropertySet` in a
compound file.

:func:`read` and :func:`write` take and give model items; :func:`read_properties` and
:func:`write_properties` work on the property sets underneath, for a caller that wants
MAPI properties themselves.

The layout (MS-OXMSG §2): the message's properties are one ``__properties_version1.0``
stream of 16-byte entries — fixed-size values inline, every other value in a stream
``__substg1.0_<tag>`` of its own (a multi-valued string or binary property as a lengths
stream plus one stream per value); each recipient and attachment is a storage
``__recip_version1.0_#<n>`` / ``__attach_version1.0_#<n>``; an attached message is a
storage ``__substg1.0_3701000D`` inside its attachment's; named properties get the ids
from ``0x8000`` that the ``__nameid_version1.0`` storage maps to their property set and
id or name (with its hash streams, as Outlook writes them). Strings are written as
Unicode; 8-bit strings are read in the message's code page.

Reading a hostile file gives :class:`~openprotocols.errors.ParseError`, never an
exception of olefile or struct.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator
from typing import Any, Final

from openprotocols.errors import ParseError
from openprotocols.outlook import props as p
from openprotocols.outlook._cfb import Storage, Stream
from openprotocols.outlook._cfb import read as read_compound
from openprotocols.outlook._cfb import write as write_compound
from openprotocols.outlook._mapping import from_mapi, to_mapi
from openprotocols.outlook._propset import PropertySet, Value, filetime, from_filetime

__all__ = ["FORMAT", "parse_nameid", "read", "read_properties", "write", "write_properties"]

FORMAT: Final = "msg"

_PROPERTIES = "__properties_version1.0"
_NAMEID = "__nameid_version1.0"
_RECIP = "__recip_version1.0_#"
_ATTACH = "__attach_version1.0_#"
_SUBSTG = "__substg1.0_"
_EMBEDDED = "__substg1.0_3701000D"
_GUID_STREAM = "__substg1.0_00020102"
_ENTRY_STREAM = "__substg1.0_00030102"
_STRING_STREAM = "__substg1.0_00040102"
_FIRST_NAMED_ID = 0x8000
_READABLE_WRITABLE = 0x6
_MAX_ROWS = 2048  # recipients or attachments one message may declare
_T = p.PropType
_FIXED: Final[dict[p.PropType, str]] = {
    _T.INT16: "<h",
    _T.INT32: "<i",
    _T.FLOAT: "<f",
    _T.DOUBLE: "<d",
    _T.CURRENCY: "<q",
    _T.APPTIME: "<d",
    _T.ERROR: "<I",
    _T.BOOLEAN: "<H",
    _T.INT64: "<q",
    _T.SYSTIME: "<Q",
}
_CODEPAGES: Final = {1252: "cp1252", 65001: "utf-8", 20127: "ascii", 28591: "latin-1"}


def read(data: bytes) -> Any:
    """The model item a .msg file holds.

    :raises ParseError: the file is not a readable .msg.
    :raises InvalidItemError: its properties do not make a valid item.
    """
    return from_mapi(read_properties(data))


def write(item: object) -> bytes:
    """The .msg file of a model item."""
    return write_properties(to_mapi(item))


# ----------------------------------------------------------------------------- reading


def read_properties(data: bytes) -> PropertySet:
    """The properties of the message a .msg file holds (tables and attached messages
    included; named properties keyed by their set and id or name).

    :raises ParseError: the file is not a readable .msg.
    """
    root = read_compound(data)
    names = _read_nameid(_child(root, _NAMEID))
    return _Reader(names).message(root, top=True)


def _child(storage: Storage | None, name: str) -> Any:
    if storage is None:
        return None
    wanted = name.upper()
    return next((e for e in storage.entries if e.name.upper() == wanted), None)


def _fail(message: str) -> ParseError:
    return ParseError(message, format=FORMAT)


def _read_nameid(storage: Storage | None) -> dict[int, tuple[uuid.UUID, int | str]]:
    """Property id (from 0x8000) → property set and numeric id or string name."""
    if storage is None:
        return {}
    return parse_nameid(
        _stream_data(storage, _GUID_STREAM),
        _stream_data(storage, _ENTRY_STREAM),
        _stream_data(storage, _STRING_STREAM),
    )


def parse_nameid(
    guids_data: bytes, entries: bytes, strings: bytes
) -> dict[int, tuple[uuid.UUID, int | str]]:
    """Read the named-property map .msg files and PST files share (MS-OXMSG §2.2.3,
    MS-PST §2.4.7): the GUID, entry and string streams, into property id (from
    ``0x8000``) → property set and numeric id or string name.

    :raises ParseError: an entry names a property set or a string that is not there.
    """
    guids = [uuid.UUID(bytes_le=guids_data[i : i + 16]) for i in range(0, len(guids_data) - 15, 16)]
    names: dict[int, tuple[uuid.UUID, int | str]] = {}
    for offset in range(0, len(entries) - 7, 8):
        key, info = struct.unpack_from("<II", entries, offset)
        index, guid_index, is_string = info >> 16, (info >> 1) & 0x7FFF, info & 1
        if guid_index == 1:
            guid = p.PS_MAPI
        elif guid_index == 2:
            guid = p.PS_PUBLIC_STRINGS
        elif 3 <= guid_index < 3 + len(guids):
            guid = guids[guid_index - 3]
        else:
            raise _fail(f"named property {index}: no property set #{guid_index}")
        name: int | str = key
        if is_string:
            if key + 4 > len(strings):
                raise _fail(f"named property {index}: string offset {key} out of range")
            (length,) = struct.unpack_from("<I", strings, key)
            raw = strings[key + 4 : key + 4 + length]
            if len(raw) != length:
                raise _fail(f"named property {index}: string runs past its stream")
            name = raw.decode("utf-16-le", errors="replace")
        names[_FIRST_NAMED_ID + index] = (guid, name)
    return names


def _stream_data(storage: Storage, name: str) -> bytes:
    entry = _child(storage, name)
    return entry.data if isinstance(entry, Stream) else b""


class _Reader:
    def __init__(self, names: dict[int, tuple[uuid.UUID, int | str]]) -> None:
        self.names = names
        self.depth = 0

    def message(self, storage: Storage, *, top: bool) -> PropertySet:
        props = self.properties(storage, header=32 if top else 24)
        for entry in sorted(storage.entries, key=lambda e: e.name):
            if not isinstance(entry, Storage):
                continue
            if entry.name.startswith(_RECIP):
                props.recipients.append(self.properties(entry, header=8))
            elif entry.name.startswith(_ATTACH):
                props.attachments.append(self.attachment(entry))
        if len(props.recipients) > _MAX_ROWS or len(props.attachments) > _MAX_ROWS:
            raise _fail("too many recipients or attachments")
        return props

    def attachment(self, storage: Storage) -> PropertySet:
        row = self.properties(storage, header=8)
        embedded = _child(storage, _EMBEDDED)
        if isinstance(embedded, Storage):
            if self.depth >= 8:
                raise _fail("attached messages nest too deeply")
            self.depth += 1
            row.embedded = self.message(embedded, top=False)
            self.depth -= 1
        return row

    def properties(self, storage: Storage, *, header: int) -> PropertySet:
        data = _stream_data(storage, _PROPERTIES)
        if _child(storage, _PROPERTIES) is None:
            raise _fail(f"{storage.name}: no {_PROPERTIES} stream")
        props = PropertySet()
        codepage = "cp1252"
        found: list[tuple[p.PropertyKey, bytes, int]] = []
        for offset in range(header, len(data) - 15, 16):
            tag, _flags = struct.unpack_from("<II", data, offset)
            value = data[offset + 8 : offset + 16]
            key = self.key(tag)
            if key is None:
                continue
            found.append((key, value, tag))
            if key in {p.PidTagMessageCodepage, p.PidTagInternetCodepage}:
                codepage = _CODEPAGES.get(struct.unpack_from("<I", value)[0], codepage)
        for key, value, tag in found:
            if key.type is _T.OBJECT:
                continue  # the attached message: its storage, read by attachment()
            try:
                props[key] = self.value(storage, key, value, tag, codepage)
            except (struct.error, ValueError, UnicodeDecodeError) as exc:
                raise _fail(f"{storage.name}: property {key}: {exc}") from exc
        return props

    def key(self, tag: int) -> p.PropertyKey | None:
        prop_id, type_code = tag >> 16, tag & 0xFFFF
        try:
            type_ = p.PropType(type_code)
        except ValueError:
            return None  # a type MAPI does not define (or PtypNull, PtypUnspecified)
        if prop_id < _FIRST_NAMED_ID:
            return p.Tag(prop_id, type_)
        if prop_id not in self.names:
            raise _fail(f"property 0x{tag:08X} names no entry of {_NAMEID}")
        guid, name = self.names[prop_id]
        if isinstance(name, int):
            return p.Named(guid, id=name, type=type_)
        return p.Named(guid, name=name, type=type_)

    def value(
        self, storage: Storage, key: p.PropertyKey, value: bytes, tag: int, codepage: str
    ) -> Value:
        type_ = key.type
        stream = f"{_SUBSTG}{tag:08X}"
        if type_ in _FIXED:
            return _fixed(type_, value)
        if type_.is_multi:
            return self.multi(storage, type_, stream, codepage)
        data = _stream_data(storage, stream)
        return _variable(type_, data, codepage)

    def multi(self, storage: Storage, type_: p.PropType, stream: str, codepage: str) -> Value:
        single = type_.single
        data = _stream_data(storage, stream)
        if single in _FIXED:
            size = struct.calcsize(_FIXED[single])
            return tuple(
                _fixed(single, data[i : i + size]) for i in range(0, len(data) - size + 1, size)
            )
        if single is _T.GUID:
            return tuple(uuid.UUID(bytes_le=data[i : i + 16]) for i in range(0, len(data) - 15, 16))
        width = 8 if single is _T.BINARY else 4
        count = len(data) // width
        return tuple(
            _variable(single, _stream_data(storage, f"{stream}-{index:08X}"), codepage)
            for index in range(count)
        )


def _fixed(type_: p.PropType, value: bytes) -> Value:
    if type_ is _T.BOOLEAN:
        return value[:2] != b"\0\0"
    (number,) = struct.unpack_from(_FIXED[type_], value.ljust(8, b"\0"))
    if type_ is _T.SYSTIME:
        return from_filetime(number)
    if type_ in (_T.FLOAT, _T.DOUBLE, _T.APPTIME):
        return float(number)
    return int(number)


def _variable(type_: p.PropType, data: bytes, codepage: str) -> Value:
    if type_ is _T.UNICODE:
        text = data.decode("utf-16-le", errors="replace")
        return text[: text.index("\0")] if "\0" in text else text
    if type_ is _T.STRING8:
        text = data.decode(codepage, errors="replace")
        return text[: text.index("\0")] if "\0" in text else text
    if type_ is _T.GUID:
        if len(data) != 16:
            raise ValueError("a GUID is 16 bytes")
        return uuid.UUID(bytes_le=data)
    return data


# ----------------------------------------------------------------------------- writing


def write_properties(props: PropertySet) -> bytes:
    """The .msg file of a property set (named properties are given ids from ``0x8000``
    in the order first met)."""
    names = _NameMap()
    root = _Writer(names).message(props, "Root Entry", top=True)
    entries = (*root.entries, names.storage())
    return write_compound(Storage("Root Entry", entries, clsid=_MSG_CLSID))


_MSG_CLSID = uuid.UUID("00020d0b-0000-0000-c000-000000000046").bytes_le


class _NameMap:
    """Named properties → ids from 0x8000, and the ``__nameid_version1.0`` storage."""

    def __init__(self) -> None:
        self.ids: dict[tuple[uuid.UUID, int | str], int] = {}

    def tag(self, key: p.PropertyKey) -> int:
        if isinstance(key, p.Tag):
            return key.tag
        name: int | str = key.id if key.id is not None else key.name or ""
        index = self.ids.setdefault((key.set, name), len(self.ids))
        if index >= 0x7FFF:
            raise ParseError("more than 32,767 named properties", format=FORMAT)
        return ((_FIRST_NAMED_ID + index) << 16) | key.type

    def storage(self) -> Storage:
        guids: list[uuid.UUID] = []
        entries, strings = bytearray(), bytearray()
        hashes: dict[int, bytearray] = {}
        for (guid, name), index in self.ids.items():
            if guid == p.PS_MAPI:
                guid_index = 1
            elif guid == p.PS_PUBLIC_STRINGS:
                guid_index = 2
            else:
                if guid not in guids:
                    guids.append(guid)
                guid_index = 3 + guids.index(guid)
            is_string = isinstance(name, str)
            if isinstance(name, str):
                encoded = name.encode("utf-16-le")
                key = len(strings)
                strings += struct.pack("<I", len(encoded)) + encoded
                strings += b"\0" * (-len(strings) % 4)
                identity = zlib.crc32(encoded)
            else:
                key = identity = name
            info = (index << 16) | (guid_index << 1) | int(is_string)
            entries += struct.pack("<II", key, info)
            stream_id = 0x1000 + ((identity ^ ((guid_index << 1) | int(is_string))) % 0x1F)
            hashes.setdefault(stream_id, bytearray()).extend(struct.pack("<II", identity, info))
        streams = [
            Stream(_GUID_STREAM, b"".join(g.bytes_le for g in guids)),
            Stream(_ENTRY_STREAM, bytes(entries)),
            Stream(_STRING_STREAM, bytes(strings)),
            *(
                Stream(f"{_SUBSTG}{sid:04X}0102", bytes(data))
                for sid, data in sorted(hashes.items())
            ),
        ]
        return Storage(_NAMEID, tuple(streams))


class _Writer:
    def __init__(self, names: _NameMap) -> None:
        self.names = names

    def message(self, props: PropertySet, name: str, *, top: bool) -> Storage:
        count = (len(props.recipients), len(props.attachments))
        header = struct.pack("<8xIIII", *count, *count) + (b"\0" * 8 if top else b"")
        entries: list[Storage | Stream] = list(self.properties(props, header))
        for number, row in enumerate(props.recipients):
            entries.append(self.row(row, f"{_RECIP}{number:08X}"))
        for number, row in enumerate(props.attachments):
            entries.append(self.row(row, f"{_ATTACH}{number:08X}"))
        return Storage(name, tuple(entries))

    def row(self, props: PropertySet, name: str) -> Storage:
        entries: list[Storage | Stream] = list(self.properties(props, b"\0" * 8))
        if props.embedded is not None:
            entries.append(self.message(props.embedded, _EMBEDDED, top=False))
        return Storage(name, tuple(entries))

    def properties(self, props: PropertySet, header: bytes) -> Iterator[Stream]:
        table = bytearray(header)
        streams: list[Stream] = []
        if props.embedded is not None:
            tag = p.PidTagAttachDataObject.tag
            table += struct.pack("<IIII", tag, _READABLE_WRITABLE, 0xFFFFFFFF, 0)
        for key, value in props.items():
            tag = self.names.tag(key)
            stream = f"{_SUBSTG}{tag:08X}"
            type_ = key.type
            if type_ in _FIXED:
                table += struct.pack("<II", tag, _READABLE_WRITABLE) + _pack_fixed(type_, value)
                continue
            if type_.is_multi:
                size, extra = _pack_multi(type_, value, stream)
                streams.extend(extra)
            else:
                data = _pack_variable(type_, value)
                streams.append(Stream(stream, data))
                size = len(data) + {_T.UNICODE: 2, _T.STRING8: 1}.get(type_, 0)
            table += struct.pack("<IIII", tag, _READABLE_WRITABLE, size, 0)
        yield Stream(_PROPERTIES, bytes(table))
        yield from streams


def _pack_fixed(type_: p.PropType, value: Any) -> bytes:
    if type_ is _T.SYSTIME:
        return struct.pack("<Q", filetime(value))
    if type_ is _T.BOOLEAN:
        return struct.pack("<Q", int(bool(value)))
    return struct.pack(_FIXED[type_], value).ljust(8, b"\0")


def _pack_variable(type_: p.PropType, value: Any) -> bytes:
    if type_ is _T.UNICODE:
        return str(value).encode("utf-16-le")
    if type_ is _T.STRING8:
        return str(value).encode("cp1252", errors="replace")
    if type_ is _T.GUID:
        return uuid.UUID(str(value)).bytes_le
    return bytes(value)


def _pack_multi(type_: p.PropType, values: Any, stream: str) -> tuple[int, list[Stream]]:
    single = type_.single
    if single in _FIXED:
        if single is _T.BOOLEAN:
            data = b"".join(struct.pack("<H", int(bool(v))) for v in values)
        else:
            size = struct.calcsize(_FIXED[single])
            data = b"".join(_pack_fixed(single, v)[:size] for v in values)
        return len(data), [Stream(stream, data)]
    if single is _T.GUID:
        data = b"".join(v.bytes_le for v in values)
        return len(data), [Stream(stream, data)]
    streams, lengths = [], bytearray()
    for index, value in enumerate(values):
        data = _pack_variable(single, value)
        if single is _T.BINARY:
            lengths += struct.pack("<II", len(data), 0)
        else:
            data += b"\0\0" if single is _T.UNICODE else b"\0"
            lengths += struct.pack("<I", len(data))
        streams.append(Stream(f"{stream}-{index:08X}", data))
    return len(lengths), [Stream(stream, bytes(lengths)), *streams]
