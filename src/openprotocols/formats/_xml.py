"""Parsing untrusted XML safely: no entities, no DTD, no network, a size cap.

Every XML document openprotocols reads comes from a network peer that may be hostile
(an Autodiscover answer, a DAV multistatus), so there is one parser for all of them:
entities are not resolved (no XXE, no billion laughs), a document with a DOCTYPE is
refused outright, nothing is fetched, and documents above a size cap are refused before
parsing. Element names are compared by local name, because real servers get namespaces
wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from lxml import etree

from openprotocols.errors import ParseError

__all__ = ["MAX_DOCUMENT", "children", "iter_xml", "local_name", "parse_xml", "text_of"]

MAX_DOCUMENT = 1024 * 1024
"""The largest document accepted, in bytes (Autodiscover answers are a few kilobytes)."""


_SAFE: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}
"""The options of every parser here: no entities, no DTD, no network, no huge trees."""


def parse_xml(data: bytes, *, format: str, max_size: int = MAX_DOCUMENT) -> etree._Element:
    """Parse ``data`` into an element tree, refusing anything unsafe.

    :raises ParseError: the document is too large, not well-formed, has a DOCTYPE, or
        contains entity references.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{format} data must be bytes, not {type(data).__name__}")
    if len(data) > max_size:
        raise ParseError(f"document of {len(data)} bytes exceeds {max_size}", format=format)
    try:
        root = etree.fromstring(bytes(data), etree.XMLParser(collect_ids=False, **_SAFE))
    except etree.XMLSyntaxError as exc:
        raise _not_well_formed(exc, format) from exc
    if root is None:
        raise ParseError("empty document", format=format)
    _refuse_doctype(root, format)
    _refuse_entities(root, format)
    return root


def iter_xml(source: IO[bytes], *, format: str) -> Iterator[etree._Element]:
    """Read a long document a piece at a time, as safely as :func:`parse_xml`: yield
    its root element as soon as it starts (the parser may have read a few children
    ahead), then each child of the root once it is complete. A child is dropped from
    the tree when the next one is asked for, so memory holds a parser chunk's worth of
    children, whatever the document's length. ``source`` is a binary file the caller
    already capped in size.

    :raises ParseError: (while iterating) the document is not well-formed, is empty,
        has a DOCTYPE, or contains entity references.
    """
    context = etree.iterparse(source, events=("start", "end"), **_SAFE)
    depth = 0
    try:
        for event, node in context:
            if event == "start":
                depth += 1
                if depth == 1:
                    _refuse_doctype(node, format)
                    yield node
                continue
            depth -= 1
            if depth != 1:
                continue
            _refuse_entities(node, format)
            yield node
            parent = node.getparent()
            node.clear()
            if parent is not None:
                parent.remove(node)
    except etree.XMLSyntaxError as exc:
        raise _not_well_formed(exc, format) from exc


def _not_well_formed(exc: etree.XMLSyntaxError, format: str) -> ParseError:
    line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
    return ParseError(f"not well-formed XML: {exc.msg}", format=format, line=line)


def _refuse_doctype(root: etree._Element, format: str) -> None:
    if getattr(root.getroottree().docinfo, "doctype", None):  # stubs lack the attribute
        raise ParseError("a DOCTYPE is not allowed", format=format)


def _refuse_entities(element: etree._Element, format: str) -> None:
    for node in element.iter():
        if isinstance(node, etree._Entity):
            raise ParseError(
                f"entity reference &{node.name}; is not allowed",
                format=format,
                line=node.sourceline,
            )


def local_name(element: etree._Element) -> str:
    """The element's name without its namespace."""
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def children(element: etree._Element, name: str | None = None) -> Iterator[etree._Element]:
    """The child elements (named ``name``, case-insensitively, when given), in order."""
    wanted = name.lower() if name is not None else None
    for child in element:
        if isinstance(child.tag, str) and (wanted is None or local_name(child).lower() == wanted):
            yield child


def text_of(element: etree._Element, name: str) -> str | None:
    """The stripped text of the first child called ``name``, or ``None`` if absent."""
    for child in children(element, name):
        return (child.text or "").strip()
    return None
