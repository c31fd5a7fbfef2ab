"""The SMTP backend: mail submission (RFC 6409) over smtplib, secure by default.

:class:`SMTPBackend` sends messages; it holds no folders (``kinds`` is empty, so
:meth:`~SMTPBackend.list_folders` is empty and :meth:`~SMTPBackend.collection` raises
:class:`~openprotocols.errors.NotFoundError`). Storing the Sent copy and the drafts is the
job of :mod:`openprotocols.sending`, one layer up, with any mail collection.

Connecting
    The account's ``smtp`` endpoint says how: :attr:`Security.SSL` is implicit TLS (port
    465 by default), :attr:`Security.STARTTLS` is submission on 587 with STARTTLS
    *required* — a server that does not offer it, or refuses it, raises
    :class:`~openprotocols.backends._probe.NoStartTLS` before anything else is sent — and
    :attr:`Security.NONE` is clear text, only after the network's consent callback allowed
    :attr:`~openprotocols.network.ConsentKind.CLEAR_TEXT`. The socket comes from
    :meth:`Network.connect <openprotocols.network.Network.connect>` (overrides, resolver,
    timeouts) and TLS from :meth:`Network.ssl_context
    <openprotocols.network.Network.ssl_context>`, verified against the endpoint's host name.
    After the server's ``220`` to STARTTLS, a byte already received is an injection and
    ends the connection (:class:`~openprotocols.backends._probe.Tampering`); the greeting
    and EHLO keywords learnt in clear text are dropped and EHLO is sent again over TLS
    (research notes, part B).

Authenticating
    AUTH PLAIN, else AUTH LOGIN, with the endpoint's password; AUTH XOAUTH2 with a token
    from the backend's :data:`~openprotocols.backends.base.TokenProvider` when the
    endpoint's ``auth`` is ``oauth2``. With ``AccountOptions.smtp_auth_same_as_incoming``
    (the default) the user name, password and mechanism come from the account's ``imap``
    (else ``pop3``) endpoint, when it has one. smtplib's ``debuglevel`` stays 0 (its debug
    output prints AUTH lines, credentials included) and this module logs no command.

Sending
    :meth:`SMTPBackend.send` takes a built :class:`~openprotocols.model.Message`
    (:func:`openprotocols.formats.mime.build`): ``MAIL FROM`` is
    :func:`~openprotocols.formats.mime.envelope_from` (the account when sending on behalf of
    someone), ``RCPT TO`` is :func:`~openprotocols.formats.mime.rcpt_to` (To, Cc *and*
    Bcc), and the bytes are the message's source with any ``Bcc`` header removed. A
    recipient the server refuses stops the transaction before ``DATA`` (nothing is sent to
    anyone, :class:`RecipientsRefusedError` names them) unless the caller allows a partial
    delivery, whose :class:`Submission` then lists the refused addresses.

Errors are the library's own, translated at one boundary (:meth:`SMTPBackend._translated`):
535 and friends are :class:`~openprotocols.errors.AuthenticationError`, a 5xx to MAIL or
DATA is :class:`MessageRefusedError`, a 4xx is :class:`~openprotocols.errors.ServerError`,
a silent server :class:`~openprotocols.errors.TimeoutError`, a lost connection
:class:`~openprotocols.errors.ConnectionError`. After an error the connection is dropped;
the next send opens a new one. A connection that was lost while idle is noticed by a
``NOOP`` before the next transaction, so a send is never retried half-way.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import ipaddress
import logging
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from openprotocols.errors import (
    AuthenticationError,
    BackendError,
    CapabilityError,
    ConfigurationError,
    ConnectionError,
    ConnectionSecurityError,
    InvalidItemError,
    NotFoundError,
    OpenProtocolsError,
    ProtocolError,
    ServerError,
    TimeoutError,
)
from openprotocols.formats import mime
from openprotocols.hookspecs import hookimpl
from openprotocols.model.accounts import AuthMechanism, Endpoint, Security, default_port
from openprotocols.network import ConsentKind, ConsentRequest

from ._probe import CertificateFailure, NoStartTLS, Tampering
from .base import Backend, Collection, TokenProvider

if TYPE_CHECKING:
    from openprotocols.model._base import Item
    from openprotocols.model.accounts import Account
    from openprotocols.model.folders import Folder
    from openprotocols.model.mail import Message
    from openprotocols.network import Network
    from openprotocols.plugins import BackendRegistry

__all__ = [
    "MAX_REPLY_LINES",
    "MessageRefusedError",
    "RecipientsRefusedError",
    "SMTPBackend",
    "Submission",
]

log = logging.getLogger(__name__)

MAX_REPLY_LINES = 1000
"""The most lines one (multi-line) SMTP reply may have; each line is bounded by smtplib's
8 KiB. More is a hostile server: :class:`~openprotocols.errors.ProtocolError`."""

_MAX_LINE = 8192  # smtplib's own bound on one reply line
_INCOMING = ("imap", "pop3")
_BAD_IN_ADDRESS = re.compile(r"[\r\n\0<>\s]")
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_BCC_FIELD = re.compile(rb"(?im)^bcc[ \t]*:.*(?:\r?\n[ \t].*)*(?:\r?\n)?")


class MessageRefusedError(BackendError):
    """The server refused the message for good (a 5xx reply to MAIL FROM or DATA): sending
    it again unchanged will fail again. Nothing was delivered.

    :ivar status: the SMTP reply code.
    :ivar reply: the server's reply text (untrusted; shown to the user only as such).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reply: str = "",
        backend: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, url=url)
        self.status = status
        self.reply = reply


class RecipientsRefusedError(BackendError):
    """The server refused some recipients at ``RCPT TO``.

    Unless a partial delivery was allowed, nothing was sent to anyone (the transaction was
    reset before ``DATA``). Codes of 4xx are temporary (a full mailbox, too many
    recipients), 5xx permanent (no such user).

    :ivar refused: each refused address with the reply code and the server's text.
    :ivar accepted: the addresses the server had accepted.
    """

    def __init__(
        self,
        message: str,
        *,
        refused: Mapping[str, tuple[int, str]],
        accepted: tuple[str, ...] = (),
        backend: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, url=url)
        self.refused = dict(refused)
        self.accepted = accepted


@attrs.frozen
class Submission:
    """What the server took: the message id, the recipients it accepted, and (only when a
    partial delivery was allowed) those it refused, with code and text."""

    message_id: str | None
    accepted: tuple[str, ...]
    refused: Mapping[str, tuple[int, str]] = attrs.field(factory=dict)


class _Client(smtplib.SMTP):
    """smtplib over the network layer, with STARTTLS done strictly and replies bounded.

    ``debuglevel`` is never raised: smtplib's debug output would print AUTH commands.
    """

    def __init__(self, network: Network, *, implicit_tls: bool) -> None:
        # An explicit local name: smtplib would otherwise look up our FQDN (slow, and it
        # tells the server more than it needs); it is replaced by our address once connected.
        super().__init__(local_hostname="localhost")
        self._network = network
        self._implicit_tls = implicit_tls
        self._name = ""

    def _socket(self) -> socket.socket:
        if self.sock is None:
            raise ConnectionError("not connected")
        return self.sock

    def _get_socket(self, host: str, port: int, timeout: object) -> socket.socket:
        sock = self._network.connect(host, port)
        if not self._implicit_tls:
            return sock
        try:
            return self._network.ssl_context().wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self._name = host  # what TLS verifies, never the address an override points to
        reply = super().connect(host, port, source_address)
        self.local_hostname = _address_literal(self._socket())
        return reply

    def getreply(self) -> tuple[int, bytes]:
        """smtplib's reader, with the number of lines of one reply bounded and a timeout
        kept a timeout (smtplib turns it into "connection closed")."""
        if self.file is None:
            self.file = self._socket().makefile("rb")
        lines: list[bytes] = []
        while True:
            try:
                line = self.file.readline(_MAX_LINE + 1)
            except builtins.TimeoutError as exc:
                self.close()
                raise TimeoutError(f"{self._name} did not answer in time") from exc
            except OSError as exc:
                self.close()
                raise ConnectionError(f"the connection to {self._name} was lost") from exc
            if not line:
                self.close()
                raise ConnectionError(f"{self._name} closed the connection")
            if len(line) > _MAX_LINE or len(lines) >= MAX_REPLY_LINES:
                self.close()
                raise ProtocolError(f"{self._name} sent an overlong reply")
            lines.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                self.close()
                raise ProtocolError(f"{self._name} sent a malformed reply") from None
            if line[3:4] != b"-":
                return code, b"\n".join(lines)

    def strict_starttls(self, context: ssl.SSLContext) -> None:
        """STARTTLS, required: refused or not offered is :class:`NoStartTLS`; a byte
        received before the handshake is :class:`Tampering`. Everything learnt in clear
        text is forgotten; the caller sends EHLO again."""
        if not self.has_extn("starttls"):
            raise NoStartTLS(f"{self._name} does not offer STARTTLS")
        code, _ = self.docmd("STARTTLS")
        if code != 220:
            raise NoStartTLS(f"{self._name} refused STARTTLS ({code})")
        if self._pending():
            raise Tampering(f"{self._name} sent data before the TLS handshake (injection?)")
        self.sock = context.wrap_socket(self._socket(), server_hostname=self._name)
        self.file = None
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False

    def _pending(self) -> bool:
        """Whether bytes wait, read-ahead or on the socket, without blocking."""
        if self.file is None:
            return False
        sock = self._socket()
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            return bool(self.file.peek(1))
        except OSError:
            return False
        finally:
            sock.settimeout(timeout)


def _address_literal(sock: socket.socket) -> str:
    """Our end's address as an SMTP address literal (``[192.0.2.1]``, ``[IPv6:...]``)."""
    try:
        address = ipaddress.ip_address(str(sock.getsockname()[0]))
    except (OSError, ValueError):
        return "[127.0.0.1]"
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class SMTPBackend(Backend):
    """Sends mail through the account's ``smtp`` endpoint (see the module documentation).

    Use it as a context manager or call :meth:`open`; :meth:`send` also connects on first
    use. One connection is kept for several messages; calls are serialised by a lock.
    """

    name = "smtp"
    description = "Sends mail by SMTP submission (587 with STARTTLS, 465 with implicit TLS)."

    def __init__(
        self,
        account: Account,
        *,
        network: Network | None = None,
        token_provider: TokenProvider | None = None,
    ) -> None:
        super().__init__(account, network=network, token_provider=token_provider)
        self._client: _Client | None = None
        self._lock = threading.Lock()

    # -- folders: none -----------------------------------------------------------

    def list_folders(self) -> list[Folder]:
        """SMTP has no folders: always empty."""
        return []

    def collection(self, folder: Folder | str) -> Collection[Item]:
        """SMTP has no folders.

        :raises NotFoundError: always.
        """
        folder_id = self._folder_id(folder)
        raise NotFoundError(f"SMTP has no folder {folder_id!r}", backend=self.name, url=folder_id)

    # -- life cycle --------------------------------------------------------------

    @property
    def endpoint(self) -> Endpoint:
        """The ``smtp`` endpoint with the credentials this backend logs in with.

        :raises ConfigurationError: the account has no ``smtp`` endpoint.
        """
        endpoint = self.account.endpoint(self.name)
        if not self.account.options.smtp_auth_same_as_incoming:
            return endpoint
        incoming = next((e for e in self.account.endpoints if e.protocol in _INCOMING), None)
        if incoming is None:
            return endpoint
        return attrs.evolve(
            endpoint, username=incoming.username, password=incoming.password, auth=incoming.auth
        )

    def open(self) -> None:
        """Connect, secure the connection and log in (if not connected already)."""
        with self._lock:
            self._connected()

    def close(self) -> None:
        """Say QUIT and close the connection; safe to call more than once."""
        with self._lock:
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError, OpenProtocolsError):
                    client.quit()
                client.close()

    def server_extensions(self) -> frozenset[str]:
        """The ESMTP extensions the server announced over the secured connection
        (``AUTH PLAIN LOGIN``, ``SIZE 10240000``...); for ``openprotocols capabilities``."""
        with self._lock:
            client = self._connected()
            return frozenset(
                f"{name.upper()} {value}".strip() for name, value in client.esmtp_features.items()
            )

    def _connected(self) -> _Client:
        """The open connection, after a NOOP shows it is alive; else a new one."""
        if self._client is not None:
            try:
                with self._translated():
                    code, _ = self._client.noop()
                if code == 250:
                    return self._client
            except BackendError:
                log.debug("The SMTP connection of %s was lost; reconnecting", self.account.email)
            self._drop()
        self._client = self._connect()
        return self._client

    def _connect(self) -> _Client:
        endpoint = self.endpoint
        security = endpoint.security
        port = endpoint.port or default_port(self.name, security) or 587
        if security is Security.NONE:
            self.network.require_consent(
                ConsentRequest(
                    kind=ConsentKind.CLEAR_TEXT,
                    protocol=self.name,
                    host=endpoint.host,
                    port=port,
                    reason="the outgoing server is configured without encryption",
                )
            )
        client = _Client(self.network, implicit_tls=security is Security.SSL)
        try:
            with self._translated():
                code, _ = client.connect(endpoint.host, port)
                if code != 220:
                    raise ServerError(
                        f"the server turned the connection away ({code})", status=code
                    )
                self._ehlo(client)
                if security is Security.STARTTLS:
                    client.strict_starttls(self.network.ssl_context())
                    self._ehlo(client)
                self._authenticate(client, endpoint)
        except BaseException:
            client.close()
            raise
        log.debug("Connected to %s for %s", self._where, self.account.email)
        return client

    @staticmethod
    def _ehlo(client: _Client) -> None:
        code, _ = client.ehlo()
        if code != 250:
            raise ProtocolError(f"the server refused EHLO ({code})")

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    @property
    def _where(self) -> str:
        return self.account.endpoint(self.name).url

    # -- authentication ----------------------------------------------------------

    def _authenticate(self, client: _Client, endpoint: Endpoint) -> None:
        if endpoint.auth is AuthMechanism.NONE:
            return
        offered = set(client.esmtp_features.get("auth", "").upper().split())
        if endpoint.auth is AuthMechanism.OAUTH2:
            self._xoauth2(client, endpoint, offered)
            return
        if endpoint.password is None:
            return  # a relay that needs no login
        username, password = endpoint.username or self.account.email, endpoint.password.reveal()
        if "PLAIN" in offered:
            code, _ = client.docmd("AUTH", "PLAIN " + _b64(f"\0{username}\0{password}".encode()))
        elif "LOGIN" in offered:
            code, _ = client.docmd("AUTH", "LOGIN")
            if code == 334:
                code, _ = client.docmd(_b64(username.encode()))
            if code == 334:
                code, _ = client.docmd(_b64(password.encode()))
        else:
            raise CapabilityError("the server offers no password login (AUTH PLAIN or LOGIN)")
        self._check_auth(code)

    def _xoauth2(self, client: _Client, endpoint: Endpoint, offered: set[str]) -> None:
        if self.token_provider is None:
            raise ConfigurationError(
                f"{self._where} uses OAuth2: give the backend a token_provider"
            )
        if "XOAUTH2" not in offered:
            raise CapabilityError("the server does not offer AUTH XOAUTH2")
        token = self.token_provider(self.account, endpoint)
        username = endpoint.username or self.account.email
        code, _ = client.docmd(
            "AUTH", "XOAUTH2 " + _b64(f"user={username}\1auth=Bearer {token}\1\1".encode())
        )
        if code == 334:  # the error details, in JSON; RFC 7628 says to answer with nothing
            code, _ = client.docmd("")
        self._check_auth(code)

    @staticmethod
    def _check_auth(code: int) -> None:
        if code in (235, 503):  # 503: already authenticated
            return
        if 400 <= code < 500:  # 454: a temporary failure on the server's side
            raise ServerError(f"the server could not log in now ({code})", status=code)
        raise AuthenticationError(f"the server refused the login ({code})")

    # -- sending -----------------------------------------------------------------

    def send(self, message: Message, *, allow_partial: bool = False) -> Submission:
        """Submit ``message``: envelope from :func:`~openprotocols.formats.mime.envelope_from`,
        recipients from :func:`~openprotocols.formats.mime.rcpt_to` (Bcc included), and the
        source without its ``Bcc`` header.

        :param allow_partial: deliver to the recipients the server accepts even if it
            refuses others (listed in :attr:`Submission.refused`); by default a refused
            recipient stops the transaction before anything is sent.
        :raises InvalidItemError: the message is headers-only, has no author or no
            recipient, or an address is malformed (nothing was sent).
        :raises RecipientsRefusedError: recipients were refused (see ``allow_partial``).
        :raises MessageRefusedError: the server refused the message for good.
        :raises CapabilityError: the message needs an extension the server lacks
            (SMTPUTF8, 8BITMIME) or is larger than it takes (nothing was sent).
        :raises ConnectionError: the connection was lost; if it was lost after the whole
            message went out, the server may have delivered it.
        """
        source = mime.serialize(message)
        sender = mime.envelope_from(message)
        recipients = mime.rcpt_to(message)
        if sender is None:
            raise InvalidItemError("the message has no From (or Sender) to send it from")
        if not recipients:
            raise InvalidItemError("the message has no recipients (To, Cc or Bcc)")
        for address in (sender, *recipients):
            if _BAD_IN_ADDRESS.search(address) or "@" not in address:
                raise InvalidItemError(f"{address!r} cannot be used as an SMTP address")
        wire = _wire_bytes(source)
        with self._lock:
            client = self._connected()
            try:
                with self._translated():
                    submission = self._transaction(
                        client, message, sender, recipients, wire, allow_partial
                    )
            except BaseException:
                self._drop()
                raise
        log.info("Sent %s to %d recipients", submission.message_id, len(submission.accepted))
        return submission

    def _transaction(
        self,
        client: _Client,
        message: Message,
        sender: str,
        recipients: list[str],
        wire: bytes,
        allow_partial: bool,
    ) -> Submission:
        code, reply = client.mail(sender, self._mail_options(client, sender, recipients, wire))
        if code != 250:
            self._refuse(client, code, reply, "the sender")
        accepted: list[str] = []
        refused: dict[str, tuple[int, str]] = {}
        for recipient in recipients:
            code, reply = client.rcpt(recipient)
            if code in (250, 251):
                accepted.append(recipient)
            else:
                refused[recipient] = (code, _text(reply))
        if refused and (not accepted or not allow_partial):
            client.rset()
            raise RecipientsRefusedError(
                f"the server refused {len(refused)} of {len(recipients)} recipients "
                f"({', '.join(refused)}); nothing was sent",
                refused=refused,
                accepted=tuple(accepted),
            )
        code, reply = client.data(wire)
        if code != 250:
            self._refuse(client, code, reply, "the message")
        client.command_encoding = "ascii"  # smtplib switches it to UTF-8 for SMTPUTF8
        return Submission(message.envelope.message_id, tuple(accepted), refused)

    @staticmethod
    def _mail_options(
        client: _Client, sender: str, recipients: list[str], wire: bytes
    ) -> list[str]:
        options: list[str] = []
        limit = client.esmtp_features.get("size", "")
        if limit.isdigit() and 0 < int(limit) < len(wire):
            raise CapabilityError(
                f"the message has {len(wire)} bytes; the server takes at most {limit}"
            )
        if client.has_extn("size"):
            options.append(f"SIZE={len(wire)}")
        if not wire.isascii():
            if not client.has_extn("8bitmime"):
                raise CapabilityError("the message has 8-bit data; the server lacks 8BITMIME")
            options.append("BODY=8BITMIME")
        head = wire[: mime.header_block_end(wire)]
        if not (head.isascii() and all(a.isascii() for a in (sender, *recipients))):
            if not client.has_extn("smtputf8"):
                raise CapabilityError("the message has UTF-8 addresses; the server lacks SMTPUTF8")
            options.append("SMTPUTF8")
        return options

    @staticmethod
    def _refuse(client: _Client, code: int, reply: bytes, what: str) -> NoReturn:
        with contextlib.suppress(smtplib.SMTPException, OSError, OpenProtocolsError):
            client.rset()
        if 500 <= code < 600:
            raise MessageRefusedError(
                f"the server refused {what} ({code})", status=code, reply=_text(reply)
            )
        raise ServerError(f"the server did not take {what} now ({code})", status=code)

    # -- the one boundary where foreign exceptions become ours --------------------

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        where = self._where
        try:
            yield
        except BackendError as exc:
            if exc.backend is None:
                exc.backend = self.name
            if exc.url is None:
                exc.url = where
            raise
        except OpenProtocolsError:
            raise
        except smtplib.SMTPException as exc:
            raise _smtp_error(exc, where) from exc
        except OSError as exc:
            raise _transport_error(exc, where) from exc
        except ValueError as exc:  # smtplib refuses a line break in a command
            raise InvalidItemError(f"cannot be sent: {exc}") from exc


def _smtp_error(exc: smtplib.SMTPException, where: str) -> BackendError:
    """Ours for an smtplib exception (most replies are checked before smtplib sees them)."""
    context = {"backend": SMTPBackend.name, "url": where}
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return AuthenticationError(f"{where} refused the login ({exc.smtp_code})", **context)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return CapabilityError(str(exc), **context)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return ConnectionError(f"the connection to {where} was lost", **context)
    if isinstance(exc, smtplib.SMTPResponseException):
        return ServerError(f"{where} answered {exc.smtp_code}", status=exc.smtp_code, **context)
    return ProtocolError(f"SMTP with {where} failed: {exc}", **context)


def _transport_error(exc: OSError, where: str) -> BackendError:
    """Ours for a socket or TLS failure."""
    context = {"backend": SMTPBackend.name, "url": where}
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CertificateFailure(
            f"the certificate of {where} is not valid: {exc.verify_message}", **context
        )
    if isinstance(exc, ssl.SSLError):
        return ConnectionSecurityError(f"TLS with {where} failed: {exc.reason or exc}", **context)
    if isinstance(exc, builtins.TimeoutError):
        return TimeoutError(f"{where} did not answer in time", **context)
    return ConnectionError(f"the connection to {where} failed: {exc}", **context)


def _wire_bytes(source: bytes) -> bytes:
    """The source as it goes to the server: CRLF line ends, no ``Bcc`` header."""
    end = mime.header_block_end(source)
    head = _BCC_FIELD.sub(b"", source[:end])
    return _LINE_ENDS.sub(b"\r\n", head + source[end:])


def _text(reply: bytes) -> str:
    """A server reply as text, bounded (it is untrusted and only for showing)."""
    return reply.decode("utf-8", "replace")[:500]


@hookimpl
def openprotocols_register_backends(registry: BackendRegistry) -> None:
    """Register the SMTP backend."""
    registry.add(SMTPBackend)
