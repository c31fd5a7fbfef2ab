"""The store commands on Radicale: import, export, folders, bind, sync (dry run, both
ways), history and restore, conflicts and resolve, reset, unbind; directory and
capabilities; the log file."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.cli._errors import ExitCode
from openprotocols.model import Account, Endpoint, FolderKind
from openprotocols.network import Network
from openprotocols.store import LocalStore
from openprotocols.testing.servers import RadicaleServer

from .conftest import ALICE, Cli

EVENTS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:flight-{tag}@example.test\r\nDTSTAMP:20250101T000000Z\r\n"
    b"DTSTART:20250601T080000Z\r\nDTEND:20250601T100000Z\r\nSUMMARY:Flight\r\nEND:VEVENT\r\n"
    b"BEGIN:VEVENT\r\nUID:hotel-{tag}@example.test\r\nDTSTAMP:20250101T000000Z\r\n"
    b"DTSTART:20250601T150000Z\r\nDTEND:20250601T160000Z\r\nSUMMARY:Hotel\r\n"
    b"RRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
CARDS = (
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:smith-{tag}\r\nFN:Jane Smith\r\nN:Smith;Jane;;;\r\n"
    b"EMAIL:jane.smith@example.test\r\nEND:VCARD\r\n"
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jones-{tag}\r\nFN:Bob Jones\r\nN:Jones;Bob;;;\r\n"
    b"END:VCARD\r\n"
)


@pytest.fixture
def calendar_server(radicale: RadicaleServer) -> Iterator[CalDAVBackend]:
    """Alice's calendars, as another client sees them."""
    account = Account(
        email=ALICE,
        endpoints=[Endpoint(protocol="caldav", host="127.0.0.1", port=radicale.port,
                            security="none", username="alice", password="secret")],
    )  # fmt: skip
    with CalDAVBackend(account, network=Network(consent=lambda request: True)) as backend:
        backend.open()
        yield backend


def local_folder(tmp_path: Path, name: str, kind: FolderKind) -> None:
    with LocalStore(tmp_path / "store.sqlite") as store:
        store.create_folder(name, kind)


def rows(result_stdout: str) -> list[dict[str, object]]:
    return json.loads(result_stdout)  # type: ignore[no-any-return]


def test_a_calendar_from_import_to_restore(
    configured: Cli, tmp_path: Path, calendar_server: CalDAVBackend, radicale: RadicaleServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    (tmp_path / "trip.ics").write_bytes(EVENTS.replace(b"{tag}", tag.encode()))
    local_folder(tmp_path, "Trip", FolderKind.CALENDAR)

    imported = configured("import", str(tmp_path / "trip.ics"), "--to", "Trip")
    assert imported.exit_code == 0, imported.output
    assert "Imported 2 items into Trip." in imported.stdout
    again = configured("import", str(tmp_path / "trip.ics"), "--to", "Trip")
    assert "2 items were there already." in again.stdout

    exported = configured("export", "Trip", "--new", f"trip-{tag}", "--display-name", "Trip")
    assert exported.exit_code == 0, exported.output
    assert "(2 items)" in exported.stdout
    (folder,) = rows(configured("folders", "--json").stdout)
    collection = str(folder["bound_to"]).removeprefix("caldav:")
    assert folder == {"folder": "Trip", "kind": "calendar", "items": 2,
                      "bound_to": f"caldav:{collection}", "account": ALICE}  # fmt: skip
    remote = rows(configured("folders", "--remote", "--json").stdout)
    assert {"backend": "caldav", "id": collection, "name": "Trip", "kind": "calendar",
            "role": "", "bound_to": "Trip"} in remote  # fmt: skip
    assert any(r["backend"] == "imap" and r["role"] == "inbox" for r in remote)

    server = calendar_server.collection(collection)
    flight = next(e for e in server.get(r.id for r in server.list()) if "flight" in e.item.uid)
    server.put(flight.id, attrs.evolve(flight.item, subject="Flight (moved)"),
               if_match=flight.version)  # fmt: skip
    planned = configured("sync", "--dry-run", "--json")
    assert rows(planned.stdout)["reports"]["Trip"]["dry_run"] is True  # type: ignore[index]
    synced = configured("sync", "Trip", "--json")
    assert synced.exit_code == 0, synced.output
    assert rows(synced.stdout)["reports"]["Trip"]["local"]["updated"] == 1  # type: ignore[index]

    with LocalStore(tmp_path / "store.sqlite") as store:  # a local delete, then a sync
        local = store.collection("Trip")
        gone = next(e for e in local.get(r.id for r in local.list()) if "hotel" in e.item.uid)
        local.delete(gone.id, if_match=gone.version)
    assert "+0 ~0 -1" in configured("sync").stdout
    assert len(server.list()) == 1
    history = rows(configured("history", "Trip", "--json").stdout)
    deleted = next(h for h in history if h["reason"] == "deleted by user")
    assert deleted["what"] == "Hotel"
    restored = configured("restore", str(deleted["id"]))
    assert restored.exit_code == 0, restored.output
    configured("sync", "Trip")
    assert len(server.list()) == 2
    assert configured("restore", "999999").exit_code == ExitCode.NOT_FOUND

    # both sides edit the flight: the server's version stays, the local one is queued
    flight = server.get_one(flight.id)
    server.put(flight.id, attrs.evolve(flight.item, subject="Server's flight"),
               if_match=flight.version)  # fmt: skip
    with LocalStore(tmp_path / "store.sqlite") as store:
        local = store.collection("Trip")
        mine = next(e for e in local.get(r.id for r in local.list()) if "flight" in e.item.uid)
        local.put(mine.id, attrs.evolve(mine.item, subject="My flight"), if_match=mine.version)
    conflicted = configured("sync", "Trip")
    assert conflicted.exit_code == 0
    assert "openprotocols conflicts" in conflicted.stderr
    (conflict,) = rows(configured("conflicts", "--json").stdout)
    assert (conflict["folder"], conflict["what"], conflict["state"]) == (
        "Trip",
        "My flight",
        "kept",
    )
    assert configured("resolve", "--keep", "local").exit_code == ExitCode.USAGE
    assert configured("resolve", str(conflict["id"]), "--keep", "local").exit_code == 0
    configured("sync", "Trip")
    assert server.get_one(flight.id).item.subject == "My flight"
    assert "No conflicts." in configured("conflicts").stdout

    reset = configured("reset", "Trip")
    assert reset.exit_code == 0, reset.output
    assert "+2 ~0 -0" in reset.stdout

    bound = configured("bind", "Copy", "--to", radicale.url.rstrip("/") + collection)
    assert bound.exit_code == 0, bound.output
    assert "+2 ~0 -0" in configured("sync", "Copy").stdout
    assert configured("unbind", "Copy").exit_code == 0
    assert configured("unbind", "Copy").exit_code == ExitCode.NOT_FOUND
    assert configured("sync", "Copy").exit_code == ExitCode.NOT_FOUND
    assert configured("bind", "Nowhere", "--kind", "calendar", "--to", "/no/such/").exit_code == (
        ExitCode.NOT_FOUND
    )


def test_contacts_directory_and_capabilities(
    configured: Cli, tmp_path: Path, radicale: RadicaleServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "people.vcf").write_bytes(CARDS.replace(b"{tag}", tag.encode()))
    local_folder(tmp_path, "People", FolderKind.CONTACTS)
    assert "Imported 2 items" in configured("import", str(tmp_path / "cards")).stdout
    exported = configured("export", "People", "--new", f"people-{tag}")
    assert exported.exit_code == 0, exported.output
    collection = exported.stdout.split("carddav:")[1].split()[0]

    found = configured("directory", "smith", "--url", collection, "--json")
    assert found.exit_code == 0, found.output
    assert rows(found.stdout) == [{"name": "Jane Smith", "emails": "jane.smith@example.test"}]
    assert configured("directory", "smith").exit_code == ExitCode.NOT_FOUND  # Radicale has none

    capabilities = configured("capabilities", "--json")
    assert capabilities.exit_code == 0, capabilities.output
    report = json.loads(capabilities.stdout)
    assert "CONDSTORE" in report["imap"]["server"][0]
    assert any(line.startswith("AUTH") for line in report["smtp"]["server"])
    assert "server: radicale" in report["caldav"]["server"]
    assert "directory: no" in report["carddav"]["server"]
    assert "server: radicale" in configured("capabilities").stdout


def test_the_log_file_gets_everything_but_the_password(configured: Cli, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "run.log"
    for _ in range(2):
        result = configured("--log-file", str(log), "--log-level", "debug", "folders", "--remote")
        assert result.exit_code == 0, result.output
    text = log.read_text()
    assert "openprotocols" in text
    assert "secret" not in text
    appended = configured("--log-file", str(log), "--log-mode", "append", "folders", "--remote")
    assert appended.exit_code == 0
    assert log.read_text().startswith(text)
    assert len(log.read_text()) > len(text)
