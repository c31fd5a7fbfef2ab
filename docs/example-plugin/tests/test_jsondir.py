"""The jsondir backend passes the collection-protocol contract, and reads hostile files safely."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import openprotocols_example
import pytest
from openprotocols_example.backend import META, JsonDirBackend
from openprotocols_example.codec import dump_item, load_item

from openprotocols import connect
from openprotocols.backends.base import Changes
from openprotocols.errors import ConfigurationError, NotFoundError, ParseError
from openprotocols.model import (
    Account,
    Address,
    Appointment,
    Attachment,
    Contact,
    Endpoint,
    Extended,
    FolderKind,
    Message,
    Photo,
    RawProperty,
    Recurrence,
    Reminder,
    Task,
)
from openprotocols.plugins import get_plugin_manager
from openprotocols.testing import BackendContractTests

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from openprotocols.backends.base import Collection
    from openprotocols.model import Item

BERLIN = ZoneInfo("Europe/Berlin")


def account_for(root: Path) -> Account:
    """An account whose jsondir endpoint keeps its folders under ``root``."""
    endpoint = Endpoint(protocol="jsondir", path=str(root))
    return Account(email="ann@example.test", endpoints=[endpoint])


class TestJsonDirBackend(BackendContractTests):
    """The jsondir backend passes the collection-protocol contract."""

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[JsonDirBackend]:
        """A jsondir backend on an empty directory, connected through the plugin's hook."""
        pm = get_plugin_manager(entry_points=False, plugins=[openprotocols_example])
        with connect(account_for(tmp_path), "jsondir", plugin_manager=pm) as backend:
            assert isinstance(backend, JsonDirBackend)
            yield backend

    @pytest.fixture
    def read_only_collection(self, backend: JsonDirBackend, kind: FolderKind) -> Collection[Item]:
        """A folder whose metadata file marks it read-only."""
        folder = backend.create_folder(f"ro-{kind}", kind)
        meta = backend.root / folder.id / META
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "read_only": True}))
        return backend.collection(folder.id)


@pytest.fixture
def backend(tmp_path: Path) -> JsonDirBackend:
    """A jsondir backend on an empty directory, built directly."""
    return JsonDirBackend(account_for(tmp_path))


RICH_ITEMS: list[Item] = [
    Appointment.new(
        "Review",
        dt.datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN),
        dt.datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN),
        timezone="Europe/Berlin",
        reminders=[Reminder.minutes_before(15)],
        recurrence=Recurrence(
            "FREQ=WEEKLY", exdates=[dt.datetime(2026, 4, 5, 1, 30, tzinfo=BERLIN)]
        ),
        attachments=[Attachment(filename="a.bin", data=b"\x00\xff")],
        categories=("work",),
        extended=[RawProperty("X-A", "1", {"P": "v"})],
    ),
    Task.new("Floating", start=dt.date(2026, 1, 1), due=dt.date(2026, 1, 2)),
    Contact.new("Ann", birthday=dt.date(1604, 4, 15), photo=Photo(data=b"png")),
    Message.new(
        subject="Hi",
        from_=[Address("a@example.test", "Ann")],
        flags={"\\Seen", "$Label"},
        content=b"Subject: Hi\r\n\r\nx\r\n",
        extended=Extended(),
    ),
]


@pytest.mark.parametrize("item", RICH_ITEMS, ids=lambda i: type(i).__name__)
def test_codec_round_trips_every_value_type(item: Item) -> None:
    """An item read back equals the item written, enums, zones and byte strings included."""
    again = load_item(dump_item(item), "x.json")
    assert again == item
    assert dump_item(again) == dump_item(item)


def test_codec_keeps_time_zones() -> None:
    """A datetime in a named zone comes back in that zone, not as a bare offset."""
    appointment = RICH_ITEMS[0]
    assert isinstance(appointment, Appointment)
    again = load_item(dump_item(appointment), "x.json")
    assert isinstance(again, Appointment)
    assert isinstance(again.start, dt.datetime)
    assert again.start.tzinfo is BERLIN
    assert again.busy_status is appointment.busy_status


HOSTILE: dict[str, Any] = {
    "not JSON": b"{",
    "foreign class": {"$class": "json.JSONDecoder"},
    "model function": {"$class": "new_uid"},
    "enum as class": {"$class": "FolderKind"},
    "foreign enum": {"$enum": "signal.Signals", "value": 9},
    "unknown field": {"$class": "Task", "uid": "u", "evil": 1},
    "broken rule": {"$class": "Task", "uid": "u", "percent_complete": 120},
    "bad enum value": {
        "$class": "Task",
        "uid": "u",
        "status": {"$enum": "TaskStatus", "value": "nope"},
    },
    "unknown tag": {"$class": "Task", "uid": "u", "due": {"$pickle": "..."}},
    "bad zone": {
        "$class": "Task",
        "uid": "u",
        "due": {"$datetime": "2026-01-01T00:00:00+00:00", "zone": "../../etc/passwd"},
    },
    "bad base64": {
        "$class": "Contact",
        "uid": "u",
        "photo": {"$class": "Photo", "data": {"$bytes": "!!"}},
    },
    "not an item": {"$class": "Address", "email": "a@example.test"},
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("content", HOSTILE.values(), ids=HOSTILE.keys())
def test_codec_refuses_malformed_and_hostile_files(content: Any) -> None:
    """Anything but a model item raises ParseError naming the file, and nothing else."""
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    with pytest.raises(ParseError, match=r"^jsondir item: evil\.json: "):
        load_item(data, "evil.json")


def test_malformed_file_in_a_folder(backend: JsonDirBackend) -> None:
    """A broken item file is listed with a version, and reading it names the file."""
    folder = backend.create_folder("Tasks", FolderKind.TASKS)
    collection = backend.collection(folder)
    ref = collection.create(Task.new("Fine"))
    item_id = "0" * 32
    (backend.root / "Tasks" / f"{item_id}.json").write_bytes(b'{"$class": "os.system"}')
    assert {r.id for r in collection.list()} == {ref.id, item_id}
    with pytest.raises(ParseError, match=f"Tasks/{item_id}.json"):
        collection.get_one(item_id)
    assert collection.get_one(ref.id).item.subject == "Fine"  # type: ignore[attr-defined]


def test_paths_outside_the_folders_are_never_reached(backend: JsonDirBackend) -> None:
    """Folder and item ids that would leave the root are unknown, not followed."""
    (backend.root.parent / "outside.json").write_text("{}")
    collection = backend.collection(backend.create_folder("Cal", FolderKind.CALENDAR))
    assert list(collection.get(["../../outside", "/etc/passwd"])) == []
    for folder_id in ("..", "../..", "/etc", "Cal/..", ".", ""):
        with pytest.raises(NotFoundError):
            backend.collection(folder_id)
    for name in ("..", "a/b", ".hidden", ""):
        with pytest.raises(ConfigurationError):
            backend.create_folder(name, FolderKind.CALENDAR)


def test_folders_persist_with_their_metadata(backend: JsonDirBackend, tmp_path: Path) -> None:
    """A second connection to the same directory sees folders, colours and items."""
    parent = backend.create_folder("Work", FolderKind.CALENDAR, color="#00ff00")
    child = backend.create_folder("Team", FolderKind.CALENDAR, parent=parent.id)
    ref = backend.collection(child).create(RICH_ITEMS[0])
    again = JsonDirBackend(account_for(tmp_path))
    assert [(f.id, f.parent, f.color) for f in again.list_folders()] == [
        ("Work", None, "#00FF00"),
        ("Work/Team", "Work", None),
    ]
    assert again.collection("Work/Team").get_one(ref.id).item == RICH_ITEMS[0]


def test_changes_state_is_the_listing(backend: JsonDirBackend) -> None:
    """The state names the listing: unchanged means empty, reverted means unchanged too."""
    collection = backend.collection(backend.create_folder("T", FolderKind.TASKS))
    task = Task.new("A")
    ref = collection.create(task)
    first = collection.changes()
    assert collection.changes(first.state) == Changes((), (), first.state)
    changed = collection.put(ref.id, Task.new("B", uid=task.uid), if_match=ref.version)
    assert collection.changes(first.state).full
    collection.put(ref.id, task, if_match=changed.version)  # back to the same bytes
    assert not collection.changes(first.state).full


def test_account_without_a_path_is_refused(tmp_path: Path) -> None:
    """The endpoint must name a directory, and it must exist when connecting."""
    with pytest.raises(ConfigurationError, match="needs a path"):
        JsonDirBackend(
            account_for(tmp_path).with_endpoints([Endpoint(protocol="jsondir", host="localhost")])
        )
    with pytest.raises(ConfigurationError, match="is not a directory"):
        JsonDirBackend(account_for(tmp_path / "missing")).open()
