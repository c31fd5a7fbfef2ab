"""RFC 2782 ordering of SRV records."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from openprotocols.formats.srv import SrvRecord, is_no_service, order


def test_priority_comes_first() -> None:
    """Lower priority values are always tried first, whatever the weights."""
    records = [SrvRecord(20, 100, 993, "b.test"), SrvRecord(10, 0, 993, "a.test")]
    assert [r.target for r in order(records, rng=random.Random(1))] == ["a.test", "b.test"]


def test_weights_share_the_first_place() -> None:
    """Within a priority, weight 3:1 puts the heavier target first about 3 times in 4."""
    records = [SrvRecord(0, 30, 1, "heavy.test"), SrvRecord(0, 10, 1, "light.test")]
    rng = random.Random(7)
    first = Counter(order(records, rng=rng)[0].target for _ in range(4000))
    assert 0.70 < first["heavy.test"] / 4000 < 0.80


def test_no_service_and_dot_targets() -> None:
    """A lone "." target means no service; "." records are never returned."""
    dot = SrvRecord(0, 0, 0, ".")
    assert is_no_service([dot])
    assert order([dot]) == []
    assert not is_no_service([])
    assert not is_no_service([SrvRecord(0, 0, 993, "mail.test.")])


def test_targets_are_normalised() -> None:
    """Trailing dots and case are removed from targets."""
    assert SrvRecord(0, 0, 993, "Mail.Example.TEST.").target == "mail.example.test"


records = st.lists(
    st.builds(
        SrvRecord,
        st.integers(0, 3),
        st.integers(0, 5),
        st.integers(1, 65535),
        st.sampled_from(["a.test", "b.test", "c.test", "."]),
    ),
    max_size=8,
)


@given(records, st.integers())
def test_order_is_a_permutation_sorted_by_priority(found: list[SrvRecord], seed: int) -> None:
    """Every usable record appears exactly once, in non-decreasing priority."""
    result = order(found, rng=random.Random(seed))
    assert Counter(result) == Counter(r for r in found if r.target != ".")
    assert [r.priority for r in result] == sorted(r.priority for r in result)
