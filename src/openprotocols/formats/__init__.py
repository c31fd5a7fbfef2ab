"""Codecs between wire formats and the model. Pure: bytes in, models out, and back; no I/O.

- :mod:`openprotocols.formats.ical` — iCalendar (RFC 5545) ⇄ ``Appointment`` / ``Task``
- :mod:`openprotocols.formats.vcard` — vCard 2.1 / 3.0 / 4.0 ⇄ ``Contact`` / ``ContactGroup``
- :mod:`openprotocols.formats.mime` — RFC 5322 / MIME ⇄ ``Message``
- :mod:`openprotocols.formats.imip` — invitations in mail (RFC 6047)

The promise of every codec: ``serialize(parse(data))`` keeps every component, property,
parameter and value of ``data``. Malformed input raises
:class:`~openprotocols.errors.ParseError` naming the line; merely sloppy input parses,
keeps what is there, and reports warnings.
"""

from __future__ import annotations
