"""The configuration file of the ``openprotocols`` command (its format: ``docs/cli.md``).

One TOML file, read with :mod:`tomllib` and written with :mod:`._toml`: the accounts (each
an :class:`~openprotocols.model.Account` with one table per endpoint and one for its
options), the store's path, and the network settings (CA bundle, DNS servers, host
overrides, timeouts, and the clear-text and foreign-host permissions the user gave).
Passwords are never in it: only where to get them (``password_command``; the keyring
needs no setting).

:class:`Config` keeps the parsed document as plain data and converts to and from the
model at the edges, so that keys the command does not know (a newer version's, the
user's comments aside) survive a rewrite.
"""

from __future__ import annotations

import email.utils
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from openprotocols.errors import ConfigurationError
from openprotocols.model import Account, AccountOptions, Address, Endpoint, Security

from . import _toml

if TYPE_CHECKING:
    from openprotocols.network import ConsentRequest, Network

__all__ = ["Config", "default_path", "endpoint_from_url", "parse_address"]

HEADER = """\
openprotocols configuration (see docs/cli.md). Written by `openprotocols account add`;
edit freely. Passwords are never stored here: use the keyring or a password_command."""

_OPTION_TYPES: dict[str, type] = {
    "sender_name": str,
    "reply_to": Address,
    "send_on_behalf_of": Address,
    "smtp_auth_same_as_incoming": bool,
    "download_entire_messages": bool,
    "update_folders_at_startup": bool,
    "concurrent_sync": bool,
    "troubleshooting": bool,
}
_ENDPOINT_KEYS = ("host", "port", "security", "username", "auth", "path")


def default_path() -> Path:
    """``config.toml`` in the user's configuration directory for openprotocols."""
    import platformdirs

    return Path(platformdirs.user_config_dir("openprotocols")) / "config.toml"


def parse_address(text: str) -> Address:
    """``"Ann Example <ann@example.org>"`` or ``"ann@example.org"`` as an :class:`Address`.

    :raises ConfigurationError: there is no e-mail address in ``text``.
    """
    name, addr = email.utils.parseaddr(text)
    if "@" not in addr:
        raise ConfigurationError(f"{text!r} is not an e-mail address")
    return Address(addr, name or None)


def _format_address(address: Address) -> str:
    return email.utils.formataddr((address.name or "", address.email))


def endpoint_from_url(protocol: str, url: str, **fields: Any) -> Endpoint:
    """An endpoint from a URL such as ``https://dav.example.org/dav/`` (``http`` means no
    TLS) or ``imaps://mail.example.org:993``.

    :raises ConfigurationError: the URL has no host or an unknown scheme.
    """
    parts = urlsplit(url)
    securities = {
        "https": Security.SSL,
        "http": Security.NONE,
        "imaps": Security.SSL,
        "imap": Security.STARTTLS,
        "smtps": Security.SSL,
        "smtp": Security.STARTTLS,
    }
    if parts.scheme not in securities or not parts.hostname:
        raise ConfigurationError(f"{url!r} is not a URL of a server (https://host/path)")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"bad port in {url!r}") from exc
    return Endpoint(
        protocol=protocol,
        host=parts.hostname,
        port=port,
        security=securities[parts.scheme],
        path=parts.path,
        **fields,
    )


def _endpoint(protocol: str, table: Mapping[str, Any]) -> Endpoint:
    fields = {k: table[k] for k in _ENDPOINT_KEYS if k in table}
    if "url" in table:
        return endpoint_from_url(protocol, str(table["url"]), **fields)
    return Endpoint(protocol=protocol, **fields)


def _endpoint_table(endpoint: Endpoint, extra: Mapping[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = {
        "host": endpoint.host,
        "port": endpoint.port,
        "security": str(endpoint.security),
        "username": endpoint.username,
        "auth": str(endpoint.auth),
        "path": endpoint.path or None,
    }
    table.update(extra)
    return {k: v for k, v in table.items() if v is not None}


def _options(table: Mapping[str, Any]) -> AccountOptions:
    values: dict[str, Any] = {}
    for key, value in table.items():
        kind = _OPTION_TYPES.get(key)
        if kind is None or value is None:
            continue  # a newer version's option: kept in the file, ignored here
        if kind is Address:
            values[key] = parse_address(str(value))
        elif not isinstance(value, kind):
            raise ConfigurationError(f"option {key} must be a {kind.__name__}, not {value!r}")
        else:
            values[key] = value
    return AccountOptions(**values)


def _options_table(options: AccountOptions) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key in _OPTION_TYPES:
        value = getattr(options, key)
        table[key] = _format_address(value) if isinstance(value, Address) else value
    return {k: v for k, v in table.items() if v is not None}


class Config:
    """The parsed configuration file at ``path`` (empty when the file does not exist)."""

    def __init__(self, path: Path, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self.data: dict[str, Any] = data if data is not None else {}

    @classmethod
    def load(cls, path: Path) -> Config:
        """Read ``path``.

        :raises ConfigurationError: the file is not valid TOML or cannot be read.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            return cls(path, tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path} is not valid TOML: {exc}") from exc

    def save(self) -> None:
        """Write the file (readable by its owner only), replacing it atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(_toml.dumps(self.data, header=HEADER))
        temporary.replace(self.path)

    # -- the store ---------------------------------------------------------------

    @property
    def store_path(self) -> Path | None:
        """The store's file, if the configuration names one."""
        value = self.data.get("store")
        return Path(str(value)).expanduser() if value else None

    # -- accounts ----------------------------------------------------------------

    def _accounts(self) -> dict[str, Any]:
        accounts = self.data.setdefault("accounts", {})
        if not isinstance(accounts, dict):
            raise ConfigurationError(f"{self.path}: 'accounts' must be a table")
        return accounts

    def accounts(self) -> list[str]:
        """The configured accounts' addresses."""
        return list(self._accounts())

    @property
    def default_account(self) -> str | None:
        """The account commands use when none is named (``default_account``)."""
        value = self.data.get("default_account")
        return str(value) if value else None

    def account_table(self, email: str) -> dict[str, Any]:
        """The raw table of an account.

        :raises ConfigurationError: no such account.
        """
        table = self._accounts().get(email)
        if not isinstance(table, dict):
            known = ", ".join(self.accounts()) or "none"
            raise ConfigurationError(f"no account {email!r} in {self.path} (configured: {known})")
        return table

    def account(self, email: str) -> Account:
        """The account ``email`` (without passwords).

        :raises ConfigurationError: no such account, or its settings are invalid.
        """
        table = self.account_table(email)
        endpoints = [
            _endpoint(protocol, value)
            for protocol, value in table.items()
            if isinstance(value, dict) and protocol != "options"
        ]
        try:
            return Account(
                email=email,
                display_name=table.get("display_name"),
                endpoints=endpoints,
                options=_options(table.get("options", {})),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"account {email} in {self.path}: {exc}") from exc

    def set_account(
        self, account: Account, *, password_commands: Mapping[str, Any] | None = None
    ) -> None:
        """Add or replace an account; ``password_commands`` maps ``"account"`` or a
        protocol to its ``password_command``. The first account becomes the default."""
        commands = dict(password_commands or {})
        table: dict[str, Any] = {
            "display_name": account.display_name,
            "password_command": commands.get("account"),
        }
        table["options"] = _options_table(account.options)
        for endpoint in account.endpoints:
            extra = {"password_command": commands.get(endpoint.protocol)}
            table[endpoint.protocol] = _endpoint_table(endpoint, extra)
        self._accounts()[account.email] = {k: v for k, v in table.items() if v is not None}
        self.data.setdefault("default_account", account.email)

    def remove_account(self, email: str) -> None:
        """Forget an account.

        :raises ConfigurationError: no such account.
        """
        self.account_table(email)
        del self._accounts()[email]
        if self.data.get("default_account") == email:
            others = self.accounts()
            if others:
                self.data["default_account"] = others[0]
            else:
                del self.data["default_account"]

    # -- the network -------------------------------------------------------------

    def _network(self) -> dict[str, Any]:
        network = self.data.get("network", {})
        if not isinstance(network, dict):
            raise ConfigurationError(f"{self.path}: 'network' must be a table")
        return network

    def allowed(self, request: ConsentRequest) -> bool:
        """Whether the configuration already allows what ``request`` asks."""
        from openprotocols.network import ConsentKind

        network = self._network()
        if request.kind is ConsentKind.CLEAR_TEXT:
            return f"{request.host}:{request.port}" in network.get("allow_clear_text", [])
        return request.host in network.get("allow_hosts", [])

    def allow(self, request: ConsentRequest) -> None:
        """Remember a permission the user gave (kept when the file is saved)."""
        from openprotocols.network import ConsentKind

        network = self.data.setdefault("network", {})
        if request.kind is ConsentKind.CLEAR_TEXT:
            key, value = "allow_clear_text", f"{request.host}:{request.port}"
        else:
            key, value = "allow_hosts", request.host
        values = network.setdefault(key, [])
        if value not in values:
            values.append(value)

    def network(self, consent: Callable[[ConsentRequest], bool]) -> Network:
        """The :class:`~openprotocols.network.Network` the settings describe.

        :raises ConfigurationError: a setting is invalid (a missing CA bundle...).
        """
        from openprotocols.network import Network, Timeouts

        settings = self._network()
        ca_bundle = settings.get("ca_bundle")
        defaults = Timeouts()
        try:
            timeouts = Timeouts(
                connect=float(settings.get("connect_timeout", defaults.connect)),
                read=float(settings.get("read_timeout", defaults.read)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"{self.path}: bad timeout: {exc}") from exc
        return Network(
            resolver=_resolver(settings.get("dns", [])),
            overrides={str(k): str(v) for k, v in settings.get("overrides", {}).items()},
            ca_bundle=Path(str(ca_bundle)).expanduser() if ca_bundle else None,
            timeouts=timeouts,
            consent=consent,
        )


def _resolver(servers: list[str]) -> Any:
    """A dnspython resolver asking only ``servers`` (``"ip"`` or ``"ip:port"``), or
    ``None`` for the system's."""
    if not servers:
        return None
    import dns.resolver
    from dns.nameserver import Do53Nameserver

    from openprotocols.network import Override

    resolver = dns.resolver.Resolver(configure=False)
    nameservers = []
    for server in servers:
        parsed = Override.parse(str(server), str(server))  # the one host:port parser
        nameservers.append(Do53Nameserver(parsed.host, port=parsed.port or 53))
    resolver.nameservers = nameservers
    return resolver
