"""``openprotocols.discover()``: account settings from an e-mail address alone.

The registered discovery providers (see ``docs/discovery.md``) run concurrently, each in
a thread of its own, within a total time budget. Every attempt they make — each URL
fetched, each DNS name asked — lands in the result's trace with its outcome and the
reason it was accepted or refused; the trace lists the providers by rank. Settings are
merged per protocol: a provider of lower ``order`` (Autodiscover, then autoconfig, then
DNS SRV, then guessing) ranks above one of higher order, and within a provider the
server's own order of preference is kept.

Discovery stops early once the providers that have finished *and* every provider ranked
above them together found every protocol asked for: a faster but lower-ranked answer
never cuts short a better one. The others are told to stop after their current attempt.
Fallback providers (guessing) start only when all the others have finished without a
complete answer, as the seed's Common Settings Discover does.

Nothing here sends a credential: providers decide, under the rules of
:mod:`openprotocols.network` (verified TLS, the user's own domain or explicit consent).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

import attrs

from openprotocols.backends.discovery import DiscoveryAttempt, DiscoveryProvider, Outcome
from openprotocols.errors import ConfigurationError, DiscoveryError
from openprotocols.model._base import Secret, to_tuple
from openprotocols.model.accounts import Account, Endpoint
from openprotocols.network import ConsentCallback, ConsentKind, ConsentRequest, Network

if TYPE_CHECKING:
    from openprotocols.plugins import PluginManager

__all__ = ["DiscoveredSetting", "DiscoveryResult", "discover"]

log = logging.getLogger(__name__)

DEFAULT_PROTOCOLS = ("imap", "smtp", "caldav", "carddav")
INCOMING = ("imap", "pop3")


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

    def account(self, *, incoming: Sequence[str] | None = ("imap", "pop3")) -> Account:
        """An :class:`Account` with the best endpoint of each protocol found.

        :param incoming: the incoming-mail protocols in order of preference; the first one
            found is used (IMAP before POP3 unless the caller says otherwise). ``None``
            lets the servers decide: the first incoming setting in rank order, i.e. the
            order the best-ranked mechanism listed them in (Autodiscover's own order).
        """
        chosen: list[Endpoint] = []
        if incoming is None:
            first = next((s for s in self.settings if s.endpoint.protocol in INCOMING), None)
            chosen.extend([first.endpoint] if first else [])
        else:
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
    timeout: float = 60.0,
    plugin_manager: PluginManager | None = None,
) -> DiscoveryResult:
    """Find the settings for ``email``: IMAP (or POP3), SMTP, CalDAV and CardDAV.

    :param password: passed to the providers that need it (Autodiscover may require it);
        sent only over verified TLS to the user's own domain or a host the consent
        callback approved.
    :param consent: asked before anything goes to a foreign host or in clear text;
        overrides the network's own callback. Without one, the answer is no. It is
        called from the providers' threads, one call at a time.
    :param network: resolver, overrides, trust and timeouts (see :class:`Network`).
    :param protocols: what to look for; discovery stops early once each has a setting.
    :param timeout: the total time budget in seconds; providers still running then are
        told to stop, and what they found so far counts.
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
    if net.consent is not None:
        net = attrs.evolve(net, consent=_serialized(net.consent))
    manager = plugin_manager if plugin_manager is not None else default_plugin_manager()
    wanted = set(protocols)
    if "imap" in wanted:
        wanted.add("pop3")  # where POP3 is all there is, it is found too

    deadline = time.monotonic() + timeout
    ordered = manager.discovery_providers().ordered()
    trace: list[DiscoveryAttempt] = []
    for phase in ([c for c in ordered if not c.fallback], [c for c in ordered if c.fallback]):
        if not phase or _complete(_settings(trace, wanted), set(protocols)):
            continue
        providers = [cls(net) for cls in phase]
        known = _settings(trace, wanted)
        attempts = _run_concurrently(
            providers, email, secret, set(protocols), wanted, deadline, known
        )
        trace.extend(attempt for provider_attempts in attempts for attempt in provider_attempts)
    settings = _settings(trace, wanted)
    result = DiscoveryResult(email=email, settings=settings, trace=trace)
    if not settings:
        raise DiscoveryError(f"no settings found for {email}", trace=result.trace)
    return result


def _settings(trace: Iterable[DiscoveryAttempt], wanted: set[str]) -> list[DiscoveredSetting]:
    return [
        DiscoveredSetting(endpoint, attempt.mechanism, attempt.target)
        for attempt in trace
        if attempt.outcome is Outcome.FOUND
        for endpoint in attempt.endpoints
        if endpoint.protocol in wanted
    ]


def _run_concurrently(
    providers: Sequence[DiscoveryProvider],
    email: str,
    password: Secret | None,
    protocols: set[str],
    wanted: set[str],
    deadline: float,
    known: Sequence[DiscoveredSetting] = (),
) -> list[list[DiscoveryAttempt]]:
    """Run every provider in a thread until ``deadline`` (a ``time.monotonic()`` value);
    return each one's attempts, in provider order. ``known`` are settings found before,
    by better-ranked providers."""
    stop = threading.Event()
    attempts: list[list[DiscoveryAttempt]] = [[] for _ in providers]

    def run(index: int) -> None:
        provider = providers[index]
        log.debug("Discovery of %s: trying %s", email, provider.name)
        for attempt in provider.discover(email, password=password):
            attempts[index].append(attempt)
            if stop.is_set():
                return

    pool = ThreadPoolExecutor(
        max_workers=max(1, len(providers)), thread_name_prefix="openprotocols-discover"
    )
    futures = [pool.submit(run, index) for index in range(len(providers))]
    try:
        pending = set(futures)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            for future in done:
                if (error := future.exception()) is not None:
                    index = futures.index(future)
                    attempts[index].append(_crashed(providers[index], error))
            ranked = list(itertools.takewhile(lambda f: f.done(), futures))
            found = _settings((a for f in ranked for a in attempts[futures.index(f)]), wanted)
            if _complete([*known, *found], protocols):
                break
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
    for index, future in enumerate(futures):
        if not future.done():  # still running: keep what it found so far, say why it ends
            attempts[index] = [
                *attempts[index],
                DiscoveryAttempt(
                    mechanism=providers[index].name,
                    target="(stopped)",
                    outcome=Outcome.NOT_FOUND,
                    reason="stopped: better-ranked results were complete, or time ran out",
                ),
            ]
    return attempts


def _crashed(provider: DiscoveryProvider, error: BaseException) -> DiscoveryAttempt:
    """A provider's bug becomes an attempt in the trace, not an exception of discover()."""
    log.warning("Discovery provider %s failed: %r", provider.name, error)
    return DiscoveryAttempt(
        mechanism=provider.name,
        target="(provider)",
        outcome=Outcome.ERROR,
        reason=f"the provider failed: {type(error).__name__}: {error}",
    )


def _serialized(consent: ConsentCallback) -> ConsentCallback:
    """The consent callback, called by one provider thread at a time (one prompt at once)
    and at most once per question in a run: a host outside a domain is asked about once,
    clear text once per host and port, whichever provider asks first."""
    lock = threading.Lock()
    answers: dict[tuple[ConsentKind, str, int | None, str | None], bool] = {}

    def ask(request: ConsentRequest) -> bool:
        port = request.port if request.kind is ConsentKind.CLEAR_TEXT else None
        key = (request.kind, request.host, port, request.domain)
        with lock:
            if key not in answers:
                answers[key] = consent(request)
            return answers[key]

    return ask


def _complete(settings: Sequence[DiscoveredSetting], protocols: set[str]) -> bool:
    """Whether every protocol asked for has a setting (POP3 stands in for IMAP)."""
    found = {s.endpoint.protocol for s in settings}
    if "pop3" in found:
        found.add("imap")
    return protocols <= found
