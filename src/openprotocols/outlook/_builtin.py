"""Registers the mappings of the model's own item classes (imported on first use)."""

from __future__ import annotations

from openprotocols.outlook import _calendar, _contacts, _mail

__all__ = ["_calendar", "_contacts", "_mail"]
