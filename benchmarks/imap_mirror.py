"""Mirror N messages from Dovecot through the IMAP backend, beside ``mbsync`` (isync) on
the same mailbox in the same run.

Scenarios, each measured for the backend and for mbsync:

- **first mirror, headers-only**: ``changes(None)`` then ``list(get(ids))`` with the
  backend's batch size and the account's default (headers, envelope, BODYSTRUCTURE).
  mbsync has no headers-only mode: its column stays empty;
- **first mirror, whole**: the same with ``download_entire_messages``; mbsync pulls the
  mailbox into an empty Maildir (``Sync Pull``, no size limit);
- **no-change re-sync**: ``changes(state)`` with nothing to fetch; mbsync run again;
- **100 flags + 100 new**: another client flips ``\\Seen`` on 100 messages and appends
  100 (MULTIAPPEND), then ``changes(state)`` + ``get(changed ids)``; mbsync run again
  after the same changes.

Each backend figure includes connecting, logging in and logging out, as mbsync's does
(its process start too). Columns:

- wall time (``time.perf_counter``), the median of ``--runs`` runs;
- IMAP commands the backend sent, counted by wrapping the adapter's ``_IMAP4`` in this
  process (a batch read keeps the next batch's UID FETCH on its way, so not every command
  is a round trip), split into the session (connect, login, CAPABILITY, ENABLE, LIST) and
  the folder's own commands.
  Under QRESYNC the folder's part of a no-change re-sync is a constant (one SELECT);
  mbsync's commands are counted from its ``-D n`` protocol trace in the memory run (it
  pipelines, so its commands are not all round trips);
- memory: the tracemalloc peak of the backend (Python allocations only), measured in
  one extra run with tracemalloc on (it slows allocation, so it is never timed); mbsync's
  peak RSS from ``wait4``. Different measures: read them as orders of magnitude.

Targets (ratios backend/mbsync in the same run, whole vs whole): a first mirror no
slower than mbsync, a no-change re-sync no slower than mbsync. The script reports
whether each is met and never fails on them.

The mailbox is filled by writing Maildir files straight into Dovecot's store (owned by
its mail user, mtime = Date), sizes log-uniform between 2 KB and 100 KB (text, HTML
alternatives, PDF attachments), then read once by an untimed client so that Dovecot's
index, cache and the page cache are warm for everyone. Measured on the test bed, the files
cost 0.7 ms a message (generating it included), MULTIAPPEND 0.65 ms and APPEND one by one
1.7 ms: the files win on simplicity (flags and INTERNALDATE are the name and mtime, no
literal of 237 MiB). The messages another client appends are
expunged after each run, so every run mirrors the same N messages.

Needs root (Dovecot) and mbsync (Debian: ``apt-get install isync``; without it the
mbsync column is skipped). ``--profile`` adds a cProfile breakdown of the backend's first
mirrors (headers-only, whole) and of its re-sync after changes.

    python benchmarks/imap_mirror.py [--messages N] [--runs K] [--skip-mbsync] [--profile]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import email.utils
import io
import math
import os
import pstats
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openprotocols.backends import _imap
from openprotocols.backends.imap import IMAPBackend, IMAPCollection
from openprotocols.model import Account, Endpoint
from openprotocols.model.accounts import AccountOptions
from openprotocols.network import Network
from openprotocols.testing.servers import DovecotServer, TestCA

FOLDER = "Bench"
USER = "alice"
CHANGES = 100
MIN_SIZE, MAX_SIZE = 2_000, 100_000
SEED = 5
MIB = 1024 * 1024
GNU_TIME = shutil.which("time")

# -- the messages -------------------------------------------------------------------

PROSE = (
    "the quarterly report numbers meeting agenda please find attached review draft budget "
    "project schedule customer feedback release notes invoice contract team update thanks "
    "regards tomorrow afternoon office remote call minutes decision action items follow up"
)
WORDS = PROSE.split()


def paragraph(rng: random.Random, size: int) -> str:
    """About ``size`` characters of prose, wrapped at 72 columns."""
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    lines, line = [], ""
    for word in words:
        if len(line) + len(word) >= 72:
            lines.append(line)
            line = ""
        line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def headers(n: int, rng: random.Random, date: datetime, content_type: str) -> str:
    """The header block a delivered message has: trace fields, a DKIM signature."""
    signature = base64.b64encode(rng.randbytes(256)).decode()
    folded = "\n\t".join(signature[i : i + 70] for i in range(0, len(signature), 70))
    return (
        f"Return-Path: <sender{n % 300}@example.org>\n"
        f"Received: from mx{n % 7}.example.org (mx{n % 7}.example.org [192.0.2.{n % 250}])\n"
        f"\tby mail.example.test with ESMTPS id {rng.randbytes(6).hex()}\n"
        f"\tfor <{USER}@example.test>; {email.utils.format_datetime(date)}\n"
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s1;\n"
        f"\th=from:to:subject:date:message-id; bh={rng.randbytes(32).hex()}=;\n\tb={folded}\n"
        f"From: Sender {n % 300} <sender{n % 300}@example.org>\n"
        f"To: Alice <{USER}@example.test>\n"
        f"Subject: {' '.join(rng.choices(WORDS, k=6)).capitalize()} #{n}\n"
        f"Date: {email.utils.format_datetime(date)}\n"
        f"Message-ID: <bench-{n}-{rng.randbytes(4).hex()}@example.org>\n"
        "MIME-Version: 1.0\n"
        f"Content-Type: {content_type}\n"
    )


def message(n: int, rng: random.Random) -> tuple[bytes, datetime]:
    """Message ``n`` (LF line ends, as in a Maildir) and its date. Under 12 KB: text and
    an HTML alternative; above: text and a PDF attachment that make up the size."""
    size = int(math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE))))
    date = datetime(2026, 1, 1, 8, tzinfo=UTC) + timedelta(minutes=37 * n)
    boundary = f"=_bench_{n}"
    text = paragraph(rng, min(size // 3, 3000))
    if size < 12_000:
        head = headers(n, rng, date, f'multipart/alternative; boundary="{boundary}"')
        html = "<html><body><p>" + paragraph(rng, max(size - len(text) - 1800, 100))
        second = f"Content-Type: text/html; charset=utf-8\n\n{html}</p></body></html>\n"
    else:
        head = headers(n, rng, date, f'multipart/mixed; boundary="{boundary}"')
        raw = rng.randbytes(max((size - len(text) - 2000) * 3 // 4, 100))
        encoded = base64.encodebytes(raw).decode()
        second = (
            "Content-Type: application/pdf; name=report.pdf\n"
            "Content-Disposition: attachment; filename=report.pdf\n"
            f"Content-Transfer-Encoding: base64\n\n{encoded}"
        )
    body = (
        f"\n--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"
        f"--{boundary}\n{second}--{boundary}--\n"
    )
    return (head + body).encode(), date


def flags_of(n: int) -> str:
    """Maildir flags: most mail read, some answered or flagged."""
    flags = "" if n % 10 < 3 else "S"
    flags = ("R" if n % 13 == 0 else "") + flags
    return ("F" if n % 17 == 0 else "") + flags


# -- the server ---------------------------------------------------------------------


@dataclass
class Bed:
    """Dovecot with the benchmark's mailbox, and how the backend reaches it."""

    server: DovecotServer
    ca: TestCA
    network: Network
    maildir: Path

    def account(self, *, whole: bool) -> Account:
        endpoint = Endpoint(
            protocol="imap",
            host="127.0.0.1",
            port=self.server.imaps_port,
            security="ssl",
            username=USER,
            password=self.server.users[USER],
        )
        options = AccountOptions(download_entire_messages=whole)
        return Account(email=f"{USER}@example.test", endpoints=[endpoint], options=options)

    def other_client(self) -> Any:
        client = self.server.imap_client(USER, security="tls", timeout=120)
        client.select_folder(FOLDER)
        return client


@contextlib.contextmanager
def running() -> Iterator[Bed]:
    """A Dovecot with an empty ``Bench`` mailbox for ``alice``."""
    with tempfile.TemporaryDirectory(prefix="opbench-") as base:
        Path(base).chmod(0o755)  # Dovecot's unprivileged processes read files inside
        ca = TestCA(Path(base) / "ca")
        server = DovecotServer(ca=ca, base_dir=base).start()
        try:
            client = server.imap_client(USER, security="tls")
            client.create_folder(FOLDER)
            client.logout()
            maildir = server.mail_dir / USER / "Maildir" / f".{FOLDER}"
            network = Network(ca_bundle=ca.ca_pem_bytes)
            yield Bed(server, ca, network, maildir)
        finally:
            server.stop()


def fill(bed: Bed, count: int) -> tuple[float, int]:
    """Write ``count`` messages into the mailbox's Maildir; the seconds it took and the
    bytes written."""
    start = time.perf_counter()
    owner = (bed.maildir / "cur").stat()
    rng = random.Random(SEED)  # noqa: S311 (test data, not cryptography)
    total = 0
    for n in range(count):
        data, date = message(n, rng)
        path = bed.maildir / "cur" / f"{1767225600 + n}.M{n}P1.bench:2,{flags_of(n)}"
        path.write_bytes(data)
        os.chown(path, owner.st_uid, owner.st_gid)
        os.utime(path, (date.timestamp(), date.timestamp()))
        total += len(data)
    return time.perf_counter() - start, total


def warm_up(bed: Bed) -> float:
    """Let Dovecot index the new files and read every message once (untimed for the
    comparison: it fills Dovecot's cache and the page cache for both clients)."""
    start = time.perf_counter()
    client = bed.other_client()
    try:
        uids = client.search("ALL")
        for first in range(0, len(uids), 500):
            chunk = uids[first : first + 500]
            client.fetch(chunk, ["FLAGS", "RFC822.SIZE", "BODYSTRUCTURE", "BODY.PEEK[HEADER]"])
            client.fetch(chunk, ["BODY.PEEK[]"])
    finally:
        client.logout()
    return time.perf_counter() - start


def make_changes(bed: Bed, run: int) -> list[int]:
    """Another client flips ``\\Seen`` on 100 messages and appends 100; the new UIDs."""
    client = bed.other_client()
    try:
        uids = sorted(client.search("ALL"))
        step = max(len(uids) // CHANGES, 1)
        chosen = uids[run % step :: step][:CHANGES]
        seen = {uid for uid, data in client.get_flags(chosen).items() if b"\\Seen" in data}
        if seen:
            client.remove_flags(sorted(seen), [b"\\Seen"])
        if set(chosen) - seen:
            client.add_flags(sorted(set(chosen) - seen), [b"\\Seen"])
        uidnext = client.folder_status(FOLDER, [b"UIDNEXT"])[b"UIDNEXT"]
        rng = random.Random(SEED + 1000 + run)  # noqa: S311 (test data)
        new = [message(10_000_000 + run * CHANGES + i, rng)[0] for i in range(CHANGES)]
        client.multiappend(FOLDER, [m.replace(b"\n", b"\r\n") for m in new])
        return [uid for uid in client.search(["UID", f"{uidnext}:*"]) if uid >= uidnext]
    finally:
        client.logout()


def undo_changes(bed: Bed, appended: Sequence[int]) -> None:
    """Expunge what :func:`make_changes` appended, so the next run mirrors N again."""
    client = bed.other_client()
    try:
        client.delete_messages(list(appended))
        client.uid_expunge(list(appended))
    finally:
        client.logout()


# -- counting IMAP commands ---------------------------------------------------------


class Commands:
    """The commands the adapter sends, by name, in order. Installed by wrapping the
    adapter's ``_IMAP4`` class in this process: every command starts with a new tag
    (``_new_tag``) and its first line (``send``) names it."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._tag: bytes | None = None

    def install(self) -> None:
        new_tag, send = _imap._IMAP4._new_tag, _imap._IMAP4.send
        commands = self

        def counting_new_tag(imap: Any) -> bytes:
            tag: bytes = new_tag(imap)
            commands._tag = tag
            return tag

        def counting_send(imap: Any, data: bytes) -> None:
            tag = commands._tag
            if tag is not None and data.startswith(tag + b" "):
                words = data[len(tag) + 1 :].split(b" ", 2)
                name = b" ".join(words[:2]) if words[0] == b"UID" else words[0]
                commands.names.append(name.strip().decode("ascii", "replace"))
                commands._tag = None
            send(imap, data)

        _imap._IMAP4._new_tag = counting_new_tag  # type: ignore[method-assign,assignment]
        _imap._IMAP4.send = counting_send  # type: ignore[method-assign,assignment]

    def mark(self) -> int:
        return len(self.names)

    def since(self, mark: int) -> list[str]:
        return self.names[mark:]


COMMANDS = Commands()


# -- one measurement ----------------------------------------------------------------


@dataclass
class Sample:
    """One scenario measured once."""

    seconds: float = 0.0
    session: list[str] = field(default_factory=list)
    """Commands of connecting and logging in/out, and the folder list."""
    folder: list[str] = field(default_factory=list)
    """Commands of the folder's sync (SELECT, FETCH...)."""
    items: int = 0
    peak: int | None = None
    """tracemalloc peak (bytes), in the memory run."""

    @property
    def commands(self) -> int:
        return len(self.session) + len(self.folder)


@contextlib.contextmanager
def collection(bed: Bed, *, whole: bool, sample: Sample) -> Iterator[IMAPCollection]:
    """A connected collection of the mailbox, as the sync engine has it (folders listed
    once per account); the session's commands go to ``sample.session``."""
    mark = COMMANDS.mark()
    backend = IMAPBackend(bed.account(whole=whole), network=bed.network)
    backend.open()
    folder = next(f for f in backend.list_folders() if f.id == FOLDER)
    sample.session += COMMANDS.since(mark)
    try:
        yield backend.collection(folder)
    finally:
        mark = COMMANDS.mark()
        backend.close()
        sample.session += COMMANDS.since(mark)


def measured(action: Callable[[Sample], str], *, trace: bool) -> tuple[Sample, str]:
    """Run ``action`` (which fills in commands and returns a state) timed, or under
    tracemalloc with ``trace``."""
    sample = Sample()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        state = action(sample)
    finally:
        sample.seconds = time.perf_counter() - start
        if trace:
            sample.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return sample, state


def ours_mirror(bed: Bed, *, whole: bool, trace: bool = False) -> tuple[Sample, str]:
    """A first mirror through the backend: the full listing, then every message."""

    def action(sample: Sample) -> str:
        with collection(bed, whole=whole, sample=sample) as mailbox:
            mark = COMMANDS.mark()
            changes = mailbox.changes(None)
            entries = list(mailbox.get([ref.id for ref in changes.changed]))
            sample.folder = COMMANDS.since(mark)
            sample.items = len(entries)
            return changes.state

    return measured(action, trace=trace)


def ours_resync(bed: Bed, state: str, *, trace: bool = False) -> tuple[Sample, str]:
    """A re-sync through the backend: the changes since ``state``, and what changed."""

    def action(sample: Sample) -> str:
        with collection(bed, whole=True, sample=sample) as mailbox:
            mark = COMMANDS.mark()
            changes = mailbox.changes(state)
            entries = list(mailbox.get([ref.id for ref in changes.changed]))
            sample.folder = COMMANDS.since(mark)
            sample.items = len(entries) + len(changes.deleted)
            return changes.state

    return measured(action, trace=trace)


# -- mbsync -------------------------------------------------------------------------


@dataclass
class MbsyncSample:
    """One mbsync run: wall time, peak RSS, and (traced runs) its commands."""

    seconds: float
    max_rss: int | None = None
    commands: int | None = None


class Mbsync:
    """mbsync pulling the mailbox into a Maildir of its own (``Sync Pull``, full
    download, its sync state inside the Maildir)."""

    def __init__(self, binary: str, bed: Bed, directory: Path) -> None:
        self.binary = binary
        self.config = directory / "mbsyncrc"
        self.store = directory / "store"
        self.store.mkdir()
        # mbsync 1.4 checks the host against the certificate's DNS names or common name
        # only, never its IP addresses: "localhost" (127.0.0.1 in /etc/hosts) is in it.
        self.config.write_text(
            "IMAPAccount bench\n"
            "Host localhost\n"
            f"Port {bed.server.imaps_port}\n"
            f"User {USER}\n"
            f"Pass {bed.server.users[USER]}\n"
            "SSLType IMAPS\n"
            f"CertificateFile {bed.ca.ca_pem}\n\n"
            "IMAPStore remote\nAccount bench\n\n"
            f"MaildirStore local\nPath {self.store}/\nInbox {self.store}/INBOX\n\n"
            "Channel bench\nFar :remote:\nNear :local:\n"
            f"Patterns {FOLDER}\nSync Pull\nCreate Near\nExpunge None\nSyncState *\n"
        )
        self.config.chmod(0o600)

    def run(self, *, trace: bool = False) -> MbsyncSample:
        """One ``mbsync bench``. With ``trace``, its protocol trace (``-Dn``) counts its
        commands and GNU time its peak RSS (``wait4`` on a child of this process would
        count the pages it had before ``exec``)."""
        command = [self.binary, "-c", str(self.config), "bench"]
        with tempfile.TemporaryDirectory() as scratch:
            rss_file = Path(scratch) / "rss"
            if trace:
                command[-1:] = ["-Dn", "bench"]
                if GNU_TIME:
                    command = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *command]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, check=False)
            seconds = time.perf_counter() - start
            text = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
            if done.returncode != 0:
                raise RuntimeError(f"mbsync failed ({done.returncode}):\n{text[-3000:]}")
            rss = int(rss_file.read_text().split()[-1]) * 1024 if rss_file.exists() else None
        commands = len(re.findall(r">>> \d+ ", text)) if trace else None
        return MbsyncSample(seconds, rss, commands)

    def count(self) -> int:
        """The messages in its Maildir."""
        folder = self.store / FOLDER
        return sum(1 for _ in (folder / "cur").iterdir()) + sum(
            1 for _ in (folder / "new").iterdir()
        )


# -- the runs -----------------------------------------------------------------------

SCENARIOS = ("headers", "whole", "no-change", "changes")
LABELS = {
    "headers": "first mirror, headers-only",
    "whole": "first mirror, whole",
    "no-change": "no-change re-sync",
    "changes": f"re-sync: {CHANGES} flags + {CHANGES} new",
}


@dataclass
class Run:
    """Every scenario measured once, for the backend and for mbsync."""

    ours: dict[str, Sample] = field(default_factory=dict)
    theirs: dict[str, MbsyncSample] = field(default_factory=dict)


def one_run(bed: Bed, mbsync: str | None, number: int, *, trace: bool = False) -> Run:
    """Both clients through every scenario, in turn, on the same mailbox state."""
    run = Run()
    run.ours["headers"], _ = ours_mirror(bed, whole=False, trace=trace)
    run.ours["whole"], state = ours_mirror(bed, whole=True, trace=trace)
    with tempfile.TemporaryDirectory(prefix="opbench-mbsync-") as directory:
        theirs = Mbsync(mbsync, bed, Path(directory)) if mbsync else None
        if theirs:
            run.theirs["whole"] = theirs.run(trace=trace)
        run.ours["no-change"], _ = ours_resync(bed, state, trace=trace)
        if theirs:
            run.theirs["no-change"] = theirs.run(trace=trace)
        appended = make_changes(bed, number)
        try:
            run.ours["changes"], _ = ours_resync(bed, state, trace=trace)
            if theirs:
                run.theirs["changes"] = theirs.run(trace=trace)
                mirrored = theirs.count()
                if mirrored != run.ours["whole"].items + CHANGES:
                    raise RuntimeError(f"mbsync mirrored {mirrored} messages")
        finally:
            undo_changes(bed, appended)
    return run


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(runs: Sequence[Run], memory: Run, messages: int) -> None:
    """The side-by-side table and the targets."""
    print()
    head = (
        f"{'scenario':<30} {'ours s':>8} {'mbsync s':>9} {'ratio':>6}  {'ours cmds':>16}"
        f"  {'mbsync cmds':>11}  {'ours peak':>10}  {'mbsync RSS':>10}"
    )
    print(head)
    print("-" * len(head))
    ratios: dict[str, float] = {}
    for key in SCENARIOS:
        ours = median([run.ours[key].seconds for run in runs])
        sample = runs[-1].ours[key]
        cmds = f"{len(sample.session)} + {len(sample.folder)}"
        theirs_key = "whole" if key == "headers" else key
        theirs = [run.theirs[theirs_key].seconds for run in runs if theirs_key in run.theirs]
        mb, mb_cmds, mb_rss = f"{'-':>9} {'-':>6}", "-", "-"
        if theirs:
            ratios[key] = ours / median(theirs)
            shown = "(whole)" if key == "headers" else f"{median(theirs):.2f}"
            mb = f"{shown:>9} {ratios[key]:6.2f}"
            mb_cmds = str(memory.theirs[theirs_key].commands)
            rss = memory.theirs[theirs_key].max_rss
            mb_rss = "-" if rss is None else f"{rss / MIB:6.1f} MiB"
        peak = memory.ours[key].peak or 0
        print(
            f"{LABELS[key]:<30} {ours:8.2f} {mb}  {cmds:>16}  {mb_cmds:>11}"
            f"  {peak / MIB:6.1f} MiB  {mb_rss:>10}"
        )
    print()
    print(
        f"{messages} messages; ratio = ours/mbsync (medians); ours cmds = session (connect, "
        "login, list, logout) + folder; mbsync cmds from its -D n trace (pipelined);\n"
        "ours peak = tracemalloc peak (Python allocations, whole result kept in a list); "
        "mbsync RSS = its peak resident set. mbsync has no headers-only mode: the headers-"
        "only ratio is against its whole mirror, for information."
    )
    folder_cmds = sorted({len(run.ours["no-change"].folder) for run in runs})
    last = runs[-1].ours["no-change"]
    print(
        f"no-change re-sync: folder commands per run {folder_cmds} ({' '.join(last.folder)}); "
        f"session {' '.join(last.session)}"
    )
    targets(ratios)


def targets(ratios: dict[str, float]) -> None:
    """Whether the issue's targets are met (information only: never a failure)."""
    for key, text in (
        ("whole", "first mirror (whole vs whole) no slower than mbsync"),
        ("no-change", "no-change re-sync no slower than mbsync"),
    ):
        if key not in ratios:
            print(f"target {text}: not measured (no mbsync)")
        else:
            verdict = "met" if ratios[key] <= 1.0 else "NOT met"
            print(f"target {text}: ratio {ratios[key]:.2f}: {verdict}")


def profile(bed: Bed) -> None:
    """cProfile of the backend's first mirrors and of a re-sync after changes."""
    _, state = ours_mirror(bed, whole=True)
    appended = make_changes(bed, 99)
    try:
        actions: list[tuple[str, Callable[[], object]]] = [
            ("headers-only first mirror", lambda: ours_mirror(bed, whole=False)),
            ("whole first mirror", lambda: ours_mirror(bed, whole=True)),
            (f"re-sync after {CHANGES} flags + {CHANGES} new", lambda: ours_resync(bed, state)),
        ]
        for title, action in actions:
            profiler = cProfile.Profile()
            profiler.enable()
            action()
            profiler.disable()
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(20)
                print(f"\n== cProfile: {title}, by {order} ==")
                print("\n".join(out.getvalue().splitlines()[4:]).strip())
    finally:
        undo_changes(bed, appended)


def main() -> None:
    """Fill the mailbox, run every scenario ``--runs`` times and once traced, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-mbsync", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the backend")
    args = parser.parse_args()
    if args.messages < CHANGES:
        parser.error(f"--messages must be at least {CHANGES}")
    mbsync = None if args.skip_mbsync else shutil.which("mbsync")
    if mbsync is None and not args.skip_mbsync:
        print("mbsync not installed: skipped the mbsync column (Debian: apt-get install isync)")
    COMMANDS.install()
    with running() as bed:
        seconds, size = fill(bed, args.messages)
        print(
            f"filled {args.messages} messages ({size / MIB:.0f} MiB) as Maildir files in "
            f"{seconds:.1f} s; Dovecot indexed and read them once in {warm_up(bed):.1f} s"
        )
        runs = []
        for number in range(args.runs):
            runs.append(one_run(bed, mbsync, number))
            print(f"run {number + 1}/{args.runs} done")
        memory = one_run(bed, mbsync, args.runs, trace=True)
        print_table(runs, memory, args.messages)
        if args.profile:
            profile(bed)


if __name__ == "__main__":
    main()
