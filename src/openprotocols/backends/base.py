"""The collection protocol: the one seam every backend, store and sync meets at.

Terminology
-----------

*backend*
    A class that reaches one kind of server (or store) and provides folders: registered
    under a unique :attr:`Backend.name` by a plugin (see :mod:`openprotocols.plugins`).
    An instance is connected to one account.
*collection*
    One folder of items on a backend: a calendar, an address book, a mailbox.
*id*
    The collection's stable name for an item: a DAV href, an IMAP UID, a store key.
    Ids are chosen by the collection (:meth:`Collection.create` returns the new one).
*version*
    An opaque tag that changes whenever the item changes: an ETag, a modseq. Every write
    names the version it expects (``if_match``) and fails with
    :class:`~openprotocols.errors.ConflictError` if the item moved on meanwhile.
*state*
    An opaque string from :meth:`Collection.changes` that lets the next call report only
    what changed since (a sync token, UIDVALIDITY + HIGHESTMODSEQ).

Writing a backend
-----------------

Subclass :class:`Backend` and :class:`Collection`, declare what they can do in class
attributes (:attr:`Backend.capabilities`, :attr:`Backend.kinds`), and implement the
abstract methods. The public methods here are *template methods*: they check read-only
state, capabilities and item kinds once, for every backend, before calling the
underscored method the backend implements — a backend cannot forget those checks, and
nothing is sent when they fail. Reads are batched: implement :meth:`Collection._get_batch`
and the base class keeps memory bounded by :attr:`Collection.batch_size` (a protocol that
can carry several requests at once also implements :meth:`Collection._send_batch` and
:meth:`Collection._read_batch`, and sets :attr:`Collection.pipeline`).

:class:`openprotocols.backends.memory.MemoryBackend` is the reference implementation,
and :class:`openprotocols.testing.BackendContractTests` checks any backend against this
protocol.
"""

from __future__ import annotations

import abc
import enum
import itertools
import json
import logging
import tempfile
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

import attrs

from openprotocols.errors import CapabilityError, NotFoundError, ReadOnlyError
from openprotocols.model._base import Item, to_tuple
from openprotocols.model.folders import Folder, FolderKind

if TYPE_CHECKING:
    from openprotocols.model.accounts import Account, Endpoint
    from openprotocols.network import Network

__all__ = [
    "Backend",
    "Capability",
    "Changes",
    "Collection",
    "Entry",
    "ItemRef",
    "Listing",
    "Provider",
    "TokenProvider",
    "spill_refs",
]

log = logging.getLogger(__name__)

I = TypeVar("I", bound=Item)  # noqa: E741 - the conventional name for an item type


TokenProvider = Callable[["Account", "Endpoint"], str]
"""Returns a current OAuth2 access token for an endpoint of an account (whose
``auth`` is ``oauth2``): the application owns the OAuth flow and the refresh token; a
backend calls this before each authentication (XOAUTH2, OAUTHBEARER, HTTP Bearer) and
never stores or logs the token."""


class Capability(enum.Flag):
    """What a backend can do beyond the protocol every backend implements."""

    NONE = 0
    INCREMENTAL = enum.auto()
    """:meth:`Collection.changes` costs O(changes) given a state (sync tokens, CONDSTORE);
    without it, changes are found by listing every item's version."""
    CREATE_FOLDERS = enum.auto()
    RENAME_FOLDERS = enum.auto()
    DELETE_FOLDERS = enum.auto()


#: The folder operations and the capability each needs.
FOLDER_OPERATIONS: dict[str, Capability] = {
    "_create_folder": Capability.CREATE_FOLDERS,
    "_rename_folder": Capability.RENAME_FOLDERS,
    "_delete_folder": Capability.DELETE_FOLDERS,
}


@attrs.frozen
class ItemRef:
    """An item's id in its collection and the version the collection holds."""

    id: str
    version: str


@attrs.frozen
class Entry(Generic[I]):
    """An item as a collection holds it: its id, its version and the item itself.

    ``raw`` is the item's bytes exactly as the server stored them (an iCalendar or vCard
    file, an RFC 5322 message), for backends that read bytes; a store keeps them so that
    an edit can be written back with only the changed lines differing (the formats'
    ``serialize(item, original=raw)``). ``None`` for backends that hold models.
    """

    id: str
    version: str
    item: I
    raw: bytes | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def ref(self) -> ItemRef:
        """The entry's id and version."""
        return ItemRef(self.id, self.version)


class Listing(abc.ABC):
    """Item refs a backend keeps out of memory: a long listing it spilled to a
    temporary file. Sized, and iterable any number of times (each time reads the refs
    again); :attr:`Changes.changed` may be one, so that listing a collection of 100,000
    items does not hold 100,000 refs."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[ItemRef]:
        """The refs, read again."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """How many refs there are."""


HELD_REFS = 256
"""How many refs :func:`spill_refs` keeps in a tuple; more go to a temporary file."""

_SPILL_CHUNK = 1024


def spill_refs(
    refs: Iterable[ItemRef], *, held: int | None = None
) -> tuple[ItemRef, ...] | Listing:
    """``refs`` as a tuple if there are at most ``held`` of them (default
    :data:`HELD_REFS`), else as a :class:`Listing` in a temporary file, written as
    ``refs`` is read.

    For a backend's full listing: pass the refs as they are read from the server (a
    generator), and memory holds a chunk of them at a time, never the listing. ``refs``
    is consumed before this returns, so a generator may collect what the listing also
    tells (a state) as it goes.
    """
    held = HELD_REFS if held is None else held
    iterator = iter(refs)
    first = tuple(itertools.islice(iterator, held + 1))
    if len(first) <= held:
        return first
    return _SpilledRefs(itertools.chain(first, iterator))


class _SpilledRefs(Listing):
    """Refs in a temporary file: a line of JSON per chunk of ``[id, version]`` pairs
    (written by this process and read back by it; JSON, not pickle, so that reading
    can never run code). Iterations are independent, each keeping its own file offset,
    but not for two threads at once: they share the file."""

    def __init__(self, refs: Iterator[ItemRef]) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the listing
        self._count = 0
        try:
            while chunk := [(ref.id, ref.version) for ref in itertools.islice(refs, _SPILL_CHUNK)]:
                self._file.write(json.dumps(chunk).encode("ascii") + b"\n")
                self._count += len(chunk)
        except BaseException:
            self._file.close()
            raise
        weakref.finalize(self, self._file.close)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[ItemRef]:
        offset = 0
        while True:
            self._file.seek(offset)
            line = self._file.readline()
            if not line:
                return
            offset += len(line)
            for item_id, version in json.loads(line):
                yield ItemRef(item_id, version)


def _refs(value: Iterable[ItemRef]) -> tuple[ItemRef, ...] | Listing:
    return value if isinstance(value, Listing) else tuple(value)


@attrs.frozen
class Changes:
    """What changed in a collection since a state.

    ``changed`` lists the items created or modified, with their new versions; ``deleted``
    the ids of items that are gone; ``state`` is what to pass next time.

    When ``full`` is true the collection could not answer incrementally (no state given,
    the state expired, the collection was replaced): ``changed`` then lists *every* item
    the collection holds, ``deleted`` is empty, and the caller must treat any item it knew
    that is not listed as deleted — after re-associating items by content, never as a
    mass delete.

    ``changed`` is a tuple, or for a long listing a :class:`Listing` the backend keeps
    out of memory (iterate it; ``tuple()`` it only if it is known to be small).
    """

    changed: tuple[ItemRef, ...] | Listing = attrs.field(converter=_refs)
    deleted: tuple[str, ...] = attrs.field(converter=to_tuple)
    state: str
    full: bool = False


class Collection(abc.ABC, Generic[I]):
    """One folder of items on a backend. Obtained from :meth:`Backend.collection`."""

    batch_size: int = 100
    """How many items :meth:`get` asks :meth:`_get_batch` for at a time (a class default
    a backend sets; an instance may lower it)."""
    prefetch: int = 0
    """How many batches :meth:`get` asks :meth:`_get_batch` for ahead of the one the
    caller consumes, in a worker thread (``0``: none; ``True`` counts as one). For a
    backend whose ``_get_batch`` sends its request when called and decodes lazily, the
    network wait and the decoding then overlap, and with two ahead the server always has
    the next request while the worker reads an answer; memory holds ``prefetch + 1``
    batches. The worker runs one batch at a time, in order; the caller may use the
    collection meanwhile (the sync engine writes to it while it reads), so a backend
    that prefetches serialises the use of its connection (the DAV client has a lock)."""
    pipeline: int = 0
    """How many batches' requests :meth:`get` sends ahead of the batch the caller
    consumes, in the caller's thread, for a backend whose protocol can carry several
    requests on one connection (IMAP): it implements :meth:`_send_batch` and
    :meth:`_read_batch`. Ignored with :attr:`prefetch`."""

    def __init__(self, backend: Provider, folder: Folder) -> None:
        self.backend = backend
        self.folder = folder

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.backend.name}:{self.folder.id}>"

    @property
    def read_only(self) -> bool:
        """Whether writes are refused (the folder or the whole backend is read-only)."""
        return self.folder.read_only or self.backend.read_only

    def accepts(self, item: Item) -> bool:
        """Whether this collection can hold ``item``. By default: items of the folder's kind."""
        return str(item.kind) == str(self.folder.kind)

    # -- reading ---------------------------------------------------------------

    @abc.abstractmethod
    def changes(self, since: str | None = None) -> Changes:
        """Report what changed since ``since`` (a state from an earlier call).

        ``since=None`` lists every item (``full=True``). A state the collection cannot
        use any more also gives a full listing, never an error and never a partial answer.
        """

    def list(self) -> tuple[ItemRef, ...]:
        """Every item's id and version."""
        return tuple(self.changes(None).changed)

    def get(self, ids: Iterable[str]) -> Iterator[Entry[I]]:
        """Fetch items by id, :attr:`batch_size` at a time, in no particular order.

        Ids that no longer exist are skipped (an item may be deleted between
        :meth:`changes` and :meth:`get`); compare the ids received with those asked.
        With :attr:`prefetch`, the next batch is requested while this one is consumed.
        """
        batches = _batches(ids, self.batch_size)
        if not self.prefetch:
            sent: deque[Any] = deque()
            try:
                for batch in batches:
                    sent.append(self._send_batch(batch))
                    if len(sent) > self.pipeline:
                        yield from self._read_batch(sent.popleft())
                while sent:
                    yield from self._read_batch(sent.popleft())
            finally:
                for request in sent:  # a caller that stopped early, or an error
                    self._forget_batch(request)
            return
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        pending: deque[Future[Iterable[Entry[I]]]] = deque()
        try:
            for batch in batches:
                pending.append(pool.submit(self._fetch_batch, batch))
                if len(pending) > self.prefetch:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:
            # a caller that stops early (or an error) waits for the request running, not
            # for those queued behind it
            pool.shutdown(cancel_futures=True)

    def get_one(self, id: str) -> Entry[I]:
        """Fetch one item.

        :raises NotFoundError: there is no item with that id.
        """
        for entry in self._fetch_batch([id]):
            return entry
        raise NotFoundError(
            f"no item {id!r} in {self.folder.id}",
            id=id,
            backend=self.backend.name,
            url=self.folder.id,
        )

    @abc.abstractmethod
    def _get_batch(self, ids: Sequence[str]) -> Iterable[Entry[I]]:
        """Fetch at most :attr:`batch_size` items; skip ids that do not exist."""

    def _send_batch(self, ids: Sequence[str]) -> Any:
        """Send the request for a batch and return what :meth:`_read_batch` needs to
        read its answer. By default nothing is sent: the ids are returned."""
        return ids

    def _read_batch(self, request: Any) -> Iterable[Entry[I]]:
        """The entries of a batch :meth:`_send_batch` asked for. By default
        :meth:`_get_batch` of the ids."""
        return self._get_batch(request)

    def _forget_batch(self, request: Any) -> None:
        """A request :meth:`_send_batch` sent will not be read (the caller stopped)."""

    def _fetch_batch(self, ids: Sequence[str]) -> Iterable[Entry[I]]:
        return self._read_batch(self._send_batch(ids))

    # -- writing (checked here, once, for every backend) -----------------------

    def create(self, item: I, *, raw: bytes | None = None) -> ItemRef:
        """Add a new item; the collection picks its id.

        ``raw`` is the item's bytes as another collection stored them
        (:attr:`Entry.raw` of an entry whose item is passed unchanged: the bytes must
        hold exactly ``item``); a collection that keeps bytes may store them rather than
        serializing the item (the local store does, so the server's bytes survive).

        :raises ReadOnlyError: the collection is read-only.
        :raises CapabilityError: the collection cannot hold this kind of item.
        :raises AlreadyExistsError: an item with the same identity (e.g. UID) exists.
        """
        self._check_writable()
        self._check_accepts(item)
        ref = self._create(item) if raw is None else self._create_raw(item, raw)
        log.debug("Created %s in %r", ref.id, self)
        return ref

    def put(self, id: str, item: I, *, if_match: str, raw: bytes | None = None) -> ItemRef:
        """Replace an item, if it is still at version ``if_match`` (``raw`` as for
        :meth:`create`).

        :returns: the item's id and new version.
        :raises ConflictError: the item is at another version (``current_version`` says
            which) — nothing was written.
        :raises NotFoundError: the item was deleted.
        """
        self._check_writable()
        self._check_accepts(item)
        ref = (
            self._put(id, item, if_match) if raw is None else self._put_raw(id, item, if_match, raw)
        )
        log.debug("Updated %s in %r", id, self)
        return ref

    def delete(self, id: str, *, if_match: str) -> None:
        """Delete an item, if it is still at version ``if_match``.

        :raises ConflictError: the item is at another version — nothing was deleted.
        :raises NotFoundError: the item is already gone.
        """
        self._check_writable()
        self._delete(id, if_match)
        log.debug("Deleted %s from %r", id, self)

    @abc.abstractmethod
    def _create(self, item: I) -> ItemRef: ...

    @abc.abstractmethod
    def _put(self, id: str, item: I, if_match: str) -> ItemRef: ...

    @abc.abstractmethod
    def _delete(self, id: str, if_match: str) -> None: ...

    def _create_raw(self, item: I, raw: bytes) -> ItemRef:
        """:meth:`create` with the item's bytes; by default the bytes are not used."""
        return self._create(item)

    def _put_raw(self, id: str, item: I, if_match: str, raw: bytes) -> ItemRef:
        """:meth:`put` with the item's bytes; by default the bytes are not used."""
        return self._put(id, item, if_match)

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(
                f"{self.folder.display_name} is read-only",
                backend=self.backend.name,
                url=self.folder.id,
            )

    def _check_accepts(self, item: Item) -> None:
        if not self.accepts(item):
            raise CapabilityError(
                f"{self.folder.display_name} holds {self.folder.kind} items, "
                f"not {type(item).__name__}",
                capability=f"kind:{item.kind}",
                backend=self.backend.name,
                url=self.folder.id,
            )


class Provider(abc.ABC):
    """Anything that holds folders of items: a backend connected to an account, or the
    local store (:class:`openprotocols.store.LocalStore`).

    Class attributes declare what it is and can do; the plugin registry checks them when
    a backend class is registered.
    """

    name: ClassVar[str]
    """The registry key (``"imap"``, ``"caldav"``); also used in error messages."""
    description: ClassVar[str] = ""
    """One line for ``openprotocols capabilities`` and the docs."""
    kinds: ClassVar[frozenset[FolderKind]] = frozenset()
    """The folder kinds this provider can hold."""
    capabilities: ClassVar[Capability] = Capability.NONE
    read_only: bool = False
    """``True`` when no collection of this provider can be written (a class or an
    instance attribute: a server may say so only once connected)."""

    # -- life cycle ------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - optional hook with a default
        """Release connections. Safe to call more than once; by default nothing."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- folders ---------------------------------------------------------------

    @abc.abstractmethod
    def list_folders(self) -> list[Folder]:
        """Every folder of the account on this backend, parents before children."""

    @abc.abstractmethod
    def collection(self, folder: Folder | str) -> Collection[Item]:
        """The collection for a folder (or a folder id).

        :raises NotFoundError: there is no such folder.
        """

    def create_folder(
        self,
        name: str,
        kind: FolderKind | str,
        *,
        parent: str | None = None,
        display_name: str | None = None,
        color: str | None = None,
    ) -> Folder:
        """Create a folder.

        :raises CapabilityError: the backend cannot create folders, or not of this kind.
        :raises AlreadyExistsError: a folder with that name exists.
        """
        kind = FolderKind(kind)
        self._require(Capability.CREATE_FOLDERS, "create folders")
        self._check_writable()
        if kind not in self.kinds:
            raise CapabilityError(
                f"{self.name} cannot hold {kind} folders",
                capability=f"kind:{kind}",
                backend=self.name,
            )
        return self._create_folder(
            name, kind, parent=parent, display_name=display_name or name, color=color
        )

    def rename_folder(self, folder: Folder | str, new_name: str) -> Folder:
        """Rename a folder (its display name; also its id where the protocol says so)."""
        self._require(Capability.RENAME_FOLDERS, "rename folders")
        self._check_writable()
        return self._rename_folder(self._folder_id(folder), new_name)

    def delete_folder(self, folder: Folder | str) -> None:
        """Delete a folder and everything in it."""
        self._require(Capability.DELETE_FOLDERS, "delete folders")
        self._check_writable()
        self._delete_folder(self._folder_id(folder))

    # Implement these when declaring the matching capability; the registry checks that
    # every declared folder capability has its method.
    def _create_folder(
        self,
        name: str,
        kind: FolderKind,
        *,
        parent: str | None,
        display_name: str,
        color: str | None,
    ) -> Folder:
        raise CapabilityError("cannot create folders", backend=self.name)

    def _rename_folder(self, folder_id: str, new_name: str) -> Folder:
        raise CapabilityError("cannot rename folders", backend=self.name)

    def _delete_folder(self, folder_id: str) -> None:
        raise CapabilityError("cannot delete folders", backend=self.name)

    # -- helpers ---------------------------------------------------------------

    def _require(self, capability: Capability, what: str) -> None:
        if capability not in self.capabilities:
            raise CapabilityError(
                f"{self.name} cannot {what}", capability=capability.name, backend=self.name
            )

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{self.name} is read-only", backend=self.name)

    @staticmethod
    def _folder_id(folder: Folder | str) -> str:
        return folder if isinstance(folder, str) else folder.id


class Backend(Provider):
    """A provider of collections connected to one account over the network.

    Use it as a context manager, or call :meth:`open` and :meth:`close`::

        with openprotocols.connect(account, "caldav") as backend:
            for folder in backend.list_folders(): ...
    """

    def __init__(
        self,
        account: Account,
        *,
        network: Network | None = None,
        token_provider: TokenProvider | None = None,
    ) -> None:
        from openprotocols.network import Network

        self.account = account
        self.network = network if network is not None else Network()
        self.token_provider = token_provider

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.account.email}>"

    def open(self) -> None:
        """Connect and log in. Called by :func:`openprotocols.connect`; by default nothing."""


def _batches(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    """``ids`` in lists of at most ``size``, lazily."""
    batch: list[str] = []
    for item_id in ids:
        batch.append(item_id)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
