"""The model: immutable values for items, folders, accounts and bindings. Pure; no I/O.

Every class is a frozen attrs class: change one with :func:`attrs.evolve`, build a new
item with its named constructor (``Appointment.new(...)``). Every item keeps what the
model has no field for in ``extended``, verbatim.
"""

from __future__ import annotations

from ._base import Address, Extended, Item, RawComponent, RawProperty, Secret, new_uid
from .accounts import Account, AccountOptions, AuthMechanism, Endpoint, Security, default_port
from .bindings import Binding, ConflictPolicy, Direction
from .calendar import (
    Appointment,
    AppointmentStatus,
    Attachment,
    Attendee,
    AttendeeRole,
    AttendeeType,
    BusyStatus,
    Importance,
    Organizer,
    Recurrence,
    Reminder,
    ReminderAction,
    ResponseStatus,
    Sensitivity,
    Task,
    TaskStatus,
)
from .contacts import (
    AddressKind,
    Contact,
    ContactGroup,
    EmailAddress,
    Gender,
    GroupMember,
    PersonName,
    Phone,
    PhoneKind,
    Photo,
    PostalAddress,
)
from .folders import Folder, FolderKind, FolderRole
from .mail import Envelope, Flag, Message, MessagePart

AnyItem = Appointment | Task | Contact | ContactGroup | Message
"""The item classes openprotocols itself defines (plugins may bring more :class:`Item` types)."""

__all__ = [
    "Account",
    "AccountOptions",
    "Address",
    "AddressKind",
    "AnyItem",
    "Appointment",
    "AppointmentStatus",
    "Attachment",
    "Attendee",
    "AttendeeRole",
    "AttendeeType",
    "AuthMechanism",
    "Binding",
    "BusyStatus",
    "ConflictPolicy",
    "Contact",
    "ContactGroup",
    "Direction",
    "EmailAddress",
    "Endpoint",
    "Envelope",
    "Extended",
    "Flag",
    "Folder",
    "FolderKind",
    "FolderRole",
    "Gender",
    "GroupMember",
    "Importance",
    "Item",
    "Message",
    "MessagePart",
    "Organizer",
    "PersonName",
    "Phone",
    "PhoneKind",
    "Photo",
    "PostalAddress",
    "RawComponent",
    "RawProperty",
    "Recurrence",
    "Reminder",
    "ReminderAction",
    "ResponseStatus",
    "Secret",
    "Security",
    "Sensitivity",
    "Task",
    "TaskStatus",
    "default_port",
    "new_uid",
]
