"""Accounts and the endpoints (servers) they talk to.

An :class:`Account` is who the user is (an e-mail address and a name) plus the servers
that hold their data: one :class:`Endpoint` per protocol. Passwords are :class:`Secret`
values, so neither ``repr(account)`` nor a log line can reveal them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from openprotocols.errors import ConfigurationError

from ._base import Address, Secret, to_tuple

__all__ = ["Account", "AccountOptions", "AuthMechanism", "Endpoint", "Security", "default_port"]


class Security(enum.StrEnum):
    """How a connection is protected."""

    SSL = "ssl"
    """TLS from the first byte (implicit TLS: IMAPS 993, SMTPS 465, HTTPS 443)."""
    STARTTLS = "starttls"
    """Clear text first, then upgraded with STARTTLS, which is *required*: a server that
    does not offer it is refused, never silently used in clear text."""
    NONE = "none"
    """Clear text. Only ever used with the user's explicit consent."""


_WELL_KNOWN_PORTS = {
    ("imap", True): 993,
    ("imap", False): 143,
    ("pop3", True): 995,
    ("pop3", False): 110,
    ("smtp", True): 465,  # RFC 8314 submission over implicit TLS
    ("smtp", False): 587,  # submission (RFC 6409), STARTTLS or clear
    ("caldav", True): 443,
    ("caldav", False): 80,
    ("carddav", True): 443,
    ("carddav", False): 80,
}


def default_port(protocol: str, security: Security | str) -> int | None:
    """The well-known port of ``protocol`` under ``security`` (implicit TLS or not), or
    ``None`` for a protocol without one."""
    return _WELL_KNOWN_PORTS.get((protocol, Security(security) is Security.SSL))


class AuthMechanism(enum.StrEnum):
    """How to authenticate on an endpoint."""

    PASSWORD = "password"  # noqa: S105 - the mechanism's name, not a password
    """The best password mechanism the server offers (AUTH PLAIN/LOGIN, HTTP Basic/Digest)."""
    OAUTH2 = "oauth2"
    """A bearer token from the account's token provider (XOAUTH2 / OAUTHBEARER / Bearer)."""
    NONE = "none"
    """No authentication (an anonymous directory, a test server)."""


def _secret(value: Secret | str | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


def _port(value: int | None) -> int | None:
    if value is None:
        return None
    port = int(value)
    if not 0 < port < 65536:
        raise ConfigurationError(f"port {value!r} is not between 1 and 65535")
    return port


@attrs.frozen(kw_only=True)
class Endpoint:
    """One server the account uses for one protocol.

    ``protocol`` is a backend name (``"imap"``, ``"smtp"``, ``"caldav"``, ``"carddav"``...).
    ``path`` is the URL path for HTTP-based protocols (``/dav/``); a local backend (a
    directory of files, a MAPI store) has no host or port and uses ``path`` alone.
    The password is kept as a :class:`Secret`; pass a ``str`` and it is wrapped.
    """

    protocol: str
    host: str = ""
    port: int | None = attrs.field(default=None, converter=_port)
    security: Security = attrs.field(default=Security.SSL, converter=Security)
    username: str | None = None
    password: Secret | None = attrs.field(default=None, converter=_secret)
    auth: AuthMechanism = attrs.field(default=AuthMechanism.PASSWORD, converter=AuthMechanism)
    path: str = ""

    @property
    def url(self) -> str:
        """The endpoint as a URL without credentials (``https://dav.example.org:8443/dav/``);
        ``protocol:path`` for a local endpoint."""
        if not self.host:
            return f"{self.protocol}:{self.path}"
        secure = self.security is not Security.NONE
        scheme = {
            "caldav": "https" if secure else "http",
            "carddav": "https" if secure else "http",
            "http": "https" if secure else "http",
        }.get(self.protocol, self.protocol + ("s" if self.security is Security.SSL else ""))
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{scheme}://{host}{port}{self.path}"


@attrs.frozen(kw_only=True)
class AccountOptions:
    """The behaviour switches of an account (the seed product's account dialog)."""

    sender_name: str | None = None
    """The name shown in From (defaults to the account's display name)."""
    reply_to: Address | None = None
    send_on_behalf_of: Address | None = None
    """Mail goes out From this address with the account as Sender (RFC 5322 section 3.6.2)."""
    smtp_auth_same_as_incoming: bool = True
    download_entire_messages: bool = False
    """Whole messages instead of headers first, bodies on demand."""
    update_folders_at_startup: bool = True
    concurrent_sync: bool = True
    """``False`` syncs one folder at a time (the seed's "no concurrent sync")."""
    troubleshooting: bool = False
    """Verbose protocol logging; credentials are still redacted."""


@attrs.frozen(kw_only=True)
class Account:
    """A user's identity and the servers that hold their data."""

    email: str = attrs.field()
    display_name: str | None = None
    endpoints: tuple[Endpoint, ...] = attrs.field(factory=tuple, converter=to_tuple)
    options: AccountOptions = attrs.field(factory=AccountOptions)

    @email.validator
    def _check_email(self, _: object, value: str) -> None:
        local, at, domain = value.rpartition("@")
        if not (at and local and domain) or any(c.isspace() for c in value):
            raise ConfigurationError(f"{value!r} is not an e-mail address")

    @property
    def domain(self) -> str:
        """The part of the address after the ``@``, lower-cased."""
        return self.email.rpartition("@")[2].lower()

    @property
    def address(self) -> Address:
        """The account's own mailbox, with its display name."""
        return Address(self.email, self.display_name)

    def endpoint(self, protocol: str) -> Endpoint:
        """Return the first endpoint for ``protocol``.

        :raises ConfigurationError: the account has no endpoint for that protocol.
        """
        for endpoint in self.endpoints:
            if endpoint.protocol == protocol:
                return endpoint
        raise ConfigurationError(f"account {self.email} has no {protocol} endpoint")

    def with_endpoints(self, endpoints: Iterable[Endpoint]) -> Account:
        """Return a copy whose endpoints for the given protocols are replaced by these."""
        new = tuple(endpoints)
        replaced = {e.protocol for e in new}
        kept = tuple(e for e in self.endpoints if e.protocol not in replaced)
        return attrs.evolve(self, endpoints=kept + new)
