"""Registrable domains on the Public Suffix List."""

from __future__ import annotations

import pytest

from openprotocols._domains import normalise_host, registrable_domain, same_site


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("mail.example.co.uk", "example.co.uk"),
        ("Autodiscover.Example.COM.", "example.com"),
        ("ann.github.io", "ann.github.io"),  # the private section counts
        ("co.uk", None),
        ("github.io", None),
        ("mail.example.test", "example.test"),
        ("", None),
    ],
)
def test_registrable_domain(host: str, expected: str | None) -> None:
    """Multi-label and private suffixes are honoured; a suffix itself has no domain."""
    assert registrable_domain(host) == expected


def test_same_site() -> None:
    """Hosts of one registrable domain are the same site; siblings under a suffix are not."""
    assert same_site("imap.example.co.uk", "example.co.uk")
    assert not same_site("evil.co.uk", "example.co.uk")
    assert not same_site("bob.github.io", "ann.github.io")
    assert not same_site("example.com.evil.test", "example.com")


def test_idn_names_are_compared_as_a_labels() -> None:
    """Unicode names and their punycode forms are the same host."""
    assert normalise_host("Bücher.example.") == "xn--bcher-kva.example"
    assert same_site("mail.bücher.de", "xn--bcher-kva.de")
