"""The one network layer every connection of openprotocols goes through.

A :class:`Network` decides, for every connection the library opens (HTTP, DNS, IMAP,
SMTP, POP3):

- how names are resolved: a dnspython resolver (the system's by default), after the
  host/port *overrides* in the style of ``curl --resolve`` / ``--connect-to`` have been
  applied, so tests and embedders behind split DNS can point any name anywhere;
- which certificates are trusted: the system store, or a CA bundle (a path or PEM bytes);
- how long to wait: connect and read timeouts, always set;
- what needs the user's consent: clear text, or a host outside the user's domain. The
  *consent callback* is asked; without one the answer is no, and :class:`ConsentRequired`
  is raised. Nothing is ever sent before that.

A ``Network`` is an immutable value; build one and hand it to everything::

    net = Network(
        overrides={"autodiscover.example.test:443": "127.0.0.1:8443"},
        ca_bundle="/path/to/ca.pem",
        consent=lambda request: request.kind is ConsentKind.FOREIGN_HOST,
    )

TLS is always verified (certificate chain and host name); there is no switch to turn that
off. An override changes where a connection goes, never the name it is verified against.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ConfigurationError, ConnectionError, ConsentRequired, TimeoutError

if TYPE_CHECKING:
    import dns.resolver
    import niquests

__all__ = [
    "ConsentCallback",
    "ConsentKind",
    "ConsentRequest",
    "Network",
    "Override",
    "Timeouts",
]

log = logging.getLogger(__name__)


class ConsentKind(enum.StrEnum):
    """What a :class:`ConsentRequest` asks the user to allow."""

    CLEAR_TEXT = "clear-text"
    """Sending data (maybe a password) without TLS."""
    FOREIGN_HOST = "foreign-host"
    """Talking to a host outside the user's registrable domain (an SRV target, a redirect)."""


@attrs.frozen(kw_only=True)
class ConsentRequest:
    """A question for the consent callback: may openprotocols do this?

    ``host`` and ``port`` are where the connection would go; ``domain`` is the user's
    own domain when the question is about a foreign host; ``reason`` explains in one
    sentence why the library wants to do it (for showing to the user).
    """

    kind: ConsentKind
    protocol: str
    host: str
    port: int | None = None
    domain: str | None = None
    reason: str = ""

    def __str__(self) -> str:
        where = f"{self.host}:{self.port}" if self.port else self.host
        if self.kind is ConsentKind.CLEAR_TEXT:
            text = f"{self.protocol} to {where} without encryption"
        else:
            text = f"{self.protocol} to {where}, outside {self.domain or 'your domain'}"
        return f"{text}: {self.reason}" if self.reason else text


ConsentCallback = Callable[[ConsentRequest], bool]
"""Answers a :class:`ConsentRequest`: ``True`` allows, ``False`` refuses."""


def _split_host_port(text: str) -> tuple[str, int | None]:
    """Split ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or None
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:  # a bare host name or a bare IPv6 address
        host, port = text, None
    if not host:
        raise ConfigurationError(f"no host in {text!r}")
    try:
        number = int(port) if port else None
    except ValueError:
        raise ConfigurationError(f"bad port in {text!r}") from None
    if number is not None and not 0 < number < 65536:
        raise ConfigurationError(f"port out of range in {text!r}")
    return host.lower().rstrip("."), number


@attrs.frozen
class Override:
    """Send connections for ``host`` (on ``port``, or any port) to ``address`` (on ``to_port``,
    or the same port). Certificates are still checked against ``host``."""

    host: str
    port: int | None
    address: str
    to_port: int | None = None

    @classmethod
    def parse(cls, source: str, target: str) -> Override:
        """Build from ``"host[:port]"`` and ``"address[:port]"`` (IPv6 in brackets)."""
        host, port = _split_host_port(source)
        address, to_port = _split_host_port(target)
        return cls(host, port, address, to_port)

    def matches(self, host: str, port: int) -> bool:
        """Whether this override applies to a connection to ``host:port``."""
        return self.host == host.lower().rstrip(".") and self.port in (None, port)


def _overrides(
    value: Mapping[str, str] | Iterable[Override] | None,
) -> tuple[Override, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return tuple(Override.parse(k, v) for k, v in value.items())
    return tuple(value)


def _ca_bundle(value: str | Path | bytes | None) -> str | bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    path = Path(value)
    if not path.is_file():
        raise ConfigurationError(f"CA bundle {str(path)!r} does not exist")
    return str(path)


@attrs.frozen
class Timeouts:
    """Seconds to wait for a connection to open, and for each read once it is open."""

    connect: float = 15.0
    read: float = 60.0


@attrs.frozen(kw_only=True)
class Network:
    """How openprotocols reaches the network. See the module documentation.

    :param resolver: a dnspython resolver for every name lookup (A/AAAA, SRV, TXT);
        ``None`` uses the operating system's resolver for addresses and a resolver
        configured from the system for other records.
    :param overrides: ``{"host[:port]": "address[:port]"}`` or :class:`Override` values.
    :param ca_bundle: trusted CA certificates (a PEM file path or PEM bytes) instead of
        the system store.
    :param timeouts: connect and read timeouts.
    :param consent: the consent callback; ``None`` refuses everything that needs consent.
    """

    resolver: dns.resolver.Resolver | None = None
    overrides: tuple[Override, ...] = attrs.field(default=(), converter=_overrides)
    ca_bundle: str | bytes | None = attrs.field(default=None, converter=_ca_bundle)
    timeouts: Timeouts = attrs.field(factory=Timeouts)
    consent: ConsentCallback | None = attrs.field(default=None, eq=False)

    # -- consent -----------------------------------------------------------------

    def require_consent(self, request: ConsentRequest) -> None:
        """Ask the consent callback; return if it allows, else raise.

        :raises ConsentRequired: no callback is set, or it refused.
        """
        if self.consent is not None and self.consent(request):
            log.info("Consent given: %s", request)
            return
        raise ConsentRequired(f"consent needed for {request}", reason=request)

    # -- names -------------------------------------------------------------------

    def target(self, host: str, port: int) -> tuple[str, int]:
        """Where a connection to ``host:port`` really goes, after the overrides."""
        for override in self.overrides:
            if override.matches(host, port):
                return override.address, override.to_port or port
        return host, port

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        """The socket addresses to try, in order, for a connection to ``host:port``.

        :raises ConnectionError: the name does not resolve.
        """
        address, port = self.target(host, port)
        if _is_ip(address):
            return [(address, port)]
        if self.resolver is None:
            try:
                infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise ConnectionError(f"cannot resolve {address}: {exc}") from exc
            return _unique((str(info[4][0]), port) for info in infos)
        return [(ip, port) for ip in self._dns_addresses(address)]

    def _dns_addresses(self, name: str) -> list[str]:
        import dns.exception
        import dns.resolver

        assert self.resolver is not None
        found: list[str] = []
        errors: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = self.resolver.resolve(name, rdtype, search=False)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException as exc:
                errors.append(str(exc))
                continue
            found.extend(str(rr.address) for rr in answer)
        if not found:
            why = "; ".join(errors) or "no such host"
            raise ConnectionError(f"cannot resolve {name}: {why}")
        return found

    def dns(self) -> dns.resolver.Resolver:
        """The dnspython resolver for record lookups (SRV, TXT, MX)."""
        if self.resolver is not None:
            return self.resolver
        import dns.resolver

        resolver = dns.resolver.Resolver()
        resolver.lifetime = self.timeouts.connect
        return resolver

    # -- connections -------------------------------------------------------------

    def connect(self, host: str, port: int) -> socket.socket:
        """Open a TCP connection to ``host:port`` (after overrides), trying each address.

        The socket has the read timeout set. TLS, if any, is the caller's next step, with
        :meth:`ssl_context` and ``server_hostname=host``.

        :raises TimeoutError: no address answered in time.
        :raises ConnectionError: no address could be reached.
        """
        last: OSError | None = None
        for address in self.resolve(host, port):
            try:
                sock = socket.create_connection(address, timeout=self.timeouts.connect)
            except OSError as exc:
                last = exc
                continue
            sock.settimeout(self.timeouts.read)
            return sock
        where = f"{host}:{port}"
        if isinstance(last, socket.timeout):
            raise TimeoutError(f"connecting to {where} timed out", url=where) from last
        raise ConnectionError(f"cannot connect to {where}: {last}", url=where) from last

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context: chain and host name verified, TLS 1.2 or later."""
        if isinstance(self.ca_bundle, bytes):
            context = ssl.create_default_context(cadata=self.ca_bundle.decode("ascii"))
        else:
            context = ssl.create_default_context(cafile=self.ca_bundle)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def http_session(self, **options: Any) -> niquests.Session:
        """A new HTTP session that resolves, trusts and times out as this network says.

        The caller owns the session and closes it. Trust is fixed for the session (the
        connection pool ignores a per-request ``verify``), so do not pass ``verify`` to
        its requests. The session keeps no cookies: nothing one server set can travel to
        another host, or from an https answer to a plain-http request.
        """
        from http.cookiejar import DefaultCookiePolicy

        import niquests

        from ._http import NetworkResolver

        session = niquests.Session(
            resolver=NetworkResolver(self),
            timeout=(self.timeouts.connect, self.timeouts.read),
            **options,
        )
        session.verify = self.ca_bundle if self.ca_bundle is not None else True
        session.trust_env = False  # no proxies or .netrc credentials from the environment
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=()))
        return session


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _unique(items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return list(dict.fromkeys(items))
