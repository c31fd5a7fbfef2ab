"""The compound file writer: every file it writes is read back by olefile, strictly.

olefile is an independent reader; it is opened with ``raise_defects=DEFECT_UNSURE`` (its
strictest level, stricter than DEFECT_INCORRECT), so any defect it notices fails the test.
On top of that :func:`check_file` checks what olefile does not: the red-black trees and
their MS-CFB order, unused directory entries, zero timestamps, no unmapped sectors.
"""

from __future__ import annotations

import io
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import olefile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprotocols.errors import InvalidItemError, ParseError
from openprotocols.outlook import _cfb
from openprotocols.outlook._cfb import Storage, Stream, read, write

NOSTREAM = 0xFFFFFFFF
FREESECT = 0xFFFFFFFF
FATSECT = 0xFFFFFFFD
DIFSECT = 0xFFFFFFFC
RED, BLACK = 0, 1
UNUSED_ENTRY = bytes(68) + b"\xff" * 12 + bytes(48)

# Upper case of the non-ASCII letters the tests use, written out by hand (Unicode's simple
# mapping) so that the order checked does not come from the code under test.
UPPER = {"é": "É", "ï": "Ï", "ö": "Ö", "ß": "ß", "ω": "Ω", "ж": "Ж", "ᾳ": "ᾼ", "ÿ": "Ÿ"}
UPPER.update((char, char) for char in "ÉÏÖΩЖᾼŸÜÆΣ中日本語😀")
ALPHABET = "aAbBzZ09_ .-éÉßωΩжЖ中ᾳᾼÿŸ😀"


def cfb_key(name: str) -> tuple[int, list[int]]:
    """MS-CFB's order for the names in these tests: length in UTF-16 units, then upper case."""
    upper = "".join(char.upper() if char.isascii() else UPPER[char] for char in name)
    encoded = upper.encode("utf-16-le")
    return len(name.encode("utf-16-le")) // 2, list(
        struct.unpack(f"<{len(encoded) // 2}H", encoded)
    )


def open_strict(data: bytes) -> Any:
    ole = olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_UNSURE)
    assert ole.parsing_issues == []
    return ole


def expected(storage: Storage, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Path -> bytes (stream) or CLSID (storage) of a tree we wrote."""
    found: dict[tuple[str, ...], Any] = {}
    for entry in storage.entries:
        where = (*path, entry.name)
        if isinstance(entry, Stream):
            found[where] = entry.data
        else:
            found[where] = ("storage", entry.clsid)
            found.update(expected(entry, where))
    return found


def clsid_text(clsid: bytes) -> str:
    """olefile's spelling of a CLSID ('' for none)."""
    return "" if clsid == bytes(16) else str(uuid.UUID(bytes_le=clsid)).upper()


def seen_by_olefile(data: bytes) -> dict[tuple[str, ...], Any]:
    """Path -> bytes or CLSID as olefile reads the file, checking sizes on the way."""
    found: dict[tuple[str, ...], Any] = {}
    with open_strict(data) as ole:
        for path in ole.listdir(streams=True, storages=True):
            if ole.get_type(path) == olefile.STGTY_STREAM:
                content = ole.openstream(path).read()
                assert ole.get_size(path) == len(content)
                found[tuple(path)] = content
            else:
                found[tuple(path)] = ("storage", ole.getclsid(path))
    return found


def olefile_view(tree: dict[tuple[str, ...], Any]) -> dict[tuple[str, ...], Any]:
    return {
        path: ("storage", clsid_text(value[1])) if isinstance(value, tuple) else value
        for path, value in tree.items()
    }


def check_file(data: bytes) -> None:
    """Everything olefile does not check itself."""
    assert data[:8] == bytes.fromhex("D0CF11E0A1B11AE1")
    assert struct.unpack_from("<HHHHH", data, 24) == (0x3E, 3, 0xFFFE, 9, 6)
    assert len(data) % 512 == 0
    with open_strict(data) as ole:
        sectors = len(data) // 512 - 1
        fat = list(ole.fat[:sectors])
        assert FREESECT not in fat, "a sector is neither used nor mapped"
        assert fat.count(FATSECT) == ole.num_fat_sectors
        assert fat.count(DIFSECT) == ole.num_difat_sectors
        root = ole.direntries[0]
        assert (root.name, root.entry_type) == ("Root Entry", olefile.STGTY_ROOT)
        assert (root.sid_left, root.sid_right) == (NOSTREAM, NOSTREAM)
        used = {0}
        for entry in ole.direntries:
            if entry is None:
                continue
            assert (entry.createTime, entry.modifyTime, entry.dwUserFlags) == (0, 0, 0)
            if entry.entry_type == olefile.STGTY_STORAGE:
                assert (entry.isectStart, entry.size) == (0, 0)
            if entry.entry_type in (olefile.STGTY_ROOT, olefile.STGTY_STORAGE):
                names = list(check_tree(ole, entry.sid_child, used))
                keys = [cfb_key(name) for name in names]
                assert keys == sorted(keys), names
                assert len(set(map(repr, keys))) == len(keys)
        raw = ole.directory_fp.getvalue()
        unused = [raw[i : i + 128] for i in range(0, len(raw), 128) if i // 128 not in used]
        assert len(unused) < 4
        assert all(entry == UNUSED_ENTRY for entry in unused)


def check_tree(ole: Any, top: int, used: set[int]) -> Iterator[str]:
    """The names of one storage's children in tree order; asserts the red-black rules."""
    names: list[str] = []

    def walk(sid: int, parent_red: bool) -> int:
        if sid == NOSTREAM:
            return 1
        assert sid not in used
        used.add(sid)
        entry = ole.direntries[sid]
        red = entry.color == RED
        assert entry.color in (RED, BLACK)
        assert not (red and parent_red), "a red node has a red child"
        left = walk(entry.sid_left, red)
        names.append(entry.name)
        right = walk(entry.sid_right, red)
        assert left == right, "paths with different numbers of black nodes"
        return left + (0 if red else 1)

    if top != NOSTREAM:
        assert ole.direntries[top].color == BLACK, "the root of a tree is red"
    walk(top, False)
    return iter(names)


def roundtrip(root: Storage) -> bytes:
    """Write, then check the file with olefile and with read(); return the bytes."""
    data = write(root)
    check_file(data)
    assert seen_by_olefile(data) == olefile_view(expected(root))
    back = read(data)
    assert expected(back) == expected(root)
    assert back.clsid == root.clsid
    return data


def pattern(size: int, seed: int = 0) -> bytes:
    """Bytes that differ from sector to sector, so a misplaced sector is noticed."""
    block = bytes((seed + i) % 251 for i in range(251))
    return (block * (size // 251 + 1))[:size]


# --- files of every shape ----------------------------------------------------------------


def test_empty_root_is_the_minimal_file() -> None:
    data = roundtrip(Storage("ignored"))
    assert len(data) == 3 * 512  # header, one FAT sector, one directory sector
    assert read(data) == Storage("Root Entry")


def test_empty_stream_points_nowhere() -> None:
    data = roundtrip(Storage("", (Stream("empty", b""), Stream("one", b"1"))))
    with open_strict(data) as ole:
        entry = ole.direntries[ole._find(["empty"])]
        assert (entry.isectStart, entry.size) == (0xFFFFFFFE, 0)


@pytest.mark.parametrize(
    "size", [1, 63, 64, 65, 511, 512, 513, 4095, 4096, 4097, 8192, 8193, 100_000]
)
def test_stream_sizes_around_sector_and_cutoff_boundaries(size: int) -> None:
    data = roundtrip(Storage("", (Stream("s", pattern(size)), Stream("t", pattern(7, 3)))))
    with open_strict(data) as ole:
        assert ole.direntries[ole._find(["s"])].is_minifat == (size < 4096)


def test_mini_stream_spanning_many_mini_sectors() -> None:
    streams = tuple(Stream(f"s{i}", pattern(size, i)) for i, size in enumerate(range(1, 4096, 97)))
    data = roundtrip(Storage("", streams))
    with open_strict(data) as ole:
        assert ole.num_mini_fat_sectors > 1  # more than 128 mini sectors
        assert ole.root.size == sum(-(-len(s.data) // 64) * 64 for s in streams)


def test_mixed_mini_and_regular_streams_in_nested_storages() -> None:
    inner = Storage(
        "__attach_version1.0_#00000000",
        (Stream("__substg1.0_37010102", pattern(20_000, 1)), Stream("x", pattern(100, 2))),
        clsid=bytes(range(16)),
    )
    root = Storage(
        "",
        (inner, Stream("__properties_version1.0", pattern(4095, 3)), Stream("e", b"")),
        clsid=bytes(range(16, 32)),
    )
    roundtrip(root)


def test_hundreds_of_entries_in_one_storage() -> None:
    names = [f"__substg1.0_{i:04X}001F" for i in range(600)] + [f"n{i}" for i in range(99)]
    root = Storage("", tuple(Stream(name, pattern(i % 300, i)) for i, name in enumerate(names)))
    data = roundtrip(root)
    with open_strict(data) as ole:
        assert len(ole.root.kids) == len(names)


def test_deep_nesting() -> None:
    node = Storage("leaf", (Stream("data", b"deep"),))
    for level in range(120):
        node = Storage(f"level{level}", (node, Stream("s", pattern(level))))
    roundtrip(Storage("", (node,)))


@pytest.mark.parametrize(
    ("sectors", "difat"),
    [
        (13842, 0),  # 1 directory + 13842 data sectors: 109 FAT sectors, all in the header
        (13843, 1),  # one more: a 110th FAT sector, listed in a DIFAT sector
        (30000, 2),  # 236 FAT sectors: two chained DIFAT sectors
    ],
)
def test_large_files_get_difat_sectors(sectors: int, difat: int) -> None:
    data = roundtrip(Storage("", (Stream("big", pattern(sectors * 512, 5)),)))
    assert len(data) > 7_000_000
    with open_strict(data) as ole:
        assert ole.num_difat_sectors == difat


def test_fat_and_difat_sizing_is_sufficient_and_minimal() -> None:
    for data_sectors in [*range(300), *range(13700, 14200), *range(29900, 30500)]:
        fat, difat = _cfb._fat_sectors(data_sectors)
        assert difat == max(0, -(-(fat - 109) // 127))
        assert fat * 128 >= data_sectors + fat + difat
        smaller = fat - 1
        smaller_difat = max(0, -(-(smaller - 109) // 127))
        assert smaller * 128 < data_sectors + smaller + smaller_difat


def test_non_ascii_names() -> None:
    names = ["Ünïcödé", "日本語", "😀", "ß", "Σ", "Æ", "😀" * 15 + "a"]  # the last: 31 units
    inner = Storage("日本語", tuple(Stream(name, name.encode()) for name in names))
    roundtrip(Storage("", (inner, *(Stream(name, b"x") for name in names[3:]))))


def test_children_follow_ms_cfb_order() -> None:
    """Shorter names first, then by upper case: "_" (0x5F) sorts after "a" (as "A", 0x41)."""
    given_order = ["abc", "_", "Ab", "C", "aa", "b", "a", "éa", "Éb"]
    data = roundtrip(Storage("", tuple(Stream(name, b"") for name in given_order)))
    with open_strict(data) as ole:
        names = list(check_tree(ole, ole.root.sid_child, set()))
    assert names == ["a", "b", "C", "_", "aa", "Ab", "éa", "Éb", "abc"]
    assert [entry.name for entry in read(data).entries] == names


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 100])
def test_trees_of_every_shape_are_red_black(count: int) -> None:
    roundtrip(Storage("", tuple(Stream(f"n{i:03}", b"") for i in range(count))))


def test_output_is_deterministic_and_ignores_entry_order() -> None:
    streams = [Stream(f"s{i}", pattern(i * 50, i)) for i in range(40)]
    first = write(Storage("", (*streams, Storage("x", tuple(streams)))))
    again = write(Storage("", (*streams, Storage("x", tuple(streams)))))
    shuffled = write(Storage("", (Storage("x", tuple(reversed(streams))), *streams[::-1])))
    assert first == again == shuffled


def test_same_name_in_different_storages_is_fine() -> None:
    roundtrip(Storage("", (Stream("a", b"1"), Storage("s", (Stream("A", b"2"),)))))


def test_stream_repr_does_not_dump_data() -> None:
    assert repr(Stream("s", bytes(10_000))) == "Stream(name='s', data=<10000 bytes>)"


# --- random trees ------------------------------------------------------------------------

NAMES = st.text(st.sampled_from(ALPHABET), min_size=1, max_size=15)
DATA = st.one_of(
    st.binary(max_size=200),
    st.tuples(st.integers(0, 9000), st.integers(0, 250)).map(lambda t: pattern(*t)),
)
CLSIDS = st.just(bytes(16)) | st.binary(min_size=16, max_size=16)


def children(entries: st.SearchStrategy[Storage | Stream]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(
        entries,
        max_size=8,
        unique_by=(lambda e: repr(cfb_key(e.name)), lambda e: e.name.lower()),
    ).map(tuple)


TREES = st.recursive(
    st.builds(Stream, NAMES, DATA),
    lambda inner: st.builds(Storage, NAMES, children(inner), CLSIDS),
    max_leaves=25,
)


@settings(max_examples=60, deadline=None)
@given(entries=children(TREES), clsid=CLSIDS)
def test_random_trees_round_trip(entries: tuple[Any, ...], clsid: bytes) -> None:
    root = Storage("", entries, clsid)
    data = roundtrip(root)
    assert write(Storage("other", entries, clsid)) == data


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "is empty"),
        ("a/b", "contains '/'"),
        ("a\\b", "contains '/'"),
        ("a:b", "contains '/'"),
        ("a!b", "contains '/'"),
        ("a\x00b", "null character"),
        ("x" * 32, "longer than 31 UTF-16 code units"),
        ("😀" * 16, "longer than 31 UTF-16 code units"),
        ("\ud800", "lone surrogate"),
    ],
)
def test_bad_names_are_refused(name: str, message: str) -> None:
    root = Storage("", (Storage("outer", (Stream(name, b""),)),))
    with pytest.raises(InvalidItemError, match=message) as info:
        write(root)
    assert "/outer/" in str(info.value)


def test_root_name_is_not_checked() -> None:
    roundtrip(Storage("any/name:at!all" * 5))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Subject", "SUBJECT"),
        ("é", "É"),
        ("ᾳ", "ᾼ"),
        ("K", "\u212a"),  # Kelvin sign: lower-cases to "k", which olefile treats as equal
    ],
)
def test_duplicate_names_are_refused(first: str, second: str) -> None:
    root = Storage("", (Stream(first, b"1"), Storage(second)))
    with pytest.raises(InvalidItemError, match="already has an entry"):
        write(root)


def test_bad_clsid_is_refused() -> None:
    with pytest.raises(InvalidItemError, match="16 bytes"):
        write(Storage("", (Storage("s", clsid=b"short"),)))
    with pytest.raises(InvalidItemError, match="16 bytes"):
        write(Storage("", clsid=bytes(17)))


def test_too_big_a_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real limit is 2 GiB; lowered here so that the test does not need the memory."""
    monkeypatch.setattr(_cfb, "_MAX_FILE_SIZE", 100_000)
    write(Storage("", (Stream("s", bytes(90_000)),)))
    with pytest.raises(InvalidItemError, match="too big"):
        write(Storage("", (Stream("s", bytes(100_000)),)))


def test_wrong_types_are_refused() -> None:
    with pytest.raises(TypeError):
        write(Storage("", ("not an entry",)))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Stream("s", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        read("text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"/etc/passwd",  # olefile would open short bytes as a path: we never let it
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
        bytes(4096),
    ],
)
def test_read_refuses_what_is_not_a_compound_file(data: bytes) -> None:
    with pytest.raises(ParseError, match="compound file"):
        read(data)


def test_read_refuses_truncated_and_corrupt_files() -> None:
    good = write(Storage("", (Stream("big", pattern(10_000)), Stream("small", b"abc"))))
    with pytest.raises(ParseError):
        read(good[:-512])
    corrupt = bytearray(good)
    corrupt[512:516] = struct.pack("<I", 0xFFFFFFFE)  # the FAT sector no longer marks itself
    corrupt[512 + 4 * 5 : 512 + 4 * 6] = struct.pack("<I", 9999)  # a chain leads nowhere
    with pytest.raises(ParseError):
        read(bytes(corrupt))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_read_of_damaged_files_gives_a_tree_or_a_parse_error(data: st.DataObject) -> None:
    good = write(
        Storage(
            "",
            (
                Stream("big", pattern(5000)),
                Storage("s", (Stream("a", b"abc"), Stream("b", pattern(700)))),
            ),
        )
    )
    damaged = bytearray(good)
    for _ in range(data.draw(st.integers(1, 8))):
        offset = data.draw(st.integers(0, len(good) - 1))
        damaged[offset] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(good)))
    try:
        tree = read(bytes(damaged[:cut]))
    except ParseError:
        return
    assert isinstance(tree, Storage)
