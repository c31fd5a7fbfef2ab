"""openprotocols.discover(): providers merged in order, with a trace, against dnsmasq."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar

import pytest

import openprotocols
from openprotocols.backends.discovery import DiscoveryAttempt, DiscoveryProvider, Outcome
from openprotocols.errors import ConfigurationError, ConsentRequired, DiscoveryError
from openprotocols.model import Endpoint, Security
from openprotocols.network import Network, Timeouts
from openprotocols.plugins import DEFAULT_PLUGINS, PluginManager, get_plugin_manager
from openprotocols.testing.servers import DnsmasqServer, SRVRecord

pytestmark = pytest.mark.servers

Factory = Callable[[Iterable[object]], DnsmasqServer]
RECORDS = (
    SRVRecord("_imaps._tcp.example.test", "mail.example.test", 993),
    SRVRecord("_submissions._tcp.example.test", "mail.example.test", 465),
    SRVRecord("_pop3s._tcp.example.test", "mail.example.test", 995),
    SRVRecord("_caldavs._tcp.example.test", "dav.example.test", 443),
)


class Company(DiscoveryProvider):
    """A provider that knows example.test's IMAP and SMTP servers."""

    name = "company"
    order = 10

    def discover(self, email: str, *, password: object = None) -> Iterator[DiscoveryAttempt]:
        yield DiscoveryAttempt(
            mechanism=self.name,
            target="company-db",
            outcome=Outcome.FOUND,
            endpoints=[
                Endpoint(protocol="imap", host="imap.company.test", port=993),
                Endpoint(
                    protocol="smtp", host="smtp.company.test", port=587, security=Security.STARTTLS
                ),
            ],
        )


class CompanyPlugin:
    """Registers the Company provider."""

    @openprotocols.hookimpl
    def openprotocols_register_discovery_providers(self, registry):  # type: ignore[no-untyped-def]
        registry.add(Company)


def only_srv() -> PluginManager:
    """A plugin manager whose only plugin is the built-in SRV provider."""
    others = [name for name in DEFAULT_PLUGINS if name != "openprotocols.backends.srv"]
    return get_plugin_manager(entry_points=False, blocked=others)


def test_discover_through_srv(dnsmasq: Factory) -> None:
    """SRV settings become an account; every lookup is in the trace."""
    net = Network(resolver=dnsmasq(RECORDS).resolver(), timeouts=Timeouts(connect=2, read=2))
    result = openprotocols.discover("ann@example.test", network=net, plugin_manager=only_srv())
    account = result.account()
    assert [(e.protocol, e.host, e.port) for e in account.endpoints] == [
        ("imap", "mail.example.test", 993),
        ("smtp", "mail.example.test", 465),
        ("caldav", "dav.example.test", 443),
    ]
    assert result.best("imap").mechanism == "srv"  # type: ignore[union-attr]
    assert result.best("imap").source == "_imaps._tcp.example.test"  # type: ignore[union-attr]
    assert "[srv] _carddavs._tcp.example.test: not-found (no SRV record)" in result.render_trace()
    assert result.account(incoming=("pop3", "imap")).endpoints[0].protocol == "pop3"


def test_servers_order_can_choose_the_incoming_protocol() -> None:
    """account(incoming=None) takes the first incoming setting in the servers' order."""
    from openprotocols.discovery import DiscoveredSetting, DiscoveryResult

    pop3 = Endpoint(protocol="pop3", host="mail.example.test", port=995)
    imap = Endpoint(protocol="imap", host="mail.example.test", port=993)
    result = DiscoveryResult(
        email="ann@example.test",
        settings=[
            DiscoveredSetting(pop3, "autodiscover", "u"),
            DiscoveredSetting(imap, "autodiscover", "u"),
        ],
    )
    assert result.account().endpoints == (imap,)  # IMAP preferred by default
    assert result.account(incoming=None).endpoints == (pop3,)  # as the server listed them


def test_earlier_mechanism_wins_and_stops_discovery(dnsmasq: Factory) -> None:
    """A better-ranked provider's answer wins; the trace lists providers by rank."""
    net = Network(resolver=dnsmasq(RECORDS).resolver())
    pm = get_plugin_manager(entry_points=False, plugins=[CompanyPlugin()])
    result = openprotocols.discover(
        "ann@example.test", network=net, plugin_manager=pm, protocols=("imap", "smtp")
    )
    assert result.best("imap").endpoint.host == "imap.company.test"  # type: ignore[union-attr]
    assert result.trace[0].mechanism == "company"
    registry = pm.discovery_providers()
    ranks = [registry.get(attempt.mechanism).order for attempt in result.trace]
    assert ranks == sorted(ranks)  # grouped by provider, best-ranked first


class Slow(DiscoveryProvider):
    """A provider that finds IMAP only after the given delay (order 5: it outranks all)."""

    name = "slow"
    order = 5
    delay = 0.5

    def discover(self, email: str, *, password: object = None) -> Iterator[DiscoveryAttempt]:
        yield DiscoveryAttempt(mechanism=self.name, target="waiting", outcome=Outcome.NOT_FOUND)
        time.sleep(self.delay)
        yield DiscoveryAttempt(
            mechanism=self.name,
            target="slow-db",
            outcome=Outcome.FOUND,
            endpoints=[Endpoint(protocol="imap", host="imap.slow.test", port=993)],
        )


class Broken(DiscoveryProvider):
    """A provider with a bug."""

    name = "broken"
    order = 6

    def discover(self, email: str, *, password: object = None) -> Iterator[DiscoveryAttempt]:
        raise RuntimeError("provider bug")
        yield  # pragma: no cover - makes this a generator


def plugin_of(*classes: type[DiscoveryProvider]) -> object:
    """A plugin registering the given providers."""

    class Plugin:
        @openprotocols.hookimpl
        def openprotocols_register_discovery_providers(self, registry):  # type: ignore[no-untyped-def]
            for cls in classes:
                registry.add(cls)

    return Plugin()


def test_a_faster_lower_ranked_answer_waits_for_better_ones(dnsmasq: Factory) -> None:
    """Company (order 10) is done at once, but the slow order-5 provider still wins."""
    net = Network(resolver=dnsmasq(RECORDS).resolver())
    pm = get_plugin_manager(entry_points=False, plugins=[plugin_of(Slow, Company)])
    result = openprotocols.discover(
        "ann@example.test", network=net, plugin_manager=pm, protocols=("imap",)
    )
    assert [s.mechanism for s in result.for_protocol("imap")][:2] == ["slow", "company"]


def test_time_budget_stops_providers_and_keeps_their_findings(dnsmasq: Factory) -> None:
    """At the budget, running providers are stopped; what they found so far counts."""
    net = Network(resolver=dnsmasq(RECORDS).resolver())
    pm = get_plugin_manager(entry_points=False, plugins=[plugin_of(Slow, Company)])
    started = time.monotonic()
    result = openprotocols.discover(
        "ann@example.test", network=net, plugin_manager=pm, protocols=("imap", "smtp"), timeout=0.2
    )
    assert time.monotonic() - started < 0.45  # Slow would take 0.5 s
    assert result.best("imap").mechanism == "company"  # type: ignore[union-attr]
    slow = [a for a in result.trace if a.mechanism == "slow"]
    assert [a.target for a in slow] == ["waiting", "(stopped)"]


def test_a_crashing_provider_is_an_error_in_the_trace(dnsmasq: Factory) -> None:
    """A provider's exception never escapes discover(); it is an ERROR attempt."""
    net = Network(resolver=dnsmasq(RECORDS).resolver())
    pm = get_plugin_manager(entry_points=False, plugins=[plugin_of(Broken, Company)])
    result = openprotocols.discover(
        "ann@example.test", network=net, plugin_manager=pm, protocols=("imap",)
    )
    (broken,) = [a for a in result.trace if a.mechanism == "broken"]
    assert broken.outcome is Outcome.ERROR
    assert "provider bug" in broken.reason


class Guessing(DiscoveryProvider):
    """A fallback provider that finds SMTP and records that it ran."""

    name = "guessing"
    order = 50
    fallback = True
    runs: ClassVar[list[str]] = []

    def discover(self, email: str, *, password: object = None) -> Iterator[DiscoveryAttempt]:
        Guessing.runs.append(email)
        yield DiscoveryAttempt(
            mechanism=self.name,
            target="guess",
            outcome=Outcome.FOUND,
            endpoints=[Endpoint(protocol="smtp", host="smtp.example.test", port=587)],
        )


def test_fallback_runs_only_when_the_others_fall_short(dnsmasq: Factory) -> None:
    """Guessing is skipped when better providers found everything, and fills gaps after."""
    net = Network(resolver=dnsmasq(()).resolver())
    pm = get_plugin_manager(entry_points=False, plugins=[plugin_of(Company, Guessing)])
    Guessing.runs.clear()
    complete = openprotocols.discover(
        "ann@example.test", network=net, plugin_manager=pm, protocols=("imap", "smtp")
    )
    assert Guessing.runs == []
    assert complete.best("smtp").mechanism == "company"  # type: ignore[union-attr]
    pm = get_plugin_manager(entry_points=False, plugins=[plugin_of(Slow, Guessing)])
    result = openprotocols.discover(
        "ann@example.test", network=net, plugin_manager=pm, protocols=("imap", "smtp")
    )
    assert Guessing.runs == ["ann@example.test"]
    assert [a.mechanism for a in result.trace][-1] == "guessing"  # after the others
    assert result.best("imap").mechanism == "slow"  # type: ignore[union-attr]
    assert result.best("smtp").mechanism == "guessing"  # type: ignore[union-attr]


def test_consent_prompts_come_one_at_a_time() -> None:
    """Providers in threads never call the consent callback concurrently."""
    import threading

    from openprotocols.discovery import _serialized
    from openprotocols.network import ConsentKind, ConsentRequest

    active = 0
    most = 0
    lock = threading.Lock()

    def slow_yes(request: ConsentRequest) -> bool:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return True

    ask = _serialized(slow_yes)
    requests = [
        ConsentRequest(kind=ConsentKind.FOREIGN_HOST, protocol="x", host=f"h{n}.test")
        for n in range(4)
    ]
    threads = [threading.Thread(target=ask, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_each_consent_question_is_asked_once_per_run() -> None:
    """Providers asking about the same host share the user's answer; clear text is asked
    per port, and a refusal is remembered as well as an approval."""
    from openprotocols.network import ConsentKind, ConsentRequest

    def asker(name: str, order: int) -> type[DiscoveryProvider]:
        def discover(self: DiscoveryProvider, email: str, *, password: object = None):  # type: ignore[no-untyped-def]
            for kind, host, port in [
                (ConsentKind.FOREIGN_HOST, "mx.elsewhere.test", 443),
                (ConsentKind.FOREIGN_HOST, "mx.elsewhere.test", 80),
                (ConsentKind.CLEAR_TEXT, "mail.example.test", 143),
                (ConsentKind.CLEAR_TEXT, "mail.example.test", 110),
                (ConsentKind.FOREIGN_HOST, "no.elsewhere.test", 443),
            ]:
                request = ConsentRequest(
                    kind=kind, protocol=name, host=host, port=port, domain="example.test"
                )
                with contextlib.suppress(ConsentRequired):
                    self.network.require_consent(request)
            yield DiscoveryAttempt(mechanism=name, target="x", outcome=Outcome.NOT_FOUND)

        attributes = {"name": name, "order": order, "discover": discover}
        return type(name, (DiscoveryProvider,), attributes)

    asked: list[tuple[str, int | None]] = []

    def answer(request: ConsentRequest) -> bool:
        asked.append((request.host, request.port))
        return not request.host.startswith("no.")

    pm = get_plugin_manager(
        entry_points=False,
        blocked=DEFAULT_PLUGINS,
        plugins=[plugin_of(asker("first", 1), asker("second", 2))],
    )
    with pytest.raises(DiscoveryError):
        openprotocols.discover("ann@example.test", consent=answer, plugin_manager=pm)
    assert sorted(asked) == [
        ("mail.example.test", 110),
        ("mail.example.test", 143),
        ("mx.elsewhere.test", 443),
        ("no.elsewhere.test", 443),
    ]


def test_later_mechanisms_fill_what_earlier_ones_lack(dnsmasq: Factory) -> None:
    """CalDAV missing from the first provider is looked up by the next."""
    net = Network(resolver=dnsmasq(RECORDS).resolver())
    pm = get_plugin_manager(entry_points=False, plugins=[CompanyPlugin()])
    result = openprotocols.discover(
        "ann@example.test", network=net, plugin_manager=pm, protocols=("imap", "caldav")
    )
    assert result.best("imap").mechanism == "company"  # type: ignore[union-attr]
    assert result.best("caldav").mechanism == "srv"  # type: ignore[union-attr]
    assert [s.mechanism for s in result.for_protocol("imap")] == ["company", "srv"]


def test_nothing_found_raises_with_the_trace(dnsmasq: Factory) -> None:
    """With no records at all, DiscoveryError carries where discovery looked."""
    net = Network(resolver=dnsmasq(()).resolver())
    with pytest.raises(DiscoveryError) as info:
        openprotocols.discover("ann@example.test", network=net, plugin_manager=only_srv())
    assert any(a.target == "_imaps._tcp.example.test" for a in info.value.trace)  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["", "ann", "@example.test", "ann@", "a nn@example.test"])
def test_bad_address(bad: str) -> None:
    """Something that is not an address is a ConfigurationError, before any lookup."""
    with pytest.raises(ConfigurationError):
        openprotocols.discover(bad, plugin_manager=get_plugin_manager(entry_points=False))
