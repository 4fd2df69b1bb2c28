"""Customer identity reconciliation: link every checkout that shares an email or a phone number
into one customer, and answer with the consolidated customer.

>>> from identity_reconciliation import Identity
>>> with Identity("memory:") as ident:
...     ident.identify(email="doc@hillvalley.edu", phone_number=123456).to_dict()
{'primaryContactId': 1, 'emails': ['doc@hillvalley.edu'], 'phoneNumbers': ['123456'], 'secondaryContactIds': []}
"""

from ._errors import (
    BlockedValueError,
    ClosedError,
    ConflictError,
    ContentionError,
    CorruptDataError,
    IdentityError,
    InternalError,
    InvalidInputError,
    NotFoundError,
    StoreError,
    UnavailableError,
)
from ._native import (
    AsyncIdentity,
    BlockedValue,
    Contact,
    ContactRow,
    Erasure,
    History,
    HistoryEvent,
    Identity,
    Ignored,
    ImportReport,
    Limits,
    Problem,
    RebuildReport,
    Rejected,
    Split,
    TenantSettings,
    VerifyReport,
    __version__,
)

__all__ = [
    "AsyncIdentity",
    "BlockedValue",
    "BlockedValueError",
    "ClosedError",
    "ConflictError",
    "Contact",
    "ContactRow",
    "ContentionError",
    "CorruptDataError",
    "Erasure",
    "History",
    "HistoryEvent",
    "Identity",
    "IdentityError",
    "Ignored",
    "ImportReport",
    "InternalError",
    "InvalidInputError",
    "Limits",
    "NotFoundError",
    "Problem",
    "RebuildReport",
    "Rejected",
    "Split",
    "StoreError",
    "TenantSettings",
    "UnavailableError",
    "VerifyReport",
    "__version__",
]
