"""Parse + serialise throughput of the MIME codec against the bare stdlib ``email``.

For 1,000 messages (the MIME corpus of the tests, cycled, each with a unique
Message-ID), compares:

- ``email``: ``BytesParser(policy=default).parsebytes(data)`` + ``as_bytes()``;
- ``openprotocols``: :func:`openprotocols.formats.mime.parse` (envelope, parts) +
  :func:`~openprotocols.formats.mime.serialize` (the source, unchanged);
- for information, the same plus ``text_body()`` (one more parse, and a decode);
- the header blocks alone, as an IMAP sync fetches them: ``email``'s
  ``parsebytes(block, headersonly=True)`` and reading the envelope fields from it, against
  :func:`~openprotocols.formats.mime.parse_headers` (target: several times faster).

Target: openprotocols no slower than bare ``email`` by more than 1.5x. Each figure is the
best of ``--runs`` repetitions.

    python benchmarks/formats_mime.py [--count 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
from email import policy
from email.parser import BytesParser
from pathlib import Path

from _timing import best

from openprotocols.formats import mime

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "formats" / "corpus" / "mime"


def messages(count: int) -> list[bytes]:
    """``count`` messages from the corpus, cycled, each made unique."""
    files = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]
    return [b"X-Benchmark-Id: %d\r\n" % index + files[index % len(files)] for index in range(count)]


def with_email(data: list[bytes]) -> None:
    """The bare stdlib: parse and generate each message."""
    parser = BytesParser(policy=policy.default)
    for item in data:
        parser.parsebytes(item).as_bytes()


def with_openprotocols(data: list[bytes]) -> None:
    """Our codec: parse into the model and serialise."""
    for item in data:
        mime.serialize(mime.parse(item))


def with_openprotocols_and_body(data: list[bytes]) -> None:
    """Our codec, and the text body of each message."""
    for item in data:
        message = mime.parse(item)
        mime.text_body(message)
        mime.serialize(message)


def header_blocks(data: list[bytes]) -> list[bytes]:
    """The header block of each message."""
    return [item[: mime.header_block_end(item)] for item in data]


ENVELOPE_FIELDS = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id")


def with_email_headers(blocks: list[bytes]) -> None:
    """The bare stdlib on header blocks: parse, and read the envelope fields."""
    parser = BytesParser(policy=policy.default)
    for block in blocks:
        message = parser.parsebytes(block, headersonly=True)
        for name in ENVELOPE_FIELDS:
            message.get(name)


def with_openprotocols_headers(blocks: list[bytes]) -> None:
    """Our codec on header blocks: the envelope of each."""
    for block in blocks:
        mime.parse_headers(block)


def main() -> None:
    """Run the comparison and print a table."""
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--count", type=int, default=1000)
    arguments.add_argument("--runs", type=int, default=5)
    options = arguments.parse_args()
    data = messages(options.count)
    size = sum(map(len, data)) / 1024
    print(f"{options.count} messages, {size:.0f} KiB, best of {options.runs}")
    baseline = best(lambda: with_email(data), options.runs)
    rows = [
        ("email parsebytes + as_bytes", baseline),
        ("openprotocols parse + serialize", best(lambda: with_openprotocols(data), options.runs)),
        (
            "openprotocols parse + text_body + serialize",
            best(lambda: with_openprotocols_and_body(data), options.runs),
        ),
    ]
    for name, seconds in rows:
        print(
            f"  {name:45} {seconds * 1000:8.1f} ms  {options.count / seconds:8.0f} msg/s  "
            f"{seconds / baseline:5.2f}x"
        )
    blocks = header_blocks(data)
    header_baseline = best(lambda: with_email_headers(blocks), options.runs)
    header_rows = [
        ("email parsebytes(headersonly) + envelope", header_baseline),
        (
            "openprotocols parse_headers",
            best(lambda: with_openprotocols_headers(blocks), options.runs),
        ),
    ]
    print(f"header blocks only, {sum(map(len, blocks)) / 1024:.0f} KiB")
    for name, seconds in header_rows:
        print(
            f"  {name:45} {seconds * 1000:8.1f} ms  {options.count / seconds:8.0f} msg/s  "
            f"{seconds / header_baseline:5.2f}x"
        )


if __name__ == "__main__":
    main()
