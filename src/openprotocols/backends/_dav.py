"""The WebDAV layer the CalDAV and CardDAV backends share.

A :class:`DavClient` sends WebDAV requests (PROPFIND, REPORT, PUT, GET, DELETE, MKCOL,
MKCALENDAR, PROPPATCH, POST) over one niquests session from
:meth:`openprotocols.network.Network.http_session` and turns every answer into either data
or a typed error of :mod:`openprotocols.errors` naming the URL:

==========================  ==============================================================
401                         :class:`~openprotocols.errors.AuthenticationError`
403                         :class:`~openprotocols.errors.ReadOnlyError` for a write,
                            :class:`~openprotocols.errors.AuthenticationError` for a read
404, 410                    :class:`~openprotocols.errors.NotFoundError`
409, 412                    :class:`~openprotocols.errors.ConflictError`
405, 501                    :class:`~openprotocols.errors.CapabilityError`
429, 503                    :class:`~openprotocols.errors.RateLimitedError` (``retry_after``)
other 5xx                   :class:`~openprotocols.errors.ServerError`
3xx, other 4xx, bad XML,    :class:`~openprotocols.errors.ProtocolError`
a body over the size cap
==========================  ==============================================================

Every XML answer is parsed with :func:`openprotocols.formats._xml.parse_xml` (no
entities, no DTD, no network, a size cap); bodies are read as a stream and abandoned as
soon as they pass :attr:`DavClient.max_body`, so a hostile server cannot make us buffer
gigabytes. Redirects are never followed here (a redirect could carry the credentials to
another host); :meth:`DavClient.request` reports them and the caller decides. Every URL
passes the client's *gate* first, which asks for consent before a new origin is contacted
(clear text, or a host outside the user's domain): nothing is sent before that.

Why not caldav's request methods
--------------------------------

caldav 3.6 (``caldav.DAVClient``) is built on the same niquests, and the backends hand it
this very session when an application asks for a caldav client
(:meth:`~openprotocols.backends.caldav.CalDAVBackend.davclient`). The backends' own
requests do not go through it, for these reasons, each checked in caldav 3.6.0's source:

- ``DAVResponse.__init__`` reads the whole body into memory and parses it with its own
  ``lxml`` parser before the caller sees it: no size cap, DOCTYPEs accepted. The project
  parses untrusted XML only with ``parse_xml``.
- ``Calendar.get_objects_by_sync_token`` builds a ``CalendarObjectResource`` per href,
  raises caldav's own errors for an expired token (distinguished by ``.preconditions``),
  and gives up paging an initial truncated sync on some servers; with
  ``disable_fallback=False`` it silently invents a ``fake-`` token. The sync-collection
  REPORT here (:meth:`DavClient.sync_collection`) is the same request, parsed safely, with
  the expired-token case turned into a full listing by the caller and 507 truncation
  paged through.
- ``DAVClient._sync_request`` passes ``verify=`` on every request, overriding the trust
  the network layer configured on the session, and has no address-book API at all
  (CardDAV needs ``Accept: text/vcard`` on GET, see the quirks table).

The requests are the same ones caldav would send; only the parsing and the error
translation differ.
"""

from __future__ import annotations

import abc
import collections
import email.utils
import hashlib
import itertools
import logging
import re
import sqlite3
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, ClassVar

import attrs
from lxml import etree
from niquests.auth import AuthBase

from openprotocols._domains import same_site
from openprotocols.backends.base import (
    Backend,
    Capability,
    Changes,
    Collection,
    Entry,
    ItemRef,
    Listing,
    TokenProvider,
    spill_refs,
)
from openprotocols.errors import (
    AlreadyExistsError,
    AuthenticationError,
    BackendError,
    CapabilityError,
    ConfigurationError,
    ConflictError,
    ConnectionError,
    ConnectionSecurityError,
    DiscoveryError,
    NotFoundError,
    ParseError,
    ProtocolError,
    RateLimitedError,
    ReadOnlyError,
    ServerError,
    TimeoutError,
)
from openprotocols.formats._xml import iter_xml, local_name, parse_xml
from openprotocols.model._base import Item
from openprotocols.model.accounts import AuthMechanism
from openprotocols.model.folders import Folder, FolderKind
from openprotocols.network import ConsentKind, ConsentRequest

if TYPE_CHECKING:
    import niquests

    from openprotocols.model.accounts import Account, Endpoint
    from openprotocols.network import Network

__all__ = [
    "CALDAV",
    "CARDDAV",
    "DAV",
    "MAX_BODY",
    "DavClient",
    "Multistatus",
    "PropResponse",
    "Reply",
    "SyncPage",
    "canonical_href",
    "element",
]

log = logging.getLogger(__name__)

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
CALSERVER = "http://calendarserver.org/ns/"
APPLE = "http://apple.com/ns/ical/"
INF_IT = "http://inf-it.com/ns/ab/"
_NSMAP = {"D": DAV, "C": CALDAV, "CR": CARDDAV, "CS": CALSERVER, "A": APPLE, "I": INF_IT}

MAX_BODY = 64 * 1024 * 1024
"""The largest answer body read, in bytes (a multiget batch of cards with photos)."""

_CHUNK = 64 * 1024

SPILL = 64 * 1024
"""How much of a spilled answer (a long sync listing) stays in memory; the rest goes
to a temporary file."""

_STATUS_LINE = re.compile(r"HTTP/\d(?:\.\d)?\s+(\d{3})")
_WRITE_METHODS = frozenset({"PUT", "DELETE", "MKCOL", "MKCALENDAR", "PROPPATCH", "POST"})
# RFC 3986 sub-delims, ':' and '@' may stand unencoded in a path segment.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def element(tag: str, *children: etree._Element, text: str | None = None) -> etree._Element:
    """An XML element ``{ns}name`` with children (request bodies are built, never formatted)."""
    node = etree.Element(tag, nsmap=_NSMAP)
    node.extend(children)
    if text is not None:
        node.text = text
    return node


def _to_bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


_CANONICAL_PATH = re.compile(r"(?:/[A-Za-z0-9:@!$&'()*+,;=\-_~][A-Za-z0-9:@!$&'()*+,;=\-._~]*)+/?")
"""An absolute path that is canonical already: only unreserved and safe characters (no
``%``), no empty, ``.`` or ``..`` segment (no segment starts with a dot)."""
_ESCAPED_PATH = re.compile(
    r"(?:/(?:[A-Za-z0-9:@!$&'()*+,;=\-_~]|%[0-9A-Fa-f]{2})"
    r"(?:[A-Za-z0-9:@!$&'()*+,;=\-._~]|%[0-9A-Fa-f]{2})*)+/?"
)
"""The same with percent escapes: nothing for :func:`urllib.parse.urljoin` to resolve."""


def canonical_href(href: str, base: str) -> str:
    """The path of ``href`` (relative to ``base``), percent-encoded one way only, so that
    the same resource always gets the same id whatever encoding the server chose."""
    if _CANONICAL_PATH.fullmatch(href):  # the common case, and a hot path of a sync
        return href
    if _ESCAPED_PATH.fullmatch(href):  # Radicale's "%40" in every href
        return urllib.parse.quote(urllib.parse.unquote(href), safe=_PATH_SAFE)
    joined = urllib.parse.urljoin(base, href.strip())
    path = urllib.parse.urlsplit(joined).path or "/"
    return urllib.parse.quote(urllib.parse.unquote(path), safe=_PATH_SAFE)


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``url``, the port defaulted by the scheme."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


@attrs.frozen
class Reply:
    """An HTTP answer: the method and URL asked, status, headers, and the body (read in
    full, capped; in a temporary file for a long listing)."""

    method: str
    url: str
    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    spilled: IO[bytes] | None = attrs.field(default=None, repr=False, eq=False)
    """A 207 body read into a temporary file instead of :attr:`body` (a request made
    with ``spill=True``), at its start."""

    def header(self, name: str) -> str | None:
        """The header ``name`` (case-insensitive), or ``None``."""
        return self.headers.get(name)

    @property
    def etag(self) -> str | None:
        """The ``ETag`` header, if any."""
        return self.headers.get("ETag")


@attrs.frozen
class PropResponse:
    """One ``<response>`` of a multistatus: an href, its status and its found properties.

    ``status`` is the response-level status (a deleted member in a sync report, a missing
    href in a multiget), else ``None``; ``props`` maps Clark names (``{DAV:}getetag``) to
    the property elements that came with a 2xx propstat.
    """

    href: str
    status: int | None
    props: Mapping[str, etree._Element] = attrs.field(repr=False)

    def text(self, name: str) -> str | None:
        """The text of property ``name`` (stripped), or ``None`` when it was not found."""
        prop = self.props.get(name)
        return None if prop is None else (prop.text or "").strip()

    def raw_text(self, name: str) -> str | None:
        """The text of property ``name`` unstripped (calendar-data, address-data)."""
        prop = self.props.get(name)
        return None if prop is None else (prop.text or "")

    def hrefs(self, name: str) -> list[str]:
        """The ``<href>`` values inside property ``name``."""
        prop = self.props.get(name)
        if prop is None:
            return []
        return [(h.text or "").strip() for h in prop.iter(f"{{{DAV}}}href")]

    def child_names(self, name: str) -> set[str]:
        """The Clark names of the child elements of property ``name`` (a resourcetype)."""
        prop = self.props.get(name)
        if prop is None:
            return set()
        return {str(child.tag) for child in prop.iter() if child is not prop and _is_tag(child)}


@attrs.frozen
class Multistatus:
    """A parsed 207 answer: the responses, and the ``sync-token`` if one came."""

    responses: tuple[PropResponse, ...]
    sync_token: str | None = None


@attrs.frozen
class SyncPage:
    """One page of a sync-collection report (RFC 6578)."""

    changed: tuple[ItemRef, ...] | Listing
    """The refs (href, etag) of members created or changed; more than
    :data:`~openprotocols.backends.base.HELD_REFS` of them (a first sync of a large
    collection lists them all) in a temporary file."""
    deleted: tuple[str, ...]
    token: str
    truncated: bool
    """The server sent a 507 for the collection: ask again with ``token`` for the rest."""


def _sync_page(events: Iterator[tuple[str, str, str]]) -> SyncPage | None:
    """A page from one pass over a sync-collection answer's events (see
    :meth:`DavClient._listed`): the changed refs go to :func:`spill_refs` as they
    are read, the rest is collected on the way. ``None`` if the answer had no token."""
    deleted: list[str] = []
    token: str | None = None
    truncated = False

    def changed() -> Iterator[ItemRef]:
        nonlocal token, truncated
        for kind, value, etag in events:
            if kind == "changed":
                yield ItemRef(value, etag)
            elif kind == "deleted":
                deleted.append(value)
            elif kind == "truncated":
                truncated = True
            else:
                token = value

    refs = spill_refs(changed())  # reads every event: deleted, token and truncated are set
    if token is None:
        return None
    return SyncPage(refs, tuple(deleted), token, truncated)


def _is_tag(node: etree._Element) -> bool:
    return isinstance(node.tag, str)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class DavClient:
    """WebDAV requests over one niquests session (see the module documentation).

    :param session: from :meth:`~openprotocols.network.Network.http_session`; the client
        does not close it unless :meth:`close` is called.
    :param backend: the backend's name, put on every error.
    :param gate: called with each URL before its origin is first contacted; raises to
        refuse (consent). Origins it passed are remembered.
    :param auth: a niquests auth object (Basic or Bearer), or ``None``.

    One request at a time: a lock serialises them, so the collection's prefetch worker
    and the thread consuming its entries (which may write meanwhile, in a sync) can share
    the client.
    """

    def __init__(
        self,
        session: niquests.Session,
        *,
        backend: str,
        gate: Callable[[str], None],
        auth: AuthBase | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        self.session = session
        self.backend = backend
        self.auth = auth
        self.max_body = max_body
        self.requests = 0
        """How many requests were sent (benchmarks compare it with the floor)."""
        self.server_header: str | None = None
        self.dav_header: str | None = None
        self._gate = gate
        self._allowed: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the session."""
        self.session.close()

    # -- transport ---------------------------------------------------------------

    def allow(self, url: str) -> None:
        """Run ``url`` through the gate unless its origin passed already."""
        key = origin(url)
        if key not in self._allowed:
            self._gate(url)
            self._allowed.add(key)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        spill: bool = False,
    ) -> Reply:
        """Send one request and read the answer; never follow a redirect (see :meth:`check`
        and :meth:`error` for turning the answer into a typed error). With ``spill``, a
        207 body goes to :attr:`Reply.spilled`, a temporary file that holds up to
        :data:`SPILL` bytes in memory, instead of :attr:`Reply.body`.

        :raises ConnectionError, TimeoutError, ConnectionSecurityError: network failures.
        :raises ProtocolError: the body exceeds :attr:`max_body`.
        """
        with self._lock:
            return self._request(method, url, body, headers, spill)

    def _request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        spill: bool,
    ) -> Reply:
        import niquests
        from urllib3.exceptions import HTTPError as Urllib3Error

        self.allow(url)
        sent = {"Accept-Encoding": "identity", **(headers or {})}
        self.requests += 1
        try:
            response = self.session.request(
                method,
                url,
                data=body,
                headers=sent,
                auth=self.auth,
                allow_redirects=False,
                stream=True,
            )
        except niquests.exceptions.SSLError as exc:
            raise ConnectionSecurityError(
                f"TLS failed for {url}: {exc}", backend=self.backend, url=url
            ) from exc
        except niquests.exceptions.Timeout as exc:
            raise TimeoutError(f"{method} {url} timed out", backend=self.backend, url=url) from exc
        except (niquests.exceptions.RequestException, Urllib3Error, OSError, ValueError) as exc:
            raise ConnectionError(
                f"{method} {url} failed: {exc}", backend=self.backend, url=url
            ) from exc
        try:
            return self._read(response, method, url, spill)
        except niquests.exceptions.Timeout as exc:
            raise TimeoutError(
                f"reading the answer to {method} {url} timed out", backend=self.backend, url=url
            ) from exc
        except (niquests.exceptions.RequestException, Urllib3Error, OSError) as exc:
            raise ConnectionError(
                f"reading the answer to {method} {url} failed: {exc}",
                backend=self.backend,
                url=url,
            ) from exc
        finally:
            response.close()

    def _read(self, response: niquests.Response, method: str, url: str, spill: bool) -> Reply:
        status = int(response.status_code or 0)
        headers = dict(response.headers.items())
        lowered = {k.lower(): v for k, v in headers.items()}
        if self.server_header is None:
            self.server_header = lowered.get("server")
        length = lowered.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            raise self._too_big(url, status)
        chunks: list[bytes] = []
        # the Reply owns the file; it goes when the reply does
        spilled = tempfile.SpooledTemporaryFile(SPILL) if spill and status == 207 else None  # noqa: SIM115
        size = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > self.max_body:
                    raise self._too_big(url, status)
                if spilled is None:
                    chunks.append(chunk)
                else:
                    spilled.write(chunk)
        except BaseException:
            if spilled is not None:
                spilled.close()
            raise
        return Reply(method, url, status, _Headers(lowered), b"".join(chunks), spilled)

    def _too_big(self, url: str, status: int) -> ProtocolError:
        return ProtocolError(
            f"HTTP {status} from {url}: the body exceeds {self.max_body} bytes",
            backend=self.backend,
            url=url,
        )

    def check(self, reply: Reply, *, id: str | None = None) -> Reply:
        """Return ``reply`` if it is a success (2xx), else raise its typed error."""
        if 200 <= reply.status < 300:
            return reply
        raise self.error(reply, id=id)

    def error(self, reply: Reply, *, id: str | None = None) -> BackendError:  # noqa: PLR0911 - one return per row of the status table
        """The typed error for a non-2xx ``reply``."""
        status, url, name = reply.status, reply.url, self.backend
        conditions = preconditions(reply)
        detail = f" ({', '.join(sorted(conditions))})" if conditions else ""
        what = f"HTTP {status} from {url}{detail}"
        if status == 401:
            return AuthenticationError(f"{what}: credentials refused", backend=name, url=url)
        if status == 403:
            if reply.method in _WRITE_METHODS:
                return ReadOnlyError(f"{what}: not allowed to write", backend=name, url=url)
            return AuthenticationError(f"{what}: access denied", backend=name, url=url)
        if status in (404, 410):
            return NotFoundError(f"{what}: not found", id=id, backend=name, url=url)
        if status in (409, 412):
            return ConflictError(f"{what}: precondition failed", id=id, backend=name, url=url)
        if status in (405, 501):
            return CapabilityError(
                f"{what}: the server does not support this", backend=name, url=url
            )
        if status in (429, 503):
            return RateLimitedError(
                f"{what}: slow down",
                retry_after=_retry_after(reply.header("retry-after")),
                status=status,
                backend=name,
                url=url,
            )
        if status >= 500:
            return ServerError(what, status=status, backend=name, url=url)
        if 300 <= status < 400:
            where = reply.header("location") or "nowhere"
            return ProtocolError(f"{what}: unexpected redirect to {where}", backend=name, url=url)
        return ProtocolError(f"{what}: unexpected status", backend=name, url=url)

    # -- XML ---------------------------------------------------------------------

    def parse(self, reply: Reply) -> etree._Element:
        """Parse an XML body safely; anything wrong is a ProtocolError naming the URL."""
        try:
            return parse_xml(reply.body, format="WebDAV", max_size=self.max_body)
        except ParseError as exc:
            raise ProtocolError(
                f"bad XML from {reply.url}: {exc}", backend=self.backend, url=reply.url
            ) from exc

    def multistatus(self, reply: Reply) -> Multistatus:
        """Parse a 207 multistatus body.

        :raises ProtocolError: not a 207, not XML, not a multistatus, a response without
            an href or with a status line that is not one.
        """
        if reply.status != 207:
            raise self._not_multistatus(reply)
        root = self.parse(reply)
        if root.tag != f"{{{DAV}}}multistatus":
            raise self._unexpected(reply, f"a <{local_name(root)}> instead of a multistatus")
        responses: list[PropResponse] = []
        token: str | None = None
        for child in root:
            if not _is_tag(child):
                continue
            if child.tag == f"{{{DAV}}}response":
                responses.append(self._response(reply, child))
            elif child.tag == f"{{{DAV}}}sync-token":
                token = (child.text or "").strip()
        return Multistatus(tuple(responses), token)

    def _not_multistatus(self, reply: Reply) -> BackendError:
        """The error for an answer that should have been a 207 multistatus."""
        if 200 <= reply.status < 300:
            return ProtocolError(
                f"HTTP {reply.status} from {reply.url}: expected a 207 multistatus",
                backend=self.backend,
                url=reply.url,
            )
        return self.error(reply)

    def _response(self, reply: Reply, node: etree._Element) -> PropResponse:
        href: str | None = None
        status: int | None = None
        props: dict[str, etree._Element] = {}
        for child in node:
            if child.tag == f"{{{DAV}}}href" and href is None:
                href = (child.text or "").strip()
            elif child.tag == f"{{{DAV}}}status":
                status = self._status(reply, child.text)
            elif child.tag == f"{{{DAV}}}propstat":
                self._propstat(reply, child, props)
        if not href:
            raise self._unexpected(reply, "a <response> without an <href>")
        return PropResponse(href, status, props)

    def _propstat(
        self, reply: Reply, node: etree._Element, props: dict[str, etree._Element]
    ) -> None:
        status_node = node.find(f"{{{DAV}}}status")
        status = self._status(reply, None if status_node is None else status_node.text)
        prop = node.find(f"{{{DAV}}}prop")
        if prop is None or not 200 <= status < 300:
            return
        for value in prop:
            if _is_tag(value):
                props[str(value.tag)] = value

    def _status(self, reply: Reply, text: str | None) -> int:
        match = _STATUS_LINE.match((text or "").strip())
        if match is None:
            raise self._unexpected(reply, f"a status line {text!r}")
        return int(match.group(1))

    def _unexpected(self, reply: Reply, what: str) -> ProtocolError:
        return ProtocolError(
            f"unexpected answer from {reply.url}: {what}", backend=self.backend, url=reply.url
        )

    # -- WebDAV methods -----------------------------------------------------------

    def propfind(self, url: str, props: Sequence[str], *, depth: int) -> Multistatus:
        """PROPFIND ``props`` (Clark names) at ``url``."""
        return self.multistatus(self._propfind(url, props, depth=depth))

    def _propfind(
        self, url: str, props: Sequence[str], *, depth: int, spill: bool = False
    ) -> Reply:
        body = element(f"{{{DAV}}}propfind", element(f"{{{DAV}}}prop", *map(element, props)))
        return self.request(
            "PROPFIND",
            url,
            body=_to_bytes(body),
            headers={"Depth": str(depth), "Content-Type": "application/xml; charset=utf-8"},
            spill=spill,
        )

    def propfind_one(self, url: str, props: Sequence[str]) -> PropResponse:
        """PROPFIND depth 0: the one response for ``url``.

        :raises NotFoundError: ``url`` does not exist.
        """
        answer = self.propfind(url, props, depth=0)
        wanted = canonical_href(url, url)
        for response in answer.responses:
            if canonical_href(response.href, url) == wanted:
                return self._found(response, url)
        if len(answer.responses) == 1:  # some servers answer with another spelling
            return self._found(answer.responses[0], url)
        raise ProtocolError(
            f"the PROPFIND answer from {url} has no response for it",
            backend=self.backend,
            url=url,
        )

    def _found(self, response: PropResponse, url: str) -> PropResponse:
        if response.status in (404, 410):
            raise NotFoundError(f"{url} does not exist", backend=self.backend, url=url)
        return response

    def report(
        self, url: str, body: etree._Element, *, depth: int | None, spill: bool = False
    ) -> Reply:
        """Send a REPORT; the raw reply (a 207 for success; ``spill``: see :meth:`request`)."""
        headers = {"Content-Type": "application/xml; charset=utf-8"}
        if depth is not None:
            headers["Depth"] = str(depth)
        return self.request("REPORT", url, body=_to_bytes(body), headers=headers, spill=spill)

    def sync_collection(self, url: str, token: str, props: Sequence[str]) -> SyncPage:
        """One sync-collection REPORT (RFC 6578) from ``token`` (``""``: initial sync).

        :raises ConflictError: the server refused the token (the ``valid-sync-token``
            precondition, or another 403/409/412); the caller lists in full instead.
        """
        body = element(
            f"{{{DAV}}}sync-collection",
            element(f"{{{DAV}}}sync-token", text=token),
            element(f"{{{DAV}}}sync-level", text="1"),
            element(f"{{{DAV}}}prop", *map(element, props)),
        )
        reply = self.report(url, body, depth=None, spill=True)
        if reply.status in (400, 403, 409, 412) and token:
            conditions = preconditions(reply)
            if "valid-sync-token" in conditions or reply.status != 400:
                raise ConflictError(
                    f"{url} refused the sync token (HTTP {reply.status})",
                    backend=self.backend,
                    url=url,
                )
        spilled = reply.spilled
        if spilled is None:  # not a 207
            raise self._not_multistatus(reply)
        with spilled:  # read once, here: the refs are kept in a file of their own
            page = _sync_page(self._listed(reply, url))
        if page is None:
            raise self._unexpected(reply, "a sync-collection answer without a <sync-token>")
        return page

    def _listed(
        self, reply: Reply, url: str, *, etags_required: bool = True
    ) -> Iterator[tuple[str, str, str]]:
        """Read a spilled listing of the collection ``url`` (a sync-collection or a
        PROPFIND depth 1 answer) from its start, one ``<response>`` at a time:
        ``("changed", href, etag)``, ``("deleted", href, "")``, ``("truncated", href,
        "")`` (a 507 for the collection) and ``("token", token, "")``; the collection's
        own response and its sub-collections are left out, and so are members without
        an ETag unless ``etags_required`` (then they are a :class:`ProtocolError`)."""
        assert reply.spilled is not None
        reply.spilled.seek(0)
        own = canonical_href(url, url)
        nodes = iter_xml(reply.spilled, format="WebDAV")
        try:
            root = next(nodes)
            if root.tag != f"{{{DAV}}}multistatus":
                raise self._unexpected(reply, f"a <{local_name(root)}> instead of a multistatus")
            for node in nodes:
                if node.tag == f"{{{DAV}}}sync-token":
                    yield "token", (node.text or "").strip(), ""
                    continue
                if node.tag != f"{{{DAV}}}response":
                    continue
                response = self._response(reply, node)
                href = canonical_href(response.href, url)
                if href == own:
                    if response.status == 507:
                        yield "truncated", href, ""
                elif href.endswith("/") or f"{{{DAV}}}collection" in response.child_names(
                    f"{{{DAV}}}resourcetype"
                ):
                    continue  # a sub-collection is not an item
                elif response.status in (404, 410):
                    yield "deleted", href, ""
                elif etag := response.text(f"{{{DAV}}}getetag"):
                    yield "changed", href, etag
                elif etags_required:
                    raise self._unexpected(reply, f"no ETag for {href}")
        except ParseError as exc:
            raise ProtocolError(
                f"bad XML from {reply.url}: {exc}", backend=self.backend, url=reply.url
            ) from exc

    def etags(self, url: str) -> Iterator[tuple[str, str]]:
        """``(href, etag)`` of every member of the collection ``url`` (PROPFIND depth 1),
        read from the answer spilled to disk, a response at a time, as the iterator is
        consumed (the request is sent on the first ``next()``).

        :raises ProtocolError: a bad answer, or a listing the server cut short (a 507 for
            the collection): read as it is, the members it left out would look deleted.
        """
        props = [f"{{{DAV}}}getetag", f"{{{DAV}}}resourcetype"]
        reply = self._propfind(url, props, depth=1, spill=True)
        if reply.spilled is None:  # not a 207
            raise self._not_multistatus(reply)
        with reply.spilled:  # a member without an ETag is no item (as before RFC 6578)
            for event, href, etag in self._listed(reply, url, etags_required=False):
                if event == "changed":
                    yield href, etag
                elif event == "truncated":
                    raise self._unexpected(reply, "a listing cut short (507)")

    def multiget(
        self, url: str, report: str, data: str, hrefs: Iterable[str]
    ) -> Iterator[tuple[str, str, bytes]]:
        """``(href, etag, bytes)`` of each href that exists, by one multiget REPORT.

        ``report`` and ``data`` are the Clark names of the report and the data property
        (``calendar-multiget``/``calendar-data``). The request is sent at once, the
        answer read as the iterator is consumed (:meth:`send_multiget` then
        :meth:`read_multiget`).
        """
        return self.read_multiget(self.send_multiget(url, report, data, hrefs), data)

    def send_multiget(self, url: str, report: str, data: str, hrefs: Iterable[str]) -> Reply:
        """Send a multiget REPORT for ``hrefs``; the raw reply."""
        body = element(
            report,
            element(f"{{{DAV}}}prop", element(f"{{{DAV}}}getetag"), element(data)),
            *(element(f"{{{DAV}}}href", text=href) for href in hrefs),
        )
        return self.report(url, body, depth=None)

    def read_multiget(self, reply: Reply, data: str) -> Iterator[tuple[str, str, bytes]]:
        """``(href, etag, bytes)`` of each resource in a multiget ``reply``.

        XML normalises the CRLF line ends of iCalendar and vCard to LF; they are put back
        (both formats require CRLF).
        """
        answer = self.multistatus(reply)
        for response in answer.responses:
            href = canonical_href(response.href, reply.url)
            if response.status is not None and not 200 <= response.status < 300:
                continue  # deleted since it was listed
            text = response.raw_text(data)
            etag = response.text(f"{{{DAV}}}getetag")
            if text is None or not etag:
                if not response.props:
                    continue  # a 404 propstat: gone
                raise self._unexpected(reply, f"no data or ETag for {href}")
            yield href, etag, restore_crlf(text).encode("utf-8")

    def get(self, url: str, accept: str, *, id: str | None = None) -> Reply:
        """GET ``url``; the reply must be a 200 (its ``etag`` may be ``None``)."""
        reply = self.check(self.request("GET", url, headers={"Accept": accept}), id=id)
        if reply.status != 200:
            raise self._unexpected(reply, f"HTTP {reply.status} to a GET")
        return reply

    def etag_of(self, url: str) -> str | None:
        """The current ETag of ``url``, or ``None`` when it does not exist."""
        try:
            response = self.propfind_one(url, [f"{{{DAV}}}getetag"])
        except NotFoundError:
            return None
        return response.text(f"{{{DAV}}}getetag")

    def proppatch(self, url: str, props: Iterable[etree._Element]) -> None:
        """Set properties; any property the server refuses is a ProtocolError."""
        body = element(
            f"{{{DAV}}}propertyupdate",
            element(f"{{{DAV}}}set", element(f"{{{DAV}}}prop", *props)),
        )
        reply = self.check(
            self.request(
                "PROPPATCH",
                url,
                body=_to_bytes(body),
                headers={"Content-Type": "application/xml; charset=utf-8"},
            )
        )
        if reply.status == 207:
            for response in self.multistatus(reply).responses:
                self._check_propstats(reply, response)

    def _check_propstats(self, reply: Reply, response: PropResponse) -> None:
        if response.status is not None and not 200 <= response.status < 300:
            raise ConflictError(
                f"PROPPATCH {reply.url} failed with HTTP {response.status}",
                backend=self.backend,
                url=reply.url,
            )

    def make_collection(self, method: str, url: str, body: etree._Element) -> Reply:
        """MKCALENDAR or (extended) MKCOL; the raw reply."""
        return self.request(
            method,
            url,
            body=_to_bytes(body),
            headers={"Content-Type": "application/xml; charset=utf-8"},
        )


class _Headers(dict[str, str]):
    """Response headers with lower-cased keys; lookups are case-insensitive."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def restore_crlf(text: str) -> str:
    """Undo XML's line-end normalisation of iCalendar/vCard data (LF back to CRLF), unless
    the server escaped its carriage returns (then the text still has them)."""
    if "\r" in text:
        return text
    return text.replace("\n", "\r\n")


def preconditions(reply: Reply) -> set[str]:
    """The local names of the pre-/postconditions in a ``<DAV:error>`` body (RFC 4918 §16),
    or an empty set when the body is not one."""
    content_type = (reply.header("content-type") or "").lower()
    if not reply.body or "xml" not in content_type or len(reply.body) > 64 * 1024:
        return set()
    try:
        root = parse_xml(reply.body, format="WebDAV error", max_size=64 * 1024)
    except ParseError:
        return set()
    if local_name(root) != "error":
        return set()
    return {local_name(child) for child in root if _is_tag(child)}


# -- the backend and collection shared by CalDAV and CardDAV ------------------------------


class BearerAuth(AuthBase):
    """``Authorization: Bearer`` with a token fetched from the backend's token provider
    for each request (the provider refreshes; nothing is stored here)."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        return request

    def __repr__(self) -> str:
        return "<BearerAuth>"


SYNC_COLLECTION = "sync-collection"
"""Sync method: RFC 6578 sync tokens (``changes()`` costs O(changes))."""
SYNC_CTAG = "ctag"
"""Sync method: ``getctag`` says whether anything changed; if so, a full ETag listing."""
SYNC_ETAG = "etag"
"""Sync method: a full ETag listing every time."""

_MAX_SYNC_PAGES = 10_000
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@attrs.frozen(kw_only=True)
class CollectionInfo:
    """What a DAV server says about one collection (a calendar or an address book).

    ``components`` are the iCalendar components a calendar accepts (``VEVENT``,
    ``VTODO``...; empty for an address book); ``sync_method`` is
    :data:`SYNC_COLLECTION`, :data:`SYNC_CTAG` or :data:`SYNC_ETAG`;
    ``resource_types`` the Clark names of its ``resourcetype``.
    """

    href: str
    kind: FolderKind
    display_name: str
    color: str | None = None
    description: str | None = None
    components: frozenset[str] = frozenset()
    read_only: bool = False
    sync_method: str = SYNC_ETAG
    resource_types: frozenset[str] = frozenset()

    @property
    def folder(self) -> Folder:
        """The collection as a :class:`~openprotocols.model.Folder` (id: its href)."""
        name = urllib.parse.unquote(self.href.rstrip("/").rsplit("/", 1)[-1])
        return Folder(
            id=self.href,
            kind=self.kind,
            name=name,
            display_name=self.display_name or name,
            color=self.color,
            description=self.description,
            read_only=self.read_only,
        )


@attrs.frozen(kw_only=True)
class Principal:
    """Where the account's data lives on the server, as found by :meth:`DavBackend.open`."""

    context_url: str
    url: str
    home_url: str
    addresses: tuple[str, ...] = ()
    """``calendar-user-address-set`` (``mailto:`` URIs)."""
    schedule_outbox: str | None = None
    directory_gateway: str | None = None


#: Properties listed for each collection.
COLLECTION_PROPS = (
    f"{{{DAV}}}resourcetype",
    f"{{{DAV}}}displayname",
    f"{{{DAV}}}current-user-privilege-set",
    f"{{{DAV}}}supported-report-set",
)
#: A collection's state: asked only of a server that does not list its reports, to tell
#: its sync method. They can be dear: Radicale reads every item of the collection for
#: each (0.9 s of a 1.5 s no-change sync of 5,000 contacts, when they were always asked).
STATE_PROPS = (f"{{{DAV}}}sync-token", f"{{{CALSERVER}}}getctag")
_WRITE_PRIVILEGES = frozenset(
    {f"{{{DAV}}}write", f"{{{DAV}}}write-content", f"{{{DAV}}}all", f"{{{DAV}}}bind"}
)


def sync_method(response: PropResponse) -> str:
    """How changes of the collection in ``response`` are found (``SYNC_*``).

    From the reports it lists; if it lists none, from its :data:`STATE_PROPS` (a
    ``sync-token`` means ``sync-collection``, a ``getctag`` the ctag). A server that lists
    reports without ``sync-collection`` gets the ctag method, which falls back on a full
    listing whenever a collection has no ``getctag``.
    """
    reports = response.child_names(f"{{{DAV}}}supported-report-set")
    if reports:
        return SYNC_COLLECTION if f"{{{DAV}}}sync-collection" in reports else SYNC_CTAG
    if response.text(f"{{{DAV}}}sync-token"):
        return SYNC_COLLECTION
    return SYNC_CTAG if response.text(f"{{{CALSERVER}}}getctag") else SYNC_ETAG


def reports_unlisted(response: PropResponse) -> bool:
    """Whether the collection in ``response`` lists no report, so that only its
    :data:`STATE_PROPS` tell its sync method."""
    return not response.child_names(f"{{{DAV}}}supported-report-set")


def read_only(response: PropResponse) -> bool:
    """Whether ``current-user-privilege-set`` in ``response`` lacks every write privilege."""
    if f"{{{DAV}}}current-user-privilege-set" not in response.props:
        return False  # not said: try, and let a 403 tell
    privileges = response.child_names(f"{{{DAV}}}current-user-privilege-set")
    return not privileges & _WRITE_PRIVILEGES


class DavBackend(Backend):
    """What the CalDAV and CardDAV backends share: opening (principal and home set),
    listing, creating, renaming and deleting collections. See the backends' modules."""

    home_property: ClassVar[str]
    """The principal property naming the home collection (``calendar-home-set``...)."""
    collection_type: ClassVar[str]
    """The resourcetype that marks a collection of this backend (``{CALDAV}calendar``)."""
    extra_props: ClassVar[tuple[str, ...]] = ()
    """Collection properties listed besides :data:`COLLECTION_PROPS`."""
    collection_class: ClassVar[type[DavCollection]]
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
        token_provider: TokenProvider | None = None,
    ) -> None:
        super().__init__(account, network=network, token_provider=token_provider)
        self._dav: DavClient | None = None
        self._principal: Principal | None = None
        self._infos: dict[str, CollectionInfo] = {}
        self._trusted_hosts: set[str] = set()

    # -- opening -----------------------------------------------------------------------

    @property
    def dav(self) -> DavClient:
        """The WebDAV client (after :meth:`open`)."""
        if self._dav is None:
            raise ConfigurationError(f"{self.name} backend is not open; call open() first")
        return self._dav

    @property
    def principal(self) -> Principal:
        """The principal and home found by :meth:`open`."""
        if self._principal is None:
            raise ConfigurationError(f"{self.name} backend is not open; call open() first")
        return self._principal

    def open(self) -> None:
        """Find the principal and the home collection.

        With an endpoint for this protocol in the account, its URL is the context URL;
        without one, the candidates of RFC 6764 discovery (``_davlocate``) are tried in
        turn. Plain ``http`` needs the consent callback's yes before anything is sent.

        :raises ConsentRequired: clear text or a foreign host was refused.
        :raises DiscoveryError: no candidate answered.
        """
        if self._dav is not None:
            return
        try:
            endpoint: Endpoint | None = self.account.endpoint(self.name)
        except ConfigurationError:
            endpoint = None
        session = self.network.http_session()
        try:
            if endpoint is not None:
                self._open_endpoint(session, endpoint)
            else:
                self._open_located(session)
        except BaseException:
            session.close()
            self._dav = None
            raise

    def _open_endpoint(self, session: niquests.Session, endpoint: Endpoint) -> None:
        url = endpoint.url
        if not urllib.parse.urlsplit(url).path:
            url += "/"
        self._trusted_hosts.add(origin(url)[1])
        self._dav = DavClient(
            session, backend=self.name, gate=self._gate, auth=self._auth(endpoint)
        )
        self._principal = self._find_principal(url)

    def _open_located(self, session: niquests.Session) -> None:
        from openprotocols.backends import _davlocate

        endpoint = self._credentials_endpoint()
        last: BackendError | None = None
        for candidate in _davlocate.locate(self.name, self.account, self.network, session):  # type: ignore[arg-type]
            # The locator checked the host and asked about clear text already.
            self._trusted_hosts.add(origin(candidate.url)[1])
            self._dav = DavClient(
                session, backend=self.name, gate=self._gate, auth=self._auth(endpoint)
            )
            self._dav._allowed.add(origin(candidate.url))
            try:
                self._principal = self._find_principal(candidate.url)
            except BackendError as exc:
                log.info(
                    "%s candidate %s (%s) failed: %s",
                    self.name,
                    candidate.url,
                    candidate.source,
                    exc,
                )
                last = exc
                continue
            return
        if last is not None:
            raise last
        raise DiscoveryError(f"no {self.name} service found for {self.account.email}")

    def _credentials_endpoint(self) -> Endpoint | None:
        """The endpoint whose credentials go to a located server: the other DAV protocol's,
        else IMAP's, else any with a password."""
        order = ("caldav", "carddav", "imap", "smtp")
        ranked = sorted(
            (e for e in self.account.endpoints if e.password is not None or e.auth == "oauth2"),
            key=lambda e: order.index(e.protocol) if e.protocol in order else len(order),
        )
        return ranked[0] if ranked else None

    def _auth(self, endpoint: Endpoint | None) -> AuthBase | None:
        import niquests

        if endpoint is None or endpoint.auth is AuthMechanism.NONE:
            return None
        if endpoint.auth is AuthMechanism.OAUTH2:
            provider = self.token_provider
            if provider is None:
                raise ConfigurationError(
                    f"{self.name}: the endpoint uses oauth2 but the backend has no token provider"
                )
            return BearerAuth(lambda: provider(self.account, endpoint))
        if endpoint.password is None:
            return None
        return niquests.auth.HTTPBasicAuth(
            endpoint.username or self.account.email, endpoint.password.reveal()
        )

    def _gate(self, url: str) -> None:
        """Consent before a new origin: clear text always, a foreign host unless it is the
        configured one or inside the user's registrable domain."""
        scheme, host, port = origin(url)
        if scheme not in ("http", "https") or not host:
            raise ProtocolError(f"not an http(s) URL: {url}", backend=self.name, url=url)
        if host not in self._trusted_hosts and not same_site(host, self.account.domain):
            self.network.require_consent(
                ConsentRequest(
                    kind=ConsentKind.FOREIGN_HOST,
                    protocol=self.name,
                    host=host,
                    port=port,
                    domain=self.account.domain,
                    reason=f"the {self.name} server points to {url}",
                )
            )
        if scheme == "http":
            self.network.require_consent(
                ConsentRequest(
                    kind=ConsentKind.CLEAR_TEXT,
                    protocol=self.name,
                    host=host,
                    port=port,
                    reason=f"the {self.name} server at {url} offers no TLS",
                )
            )

    def _propfind_following(self, url: str, props: Sequence[str]) -> tuple[str, PropResponse]:
        """PROPFIND depth 0, following a few redirects (each hop through the gate)."""
        for _ in range(_MAX_REDIRECTS + 1):
            body = element(f"{{{DAV}}}propfind", element(f"{{{DAV}}}prop", *map(element, props)))
            reply = self.dav.request(
                "PROPFIND",
                url,
                body=_to_bytes(body),
                headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"},
            )
            if reply.status in _REDIRECTS and reply.header("location"):
                url = urllib.parse.urljoin(url, reply.header("location") or "")
                continue
            if self.dav.dav_header is None:
                self.dav.dav_header = reply.header("dav")
            answer = self.dav.multistatus(reply)
            if not answer.responses:
                raise ProtocolError(f"empty PROPFIND answer from {url}", backend=self.name, url=url)
            return url, answer.responses[0]
        raise ProtocolError(f"too many redirects from {url}", backend=self.name, url=url)

    def _find_principal(self, context: str) -> Principal:
        context, found = self._propfind_following(
            context, [f"{{{DAV}}}current-user-principal", f"{{{DAV}}}resourcetype"]
        )
        hrefs = found.hrefs(f"{{{DAV}}}current-user-principal")
        principal_url = urllib.parse.urljoin(context, hrefs[0]) if hrefs else context
        props = [
            self.home_property,
            f"{{{CALDAV}}}calendar-user-address-set",
            f"{{{CALDAV}}}schedule-outbox-URL",
            f"{{{CARDDAV}}}directory-gateway",
        ]
        principal_url, answer = self._propfind_following(principal_url, props)
        homes = answer.hrefs(self.home_property)
        outbox = answer.hrefs(f"{{{CALDAV}}}schedule-outbox-URL")
        gateway = answer.hrefs(f"{{{CARDDAV}}}directory-gateway")
        return Principal(
            context_url=context,
            url=principal_url,
            home_url=urllib.parse.urljoin(principal_url, homes[0]) if homes else principal_url,
            addresses=tuple(answer.hrefs(f"{{{CALDAV}}}calendar-user-address-set")),
            schedule_outbox=urllib.parse.urljoin(principal_url, outbox[0]) if outbox else None,
            directory_gateway=urllib.parse.urljoin(principal_url, gateway[0]) if gateway else None,
        )

    def close(self) -> None:
        """Close the HTTP session."""
        if self._dav is not None:
            self._dav.close()
            self._dav = None

    # -- collections -----------------------------------------------------------------

    def url_of(self, href: str) -> str:
        """The absolute URL of an href (a folder or item id)."""
        return urllib.parse.urljoin(self.principal.home_url, href)

    def collections(self) -> list[CollectionInfo]:
        """Every collection of this backend's kind in the home, with what the server says
        about it (components, sync method, read-only)."""
        home = self.principal.home_url
        props = [*COLLECTION_PROPS, *self.extra_props]
        found = self._infos_in(self.dav.propfind(home, props, depth=1))
        if any(reports_unlisted(response) for _, response in found):
            found = self._infos_in(self.dav.propfind(home, [*props, *STATE_PROPS], depth=1))
        infos = [info for info, _ in found]
        self._infos = {info.href: info for info in infos}
        return sorted(infos, key=lambda info: info.href)

    def _infos_in(self, answer: Multistatus) -> list[tuple[CollectionInfo, PropResponse]]:
        """The collections of ours in a PROPFIND answer, with their responses."""
        found = []
        for response in answer.responses:
            if response.status is not None:
                continue
            href = canonical_href(response.href, self.principal.home_url)
            info = self._info_from(href, response)
            if info is not None:
                found.append((info, response))
        return found

    def collection_info(self, folder: Folder | str) -> CollectionInfo:
        """What the server says about one collection (asked once, then remembered).

        :raises NotFoundError: no such collection of this backend's kind.
        """
        href = canonical_href(self._folder_id(folder), self.principal.home_url)
        info = self._infos.get(href)
        if info is None:
            info = self._fetch_info(href)
        return info

    def _fetch_info(self, href: str) -> CollectionInfo:
        url = self.url_of(href)
        props = [*COLLECTION_PROPS, *self.extra_props]
        response = self.dav.propfind_one(url, props)
        if reports_unlisted(response):
            response = self.dav.propfind_one(url, [*props, *STATE_PROPS])
        info = self._info_from(href, response)
        if info is None:
            raise NotFoundError(
                f"{url} is not a {self.name} collection", backend=self.name, url=url
            )
        self._infos[href] = info
        return info

    @abc.abstractmethod
    def _info_from(self, href: str, response: PropResponse) -> CollectionInfo | None:
        """The collection a PROPFIND response describes, or ``None`` if it is none of ours."""

    def list_folders(self) -> list[Folder]:
        return [info.folder for info in self.collections()]

    def collection(self, folder: Folder | str) -> DavCollection:
        return self.collection_class(self, self.collection_info(folder))

    def _new_href(self, name: str, parent: str | None) -> str:
        base = self.url_of(parent) if parent else self.principal.home_url
        if not base.endswith("/"):
            base += "/"
        segment = urllib.parse.quote(name.strip("/"), safe="")
        return canonical_href(segment + "/", base)

    def _make_collection(
        self, name: str, parent: str | None, method: str, root: str, props: list[etree._Element]
    ) -> Folder:
        """Create the collection ``name`` (under ``parent``) with ``method`` (MKCALENDAR,
        extended MKCOL), its body ``root`` setting ``props``."""
        href = self._new_href(name, parent)
        body = element(root, element(f"{{{DAV}}}set", element(f"{{{DAV}}}prop", *props)))
        return self._made(href, self.dav.make_collection(method, self.url_of(href), body))

    def _made(self, href: str, reply: Reply) -> Folder:
        if reply.status in (405,) or "resource-must-be-null" in preconditions(reply):
            raise AlreadyExistsError(
                f"{self.url_of(href)} exists", backend=self.name, url=self.url_of(href)
            )
        self.dav.check(reply)
        self._infos.pop(href, None)
        return self._fetch_info(href).folder

    def _rename_folder(self, folder_id: str, new_name: str) -> Folder:
        href = canonical_href(folder_id, self.principal.home_url)
        self.dav.proppatch(self.url_of(href), [element(f"{{{DAV}}}displayname", text=new_name)])
        self._infos.pop(href, None)
        return self._fetch_info(href).folder

    def _delete_folder(self, folder_id: str) -> None:
        href = canonical_href(folder_id, self.principal.home_url)
        self._infos.pop(href, None)
        self.dav.check(self.dav.request("DELETE", self.url_of(href)))


class DavCollection(Collection[Item]):
    """A calendar or address book: items are DAV resources, ids their hrefs, versions
    their ETags (see the backends' modules for what each kind adds)."""

    backend: DavBackend
    content_type: ClassVar[str]
    accept: ClassVar[str]
    extension: ClassVar[str]
    multiget_report: ClassVar[str]
    data_property: ClassVar[str]

    def __init__(self, backend: DavBackend, info: CollectionInfo) -> None:
        super().__init__(backend, info.folder)
        self.info = info
        self.href = info.href
        self.url = backend.url_of(info.href)
        # (etag, bytes) of recent reads, the originals of the next writes; bounded.
        self._originals: collections.OrderedDict[str, tuple[str, bytes]] = collections.OrderedDict()

    @property
    def dav(self) -> DavClient:
        return self.backend.dav

    # -- the format --------------------------------------------------------------------

    @abc.abstractmethod
    def decode(self, data: bytes) -> Item | None:
        """The item in a resource's bytes (``None``: nothing the model can hold)."""

    @abc.abstractmethod
    def encode(self, item: Item, original: bytes | None) -> bytes:
        """The bytes to store for ``item``, a minimal change of ``original`` if given."""

    # -- changes -----------------------------------------------------------------------

    def changes(self, since: str | None = None) -> Changes:
        method = self.info.sync_method
        if method == SYNC_COLLECTION:
            if since is not None and since.startswith("sync:"):
                try:
                    return self._sync(since.removeprefix("sync:"))
                except ConflictError as exc:
                    log.info("%r: %s; listing in full", self, exc)
            return self._sync_full()
        if method == SYNC_CTAG:
            ctag = self.dav.propfind_one(self.url, [f"{{{CALSERVER}}}getctag"]).text(
                f"{{{CALSERVER}}}getctag"
            )
            state = f"ctag:{ctag}"
            if ctag and since == state:
                return Changes((), (), state)
            return Changes(self._listing()[0], (), state, full=True)
        refs, digest = self._listing()
        state = f"etag:{digest}"
        if since == state:
            return Changes((), (), state)
        return Changes(refs, (), state, full=True)

    def _listing(self) -> tuple[tuple[ItemRef, ...] | Listing, str]:
        """Every member's ref (on disk when there are many: :func:`spill_refs`), and a
        digest of them all that does not depend on their order: the sum of every ref's
        SHA-256 modulo 2**256, so nothing is held or sorted to compute it."""
        total = 0

        def refs() -> Iterator[ItemRef]:
            nonlocal total
            for href, etag in self.dav.etags(self.url):
                total += int.from_bytes(hashlib.sha256(f"{href}\0{etag}".encode()).digest())
                yield ItemRef(href, etag)

        listed = spill_refs(refs())  # consumes refs(): total is complete
        return listed, f"{total % 2**256:064x}"

    def _pages(self, token: str) -> tuple[tuple[ItemRef, ...] | Listing, list[str], str]:
        """Every page of a sync-collection from ``token``: the changed refs, the deleted
        hrefs and the new token. One page (the rule) is handed on as it is (its refs
        spilled to disk when there are many). The pages of a truncated answer (507) are
        merged in a temporary SQLite database, a later page's word on an href winning,
        and the merged refs spilled: memory holds neither the pages nor the merge."""
        pages = self._sync_pages(token)
        first = next(pages)
        if not first.truncated:
            return first.changed, sorted(first.deleted), first.token
        merge = sqlite3.connect("")  # private and temporary: in memory while small
        try:
            merge.execute("CREATE TABLE refs (href TEXT PRIMARY KEY, etag TEXT) WITHOUT ROWID")
            for last in itertools.chain([first], pages):
                merge.executemany(
                    "INSERT OR REPLACE INTO refs VALUES (?, ?)",
                    itertools.chain(
                        ((ref.id, ref.version) for ref in last.changed),
                        ((href, None) for href in last.deleted),  # NULL: deleted
                    ),
                )
            rows = merge.execute("SELECT href, etag FROM refs WHERE etag IS NOT NULL")
            refs = spill_refs(ItemRef(href, etag) for href, etag in rows)
            # sorted, as one page's are (the primary key's order: the sort is free)
            rows = merge.execute("SELECT href FROM refs WHERE etag IS NULL ORDER BY href")
            return refs, [href for (href,) in rows], last.token
        finally:
            merge.close()

    def _sync_pages(self, token: str) -> Iterator[SyncPage]:
        """The pages of a sync-collection from ``token``, asking again after each
        truncated one (507) with the token it gave."""
        for _ in range(_MAX_SYNC_PAGES):
            page = self.dav.sync_collection(self.url, token, [f"{{{DAV}}}getetag"])
            yield page
            if not page.truncated:
                return
            if page.token == token:
                raise ProtocolError(
                    f"{self.url} truncated a sync report without advancing its token",
                    backend=self.backend.name,
                    url=self.url,
                )
            token = page.token
        raise ProtocolError(
            f"{self.url} truncated the sync report {_MAX_SYNC_PAGES} times",
            backend=self.backend.name,
            url=self.url,
        )

    def _sync(self, token: str) -> Changes:
        changed, deleted, new = self._pages(token)
        return Changes(changed, deleted, f"sync:{new}")

    def _sync_full(self) -> Changes:
        changed, _, new = self._pages("")
        return Changes(changed, (), f"sync:{new}", full=True)

    # -- reading ------------------------------------------------------------------------

    def _href(self, id: str) -> str:
        return canonical_href(id, self.url)

    prefetch = 2  # _get_batch sends its multiget when called, parses and decodes lazily

    def _get_batch(self, ids: Sequence[str]) -> Iterable[Entry[Item]]:
        hrefs = dict.fromkeys(self._href(i) for i in ids)
        reply = self.dav.send_multiget(self.url, self.multiget_report, self.data_property, hrefs)
        return self._entries(self.dav.read_multiget(reply, self.data_property))

    def _entries(self, found: Iterable[tuple[str, str, bytes]]) -> Iterator[Entry[Item]]:
        for href, etag, raw in found:
            item = self._decode(href, raw)
            if item is None:
                continue
            self._remember(href, etag, raw)
            yield Entry(href, etag, item, raw=raw)

    def _decode(self, href: str, raw: bytes) -> Item | None:
        try:
            item = self.decode(raw)
        except ParseError as exc:
            url = self.backend.url_of(href)
            raise ProtocolError(
                f"{url} holds data that cannot be read: {exc}", backend=self.backend.name, url=url
            ) from exc
        if item is None:
            log.warning("%r: %s holds nothing the model can hold; skipped", self, href)
        return item

    def _remember(self, href: str, etag: str, raw: bytes) -> None:
        self._originals[href] = (etag, raw)
        self._originals.move_to_end(href)
        while len(self._originals) > max(1, self.batch_size):
            self._originals.popitem(last=False)

    def _original(self, href: str, if_match: str) -> bytes:
        """The server's bytes of ``href`` at version ``if_match`` (from recent reads, else
        one GET).

        :raises ConflictError: the item is at another version now.
        :raises NotFoundError: the item is gone.
        """
        cached = self._originals.get(href)
        if cached is not None and cached[0] == if_match:
            return cached[1]
        url = self.backend.url_of(href)
        reply = self.dav.get(url, self.accept, id=href)
        etag = reply.etag or self.dav.etag_of(url)
        if etag != if_match:
            raise ConflictError(
                f"{url} is at version {etag}, not {if_match}",
                id=href,
                current_version=etag,
                backend=self.backend.name,
                url=url,
            )
        self._remember(href, if_match, reply.body)
        return reply.body

    # -- writing ------------------------------------------------------------------------

    def _name_for(self, item: Item) -> str:
        """A resource name from the UID when it is URL-safe (a retried create then finds
        its own first attempt), else a digest of it."""
        uid = str(item.uid) if item.uid is not None else uuid.uuid4().hex
        if not _SAFE_NAME.fullmatch(uid):
            uid = hashlib.sha256(uid.encode()).hexdigest()[:40]
        return uid + self.extension

    def _create(self, item: Item) -> ItemRef:
        href = canonical_href(self._name_for(item), self.url)
        url = self.backend.url_of(href)
        reply = self.dav.request(
            "PUT",
            url,
            body=self.encode(item, None),
            headers={"If-None-Match": "*", "Content-Type": self.content_type},
        )
        if reply.status in (403, 409, 412):
            conditions = preconditions(reply)
            if reply.status == 412 or conditions & {"no-uid-conflict"}:
                raise AlreadyExistsError(
                    f"an item with UID {item.uid!r} exists in {self.url}",
                    id=href if reply.status == 412 else None,
                    current_version=self.dav.etag_of(url) if reply.status == 412 else None,
                    backend=self.backend.name,
                    url=url,
                )
        self.dav.check(reply, id=href)
        return ItemRef(href, self._written_etag(url, reply))

    def _written_etag(self, url: str, reply: Reply) -> str:
        """The ETag after a write: from the reply, else a follow-up PROPFIND."""
        etag = reply.etag or self.dav.etag_of(url)
        if not etag:
            raise ProtocolError(
                f"{url} gives no ETag after a write", backend=self.backend.name, url=url
            )
        return etag

    def _check_strong(self, href: str, if_match: str) -> None:
        if if_match.startswith("W/"):
            url = self.backend.url_of(href)
            raise CapabilityError(
                f"{url} has a weak ETag; a conditional write needs a strong one",
                capability="strong-etag",
                backend=self.backend.name,
                url=url,
            )

    def _put(self, id: str, item: Item, if_match: str) -> ItemRef:
        href = self._href(id)
        self._check_strong(href, if_match)
        url = self.backend.url_of(href)
        original = self._original(href, if_match)
        reply = self.dav.request(
            "PUT",
            url,
            body=self.encode(item, original),
            headers={"If-Match": if_match, "Content-Type": self.content_type},
        )
        self._originals.pop(href, None)  # the server's bytes are new now
        self._check_write(reply, href, url, if_match)
        return ItemRef(href, self._written_etag(url, reply))

    def _delete(self, id: str, if_match: str) -> None:
        href = self._href(id)
        self._check_strong(href, if_match)
        url = self.backend.url_of(href)
        reply = self.dav.request("DELETE", url, headers={"If-Match": if_match})
        self._originals.pop(href, None)
        self._check_write(reply, href, url, if_match)

    def _check_write(self, reply: Reply, href: str, url: str, if_match: str) -> None:
        """A 412 becomes a ConflictError with the current version (or NotFoundError)."""
        if reply.status == 412:
            current = self.dav.etag_of(url)
            if current is None:
                raise NotFoundError(
                    f"{url} was deleted", id=href, backend=self.backend.name, url=url
                )
            raise ConflictError(
                f"{url} is at version {current}, not {if_match}",
                id=href,
                current_version=current,
                backend=self.backend.name,
                url=url,
            )
        self.dav.check(reply, id=href)


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")


# -- capabilities and quirks ------------------------------------------------------------------


@attrs.frozen
class Quirk:
    """A known way a server departs from the RFCs, and what the backends do about it.

    ``server`` names the server (and versions) it was seen on; ``servers`` are the names
    :func:`identify` gives that server, so a report lists the quirks that apply.
    """

    server: str
    issue: str
    handling: str
    servers: frozenset[str] = frozenset()


#: Known server quirks (documented in ``docs/backends/caldav.md`` and ``carddav.md``).
QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        "Xandikos 0.4",
        "refuses a GET of a vCard unless Accept allows text/vcard "
        '("Unable to convert from content types")',
        "CardDAV GETs send Accept: text/vcard",
        frozenset({"xandikos"}),
    ),
    Quirk(
        "Xandikos 0.4",
        "refuses a PROPFIND or REPORT body without an XML Content-Type (415)",
        "every XML body is sent as application/xml",
        frozenset({"xandikos"}),
    ),
    Quirk(
        "Xandikos 0.4",
        "a duplicate UID is a 412 with no-uid-conflict (Radicale: 409); "
        "an existing collection is a 403 resource-must-be-null (Radicale: 409)",
        "both are AlreadyExistsError",
        frozenset({"xandikos"}),
    ),
    Quirk(
        "Radicale 3",
        "re-serialises vCards through vobject: property names upper-cased, order "
        "changed, a vCard 4.0 data: URI photo loses its data",
        "new cards are written as vCard 3.0; round trips are byte-identical only on "
        "servers that keep the bytes (Xandikos)",
        frozenset({"radicale"}),
    ),
    Quirk(
        "Radicale 3",
        "creates the user's principal collection only on the first request to it "
        "(a MKCOL before that is a 409)",
        "open() always PROPFINDs current-user-principal and the principal first",
        frozenset({"radicale"}),
    ),
    Quirk(
        "Radicale 3",
        "no RFC 6638 scheduling (no schedule-outbox-URL)",
        "free_busy() raises CapabilityError",
        frozenset({"radicale"}),
    ),
    Quirk(
        "Radicale 3, Xandikos 0.4",
        "calendar-data and address-data are sent as XML text, whose parser turns CRLF into LF",
        "CRLF is restored (both formats require it); a GET gives the same bytes",
        frozenset({"radicale", "xandikos"}),
    ),
    Quirk(
        "Sabre/DAV (Nextcloud, Baikal)",
        "an expired sync token is a 403 with valid-sync-token, sometimes a 400 InvalidSyncToken",
        "any refusal of a sync token gives a full listing (Changes.full)",
        frozenset({"sabre"}),
    ),
)


@attrs.frozen(kw_only=True)
class Capabilities:
    """What a DAV server can do, as data the sync engine picks strategies by."""

    server: str | None
    """:func:`identify`'s name for the server (``radicale``, ``xandikos``...), if known."""
    dav_classes: frozenset[str]
    """The ``DAV`` header's compliance classes (``calendar-access``, ``addressbook``...)."""
    sync_collection: bool
    mkcalendar: bool
    extended_mkcol: bool
    vtodo: bool
    scheduling: bool
    groups: bool
    directory: bool
    quirks: tuple[Quirk, ...]


def identify(
    server_header: str | None, dav_classes: Iterable[str], home: PropResponse
) -> str | None:
    """A name for the server software, from what it sent (best effort)."""
    if f"{{{_RADICALE}}}version" in home.props:
        return "radicale"
    header = (server_header or "").lower()
    for name in ("radicale", "xandikos", "sabre", "cyrus", "davical", "sogo", "baikal"):
        if name in header:
            return name
    if "aiohttp" in header and "add-member" in set(dav_classes):
        return "xandikos"  # Xandikos serves with aiohttp and announces add-member
    return None


_RADICALE = "http://radicale.org/ns/"


def capability_report(backend: DavBackend, *, directory: bool = False) -> Capabilities:
    """Ask the server (an OPTIONS and a PROPFIND of the home) what it can do."""
    dav = backend.dav
    home_url = backend.principal.home_url
    options = dav.check(dav.request("OPTIONS", home_url))
    classes = frozenset(
        c.strip().lower() for c in (options.header("dav") or "").split(",") if c.strip()
    )
    allow = {m.strip().upper() for m in (options.header("allow") or "").split(",")}
    home = dav.propfind_one(home_url, [f"{{{DAV}}}supported-report-set", f"{{{_RADICALE}}}version"])
    infos = backend.collections()
    server = identify(dav.server_header, classes, home)
    calendar = "calendar-access" in classes
    return Capabilities(
        server=server,
        dav_classes=classes,
        sync_collection="sync-collection" in classes
        or any(i.sync_method == SYNC_COLLECTION for i in infos)
        or f"{{{DAV}}}sync-collection" in home.child_names(f"{{{DAV}}}supported-report-set"),
        mkcalendar=calendar and "MKCALENDAR" in allow,
        extended_mkcol="extended-mkcol" in classes,
        vtodo=calendar and ("MKCALENDAR" in allow or any("VTODO" in i.components for i in infos)),
        scheduling=backend.principal.schedule_outbox is not None,
        groups="addressbook" in classes,
        directory=directory,
        quirks=tuple(q for q in QUIRKS if server in q.servers),
    )
