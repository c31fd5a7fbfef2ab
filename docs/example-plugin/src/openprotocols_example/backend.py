"""The ``jsondir`` backend: folders are directories, items are JSON files.

Layout under the root directory (the ``path`` of the account's ``jsondir`` endpoint)::

    root/
        Calendar/                   folder id "Calendar"
            .folder.json            {"kind": "calendar", "display_name": …, "color": …}
            3f2a….json              one item, written by openprotocols_example.codec
            Holidays/               folder id "Calendar/Holidays" (parent "Calendar")
                .folder.json

A directory is a folder when it holds a ``.folder.json``; names starting with a dot are
never folders or items, so temporary files stay invisible. An item's id is its file name
without ``.json``; its version is the first 16 hex digits of the SHA-256 of the file.

Costs, honestly: ``changes()`` reads every file of the folder (the backend does not
declare ``INCREMENTAL``), and ``create()`` reads and parses every item of the folder to
refuse a duplicate UID. Writes are atomic (a temporary file, then ``os.replace``) and
conditional writes compare versions under a lock, which makes them safe between threads
of one process; two *processes* writing the same item can still race.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from openprotocols.backends.base import Backend, Capability, Changes, Collection, Entry, ItemRef
from openprotocols.errors import (
    AlreadyExistsError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    ParseError,
    ServerError,
)
from openprotocols.model import Folder, FolderKind, Item

from .codec import dump_item, load_item

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from openprotocols.model import Account
    from openprotocols.network import Network

__all__ = ["JsonDirBackend", "JsonDirCollection"]

META = ".folder.json"
"""The sidecar file that makes a directory a folder and holds its metadata."""

_ITEM_ID = re.compile(r"[0-9a-f]{32}")
_write_lock = threading.Lock()  # one lock for every jsondir backend of this process


def version_of(data: bytes) -> str:
    """An item's version: a hash of its file's bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def _check_name(name: str) -> None:
    """Refuse a folder name that is not one plain directory name."""
    if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise ConfigurationError(f"{name!r} cannot be a jsondir folder name")


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically: readers see the old file or the new one, never half."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _os_errors(url: str) -> Iterator[None]:
    """The one place where file-system errors become openprotocols errors."""
    try:
        yield
    except FileNotFoundError as exc:
        raise NotFoundError(f"{url} does not exist", backend="jsondir", url=url) from exc
    except OSError as exc:
        raise ServerError(
            f"{url}: {exc.strerror}", status=exc.errno, backend="jsondir", url=url
        ) from exc


class JsonDirCollection(Collection[Item]):
    """One folder directory of JSON item files."""

    backend: JsonDirBackend

    def __init__(self, backend: JsonDirBackend, folder: Folder) -> None:
        super().__init__(backend, folder)
        self.path = backend.root / folder.id

    def changes(self, since: str | None = None) -> Changes:
        """A full listing, unless nothing changed since the state ``since``.

        The state is a hash of the sorted (id, version) listing, so an equal state means
        an equal listing: then the answer is "nothing changed", else the full listing.
        """
        refs = []
        with _os_errors(self.folder.id):  # a folder deleted meanwhile is NotFoundError
            for path in sorted(self.path.iterdir()):
                data = self._read(path.stem) if path.suffix == ".json" else None
                if data is not None:  # not an item, or deleted while we list
                    refs.append(ItemRef(path.stem, version_of(data)))
        listing = "".join(f"{ref.id} {ref.version}\n" for ref in refs)
        state = hashlib.sha256(listing.encode()).hexdigest()[:32]
        if since == state:
            return Changes((), (), state)
        return Changes(refs, (), state, full=True)

    def _get_batch(self, ids: Sequence[str]) -> list[Entry[Item]]:
        entries = []
        with _os_errors(self.folder.id):
            for item_id in ids:
                data = self._read(item_id)
                if data is not None:
                    item = load_item(data, f"{self.folder.id}/{item_id}.json")
                    entries.append(Entry(item_id, version_of(data), item))
        return entries

    def _create(self, item: Item) -> ItemRef:
        data = dump_item(item)
        with _write_lock, _os_errors(self.folder.id):
            if isinstance(item.uid, str):  # O(n): reads every item of the folder
                for entry in self._get_batch([ref.id for ref in self.list()]):
                    if entry.item.uid == item.uid:
                        raise AlreadyExistsError(
                            f"an item with UID {item.uid!r} exists as {entry.id!r}",
                            id=entry.id,
                            current_version=entry.version,
                            backend="jsondir",
                            url=self.folder.id,
                        )
            item_id = uuid.uuid4().hex
            _write(self.path / f"{item_id}.json", data)
        return ItemRef(item_id, version_of(data))

    def _put(self, id: str, item: Item, if_match: str) -> ItemRef:
        data = dump_item(item)
        with _write_lock, _os_errors(self.folder.id):
            self._check_version(id, if_match)
            _write(self.path / f"{id}.json", data)
        return ItemRef(id, version_of(data))

    def _delete(self, id: str, if_match: str) -> None:
        with _write_lock, _os_errors(self.folder.id):
            self._check_version(id, if_match)
            (self.path / f"{id}.json").unlink()

    def _read(self, item_id: str) -> bytes | None:
        """The bytes of an item's file, or ``None`` when there is no such item."""
        if not _ITEM_ID.fullmatch(item_id):  # never a path: "../x" is simply not an item
            return None
        try:
            return (self.path / f"{item_id}.json").read_bytes()
        except FileNotFoundError:
            return None

    def _check_version(self, item_id: str, if_match: str) -> None:
        """Refuse a write unless the item exists at version ``if_match`` (under the lock)."""
        data = self._read(item_id)
        if data is None:
            raise NotFoundError(
                f"no item {item_id!r} in {self.folder.id}",
                id=item_id,
                backend="jsondir",
                url=self.folder.id,
            )
        if (current := version_of(data)) != if_match:
            raise ConflictError(
                f"item {item_id!r} is at version {current}, not {if_match}",
                id=item_id,
                current_version=current,
                backend="jsondir",
                url=self.folder.id,
            )


class JsonDirBackend(Backend):
    """Folders and items as directories and JSON files under a root directory."""

    name = "jsondir"
    description = "Folders as directories, items as JSON files: the example plugin."
    kinds = frozenset(FolderKind)
    capabilities = Capability.CREATE_FOLDERS | Capability.RENAME_FOLDERS | Capability.DELETE_FOLDERS

    def __init__(self, account: Account, *, network: Network | None = None) -> None:
        super().__init__(account, network=network)
        path = account.endpoint(self.name).path  # raises ConfigurationError without one
        if not path:
            raise ConfigurationError(f"the jsondir endpoint of {account.email} needs a path")
        self.root = Path(path).resolve()

    def open(self) -> None:
        """Check that the root directory exists; a root we cannot write makes us read-only."""
        if not self.root.is_dir():
            raise ConfigurationError(f"{self.root} is not a directory")
        self.read_only = not os.access(self.root, os.W_OK)

    def list_folders(self) -> list[Folder]:
        with _os_errors(str(self.root)):
            found = [self._folder(p.parent) for p in self.root.rglob(META)]
        return sorted((f for f in found if f is not None), key=lambda f: (f.id.count("/"), f.id))

    def collection(self, folder: Folder | str) -> JsonDirCollection:
        folder_id = self._folder_id(folder)
        found = self._folder(self.root / folder_id)
        if found is None or found.id != folder_id:
            raise NotFoundError(f"no folder {folder_id!r}", backend=self.name, url=folder_id)
        return JsonDirCollection(self, found)

    def _create_folder(
        self,
        name: str,
        kind: FolderKind,
        *,
        parent: str | None,
        display_name: str,
        color: str | None,
    ) -> Folder:
        _check_name(name)
        parent_path = self.collection(parent).path if parent else self.root
        folder_id = f"{parent}/{name}" if parent else name
        folder = Folder.new(folder_id, kind, display_name=display_name, parent=parent, color=color)
        with _write_lock, _os_errors(folder_id):
            try:
                (parent_path / name).mkdir()
            except FileExistsError:
                raise AlreadyExistsError(
                    f"folder {folder_id!r} exists", backend=self.name, url=folder_id
                ) from None
            self._write_meta(folder)
        return folder

    def _rename_folder(self, folder_id: str, new_name: str) -> Folder:
        with _write_lock:  # the id stays, as on a DAV server: only the display name changes
            renamed = attrs.evolve(self.collection(folder_id).folder, display_name=new_name)
            with _os_errors(folder_id):
                self._write_meta(renamed)
        return renamed

    def _delete_folder(self, folder_id: str) -> None:
        path = self.collection(folder_id).path
        with _write_lock, _os_errors(folder_id):
            doomed = self.root / f".deleted-{uuid.uuid4().hex}"
            path.rename(doomed)  # the folder disappears at once, then its files go
            shutil.rmtree(doomed)

    def _folder(self, path: Path) -> Folder | None:
        """The folder stored in directory ``path``, or ``None`` if it is not a folder."""
        parts = path.relative_to(self.root).parts if path.is_relative_to(self.root) else ()
        if not parts or any(p.startswith(".") or p == ".." for p in parts):
            return None  # outside the root, the root itself, or hidden
        try:
            meta = json.loads((path / META).read_bytes())
            return Folder(
                id="/".join(parts),
                kind=meta["kind"],
                name=parts[-1],
                display_name=meta["display_name"],
                color=meta.get("color"),
                parent="/".join(parts[:-1]) or None,
                read_only=meta.get("read_only", False),
            )
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ParseError(f"{path / META}: {exc!r}", format="jsondir folder") from exc

    def _write_meta(self, folder: Folder) -> None:
        meta = {
            "kind": folder.kind.value,
            "display_name": folder.display_name,
            "color": folder.color,
            "read_only": folder.read_only,
        }
        _write(self.root / folder.id / META, json.dumps(meta, indent=1).encode())
