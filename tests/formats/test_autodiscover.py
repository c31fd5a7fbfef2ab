"""Autodiscover and autoconfig XML: every element, the defaults, and hostile documents."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from openprotocols.errors import ParseError
from openprotocols.formats import autoconfig, autodiscover
from openprotocols.formats._xml import MAX_DOCUMENT

# The seed's own sample (shared/seeds/002), namespaces exactly as printed there.
SEED_POP3_SMTP = b"""<?xml version="1.0" encoding="utf-8" ?>
<Autodiscover xmlns="https://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
<Response xmlns="https://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
<Account>
<AccountType>email</AccountType>
<Action>settings</Action>
<Protocol>
<Type>POP3</Type>
<Server>mail.server.com</Server>
<Port>995</Port>
<DomainRequired>off</DomainRequired>
<SPA>off</SPA>
<SSL>on</SSL>
<AuthRequired>on</AuthRequired>
</Protocol>
<Protocol>
<Type>IMAP</Type>
<Server>mail.server.com</Server>
<Port>993</Port>
</Protocol>
<Protocol>
<Type>SMTP</Type>
<Server>mail.server.com</Server>
<Port>587</Port>
<DomainRequired>off</DomainRequired>
<SPA>off</SPA>
<SSL>on</SSL>
<AuthRequired>on</AuthRequired>
<UsePOPAuth>on</UsePOPAuth>
<SMTPLast>on</SMTPLast>
</Protocol>
</Account>
</Response>
</Autodiscover>
"""

# What Exchange really sends: http:// namespaces, a User, Exchange protocol types.
EXCHANGE = b"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User><DisplayName>Ann Example</DisplayName></User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol>
        <Type>EXCH</Type>
        <Server>3f2a@contoso.test</Server>
        <ServerDN>/o=Contoso/ou=Exchange</ServerDN>
        <EwsUrl>https://outlook.contoso.test/EWS/Exchange.asmx</EwsUrl>
        <TTL>0</TTL>
      </Protocol>
      <Protocol>
        <Type>imap</Type>
        <Server>outlook.contoso.test</Server>
        <Port>993</Port>
        <LoginName>ann@contoso.test</LoginName>
        <Encryption>SSL</Encryption>
        <SSL>1</SSL>
        <DomainRequired>0</DomainRequired>
        <ExpirationDate>20271231</ExpirationDate>
        <TTL>168</TTL>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>
"""


def redirect(action: str, element: str, value: str) -> bytes:
    """A redirect response without any namespace (some servers send that too)."""
    return (
        f"<Autodiscover><Response><Account><AccountType>email</AccountType>"
        f"<Action>{action}</Action><{element}>{value}</{element}></Account></Response>"
        f"</Autodiscover>"
    ).encode()


def test_seed_sample_in_server_order_with_defaults() -> None:
    """The seed's sample parses, protocols in server order, defaults where absent."""
    response = autodiscover.parse_response(SEED_POP3_SMTP)
    assert response.action is autodiscover.Action.SETTINGS
    assert response.account_type == "email"
    assert [p.type for p in response.protocols] == ["POP3", "IMAP", "SMTP"]
    pop3, imap, smtp = response.protocols
    assert (pop3.server, pop3.port, pop3.spa, pop3.ssl, pop3.domain_required) == (
        "mail.server.com",
        995,
        False,
        True,
        False,
    )
    # IMAP has none of the flags: the schema's defaults apply.
    assert (imap.spa, imap.ssl, imap.auth_required, imap.domain_required) == (
        True,
        True,
        True,
        False,
    )
    assert (imap.use_pop_auth, imap.smtp_last, imap.ttl) == (False, False, dt.timedelta(hours=1))
    assert (smtp.use_pop_auth, smtp.smtp_last) == (True, True)
    assert response.protocol("smtp") is smtp


def test_exchange_response_keeps_every_element() -> None:
    """http:// namespaces, Exchange types, unknown elements, TTL 0, dates and 1/0 flags."""
    response = autodiscover.parse_response(EXCHANGE)
    assert response.display_name == "Ann Example"
    exch, imap = response.protocols
    assert exch.type == "EXCH"
    assert exch.element("ewsurl") == "https://outlook.contoso.test/EWS/Exchange.asmx"
    assert exch.ttl is None  # 0 hours: no rediscovery needed
    assert [name for name, _ in exch.elements] == ["Type", "Server", "ServerDN", "EwsUrl", "TTL"]
    assert imap.type == "IMAP"
    assert (imap.login_name, imap.encryption, imap.ssl) == ("ann@contoso.test", "SSL", True)
    assert imap.expiration_date == dt.date(2027, 12, 31)
    assert imap.ttl == dt.timedelta(hours=168)


def test_redirects() -> None:
    """redirectUrl and redirectAddr carry their targets; missing targets are errors."""
    url = autodiscover.parse_response(
        redirect("redirectUrl", "RedirectUrl", "https://autodiscover.hoster.test/a.xml")
    )
    assert (url.action, url.redirect_url) == (
        autodiscover.Action.REDIRECT_URL,
        "https://autodiscover.hoster.test/a.xml",
    )
    addr = autodiscover.parse_response(redirect("redirectAddr", "RedirectAddr", "b@x.test"))
    assert (addr.action, addr.redirect_addr) == (autodiscover.Action.REDIRECT_ADDR, "b@x.test")
    with pytest.raises(ParseError, match="without a RedirectUrl"):
        autodiscover.parse_response(redirect("redirectUrl", "Other", "x"))


def test_error_answer_is_returned_not_raised() -> None:
    """An <Error> response is data: the caller records it in the trace."""
    data = (
        b"<Autodiscover><Response><Error Time='1' Id='2'><ErrorCode>500</ErrorCode>"
        b"<Message>The e-mail address cannot be found.</Message><DebugData/></Error>"
        b"</Response></Autodiscover>"
    )
    response = autodiscover.parse_response(data)
    assert response.action is None
    assert response.error == autodiscover.AutodiscoverError(
        code="500", message="The e-mail address cannot be found.", debug_data=""
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not well-formed"),
        (b"<Autodiscover><Response>", "not well-formed"),
        (b"<html><body>It works!</body></html>", "not <Autodiscover>"),
        (b"<Autodiscover/>", "no <Response>"),
        (b"<Autodiscover><Response/></Autodiscover>", "no <Account>"),
        (redirect("dance", "X", "y"), "unknown Action"),
        (SEED_POP3_SMTP.replace(b"<Port>995", b"<Port>99999"), "not a port"),
        (SEED_POP3_SMTP.replace(b"<SPA>off", b"<SPA>maybe"), "SPA must be on or off"),
        (SEED_POP3_SMTP.replace(b"<Type>IMAP</Type>", b""), "without a Type"),
    ],
)
def test_malformed_responses(data: bytes, message: str) -> None:
    """Documents that break the schema raise ParseError saying why."""
    with pytest.raises(ParseError, match=message):
        autodiscover.parse_response(data)


def test_xxe_reads_no_file(tmp_path: Path) -> None:
    """An external entity is refused, and the file it names is never read."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]>'
        f"<Autodiscover><Response><Account><Action>settings</Action>"
        f"<AccountType>&x;</AccountType></Account></Response></Autodiscover>"
    ).encode()
    with pytest.raises(ParseError) as info:
        autodiscover.parse_response(data)
    assert "TOP-SECRET" not in str(info.value)


def test_billion_laughs_fails_fast() -> None:
    """Entity expansion bombs are refused quickly."""
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = (
        f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l0 "lol">{entities}]>'
        f"<Autodiscover>&l9;</Autodiscover>"
    ).encode()
    start = time.monotonic()
    with pytest.raises(ParseError):
        autodiscover.parse_response(data)
    assert time.monotonic() - start < 2


def test_oversize_document_is_refused_before_parsing() -> None:
    """A response larger than the cap is refused by size."""
    data = b"<Autodiscover>" + b" " * MAX_DOCUMENT + b"</Autodiscover>"
    with pytest.raises(ParseError, match="exceeds"):
        autodiscover.parse_response(data)


def test_str_input_is_refused() -> None:
    """Only bytes are parsed."""
    with pytest.raises(TypeError):
        autodiscover.parse_response(SEED_POP3_SMTP.decode())  # type: ignore[arg-type]


def test_build_request_escapes_and_names_the_schema() -> None:
    """The request carries the address (XML-escaped) and the acceptable response schema."""
    body = autodiscover.build_request("a&b<c>@example.test")
    assert b"<EMailAddress>a&amp;b&lt;c&gt;@example.test</EMailAddress>" in body
    assert autodiscover.RESPONSE_SCHEMA.encode() in body
    from lxml import etree

    assert etree.fromstring(body).tag == f"{{{autodiscover.REQUEST_SCHEMA}}}Autodiscover"


AUTOCONFIG = b"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <domain>Example.ORG</domain>
    <displayName>Example Mail</displayName>
    <incomingServer type="imap">
      <hostname>imap.example.test</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.test</hostname>
      <port>110</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.%EMAILDOMAIN%</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
  <calendar type="caldav">
    <serverURL>https://dav.example.test/cal/%EMAILADDRESS%/</serverURL>
  </calendar>
  <addressBook type="carddav">
    <serverURL>https://dav.example.test/card/</serverURL>
  </addressBook>
</clientConfig>
"""


def test_autoconfig_servers_in_order_with_placeholders() -> None:
    """Servers keep their order; placeholders are filled from the address."""
    config = autoconfig.parse(AUTOCONFIG, email="ann@example.test")
    assert config.domains == ("example.test", "example.org")
    imap, pop3 = config.incoming
    assert (imap.type, imap.hostname, imap.port, imap.socket_type) == (
        "imap",
        "imap.example.test",
        993,
        "SSL",
    )
    assert imap.username == "ann@example.test"
    assert imap.authentication == ("OAuth2", "password-cleartext")
    assert (pop3.username, pop3.socket_type) == ("ann", "STARTTLS")
    (smtp,) = config.outgoing
    assert smtp.hostname == "smtp.example.test"
    assert config.calendars[0].url == "https://dav.example.test/cal/ann@example.test/"
    assert config.address_books[0].type == "carddav"


def test_autoconfig_without_address_keeps_placeholders() -> None:
    """Without an address the placeholders stay as written."""
    config = autoconfig.parse(AUTOCONFIG)
    assert config.incoming[0].username == "%EMAILADDRESS%"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<clientConfig/>", "no <emailProvider>"),
        (b"<other/>", "not <clientConfig>"),
        (AUTOCONFIG.replace(b"<socketType>SSL", b"<socketType>carrier-pigeon"), "socketType"),
        (AUTOCONFIG.replace(b"<port>993", b"<port>x"), "not a port"),
        (AUTOCONFIG.replace(b"<hostname>imap.example.test</hostname>", b""), "without a host"),
    ],
)
def test_autoconfig_malformed(data: bytes, message: str) -> None:
    """Broken autoconfig documents raise ParseError saying why."""
    with pytest.raises(ParseError, match=message):
        autoconfig.parse(data)
