"""The Outlook adapter: the model on MAPI properties, .msg files and PST files.

Outlook and Exchange keep every item as a set of MAPI properties. This package maps the
model onto them, so a connector product for Outlook binds Outlook folders to IMAP, CalDAV
and CardDAV collections through the ordinary sync engine, and Outlook's own properties
survive a trip through a server that has never heard of them:

- :func:`to_mapi` and :func:`from_mapi` turn an item into a :class:`PropertySet` and back;
- :mod:`openprotocols.outlook.props` defines the properties (MS-OXPROPS) as data;
- :mod:`openprotocols.outlook.msg` reads and writes .msg files (MS-OXMSG);
- :mod:`openprotocols.outlook.store` is the MAPI store seam, with
  :class:`~openprotocols.outlook.store.MsgFolder`, a folder of .msg files that binds to a
  server collection like any other;
- :mod:`openprotocols.outlook.pst` imports PST files (extra ``pst``).

It needs the extra ``outlook`` (olefile, to read .msg files); the core never imports it.
See ``docs/outlook.md`` for the mapping tables and the ``X-OPENPROTOCOLS-MAPI-…`` encoding.
"""

from __future__ import annotations

from openprotocols.outlook import props
from openprotocols.outlook._mapping import Mapper, from_mapi, register, to_mapi
from openprotocols.outlook._propset import PropertySet, Value

__all__ = ["Mapper", "PropertySet", "Value", "from_mapi", "props", "register", "to_mapi"]
