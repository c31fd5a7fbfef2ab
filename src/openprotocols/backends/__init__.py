"""Backends: one module per protocol, each a plugin; :mod:`.base` is the collection protocol."""

from __future__ import annotations

from .base import Backend, Capability, Changes, Collection, Entry, ItemRef

__all__ = ["Backend", "Capability", "Changes", "Collection", "Entry", "ItemRef"]
