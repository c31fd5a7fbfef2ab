"""Outlook Autodiscover (POX): the request a client POSTs and the response it reads.

Implements the schema of "Automatically configure Office Outlook 2007 user accounts"
(``shared/seeds/002``): :func:`build_request` makes the POST body, :func:`parse_response`
reads every element of a response, applying the documented defaults (SPA, SSL and
AuthRequired default to on; DomainRequired, SMTPLast and UsePOPAuth to off; TTL to one
hour), and keeps the protocols in the server's order of preference. Exchange's protocol
types (EXCH, EXPR, EXHTTP) and any element the schema does not name are kept too, in
:attr:`Protocol.elements`.

Parsing is namespace-tolerant — elements are matched by local name, case-insensitively,
because real servers use ``http://`` where the documentation says ``https://`` and worse
— and safe: see :mod:`openprotocols.formats._xml`.
"""

from __future__ import annotations

import datetime as dt
import enum
from xml.sax.saxutils import escape

import attrs
from lxml import etree

from openprotocols.errors import ParseError
from openprotocols.formats._xml import children, local_name, parse_xml, text_of
from openprotocols.model._base import to_tuple

__all__ = [
    "REQUEST_SCHEMA",
    "RESPONSE_SCHEMA",
    "Action",
    "AutodiscoverError",
    "Protocol",
    "Response",
    "build_request",
    "parse_response",
]

REQUEST_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
_FORMAT = "Autodiscover"
DEFAULT_TTL = dt.timedelta(hours=1)


class Action(enum.StrEnum):
    """What a response asks the client to do."""

    SETTINGS = "settings"
    REDIRECT_URL = "redirectUrl"
    REDIRECT_ADDR = "redirectAddr"


@attrs.frozen(kw_only=True)
class Protocol:
    """One ``<Protocol>`` of a response: how to reach one server.

    Flags hold the value with the schema's default applied; ``elements`` keeps every
    child element as ``(name, text)`` in document order, including those not mapped here
    (Exchange's ``EwsUrl``, ``ASUrl``, ``ServerDN``...).
    """

    type: str
    """``POP3``, ``SMTP``, ``IMAP``, ``DAV``, ``WEB``, ``NNTP``, or an Exchange type."""
    server: str | None = None
    port: int | None = None
    login_name: str | None = None
    domain_required: bool = False
    domain_name: str | None = None
    spa: bool = True
    ssl: bool = True
    encryption: str | None = None
    """``None``, ``SSL``, ``TLS`` or ``Auto`` (Exchange 2007 SP1+); overrides ``ssl``."""
    auth_required: bool = True
    use_pop_auth: bool = False
    smtp_last: bool = False
    ttl: dt.timedelta | None = DEFAULT_TTL
    """How long the settings stay valid; ``None`` when the server said ``0`` (forever)."""
    expiration_date: dt.date | None = None
    elements: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=to_tuple)

    def element(self, name: str) -> str | None:
        """The text of the first element called ``name`` (case-insensitive), if any."""
        wanted = name.lower()
        return next((text for key, text in self.elements if key.lower() == wanted), None)


@attrs.frozen(kw_only=True)
class AutodiscoverError:
    """An ``<Error>`` answer: the server refused or failed (wrong address, no mailbox)."""

    code: str | None = None
    message: str | None = None
    debug_data: str | None = None


@attrs.frozen(kw_only=True)
class Response:
    """A parsed Autodiscover response."""

    action: Action | None = None
    """``None`` only for an :attr:`error` answer."""
    account_type: str | None = None
    redirect_url: str | None = None
    redirect_addr: str | None = None
    display_name: str | None = None
    protocols: tuple[Protocol, ...] = attrs.field(default=(), converter=to_tuple)
    """In the server's order of preference."""
    error: AutodiscoverError | None = None

    def protocol(self, type: str) -> Protocol | None:
        """The first (most preferred) protocol of ``type`` (case-insensitive), if any."""
        wanted = type.upper()
        return next((p for p in self.protocols if p.type.upper() == wanted), None)


def build_request(email: str) -> bytes:
    """The XML body of the Autodiscover POST for ``email`` (UTF-8)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\r\n'
        f'<Autodiscover xmlns="{REQUEST_SCHEMA}">\r\n'
        "  <Request>\r\n"
        f"    <EMailAddress>{escape(email)}</EMailAddress>\r\n"
        f"    <AcceptableResponseSchema>{RESPONSE_SCHEMA}</AcceptableResponseSchema>\r\n"
        "  </Request>\r\n"
        "</Autodiscover>\r\n"
    ).encode()


def _flag(value: str | None, default: bool, name: str) -> bool:
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("on", "1", "true", "yes"):
        return True
    if lowered in ("off", "0", "false", "no"):
        return False
    raise ParseError(f"{name} must be on or off, not {value!r}", format=_FORMAT)


def _port(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ParseError(f"Port {value!r} is not a port number", format=_FORMAT)
    return int(value)


def _ttl(value: str | None) -> dt.timedelta | None:
    if not value:
        return DEFAULT_TTL
    if not value.isdigit():
        raise ParseError(f"TTL {value!r} is not a number of hours", format=_FORMAT)
    hours = int(value)
    return None if hours == 0 else dt.timedelta(hours=hours)


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise ParseError(f"ExpirationDate {value!r} is not YYYYMMDD", format=_FORMAT) from None


def _protocol(element: etree._Element) -> Protocol:
    elements = tuple((local_name(child), (child.text or "").strip()) for child in children(element))
    text = {name.lower(): value for name, value in reversed(elements)}  # first one wins
    kind = text.get("type")
    if not kind:
        raise ParseError("a Protocol without a Type", format=_FORMAT)
    return Protocol(
        type=kind.upper(),
        server=text.get("server") or None,
        port=_port(text.get("port")),
        login_name=text.get("loginname") or None,
        domain_required=_flag(text.get("domainrequired"), False, "DomainRequired"),
        domain_name=text.get("domainname") or None,
        spa=_flag(text.get("spa"), True, "SPA"),
        ssl=_flag(text.get("ssl"), True, "SSL"),
        encryption=text.get("encryption") or None,
        auth_required=_flag(text.get("authrequired"), True, "AuthRequired"),
        use_pop_auth=_flag(text.get("usepopauth"), False, "UsePOPAuth"),
        smtp_last=_flag(text.get("smtplast"), False, "SMTPLast"),
        ttl=_ttl(text.get("ttl")),
        expiration_date=_date(text.get("expirationdate")),
        elements=elements,
    )


def parse_response(data: bytes) -> Response:
    """Read an Autodiscover response (also the body of a 405 static answer).

    :raises ParseError: the document is unsafe, malformed, not an Autodiscover response,
        or breaks the schema (an unknown Action, a redirect without its target, a bad
        port). An ``<Error>`` answer is not an exception: it is returned in
        :attr:`Response.error`.
    """
    root = parse_xml(data, format=_FORMAT)
    if local_name(root).lower() != "autodiscover":
        raise ParseError(
            f"root element is <{local_name(root)}>, not <Autodiscover>", format=_FORMAT
        )
    response = next(children(root, "Response"), None)
    if response is None:
        raise ParseError("no <Response> element", format=_FORMAT)
    error = next(children(response, "Error"), None)
    if error is not None:
        return Response(
            error=AutodiscoverError(
                code=text_of(error, "ErrorCode"),
                message=text_of(error, "Message"),
                debug_data=text_of(error, "DebugData"),
            )
        )
    user = next(children(response, "User"), None)
    display_name = text_of(user, "DisplayName") if user is not None else None
    account = next(children(response, "Account"), None)
    if account is None:
        raise ParseError("no <Account> element", format=_FORMAT)
    action_text = text_of(account, "Action")
    actions = {a.value.lower(): a for a in Action}
    action = actions.get((action_text or "").lower())
    if action is None:
        raise ParseError(f"unknown Action {action_text!r}", format=_FORMAT)
    redirect_url = text_of(account, "RedirectUrl") or None
    redirect_addr = text_of(account, "RedirectAddr") or None
    if action is Action.REDIRECT_URL and not redirect_url:
        raise ParseError("Action redirectUrl without a RedirectUrl", format=_FORMAT)
    if action is Action.REDIRECT_ADDR and not redirect_addr:
        raise ParseError("Action redirectAddr without a RedirectAddr", format=_FORMAT)
    return Response(
        action=action,
        account_type=text_of(account, "AccountType"),
        redirect_url=redirect_url,
        redirect_addr=redirect_addr,
        display_name=display_name or None,
        protocols=[_protocol(p) for p in children(account, "Protocol")],
    )
