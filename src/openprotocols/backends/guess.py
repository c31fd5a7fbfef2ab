"""Common Settings Discover: guessing the servers from common names and well-known ports.

The last resort of seed 002 ("Overview of Common Settings Discover"): when nobody said
where the servers are, try the usual names. For ``ann@example.org``, in the seed's order
of preference — host, then user name, then port:

==========  ===============================================  ==============================
Protocol    Hosts                                            Ports (TLS)
==========  ===============================================  ==============================
IMAP        ``mail.``, ``imap.``, the domain                 993 (implicit), 143 (STARTTLS)
POP3        ``mail.``, ``pop3.``, ``pop.``, the domain       995 (implicit), 110 (STARTTLS)
SMTP        ``mail.``, ``smtp.``, the domain                 587 (STARTTLS), 465 (implicit),
                                                             25 (STARTTLS)
==========  ===============================================  ==============================

User names: the full address, then the local part (``ann``). Every candidate is a real
protocol exchange (:mod:`openprotocols.backends._probe`), not a port check: greeting,
capabilities, STARTTLS, and a login when a password is given. A refused login means
"right server, wrong user-name form": the next form is tried on the same server.

Encrypted candidates come first, all of them; clear text only afterwards, only where a
server answered the protocol without offering STARTTLS, and only if the consent callback
agrees (:attr:`ConsentKind.CLEAR_TEXT`, asked once per run). A host whose certificate
failed, or that tried a STARTTLS injection, is never tried in clear text.

Candidates run in parallel (:attr:`GuessProvider.concurrency` connections at most)
within :attr:`GuessProvider.budget` seconds, each probe within
:attr:`GuessProvider.probe_timeout`. The run stops once incoming mail (IMAP, else POP3)
and outgoing mail (SMTP) each have a winner: the best-ranked candidate that worked, once
every better-ranked one has failed — so the result follows the seed's order, never the
order in which the probes happened to finish. The trace lists the attempts in that order.

See ``docs/discovery.md`` for where this differs from the seed, and why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, ClassVar

import attrs

from openprotocols._domains import same_site
from openprotocols.backends import _probe
from openprotocols.backends.discovery import DiscoveryAttempt, DiscoveryProvider, Outcome
from openprotocols.errors import (
    AuthenticationError,
    CapabilityError,
    ConnectionError,
    ConnectionSecurityError,
    ConsentRequired,
    TimeoutError,
)
from openprotocols.hookspecs import hookimpl
from openprotocols.model._base import Secret
from openprotocols.model.accounts import Endpoint, Security
from openprotocols.network import ConsentKind, ConsentRequest
from openprotocols.plugins import DiscoveryRegistry

__all__ = ["CLEAR_PORTS", "HOSTS", "PORTS", "SEED_PORTS", "Candidate", "GuessProvider"]

log = logging.getLogger(__name__)

Ports = Mapping[str, Sequence[tuple[int, Security]]]

HOSTS: Mapping[str, tuple[str, ...]] = {
    "imap": ("mail.", "imap.", ""),
    "pop3": ("mail.", "pop3.", "pop.", ""),
    "smtp": ("mail.", "smtp.", ""),
}
"""The host-name prefixes tried for each protocol, in the seed's order (``""``: the
domain itself)."""

PORTS: Ports = {
    "imap": ((993, Security.SSL), (143, Security.STARTTLS)),
    "pop3": ((995, Security.SSL), (110, Security.STARTTLS)),
    "smtp": ((587, Security.STARTTLS), (465, Security.SSL), (25, Security.STARTTLS)),
}
"""The encrypted ports tried, best first: each port with the TLS it is meant for, plus
SMTP submission over implicit TLS (465, RFC 8314), which the seed predates."""

SEED_PORTS: Ports = {
    protocol: tuple(
        (port, security) for port in ports for security in (Security.SSL, Security.STARTTLS)
    )
    for protocol, ports in {"imap": (993, 143), "pop3": (995, 110), "smtp": (587, 25)}.items()
}
"""The seed's exact encrypted table: implicit TLS *and* STARTTLS on every port, no 465."""

CLEAR_PORTS: Mapping[str, tuple[int, ...]] = {"imap": (143,), "pop3": (110,), "smtp": (25,)}
"""The ports the seed tries without encryption, after consent."""

_NAMES = {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}
_CATEGORY = {"imap": "incoming", "pop3": "incoming", "smtp": "outgoing"}
_HOW = {
    Security.SSL: "over implicit TLS",
    Security.STARTTLS: "over STARTTLS",
    Security.NONE: "in clear text (with consent)",
}


@attrs.frozen
class Candidate:
    """One permutation of the seed's tables: a server and the user name to log in as."""

    rank: int
    """Its place in the order of preference (lower is better)."""
    protocol: str
    host: str
    port: int
    security: Security
    username: str | None
    """The user name tried; ``None`` when there is no password, so no login."""

    @property
    def server(self) -> tuple[str, str, int, Security]:
        """What the candidates on one connection target share."""
        return (self.protocol, self.host, self.port, self.security)

    @property
    def target(self) -> str:
        """``imaps://mail.example.org:993 as ann@example.org`` (the trace's target)."""
        where = _probe.url(self.protocol, self.host, self.port, self.security)
        if self.security is Security.STARTTLS:
            where += " (STARTTLS)"
        elif self.security is Security.NONE:
            where += " (clear text)"
        return f"{where} as {self.username}" if self.username else where


class GuessProvider(DiscoveryProvider):
    """Settings found by probing the usual host names and ports (seed 002's fallback).

    Configuration lives in class attributes (see :meth:`with_options`), so the registry
    keeps holding a class.
    """

    name = "guess"
    order = 50
    fallback = True  # the seed: only when Autodiscover (and the rest) found nothing

    concurrency: ClassVar[int] = 4
    """Connections open at once, at most."""
    budget: ClassVar[float] = 30.0
    """Seconds for the whole run; what is still running then is stopped."""
    probe_timeout: ClassVar[float] = 10.0
    """Seconds for one probe (connecting included), at most."""
    incoming: ClassVar[tuple[str, ...]] = ("imap", "pop3")
    """The incoming protocols in order of preference; ``("pop3", "imap")`` is the seed's
    ("if POP3 settings work, they are configured")."""
    ports: ClassVar[Ports] = PORTS
    """The encrypted ports per protocol, best first; :data:`SEED_PORTS` is the seed's."""
    clear_ports: ClassVar[Mapping[str, tuple[int, ...]]] = CLEAR_PORTS
    """The clear-text ports per protocol (tried only with consent)."""

    @classmethod
    def with_options(cls, **options: Any) -> type[GuessProvider]:
        """A subclass with other values of the class attributes above.

        :raises TypeError: an option that is not one of them.
        """
        known = {"concurrency", "budget", "probe_timeout", "incoming", "ports", "clear_ports"}
        if unknown := set(options) - known:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return type(
            cls.__name__,
            (cls,),
            {**options, "__module__": cls.__module__, "__doc__": cls.__doc__},
        )

    def discover(self, email: str, *, password: Secret | None = None) -> Iterator[DiscoveryAttempt]:
        checked = self.check_address(email)
        if isinstance(checked, DiscoveryAttempt):
            yield checked
            return
        email, local, domain = checked
        run = _Run(self, email, local, domain, password)
        try:
            yield from run.encrypted()
            yield from run.clear_text()
            yield from run.summary()
        finally:
            run.close()

    def candidates(self, email: str, local: str, domain: str, *, login: bool) -> list[Candidate]:
        """The encrypted candidates for ``email``, best first (see the module docs).

        :param login: a password is given: each server is tried with the full address,
            then the local part; else once, without a login.
        """
        users: tuple[str | None, ...] = (email, local) if login else (None,)
        found: list[Candidate] = []
        for protocol in (*self.incoming, "smtp"):
            for prefix in HOSTS[protocol]:
                host = prefix + domain
                for user in users:
                    for port, security in self.ports.get(protocol, ()):
                        found.append(Candidate(len(found), protocol, host, port, security, user))
        return found


@attrs.define
class _Result:
    """What became of one candidate: its attempt (``None``: skipped) and, for the
    clear-text step, how the server failed (``"no-starttls"``, ``"insecure"``...)."""

    attempt: DiscoveryAttempt | None
    failure: str = ""


class _Run:
    """One discovery run: the candidates, the worker pool, and the results so far."""

    def __init__(
        self,
        provider: GuessProvider,
        email: str,
        local: str,
        domain: str,
        password: Secret | None,
    ) -> None:
        self.provider = provider
        self.email, self.local, self.domain = email, local, domain
        self.password = password
        self.deadline = time.monotonic() + provider.budget
        self.cancels: list[_probe.Cancel] = []
        self.lock = threading.Lock()
        self.results: dict[int, _Result] = {}
        self.candidates: dict[int, Candidate] = {}
        self.decided = {"incoming": threading.Event(), "outgoing": threading.Event()}
        self.yielded: set[int] = set()
        self.out_of_time = False
        self.consented = False
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, provider.concurrency), thread_name_prefix="openprotocols-guess"
        )

    # -- the two steps -------------------------------------------------------------

    def encrypted(self) -> Iterator[DiscoveryAttempt]:
        """Run every encrypted candidate (until each kind has a winner)."""
        login = self.password is not None
        candidates = self.provider.candidates(self.email, self.local, self.domain, login=login)
        yield from self._run(candidates)

    def clear_text(self) -> Iterator[DiscoveryAttempt]:
        """Where a server answered without STARTTLS, ask once, then try it in clear text."""
        if self.out_of_time or all(event.is_set() for event in self.decided.values()):
            return
        wanted, refused = self._clear_candidates()
        yield from refused
        if not wanted:
            return
        if self._consent(wanted):
            yield from self._run(wanted)
            return
        for server in dict.fromkeys(attrs.evolve(c, rank=-1, username=None) for c in wanted):
            yield self.provider.attempt(
                server.target,
                Outcome.REFUSED,
                "clear text needs the user's consent, which was not given: nothing was sent",
            )

    def _clear_candidates(self) -> tuple[list[Candidate], list[DiscoveryAttempt]]:
        """The clear-text candidates worth trying, and the refusals of TLS-failed hosts.

        Only kinds without a winner, and only servers whose STARTTLS probe found the
        protocol without STARTTLS: the others are unreachable, not this protocol, or
        speak TLS, and clear text would tell nothing new (or be a downgrade).
        """
        failures: dict[tuple[str, str, int], set[str]] = {}
        with self.lock:
            for rank, result in self.results.items():
                if result.failure:
                    key = self.candidates[rank].server[:3]
                    failures.setdefault(key, set()).add(result.failure)
        insecure = {key[1] for key, kinds in failures.items() if "insecure" in kinds}
        users: tuple[str | None, ...] = (
            (self.email, self.local) if self.password is not None else (None,)
        )
        rank = max(self.candidates, default=-1) + 1
        wanted: list[Candidate] = []
        refused: list[DiscoveryAttempt] = []
        for protocol in (*self.provider.incoming, "smtp"):
            if self.decided[_CATEGORY[protocol]].is_set():
                continue
            for prefix in HOSTS[protocol]:
                host = prefix + self.domain
                for port in self.provider.clear_ports.get(protocol, ()):
                    if "no-starttls" not in failures.get((protocol, host, port), ()):
                        continue
                    if host in insecure:
                        target = Candidate(-1, protocol, host, port, Security.NONE, None).target
                        reason = f"TLS with {host} failed: not tried in clear text, nothing sent"
                        refused.append(self.provider.attempt(target, Outcome.REFUSED, reason))
                        continue
                    for user in users:  # ranked after every encrypted candidate
                        wanted.append(Candidate(rank, protocol, host, port, Security.NONE, user))
                        rank += 1
        return wanted, refused

    def summary(self) -> Iterator[DiscoveryAttempt]:
        """One closing attempt if time ran out before every candidate was tried."""
        if not self.out_of_time:
            return
        with self.lock:
            untried = sum(
                1
                for rank in self.candidates
                if rank not in self.results or self.results[rank].failure == "untried"
            )
        yield self.provider.attempt(
            f"(guessing for {self.domain})",
            Outcome.ERROR,
            f"the time budget of {self.provider.budget:g} s ran out"
            + (f"; {untried} candidate(s) not tried" if untried else ""),
        )

    def close(self) -> None:
        """Stop everything still running (also when the caller stops iterating)."""
        for cancel in self.cancels:
            cancel.set()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- running candidates --------------------------------------------------------

    def _run(self, candidates: list[Candidate]) -> Iterator[DiscoveryAttempt]:
        for candidate in candidates:
            if not same_site(candidate.host, self.domain):  # by construction; never trust it
                raise AssertionError(f"{candidate.host} is outside {self.domain}")
        with self.lock:
            self.candidates.update((c.rank, c) for c in candidates)
        ranks = [c.rank for c in candidates]
        cancel = _probe.Cancel()
        self.cancels.append(cancel)
        futures = [self.pool.submit(self._server, g, cancel) for g in _servers(candidates)]
        pending: set[Future[None]] = set(futures)
        while pending:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.out_of_time = True
                break
            _, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            yield from self._ready(ranks, final=False)
            if all(event.is_set() for event in self.decided.values()):
                break
        if pending:  # stop what still runs: blocked reads end at once
            for future in pending:
                future.cancel()
            cancel.set()
            wait(pending, timeout=min(1.0, max(0.0, self.deadline - time.monotonic()) + 0.5))
        yield from self._ready(ranks, final=True)

    def _server(self, group: list[Candidate], cancel: _probe.Cancel) -> None:
        """Try one server with each user name in turn, while a login is refused."""
        for index, candidate in enumerate(group):
            if time.monotonic() >= self.deadline:
                self.out_of_time = True
                self._record(group[index:], _Result(None, "untried"))
                return
            if self.decided[_CATEGORY[candidate.protocol]].is_set() or cancel.is_set():
                self._record(group[index:], _Result(None))
                return
            result = self._probe(candidate, cancel)
            self._record([candidate], result)
            if result.failure != "login-refused":  # the next user name would fare the same
                self._record(group[index + 1 :], _Result(None))
                return

    def _record(self, candidates: Sequence[Candidate], result: _Result) -> None:
        with self.lock:
            for candidate in candidates:
                self.results[candidate.rank] = result
            for category, event in self.decided.items():
                if not event.is_set() and self._winner(category) is not None:
                    event.set()

    def _winner(self, category: str) -> int | None:
        """The best rank that worked, once every better one has an answer (lock held)."""
        for rank in sorted(
            r for r, c in self.candidates.items() if _CATEGORY[c.protocol] == category
        ):
            result = self.results.get(rank)
            if result is None:
                return None
            if result.attempt is not None and result.attempt.outcome is Outcome.FOUND:
                return rank
        return None

    def _ready(self, ranks: list[int], *, final: bool) -> Iterator[DiscoveryAttempt]:
        """The attempts to report now: per kind, in rank order, as far as all are known."""
        with self.lock:
            ready: list[DiscoveryAttempt] = []
            for category in self.decided:
                for rank in ranks:
                    if _CATEGORY[self.candidates[rank].protocol] != category:
                        continue
                    result = self.results.get(rank)
                    if result is None and not final:
                        break
                    if rank in self.yielded or result is None:
                        continue
                    self.yielded.add(rank)
                    if result.attempt is not None:
                        ready.append(result.attempt)
        yield from ready

    def _consent(self, candidates: list[Candidate]) -> bool:
        """Ask once whether the clear-text candidates may be tried."""
        servers = list(dict.fromkeys((c.protocol, c.host, c.port) for c in candidates))
        first = servers[0]
        listing = ", ".join(f"{_NAMES[p]} {h}:{n}" for p, h, n in servers)
        secret = " and the password would be sent unencrypted" if self.password else ""
        request = ConsentRequest(
            kind=ConsentKind.CLEAR_TEXT,
            protocol=first[0],
            host=first[1],
            port=first[2],
            domain=self.domain,
            reason=(
                f"no server of {self.domain} worked with TLS; these answer without it: "
                f"{listing}; trying them{secret}"
            ),
        )
        try:
            self.provider.network.require_consent(request)
        except ConsentRequired:
            return False
        self.consented = True
        return True

    # -- one probe -----------------------------------------------------------------

    def _probe(self, candidate: Candidate, cancel: _probe.Cancel) -> _Result:
        """Probe one candidate; every failure becomes an attempt with a reason."""
        try:
            result = _probe.probe(
                self.provider.network,
                candidate.protocol,
                candidate.host,
                candidate.port,
                candidate.security,
                username=candidate.username,
                password=self.password if candidate.username is not None else None,
                deadline=min(self.deadline, time.monotonic() + self.provider.probe_timeout),
                clear_text_login=candidate.security is Security.NONE and self.consented,
                cancel=cancel,
            )
        except Exception as exc:  # every failure is an attempt, never raised
            outcome, reason, failure = self._explain(candidate, exc)
            return _Result(self.provider.attempt(candidate.target, outcome, reason), failure)
        name, how = _NAMES[candidate.protocol], _HOW[candidate.security]
        if result.login is not None:
            reason = f"{name} server {how}; logged in as this user name ({result.login})"
        else:
            reason = f"{name} server {how} offering a password login; login not tried"
            reason += " (no password given)"
        endpoint = Endpoint(
            protocol=candidate.protocol,
            host=candidate.host,
            port=candidate.port,
            security=candidate.security,
            username=candidate.username or self.email,
        )
        attempt = self.provider.attempt(candidate.target, Outcome.FOUND, reason, [endpoint])
        return _Result(attempt)

    def _explain(  # noqa: PLR0911 - one answer per kind of failure
        self, candidate: Candidate, exc: Exception
    ) -> tuple[Outcome, str, str]:
        """The outcome, the reason and the failure kind (for the clear-text step) of a
        failed probe."""
        name, how = _NAMES[candidate.protocol], _HOW[candidate.security]
        if isinstance(exc, _probe.Cancelled):
            why = "time ran out" if self.out_of_time else "a winner was found"
            return Outcome.NOT_FOUND, f"stopped before an answer: {why}", "stopped"
        if isinstance(exc, AuthenticationError):
            reason = f"login tried {how} and refused for this user name: {exc}"
            return Outcome.AUTH_REQUIRED, reason, "login-refused"
        if isinstance(exc, _probe.NoStartTLS):
            reason = f"answers {name} but offers no STARTTLS: clear text only with consent"
            return Outcome.REFUSED, reason, "no-starttls"
        if isinstance(exc, _probe.CertificateFailure | _probe.Tampering):
            return Outcome.ERROR, f"TLS refused, no credential sent: {exc}", "insecure"
        if isinstance(exc, ConnectionSecurityError):
            return Outcome.ERROR, f"TLS failed, no credential sent: {exc}", "tls"
        if isinstance(exc, TimeoutError):
            return Outcome.ERROR, f"timed out: {exc}", "timeout"
        if isinstance(exc, _probe.WrongProtocol):
            return Outcome.NOT_FOUND, f"something answers, but not {name}", "gone"
        if isinstance(exc, ConnectionError):
            return Outcome.NOT_FOUND, str(exc), "gone"
        if isinstance(exc, CapabilityError):
            return Outcome.NOT_FOUND, f"not usable: {exc}", "gone"
        if isinstance(exc, ConsentRequired):
            return Outcome.REFUSED, f"{exc}; nothing was sent", "consent"
        return Outcome.ERROR, f"{type(exc).__name__}: {exc}", "error"


def _servers(candidates: Sequence[Candidate]) -> list[list[Candidate]]:
    """The candidates grouped by server (one connection at a time each), best first,
    incoming and outgoing servers taking turns so both kinds progress in parallel."""
    groups: dict[tuple[str, str, int, Security], list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.server, []).append(candidate)
    queues: dict[str, list[list[Candidate]]] = {"incoming": [], "outgoing": []}
    for group in groups.values():
        queues[_CATEGORY[group[0].protocol]].append(group)
    ordered: list[list[Candidate]] = []
    incoming, outgoing = queues["incoming"], queues["outgoing"]
    for index in range(max(len(incoming), len(outgoing))):
        ordered += incoming[index : index + 1] + outgoing[index : index + 1]
    return ordered


@hookimpl
def openprotocols_register_discovery_providers(registry: DiscoveryRegistry) -> None:
    """Register the guessing provider."""
    registry.add(GuessProvider)
