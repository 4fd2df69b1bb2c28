"""A table import through the binding: rows in either spelling of their columns (`linked_id` or
`linkedId`, a `datetime` or text), ids kept, the report's typed outcome (changed customers,
moved rows), refusals with their field, renumbering, and the async twin. The shared vectors
(tests/vectors/import_table.json) cover the behaviour."""

from __future__ import annotations

import asyncio
import datetime
import decimal
from typing import Any

import pytest

from identity_reconciliation import (
    AsyncIdentity,
    ChangedCustomer,
    ConflictError,
    Identity,
    InvalidInputError,
    MovedRow,
    Rejected,
    TableOutcome,
)

T0 = datetime.datetime(2023, 4, 1, 10, 0, tzinfo=datetime.timezone.utc)


def table() -> list[dict[str, Any]]:
    """A deployment's rows: one spelled as an ORM gives them, one as Python would name them."""
    return [
        {"id": 11, "email": "doc@hillvalley.edu", "phoneNumber": "555", "linkedId": None, "createdAt": T0},
        {
            "id": 12,
            "email": "emmett@hillvalley.edu",
            "phone_number": 555,
            "linked_id": 11,
            "created_at": T0 + datetime.timedelta(minutes=1),
        },
        {"id": 14, "email": "Doc@HillValley.edu", "created_at": "2023-04-01 10:02:00+00"},
        {"id": 15, "email": "biff@hillvalley.edu", "created_at": T0, "deleted_at": T0},
        {"id": 16, "email": "not-an-email", "created_at": T0},
    ]


def test_rows_keep_their_ids_and_the_report_says_what_changed() -> None:
    with Identity("memory:") as ident:
        with pytest.raises(InvalidInputError) as refused:
            ident.import_table_rows(table())
        assert refused.value.field == "table"
        assert "row 16: invalid email" in str(refused.value)
        report = ident.import_table_rows(table(), on_error="skip")
        assert (report.rows, report.customers, report.folded, report.first_id) == (2, 1, 1, 11)
        assert report.first_rejected == [r for r in report.first_rejected if isinstance(r, Rejected)]
        assert (report.first_rejected[0].id, report.first_rejected[0].record) == (16, None)
        outcome = report.table
        assert isinstance(outcome, TableOutcome)
        assert (outcome.ids_kept, outcome.highest_id, outcome.deleted_rows) == (True, 16, 1)
        assert outcome.changed("normalized") == 1
        with pytest.raises(InvalidInputError):
            outcome.changed("vanished")
        changed = outcome.changed_customers[0]
        assert isinstance(changed, ChangedCustomer)
        assert (changed.table_primary_id, changed.primary_contact_id, changed.change) == (14, 11, "normalized")
        moved = {m.id: m for m in outcome.moved_rows}
        assert all(isinstance(m, MovedRow) for m in moved.values())
        assert sorted(moved) == [14, 15, 16]
        assert (moved[14].contact_id, moved[14].primary_contact_id, moved[14].row) == (None, 11, "folded")
        assert moved[15].to_dict() == {
            "id": 15,
            "tablePrimaryId": 15,
            "contactId": None,
            "primaryContactId": None,
            "row": "deleted",
            "change": "leftOut",
        }
        assert report.to_dict()["table"] == outcome.to_dict()
        doc = ident.lookup(email="emmett@hillvalley.edu")
        assert doc is not None and doc.primary_contact_id == 11
        # new rows continue above the table's highest id
        assert ident.identify(email="marty@hillvalley.edu").primary_contact_id == 17
        assert ident.verify().clean


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ("not rows", "table"),
        ([{"id": 1, "email": "a@x.io", "created_at": decimal.Decimal(1)}], "table"),
        ([{"email": "a@x.io", "created_at": T0}], "table"),
        ([{"id": 1, "email": "a@x.io", "created_at": T0}, {"id": 1, "email": "b@x.io", "created_at": T0}], "table"),
    ],
)
def test_rows_that_are_no_table_are_refused_with_their_field(rows: Any, field: str) -> None:
    with Identity("memory:") as ident:
        with pytest.raises(InvalidInputError) as refused:
            ident.import_table_rows(rows)
        assert refused.value.field == field
        assert ident.all_contacts() == []


def test_a_store_that_gave_out_the_ids_refuses_them_and_renumbers_on_request() -> None:
    rows = [{"id": 1, "email": "a@x.io", "created_at": T0}, {"id": 2, "email": "b@x.io", "created_at": T0}]
    with Identity("memory:") as ident:
        ident.tenant("other").identify(email="first@x.io")
        with pytest.raises(ConflictError):
            ident.import_table_rows(rows)
        report = ident.import_table_rows(rows, renumber=True)
        assert report.table is not None and not report.table.ids_kept
        assert [(m.id, m.contact_id) for m in report.table.moved_rows] == [(1, 2), (2, 3)]


def test_the_async_twin_imports_a_table() -> None:
    async def run() -> None:
        ident = await AsyncIdentity.connect("memory:")
        report = await ident.import_table_rows(table(), on_error="skip", dry_run=True)
        assert not report.written and report.first_id is None
        assert report.table is not None and len(report.table.moved_rows) == 3
        report = await ident.import_table_rows(table(), on_error="skip")
        assert report.written and report.rows == 2
        await ident.close()

    asyncio.run(run())
