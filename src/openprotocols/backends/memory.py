"""The in-memory backend: the reference implementation of the collection protocol.

It keeps folders and items in a :class:`MemoryServer` in this process and behaves like a
careful server: every write is conditional, versions change on every write, UIDs are
unique within a folder, and :meth:`MemoryCollection.changes` answers incrementally from a
change log in O(changes). Read it as the template for a new backend; the sync engine's
tests use it as their second side.

Several connections see the same data when they share a server. :func:`openprotocols.connect`
finds the server by the host of the account's ``memory`` endpoint (or, without one, by the
account's address), so two accounts naming the same host share it::

    account = Account(email="ann@example.org",
                      endpoints=[Endpoint(protocol="memory", host="shared", port=1)])

Tests reach into a server to play the other client or a misbehaving server:
:meth:`MemoryServer.forget_history` expires every earlier state, and
:meth:`MemoryServer.replace_folder` makes a folder's items look brand new (a server-side
reset: new ids, new validity).
"""

from __future__ import annotations

import bisect
import itertools
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar

import attrs

from openprotocols.errors import AlreadyExistsError, ConflictError, NotFoundError
from openprotocols.hookspecs import hookimpl
from openprotocols.model._base import Item
from openprotocols.model.folders import Folder, FolderKind

from .base import Backend, Capability, Changes, Collection, Entry, ItemRef

if TYPE_CHECKING:
    from openprotocols.model.accounts import Account
    from openprotocols.network import Network
    from openprotocols.plugins import BackendRegistry

__all__ = ["MemoryBackend", "MemoryCollection", "MemoryServer"]


@attrs.define
class _Stored:
    version: str
    item: Item


@attrs.define
class _Folder:
    """A folder's items and the log of changes that makes ``changes()`` incremental."""

    folder: Folder
    validity: str = attrs.Factory(lambda: uuid.uuid4().hex[:12])
    items: dict[str, _Stored] = attrs.Factory(dict)
    log_seqs: list[int] = attrs.Factory(list)  # ascending; parallel to log_ids
    log_ids: list[str] = attrs.Factory(list)
    seq: int = 0
    next_id: itertools.count[int] = attrs.Factory(lambda: itertools.count(1))

    def touch(self, item_id: str) -> int:
        self.seq += 1
        self.log_seqs.append(self.seq)
        self.log_ids.append(item_id)
        return self.seq

    def state(self) -> str:
        return f"{self.validity}:{self.seq}"


class MemoryServer:
    """The shared data behind memory backends: folders of items, thread-safe."""

    _named: ClassVar[dict[str, MemoryServer]] = {}
    _named_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._folders: dict[str, _Folder] = {}

    @classmethod
    def named(cls, name: str) -> MemoryServer:
        """The process-wide server called ``name``, created on first use."""
        with cls._named_lock:
            return cls._named.setdefault(name, cls())

    @classmethod
    def forget(cls, name: str) -> None:
        """Drop the process-wide server called ``name`` and all its data."""
        with cls._named_lock:
            cls._named.pop(name, None)

    # -- folders ---------------------------------------------------------------

    def folders(self) -> list[Folder]:
        """Every folder, parents before children."""
        with self._lock:
            found = [f.folder for f in self._folders.values()]
        return sorted(found, key=lambda f: (f.id.count("/"), f.id))

    def add_folder(self, folder: Folder) -> Folder:
        """Add a folder as it is (tests use this for read-only folders, roles, colours).

        :raises AlreadyExistsError: a folder with that id exists.
        """
        with self._lock:
            if folder.id in self._folders:
                raise AlreadyExistsError(
                    f"folder {folder.id!r} exists", backend="memory", url=folder.id
                )
            if folder.parent is not None:
                self._get(folder.parent)
            self._folders[folder.id] = _Folder(folder)
        return folder

    def rename_folder(self, folder_id: str, display_name: str) -> Folder:
        """Change a folder's display name (its id stays, as on a DAV server)."""
        with self._lock:
            data = self._get(folder_id)
            data.folder = attrs.evolve(data.folder, display_name=display_name)
            return data.folder

    def delete_folder(self, folder_id: str) -> None:
        """Delete a folder, its sub-folders and their items."""
        with self._lock:
            self._get(folder_id)
            for other in list(self._folders):
                if other == folder_id or other.startswith(folder_id + "/"):
                    del self._folders[other]

    def forget_history(self, folder_id: str) -> None:
        """Expire every state handed out so far: the next ``changes(since)`` is full."""
        with self._lock:
            data = self._get(folder_id)
            data.validity = uuid.uuid4().hex[:12]  # the ids stay; only old states expire
            data.log_seqs.clear()
            data.log_ids.clear()

    def replace_folder(self, folder_id: str) -> None:
        """Give every item a new id and the folder a new validity, as a server does after
        losing its index (an IMAP UIDVALIDITY change, a recreated DAV collection)."""
        with self._lock:
            old = self._get(folder_id)
            new = _Folder(old.folder, next_id=old.next_id)  # ids are never reused
            for stored in old.items.values():
                new_id = str(next(new.next_id))
                new.items[new_id] = _Stored(str(new.touch(new_id)), stored.item)
            self._folders[folder_id] = new

    # -- items (what MemoryCollection calls) ------------------------------------

    def _get(self, folder_id: str) -> _Folder:
        try:
            return self._folders[folder_id]
        except KeyError:
            raise NotFoundError(
                f"no folder {folder_id!r}", backend="memory", url=folder_id
            ) from None

    def changes(self, folder_id: str, since: str | None) -> Changes:
        with self._lock:
            data = self._get(folder_id)
            start = _parse_state(since, data)
            if start is None:
                refs = [ItemRef(i, s.version) for i, s in data.items.items()]
                return Changes(refs, (), data.state(), full=True)
            first = bisect.bisect_right(data.log_seqs, start)
            touched = dict.fromkeys(data.log_ids[first:])  # O(changes), in order
            changed = [ItemRef(i, data.items[i].version) for i in touched if i in data.items]
            deleted = [i for i in touched if i not in data.items]
            return Changes(changed, deleted, data.state())

    def get(self, folder_id: str, ids: Sequence[str]) -> list[Entry[Item]]:
        with self._lock:
            items = self._get(folder_id).items
            return [Entry(i, items[i].version, items[i].item) for i in ids if i in items]

    def create(self, folder_id: str, item: Item) -> ItemRef:
        with self._lock:
            data = self._get(folder_id)
            if isinstance(item.uid, str):
                for item_id, stored in data.items.items():
                    if stored.item.uid == item.uid:
                        raise AlreadyExistsError(
                            f"an item with UID {item.uid!r} exists as {item_id!r}",
                            id=item_id,
                            current_version=stored.version,
                            backend="memory",
                            url=folder_id,
                        )
            item_id = str(next(data.next_id))
            version = str(data.touch(item_id))
            data.items[item_id] = _Stored(version, item)
            return ItemRef(item_id, version)

    def put(self, folder_id: str, item_id: str, item: Item, if_match: str) -> ItemRef:
        with self._lock:
            data = self._get(folder_id)
            self._check_version(data, item_id, if_match)
            version = str(data.touch(item_id))
            data.items[item_id] = _Stored(version, item)
            return ItemRef(item_id, version)

    def delete(self, folder_id: str, item_id: str, if_match: str) -> None:
        with self._lock:
            data = self._get(folder_id)
            self._check_version(data, item_id, if_match)
            del data.items[item_id]
            data.touch(item_id)

    @staticmethod
    def _check_version(data: _Folder, item_id: str, if_match: str) -> None:
        stored = data.items.get(item_id)
        if stored is None:
            raise NotFoundError(
                f"no item {item_id!r} in {data.folder.id}",
                id=item_id,
                backend="memory",
                url=data.folder.id,
            )
        if stored.version != if_match:
            raise ConflictError(
                f"item {item_id!r} is at version {stored.version}, not {if_match}",
                id=item_id,
                current_version=stored.version,
                backend="memory",
                url=data.folder.id,
            )


def _parse_state(since: str | None, data: _Folder) -> int | None:
    """The sequence number a state stands for, or ``None`` when a full listing is due."""
    if since is None:
        return None
    validity, _, seq = since.partition(":")
    if validity != data.validity or not seq.isdigit():
        return None
    number = int(seq)
    return number if number <= data.seq else None


class MemoryCollection(Collection[Item]):
    """A folder of a :class:`MemoryServer`."""

    backend: MemoryBackend

    def changes(self, since: str | None = None) -> Changes:
        return self.backend.server.changes(self.folder.id, since)

    def _get_batch(self, ids: Sequence[str]) -> Iterable[Entry[Item]]:
        return self.backend.server.get(self.folder.id, ids)

    def _create(self, item: Item) -> ItemRef:
        return self.backend.server.create(self.folder.id, item)

    def _put(self, id: str, item: Item, if_match: str) -> ItemRef:
        return self.backend.server.put(self.folder.id, id, item, if_match)

    def _delete(self, id: str, if_match: str) -> None:
        self.backend.server.delete(self.folder.id, id, if_match)


class MemoryBackend(Backend):
    """Folders and items in this process's memory (see the module documentation)."""

    name = "memory"
    description = "Folders and items in memory: the reference backend and test double."
    kinds = frozenset(FolderKind)
    capabilities = (
        Capability.INCREMENTAL
        | Capability.CREATE_FOLDERS
        | Capability.RENAME_FOLDERS
        | Capability.DELETE_FOLDERS
    )

    def __init__(
        self,
        account: Account,
        *,
        network: Network | None = None,
        server: MemoryServer | None = None,
        read_only: bool = False,
    ) -> None:
        super().__init__(account, network=network)
        if server is None:
            endpoint = next((e for e in account.endpoints if e.protocol == self.name), None)
            server = MemoryServer.named(endpoint.host if endpoint else account.email)
        self.server = server
        self.read_only = read_only

    def list_folders(self) -> list[Folder]:
        return self.server.folders()

    def collection(self, folder: Folder | str) -> MemoryCollection:
        folder_id = self._folder_id(folder)
        found = next((f for f in self.server.folders() if f.id == folder_id), None)
        if found is None:
            raise NotFoundError(f"no folder {folder_id!r}", backend=self.name, url=folder_id)
        return MemoryCollection(self, found)

    def _create_folder(
        self,
        name: str,
        kind: FolderKind,
        *,
        parent: str | None,
        display_name: str,
        color: str | None,
    ) -> Folder:
        folder_id = f"{parent}/{name}" if parent else name
        return self.server.add_folder(
            Folder.new(
                folder_id, kind, name=name, display_name=display_name, parent=parent, color=color
            )
        )

    def _rename_folder(self, folder_id: str, new_name: str) -> Folder:
        return self.server.rename_folder(folder_id, new_name)

    def _delete_folder(self, folder_id: str) -> None:
        self.server.delete_folder(folder_id)


@hookimpl
def openprotocols_register_backends(registry: BackendRegistry) -> None:
    """Register the memory backend."""
    registry.add(MemoryBackend)
