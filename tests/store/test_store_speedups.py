"""New items get ids that grow (UUID version 7), so that a sync batch's rows go to the
end of the ``items`` table instead of every page of it (``store/local.py::_new_id``)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from openprotocols.model import FolderKind, Task
from openprotocols.store import LocalStore


def test_new_items_get_uuid7_ids_in_creation_order(tmp_path: Path) -> None:
    with LocalStore(tmp_path / "store.sqlite") as store:
        store.create_folder("Tasks", FolderKind.TASKS)
        collection = store.collection("Tasks")
        ids = []
        for number in range(4):
            ids.append(collection.create(Task.new(f"task {number}")).id)
            time.sleep(0.002)  # the ids' order is by millisecond
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)
        for item_id in ids:
            value = uuid.UUID(item_id)
            assert value.hex == item_id  # 32 hex digits, as before
            assert (value.version, value.variant) == (7, uuid.RFC_4122)
            created = int(item_id[:12], 16) / 1000
            assert abs(created - time.time()) < 60  # the time in milliseconds
