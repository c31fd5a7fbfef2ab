"""Mozilla autoconfig (Thunderbird's ``config-v1.1.xml``, the ISPDB format).

:func:`parse` reads a configuration document into its incoming and outgoing servers, in
the document's order of preference, plus the CalDAV/CardDAV entries some providers add.
Placeholders (``%EMAILADDRESS%``, ``%EMAILLOCALPART%``, ``%EMAILDOMAIN%``,
``%REALNAME%``) are filled in when the address is given. Parsing is safe and
namespace-tolerant (see :mod:`openprotocols.formats._xml`).
"""

from __future__ import annotations

import attrs
from lxml import etree

from openprotocols.errors import ParseError
from openprotocols.formats._xml import children, local_name, parse_xml, text_of
from openprotocols.model._base import to_tuple

__all__ = ["Config", "DavServer", "Server", "fill_placeholders", "parse"]

_FORMAT = "autoconfig"
SOCKET_TYPES = {"plain": "plain", "ssl": "SSL", "starttls": "STARTTLS", "tls": "SSL"}


@attrs.frozen(kw_only=True)
class Server:
    """An ``<incomingServer>`` or ``<outgoingServer>``."""

    type: str
    """``imap``, ``pop3``, ``smtp`` (or whatever the document says, lower-cased)."""
    hostname: str
    port: int | None = None
    socket_type: str = "plain"
    """``SSL`` (implicit TLS), ``STARTTLS`` or ``plain``, normalised."""
    username: str | None = None
    authentication: tuple[str, ...] = attrs.field(default=(), converter=to_tuple)
    """The methods in the document's order (``password-cleartext``, ``OAuth2``...)."""


@attrs.frozen(kw_only=True)
class DavServer:
    """An ``<addressBook>`` or ``<calendar>`` entry (a common extension of the format)."""

    type: str
    url: str
    username: str | None = None
    authentication: tuple[str, ...] = attrs.field(default=(), converter=to_tuple)


@attrs.frozen(kw_only=True)
class Config:
    """A parsed ``clientConfig`` document."""

    provider_id: str | None = None
    domains: tuple[str, ...] = attrs.field(default=(), converter=to_tuple)
    display_name: str | None = None
    incoming: tuple[Server, ...] = attrs.field(default=(), converter=to_tuple)
    outgoing: tuple[Server, ...] = attrs.field(default=(), converter=to_tuple)
    calendars: tuple[DavServer, ...] = attrs.field(default=(), converter=to_tuple)
    address_books: tuple[DavServer, ...] = attrs.field(default=(), converter=to_tuple)


def fill_placeholders(text: str, email: str, real_name: str | None = None) -> str:
    """Replace the autoconfig placeholders in ``text`` with parts of ``email``."""
    local, _, domain = email.rpartition("@")
    for name, value in (
        ("%EMAILADDRESS%", email),
        ("%EMAILLOCALPART%", local),
        ("%EMAILDOMAIN%", domain),
        ("%REALNAME%", real_name or ""),
    ):
        text = text.replace(name, value)
    return text


def _server(element: etree._Element, fill: dict[str, str | None]) -> Server:
    hostname = _filled(text_of(element, "hostname"), fill)
    if not hostname:
        raise ParseError(f"<{local_name(element)}> without a hostname", format=_FORMAT)
    port_text = text_of(element, "port")
    if port_text is not None and (not port_text.isdigit() or not 0 < int(port_text) < 65536):
        raise ParseError(f"port {port_text!r} is not a port number", format=_FORMAT)
    socket_text = (text_of(element, "socketType") or "plain").lower()
    if socket_text not in SOCKET_TYPES:
        raise ParseError(f"unknown socketType {socket_text!r}", format=_FORMAT)
    return Server(
        type=(element.get("type") or "").lower(),
        hostname=hostname,
        port=int(port_text) if port_text else None,
        socket_type=SOCKET_TYPES[socket_text],
        username=_filled(text_of(element, "username"), fill),
        authentication=[(a.text or "").strip() for a in children(element, "authentication")],
    )


def _dav(element: etree._Element, fill: dict[str, str | None]) -> DavServer | None:
    url = _filled(text_of(element, "serverURL"), fill)
    if not url:
        return None
    return DavServer(
        type=(element.get("type") or "").lower(),
        url=url,
        username=_filled(text_of(element, "username"), fill),
        authentication=[(a.text or "").strip() for a in children(element, "authentication")],
    )


def _filled(text: str | None, fill: dict[str, str | None]) -> str | None:
    if text is None:
        return None
    email = fill.get("email")
    return fill_placeholders(text, email, fill.get("real_name")) if email else text


def parse(data: bytes, *, email: str | None = None, real_name: str | None = None) -> Config:
    """Read a ``clientConfig`` document; with ``email``, fill in its placeholders.

    :raises ParseError: the document is unsafe, malformed, or not an autoconfig document.
    """
    root = parse_xml(data, format=_FORMAT)
    if local_name(root) != "clientConfig":
        raise ParseError(
            f"root element is <{local_name(root)}>, not <clientConfig>", format=_FORMAT
        )
    provider = next(children(root, "emailProvider"), None)
    if provider is None:
        raise ParseError("no <emailProvider> element", format=_FORMAT)
    fill: dict[str, str | None] = {"email": email, "real_name": real_name}
    calendars = [_dav(e, fill) for e in children(root, "calendar")]
    books = [_dav(e, fill) for e in children(root, "addressBook")]
    return Config(
        provider_id=provider.get("id"),
        domains=[(d.text or "").strip().lower() for d in children(provider, "domain")],
        display_name=text_of(provider, "displayName"),
        incoming=[_server(e, fill) for e in children(provider, "incomingServer")],
        outgoing=[_server(e, fill) for e in children(provider, "outgoingServer")],
        calendars=[c for c in calendars if c is not None],
        address_books=[b for b in books if b is not None],
    )
