"""Discovery through DNS SRV records: RFC 6186 (mail) and RFC 6764 (CalDAV, CardDAV).

For ``ann@example.org`` the provider asks ``_imaps._tcp.example.org``,
``_submissions._tcp.example.org`` and the rest of :data:`SERVICES`, orders each answer as
RFC 2782 says, and reads the ``path=`` TXT record of the DAV services. Every lookup is one
:class:`~openprotocols.backends.discovery.DiscoveryAttempt` in the trace.

What DNS says is not trusted blindly: a target outside the user's registrable domain is
used only if the consent callback agrees (it is shown the record and the target), and a
clear-text service (``_caldav._tcp``: plain HTTP) likewise. ``_imap._tcp`` and
``_submission._tcp`` mean STARTTLS, which is then *required*.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from openprotocols._domains import normalise_host, same_site
from openprotocols.backends.discovery import DiscoveryAttempt, DiscoveryProvider, Outcome
from openprotocols.errors import ConsentRequired
from openprotocols.formats.srv import SrvRecord, is_no_service, order
from openprotocols.hookspecs import hookimpl
from openprotocols.model._base import Secret
from openprotocols.model.accounts import Endpoint, Security
from openprotocols.network import ConsentKind, ConsentRequest
from openprotocols.plugins import DiscoveryRegistry

if TYPE_CHECKING:
    from openprotocols.network import Network

__all__ = ["SERVICES", "Service", "SrvProvider", "dav_context_path"]

log = logging.getLogger(__name__)


@attrs.frozen
class Service:
    """An SRV service label and what it means."""

    label: str
    protocol: str
    security: Security
    dav: bool = False


SERVICES: tuple[Service, ...] = (
    Service("_imaps._tcp", "imap", Security.SSL),
    Service("_imap._tcp", "imap", Security.STARTTLS),
    Service("_pop3s._tcp", "pop3", Security.SSL),
    Service("_pop3._tcp", "pop3", Security.STARTTLS),
    Service("_submissions._tcp", "smtp", Security.SSL),
    Service("_submission._tcp", "smtp", Security.STARTTLS),
    Service("_caldavs._tcp", "caldav", Security.SSL, dav=True),
    Service("_caldav._tcp", "caldav", Security.NONE, dav=True),
    Service("_carddavs._tcp", "carddav", Security.SSL, dav=True),
    Service("_carddav._tcp", "carddav", Security.NONE, dav=True),
)
"""The services asked, most preferred first within each protocol (TLS before STARTTLS)."""


class SrvProvider(DiscoveryProvider):
    """Settings from DNS SRV (and TXT) records of the address's domain."""

    name = "srv"
    order = 40

    def discover(self, email: str, *, password: Secret | None = None) -> Iterator[DiscoveryAttempt]:
        domain = normalise_host(email.rpartition("@")[2])
        for service in SERVICES:
            yield self._lookup(service, email, domain)

    def _lookup(self, service: Service, email: str, domain: str) -> DiscoveryAttempt:
        import dns.exception
        import dns.resolver

        name = f"{service.label}.{domain}"
        attempt = DiscoveryAttempt
        try:
            answer = self.network.dns().resolve(name, "SRV", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return attempt(
                mechanism=self.name, target=name, outcome=Outcome.NOT_FOUND, reason="no SRV record"
            )
        except dns.exception.DNSException as exc:
            return attempt(
                mechanism=self.name,
                target=name,
                outcome=Outcome.ERROR,
                reason=f"DNS lookup failed: {exc}",
            )
        records = [SrvRecord(rr.priority, rr.weight, rr.port, str(rr.target)) for rr in answer]
        if is_no_service(records):
            return attempt(
                mechanism=self.name,
                target=name,
                outcome=Outcome.NOT_FOUND,
                reason="the domain says the service is not available (target '.')",
            )
        path = dav_context_path(self.network, name) if service.dav else ""
        endpoints: list[Endpoint] = []
        refused: list[str] = []
        for record in order(records):
            why = self._refusal(service, name, record, domain)
            if why:
                refused.append(why)
                continue
            endpoints.append(
                Endpoint(
                    protocol=service.protocol,
                    host=record.target,
                    port=record.port,
                    security=service.security,
                    username=email,
                    path=path,
                )
            )
        if not endpoints:
            return attempt(
                mechanism=self.name, target=name, outcome=Outcome.REFUSED, reason="; ".join(refused)
            )
        targets = ", ".join(f"{e.host}:{e.port}" for e in endpoints)
        note = f" (refused: {'; '.join(refused)})" if refused else ""
        return attempt(
            mechanism=self.name,
            target=name,
            outcome=Outcome.FOUND,
            reason=f"{service.protocol} at {targets}{note}",
            endpoints=endpoints,
        )

    def _refusal(self, service: Service, name: str, record: SrvRecord, domain: str) -> str:
        """Why a record may not be used (empty: it may), after asking for consent."""
        requests = []
        if not same_site(record.target, domain):
            requests.append(
                ConsentRequest(
                    kind=ConsentKind.FOREIGN_HOST,
                    protocol=service.protocol,
                    host=record.target,
                    port=record.port,
                    domain=domain,
                    reason=f"the DNS record {name} points there",
                )
            )
        if service.security is Security.NONE:
            requests.append(
                ConsentRequest(
                    kind=ConsentKind.CLEAR_TEXT,
                    protocol=service.protocol,
                    host=record.target,
                    port=record.port,
                    reason=f"{name} offers the service without TLS",
                )
            )
        for request in requests:
            try:
                self.network.require_consent(request)
            except ConsentRequired:
                return f"{record.target}:{record.port} needs consent ({request.kind})"
        return ""


def dav_context_path(network: Network, name: str) -> str:
    """The context path of the TXT record ``path=...`` at ``name`` (RFC 6764 section 4),
    or ``""`` when there is none, it is not absolute, or the lookup fails."""
    import dns.exception

    try:
        answer = network.dns().resolve(name, "TXT", search=False)
    except dns.exception.DNSException:
        return ""
    for rr in answer:
        text = b"".join(rr.strings).decode("utf-8", "replace")
        if text.startswith("path="):
            path = text.removeprefix("path=")
            return path if path.startswith("/") else ""
    return ""


@hookimpl
def openprotocols_register_discovery_providers(registry: DiscoveryRegistry) -> None:
    """Register the SRV provider."""
    registry.add(SrvProvider)
