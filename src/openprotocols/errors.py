"""Every error openprotocols raises, in one hierarchy named after what the caller can do.

Catch by meaning, not by library: a wrong password is an :class:`AuthenticationError`
whether it came from IMAP, SMTP or CalDAV, and no exception of imapclient, niquests, lxml,
icalendar or dnspython ever escapes a public call. Each backend translates foreign
exceptions at exactly one boundary and chains the original (``raise ... from exc``)::

    OpenProtocolsError
    ├── ConfigurationError            the call or the account settings are wrong: fix them
    │   └── PluginError               a plugin failed to load or registered something invalid
    ├── ConsentRequired               clear text or a foreign host needs the user's consent
    ├── InvalidItemError (ValueError) a model value breaks an invariant of the model
    ├── ParseError (ValueError)       malformed input; carries the position where known
    ├── DiscoveryError                no settings could be found for an address
    ├── BackendError                  something went wrong talking to a server
    │   ├── ConnectionError           the server could not be reached, or the link dropped
    │   │   └── TimeoutError          no answer in time
    │   ├── ConnectionSecurityError   TLS failed: bad certificate, name mismatch, downgrade
    │   ├── AuthenticationError       the server refused the credentials
    │   ├── CapabilityError           the server or backend cannot do this (nothing was sent)
    │   ├── ReadOnlyError             the collection or folder is read-only (nothing was sent)
    │   ├── NotFoundError             the folder or item does not exist (any more)
    │   ├── ConflictError             a conditional write failed: the version moved under it
    │   │   └── AlreadyExistsError    a create found the item or folder already there
    │   ├── ProtocolError             the server broke the protocol; do not retry blindly
    │   └── ServerError               the server failed; retrying later may help
    │       └── RateLimitedError      the server asked to slow down (``retry_after``)
    └── SyncError                     the sync engine could not finish a binding
        ├── SyncStateError            the stored sync state is unusable; a full resync is needed
        ├── UnresolvedConflictError   a conflict waits for a decision (policy "ask")
        └── MassChangeError           a sync would delete much of one side: confirm it first

Context travels as attributes: ``url`` and ``backend`` on every :class:`BackendError`,
``current_version`` on :class:`ConflictError`, ``line``/``column``/``offset`` on
:class:`ParseError`. Messages never contain credentials.

Three names mirror builtins (``ConnectionError``, ``TimeoutError``): ours also derive from
the builtin, so ``except TimeoutError`` catches a timeout from openprotocols as well.
"""

from __future__ import annotations

import builtins

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "BackendError",
    "CapabilityError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionError",
    "ConnectionSecurityError",
    "ConsentRequired",
    "DiscoveryError",
    "InvalidItemError",
    "MassChangeError",
    "NotFoundError",
    "OpenProtocolsError",
    "ParseError",
    "PluginError",
    "ProtocolError",
    "RateLimitedError",
    "ReadOnlyError",
    "ServerError",
    "SyncError",
    "SyncStateError",
    "TimeoutError",
    "UnresolvedConflictError",
]


class OpenProtocolsError(Exception):
    """The root of every error openprotocols raises on purpose."""


class ConfigurationError(OpenProtocolsError):
    """The call, the account settings or the environment are wrong; retrying will not help."""


class PluginError(ConfigurationError):
    """A plugin could not be loaded, or registered something invalid (e.g. a duplicate name).

    :ivar plugin: the plugin's name (its entry point name for installed plugins).
    """

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class ConsentRequired(OpenProtocolsError):
    """An action needs the user's explicit consent and none was given.

    Raised when a connection would go out in clear text or to a host outside the user's
    domain and the consent callback is missing or said no.

    :ivar reason: what needs consent (a :class:`openprotocols.network.ConsentRequest`).
    """

    def __init__(self, message: str, *, reason: object = None) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidItemError(OpenProtocolsError, ValueError):
    """A model value breaks an invariant (e.g. an appointment that ends before it starts)."""


class ParseError(OpenProtocolsError, ValueError):
    """Input could not be parsed.

    :ivar line: 1-based line number where the problem is, if known.
    :ivar column: 1-based column, if known.
    :ivar offset: 0-based byte offset, if known.
    :ivar format: what was being parsed (``"iCalendar"``, ``"vCard"``, ``"Autodiscover"``...).
    """

    def __init__(
        self,
        message: str,
        *,
        format: str | None = None,
        line: int | None = None,
        column: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.format = format
        self.line = line
        self.column = column
        self.offset = offset

    def __str__(self) -> str:
        where = [
            f"{name} {value}"
            for name, value in (
                ("line", self.line),
                ("column", self.column),
                ("offset", self.offset),
            )
            if value is not None
        ]
        prefix = f"{self.format}: " if self.format else ""
        suffix = f" ({', '.join(where)})" if where else ""
        return f"{prefix}{super().__str__()}{suffix}"


class DiscoveryError(OpenProtocolsError):
    """No usable settings were found for an address.

    :ivar trace: the attempts that were made, if the caller needs to show them.
    """

    def __init__(self, message: str, *, trace: object = None) -> None:
        super().__init__(message)
        self.trace = trace


class BackendError(OpenProtocolsError):
    """Something went wrong while talking to a server.

    :ivar backend: the backend's registered name (``"imap"``, ``"caldav"``...), if known.
    :ivar url: the server, collection or item concerned, if known (never with credentials).
    """

    def __init__(self, message: str, *, backend: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.backend = backend
        self.url = url


class ConnectionError(BackendError, builtins.ConnectionError):
    """The server could not be reached, or the connection was lost."""


class TimeoutError(ConnectionError, builtins.TimeoutError):
    """The server did not answer in time."""


class ConnectionSecurityError(BackendError):
    """TLS could not be established safely: an untrusted certificate, a name mismatch, a
    missing STARTTLS or a downgrade attempt. Never retried without TLS automatically."""


class AuthenticationError(BackendError):
    """The server refused the credentials (or the token); ask the user again."""


class CapabilityError(BackendError):
    """The server or backend cannot do what was asked. Raised before anything is sent.

    :ivar capability: the missing capability's name.
    """

    def __init__(
        self,
        message: str,
        *,
        capability: str | None = None,
        backend: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, url=url)
        self.capability = capability


class ReadOnlyError(BackendError):
    """The collection or folder is read-only. Raised before anything is sent."""


class NotFoundError(BackendError):
    """The folder or item does not exist (or no longer exists).

    :ivar id: the missing item's id within its collection, if an item is missing.
    """

    def __init__(
        self,
        message: str,
        *,
        id: str | None = None,
        backend: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, url=url)
        self.id = id


class ConflictError(BackendError):
    """A conditional write failed because the item changed (or appeared) under it.

    :ivar id: the item's id within its collection.
    :ivar current_version: the version the server holds now, if it said so (``None`` when
        the item was deleted meanwhile or the server did not tell).
    """

    def __init__(
        self,
        message: str,
        *,
        id: str | None = None,
        current_version: str | None = None,
        backend: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, url=url)
        self.id = id
        self.current_version = current_version


class AlreadyExistsError(ConflictError):
    """A create found an item or folder with the same id already there."""


class ProtocolError(BackendError):
    """The server sent something the protocol does not allow (a malformed or hostile reply)."""


class ServerError(BackendError):
    """The server failed to do what it should; retrying later may help.

    :ivar status: the protocol status (HTTP status code, IMAP/SMTP response), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | str | None = None,
        backend: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, url=url)
        self.status = status


class RateLimitedError(ServerError):
    """The server asked the client to slow down.

    :ivar retry_after: seconds the server asked to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | str | None = None,
        backend: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, status=status, backend=backend, url=url)
        self.retry_after = retry_after


class SyncError(OpenProtocolsError):
    """The sync engine could not finish a binding; the report tells which items failed."""


class SyncStateError(SyncError):
    """The stored sync state cannot be used (corrupt, or from another collection);
    a full resync re-associates items without losing any."""


class UnresolvedConflictError(SyncError):
    """A conflict is waiting for the user's decision (conflict policy ``ask``)."""


class MassChangeError(SyncError):
    """A sync would delete a large part of one side, or found a side suddenly empty, and
    stopped before writing anything; sync again with the guard confirmed if it is meant.

    :ivar side: ``"local"`` or ``"remote"``: the side that would lose items.
    :ivar deletions: how many items would be deleted there.
    :ivar total: how many items that side held at the last sync.
    """

    def __init__(self, message: str, *, side: str, deletions: int, total: int) -> None:
        super().__init__(message)
        self.side = side
        self.deletions = deletions
        self.total = total
