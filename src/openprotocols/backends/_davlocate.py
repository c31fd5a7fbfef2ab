"""Where the CalDAV or CardDAV server of an account lives: RFC 6764 service discovery.

:func:`locate` turns ``ann@example.org`` into *context URLs*, the places where a PROPFIND
for ``current-user-principal`` is worth sending. It yields them lazily, best first, and
does nothing more than needed for the next one, so a caller that stops at the first URL
that works never causes a lookup or a request for the later ones. For CalDAV (CardDAV
alike, with ``carddav`` in every name):

1. DNS SRV ``_caldavs._tcp.example.org`` in RFC 2782 order (priority, then a weighted
   random choice). For each target, in turn (failover): the context path of the TXT
   record ``path=`` at the same name, if any (``srv+txt``, offered without a request),
   then ``https://<target>:<port>/.well-known/caldav`` (``srv``). A single target ``.``
   means "no CalDAV here" and ends the SRV lookups (the clear-text one of step 4 too).
2. ``https://example.org/.well-known/caldav`` (``well-known``).
3. ``https://example.org/`` (``root``): RFC 6764 allows clients to try the root when
   the well-known URI fails, and servers such as Radicale serve DAV there; it is probed
   like the others, so a plain web site at the root is not offered.
4. DNS SRV ``_caldav._tcp.example.org``: plain HTTP (``srv-clear+txt``, ``srv-clear``),
   only with clear-text consent. RFC 6764 says clients should prefer TLS; this step comes
   after every TLS option, so the user is asked about clear text only when nothing over
   TLS was found.

A URL probed (the well-known URIs, the root) gets one PROPFIND ``Depth: 0`` without
``Authorization`` and without a redirect followed by the HTTP library. A redirect
(301/302/303/307/308) is checked hop by hop and followed by hand; a 2xx (207) answer, or
a 401 (a DAV server that wants credentials there), makes the URL a candidate; anything
else (404, 405, a connection or TLS failure, a body over the size cap) ends that branch.

Security. Nothing is sent to a host, and no candidate names one, unless the host lies in
the user's registrable domain or the consent callback approved it (a ``FOREIGN_HOST``
request naming the SRV record or the redirect that pointed there); plain ``http://`` only
after a ``CLEAR_TEXT`` consent for that host and port. A refusal skips that branch and is
logged; if the candidates run out after a refusal, the first refusal is raised as
:class:`~openprotocols.errors.ConsentRequired`, so the caller can tell the user why. At
most :data:`~openprotocols.backends._http_fetch.MAX_REDIRECTS` redirects are followed
per run, and no URL is asked or offered twice. This module never sends credentials.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Literal

import attrs

from openprotocols._domains import normalise_host
from openprotocols.backends._http_fetch import (
    REDIRECT_STATUSES,
    Failure,
    Fetched,
    HostGate,
    RedirectBudget,
    check_url,
    fetch,
    is_domain_name,
    url_host,
)
from openprotocols.backends.srv import dav_context_path
from openprotocols.errors import ConfigurationError, ConsentRequired
from openprotocols.formats.srv import SrvRecord, is_no_service, order
from openprotocols.network import ConsentKind, ConsentRequest

if TYPE_CHECKING:
    import niquests

    from openprotocols.model.accounts import Account
    from openprotocols.network import Network

__all__ = ["Candidate", "locate"]

log = logging.getLogger(__name__)

_PROPFIND = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>\n'
)
_PROBE_HEADERS = {"Depth": "0", "Content-Type": "application/xml; charset=utf-8"}
_PROBE_LIMIT = 256 * 1024
"""A probe reads at most this much of an answer (only its status line matters)."""


@attrs.frozen
class Candidate:
    """A context URL to PROPFIND for ``current-user-principal``, and how it was found."""

    url: str
    source: str
    """``srv+txt``, ``srv``, ``well-known``, ``root``, ``srv-clear+txt`` or ``srv-clear``."""


def locate(
    kind: Literal["caldav", "carddav"],
    account: Account,
    network: Network,
    session: niquests.Session,
) -> Iterator[Candidate]:
    """The context URLs of ``account``'s ``kind`` server, lazily, best first.

    See the module documentation for the order and the rules. ``session`` comes from
    ``network.http_session()`` and must carry no credentials: the probes go without.

    :raises ConfigurationError: ``kind`` is unknown, the session carries credentials, or
        the account's domain is not a host name.
    :raises ConsentRequired: after the last candidate, if consent was refused on the way.
    """
    if kind not in ("caldav", "carddav"):
        raise ConfigurationError(f"unknown DAV service {kind!r}")
    if session.auth is not None or "Authorization" in session.headers:
        raise ConfigurationError("service discovery takes a session without credentials")
    domain = normalise_host(account.domain)
    if not is_domain_name(domain):
        raise ConfigurationError(f"{account.domain!r} is not a domain name to look up")
    run = _Run(kind, domain, network, session)
    yield from run.candidates()
    if run.refusals:
        raise run.refusals[0]


def _url(scheme: str, host: str, port: int, path: str) -> str:
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}{'' if port == default else f':{port}'}{path}"


class _Run:
    """One run of :func:`locate`: the host gate, the redirect budget, what was seen."""

    def __init__(self, kind: str, domain: str, network: Network, session: niquests.Session):
        self.kind = kind
        self.domain = domain
        self.network = network
        self.session = session
        self.gate = HostGate(network, domain, protocol=kind)
        self.budget = RedirectBudget()
        self.seen: set[str] = set()
        """URLs asked or offered: never again in this run (ends redirect loops too)."""
        self.clear_text: dict[tuple[str, int], bool] = {}
        self.refusals: list[ConsentRequired] = []

    def candidates(self) -> Iterator[Candidate]:
        """Every candidate, in the order of the module documentation."""
        no_service = yield from self.srv(f"_{self.kind}s._tcp", "https")
        yield from self.follow(
            _url("https", self.domain, 443, f"/.well-known/{self.kind}"), "well-known"
        )
        yield from self.follow(_url("https", self.domain, 443, "/"), "root")
        if not no_service:
            yield from self.srv(f"_{self.kind}._tcp", "http")

    # -- DNS -------------------------------------------------------------------------

    def srv(self, label: str, scheme: str) -> Generator[Candidate, None, bool]:
        """The candidates of one SRV name; ``True`` if it said "no service" (``.``)."""
        name = f"{label}.{self.domain}"
        records = self._records(name)
        if is_no_service(records):
            log.info("%s: target '.': the domain offers no %s", name, self.kind)
            return True
        path = dav_context_path(self.network, name) if records else ""
        source = "srv" if scheme == "https" else "srv-clear"
        for record in order(records):
            host = normalise_host(record.target)
            if not is_domain_name(host):
                log.info("%s: target %r is not a host name: skipped", name, record.target)
                continue
            origin = f"the DNS record {name} points there"
            if path:
                url = _url(scheme, host, record.port, path)
                if url not in self.seen and self.permitted(url, origin):
                    self.seen.add(url)
                    yield Candidate(url, f"{source}+txt")
            yield from self.follow(
                _url(scheme, host, record.port, f"/.well-known/{self.kind}"), source, origin
            )
        return False

    def _records(self, name: str) -> list[SrvRecord]:
        import dns.exception
        import dns.resolver

        try:
            answer = self.network.dns().resolve(name, "SRV", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            log.debug("%s: no SRV record", name)
            return []
        except dns.exception.DNSException as exc:
            log.info("%s: the SRV lookup failed: %s", name, exc)
            return []
        return [SrvRecord(rr.priority, rr.weight, rr.port, str(rr.target)) for rr in answer]

    # -- HTTP ------------------------------------------------------------------------

    def follow(self, url: str, source: str, origin: str = "") -> Iterator[Candidate]:
        """Probe ``url`` and its redirects, hop by hop; yield the end if it is DAV."""
        origin = origin or f"{self.kind} service discovery for {self.domain}"
        current: str | None = url
        while current is not None:
            if current in self.seen:
                log.debug("%s: asked already in this run", current)
                return
            self.seen.add(current)
            if not self.permitted(current, origin):
                return
            answer = fetch(
                self.session, "PROPFIND", current, data=_PROPFIND, headers=_PROBE_HEADERS,
                limit=_PROBE_LIMIT,
            )  # fmt: skip
            if isinstance(answer, Failure):
                log.info("%s: %s", current, answer.reason)
                return
            if 200 <= answer.status < 300 or answer.status == 401:
                log.debug("%s: HTTP %d: a DAV endpoint", current, answer.status)
                yield Candidate(current, source)
                return
            current, origin = self._redirect(answer), f"{current} redirected there"

    def _redirect(self, answer: Fetched) -> str | None:
        """Where a redirect answer points (``None``: not a redirect, or not followed)."""
        if answer.status not in REDIRECT_STATUSES:
            log.info("%s: HTTP %d: not a DAV endpoint", answer.url, answer.status)
            return None
        if not answer.location:
            log.info("%s: HTTP %d without a Location", answer.url, answer.status)
            return None
        if not self.budget.take():
            log.info("%s: %s", answer.url, self.budget.refusal)
            return None
        target = urllib.parse.urljoin(answer.url, answer.location.strip())
        log.debug("%s: HTTP %d to %s", answer.url, answer.status, target)
        return urllib.parse.urldefrag(target).url

    # -- what may be contacted -------------------------------------------------------

    def permitted(self, url: str, origin: str) -> bool:
        """Whether ``url`` may be asked or offered: a valid https URL (or http with
        clear-text consent) on a host of the user's domain or approved; asks for consent."""
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        why = check_url(url, scheme="http" if scheme == "http" else "https")
        if why:
            log.info("%s: %s", url, why)
            return False
        host, port = url_host(url)
        why = self.gate.permit(host, port, reason=origin)
        if why:
            self._refused(
                why,
                ConsentRequest(
                    kind=ConsentKind.FOREIGN_HOST,
                    protocol=self.kind,
                    host=host,
                    port=port,
                    domain=self.domain,
                    reason=origin,
                ),
            )
            return False
        return scheme == "https" or self._clear_text_allowed(host, port, origin)

    def _clear_text_allowed(self, host: str, port: int, origin: str) -> bool:
        """Ask once per host and port whether plain HTTP may go there."""
        if (host, port) not in self.clear_text:
            request = ConsentRequest(
                kind=ConsentKind.CLEAR_TEXT,
                protocol=self.kind,
                host=host,
                port=port,
                reason=f"{origin}, without TLS",
            )
            try:
                self.network.require_consent(request)
            except ConsentRequired as exc:
                self._refused(str(exc), request, exc)
                self.clear_text[host, port] = False
            else:
                self.clear_text[host, port] = True
        return self.clear_text[host, port]

    def _refused(
        self, why: str, request: ConsentRequest, exc: ConsentRequired | None = None
    ) -> None:
        log.info("%s:%s skipped: %s", request.host, request.port, why)
        self.refusals.append(exc or ConsentRequired(why, reason=request))
