"""The ``openprotocols`` command: a thin shell over the public API (see ``docs/cli.md``).

Each command turns its options into calls of :mod:`openprotocols` (``discover``,
``connect``, ``LocalStore``, ``Binding.sync``, ``sending.send``...) and prints the result;
there is no protocol logic here. Everything a command does is possible from Python.

- :mod:`._app` — one run's shared state: configuration, consoles, passwords, consent,
  the network, connected backends and the store;
- :mod:`._config` / :mod:`._toml` — the TOML configuration file;
- :mod:`._secrets` — passwords (keyring, password command, prompt) and log redaction;
- :mod:`._errors` — exit codes and the hint each error gets;
- :mod:`._accounts`, :mod:`._folders`, :mod:`._sync`, :mod:`._mail`, :mod:`._servers` —
  the commands.

An error a user can cause (a bad address, a wrong password, an unreachable server, an
untrusted certificate, a refused consent, a conflict) prints one line and a hint on
standard error and exits with its own status (:class:`._errors.ExitCode`); the
traceback only with ``--debug``.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from openprotocols.errors import OpenProtocolsError

from ._app import App
from ._errors import ExitCode, describe

__all__ = ["ExitCode", "cli", "main"]

_LEVELS = ("debug", "info", "warning", "error")
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


class _Group(click.Group):
    """The command group: turns the library's errors into a message, a hint and an
    exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OpenProtocolsError as error:
            ctx.exit(_report(ctx, error))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def _report(ctx: click.Context, error: BaseException) -> int:
    app = ctx.find_object(App)
    code, hint = describe(error)
    redact = app.redactor.redact if app is not None else str
    if app is not None and app.debug:
        text = "".join(traceback.format_exception(error))
        click.echo(redact(text.rstrip()), err=True)
    logging.getLogger("openprotocols.cli").debug("failed: %r", error)
    click.echo(f"error: {redact(str(error))}", err=True)
    click.echo(f"hint: {hint}", err=True)
    return int(code)


def _setup_logging(
    ctx: click.Context, app: App, level: str | None, log_file: Path | None, mode: str
) -> None:
    """Send log records (of every library, credentials redacted) to ``log_file`` or to
    standard error, for this run only."""
    if app.debug:
        level = "debug"
    if level is None:
        level = "info" if log_file is not None else "warning"
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(
            log_file, mode="w" if mode == "new" else "a", encoding="utf-8"
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(app.redactor)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(level.upper())
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(min(before or logging.WARNING, handler.level))

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(before)
        handler.close()

    ctx.call_on_close(restore)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="OPENPROTOCOLS_CONFIG",
    help="The configuration file [default: config.toml in the user config directory].",
)
@click.option(
    "-a", "--account", envvar="OPENPROTOCOLS_ACCOUNT", help="The account to work on (its address)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or notes.")
@click.option("--log-level", type=click.Choice(_LEVELS), help="How much to log.")
@click.option(
    "--log-file", type=click.Path(dir_okay=False, path_type=Path), help="Log to this file."
)
@click.option(
    "--log-mode",
    type=click.Choice(["new", "append"]),
    default="new",
    show_default=True,
    help="Start the log file afresh each run, or append to it.",
)
@click.option("--no-input", is_flag=True, help="Never ask (passwords, permissions): fail instead.")
@click.option("--debug", is_flag=True, help="Log everything and show tracebacks.")
@click.version_option(package_name="openprotocols")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: Path | None,
    account: str | None,
    quiet: bool,
    log_level: str | None,
    log_file: Path | None,
    log_mode: str,
    no_input: bool,
    debug: bool,
) -> None:
    """Keep local mail, calendars, tasks and contacts in sync with IMAP, SMTP, CalDAV
    and CardDAV servers."""
    from ._config import default_path

    app = App(
        config_path or default_path(),
        account=account,
        quiet=quiet,
        debug=debug,
        no_input=no_input,
    )
    ctx.obj = app
    ctx.call_on_close(app.close)
    _setup_logging(ctx, app, log_level, log_file, log_mode)


@cli.command()
@click.option("--keep", is_flag=True, help="Keep the demo's directory and print where it is.")
@click.pass_obj
def demo(app: App, keep: bool) -> None:
    """Run the whole flow against servers started on 127.0.0.1, then stop them."""
    import importlib

    try:
        module = importlib.import_module("openprotocols.demo")
    except ModuleNotFoundError as error:
        if error.name != "openprotocols.demo":
            raise
        raise click.ClickException("the demo is not part of this installation") from None
    status = int(module.run(keep=keep, console=app.console))
    if status:
        click.get_current_context().exit(status)


def _register() -> None:
    from . import _accounts, _folders, _mail, _servers, _sync

    for module in (_accounts, _folders, _sync, _mail, _servers):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="openprotocols")
