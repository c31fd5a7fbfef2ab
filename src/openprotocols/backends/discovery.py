"""The contract of account-discovery providers (Autodiscover, autoconfig, DNS SRV...).

A provider tries one mechanism for an e-mail address and reports every attempt it made,
found something or not, as a :class:`DiscoveryAttempt`: the trace that
:func:`openprotocols.discover` merges and shows. Providers are registered by plugins
through :func:`~openprotocols.hookspecs.openprotocols_register_discovery_providers`,
exactly like backends, and run in ascending :attr:`DiscoveryProvider.order`.
"""

from __future__ import annotations

import abc
import enum
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

import attrs

from openprotocols._domains import is_domain_name, normalise_host, registrable_domain
from openprotocols.model._base import Secret, to_tuple
from openprotocols.model.accounts import Endpoint

if TYPE_CHECKING:
    from openprotocols.network import Network

__all__ = ["DiscoveryAttempt", "DiscoveryProvider", "Outcome"]

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    """How one attempt ended."""

    FOUND = "found"
    """Settings were found (and are in ``endpoints``)."""
    NOT_FOUND = "not-found"
    """The place was asked and had nothing (NXDOMAIN, 404)."""
    REDIRECTED = "redirected"
    """The answer pointed elsewhere (an HTTP redirect, ``redirectUrl``, an SRV or MX
    record); the next attempts say whether it was followed."""
    AUTH_REQUIRED = "auth-required"
    """The server asked for credentials; the next attempt says whether they were sent."""
    REFUSED = "refused"
    """An answer was rejected (bad certificate, foreign redirect without consent...)."""
    ERROR = "error"
    """The attempt failed (timeout, unreachable, malformed answer)."""


@attrs.frozen(kw_only=True)
class DiscoveryAttempt:
    """One step of discovery: where it looked, what happened, and why."""

    mechanism: str
    """The provider's name (``"autodiscover"``, ``"srv"``...)."""
    target: str
    """The URL or DNS name asked."""
    outcome: Outcome = attrs.field(converter=Outcome)
    reason: str = ""
    """Why it was accepted or refused, in one sentence."""
    endpoints: tuple[Endpoint, ...] = attrs.field(factory=tuple, converter=to_tuple)

    def __str__(self) -> str:
        text = f"[{self.mechanism}] {self.target}: {self.outcome}"
        return f"{text} ({self.reason})" if self.reason else text


class DiscoveryProvider(abc.ABC):
    """One discovery mechanism. Instances are built per discovery with the network to use."""

    name: ClassVar[str]
    """The registry key, also the ``mechanism`` of its attempts."""
    order: ClassVar[int] = 100
    """Providers rank in ascending order; ties rank in registration order."""
    fallback: ClassVar[bool] = False
    """``True`` for a last resort (guessing): :func:`openprotocols.discover` starts it only
    when the other providers have finished without finding everything asked for."""

    def __init__(self, network: Network) -> None:
        self.network = network

    @abc.abstractmethod
    def discover(self, email: str, *, password: Secret | None = None) -> Iterator[DiscoveryAttempt]:
        """Try this mechanism for ``email``, yielding every attempt as it is made.

        Never raise for an answer that is merely absent or bad: yield an attempt with
        the outcome and the reason. ``password`` may be sent only where the mechanism
        requires it, over TLS, to a host the user's domain vouches for.
        """

    def attempt(
        self,
        target: str,
        outcome: Outcome,
        reason: str = "",
        endpoints: Iterable[Endpoint] = (),
    ) -> DiscoveryAttempt:
        """An attempt of this provider, logged at debug level (never with credentials:
        reasons are written so that none can be in them)."""
        found = DiscoveryAttempt(
            mechanism=self.name,
            target=target,
            outcome=outcome,
            reason=reason,
            endpoints=tuple(endpoints),
        )
        log.debug("%s", found)
        return found

    def check_address(self, email: str) -> tuple[str, str, str] | DiscoveryAttempt:
        """``(address, local part, domain)`` of ``email`` (stripped; the domain normalised),
        or the attempt that ends the run: not an address, or a domain that is a public
        suffix — nothing is ever asked under ``co.uk`` or ``github.io``."""
        address = email.strip()
        local, _, raw_domain = address.rpartition("@")
        domain = normalise_host(raw_domain)
        if not local or not is_domain_name(domain):
            return self.attempt(address, Outcome.ERROR, "not an e-mail address")
        if registrable_domain(domain) is None:
            return self.attempt(
                domain, Outcome.REFUSED, f"{domain} is a public suffix: nothing is asked under it"
            )
        return address, local, domain
