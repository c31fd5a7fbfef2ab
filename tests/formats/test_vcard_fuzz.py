"""Fuzzing the vCard parser with mutated corpus files: only openprotocols errors escape.

``OPENPROTOCOLS_FUZZ_EXAMPLES`` sets the number of inputs (500 by default; CI runs
20,000 or more).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprotocols.errors import OpenProtocolsError
from openprotocols.formats import vcard

CORPUS = sorted((Path(__file__).parent / "corpus" / "vcard").glob("*.vcf"))
SEEDS = [path.read_bytes() for path in CORPUS]
EXAMPLES = int(os.environ.get("OPENPROTOCOLS_FUZZ_EXAMPLES", "500"))
SPECIAL = [
    b":", b";", b"=", b",", b"\\", b'"', b"\r", b"\n", b"\r\n", b" ", b"\t", b"^", b".",
    b"\xff", b"\xc3", b"\x00", b"BEGIN:VCARD\r\n", b"END:VCARD\r\n", b"=\r\n",
    b"ENCODING=QUOTED-PRINTABLE", b"ENCODING=b", b"data:", b"base64,", b"urn:uuid:",
    b"--0229", b"TYPE=", b"VALUE=text", b"item1.", b"KIND:group\r\n",
]  # fmt: skip


def _shuffle(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    """The lines permuted, some duplicated or dropped."""
    if draw(st.booleans()):
        lines = list(draw(st.permutations(lines)))
    for pick in draw(st.lists(st.integers(0, 1000), max_size=4)):
        if not lines:
            break
        index = pick % len(lines)
        if draw(st.booleans()):
            lines.insert(index, lines[index])
        else:
            del lines[index]
    return lines


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A corpus file with byte flips, special-byte insertions, truncation, or its lines
    dropped, duplicated, shuffled and spliced with other files' lines."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "lines", "splice", "cut"]))
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(st.sampled_from(SPECIAL))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif kind == "cut":
            del data[position:]
        elif kind == "splice":
            lines = bytes(data).split(b"\n")
            other = draw(st.sampled_from(SEEDS)).split(b"\n")
            at = position % len(lines)
            lines[at:at] = draw(st.lists(st.sampled_from(other), max_size=4))
            data = bytearray(b"\n".join(lines))
        else:
            data = bytearray(b"\n".join(_shuffle(draw, bytes(data).split(b"\n"))))
    return bytes(data)


@pytest.mark.timeout(max(120, EXAMPLES // 100))  # about 3 ms an input, with room to spare
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=mutated())
def test_only_openprotocols_errors_escape(data: bytes) -> None:
    """Any mutated input parses or raises an openprotocols error; what parses re-serializes
    and parses back to the same items."""
    try:
        parsed = vcard.parse(data)
    except OpenProtocolsError:
        return
    out = vcard.serialize(parsed)
    assert vcard.parse(out).items == parsed.items
