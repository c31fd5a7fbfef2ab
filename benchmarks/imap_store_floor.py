"""What storing costs a bare IMAP client: the floor of ``sync_store.py`` beside two bare
clients that also keep every message in SQLite, and beside our first sync.

Issue 7 asks for a first sync within 1.3x of "a bare client doing the least protocol
work". For IMAP that floor (``sync_store.imap_floor``) reads the bytes of every message
and keeps none of them. This script measures, on the same Dovecot mailbox and in the same
run, how far a client that does keep them must be from that floor, so that our own
ratio can be read against it:

- **floor**: ``imaplib``, one ``UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])``;
- **floor + store**: the same answer, then every message written into SQLite in
  transactions of 200 rows (the store's schema for ``items``, its page size, WAL,
  ``synchronous=NORMAL``), one after the other;
- **batches + writer thread**: ``UID FETCH`` of 100 UIDs at a time, each batch handed
  to a thread that inserts it and commits while the next batch is read (SQLite and the
  TLS socket release the GIL, so the two overlap);
- **ours**: ``LocalStore`` + ``Binding.sync()`` of the whole messages, as
  ``sync_store.py`` measures it (decoding, content hash, pairs, change log included).

None of the bare clients parses a header, hashes, plans or records a pair: they are the
least a client can do that stores what it reads. Medians of ``--runs`` runs, the order
rotating per run. Needs root (Dovecot); installs nothing.

    python benchmarks/imap_store_floor.py [--messages N] [--runs K]
"""

from __future__ import annotations

import argparse
import imaplib
import queue
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import imap_mirror
import sync_store

from openprotocols.backends.imap import IMAPBackend
from openprotocols.model import FolderKind
from openprotocols.store._db import PAGE_SIZE

BATCH = 100
ROWS_PER_COMMIT = 200
SCHEMA = (
    "CREATE TABLE items (folder TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, "
    "uid TEXT, kind TEXT NOT NULL, data BLOB NOT NULL, meta TEXT NOT NULL, "
    "PRIMARY KEY (folder, id))"
)
INSERT = "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?)"


def new_database(directory: str) -> sqlite3.Connection:
    """A store-like database; usable from the writer thread (one user at a time)."""
    db = sqlite3.connect(f"{directory}/bench.sqlite", isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(SCHEMA)
    db.execute("CREATE INDEX items_by_uid ON items (folder, uid)")
    return db


def rows(answer: list[Any], first: int) -> Iterator[tuple[Any, ...]]:
    """The rows of an ``imaplib`` FETCH answer, numbered from ``first``."""
    number = first
    for part in answer:
        if isinstance(part, tuple):
            number += 1
            yield ("Bench", f"{number:032x}", number, None, "mail", part[1], '{"flags": []}')


def insert(db: sqlite3.Connection, answer: list[Any], first: int) -> int:
    """Insert and commit one batch; the next row number."""
    batch = list(rows(answer, first))
    db.execute("BEGIN")
    db.executemany(INSERT, batch)
    db.execute("COMMIT")
    return first + len(batch)


def login(bed: imap_mirror.Bed) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL(
        "127.0.0.1", bed.server.imaps_port, ssl_context=bed.network.ssl_context()
    )
    imap.login(imap_mirror.USER, bed.server.users[imap_mirror.USER])
    imap.select(imap_mirror.FOLDER, readonly=True)
    return imap


def floor(bed: imap_mirror.Bed) -> float:
    return sync_store.imap_floor(bed).seconds


def floor_and_store(bed: imap_mirror.Bed) -> float:
    with tempfile.TemporaryDirectory(prefix="opbench-") as directory:
        start = time.perf_counter()
        db = new_database(directory)
        with login(bed) as imap:
            _, answer = imap.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
            imap.logout()
        parts = [p for p in answer if isinstance(p, tuple)]
        written = 0
        for first in range(0, len(parts), ROWS_PER_COMMIT):
            written = insert(db, parts[first : first + ROWS_PER_COMMIT], written)
        db.close()
        return time.perf_counter() - start


def batches_and_writer(bed: imap_mirror.Bed, messages: int) -> float:
    with tempfile.TemporaryDirectory(prefix="opbench-") as directory:
        start = time.perf_counter()
        db = new_database(directory)
        handed: queue.Queue[list[Any] | None] = queue.Queue(maxsize=4)
        failed: list[BaseException] = []

        def write() -> None:
            # after a failure (a full disk) the writer keeps taking answers without
            # writing them, so that the reader never blocks on a full queue
            written = 0
            while (answer := handed.get()) is not None:
                if not failed:
                    try:
                        written = insert(db, answer, written)
                    except BaseException as exc:
                        failed.append(exc)

        writer = threading.Thread(target=write, name="writer")
        writer.start()
        try:
            with login(bed) as imap:
                for first in range(1, messages + 1, BATCH):
                    uids = f"{first}:{first + BATCH - 1}"
                    _, answer = imap.uid("FETCH", uids, "(FLAGS INTERNALDATE BODY.PEEK[])")
                    handed.put(answer)
                imap.logout()
        finally:
            handed.put(None)
            writer.join()
        db.close()
        if failed:
            raise failed[0]
        return time.perf_counter() - start


def ours(remote: sync_store.Remote) -> float:
    with tempfile.TemporaryDirectory(prefix="opbench-") as directory:
        return sync_store.ours(remote, Path(directory) / "store.sqlite", first=True).seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    imap_mirror.COMMANDS.install()
    with imap_mirror.running() as bed:
        seconds, size = imap_mirror.fill(bed, args.messages)
        print(f"{args.messages} messages ({size / 2**20:.0f} MiB) written in {seconds:.1f} s")
        imap_mirror.warm_up(bed)
        remote = sync_store.Remote(
            lambda: IMAPBackend(bed.account(whole=True), network=bed.network),
            imap_mirror.FOLDER,
            FolderKind.MAIL,
            imap_mirror.COMMANDS.names,
        )
        clients: dict[str, Callable[[], float]] = {
            "floor": lambda: floor(bed),
            "floor + store": lambda: floor_and_store(bed),
            "batches + writer thread": lambda: batches_and_writer(bed, args.messages),
            "ours (LocalStore)": lambda: ours(remote),
        }
        for client in clients.values():  # warm-up: imports, the page cache
            client()
        times: dict[str, list[float]] = {name: [] for name in clients}
        names = list(clients)
        for run in range(args.runs):
            for name in names[run % len(names) :] + names[: run % len(names)]:
                times[name].append(clients[name]())
    base = statistics.median(times["floor"])
    print(f"\nfirst mirror of {args.messages} messages, medians of {args.runs} runs:")
    for name, values in times.items():
        value = statistics.median(values)
        print(f"  {name:<26} {value:6.2f} s  {value / base:5.2f}x the floor")


if __name__ == "__main__":
    main()
