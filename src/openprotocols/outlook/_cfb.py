"""Compound files (MS-CFB, "OLE structured storage"): the container under Outlook .msg files.

A compound file is a small FAT file system inside one file: *storages* (folders) hold
*streams* (files) and further storages. :func:`write` turns a tree of :class:`Storage` and
:class:`Stream` values into the bytes of a version 3 file (512-byte sectors); :func:`read` is a
thin wrapper over olefile (the ``outlook`` extra) that gives the same tree back.

How :func:`write` lays the file out
    Everything is planned before a byte is written: the directory (one 128-byte entry per
    storage or stream), which streams go to the mini stream (those under 4096 bytes, in 64-byte
    mini sectors inside the root entry's stream), and how many FAT and DIFAT sectors are needed
    to map all the others. Only then is the file emitted, once, into one ``bytearray``, in this
    order after the 512-byte header::

        FAT | DIFAT (only above 109 FAT sectors, ~6.8 MB) | directory | MiniFAT | mini stream
        | streams of 4096 bytes or more

    so the work is linear in the size of the output, and the size limit is checked before
    anything is allocated.

The directory
    The children of each storage get consecutive entry numbers in MS-CFB's order (shorter
    names first, then code unit by code unit after upper-casing) and are linked as the
    balanced binary search tree over that order. Its nodes on the one partly filled level
    are red and all others black, which makes it a valid red-black tree (the root is black,
    no red node has a red child, every path has the same number of black nodes).

Determinism
    Timestamps are zero and nothing depends on the order of :attr:`Storage.entries`, the
    clock or hash seeds: the same tree always gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import struct
import uuid
from collections import deque
from typing import Any, Final

import attrs

from openprotocols.errors import ConfigurationError, InvalidItemError, ParseError

__all__ = ["FORMAT", "Storage", "Stream", "read", "write"]

FORMAT: Final = "compound file"

_SECTOR: Final = 512
_MINI_SECTOR: Final = 64
_MINI_CUTOFF: Final = 4096  # streams this size or larger live in regular sectors
_ENTRY_SIZE: Final = 128
_IDS_PER_SECTOR: Final = _SECTOR // 4
_HEADER_DIFAT: Final = 109  # FAT sector numbers that fit in the header
_DIFAT_PER_SECTOR: Final = _IDS_PER_SECTOR - 1  # the last slot chains to the next DIFAT sector
_MAX_NAME_UNITS: Final = 31  # UTF-16 code units, plus the terminating null in the entry
_FORBIDDEN: Final = "/\\:!\x00"  # MS-CFB 2.6.1 forbids the first four; the null ends a name
# The range-lock sector at offset 0x7FFFFF00 would need special handling: stay below it.
_MAX_FILE_SIZE: Final = 0x7FFFFE00

_DIFSECT: Final = 0xFFFFFFFC
_FATSECT: Final = 0xFFFFFFFD
_ENDOFCHAIN: Final = 0xFFFFFFFE
_FREESECT: Final = 0xFFFFFFFF
_NOSTREAM: Final = 0xFFFFFFFF

_STORAGE: Final = 1
_STREAM: Final = 2
_ROOT: Final = 5
_RED: Final = 0
_BLACK: Final = 1

_SIGNATURE: Final = bytes.fromhex("D0CF11E0A1B11AE1")
# signature, CLSID, minor and major version, byte order, sector shifts, reserved, number of
# directory sectors (0 in version 3), FAT sectors, first directory sector, transaction
# signature, mini stream cutoff, first MiniFAT sector, MiniFAT sectors, first DIFAT sector,
# DIFAT sectors; the 109 header DIFAT slots follow.
_HEADER: Final = struct.Struct("<8s16sHHHHH6sIIIIIIIII")
# name, name length in bytes, type, colour, left, right, child, CLSID, state bits, creation
# and modification time, first sector, size.
_DIRECTORY_ENTRY: Final = struct.Struct("<64sHBBIII16sIQQIQ")
_UNUSED_ENTRY: Final = _DIRECTORY_ENTRY.pack(
    b"", 0, 0, 0, _NOSTREAM, _NOSTREAM, _NOSTREAM, bytes(16), 0, 0, 0, 0, 0
)


def _data_repr(data: bytes) -> str:
    return f"<{len(data)} bytes>"


@attrs.frozen
class Stream:
    """A named run of bytes: a file in the compound file's file system."""

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    data: bytes = attrs.field(validator=attrs.validators.instance_of(bytes), repr=_data_repr)


@attrs.frozen
class Storage:
    """A named folder of streams and storages, with an optional 16-byte class id (CLSID).

    :func:`write` sorts the entries itself, so their order here does not matter; :func:`read`
    returns them in MS-CFB's order.
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    entries: tuple[Storage | Stream, ...] = attrs.field(
        default=(), validator=attrs.validators.instance_of(tuple)
    )
    clsid: bytes = attrs.field(default=bytes(16), validator=attrs.validators.instance_of(bytes))


@attrs.define
class _Entry:
    """One directory entry while the file is planned (mutable: links are filled in later)."""

    name_utf16: bytes
    kind: int
    clsid: bytes = bytes(16)
    data: bytes = b""
    left: int = _NOSTREAM
    right: int = _NOSTREAM
    child: int = _NOSTREAM
    color: int = _BLACK
    start: int = 0
    size: int = 0


def write(root: Storage) -> bytes:
    """Return the bytes of a version 3 compound file holding ``root``'s tree.

    ``root.name`` is ignored (the root entry is always called ``Root Entry``); its CLSID is
    written. The output depends on nothing but the tree.

    :raises InvalidItemError: a name is empty, longer than 31 UTF-16 code units, contains
        ``/``, ``\\``, ``:``, ``!`` or a null character, or is not valid Unicode; two entries of
        one storage have the same name ignoring case; a CLSID is not 16 bytes; the file
        would reach 2 GiB.
    :raises TypeError: an entry is neither a :class:`Storage` nor a :class:`Stream`.
    """
    entries = _directory(root)
    layout = _Layout.plan(entries)
    return layout.emit(entries)


def read(data: bytes) -> Storage:
    """Read a compound file into a tree of :class:`Storage` and :class:`Stream` values.

    The root storage is named as in the file (``Root Entry``); the entries of every storage
    are in MS-CFB's order. Needs olefile (the ``outlook`` extra). Reading is strict: what
    olefile calls an incorrect structure is an error rather than silently truncated data.

    :raises ParseError: the data is not a well-formed compound file.
    :raises ConfigurationError: olefile is not installed.
    :raises TypeError: ``data`` is not bytes.
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"read() needs bytes, not {type(data).__name__}")
    try:
        import olefile
    except ImportError as exc:
        raise ConfigurationError(
            "reading compound files needs olefile: install openprotocols[outlook]"
        ) from exc
    try:
        # A file object, never the bytes themselves: olefile takes short bytes for a path.
        with olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT) as ole:
            return _read_storage(ole, ole.root, ())
    except ParseError:
        raise
    except Exception as exc:  # olefile raises OSError, struct.error, IndexError...: all malformed
        raise ParseError(f"malformed: {type(exc).__name__}: {exc}", format=FORMAT) from exc


# --- the directory -------------------------------------------------------------------------


def _directory(root: Storage) -> list[_Entry]:
    """The directory entries in stream-id order; entry 0 is the root.

    Storages are visited breadth first with a queue rather than recursion, so deep nesting
    cannot exhaust the stack.
    """
    entries = [
        _Entry("Root Entry".encode("utf-16-le"), _ROOT, clsid=_checked_clsid(root.clsid, "/"))
    ]
    queue: deque[tuple[Storage, int, str]] = deque([(root, 0, "")])
    while queue:
        storage, sid, path = queue.popleft()
        children = _sorted_children(storage, path)
        first = len(entries)
        for child, name_utf16 in children:
            if isinstance(child, Stream):
                entries.append(_Entry(name_utf16, _STREAM, data=child.data, size=len(child.data)))
            else:
                where = f"{path}/{child.name}"
                entries.append(
                    _Entry(name_utf16, _STORAGE, clsid=_checked_clsid(child.clsid, where))
                )
                queue.append((child, len(entries) - 1, where))
        count = len(children)
        red_depth = (count + 1).bit_length() - 1  # the first level that is not full
        entries[sid].child = _link(entries, first, first + count, 0, red_depth)
    return entries


def _sorted_children(storage: Storage, path: str) -> list[tuple[Storage | Stream, bytes]]:
    """The storage's children with their encoded names, in MS-CFB order; names checked."""
    keyed: list[tuple[tuple[int, tuple[int, ...]], Storage | Stream, bytes]] = []
    by_key: dict[tuple[int, tuple[int, ...]], str] = {}
    by_lower: dict[str, str] = {}
    for child in storage.entries:
        if not isinstance(child, Storage | Stream):
            raise TypeError(
                f"{path or '/'}: an entry must be a Storage or Stream, not {type(child).__name__}"
            )
        where = f"{path}/{child.name}"
        name_utf16 = _checked_name(child.name, where)
        key = _sort_key(name_utf16)
        # Equal under MS-CFB's upper-casing, or under the lower-casing readers such as
        # olefile use to look names up: either way one entry would hide the other.
        other = by_key.get(key) or by_lower.get(child.name.lower())
        if other is not None:
            raise InvalidItemError(
                f"compound file entry {where!r}: the storage already has an entry "
                f"named {other!r} (names are compared ignoring case)"
            )
        by_key[key] = by_lower[child.name.lower()] = child.name
        keyed.append((key, child, name_utf16))
    keyed.sort(key=lambda item: item[0])
    return [(child, name_utf16) for _, child, name_utf16 in keyed]


def _checked_name(name: str, where: str) -> bytes:
    """The name in UTF-16LE, or :class:`InvalidItemError` if MS-CFB does not allow it."""
    try:
        encoded = name.encode("utf-16-le")
    except UnicodeEncodeError:
        problem = "is not valid Unicode (it has a lone surrogate)"
    else:
        if not name:
            problem = "is empty"
        elif len(encoded) // 2 > _MAX_NAME_UNITS:
            problem = f"is longer than {_MAX_NAME_UNITS} UTF-16 code units"
        elif any(char in _FORBIDDEN for char in name):
            problem = "contains '/', '\\', ':', '!' or a null character"
        else:
            return encoded
    raise InvalidItemError(f"compound file entry {where!r}: the name {problem}")


def _checked_clsid(clsid: bytes, where: str) -> bytes:
    if len(clsid) != 16:
        raise InvalidItemError(
            f"compound file storage {where!r}: a CLSID has 16 bytes, not {len(clsid)}"
        )
    return clsid


def _sort_key(name_utf16: bytes) -> tuple[int, tuple[int, ...]]:
    """MS-CFB 2.6.4: shorter names first, then code units compared after upper-casing."""
    units = struct.unpack(f"<{len(name_utf16) // 2}H", name_utf16)
    return len(units), tuple(_upper(unit) for unit in units)


@functools.cache
def _upper(unit: int) -> int:
    """Unicode's simple upper-case mapping of one UTF-16 code unit, as MS-CFB asks.

    Surrogates stay as they are. ``str.upper`` applies the full mapping: where that gives
    several characters (``ß`` -> ``SS``), the simple mapping is the single-character title
    case if there is one (only Greek letters with iota subscript), else the unit itself.
    """
    if 0xD800 <= unit <= 0xDFFF:
        return unit
    char = chr(unit)
    for mapped in (char.upper(), char.title()):
        if len(mapped) == 1:
            return ord(mapped)
    return unit


def _link(entries: list[_Entry], low: int, high: int, depth: int, red_depth: int) -> int:
    """Link ``entries[low:high]`` (sorted) as a balanced tree; return its root's id."""
    if low >= high:
        return _NOSTREAM
    middle = (low + high) // 2
    entry = entries[middle]
    entry.left = _link(entries, low, middle, depth + 1, red_depth)
    entry.right = _link(entries, middle + 1, high, depth + 1, red_depth)
    entry.color = _RED if depth == red_depth else _BLACK
    return middle


def _pack_entry(entry: _Entry) -> bytes:
    return _DIRECTORY_ENTRY.pack(
        entry.name_utf16,
        len(entry.name_utf16) + 2,
        entry.kind,
        entry.color,
        entry.left,
        entry.right,
        entry.child,
        entry.clsid,
        0,
        0,
        0,
        entry.start,
        entry.size,
    )


# --- sectors ---------------------------------------------------------------------------------


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _fat_sectors(data_sectors: int) -> tuple[int, int]:
    """How many FAT and DIFAT sectors map ``data_sectors`` sectors plus themselves."""
    fat = _ceil_div(data_sectors, _IDS_PER_SECTOR)
    while True:
        difat = _ceil_div(max(0, fat - _HEADER_DIFAT), _DIFAT_PER_SECTOR)
        if fat * _IDS_PER_SECTOR >= data_sectors + fat + difat:
            return fat, difat
        fat += 1


def _pack_ids(ids: list[int]) -> bytes:
    return struct.pack(f"<{len(ids)}I", *ids)


def _chain(table: list[int], start: int, count: int) -> None:
    """Record a chain of ``count`` consecutive sectors from ``start`` in a FAT or MiniFAT."""
    if count:
        table[start : start + count - 1] = range(start + 1, start + count)
        table[start + count - 1] = _ENDOFCHAIN


@attrs.frozen
class _Layout:
    """Where everything goes: sector counts and the first sector of each region."""

    fat: int
    difat: int
    directory: int
    minifat: int
    mini_stream: int
    mini_sectors: int  # 64-byte sectors in the mini stream
    big: tuple[int, ...]  # sector count of each regular stream, in stream-id order

    @classmethod
    def plan(cls, entries: list[_Entry]) -> _Layout:
        mini_sectors = 0
        big = []
        for entry in entries:
            if entry.kind != _STREAM or not entry.size:
                continue
            if entry.size < _MINI_CUTOFF:
                mini_sectors += _ceil_div(entry.size, _MINI_SECTOR)
            else:
                big.append(_ceil_div(entry.size, _SECTOR))
        directory = _ceil_div(len(entries), _SECTOR // _ENTRY_SIZE)
        minifat = _ceil_div(mini_sectors, _IDS_PER_SECTOR)
        mini_stream = _ceil_div(mini_sectors * _MINI_SECTOR, _SECTOR)
        data_sectors = directory + minifat + mini_stream + sum(big)
        fat, difat = _fat_sectors(data_sectors)
        size = _SECTOR * (1 + fat + difat + data_sectors)
        if size > _MAX_FILE_SIZE:
            raise InvalidItemError(
                f"a compound file of {size} bytes is too big: version 3 files written here "
                f"stay below {_MAX_FILE_SIZE} bytes"
            )
        return cls(fat, difat, directory, minifat, mini_stream, mini_sectors, tuple(big))

    @property
    def directory_start(self) -> int:
        return self.fat + self.difat  # FAT sectors come first, then DIFAT sectors

    @property
    def minifat_start(self) -> int:
        return self.directory_start + self.directory

    @property
    def mini_stream_start(self) -> int:
        return self.minifat_start + self.minifat

    @property
    def big_start(self) -> int:
        return self.mini_stream_start + self.mini_stream

    @property
    def total(self) -> int:
        """Sectors after the header."""
        return self.big_start + sum(self.big)

    def emit(self, entries: list[_Entry]) -> bytes:
        """The file's bytes; fills in the entries' first sectors and the root's size."""
        fat = [_FREESECT] * (self.fat * _IDS_PER_SECTOR)
        fat[: self.fat] = [_FATSECT] * self.fat
        fat[self.fat : self.directory_start] = [_DIFSECT] * self.difat
        _chain(fat, self.directory_start, self.directory)
        _chain(fat, self.minifat_start, self.minifat)
        _chain(fat, self.mini_stream_start, self.mini_stream)
        minifat = [_FREESECT] * (self.minifat * _IDS_PER_SECTOR)
        streams = self._place_streams(entries, fat, minifat)

        out = bytearray(self._header())
        out += _pack_ids(fat)
        out += self._difat_sectors()
        for entry in entries:
            out += _pack_entry(entry)
        out += _UNUSED_ENTRY * (-len(entries) % (_SECTOR // _ENTRY_SIZE))
        out += _pack_ids(minifat)
        for entry in streams:
            if entry.size < _MINI_CUTOFF:
                out += entry.data
                out += bytes(-entry.size % _MINI_SECTOR)
        out += bytes(-(self.mini_sectors * _MINI_SECTOR) % _SECTOR)
        for entry in streams:
            if entry.size >= _MINI_CUTOFF:
                out += entry.data
                out += bytes(-entry.size % _SECTOR)
        assert len(out) == _SECTOR * (1 + self.total), "compound file layout is inconsistent"
        return bytes(out)

    def _place_streams(
        self, entries: list[_Entry], fat: list[int], minifat: list[int]
    ) -> list[_Entry]:
        """Give every stream its first (mini) sector; return the non-empty ones in order."""
        root = entries[0]
        root.size = self.mini_sectors * _MINI_SECTOR
        root.start = self.mini_stream_start if self.mini_sectors else _ENDOFCHAIN
        mini_next, big_next = 0, self.big_start
        streams = []
        for entry in entries:
            if entry.kind != _STREAM:
                continue
            if not entry.size:
                entry.start = _ENDOFCHAIN  # what readers expect of an empty stream
                continue
            streams.append(entry)
            if entry.size < _MINI_CUTOFF:
                count = _ceil_div(entry.size, _MINI_SECTOR)
                entry.start, mini_next = mini_next, mini_next + count
                _chain(minifat, entry.start, count)
            else:
                count = _ceil_div(entry.size, _SECTOR)
                entry.start, big_next = big_next, big_next + count
                _chain(fat, entry.start, count)
        return streams

    def _header(self) -> bytes:
        fixed = _HEADER.pack(
            _SIGNATURE,
            bytes(16),
            0x003E,  # minor version
            0x0003,  # major version: 512-byte sectors
            0xFFFE,  # byte order mark: little-endian
            9,  # sector shift: 512 bytes
            6,  # mini sector shift: 64 bytes
            bytes(6),
            0,  # number of directory sectors: always 0 in version 3
            self.fat,
            self.directory_start,
            0,  # transaction signature
            _MINI_CUTOFF,
            self.minifat_start if self.minifat else _ENDOFCHAIN,
            self.minifat,
            self.fat if self.difat else _ENDOFCHAIN,  # DIFAT sectors follow the FAT
            self.difat,
        )
        slots = list(range(min(self.fat, _HEADER_DIFAT)))
        slots += [_FREESECT] * (_HEADER_DIFAT - len(slots))
        return fixed + _pack_ids(slots)

    def _difat_sectors(self) -> bytes:
        """The FAT sector numbers beyond the header's 109, 127 per sector plus a link."""
        out = bytearray()
        for index in range(self.difat):
            first = _HEADER_DIFAT + index * _DIFAT_PER_SECTOR
            slots = list(range(first, min(first + _DIFAT_PER_SECTOR, self.fat)))
            slots += [_FREESECT] * (_DIFAT_PER_SECTOR - len(slots))
            slots.append(self.fat + index + 1 if index + 1 < self.difat else _ENDOFCHAIN)
            out += _pack_ids(slots)
        return bytes(out)


# --- reading (olefile) -----------------------------------------------------------------------


def _read_storage(ole: Any, entry: Any, path: tuple[str, ...]) -> Storage:
    """The tree below one of olefile's directory entries (olefile has no type hints)."""
    import olefile

    children: list[Storage | Stream] = []
    for kid in entry.kids:
        name = str(kid.name)
        if kid.entry_type == olefile.STGTY_STREAM:
            children.append(Stream(name, ole.openstream([*path, name]).read()))
        elif kid.entry_type == olefile.STGTY_STORAGE:
            children.append(_read_storage(ole, kid, (*path, name)))
        else:
            where = "/".join((*path, name))
            raise ParseError(
                f"entry {where!r} has type {kid.entry_type}, neither storage nor stream",
                format=FORMAT,
            )
    children.sort(key=lambda child: _sort_key(child.name.encode("utf-16-le", "surrogatepass")))
    clsid = uuid.UUID(entry.clsid).bytes_le if entry.clsid else bytes(16)
    return Storage(str(entry.name), tuple(children), clsid)
