"""Type-checked (mypy --strict) by test_api.py: the public API as a user writes it."""

from __future__ import annotations

import asyncio
import datetime
import pathlib
import tempfile
from typing import Any

from identity_reconciliation import (
    AsyncIdentity,
    Contact,
    ContactRow,
    History,
    Identity,
    ImportReport,
    InvalidInputError,
    MovedRow,
    ReapplyReport,
    Rejected,
    Split,
    TableOutcome,
    read_erasure_log,
)


def sync_usage() -> list[str]:
    with Identity.connect("memory:", max_connections=2) as connected:
        assert connected.backend == "sqlite"
    with Identity("memory:") as ident:
        c: Contact = ident.identify(email="doc@hillvalley.edu", phone_number=123456)
        known: Contact | None = ident.lookup(phone_number="123456")
        try:
            ident.identify(email="bad")
        except InvalidInputError as e:
            field: str = e.field
            assert field == "email"
        history: History = ident.history(c.primary_contact_id)
        first: datetime.datetime = history.events[0].at
        assert history.events[0].type == "created" and first.tzinfo is not None
        other = ident.identify(email="marty@hillvalley.edu", phone_number="777")
        ident.identify(email="doc@hillvalley.edu", phone_number="777")
        split: Split = ident.split(c.primary_contact_id, [other.primary_contact_id], block_shared=False)
        moved: list[int] = [split.new_customer.primary_contact_id, *split.new_customer.secondary_contact_ids]
        assert moved == [other.primary_contact_id] and split.blocked == []
        table = ident.tenant("old-shop").import_table_rows(
            [
                {"id": 9001, "email": "biff@hillvalley.edu", "linked_id": None, "created_at": first},
                {"id": 9002, "email": "tannen@hillvalley.edu", "linkedId": 9001, "deletedAt": first},
            ],
            on_error="abort",
            renumber=False,
        )
        outcome: TableOutcome | None = table.table
        rows_moved: list[MovedRow] = outcome.moved_rows if outcome else []
        assert outcome is not None and outcome.changed("duplicate") == 0
        assert [m.row for m in rows_moved] == ["deleted"] and table.first_rejected == []
        return c.emails + (known.phone_numbers if known else []) + restore()


def restore() -> list[str]:
    """A backup, an erase through a logged handle, and its record applied to the copy."""
    with tempfile.TemporaryDirectory() as folder:
        log = pathlib.Path(folder) / "erasures.jsonl"
        with Identity(f"sqlite://{folder}/live.db", erasure_log=log) as live:
            live.identify(email="doc@hillvalley.edu")
            live.backup_to(pathlib.Path(folder) / "copy.db", overwrite=False)
            live.erase(1, suppress=False)
            listed: list[dict[str, Any]] = live.erasures()
            progress: dict[str, Any] | None = live.job_progress()
            assert progress is None, "nothing runs"
        with Identity(f"sqlite://{folder}/copy.db") as restored:
            report: ReapplyReport = restored.reapply_erasures(read_erasure_log(log))
            erased: list[int] = report.erased_ids
            assert erased == [1] and report.to_dict()["applied"] == 1 and listed[0]["customerId"] == 1
            return [str(report.applied)]


async def async_usage() -> int:
    async with await AsyncIdentity.connect("memory:") as ident:
        at = datetime.datetime(2019, 3, 1, tzinfo=datetime.timezone.utc)
        report: ImportReport = await ident.import_checkouts(
            [{"email": "doc@hillvalley.edu", "phone_number": 5550101, "at": at}, {"email": "x", "at": "2020-01-01"}],
            on_error="skip",
        )
        refused: list[Rejected] = report.first_rejected
        assert [r.record for r in refused] == [1] and report.first_id == 1
        customers: list[Contact] = await ident.customers()
        rows: list[ContactRow] = await ident.all_contacts()
        linked: int | None = rows[0].linked_id
        assert linked is None and rows[0].created_at == at
        c = await ident.identify(email="doc@hillvalley.edu")
        records: list[dict[str, Any]] = await ident.erasures()
        nothing: ReapplyReport = await ident.reapply_erasures(records)
        assert nothing.records == 0
        task: asyncio.Task[Contact] = asyncio.create_task(ident.identify(email="task@hillvalley.edu"))
        assert (await task).emails == ["task@hillvalley.edu"]
        return c.primary_contact_id + len(customers)


if __name__ == "__main__":
    print(sync_usage(), asyncio.run(async_usage()))
