"""The CardDAV backend (RFC 6352): address books as collections, and the global directory.

Opening, consent, collections, conditional writes and ``changes()`` work as in the CalDAV
backend (:mod:`openprotocols.backends.caldav`; the shared part is
:mod:`openprotocols.backends._dav`): the context URL is the account's ``carddav``
endpoint or an RFC 6764 candidate, the principal's ``addressbook-home-set`` is the home,
every address book in it is a ``contacts`` folder whose id is its href.

Items are ``.vcf`` resources holding a :class:`~openprotocols.model.Contact` or a
:class:`~openprotocols.model.ContactGroup`. New cards are written as vCard 3.0, which
RFC 6352 requires every server to accept; an edited card keeps its version and is written
as a minimal change of the server's bytes (``vcard.serialize(item, original=...)``).
GETs send ``Accept: text/vcard`` (Xandikos refuses anything else).

**The global directory** (:meth:`CardDAVBackend.directory`) is the address book the
server names in the principal's ``directory-gateway`` property (RFC 6352 section 7.2.1),
else one whose ``resourcetype`` carries CardDAV's ``directory`` marker (how Apple's
servers mark a shared, server-managed address book). :meth:`Directory.search` asks the
server with an ``addressbook-query`` (text-match on FN, N, EMAIL and NICKNAME, with a
result limit): the directory is never downloaded. :meth:`Directory.pages` asks for the
matching hrefs only, then fetches the cards a page at a time by ``addressbook-multiget``,
so memory stays bounded by the page size however many entries match.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from openprotocols.backends.base import Entry
from openprotocols.errors import NotFoundError, ProtocolError
from openprotocols.formats import vcard
from openprotocols.hookspecs import hookimpl
from openprotocols.model._base import Item
from openprotocols.model.contacts import Contact, ContactGroup
from openprotocols.model.folders import Folder, FolderKind

from ._dav import (
    CARDDAV,
    DAV,
    INF_IT,
    Capabilities,
    CollectionInfo,
    DavBackend,
    DavCollection,
    PropResponse,
    canonical_href,
    capability_report,
    element,
    read_only,
    restore_crlf,
    sync_method,
)

if TYPE_CHECKING:
    from openprotocols.plugins import BackendRegistry

__all__ = ["CardDAVBackend", "CardDAVCollection", "Directory", "DirectoryPage"]

#: The vCard version of new cards (RFC 6352 section 5.1: every server takes 3.0).
NEW_CARD_VERSION = "3.0"
_DIRECTORY_TYPE = f"{{{CARDDAV}}}directory"
_SEARCHED = ("FN", "N", "EMAIL", "NICKNAME")


class CardDAVCollection(DavCollection):
    """An address book: contacts and contact groups as vCard resources."""

    content_type = "text/vcard; charset=utf-8"
    accept = "text/vcard"
    extension = ".vcf"
    multiget_report = f"{{{CARDDAV}}}addressbook-multiget"
    data_property = f"{{{CARDDAV}}}address-data"

    def accepts(self, item: Item) -> bool:
        """Contacts and contact groups."""
        return isinstance(item, Contact | ContactGroup)

    def decode(self, data: bytes) -> Item | None:
        items = vcard.parse(data).items
        return items[0] if items else None

    def encode(self, item: Item, original: bytes | None) -> bytes:
        assert isinstance(item, Contact | ContactGroup)
        if original is not None:
            old = vcard.parse(original)
            if any(i.uid == item.uid for i in old.items):
                return vcard.serialize(item, original=old)
        return vcard.serialize(item, version=NEW_CARD_VERSION)


@attrs.frozen
class DirectoryPage:
    """One page of directory search results (``truncated``: the server cut the result
    set short, at its own limit or ours)."""

    entries: tuple[Entry[Item], ...]
    truncated: bool = False


class Directory:
    """The server's global address list, searched live (see the module documentation)."""

    def __init__(self, backend: CardDAVBackend, info: CollectionInfo) -> None:
        self.backend = backend
        self.info = info
        self.url = backend.url_of(info.href)
        self._collection = CardDAVCollection(backend, info)

    def __repr__(self) -> str:
        return f"<Directory {self.url}>"

    def search(self, text: str, *, limit: int = 50) -> list[Entry[Item]]:
        """Up to ``limit`` entries whose name, e-mail address or nickname contains
        ``text`` (case-insensitive), cards included, in one request."""
        found, _ = self._query(text, limit, with_data=True)
        return [entry for entry in found if isinstance(entry, Entry)]

    def pages(
        self, text: str, *, page_size: int = 50, limit: int | None = None
    ) -> Iterator[DirectoryPage]:
        """The matching entries a page at a time: one query for the hrefs (no cards),
        then one multiget per page, so memory holds one page of cards."""
        found, truncated = self._query(text, limit, with_data=False)
        hrefs = [h for h in found if isinstance(h, str)]
        self._collection.batch_size = page_size
        for start in range(0, len(hrefs), page_size):
            chunk = hrefs[start : start + page_size]
            last = start + page_size >= len(hrefs)
            entries = tuple(self._collection.get(chunk))
            yield DirectoryPage(entries, truncated and last)

    def _query(
        self, text: str, limit: int | None, *, with_data: bool
    ) -> tuple[list[Entry[Item] | str], bool]:
        dav = self.backend.dav
        wanted = [element(f"{{{DAV}}}getetag")]
        if with_data:
            wanted.append(element(f"{{{CARDDAV}}}address-data"))
        filters = element(f"{{{CARDDAV}}}filter")
        filters.set("test", "anyof")
        for name in _SEARCHED:
            match = element(f"{{{CARDDAV}}}text-match", text=text)
            match.set("collation", "i;unicode-casemap")
            match.set("match-type", "contains")
            prop_filter = element(f"{{{CARDDAV}}}prop-filter", match)
            prop_filter.set("name", name)
            filters.append(prop_filter)
        body = element(
            f"{{{CARDDAV}}}addressbook-query", element(f"{{{DAV}}}prop", *wanted), filters
        )
        if limit is not None:
            body.append(
                element(f"{{{CARDDAV}}}limit", element(f"{{{CARDDAV}}}nresults", text=str(limit)))
            )
        reply = dav.report(self.url, body, depth=1)
        answer = dav.multistatus(reply)
        own = canonical_href(self.url, self.url)
        found: list[Entry[Item] | str] = []
        truncated = False
        for response in answer.responses:
            href = canonical_href(response.href, self.url)
            if href == own or response.status is not None:
                truncated = truncated or response.status == 507
                continue
            if limit is not None and len(found) >= limit:
                truncated = True  # a server that ignores the limit
                break
            found.append(self._entry(href, response) if with_data else href)
        return found, truncated

    def _entry(self, href: str, response: PropResponse) -> Entry[Item]:
        etag = response.text(f"{{{DAV}}}getetag")
        text = response.raw_text(f"{{{CARDDAV}}}address-data")
        if not etag or text is None:
            url = self.backend.url_of(href)
            raise ProtocolError(
                f"no card or ETag for {url} in a directory answer",
                backend=self.backend.name,
                url=url,
            )
        raw = restore_crlf(text).encode("utf-8")
        item = self._collection._decode(href, raw)
        if item is None:
            raise ProtocolError(
                f"{href} in the directory holds no card", backend=self.backend.name, url=self.url
            )
        return Entry(href, etag, item, raw=raw)


class CardDAVBackend(DavBackend):
    """Address books on a CardDAV server (see the module documentation)."""

    name = "carddav"
    description = "Contacts and the global directory on a CardDAV server (RFC 6352, 6578)."
    kinds = frozenset({FolderKind.CONTACTS})
    home_property = f"{{{CARDDAV}}}addressbook-home-set"
    collection_type = f"{{{CARDDAV}}}addressbook"
    extra_props = (
        f"{{{CARDDAV}}}addressbook-description",
        f"{{{INF_IT}}}addressbook-color",
    )
    collection_class = CardDAVCollection

    def collection(self, folder: Folder | str) -> CardDAVCollection:
        found = super().collection(folder)
        assert isinstance(found, CardDAVCollection)
        return found

    def _info_from(self, href: str, response: PropResponse) -> CollectionInfo | None:
        types = response.child_names(f"{{{DAV}}}resourcetype")
        if self.collection_type not in types:
            return None
        directory = _DIRECTORY_TYPE in types
        return CollectionInfo(
            href=href,
            kind=FolderKind.CONTACTS,
            display_name=response.text(f"{{{DAV}}}displayname") or "",
            color=response.text(f"{{{INF_IT}}}addressbook-color") or None,
            description=response.text(f"{{{CARDDAV}}}addressbook-description") or None,
            read_only=directory or read_only(response),
            sync_method=sync_method(response),
            resource_types=frozenset(types),
        )

    def _create_folder(
        self,
        name: str,
        kind: FolderKind,
        *,
        parent: str | None,
        display_name: str,
        color: str | None,
    ) -> Folder:
        props = [
            element(
                f"{{{DAV}}}resourcetype",
                element(f"{{{DAV}}}collection"),
                element(f"{{{CARDDAV}}}addressbook"),
            ),
            element(f"{{{DAV}}}displayname", text=display_name),
        ]
        if color:
            props.append(element(f"{{{INF_IT}}}addressbook-color", text=color))
        return self._make_collection(name, parent, "MKCOL", f"{{{DAV}}}mkcol", props)

    # -- the directory -------------------------------------------------------------------

    def directory(self, url: str | None = None) -> Directory:
        """The global directory: ``url`` if given, else the principal's
        ``directory-gateway``, else an address book marked as a directory.

        :raises NotFoundError: the server offers none.
        """
        if url is not None:
            href = canonical_href(url, self.principal.home_url)
        elif self.principal.directory_gateway is not None:
            href = canonical_href(self.principal.directory_gateway, self.principal.home_url)
        else:
            marked = [i for i in self.collections() if _DIRECTORY_TYPE in i.resource_types]
            if not marked:
                raise NotFoundError(
                    "the server offers no directory (no directory-gateway, no directory "
                    "address book)",
                    backend=self.name,
                    url=self.principal.url,
                )
            href = marked[0].href
        return Directory(self, self.collection_info(href))

    def has_directory(self) -> bool:
        """Whether :meth:`directory` finds one (without an explicit URL)."""
        try:
            self.directory()
        except NotFoundError:
            return False
        return True

    def capability_report(self) -> Capabilities:
        """What this server can do, as data, with the known quirks that apply to it."""
        return capability_report(self, directory=self.has_directory())


@hookimpl
def openprotocols_register_backends(registry: BackendRegistry) -> None:
    """Register the CardDAV backend."""
    registry.add(CardDAVBackend)
