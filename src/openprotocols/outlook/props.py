"""MAPI property definitions (MS-OXPROPS) as data: the tags, types and named properties
the adapter maps.

A MAPI property is either *tagged* — a 16-bit id below ``0x8000`` and a type, the same in
every store — or *named* — a property set (a GUID) and a numeric id (``PidLid…``) or a
string name (``PidName…``), which each store maps to a 16-bit id of its own. Here a tagged
property is a :class:`Tag`, a named one a :class:`Named`; both are plain values usable
as dictionary keys, and :data:`BY_NAME` finds any of them by its MS-OXPROPS canonical name.

The constants keep MS-OXPROPS's canonical names (``PidTagSubject``,
``PidLidAppointmentRecur``) so that the specification and this code can be read side by
side. Only the properties the model maps are listed; any other property is still carried
through the adapter (see :mod:`openprotocols.outlook._xprops`).
"""

from __future__ import annotations

import enum
import uuid
from typing import Final

import attrs

__all__ = [
    "BY_NAME",
    "PSETID_ADDRESS",
    "PSETID_APPOINTMENT",
    "PSETID_ATTACHMENT",
    "PSETID_COMMON",
    "PSETID_MEETING",
    "PSETID_OPENPROTOCOLS",
    "PSETID_TASK",
    "PS_INTERNET_HEADERS",
    "PS_MAPI",
    "PS_PUBLIC_STRINGS",
    "SET_NAMES",
    "Named",
    "PropType",
    "PropertyKey",
    "Tag",
]


class PropType(enum.IntEnum):
    """A property's type (MS-OXCDATA §2.11.1). A multi-valued type is the single type with
    :attr:`MULTIPLE` (``0x1000``) set; :meth:`multi` and :attr:`single` convert."""

    INT16 = 0x0002
    INT32 = 0x0003
    FLOAT = 0x0004
    DOUBLE = 0x0005
    CURRENCY = 0x0006
    APPTIME = 0x0007
    ERROR = 0x000A
    BOOLEAN = 0x000B
    OBJECT = 0x000D
    INT64 = 0x0014
    STRING8 = 0x001E
    UNICODE = 0x001F
    SYSTIME = 0x0040
    GUID = 0x0048
    BINARY = 0x0102
    MV_INT16 = 0x1002
    MV_INT32 = 0x1003
    MV_FLOAT = 0x1004
    MV_DOUBLE = 0x1005
    MV_CURRENCY = 0x1006
    MV_APPTIME = 0x1007
    MV_INT64 = 0x1014
    MV_STRING8 = 0x101E
    MV_UNICODE = 0x101F
    MV_SYSTIME = 0x1040
    MV_GUID = 0x1048
    MV_BINARY = 0x1102

    MULTIPLE = 0x1000

    @property
    def is_multi(self) -> bool:
        """Whether values of this type are sequences (``PtypMultiple…``)."""
        return bool(self & 0x1000) and self is not PropType.MULTIPLE

    @property
    def single(self) -> PropType:
        """The type of one value of a multi-valued type (itself for a single type)."""
        return PropType(self & ~0x1000) if self.is_multi else self

    def multi(self) -> PropType:
        """The multi-valued type of this single type."""
        return PropType(self | 0x1000)


@attrs.frozen
class Tag:
    """A tagged property: ``id`` (``0x0001`` to ``0x7FFF``) and ``type``.

    ``tag`` is the 32-bit property tag as .msg stream names and Extended MAPI spell it.
    """

    id: int
    type: PropType

    @property
    def tag(self) -> int:
        """The 32-bit property tag: id in the high word, type in the low word."""
        return (self.id << 16) | self.type

    def __str__(self) -> str:
        return f"0x{self.tag:08X}"


@attrs.frozen
class Named:
    """A named property: a property ``set`` and a numeric ``id`` (``PidLid…``) or a string
    ``name`` (``PidName…``), with its ``type``. Exactly one of ``id`` and ``name`` is set."""

    set: uuid.UUID
    id: int | None = None
    name: str | None = None
    type: PropType = PropType.UNICODE

    def __attrs_post_init__(self) -> None:
        if (self.id is None) == (self.name is None):
            raise ValueError("a named property has either a numeric id or a string name")

    def __str__(self) -> str:
        label = SET_NAMES.get(self.set, f"{{{self.set}}}")
        key = f"0x{self.id:04X}" if self.id is not None else repr(self.name)
        return f"{label}:{key}"


PropertyKey = Tag | Named
"""What a :class:`~openprotocols.outlook.PropertySet` is keyed by."""

PS_MAPI: Final = uuid.UUID("00020328-0000-0000-c000-000000000046")
PS_PUBLIC_STRINGS: Final = uuid.UUID("00020329-0000-0000-c000-000000000046")
PS_INTERNET_HEADERS: Final = uuid.UUID("00020386-0000-0000-c000-000000000046")
PSETID_APPOINTMENT: Final = uuid.UUID("00062002-0000-0000-c000-000000000046")
PSETID_TASK: Final = uuid.UUID("00062003-0000-0000-c000-000000000046")
PSETID_ADDRESS: Final = uuid.UUID("00062004-0000-0000-c000-000000000046")
PSETID_COMMON: Final = uuid.UUID("00062008-0000-0000-c000-000000000046")
PSETID_MEETING: Final = uuid.UUID("6ed8da90-450b-101b-98da-00aa003f1305")
PSETID_ATTACHMENT: Final = uuid.UUID("96357f7f-59e1-47d0-99a7-46515c183b54")
PSETID_OPENPROTOCOLS: Final = uuid.UUID("5b0e4a2c-8f0d-4c8e-9d2a-6f70656e7072")
"""openprotocols' own property set: what the model holds and MAPI has no property for
(parameters of an e-mail address, the order of phones…), by string name."""

SET_NAMES: Final[dict[uuid.UUID, str]] = {
    PS_MAPI: "PS_MAPI",
    PS_PUBLIC_STRINGS: "PS_PUBLIC_STRINGS",
    PS_INTERNET_HEADERS: "PS_INTERNET_HEADERS",
    PSETID_APPOINTMENT: "PSETID_Appointment",
    PSETID_TASK: "PSETID_Task",
    PSETID_ADDRESS: "PSETID_Address",
    PSETID_COMMON: "PSETID_Common",
    PSETID_MEETING: "PSETID_Meeting",
    PSETID_ATTACHMENT: "PSETID_Attachment",
    PSETID_OPENPROTOCOLS: "PSETID_OpenProtocols",
}
"""The property sets by their MS-OXPROPS names (used in the X- encoding and in messages)."""

_T = PropType


def _tag(id_: int, type_: PropType) -> Tag:
    return Tag(id_, type_)


def _lid(set_: uuid.UUID, id_: int, type_: PropType) -> Named:
    return Named(set_, id=id_, type=type_)


def _name(set_: uuid.UUID, name: str, type_: PropType) -> Named:
    return Named(set_, name=name, type=type_)


# --- Every message (MS-OXCMSG) ----------------------------------------------------------
PidTagMessageClass = _tag(0x001A, _T.UNICODE)
PidTagSubject = _tag(0x0037, _T.UNICODE)
PidTagSubjectPrefix = _tag(0x003D, _T.UNICODE)
PidTagNormalizedSubject = _tag(0x0E1D, _T.UNICODE)
PidTagConversationTopic = _tag(0x0070, _T.UNICODE)
PidTagBody = _tag(0x1000, _T.UNICODE)
PidTagHtml = _tag(0x1013, _T.BINARY)
PidTagRtfCompressed = _tag(0x1009, _T.BINARY)
PidTagRtfInSync = _tag(0x0E1F, _T.BOOLEAN)
PidTagNativeBody = _tag(0x1016, _T.INT32)
PidTagInternetCodepage = _tag(0x3FDE, _T.INT32)
PidTagMessageCodepage = _tag(0x3FFD, _T.INT32)
PidTagImportance = _tag(0x0017, _T.INT32)
PidTagPriority = _tag(0x0026, _T.INT32)
PidTagSensitivity = _tag(0x0036, _T.INT32)
PidTagMessageFlags = _tag(0x0E07, _T.INT32)
PidTagMessageSize = _tag(0x0E08, _T.INT32)
PidTagHasAttachments = _tag(0x0E1B, _T.BOOLEAN)
PidTagCreationTime = _tag(0x3007, _T.SYSTIME)
PidTagLastModificationTime = _tag(0x3008, _T.SYSTIME)
PidTagIconIndex = _tag(0x1080, _T.INT32)
PidTagLastVerbExecuted = _tag(0x1081, _T.INT32)
PidTagFlagStatus = _tag(0x1090, _T.INT32)
PidTagSearchKey = _tag(0x300B, _T.BINARY)
PidTagEntryId = _tag(0x0FFF, _T.BINARY)
PidTagRecordKey = _tag(0x0FF9, _T.BINARY)
PidTagStoreSupportMask = _tag(0x340D, _T.INT32)
PidTagChangeKey = _tag(0x65E2, _T.BINARY)
PidTagPredecessorChangeList = _tag(0x65E3, _T.BINARY)
PidTagObjectType = _tag(0x0FFE, _T.INT32)
PidTagStartDate = _tag(0x0060, _T.SYSTIME)
PidTagEndDate = _tag(0x0061, _T.SYSTIME)
PidTagResponseRequested = _tag(0x0063, _T.BOOLEAN)
PidTagOwnerAppointmentId = _tag(0x0062, _T.INT32)

# --- Mail (MS-OXOMSG) ----------------------------------------------------------------------
PidTagMessageDeliveryTime = _tag(0x0E06, _T.SYSTIME)
PidTagClientSubmitTime = _tag(0x0039, _T.SYSTIME)
PidTagInternetMessageId = _tag(0x1035, _T.UNICODE)
PidTagInReplyToId = _tag(0x1042, _T.UNICODE)
PidTagInternetReferences = _tag(0x1039, _T.UNICODE)
PidTagTransportMessageHeaders = _tag(0x007D, _T.UNICODE)
PidTagSenderName = _tag(0x0C1A, _T.UNICODE)
PidTagSenderEmailAddress = _tag(0x0C1F, _T.UNICODE)
PidTagSenderAddressType = _tag(0x0C1E, _T.UNICODE)
PidTagSenderSmtpAddress = _tag(0x5D01, _T.UNICODE)
PidTagSentRepresentingName = _tag(0x0042, _T.UNICODE)
PidTagSentRepresentingEmailAddress = _tag(0x0065, _T.UNICODE)
PidTagSentRepresentingAddressType = _tag(0x0064, _T.UNICODE)
PidTagSentRepresentingSmtpAddress = _tag(0x5D02, _T.UNICODE)
PidTagReplyRecipientNames = _tag(0x0050, _T.UNICODE)
PidTagReplyRecipientEntries = _tag(0x004F, _T.BINARY)
PidTagDisplayTo = _tag(0x0E04, _T.UNICODE)
PidTagDisplayCc = _tag(0x0E03, _T.UNICODE)
PidTagDisplayBcc = _tag(0x0E02, _T.UNICODE)
PidTagReadReceiptRequested = _tag(0x0029, _T.BOOLEAN)

# --- Recipients (MS-OXCMSG §2.2.1.47 and MS-OXOABK) -------------------------------------
PidTagRowid = _tag(0x3000, _T.INT32)
PidTagRecipientType = _tag(0x0C15, _T.INT32)
PidTagDisplayName = _tag(0x3001, _T.UNICODE)
PidTagAddressType = _tag(0x3002, _T.UNICODE)
PidTagEmailAddress = _tag(0x3003, _T.UNICODE)
PidTagSmtpAddress = _tag(0x39FE, _T.UNICODE)
PidTagRecipientDisplayName = _tag(0x5FF6, _T.UNICODE)
PidTagRecipientFlags = _tag(0x5FFD, _T.INT32)
PidTagRecipientTrackStatus = _tag(0x5FFF, _T.INT32)
PidTagRecipientOrder = _tag(0x5FDF, _T.INT32)
PidTagDisplayType = _tag(0x3900, _T.INT32)

# --- Attachments (MS-OXCMSG §2.2.2) --------------------------------------------------------
PidTagAttachNumber = _tag(0x0E21, _T.INT32)
PidTagAttachSize = _tag(0x0E20, _T.INT32)
PidTagAttachMethod = _tag(0x3705, _T.INT32)
PidTagAttachDataBinary = _tag(0x3701, _T.BINARY)
PidTagAttachDataObject = _tag(0x3701, _T.OBJECT)
PidTagAttachExtension = _tag(0x3703, _T.UNICODE)
PidTagAttachFilename = _tag(0x3704, _T.UNICODE)
PidTagAttachLongFilename = _tag(0x3707, _T.UNICODE)
PidTagAttachLongPathname = _tag(0x370D, _T.UNICODE)
PidTagAttachMimeTag = _tag(0x370E, _T.UNICODE)
PidTagAttachContentId = _tag(0x3712, _T.UNICODE)
PidTagAttachContentLocation = _tag(0x3713, _T.UNICODE)
PidTagAttachFlags = _tag(0x3714, _T.INT32)
PidTagRenderingPosition = _tag(0x370B, _T.INT32)
PidTagAttachmentHidden = _tag(0x7FFE, _T.BOOLEAN)
PidTagAttachmentFlags = _tag(0x7FFD, _T.INT32)
PidTagAttachmentLinkId = _tag(0x7FFA, _T.INT32)
PidTagAttachmentContactPhoto = _tag(0x7FFF, _T.BOOLEAN)
PidTagExceptionStartTime = _tag(0x7FFB, _T.SYSTIME)
PidTagExceptionEndTime = _tag(0x7FFC, _T.SYSTIME)
PidTagExceptionReplaceTime = _tag(0x7FF9, _T.SYSTIME)

# --- Contacts (MS-OXOCNTC), tagged ---------------------------------------------------------
PidTagGivenName = _tag(0x3A06, _T.UNICODE)
PidTagSurname = _tag(0x3A11, _T.UNICODE)
PidTagMiddleName = _tag(0x3A44, _T.UNICODE)
PidTagDisplayNamePrefix = _tag(0x3A45, _T.UNICODE)
PidTagGeneration = _tag(0x3A05, _T.UNICODE)
PidTagNickname = _tag(0x3A4F, _T.UNICODE)
PidTagInitials = _tag(0x3A0A, _T.UNICODE)
PidTagCompanyName = _tag(0x3A16, _T.UNICODE)
PidTagDepartmentName = _tag(0x3A18, _T.UNICODE)
PidTagTitle = _tag(0x3A17, _T.UNICODE)
PidTagOfficeLocation = _tag(0x3A19, _T.UNICODE)
PidTagManagerName = _tag(0x3A4E, _T.UNICODE)
PidTagAssistant = _tag(0x3A30, _T.UNICODE)
PidTagSpouseName = _tag(0x3A48, _T.UNICODE)
PidTagChildrensNames = _tag(0x3A58, _T.MV_UNICODE)
PidTagBirthday = _tag(0x3A42, _T.SYSTIME)
PidTagWeddingAnniversary = _tag(0x3A41, _T.SYSTIME)
PidTagBusinessHomePage = _tag(0x3A51, _T.UNICODE)
PidTagPersonalHomePage = _tag(0x3A50, _T.UNICODE)
PidTagGender = _tag(0x3A4D, _T.INT16)
PidTagBusinessTelephoneNumber = _tag(0x3A08, _T.UNICODE)
PidTagBusiness2TelephoneNumber = _tag(0x3A1B, _T.UNICODE)
PidTagHomeTelephoneNumber = _tag(0x3A09, _T.UNICODE)
PidTagHome2TelephoneNumber = _tag(0x3A2F, _T.UNICODE)
PidTagMobileTelephoneNumber = _tag(0x3A1C, _T.UNICODE)
PidTagBusinessFaxNumber = _tag(0x3A24, _T.UNICODE)
PidTagHomeFaxNumber = _tag(0x3A25, _T.UNICODE)
PidTagPrimaryFaxNumber = _tag(0x3A23, _T.UNICODE)
PidTagPagerTelephoneNumber = _tag(0x3A21, _T.UNICODE)
PidTagCarTelephoneNumber = _tag(0x3A1E, _T.UNICODE)
PidTagPrimaryTelephoneNumber = _tag(0x3A1A, _T.UNICODE)
PidTagAssistantTelephoneNumber = _tag(0x3A2E, _T.UNICODE)
PidTagCallbackTelephoneNumber = _tag(0x3A02, _T.UNICODE)
PidTagCompanyMainTelephoneNumber = _tag(0x3A57, _T.UNICODE)
PidTagIsdnNumber = _tag(0x3A2D, _T.UNICODE)
PidTagOtherTelephoneNumber = _tag(0x3A1F, _T.UNICODE)
PidTagRadioTelephoneNumber = _tag(0x3A1D, _T.UNICODE)
PidTagTelexNumber = _tag(0x3A2C, _T.UNICODE)
PidTagTtyTddPhoneNumber = _tag(0x3A4B, _T.UNICODE)
PidTagHomeAddressStreet = _tag(0x3A5D, _T.UNICODE)
PidTagHomeAddressCity = _tag(0x3A59, _T.UNICODE)
PidTagHomeAddressStateOrProvince = _tag(0x3A5C, _T.UNICODE)
PidTagHomeAddressPostalCode = _tag(0x3A5B, _T.UNICODE)
PidTagHomeAddressCountry = _tag(0x3A5A, _T.UNICODE)
PidTagHomeAddressPostOfficeBox = _tag(0x3A5E, _T.UNICODE)
PidTagOtherAddressStreet = _tag(0x3A63, _T.UNICODE)
PidTagOtherAddressCity = _tag(0x3A5F, _T.UNICODE)
PidTagOtherAddressStateOrProvince = _tag(0x3A62, _T.UNICODE)
PidTagOtherAddressPostalCode = _tag(0x3A61, _T.UNICODE)
PidTagOtherAddressCountry = _tag(0x3A60, _T.UNICODE)
PidTagOtherAddressPostOfficeBox = _tag(0x3A64, _T.UNICODE)
PidTagStreetAddress = _tag(0x3A29, _T.UNICODE)
PidTagLocality = _tag(0x3A27, _T.UNICODE)
PidTagStateOrProvince = _tag(0x3A28, _T.UNICODE)
PidTagPostalCode = _tag(0x3A2A, _T.UNICODE)
PidTagCountry = _tag(0x3A26, _T.UNICODE)
PidTagPostOfficeBox = _tag(0x3A2B, _T.UNICODE)
PidTagPostalAddress = _tag(0x3A15, _T.UNICODE)

# --- Contacts and distribution lists, named (PSETID_Address) -------------------------------
PidLidFileUnder = _lid(PSETID_ADDRESS, 0x8005, _T.UNICODE)
PidLidFileUnderId = _lid(PSETID_ADDRESS, 0x8006, _T.INT32)
PidLidHasPicture = _lid(PSETID_ADDRESS, 0x8015, _T.BOOLEAN)
PidLidHomeAddress = _lid(PSETID_ADDRESS, 0x801A, _T.UNICODE)
PidLidWorkAddress = _lid(PSETID_ADDRESS, 0x801B, _T.UNICODE)
PidLidOtherAddress = _lid(PSETID_ADDRESS, 0x801C, _T.UNICODE)
PidLidPostalAddressId = _lid(PSETID_ADDRESS, 0x8022, _T.INT32)
PidLidAddressBookProviderEmailList = _lid(PSETID_ADDRESS, 0x8028, _T.MV_INT32)
PidLidAddressBookProviderArrayType = _lid(PSETID_ADDRESS, 0x8029, _T.INT32)
PidLidHtml = _lid(PSETID_ADDRESS, 0x802B, _T.UNICODE)
PidLidWorkAddressStreet = _lid(PSETID_ADDRESS, 0x8045, _T.UNICODE)
PidLidWorkAddressCity = _lid(PSETID_ADDRESS, 0x8046, _T.UNICODE)
PidLidWorkAddressState = _lid(PSETID_ADDRESS, 0x8047, _T.UNICODE)
PidLidWorkAddressPostalCode = _lid(PSETID_ADDRESS, 0x8048, _T.UNICODE)
PidLidWorkAddressCountry = _lid(PSETID_ADDRESS, 0x8049, _T.UNICODE)
PidLidWorkAddressPostOfficeBox = _lid(PSETID_ADDRESS, 0x804A, _T.UNICODE)
PidLidDistributionListChecksum = _lid(PSETID_ADDRESS, 0x804C, _T.INT32)
PidLidDistributionListName = _lid(PSETID_ADDRESS, 0x8053, _T.UNICODE)
PidLidDistributionListOneOffMembers = _lid(PSETID_ADDRESS, 0x8054, _T.MV_BINARY)
PidLidDistributionListMembers = _lid(PSETID_ADDRESS, 0x8055, _T.MV_BINARY)
PidLidInstantMessagingAddress = _lid(PSETID_ADDRESS, 0x8062, _T.UNICODE)
PidLidDistributionListStream = _lid(PSETID_ADDRESS, 0x8064, _T.BINARY)
PidLidEmail1DisplayName = _lid(PSETID_ADDRESS, 0x8080, _T.UNICODE)
PidLidEmail1AddressType = _lid(PSETID_ADDRESS, 0x8082, _T.UNICODE)
PidLidEmail1EmailAddress = _lid(PSETID_ADDRESS, 0x8083, _T.UNICODE)
PidLidEmail1OriginalDisplayName = _lid(PSETID_ADDRESS, 0x8084, _T.UNICODE)
PidLidEmail1OriginalEntryId = _lid(PSETID_ADDRESS, 0x8085, _T.BINARY)
PidLidEmail2DisplayName = _lid(PSETID_ADDRESS, 0x8090, _T.UNICODE)
PidLidEmail2AddressType = _lid(PSETID_ADDRESS, 0x8092, _T.UNICODE)
PidLidEmail2EmailAddress = _lid(PSETID_ADDRESS, 0x8093, _T.UNICODE)
PidLidEmail2OriginalDisplayName = _lid(PSETID_ADDRESS, 0x8094, _T.UNICODE)
PidLidEmail2OriginalEntryId = _lid(PSETID_ADDRESS, 0x8095, _T.BINARY)
PidLidEmail3DisplayName = _lid(PSETID_ADDRESS, 0x80A0, _T.UNICODE)
PidLidEmail3AddressType = _lid(PSETID_ADDRESS, 0x80A2, _T.UNICODE)
PidLidEmail3EmailAddress = _lid(PSETID_ADDRESS, 0x80A3, _T.UNICODE)
PidLidEmail3OriginalDisplayName = _lid(PSETID_ADDRESS, 0x80A4, _T.UNICODE)
PidLidEmail3OriginalEntryId = _lid(PSETID_ADDRESS, 0x80A5, _T.BINARY)
PidLidBirthdayLocal = _lid(PSETID_ADDRESS, 0x80DE, _T.SYSTIME)
PidLidWeddingAnniversaryLocal = _lid(PSETID_ADDRESS, 0x80DF, _T.SYSTIME)

# --- Shared by every item kind (PSETID_Common, PS_PUBLIC_STRINGS) -------------------------
PidLidReminderDelta = _lid(PSETID_COMMON, 0x8501, _T.INT32)
PidLidReminderTime = _lid(PSETID_COMMON, 0x8502, _T.SYSTIME)
PidLidReminderSet = _lid(PSETID_COMMON, 0x8503, _T.BOOLEAN)
PidLidPrivate = _lid(PSETID_COMMON, 0x8506, _T.BOOLEAN)
PidLidCommonStart = _lid(PSETID_COMMON, 0x8516, _T.SYSTIME)
PidLidCommonEnd = _lid(PSETID_COMMON, 0x8517, _T.SYSTIME)
PidLidTaskMode = _lid(PSETID_COMMON, 0x8518, _T.INT32)
PidLidTaskGlobalId = _lid(PSETID_COMMON, 0x8519, _T.BINARY)
PidLidFlagRequest = _lid(PSETID_COMMON, 0x8530, _T.UNICODE)
PidLidContacts = _lid(PSETID_COMMON, 0x853A, _T.MV_UNICODE)
PidLidCurrentVersion = _lid(PSETID_COMMON, 0x8552, _T.INT32)
PidLidCurrentVersionName = _lid(PSETID_COMMON, 0x8554, _T.UNICODE)
PidLidReminderSignalTime = _lid(PSETID_COMMON, 0x8560, _T.SYSTIME)
PidLidToDoTitle = _lid(PSETID_COMMON, 0x85A4, _T.UNICODE)
PidNameKeywords = _name(PS_PUBLIC_STRINGS, "Keywords", _T.MV_UNICODE)

# --- Appointments (MS-OXOCAL; PSETID_Appointment, PSETID_Meeting) ------------------------
PidLidAppointmentSequence = _lid(PSETID_APPOINTMENT, 0x8201, _T.INT32)
PidLidAppointmentSequenceTime = _lid(PSETID_APPOINTMENT, 0x8202, _T.SYSTIME)
PidLidAppointmentLastSequence = _lid(PSETID_APPOINTMENT, 0x8203, _T.INT32)
PidLidBusyStatus = _lid(PSETID_APPOINTMENT, 0x8205, _T.INT32)
PidLidFExceptionalBody = _lid(PSETID_APPOINTMENT, 0x8206, _T.BOOLEAN)
PidLidLocation = _lid(PSETID_APPOINTMENT, 0x8208, _T.UNICODE)
PidLidAppointmentStartWhole = _lid(PSETID_APPOINTMENT, 0x820D, _T.SYSTIME)
PidLidAppointmentEndWhole = _lid(PSETID_APPOINTMENT, 0x820E, _T.SYSTIME)
PidLidAppointmentDuration = _lid(PSETID_APPOINTMENT, 0x8213, _T.INT32)
PidLidAppointmentColor = _lid(PSETID_APPOINTMENT, 0x8214, _T.INT32)
PidLidAppointmentSubType = _lid(PSETID_APPOINTMENT, 0x8215, _T.BOOLEAN)
PidLidAppointmentRecur = _lid(PSETID_APPOINTMENT, 0x8216, _T.BINARY)
PidLidAppointmentStateFlags = _lid(PSETID_APPOINTMENT, 0x8217, _T.INT32)
PidLidResponseStatus = _lid(PSETID_APPOINTMENT, 0x8218, _T.INT32)
PidLidAppointmentReplyTime = _lid(PSETID_APPOINTMENT, 0x8220, _T.SYSTIME)
PidLidRecurring = _lid(PSETID_APPOINTMENT, 0x8223, _T.BOOLEAN)
PidLidIntendedBusyStatus = _lid(PSETID_APPOINTMENT, 0x8224, _T.INT32)
PidLidExceptionReplaceTime = _lid(PSETID_APPOINTMENT, 0x8228, _T.SYSTIME)
PidLidFInvited = _lid(PSETID_APPOINTMENT, 0x8229, _T.BOOLEAN)
PidLidFExceptionalAttendees = _lid(PSETID_APPOINTMENT, 0x822B, _T.BOOLEAN)
PidLidRecurrenceType = _lid(PSETID_APPOINTMENT, 0x8231, _T.INT32)
PidLidRecurrencePattern = _lid(PSETID_APPOINTMENT, 0x8232, _T.UNICODE)
PidLidTimeZoneStruct = _lid(PSETID_APPOINTMENT, 0x8233, _T.BINARY)
PidLidTimeZoneDescription = _lid(PSETID_APPOINTMENT, 0x8234, _T.UNICODE)
PidLidClipStart = _lid(PSETID_APPOINTMENT, 0x8235, _T.SYSTIME)
PidLidClipEnd = _lid(PSETID_APPOINTMENT, 0x8236, _T.SYSTIME)
PidLidAllAttendeesString = _lid(PSETID_APPOINTMENT, 0x8238, _T.UNICODE)
PidLidToAttendeesString = _lid(PSETID_APPOINTMENT, 0x823B, _T.UNICODE)
PidLidCcAttendeesString = _lid(PSETID_APPOINTMENT, 0x823C, _T.UNICODE)
PidLidOrganizerAlias = _lid(PSETID_APPOINTMENT, 0x8243, _T.UNICODE)
PidLidAppointmentNotAllowPropose = _lid(PSETID_APPOINTMENT, 0x825A, _T.BOOLEAN)
PidLidAppointmentTimeZoneDefinitionStartDisplay = _lid(PSETID_APPOINTMENT, 0x825E, _T.BINARY)
PidLidAppointmentTimeZoneDefinitionEndDisplay = _lid(PSETID_APPOINTMENT, 0x825F, _T.BINARY)
PidLidAppointmentTimeZoneDefinitionRecur = _lid(PSETID_APPOINTMENT, 0x8260, _T.BINARY)
PidLidAttendeeCriticalChange = _lid(PSETID_MEETING, 0x0001, _T.SYSTIME)
PidLidWhere = _lid(PSETID_MEETING, 0x0002, _T.UNICODE)
PidLidGlobalObjectId = _lid(PSETID_MEETING, 0x0003, _T.BINARY)
PidLidIsRecurring = _lid(PSETID_MEETING, 0x0005, _T.BOOLEAN)
PidLidIsException = _lid(PSETID_MEETING, 0x000A, _T.BOOLEAN)
PidLidTimeZone = _lid(PSETID_MEETING, 0x000C, _T.INT32)
PidLidOwnerCriticalChange = _lid(PSETID_MEETING, 0x001A, _T.SYSTIME)
PidLidCleanGlobalObjectId = _lid(PSETID_MEETING, 0x0023, _T.BINARY)
PidLidMeetingType = _lid(PSETID_MEETING, 0x0026, _T.INT32)

# --- Tasks (MS-OXOTASK; PSETID_Task) -------------------------------------------------------
PidLidTaskStatus = _lid(PSETID_TASK, 0x8101, _T.INT32)
PidLidPercentComplete = _lid(PSETID_TASK, 0x8102, _T.DOUBLE)
PidLidTeamTask = _lid(PSETID_TASK, 0x8103, _T.BOOLEAN)
PidLidTaskStartDate = _lid(PSETID_TASK, 0x8104, _T.SYSTIME)
PidLidTaskDueDate = _lid(PSETID_TASK, 0x8105, _T.SYSTIME)
PidLidTaskDateCompleted = _lid(PSETID_TASK, 0x810F, _T.SYSTIME)
PidLidTaskActualEffort = _lid(PSETID_TASK, 0x8110, _T.INT32)
PidLidTaskEstimatedEffort = _lid(PSETID_TASK, 0x8111, _T.INT32)
PidLidTaskState = _lid(PSETID_TASK, 0x8113, _T.INT32)
PidLidTaskLastUpdate = _lid(PSETID_TASK, 0x8115, _T.SYSTIME)
PidLidTaskRecurrence = _lid(PSETID_TASK, 0x8116, _T.BINARY)
PidLidTaskComplete = _lid(PSETID_TASK, 0x811C, _T.BOOLEAN)
PidLidTaskOwner = _lid(PSETID_TASK, 0x811F, _T.UNICODE)
PidLidTaskAssigner = _lid(PSETID_TASK, 0x8121, _T.UNICODE)
PidLidTaskOrdinal = _lid(PSETID_TASK, 0x8123, _T.INT32)
PidLidTaskFRecurring = _lid(PSETID_TASK, 0x8126, _T.BOOLEAN)
PidLidTaskOwnership = _lid(PSETID_TASK, 0x8129, _T.INT32)
PidLidTaskAcceptanceState = _lid(PSETID_TASK, 0x812A, _T.INT32)

BY_NAME: Final[dict[str, PropertyKey]] = {
    name: value
    for name, value in dict(globals()).items()
    if name.startswith(("PidTag", "PidLid", "PidName")) and isinstance(value, Tag | Named)
}
"""Every property above by its MS-OXPROPS canonical name."""

NAMES: Final[dict[PropertyKey, str]] = {key: name for name, key in BY_NAME.items()}
"""The canonical name of every property above (the first, where two names share a key)."""
