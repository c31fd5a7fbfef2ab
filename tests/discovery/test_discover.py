"""openprotocols.discover(): providers merged in order, with a trace, against dnsmasq."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pytest

import openprotocols
from openprotocols.backends.discovery import DiscoveryAttempt, DiscoveryProvider, Outcome
from openprotocols.errors import ConfigurationError, DiscoveryError
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


def test_earlier_mechanism_wins_and_stops_discovery(dnsmasq: Factory) -> None:
    """A provider that runs first ranks first; once all asked for is found, none follow."""
    net = Network(resolver=dnsmasq(RECORDS).resolver())
    pm = get_plugin_manager(entry_points=False, plugins=[CompanyPlugin()])
    result = openprotocols.discover(
        "ann@example.test", network=net, plugin_manager=pm, protocols=("imap", "smtp")
    )
    assert result.best("imap").endpoint.host == "imap.company.test"  # type: ignore[union-attr]
    assert {a.mechanism for a in result.trace} == {"company"}


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
