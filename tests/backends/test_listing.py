"""``spill_refs``: a backend's long listing goes to a temporary file, read back whole,
in order, as often as asked."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator

from openprotocols.backends.base import HELD_REFS, ItemRef, Listing, spill_refs


def _refs(count: int) -> list[ItemRef]:
    # ids and versions a JSON line must carry intact: quotes, backslashes, line breaks,
    # non-ASCII, a JavaScript line separator, NUL, empty strings
    odd = ['a"b', "c\\d", "e\nf", "g\r\nh", "été/€", "\u2028", "", "\x00"]
    return [ItemRef(f"{n}:{odd[n % len(odd)]}", odd[(n + 3) % len(odd)]) for n in range(count)]


def test_a_short_listing_is_a_tuple() -> None:
    refs = _refs(HELD_REFS)
    assert spill_refs(iter(refs)) == tuple(refs)
    assert spill_refs([]) == ()


def test_a_long_listing_is_read_back_whole_and_in_order_each_time() -> None:
    for count in (HELD_REFS + 1, 3000):
        refs = _refs(count)
        listing = spill_refs(iter(refs))
        assert isinstance(listing, Listing)
        assert len(listing) == count
        assert list(listing) == refs
        assert list(listing) == refs  # again


def test_iterations_are_independent() -> None:
    refs = _refs(2500)
    listing = spill_refs(refs)
    outer, inner = iter(listing), iter(listing)
    # interleaved: each iteration keeps its own place in the file
    pairs = list(itertools.islice(zip(outer, inner, strict=True), 1500))
    assert [a for a, _ in pairs] == refs[:1500]
    assert all(a == b for a, b in pairs)
    assert list(outer) == refs[1500:]


def test_the_refs_are_consumed_before_it_returns() -> None:
    seen: list[int] = []

    def refs() -> Iterator[ItemRef]:
        for n in range(1000):
            seen.append(n)
            yield ItemRef(str(n), "v")

    spill_refs(refs())
    assert len(seen) == 1000


def test_the_file_goes_with_the_listing() -> None:
    listing = spill_refs(_refs(1000))
    file = listing._file  # type: ignore[union-attr]
    del listing
    gc.collect()
    assert file.closed
