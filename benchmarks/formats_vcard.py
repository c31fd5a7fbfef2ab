"""Parse + serialize throughput of the vCard codec against vobject (target: 1.5x at most).

1,000 contacts with photos (a ~6 KB inline JPEG-sized blob each), names, e-mail
addresses, phones, an address, a note and Apple-style grouped labels, as one vCard 3.0
stream (vobject cannot round-trip 4.0 data: URIs, so 3.0 keeps the comparison fair), and
the same contacts as 4.0 for our codec alone. Each figure is the best of several runs.

    python benchmarks/formats_vcard.py [--contacts N] [--runs N]
"""

from __future__ import annotations

import argparse
import random
from datetime import date

import attrs
import vobject
from _timing import best

from openprotocols.formats import vcard
from openprotocols.model import RawProperty
from openprotocols.model.contacts import (
    AddressKind,
    Contact,
    EmailAddress,
    PersonName,
    Phone,
    PhoneKind,
    Photo,
    PostalAddress,
)


def contacts(count: int) -> list[Contact]:
    """``count`` varied contacts, each with a photo."""
    rng = random.Random(1)  # noqa: S311 - test data, not secrets
    out = []
    for i in range(count):
        given, family = f"Given{i}", f"Family{i % 97}"
        out.append(
            Contact.new(
                f"{given} {family}",
                uid=f"bench-{i:05d}",
                name=PersonName(given=given, family=family),
                emails=[
                    EmailAddress(
                        f"{given.lower()}@work{i % 13}.example", kind=AddressKind.BUSINESS
                    ),
                    EmailAddress(f"{given.lower()}@home.example", kind=AddressKind.HOME),
                ],
                phones=[
                    Phone(f"+1 555 {i:04d}", PhoneKind.MOBILE),
                    Phone(f"+1 555 {i + 1:04d}", PhoneKind.BUSINESS),
                ],
                addresses=[
                    PostalAddress(
                        kind=AddressKind.HOME,
                        street=f"{i} Main Street",
                        city="Springfield",
                        postal_code=f"{10000 + i}",
                        country="Ünited Ständs",
                    )
                ],
                company="Example Corp",
                department="Sales",
                job_title="Engineer",
                birthday=date(1970 + i % 40, 1 + i % 12, 1 + i % 28),
                notes="Met at the conference, 2019.\nLikes apples; prefers e-mail.",
                photo=Photo(data=rng.randbytes(6000), content_type="image/jpeg"),
                categories=["Work", "Friends"],
                extended=[RawProperty("X-ABLabel", "_$!<Other>!$_", group="item1")],
            )
        )
    return out


def ours(data: bytes) -> bytes:
    """Our parse + serialize."""
    return vcard.serialize(vcard.parse(data))


def ours_edit(data: bytes) -> bytes:
    """Our parse, one field changed on every contact, serialize (the minimal-diff path)."""
    parsed = vcard.parse(data)
    items = tuple(attrs.evolve(item, notes="changed") for item in parsed.items)
    return vcard.serialize(attrs.evolve(parsed, items=items))


def theirs(data: bytes) -> str:
    """vobject's readComponents + serialize (it needs text, so decoding is included)."""
    return "".join(card.serialize() for card in vobject.readComponents(data.decode("utf-8")))


def main() -> None:
    """Print the timings and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    items = contacts(args.contacts)
    data3 = vcard.serialize(items, version="3.0")
    data4 = vcard.serialize(items, version="4.0")
    assert vcard.parse(ours(data3)).items == tuple(items)

    print(f"{args.contacts} contacts with photos, {len(data3) / 1e6:.1f} MB (vCard 3.0)")
    t_vobject = best(lambda: theirs(data3), args.runs)
    rows = [
        ("vobject readComponents + serialize (3.0)", t_vobject),
        ("openprotocols parse + serialize (3.0)", best(lambda: ours(data3), args.runs)),
        ("openprotocols parse + edit + serialize (3.0)", best(lambda: ours_edit(data3), args.runs)),
        ("openprotocols parse + serialize (4.0)", best(lambda: ours(data4), args.runs)),
        ("openprotocols parse only (3.0)", best(lambda: vcard.parse(data3), args.runs)),
    ]
    for label, seconds in rows:
        ratio = seconds / t_vobject
        per_card = seconds / args.contacts * 1e6
        print(f"  {label:<46} {seconds * 1000:8.1f} ms  {per_card:7.1f} µs/card  {ratio:5.2f}x")
    print("  (ratio: time / vobject time; target <= 1.50x)")


if __name__ == "__main__":
    main()
