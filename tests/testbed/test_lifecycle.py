"""Life cycle of the test-bed servers: clean stops, startup errors, the CA, the skip rule."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from openprotocols.testing import pytest_plugin
from openprotocols.testing.servers import (
    DnsmasqServer,
    DovecotServer,
    HostRecord,
    HTTPSServer,
    PymapServer,
    RadicaleServer,
    Response,
    ServerProcess,
    ServerStartError,
    TestCA,
    XandikosServer,
    free_port,
    process_group_members,
)


def assert_stops_cleanly(server: ServerProcess) -> None:
    """Stop ``server``; assert its process, every process of its group and its files are gone."""
    pid, workdir = server.pid, server.workdir
    assert pid is not None
    assert pid in process_group_members(pid)
    assert workdir.is_dir()
    server.stop()
    assert (server.running, server.pid) == (False, None)
    assert process_group_members(pid) == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not workdir.exists()
    server.stop()  # a second stop is harmless


def start_dovecot_with_open_session(stack: contextlib.ExitStack) -> ServerProcess:
    """A Dovecot with a logged-in IMAP session, so that it runs an imap child as nobody."""
    pytest_plugin.require_binary("dovecot", "dovecot-imapd")
    pytest_plugin.require_root("Dovecot")
    server = DovecotServer(tls=False).start()
    stack.callback(server.stop)
    client = server.imap_client("alice", security="plain")
    client.select_folder("INBOX")  # keep the session open while stopping

    def close_client() -> None:
        with contextlib.suppress(OSError):  # the server is gone by now
            client.shutdown()

    stack.callback(close_client)
    assert len(process_group_members(server.pid or 0)) >= 4  # master, login, auth, imap, ...
    return server


def start_dnsmasq(stack: contextlib.ExitStack) -> ServerProcess:
    """A dnsmasq with one record."""
    pytest_plugin.require_binary("dnsmasq", "dnsmasq-base")
    return stack.enter_context(DnsmasqServer([HostRecord("x.example.test")]))


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(lambda stack: stack.enter_context(RadicaleServer()), id="radicale"),
        pytest.param(lambda stack: stack.enter_context(XandikosServer()), id="xandikos"),
        pytest.param(lambda stack: stack.enter_context(PymapServer()), id="pymap"),
        pytest.param(start_dovecot_with_open_session, id="dovecot"),
        pytest.param(start_dnsmasq, id="dnsmasq"),
    ],
)
@pytest.mark.servers
def test_stop_leaves_no_process_behind(
    start: Callable[[contextlib.ExitStack], ServerProcess],
) -> None:
    """After stop() the server process, its whole process group and its directory are gone."""
    with contextlib.ExitStack() as stack:  # cleans up even if an assertion fails
        assert_stops_cleanly(start(stack))


class StubbornServer(ServerProcess):
    """A server that ignores SIGTERM and has a child that ignores it too."""

    name = "stubborn"

    @property
    def url(self) -> str:
        """Unused."""
        return f"tcp://{self.host}:{self.port}"

    def _prepare(self, workdir: Path) -> list[str]:
        self._port = free_port()
        script = (
            "import os, signal, socket, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "if os.fork() == 0:\n"
            "    time.sleep(120)\n"
            f"s = socket.create_server(('127.0.0.1', {self._port}))\n"
            "time.sleep(120)\n"
        )
        return [sys.executable, "-c", script]


def test_stop_kills_processes_that_ignore_sigterm() -> None:
    """stop() escalates to SIGKILL for the server and its children after stop_timeout."""
    server = StubbornServer(stop_timeout=0.3).start()
    assert server.pid is not None
    assert len(process_group_members(server.pid)) == 2
    started = time.monotonic()
    assert_stops_cleanly(server)
    assert time.monotonic() - started < 5


def test_startup_failure_reports_the_output() -> None:
    """A server exiting during startup raises ServerStartError with its output; nothing is left."""
    server = RadicaleServer(extra_args=["--no-such-option"])
    with pytest.raises(ServerStartError, match="unrecognized arguments: --no-such-option"):
        server.start()
    assert not server.running
    assert "--no-such-option" in server.output


def test_start_retries_when_the_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """If another program holds the chosen port, start() notices and retries on a new port."""
    from openprotocols.testing import servers

    picks: list[int] = []
    real_free_port = servers.free_port
    with socket.create_server((servers.LOCALHOST, 0)) as squatter:
        taken = squatter.getsockname()[1]

        def free_port_taken_first() -> int:
            picks.append(taken if not picks else real_free_port())
            return picks[-1]

        monkeypatch.setattr(servers, "free_port", free_port_taken_first)
        with XandikosServer() as server:
            assert server.port != taken
            assert len(picks) == 2
            with socket.create_connection((server.host, server.port), timeout=5):
                pass


def test_context_manager_starts_and_stops() -> None:
    """``with`` starts a server and stops it on exit."""
    with PymapServer() as server:
        pid = server.pid
        assert pid is not None
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            assert sock.recv(100).startswith(b"* OK")
    assert process_group_members(pid) == []


def test_ca_files_and_extra_names(test_ca: TestCA) -> None:
    """The CA writes its PEM files and the certificate is valid for the extra names only."""
    for path in (test_ca.ca_pem, test_ca.cert_pem, test_ca.key_pem):
        assert path.read_bytes().startswith(b"-----BEGIN")
    assert test_ca.ca_pem.read_bytes() == test_ca.ca_pem_bytes
    with HTTPSServer({("GET", "/"): Response.text("ok")}, ca=test_ca) as server:
        for name in ("localhost", "example.test", "autodiscover.example.test"):
            with (
                socket.create_connection((server.host, server.port), timeout=5) as raw,
                test_ca.client_context().wrap_socket(raw, server_hostname=name) as tls,
            ):
                assert tls.version() is not None
        with (
            socket.create_connection((server.host, server.port), timeout=5) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            test_ca.client_context().wrap_socket(raw, server_hostname="example.org")


def test_missing_binary_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CI a missing program skips the test with a message naming the apt package."""
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install no-such-package"):
        pytest_plugin.require_binary("openprotocols-no-such-binary", "no-such-package")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        pytest_plugin.require_binary("openprotocols-no-such-binary", "no-such-package")


@pytest.mark.parametrize("value", ["true", "1", "yes", "True"])
def test_missing_binary_fails_in_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """With CI set to a true value a missing program fails the test instead of skipping it."""
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        pytest_plugin.require_binary("openprotocols-no-such-binary", "no-such-package")
    with pytest.raises(pytest.fail.Exception, match="pip install no-such-module"):
        pytest_plugin.require_module("openprotocols_no_such_module", "no-such-module")


def test_server_fixtures_get_the_servers_marker(
    request: pytest.FixtureRequest, https_server: HTTPSServer
) -> None:
    """A test using a server fixture is marked ``servers`` automatically."""
    assert request.node.get_closest_marker("servers") is not None


def test_restart_with_a_private_ca_serves_a_fresh_certificate() -> None:
    """A TLS server without a given CA makes its own on each start, so a restart works."""
    import niquests

    from openprotocols.testing.servers import RadicaleServer

    server = RadicaleServer(tls=True)
    for _ in range(2):
        with server:
            assert server.ca is not None
            answer = niquests.get(server.url, verify=str(server.ca.ca_pem), timeout=10)
            assert answer.status_code in (200, 302)
        assert server.ca is None  # the private CA went with the working directory
