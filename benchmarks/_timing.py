"""The one timing helper the codec and parser benchmarks share."""

from __future__ import annotations

import time
from collections.abc import Callable


def best(work: Callable[[], object], runs: int) -> float:
    """The best wall time of ``runs`` calls of ``work``, in seconds (the least disturbed
    by the rest of the machine, so figures compare between runs)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)
