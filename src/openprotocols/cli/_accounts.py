"""``discover`` and ``account add | list | show | remove``.

``account add`` is the seed product's account dialog as options: discovery first (the
"Detect Settings" button), then every setting given on the command line replaces what
discovery found; a login to each server checks the result before anything is saved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import click

from openprotocols.errors import DiscoveryError
from openprotocols.model import Account, AccountOptions, Endpoint, Security, default_port

from ._app import App
from ._config import endpoint_from_url, parse_address
from ._output import print_json, print_table
from ._secrets import Passwords, keyring_module

if TYPE_CHECKING:
    from openprotocols.discovery import DiscoveryResult

__all__ = ["COMMANDS"]

_SECURITY = click.Choice([s.value for s in Security])
_PROTOCOLS = ("imap", "smtp", "caldav", "carddav")


def _discover(app: App, email: str, password: str | None, timeout: float) -> DiscoveryResult:
    import openprotocols

    app.note(f"Looking for the servers of {email}...")
    return openprotocols.discover(email, password, network=app.network(), timeout=timeout)


def _setting_row(setting: Any) -> list[object]:
    endpoint = setting.endpoint
    return [
        endpoint.protocol,
        endpoint.url,
        endpoint.security,
        endpoint.username or "",
        f"{setting.mechanism}: {setting.source}",
    ]


def _attempt_json(attempt: Any) -> dict[str, Any]:
    return {
        "mechanism": attempt.mechanism,
        "target": attempt.target,
        "outcome": str(attempt.outcome),
        "reason": attempt.reason,
    }


def _endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "protocol": endpoint.protocol,
        "url": endpoint.url,
        "host": endpoint.host,
        "port": endpoint.port,
        "security": str(endpoint.security),
        "username": endpoint.username,
        "auth": str(endpoint.auth),
        "path": endpoint.path,
    }


@click.command()
@click.argument("email")
@click.option(
    "--with-password", is_flag=True, help="Ask for the password (Autodiscover may need it)."
)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds in all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def discover(app: App, email: str, with_password: bool, timeout: float, as_json: bool) -> None:
    """Find the servers of EMAIL and show every place asked (the trace)."""
    password = app.passwords.prompt(f"Password for {email}") if with_password else None
    if password:
        app.redactor.secrets.add(password)
    try:
        result = _discover(app, email, password, timeout)
    except DiscoveryError as error:
        if error.trace and not as_json:
            app.out("Trace:")
            for attempt in error.trace:  # type: ignore[attr-defined]
                app.out(f"  {attempt}")
        raise
    if as_json:
        print_json(
            app,
            {
                "email": result.email,
                "settings": [
                    {**_endpoint_json(s.endpoint), "mechanism": s.mechanism, "source": s.source}
                    for s in result.settings
                ],
                "trace": [_attempt_json(a) for a in result.trace],
            },
        )
        return
    app.out(f"Settings for {email}, best first:")
    print_table(
        app,
        ["protocol", "server", "security", "user", "found by"],
        [_setting_row(s) for s in result.settings],
    )
    app.out()
    app.out("Trace:")
    for line in result.render_trace().splitlines():
        app.out(f"  {line}")


@click.group()
def account() -> None:
    """Add, list, show and remove accounts."""


def _server_options(protocol: str, label: str) -> list[Any]:
    return [
        click.option(f"--{protocol}-host", help=f"The {label} server's name or address."),
        click.option(f"--{protocol}-port", type=int, help=f"The {label} port."),
        click.option(
            f"--{protocol}-security",
            type=_SECURITY,
            help="ssl (TLS from the start), starttls, or none (clear text: asks first).",
        ),
        click.option(f"--{protocol}-user", help=f"The {label} user name."),
    ]


def _apply(decorators: list[Any], function: Any) -> Any:
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def _server(
    base: Account,
    protocol: str,
    host: str | None,
    port: int | None,
    security: str | None,
    user: str | None,
) -> Endpoint | None:
    """The endpoint for ``protocol``: what discovery found, with the options given."""
    found = next((e for e in base.endpoints if e.protocol == protocol), None)
    if found is None and host is None:
        return None
    endpoint = found or Endpoint(protocol=protocol, host=host or "")
    changes: dict[str, Any] = {}
    if host is not None:
        changes["host"] = host
    if security is not None:
        changes["security"] = security
        changes["port"] = port or default_port(protocol, security)
    if port is not None:
        changes["port"] = port
    if user is not None:
        changes["username"] = user
    return attrs.evolve(endpoint, **changes)


def _dav(base: Account, protocol: str, url: str | None, user: str | None) -> Endpoint | None:
    found = next((e for e in base.endpoints if e.protocol == protocol), None)
    if url is not None:
        found = endpoint_from_url(protocol, url)
    if found is not None and user is not None:
        found = attrs.evolve(found, username=user)
    return found


def _options(base: AccountOptions, given: dict[str, Any]) -> AccountOptions:
    changes = {k: v for k, v in given.items() if v is not None}
    for key in ("reply_to", "send_on_behalf_of"):
        if key in changes:
            changes[key] = parse_address(changes[key])
    return attrs.evolve(base, **changes)


_ADD_OPTIONS = [
    click.argument("email"),
    click.option("--name", help="Your name, shown on the mail you send."),
    click.option(
        "--password-command",
        help="A command that prints the password (stored in the configuration instead of it).",
    ),
    click.option(
        "--discover/--no-discover",
        default=True,
        show_default=True,
        help="Detect the settings first.",
    ),
    click.option("--timeout", type=float, default=60.0, show_default=True, help="Discovery time."),
    click.option(
        "--check/--no-check",
        default=True,
        show_default=True,
        help="Log in to every server before saving.",
    ),
    *_server_options("imap", "incoming mail (IMAP)"),
    *_server_options("smtp", "outgoing mail (SMTP)"),
    click.option(
        "--smtp-auth",
        type=click.Choice(["same", "separate"]),
        help="SMTP logs in as the mailbox does (same) or with its own user and password.",
    ),
    click.option("--smtp-password-command", help="The SMTP password's command (separate auth)."),
    click.option("--caldav-url", help="The CalDAV server (https://host/path)."),
    click.option("--carddav-url", help="The CardDAV server (https://host/path)."),
    click.option("--dav-user", help="The user name on the CalDAV and CardDAV servers."),
    click.option("--sender-name", help="The name on sent mail, if not --name."),
    click.option("--reply-to", help="The Reply-To address of sent mail."),
    click.option(
        "--on-behalf-of",
        "send_on_behalf_of",
        help='Send on behalf of this person ("Name <address>"): From is them, Sender you.',
    ),
    click.option(
        "--download-entire-messages/--headers-first",
        default=None,
        help="Download whole messages at once, or headers first [default: headers first].",
    ),
    click.option(
        "--update-folders-at-startup/--no-update-folders-at-startup",
        default=None,
        help="Check the server's folder list before each sync [default: on].",
    ),
    click.option(
        "--concurrent/--one-at-a-time",
        "concurrent_sync",
        default=None,
        help="Sync folders in parallel, or one at a time (concurrency off) [default: parallel].",
    ),
    click.option(
        "--troubleshooting/--no-troubleshooting",
        default=None,
        help="Check every item on each sync and log in detail [default: off].",
    ),
    click.pass_obj,
]


def _add(app: App, email: str, **given: Any) -> None:
    """Add an account: discover its servers, apply the options, log in, save."""
    app.remember_consent = True
    commands = {"account": given["password_command"], "smtp": given["smtp_password_command"]}
    probe = Account(email=email)  # checks the address before anything is asked
    password = _password(app, probe.email, commands)
    base = Account(email=email)
    if given["discover"]:
        try:
            base = _discover(app, email, password, given["timeout"]).account()
        except DiscoveryError:
            if not any(given[f"{p}_host"] for p in ("imap", "smtp")) and not given["caldav_url"]:
                raise
            app.warn("discovery found nothing; using the servers given")
    endpoints = [
        _server(
            base,
            p,
            given[f"{p}_host"],
            given[f"{p}_port"],
            given[f"{p}_security"],
            given[f"{p}_user"],
        )
        for p in ("imap", "smtp")
    ]
    endpoints += [
        _dav(base, p, given[f"{p}_url"], given["dav_user"]) for p in ("caldav", "carddav")
    ]
    same = None if given["smtp_auth"] is None else given["smtp_auth"] == "same"
    options = _options(
        base.options,
        {
            "sender_name": given["sender_name"],
            "reply_to": given["reply_to"],
            "send_on_behalf_of": given["send_on_behalf_of"],
            "smtp_auth_same_as_incoming": same,
            "download_entire_messages": given["download_entire_messages"],
            "update_folders_at_startup": given["update_folders_at_startup"],
            "concurrent_sync": given["concurrent_sync"],
            "troubleshooting": given["troubleshooting"],
        },
    )
    account = Account(
        email=email,
        display_name=given["name"],
        endpoints=[e for e in endpoints if e is not None],
        options=options,
    )
    if not account.endpoints:
        raise DiscoveryError(f"no servers for {email}: give them with --imap-host and the others")
    app.config.set_account(account, password_commands=commands)
    if given["check"]:
        for endpoint in account.endpoints:
            app.note(f"Logging in to {endpoint.url}...")
            app.connect(endpoint.protocol, email)
    app.config.save()
    where = _store_password(app, email, password, commands)
    app.out(f"Added {email} to {app.config.path}")
    for endpoint in account.endpoints:
        app.out(f"  {endpoint.protocol:8} {endpoint.url}")
    app.out(f"Password: {where}")


add = click.command("add")(_apply(_ADD_OPTIONS, _add))
account.add_command(add)


def _password(app: App, email: str, commands: dict[str, Any]) -> str:
    table = {"password_command": commands["account"]} if commands["account"] else {}
    password = app.passwords.get(email, None, table)
    app.passwords.provide(email, password)
    return password


def _store_password(app: App, email: str, password: str, commands: dict[str, Any]) -> str:
    if commands["account"]:
        return "from the password_command"
    keyring = keyring_module()
    if keyring is not None and keyring.get_password("openprotocols", email) == password:
        return "in the keyring"
    if Passwords.store(email, password):
        return "saved in the keyring"
    return "not saved (no keyring; set password_command or you will be asked)"


@account.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_accounts(app: App, as_json: bool) -> None:
    """The configured accounts."""
    default = app.config.default_account
    accounts = [app.config.account(email) for email in app.config.accounts()]
    if as_json:
        print_json(
            app,
            [
                {
                    "email": a.email,
                    "default": a.email == default,
                    "protocols": [e.protocol for e in a.endpoints],
                }
                for a in accounts
            ],
        )
        return
    if not accounts:
        app.out(f"No accounts in {app.config.path}: add one with `openprotocols account add`.")
        return
    print_table(
        app,
        ["", "account", "name", "servers"],
        [
            [
                "*" if a.email == default else "",
                a.email,
                a.display_name or "",
                ", ".join(e.protocol for e in a.endpoints),
            ]
            for a in accounts
        ],
    )


@account.command("show")
@click.argument("email", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(app: App, email: str | None, as_json: bool) -> None:
    """The settings of an account (the default one if EMAIL is not given)."""
    found = app.account(email)
    table = app.config.account_table(found.email)
    options = attrs.asdict(found.options, recurse=False)
    options = {
        k: (str(v) if v is not None and not isinstance(v, bool) else v) for k, v in options.items()
    }
    if as_json:
        print_json(
            app,
            {
                "email": found.email,
                "display_name": found.display_name,
                "endpoints": [_endpoint_json(e) for e in found.endpoints],
                "options": options,
                "password": _password_source(table),
            },
        )
        return
    app.out(f"{found.email}" + (f" ({found.display_name})" if found.display_name else ""))
    print_table(
        app,
        ["protocol", "server", "security", "user"],
        [[e.protocol, e.url, e.security, e.username or found.email] for e in found.endpoints],
    )
    app.out()
    for key, value in options.items():
        app.out(f"  {key.replace('_', ' ')}: {'' if value is None else value}")
    app.out(f"  password: {_password_source(table)}")


def _password_source(table: dict[str, Any]) -> str:
    if table.get("password_command"):
        return "password_command"
    return "keyring or prompt" if keyring_module() is not None else "prompt"


@account.command("remove")
@click.argument("email")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@click.pass_obj
def remove(app: App, email: str, yes: bool) -> None:
    """Forget an account (the local folders and their items stay)."""
    found = app.config.account(email)
    if not yes and not click.confirm(f"Remove the account {email}?", default=False, err=True):
        raise click.Abort
    app.config.remove_account(email)
    app.config.save()
    Passwords.forget(email, [e.protocol for e in found.endpoints])
    app.out(f"Removed {email}.")


COMMANDS = [discover, account]
