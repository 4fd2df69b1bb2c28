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
    ChangedCustomer,
    Contact,
    ContactRow,
    Erasure,
    History,
    HistoryEvent,
    Identity,
    Ignored,
    ImportReport,
    Limits,
    MovedRow,
    Problem,
    RebuildReport,
    Rejected,
    Split,
    TableOutcome,
    TenantSettings,
    VerifyReport,
    __version__,
)

__all__ = [
    "AsyncIdentity",
    "BlockedValue",
    "BlockedValueError",
    "ChangedCustomer",
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
    "MovedRow",
    "NotFoundError",
    "Problem",
    "RebuildReport",
    "Rejected",
    "Split",
    "StoreError",
    "TableOutcome",
    "TenantSettings",
    "UnavailableError",
    "VerifyReport",
    "__version__",
]
