"""The MAPI store seam, and a store made of folders of .msg files.

Outlook reaches its items through Extended MAPI: a message store (``IMsgStore``) holds
folders (``IMAPIFolder``), a folder's contents table lists its messages with their entry
ids and change keys, and a message (``IMessage``) is a bag of properties with recipient
and attachment tables; named properties get store-specific ids from
``GetIDsFromNames``. :class:`MapiStore` and :class:`MapiFolder` are that much, in Python:
small enough that a Windows implementation over Extended MAPI fits (entry ids in hex,
``PR_CHANGE_KEY`` as the version, ``SaveChanges`` failing with ``MAPI_E_OBJECT_CHANGED``
as the conditional write), and a :class:`MapiProvider` turns any of them into a provider
of collections the sync engine binds like any server's.

:class:`MsgStore` implements the seam on a directory tree: each directory is a folder,
each ``*.msg`` file in it a message (its file name without ``.msg`` the entry id, a
digest of its bytes the version). :class:`MsgFolder` is the provider over it — an
Outlook folder exported as .msg files (drag and drop to Explorer) binds and syncs with a
CalDAV, CardDAV or IMAP collection::

    from openprotocols import Binding, LocalStore
    from openprotocols.outlook.store import MsgFolder

    with MsgFolder("exported/Calendar", kind="calendar") as folder:
        ...  # folder.collection(".") is a collection of Appointments

Writes are atomic (a temporary file renamed over the old one) and conditional (the
version on disk is compared first, under a per-folder lock file, so two processes
writing the same folder cannot lose each other's changes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import attrs

from openprotocols.backends.base import Capability, Changes, Collection, Entry, ItemRef, Provider
from openprotocols.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidItemError,
    NotFoundError,
    ParseError,
)
from openprotocols.model import Folder, FolderKind, Item
from openprotocols.outlook import msg
from openprotocols.outlook._mapping import from_mapi, to_mapi
from openprotocols.outlook._propset import PropertySet
from openprotocols.outlook.props import Named, PidTagMessageClass

__all__ = [
    "CONTAINER_CLASSES",
    "MapiEntry",
    "MapiFolder",
    "MapiFolderInfo",
    "MapiProvider",
    "MapiStore",
    "MsgFolder",
    "MsgStore",
]

CONTAINER_CLASSES: dict[FolderKind, str] = {
    FolderKind.MAIL: "IPF.Note",
    FolderKind.CALENDAR: "IPF.Appointment",
    FolderKind.CONTACTS: "IPF.Contact",
    FolderKind.TASKS: "IPF.Task",
}
"""Outlook's ``PR_CONTAINER_CLASS`` of each folder kind."""


@attrs.frozen
class MapiFolderInfo:
    """A folder as a store lists it: entry id, display name, ``PR_CONTAINER_CLASS``,
    parent entry id."""

    id: str
    name: str
    container_class: str
    parent: str | None = None


@attrs.frozen
class MapiEntry:
    """A row of a folder's contents table: entry id, version (``PR_CHANGE_KEY``)."""

    id: str
    version: str


class MapiFolder(Protocol):
    """One folder of a MAPI store (``IMAPIFolder`` and its messages)."""

    def entries(self) -> Iterator[MapiEntry]:
        """Every message's entry id and version (the contents table)."""
        ...

    def get(self, entry_id: str) -> tuple[PropertySet, str]:
        """A message's properties, tables included, and its version.

        :raises NotFoundError: no such message.
        """
        ...

    def put(self, entry_id: str | None, props: PropertySet, *, if_version: str | None) -> MapiEntry:
        """Create a message (``entry_id`` ``None``) or replace one still at ``if_version``.

        :raises ConflictError: the message changed meanwhile (``current_version``).
        :raises NotFoundError: the message is gone.
        """
        ...

    def delete(self, entry_id: str, *, if_version: str) -> None:
        """Delete a message still at ``if_version`` (same errors as :meth:`put`)."""
        ...


class MapiStore(Protocol):
    """A MAPI message store (``IMsgStore``)."""

    def folders(self) -> list[MapiFolderInfo]:
        """Every folder, parents first."""
        ...

    def folder(self, folder_id: str) -> MapiFolder:
        """Open a folder. :raises NotFoundError: no such folder."""
        ...

    def create_folder(self, name: str, container_class: str, parent: str | None) -> MapiFolderInfo:
        """Create a folder. :raises AlreadyExistsError: it exists."""
        ...

    def resolve_names(self, keys: Sequence[Named]) -> list[int]:
        """The store's property ids for named properties (``GetIDsFromNames`` with
        ``MAPI_CREATE``), in order."""
        ...


# --------------------------------------------------------------------------- .msg files

_CLASS_FILE = ".container-class"
_LOCK_FILE = ".lock"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


class _MsgDirectory:
    """A folder of .msg files (:class:`MapiFolder`)."""

    def __init__(self, path: Path, store: str) -> None:
        self.path = path
        self.store = store

    def entries(self) -> Iterator[MapiEntry]:
        for file in sorted(self.path.glob("*.msg")):
            with contextlib.suppress(FileNotFoundError):  # deleted while listing
                yield MapiEntry(file.stem, _version(file.read_bytes()))

    def get(self, entry_id: str) -> tuple[PropertySet, str]:
        data = self._read(entry_id)
        return msg.read_properties(data), _version(data)

    def put(self, entry_id: str | None, props: PropertySet, *, if_version: str | None) -> MapiEntry:
        data = msg.write_properties(props)
        with self._locked():
            if entry_id is None:
                entry_id = uuid.uuid4().hex
                if self._file(entry_id).exists():  # pragma: no cover - a uuid4 collision
                    raise AlreadyExistsError(f"{entry_id} exists", id=entry_id, backend=self.store)
            else:
                self._check_version(entry_id, if_version)
            self._write(entry_id, data)
        return MapiEntry(entry_id, _version(data))

    def delete(self, entry_id: str, *, if_version: str) -> None:
        with self._locked():
            self._check_version(entry_id, if_version)
            self._file(entry_id).unlink()

    def _file(self, entry_id: str) -> Path:
        if not _SAFE_ID.fullmatch(entry_id) or entry_id.startswith("."):
            raise NotFoundError(f"no message {entry_id!r}", id=entry_id, backend=self.store)
        return self.path / f"{entry_id}.msg"

    def _read(self, entry_id: str) -> bytes:
        try:
            return self._file(entry_id).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(
                f"no message {entry_id!r} in {self.path}", id=entry_id, backend=self.store
            ) from None

    def _check_version(self, entry_id: str, expected: str | None) -> None:
        current = _version(self._read(entry_id))
        if current != expected:
            raise ConflictError(
                f"{entry_id} changed in {self.path}",
                id=entry_id,
                current_version=current,
                backend=self.store,
            )

    def _write(self, entry_id: str, data: bytes) -> None:
        target = self._file(entry_id)
        temporary = target.with_name(f".{entry_id}.{os.getpid()}.tmp")
        with temporary.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(target)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.path / _LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class MsgStore:
    """A :class:`MapiStore` on a directory tree of .msg files.

    Folder ids are paths relative to ``root`` (``"."`` is the root itself). A folder's
    container class is in its ``.container-class`` file; without one, it is read from the
    messages' classes (``IPM.Appointment`` files make a calendar) or else ``IPF.Note``.
    """

    def __init__(self, root: str | os.PathLike[str], *, name: str = "msg") -> None:
        self.root = Path(root)
        self.name = name
        if not self.root.is_dir():
            raise NotFoundError(f"{self.root} is not a directory", backend=name)
        self._names: dict[Named, int] = {}

    def folders(self) -> list[MapiFolderInfo]:
        found = [self.root, *sorted(p for p in self.root.rglob("*") if p.is_dir())]
        return [self._info(path) for path in found if not path.name.startswith(".")]

    def folder(self, folder_id: str) -> _MsgDirectory:
        return _MsgDirectory(self._path(folder_id), self.name)

    def create_folder(self, name: str, container_class: str, parent: str | None) -> MapiFolderInfo:
        base = self._path(parent or ".")
        if not name or name.startswith(".") or "/" in name or "\\" in name:
            raise InvalidItemError(f"{name!r} is not a folder name")
        path = base / name
        try:
            path.mkdir()
        except FileExistsError:
            raise AlreadyExistsError(f"folder {name!r} exists", backend=self.name) from None
        (path / _CLASS_FILE).write_text(container_class + "\n", encoding="utf-8")
        return self._info(path)

    def resolve_names(self, keys: Sequence[Named]) -> list[int]:
        # A .msg file maps named properties itself (its __nameid storage); across the
        # store they only need to be stable, as Outlook's are, for the life of the store.
        return [self._names.setdefault(key, 0x8000 + len(self._names)) for key in keys]

    def _path(self, folder_id: str) -> Path:
        path = (self.root / folder_id).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_dir():
            raise NotFoundError(f"no folder {folder_id!r} in {self.root}", backend=self.name)
        return path

    def _info(self, path: Path) -> MapiFolderInfo:
        relative = path.relative_to(self.root)
        folder_id = relative.as_posix() if relative.parts else "."
        parent = relative.parent.as_posix() if len(relative.parts) > 1 else None
        if len(relative.parts) == 1:
            parent = "."
        return MapiFolderInfo(folder_id, path.name or str(path), _container_class(path), parent)


def _container_class(path: Path) -> str:
    marker = path / _CLASS_FILE
    if marker.is_file():
        return marker.read_text(encoding="utf-8").strip() or "IPF.Note"
    for file in sorted(path.glob("*.msg"))[:20]:
        with contextlib.suppress(ParseError, InvalidItemError, OSError):
            message_class = str(msg.read_properties(file.read_bytes()).get(PidTagMessageClass, ""))
            for prefix, container in _BY_MESSAGE_CLASS:
                if message_class.upper().startswith(prefix):
                    return container
    return "IPF.Note"


_BY_MESSAGE_CLASS = (
    ("IPM.APPOINTMENT", "IPF.Appointment"),
    ("IPM.SCHEDULE.MEETING", "IPF.Appointment"),
    ("IPM.CONTACT", "IPF.Contact"),
    ("IPM.DISTLIST", "IPF.Contact"),
    ("IPM.TASK", "IPF.Task"),
)


def _kind_of(container_class: str) -> FolderKind:
    upper = container_class.upper()
    for kind, prefix in CONTAINER_CLASSES.items():
        if upper == prefix.upper() or upper.startswith(prefix.upper() + "."):
            return kind
    return FolderKind.MAIL


# --------------------------------------------------------------------------- provider


class MapiCollection(Collection[Item]):
    """A MAPI folder as a collection: entries are model items (:func:`from_mapi`), and
    writes go through :func:`to_mapi`. Properties the model does not map survive an edit:
    they ride in the item's ``extended`` (see :mod:`openprotocols.outlook._mapping`)."""

    batch_size = 50

    def __init__(self, backend: MapiProvider, folder: Folder, mapi: MapiFolder) -> None:
        super().__init__(backend, folder)
        self.mapi = mapi

    def changes(self, since: str | None = None) -> Changes:
        refs = [ItemRef(e.id, e.version) for e in self.mapi.entries()]
        return Changes(changed=refs, deleted=(), state="", full=True)

    def _get_batch(self, ids: Sequence[str]) -> Iterable[Entry[Item]]:
        for entry_id in ids:
            try:
                props, version = self.mapi.get(entry_id)
            except NotFoundError:
                continue
            yield Entry(entry_id, version, from_mapi(props))

    def _create(self, item: Item) -> ItemRef:
        entry = self.mapi.put(None, to_mapi(item), if_version=None)
        return ItemRef(entry.id, entry.version)

    def _put(self, id: str, item: Item, if_match: str) -> ItemRef:
        entry = self.mapi.put(id, to_mapi(item), if_version=if_match)
        return ItemRef(entry.id, entry.version)

    def _delete(self, id: str, if_match: str) -> None:
        self.mapi.delete(id, if_version=if_match)


class MapiProvider(Provider):
    """A provider of collections over any :class:`MapiStore`."""

    name: ClassVar[str] = "mapi"
    description: ClassVar[str] = "Folders of a MAPI message store (Outlook)"
    kinds = frozenset(CONTAINER_CLASSES)
    capabilities = Capability.CREATE_FOLDERS

    def __init__(self, store: MapiStore) -> None:
        self.store = store

    def list_folders(self) -> list[Folder]:
        return [self._folder(info) for info in self.store.folders()]

    def collection(self, folder: Folder | str) -> MapiCollection:
        folder_id = self._folder_id(folder)
        info = next((f for f in self.store.folders() if f.id == folder_id), None)
        if info is None:
            raise NotFoundError(f"no folder {folder_id!r}", backend=self.name)
        return MapiCollection(self, self._folder(info), self.store.folder(folder_id))

    def _create_folder(
        self,
        name: str,
        kind: FolderKind,
        *,
        parent: str | None,
        display_name: str,
        color: str | None,
    ) -> Folder:
        return self._folder(self.store.create_folder(name, CONTAINER_CLASSES[kind], parent))

    @staticmethod
    def _folder(info: MapiFolderInfo) -> Folder:
        return Folder(
            id=info.id,
            kind=_kind_of(info.container_class),
            name=info.name,
            display_name=info.name,
            parent=info.parent,
        )


class MsgFolder(MapiProvider):
    """Folders of .msg files under ``root`` (see :class:`MsgStore`) as a provider; with
    ``kind``, the root folder holds that kind whatever its files say."""

    name: ClassVar[str] = "msg-folder"
    description: ClassVar[str] = "A directory of Outlook .msg files"

    def __init__(
        self, root: str | os.PathLike[str], *, kind: FolderKind | str | None = None
    ) -> None:
        store = MsgStore(root, name=self.name)
        if kind is not None:
            marker = store.root / _CLASS_FILE
            marker.write_text(CONTAINER_CLASSES[FolderKind(kind)] + "\n", encoding="utf-8")
        super().__init__(store)

    def __repr__(self) -> str:
        store: Any = self.store
        return f"<MsgFolder {store.root}>"
