"""Registrable domains (the Public Suffix List, private section included).

Discovery may send credentials only to hosts inside the user's own registrable domain —
``mail.example.co.uk`` for ``ann@example.co.uk``, never ``co.uk`` and never another
customer of ``github.io`` — unless the user consents. These helpers answer that question.
"""

from __future__ import annotations

import functools
import re

from publicsuffixlist import PublicSuffixList

__all__ = ["is_domain_name", "normalise_host", "registrable_domain", "same_site"]

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


@functools.cache
def _psl() -> PublicSuffixList:
    # The private section counts (github.io is a public suffix); unknown TLDs (.test)
    # are treated as one-label public suffixes.
    return PublicSuffixList(only_icann=False, accept_unknown=True)


def normalise_host(host: str) -> str:
    """Lower-case, without a trailing dot, IDN labels as A-labels (punycode)."""
    name = host.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def registrable_domain(host: str) -> str | None:
    """The registrable domain of ``host`` (``example.co.uk`` for ``a.example.co.uk``), or
    ``None`` for a public suffix itself (``co.uk``) or an empty name."""
    name = normalise_host(host)
    if not name:
        return None
    domain: str | None = _psl().privatesuffix(name)
    return domain


def same_site(host: str, domain: str) -> bool:
    """Whether ``host`` lies within the registrable domain of ``domain``."""
    mine = registrable_domain(domain)
    return mine is not None and registrable_domain(host) == mine


def is_domain_name(name: str) -> bool:
    """Whether ``name`` (normalised) is a host name: dot-separated LDH labels, no IP
    literal, nothing that could escape a URL or a file name (``/``, ``..``, ``@``)."""
    labels = name.split(".")
    return (
        0 < len(name) <= 253
        and len(labels) >= 1
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )
