"""The configuration file, passwords, redaction and exit codes, without servers."""

from __future__ import annotations

import logging
import sys
import tomllib
from pathlib import Path

import pytest

from openprotocols import errors
from openprotocols.cli import cli
from openprotocols.cli._config import Config, endpoint_from_url
from openprotocols.cli._errors import ExitCode, describe
from openprotocols.cli._secrets import Passwords, Redactor
from openprotocols.cli._toml import dumps
from openprotocols.model import Account, AccountOptions, Address, Endpoint, Security

from .conftest import Cli


def test_the_writer_round_trips_through_tomllib() -> None:
    data = {
        "store": 'C:\\store "x".sqlite',
        "n": 3,
        "f": 1.5,
        "flag": False,
        "list": ["a", "b\nc", "\x01"],
        "accounts": {"ann@example.org": {"name": "Ann", "imap": {"port": 993}}},
        "empty": {},
    }
    text = dumps(data, header="a header\nof two lines")
    assert text.startswith("# a header\n# of two lines\n")
    assert tomllib.loads(text) == data
    with pytest.raises(TypeError):
        dumps({"when": object()})


def test_an_account_round_trips_through_the_file(tmp_path: Path) -> None:
    account = Account(
        email="ann@example.org",
        display_name="Ann",
        endpoints=[
            Endpoint(protocol="imap", host="mail.example.org", port=993, username="ann"),
            endpoint_from_url("caldav", "http://dav.example.org:8080/dav/", username="ann"),
        ],
        options=AccountOptions(
            reply_to=Address("team@example.org", "Team"),
            send_on_behalf_of=Address("boss@example.org", "The Boss"),
            concurrent_sync=False,
        ),
    )
    config = Config(tmp_path / "sub" / "config.toml")
    config.set_account(account, password_commands={"account": ["pass", "ann"]})
    config.save()
    assert (config.path.stat().st_mode & 0o777) == 0o600
    again = Config.load(config.path)
    assert again.account("ann@example.org") == account
    assert again.default_account == "ann@example.org"
    assert again.account("ann@example.org").endpoint("caldav").security is Security.NONE
    assert again.account_table("ann@example.org")["password_command"] == ["pass", "ann"]
    again.remove_account("ann@example.org")
    assert again.accounts() == []
    assert again.default_account is None


def test_bad_files_and_settings_are_configuration_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("accounts = [")
    with pytest.raises(errors.ConfigurationError, match="not valid TOML"):
        Config.load(path)
    path.write_text('[accounts."a@b.test".imap]\nport = 99999\n')
    with pytest.raises(errors.ConfigurationError, match="port"):
        Config.load(path).account("a@b.test")
    with pytest.raises(errors.ConfigurationError, match="no account"):
        Config.load(path).account("other@b.test")
    with pytest.raises(errors.ConfigurationError):
        endpoint_from_url("caldav", "ftp://x/")


def test_the_redactor_masks_passwords_and_credential_lines() -> None:
    redactor = Redactor()
    redactor.secrets.add("hunter2")
    assert redactor.redact("login with hunter2 failed") == "login with ******** failed"
    assert "abc" not in redactor.redact("Authorization: Basic abc")
    assert "AGFsaWNl" not in redactor.redact("AUTH PLAIN AGFsaWNl")
    assert "pw" not in redactor.redact("a001 LOGIN alice pw")
    record = logging.LogRecord("x", logging.INFO, "f", 1, "sent %s", ("hunter2",), None)
    assert redactor.filter(record)
    assert record.getMessage() == "sent ********"


def test_passwords_come_from_the_command_then_the_prompt() -> None:
    asked: list[str] = []
    passwords = Passwords(Redactor(), lambda text: asked.append(text) or "typed")
    table = {"password_command": [sys.executable, "-c", "print('from-command')"], "smtp": {}}
    assert passwords.get("ann@example.org", "imap", table) == "from-command"
    assert passwords.get("ann@example.org", "smtp", table, own=True) == "typed"
    assert asked == ["Password for ann@example.org (smtp)"]
    assert passwords.redactor.secrets == {"from-command", "typed"}
    failing = {"password_command": [sys.executable, "-c", "raise SystemExit(3)"]}
    with pytest.raises(errors.ConfigurationError, match="status 3"):
        Passwords(Redactor(), str).get("bob@example.org", None, failing)


def test_each_error_has_its_exit_code() -> None:
    assert describe(errors.AuthenticationError("no"))[0] is ExitCode.AUTHENTICATION
    assert describe(errors.TimeoutError("slow"))[0] is ExitCode.CONNECTION
    assert describe(errors.ConnectionSecurityError("cert"))[0] is ExitCode.SECURITY
    assert describe(errors.ConsentRequired("ask"))[0] is ExitCode.CONSENT
    assert describe(errors.AlreadyExistsError("there"))[0] is ExitCode.CONFLICT
    assert describe(errors.MassChangeError("x", side="local", deletions=9, total=10))[0] == 12
    assert describe(RuntimeError("bug"))[0] is ExitCode.ERROR
    assert len({int(code) for code in ExitCode}) == len(ExitCode)


def test_every_command_has_help(run: Cli) -> None:
    result = run("--help")
    assert result.exit_code == 0
    names = {"discover", "account", "folders", "bind", "unbind", "sync", "export", "reset",
             "history", "restore", "conflicts", "resolve", "send", "invitations", "import",
             "directory", "capabilities", "demo"}  # fmt: skip
    assert names <= set(cli.commands)
    for name in sorted(names):
        assert run(name, "--help").exit_code == 0, name


def test_without_accounts_commands_say_how_to_add_one(run: Cli) -> None:
    assert "No accounts" in run("account", "list").stdout
    result = run("folders", "--remote")
    assert result.exit_code == ExitCode.CONFIGURATION
    assert "account add" in result.stderr
    assert "Traceback" not in result.output


def test_a_bad_address_is_one_line_and_a_hint(run: Cli) -> None:
    result = run("discover", "not-an-address")
    assert result.exit_code == ExitCode.CONFIGURATION
    *_, error, hint = result.stderr.splitlines()
    assert error == "error: 'not-an-address' is not an e-mail address"
    assert hint.startswith("hint: ")
    debug = run("--debug", "discover", "not-an-address")
    assert "Traceback" in debug.stderr
    assert debug.exit_code == ExitCode.CONFIGURATION


def test_the_demo_command_runs_the_demo(run: Cli) -> None:
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "Send a message with Bcc and find it in Sent" in result.stdout
    assert "servers stopped" in result.stdout
