"""The safe XML readers: ``parse_xml`` for a document in memory, ``iter_xml`` for a long
one read a child of the root at a time."""

from __future__ import annotations

import io

import pytest

from openprotocols.errors import ParseError
from openprotocols.formats._xml import iter_xml, parse_xml


def long_document(children: int) -> bytes:
    body = b"".join(b"<r><h>/%d</h></r><!-- c --><?pi x?>" % n for n in range(children))
    return b'<?xml version="1.0"?><m xmlns="DAV:">' + body + b"<t>token</t></m>"


def test_iter_xml_yields_the_root_then_each_child_and_drops_the_ones_read() -> None:
    nodes = iter_xml(io.BytesIO(long_document(5000)), format="test")
    root = next(nodes)
    assert root.tag == "{DAV:}m"
    seen = []
    for child in nodes:
        seen.append(child.findtext("{DAV:}h") or child.text)
        assert len(root) < 2000  # read ahead a parser chunk at most, never the whole
    assert seen == [f"/{n}" for n in range(5000)] + ["token"]
    assert len(root) == 0


def test_iter_xml_agrees_with_parse_xml() -> None:
    data = long_document(50)
    whole = [child.findtext("{DAV:}h") for child in parse_xml(data, format="test")]
    nodes = iter_xml(io.BytesIO(data), format="test")
    next(nodes)
    assert [child.findtext("{DAV:}h") for child in nodes] == whole


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not well-formed"),
        (b"<m><r>", "not well-formed"),
        (long_document(3000)[:-10], "not well-formed"),
        (b'<!DOCTYPE m [<!ENTITY a "b">]><m><r>&a;</r></m>', "DOCTYPE"),
        (b"<!DOCTYPE m><m/>", "DOCTYPE"),
        (b'<!DOCTYPE m SYSTEM "http://127.0.0.1:9/x.dtd"><m/>', "DOCTYPE"),
        (b"<m><r>&undefined;</r></m>", "not well-formed"),
        (b"<m/><extra/>", "not well-formed"),
    ],
)
def test_iter_xml_refuses_what_parse_xml_refuses(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        list(iter_xml(io.BytesIO(data), format="test"))
    with pytest.raises(ParseError):
        parse_xml(data, format="test")
