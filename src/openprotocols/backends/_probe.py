"""Protocol probes: does an IMAP, POP3 or SMTP server answer here, and does a login work?

:func:`probe` opens one connection through :meth:`Network.connect
<openprotocols.network.Network.connect>` (overrides, resolver, timeouts), speaks just
enough of the protocol to be sure, and closes it:

- **IMAP**: greeting, ``CAPABILITY``, ``STARTTLS`` and ``CAPABILITY`` again, then
  ``AUTHENTICATE PLAIN`` (or ``LOGIN``) if a password is given, ``LOGOUT``;
- **POP3**: greeting, ``CAPA``, ``STLS`` and ``CAPA`` again, then ``USER``/``PASS`` (or
  ``AUTH PLAIN``), ``QUIT``;
- **SMTP**: greeting, ``EHLO``, ``STARTTLS`` and ``EHLO`` again, then ``AUTH PLAIN`` (or
  ``AUTH LOGIN``), ``QUIT``.

The rules are those of ``docs/discovery.md`` and the research notes (part B):

- TLS is verified by :meth:`Network.ssl_context` against the host name asked for, never
  the address an override points to. ``STARTTLS`` is *required* for
  :attr:`Security.STARTTLS`: a server that does not offer it raises :class:`NoStartTLS`.
- After the positive answer to ``STARTTLS``, a byte already received is an attack
  (response injection) and ends the probe; everything learnt before the handshake
  (greeting, capabilities) is discarded and asked again over TLS.
- A clear-text probe (:attr:`Security.NONE`) of a server that offers STARTTLS is refused:
  that is what a downgrade looks like. A password goes in clear text only when the caller
  says the user consented (``clear_text_login=True``).
- Everything the server controls is bounded: lines at :data:`MAX_LINE` bytes, a probe
  at :data:`MAX_READ` bytes, and the whole exchange by ``deadline``.
- Nothing the server says is echoed in errors (no greeting text, no ``[ALERT]``), and no
  credential ever appears in a message or a log line.

Failures are the library's own exceptions: :class:`~openprotocols.errors.ConnectionError`
(unreachable, refused, closed), :class:`~openprotocols.errors.TimeoutError`,
:class:`~openprotocols.errors.ConnectionSecurityError` (:class:`CertificateFailure`,
:class:`NoStartTLS`, :class:`Tampering`, a failed handshake),
:class:`~openprotocols.errors.ProtocolError` (:class:`WrongProtocol`: not this protocol at
all), :class:`~openprotocols.errors.AuthenticationError` (login refused),
:class:`~openprotocols.errors.CapabilityError` (no way to log in) and
:class:`~openprotocols.errors.ServerError` (the server turned us away).
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import re
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING

import attrs

from openprotocols.errors import (
    AuthenticationError,
    BackendError,
    CapabilityError,
    ConnectionError,
    ConnectionSecurityError,
    ConsentRequired,
    ProtocolError,
    ServerError,
    TimeoutError,
)
from openprotocols.model.accounts import Security
from openprotocols.network import Timeouts

if TYPE_CHECKING:
    from openprotocols.model._base import Secret
    from openprotocols.network import Network

__all__ = [
    "MAX_LINE",
    "MAX_READ",
    "PROTOCOLS",
    "Cancel",
    "Cancelled",
    "CertificateFailure",
    "NoStartTLS",
    "ProbeResult",
    "Tampering",
    "WrongProtocol",
    "probe",
    "url",
]

MAX_LINE = 8 * 1024
"""The longest line a server may send (bytes, with its line end)."""
MAX_READ = 256 * 1024
"""The most a server may send during one probe (bytes)."""
PROTOCOLS = ("imap", "pop3", "smtp")
"""The protocols :func:`probe` speaks."""


class WrongProtocol(ProtocolError):
    """Something answers, but not the protocol asked for (its greeting is not one)."""


class NoStartTLS(ConnectionSecurityError):
    """The server speaks the protocol but does not offer (or refused) STARTTLS."""


class CertificateFailure(ConnectionSecurityError):
    """The server's certificate did not verify for the host name asked for."""


class Tampering(ConnectionSecurityError):
    """What an attacker on the path would do: bytes injected before the TLS handshake, or
    STARTTLS offered to a clear-text probe (which a stripped STARTTLS hides)."""


class Cancelled(ConnectionError):
    """The probe was stopped by its :class:`Cancel` switch."""


class Cancel:
    """A switch for probes running in other threads: :meth:`set` stops them at once.

    Probes check it before connecting and before sending a credential, and :meth:`set`
    shuts down the connections they have open, so a blocked read ends immediately.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._channels: set[_Channel] = set()

    def is_set(self) -> bool:
        """Whether :meth:`set` was called."""
        return self._set

    def set(self) -> None:
        """Stop every probe using this switch, now and later."""
        with self._lock:
            self._set = True
            channels = list(self._channels)
        for channel in channels:
            channel.abort()

    def check(self, where: str) -> None:
        """Raise :class:`Cancelled` if set."""
        if self._set:
            raise Cancelled(f"the probe of {where} was stopped", url=where)

    def _add(self, channel: _Channel) -> None:
        with self._lock:
            self._channels.add(channel)
        if self._set:
            channel.abort()

    def _discard(self, channel: _Channel) -> None:
        with self._lock:
            self._channels.discard(channel)


@attrs.frozen(kw_only=True)
class ProbeResult:
    """A server that answered the protocol, and what happened at login."""

    protocol: str
    host: str
    port: int
    security: Security
    capabilities: frozenset[str]
    """What the server offered, upper-case, learnt over TLS unless ``security`` is NONE
    (IMAP ``CAPABILITY`` atoms, POP3 ``CAPA`` tags plus ``SASL=<mech>``, SMTP ``EHLO``
    keywords plus ``AUTH=<mech>``)."""
    login: str | None = None
    """The command that logged in (``"AUTHENTICATE PLAIN"``, ``"USER/PASS"``, ``"AUTH
    PLAIN"``...); ``None`` when no password was given, so no login was tried."""


def url(protocol: str, host: str, port: int, security: Security) -> str:
    """``imaps://host:993``, ``imap://host:143`` (STARTTLS or clear), ``smtps://...``."""
    scheme = f"{protocol}s" if security is Security.SSL else protocol
    return f"{scheme}://{host}:{port}"


def probe(
    network: Network,
    protocol: str,
    host: str,
    port: int,
    security: Security,
    *,
    username: str | None = None,
    password: Secret | None = None,
    deadline: float | None = None,
    clear_text_login: bool = False,
    cancel: Cancel | None = None,
) -> ProbeResult:
    """Speak ``protocol`` to ``host:port`` under ``security``; log in if given a password.

    :param username: the login name (needed with ``password``).
    :param password: log in with it; ``None``: stop once the server proved it speaks the
        protocol (over TLS unless ``security`` is NONE) and offers a way to log in.
    :param deadline: a :func:`time.monotonic` time by which the probe ends, connecting
        included; by default the network's read timeout from now.
    :param clear_text_login: the user consented to a password in clear text; without
        it a password is refused under :attr:`Security.NONE` before connecting.
    :param cancel: a switch that stops the probe from another thread (:class:`Cancelled`).
    :returns: what the server offered and how the login went.
    :raises ConsentRequired: a password in clear text without ``clear_text_login``.
    :raises CapabilityError: ``protocol`` is not one of :data:`PROTOCOLS`, or the server
        offers no login this probe can do.
    :raises BackendError: any other failure (see the module documentation).
    """
    if protocol not in PROTOCOLS:
        raise CapabilityError(f"cannot probe {protocol!r}", capability=protocol)
    where = url(protocol, host, port, security)
    if password is not None and security is Security.NONE and not clear_text_login:
        raise ConsentRequired(f"a password for {where} would go in clear text")
    if deadline is None:
        deadline = time.monotonic() + network.timeouts.read
    left = max(0.001, deadline - time.monotonic())
    timeouts = Timeouts(connect=min(network.timeouts.connect, left), read=left)
    cancel = cancel if cancel is not None else Cancel()
    cancel.check(where)
    sock = attrs.evolve(network, timeouts=timeouts).connect(host, port)
    channel = _Channel(sock, deadline, where)
    cancel._add(channel)
    try:
        if security is Security.SSL:
            channel.start_tls(network.ssl_context(), host)
        session = _SESSIONS[protocol](channel)
        capabilities = session.open()
        if security is Security.STARTTLS:
            session.starttls(capabilities)
            channel.start_tls(network.ssl_context(), host)
            capabilities = session.after_tls()
        elif security is Security.NONE and session.offers_starttls(capabilities):
            raise Tampering(f"{where} offers STARTTLS: not used in clear text", url=where)
        if not session.can_login(capabilities):
            raise CapabilityError(f"{where} offers no password login", url=where)
        login = None
        if password is not None:
            cancel.check(where)
            login = session.login(capabilities, username or "", password.reveal())
        session.close()
        return ProbeResult(
            protocol=protocol,
            host=host,
            port=port,
            security=security,
            capabilities=capabilities,
            login=login,
        )
    except BackendError:
        cancel.check(where)  # a connection shut down by the switch: say so
        raise
    finally:
        cancel._discard(channel)
        channel.close()


class _Channel:
    """A socket read line by line, with bounds, a deadline and STARTTLS done safely."""

    def __init__(self, sock: socket.socket, deadline: float, where: str) -> None:
        self.sock = sock
        self.deadline = deadline
        self.where = where
        self._buffer = bytearray()
        self._read = 0

    def _timeout(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{self.where} did not answer in time", url=self.where)
        return left

    def send(self, data: bytes) -> None:
        """Send ``data`` (whole) before the deadline."""
        try:
            self.sock.settimeout(self._timeout())
            self.sock.sendall(data)
        except TimeoutError:
            raise
        except OSError as exc:
            raise self._error(exc) from None

    def line(self) -> str:
        """The next line, without its line end (decoded as UTF-8, errors replaced)."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                raw = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                if len(raw) > MAX_LINE:
                    break
                return raw.rstrip(b"\r\n").decode("utf-8", "replace")
            if len(self._buffer) > MAX_LINE:
                break
            try:
                self.sock.settimeout(self._timeout())
                data = self.sock.recv(4096)
            except TimeoutError:
                raise
            except OSError as exc:
                raise self._error(exc) from None
            if not data:
                raise ConnectionError(f"{self.where} closed the connection", url=self.where)
            self._read += len(data)
            if self._read > MAX_READ:
                raise ProtocolError(f"{self.where} sent more than {MAX_READ} bytes", url=self.where)
            self._buffer += data
        raise ProtocolError(f"{self.where} sent a line over {MAX_LINE} bytes", url=self.where)

    def start_tls(self, context: ssl.SSLContext, host: str) -> None:
        """Wrap the socket in verified TLS for ``host``; refuse bytes sent before it."""
        if self._buffer:
            raise Tampering(
                f"{self.where} sent data before the TLS handshake (response injection?)",
                url=self.where,
            )
        try:
            self.sock.settimeout(self._timeout())
            self.sock = context.wrap_socket(self.sock, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            raise CertificateFailure(
                f"the certificate of {self.where} is not valid: {exc.verify_message}",
                url=self.where,
            ) from None
        except ssl.SSLError as exc:
            raise ConnectionSecurityError(
                f"TLS with {self.where} failed: {exc.reason or exc}", url=self.where
            ) from None
        except TimeoutError:
            raise
        except OSError as exc:
            raise self._error(exc) from None

    def local_address(self) -> str:
        """Our end's address as an SMTP address literal (``[192.0.2.1]``, ``[IPv6:...]``)."""
        try:
            address = ipaddress.ip_address(str(self.sock.getsockname()[0]))
        except (OSError, ValueError):
            return "[127.0.0.1]"
        return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"

    def _error(self, exc: OSError) -> ConnectionError:
        if isinstance(exc, socket.timeout):
            return TimeoutError(f"{self.where} did not answer in time", url=self.where)
        return ConnectionError(f"connection to {self.where} failed: {exc}", url=self.where)

    def abort(self) -> None:
        """Shut the connection down from another thread: blocked reads end at once."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Close the socket (TLS or not) without raising."""
        with contextlib.suppress(OSError):
            self.sock.close()


def _no_breaks(*values: str) -> None:
    """Refuse values that would break a command line (CR, LF, NUL)."""
    if any(char in value for value in values for char in "\r\n\0"):
        raise CapabilityError("the user name or password contains a line break or NUL")


def _plain(username: str, password: str) -> str:
    """The SASL PLAIN initial response (RFC 4616), base64."""
    return base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


class _Session:
    """One protocol's side of :func:`probe`."""

    def __init__(self, channel: _Channel) -> None:
        self.channel = channel
        self.where = channel.where

    def open(self) -> frozenset[str]:
        """Read the greeting; return the capabilities."""
        raise NotImplementedError

    def offers_starttls(self, capabilities: frozenset[str]) -> bool:
        """Whether the server advertised STARTTLS."""
        raise NotImplementedError

    def starttls(self, capabilities: frozenset[str]) -> None:
        """Ask for STARTTLS; raise :class:`NoStartTLS` unless the server agrees."""
        raise NotImplementedError

    def after_tls(self) -> frozenset[str]:
        """The capabilities again, over TLS."""
        raise NotImplementedError

    def can_login(self, capabilities: frozenset[str]) -> bool:
        """Whether a password login is possible."""
        raise NotImplementedError

    def login(self, capabilities: frozenset[str], username: str, password: str) -> str:
        """Log in; return the command used; raise :class:`AuthenticationError` if refused."""
        raise NotImplementedError

    def close(self) -> None:
        """Say goodbye (best effort)."""

    def _no_starttls(self) -> NoStartTLS:
        return NoStartTLS(f"{self.where} does not offer STARTTLS", url=self.where)

    def _refused(self, how: str) -> AuthenticationError:
        return AuthenticationError(f"{self.where} refused the login ({how})", url=self.where)


class _IMAP(_Session):
    def __init__(self, channel: _Channel) -> None:
        super().__init__(channel)
        self._tag = 0

    def open(self) -> frozenset[str]:
        greeting = self.channel.line()
        kind = greeting.split(" ", 2)[1].upper() if greeting.startswith("* ") else ""
        if kind == "PREAUTH":
            raise ProtocolError(f"{self.where} greets with PREAUTH: refused", url=self.where)
        if kind == "BYE":
            raise ServerError(f"{self.where} turned the connection away (BYE)", url=self.where)
        if kind != "OK":
            raise WrongProtocol(f"{self.where} is not an IMAP server", url=self.where)
        return self._capabilities()

    def _command(self, text: str, *, continuation: str | None = None) -> tuple[str, list[str]]:
        self._tag += 1
        tag = f"p{self._tag}"
        self.channel.send(f"{tag} {text}\r\n".encode())
        untagged: list[str] = []
        while True:
            line = self.channel.line()
            if line.startswith(f"{tag} "):
                status = line[len(tag) + 1 :].split(" ", 1)[0].upper()
                return status, untagged
            if line.startswith("+") and continuation is not None:
                self.channel.send(f"{continuation}\r\n".encode())
                continuation = None
            elif line.startswith("+"):
                self.channel.send(b"*\r\n")  # cancel an unexpected continuation
            elif line.startswith("* "):
                untagged.append(line[2:])
            else:
                raise ProtocolError(f"{self.where} sent a malformed response", url=self.where)

    def _capabilities(self) -> frozenset[str]:
        status, untagged = self._command("CAPABILITY")
        if status != "OK":
            raise WrongProtocol(f"{self.where} refused CAPABILITY", url=self.where)
        atoms = {
            atom.upper()
            for line in untagged
            if line.upper().startswith("CAPABILITY ")
            for atom in line.split()[1:]
        }
        if not atoms & {"IMAP4REV1", "IMAP4REV2"}:
            raise WrongProtocol(f"{self.where} is not an IMAP4rev1 server", url=self.where)
        return frozenset(atoms)

    def offers_starttls(self, capabilities: frozenset[str]) -> bool:
        return "STARTTLS" in capabilities

    def starttls(self, capabilities: frozenset[str]) -> None:
        if not self.offers_starttls(capabilities):
            raise self._no_starttls()
        status, _ = self._command("STARTTLS")
        if status != "OK":
            raise self._no_starttls()

    def after_tls(self) -> frozenset[str]:
        return self._capabilities()

    def can_login(self, capabilities: frozenset[str]) -> bool:
        return "AUTH=PLAIN" in capabilities or "LOGINDISABLED" not in capabilities

    def login(self, capabilities: frozenset[str], username: str, password: str) -> str:
        if "AUTH=PLAIN" in capabilities:
            how = "AUTHENTICATE PLAIN"
            status, _ = self._command(how, continuation=_plain(username, password))
        else:
            _no_breaks(username, password)
            how = "LOGIN"
            status, _ = self._command(f"LOGIN {_quoted(username)} {_quoted(password)}")
        if status != "OK":
            raise self._refused(how)
        return how

    def close(self) -> None:
        with contextlib.suppress(ConnectionError, ProtocolError):
            self._command("LOGOUT")


def _quoted(text: str) -> str:
    """An IMAP quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _POP3(_Session):
    def open(self) -> frozenset[str]:
        greeting = self.channel.line()
        if greeting.startswith("-ERR"):
            raise ServerError(f"{self.where} turned the connection away", url=self.where)
        if not greeting.startswith("+OK"):
            raise WrongProtocol(f"{self.where} is not a POP3 server", url=self.where)
        return self._capabilities()

    def _command(self, text: str) -> bool:
        self.channel.send(f"{text}\r\n".encode())
        reply = self.channel.line()
        if reply.startswith("+OK"):
            return True
        if reply.startswith("-ERR"):
            return False
        raise ProtocolError(f"{self.where} sent a malformed response", url=self.where)

    def _capabilities(self) -> frozenset[str]:
        if not self._command("CAPA"):
            return frozenset()  # a POP3 server without CAPA (RFC 1939 only)
        tags: set[str] = set()
        while (line := self.channel.line()) != ".":
            words = line.upper().split()
            if words:
                tags.add(words[0])
                if words[0] == "SASL":
                    tags.update(f"SASL={mechanism}" for mechanism in words[1:])
        return frozenset(tags)

    def offers_starttls(self, capabilities: frozenset[str]) -> bool:
        return "STLS" in capabilities

    def starttls(self, capabilities: frozenset[str]) -> None:
        # Without CAPA (RFC 2449) STLS cannot be advertised: ask anyway.
        if capabilities and not self.offers_starttls(capabilities):
            raise self._no_starttls()
        if not self._command("STLS"):
            raise self._no_starttls()

    def after_tls(self) -> frozenset[str]:
        return self._capabilities()

    def can_login(self, capabilities: frozenset[str]) -> bool:
        return not capabilities or bool({"USER", "SASL=PLAIN"} & capabilities)

    def login(self, capabilities: frozenset[str], username: str, password: str) -> str:
        if "USER" in capabilities or not capabilities:
            _no_breaks(username, password)
            if not (self._command(f"USER {username}") and self._command(f"PASS {password}")):
                raise self._refused("USER/PASS")
            return "USER/PASS"
        if not self._command(f"AUTH PLAIN {_plain(username, password)}"):
            raise self._refused("AUTH PLAIN")
        return "AUTH PLAIN"

    def close(self) -> None:
        with contextlib.suppress(ConnectionError, ProtocolError):
            self._command("QUIT")


_SMTP_REPLY = re.compile(r"(\d{3})([ -]|$)")


class _SMTP(_Session):
    def _reply(self, *, greeting: bool = False) -> tuple[int, list[str]]:
        """A (multi-line) reply: its code and its lines' texts."""
        codes: set[int] = set()
        texts: list[str] = []
        while True:
            line = self.channel.line()
            match = _SMTP_REPLY.match(line)
            if match is not None:
                codes.add(int(match[1]))
            if match is None or len(codes) > 1:
                error = WrongProtocol if greeting else ProtocolError
                raise error(f"{self.where} is not speaking SMTP", url=self.where)
            texts.append(line[4:])
            if match[2] != "-":
                return codes.pop(), texts

    def _command(self, text: str) -> tuple[int, list[str]]:
        self.channel.send(f"{text}\r\n".encode())
        return self._reply()

    def open(self) -> frozenset[str]:
        code, _ = self._reply(greeting=True)
        if code != 220:
            raise ServerError(f"{self.where} turned the connection away ({code})", url=self.where)
        return self._ehlo()

    def _ehlo(self) -> frozenset[str]:
        code, texts = self._command(f"EHLO {self.channel.local_address()}")
        if code != 250:
            raise ProtocolError(f"{self.where} refused EHLO ({code})", url=self.where)
        features: set[str] = set()
        for text in texts[1:]:
            words = text.upper().replace("AUTH=", "AUTH ", 1).split()
            if words:
                features.add(words[0])
                if words[0] == "AUTH":
                    features.update(f"AUTH={mechanism}" for mechanism in words[1:])
        return frozenset(features)

    def offers_starttls(self, capabilities: frozenset[str]) -> bool:
        return "STARTTLS" in capabilities

    def starttls(self, capabilities: frozenset[str]) -> None:
        if not self.offers_starttls(capabilities):
            raise self._no_starttls()
        code, _ = self._command("STARTTLS")
        if code != 220:
            raise self._no_starttls()

    def after_tls(self) -> frozenset[str]:
        return self._ehlo()

    def can_login(self, capabilities: frozenset[str]) -> bool:
        return bool({"AUTH=PLAIN", "AUTH=LOGIN"} & capabilities)

    def login(self, capabilities: frozenset[str], username: str, password: str) -> str:
        if "AUTH=PLAIN" in capabilities:
            how = "AUTH PLAIN"
            code, _ = self._command(f"AUTH PLAIN {_plain(username, password)}")
        else:
            how = "AUTH LOGIN"
            code, _ = self._command("AUTH LOGIN")
            if code == 334:
                code, _ = self._command(_b64(username))
            if code == 334:
                code, _ = self._command(_b64(password))
        if code != 235:
            raise self._refused(how)
        return how

    def close(self) -> None:
        with contextlib.suppress(ConnectionError, ProtocolError):
            self._command("QUIT")


_SESSIONS: dict[str, type[_Session]] = {"imap": _IMAP, "pop3": _POP3, "smtp": _SMTP}
