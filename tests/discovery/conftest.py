"""A small web of named hosts for the HTTP discovery tests: one HTTPS and one plain-HTTP
server of the test bed answer for every host name below (virtual hosts, told apart by the
``Host`` header), and a dnsmasq serves the SRV and MX records the tests need."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import pytest

from openprotocols.network import ConsentCallback, Network, Timeouts
from openprotocols.testing.servers import (
    DnsmasqServer,
    HTTPSServer,
    MXRecord,
    Request,
    Response,
    RouteTarget,
    SRVRecord,
    TestCA,
)

DOMAINS = ("example.test", "hoster.test", "evil.test", "srvdomain.test", "mxuser.test")
SHAPES: dict[str, tuple[str, ...]] = {
    # the user's domain: (its foreign siblings under the same public suffix, the suffix)
    "example.co.uk": ("other.co.uk", "co.uk"),  # a multi-label ICANN suffix
    "ann.github.io": ("evil.github.io", "github.io"),  # a suffix of the PSL's private section
    "xn--bcher-kva.test": ("bucher.test", "test"),  # an IDN: bücher.test
    "eu.example.test": ("example.test", "test"),  # below the registrable domain
}
"""Domain shapes for the generated tests: each user domain with hosts around it."""
SHAPE_DOMAINS = tuple(
    dict.fromkeys(name for domain, (*others,) in SHAPES.items() for name in (domain, *others))
)
NAMES = tuple(
    name
    for domain in dict.fromkeys(DOMAINS + SHAPE_DOMAINS)
    for name in (domain, f"autodiscover.{domain}", f"autoconfig.{domain}", f"mail.{domain}")
)
"""Every host name the virtual-host servers answer for (on 443 and 80)."""

RECORDS = (
    SRVRecord("_autodiscover._tcp.srvdomain.test", "mail.srvdomain.test", 8443),
    MXRecord("mxuser.test", "mx1.hoster.test", 10),
    MXRecord("mxuser.test", "mx9.evil.test", 20),
    MXRecord("selfmx.test", "mx.selfmx.test", 10),
)

NOT_FOUND = Response(404, {"Content-Type": "text/plain"}, "not found\n")


class Web:
    """Named HTTPS and HTTP hosts on two local servers, and a network that reaches them."""

    def __init__(self, https: HTTPSServer, http: HTTPSServer, dns: DnsmasqServer, ca: Path):
        self.https, self.http, self.dns, self.ca = https, http, dns, ca
        self.resolver = dns.resolver()  # one resolver: networks built alike compare equal
        self.routes: dict[tuple[str, str, str], RouteTarget] = {}
        https.set_default(lambda request: self._serve("https", request))
        http.set_default(lambda request: self._serve("http", request))

    def route(self, url: str, target: RouteTarget) -> None:
        """Answer every request for ``url`` (scheme, host, path; no port) with ``target``."""
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        self.routes[(scheme, host.partition(":")[0], "/" + path.partition("?")[0])] = target

    def _serve(self, scheme: str, request: Request) -> Response:
        host = (request.header("Host") or "").partition(":")[0].lower()
        target = self.routes.get((scheme, host, request.path), NOT_FOUND)
        return target if isinstance(target, Response) else target(request)

    def requests(self, host: str | None = None, *, scheme: str | None = None) -> list[Request]:
        """The requests received (for ``host`` / ``scheme`` only, if given), in order."""
        found: list[Request] = []
        for name, server in (("https", self.https), ("http", self.http)):
            if scheme not in (None, name):
                continue
            for request in server.requests:
                if host in (None, (request.header("Host") or "").partition(":")[0].lower()):
                    found.append(request)
        return found

    def network(
        self,
        consent: ConsentCallback | None = None,
        *,
        extra: Mapping[str, str] | None = None,
        ca_bundle: Path | bytes | None = None,
    ) -> Network:
        """A network sending every name of :data:`NAMES` (ports 443 and 80) to the servers.

        ``extra`` adds or replaces overrides: ``{"name:port": "https" | "http" | "ip:port"}``.
        """
        overrides = {}
        for name in NAMES:
            overrides[f"{name}:443"] = f"127.0.0.1:{self.https.port}"
            overrides[f"{name}:80"] = f"127.0.0.1:{self.http.port}"
        for source, target in (extra or {}).items():
            server = {"https": self.https, "http": self.http}.get(target)
            overrides[source] = f"127.0.0.1:{server.port}" if server else target
        return Network(
            overrides=overrides,
            ca_bundle=ca_bundle if ca_bundle is not None else self.ca,
            resolver=self.resolver,
            timeouts=Timeouts(connect=2, read=5),
            consent=consent,
        )


@pytest.fixture(scope="session")
def discovery_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A CA whose server certificate covers every name of :data:`NAMES`."""
    return TestCA(tmp_path_factory.mktemp("discovery-ca"), names=NAMES)


@pytest.fixture
def web(
    discovery_ca: TestCA, dnsmasq: Callable[[Iterable[object]], DnsmasqServer]
) -> Iterator[Web]:
    """Fresh virtual-host servers (HTTPS and HTTP) and the discovery DNS records."""
    dns = dnsmasq(RECORDS)
    with HTTPSServer(ca=discovery_ca) as https, HTTPSServer(tls=False) as http:
        yield Web(https, http, dns, discovery_ca.ca_pem)


@pytest.fixture(scope="session")
def domain_shapes() -> dict[str, tuple[str, ...]]:
    """:data:`SHAPES`: user domains of unusual shapes, each with its foreign siblings and
    its public suffix (every one of their hosts is served by the ``web`` fixture)."""
    return SHAPES


@pytest.fixture(scope="module")
def servers(discovery_ca: TestCA) -> Iterator[tuple[HTTPSServer, HTTPSServer]]:
    """The HTTPS and HTTP virtual-host servers, shared by the module's tests."""
    with HTTPSServer(ca=discovery_ca) as https, HTTPSServer(tls=False) as http:
        yield https, http


@pytest.fixture
def make_web(
    servers: tuple[HTTPSServer, HTTPSServer],
    dnsmasq: Callable[[Iterable[object]], DnsmasqServer],
    discovery_ca: TestCA,
) -> Callable[..., Web]:
    """``make_web(records)``: the web with no routes and no requests yet, and a dnsmasq
    serving ``records``."""

    def make(records: Iterable[object] = ()) -> Web:
        https, http = servers
        https.clear()
        http.clear()
        return Web(https, http, dnsmasq(records), discovery_ca.ca_pem)

    return make
