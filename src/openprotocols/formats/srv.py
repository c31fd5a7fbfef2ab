"""DNS SRV records and the order RFC 2782 says to try them in.

Used for mail (RFC 6186: ``_imaps._tcp``, ``_submissions._tcp``...), CalDAV and CardDAV
(RFC 6764: ``_caldavs._tcp``...) and Autodiscover (``_autodiscover._tcp``). Pure: the
lookup itself happens in the network layer; this module only orders what it found.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import attrs

__all__ = ["SrvRecord", "is_no_service", "order"]


def _target(name: object) -> str:
    """A target name without its trailing dot, lower-cased; ``.`` stays ``.``."""
    return str(name).rstrip(".").lower() or "."


@attrs.frozen
class SrvRecord:
    """One SRV record: try ``target:port``; lower ``priority`` first, then by ``weight``."""

    priority: int
    weight: int
    port: int
    target: str = attrs.field(converter=_target)


def is_no_service(records: Iterable[SrvRecord]) -> bool:
    """Whether the answer says "service decidedly not available": a single record whose
    target is ``.`` (RFC 2782)."""
    found = list(records)
    return len(found) == 1 and found[0].target == "."


def order(records: Iterable[SrvRecord], *, rng: random.Random | None = None) -> list[SrvRecord]:
    """The records in the order to try them (RFC 2782, "Usage rules").

    Ascending priority; within one priority a weighted random order, where a record of
    weight ``w`` comes first with probability ``w / total`` (records of weight 0 have a
    small chance, as the RFC's algorithm gives them). Records with target ``.`` are
    dropped; a "no service" answer gives an empty list.
    """
    chooser = rng if rng is not None else random.SystemRandom()
    usable = [r for r in records if r.target != "."]
    result: list[SrvRecord] = []
    for priority in sorted({r.priority for r in usable}):
        # Weight-0 records go first in the candidate list, as the RFC prescribes, so that
        # a running-sum draw of 0 can select them.
        group = sorted((r for r in usable if r.priority == priority), key=lambda r: r.weight != 0)
        while group:
            total = sum(r.weight for r in group)
            draw = chooser.randint(0, total)
            running = 0
            for index, record in enumerate(group):
                running += record.weight
                if running >= draw:
                    result.append(group.pop(index))
                    break
    return result
