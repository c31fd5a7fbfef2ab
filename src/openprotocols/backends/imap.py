"""The IMAP backend: mail folders as collections of :class:`~openprotocols.model.Message`.

:class:`IMAPBackend` lists, creates, renames and deletes mailboxes; each mailbox is an
:class:`IMAPCollection`, so the sync engine treats a mail folder like any other
collection. All protocol work goes through the adapter in :mod:`._imap` (security,
bounds, imapclient's pitfalls); this module decides *what* to ask. ``docs/backends/imap.md``
is the user's guide; the design in short:

Ids and versions
    An id is ``"<UIDVALIDITY>:<UID>"``, so an id is never reused when the server resets
    a mailbox (a new UIDVALIDITY). A version is the message's mod-sequence under
    CONDSTORE, else ``"f"`` + a digest of its flags (content never changes: IMAP
    messages are immutable). ``\\Recent`` is session state and never part of either.
States and change detection
    A state string starts ``imap1.`` and names the strategy it was made with:
    ``q`` (QRESYNC: ``SELECT ... (QRESYNC (uidvalidity modseq))`` answers changes and
    ``VANISHED`` in one round trip), ``c`` (CONDSTORE: ``UID FETCH 1:* (CHANGEDSINCE n)``
    plus the UID set kept in the state, so expunges are found; a ``UID SEARCH`` is
    needed only when the message count says something was expunged) or ``f`` (neither:
    every UID's flag digest is kept in the state, grouped by flag set, and compared with
    a listing of every message's flags — O(items), the only O(items) path). A state of
    another mailbox, UIDVALIDITY or strategy gives a full listing (``full=True``); the
    engine re-associates by Message-ID and content hash, which :meth:`IMAPCollection.
    fingerprints` returns cheaply (headers and size, no bodies). A full listing is read
    in chunks (``FETCH 1:2000``, ``FETCH 2001:4000``... by sequence number, which a
    server may not renumber between them) and handed on in a temporary file, so its
    memory does not grow with the mailbox (the ``c`` and ``f`` states do: they hold
    every UID).
Headers first
    :meth:`IMAPCollection.get` returns headers-only messages (flags, header block,
    envelope, size, MIME layout from ``BODYSTRUCTURE``) unless the account's
    ``download_entire_messages`` is set; :meth:`IMAPCollection.fetch_body` and
    :meth:`IMAPCollection.fetch_part` load the rest on demand. Whole messages take one
    FETCH per batch (``BODY.PEEK[]`` capped at the literal limit: a message cut short
    stays headers-only) and their MIME layout from ``BODYSTRUCTURE`` too, not from a
    parse of the source (:func:`mime.parse` only when the server sends no structure).
Writes
    ``create`` is APPEND (the new UID from UIDPLUS's APPENDUID, else found by
    Message-ID). ``put`` stores flags and keywords with ``UNCHANGEDSINCE`` under
    CONDSTORE (a changed message raises :class:`ConflictError` with its current
    version); a put whose content differs is APPEND of the new message and expunge of
    the old one, with a new id. ``delete`` expunges (``delete="expunge"``, the default)
    or moves to Trash (``delete="trash"``). :meth:`IMAPCollection.move` uses MOVE, or
    COPY + ``\\Deleted`` + UID EXPUNGE; :meth:`IMAPCollection.mark_all_read` is a few
    chunked STOREs.
Push
    :meth:`IMAPCollection.idle` waits with IDLE (re-issued every 25 minutes at most), or
    polls with NOOP where the server has no IDLE, and calls back on every change.
Threads
    Each thread gets its own connection (imapclient is not thread-safe). A connection
    that broke (a malformed response, a lost link) is replaced on the next call. When a
    thread ends, its connection goes back to the backend, and the next thread that needs
    one takes it instead of logging in again: repeated parallel syncs of an account's
    folders (:func:`~openprotocols.store.sync_all`) hold as many connections as workers,
    not more with every run.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import logging
import re
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from openprotocols.errors import (
    BackendError,
    CapabilityError,
    ConfigurationError,
    ConflictError,
    ConnectionError,
    NotFoundError,
    ReadOnlyError,
    ServerError,
)
from openprotocols.formats import mime
from openprotocols.hookspecs import hookimpl
from openprotocols.model._base import Extended, RawProperty
from openprotocols.model.folders import Folder, FolderKind, FolderRole
from openprotocols.model.mail import Message, MessagePart

from ._imap import (
    Connection,
    FetchData,
    Limits,
    ListedFolder,
    Namespace,
    Pending,
    Selected,
    chunks,
    decode_name,
    decode_transfer,
    encode_name,
    parse_uid_set,
    uid_set,
)
from .base import (
    Backend,
    Capability,
    Changes,
    Collection,
    Entry,
    ItemRef,
    TokenProvider,
    spill_refs,
)

if TYPE_CHECKING:
    from openprotocols.model.accounts import Account
    from openprotocols.network import Network
    from openprotocols.plugins import BackendRegistry

__all__ = [
    "Fingerprint",
    "FolderChanges",
    "IMAPBackend",
    "IMAPCollection",
    "fingerprint",
]

log = logging.getLogger(__name__)

IDLE_RENEWAL = 25 * 60.0
"""Seconds after which IDLE is ended and re-issued (RFC 2177 asks for less than 29 min)."""

_STATE_PREFIX = "imap1"
_RECENT = "\\recent"
_STORE_CHUNK = 2000
"""UIDs per STORE of :meth:`IMAPCollection.mark_all_read` and per flag fetch."""

#: Names that give a folder its role when no folder carries the special-use attribute.
ROLE_NAMES: Mapping[FolderRole, tuple[str, ...]] = {
    FolderRole.SENT: (
        "Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendet", "Gesendete Elemente",
        "Gesendete Objekte", "Envoyés", "Elementos enviados",
    ),
    FolderRole.DRAFTS: ("Drafts", "Draft", "Entwürfe", "Brouillons", "Borradores"),
    FolderRole.TRASH: (
        "Trash", "Deleted Items", "Deleted Messages", "Bin", "Papierkorb",
        "Gelöschte Elemente", "Gelöschte Objekte", "Corbeille", "Papelera",
    ),
    FolderRole.JUNK: ("Junk", "Spam", "Junk E-mail", "Junk Email", "Junk-E-Mail", "Bulk Mail"),
    FolderRole.ARCHIVE: ("Archive", "Archives", "Archiv"),
}  # fmt: skip

_SPECIAL_USE: Mapping[str, FolderRole] = {
    "\\Sent": FolderRole.SENT,
    "\\Drafts": FolderRole.DRAFTS,
    "\\Trash": FolderRole.TRASH,
    "\\Junk": FolderRole.JUNK,
    "\\Archive": FolderRole.ARCHIVE,
}

_HEADER_ITEMS = "UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER]"
_WHOLE_ITEMS = "UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[]<0.{limit}>"
_WHOLE_KEY = b"BODY[]<0>"
"""The key of a partial ``BODY[]<0.n>`` in FETCH data (the server names the start only)."""


@attrs.frozen
class FolderChanges:
    """What :meth:`IMAPBackend.refresh_folders` found: folders that appeared and that
    went away since the previous listing, and the whole list now."""

    added: tuple[Folder, ...]
    removed: tuple[Folder, ...]
    folders: tuple[Folder, ...]


@attrs.frozen
class Fingerprint:
    """What identifies a message across a UIDVALIDITY change: its Message-ID and a hash
    of its header block and size (see :func:`fingerprint`)."""

    message_id: str | None
    content_hash: str


def fingerprint(message: Message) -> Fingerprint:
    """The :class:`Fingerprint` of a message held locally (it needs ``headers`` and
    ``size``, which every message from this backend has, headers-only or whole).

    :raises ConfigurationError: the message has no header block.
    """
    if message.headers is None:
        raise ConfigurationError("a fingerprint needs the message's header block")
    size = message.size if message.size is not None else len(message.content or b"")
    return Fingerprint(message.envelope.message_id, _content_hash(message.headers, size))


def _content_hash(headers: bytes, size: int) -> str:
    digest = hashlib.sha256(str(size).encode("ascii") + b"\n" + headers)
    return digest.hexdigest()[:32]


def _flags(values: Iterable[Any]) -> frozenset[str]:
    """FETCH FLAGS as strings, without the session flag ``\\Recent``."""
    found = (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values)
    return frozenset(flag for flag in found if flag.casefold() != _RECENT)


def _flag_digest(flags: Iterable[str]) -> str:
    text = "\n".join(sorted({flag.casefold() for flag in flags if flag.casefold() != _RECENT}))
    return "f" + hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]


def _modseq(data: FetchData) -> int | None:
    value = data.get(b"MODSEQ")
    if isinstance(value, tuple) and value:
        value = value[0]
    return value if isinstance(value, int) else None


# -------------------------------------------------------------------------- states


def _pack(value: object) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii")


def _unpack(text: str) -> Any:
    raw = zlib.decompress(base64.urlsafe_b64decode(text.encode("ascii")), bufsize=1 << 16)
    return json.loads(raw)


@attrs.frozen
class _State:
    """A parsed state string. ``uids`` (CONDSTORE) and ``digests`` (no CONDSTORE) keep
    what the server cannot tell: which UIDs existed, and their flags' digests."""

    mode: Literal["q", "c", "f"]
    folder: str
    uidvalidity: int
    modseq: int = 0
    uidnext: int = 0
    uids: frozenset[int] = frozenset()
    digests: Mapping[int, str] = attrs.field(factory=dict)

    def encode(self) -> str:
        head = [
            _STATE_PREFIX,
            self.mode,
            str(self.uidvalidity),
            str(self.modseq),
            str(self.uidnext),
        ]
        folder = hashlib.sha1(self.folder.encode(), usedforsecurity=False).hexdigest()[:8]
        head.append(folder)
        if self.mode == "c":
            head.append(_pack(uid_set(self.uids)))
        elif self.mode == "f":
            groups: dict[str, list[int]] = {}
            for uid, digest in self.digests.items():
                groups.setdefault(digest, []).append(uid)
            head.append(_pack({digest: uid_set(uids) for digest, uids in groups.items()}))
        return ".".join(head)

    @classmethod
    def decode(cls, text: str | None, folder: str) -> _State | None:
        """The state, or ``None`` for anything unusable (never an error)."""
        if not text:
            return None
        parts = text.split(".")
        try:
            prefix, mode, validity, modseq, uidnext, folder_hash, *rest = parts
            if prefix != _STATE_PREFIX or mode not in ("q", "c", "f"):
                return None
            if folder_hash != hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest()[:8]:
                return None
            state = cls(mode, folder, int(validity), int(modseq), int(uidnext))  # type: ignore[arg-type]
            return state._with_rest(rest)
        except (ValueError, TypeError, zlib.error, json.JSONDecodeError, UnicodeError):
            return None

    def _with_rest(self, rest: Sequence[str]) -> _State:
        """The UID set (``c``) or flag digests (``f``) packed at the end of a state."""
        if self.mode == "q":
            return self
        (packed,) = rest
        value = _unpack(packed)
        if self.mode == "c":
            return attrs.evolve(self, uids=frozenset(parse_uid_set(value) if value else ()))
        digests = {
            uid: str(digest)
            for digest, uids in dict(value).items()
            for uid in (parse_uid_set(uids) if uids else ())
        }
        return attrs.evolve(self, digests=digests)


# -------------------------------------------------------------------------- parts


def _parts(structure: Any) -> tuple[MessagePart, ...]:
    """MIME parts from a BODYSTRUCTURE, numbered as :func:`mime.parse` numbers them.

    A structure that cannot be read gives no parts: the message is kept regardless.
    """
    found: list[MessagePart] = []
    try:
        _walk_message(tuple(structure), "", found, 0)
    except (TypeError, ValueError, IndexError, AttributeError):
        return ()
    return tuple(found)


def _is_multipart(body: Sequence[Any]) -> bool:
    return bool(body) and isinstance(body[0], list | tuple)


def _walk_message(body: Sequence[Any], prefix: str, found: list[MessagePart], depth: int) -> None:
    if depth > mime.MAX_DEPTH:
        return
    if _is_multipart(body):
        for number, child in enumerate(_children(body), 1):
            _walk_part(child, f"{prefix}{number}", found, depth + 1)
    else:
        _walk_part(body, f"{prefix}1", found, depth + 1)


def _children(body: Sequence[Any]) -> list[Sequence[Any]]:
    first = body[0]
    if isinstance(first, list):  # imapclient's BodyData gathers the children in a list
        return list(first)
    # A plain tuple (a multipart inside message/rfc822): the parts come first, then the
    # subtype, then the parameters, which are a tuple too.
    return list(itertools.takewhile(lambda part: isinstance(part, tuple), body))


def _walk_part(body: Sequence[Any], section: str, found: list[MessagePart], depth: int) -> None:
    if depth > mime.MAX_DEPTH:
        return
    if _is_multipart(body):
        children = _children(body)
        subtype = _str(body[1] if isinstance(body[0], list) else body[len(children)])
        found.append(MessagePart(section=section, content_type=f"multipart/{subtype.lower()}"))
        for number, child in enumerate(children, 1):
            _walk_part(child, f"{section}.{number}", found, depth + 1)
        return
    part = _describe(body, section)
    found.append(part)
    # a type that is not type/subtype reads as text/plain: never an encapsulated message
    if part.content_type in ("message/rfc822", "message/global") and len(body) > 8:
        inner = body[8]
        if isinstance(inner, tuple | list):
            _walk_message(tuple(inner), f"{section}.", found, depth + 1)


def _str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _params(value: Any) -> dict[str, str]:
    if not isinstance(value, tuple | list):
        return {}
    items = list(value)
    pairs = [(_str(k).lower(), _str(v)) for k, v in zip(items[::2], items[1::2], strict=False)]
    if any("*" in name for name, _ in pairs):
        return _rfc2231(pairs)
    return dict(pairs)


def _rfc2231(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Parameters with RFC 2231 continuations and charsets (``filename*0*=utf-8''...``)
    joined and decoded: servers pass them on as written."""
    import email.utils

    try:  # decode_params() takes the header's own value first
        decoded = email.utils.decode_params([("", ""), *pairs])[1:]
        return {name: _collapse(value) for name, value in decoded}
    except Exception:  # malformed escapes or charset: the parameters as written
        return dict(pairs)


def _describe(body: Sequence[Any], section: str) -> MessagePart:
    content_type = f"{_str(body[0])}/{_str(body[1])}".lower()
    params = _params(body[2])
    size = body[6] if len(body) > 6 and isinstance(body[6], int) else None
    # Extension data: after the lines count for text/* (and message/rfc822's extras).
    ext = 8 if content_type.startswith("text/") else 7
    if content_type in ("message/rfc822", "message/global"):
        ext = 10
    disposition, disposition_params = _disposition(body[ext + 1] if len(body) > ext + 1 else None)
    filename = disposition_params.get("filename") or params.get("name")
    return MessagePart(
        section=section,
        content_type=content_type if _MIME_TYPE.fullmatch(content_type) else "text/plain",
        charset=params.get("charset", "").lower() or None,
        size=size if size is None or size >= 0 else None,
        encoding=_str(body[5]).lower() or None,
        filename=decode_header_words(filename) if filename else None,
        disposition=disposition,
        content_id=_str(body[3]) or None,
    )


def _collapse(value: str | tuple[str | None, str | None, str]) -> str:
    import email.utils

    collapsed = email.utils.collapse_rfc2231_value(value)
    # decode_params() quotes every value; collapsing unquotes only the plain ones.
    return email.utils.unquote(collapsed) if isinstance(value, tuple) else collapsed


_MIME_TYPE = re.compile(r"[^/\s]+/[^/\s]+")
"""``type/subtype``; anything else reads as ``text/plain`` (RFC 2045 section 5.2), as
:func:`mime.parse` reads it."""


def _disposition(value: Any) -> tuple[str | None, dict[str, str]]:
    """A body-fld-dsp: ``("attachment" ("filename" "x"))``; also the header text some
    servers (pymap) send in its place."""
    if isinstance(value, tuple | list) and value:
        return _str(value[0]).lower() or None, _params(value[1]) if len(value) > 1 else {}
    if isinstance(value, bytes):
        import email.policy

        header = email.policy.default.header_factory("content-disposition", _str(value))
        kind = getattr(header, "content_disposition", None)
        return (kind or None), dict(getattr(header, "params", {}))
    return None, {}


def _whole_message(
    raw: bytes, data: FetchData, flags: Iterable[str] = (), **fields: Any
) -> Message:
    """A whole message from its bytes and the FETCH data that came with them, with
    ``flags`` and the other ``fields`` (folder, UID...) a collection adds.

    The MIME layout comes from the server's ``BODYSTRUCTURE``, the envelope from the
    header block alone, as for a headers-only message: parsing the whole source
    (:func:`mime.parse`) costs several times more and is left for a server that sent no
    readable structure. ``tests/backends/imap/test_whole_messages.py`` compares the two
    on the MIME corpus. The message is built once, not copied field by field: this
    runs for every message a sync downloads.
    """
    parts = _parts(data[b"BODYSTRUCTURE"]) if b"BODYSTRUCTURE" in data else ()
    if not parts:  # missing or unreadable: every readable structure has a part "1"
        return attrs.evolve(mime.parse(raw), **fields).with_flags(*flags)
    # parse_headers sets the envelope and the header block, nothing else
    parsed = mime.parse_headers(raw[: mime.header_block_end(raw)])
    return Message.from_flags(
        flags,
        envelope=parsed.envelope,
        headers=parsed.headers,
        size=len(raw),
        content=raw,
        parts=parts,
        **fields,
    )


def _headers_message(data: FetchData, flags: Iterable[str] = (), **fields: Any) -> Message:
    """A headers-only message from FETCH data (header block, size, ``BODYSTRUCTURE``),
    with ``flags`` and the other ``fields`` a collection adds; built once, as
    :func:`_whole_message` is."""
    header = data.get(b"BODY[HEADER]")
    # parse_headers sets the envelope and the header block, nothing else
    parsed = mime.parse_headers(header if isinstance(header, bytes) else b"")
    size = data.get(b"RFC822.SIZE")
    return Message.from_flags(
        flags,
        envelope=parsed.envelope,
        headers=parsed.headers,
        size=size if isinstance(size, int) and size >= 0 else None,
        parts=_parts(data[b"BODYSTRUCTURE"]) if b"BODYSTRUCTURE" in data else (),
        **fields,
    )


def _internal_date(value: Any) -> dt.datetime | None:
    """INTERNALDATE with a plain :class:`datetime.timezone`. imapclient gives its own
    ``FixedOffset``, whose ``str()`` is its memory address: in the content hash, the
    same message fetched twice would not compare equal."""
    if not isinstance(value, dt.datetime):
        return None
    offset = value.utcoffset()
    return value if offset is None else value.replace(tzinfo=dt.timezone(offset))


def decode_header_words(text: str) -> str:
    """RFC 2047 encoded words in a file name, decoded where possible."""
    if "=?" not in text:  # no encoded word: the email package would return it as it is
        return text
    import email.header

    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except Exception:  # a mangled name stays as it was written
        return text


# -------------------------------------------------------------------------- collection


@attrs.frozen
class _Sent:
    """A batch's ``UID FETCH`` on its way, and what reading its answer needs."""

    conn: Connection
    selected: Selected
    whole: bool
    pending: Pending


class IMAPCollection(Collection[Message]):
    """One mailbox. Obtained from :meth:`IMAPBackend.collection`."""

    backend: IMAPBackend
    batch_size = 100
    pipeline = 1
    """How many batches' ``UID FETCH`` commands :meth:`get` keeps on their way ahead of
    the batch being consumed (``0``: one command at a time). The server answers the next
    one while this process decodes, with no thread; other commands may use the
    connection meanwhile (the sync engine writes while it reads): the answers on their
    way are read first and kept (see :meth:`Connection.send_uid_fetch`)."""
    listing_batch = 2000
    """How many messages a full listing reads with one ``FETCH`` (see :meth:`changes`)."""

    def __init__(self, backend: IMAPBackend, folder: Folder) -> None:
        super().__init__(backend, folder)
        self._server_read_only = False

    @property
    def read_only(self) -> bool:
        """Read-only as listed, or as the server said when the mailbox was selected."""
        return super().read_only or self._server_read_only

    # -- plumbing -------------------------------------------------------------------

    def _conn(self) -> Connection:
        return self.backend._connection()

    def _select(self, conn: Connection, *, fresh: bool = False) -> Selected:
        selected = conn.select(self.folder.id) if fresh else conn.require_selected(self.folder.id)
        self._server_read_only = selected.read_only
        return selected

    def _writable(self, conn: Connection) -> Selected:
        selected = self._select(conn)
        if selected.read_only:
            raise ReadOnlyError(
                f"{self.folder.display_name} is read-only on the server",
                backend=self.backend.name,
                url=self.folder.id,
            )
        return selected

    def _mode(self, conn: Connection, selected: Selected) -> Literal["q", "c", "f"]:
        if selected.highestmodseq is None:
            return "f"
        return "q" if conn.qresync else "c"

    def _id(self, selected: Selected, uid: int) -> str:
        return f"{selected.uidvalidity}:{uid}"

    def _uid(self, selected: Selected, item_id: str) -> int | None:
        """The UID an id names in this selection, ``None`` for a foreign or bad id."""
        validity, _, uid = item_id.partition(":")
        if validity != str(selected.uidvalidity) or not uid.isdigit() or int(uid) < 1:
            return None
        return int(uid)

    def _need_uid(self, selected: Selected, item_id: str) -> int:
        uid = self._uid(selected, item_id)
        if uid is None:
            raise self._not_found(item_id)
        return uid

    def _not_found(self, item_id: str) -> NotFoundError:
        return NotFoundError(
            f"no message {item_id!r} in {self.folder.id}",
            id=item_id,
            backend=self.backend.name,
            url=self.folder.id,
        )

    def _version(self, conn: Connection, selected: Selected, data: FetchData) -> str:
        if self._mode(conn, selected) != "f":
            modseq = _modseq(data)
            if modseq is not None:
                return str(modseq)
        return _flag_digest(_flags(data.get(b"FLAGS", ())))

    def _current(self, conn: Connection, selected: Selected, uid: int) -> FetchData | None:
        """A message's flags (and mod-sequence), or ``None`` if it does not exist."""
        items = "UID FLAGS MODSEQ" if self._mode(conn, selected) != "f" else "UID FLAGS"
        return conn.uid_fetch(str(uid), items).get(uid)

    # -- changes ----------------------------------------------------------------------

    def changes(self, since: str | None = None) -> Changes:
        """What changed since ``since`` (see the module documentation for the strategies).

        A state of another mailbox, another UIDVALIDITY or another strategy gives a full
        listing; so does ``None``.
        """
        conn = self._conn()
        state = _State.decode(since, self.folder.id)
        qresync = None
        if state is not None and state.mode == "q" and conn.qresync:
            qresync = (state.uidvalidity, state.modseq, None)
        selected = conn.select(self.folder.id, qresync=qresync)
        self._server_read_only = selected.read_only
        mode = self._mode(conn, selected)
        if state is None or state.mode != mode or state.uidvalidity != selected.uidvalidity:
            return self._full(conn, selected, mode)
        if mode == "q":
            return self._changes_qresync(conn, selected, state)
        if mode == "c":
            return self._changes_condstore(conn, selected, state)
        return self._changes_flags(conn, selected, state)

    def _listed(
        self, conn: Connection, selected: Selected, mode: str
    ) -> Iterator[tuple[int, FetchData]]:
        """Every message's UID and its FETCH data (flags, and mod-sequence unless
        ``mode`` is ``"f"``), in UID order, read in chunks of :attr:`listing_batch`
        messages by sequence number: memory holds one chunk, and no single answer has
        more than that many responses.

        Should the server report an expunge with a chunk (a numbering it may not move
        then), that chunk is dropped and the rest is read by UID, after the last UID
        read: one ``UID FETCH n:*``, unbounded but never wrong.
        """
        items = "UID FLAGS" if mode == "f" else "UID FLAGS MODSEQ"
        last_uid = 0
        for first in range(1, selected.exists + 1, self.listing_batch):
            last = min(first + self.listing_batch - 1, selected.exists)
            chunk = conn.fetch_numbers(first, last, items)
            if chunk is None:
                rest = conn.uid_fetch(f"{last_uid + 1}:*", items)
                yield from sorted((uid, data) for uid, data in rest.items() if uid > last_uid)
                return
            for uid, data in sorted(chunk.items()):
                if uid > last_uid:  # numbers and UIDs ascend together
                    last_uid = uid
                    yield uid, data

    def _full(self, conn: Connection, selected: Selected, mode: Literal["q", "c", "f"]) -> Changes:
        uids: set[int] = set()
        digests: dict[int, str] = {}

        def refs() -> Iterator[ItemRef]:
            for uid, data in self._listed(conn, selected, mode):
                if mode == "c":
                    uids.add(uid)
                elif mode == "f":
                    digests[uid] = _flag_digest(_flags(data.get(b"FLAGS", ())))
                yield ItemRef(self._id(selected, uid), self._version(conn, selected, data))

        listing = spill_refs(refs())  # reads the whole listing: uids and digests are done
        state = _State(
            mode,
            self.folder.id,
            selected.uidvalidity,
            selected.highestmodseq or 0,
            selected.uidnext,
            uids=frozenset(uids),
            digests=digests,
        )
        return Changes(listing, (), state.encode(), full=True)

    def _changes_qresync(self, conn: Connection, selected: Selected, state: _State) -> Changes:
        changed = {
            uid: data
            for uid, data in selected.changed.items()
            if uid not in selected.vanished and (_modseq(data) or 0) > state.modseq
        }
        if selected.uidnext > state.uidnext and not any(uid >= state.uidnext for uid in changed):
            # Servers report new messages with the QRESYNC select; ask if one did not.
            fresh = conn.uid_fetch(f"{state.uidnext}:*", "UID FLAGS MODSEQ")
            changed.update({u: d for u, d in fresh.items() if u >= state.uidnext})
        # UIDs at or above the old UIDNEXT came and went in between: never known.
        deleted = sorted(uid for uid in selected.vanished if uid < state.uidnext)
        new_state = attrs.evolve(
            state, modseq=selected.highestmodseq or state.modseq, uidnext=selected.uidnext
        )
        return self._result(conn, selected, changed, deleted, new_state)

    def _changes_condstore(self, conn: Connection, selected: Selected, state: _State) -> Changes:
        changed: dict[int, FetchData] = {}
        if selected.exists and selected.highestmodseq != state.modseq:
            changed = conn.uid_fetch(
                "1:*", "UID FLAGS MODSEQ", modifiers=f"CHANGEDSINCE {state.modseq}"
            )
        new_uids = {uid for uid in changed if uid >= state.uidnext}
        old = set(state.uids)
        if selected.exists != len(old) + len(new_uids):  # something was expunged
            still = (
                set(conn.uid_search(f"UID 1:{state.uidnext - 1}")) if state.uidnext > 1 else set()
            )
            deleted = old - still
        else:
            deleted = set()
        uids = (old - deleted) | new_uids
        new_state = attrs.evolve(
            state,
            modseq=selected.highestmodseq or state.modseq,
            uidnext=selected.uidnext,
            uids=frozenset(uids),
        )
        changed = {uid: data for uid, data in changed.items() if uid not in deleted}
        return self._result(conn, selected, changed, sorted(deleted), new_state)

    def _changes_flags(self, conn: Connection, selected: Selected, state: _State) -> Changes:
        digests: dict[int, str] = {}
        changed: dict[int, FetchData] = {}
        for uid, data in self._listed(conn, selected, "f"):
            digests[uid] = digest = _flag_digest(_flags(data.get(b"FLAGS", ())))
            if state.digests.get(uid) != digest:
                changed[uid] = data
        deleted = sorted(set(state.digests) - set(digests))
        new_state = attrs.evolve(state, uidnext=selected.uidnext, digests=digests)
        return self._result(conn, selected, changed, deleted, new_state)

    def _result(
        self,
        conn: Connection,
        selected: Selected,
        changed: Mapping[int, FetchData],
        deleted: Iterable[int],
        state: _State,
    ) -> Changes:
        refs = [
            ItemRef(self._id(selected, uid), self._version(conn, selected, data))
            for uid, data in sorted(changed.items())
        ]
        return Changes(refs, [self._id(selected, uid) for uid in deleted], state.encode())

    # -- reading ------------------------------------------------------------------------

    def _get_batch(self, ids: Sequence[str]) -> Iterable[Entry[Message]]:
        return self._fetch_batch(ids)

    def _send_batch(self, ids: Sequence[str]) -> _Sent | None:
        """Send the ``UID FETCH`` of a batch (``None`` when no id names a message here)."""
        conn = self._conn()
        selected = self._select(conn)
        uids = sorted({uid for i in ids if (uid := self._uid(selected, i)) is not None})
        if not uids:
            return None
        whole = self.backend.account.options.download_entire_messages
        items = (
            self._whole_items(conn, selected)
            if whole
            else self._items(conn, selected, _HEADER_ITEMS)
        )
        return _Sent(conn, selected, whole, conn.send_uid_fetch(uid_set(uids), items))

    def _forget_batch(self, request: _Sent | None) -> None:
        if request is not None:
            request.conn.forget(request.pending)

    def _read_batch(self, sent: _Sent | None) -> list[Entry[Message]]:
        if sent is None:
            return []
        conn, selected = sent.conn, sent.selected
        fetched = conn.read_uid_fetch(sent.pending)
        if sent.whole:
            return self._whole_entries(conn, selected, fetched)
        return self._header_entries(conn, selected, fetched)

    def _items(self, conn: Connection, selected: Selected, base: str) -> str:
        return base + (" MODSEQ" if self._mode(conn, selected) != "f" else "")

    def _fetch_headers(
        self, conn: Connection, selected: Selected, uids: Sequence[int]
    ) -> list[Entry[Message]]:
        fetched = conn.uid_fetch(uid_set(uids), self._items(conn, selected, _HEADER_ITEMS))
        return self._header_entries(conn, selected, fetched)

    def _header_entries(
        self, conn: Connection, selected: Selected, fetched: Mapping[int, FetchData]
    ) -> list[Entry[Message]]:
        return [
            self._entry(conn, selected, uid, data, whole=False)
            for uid, data in sorted(fetched.items())
        ]

    def _whole_entries(
        self, conn: Connection, selected: Selected, fetched: Mapping[int, FetchData]
    ) -> list[Entry[Message]]:
        # One round trip: the body is fetched partially, capped at the literal limit, so a
        # larger message is never read whole; one that came back cut short is kept
        # headers-only, from the header block in the bytes that did arrive.
        limit = self.backend.limits.max_literal
        entries: list[Entry[Message]] = []
        headerless: list[int] = []
        for uid, data in sorted(fetched.items()):
            raw = data.get(_WHOLE_KEY)
            size = data.get(b"RFC822.SIZE")
            # Shorter than the cap is whole, whatever RFC822.SIZE says (some servers
            # report it inexactly); at the cap, the size tells.
            if not isinstance(raw, bytes) or (
                len(raw) < limit or (isinstance(size, int) and size <= limit)
            ):
                entries.append(self._entry(conn, selected, uid, data, whole=True))
                continue
            end = mime.header_block_end(raw)
            if end == len(raw):  # the cut fell inside the header block
                headerless.append(uid)
                continue
            cut = {k: v for k, v in data.items() if k != _WHOLE_KEY}
            cut[b"BODY[HEADER]"] = raw[:end]
            entries.append(self._entry(conn, selected, uid, cut, whole=False))
        if headerless:
            entries += self._fetch_headers(conn, selected, headerless)
        return entries

    def _whole_items(self, conn: Connection, selected: Selected) -> str:
        items = _WHOLE_ITEMS.format(limit=self.backend.limits.max_literal)
        return self._items(conn, selected, items)

    def _entry(
        self, conn: Connection, selected: Selected, uid: int, data: FetchData, *, whole: bool
    ) -> Entry[Message]:
        flags = _flags(data.get(b"FLAGS", ()))
        common: dict[str, Any] = {
            "folder": self.folder.id,
            "uid": uid,
            "modseq": _modseq(data),
            "internal_date": _internal_date(data.get(b"INTERNALDATE")),
        }
        raw = data.get(_WHOLE_KEY)
        if whole and isinstance(raw, bytes):
            message = _whole_message(raw, data, flags, **common)
        else:
            message = _headers_message(data, flags, **common)
            raw = None
        version = self._version(conn, selected, data)
        return Entry(self._id(selected, uid), version, message, raw=raw)

    def fetch_body(self, id: str) -> Entry[Message]:
        """The whole message (``content`` and ``raw`` set), whatever the download setting.

        :raises NotFoundError: no such message.
        :raises ProtocolError: the message is larger than the backend's literal limit.
        """
        conn = self._conn()
        selected = self._select(conn)
        uid = self._need_uid(selected, id)
        size = conn.uid_fetch(str(uid), "UID RFC822.SIZE").get(uid, {}).get(b"RFC822.SIZE")
        if not isinstance(size, int):
            raise self._not_found(id)
        limit = self.backend.limits.max_literal
        if size > limit:
            raise CapabilityError(
                f"message {id} has {size} bytes, over the limit of {limit}",
                capability="max_literal",
                backend=self.backend.name,
                url=self.folder.id,
            )
        data = conn.uid_fetch(str(uid), self._whole_items(conn, selected)).get(uid)
        if data is None:
            raise self._not_found(id)
        return self._entry(conn, selected, uid, data, whole=True)

    def fetch_part(self, id: str, section: str) -> MessagePart:
        """One MIME part with its ``data`` downloaded and decoded (base64 or
        quoted-printable), without downloading the rest of the message.

        :raises NotFoundError: no such message or part.
        """
        if not all(piece.isdigit() for piece in section.split(".")):
            raise ConfigurationError(f"{section!r} is not an IMAP section number")
        conn = self._conn()
        selected = self._select(conn)
        uid = self._need_uid(selected, id)
        data = conn.uid_fetch(str(uid), f"UID BODYSTRUCTURE BODY.PEEK[{section}]").get(uid)
        if data is None:
            raise self._not_found(id)
        part = next(
            (p for p in _parts(data.get(b"BODYSTRUCTURE", ())) if p.section == section), None
        )
        content = data.get(f"BODY[{section}]".encode("ascii"))
        if part is None or not isinstance(content, bytes):
            raise NotFoundError(
                f"message {id} has no part {section}",
                id=id,
                backend=self.backend.name,
                url=self.folder.id,
            )
        return attrs.evolve(part, data=decode_transfer(content, part.encoding))

    def fingerprints(self, ids: Iterable[str]) -> dict[str, Fingerprint]:
        """Message-ID and content hash (:func:`fingerprint`) per id, from the header
        blocks and sizes only: what re-associating after a UIDVALIDITY change needs.
        Ids that no longer exist are left out."""
        conn = self._conn()
        selected = self._select(conn)
        uids = sorted({uid for i in ids if (uid := self._uid(selected, i)) is not None})
        found: dict[str, Fingerprint] = {}
        for batch in chunks(uids, self.batch_size):
            fetched = conn.uid_fetch(uid_set(batch), "UID RFC822.SIZE BODY.PEEK[HEADER]")
            for uid, data in fetched.items():
                header = data.get(b"BODY[HEADER]")
                size = data.get(b"RFC822.SIZE")
                if isinstance(header, bytes) and isinstance(size, int):
                    message_id = mime.parse_headers(header).envelope.message_id
                    found[self._id(selected, uid)] = Fingerprint(
                        message_id, _content_hash(header, size)
                    )
        return found

    # -- writing --------------------------------------------------------------------------

    def _create(self, item: Message) -> ItemRef:
        content = mime.serialize(item)
        conn = self._conn()
        before = self._writable(conn)
        flags = item.all_flags - {f for f in item.all_flags if f.casefold() == _RECENT}
        appended = conn.append(self.folder.id, content, flags, item.internal_date)
        return self._appended(conn, before, appended, item)

    def _appended(
        self, conn: Connection, before: Selected, appended: tuple[int, int] | None, item: Message
    ) -> ItemRef:
        """The id and version of a message just appended."""
        if appended is not None and appended[0] != before.uidvalidity:
            before = self._select(conn, fresh=True)  # the mailbox was reset meanwhile
        uid = appended[1] if appended is not None else None
        if uid is None:
            uid = self._find_appended(conn, before, item)
        data = self._current(conn, before, uid)
        if data is None:  # the server did not tell this session about it yet
            conn.noop()
            data = self._current(conn, before, uid)
        if data is None:
            raise ServerError(
                "the appended message cannot be found",
                backend=self.backend.name,
                url=self.folder.id,
            )
        return ItemRef(self._id(before, uid), self._version(conn, before, data))

    def _find_appended(self, conn: Connection, before: Selected, item: Message) -> int:
        """Without UIDPLUS: the newest message since the old UIDNEXT with its Message-ID."""
        selected = self._select(conn, fresh=True)
        criteria = f"UID {before.uidnext}:*"
        message_id = item.envelope.message_id
        if message_id and message_id.isascii() and '"' not in message_id and "\\" not in message_id:
            criteria += f' HEADER Message-ID "{message_id}"'
        found = [uid for uid in conn.uid_search(criteria) if uid >= before.uidnext]
        if not found or selected.uidvalidity != before.uidvalidity:
            raise ServerError(
                "the server did not say which UID the appended message got, and it was not found",
                backend=self.backend.name,
                url=self.folder.id,
            )
        return max(found)

    def _put(self, id: str, item: Message, if_match: str) -> ItemRef:
        conn = self._conn()
        selected = self._writable(conn)
        uid = self._need_uid(selected, id)
        if item.content is not None and self._content_differs(conn, uid, item.content, id):
            return self._replace(conn, selected, uid, id, item, if_match)
        flags = {f for f in item.all_flags if f.casefold() != _RECENT}
        data = self._conditional_store(conn, selected, uid, id, "FLAGS", flags, if_match)
        return ItemRef(id, self._version(conn, selected, data))

    def _content_differs(self, conn: Connection, uid: int, content: bytes, id: str) -> bool:
        size = conn.uid_fetch(str(uid), "UID RFC822.SIZE").get(uid, {}).get(b"RFC822.SIZE")
        if size is None:
            raise self._not_found(id)
        if size != len(content):
            return True
        if size > self.backend.limits.max_literal:
            return False  # cannot compare what may not be downloaded; flags only
        stored = conn.uid_fetch(str(uid), "UID BODY.PEEK[]").get(uid, {}).get(b"BODY[]")
        return stored != content

    def _conditional_store(
        self,
        conn: Connection,
        selected: Selected,
        uid: int,
        id: str,
        operation: str,
        flags: Iterable[str],
        if_match: str,
    ) -> FetchData:
        """STORE if the message is still at ``if_match``; its FETCH data afterwards."""
        flags = set(flags)
        if self._mode(conn, selected) != "f":
            if not if_match.isdigit():
                raise self._conflict(conn, selected, uid, id, if_match)
            fetched, modified = conn.uid_store(
                str(uid), operation, flags, unchanged_since=int(if_match)
            )
            if uid in modified:
                raise self._conflict(conn, selected, uid, id, if_match)
            data = fetched.get(uid, {})
            if _modseq(data) is None:  # nothing changed, or no such message
                data = self._current(conn, selected, uid) or {}
                if not data:
                    raise self._not_found(id)
            return data
        # Without CONDSTORE: compare, then store (a race window the protocol leaves open).
        current = self._current(conn, selected, uid)
        if current is None:
            raise self._not_found(id)
        if _flag_digest(_flags(current.get(b"FLAGS", ()))) != if_match:
            raise self._conflict(conn, selected, uid, id, if_match, current)
        stored, _ = conn.uid_store(str(uid), operation, flags)
        after = stored.get(uid) or self._current(conn, selected, uid)
        if after is None:
            raise self._not_found(id)
        return after

    def _conflict(
        self,
        conn: Connection,
        selected: Selected,
        uid: int,
        id: str,
        if_match: str,
        current: FetchData | None = None,
    ) -> BackendError:
        current = current if current is not None else self._current(conn, selected, uid)
        if current is None:
            return self._not_found(id)
        version = self._version(conn, selected, current)
        return ConflictError(
            f"message {id} is at version {version}, not {if_match}",
            id=id,
            current_version=version,
            backend=self.backend.name,
            url=self.folder.id,
        )

    def _replace(
        self, conn: Connection, selected: Selected, uid: int, id: str, item: Message, if_match: str
    ) -> ItemRef:
        """A put with new content: mark the old message deleted (conditionally), APPEND
        the new one, then expunge the old one. If the APPEND fails the mark is undone."""
        self._conditional_store(conn, selected, uid, id, "+FLAGS", {"\\Deleted"}, if_match)
        flags = {f for f in item.all_flags if f.casefold() != _RECENT} - {"\\Deleted"}
        try:
            appended = conn.append(self.folder.id, mime.serialize(item), flags, item.internal_date)
        except BackendError:
            conn2 = self._conn()
            self._select(conn2)
            conn2.uid_store(str(uid), "-FLAGS", {"\\Deleted"})
            raise
        ref = self._appended(conn, selected, appended, item)
        self._expunge(conn, [uid])
        return ref

    def _delete(self, id: str, if_match: str) -> None:
        conn = self._conn()
        selected = self._writable(conn)
        uid = self._need_uid(selected, id)
        trash = self.backend._trash() if self.backend.delete_mode == "trash" else None
        if trash is not None and trash != self.folder.id:
            self._conditional_store(conn, selected, uid, id, "+FLAGS", set(), if_match)
            self._move(conn, selected, [uid], trash)
            return
        self._conditional_store(conn, selected, uid, id, "+FLAGS", {"\\Deleted"}, if_match)
        self._expunge(conn, [uid])

    def _expunge(self, conn: Connection, uids: Sequence[int]) -> None:
        """Expunge exactly ``uids`` (all ``\\Deleted``): UID EXPUNGE, or without UIDPLUS
        an EXPUNGE with every other ``\\Deleted`` message unmarked meanwhile."""
        if conn.has("UIDPLUS"):
            conn.uid_expunge(uid_set(uids))
            return
        others = sorted(set(conn.uid_search("DELETED")) - set(uids))
        if others:
            conn.uid_store(uid_set(others), "-FLAGS", {"\\Deleted"})
        try:
            conn.expunge()
        finally:
            if others:
                conn.uid_store(uid_set(others), "+FLAGS", {"\\Deleted"})

    def _move(
        self, conn: Connection, selected: Selected, uids: Sequence[int], target: str
    ) -> tuple[int, dict[int, int]]:
        if conn.has("MOVE"):
            return conn.uid_copy(uid_set(uids), target, move=True)
        copied = conn.uid_copy(uid_set(uids), target, move=False)
        conn.uid_store(uid_set(uids), "+FLAGS", {"\\Deleted"})
        self._expunge(conn, uids)
        return copied

    # -- bulk operations ------------------------------------------------------------------

    def move(self, ids: Iterable[str], folder: Folder | str) -> dict[str, str | None]:
        """Move messages to another folder (MOVE, else COPY + ``\\Deleted`` + expunge).

        Not conditional: a move carries the messages whatever their flags. Returns each
        moved id's new id in ``folder`` when the server says (UIDPLUS ``COPYUID``),
        else ``None``; ids that do not exist here are left out.
        """
        target = self.backend._folder_id(folder)
        conn = self._conn()
        selected = self._writable(conn)
        uids = sorted({uid for i in ids if (uid := self._uid(selected, i)) is not None})
        if not uids:
            return {}
        existing = sorted(conn.uid_fetch(uid_set(uids), "UID FLAGS"))
        if not existing:
            return {}
        validity, mapping = self._move(conn, selected, existing, target)
        return {
            self._id(selected, uid): f"{validity}:{mapping[uid]}" if uid in mapping else None
            for uid in existing
        }

    def mark_all_read(self) -> int:
        """Mark every unread message read, in STOREs of up to 2000 UIDs (not one round
        trip per message). Returns how many were unread."""
        conn = self._conn()
        self._writable(conn)
        unseen = sorted(conn.uid_search("UNSEEN"))
        for batch in chunks(unseen, _STORE_CHUNK):
            conn.uid_store(uid_set(batch), "+FLAGS.SILENT", {"\\Seen"})
        return len(unseen)

    # -- push -------------------------------------------------------------------------------

    def idle(
        self,
        callback: Callable[[], object],
        *,
        stop_event: threading.Event,
        use_idle: bool = True,
        poll_interval: float | None = None,
    ) -> None:
        """Wait for changes and call ``callback()`` after each (then call :meth:`changes`).

        Runs until ``stop_event`` is set (checked at least every second), on a connection
        of its own. Uses IDLE where the server has it and ``use_idle`` is true, ending
        and re-issuing it every :data:`IDLE_RENEWAL` seconds; otherwise NOOP every
        ``poll_interval`` seconds (the backend's default). A lost connection is opened
        again and the callback is called once, since anything may have changed.
        """
        interval = poll_interval if poll_interval is not None else self.backend.poll_interval
        conn: Connection | None = None
        try:
            while not stop_event.is_set():
                if conn is None or conn.broken:
                    reconnecting = conn is not None
                    conn = self.backend._new_connection()
                    conn.select(self.folder.id)
                    if reconnecting:
                        callback()
                try:
                    if use_idle and conn.has("IDLE"):
                        changed = self._idle_once(conn, stop_event)
                    else:
                        changed = self._poll_once(conn, stop_event, interval)
                except ConnectionError:
                    if stop_event.is_set():
                        return
                    continue
                if changed:
                    callback()
        finally:
            if conn is not None:
                conn.close()

    def _idle_once(self, conn: Connection, stop_event: threading.Event) -> bool:
        conn.idle_start()
        started = time.monotonic()
        changed = False
        while not stop_event.is_set() and time.monotonic() - started < self.backend.idle_renewal:
            if _reports_change(conn.idle_wait(1.0)):
                changed = True
                break
        return _reports_change(conn.idle_done()) or changed

    def _poll_once(self, conn: Connection, stop_event: threading.Event, interval: float) -> bool:
        stop_event.wait(interval)
        return not stop_event.is_set() and conn.noop_changes()


def _reports_change(responses: Sequence[Any]) -> bool:
    for response in responses:
        if isinstance(response, tuple) and any(
            word in (b"EXISTS", b"EXPUNGE", b"FETCH", b"VANISHED")
            for word in response
            if isinstance(word, bytes)
        ):
            return True
    return False


# -------------------------------------------------------------------------- backend


class _Lease:
    """A thread's hold on a connection, kept in the backend's thread-local storage.

    Python frees a thread's locals when the thread ends, and with them its lease, which
    then gives the connection back to the backend: the worker that synced a folder in
    parallel leaves its connection to the next thread rather than open and unused until
    the backend closes.
    """

    __slots__ = ("backend", "connection")

    def __init__(self, connection: Connection, backend: weakref.ref[IMAPBackend]) -> None:
        self.connection = connection
        self.backend = backend

    def __del__(self) -> None:
        backend = self.backend()
        if backend is not None:
            backend._give_back(self.connection)


class IMAPBackend(Backend):
    """Mail folders on an IMAP server (see the module documentation).

    :param limits: bounds on what the server controls (line, literal, response count).
    :param delete: ``"expunge"`` (default: a deleted message is gone) or ``"trash"``
        (moved to the Trash folder; expunged when deleted from Trash or without one).
    :param poll_interval: seconds between NOOP polls of :meth:`IMAPCollection.idle`
        where the server has no IDLE.
    """

    name = "imap"
    description = "Mail on IMAP servers (CONDSTORE/QRESYNC, IDLE, MOVE, SPECIAL-USE)."
    kinds = frozenset({FolderKind.MAIL})
    capabilities = (
        Capability.INCREMENTAL
        | Capability.CREATE_FOLDERS
        | Capability.RENAME_FOLDERS
        | Capability.DELETE_FOLDERS
    )
    idle_renewal: float = IDLE_RENEWAL
    """Seconds between IDLE renewals (an instance may lower it)."""

    def __init__(
        self,
        account: Account,
        *,
        network: Network | None = None,
        token_provider: TokenProvider | None = None,
        limits: Limits | None = None,
        delete: Literal["expunge", "trash"] = "expunge",
        poll_interval: float = 30.0,
    ) -> None:
        super().__init__(account, network=network, token_provider=token_provider)
        if delete not in ("expunge", "trash"):
            raise ConfigurationError(f"delete must be 'expunge' or 'trash', not {delete!r}")
        self.endpoint = account.endpoint(self.name)
        self.limits = limits or Limits()
        self.delete_mode = delete
        self.poll_interval = poll_interval
        self._local = threading.local()
        self._lock = threading.RLock()  # a lease freed while it is held gives back
        self._connections: list[Connection] = []  # open, leased or idle
        self._idle: list[Connection] = []  # given back by threads that ended
        self._known: dict[str, Folder] | None = None

    # -- connections ------------------------------------------------------------------

    def open(self) -> None:
        """Connect and log in now (otherwise the first call does)."""
        self._connection()

    def close(self) -> None:
        """Log out of every connection this backend opened."""
        with self._lock:
            connections, self._connections, self._idle = self._connections, [], []
        for conn in connections:
            conn.close()
        self._local = threading.local()  # the leases it drops give back nothing now

    def _new_connection(self) -> Connection:
        conn = Connection(
            self.network,
            self.account,
            self.endpoint,
            token_provider=self.token_provider,
            limits=self.limits,
            backend=self.name,
        )
        conn.open()
        with self._lock:
            self._connections = [c for c in self._connections if not c.broken]
            self._connections.append(conn)
        return conn

    def _connection(self) -> Connection:
        """This thread's connection: an idle one or a new one when it has none or its own
        broke."""
        lease: _Lease | None = getattr(self._local, "lease", None)
        if lease is None or lease.connection.broken:
            conn = self._idle_connection() or self._new_connection()
            self._local.lease = lease = _Lease(conn, weakref.ref(self))
        return lease.connection

    def _idle_connection(self) -> Connection | None:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.broken:
                    return conn
        return None

    def _give_back(self, conn: Connection) -> None:
        """Keep the connection of a thread that ended for the next one (unless it broke
        or :meth:`close` closed it meanwhile)."""
        with self._lock:
            if not conn.broken and conn in self._connections:
                self._idle.append(conn)

    # -- folders -------------------------------------------------------------------------

    def namespaces(self) -> tuple[Namespace, ...]:
        """The personal namespaces (prefix and delimiter) of the account."""
        return self._connection().namespaces()

    def server_capabilities(self) -> frozenset[str]:
        """The capabilities the server announced after login (``CONDSTORE``, ``IDLE``...),
        upper-cased; for ``openprotocols capabilities``."""
        return self._connection().capabilities

    def list_folders(self) -> list[Folder]:
        """Every mailbox, parents before children, with roles from SPECIAL-USE
        attributes, ``INBOX``, or (where no folder has the attribute) well-known names."""
        listed = self._connection().list_mailboxes("*")
        folders = _folders(listed)
        self._known = {folder.id: folder for folder in folders}
        return folders

    def refresh_folders(self) -> FolderChanges:
        """List the folders again and report which appeared and which went away since the
        previous :meth:`list_folders` or :meth:`refresh_folders` (all are "added" the
        first time)."""
        before = self._known or {}
        folders = self.list_folders()
        now = {folder.id: folder for folder in folders}
        return FolderChanges(
            added=tuple(f for i, f in now.items() if i not in before),
            removed=tuple(f for i, f in before.items() if i not in now),
            folders=tuple(folders),
        )

    def folder_for(self, role: FolderRole | str) -> Folder | None:
        """The folder with a role (``sent``, ``trash``...), or ``None``."""
        wanted = FolderRole(role)
        return next((f for f in self.list_folders() if f.role is wanted), None)

    def _trash(self) -> str | None:
        known = self._known if self._known is not None else {f.id: f for f in self.list_folders()}
        return next((f.id for f in known.values() if f.role is FolderRole.TRASH), None)

    # Collection is invariant in its item type; an IMAP collection holds Messages only.
    def collection(self, folder: Folder | str) -> IMAPCollection:  # type: ignore[override]
        """The collection of a mailbox (a :class:`Folder` or its wire name).

        :raises NotFoundError: a name that the server does not list.
        """
        if isinstance(folder, Folder):
            return IMAPCollection(self, folder)
        listed = self._connection().list_mailboxes(folder)
        found = next((f for f in _folders(listed) if f.id == folder), None)
        if found is None:
            raise NotFoundError(f"no folder {folder!r}", backend=self.name, url=folder)
        return IMAPCollection(self, found)

    def subscribe_folder(self, folder: Folder | str, subscribed: bool = True) -> None:
        """Subscribe to (or with ``subscribed=False`` unsubscribe from) a mailbox."""
        self._connection().subscribe(self._folder_id(folder), subscribed)

    def _delimiter(self, parent: str | None) -> str:
        conn = self._connection()
        if parent is not None:
            listed = conn.list_mailboxes(parent)
            if not listed:
                raise NotFoundError(f"no folder {parent!r}", backend=self.name, url=parent)
            return listed[0].delimiter or "/"
        namespace = conn.namespaces()[0]
        if namespace.delimiter:
            return namespace.delimiter
        listed = conn.list_mailboxes("%")
        return next((f.delimiter for f in listed if f.delimiter), "/")

    def _create_folder(
        self,
        name: str,
        kind: FolderKind,
        *,
        parent: str | None,
        display_name: str,
        color: str | None,
    ) -> Folder:
        if display_name != name:
            raise CapabilityError(
                "an IMAP folder's display name is its name; pass the same (or no) display_name",
                capability="display_name",
                backend=self.name,
            )
        delimiter = self._delimiter(parent)
        if delimiter in name or not name:
            raise ConfigurationError(
                f"{name!r} is not a folder name (the delimiter is {delimiter!r})"
            )
        prefix = f"{parent}{delimiter}" if parent else self._connection().namespaces()[0].prefix
        wire = prefix + encode_name(name)
        conn = self._connection()
        conn.create(wire)
        try:
            conn.subscribe(wire)
        except ServerError:
            log.debug("Could not subscribe to %s", wire)
        self._known = None
        return _folder(ListedFolder(wire, delimiter, frozenset()), role=FolderRole.NONE)

    def _rename_folder(self, folder_id: str, new_name: str) -> Folder:
        conn = self._connection()
        listed = conn.list_mailboxes(folder_id)
        if not listed:
            raise NotFoundError(f"no folder {folder_id!r}", backend=self.name, url=folder_id)
        delimiter = listed[0].delimiter
        if not new_name or (delimiter and delimiter in new_name):
            raise ConfigurationError(f"{new_name!r} is not a folder name")
        head = (
            folder_id.rsplit(delimiter, 1)[0] + delimiter
            if delimiter and delimiter in folder_id
            else ""
        )
        wire = head + encode_name(new_name)
        conn.rename(folder_id, wire)
        for subscribed, name in ((False, folder_id), (True, wire)):
            try:
                conn.subscribe(name, subscribed)
            except (ServerError, NotFoundError):
                log.debug("Could not update the subscription of %s", name)
        self._known = None
        return _folder(attrs.evolve(listed[0], name=wire), role=FolderRole.NONE)

    def _delete_folder(self, folder_id: str) -> None:
        conn = self._connection()
        listed = conn.list_mailboxes(folder_id)
        if not listed:
            raise NotFoundError(f"no folder {folder_id!r}", backend=self.name, url=folder_id)
        delimiter = listed[0].delimiter
        children = conn.list_mailboxes(f"{folder_id}{delimiter}*") if delimiter else []
        for child in sorted(children, key=lambda f: f.name.count(delimiter or "/"), reverse=True):
            conn.delete(child.name)
        conn.delete(folder_id)
        with contextlib.suppress(ServerError, NotFoundError):  # often gone with the mailbox
            conn.subscribe(folder_id, False)
        self._known = None


def _parent(name: str, delimiter: str | None) -> str | None:
    if not delimiter or delimiter not in name:
        return None
    return name.rsplit(delimiter, 1)[0]


def _folder(listed: ListedFolder, *, role: FolderRole) -> Folder:
    parent = _parent(listed.name, listed.delimiter)
    segment = listed.name[len(parent) + 1 :] if parent is not None else listed.name
    extended = [RawProperty("X-IMAP-DELIMITER", listed.delimiter or "")]
    if listed.attributes:
        extended.append(RawProperty("X-IMAP-ATTRIBUTES", " ".join(sorted(listed.attributes))))
    return Folder(
        id=listed.name,
        kind=FolderKind.MAIL,
        name=segment,
        display_name="Inbox" if listed.name.upper() == "INBOX" else decode_name(segment),
        role=role,
        parent=parent,
        read_only="\\Noselect" in listed.attributes,
        extended=Extended(properties=tuple(extended)),
    )


def _folders(listed: Iterable[ListedFolder]) -> list[Folder]:
    """Folders from LIST responses, roles assigned, parents before children."""
    usable = [f for f in listed if "\\NonExistent" not in f.attributes]
    roles: dict[str, FolderRole] = {}
    for item in usable:
        if item.name.upper() == "INBOX":
            roles[item.name] = FolderRole.INBOX
        for attribute, role in _SPECIAL_USE.items():
            if attribute in item.attributes and role not in roles.values():
                roles[item.name] = role
    for role, names in ROLE_NAMES.items():
        if role in roles.values():
            continue
        wanted = [name.casefold() for name in names]
        candidates = [
            item
            for item in usable
            if item.name not in roles
            and "\\Noselect" not in item.attributes
            and decode_name(item.name.rsplit(item.delimiter or "\x00", 1)[-1]).casefold() in wanted
            and (_parent(item.name, item.delimiter) or "INBOX").upper() == "INBOX"
        ]
        if candidates:
            best = min(
                candidates,
                key=lambda f: wanted.index(
                    decode_name(f.name.rsplit(f.delimiter or "\x00", 1)[-1]).casefold()
                ),
            )
            roles[best.name] = role
    folders = [_folder(item, role=roles.get(item.name, FolderRole.NONE)) for item in usable]
    return sorted(
        folders, key=lambda f: (f.id.count(_delimiter_of(f)) if _delimiter_of(f) else 0, f.id)
    )


def _delimiter_of(folder: Folder) -> str:
    found = folder.extended.get("X-IMAP-DELIMITER")
    return found[0].value if found else ""


@hookimpl
def openprotocols_register_backends(registry: BackendRegistry) -> None:
    """Register the IMAP backend."""
    registry.add(IMAPBackend)
