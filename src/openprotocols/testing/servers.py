"""Real servers for tests: start them on 127.0.0.1, talk real protocols to them, stop them.

Every controller follows the same life cycle (see :class:`BaseServer`)::

    with DovecotServer() as imap:            # start() ... stop()
        client = imap.imap_client("alice")   # a logged-in imapclient.IMAPClient

Servers that run as a separate program (:class:`ServerProcess` subclasses) are started in a
new session (their own process group) and :meth:`ServerProcess.stop` kills the whole group,
so no process is left behind. Servers that run in a thread of the test process
(:class:`SMTPServer`, :class:`HTTPSServer`) record what clients sent for assertions.

TLS certificates come from a :class:`TestCA` (a throw-away certificate authority made with
``trustme``); clients trust it through :meth:`TestCA.client_context` or :attr:`TestCA.ca_pem`.

This module is POSIX-only (process groups, ``/proc``) and is meant for Linux test machines.
See ``docs/testing.md``.
"""

from __future__ import annotations

import abc
import atexit
import base64
import contextlib
import datetime
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, TypeAlias

if TYPE_CHECKING:
    from types import TracebackType

    import dns.asyncresolver
    import dns.resolver
    import trustme
    from imapclient import IMAPClient

    from openprotocols.model import Account

__all__ = [
    "LOCALHOST",
    "AuthAttempt",
    "BaseServer",
    "CNAMERecord",
    "DNSRecord",
    "DnsmasqServer",
    "DovecotServer",
    "HTTPSServer",
    "HostRecord",
    "IMAPLogin",
    "IMAPSecurity",
    "MXRecord",
    "PymapServer",
    "RadicaleServer",
    "ReceivedMessage",
    "Request",
    "Response",
    "RouteTarget",
    "SMTPServer",
    "SRVRecord",
    "ServerError",
    "ServerProcess",
    "ServerStartError",
    "TXTRecord",
    "TestCA",
    "XandikosServer",
    "dav_account",
    "dovecot_has_pop3",
    "find_binary",
    "free_port",
    "process_group_members",
]

#: The only address the test bed binds to.
LOCALHOST = "127.0.0.1"

#: How an IMAP client protects the connection: STARTTLS on the plain port, implicit TLS on
#: the imaps port, or no TLS at all.
IMAPSecurity: TypeAlias = Literal["starttls", "tls", "plain"]

_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
_POLL_INTERVAL = 0.02


# --------------------------------------------------------------------------------------
# errors and small helpers
# --------------------------------------------------------------------------------------


class ServerError(RuntimeError):
    """A test server could not be started, used or stopped."""


class ServerStartError(ServerError):
    """A test server exited or did not become ready before its deadline.

    ``output`` holds what the server wrote (stdout, stderr and its log files), which is also
    part of the message.
    """

    def __init__(self, message: str, output: str = "") -> None:
        self.output = output
        text = message
        if output.strip():
            text = f"{message}\n--- server output ---\n{output.rstrip()}\n--- end of output ---"
        super().__init__(text)


def find_binary(name: str) -> str | None:
    """Return the path of the executable ``name`` or ``None``.

    Looks in ``PATH`` and then in the ``sbin`` directories, which are often missing from the
    ``PATH`` of non-login shells (Debian installs ``dovecot`` and ``dnsmasq`` there).
    """
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN_DIRS])
    return shutil.which(name, path=search)


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM, host: str = LOCALHOST) -> int:
    """Return a port on ``host`` that is free right now, picked by the kernel (bind to port 0).

    Another process may take it before the server binds it; the subprocess controllers
    therefore retry with new ports when a server reports "Address already in use".
    """
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def dav_account(url: str, username: str | None = None, password: str | None = None) -> Account:
    """An account with a ``caldav`` and a ``carddav`` endpoint on the plain-HTTP DAV server
    at ``url`` (a :class:`RadicaleServer` or :class:`XandikosServer`), with the password, if
    any, as its credential. Its network must consent to clear text to 127.0.0.1."""
    from openprotocols.model import Account, Endpoint

    host, port = url.split("//", 1)[1].rstrip("/").split(":")
    endpoints = [
        Endpoint(
            protocol=protocol,
            host=host,
            port=int(port),
            security="none",
            username=username,
            password=password,
            auth="password" if password else "none",
            path="/",
        )
        for protocol in ("caldav", "carddav")
    ]
    return Account(email="alice@example.test", endpoints=endpoints)


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct free TCP ports (all sockets are held until all are chosen)."""
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOCALHOST, 0))
            ports.append(sock.getsockname()[1])
        return ports


def _free_udp_tcp_port() -> int:
    """Return a port that is free for both UDP and TCP (DNS servers bind both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((LOCALHOST, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((LOCALHOST, port))
                except OSError:
                    continue
                return port
    raise ServerError("found no port that is free for both UDP and TCP")


def process_group_members(pgid: int) -> list[int]:
    """Return the PIDs of the live (not zombie) processes whose process group is ``pgid``.

    Reads ``/proc``, so it is Linux-only. Used to prove that a stopped server left nothing
    behind.
    """
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return sorted(members)


def _socket_inodes(port: int, kind: Literal["tcp", "udp"]) -> set[str]:
    """Inodes of the IPv4 sockets bound to ``port`` (TCP: listening ones) per ``/proc/net``."""
    inodes: set[str] = set()
    try:
        lines = Path(f"/proc/net/{kind}").read_text().splitlines()[1:]
    except OSError:
        return inodes
    for line in lines:
        fields = line.split()
        if len(fields) < 10:
            continue
        local_port = int(fields[1].rpartition(":")[2], 16)
        listening = kind == "udp" or fields[3] == "0A"  # 0A: TCP_LISTEN
        if local_port == port and listening:
            inodes.add(fields[9])
    return inodes


def _group_owns_port(pgid: int, port: int, kind: Literal["tcp", "udp"]) -> bool:
    """Whether a process of group ``pgid`` holds the socket bound to ``port``.

    Guards against a readiness probe reaching some *other* program that took the port between
    :func:`free_port` and the server's bind. Without ``/proc`` the check is skipped.
    """
    if not Path("/proc/net", kind).exists():
        return True
    wanted = {f"socket:[{inode}]" for inode in _socket_inodes(port, kind)}
    for pid in process_group_members(pgid):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        return True
    return False


def _check_config_value(value: str, what: str) -> str:
    """Refuse values that would break (or inject into) a generated configuration file."""
    if any(char in value for char in "\r\n\x00"):
        raise ValueError(f"{what} must not contain line breaks or NUL: {value!r}")
    return value


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------


class TestCA:
    """A throw-away certificate authority and one server certificate signed by it.

    The server certificate is valid for ``localhost``, ``127.0.0.1`` and any extra ``names``
    (wildcards such as ``*.example.test`` work). The constructor writes three PEM files into
    ``directory`` (a new temporary directory when omitted):

    * :attr:`ca_pem` (``ca.pem``): the CA certificate clients must trust;
    * :attr:`cert_pem` (``server.pem``): the server certificate chain;
    * :attr:`key_pem` (``server.key``): the server's private key.

    ``expired``: the server certificate's validity ended yesterday (for testing that
    clients refuse it).
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        names: Iterable[str] = (),
        expired: bool = False,
    ) -> None:
        import trustme

        self._owns_directory = directory is None
        if directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="openprotocols-ca-"))
        else:
            self.directory = Path(directory)
            self.directory.mkdir(parents=True, exist_ok=True)
        self.names: tuple[str, ...] = tuple(dict.fromkeys(("localhost", LOCALHOST, *names)))
        self.ca: trustme.CA = trustme.CA(organization_name="openprotocols test CA")
        if expired:
            now = datetime.datetime.now(datetime.UTC)
            self.leaf: trustme.LeafCert = self.ca.issue_cert(
                *self.names,
                not_before=now - datetime.timedelta(days=30),
                not_after=now - datetime.timedelta(days=1),
            )
        else:
            self.leaf = self.ca.issue_cert(*self.names)
        self.ca_pem = self.directory / "ca.pem"
        self.cert_pem = self.directory / "server.pem"
        self.key_pem = self.directory / "server.key"
        self.ca.cert_pem.write_to_path(str(self.ca_pem))
        self.leaf.private_key_pem.write_to_path(str(self.key_pem))
        self.key_pem.chmod(0o600)
        for index, blob in enumerate(self.leaf.cert_chain_pems):
            blob.write_to_path(str(self.cert_pem), append=index > 0)

    @property
    def ca_pem_bytes(self) -> bytes:
        """The CA certificate in PEM form."""
        return self.ca.cert_pem.bytes()

    def client_context(self) -> ssl.SSLContext:
        """Return a new client context that trusts only this CA (hostname checks stay on)."""
        return ssl.create_default_context(cafile=str(self.ca_pem))

    def server_context(self) -> ssl.SSLContext:
        """Return a new server context that presents the server certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_pem), str(self.key_pem))
        return context

    def cleanup(self) -> None:
        """Delete the directory if this object created it."""
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"TestCA(directory={str(self.directory)!r}, names={self.names!r})"


# --------------------------------------------------------------------------------------
# common life cycle
# --------------------------------------------------------------------------------------


class BaseServer(abc.ABC):
    """What every test server offers: ``start()``, ``stop()``, a context manager, an address.

    ``start()`` returns the server itself and only returns once the server answers;
    ``stop()`` is idempotent. ``with server:`` starts it (unless already running) and stops it.
    """

    #: Short name used in messages.
    name: ClassVar[str] = "server"
    #: The address the server listens on.
    host: str = LOCALHOST
    #: The CA whose certificate the server presents (``None``: plain, or not started yet).
    ca: TestCA | None = None
    _own_ca: TestCA | None = None

    def _tls_ca(self, directory: Path | None = None) -> TestCA:
        """The CA to present certificates from: the one given, else a private one made
        now (in ``directory``) and dropped again by :meth:`_release_ca` on stop."""
        if self.ca is None:
            self.ca = self._own_ca = TestCA(directory)
        return self.ca

    def _release_ca(self) -> None:
        """Delete a private CA made by :meth:`_tls_ca`; a CA that was given stays."""
        if self._own_ca is not None:
            self._own_ca.cleanup()
            self._own_ca = self.ca = None

    @abc.abstractmethod
    def start(self) -> Self:
        """Start the server and wait until it accepts connections."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the server and release everything it holds; safe to call twice."""

    @property
    @abc.abstractmethod
    def running(self) -> bool:
        """Whether the server has been started and not stopped."""

    @property
    @abc.abstractmethod
    def port(self) -> int:
        """The main port (see the subclasses for additional ports)."""

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """A URL for the main listener, such as ``http://127.0.0.1:41234/``."""

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self.port}" if self.running else "stopped"
        return f"<{type(self).__name__} {state}>"


# Strong references: a running server must not be garbage-collected without being stopped.
_running_processes: set[ServerProcess] = set()


@atexit.register
def _stop_leftover_processes() -> None:
    """Stop servers that a crashed test run did not stop, so no process outlives Python."""
    for server in list(_running_processes):
        with contextlib.suppress(Exception):
            server.stop()


class ServerProcess(BaseServer):
    """A server that runs as a separate program, in its own session and process group.

    Subclasses implement :meth:`_prepare` (choose ports, write configuration into the working
    directory, return the command line) and may override :meth:`_probe` (is it ready?).

    ``base_dir``: where the temporary working directory is created (default: the system
    temporary directory); it is removed by :meth:`stop` unless ``keep_files`` is true.
    ``startup_timeout``: seconds to wait for readiness. ``stop_timeout``: seconds to wait
    after SIGTERM before SIGKILL.
    """

    #: How often start() retries with new ports when a port was taken meanwhile.
    start_attempts: ClassVar[int] = 3
    #: The protocol of :attr:`port`, for the check that the server itself holds the port.
    _port_kind: ClassVar[Literal["tcp", "udp"]] = "tcp"

    def __init__(
        self,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        keep_files: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.base_dir = None if base_dir is None else Path(base_dir)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.keep_files = keep_files
        self.env: dict[str, str] = dict(os.environ if env is None else env)
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._last_output = ""
        self._port = 0

    # -- public state ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server process has been started and not stopped."""
        return self._proc is not None

    @property
    def pid(self) -> int | None:
        """The PID of the server process (also its process group ID); ``None`` if stopped."""
        return None if self._proc is None else self._proc.pid

    @property
    def port(self) -> int:
        """The main TCP (or, for DNS, UDP) port."""
        self._require_running()
        return self._port

    @property
    def workdir(self) -> Path:
        """The temporary directory holding configuration, data and logs."""
        if self._workdir is None:
            raise ServerError(f"{self.name} is not running")
        return self._workdir

    @property
    def output(self) -> str:
        """Everything the server printed, plus its log files (kept after stop())."""
        if self._workdir is not None:
            return self._collect_output(self._workdir)
        return self._last_output

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server process and wait until it answers (see :meth:`_probe`).

        Raises :class:`ServerStartError` with the server's output if it exits or does not
        answer in time; retries with new ports if a port was taken by someone else.
        """
        if self._proc is not None:
            raise ServerError(f"{self.name} is already running")
        for attempt in range(1, self.start_attempts + 1):
            workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.base_dir))
            self._workdir = workdir
            try:
                command = self._prepare(workdir)
                with (workdir / "output.log").open("wb") as log:
                    self._proc = subprocess.Popen(
                        command,
                        cwd=workdir,
                        env=self.env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                _running_processes.add(self)
                self._wait_until_ready(time.monotonic() + self.startup_timeout)
            except ServerStartError as error:
                self.stop()
                port_taken = "address already in use" in error.output.lower()
                if port_taken and attempt < self.start_attempts:
                    continue
                raise
            except BaseException:
                self.stop()
                raise
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop the server and every process in its group; remove the working directory.

        Sends SIGTERM to the process group, waits up to ``stop_timeout`` seconds, then sends
        SIGKILL to whatever is left of the group, reaps the server and waits until no process
        of the group is alive. Raises :class:`ServerError` if one survives SIGKILL.
        """
        proc, self._proc = self._proc, None
        _running_processes.discard(self)
        try:
            if proc is not None:
                _terminate_process_group(proc, self.stop_timeout)
        finally:
            workdir, self._workdir = self._workdir, None
            if workdir is not None:
                self._last_output = self._collect_output(workdir)
                if not self.keep_files:
                    shutil.rmtree(workdir, ignore_errors=True)
            self._release_ca()  # a private CA lived in the working directory

    # -- for subclasses ----------------------------------------------------------------

    @abc.abstractmethod
    def _prepare(self, workdir: Path) -> list[str]:
        """Choose ports, write configuration into ``workdir`` and return the command line."""

    def _probe(self) -> bool:
        """Return whether the server is ready; the default tries a TCP connect to the port."""
        try:
            with socket.create_connection((self.host, self._port), timeout=0.5):
                return True
        except OSError:
            return False

    def _log_files(self, workdir: Path) -> list[Path]:
        """Extra log files whose contents belong in :attr:`output`."""
        return []

    def _require_running(self) -> None:
        if self._proc is None:
            raise ServerError(f"{self.name} is not running")

    # -- internals ---------------------------------------------------------------------

    def _collect_output(self, workdir: Path) -> str:
        parts = [_read_text(workdir / "output.log")]
        for path in self._log_files(workdir):
            text = _read_text(path)
            if text:
                parts.append(f"--- {path.name} ---\n{text}")
        return "\n".join(part for part in parts if part)

    def _wait_until_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while True:
            returncode = _exit_status(self._proc.pid)
            if returncode is not None:
                raise ServerStartError(
                    f"{self.name} exited during startup (status {returncode})", self.output
                )
            if self._probe() and _group_owns_port(self._proc.pid, self._port, self._port_kind):
                return
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.name} did not become ready within {self.startup_timeout} s",
                    self.output,
                )
            time.sleep(_POLL_INTERVAL)


def _exit_status(pid: int) -> int | None:
    """Return the exit status of child ``pid`` if it has exited, without reaping it.

    Not reaping keeps the PID (and so the process group ID) reserved until we are done
    killing the rest of the group.
    """
    try:
        result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # already reaped
        return -1
    if result is None:
        return None
    return result.si_status


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_INTERVAL)
    return True


def _terminate_process_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    pgid = proc.pid  # start_new_session=True: the server leads its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    _wait_for(lambda: _exit_status(proc.pid) is not None, timeout)
    # Give children (Dovecot's login, auth, imap processes) a moment to follow their master.
    _wait_for(lambda: process_group_members(pgid) == [], min(timeout, 1.0))
    # The leader is not reaped yet, so pgid cannot have been reused: kill whatever is left.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait(timeout=timeout)
    if not _wait_for(lambda: process_group_members(pgid) == [], timeout):
        raise ServerError(
            f"processes {process_group_members(pgid)} of group {pgid} survived SIGKILL"
        )


# --------------------------------------------------------------------------------------
# CalDAV / CardDAV
# --------------------------------------------------------------------------------------


class RadicaleServer(ServerProcess):
    """Radicale (CalDAV + CardDAV) with filesystem storage in the working directory.

    ``users``: ``None`` (default) runs with ``auth type = none``, where any user name and
    password is accepted and the principal is ``/<user>/``; a mapping ``{name: password}``
    uses an htpasswd file with plain-text passwords, so wrong passwords get 401.
    ``tls``: serve HTTPS with certificates from ``ca`` (a private :class:`TestCA` is created
    when ``ca`` is omitted). Radicale creates a user's principal collection on the first
    authenticated request.
    """

    name = "radicale"

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        tls: bool = False,
        ca: TestCA | None = None,
        extra_args: Sequence[str] = (),
        base_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        keep_files: bool = False,
    ) -> None:
        super().__init__(
            base_dir=base_dir,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
            keep_files=keep_files,
        )
        self.users: dict[str, str] | None = None if users is None else dict(users)
        self.tls = tls
        self.ca = ca
        self.extra_args = list(extra_args)

    @property
    def scheme(self) -> str:
        """``https`` or ``http``."""
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:41234/``."""
        return f"{self.scheme}://{self.host}:{self.port}/"

    @property
    def storage_dir(self) -> Path:
        """Radicale's ``filesystem_folder``."""
        return self.workdir / "collections"

    def principal_url(self, user: str) -> str:
        """The principal (home) collection URL of ``user``."""
        return f"{self.url}{user}/"

    def _prepare(self, workdir: Path) -> list[str]:
        self._port = free_port()
        command = [
            sys.executable, "-m", "radicale",
            "--config", "",  # ignore /etc/radicale/config and ~/.config/radicale/config
            "--server-hosts", f"{self.host}:{self._port}",
            "--storage-filesystem-folder", str(workdir / "collections"),
            "--auth-delay", "0",
            "--logging-level", "warning",
        ]  # fmt: skip
        if self.users is None:
            command += ["--auth-type", "none"]
        else:
            htpasswd = workdir / "htpasswd"
            htpasswd.write_text(
                "".join(
                    f"{_check_config_value(name, 'user name')}:"
                    f"{_check_config_value(password, 'password')}\n"
                    for name, password in self.users.items()
                )
            )
            command += [
                "--auth-type", "htpasswd",
                "--auth-htpasswd-filename", str(htpasswd),
                "--auth-htpasswd-encryption", "plain",
            ]  # fmt: skip
        if self.tls:
            ca = self._tls_ca(workdir / "ca")
            command += [
                "--ssl", "True",
                "--certificate", str(ca.cert_pem),
                "--key", str(ca.key_pem),
            ]  # fmt: skip
        return command + self.extra_args


class XandikosServer(ServerProcess):
    """Xandikos (CalDAV + CardDAV, stores items in git), plain HTTP, no authentication.

    Started with ``--defaults``, so the principal ``/user/`` (``principal``), a calendar and
    an address book exist from the start (:attr:`calendar_url`, :attr:`addressbook_url`).
    Xandikos can only serve HTTPS with a self-signed certificate of its own, so the test bed
    offers plain HTTP only.
    """

    name = "xandikos"

    def __init__(
        self,
        *,
        principal: str = "/user/",
        extra_args: Sequence[str] = (),
        base_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        keep_files: bool = False,
    ) -> None:
        super().__init__(
            base_dir=base_dir,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
            keep_files=keep_files,
        )
        if not (principal.startswith("/") and principal.endswith("/")):
            raise ValueError(f"principal must start and end with '/': {principal!r}")
        self.principal = principal
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:41234/``."""
        return f"http://{self.host}:{self.port}/"

    @property
    def principal_url(self) -> str:
        """The principal URL (``/user/`` by default)."""
        return f"http://{self.host}:{self.port}{self.principal}"

    @property
    def calendar_url(self) -> str:
        """The default calendar created by ``--defaults``."""
        return f"{self.principal_url}calendars/calendar/"

    @property
    def addressbook_url(self) -> str:
        """The default address book created by ``--defaults``."""
        return f"{self.principal_url}contacts/addressbook/"

    def _prepare(self, workdir: Path) -> list[str]:
        self._port = free_port()
        return [
            sys.executable, "-m", "xandikos", "serve",
            "--directory", str(workdir / "data"),
            "--state-dir", str(workdir / "state"),
            "--defaults",
            "--current-user-principal", self.principal,
            "--listen-address", self.host,
            "--port", str(self._port),
            "--no-detect-systemd",
            *self.extra_args,
        ]  # fmt: skip


# --------------------------------------------------------------------------------------
# IMAP
# --------------------------------------------------------------------------------------

_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


def _imap_connect(
    host: str, port: int, security: IMAPSecurity, context: ssl.SSLContext | None, timeout: float
) -> IMAPClient:
    from imapclient import IMAPClient

    if security == "tls":
        return IMAPClient(host, port=port, ssl=True, ssl_context=context, timeout=timeout)
    client = IMAPClient(host, port=port, ssl=False, timeout=timeout)
    if security == "starttls":
        try:
            client.starttls(context)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
    return client


def _imap_greeting_ok(host: str, port: int) -> bool:
    """Return whether an IMAP server on ``host:port`` sends its ``* OK`` greeting."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.settimeout(1.0)
            return sock.recv(4096).startswith(b"* OK")
    except OSError:
        return False


class _IMAPServerMixin(abc.ABC):
    """IMAP helpers shared by :class:`DovecotServer` and :class:`PymapServer`."""

    host: str
    users: dict[str, str]
    ca: TestCA | None

    @abc.abstractmethod
    def _imap_port_for(self, security: IMAPSecurity) -> int:
        """The port that serves ``security`` (raise if the server has none)."""

    def imap_client(
        self,
        user: str | None = None,
        password: str | None = None,
        *,
        security: IMAPSecurity = "starttls",
        timeout: float = 10.0,
    ) -> IMAPClient:
        """Return a connected ``imapclient.IMAPClient``, logged in as ``user`` if given.

        ``password`` defaults to the user's configured password. ``security`` picks STARTTLS
        (default), implicit TLS or plain text; TLS trusts only the server's :class:`TestCA`.
        The caller must call ``logout()``.
        """
        port = self._imap_port_for(security)
        context = None if self.ca is None else self.ca.client_context()
        client = _imap_connect(self.host, port, security, context, timeout)
        if user is not None:
            try:
                client.login(user, self.users[user] if password is None else password)
            except BaseException:
                with contextlib.suppress(Exception):
                    client.shutdown()
                raise
        return client

    def append(
        self,
        user: str,
        folder: str,
        message: bytes,
        flags: Iterable[bytes | str] = (),
        msg_time: datetime.datetime | None = None,
    ) -> int | None:
        """Deliver ``message`` into ``folder`` of ``user`` with IMAP APPEND.

        Returns the new message's UID when the server reports it (UIDPLUS ``APPENDUID``).
        """
        client = self.imap_client(user, security=self._delivery_security())
        try:
            response: bytes = client.append(folder, message, tuple(flags), msg_time)
        finally:
            client.logout()
        match = _APPENDUID.search(response)
        return int(match.group(1)) if match else None

    def _delivery_security(self) -> IMAPSecurity:
        return "plain" if self.ca is None else "starttls"


@dataclass(frozen=True)
class IMAPLogin:
    """A successful login recorded in Dovecot's log."""

    user: str
    method: str
    """The SASL mechanism or ``LOGIN`` command used (e.g. ``PLAIN``)."""
    tls: bool
    """Whether the connection was TLS (STARTTLS or implicit TLS) when the user logged in."""
    protocol: str = "imap"
    """``"imap"``, or ``"pop3"`` on a server started with ``pop3=True``."""


_DOVECOT_LOGIN = re.compile(
    r"(?P<protocol>imap|pop3)-login: Info: Login: user=<(?P<user>[^>]*)>, "
    r"method=(?P<method>[^,\s]+)(?P<rest>.*)$",
    re.MULTILINE,
)

_DOVECOT_LIBEXEC = ("/usr/lib/dovecot", "/usr/libexec/dovecot")


def dovecot_has_pop3() -> bool:
    """Whether Dovecot's POP3 server is installed (Debian: ``dovecot-pop3d``)."""
    return any(Path(directory, "pop3-login").exists() for directory in _DOVECOT_LIBEXEC)


class DovecotServer(_IMAPServerMixin, ServerProcess):
    """Dovecot IMAP (``dovecot -F -c <generated config>``), the reference IMAP server.

    Users come from a passwd-file (default ``alice`` and ``bob``, password ``secret``); mail
    is stored as Maildir under the working directory, owned by ``mail_user`` (``nobody``).
    The mailboxes Drafts, Sent, Trash, Junk and Archive exist with their special-use flags.
    Capabilities include CONDSTORE, QRESYNC, SPECIAL-USE, MOVE, IDLE, UIDPLUS.

    With ``tls`` (default) there are two listeners: :attr:`imap_port` (plain, offers
    STARTTLS) and :attr:`imaps_port` (implicit TLS), both with certificates from ``ca`` (a
    private :class:`TestCA` when omitted). Without ``tls`` there is only the plain-text
    :attr:`imap_port`.

    Dovecot 2.3 treats a connection from 127.0.0.1 to 127.0.0.1 as secure, so it allows
    LOGIN without TLS even with ``ssl = required``. To check that a client used TLS, look
    at :meth:`logins`, which reads Dovecot's log.

    With ``pop3`` (needs Debian's ``dovecot-pop3d``) it also serves POP3 to the same users:
    :attr:`pop3_port` (plain, offers STLS with ``tls``) and :attr:`pop3s_port` (implicit
    TLS); :meth:`logins` then reports POP3 logins too.

    Needs root (Dovecot switches to ``mail_user``). Dovecot starts several processes; they
    all share the process group that :meth:`stop` kills.
    """

    name = "dovecot"
    default_users: ClassVar[Mapping[str, str]] = {"alice": "secret", "bob": "secret"}
    special_use_mailboxes: ClassVar[Mapping[str, str]] = {
        "Drafts": "\\Drafts",
        "Sent": "\\Sent",
        "Trash": "\\Trash",
        "Junk": "\\Junk",
        "Archive": "\\Archive",
    }

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        tls: bool = True,
        pop3: bool = False,
        ca: TestCA | None = None,
        mail_user: str = "nobody",
        mail_group: str | None = None,
        extra_config: str = "",
        binary: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        keep_files: bool = False,
    ) -> None:
        super().__init__(
            base_dir=base_dir,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
            keep_files=keep_files,
        )
        self.users = dict(self.default_users if users is None else users)
        self.tls = tls
        self.pop3 = pop3
        self.ca = ca
        self.mail_user = mail_user
        self.mail_group = mail_group
        self.extra_config = extra_config
        self.binary = binary
        self._imaps_port: int | None = None
        self._pop3_ports: tuple[int, int | None] | None = None

    @property
    def imap_port(self) -> int:
        """The plain IMAP port (STARTTLS is offered when ``tls`` is on)."""
        return self.port

    @property
    def imaps_port(self) -> int | None:
        """The implicit-TLS port, ``None`` without ``tls``."""
        self._require_running()
        return self._imaps_port

    @property
    def pop3_port(self) -> int:
        """The plain POP3 port (STLS is offered when ``tls`` is on); needs ``pop3``."""
        self._require_running()
        if self._pop3_ports is None:
            raise ServerError("this DovecotServer serves no POP3 (pop3=False)")
        return self._pop3_ports[0]

    @property
    def pop3s_port(self) -> int | None:
        """The implicit-TLS POP3 port, ``None`` without ``tls``; needs ``pop3``."""
        self._require_running()
        if self._pop3_ports is None:
            raise ServerError("this DovecotServer serves no POP3 (pop3=False)")
        return self._pop3_ports[1]

    @property
    def url(self) -> str:
        """``imap://127.0.0.1:<imap_port>``."""
        return f"imap://{self.host}:{self.port}"

    @property
    def imaps_url(self) -> str | None:
        """``imaps://127.0.0.1:<imaps_port>``, ``None`` without ``tls``."""
        port = self.imaps_port
        return None if port is None else f"imaps://{self.host}:{port}"

    @property
    def mail_dir(self) -> Path:
        """The directory holding each user's home (``<mail_dir>/<user>/Maildir``)."""
        return self.workdir / "mail"

    def logins(self, *, at_least: int = 0, timeout: float = 5.0) -> list[IMAPLogin]:
        """Return the successful IMAP logins so far, read from Dovecot's log.

        Dovecot writes its log asynchronously: with ``at_least``, wait up to ``timeout``
        seconds until that many logins are logged (then return what there is).
        """
        log = self.workdir / "dovecot.log"

        def parse() -> list[IMAPLogin]:
            return [
                IMAPLogin(
                    user=match["user"],
                    method=match["method"],
                    tls=bool(re.search(r", TLS\b", match["rest"])),
                    protocol=match["protocol"],
                )
                for match in _DOVECOT_LOGIN.finditer(_read_text(log))
            ]

        _wait_for(lambda: len(parse()) >= at_least, timeout)
        return parse()

    def _imap_port_for(self, security: IMAPSecurity) -> int:
        if security == "tls":
            if self.imaps_port is None:
                raise ServerError("this DovecotServer has no implicit-TLS listener (tls=False)")
            return self.imaps_port
        return self.imap_port

    def _log_files(self, workdir: Path) -> list[Path]:
        return [workdir / "dovecot.log"]

    def _probe(self) -> bool:
        return _imap_greeting_ok(self.host, self._port)

    def _prepare(self, workdir: Path) -> list[str]:
        binary = self.binary or find_binary("dovecot")
        if binary is None:
            raise ServerError("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
        if os.geteuid() != 0:
            raise ServerError("DovecotServer needs root (Dovecot switches to the mail user)")
        group = self.mail_group or _default_nobody_group()
        if len(str(workdir / "run")) > 72:  # sockets like run/token-login/tokenlogin: 108 max
            raise ServerError(
                f"{workdir} is too long for Dovecot's unix socket paths; use a shorter base_dir"
            )
        if self.pop3 and not dovecot_has_pop3():
            raise ServerError("Dovecot's POP3 is not installed (apt-get install dovecot-pop3d)")
        self._port, imaps_port, pop3_port, pop3s_port = _free_ports(4)
        self._imaps_port = imaps_port if self.tls else None
        self._pop3_ports = (pop3_port, pop3s_port if self.tls else None) if self.pop3 else None

        workdir.chmod(0o755)  # mkdtemp makes it 0700; auth and imap processes are not root
        for sub in ("run", "state"):
            (workdir / sub).mkdir()
        mail = workdir / "mail"
        mail.mkdir()
        mail.chmod(0o777)
        users_file = workdir / "users"
        users_file.write_text(
            "".join(
                f"{_check_dovecot_user(name)}:{{PLAIN}}{_check_config_value(pw, 'password')}"
                "::::::\n"
                for name, pw in self.users.items()
            )
        )
        users_file.chmod(0o644)

        lines = [
            f"base_dir = {workdir / 'run'}",
            f"state_dir = {workdir / 'state'}",
            f"log_path = {workdir / 'dovecot.log'}",
            "protocols = imap pop3" if self.pop3 else "protocols = imap",
            f"listen = {self.host}",
            "default_internal_user = dovecot",
            "default_login_user = dovenull",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "auth_failure_delay = 0",
            "mail_fsync = never",
        ]
        if self.tls:
            ca = self._tls_ca(workdir / "ca")
            lines += [
                "ssl = yes",
                f"ssl_cert = <{ca.cert_pem}",
                f"ssl_key = <{ca.key_pem}",
            ]
        else:
            lines.append("ssl = no")
        lines += [
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {users_file}",
            "}",
            "userdb {",
            "  driver = passwd-file",
            f"  args = username_format=%u {users_file}",
            f"  default_fields = uid={self.mail_user} gid={group} home={mail}/%u",
            "}",
            "mail_location = maildir:~/Maildir",
            "namespace inbox {",
            "  inbox = yes",
            "  separator = /",
        ]
        for mailbox, flag in self.special_use_mailboxes.items():
            lines += [
                f'  mailbox "{mailbox}" {{',
                f"    special_use = {flag}",
                "    auto = subscribe",
                "  }",
            ]
        lines += [
            "}",
            "service imap-login {",
            "  inet_listener imap {",
            f"    port = {self._port}",
            "  }",
            "  inet_listener imaps {",
            f"    port = {self._imaps_port or 0}",
            "  }",
            "}",
        ]
        if self._pop3_ports is not None:
            lines += [
                "service pop3-login {",
                "  inet_listener pop3 {",
                f"    port = {self._pop3_ports[0]}",
                "  }",
                "  inet_listener pop3s {",
                f"    port = {self._pop3_ports[1] or 0}",
                "  }",
                "}",
            ]
        lines += [
            "service anvil {",  # no growing delay after failed logins from 127.0.0.1
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
            "service stats {",
            "  unix_listener stats-reader {",
            "    mode = 0666",
            "  }",
            "  unix_listener stats-writer {",
            "    mode = 0666",
            "  }",
            "}",
            self.extra_config,
        ]
        config = workdir / "dovecot.conf"
        config.write_text("\n".join(lines) + "\n")
        return [binary, "-F", "-c", str(config)]


def _check_dovecot_user(name: str) -> str:
    if not name or any(char in name for char in ":/\r\n\x00") or name.startswith("."):
        raise ValueError(f"unusable user name for the test bed: {name!r}")
    return name


def _default_nobody_group() -> str:
    import grp

    for candidate in ("nogroup", "nobody"):
        with contextlib.suppress(KeyError):
            grp.getgrnam(candidate)
            return candidate
    raise ServerError("found neither group 'nogroup' nor 'nobody'; pass mail_group=")


class PymapServer(_IMAPServerMixin, ServerProcess):
    """pymap, a pure-Python IMAP server: fast, no root needed, but no CONDSTORE/QRESYNC.

    ``backend="dict"`` (default) keeps mail in memory and supports exactly one user
    (default ``demouser``/``demopass``); ``demo_data`` loads pymap's demo mailboxes (INBOX
    with 4 messages, Sent, a read-only Trash). ``backend="maildir"`` stores Maildirs in the
    working directory for any number of ``users`` (default ``alice``/``bob``, ``secret``).
    ``tls`` enables STARTTLS with certificates from ``ca``; pymap has no implicit TLS.
    No SPECIAL-USE either: Sent and Trash are found by name only.
    """

    name = "pymap"

    def __init__(
        self,
        *,
        backend: Literal["dict", "maildir"] = "dict",
        users: Mapping[str, str] | None = None,
        demo_data: bool = True,
        tls: bool = False,
        ca: TestCA | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        keep_files: bool = False,
    ) -> None:
        super().__init__(
            base_dir=base_dir,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
            keep_files=keep_files,
        )
        if backend == "dict":
            self.users = dict(users or {"demouser": "demopass"})
            if len(self.users) != 1:
                raise ValueError("pymap's dict backend supports exactly one user")
        else:
            self.users = dict(users or {"alice": "secret", "bob": "secret"})
        self.backend = backend
        self.demo_data = demo_data
        self.tls = tls
        self.ca = ca

    @property
    def url(self) -> str:
        """``imap://127.0.0.1:<port>``."""
        return f"imap://{self.host}:{self.port}"

    def _imap_port_for(self, security: IMAPSecurity) -> int:
        if security == "tls":
            raise ServerError("pymap has no implicit-TLS listener")
        return self.port

    def _probe(self) -> bool:
        return _imap_greeting_ok(self.host, self._port)

    def _prepare(self, workdir: Path) -> list[str]:
        self._port = free_port()
        command = [
            sys.executable, "-c", "import sys; from pymap.main import main; sys.exit(main())",
            "--host", self.host, "--port", str(self._port),
        ]  # fmt: skip
        if self.tls:
            ca = self._tls_ca(workdir / "ca")
            command += ["--cert", str(ca.cert_pem), "--key", str(ca.key_pem)]
        else:
            command.append("--no-tls")
        if self.backend == "dict":
            ((user, password),) = self.users.items()
            command += ["dict", "--demo-user", user, "--demo-password", password]
            if self.demo_data:
                command.append("--demo-data")
            return command
        from pysasl.hashing import BuiltinHash

        hasher = BuiltinHash(rounds=1000)  # test passwords: fast beats strong
        maildirs = workdir / "maildirs"
        maildirs.mkdir()
        passwd, shadow = [], []
        for user, password in self.users.items():
            _check_dovecot_user(user)
            passwd.append(f"{user}:x::::{user}:\n")
            hashed = hasher.hash(_check_config_value(password, "password"))
            shadow.append(f"{user}:{hashed}:::::::\n")
        (maildirs / "pymap-etc-passwd").write_text("".join(passwd))
        (maildirs / "pymap-etc-shadow").write_text("".join(shadow))
        return [*command, "maildir", str(maildirs)]


# --------------------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------------------


def _dns_name(name: str) -> str:
    if not name or any(char in name for char in ",/ \t\r\n\x00\"'#"):
        raise ValueError(f"unusable DNS name for dnsmasq: {name!r}")
    return name.rstrip(".") if name != "." else name


@dataclass(frozen=True)
class HostRecord:
    """A and/or AAAA records for exactly ``name`` (not its subdomains): ``host-record=``."""

    name: str
    ipv4: str | None = LOCALHOST
    ipv6: str | None = None

    def config_lines(self) -> list[str]:
        """The dnsmasq configuration lines for this record."""
        addresses = [address for address in (self.ipv4, self.ipv6) if address]
        if not addresses:
            raise ValueError(f"HostRecord {self.name!r} needs an address")
        return [f"host-record={_dns_name(self.name)},{','.join(addresses)}"]


@dataclass(frozen=True)
class SRVRecord:
    """An SRV record such as ``_imaps._tcp.example.test``; ``target="."`` means "no service"."""

    name: str
    target: str
    port: int
    priority: int = 0
    weight: int = 0

    @classmethod
    def no_service(cls, name: str) -> SRVRecord:
        """The RFC 2782 "service decidedly not available" record: target ``.``, port 0."""
        return cls(name, ".", 0)

    def config_lines(self) -> list[str]:
        """The dnsmasq configuration lines for this record."""
        numbers = (self.port, self.priority, self.weight)
        if not all(0 <= number <= 65535 for number in numbers):
            raise ValueError(f"SRV numbers out of range: {self}")
        fields = (_dns_name(self.name), _dns_name(self.target), *map(str, numbers))
        return ["srv-host=" + ",".join(fields)]


@dataclass(frozen=True)
class TXTRecord:
    """A TXT record; ``strings`` are its character-strings (one or more)."""

    name: str
    strings: tuple[str, ...]

    def __init__(self, name: str, *strings: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "strings", strings)

    def config_lines(self) -> list[str]:
        """The dnsmasq configuration lines for this record."""
        quoted = ",".join(
            '"'
            + _check_config_value(text, "TXT string").replace("\\", "\\\\").replace('"', '\\"')
            + '"'
            for text in self.strings
        )
        return [f"txt-record={_dns_name(self.name)},{quoted}"]


@dataclass(frozen=True)
class CNAMERecord:
    """A CNAME ``name -> target``; dnsmasq only answers if it knows ``target`` itself
    (a :class:`HostRecord` or another CNAME), otherwise the answer is empty."""

    name: str
    target: str

    def config_lines(self) -> list[str]:
        """The dnsmasq configuration lines for this record."""
        return [f"cname={_dns_name(self.name)},{_dns_name(self.target)}"]


@dataclass(frozen=True)
class MXRecord:
    """An MX record ``name -> exchange`` with ``preference``."""

    name: str
    exchange: str
    preference: int = 10

    def config_lines(self) -> list[str]:
        """The dnsmasq configuration lines for this record."""
        return [f"mx-host={_dns_name(self.name)},{_dns_name(self.exchange)},{self.preference}"]


DNSRecord: TypeAlias = HostRecord | SRVRecord | TXTRecord | CNAMERecord | MXRecord


class DnsmasqServer(ServerProcess):
    """dnsmasq serving only the given records (UDP and TCP on 127.0.0.1, a free port).

    Names under ``local_domains`` (default ``test``) that have no record get NXDOMAIN; other
    names get REFUSED (dnsmasq has no upstream server). Records are answered with TTL 0.
    Use :meth:`resolver` for a ``dns.resolver.Resolver`` that asks only this server.
    """

    name = "dnsmasq"
    _port_kind = "udp"

    def __init__(
        self,
        records: Iterable[DNSRecord] = (),
        *,
        local_domains: Iterable[str] = ("test",),
        extra_config: Iterable[str] = (),
        binary: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        keep_files: bool = False,
    ) -> None:
        super().__init__(
            base_dir=base_dir,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
            keep_files=keep_files,
        )
        self.records: tuple[DNSRecord, ...] = tuple(records)
        self.local_domains = tuple(_dns_name(domain) for domain in local_domains)
        self.extra_config = [_check_config_value(line, "config line") for line in extra_config]
        self.binary = binary
        self._record_lines = [line for record in self.records for line in record.config_lines()]

    @property
    def url(self) -> str:
        """``dns://127.0.0.1:<port>``."""
        return f"dns://{self.host}:{self.port}"

    def resolver(self, *, timeout: float = 1.0, lifetime: float = 3.0) -> dns.resolver.Resolver:
        """Return a resolver that asks only this server (no ``/etc/resolv.conf``)."""
        import dns.resolver
        from dns.nameserver import Do53Nameserver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [Do53Nameserver(self.host, port=self.port)]
        resolver.timeout = timeout
        resolver.lifetime = lifetime
        return resolver

    def async_resolver(
        self, *, timeout: float = 1.0, lifetime: float = 3.0
    ) -> dns.asyncresolver.Resolver:
        """Return a ``dns.asyncresolver.Resolver`` that asks only this server."""
        import dns.asyncresolver
        from dns.nameserver import Do53Nameserver

        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [Do53Nameserver(self.host, port=self.port)]
        resolver.timeout = timeout
        resolver.lifetime = lifetime
        return resolver

    def _probe(self) -> bool:
        import dns.exception
        import dns.message
        import dns.query

        query = dns.message.make_query("openprotocols-readiness-probe.test.", "A")
        try:
            dns.query.udp(query, self.host, port=self._port, timeout=0.3)
        except (dns.exception.DNSException, OSError):
            return False
        return True

    def _prepare(self, workdir: Path) -> list[str]:
        binary = self.binary or find_binary("dnsmasq")
        if binary is None:
            raise ServerError("dnsmasq is not installed (Debian: apt-get install dnsmasq-base)")
        self._port = _free_udp_tcp_port()
        lines = [
            f"port={self._port}",
            f"listen-address={self.host}",
            "bind-interfaces",
            "no-resolv",
            "no-hosts",
            "no-poll",
            "keep-in-foreground",
            "log-facility=-",
            f"user={pwd.getpwuid(os.geteuid()).pw_name}",
            "pid-file=",
            *(f"local=/{domain}/" for domain in self.local_domains),
            *self._record_lines,
            *self.extra_config,
        ]
        config = workdir / "dnsmasq.conf"
        config.write_text("\n".join(lines) + "\n")
        return [binary, f"--conf-file={config}"]


# --------------------------------------------------------------------------------------
# SMTP (in-process, aiosmtpd)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMessage:
    """One message accepted by :class:`SMTPServer`."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None
    """The authenticated user, ``None`` without AUTH."""
    tls: bool
    """Whether the session was encrypted (STARTTLS or implicit TLS)."""
    mail_options: tuple[str, ...] = ()
    rcpt_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthAttempt:
    """One AUTH attempt seen by :class:`SMTPServer`."""

    mechanism: str
    login: str
    success: bool


class SMTPServer(BaseServer):
    """An aiosmtpd SMTP server in a thread of the test process, recording what it receives.

    ``security``: ``"starttls"`` (default; the plain port offers STARTTLS, with
    ``require_starttls`` all but EHLO/STARTTLS/NOOP/QUIT before it get 530, and AUTH is
    only offered after it), ``"tls"`` (implicit TLS, "port 465" style) or ``"plain"``.
    ``users``: accepted AUTH PLAIN/LOGIN credentials (default ``alice``/``secret``); wrong
    ones get 535. ``auth_required``: MAIL needs a successful AUTH first. ``tokens``: OAuth2
    bearer tokens by user; when given, AUTH XOAUTH2 is offered too and checks them.
    ``refused_recipients``: addresses that RCPT TO refuses with 550.
    ``exclude_mechanisms``: SASL mechanisms not offered (``["PLAIN"]`` leaves LOGIN).

    Every accepted message lands in :attr:`messages`, every AUTH in :attr:`auth_attempts`.
    """

    name = "smtp"

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        security: Literal["starttls", "tls", "plain"] = "starttls",
        ca: TestCA | None = None,
        require_starttls: bool = True,
        auth_required: bool = True,
        server_hostname: str = "localhost",
        ready_timeout: float = 10.0,
        tokens: Mapping[str, str] | None = None,
        refused_recipients: Iterable[str] = (),
        exclude_mechanisms: Iterable[str] = (),
    ) -> None:
        self.users: dict[str, str] = dict({"alice": "secret"} if users is None else users)
        self.tokens: dict[str, str] = dict(tokens or {})
        self.refused_recipients = frozenset(a.lower() for a in refused_recipients)
        self.exclude_mechanisms = [m.upper() for m in exclude_mechanisms]
        self.security = security
        self.ca = ca
        self.require_starttls = require_starttls
        self.auth_required = auth_required
        self.server_hostname = server_hostname
        self.ready_timeout = ready_timeout
        self.messages: list[ReceivedMessage] = []
        self.auth_attempts: list[AuthAttempt] = []
        self._controller: Any = None
        self._port = 0

    @property
    def running(self) -> bool:
        """Whether the server thread is running."""
        return self._controller is not None

    @property
    def port(self) -> int:
        """The listening port."""
        if self._controller is None:
            raise ServerError("smtp server is not running")
        return self._port

    @property
    def url(self) -> str:
        """``smtp://127.0.0.1:<port>`` (``smtps://`` for implicit TLS)."""
        scheme = "smtps" if self.security == "tls" else "smtp"
        return f"{scheme}://{self.host}:{self.port}"

    def clear(self) -> None:
        """Forget recorded messages and AUTH attempts."""
        self.messages.clear()
        self.auth_attempts.clear()

    def start(self) -> Self:
        """Start the server thread and wait until it answers."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        if self._controller is not None:
            raise ServerError("smtp server is already running")
        context: ssl.SSLContext | None = None
        if self.security != "plain":
            context = self._tls_ca().server_context()
        security = self.security

        class _SMTP(SMTP):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                if security != "starttls":
                    # aiosmtpd only counts STARTTLS as TLS; with implicit TLS (or on purpose
                    # in plain mode) allow AUTH on the connection as it is. Set after
                    # __init__ to avoid its warning about auth_required without TLS.
                    self._auth_require_tls = False

        class _Controller(Controller):
            def factory(self) -> SMTP:
                return _SMTP(self.handler, **self.SMTP_kwargs)

        last_error: BaseException | None = None
        for _ in range(3):
            self._port = free_port()
            controller = _Controller(
                _SMTPHandler(self),
                hostname=self.host,
                port=self._port,
                ssl_context=context if security == "tls" else None,
                server_hostname=self.server_hostname,
                ready_timeout=self.ready_timeout,
                tls_context=context if security == "starttls" else None,
                require_starttls=security == "starttls" and self.require_starttls,
                authenticator=self._authenticate,
                auth_required=self.auth_required,
                auth_require_tls=True,
                auth_exclude_mechanism=self.exclude_mechanisms,
            )
            try:
                controller.start()
            except OSError as error:  # port taken meanwhile
                last_error = error
                with contextlib.suppress(Exception):
                    controller.stop(no_assert=True)
                continue
            self._controller = controller
            return self
        raise ServerStartError(f"smtp server did not start: {last_error}")

    def stop(self) -> None:
        """Stop the server thread."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        self._release_ca()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        success = login in self.users and self.users[login] == password
        self.auth_attempts.append(AuthAttempt(mechanism, login, success))
        return AuthResult(success=success, handled=False, auth_data=login if success else None)


class _SMTPHandler:
    def __init__(self, server: SMTPServer) -> None:
        self._server = server
        if server.tokens:  # aiosmtpd offers every auth_* attribute of the handler
            self.auth_XOAUTH2 = self._auth_xoauth2

    async def _auth_xoauth2(self, server: Any, args: list[str]) -> Any:
        """AUTH XOAUTH2 (Google's and Microsoft's SASL mechanism): ``user=<login>^Aauth=Bearer
        <token>^A^A``; a failure answers 334 with a JSON error, then 535."""
        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) == 2:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                return AuthResult(
                    success=False, handled=False, message="501 5.5.2 Can't decode base64"
                )
        else:
            answer = await server.challenge_auth("")
            if answer is MISSING:
                return AuthResult(success=False, handled=True)
            blob = answer
        fields = dict(
            part.split("=", 1)
            for part in blob.decode("utf-8", "replace").split("\x01")
            if "=" in part
        )
        login = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        success = bool(token) and self._server.tokens.get(login) == token
        self._server.auth_attempts.append(AuthAttempt("XOAUTH2", login, success))
        if success:
            return AuthResult(success=True, auth_data=login)
        await server.challenge_auth(b'{"status":"401","schemes":"bearer"}')
        return AuthResult(success=False, handled=False)  # answered with 535

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self._server.refused_recipients:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        self._server.messages.append(
            ReceivedMessage(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=data,
                login=session.auth_data if session.authenticated else None,
                tls=self._server.security == "tls" or session.ssl is not None,
                mail_options=tuple(envelope.mail_options),
                rcpt_options=tuple(envelope.rcpt_options),
            )
        )
        return "250 2.0.0 Message accepted for delivery"


# --------------------------------------------------------------------------------------
# HTTP(S) (in-process)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One HTTP request received by :class:`HTTPSServer`."""

    method: str
    target: str
    """The request target as sent, with the query string (e.g. ``/a/b?x=1``)."""
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client: tuple[str, int]
    tls: bool

    @property
    def path(self) -> str:
        """The path without the query string."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The query string without ``?`` (empty if none)."""
        return self.target.partition("?")[2]

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return the first header called ``name`` (case-insensitive), else ``default``."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Response:
    """An HTTP response for :class:`HTTPSServer` routes.

    ``headers`` may be a mapping or a sequence of pairs (to repeat a header). A
    ``Content-Length`` is added unless present; a ``str`` body is sent as UTF-8.
    """

    status: int = 200
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = field(default_factory=tuple)
    body: bytes | str = b""

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        """A redirect to ``location``."""
        return cls(status, {"Location": location})

    @classmethod
    def xml(cls, body: bytes | str, status: int = 200) -> Response:
        """An XML document (``text/xml; charset=utf-8``)."""
        return cls(status, {"Content-Type": "text/xml; charset=utf-8"}, body)

    @classmethod
    def text(cls, body: str, status: int = 200) -> Response:
        """A plain-text body."""
        return cls(status, {"Content-Type": "text/plain; charset=utf-8"}, body)

    def header_items(self) -> list[tuple[str, str]]:
        """The headers as a list of pairs."""
        if isinstance(self.headers, Mapping):
            return list(self.headers.items())
        return list(self.headers)

    @property
    def body_bytes(self) -> bytes:
        """The body as bytes."""
        return self.body.encode() if isinstance(self.body, str) else self.body


#: A route target: a fixed response or a function computing one from the request.
RouteTarget: TypeAlias = Response | Callable[[Request], Response]

_NOT_FOUND = Response(404, {"Content-Type": "text/plain; charset=utf-8"}, "not found\n")


class HTTPSServer(BaseServer):
    """A small HTTPS (or HTTP) server in a thread of the test process, with routes.

    ``routes`` maps ``(method, path)`` to a :class:`Response` or to a function
    ``(Request) -> Response``; method ``"*"`` matches any method; the path is matched without
    the query string. Unmatched requests get ``default`` (404). Routes can be changed while
    the server runs (:meth:`route`). Every request is recorded in :attr:`requests`; errors
    (failed TLS handshakes, exceptions in route functions, which produce a 500) in
    :attr:`errors`. Handles any method (GET, HEAD, POST, PROPFIND, ...), request bodies
    with Content-Length or chunked encoding, and keep-alive.

    ``tls`` (default): certificates from ``ca`` (a private :class:`TestCA` when omitted).
    """

    name = "https"

    def __init__(
        self,
        routes: Mapping[tuple[str, str], RouteTarget] | None = None,
        *,
        default: RouteTarget = _NOT_FOUND,
        tls: bool = True,
        ca: TestCA | None = None,
    ) -> None:
        self.tls = tls
        self.ca = ca
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self._routes: dict[tuple[str, str], RouteTarget] = {}
        self._default: RouteTarget = default
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for (method, path), target in (routes or {}).items():
            self.route(method, path, target)

    @property
    def running(self) -> bool:
        """Whether the server thread is running."""
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The listening port."""
        if self._httpd is None:
            raise ServerError("https server is not running")
        port: int = self._httpd.server_address[1]
        return port

    @property
    def scheme(self) -> str:
        """``https`` or ``http``."""
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``https://127.0.0.1:41234/``."""
        return f"{self.scheme}://{self.host}:{self.port}/"

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with ``/``) on this server."""
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def route(self, method: str, path: str, target: RouteTarget) -> None:
        """Answer ``method`` (``"*"``: any) requests for ``path`` with ``target``."""
        with self._lock:
            self._routes[(method.upper(), path)] = target

    def remove_route(self, method: str, path: str) -> None:
        """Remove a route; missing routes are ignored."""
        with self._lock:
            self._routes.pop((method.upper(), path), None)

    def set_default(self, target: RouteTarget) -> None:
        """Answer unmatched requests with ``target`` instead of 404."""
        with self._lock:
            self._default = target

    def clear(self) -> None:
        """Forget recorded requests and errors (routes stay)."""
        self.requests.clear()
        self.errors.clear()

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        if self._httpd is not None:
            raise ServerError("https server is already running")
        context: ssl.SSLContext | None = None
        if self.tls:
            context = self._tls_ca().server_context()
        httpd = _HTTPServer((self.host, 0), _RequestHandler, owner=self, context=context)
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.name = f"HTTPSServer-{httpd.server_address[1]}"
        thread.start()
        self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        httpd, self._httpd = self._httpd, None
        thread, self._thread = self._thread, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._release_ca()

    def _respond(self, request: Request) -> Response:
        self.requests.append(request)
        with self._lock:
            target = (
                self._routes.get((request.method, request.path))
                or self._routes.get(("*", request.path))
                or self._default
            )
        if isinstance(target, Response):
            return target
        try:
            return target(request)
        except Exception as error:
            self.errors.append(error)
            return Response(500, {"Content-Type": "text/plain"}, f"route failed: {error!r}\n")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        owner: HTTPSServer,
        context: ssl.SSLContext | None,
    ) -> None:
        self.owner = owner
        self.context = context
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.context is not None:
            # The handshake happens in the request's thread (see _RequestHandler.setup), so a
            # client that stalls or rejects the certificate cannot block the accept loop.
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.owner.errors.append(error)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    server: _HTTPServer

    def setup(self) -> None:
        # Handshake before StreamRequestHandler.setup() makes rfile/wfile: if it fails,
        # finish() is not called, and open file objects would keep the socket alive.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; requests are recorded instead."""

    def __getattr__(self, name: str) -> Callable[[], None]:
        # BaseHTTPRequestHandler dispatches to do_<METHOD>; serve every method the same way.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        client = self.client_address
        request = Request(
            method=self.command,
            target=self.path,
            headers=tuple(self.headers.items()),
            body=self._read_body(),
            client=(str(client[0]), int(client[1])),
            tls=isinstance(self.connection, ssl.SSLSocket),
        )
        response = self.server.owner._respond(request)
        body = response.body_bytes
        headers = response.header_items()
        self.send_response(response.status)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            self.send_header(name, value)
        no_body = response.status in (204, 304) or 100 <= response.status < 200
        if "content-length" not in names and not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and not no_body:
            self.wfile.write(body)
