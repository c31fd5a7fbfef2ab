"""Full and incremental fetch of N events and N contacts through the CalDAV and CardDAV
backends, against Radicale and Xandikos, beside the raw floor in the same run (target:
the backend within 1.3x of the floor).

For each server and kind of collection the script prints:

- **full fetch**: ``changes(None)`` then ``list(get(ids))`` through the backend (wall
  time, HTTP requests); the floor is one sync-collection REPORT plus multiget REPORTs of
  the same batch size sent with a bare niquests session, parsing only the sync report's
  hrefs (lxml); then the ratio backend/floor.
- **incremental**: another plain client edits 50 items (PUT), then ``changes(state)`` and
  ``get(changed ids)``; its request count must be constant (one sync REPORT and one
  multiget per batch of 100), not O(items). The floor is the same two requests, bare.
- **memory**: the tracemalloc peak (Python allocations only: libxml2's C allocations and
  the server are not in it) of the listing (``changes(None)``, O(items) by nature: one
  ref per item) and of the fetch streamed (entries dropped as they come: bounded by the
  batch size) or collected in a list (O(items): the caller keeps them), for 1,000 and N
  items; and the process's peak RSS above its start during the streamed fetch (Linux,
  includes lxml; it also counts memory the allocator does not give back).

Wall times and request counts are medians of ``--runs`` runs, after an untimed warm-up
fetch (which also fills the servers' caches). The items are loaded in bulk as another
client would store them: Radicale gets one PUT of the whole stream to the collection URL,
Xandikos one git commit of all files into the collection's repository.
``--profile`` adds a cProfile breakdown of one backend full fetch.

    python benchmarks/dav_sync.py [--items N] [--servers radicale,xandikos]
                                  [--kinds events,contacts] [--runs K] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import math
import pstats
import statistics
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import niquests
from lxml import etree

from openprotocols.backends._dav import DavBackend, DavCollection
from openprotocols.backends.base import Entry
from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.backends.carddav import CardDAVBackend
from openprotocols.model import Account, FolderKind, Item
from openprotocols.network import ConsentKind, ConsentRequest, Network
from openprotocols.testing.servers import RadicaleServer, XandikosServer, dav_account

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
EDITS = 50
TARGET = 1.3
SMALL = 1000

# -- the data ---------------------------------------------------------------------------

CALENDAR_HEAD = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other Client//bench//EN\r\n"
VTIMEZONE = (
    b"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"
    b"BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n"
    b"TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD\r\n"
    b"BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"
    b"TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\n"
    b"END:VTIMEZONE\r\n"
)


def vevent(n: int, summary: str) -> bytes:
    """One event as a desktop client writes it: a time zone, attendees, an alarm, every
    fourth recurring (all lines short of the 75-octet fold)."""
    day, month, hour = 1 + n % 28, 1 + n % 12, 8 + n % 9
    start = f"2026{month:02d}{day:02d}T{hour:02d}3000"
    end = f"2026{month:02d}{day:02d}T{hour + 1:02d}0000"
    lines = [
        "BEGIN:VEVENT",
        f"UID:bench-{n}@openprotocols.example",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:{start}",
        f"DTEND;TZID=Europe/Berlin:{end}",
        f"SUMMARY:{summary}",
        "DESCRIPTION:Agenda:\\n1. Numbers\\n2. Plans for the next quarter",
        f"LOCATION:Room {n % 40}",
        "ORGANIZER;CN=Organizer:mailto:organizer@example.org",
        f"ATTENDEE;CN=Jane Doe;PARTSTAT=ACCEPTED:mailto:j{n}@example.org",
        "ATTENDEE;CN=Bob;RSVP=TRUE:mailto:bob@example.org",
        "CATEGORIES:Work,Planning",
        "SEQUENCE:1",
    ]
    if n % 4 == 0:
        lines.append("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=20")
    lines += [
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "TRIGGER:-PT15M",
        "DESCRIPTION:Reminder",
        "END:VALARM",
        "END:VEVENT",
    ]
    return "".join(line + "\r\n" for line in lines).encode()


def event(n: int, summary: str) -> bytes:
    """One event as its own iCalendar object (a resource of a calendar collection)."""
    return CALENDAR_HEAD + VTIMEZONE + vevent(n, summary) + b"END:VCALENDAR\r\n"


def contact(n: int, summary: str) -> bytes:
    """One vCard 3.0 as an address book client writes it."""
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"UID:bench-{n}",
        f"FN:{summary}",
        f"N:Person {n};Bench;;;",
        "ORG:Example Ltd;Sales",
        "TITLE:Account manager",
        f"EMAIL;TYPE=INTERNET,WORK:p{n}@example.org",
        f"EMAIL;TYPE=INTERNET,HOME:p{n}@home.example",
        f"TEL;TYPE=WORK,VOICE:+49 30 1234{n:05d}",
        f"TEL;TYPE=CELL:+49 170 55{n:05d}",
        f"ADR;TYPE=WORK:;;Street {n};Berlin;;10115;Germany",
        "NOTE:Met at the conference",
        "END:VCARD",
    ]
    return "".join(line + "\r\n" for line in lines).encode()


@dataclass(frozen=True)
class Kind:
    """A kind of collection: its backend, its data and its multiget report."""

    name: str
    backend: type[DavBackend]
    folder_kind: FolderKind
    content_type: str
    extension: str
    report: str
    data: str
    make: Callable[[int, str], bytes]

    def stream(self, items: Sequence[tuple[int, str]]) -> bytes:
        """All items as one upload (Radicale replaces a collection's content with it)."""
        if self.name == "events":
            events = b"".join(vevent(n, summary) for n, summary in items)
            return CALENDAR_HEAD + VTIMEZONE + events + b"END:VCALENDAR\r\n"
        return b"".join(self.make(n, summary) for n, summary in items)


KINDS = {
    "events": Kind(
        "events",
        CalDAVBackend,
        FolderKind.CALENDAR,
        "text/calendar",
        ".ics",
        f"{{{CALDAV}}}calendar-multiget",
        f"{{{CALDAV}}}calendar-data",
        event,
    ),
    "contacts": Kind(
        "contacts",
        CardDAVBackend,
        FolderKind.CONTACTS,
        "text/vcard",
        ".vcf",
        f"{{{CARDDAV}}}addressbook-multiget",
        f"{{{CARDDAV}}}address-data",
        contact,
    ),
}


def number_of(uid: str) -> int:
    """The ``n`` of ``bench-{n}[@...]``."""
    return int(uid.removeprefix("bench-").split("@", 1)[0])


# -- the servers ------------------------------------------------------------------------


def allow_local_clear_text(request: ConsentRequest) -> bool:
    """Clear text to 127.0.0.1 only (the servers run on the loopback without TLS)."""
    return request.kind is ConsentKind.CLEAR_TEXT and request.host == "127.0.0.1"


@dataclass
class Server:
    """A running DAV server, how to log in, and how to load it in bulk."""

    name: str
    version: str
    url: str
    auth: tuple[str, str] | None
    data_dir: Path | None
    """Xandikos's storage directory (bulk loading commits into it)."""

    def account(self) -> Account:
        """An account with a caldav and a carddav endpoint on this server."""
        username, password = self.auth or (None, None)
        return dav_account(self.url, username, password)

    def session(self) -> niquests.Session:
        """A bare session with this user's credentials (the floor, the other client)."""
        session = niquests.Session()
        if self.auth:
            session.auth = self.auth
        return session

    def bulk_load(self, href: str, kind: Kind, items: Sequence[tuple[int, str]]) -> None:
        """Store ``items`` in the collection ``href`` as another client would, quickly.

        Item by item a PUT costs 20-40 ms on either server, so Radicale gets its bulk
        upload (one PUT of the whole stream to the collection URL, replacing its content)
        and Xandikos one git commit of all files into the collection's repository, which
        is how it stores items (the same as ``tests/backends/dav/conftest.py``).
        """
        if self.data_dir is None:
            with self.session() as session:
                reply = session.put(
                    self.url.rstrip("/") + href,
                    data=kind.stream(items),
                    headers={"Content-Type": kind.content_type},
                    timeout=1800,  # Radicale parses every item (vobject): ~30-50 ms per event
                )
            if reply.status_code not in (200, 201, 204):
                raise RuntimeError(f"bulk upload failed: HTTP {reply.status_code} {reply.text}")
            return
        from dulwich import porcelain

        directory = self.data_dir / href.strip("/")
        paths = []
        for n, summary in items:
            path = directory / f"bench-{n}{kind.extension}"
            path.write_bytes(kind.make(n, summary))
            paths.append(str(path))
        porcelain.add(str(directory), paths=paths)
        porcelain.commit(str(directory), message=b"bulk", author=b"b <b@x>", committer=b"b <b@x>")


@contextlib.contextmanager
def running(name: str) -> Iterator[Server]:
    """Start the server ``name`` in a temporary directory for the length of the block."""
    if name == "radicale":
        import radicale

        with RadicaleServer(users={"alice": "secret"}) as radicale_server:
            yield Server(
                name, str(radicale.VERSION), radicale_server.url, ("alice", "secret"), None
            )
    elif name == "xandikos":
        import xandikos

        with XandikosServer() as xandikos_server:
            version = ".".join(map(str, xandikos.__version__))
            yield Server(name, version, xandikos_server.url, None, xandikos_server.workdir / "data")
    else:
        raise SystemExit(f"unknown server {name!r} (radicale, xandikos)")


def count_requests(session: niquests.Session) -> list[int]:
    """A one-element counter of the responses ``session`` receives (a response hook)."""
    counter = [0]

    def hook(response: niquests.PreparedRequest | niquests.Response, **_: Any) -> None:
        counter[0] += 1

    session.hooks["response"].append(hook)
    return counter


# -- the measurements --------------------------------------------------------------------


@dataclass
class Sample:
    """One timed operation: seconds, HTTP requests, items, and the state after it."""

    seconds: float
    requests: int
    items: int
    state: str


@dataclass
class Bench:
    """One collection on one server, reached by the backend and by the bare floor."""

    server: Server
    kind: Kind
    collection: DavCollection
    backend_requests: list[int]
    floor: niquests.Session
    floor_requests: list[int]

    @property
    def url(self) -> str:
        """The collection's absolute URL."""
        return self.collection.url

    # -- through the backend ----------------------------------------------------------

    def backend_full(self) -> tuple[Sample, list[Entry[Item]]]:
        """``changes(None)`` + ``list(get(ids))``; also the entries."""
        before = self.backend_requests[0]
        start = time.perf_counter()
        changes = self.collection.changes(None)
        entries = list(self.collection.get(ref.id for ref in changes.changed))
        seconds = time.perf_counter() - start
        sample = Sample(seconds, self.backend_requests[0] - before, len(entries), changes.state)
        return sample, entries

    def decode_seconds(self, entries: Sequence[Entry[Item]], runs: int) -> float:
        """The best time of the codec alone on the fetched bytes (no I/O, no XML)."""
        raws = [entry.raw for entry in entries if entry.raw is not None]
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            for raw in raws:
                self.collection.decode(raw)
            times.append(time.perf_counter() - start)
        return min(times)

    def backend_incremental(self, state: str) -> Sample:
        """``changes(state)`` + ``list(get(changed ids))``."""
        before = self.backend_requests[0]
        start = time.perf_counter()
        changes = self.collection.changes(state)
        entries = list(self.collection.get(ref.id for ref in changes.changed))
        seconds = time.perf_counter() - start
        if changes.full:
            raise RuntimeError(f"{self.url}: the incremental sync fell back to a full listing")
        return Sample(seconds, self.backend_requests[0] - before, len(entries), changes.state)

    # -- the floor: bare niquests, lxml only for the sync report's hrefs ---------------

    def _report(self, body: etree._Element) -> bytes:
        reply = self.floor.request(
            "REPORT",
            self.url,
            data=etree.tostring(body, xml_declaration=True, encoding="utf-8"),
            headers={
                "Content-Type": "application/xml; charset=utf-8",
                "Accept-Encoding": "identity",  # as the backend: no compression on the wire
            },
        )
        if reply.status_code != 207 or reply.content is None:
            raise RuntimeError(f"REPORT {self.url}: HTTP {reply.status_code}")
        return reply.content

    def _sync(self, token: str) -> tuple[list[str], str]:
        sync = etree.Element(f"{{{DAV}}}sync-collection")
        etree.SubElement(sync, f"{{{DAV}}}sync-token").text = token
        etree.SubElement(sync, f"{{{DAV}}}sync-level").text = "1"
        etree.SubElement(etree.SubElement(sync, f"{{{DAV}}}prop"), f"{{{DAV}}}getetag")
        root = etree.fromstring(self._report(sync))
        hrefs = [
            response.findtext(f"{{{DAV}}}href") or ""
            for response in root.iterfind(f"{{{DAV}}}response")
            if response.find(f"{{{DAV}}}status") is None  # a deleted member
        ]
        return hrefs, root.findtext(f"{{{DAV}}}sync-token") or ""

    def _multiget(self, hrefs: Sequence[str]) -> int:
        report = etree.Element(self.kind.report)
        prop = etree.SubElement(report, f"{{{DAV}}}prop")
        etree.SubElement(prop, f"{{{DAV}}}getetag")
        etree.SubElement(prop, self.kind.data)
        for href in hrefs:
            etree.SubElement(report, f"{{{DAV}}}href").text = href
        return len(self._report(report))

    def floor_fetch(self, token: str) -> Sample:
        """One sync-collection REPORT from ``token``, then multigets of the batch size."""
        before = self.floor_requests[0]
        start = time.perf_counter()
        hrefs, new_token = self._sync(token)
        size = self.collection.batch_size
        for first in range(0, len(hrefs), size):
            self._multiget(hrefs[first : first + size])
        seconds = time.perf_counter() - start
        return Sample(seconds, self.floor_requests[0] - before, len(hrefs), new_token)

    # -- the other client --------------------------------------------------------------

    def edit(self, uids: Mapping[str, str], run: int) -> None:
        """PUT new versions of ``EDITS`` items spread over the collection."""
        ids = sorted(uids)
        step = max(1, len(ids) // EDITS)
        with self.server.session() as session:
            for id in ids[::step][:EDITS]:
                data = self.kind.make(number_of(uids[id]), f"Edited in run {run}")
                reply = session.put(
                    self.collection.backend.url_of(id),
                    data=data,
                    headers={"Content-Type": self.kind.content_type},
                )
                if reply.status_code not in (200, 201, 204):
                    raise RuntimeError(f"PUT {id}: HTTP {reply.status_code}")


@dataclass
class Memory:
    """Peaks in bytes above the start of each step (tracemalloc; RSS where available)."""

    items: int
    listing_held: int
    listing_peak: int
    streamed_peak: int
    list_peak: int
    rss_peak: int | None


def _reset_rss_peak() -> int | None:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs``); the RSS now, in bytes."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _proc_status("VmRSS")
    except OSError:
        return None


def _proc_status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def measure_memory(backend: DavBackend, href: str, items: int) -> Memory:
    """The peaks of listing, streamed fetch and fetch into a list of one collection."""
    collection = backend.collection(href)  # a fresh one: its cache of originals is empty
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        changes = collection.changes(None)
        held, listing_peak = tracemalloc.get_traced_memory()
        ids = [ref.id for ref in changes.changed]
        tracemalloc.reset_peak()
        rss_start = _reset_rss_peak()
        count = sum(1 for _ in collection.get(ids))
        rss_peak = None if rss_start is None else _proc_status("VmHWM") - rss_start
        streamed_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        entries = list(collection.get(ids))
        list_peak = tracemalloc.get_traced_memory()[1]
        del entries
    finally:
        tracemalloc.stop()
    if count != items:
        raise RuntimeError(f"{collection.url}: fetched {count} items, expected {items}")
    return Memory(
        items,
        held - base,
        listing_peak - base,
        streamed_peak - held,
        list_peak - held,
        rss_peak,
    )


STAGES = (
    ("HTTP: send, wait for the server, read the body", "_dav.py", "request"),
    ("  of which socket reads (mostly the server's time)", "~", "recv"),
    ("XML: parse_xml and the multistatus walk", "_dav.py", "multistatus"),
    ("codec: decode each item (ical / vcard)", "_dav.py", "_decode"),
    ("CRLF restored in calendar-data / address-data", "_dav.py", "restore_crlf"),
    ("hrefs canonicalised", "_dav.py", "canonical_href"),
)


def profile(bench: Bench, top: int = 12) -> None:
    """Print where a backend full fetch spends its time: by stage (cumulative) and the
    functions with the most own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    bench.backend_full()
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n  cProfile of one backend full fetch ({total:.2f} s under the profiler):")
    for label, filename, function in STAGES:
        cumulative = sum(
            ct
            for (name, _, func), (_, _, _, ct, _) in raw.items()
            if name.endswith(filename) and (func == function or f"'{function}'" in func)
        )
        print(f"    {cumulative:7.2f} s {100 * cumulative / total:5.1f}%  {label}")
    print("  the functions with the most own time:")
    rows = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    for (filename, line, function), (_, calls, tt, ct, _) in rows:
        where = function if filename == "~" else f"{_short(filename)}:{line} {function}"
        print(f"    {tt:7.2f} s own {ct:7.2f} s cum {calls:>9} calls  {where}")


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# -- the report ---------------------------------------------------------------------------


def median(samples: Sequence[Sample], field: str) -> float:
    """The median of one field over the runs."""
    return float(statistics.median(getattr(sample, field) for sample in samples))


def verdict(ratio: float) -> str:
    """The ratio and whether it meets the target."""
    met = "met" if ratio <= TARGET else "NOT met"
    return f"{ratio:5.2f}x (target <= {TARGET}x: {met})"


def kib(value: int | None) -> str:
    """Bytes as KiB, right-aligned."""
    return "n/a" if value is None else f"{value / 1024:,.0f}"


def new_collection(backend: DavBackend, bench_kind: Kind, items: int) -> str:
    """A new, empty collection's href."""
    name = f"bench-{bench_kind.name}-{items}-{uuid.uuid4().hex[:6]}"
    return backend.create_folder(name, bench_kind.folder_kind).id


def run(server: Server, kind: Kind, args: argparse.Namespace) -> list[Memory]:
    """Load, measure and print one server's collection of one kind."""
    network = Network(consent=allow_local_clear_text)
    with kind.backend(server.account(), network=network) as backend, server.session() as floor:
        backend.open()
        href = new_collection(backend, kind, args.items)
        start = time.perf_counter()
        server.bulk_load(href, kind, [(n, f"Meeting {n}") for n in range(args.items)])
        loaded = time.perf_counter() - start
        bench = Bench(
            server,
            kind,
            backend.collection(href),
            count_requests(backend.dav.session),
            floor,
            count_requests(floor),
        )
        print(
            f"\n{server.name} {server.version}, {args.items} {kind.name} (loaded in {loaded:.1f} s)"
        )
        # Warm-up: the servers fill their caches, the client its imports and zones.
        bench.floor_fetch("")
        _, entries = bench.backend_full()
        if len(entries) != args.items:
            raise RuntimeError(f"{bench.url}: the backend fetched {len(entries)} items")
        uids = {entry.id: str(entry.item.uid) for entry in entries}
        decode = bench.decode_seconds(entries, args.runs)
        del entries
        full: dict[str, list[Sample]] = {"backend": [], "floor": []}
        incremental: dict[str, list[Sample]] = {"backend": [], "floor": []}
        for k in range(args.runs):
            backend_first = k % 2 == 0  # alternate, so neither side profits from order
            for side in ("backend", "floor") if backend_first else ("floor", "backend"):
                sample = bench.backend_full()[0] if side == "backend" else bench.floor_fetch("")
                full[side].append(sample)
            bench.edit(uids, k)
            for side in ("backend", "floor") if backend_first else ("floor", "backend"):
                since = full[side][-1].state
                sample = (
                    bench.backend_incremental(since)
                    if side == "backend"
                    else bench.floor_fetch(since)
                )
                if sample.items != EDITS:
                    raise RuntimeError(f"{side}: {sample.items} changed items, expected {EDITS}")
                incremental[side].append(sample)
        expected = 1 + math.ceil(EDITS / bench.collection.batch_size)
        print_rows("full fetch", full, args.items)
        gap = median(full["backend"], "seconds") - median(full["floor"], "seconds")
        share = f"{100 * decode / gap:.0f}% of" if gap > 0 else "more than"
        print(
            f"  {'full fetch':<24}{'decode':<9}{decode * 1000:>9.0f} ms  the codec alone on "
            f"the same bytes (best of {args.runs}): {share} the gap backend - floor"
        )
        print_rows(f"incremental, {EDITS} edits", incremental, EDITS)
        requests = {s.requests for s in incremental["backend"]}
        constant = "yes" if requests == {expected} else "NO"
        print(
            f"  incremental requests: {sorted(requests)} in every run; expected {expected} "
            f"(1 sync REPORT + {expected - 1} multiget of batch size "
            f"{bench.collection.batch_size}) whatever the size: {constant}"
        )
        if args.profile:
            profile(bench)
        sizes = sorted({min(SMALL, args.items), args.items})
        memory = []
        for size in sizes:
            if size == args.items:
                memory.append(measure_memory(backend, href, size))
                continue
            small = new_collection(backend, kind, size)
            server.bulk_load(small, kind, [(n, f"Meeting {n}") for n in range(size)])
            memory.append(measure_memory(backend, small, size))
            backend.delete_folder(small)
        backend.delete_folder(href)
    return memory


def print_rows(what: str, samples: Mapping[str, Sequence[Sample]], items: int) -> None:
    """The backend's and the floor's medians and their ratio."""
    for side in ("backend", "floor"):
        seconds = median(samples[side], "seconds")
        requests = median(samples[side], "requests")
        rate = items / seconds if seconds else 0.0
        print(
            f"  {what:<24}{side:<9}{seconds * 1000:>9.0f} ms{requests:>7.0f} requests"
            f"{rate:>9.0f} items/s"
        )
    ratio = median(samples["backend"], "seconds") / median(samples["floor"], "seconds")
    print(f"  {what:<24}{'ratio':<9}{verdict(ratio)}")


def print_memory(rows: Sequence[tuple[str, str, Memory]]) -> None:
    """The memory table."""
    print(
        "\nmemory, KiB above the start of each step (tracemalloc: Python allocations only; "
        "RSS: whole process, Linux)"
    )
    print(
        f"{'server':<10}{'kind':<10}{'items':>6}{'listing held':>14}{'listing peak':>14}"
        f"{'fetch streamed':>16}{'fetch to list':>15}{'RSS streamed':>14}"
    )
    for server, kind, m in rows:
        print(
            f"{server:<10}{kind:<10}{m.items:>6}{kib(m.listing_held):>14}{kib(m.listing_peak):>14}"
            f"{kib(m.streamed_peak):>16}{kib(m.list_peak):>15}{kib(m.rss_peak):>14}"
        )


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--servers", default="radicale,xandikos")
    parser.add_argument("--kinds", default="events,contacts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one backend fetch")
    args = parser.parse_args()
    if args.items < EDITS:
        parser.error(f"--items must be at least {EDITS} (the incremental step edits {EDITS})")
    kinds = [KINDS[name] for name in args.kinds.split(",")]
    print(
        f"{args.items} items per collection, median of {args.runs} runs; floor = bare "
        "niquests, one sync-collection REPORT + multigets of the same batch size"
    )
    memory: list[tuple[str, str, Memory]] = []
    for name in args.servers.split(","):
        with running(name) as server:
            for kind in kinds:
                memory += [(server.name, kind.name, m) for m in run(server, kind, args)]
    print_memory(memory)


if __name__ == "__main__":
    main()
