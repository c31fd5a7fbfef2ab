"""The one adapter over imapclient 4.1 and imaplib: a secure, bounded IMAP connection.

Everything the IMAP backend (:mod:`openprotocols.backends.imap`) says to a server goes
through :class:`Connection`; nothing else in the library imports imapclient or imaplib.
The adapter exists because of what the research notes found (``dependencies.md`` §3,
``reliability.md`` part B) and handles each of them here, once:

Connecting
    The socket comes from :meth:`Network.connect <openprotocols.network.Network.connect>`
    (overrides, resolver, connect and read timeouts) and TLS from
    :meth:`Network.ssl_context`, verified against the endpoint's host name, never the
    address an override points to. Implicit TLS for :attr:`Security.SSL`; STARTTLS is
    *required* for :attr:`Security.STARTTLS` (a server that does not offer it, or refuses
    it, raises :class:`~openprotocols.errors.ConnectionSecurityError`, never a fall-back
    to clear text); clear text only for :attr:`Security.NONE` and only after the network's
    consent callback agreed (``ConsentKind.CLEAR_TEXT``), asked before connecting.
STARTTLS injection
    imaplib and imapclient keep untagged data a server sent before the TLS handshake and
    silently drop bytes sent after the ``OK`` but before it. Here, right before the
    handshake, any byte already received is refused as an attack
    (:class:`ConnectionSecurityError`), every untagged response received so far is
    discarded, and the capabilities are read again over TLS. A ``PREAUTH`` greeting is
    accepted only over implicit TLS: on a connection that should do STARTTLS it would
    skip TLS altogether, and on a clear-text one it proves nothing.
Credentials
    LOGIN, AUTHENTICATE PLAIN, and OAuth2 (OAUTHBEARER, else XOAUTH2) with a token from
    the backend's token provider. imaplib's debug output and its in-memory log of the
    last commands (which would hold a LOGIN line) are switched off for good; no error
    message carries a credential or the server's free text.
Bounds
    Lines at :attr:`Limits.max_line` bytes, literals at :attr:`Limits.max_literal` bytes
    (checked *before* reading: imaplib 3.11 would allocate what the server announces, see
    python/cpython#119511) and read in chunks, untagged responses to one command at
    :attr:`Limits.max_responses`. Exceeding one drops the connection with
    :class:`~openprotocols.errors.ProtocolError`.
imapclient pitfalls
    No string ranges are passed to imapclient's ``fetch`` (4.x breaks on them): ranges
    go through :meth:`Connection.uid_fetch`, a raw ``UID FETCH`` parsed by
    :func:`~openprotocols.backends._imapfetch.parse_fetch` (imapclient's reading, faster;
    what it is unsure of goes to imapclient's parser). ``SELECT ... (QRESYNC ...)`` and
    ``VANISHED`` are done on the private ``_imap`` object; every untagged response is
    drained after every command, so a ``VANISHED`` or ``[READ-ONLY]`` left over from one
    command cannot confuse the next (imaplib raises ``readonly`` on the command after a
    failed one carrying ``[READ-ONLY]``). ``STORE ... (UNCHANGEDSINCE n)`` goes through
    ``_raw_command``. ``normalise_times`` is off (INTERNALDATE stays aware),
    ``folder_encode`` is off (folder names are handled as wire names; see
    :func:`decode_name`).
Errors and threads
    Every foreign exception is translated in :meth:`Connection._guard` into the
    library's own: a malformed or over-long response, a lost link or a timeout marks the
    connection :attr:`~Connection.broken` and closes it, and the backend opens a new one
    on its next call. An imapclient instance is not thread-safe: a connection belongs to
    the thread that opened it (the backend keeps one per thread).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import collections
import contextlib
import functools
import imaplib
import io
import logging
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import attrs
from imapclient import IMAPClient, imap_utf7
from imapclient.exceptions import LoginError
from imapclient.exceptions import ProtocolError as IMAPClientProtocolError
from imapclient.imapclient import SocketTimeout, _literal
from imapclient.response_parser import parse_fetch_response, parse_response

from openprotocols.backends._imapfetch import parse_fetch
from openprotocols.errors import (
    AlreadyExistsError,
    AuthenticationError,
    BackendError,
    CapabilityError,
    ConfigurationError,
    ConnectionError,
    ConnectionSecurityError,
    NotFoundError,
    OpenProtocolsError,
    ProtocolError,
    ReadOnlyError,
    ServerError,
    TimeoutError,
)
from openprotocols.model.accounts import AuthMechanism, Security
from openprotocols.network import ConsentKind, ConsentRequest

if TYPE_CHECKING:
    from openprotocols.model.accounts import Account, Endpoint
    from openprotocols.network import Network

    from .base import TokenProvider

__all__ = [
    "Connection",
    "FetchData",
    "Limits",
    "ListedFolder",
    "Namespace",
    "Selected",
    "decode_name",
    "encode_name",
    "uid_set",
]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

FetchData = dict[bytes, Any]
"""One message's FETCH data as imapclient parses it (``b"FLAGS"``, ``b"MODSEQ"``...)."""

_RESPONSE_CODE = re.compile(rb"^\[([A-Z-]+)(?: ([^\]]*))?\]", re.ASCII)
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.ASCII)
_ATOM_SPECIALS = frozenset(b'(){ %*"\\]') | frozenset(range(32)) | {127}


@attrs.frozen
class Limits:
    """Bounds on what a server controls. Exceeding one is a :class:`ProtocolError`."""

    max_line: int = 1024 * 1024
    """The longest response line (bytes, literals excluded)."""
    max_literal: int = 64 * 1024 * 1024
    """The largest literal (a message body, a header block); also the largest message
    the backend downloads whole."""
    max_responses: int = 1_000_000
    """The most untagged responses to one command."""


@attrs.frozen
class ListedFolder:
    """One ``LIST`` response: the wire name, its hierarchy delimiter and attributes."""

    name: str
    delimiter: str | None
    attributes: frozenset[str]
    """Attributes in canonical case: ``\\Sent``, ``\\Noselect``, ``\\HasChildren``..."""


@attrs.frozen
class Namespace:
    """One namespace (RFC 2342): a prefix and its hierarchy delimiter."""

    prefix: str
    delimiter: str | None


@attrs.frozen
class Selected:
    """What ``SELECT`` said about a mailbox."""

    name: str
    uidvalidity: int
    uidnext: int
    exists: int
    highestmodseq: int | None
    """``None`` when the server has no CONDSTORE, or this mailbox has no mod-sequences."""
    read_only: bool
    vanished: frozenset[int] = frozenset()
    """UIDs a QRESYNC select reported as expunged since the given mod-sequence."""
    changed: dict[int, FetchData] = attrs.field(factory=dict, eq=False)
    """FETCH data a QRESYNC select reported for messages changed since then."""


@attrs.define(eq=False)
class Pending:
    """A ``UID FETCH`` sent by :meth:`Connection.send_uid_fetch` whose answer is not
    read yet; :meth:`Connection.read_uid_fetch` reads it."""

    tag: bytes
    contains: Callable[[int], bool]
    """Whether a UID is one this command asked for."""
    received: dict[int, FetchData] = attrs.Factory(dict)
    """The FETCH data read so far (a server may interleave the answers of commands)."""
    done: bool = False
    error: BackendError | None = None
    """The server's refusal (a tagged NO or BAD), raised to the reader."""
    abandoned: bool = False
    """Nobody will read it: its answer is read and dropped."""


def encode_name(text: str) -> str:
    """A display name as an IMAP wire name (modified UTF-7, RFC 3501 §5.1.3)."""
    encoded: bytes = imap_utf7.encode(text)
    return encoded.decode("ascii")


def decode_name(name: str) -> str:
    """A wire name as people read it; a name that is not valid modified UTF-7 stays as
    it is (servers with ``UTF8=ACCEPT`` send UTF-8)."""
    try:
        decoded: str = imap_utf7.decode(name.encode("utf-8", "surrogateescape"))
        return decoded
    except (ValueError, UnicodeError, binascii.Error):
        return name


def uid_set(uids: Iterable[int]) -> str:
    """UIDs as a compact IMAP sequence set: ``1:5,8,10:12``."""
    ranges: list[str] = []
    start = end = -1
    for uid in sorted(set(uids)):
        if uid == end + 1:
            end = uid
            continue
        if start >= 0:
            ranges.append(f"{start}:{end}" if end > start else str(start))
        start = end = uid
    if start >= 0:
        ranges.append(f"{start}:{end}" if end > start else str(start))
    return ",".join(ranges)


def parse_uid_set(text: str) -> set[int]:
    """The UIDs of a sequence set without ``*`` (as in ``VANISHED`` and ``COPYUID``).

    :raises ValueError: ``text`` is not such a set.
    """
    found: set[int] = set()
    for first, last in _ranges(text):
        if last - first > 10_000_000:
            raise ValueError("a UID range too large to expand")
        found.update(range(first, last + 1))
    return found


def uid_set_contains(text: str) -> Callable[[int], bool] | None:
    """A membership test for a sequence set, by its ranges (nothing is expanded); ``None``
    for a set with ``*``, whose meaning depends on the mailbox.

    :raises ValueError: ``text`` is not a sequence set.
    """
    if "*" in text:
        return None
    bounds: list[list[int]] = []
    for low, high in sorted(_ranges(text)):
        if bounds and low <= bounds[-1][1] + 1:
            bounds[-1][1] = max(bounds[-1][1], high)
        else:
            bounds.append([low, high])
    starts = [low for low, _ in bounds]

    def contains(uid: int) -> bool:
        at = bisect.bisect_right(starts, uid) - 1
        return at >= 0 and uid <= bounds[at][1]

    return contains


def _ranges(text: str) -> Iterator[tuple[int, int]]:
    for piece in text.split(","):
        low, _, high = piece.partition(":")
        first, last = int(low), int(high or low)
        yield (first, last) if first <= last else (last, first)


def chunks(uids: Sequence[int], size: int) -> Iterator[list[int]]:
    """``uids`` in lists of at most ``size``."""
    for start in range(0, len(uids), size):
        yield list(uids[start : start + size])


def _quoted(text: str) -> bytes:
    """An IMAP astring argument: a quoted string, or a literal (8-bit) for non-ASCII."""
    if any(char in text for char in "\r\n\0"):
        raise ConfigurationError("an IMAP name must not contain CR, LF or NUL")
    data = text.encode("utf-8")
    if any(byte > 127 for byte in data):
        literal: bytes = _literal(data)
        return literal
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def flag_list(flags: Iterable[str]) -> bytes:
    """Flags as a parenthesised IMAP list; refuses flags that are not atoms.

    :raises ConfigurationError: a flag holds a space, a bracket or another special.
    """
    items: list[bytes] = []
    for flag in sorted(flags):
        data = flag.encode("ascii", "replace")
        body = data[1:] if data.startswith(b"\\") else data
        if not body or any(byte in _ATOM_SPECIALS or byte > 126 for byte in body):
            raise ConfigurationError(f"{flag!r} is not a valid IMAP flag")
        items.append(data)
    return b"(" + b" ".join(items) + b")"


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


# -------------------------------------------------------------------- the imaplib layer


class _Tampering(imaplib.IMAP4.abort):
    """Bytes arrived between the STARTTLS ``OK`` and the handshake: a response injection."""


class _TooMuch(imaplib.IMAP4.abort):
    """The server went over a :class:`Limits` bound."""


class _IMAP4(imaplib.IMAP4):
    """imaplib's IMAP4 with our socket, our bounds and no logging at all."""

    def __init__(self, owner: Connection, host: str, port: int) -> None:
        self._owner = owner
        self._responses = 0
        super().__init__(host, port, timeout=owner.network.timeouts.connect)

    # imaplib logs whole command lines (a LOGIN with its password) at debug levels and
    # keeps the last ten in memory for print_log(): neither may ever happen.
    @property
    def debug(self) -> int:
        return 0

    @debug.setter
    def debug(self, value: int) -> None:
        pass

    def _log(self, line: str) -> None:
        pass

    def _mesg(self, s: str, secs: float | None = None) -> None:
        pass

    def _create_socket(self, timeout: float | None) -> socket.socket:
        owner = self._owner
        sock = owner.network.connect(self.host, self.port)
        if owner.endpoint.security is Security.SSL:
            try:
                return owner.network.ssl_context().wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        return sock

    @property
    def _reader(self) -> io.BufferedReader:
        return cast(io.BufferedReader, self.file)

    def readline(self) -> bytes:
        limit = self._owner.limits.max_line
        line = self._reader.readline(limit + 1)
        if len(line) > limit:
            raise _TooMuch(f"a response line over {limit} bytes")
        return line

    def read(self, size: int) -> bytes:
        limit = self._owner.limits.max_literal
        if size > limit:
            raise _TooMuch(f"a literal of {size} bytes (the limit is {limit})")
        parts: list[bytes] = []
        left = size
        while left > 0:  # in chunks: never trust an announced size for allocation
            data = self._reader.read(min(left, 1024 * 1024))
            if not data:
                raise self.abort("socket error: EOF in a literal")
            parts.append(data)
            left -= len(data)
        return b"".join(parts)

    def _command(self, name: str, *args: Any) -> bytes:
        self._responses = 0
        tag: bytes = cast(Any, super())._command(name, *args)
        return tag

    def _new_tag(self) -> bytes:
        self._responses = 0  # imapclient's _raw_command takes tags directly
        tag: bytes = cast(Any, super())._new_tag()
        return tag

    def _append_untagged(self, typ: str, dat: Any) -> None:
        self._responses += 1
        if self._responses > self._owner.limits.max_responses:
            raise _TooMuch(f"more than {self._owner.limits.max_responses} responses")
        cast(Any, super())._append_untagged(typ, dat)

    def check_nothing_buffered(self) -> None:
        """Refuse bytes received after the STARTTLS ``OK`` (before the handshake), and
        forget everything said in clear text."""
        timeout = self.sock.gettimeout()
        self.sock.setblocking(False)
        try:
            pending = self._reader.peek(1)  # what is buffered, or readable without waiting
        except OSError:
            pending = b""
        finally:
            self.sock.settimeout(timeout)
        if pending:
            raise _Tampering("data before the TLS handshake")
        self.untagged_responses.clear()


class _StartTLSContext:
    """An SSL context that checks the connection right before imaplib's handshake."""

    def __init__(self, context: ssl.SSLContext, imap: _IMAP4) -> None:
        self._context = context
        self._imap = imap

    def wrap_socket(self, sock: socket.socket, server_hostname: str | None = None) -> ssl.SSLSocket:
        self._imap.check_nothing_buffered()
        return self._context.wrap_socket(sock, server_hostname=server_hostname)


class _Client(IMAPClient):  # type: ignore[misc]  # imapclient ships no types
    """imapclient over :class:`_IMAP4`."""

    def __init__(self, owner: Connection) -> None:
        self._owner = owner
        timeouts = owner.network.timeouts
        super().__init__(
            owner.endpoint.host,
            port=owner.port,
            ssl=owner.endpoint.security is Security.SSL,
            timeout=SocketTimeout(timeouts.connect, timeouts.read),
        )
        self.normalise_times = False
        self.folder_encode = False

    def _create_IMAP4(self) -> _IMAP4:
        return _IMAP4(self._owner, self.host, self.port)


# -------------------------------------------------------------------- the connection


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Run a :class:`Connection` method inside :meth:`Connection._guard`."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        self = args[0]
        assert isinstance(self, Connection)
        with self._guard():
            return method(*args, **kwargs)

    return wrapper


class Connection:
    """One logged-in IMAP connection. Not thread-safe: use it from one thread.

    Open it with :meth:`open`; after an error that leaves the stream in doubt
    :attr:`broken` is true and the socket is closed: open a new connection.
    """

    def __init__(
        self,
        network: Network,
        account: Account,
        endpoint: Endpoint,
        *,
        token_provider: TokenProvider | None = None,
        limits: Limits | None = None,
        backend: str = "imap",
    ) -> None:
        self.network = network
        self.account = account
        self.endpoint = endpoint
        self.token_provider = token_provider
        self.limits = limits or Limits()
        self.backend = backend
        self.port = endpoint.port or (993 if endpoint.security is Security.SSL else 143)
        self.url = _url(endpoint, self.port)
        self.broken = False
        self.capabilities: frozenset[str] = frozenset()
        self.selected: Selected | None = None
        self._client: _Client | None = None
        self._pending: collections.deque[Pending] = collections.deque()

    def __repr__(self) -> str:
        return f"<Connection {self.url}>"

    # -- life cycle --------------------------------------------------------------

    def open(self) -> None:
        """Connect, secure the connection, log in and enable CONDSTORE/QRESYNC.

        :raises ConsentRequired: clear text without the user's consent.
        :raises ConnectionSecurityError: TLS failed, STARTTLS missing or tampered with,
            a PREAUTH greeting where TLS was required.
        :raises AuthenticationError: the server refused the credentials.
        """
        security = self.endpoint.security
        if security is Security.NONE:
            self.network.require_consent(
                ConsentRequest(
                    kind=ConsentKind.CLEAR_TEXT,
                    protocol="IMAP",
                    host=self.endpoint.host,
                    port=self.port,
                    reason="the account is set up without TLS",
                )
            )
        with self._guard(connecting=True):
            self._client = _Client(self)
            imap = self._imap
            if imap.state == "AUTH" and security is not Security.SSL:
                raise ConnectionSecurityError(
                    f"{self.url} greeted with PREAUTH, skipping TLS: refused", url=self.url
                )
            if security is Security.STARTTLS:
                self._starttls()
            if imap.state == "NONAUTH":
                self._authenticate()
            self._client._cached_capabilities = None  # they may change at login
            self.capabilities = self._read_capabilities()
            self._enable()
            self._drain()

    def close(self) -> None:
        """Log out (best effort) and close the socket. Safe to call more than once."""
        client, self._client = self._client, None
        self.selected = None
        pending, self._pending = self._pending, collections.deque()
        if client is None:
            return
        if not self.broken and not pending:  # LOGOUT would read their answers first
            with contextlib.suppress(Exception):
                client._imap._simple_command("LOGOUT")
        with contextlib.suppress(Exception):
            client.shutdown()

    def drop(self) -> None:
        """Close the socket at once, without a goodbye, and mark the connection broken."""
        self.broken = True
        client, self._client = self._client, None
        self.selected = None
        self._pending.clear()
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    @property
    def client(self) -> _Client:
        if self._client is None:
            raise ConnectionError(f"the connection to {self.url} is closed", url=self.url)
        return self._client

    @property
    def _imap(self) -> _IMAP4:
        imap = self.client._imap
        assert isinstance(imap, _IMAP4)
        return imap

    def has(self, capability: str) -> bool:
        """Whether the server announced ``capability`` (after login)."""
        return capability.upper() in self.capabilities

    @property
    def condstore(self) -> bool:
        """Whether mod-sequences are available (CONDSTORE, implied by QRESYNC)."""
        return self.has("CONDSTORE") or self.has("QRESYNC")

    @property
    def qresync(self) -> bool:
        """Whether QRESYNC is available and enabled."""
        return self.has("QRESYNC") and self.has("ENABLE")

    # -- errors ------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, *, connecting: bool = False, settle: bool = True) -> Iterator[None]:
        """Translate every foreign exception into the library's own, at this one place.

        An error that leaves the stream in doubt (a malformed response, a lost link, a
        security failure, imaplib's READ-ONLY confusion) drops the connection; a refused
        command (NO) does not. With ``settle``, the answers of commands sent ahead
        (:meth:`send_uid_fetch`) are read first, so that they cannot mix with the
        command about to be sent.
        """
        try:
            if settle:
                while self._pending:
                    self._read_pending()
            yield
        except OpenProtocolsError as exc:
            if isinstance(exc, BackendError):
                exc.url = exc.url or self.url
                exc.backend = exc.backend or self.backend
            if connecting or isinstance(exc, _DROPPING):
                self.drop()
            raise
        except Exception as exc:
            error = self._translate(exc, connecting=connecting)
            if connecting or isinstance(error, _DROPPING):
                self.drop()
            raise error from exc
        finally:
            self._drain()

    def _translate(self, exc: Exception, *, connecting: bool) -> BackendError:
        where = {"backend": self.backend, "url": self.url}
        if isinstance(exc, imaplib.IMAP4.abort) and ("EOF" in str(exc) or "socket" in str(exc)):
            return ConnectionError(f"{self.url} closed the connection", **where)
        if connecting and type(exc) is imaplib.IMAP4.error:
            return ProtocolError(f"{self.url} broke the IMAP greeting or login", **where)
        for kind, error, text in _TRANSLATIONS:
            if isinstance(exc, kind):
                return error(text.format(url=self.url, exc=exc), **where)
        # imapclient's parser raises TypeError, IndexError, ValueError... on garbage.
        return ProtocolError(
            f"{self.url} sent a response that could not be read ({type(exc).__name__})", **where
        )

    def _failed(self, what: str, typ: str, data: Sequence[Any]) -> BackendError:
        """The error for a tagged NO/BAD, by its response code; never echoes the text."""
        where = {"backend": self.backend, "url": self.url}
        text = data[0] if data and isinstance(data[0], bytes) else b""
        match = _RESPONSE_CODE.match(text)
        code = match[1].decode("ascii") if match else ""
        if code in _CODES:
            error, reason = _CODES[code]
            return error(f"{what}: {reason}", **where)
        if typ == "BAD":
            return ProtocolError(f"{what}: the server called the command bad", **where)
        suffix = f" ({code})" if code else ""
        return ServerError(f"{what}: refused{suffix}", status=code or typ, **where)

    def _drain(self) -> None:
        """Forget untagged data no command asked for (VANISHED, EXPUNGE, READ-ONLY...)."""
        imap = self._client._imap if self._client is not None else None
        if imap is not None:
            imap.untagged_responses.clear()

    # -- opening ---------------------------------------------------------------------

    def _starttls(self) -> None:
        imap = self._imap
        if "STARTTLS" not in imap.capabilities:
            raise ConnectionSecurityError(
                f"{self.url} does not offer STARTTLS; refusing to continue in clear text",
                url=self.url,
            )
        context = _StartTLSContext(self.network.ssl_context(), imap)
        try:
            imap.starttls(ssl_context=cast(ssl.SSLContext, context))  # checks, then wraps
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            raise ConnectionSecurityError(f"{self.url} refused STARTTLS", url=self.url) from None
        # imaplib re-read the capabilities over TLS; imapclient must not use its cache.
        self.client._starttls_done = True
        self.client._cached_capabilities = None

    def _read_capabilities(self) -> frozenset[str]:
        return frozenset(_text(c).upper() for c in self.client.capabilities())

    def _authenticate(self) -> None:
        endpoint = self.endpoint
        client = self.client
        caps = {_text(c).upper() for c in self._imap.capabilities}
        if endpoint.auth is AuthMechanism.NONE:
            return
        username = endpoint.username or self.account.email
        if endpoint.auth is AuthMechanism.OAUTH2:
            if self.token_provider is None:
                raise ConfigurationError(
                    f"{self.url} uses OAuth2 but the backend has no token provider"
                )
            token = self.token_provider(self.account, endpoint)
            _check_credential(username, token)
            if "AUTH=OAUTHBEARER" in caps:
                client.oauthbearer_login(username, token)
            elif "AUTH=XOAUTH2" in caps:
                client.oauth2_login(username, token)
            else:
                raise CapabilityError(
                    f"{self.url} offers neither OAUTHBEARER nor XOAUTH2",
                    capability="AUTH=OAUTHBEARER",
                )
            return
        password = endpoint.password.reveal() if endpoint.password is not None else ""
        _check_credential(username, password)
        if "AUTH=PLAIN" in caps:
            client.plain_login(username, password)
        elif "LOGINDISABLED" in caps:
            raise CapabilityError(
                f"{self.url} offers no password login here", capability="AUTH=PLAIN"
            )
        else:
            client.login(username, password)

    def _enable(self) -> None:
        if not self.has("ENABLE"):
            return
        if self.has("QRESYNC"):
            self.client.enable("QRESYNC", "CONDSTORE")
        elif self.has("CONDSTORE"):
            self.client.enable("CONDSTORE")

    # -- commands ----------------------------------------------------------------------

    def _run(
        self, what: str, command: bytes, args: Sequence[bytes], *, uid: bool = False
    ) -> tuple[str, list[Any]]:
        """Send a raw command; return the tagged status and data. NO/BAD raise."""
        typ, data = self.client._raw_command(command, list(args), uid=uid)
        if typ != "OK":
            raise self._failed(what, typ, data)
        return typ, data

    def _take(self, name: str) -> list[Any]:
        """Pop the untagged responses called ``name``."""
        found = self._imap.untagged_responses.pop(name, [])
        return [item for item in found if item is not None]

    @_guarded
    def noop(self) -> None:
        """NOOP: keep the connection alive and check it works."""
        self._run("NOOP", b"NOOP", [])

    @_guarded
    def noop_changes(self) -> bool:
        """NOOP; whether the server reported a change of the selected mailbox with it
        (new or expunged messages, changed flags)."""
        self._run("NOOP", b"NOOP", [])
        pending = self._imap.untagged_responses
        return any(pending.get(key) for key in ("EXISTS", "EXPUNGE", "FETCH", "VANISHED"))

    @_guarded
    def namespaces(self) -> tuple[Namespace, ...]:
        """The personal namespaces (RFC 2342); ``("", None)`` without NAMESPACE."""
        if not self.has("NAMESPACE"):
            return (Namespace("", None),)
        personal = self.client.namespace().personal or ()
        found = tuple(
            Namespace(_text(prefix), _text(delim) if delim else None) for prefix, delim in personal
        )
        return found or (Namespace("", None),)

    @_guarded
    def list_mailboxes(self, pattern: str = "*", reference: str = "") -> list[ListedFolder]:
        """LIST: every mailbox matching ``pattern`` under ``reference``."""
        self._run("LIST", b"LIST", [_quoted(reference), _quoted(pattern)])
        listed: list[ListedFolder] = []
        for flags, delim, raw_name in _triplets(parse_response(self._take("LIST"))):
            name = str(raw_name) if isinstance(raw_name, int) else raw_name
            attributes = frozenset(_canonical_attribute(_text(f)) for f in flags)
            delimiter = _text(delim) if delim else None
            listed.append(ListedFolder(_text(name), delimiter, attributes))
        return listed

    @_guarded
    def create(self, name: str) -> None:
        """CREATE a mailbox."""
        self.selected = None if self.selected and self.selected.name == name else self.selected
        self._run(f"creating {name!r}", b"CREATE", [_quoted(name)])

    @_guarded
    def rename(self, old: str, new: str) -> None:
        """RENAME a mailbox."""
        self._run(f"renaming {old!r}", b"RENAME", [_quoted(old), _quoted(new)])
        self.selected = None

    @_guarded
    def delete(self, name: str) -> None:
        """DELETE a mailbox (unselecting it first, as some servers require)."""
        if self.selected is not None and self.selected.name == name:
            self._unselect()
        self._run(f"deleting {name!r}", b"DELETE", [_quoted(name)])

    @_guarded
    def subscribe(self, name: str, subscribed: bool = True) -> None:
        """SUBSCRIBE or UNSUBSCRIBE a mailbox."""
        command = b"SUBSCRIBE" if subscribed else b"UNSUBSCRIBE"
        self._run(f"subscribing {name!r}", command, [_quoted(name)])

    def _unselect(self) -> None:
        if self.has("UNSELECT"):
            self._run("UNSELECT", b"UNSELECT", [])
            self._imap.state = "AUTH"
        else:  # CLOSE would expunge: select another mailbox read-only instead
            self._run("EXAMINE", b"EXAMINE", [_quoted("INBOX")])
            self._imap.is_readonly = True
        self.selected = None

    @_guarded
    def select(self, name: str, *, qresync: tuple[int, int, str | None] | None = None) -> Selected:
        """SELECT a mailbox (read-write if the server allows), with QRESYNC when given
        ``(uidvalidity, modseq, known uids)``; the result also has the VANISHED and FETCH
        data the server sent for it."""
        imap = self._imap
        imap.untagged_responses.clear()
        self.selected = None
        args = [_quoted(name)]
        if qresync is not None and self.qresync:
            validity, modseq, known = qresync
            extra = f" {known}" if known else ""
            args.append(f"(QRESYNC ({validity} {modseq}{extra}))".encode("ascii"))
        elif self.condstore and not self.has("ENABLE"):
            args.append(b"(CONDSTORE)")
        typ, data = self.client._raw_command(b"SELECT", args, uid=False)
        if typ != "OK":
            imap.state = "AUTH"
            error = self._failed(f"selecting {name!r}", typ, data)
            if not isinstance(error, NotFoundError):  # not every server sends NONEXISTENT
                self._run("LIST", b"LIST", [_quoted(""), _quoted(name)])
                if not self._take("LIST"):
                    error = NotFoundError(f"selecting {name!r}: no such mailbox")
            raise error
        imap.state = "SELECTED"
        codes = self._codes(data)
        read_only = "READ-ONLY" in codes
        imap.is_readonly = read_only  # imaplib would raise on the next command otherwise
        selected = Selected(
            name=name,
            uidvalidity=self._number("UIDVALIDITY", codes),
            uidnext=self._number("UIDNEXT", codes, default=0),
            exists=self._last_int("EXISTS"),
            highestmodseq=(
                None
                if "NOMODSEQ" in codes or not self.condstore
                else self._number("HIGHESTMODSEQ", codes, default=0) or None
            ),
            read_only=read_only,
            vanished=frozenset(self._vanished()),
            changed=self._fetched(),
        )
        self.selected = selected
        return selected

    def _codes(self, tagged: Sequence[Any]) -> dict[str, bytes]:
        """Response codes of this command: imaplib files ``[CODE data]`` of untagged OK
        lines under their code; the tagged line's own code is in ``tagged``."""
        codes: dict[str, bytes] = {}
        for key in (
            "UIDVALIDITY",
            "UIDNEXT",
            "HIGHESTMODSEQ",
            "NOMODSEQ",
            "READ-ONLY",
            "READ-WRITE",
        ):
            values = self._take(key)
            if values:
                codes[key] = values[-1] if isinstance(values[-1], bytes) else b""
        text = tagged[0] if tagged and isinstance(tagged[0], bytes) else b""
        match = _RESPONSE_CODE.match(text)
        if match:
            codes[match[1].decode("ascii")] = match[2] or b""
        return codes

    def _number(self, key: str, codes: dict[str, bytes], *, default: int | None = None) -> int:
        value = codes.get(key)
        try:
            return int(value) if value is not None else _need(default, key)
        except ValueError:
            raise ProtocolError(f"{self.url} sent a bad {key}", url=self.url) from None

    def _last_int(self, key: str) -> int:
        values = self._take(key)
        try:
            return int(values[-1]) if values else 0
        except (TypeError, ValueError):
            raise ProtocolError(f"{self.url} sent a bad {key}", url=self.url) from None

    def _vanished(self) -> set[int]:
        found: set[int] = set()
        for line in self._take("VANISHED"):
            if not isinstance(line, bytes):
                raise ProtocolError(f"{self.url} sent a malformed VANISHED", url=self.url)
            text = line.decode("ascii", "replace").strip()
            if text.upper().startswith("(EARLIER)"):
                text = text[len("(EARLIER)") :].strip()
            try:
                found |= parse_uid_set(text)
            except ValueError:
                raise ProtocolError(f"{self.url} sent a malformed VANISHED", url=self.url) from None
        return found

    def _fetched(self) -> dict[int, FetchData]:
        """The FETCH responses collected so far, by UID (responses without a UID are
        unsolicited ones about sequence numbers and are left out)."""
        data = self._take("FETCH")
        if not data:
            return {}
        parsed = parse_fetch(data)
        if parsed is None:  # outside the fast parser's grammar: imapclient's reading
            parsed = parse_fetch_response(data, normalise_times=False, uid_is_key=False)
        found: dict[int, FetchData] = {}
        for values in parsed.values():
            uid = values.get(b"UID")
            if isinstance(uid, int):
                found.setdefault(uid, {}).update(values)
        return found

    def require_selected(self, name: str) -> Selected:
        """The selection of ``name``, selecting it when another mailbox (or none) is."""
        if self.selected is not None and self.selected.name == name:
            return self.selected
        return self.select(name)

    @_guarded
    def uid_fetch(
        self, uids: str, items: str, *, modifiers: str | None = None
    ) -> dict[int, FetchData]:
        """UID FETCH over a sequence set (ranges allowed, unlike imapclient's ``fetch``)."""
        if not uids:
            return {}
        args = [uids.encode("ascii"), f"({items})".encode("ascii")]
        if modifiers:
            args.append(f"({modifiers})".encode("ascii"))
        self._run("UID FETCH", b"FETCH", args, uid=True)
        return self._wanted(uids, self._fetched())

    @staticmethod
    def _wanted(uids: str, fetched: dict[int, FetchData]) -> dict[int, FetchData]:
        """The messages a UID FETCH of ``uids`` asked for, without the unsolicited FETCH
        responses (another client's flag change, with its UID under QRESYNC) that came
        with them; with ``*`` in the set, the caller filters."""
        wanted = uid_set_contains(uids)
        if wanted is None:
            return fetched
        return {uid: data for uid, data in fetched.items() if wanted(uid)}

    def send_uid_fetch(self, uids: str, items: str) -> Pending:
        """Send a ``UID FETCH`` of ``uids`` (a set without ``*``) and return without
        reading its answer (pipelining): the server answers it while the caller works,
        and :meth:`read_uid_fetch` reads it.

        A server may run pipelined commands at once and interleave their answers
        (Dovecot does): the FETCH responses read go to the command whose set holds the
        UID. Any other command on the connection reads the answers still on their way
        before it is sent (each is kept for its reader), so its responses never mix with
        theirs.
        """
        contains = uid_set_contains(uids)
        if contains is None:
            raise ValueError("a pipelined UID FETCH needs a sequence set without '*'")
        with self._guard(settle=False):
            imap = self._imap
            tag = imap._new_tag()
            command = b"%s UID FETCH %s (%s)\r\n" % (tag, uids.encode(), items.encode())
            imap.send(command)
            pending = Pending(tag, contains)
            self._pending.append(pending)
            return pending

    def read_uid_fetch(self, pending: Pending) -> dict[int, FetchData]:
        """The answer of a :meth:`send_uid_fetch` (reading those sent before it first),
        as :meth:`uid_fetch` returns it.

        :raises ConnectionError: the connection was lost (or closed) before the answer.
        """
        with self._guard(settle=False):
            while not pending.done:
                if pending not in self._pending:
                    raise ConnectionError(
                        f"the connection to {self.url} ended before a FETCH answer", url=self.url
                    )
                self._read_pending()
            if pending.error is not None:
                raise pending.error
            received, pending.received = pending.received, {}
            return received

    def forget(self, pending: Pending) -> None:
        """Nobody will read ``pending``: its answer is dropped as it is read (by the
        next command on the connection)."""
        pending.abandoned = True
        pending.received = {}

    def _read_pending(self) -> None:
        """Read up to the end of the oldest command sent ahead; leave the connection as
        a command that ran to its end leaves it (other untagged data drained)."""
        pending = self._pending[0]
        imap = self._imap
        imap._responses = 0
        imap._check_bye()
        typ, data = imap._get_tagged_response(pending.tag)
        imap._check_bye()
        self._pending.popleft()
        pending.done = True
        for uid, values in self._fetched().items():
            for owner in (pending, *self._pending):
                if owner.contains(uid):
                    if not owner.abandoned:
                        owner.received.setdefault(uid, {}).update(values)
                    break
        self._drain()
        if typ != "OK":
            pending.error = self._failed("UID FETCH", typ, data)
            pending.received = {}

    @_guarded
    def fetch_numbers(self, first: int, last: int, items: str) -> dict[int, FetchData] | None:
        """FETCH (not UID FETCH) of the messages numbered ``first`` to ``last``, by UID
        (``items`` must name ``UID``); ``None`` if the server reported an expunge with
        the answer, which renumbers the messages after it.

        A server may not report an expunge while it answers a FETCH, nor between
        commands (RFC 3501 section 7.4.1), so a run of these commands reads one stable
        numbering: a listing in chunks of bounded size, where a UID range cannot bound
        the count. Expunges reported before are forgotten here.
        """
        pending = self._imap.untagged_responses
        pending.pop("EXPUNGE", None)
        pending.pop("VANISHED", None)
        numbers = f"{first}:{last}".encode("ascii")
        self._run("FETCH", b"FETCH", [numbers, f"({items})".encode("ascii")])
        fetched = self._fetched()
        if self._take("EXPUNGE") or self._take("VANISHED"):
            return None
        # not the unsolicited FETCH of another message (with its UID under QRESYNC)
        return {uid: data for uid, data in fetched.items() if first <= data[b"SEQ"] <= last}

    @_guarded
    def uid_search(self, criteria: str) -> list[int]:
        """UID SEARCH with ASCII ``criteria``; the UIDs found."""
        self._run("UID SEARCH", b"SEARCH", [criteria.encode("ascii")], uid=True)
        found: list[int] = []
        for line in self._take("SEARCH"):
            text = line.decode("ascii", "replace") if isinstance(line, bytes) else ""
            for word in text.split():
                if word.startswith("("):
                    break  # (MODSEQ n) at the end
                try:
                    found.append(int(word))
                except ValueError:
                    raise ProtocolError(
                        f"{self.url} sent a malformed SEARCH", url=self.url
                    ) from None
        return found

    @_guarded
    def uid_store(
        self,
        uids: str,
        operation: str,
        flags: Iterable[str],
        *,
        unchanged_since: int | None = None,
    ) -> tuple[dict[int, FetchData], set[int]]:
        """UID STORE ``operation`` (``+FLAGS``, ``-FLAGS``, ``FLAGS``) of ``flags``.

        With ``unchanged_since`` (CONDSTORE) messages changed after that mod-sequence are
        left alone and returned as the second value (the ``[MODIFIED ...]`` set).
        Returns the FETCH data the server sent (new flags and mod-sequences).
        """
        args = [uids.encode("ascii")]
        if unchanged_since is not None:
            args.append(f"(UNCHANGEDSINCE {unchanged_since})".encode("ascii"))
        args += [operation.encode("ascii"), flag_list(flags)]
        _, data = self._run("UID STORE", b"STORE", args, uid=True)
        modified: set[int] = set()
        codes = self._codes(data)
        if "MODIFIED" in codes:
            try:
                modified = parse_uid_set(codes["MODIFIED"].decode("ascii"))
            except ValueError:
                raise ProtocolError(f"{self.url} sent a malformed MODIFIED", url=self.url) from None
        return self._fetched(), modified

    @_guarded
    def append(
        self, mailbox: str, message: bytes, flags: Iterable[str], when: datetime | None
    ) -> tuple[int, int] | None:
        """APPEND a message; ``(uidvalidity, uid)`` from UIDPLUS's APPENDUID, if sent."""
        from imapclient.datetime_util import datetime_to_INTERNALDATE

        args = [_quoted(mailbox), flag_list(flags)]
        if when is not None:
            args.append(b'"' + datetime_to_INTERNALDATE(when).encode("ascii") + b'"')
        args.append(_literal(message))
        _, data = self._run(f"appending to {mailbox!r}", b"APPEND", args, uid=False)
        text = data[0] if data and isinstance(data[0], bytes) else b""
        match = _APPENDUID.search(text)
        return (int(match[1]), int(match[2])) if match else None

    @_guarded
    def uid_copy(self, uids: str, mailbox: str, *, move: bool) -> tuple[int, dict[int, int]]:
        """UID MOVE (RFC 6851) or UID COPY: the target's UIDVALIDITY and the old-to-new UID
        map from UIDPLUS's COPYUID, or ``(0, {})`` when the server did not say."""
        command = b"MOVE" if move else b"COPY"
        args = [uids.encode("ascii"), _quoted(mailbox)]
        self._run(f"copying to {mailbox!r}", command, args, uid=True)
        # imaplib files the [COPYUID v old new] code (tagged or untagged) under COPYUID.
        for item in reversed(self._take("COPYUID")):
            parts = item.decode("ascii", "replace").split() if isinstance(item, bytes) else []
            if len(parts) == 3 and parts[0].isdigit():
                try:
                    old = sorted(parse_uid_set(parts[1]))
                    new = sorted(parse_uid_set(parts[2]))
                except ValueError:
                    break
                return int(parts[0]), dict(zip(old, new, strict=False))
        return 0, {}

    @_guarded
    def uid_expunge(self, uids: str) -> None:
        """UID EXPUNGE (UIDPLUS): expunge exactly these messages (if ``\\Deleted``)."""
        self._run("UID EXPUNGE", b"EXPUNGE", [uids.encode("ascii")], uid=True)

    @_guarded
    def expunge(self) -> None:
        """EXPUNGE every ``\\Deleted`` message of the selected mailbox."""
        self._run("EXPUNGE", b"EXPUNGE", [])

    # -- IDLE ----------------------------------------------------------------------------

    @_guarded
    def idle_start(self) -> None:
        """Enter IDLE (RFC 2177) on the selected mailbox."""
        self.client.idle()

    @_guarded
    def idle_wait(self, timeout: float) -> list[Any]:
        """Wait up to ``timeout`` seconds for IDLE responses; return them (maybe none)."""
        responses: list[Any] = self.client.idle_check(timeout=timeout)
        return responses

    @_guarded
    def idle_done(self) -> list[Any]:
        """Leave IDLE; return the responses that came meanwhile."""
        _, responses = self.client.idle_done()
        return list(responses)


_TRANSLATIONS: tuple[tuple[type[BaseException], type[BackendError], str], ...] = (
    (_Tampering, ConnectionSecurityError, "{url} sent data before the TLS handshake"),
    (_TooMuch, ProtocolError, "{url} went over a limit: {exc}"),
    (ssl.SSLCertVerificationError, ConnectionSecurityError, "the certificate of {url}: {exc}"),
    (ssl.SSLError, ConnectionSecurityError, "TLS with {url} failed: {exc}"),
    (socket.timeout, TimeoutError, "{url} did not answer in time"),
    (OSError, ConnectionError, "the connection to {url} failed: {exc}"),
    (LoginError, AuthenticationError, "{url} refused the login"),
    (imaplib.IMAP4.readonly, ReadOnlyError, "a mailbox on {url} became read-only"),
    (imaplib.IMAP4.abort, ProtocolError, "{url} sent a malformed response"),
    (IMAPClientProtocolError, ProtocolError, "{url} sent a malformed response"),
    (imaplib.IMAP4.error, ServerError, "{url} refused a command"),
)
"""Foreign exceptions and what they become, the first match winning. The server's own
text is never copied: it may be an attacker's (a plain-text ``[ALERT]``)."""

_CODES: dict[str, tuple[type[BackendError], str]] = {
    "NONEXISTENT": (NotFoundError, "no such mailbox"),
    "TRYCREATE": (NotFoundError, "no such mailbox"),
    "ALREADYEXISTS": (AlreadyExistsError, "it exists already"),
    "NOPERM": (ReadOnlyError, "not permitted"),
    "READ-ONLY": (ReadOnlyError, "not permitted"),
    "AUTHENTICATIONFAILED": (AuthenticationError, "refused"),
    "AUTHORIZATIONFAILED": (AuthenticationError, "refused"),
    "LIMIT": (ServerError, "the server failed (LIMIT)"),
    "OVERQUOTA": (ServerError, "the server failed (OVERQUOTA)"),
    "UNAVAILABLE": (ServerError, "the server failed (UNAVAILABLE)"),
    "INUSE": (ServerError, "the server failed (INUSE)"),
    "SERVERBUG": (ServerError, "the server failed (SERVERBUG)"),
}
"""IMAP response codes (RFC 5530) of a failed command and the error each gives."""

_DROPPING = (ConnectionError, ConnectionSecurityError, ProtocolError, ReadOnlyError)
"""Errors after which the connection cannot be trusted: it is dropped."""


def _need(value: int | None, key: str) -> int:
    if value is None:
        raise ValueError(key)
    return value


def _triplets(items: Sequence[Any]) -> Iterator[tuple[Any, Any, Any]]:
    if len(items) % 3:
        raise IMAPClientProtocolError("a LIST response of the wrong length")
    iterator = iter(items)
    return zip(iterator, iterator, iterator, strict=False)


_ATTRIBUTES = {
    name.casefold(): name
    for name in (
        "\\Noselect",
        "\\NonExistent",
        "\\Noinferiors",
        "\\HasChildren",
        "\\HasNoChildren",
        "\\Marked",
        "\\Unmarked",
        "\\Subscribed",
        "\\Remote",
        "\\All",
        "\\Archive",
        "\\Drafts",
        "\\Flagged",
        "\\Junk",
        "\\Sent",
        "\\Trash",
        "\\Important",
    )
}


def _canonical_attribute(name: str) -> str:
    return _ATTRIBUTES.get(name.casefold(), name)


def _check_credential(*values: str) -> None:
    if any(char in value for value in values for char in "\r\n\0"):
        raise ConfigurationError("a user name, password or token holds CR, LF or NUL")


def _url(endpoint: Endpoint, port: int) -> str:
    scheme = "imaps" if endpoint.security is Security.SSL else "imap"
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"{scheme}://{host}:{port}"


def decode_transfer(data: bytes, encoding: str | None) -> bytes:
    """A MIME part's bytes decoded from its Content-Transfer-Encoding (base64, QP)."""
    import quopri

    kind = (encoding or "").lower()
    if kind == "base64":
        try:
            return base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError):
            return data
    if kind == "quoted-printable":
        return quopri.decodestring(data)
    return data
