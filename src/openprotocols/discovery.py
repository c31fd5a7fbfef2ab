"""``openprotocols.discover()``: account settings from an e-mail address alone.

The registered discovery providers (see ``docs/discovery.md``) run in ascending
``order``; every attempt they make — each URL fetched, each DNS name asked — lands in the
result's trace with its outcome and the reason it was accepted or refused. Settings are
merged per protocol: a mechanism that runs earlier (Autodiscover, then autoconfig, then
DNS SRV) ranks above one that runs later, and within a mechanism the server's own order
of preference is kept. Discovery stops early once every protocol asked for has a setting.

Nothing here sends a credential: providers decide, under the rules of
:mod:`openprotocols.network` (verified TLS, the user's own domain or explicit consent).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from openprotocols.backends.discovery import DiscoveryAttempt, Outcome
from openprotocols.errors import ConfigurationError, DiscoveryError
from openprotocols.model._base import Secret, to_tuple
from openprotocols.model.accounts import Account, Endpoint
from openprotocols.network import ConsentCallback, Network

if TYPE_CHECKING:
    from openprotocols.plugins import PluginManager

__all__ = ["DiscoveredSetting", "DiscoveryResult", "discover"]

log = logging.getLogger(__name__)

DEFAULT_PROTOCOLS = ("imap", "smtp", "caldav", "carddav")


@attrs.frozen
class DiscoveredSetting:
    """One way to reach one server, and who said so."""

    endpoint: Endpoint
    mechanism: str
    """The provider that found it (``"autodiscover"``, ``"srv"``...)."""
    source: str
    """The URL or DNS name it came from."""


@attrs.frozen(kw_only=True)
class DiscoveryResult:
    """What :func:`discover` found, best first, and how."""

    email: str
    settings: tuple[DiscoveredSetting, ...] = attrs.field(default=(), converter=to_tuple)
    trace: tuple[DiscoveryAttempt, ...] = attrs.field(default=(), converter=to_tuple)

    def for_protocol(self, protocol: str) -> tuple[DiscoveredSetting, ...]:
        """The settings for ``protocol``, best first."""
        return tuple(s for s in self.settings if s.endpoint.protocol == protocol)

    def best(self, protocol: str) -> DiscoveredSetting | None:
        """The best setting for ``protocol``, or ``None``."""
        return next(iter(self.for_protocol(protocol)), None)

    def account(self, *, incoming: Sequence[str] = ("imap", "pop3")) -> Account:
        """An :class:`Account` with the best endpoint of each protocol found.

        :param incoming: the incoming-mail protocols in order of preference; the first one
            found is used (IMAP before POP3 unless the caller says otherwise).
        """
        chosen: list[Endpoint] = []
        for protocol in incoming:
            if setting := self.best(protocol):
                chosen.append(setting.endpoint)
                break
        for protocol in ("smtp", "caldav", "carddav"):
            if setting := self.best(protocol):
                chosen.append(setting.endpoint)
        return Account(email=self.email, endpoints=chosen)

    def render_trace(self) -> str:
        """The trace as text, one attempt a line, for logs and ``openprotocols discover``."""
        return "\n".join(str(attempt) for attempt in self.trace)


def discover(
    email: str,
    password: Secret | str | None = None,
    *,
    consent: ConsentCallback | None = None,
    network: Network | None = None,
    protocols: Iterable[str] = DEFAULT_PROTOCOLS,
    plugin_manager: PluginManager | None = None,
) -> DiscoveryResult:
    """Find the settings for ``email``: IMAP (or POP3), SMTP, CalDAV and CardDAV.

    :param password: passed to the providers that need it (Autodiscover may require it);
        sent only over verified TLS to the user's own domain or a host the consent
        callback approved.
    :param consent: asked before anything goes to a foreign host or in clear text;
        overrides the network's own callback. Without one, the answer is no.
    :param network: resolver, overrides, trust and timeouts (see :class:`Network`).
    :param protocols: what to look for; discovery stops early once each has a setting.
    :param plugin_manager: where the providers come from (the default manager otherwise).
    :returns: the settings found and the trace of every attempt.
    :raises ConfigurationError: ``email`` is not an e-mail address.
    :raises DiscoveryError: nothing at all was found; its ``trace`` says where it looked.
    """
    from openprotocols.plugins import default_plugin_manager

    local, at, domain = email.rpartition("@")
    if not (local and at and domain) or any(c.isspace() for c in email):
        raise ConfigurationError(f"{email!r} is not an e-mail address")
    secret = Secret(password) if isinstance(password, str) else password
    net = network if network is not None else Network()
    if consent is not None:
        net = attrs.evolve(net, consent=consent)
    manager = plugin_manager if plugin_manager is not None else default_plugin_manager()
    wanted = set(protocols)
    if "imap" in wanted:
        wanted.add("pop3")  # where POP3 is all there is, it is found too

    trace: list[DiscoveryAttempt] = []
    settings: list[DiscoveredSetting] = []
    for provider_class in manager.discovery_providers().ordered():
        provider = provider_class(net)
        log.debug("Discovery of %s: trying %s", email, provider_class.name)
        for attempt in provider.discover(email, password=secret):
            trace.append(attempt)
            if attempt.outcome is Outcome.FOUND:
                settings.extend(
                    DiscoveredSetting(endpoint, attempt.mechanism, attempt.target)
                    for endpoint in attempt.endpoints
                    if endpoint.protocol in wanted
                )
        if _complete(settings, set(protocols)):
            break
    result = DiscoveryResult(email=email, settings=settings, trace=trace)
    if not settings:
        raise DiscoveryError(f"no settings found for {email}", trace=result.trace)
    return result


def _complete(settings: list[DiscoveredSetting], protocols: set[str]) -> bool:
    """Whether every protocol asked for has a setting (POP3 stands in for IMAP)."""
    found = {s.endpoint.protocol for s in settings}
    if "pop3" in found:
        found.add("imap")
    return protocols <= found
