"""First sync and no-change re-sync into a fresh ``LocalStore``, through the sync engine
(``store.bind(...)`` then ``Binding.sync()``), beside vdirsyncer (DAV), mbsync (IMAP) and
a bare client doing the least protocol work, on the same servers and data in the same run.

Collections: N events and N contacts on Xandikos (and Radicale with ``--servers
radicale``), M messages on Dovecot. For each, the script measures

- **first sync**: open the backend (discovery, login), a new store file, create and bind
  the folder, ``Binding.sync()``, close; every item must arrive;
- **no-change re-sync**: open the backend, the same store, ``store.binding(...)``,
  ``Binding.sync()``, close; nothing may be written;
- **the floor** of a first sync: a bare client with the least protocol work — DAV: one
  sync-collection REPORT and multigets of the backend's batch size over a bare niquests
  session (``dav_sync.Bench.floor_fetch``); IMAP: ``imaplib`` over TLS, LOGIN, SELECT and
  one ``UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])``, LOGOUT;
- **the peers**: vdirsyncer (a ``caldav``/``carddav`` storage paired with a
  ``filesystem`` storage in a temporary directory; ``discover`` once, untimed, then
  ``sync`` twice) and mbsync (``Sync Pull`` into an empty Maildir, then again, as in
  ``imap_mirror.py``), each a process timed with ``subprocess``.

Columns: wall time (median of ``--runs``; each of ours includes connecting and logging in,
as a peer's includes its process start), requests (HTTP responses counted by a hook on
every session the backend opens; IMAP commands counted by wrapping the adapter's
``_IMAP4`` as ``imap_mirror.py`` does), the tracemalloc peak of ours (Python allocations
only, SQLite's and lxml's C memory not in it) from one extra untimed run, and the peers'
requests (vdirsyncer's ``-vdebug`` log, mbsync's ``-Dn`` trace) and peak RSS (GNU time)
from one extra traced run. Peak memory of ours is also measured on smaller collections
(1,000 events and contacts; a fifth of the messages, in a Dovecot of their own), to show
whether it stays flat as the collection grows fivefold.

Targets (issue 7; ratios from the same run, never a failure): a first sync within 1.3x of
the floor; a no-change re-sync at least 3x faster than vdirsyncer and no slower than
mbsync, at O(1) requests per collection; an IMAP first mirror no slower than mbsync.

Data is loaded with the other benchmarks' bulk loaders (imported, not copied): Xandikos by
one git commit, Radicale by one PUT of the whole stream (minutes for 5,000 events: hence
the default servers are Xandikos and Dovecot), Dovecot by Maildir files written directly.
Nothing is installed by the script: vdirsyncer (``--vdirsyncer PATH`` or on ``PATH``) and
mbsync are used when found, else their columns are skipped. Dovecot needs root.
``--profile`` adds a cProfile breakdown of one first sync per collection.

    python benchmarks/sync_store.py [--items N] [--messages M] [--servers xandikos,dovecot]
                                    [--runs K] [--skip-peers] [--vdirsyncer PATH] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import imaplib
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attrs
import niquests

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks

import dav_sync
import imap_mirror

from openprotocols import LocalStore
from openprotocols.backends.base import Backend
from openprotocols.backends.imap import IMAPBackend
from openprotocols.model import FolderKind
from openprotocols.network import Network
from openprotocols.sync import Side

FLOOR_TARGET = 1.3
VDIRSYNCER_TARGET = 3.0
SMALL = 1000
MIB = 1024 * 1024
LOCAL_FOLDER = "Bench"
DAV_SERVERS = ("xandikos", "radicale")
DAV_KINDS = ("events", "contacts")

# -- counting requests ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CountingNetwork(Network):
    """A :class:`Network` whose HTTP sessions log the method of every response they
    receive, so that the requests of discovery, listing and fetching all count."""

    log: list[str] = attrs.field(factory=list, eq=False, repr=False)

    def http_session(self, **options: Any) -> niquests.Session:
        session = super().http_session(**options)
        session.hooks["response"].append(self._hook)
        return session

    def _hook(self, response: niquests.Response, **_: Any) -> None:
        self.log.append(str(response.request.method))


# -- samples --------------------------------------------------------------------------


@dataclass
class Sample:
    """One timed run of ours or of the floor."""

    seconds: float
    requests: list[str]
    """The requests' methods (DAV) or the commands' names (IMAP), in order."""
    items: int
    peak: int | None = None
    """tracemalloc peak in bytes above the start (traced runs only)."""


@dataclass
class PeerSample:
    """One run of vdirsyncer or mbsync: wall time, and in a traced run its requests and
    peak RSS."""

    seconds: float
    requests: int | None = None
    rss: int | None = None


@dataclass
class Result:
    """Every measurement of one collection."""

    name: str
    items: int
    peer: str
    first: list[Sample] = field(default_factory=list)
    resync: list[Sample] = field(default_factory=list)
    again: list[Sample] = field(default_factory=list)
    floor: list[Sample] = field(default_factory=list)
    peer_first: list[PeerSample] = field(default_factory=list)
    peer_resync: list[PeerSample] = field(default_factory=list)
    traced: dict[str, Sample] = field(default_factory=dict)
    peer_traced: dict[str, PeerSample] = field(default_factory=dict)
    small: dict[str, Sample] = field(default_factory=dict)
    """Traced first sync and re-syncs of a smaller collection, of ``small_items``."""
    small_items: int = SMALL


# -- ours: the store and the engine ---------------------------------------------------


@dataclass
class Remote:
    """How ours reaches one collection."""

    new_backend: Callable[[], Backend]
    collection: str
    kind: FolderKind
    log: list[str]
    """The shared request log that the backend's requests are appended to."""


def ours(remote: Remote, path: Path, *, first: bool, trace: bool = False) -> Sample:
    """One session of ours: open the backend, the store and the binding (creating and
    binding the folder for a first sync), sync, close."""
    mark = len(remote.log)
    if trace:
        gc.collect()
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0] if trace else 0
    start = time.perf_counter()
    try:
        with remote.new_backend() as backend, LocalStore(path) as store:
            backend.open()
            if first:
                store.create_folder(LOCAL_FOLDER, remote.kind)
                binding = store.bind(LOCAL_FOLDER, backend, remote.collection)
            else:
                binding = store.binding(LOCAL_FOLDER, backend)
            report = binding.sync()
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - base if trace else None
    finally:
        if trace:
            tracemalloc.stop()
    if report.errors or report.offline:
        raise RuntimeError(f"sync failed: {report.errors[:3]} offline={report.offline}")
    if not first and report.writes:
        raise RuntimeError(f"a no-change re-sync wrote {report.writes} items")
    items = report.created[Side.LOCAL] if first else len(report.plan)
    return Sample(seconds, remote.log[mark:], items, peak)


def first_and_resync(remote: Remote, *, trace: bool = False) -> dict[str, Sample]:
    """A first sync into a new store, then two no-change re-syncs of it: the first one
    reads back the local writes of the first sync, the second one is the steady state."""
    with tempfile.TemporaryDirectory(prefix="opbench-store-") as directory:
        path = Path(directory) / "store.sqlite"
        return {
            "first": ours(remote, path, first=True, trace=trace),
            "resync": ours(remote, path, first=False, trace=trace),
            "again": ours(remote, path, first=False, trace=trace),
        }


STAGES: tuple[tuple[str, str, str], ...] = (
    ("changes(): both sides' listings", "sync/engine.py", "_delta"),
    ("get(): fetching the batches, all below", "sync/engine.py", "_fetch"),
    ("  waiting for the DAV backend's fetch thread", "~", "acquire' of '_thread.lock"),
    ("  network: socket and TLS reads (this thread)", "~", "recv|_ssl._SSLSocket"),
    ("  DAV: requests and XML (this thread)", "backends/_dav.py", "request|multistatus"),
    ("  codec decode: DAV items", "backends/_dav.py", "_decode"),
    ("  codec decode: IMAP messages", "backends/imap.py", "_whole_message"),
    ("content hash", "sync/_hash.py", "content_hash"),
    ("store: local create (all below)", "store/local.py", "_create_raw"),
    ("  store encode (records)", "store/_records.py", "encode"),
    ("  find_uid (the UID check before a create)", "store/local.py", "find_uid"),
    ("status: pair lookups and saves", "store/binding.py", "pair|save"),
    ("SQLite: every sqlite3 call", "~", "sqlite3"),
)


def profile(remote: Remote, title: str, top: int = 15) -> None:
    """cProfile of one first sync of ours: by stage (cumulative, stages nest and
    overlap) and the functions with the most own time."""
    with tempfile.TemporaryDirectory(prefix="opbench-store-") as directory:
        profiler = cProfile.Profile()
        profiler.enable()
        ours(remote, Path(directory) / "store.sqlite", first=True)
        profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\ncProfile of one first sync, {title} ({total:.2f} s under the profiler):")
    for label, filename, pattern in STAGES:
        wanted = re.compile(pattern)
        cumulative = sum(
            ct
            for (name, _, func), (_, _, _, ct, _) in raw.items()
            if name.endswith(filename)
            and (wanted.search(func) if filename == "~" else wanted.fullmatch(func))
        )
        print(f"  {cumulative:7.2f} s {100 * cumulative / total:5.1f}%  {label}")
    print("  the functions with the most own time:")
    rows = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    for (filename, line, function), (_, calls, tt, ct, _) in rows:
        where = function if filename == "~" else f"{dav_sync._short(filename)}:{line} {function}"
        print(f"  {tt:7.2f} s own {ct:7.2f} s cum {calls:>9} calls  {where}")


# -- vdirsyncer -----------------------------------------------------------------------


class Vdirsyncer:
    """vdirsyncer pairing the collection with a ``filesystem`` storage in ``directory``;
    ``discover`` runs once here (its setup, untimed)."""

    def __init__(
        self, binary: str, server: dav_sync.Server, kind: dav_sync.Kind, href: str, directory: Path
    ) -> None:
        self.binary = binary
        self.local = directory / "local"
        self.local.mkdir()
        self.config = directory / "config"
        storage = "caldav" if kind.name == "events" else "carddav"
        credentials = ""
        if server.auth:
            credentials = f'username = "{server.auth[0]}"\npassword = "{server.auth[1]}"\n'
        self.config.write_text(
            f'[general]\nstatus_path = "{directory}/status/"\n\n'
            '[pair bench]\na = "remote"\nb = "local"\ncollections = null\n'
            'conflict_resolution = "a wins"\n\n'
            f'[storage remote]\ntype = "{storage}"\n'
            f'url = "{server.url.rstrip("/")}{href}"\n{credentials}\n'
            f'[storage local]\ntype = "filesystem"\npath = "{self.local}/"\n'
            f'fileext = "{kind.extension}"\n'
        )
        self.config.chmod(0o600)
        self._run(["discover", "bench"])

    def _run(self, arguments: Sequence[str], prefix: Sequence[str] = ()) -> tuple[float, str]:
        command = [*prefix, self.binary, "-c", str(self.config), *arguments]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL, check=False)
        seconds = time.perf_counter() - start
        text = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
        if done.returncode != 0:
            raise RuntimeError(f"vdirsyncer {' '.join(arguments)} failed:\n{text[-3000:]}")
        return seconds, text

    def sync(self, *, trace: bool = False) -> PeerSample:
        """One ``vdirsyncer sync``; traced: its requests (``-vdebug``) and peak RSS."""
        if not trace:
            return PeerSample(self._run(["sync"])[0])
        with tempfile.TemporaryDirectory() as scratch:
            rss_file = Path(scratch) / "rss"
            gnu_time = imap_mirror.GNU_TIME
            prefix = [gnu_time, "-f", "%M", "-o", str(rss_file)] if gnu_time else []
            seconds, text = self._run(["-vdebug", "sync"], prefix)
            rss = int(rss_file.read_text().split()[-1]) * 1024 if rss_file.exists() else None
        requests = len(re.findall(r"^debug: [A-Z]+ https?://", text, re.MULTILINE))
        return PeerSample(seconds, requests, rss)

    def count(self) -> int:
        """The items in its filesystem storage."""
        return sum(1 for _ in self.local.iterdir())


# -- DAV ------------------------------------------------------------------------------


def dav_floor(server: dav_sync.Server, kind: dav_sync.Kind, collection: Any) -> Sample:
    """The least protocol work for a first sync, with a new bare session."""
    with server.session() as session:
        counter = dav_sync.count_requests(session)
        bench = dav_sync.Bench(server, kind, collection, [0], session, counter)
        sample = bench.floor_fetch("")
    return Sample(sample.seconds, ["REPORT"] * sample.requests, sample.items)


def loaded(backend: Any, server: dav_sync.Server, kind: dav_sync.Kind, items: int) -> str:
    """A new collection holding ``items`` items, loaded in bulk; its href."""
    href = dav_sync.new_collection(backend, kind, items)
    server.bulk_load(href, kind, [(n, f"Meeting {n}") for n in range(items)])
    return href


def run_dav(name: str, args: argparse.Namespace, vdirsyncer: str | None) -> list[Result]:
    """Every measurement of both kinds of collection on one DAV server."""
    results = []
    with dav_sync.running(name) as server:
        network = CountingNetwork(consent=dav_sync.allow_local_clear_text)
        for kind in (dav_sync.KINDS[k] for k in DAV_KINDS):
            result = Result(f"{server.name} {kind.name}", args.items, "vdirsyncer")
            with kind.backend(server.account(), network=Network(consent=network.consent)) as setup:
                setup.open()
                start = time.perf_counter()
                href = loaded(setup, server, kind, args.items)
                print(f"{result.name}: {args.items} loaded in {time.perf_counter() - start:.1f} s")
                remote = Remote(
                    lambda kind=kind: kind.backend(server.account(), network=network),
                    href,
                    kind.folder_kind,
                    network.log,
                )
                collection = setup.collection(href)
                dav_floor(server, kind, collection)  # warm-up: the server's caches
                first_and_resync(remote)
                for number in range(args.runs):
                    dav_round(result, remote, server, kind, collection, vdirsyncer, number)
                result.traced = first_and_resync(remote, trace=True)
                if vdirsyncer:
                    first, resync = peer_dav(vdirsyncer, server, kind, href, args.items, True)
                    result.peer_traced = {"first": first, "resync": resync}
                if args.items > SMALL:
                    small = loaded(setup, server, kind, SMALL)
                    remote_small = dataclasses.replace(remote, collection=small)
                    result.small = first_and_resync(remote_small, trace=True)
                    setup.delete_folder(small)
                if args.profile:
                    profile(remote, f"{result.name}, {args.items} items")
                setup.delete_folder(href)
            results.append(result)
            print(f"{result.name}: measured")
    return results


def dav_round(
    result: Result,
    remote: Remote,
    server: dav_sync.Server,
    kind: dav_sync.Kind,
    collection: Any,
    vdirsyncer: str | None,
    number: int,
) -> None:
    """One run of ours, the floor and vdirsyncer, in an order that rotates per run."""

    def run_ours() -> None:
        samples = first_and_resync(remote)
        result.first.append(samples["first"])
        result.resync.append(samples["resync"])
        result.again.append(samples["again"])

    def run_floor() -> None:
        result.floor.append(dav_floor(server, kind, collection))

    def run_peer() -> None:
        if vdirsyncer:
            href = remote.collection
            first, resync = peer_dav(vdirsyncer, server, kind, href, result.items, False)
            result.peer_first.append(first)
            result.peer_resync.append(resync)

    steps = [run_ours, run_floor, run_peer]
    for step in steps[number % 3 :] + steps[: number % 3]:
        step()


def peer_dav(
    binary: str, server: dav_sync.Server, kind: dav_sync.Kind, href: str, items: int, trace: bool
) -> tuple[PeerSample, PeerSample]:
    """vdirsyncer's first sync into an empty directory, then its no-change re-sync."""
    with tempfile.TemporaryDirectory(prefix="opbench-vdirsyncer-") as directory:
        peer = Vdirsyncer(binary, server, kind, href, Path(directory))
        first = peer.sync(trace=trace)
        if peer.count() != items:
            raise RuntimeError(f"vdirsyncer stored {peer.count()} items, expected {items}")
        return first, peer.sync(trace=trace)


# -- IMAP -----------------------------------------------------------------------------


def imap_floor(bed: imap_mirror.Bed) -> Sample:
    """The least protocol work for a first mirror: one UID FETCH of everything, with
    ``imaplib`` (connecting and logging in included, as for ours and mbsync)."""
    start = time.perf_counter()
    password = bed.server.users[imap_mirror.USER]
    port = bed.server.imaps_port
    with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=bed.network.ssl_context()) as imap:
        imap.login(imap_mirror.USER, password)
        imap.select(imap_mirror.FOLDER, readonly=True)
        status, data = imap.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
        imap.logout()
    seconds = time.perf_counter() - start
    if status != "OK":
        raise RuntimeError(f"UID FETCH: {status} {data[:1]}")
    items = sum(1 for part in data if isinstance(part, tuple))
    return Sample(seconds, ["CAPABILITY", "LOGIN", "SELECT", "UID FETCH", "LOGOUT"], items)


def run_imap(args: argparse.Namespace, mbsync: str | None) -> Result:
    """Every measurement of the mailbox on Dovecot."""
    result = Result("dovecot messages", args.messages, "mbsync")
    imap_mirror.COMMANDS.install()
    with imap_mirror.running() as bed:
        seconds, size = imap_mirror.fill(bed, args.messages)
        print(
            f"{result.name}: {args.messages} ({size / MIB:.0f} MiB) written as Maildir files "
            f"in {seconds:.1f} s; Dovecot read them once in {imap_mirror.warm_up(bed):.1f} s"
        )
        remote = Remote(
            lambda: IMAPBackend(bed.account(whole=True), network=bed.network),
            imap_mirror.FOLDER,
            FolderKind.MAIL,
            imap_mirror.COMMANDS.names,
        )
        first_and_resync(remote)  # warm-up: imports, the page cache
        for number in range(args.runs):
            imap_round(result, remote, bed, mbsync, number)
        result.traced = first_and_resync(remote, trace=True)
        if mbsync:
            first, resync = peer_imap(mbsync, bed, args.messages, trace=True)
            result.peer_traced = {"first": first, "resync": resync}
        if args.profile:
            profile(remote, f"{result.name}, {args.messages} messages")
    if args.messages >= 5:  # peak memory of a fifth of the mailbox, in a Dovecot of its own
        result.small_items = args.messages // 5
        with imap_mirror.running() as small_bed:
            imap_mirror.fill(small_bed, result.small_items)
            imap_mirror.warm_up(small_bed)
            account = small_bed.account(whole=True)
            remote = dataclasses.replace(
                remote, new_backend=lambda: IMAPBackend(account, network=small_bed.network)
            )
            result.small = first_and_resync(remote, trace=True)
    print(f"{result.name}: measured")
    return result


def imap_round(
    result: Result, remote: Remote, bed: imap_mirror.Bed, mbsync: str | None, number: int
) -> None:
    """One run of ours, the floor and mbsync, in an order that rotates per run."""

    def run_ours() -> None:
        samples = first_and_resync(remote)
        result.first.append(samples["first"])
        result.resync.append(samples["resync"])
        result.again.append(samples["again"])

    def run_floor() -> None:
        result.floor.append(imap_floor(bed))

    def run_peer() -> None:
        if mbsync:
            first, resync = peer_imap(mbsync, bed, result.items, trace=False)
            result.peer_first.append(first)
            result.peer_resync.append(resync)

    steps = [run_ours, run_floor, run_peer]
    for step in steps[number % 3 :] + steps[: number % 3]:
        step()


def peer_imap(
    binary: str, bed: imap_mirror.Bed, items: int, *, trace: bool
) -> tuple[PeerSample, PeerSample]:
    """mbsync's first mirror into an empty Maildir, then its no-change re-sync."""
    with tempfile.TemporaryDirectory(prefix="opbench-mbsync-") as directory:
        peer = imap_mirror.Mbsync(binary, bed, Path(directory))
        samples = []
        for _ in range(2):
            sample = peer.run(trace=trace)
            samples.append(PeerSample(sample.seconds, sample.commands, sample.max_rss))
        if peer.count() != items:
            raise RuntimeError(f"mbsync mirrored {peer.count()} messages, expected {items}")
        return samples[0], samples[1]


# -- the report -----------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def seconds_of(samples: Sequence[Sample] | Sequence[PeerSample]) -> float | None:
    return median([s.seconds for s in samples]) if samples else None


def mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.1f}"


def number(value: float | None, spec: str) -> str:
    width = int(re.match(r"\d*", spec).group() or 0)  # type: ignore[union-attr]
    return f"{'-':>{width}}" if value is None else format(value, spec)


SCENARIOS = (
    ("first", "first sync"),
    ("resync", "no-change"),
    ("again", "again"),
)


def samples_of(r: Result, key: str) -> tuple[list[Sample], list[PeerSample]]:
    """Ours and the peer's samples of one scenario (the peer re-syncs once: its
    re-sync stands beside both of ours)."""
    ours_samples = {"first": r.first, "resync": r.resync, "again": r.again}[key]
    return ours_samples, r.peer_first if key == "first" else r.peer_resync


def print_table(results: Sequence[Result]) -> None:
    """The side-by-side table."""
    head = (
        f"{'collection':<17} {'scenario':<10} {'ours s':>7} {'reqs':>5} {'peak MiB':>8} "
        f"{'floor s':>7} {'ours/floor':>10}  {'peer':<10} {'peer s':>7} {'reqs':>6} "
        f"{'RSS MiB':>7} {'ours/peer':>9}"
    )
    print(f"\n{head}\n{'-' * len(head)}")
    for r in results:
        for key, label in SCENARIOS:
            ours_samples, peer_samples = samples_of(r, key)
            mine = seconds_of(ours_samples)
            floor = seconds_of(r.floor) if key == "first" else None
            theirs = seconds_of(peer_samples)
            traced = r.traced.get(key)
            peer_traced = r.peer_traced.get("resync" if key == "again" else key)
            requests = len(ours_samples[-1].requests) if ours_samples else None
            print(
                f"{r.name if key == 'first' else '':<17} {label:<10} {number(mine, '7.2f')} "
                f"{number(requests, '5d')} {mib(traced.peak if traced else None):>8} "
                f"{number(floor, '7.2f')} "
                f"{number(mine / floor if mine and floor else None, '10.2f')}  "
                f"{r.peer if theirs is not None else '-':<10} {number(theirs, '7.2f')} "
                f"{number(peer_traced.requests if peer_traced else None, '6d')} "
                f"{mib(peer_traced.rss if peer_traced else None):>7} "
                f"{number(mine / theirs if mine and theirs else None, '9.2f')}"
            )
        floor_requests = len(r.floor[-1].requests) if r.floor else 0
        print(f"{'':<17} (floor: {floor_requests} requests, {r.floor[-1].items} items)")
    print(
        "\nmedians of the runs. no-change = the re-sync right after the first sync; again = "
        "the one after it (steady state).\nours includes opening the backend (discovery, "
        "login) and the store; reqs = HTTP requests or IMAP commands; peak = tracemalloc\n"
        "(Python allocations) of one untimed run; the peers' reqs and RSS from one traced "
        "run; ours/peer < 1: ours is faster."
    )


def print_requests(results: Sequence[Result]) -> None:
    """What a no-change re-sync sends."""
    print("\nno-change re-sync, requests of ours in order:")
    for r in results:
        names = r.resync[-1].requests if r.resync else []
        counts = ", ".join(f"{n} x{names.count(n)}" for n in dict.fromkeys(names))
        print(f"  {r.name:<17} {len(names):>3}: {counts}")


def print_memory(results: Sequence[Result]) -> None:
    """Peak memory of ours on the smaller collection and at N items."""
    rows = [r for r in results if r.small]
    if not rows:
        return
    print("\npeak memory of ours (tracemalloc, MiB) at a fifth or less and at N items; "
          "flat = within 1.5x")  # fmt: skip
    for r in rows:
        for key, label in SCENARIOS:
            small, big = r.small[key].peak or 0, r.traced[key].peak or 0
            ratio = big / small if small else float("inf")
            per_item = (big - small) / (r.items - r.small_items)
            verdict = "flat: met" if ratio <= 1.5 else "NOT flat"
            print(
                f"  {r.name:<17} {label:<10} {r.small_items:>5}: {mib(small):>5}  "
                f"{r.items}: {mib(big):>5}  x{ratio:.2f}, {per_item:,.0f} bytes per added item "
                f"({verdict})"
            )
        few, many = len(r.small["resync"].requests), len(r.traced["resync"].requests)
        same = "O(1): met" if few == many else "NOT O(1)"
        print(
            f"  {'':<28} no-change requests: {few} at {r.small_items}, {many} at {r.items} ({same})"
        )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_targets(results: Sequence[Result]) -> None:
    """The issue's targets, as ratios from this run (information only)."""
    print("\ntargets (ratios in this run; never a failure):")
    for r in results:
        mine, floor = seconds_of(r.first), seconds_of(r.floor)
        if mine and floor:
            ratio = mine / floor
            print(
                f"  {r.name:<17} first sync {ratio:.2f}x the floor "
                f"(<= {FLOOR_TARGET}x): {verdict(ratio <= FLOOR_TARGET)}"
            )
        theirs = seconds_of(r.peer_resync)
        for key, label in SCENARIOS[1:]:
            again = seconds_of(samples_of(r, key)[0])
            if again and theirs and r.peer == "vdirsyncer":
                speedup = theirs / again
                print(
                    f"  {r.name:<17} re-sync ({label}) {speedup:.1f}x faster than vdirsyncer "
                    f"(>= {VDIRSYNCER_TARGET}x): {verdict(speedup >= VDIRSYNCER_TARGET)}"
                )
            elif again and theirs:
                ratio = again / theirs
                print(
                    f"  {r.name:<17} re-sync ({label}) {ratio:.2f}x mbsync's time (<= 1): "
                    f"{verdict(ratio <= 1)}"
                )
            elif again:
                print(f"  {r.name:<17} re-sync ({label}): no {r.peer} to compare with")
        first_theirs = seconds_of(r.peer_first)
        if r.peer == "mbsync" and mine and first_theirs:
            ratio = mine / first_theirs
            print(
                f"  {r.name:<17} first mirror {ratio:.2f}x mbsync's time (<= 1): "
                f"{verdict(ratio <= 1)}"
            )


def main() -> None:
    """Load the collections, measure, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000, help="events and contacts")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--servers",
        default="xandikos,dovecot",
        help="of xandikos, radicale, dovecot (Radicale loads 5,000 events in minutes)",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-peers", action="store_true", help="no vdirsyncer, no mbsync")
    parser.add_argument("--vdirsyncer", default=shutil.which("vdirsyncer"), help="its path")
    parser.add_argument("--profile", action="store_true", help="cProfile one first sync each")
    args = parser.parse_args()
    servers = args.servers.split(",")
    unknown = set(servers) - {*DAV_SERVERS, "dovecot"}
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}")
    vdirsyncer = mbsync = None
    if not args.skip_peers:
        vdirsyncer = args.vdirsyncer
        if vdirsyncer is None and set(servers) & set(DAV_SERVERS):
            print("vdirsyncer not found: skipped")
        mbsync = shutil.which("mbsync")
        if mbsync is None and "dovecot" in servers:
            print("mbsync not found: skipped (Debian: apt-get install isync)")
    print(
        f"{args.items} events and contacts, {args.messages} messages; median of {args.runs} "
        "runs after a warm-up"
    )
    results: list[Result] = []
    for name in servers:
        if name == "dovecot":
            results.append(run_imap(args, mbsync))
        else:
            results += run_dav(name, args, vdirsyncer)
    print_table(results)
    print_requests(results)
    print_memory(results)
    print_targets(results)


if __name__ == "__main__":
    main()
