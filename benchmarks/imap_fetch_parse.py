"""Parse real FETCH responses with imapclient's ``parse_fetch_response`` and with our
``_imapfetch.parse_fetch`` (issue 7: first-sync speed).

It fills Dovecot with N messages through ``imap_mirror.py``'s bed (log-uniform 2-100 KB,
text with HTML alternatives or PDF attachments, most read), captures the raw FETCH data
imaplib leaves in ``untagged_responses["FETCH"]`` for the backend's item lists, in
batches of 100 UIDs as the backend asks for them, and then times, on the same captured
data:

- **whole**: ``UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[]<0.n> MODSEQ``
  (``download_entire_messages``: most bytes are literals, which neither parser scans);
- **headers**: ``UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER]
  MODSEQ`` (the default first sync);
- **flags**: ``UID FLAGS MODSEQ`` (a re-sync's listing).

Columns: imapclient's time and ours (the best of ``--runs``, each a pass over every
batch, in ms), the ratio, and how many batches the fast reader declined (they go to
imapclient; 0 expected here). Before timing, it checks that both give the same answer.
No target: the figure is the Python time a first sync saves.

Needs root (Dovecot). ``--synthetic`` skips the server and replays the bed's messages
as Dovecot-like responses built here (no root needed; BODYSTRUCTUREs simpler).

    python benchmarks/imap_fetch_parse.py [--messages 2000] [--runs 5] [--synthetic]
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
from pathlib import Path
from typing import Any

from imapclient.response_parser import parse_fetch_response

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks

import imap_mirror
from _timing import best

from openprotocols.backends._imap import uid_set
from openprotocols.backends._imapfetch import parse_fetch
from openprotocols.backends.imap import _HEADER_ITEMS, _WHOLE_ITEMS

BATCH = 100
MIB = 1024 * 1024
ITEMS = {
    "whole": _WHOLE_ITEMS.format(limit=64 * MIB) + " MODSEQ",
    "headers": _HEADER_ITEMS + " MODSEQ",
    "flags": "UID FLAGS MODSEQ",
}

Batches = list[list[Any]]


def captured(count: int) -> dict[str, Batches]:
    """Fill Dovecot with ``count`` messages and capture the raw FETCH data per item list,
    one list of imaplib data per batch of UIDs."""
    with imap_mirror.running() as bed:
        seconds, size = imap_mirror.fill(bed, count)
        print(f"filled {count} messages ({size / MIB:.0f} MiB) in {seconds:.1f} s")
        imap_mirror.warm_up(bed)
        client = bed.other_client()
        try:
            uids = sorted(client.search("ALL"))
            found: dict[str, Batches] = {}
            for name, items in ITEMS.items():
                found[name] = []
                for first in range(0, len(uids), BATCH):
                    wanted = uid_set(uids[first : first + BATCH])
                    typ, data = client._imap.uid("FETCH", wanted, f"({items})")
                    assert typ == "OK", data
                    found[name].append(data)
            return found
        finally:
            client.logout()


def synthetic(count: int) -> dict[str, Batches]:
    """Dovecot-like responses for the bed's messages, built here (no server)."""
    rng = random.Random(imap_mirror.SEED)  # noqa: S311 (test data)
    found: dict[str, Batches] = {name: [] for name in ITEMS}
    for first in range(0, count, BATCH):
        batches: dict[str, list[Any]] = {name: [] for name in ITEMS}
        for n in range(first, min(first + BATCH, count)):
            data, _ = imap_mirror.message(n, rng)
            head = data[: data.index(b"\n\n") + 2]
            flags = b"(\\Seen)" if "S" in imap_mirror.flags_of(n) else b"()"
            common = (
                b'%d (UID %d FLAGS %s INTERNALDATE "01-Jan-2026 08:00:00 +0000" RFC822.SIZE %d '
                b'BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 2400 34 NIL '
                b'NIL NIL NIL)("application" "pdf" ("name" "report.pdf") NIL NIL "base64" %d NIL '
                b'("attachment" ("filename" "report.pdf")) NIL NIL) "mixed" ("boundary" '
                b'"=_bench_%d") NIL NIL NIL) MODSEQ (%d) '
            ) % (n + 1, n + 1, flags, len(data), len(data) - 3000, n, n + 10)
            batches["whole"] += [(common + b"BODY[]<0> {%d}" % len(data), data), b")"]
            batches["headers"] += [(common + b"BODY[HEADER] {%d}" % len(head), head), b")"]
            batches["flags"].append(b"%d (UID %d FLAGS %s MODSEQ (%d))" % (n + 1, n + 1, flags, n))
        for name, batch in batches.items():
            found[name].append(batch)
    return found


def with_imapclient(batches: Batches) -> list[Any]:
    """Each batch parsed as the adapter did before: imapclient's parser."""
    return [parse_fetch_response(data, normalise_times=False, uid_is_key=False) for data in batches]


def with_ours(batches: Batches) -> list[Any]:
    """Each batch parsed by the fast reader (``None`` where it declines)."""
    return [parse_fetch(data) for data in batches]


def main() -> None:
    """Capture (or build) the responses, check both parsers agree, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--synthetic", action="store_true", help="no server: built responses")
    args = parser.parse_args()
    responses = synthetic(args.messages) if args.synthetic else captured(args.messages)
    source = "synthetic" if args.synthetic else "captured from Dovecot"
    print(f"{args.messages} messages, {source}, batches of {BATCH}, best of {args.runs}")
    print(
        f"  {'items':8} {'KiB of lines':>13} {'imapclient':>11} {'ours':>9} {'ratio':>6} declined"
    )
    for name, batches in responses.items():
        ours = with_ours(batches)
        declined = sum(result is None for result in ours)
        for result, expected in zip(ours, with_imapclient(batches), strict=True):
            assert result is None or result == expected, name
        lines = sum(
            len(chunk[0] if isinstance(chunk, tuple) else chunk)
            for data in batches
            for chunk in data
        )
        reference = best(functools.partial(with_imapclient, batches), args.runs)
        fast = best(functools.partial(with_ours, batches), args.runs)
        print(
            f"  {name:8} {lines / 1024:13.0f} {reference * 1000:8.1f} ms {fast * 1000:6.1f} ms "
            f"{reference / fast:5.1f}x {declined:>8}"
        )


if __name__ == "__main__":
    main()
