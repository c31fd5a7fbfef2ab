"""``discover`` and ``account add | list | show | remove`` on the test-bed servers, and the
errors a user can cause while adding an account."""

from __future__ import annotations

import json
import shlex
import sys
import tomllib
import types
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from openprotocols.cli._errors import ExitCode
from openprotocols.testing.servers import (
    DnsmasqServer,
    DovecotServer,
    HostRecord,
    RadicaleServer,
    SMTPServer,
    SRVRecord,
    TestCA,
    free_port,
)

from .conftest import ALICE, Cli

Factory = Callable[[Iterable[object]], DnsmasqServer]


def password_command(tmp_path: Path, password: str) -> str:
    """A command printing ``password`` from a file, so the configuration never holds it."""
    file = tmp_path / "password.txt"
    file.write_text(password)
    code = "import pathlib, sys; print(pathlib.Path(sys.argv[1]).read_text())"
    return shlex.join([sys.executable, "-c", code, str(file)])


@pytest.fixture
def trusting(run: Cli, test_ca: TestCA) -> Cli:
    """The command, trusting the test CA."""
    run.config.parent.mkdir(parents=True)
    run.write({"network": {"ca_bundle": str(test_ca.ca_pem), "connect_timeout": 3.0}})
    return run


def imap_options(dovecot: DovecotServer) -> list[str]:
    return ["--imap-host", "127.0.0.1", "--imap-port", str(dovecot.imaps_port),
            "--imap-security", "ssl", "--imap-user", "alice"]  # fmt: skip


def test_add_with_every_setting_then_list_show_remove(
    trusting: Cli,
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp_server: SMTPServer,
    radicale: RadicaleServer,
) -> None:
    result = trusting(
        "account", "add", ALICE, "--no-discover", "--name", "Alice",
        "--password-command", password_command(tmp_path, "secret"),
        *imap_options(dovecot),
        "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_server.port),
        "--smtp-security", "starttls", "--smtp-auth", "same",
        "--caldav-url", radicale.url, "--carddav-url", radicale.url, "--dav-user", "alice",
        "--reply-to", "Team <team@example.test>", "--on-behalf-of", "Boss <boss@example.test>",
        "--sender-name", "Alice A.", "--download-entire-messages",
        "--no-update-folders-at-startup", "--one-at-a-time", "--troubleshooting",
        input="y\n",  # plain HTTP to Radicale: allowed, and remembered
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Allow caldav to 127.0.0.1" in result.stderr  # asked once for both DAV servers
    assert result.stderr.count("Allow ") == 1
    text = trusting.config.read_text()
    assert "secret" not in text
    saved = tomllib.loads(text)
    assert saved["network"]["allow_clear_text"] == [f"127.0.0.1:{radicale.port}"]
    table = saved["accounts"][ALICE]
    assert table["imap"] == {"host": "127.0.0.1", "port": dovecot.imaps_port, "security": "ssl",
                             "username": "alice", "auth": "password"}  # fmt: skip
    assert table["options"]["send_on_behalf_of"] == "Boss <boss@example.test>"
    assert table["options"]["concurrent_sync"] is False
    assert table["options"]["troubleshooting"] is True

    listed = trusting("account", "list", "--json")
    assert json.loads(listed.stdout) == [
        {"email": ALICE, "default": True, "protocols": ["imap", "smtp", "caldav", "carddav"]}
    ]
    assert ALICE in trusting("account", "list").stdout
    shown = json.loads(trusting("account", "show", "--json").stdout)
    assert shown["options"]["reply_to"] == '"Team" <team@example.test>'
    assert shown["options"]["download_entire_messages"] is True
    assert shown["password"] == "password_command"
    assert "imaps://127.0.0.1" in trusting("account", "show", ALICE).stdout

    assert trusting("account", "remove", ALICE, input="n\n").exit_code != 0
    assert trusting("account", "remove", ALICE, "--yes").exit_code == 0
    assert "No accounts" in trusting("account", "list").stdout


def test_add_discovers_then_applies_the_options(
    trusting: Cli,
    tmp_path: Path,
    dnsmasq: Factory,
    dovecot: DovecotServer,
    smtp_server: SMTPServer,
    radicale: RadicaleServer,
    test_ca: TestCA,
) -> None:
    dns = dnsmasq([
        HostRecord("mail.example.test"),
        SRVRecord("_imaps._tcp.example.test", "mail.example.test", dovecot.imaps_port or 0),
        SRVRecord("_submission._tcp.example.test", "mail.example.test", smtp_server.port),
        SRVRecord("_caldav._tcp.example.test", "mail.example.test", radicale.port),
        SRVRecord("_carddav._tcp.example.test", "mail.example.test", radicale.port),
    ])  # fmt: skip
    trusting.write({"network": {"ca_bundle": str(test_ca.ca_pem), "dns": [f"127.0.0.1:{dns.port}"],
                                "connect_timeout": 2.0, "read_timeout": 5.0}})  # fmt: skip

    found = trusting("discover", ALICE, "--json", "--timeout", "20", input="y\ny\n")
    assert found.exit_code == 0, found.output
    settings = json.loads(found.stdout)["settings"]
    assert (settings[0]["protocol"], settings[0]["url"]) == (
        "imap", f"imaps://mail.example.test:{dovecot.imaps_port}")  # fmt: skip
    assert settings[0]["mechanism"] == "srv"
    text = trusting("discover", ALICE, "--timeout", "20", input="y\ny\n")
    assert "[srv] _imaps._tcp.example.test: found" in text.stdout

    added = trusting(
        "account", "add", ALICE, "--imap-user", "alice", "--dav-user", "alice",
        "--password-command", password_command(tmp_path, "secret"), "--timeout", "20",
        input="y\ny\ny\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    shown = json.loads(trusting("account", "show", "--json").stdout)
    assert {e["protocol"]: (e["host"], e["port"], e["username"]) for e in shown["endpoints"]} == {
        "imap": ("mail.example.test", dovecot.imaps_port, "alice"),
        "smtp": ("mail.example.test", smtp_server.port, ALICE),
        "caldav": ("mail.example.test", radicale.port, "alice"),
        "carddav": ("mail.example.test", radicale.port, "alice"),
    }


def test_wrong_password_is_one_line_without_the_password(
    trusting: Cli, tmp_path: Path, dovecot: DovecotServer
) -> None:
    result = trusting(
        "account", "add", ALICE, "--no-discover", *imap_options(dovecot),
        "--password-command", password_command(tmp_path, "wrong-horse"),
    )  # fmt: skip
    assert result.exit_code == ExitCode.AUTHENTICATION
    assert "wrong-horse" not in result.output
    assert [line.split(":")[0] for line in result.stderr.splitlines()[-2:]] == ["error", "hint"]
    assert "Traceback" not in result.output
    assert not tomllib.loads(trusting.config.read_text()).get("accounts")  # nothing saved


def test_typed_password_goes_to_the_keyring(
    trusting: Cli, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored: dict[tuple[str, str], str] = {}
    fake = types.SimpleNamespace(
        get_password=lambda service, name: stored.get((service, name)),
        set_password=lambda service, name, value: stored.__setitem__((service, name), value),
        delete_password=lambda service, name: stored.pop((service, name)),
    )
    monkeypatch.setitem(sys.modules, "keyring", fake)  # type: ignore[arg-type]
    result = trusting("account", "add", ALICE, "--no-discover", *imap_options(dovecot),
                      input="secret\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "saved in the keyring" in result.stdout
    assert stored == {("openprotocols", ALICE): "secret"}
    assert "secret" not in trusting.config.read_text()
    assert trusting("--no-input", "folders", "--remote").exit_code == 0  # no question asked
    trusting("account", "remove", ALICE, "--yes")
    assert stored == {}


def test_unreachable_server(trusting: Cli, tmp_path: Path) -> None:
    result = trusting(
        "account", "add", ALICE, "--no-discover", "--imap-host", "127.0.0.1",
        "--imap-port", str(free_port()), "--password-command", password_command(tmp_path, "x"),
    )  # fmt: skip
    assert result.exit_code == ExitCode.CONNECTION
    assert "hint: check the server name and port" in result.stderr


def test_untrusted_certificate(run: Cli, tmp_path: Path, dovecot: DovecotServer) -> None:
    result = run(  # no ca_bundle: the system's trust store does not know the test CA
        "account", "add", ALICE, "--no-discover", *imap_options(dovecot),
        "--password-command", password_command(tmp_path, "secret"),
    )  # fmt: skip
    assert result.exit_code == ExitCode.SECURITY
    assert "ca_bundle" in result.stderr


@pytest.mark.parametrize("answer", [["--no-input"], []])
def test_consent_refused(
    trusting: Cli, tmp_path: Path, radicale: RadicaleServer, answer: list[str]
) -> None:
    result = trusting(
        *answer, "account", "add", ALICE, "--no-discover", "--caldav-url", radicale.url,
        "--dav-user", "alice", "--password-command", password_command(tmp_path, "secret"),
        input="n\n",
    )  # fmt: skip
    assert result.exit_code == ExitCode.CONSENT
    assert ("Allow caldav" in result.stderr) is not bool(answer)
    assert "allow_clear_text" in result.stderr
    assert "allow_clear_text" not in trusting.config.read_text()
