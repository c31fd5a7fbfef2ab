"""Discovery through Outlook Autodiscover (POX), exactly in the order of seed 002, safely.

For ``ann@example.org`` the provider tries, and stops at the first answer with settings:

1. HTTPS POST ``https://example.org/autodiscover/autodiscover.xml``;
2. HTTPS POST ``https://autodiscover.example.org/autodiscover/autodiscover.xml``;
3. HTTP GET ``http://autodiscover.example.org/autodiscover/autodiscover.xml`` — only to
   follow a redirect (HTTP 3xx or an XML ``redirectUrl``) to an ``https://`` URL; settings
   served over plain HTTP are never used and nothing but the GET line is sent;
4. DNS SRV ``_autodiscover._tcp.example.org`` — only as a redirect to
   ``https://<target>:<port>/autodiscover/autodiscover.xml``;
5. if none of these found settings: the local XML override for the domain, if any
   ("the server always overrides the local XML").

Up to :data:`~openprotocols.backends._http_fetch.MAX_REDIRECTS` (10) redirects of any
kind are followed in one run (HTTP 301/302/303/307/308, Action ``redirectUrl``, Action
``redirectAddr``, an SRV target); the eleventh ends the run. A URL or an address seen
before is a loop and is not asked again. A 405 (or 200) answer carrying the XML is a
valid answer (the seed's static file).

Security — the 2021 Autodiscover leak (Guardicore: 372,072 credentials collected at
``autodiscover.<tld>`` hosts) came from clients that walked up to parent domains and sent
passwords to whoever answered. Here:

- only the exact address domain is asked; a domain that is a public suffix (``a@co.uk``,
  ``a@test``) stops the run before anything is sent;
- a host outside the user's registrable domain (Public Suffix List, private section on)
  is contacted only after the consent callback approved that host, having been told the
  user's domain and where the redirect came from; "no" ends that branch;
- the password goes only over verified HTTPS, only to such a permitted host, and only in
  answer to an HTTP 401: every POST first goes without ``Authorization``; on 401 it is
  repeated once with Basic authentication. Redirects are never followed by the HTTP
  library, so no header is carried to another host;
- a certificate error is an ``ERROR`` attempt, never a retry without verification.

Every HTTP request and DNS lookup is one
:class:`~openprotocols.backends.discovery.DiscoveryAttempt`. Answers are cached per
network, domain and address for their TTL (see :meth:`AutodiscoverProvider.clear_cache`);
credentials are never cached.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import attrs

from openprotocols._domains import normalise_host, registrable_domain
from openprotocols.backends._http_fetch import (
    REDIRECT_STATUSES,
    Failure,
    Fetched,
    HostGate,
    RedirectBudget,
    basic_authorization,
    check_url,
    fetch,
    is_domain_name,
    url_host,
)
from openprotocols.backends.discovery import DiscoveryAttempt, DiscoveryProvider, Outcome
from openprotocols.errors import ConfigurationError, ConsentRequired, ParseError
from openprotocols.formats import autodiscover
from openprotocols.formats.autodiscover import Action, Protocol, Response
from openprotocols.formats.srv import SrvRecord, is_no_service, order
from openprotocols.hookspecs import hookimpl
from openprotocols.model._base import Secret
from openprotocols.model.accounts import AuthMechanism, Endpoint, Security, default_port
from openprotocols.network import ConsentKind, ConsentRequest
from openprotocols.plugins import DiscoveryRegistry

if TYPE_CHECKING:
    import niquests

    from openprotocols.network import Network

__all__ = ["PATH", "AutodiscoverProvider", "endpoints_from"]

log = logging.getLogger(__name__)

PATH = "/autodiscover/autodiscover.xml"
"""The path of the Autodiscover service on every host."""

_IMPLICIT_TLS_PORTS = frozenset({993, 995, 465})
_STARTTLS_PORTS = frozenset({143, 110, 587, 25})
_MAIL_TYPES = {"IMAP": "imap", "POP3": "pop3", "SMTP": "smtp"}
_FOREVER = dt.datetime.max.replace(tzinfo=dt.UTC)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- settings to endpoints ---------------------------------------------------------


def _security(protocol: Protocol) -> Security:
    encryption = (protocol.encryption or "").lower()
    if encryption == "ssl":
        return Security.SSL
    if encryption == "tls":
        return Security.STARTTLS
    if encryption == "none":
        return Security.NONE
    if not encryption and not protocol.ssl:
        return Security.NONE
    # SSL on (or Encryption Auto): the port tells implicit TLS from STARTTLS.
    if protocol.port in _STARTTLS_PORTS:
        return Security.STARTTLS
    return Security.SSL


def _login_name(protocol: Protocol, email: str) -> tuple[str, str]:
    """The user name to log in with, and a note on how it was chosen."""
    if protocol.login_name:
        return protocol.login_name, ""
    local = email.rpartition("@")[0]
    if protocol.domain_required and protocol.domain_name:
        return f"{local}@{protocol.domain_name}", "login name built from DomainName"
    note = f"no LoginName: the schema's default, the local part {local!r}, is assumed"
    if protocol.domain_required:
        note += "; DomainRequired is on but no DomainName was given"
    return local, note


def endpoints_from(response: Response, email: str) -> tuple[tuple[Endpoint, ...], list[str]]:
    """The IMAP, POP3 and SMTP endpoints of a ``settings`` answer, in the server's order,
    and notes on what else it said (other protocol types, SPA, SMTPLast, defaults used).

    Security: ``Encryption`` wins (``SSL``: implicit TLS, ``TLS``: STARTTLS, ``None``:
    clear text); else ``SSL`` off means clear text (which later needs consent), and ``SSL``
    on means implicit TLS except on the STARTTLS ports 143, 110, 587 and 25. The user name
    is ``LoginName``, or the local part of ``email`` as the schema says (note: many servers
    really want the full address; the note says when the default was used).
    """
    endpoints: list[Endpoint] = []
    notes: list[str] = []
    for protocol in response.protocols:
        kind = _MAIL_TYPES.get(protocol.type)
        if kind is None:
            notes.append(f"{protocol.type} at {protocol.server or '?'} not used")
            continue
        if not protocol.server:
            notes.append(f"{protocol.type} without a Server ignored")
            continue
        security = _security(protocol)
        username, note = _login_name(protocol, email)
        extras = [note] if note else []
        if protocol.element("SPA") is not None and protocol.spa:
            extras.append("SPA requested (not supported: password authentication)")
        if protocol.smtp_last:
            extras.append("SMTPLast: receive before sending")
        if protocol.use_pop_auth:
            extras.append("UsePOPAuth: the incoming server's credentials")
        if security is Security.NONE:
            extras.append("no encryption: needs clear-text consent")
        endpoint = Endpoint(
            protocol=kind,
            host=normalise_host(protocol.server),
            port=protocol.port or default_port(kind, security),
            security=security,
            username=username,
            auth=AuthMechanism.PASSWORD if protocol.auth_required else AuthMechanism.NONE,
        )
        endpoints.append(endpoint)
        described = f"{kind} {endpoint.host}:{endpoint.port} {security}"
        notes.append(f"{described} ({'; '.join(extras)})" if extras else described)
    return tuple(endpoints), notes


def _expiry(response: Response, now: dt.datetime) -> dt.datetime:
    """When cached settings must be rediscovered: the shortest TTL (default one hour;
    ``0``: never) and the earliest ExpirationDate (the last day the settings hold)."""
    expiry = _FOREVER
    for protocol in response.protocols:
        if protocol.ttl is not None:
            expiry = min(expiry, now + protocol.ttl)
        if protocol.expiration_date is not None:
            end = dt.datetime.combine(
                protocol.expiration_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
            )
            expiry = min(expiry, end)
    if not response.protocols:
        expiry = now + autodiscover.DEFAULT_TTL
    return expiry


def _network_key(network: Network) -> object:
    """The network as a cache key: equal networks (same resolver, overrides, trust and
    timeouts; the consent callback does not count) share answers."""
    try:
        hash(network)
    except TypeError:  # an unhashable resolver: this network object alone
        return id(network)
    return network


@attrs.frozen
class _CacheEntry:
    source: str
    endpoints: tuple[Endpoint, ...]
    reason: str
    expires: dt.datetime
    foreign_hosts: frozenset[str]
    """Hosts that needed consent on the way: asked again before the entry is used."""


# -- the provider ------------------------------------------------------------------


class AutodiscoverProvider(DiscoveryProvider):
    """Settings from Outlook Autodiscover (POX), in the seed's order, safely.

    Configuration lives in class attributes, so the registry can keep holding a class:
    use :meth:`with_overrides` for local XML, :attr:`clock` to control the cache's time,
    :meth:`clear_cache` to forget cached answers.
    """

    name = "autodiscover"
    order = 20

    local_overrides: ClassVar[Mapping[str, bytes | str | os.PathLike[str]]] = {}
    """Local XML per domain (``bytes`` or a file path), used when the servers found nothing."""
    local_directory: ClassVar[Path | None] = None
    """A directory of ``<domain>.xml`` files, used like :attr:`local_overrides`."""
    clock: ClassVar[Callable[[], dt.datetime]] = staticmethod(_utcnow)
    """The time source of the cache (an aware UTC ``datetime``); replace it in tests."""

    _cache: ClassVar[dict[tuple[object, str, str], _CacheEntry]] = {}
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def with_overrides(
        cls,
        overrides: Mapping[str, bytes | str | os.PathLike[str]] | None = None,
        *,
        directory: str | os.PathLike[str] | None = None,
    ) -> type[AutodiscoverProvider]:
        """A subclass that falls back to local XML for the given domains.

        ``overrides`` maps a domain to its XML (``bytes``) or to a file; ``directory``
        holds ``<domain>.xml`` files. As in Outlook, the local XML is used only when the
        servers gave no settings. Register the class in place of the built-in one (see
        ``docs/discovery.md``) or run it directly.

        :raises ConfigurationError: ``directory`` is not a directory.
        """
        folder = Path(directory) if directory is not None else None
        if folder is not None and not folder.is_dir():
            raise ConfigurationError(f"Autodiscover override directory {str(folder)!r} missing")
        mapping = {normalise_host(k): v for k, v in (overrides or {}).items()}
        return type(
            cls.__name__,
            (cls,),
            {
                "local_overrides": mapping,
                "local_directory": folder,
                "__module__": cls.__module__,
                "__doc__": cls.__doc__,
            },
        )

    @classmethod
    def clear_cache(cls) -> None:
        """Forget every cached answer (shared by all subclasses)."""
        with AutodiscoverProvider._cache_lock:
            AutodiscoverProvider._cache.clear()

    def discover(self, email: str, *, password: Secret | None = None) -> Iterator[DiscoveryAttempt]:
        checked = self.check_address(email)
        if isinstance(checked, DiscoveryAttempt):
            yield checked
            return
        email, _, domain = checked
        key = (_network_key(self.network), domain, email.lower())
        cached = self._cached(key, domain)
        if cached is not None:
            yield cached
            return
        with self.network.http_session() as session:
            run = _Run(self, session, domain, password)
            yield from run.address(email)
        if run.found is not None:
            if run.expires > type(self).clock():
                with self._cache_lock:
                    self._cache[key] = _CacheEntry(
                        source=run.found.target,
                        endpoints=run.found.endpoints,
                        reason=run.found.reason,
                        expires=run.expires,
                        foreign_hosts=run.gate.approved,
                    )
            return
        yield from self._local(email, domain)

    def _cached(self, key: tuple[object, str, str], domain: str) -> DiscoveryAttempt | None:
        with self._cache_lock:
            entry = self._cache.get(key)
            if entry is not None and type(self).clock() >= entry.expires:
                del self._cache[key]
                entry = None
        if entry is None:
            return None
        for host in sorted(entry.foreign_hosts):
            try:
                self.network.require_consent(
                    ConsentRequest(
                        kind=ConsentKind.FOREIGN_HOST,
                        protocol=self.name,
                        host=host,
                        domain=domain,
                        reason=f"the cached Autodiscover answer came through {host}",
                    )
                )
            except ConsentRequired:
                return None
        until = (
            "no expiry"
            if entry.expires == _FOREVER
            else f"until {entry.expires:%Y-%m-%d %H:%M} UTC"
        )
        attempt = DiscoveryAttempt(
            mechanism=self.name,
            target=entry.source,
            outcome=Outcome.FOUND,
            reason=f"cached answer ({until}): {entry.reason}",
            endpoints=entry.endpoints,
        )
        log.debug("%s", attempt)
        return attempt

    def _local(self, email: str, domain: str) -> Iterator[DiscoveryAttempt]:
        source = self.local_overrides.get(domain)
        if source is None and self.local_directory is not None:
            candidate = self.local_directory / f"{domain}.xml"
            if candidate.is_file():
                source = candidate
        if source is None:
            return
        if isinstance(source, bytes):
            target, data = f"local XML for {domain}", source
        else:
            target = os.fspath(source)
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                yield self.attempt(target, Outcome.ERROR, f"cannot read the local XML: {exc}")
                return
        try:
            response = autodiscover.parse_response(data)
        except ParseError as exc:
            yield self.attempt(target, Outcome.ERROR, f"local XML: {exc}")
            return
        if response.action is not Action.SETTINGS:
            yield self.attempt(target, Outcome.ERROR, "local XML must hold settings")
            return
        endpoints, notes = endpoints_from(response, email)
        attempt = DiscoveryAttempt(
            mechanism=self.name,
            target=target,
            outcome=Outcome.FOUND if endpoints else Outcome.NOT_FOUND,
            reason="local XML (the servers had no settings): " + "; ".join(notes),
            endpoints=endpoints,
        )
        log.debug("%s", attempt)
        yield attempt


class _Run:
    """One discovery run: the redirect budget, the loop guards, the host gate."""

    def __init__(
        self,
        provider: AutodiscoverProvider,
        session: niquests.Session,
        domain: str,
        password: Secret | None,
    ) -> None:
        self.provider = provider
        self.network: Network = provider.network
        self.session = session
        self.password = password
        self.gate = HostGate(self.network, domain, protocol=provider.name)
        self.budget = RedirectBudget()
        self.urls: set[str] = set()
        self.addresses: set[str] = set()
        self.found: DiscoveryAttempt | None = None
        self.expires = _FOREVER
        self.stopped = False
        """Settings were found, an address redirect took over, or the budget ran out."""

    # -- trace helpers ---------------------------------------------------------------

    def attempt(
        self,
        target: str,
        outcome: Outcome,
        reason: str,
        endpoints: tuple[Endpoint, ...] = (),
    ) -> DiscoveryAttempt:
        return self.provider.attempt(target, outcome, reason, endpoints)

    def _out_of_budget(self, target: str) -> DiscoveryAttempt:
        self.stopped = True
        return self.attempt(target, Outcome.REFUSED, self.budget.refusal)

    # -- the four steps for one address ----------------------------------------------

    def address(self, email: str, origin: str | None = None) -> Iterator[DiscoveryAttempt]:
        """Run the seed's four steps for ``email`` until one finds settings; ``origin`` is
        the URL whose ``redirectAddr`` named this address."""
        self.addresses.add(email.lower())
        domain = normalise_host(email.rpartition("@")[2])
        if registrable_domain(domain) is None:  # a redirectAddr to a public-suffix domain
            yield self.attempt(
                domain, Outcome.REFUSED, f"{domain} is a public suffix: nothing is asked under it"
            )
            return
        steps: tuple[Callable[[], Iterator[DiscoveryAttempt]], ...] = (
            lambda: self.post_chain(f"https://{domain}{PATH}", email, source=origin),
            lambda: self.post_chain(f"https://autodiscover.{domain}{PATH}", email, source=origin),
            lambda: self.http_get(f"http://autodiscover.{domain}{PATH}", email, origin),
            lambda: self.srv(domain, email),
        )
        for step in steps:
            yield from step()
            if self.stopped:
                return

    def post_chain(self, url: str, email: str, *, source: str | None) -> Iterator[DiscoveryAttempt]:
        """POST to ``url`` and follow its redirects until an answer or a dead end."""
        current = url
        while not self.stopped:
            why = check_url(current)
            if why:
                yield self.attempt(current, Outcome.REFUSED, why)
                return
            if current in self.urls:
                yield self.attempt(current, Outcome.REFUSED, "a redirect loop: asked already")
                return
            self.urls.add(current)
            host, port = url_host(current)
            where = f"redirected from {source}" if source else f"Autodiscover for {email}"
            why = self.gate.permit(host, port, reason=where)
            if why:
                yield self.attempt(current, Outcome.REFUSED, f"{why}; nothing sent")
                return
            answer = yield from self._post(current, email)
            if answer is None:
                return
            if answer.status in REDIRECT_STATUSES:
                target = yield from self._redirect(answer, f"HTTP {answer.status}")
            else:
                target = yield from self._answer(answer, email, plain_http=False)
            if target is None:
                return
            source, current = current, target

    def _post(self, url: str, email: str) -> Generator[DiscoveryAttempt, None, Fetched | None]:
        """POST the request without credentials; on a 401, once more with them if allowed."""
        body = autodiscover.build_request(email)
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        answer = fetch(self.session, "POST", url, data=body, headers=headers)
        if isinstance(answer, Failure):
            yield self.attempt(url, answer.outcome, answer.reason)
            return None
        if answer.status != 401:
            return answer
        return (yield from self._authenticate(url, email, body, answer))

    def _authenticate(
        self, url: str, email: str, body: bytes, challenge: Fetched
    ) -> Generator[DiscoveryAttempt, None, Fetched | None]:
        """Answer a 401 once with Basic credentials, if the rules allow it here."""
        if not self.password:
            reason = "HTTP 401: the server wants credentials; none given"
        elif not self.gate.may_send_credentials(url):  # pragma: no cover - permit() ran first
            reason = "HTTP 401: no credentials for this host"
        elif "basic" not in (challenge.www_authenticate or "").lower():
            reason = "HTTP 401 without Basic authentication on offer"
        else:
            reason = ""
        if reason or not self.password:
            yield self.attempt(url, Outcome.NOT_FOUND, reason)
            return None
        yield self.attempt(
            url, Outcome.AUTH_REQUIRED, "HTTP 401: asked again with credentials (verified TLS)"
        )
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "Authorization": basic_authorization(email, self.password),
        }
        answer = fetch(self.session, "POST", url, data=body, headers=headers)
        if isinstance(answer, Failure):
            yield self.attempt(url, answer.outcome, answer.reason)
            return None
        if answer.status == 401:
            yield self.attempt(url, Outcome.ERROR, "HTTP 401: the credentials were refused")
            return None
        return answer

    def _redirect(
        self, answer: Fetched, kind: str, location: str | None = None
    ) -> Generator[DiscoveryAttempt, None, str | None]:
        """Check and count a redirect (HTTP 3xx or redirectUrl); the URL to follow, if any."""
        location = location if location is not None else answer.location
        if not location:
            yield self.attempt(answer.url, Outcome.ERROR, f"{kind} without a target")
            return None
        target = urllib.parse.urljoin(answer.url, location.strip())
        why = check_url(target)
        if why:
            yield self.attempt(answer.url, Outcome.REFUSED, f"{kind} to {target}: {why}")
            return None
        if not self.budget.take():
            yield self._out_of_budget(target)
            return None
        yield self.attempt(answer.url, Outcome.REDIRECTED, f"{kind}: redirected to {target}")
        return target

    def _answer(
        self, answer: Fetched, email: str, *, plain_http: bool
    ) -> Generator[DiscoveryAttempt, None, str | None]:
        """Read an answer that is not an HTTP redirect; the URL of a redirectUrl, if any."""
        url = answer.url
        response = yield from self._parse(answer)
        if response is None:
            return None
        if response.error is not None:
            error = response.error
            yield self.attempt(
                url,
                Outcome.ERROR,
                f"Autodiscover error {error.code or '?'}: {error.message or 'no message'}",
            )
            return None
        if response.action is Action.REDIRECT_URL:
            assert response.redirect_url is not None  # parse_response guarantees it
            return (yield from self._redirect(answer, "redirectUrl", response.redirect_url))
        if plain_http:
            yield self.attempt(
                url,
                Outcome.REFUSED,
                f"{response.action} over plain HTTP is never used (only redirects to https)",
            )
            return None
        if response.action is Action.REDIRECT_ADDR:
            yield from self._redirect_addr(url, response)
            return None
        yield from self._settings(answer, response, email)
        return None

    def _settings(
        self, answer: Fetched, response: Response, email: str
    ) -> Iterator[DiscoveryAttempt]:
        """A settings answer over https: the run ends here, with endpoints or without."""
        endpoints, notes = endpoints_from(response, email)
        static = " (static answer)" if answer.status == 405 else ""
        self.stopped = True
        if not endpoints:
            yield self.attempt(
                answer.url,
                Outcome.NOT_FOUND,
                f"settings{static} without IMAP, POP3 or SMTP: {'; '.join(notes) or 'empty'}",
            )
            return
        found = self.attempt(
            answer.url, Outcome.FOUND, f"settings{static}: {'; '.join(notes)}", endpoints
        )
        self.found = found
        self.expires = _expiry(response, type(self.provider).clock())
        yield found

    def _parse(self, answer: Fetched) -> Generator[DiscoveryAttempt, None, Response | None]:
        """The Autodiscover document of a 200 or 405 answer, or ``None`` (traced)."""
        url, status = answer.url, answer.status
        if status not in (200, 405):
            reason = f"HTTP {status}"
        elif not answer.body.strip():
            reason = f"HTTP {status} with an empty body"
        else:
            try:
                return autodiscover.parse_response(answer.body)
            except ParseError as exc:
                yield self.attempt(url, Outcome.ERROR, f"HTTP {status}: {exc}")
                return None
        yield self.attempt(url, Outcome.NOT_FOUND, reason)
        return None

    def _redirect_addr(self, url: str, response: Response) -> Iterator[DiscoveryAttempt]:
        """Start again with the address of a redirectAddr answer."""
        new = (response.redirect_addr or "").strip()
        local, _, domain = new.rpartition("@")
        if not local or not is_domain_name(normalise_host(domain)):
            yield self.attempt(url, Outcome.ERROR, f"redirectAddr {new!r} is not an address")
            return
        if new.lower() in self.addresses:
            yield self.attempt(url, Outcome.REFUSED, f"an address loop: {new} asked already")
            return
        if not self.budget.take():
            yield self._out_of_budget(url)
            return
        yield self.attempt(url, Outcome.REDIRECTED, f"redirectAddr: starting again with {new}")
        yield from self.address(new, origin=url)
        self.stopped = True

    def http_get(self, url: str, email: str, origin: str | None) -> Iterator[DiscoveryAttempt]:
        """Step 3: a plain GET, only ever to find a redirect to https."""
        if url in self.urls:
            yield self.attempt(url, Outcome.REFUSED, "a redirect loop: asked already")
            return
        self.urls.add(url)
        host, port = url_host(url)
        where = f"redirected from {origin}" if origin else f"Autodiscover for {email}"
        why = self.gate.permit(host, port, reason=where)
        if why:
            yield self.attempt(url, Outcome.REFUSED, f"{why}; nothing sent")
            return
        answer = fetch(self.session, "GET", url)
        if isinstance(answer, Failure):
            yield self.attempt(url, answer.outcome, answer.reason)
            return
        if answer.status in REDIRECT_STATUSES:
            target = yield from self._redirect(answer, f"HTTP {answer.status} over plain HTTP")
        else:
            target = yield from self._answer(answer, email, plain_http=True)
        if target is not None:
            yield from self.post_chain(target, email, source=f"{url} (plain HTTP)")

    def srv(self, domain: str, email: str) -> Iterator[DiscoveryAttempt]:
        """Step 4: ``_autodiscover._tcp.<domain>``, only as a redirect to its https URL."""
        import dns.exception
        import dns.resolver

        name = f"_autodiscover._tcp.{domain}"
        try:
            answer = self.network.dns().resolve(name, "SRV", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            yield self.attempt(name, Outcome.NOT_FOUND, "no SRV record")
            return
        except dns.exception.DNSException as exc:
            yield self.attempt(name, Outcome.ERROR, f"DNS lookup failed: {exc}")
            return
        records = [SrvRecord(rr.priority, rr.weight, rr.port, str(rr.target)) for rr in answer]
        if is_no_service(records):
            yield self.attempt(name, Outcome.NOT_FOUND, "no service (target '.')")
            return
        for record in order(records):
            host = normalise_host(record.target)
            if not is_domain_name(host):
                yield self.attempt(name, Outcome.REFUSED, f"SRV target {host!r} is no host name")
                continue
            port = "" if record.port == 443 else f":{record.port}"
            url = f"https://{host}{port}{PATH}"
            if not self.budget.take():
                yield self._out_of_budget(url)
                return
            yield self.attempt(name, Outcome.REDIRECTED, f"SRV: redirected to {url}")
            yield from self.post_chain(url, email, source=f"the DNS record {name}")
            if self.stopped:
                return


@hookimpl
def openprotocols_register_discovery_providers(registry: DiscoveryRegistry) -> None:
    """Register the Autodiscover provider."""
    registry.add(AutodiscoverProvider)
