"""What every command shares: the configuration, the consoles, passwords, consent, the
network, connected backends and the store, for one run of the command.

One :class:`App` is made per run (by the ``openprotocols`` group) and closed at its end,
which closes every backend it connected and the store. Commands ask it for what they
need; it builds each thing on first use, so ``openprotocols account list`` touches
neither the network nor the store.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click
from rich.console import Console

from openprotocols.errors import ConfigurationError
from openprotocols.model import Account, AuthMechanism

from ._config import Config
from ._secrets import Passwords, Redactor

if TYPE_CHECKING:
    from openprotocols.backends.base import Backend
    from openprotocols.network import ConsentRequest, Network
    from openprotocols.store import Binding, LocalStore
    from openprotocols.sync import Progress

__all__ = ["BACKEND_FOR_KIND", "App"]

BACKEND_FOR_KIND = {"mail": "imap", "calendar": "caldav", "tasks": "caldav", "contacts": "carddav"}
"""The backend that holds each folder kind."""

_WIDE = 200  # columns for output that is not a terminal: tables are not wrapped in pipes


class App:
    """The state of one run of the command (see the module documentation)."""

    def __init__(
        self,
        config_path: Path,
        *,
        account: str | None = None,
        quiet: bool = False,
        debug: bool = False,
        no_input: bool = False,
    ) -> None:
        self.config_path = config_path
        self.account_option = account
        self.quiet = quiet
        self.debug = debug
        self.no_input = no_input
        self.console = _console(stderr=False)
        self.err = _console(stderr=True)
        self.redactor = Redactor()
        self.passwords = Passwords(self.redactor, self._prompt_password)
        self.remember_consent = False
        """Save the permissions the user gives (``account add`` sets it)."""
        self._config: Config | None = None
        self._network: Network | None = None
        self._store: LocalStore | None = None
        self._backends: dict[tuple[str, str], Backend] = {}
        self._answers: dict[tuple[str, str, int | None], bool] = {}
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()

    def close(self) -> None:
        """Close every backend and the store."""
        self._stack.close()

    # -- output ------------------------------------------------------------------

    def out(self, text: str = "") -> None:
        """Print a line on standard output, as it is (no markup)."""
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def note(self, text: str) -> None:
        """Print a progress note on standard error, unless ``--quiet``."""
        if not self.quiet:
            self.err.print(text, markup=False, highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        """Print a warning on standard error."""
        self.err.print(f"warning: {text}", markup=False, highlight=False, soft_wrap=True)

    @contextlib.contextmanager
    def progress(self) -> Iterator[Callable[[Progress], None] | None]:
        """Progress bars (one per folder) on standard error; ``None`` with ``--quiet``."""
        if self.quiet:
            yield None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from rich.progress import Progress as Bars

        bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.err,
            transient=True,
        )
        tasks: dict[str | None, Any] = {}
        lock = threading.Lock()

        def update(event: Progress) -> None:
            description = f"{event.folder or 'sync'}: {event.phase}"
            with lock:
                if event.folder not in tasks:
                    tasks[event.folder] = bars.add_task(description, total=None)
                bars.update(
                    tasks[event.folder],
                    description=description,
                    completed=event.done,
                    total=event.total or None,
                )

        with bars:
            yield update

    # -- configuration and accounts ---------------------------------------------

    @property
    def config(self) -> Config:
        """The configuration file, read on first use."""
        if self._config is None:
            self._config = Config.load(self.config_path)
        return self._config

    def account_email(self, explicit: str | None = None) -> str:
        """The account a command works on: ``explicit``, else ``--account``, else the
        configuration's default, else the only one.

        :raises ConfigurationError: there is none, or several and none is chosen.
        """
        chosen = explicit or self.account_option or self.config.default_account
        if chosen:
            return chosen
        accounts = self.config.accounts()
        if len(accounts) == 1:
            return accounts[0]
        if not accounts:
            raise ConfigurationError(
                f"no account is configured in {self.config_path}: "
                "add one with `openprotocols account add EMAIL`"
            )
        raise ConfigurationError(
            f"several accounts ({', '.join(accounts)}): choose one with --account"
        )

    def account(self, email: str | None = None) -> Account:
        """The account (see :meth:`account_email`), without passwords."""
        return self.config.account(self.account_email(email))

    def with_passwords(self, account: Account, protocol: str) -> Account:
        """``account`` with the passwords its ``protocol`` backend logs in with."""
        table = self.config.account_table(account.email)
        wanted = {protocol}
        separate = protocol == "smtp" and not account.options.smtp_auth_same_as_incoming
        if protocol == "smtp" and not separate:
            wanted = {"imap"} if any(e.protocol == "imap" for e in account.endpoints) else wanted
        if protocol in ("caldav", "carddav") and not any(
            e.protocol == protocol for e in account.endpoints
        ):
            wanted.add("imap")  # a located DAV server gets the mailbox's credentials
        endpoints = []
        for endpoint in account.endpoints:
            if endpoint.protocol in wanted and endpoint.auth is AuthMechanism.PASSWORD:
                own = separate and endpoint.protocol == "smtp"
                password = self.passwords.get(account.email, endpoint.protocol, table, own=own)
                endpoints.append(attrs.evolve(endpoint, password=password))
            else:
                endpoints.append(endpoint)
        return account.with_endpoints(endpoints)

    def _prompt_password(self, text: str) -> str:
        if self.no_input:
            raise ConfigurationError(
                f"no password ({text}): store one in the "
                "keyring, set a password_command, or run without --no-input"
            )
        try:
            return str(click.prompt(text, hide_input=True, err=True))
        except click.Abort:
            raise ConfigurationError(
                f"no password given ({text}): store one in the keyring or set a "
                "password_command in the configuration"
            ) from None

    # -- consent and the network ---------------------------------------------------

    def consent(self, request: ConsentRequest) -> bool:
        """The consent callback: the configuration's permissions, else a y/N question
        (asked once per host and run; no question with ``--no-input``: no)."""
        if self.config.allowed(request):
            return True
        key = (str(request.kind), request.host, request.port)
        with self._lock:
            if key not in self._answers:
                self._answers[key] = self._ask(request)
                if self._answers[key] and self.remember_consent:
                    self.config.allow(request)
            return self._answers[key]

    def _ask(self, request: ConsentRequest) -> bool:
        if self.no_input:
            return False
        try:
            return bool(click.confirm(f"Allow {request}?", default=False, err=True))
        except click.Abort:  # no one to answer (end of input): no
            return False

    def network(self) -> Network:
        """The network layer of this run, from the configuration."""
        if self._network is None:
            self._network = self.config.network(self.consent)
        return self._network

    def connect(self, backend: str, email: str | None = None) -> Backend:
        """The account's ``backend``, connected and logged in (once per run)."""
        import openprotocols

        account = self.account(email)
        key = (account.email, backend)
        if key not in self._backends:
            full = self.with_passwords(account, backend)
            connected = openprotocols.connect(full, backend, network=self.network())
            self._stack.callback(connected.close)
            self._backends[key] = connected
        return self._backends[key]

    def binding(self, folder: str) -> Binding:
        """The binding of the local ``folder``, with its account's backend connected.

        :raises NotFoundError: the folder does not exist or is not bound.
        """
        store = self.store()
        spec = store.binding_spec(folder)
        return store.binding(folder, self.connect(spec.backend, spec.account))

    # -- the store -------------------------------------------------------------------

    def store(self) -> LocalStore:
        """The local store (``store`` in the configuration, else the default path)."""
        if self._store is None:
            from openprotocols.store import LocalStore

            self._store = LocalStore(self.config.store_path)
            self._stack.callback(self._store.close)
        return self._store


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = _WIDE
    return console
