"""The ``openprotocols`` command run in-process with click's ``CliRunner``, with its
configuration and store under ``tmp_path`` and Alice's account on the test-bed servers:
IMAP on Dovecot (implicit TLS), SMTP on aiosmtpd (STARTTLS), CalDAV and CardDAV on
Radicale (plain HTTP, allowed in the configuration)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from openprotocols.cli import cli
from openprotocols.cli._toml import dumps
from openprotocols.testing.servers import DovecotServer, RadicaleServer, SMTPServer, TestCA

ALICE = "alice@example.test"
PASSWORD_COMMAND = [sys.executable, "-c", "print('secret')"]


class Cli:
    """Runs the command with ``--config`` pointing at this test's file."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def write(self, data: Mapping[str, Any]) -> None:
        self.config.write_text(dumps(data))

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(cli, ["--config", str(self.config), *args], input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a bug, not an error the command reports
        return result


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real keyring of the machine running the tests."""
    monkeypatch.setitem(sys.modules, "keyring", None)  # type: ignore[arg-type]


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    """The command, with an empty configuration under ``tmp_path``."""
    return Cli(tmp_path / "config" / "config.toml")


def alice(
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp_server: SMTPServer,
    radicale: RadicaleServer,
    test_ca: TestCA,
) -> dict[str, Any]:
    """A configuration with Alice on every server, her password from a command."""
    return {
        "store": str(tmp_path / "store.sqlite"),
        "default_account": ALICE,
        "network": {
            "ca_bundle": str(test_ca.ca_pem),
            "connect_timeout": 5.0,
            "read_timeout": 20.0,
            "allow_clear_text": [f"127.0.0.1:{radicale.port}"],
        },
        "accounts": {
            ALICE: {
                "display_name": "Alice",
                "password_command": PASSWORD_COMMAND,
                "options": {"update_folders_at_startup": False},
                "imap": {"host": "127.0.0.1", "port": dovecot.imaps_port, "username": "alice"},
                "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "security": "starttls"},
                "caldav": {"url": radicale.url, "username": "alice"},
                "carddav": {"url": radicale.url, "username": "alice"},
            }
        },
    }


@pytest.fixture
def configured(
    run: Cli,
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp_server: SMTPServer,
    radicale: RadicaleServer,
    test_ca: TestCA,
) -> Cli:
    """The command with Alice's account configured."""
    run.config.parent.mkdir(parents=True, exist_ok=True)
    run.write(alice(tmp_path, dovecot, smtp_server, radicale, test_ca))
    return run
