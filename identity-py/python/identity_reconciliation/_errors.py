"""The exceptions of identity_reconciliation, defined once and raised by the native module."""

from __future__ import annotations


class IdentityError(Exception):
    """Base class of every error raised by identity_reconciliation."""


class InvalidInputError(IdentityError, ValueError):
    """An argument broke the contract; nothing was read or written.

    ``field`` names it: ``"email"``, ``"phone_number"``, ``"request"`` (both absent),
    ``"tenant"``, ``"phone_region"``, ``"kind"``, ``"value"``, ``"pattern"`` (a blocked-list
    entry), ``"contact_id"``, ``"url"``, ``"max_connections"`` or ``"acquire_timeout"``.
    """

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class ConflictError(IdentityError):
    """The call is valid but the data forbids it (for example changing the phone region of a
    tenant that already has contacts); nothing was changed."""


class NotFoundError(IdentityError, LookupError):
    """The tenant has no such entity (for example no contact with the id given to
    ``history()``); nothing was changed."""


class BlockedValueError(IdentityError):
    """Every value of the request is on the tenant's blocked list, so nothing was left to link;
    nothing was read or written. ``fields`` names them: ``"email"``, ``"phone_number"``."""

    def __init__(self, message: str, fields: list[str]) -> None:
        super().__init__(message)
        self.fields = fields


class StoreError(IdentityError):
    """The database failed: unreachable, busy, or answered with an error."""


class ClosedError(IdentityError):
    """The handle was closed with ``close()``."""
