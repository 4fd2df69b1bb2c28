"""The exceptions of identity_reconciliation, defined once and raised by the native module.

Each kind keeps the meaning it has in the core and on the HTTP service: ``code`` is the core's
stable code (``"unavailable"``, ``"contention"``, ...), and ``retryable`` says whether the same
call may succeed later.
"""

from __future__ import annotations


class IdentityError(Exception):
    """Base class of every error raised by identity_reconciliation."""

    code: str = "internal"
    retryable: bool = False


class InvalidInputError(IdentityError, ValueError):
    """An argument broke the contract; nothing was read or written.

    ``field`` names it: ``"email"``, ``"phone_number"``, ``"request"`` (both absent),
    ``"tenant"``, ``"phone_region"``, ``"kind"``, ``"value"``, ``"pattern"`` (a blocked-list
    entry), ``"contact_id"``, ``"contact_ids"``, ``"limits"``, ``"checkouts"``, ``"table"``,
    ``"on_error"``, ``"erasures"``, ``"after"`` (a feed cursor), ``"limit"``, ``"wait"``,
    ``"url"`` (a database or webhook URL), ``"types"`` (a webhook's event types),
    ``"webhook_id"``, ``"secret"``, ``"timeout"``, ``"max_connections"`` or
    ``"acquire_timeout"``.
    """

    code = "invalid_input"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class ConflictError(IdentityError):
    """The call is valid but the data forbids it (for example changing the phone region of a
    tenant that already has contacts); nothing was changed."""

    code = "conflict"


class NotFoundError(IdentityError, LookupError):
    """The tenant has no such entity (for example no contact with the id given to
    ``history()``); nothing was changed."""

    code = "not_found"


class BlockedValueError(IdentityError):
    """Every value of the request is on the tenant's blocked list, so nothing was left to link;
    nothing was read or written. ``fields`` names them: ``"email"``, ``"phone_number"``."""

    code = "blocked_value"

    def __init__(self, message: str, fields: list[str]) -> None:
        super().__init__(message)
        self.fields = fields


class StoreError(IdentityError):
    """The database failed: the base of the kinds below, and itself a database that answered
    with an error (code ``"store"``)."""

    code = "store"


class UnavailableError(StoreError):
    """The database could not be reached, or had no free connection in time; retryable."""

    code = "unavailable"
    retryable = True


class ContentionError(StoreError):
    """Concurrent requests kept changing the same customers and the call gave up; retryable."""

    code = "contention"
    retryable = True


class CorruptDataError(StoreError):
    """Stored rows or derived records break the data model (edited by hand); nothing was
    written. ``rebuild()`` repairs the derived records."""

    code = "corrupt_data"


class ExpiredError(IdentityError):
    """A feed cursor points before the oldest event retention kept: the events after it are
    gone. Read on from the start (``events()`` without ``after``) and reconcile what was
    missed."""

    code = "expired"


class ClosedError(IdentityError):
    """The handle was closed with ``close()``."""

    code = "closed"


class InternalError(IdentityError):
    """A bug in the library (an invariant it relies on did not hold); nothing was committed."""

    code = "internal"
