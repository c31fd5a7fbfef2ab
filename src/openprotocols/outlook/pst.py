"""Import from Outlook data files (.pst, .ost) with libpff (extra ``pst``).

The seed products import "email data from PST files" into the folders they sync; this is
that, for every item kind::

    from openprotocols import LocalStore
    from openprotocols.outlook import pst

    with pst.open_pst("archive.pst") as archive, LocalStore("store.db") as store:
        report = pst.import_pst(archive, store, progress=print)

:func:`open_pst` reads the file; :meth:`PstFile.folders` lists its folders with the kind
of items each holds (from ``PR_CONTAINER_CLASS``) and :meth:`PstFile.items` reads one
folder's messages through the same MAPI mapping as .msg files
(:func:`~openprotocols.outlook.from_mapi`), so every property comes along.
:func:`import_folder` writes one folder's items into any collection — a
:class:`~openprotocols.store.LocalStore` folder or a server collection straight away —
and :func:`import_pst` mirrors the whole tree into a provider. An item that cannot be
read is reported and skipped; it never stops an import.

libpff reads each property as its id, type and raw bytes, and gives the file's
named-property map as three streams; both are decoded here, with the .msg reader's
rules (:func:`openprotocols.outlook.msg.parse_nameid`).
"""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Self

import attrs

from openprotocols.backends.base import Collection, Provider
from openprotocols.errors import (
    ConfigurationError,
    InvalidItemError,
    OpenProtocolsError,
    ParseError,
)
from openprotocols.model import Folder, FolderKind, Item
from openprotocols.outlook import props as p
from openprotocols.outlook._mapping import from_mapi
from openprotocols.outlook._propset import PropertySet, Value, from_filetime
from openprotocols.outlook.msg import parse_nameid

__all__ = [
    "FORMAT",
    "ImportReport",
    "PstFile",
    "PstFolder",
    "Skipped",
    "import_folder",
    "import_pst",
    "open_pst",
]

FORMAT = "pst"
_ATTACH_EMBEDDED_MSG = 5
_CODEPAGES = {1252: "cp1252", 65001: "utf-8", 20127: "ascii", 28591: "latin-1"}
_KINDS = (
    ("IPF.APPOINTMENT", FolderKind.CALENDAR),
    ("IPF.CONTACT", FolderKind.CONTACTS),
    ("IPF.TASK", FolderKind.TASKS),
    ("IPF.NOTE", FolderKind.MAIL),
    ("IPF.IMAP", FolderKind.MAIL),
)
_PR_CONTAINER_CLASS = 0x3613
_PR_DISPLAY_NAME = 0x3001


@attrs.frozen
class PstFolder:
    """A folder of the file: its ``path`` of display names from the top of the store,
    the kind of items it holds (``None`` for folders Outlook keeps for itself: search
    folders, views, journals, notes) and how many messages it holds."""

    path: tuple[str, ...]
    kind: FolderKind | None
    count: int
    _handle: Any = attrs.field(eq=False, repr=False, alias="handle")

    @property
    def name(self) -> str:
        """The folder's display name."""
        return self.path[-1] if self.path else ""


@attrs.frozen
class Skipped:
    """An item that could not be read or written, and why."""

    folder: tuple[str, ...]
    index: int
    error: OpenProtocolsError


@attrs.frozen
class ImportReport:
    """What an import did: items written per folder path, and the items skipped."""

    written: dict[tuple[str, ...], int] = attrs.field(factory=dict)
    skipped: list[Skipped] = attrs.field(factory=list)

    @property
    def total(self) -> int:
        """How many items were written in all."""
        return sum(self.written.values())


Progress = Callable[[PstFolder, int], None]
"""Called after each item: the folder and how many of its items are done."""


def open_pst(path: str | os.PathLike[str]) -> PstFile:
    """Open a .pst or .ost file.

    :raises ConfigurationError: libpff (``openprotocols[pst]``) is not installed.
    :raises ParseError: the file is not a readable Outlook data file.
    """
    return PstFile(path)


class PstFile:
    """An open Outlook data file (see :func:`open_pst`); close it, or use ``with``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            import pypff
        except ImportError as exc:  # pragma: no cover - the extra is installed in tests
            raise ConfigurationError(
                "reading PST files needs libpff: pip install 'openprotocols[pst]'"
            ) from exc
        self.path = os.fspath(path)
        self._file = pypff.file()
        try:
            self._file.open(self.path)
        except OSError as exc:  # libpff reports every failure as OSError, with its reason
            raise ParseError(
                f"{self.path}: not a readable PST file ({exc})", format=FORMAT
            ) from exc
        self._names = self._name_map()

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def folders(self) -> Iterator[PstFolder]:
        """Every folder, parents first (the unnamed root is not listed)."""

        def walk(folder: Any, path: tuple[str, ...]) -> Iterator[PstFolder]:
            for index in range(folder.number_of_sub_folders):
                sub = folder.get_sub_folder(index)
                here = (*path, sub.name or "")
                yield PstFolder(here, self._kind(sub), sub.number_of_sub_messages, handle=sub)
                yield from walk(sub, here)

        yield from walk(self._file.root_folder, ())

    def properties(self, folder: PstFolder) -> Iterator[tuple[int, PropertySet | ParseError]]:
        """Each message of ``folder`` as MAPI properties (or the error reading it), with
        its index in the folder."""
        for index in range(folder.count):
            try:
                message = folder._handle.get_sub_message(index)
                yield index, self._message(message, depth=0)
            except ParseError as exc:
                yield index, exc
            except (OSError, struct.error, ValueError) as exc:
                yield index, ParseError(f"{'/'.join(folder.path)} #{index}: {exc}", format=FORMAT)

    def items(self, folder: PstFolder) -> Iterator[tuple[int, Item | OpenProtocolsError]]:
        """Each message of ``folder`` as a model item (or the error reading it)."""
        for index, props in self.properties(folder):
            if isinstance(props, ParseError):
                yield index, props
                continue
            try:
                yield index, from_mapi(props)
            except InvalidItemError as exc:
                yield index, exc

    # -- decoding ----------------------------------------------------------------------

    def _name_map(self) -> dict[int, tuple[uuid.UUID, int | str]]:
        store = self._file.name_to_id_map
        if store is None or store.number_of_record_sets == 0:
            return {}
        streams = {e.entry_type: e.data or b"" for e in store.get_record_set(0).entries}
        return parse_nameid(
            streams.get(0x0002, b""), streams.get(0x0003, b""), streams.get(0x0004, b"")
        )

    def _kind(self, folder: Any) -> FolderKind | None:
        container = ""
        for record_set in folder.record_sets:
            for entry in record_set.entries:
                if entry.entry_type == _PR_CONTAINER_CLASS and entry.data:
                    container = _text(entry.value_type, entry.data, "cp1252")
        upper = container.upper()
        if not upper:
            return FolderKind.MAIL  # Outlook leaves the class of plain mail folders unset
        return next((kind for prefix, kind in _KINDS if upper.startswith(prefix)), None)

    def _message(self, message: Any, *, depth: int) -> PropertySet:
        if depth > 8:
            raise ParseError("attached messages nest too deeply", format=FORMAT)
        props = (
            self._record(message.get_record_set(0))
            if message.number_of_record_sets
            else PropertySet()
        )
        recipients = message.recipients
        if recipients is not None:
            for index in range(recipients.number_of_record_sets):
                props.recipients.append(self._record(recipients.get_record_set(index)))
        for index in range(message.number_of_attachments):
            attachment = message.get_attachment(index)
            row = self._record(attachment.get_record_set(0))
            method = row.number(p.PidTagAttachMethod)
            if method == _ATTACH_EMBEDDED_MSG and attachment.number_of_sub_items:
                row.embedded = self._message(attachment.get_sub_item(0), depth=depth + 1)
            elif p.PidTagAttachDataBinary in row or attachment.size:
                attachment.seek_offset(0)
                row[p.PidTagAttachDataBinary] = attachment.read_buffer(attachment.size) or b""
            props.attachments.append(row)
        return props

    def _record(self, record_set: Any) -> PropertySet:
        found = [(e.entry_type, e.value_type, e.data or b"") for e in record_set.entries]
        codepage = "cp1252"
        for prop_id, _type, data in found:
            if (
                prop_id in (p.PidTagMessageCodepage.id, p.PidTagInternetCodepage.id)
                and len(data) >= 4
            ):
                codepage = _CODEPAGES.get(struct.unpack_from("<I", data)[0], codepage)
        props = PropertySet()
        for prop_id, type_code, data in found:
            key = self._key(prop_id, type_code)
            if key is None or key.type is p.PropType.OBJECT:
                continue
            try:
                value = _value(key.type, data, codepage)
                if prop_id == p.PidTagSubject.id and isinstance(value, str):
                    value = _without_prefix_marker(value)
                props[key] = value
            except (struct.error, ValueError, InvalidItemError) as exc:
                raise ParseError(f"property {key}: {exc}", format=FORMAT) from exc
        return props

    def _key(self, prop_id: int, type_code: int) -> p.PropertyKey | None:
        try:
            type_ = p.PropType(type_code)
        except ValueError:
            return None
        if prop_id < 0x8000:
            return p.Tag(prop_id, type_)
        named = self._names.get(prop_id)
        if named is None:
            return None  # a named property the map does not know: nothing to key it by
        guid, name = named
        if isinstance(name, int):
            return p.Named(guid, id=name, type=type_)
        return p.Named(guid, name=name, type=type_)


_FIXED = {
    p.PropType.INT16: "<h",
    p.PropType.INT32: "<i",
    p.PropType.FLOAT: "<f",
    p.PropType.DOUBLE: "<d",
    p.PropType.CURRENCY: "<q",
    p.PropType.APPTIME: "<d",
    p.PropType.ERROR: "<I",
    p.PropType.INT64: "<q",
    p.PropType.SYSTIME: "<Q",
}


def _without_prefix_marker(subject: str) -> str:
    """A PST subject starts with U+0001 and the length of its prefix ("RE: ") when it has
    one (MS-PST §2.5.3.1.1.1); the subject itself is without them."""
    return subject[2:] if subject.startswith("\x01") else subject


def _text(type_code: int, data: bytes, codepage: str) -> str:
    if type_code == p.PropType.UNICODE:
        return data.decode("utf-16-le", errors="replace").split("\0", 1)[0]
    return data.decode(codepage, errors="replace").split("\0", 1)[0]


def _value(type_: p.PropType, data: bytes, codepage: str) -> Value:  # noqa: PLR0911
    """A property value from the bytes libpff gives (MS-PST §2.3.3.3 for multi-valued)."""
    if type_ is p.PropType.BOOLEAN:
        return any(data[:2])
    if type_ in _FIXED:
        (number,) = struct.unpack_from(_FIXED[type_], data.ljust(8, b"\0"))
        if type_ is p.PropType.SYSTIME:
            return from_filetime(number)
        return (
            float(number)
            if type_ in (p.PropType.FLOAT, p.PropType.DOUBLE, p.PropType.APPTIME)
            else int(number)
        )
    if type_ in (p.PropType.UNICODE, p.PropType.STRING8):
        return _text(type_, data, codepage)
    if type_ is p.PropType.GUID:
        return uuid.UUID(bytes_le=data[:16])
    if not type_.is_multi:
        return data
    single = type_.single
    if single in _FIXED:
        size = struct.calcsize(_FIXED[single])
        return tuple(
            _value(single, data[i : i + size], codepage)
            for i in range(0, len(data) - size + 1, size)
        )
    if single is p.PropType.GUID:
        return tuple(uuid.UUID(bytes_le=data[i : i + 16]) for i in range(0, len(data) - 15, 16))
    if len(data) < 4:
        return ()
    (count,) = struct.unpack_from("<I", data)
    if 4 + 4 * count > len(data):
        raise ValueError(f"{count} values do not fit in {len(data)} bytes")
    offsets = [*struct.unpack_from(f"<{count}I", data, 4), len(data)]
    return tuple(_value(single, data[offsets[i] : offsets[i + 1]], codepage) for i in range(count))


# ---------------------------------------------------------------------------- importing


def import_folder(
    archive: PstFile,
    folder: PstFolder,
    collection: Collection[Item],
    *,
    progress: Progress | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Write the items of one PST folder into ``collection`` (a LocalStore folder, a
    server collection); unreadable or refused items are reported in the result."""
    report = report if report is not None else ImportReport()
    report.written.setdefault(folder.path, 0)
    for done, (index, item) in enumerate(archive.items(folder), 1):
        if isinstance(item, OpenProtocolsError):
            report.skipped.append(Skipped(folder.path, index, item))
        else:
            try:
                collection.create(item)
                report.written[folder.path] += 1
            except OpenProtocolsError as exc:
                report.skipped.append(Skipped(folder.path, index, exc))
        if progress is not None:
            progress(folder, done)
    return report


def import_pst(
    archive: PstFile,
    target: Provider,
    *,
    only: Callable[[PstFolder], bool] | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Mirror the folders of ``archive`` that hold items into ``target`` (folders are
    created under their PST names joined with ``/``, or reused where they exist) and
    import their items. ``only`` picks folders."""
    report = ImportReport()
    existing = {f.name or f.display_name: f for f in target.list_folders()}
    for folder in archive.folders():
        if folder.kind is None or folder.count == 0 or (only is not None and not only(folder)):
            continue
        name = "/".join(folder.path)
        found: Folder | None = existing.get(name)
        if found is None or found.kind is not folder.kind:
            found = target.create_folder(name, folder.kind)
        import_folder(archive, folder, target.collection(found), progress=progress, report=report)
    return report
