"""Discovery through Mozilla autoconfig (Thunderbird's ``config-v1.1.xml``), HTTPS only.

For ``ann@example.org`` the provider tries, and stops at the first configuration:

1. ``https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=ann%40example.org``;
2. ``https://example.org/.well-known/autoconfig/mail/config-v1.1.xml``;
3. the ISPDB directory the caller supplied (:meth:`AutoconfigProvider.with_ispdb`): a
   file ``example.org`` or ``example.org.xml`` in Thunderbird's ISPDB format;
4. the MX lookup: the most preferred MX host of ``example.org``, say
   ``mx1.hoster.net``, names the provider ``hoster.net`` (its registrable domain); that
   domain is another domain, so nothing of it is used before the consent callback
   approved ``autoconfig.hoster.net``; then the ISPDB directory's ``hoster.net`` entry,
   then ``https://autoconfig.hoster.net/mail/config-v1.1.xml?emailaddress=...``.

Unlike Thunderbird, plain ``http://`` is never asked (a configuration from plain HTTP
could be forged on the way). Redirects are followed only from https to https, to a host
inside the user's registrable domain or one the consent callback approved, at most ten
per run. Autoconfig never sends credentials, whatever ``password`` is. Placeholders
(``%EMAILADDRESS%``, ``%EMAILLOCALPART%``...) are filled in by
:func:`openprotocols.formats.autoconfig.parse`.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from openprotocols._domains import normalise_host, registrable_domain
from openprotocols.backends._http_fetch import (
    REDIRECT_STATUSES,
    Failure,
    HostGate,
    RedirectBudget,
    check_url,
    fetch,
    is_domain_name,
    url_host,
)
from openprotocols.backends.discovery import DiscoveryAttempt, DiscoveryProvider, Outcome
from openprotocols.errors import ConfigurationError, ParseError
from openprotocols.formats import autoconfig
from openprotocols.formats.autoconfig import Config, DavServer, Server
from openprotocols.hookspecs import hookimpl
from openprotocols.model._base import Secret
from openprotocols.model.accounts import AuthMechanism, Endpoint, Security, default_port
from openprotocols.plugins import DiscoveryRegistry

if TYPE_CHECKING:
    import niquests

__all__ = ["AutoconfigProvider", "endpoints_from_config"]

log = logging.getLogger(__name__)

_SECURITY = {"SSL": Security.SSL, "STARTTLS": Security.STARTTLS, "plain": Security.NONE}
_AUTH = {
    "password-cleartext": AuthMechanism.PASSWORD,
    "plain": AuthMechanism.PASSWORD,
    "password-encrypted": AuthMechanism.PASSWORD,
    "secure": AuthMechanism.PASSWORD,
    "oauth2": AuthMechanism.OAUTH2,
    "none": AuthMechanism.NONE,
    "client-ip-address": AuthMechanism.NONE,
}


def _auth(methods: tuple[str, ...]) -> AuthMechanism:
    """The first method of the document's list that openprotocols can do."""
    for method in methods:
        mechanism = _AUTH.get(method.lower())
        if mechanism is not None:
            return mechanism
    return AuthMechanism.PASSWORD


def _mail_endpoint(server: Server, email: str) -> Endpoint:
    security = _SECURITY[server.socket_type]
    return Endpoint(
        protocol=server.type,
        host=normalise_host(server.hostname),
        port=server.port or default_port(server.type, security),
        security=security,
        username=server.username or email,
        auth=_auth(server.authentication),
    )


def _dav_endpoint(protocol: str, dav: DavServer, email: str) -> Endpoint | None:
    parts = urllib.parse.urlsplit(dav.url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return Endpoint(
        protocol=protocol,
        host=normalise_host(parts.hostname),
        port=port,
        security=Security.SSL if parts.scheme == "https" else Security.NONE,
        username=dav.username or email,
        auth=_auth(dav.authentication),
        path=parts.path or "/",
    )


def endpoints_from_config(config: Config, email: str) -> tuple[tuple[Endpoint, ...], list[str]]:
    """The IMAP/POP3, SMTP, CalDAV and CardDAV endpoints of a configuration, in the
    document's order, and notes on what was left out.

    ``socketType`` ``SSL`` is implicit TLS, ``STARTTLS`` required STARTTLS, ``plain``
    clear text (which later needs consent). A missing ``username`` means the address.
    """
    endpoints: list[Endpoint] = []
    notes: list[str] = []
    for server in (*config.incoming, *config.outgoing):
        if server.type not in ("imap", "pop3", "smtp"):
            notes.append(f"{server.type or 'untyped'} server {server.hostname} not used")
            continue
        endpoint = _mail_endpoint(server, email)
        endpoints.append(endpoint)
        clear = (
            " (no encryption: needs clear-text consent)" if server.socket_type == "plain" else ""
        )
        notes.append(
            f"{endpoint.protocol} {endpoint.host}:{endpoint.port} {endpoint.security}{clear}"
        )
    for protocol, entries in (("caldav", config.calendars), ("carddav", config.address_books)):
        for dav in entries:
            dav_endpoint = _dav_endpoint(protocol, dav, email)
            if dav_endpoint is None:
                notes.append(f"{protocol} URL {dav.url!r} not used")
                continue
            endpoints.append(dav_endpoint)
            notes.append(f"{protocol} {dav_endpoint.url}")
    return tuple(endpoints), notes


class AutoconfigProvider(DiscoveryProvider):
    """Settings from Mozilla autoconfig documents: the domain's own, an ISPDB directory,
    the MX host's provider (with consent). Never sends credentials."""

    name = "autoconfig"
    order = 30

    ispdb_directory: ClassVar[Path | None] = None
    """A directory in Thunderbird's ISPDB format (files ``<domain>`` or ``<domain>.xml``)."""

    @classmethod
    def with_ispdb(cls, directory: str | os.PathLike[str]) -> type[AutoconfigProvider]:
        """A subclass that also looks domains up in ``directory`` (an ISPDB copy).

        :raises ConfigurationError: ``directory`` is not a directory.
        """
        folder = Path(directory)
        if not folder.is_dir():
            raise ConfigurationError(f"ISPDB directory {str(folder)!r} does not exist")
        attributes = {
            "ispdb_directory": folder,
            "__module__": cls.__module__,
            "__doc__": cls.__doc__,
        }
        return type(cls.__name__, (cls,), attributes)

    def discover(self, email: str, *, password: Secret | None = None) -> Iterator[DiscoveryAttempt]:
        checked = self.check_address(email)
        if isinstance(checked, DiscoveryAttempt):
            yield checked
            return
        email, _, domain = checked
        with self.network.http_session() as session:
            run = _Run(self, session, email, domain)
            yield from run.go()


class _Run:
    """One autoconfig run: the host gate, the redirect budget, the URLs asked."""

    def __init__(
        self, provider: AutoconfigProvider, session: niquests.Session, email: str, domain: str
    ) -> None:
        self.provider = provider
        self.session = session
        self.email = email
        self.domain = domain
        self.gate = HostGate(provider.network, domain, protocol=provider.name)
        self.budget = RedirectBudget()
        self.urls: set[str] = set()
        self.found = False

    def _query(self, host: str) -> str:
        address = urllib.parse.quote(self.email, safe="@")
        return f"https://{host}/mail/config-v1.1.xml?emailaddress={address}"

    def go(self) -> Iterator[DiscoveryAttempt]:
        domain = self.domain
        yield from self.fetch_chain(self._query(f"autoconfig.{domain}"), source=None)
        if not self.found:
            well_known = f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml"
            yield from self.fetch_chain(well_known, source=None)
        if not self.found:
            yield from self.ispdb(domain)
        if not self.found:
            yield from self.mx(domain)

    def fetch_chain(self, url: str, *, source: str | None) -> Iterator[DiscoveryAttempt]:
        """GET ``url`` and follow https redirects until a document or a dead end."""
        current = url
        while True:
            if current in self.urls:
                yield self.provider.attempt(
                    current, Outcome.REFUSED, "a redirect loop: asked already"
                )
                return
            self.urls.add(current)
            host, port = url_host(current)
            where = f"redirected from {source}" if source else f"autoconfig for {self.email}"
            why = self.gate.permit(host, port, reason=where)
            if why:
                yield self.provider.attempt(current, Outcome.REFUSED, f"{why}; nothing sent")
                return
            answer = fetch(self.session, "GET", current)
            if isinstance(answer, Failure):
                yield self.provider.attempt(current, answer.outcome, answer.reason)
                return
            if answer.status not in REDIRECT_STATUSES:
                yield self._document(current, answer.status, answer.body)
                return
            target = urllib.parse.urljoin(current, (answer.location or "").strip())
            why = check_url(target) if answer.location else "no Location"
            if why:
                reason = f"HTTP {answer.status} to {target}: {why}"
                yield self.provider.attempt(current, Outcome.REFUSED, reason)
                return
            if not self.budget.take():
                yield self.provider.attempt(target, Outcome.REFUSED, self.budget.refusal)
                return
            yield self.provider.attempt(
                current, Outcome.REDIRECTED, f"HTTP {answer.status}: redirected to {target}"
            )
            source, current = current, target

    def _document(self, target: str, status: int, body: bytes) -> DiscoveryAttempt:
        if status != 200:
            return self.provider.attempt(target, Outcome.NOT_FOUND, f"HTTP {status}")
        return self._config(target, body)

    def _config(self, target: str, data: bytes) -> DiscoveryAttempt:
        try:
            config = autoconfig.parse(data, email=self.email)
        except ParseError as exc:
            return self.provider.attempt(target, Outcome.ERROR, str(exc))
        endpoints, notes = endpoints_from_config(config, self.email)
        if not endpoints:
            return self.provider.attempt(
                target, Outcome.NOT_FOUND, f"no usable server: {'; '.join(notes) or 'empty'}"
            )
        self.found = True
        provider = f"{config.provider_id}: " if config.provider_id else ""
        return self.provider.attempt(target, Outcome.FOUND, provider + "; ".join(notes), endpoints)

    def ispdb(self, domain: str) -> Iterator[DiscoveryAttempt]:
        """The entry for ``domain`` in the caller's ISPDB directory, if there is one."""
        directory = self.provider.ispdb_directory
        if directory is None:
            return
        for name in (domain, f"{domain}.xml"):
            path = directory / name
            if path.is_file():
                break
        else:
            yield self.provider.attempt(f"ISPDB {domain}", Outcome.NOT_FOUND, f"not in {directory}")
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield self.provider.attempt(str(path), Outcome.ERROR, f"cannot read: {exc}")
            return
        yield self._config(str(path), data)

    def mx(self, domain: str) -> Iterator[DiscoveryAttempt]:
        """The provider named by the most preferred MX host, with consent."""
        import dns.exception
        import dns.resolver

        try:
            answer = self.provider.network.dns().resolve(domain, "MX", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            yield self.provider.attempt(f"MX {domain}", Outcome.NOT_FOUND, "no MX record")
            return
        except dns.exception.DNSException as exc:
            yield self.provider.attempt(f"MX {domain}", Outcome.ERROR, f"DNS lookup failed: {exc}")
            return
        best = min(answer, key=lambda rr: rr.preference)
        exchange = normalise_host(str(best.exchange))
        provider = registrable_domain(exchange) if is_domain_name(exchange) else None
        if provider is None:
            yield self.provider.attempt(
                f"MX {domain}", Outcome.NOT_FOUND, f"MX {exchange!r}: no provider domain"
            )
            return
        if provider == registrable_domain(domain):
            yield self.provider.attempt(
                f"MX {domain}",
                Outcome.NOT_FOUND,
                f"MX {exchange} is inside {domain}: asked already",
            )
            return
        host = f"autoconfig.{provider}"
        why = self.gate.permit(
            host, 443, reason=f"the MX record of {domain} points to {exchange} ({provider})"
        )
        if why:
            yield self.provider.attempt(f"MX {domain}", Outcome.REFUSED, f"MX {exchange}: {why}")
            return
        yield self.provider.attempt(
            f"MX {domain}", Outcome.REDIRECTED, f"MX {exchange}: asking {provider}"
        )
        yield from self.ispdb(provider)
        if not self.found:
            yield from self.fetch_chain(self._query(host), source=f"the MX record of {domain}")


@hookimpl
def openprotocols_register_discovery_providers(registry: DiscoveryRegistry) -> None:
    """Register the autoconfig provider."""
    registry.add(AutoconfigProvider)
