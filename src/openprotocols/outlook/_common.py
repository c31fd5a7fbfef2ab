"""Conversions every item kind's mapping shares: enumerations, categories, times.

Each pair of functions here is exact both ways on the values the model can hold. A
reader meets a value the model has not (an importance of 7) only in a message another
program wrote; it reads it as Outlook shows it (normal).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from openprotocols.model.calendar import Importance, Sensitivity
from openprotocols.outlook import props as p
from openprotocols.outlook._propset import PropertySet

__all__ = [
    "IMPORTANCE",
    "SENSITIVITY",
    "get_importance",
    "get_sensitivity",
    "midnight_utc",
    "put_categories",
    "put_importance",
    "put_sensitivity",
    "utc",
]

IMPORTANCE: dict[Importance, int] = {Importance.LOW: 0, Importance.NORMAL: 1, Importance.HIGH: 2}
"""``PidTagImportance`` values (MS-OXCMSG §2.2.1.11)."""

SENSITIVITY: dict[Sensitivity, int] = {
    Sensitivity.NORMAL: 0,
    Sensitivity.PERSONAL: 1,
    Sensitivity.PRIVATE: 2,
    Sensitivity.CONFIDENTIAL: 3,
}
"""``PidTagSensitivity`` values (MS-OXCMSG §2.2.1.13)."""


def put_importance(props: PropertySet, importance: Importance) -> None:
    """Write ``PidTagImportance``."""
    props[p.PidTagImportance] = IMPORTANCE[importance]


def get_importance(props: PropertySet) -> Importance:
    """Read ``PidTagImportance`` (normal when unset or unknown)."""
    value = props.number(p.PidTagImportance)
    return next((k for k, v in IMPORTANCE.items() if v == value), Importance.NORMAL)


def put_sensitivity(props: PropertySet, sensitivity: Sensitivity) -> None:
    """Write ``PidTagSensitivity`` and, as Outlook does, ``PidLidPrivate`` for private."""
    props[p.PidTagSensitivity] = SENSITIVITY[sensitivity]
    props[p.PidLidPrivate] = sensitivity is Sensitivity.PRIVATE


def get_sensitivity(props: PropertySet) -> Sensitivity:
    """Read ``PidTagSensitivity`` (normal when unset or unknown)."""
    value = props.number(p.PidTagSensitivity)
    return next((k for k, v in SENSITIVITY.items() if v == value), Sensitivity.NORMAL)


def put_categories(props: PropertySet, categories: tuple[str, ...]) -> None:
    """Write the categories as ``Keywords`` (PS_PUBLIC_STRINGS), Outlook's categories."""
    props.put(p.PidNameKeywords, categories)


def utc(value: datetime) -> datetime:
    """An aware datetime in UTC, as SYSTIME values are stored."""
    return value.astimezone(UTC)


def midnight_utc(day: date) -> datetime:
    """A date as the SYSTIME Outlook stores for it (midnight, UTC)."""
    return datetime.combine(day, time(), tzinfo=UTC)
