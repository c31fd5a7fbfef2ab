"""pytest fixtures that start the test-bed servers of :mod:`openprotocols.testing.servers`.

Enable with ``pytest_plugins = ["openprotocols.testing.pytest_plugin"]`` in a top-level
``conftest.py``. Servers are session-scoped (started once, on first use) unless noted.

Skip rule: when a server's program or Python package is missing, or it needs root and the
tests do not run as root, the test is skipped with a message naming the package to
install, except when the environment variable ``CI`` is set to a true value: then the
test **fails**, because CI must never silently skip a server test.

Every test that uses one of these fixtures gets the ``servers`` marker, so
``pytest -m "not servers"`` runs only the tests that need no server.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterable, Iterator
from typing import NoReturn

import pytest

from openprotocols.testing.servers import (
    DnsmasqServer,
    DNSRecord,
    DovecotServer,
    HTTPSServer,
    PymapServer,
    RadicaleServer,
    SMTPServer,
    TestCA,
    XandikosServer,
    find_binary,
)

__all__ = [
    "DnsmasqFactory",
    "ci_enabled",
    "dnsmasq",
    "dovecot",
    "https_server",
    "pymap_server",
    "radicale",
    "require_binary",
    "require_module",
    "require_root",
    "smtp_server",
    "test_ca",
    "unavailable",
    "xandikos",
]

#: Extra names in the session CA's server certificate (besides localhost and 127.0.0.1).
TEST_CA_NAMES = ("example.test", "*.example.test")
#: The users of the ``radicale`` and ``dovecot`` fixtures.
TEST_USERS = {"alice": "secret", "bob": "secret"}

#: Fixtures that start servers; tests using them get the ``servers`` marker.
SERVER_FIXTURES = frozenset(
    {
        "radicale",
        "xandikos",
        "dovecot",
        "pymap_server",
        "smtp_server",
        "dnsmasq",
        "https_server",
    }
)

#: A function that returns a running dnsmasq serving the given records.
DnsmasqFactory = Callable[[Iterable[DNSRecord]], DnsmasqServer]

_FALSE_VALUES = frozenset({"", "0", "false", "no", "off", "n", "f"})


def ci_enabled() -> bool:
    """Whether ``CI`` is set to a true value (anything but empty, 0, false, no, off)."""
    return os.environ.get("CI", "").strip().lower() not in _FALSE_VALUES


def unavailable(reason: str) -> NoReturn:
    """Skip the current test because ``reason``; fail it instead when running in CI."""
    if ci_enabled():
        pytest.fail(f"{reason} (CI is set: server tests must not be skipped)", pytrace=False)
    pytest.skip(reason)


def require_binary(binary: str, package: str) -> str:
    """Return the path of ``binary``, else skip (or in CI fail) naming the apt ``package``."""
    path = find_binary(binary)
    if path is None:
        unavailable(f"{binary} is not installed (Debian/Ubuntu: apt-get install {package})")
    return path


def require_module(module: str, package: str) -> None:
    """Skip (or in CI fail) unless the Python ``module`` is importable."""
    if importlib.util.find_spec(module) is None:
        unavailable(
            f"Python package {package} is not installed "
            f"(pip install {package}, or the project's [test] extra)"
        )


def require_root(server: str) -> None:
    """Skip (or in CI fail) unless running as root."""
    if os.geteuid() != 0:
        unavailable(f"{server} needs root in the test bed")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``servers`` marker."""
    config.addinivalue_line(
        "markers", "servers: the test starts one or more real servers of the test bed"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that use a server fixture with ``servers``."""
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """The session's certificate authority; its certificate is valid for ``localhost``,
    ``127.0.0.1``, ``example.test`` and ``*.example.test``; all TLS fixtures use it."""
    require_module("trustme", "trustme")
    return TestCA(tmp_path_factory.mktemp("test-ca"), names=TEST_CA_NAMES)


@pytest.fixture(scope="session")
def radicale() -> Iterator[RadicaleServer]:
    """Radicale over HTTP with htpasswd users ``alice`` and ``bob`` (password ``secret``)."""
    require_module("radicale", "radicale")
    with RadicaleServer(users=TEST_USERS) as server:
        yield server


@pytest.fixture(scope="session")
def xandikos() -> Iterator[XandikosServer]:
    """Xandikos over HTTP, no authentication, principal ``/user/`` with a calendar and an
    address book."""
    require_module("xandikos", "xandikos")
    with XandikosServer() as server:
        yield server


@pytest.fixture(scope="session")
def dovecot(test_ca: TestCA) -> Iterator[DovecotServer]:
    """Dovecot with STARTTLS and implicit TLS (``test_ca``), users ``alice`` and ``bob``
    (password ``secret``) and special-use mailboxes."""
    require_binary("dovecot", "dovecot-imapd")
    require_root("Dovecot")
    require_module("imapclient", "imapclient")
    with DovecotServer(users=TEST_USERS, ca=test_ca) as server:
        yield server


@pytest.fixture(scope="session")
def pymap_server() -> Iterator[PymapServer]:
    """pymap in memory with demo data, plain IMAP, user ``demouser``/``demopass``."""
    require_module("pymap", "pymap")
    with PymapServer() as server:
        yield server


@pytest.fixture(scope="session")
def _smtp_server_session(test_ca: TestCA) -> Iterator[SMTPServer]:
    require_module("aiosmtpd", "aiosmtpd")
    with SMTPServer(users=TEST_USERS, ca=test_ca) as server:
        yield server


@pytest.fixture
def smtp_server(_smtp_server_session: SMTPServer) -> SMTPServer:
    """The session's SMTP server (STARTTLS required, AUTH required, users ``alice`` and
    ``bob``/``secret``), with its recorded messages and AUTH attempts cleared for this test."""
    _smtp_server_session.clear()
    return _smtp_server_session


@pytest.fixture(scope="session")
def dnsmasq() -> Iterator[DnsmasqFactory]:
    """A factory: ``dnsmasq([SRVRecord(...), ...])`` returns a running dnsmasq serving those
    records. Servers are shared by record set and stopped at the end of the session."""
    require_binary("dnsmasq", "dnsmasq-base")
    require_module("dns", "dnspython")
    servers: dict[tuple[DNSRecord, ...], DnsmasqServer] = {}
    with contextlib.ExitStack() as stack:

        def start(records: Iterable[DNSRecord]) -> DnsmasqServer:
            key = tuple(records)
            server = servers.get(key)
            if server is None or not server.running:
                server = servers[key] = DnsmasqServer(key)
                stack.callback(server.stop)
                server.start()
            return server

        yield start


@pytest.fixture
def https_server(test_ca: TestCA) -> Iterator[HTTPSServer]:
    """A fresh HTTPS server (``test_ca``) for this test: no routes (404), records requests."""
    with HTTPSServer(ca=test_ca) as server:
        yield server
