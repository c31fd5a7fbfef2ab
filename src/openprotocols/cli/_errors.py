"""Exit codes, and the one-line message with a hint that each error a user can cause gets.

The library's errors are named after what the caller can do (:mod:`openprotocols.errors`);
here each class gets an exit code and a hint saying what to do next. The most specific
class wins (a :class:`~openprotocols.errors.TimeoutError` is a connection error).
"""

from __future__ import annotations

import enum

from openprotocols import errors

__all__ = ["ExitCode", "describe"]


class ExitCode(enum.IntEnum):
    """The command's exit status (documented in ``docs/cli.md``)."""

    OK = 0
    ERROR = 1
    """Anything not listed below."""
    USAGE = 2
    """A wrong option or argument (click's own code)."""
    CONFIGURATION = 3
    """Bad input: an address, a setting, a file that cannot be read."""
    DISCOVERY = 4
    """No settings were found for the address."""
    AUTHENTICATION = 5
    """The server refused the user name or password."""
    CONNECTION = 6
    """The server could not be reached, did not answer in time, or a sync found it offline."""
    SECURITY = 7
    """TLS failed: an untrusted or wrong certificate, no STARTTLS."""
    CONSENT = 8
    """Clear text or a host outside the user's domain was needed and not allowed."""
    CONFLICT = 9
    """A write met a newer version, or conflicts wait for a decision."""
    NOT_FOUND = 10
    """No such folder, item, history entry or conflict."""
    SERVER = 11
    """The server failed or broke its protocol."""
    INCOMPLETE = 12
    """A sync stopped (the mass-change guard) or left items unsynced."""


# Most specific first: the first class the error is an instance of decides.
_TABLE: tuple[tuple[type[BaseException], ExitCode, str], ...] = (
    (
        errors.ConsentRequired,
        ExitCode.CONSENT,
        "run the command in a terminal to answer the question, or allow it in the "
        "configuration (network.allow_clear_text / network.allow_hosts)",
    ),
    (
        errors.DiscoveryError,
        ExitCode.DISCOVERY,
        "give the servers yourself: openprotocols account add EMAIL --no-discover "
        "--imap-host HOST ... (see `openprotocols discover EMAIL` for where it looked)",
    ),
    (
        errors.MassChangeError,
        ExitCode.INCOMPLETE,
        "nothing was written; if the deletions are meant, sync again with --confirm",
    ),
    (
        errors.UnresolvedConflictError,
        ExitCode.CONFLICT,
        "see `openprotocols conflicts`, then decide with `openprotocols resolve`",
    ),
    (
        errors.SyncError,
        ExitCode.INCOMPLETE,
        "sync again; `openprotocols sync --verify` checks every item",
    ),
    (
        errors.AuthenticationError,
        ExitCode.AUTHENTICATION,
        "check the user name and password (`openprotocols account show` shows the user "
        "names; passwords come from the keyring, a password_command or the prompt)",
    ),
    (
        errors.ConnectionSecurityError,
        ExitCode.SECURITY,
        "the server's certificate is not trusted or TLS failed; for a private CA set "
        "network.ca_bundle in the configuration (certificates are always checked)",
    ),
    (
        errors.ConnectionError,
        ExitCode.CONNECTION,
        "check the server name and port (`openprotocols account show`) and the network",
    ),
    (
        errors.ConflictError,
        ExitCode.CONFLICT,
        "the item changed meanwhile: sync again, then see `openprotocols conflicts`",
    ),
    (
        errors.NotFoundError,
        ExitCode.NOT_FOUND,
        "`openprotocols folders --remote` lists the server's folders, `openprotocols "
        "history` and `openprotocols conflicts` the entries",
    ),
    (errors.ParseError, ExitCode.CONFIGURATION, "check the file's format"),
    (errors.InvalidItemError, ExitCode.CONFIGURATION, "check the item or message"),
    (
        errors.ConfigurationError,
        ExitCode.CONFIGURATION,
        "check the address and the settings (`openprotocols account show`, docs/cli.md)",
    ),
    (errors.ReadOnlyError, ExitCode.SERVER, "the folder is read-only on the server"),
    (errors.CapabilityError, ExitCode.SERVER, "the server cannot do this"),
    (errors.RateLimitedError, ExitCode.SERVER, "the server asks to slow down: try again later"),
    (errors.ServerError, ExitCode.SERVER, "the server failed: try again later"),
    (errors.BackendError, ExitCode.SERVER, "the server answered something unexpected"),
)


def describe(error: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the hint for ``error``."""
    from openprotocols.backends.smtp import MessageRefusedError, RecipientsRefusedError

    if isinstance(error, RecipientsRefusedError | MessageRefusedError):
        return ExitCode.CONFIGURATION, "check the recipients' addresses and the message"
    for cls, code, hint in _TABLE:
        if isinstance(error, cls):
            return code, hint
    return ExitCode.ERROR, "run again with --debug for the details"
