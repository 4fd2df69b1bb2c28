"""Backups, restores and erasures through the binding, on SQLite files: a backup taken while
another thread identifies restores every customer; the erasure log of a live handle erases the
people erased since the backup from the restored copy (lookups, suppression, the report, the id
sequence); the refusals (an existing file, a store that cannot be copied, malformed or foreign
records) change nothing; and the asyncio handle does the same."""

from __future__ import annotations

import asyncio
import datetime
import json
import pathlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from identity_reconciliation import (
    AsyncIdentity,
    BlockedValueError,
    ConflictError,
    Contact,
    Identity,
    InvalidInputError,
    ReapplyReport,
    StoreError,
    parse_erasure_log,
    read_erasure_log,
)


def sqlite(path: pathlib.Path) -> str:
    return f"sqlite://{path}"


def wait_for(condition: Callable[[], bool], what: str, deadline: float = 30.0) -> None:
    """Polls `condition` until it holds; fails naming `what` after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up after {deadline} s waiting for {what}")
        time.sleep(0.001)


def emails_of(customers: list[Contact]) -> set[str]:
    return {e for c in customers for e in c.emails}


def test_a_backup_taken_while_a_thread_identifies_restores_every_customer(tmp_path: pathlib.Path) -> None:
    copy = tmp_path / "copy.db"
    with Identity(sqlite(tmp_path / "live.db")) as live:
        early = [live.identify(email=f"early{i}@x.io", phone_number=f"100{i}") for i in range(30)]
        answered: list[Contact] = []
        failures: list[BaseException] = []
        stop = threading.Event()

        def writer() -> None:
            i = 0
            try:
                while not stop.is_set():  # new customers, then merges into them by phone
                    answered.append(live.identify(email=f"w{i}@x.io", phone_number=f"200{i % 7}"))
                    i += 1
            except BaseException as e:  # noqa: BLE001 - reported by the test
                failures.append(e)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            wait_for(lambda: len(answered) >= 20 or bool(failures), "the writer to answer 20 identifies")
            before = list(answered)
            live.backup_to(copy)  # a pathlib.Path: any os.PathLike
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not thread.is_alive() and failures == [], failures
        live_rows = {(r.id, r.email, r.phone_number) for r in live.all_contacts()}
    with Identity(sqlite(copy)) as restored:
        assert restored.verify().clean
        customers = restored.customers()
        for customer in early:  # untouched by the writer: exactly as answered
            assert restored.lookup(email=customer.emails[0]) == customer
        assert emails_of(before) <= emails_of(customers), "an identify answered before the backup is missing"
        rows = {(r.id, r.email, r.phone_number) for r in restored.all_contacts()}
        assert rows <= live_rows, "the copy holds a row the live database never had"
        assert len(rows) >= len(early) + len(before)


def life_before_the_disaster(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, list[dict[str, Any]]]:
    """Doc (rows 1, 2) and Biff (3) are backed up; Marty (4) comes after; then Doc (suppressed) and
    Marty are erased through a handle with an erasure log. Answers the backup, the log and the
    records the live database lists."""
    backup, log = tmp_path / "nightly.db", tmp_path / "erasures.jsonl"
    with Identity(sqlite(tmp_path / "live.db"), erasure_log=log) as live:
        live.identify(email="doc@x.io", phone_number="555")
        assert live.identify(email="emmett@x.io", phone_number="555").secondary_contact_ids == [2]
        assert live.identify(email="biff@x.io", phone_number="999").primary_contact_id == 3
        live.backup_to(str(backup))
        assert live.identify(email="marty@x.io", phone_number="111").primary_contact_id == 4
        assert log.read_text() == "", "nothing erased yet"
        live.erase(2, suppress=True)
        assert len(log.read_text().splitlines()) == 1, "the record is in the log once the erase returns"
        live.erase(4)
        return backup, log, live.erasures()


def test_the_erasure_log_erases_again_whom_a_restored_backup_brings_back(tmp_path: pathlib.Path) -> None:
    backup, log, listed = life_before_the_disaster(tmp_path)
    records = read_erasure_log(log)
    assert records == listed, "the log holds what the database lists"
    assert [json.loads(line) for line in log.read_text().splitlines()] == records
    assert [(r["customerId"], r["contactIds"], r["suppressed"]) for r in records] == [(1, [1, 2], True), (4, [4], False)]
    assert "doc@" not in log.read_text(), "no personal data in the log"
    with Identity(sqlite(backup)) as restored:
        assert restored.lookup(email="doc@x.io") is not None, "erased, yet back"
        assert restored.erasures() == []
        report = restored.reapply_erasures(records)
        assert isinstance(report, ReapplyReport)
        assert (report.records, report.applied, report.already_erased) == (2, 2, 0)
        assert (report.erased_ids, report.reused_ids, report.suppressed) == ([1, 2], [], 3)
        assert report.to_dict() == {
            "records": 2,
            "applied": 2,
            "alreadyErased": 0,
            "erasedIds": [1, 2],
            "reusedIds": [],
            "suppressed": 3,
        }
        assert repr(report).startswith("ReapplyReport(records=2, applied=2, already_erased=0, erased_ids=[1, 2]")
        for gone in ({"email": "doc@x.io"}, {"email": "emmett@x.io"}, {"phone_number": "555"}):
            with pytest.raises(BlockedValueError, match="blocked value"):  # suppressed, as after the erase
                restored.lookup(**gone)
        assert restored.lookup(email="lorraine@x.io", phone_number="555") is None
        assert [(r.id, r.email) for r in restored.all_contacts()] == [(3, "biff@x.io")]
        assert restored.lookup(email="biff@x.io") is not None, "Biff was never erased"
        assert restored.erasures() == records, "the original receipts are stored"
        again = restored.identify(email="doc@x.io", phone_number="777")
        assert [(i.field, i.reason) for i in again.ignored] == [("email", "suppressed")]
        assert again.emails == [] and again.primary_contact_id > 4, "the sequence moved past every id named"
        twice = restored.reapply_erasures(read_erasure_log(str(log)))
        assert (twice.applied, twice.already_erased, twice.erased_ids) == (0, 2, [])
        assert restored.verify().clean


def test_backup_to_never_replaces_a_file_unless_asked(tmp_path: pathlib.Path) -> None:
    copy = tmp_path / "copy.db"
    with Identity(sqlite(tmp_path / "live.db")) as live:
        live.identify(email="doc@x.io")
        live.backup_to(copy)
        live.identify(email="biff@x.io")
        size = copy.stat().st_size
        with pytest.raises(ConflictError, match="exists"):
            live.backup_to(copy)
        assert copy.stat().st_size == size
        with Identity(sqlite(copy)) as first:
            assert first.lookup(email="biff@x.io") is None, "the refused backup left the old copy"
        live.backup_to(copy, overwrite=True)
        with pytest.raises(StoreError):
            live.backup_to(tmp_path / "no-such-folder" / "copy.db")
    with Identity(sqlite(copy)) as replaced:
        assert emails_of(replaced.customers()) == {"doc@x.io", "biff@x.io"}


def test_backup_to_refuses_stores_it_cannot_copy(tmp_path: pathlib.Path, pg_url: str) -> None:
    for url, advice in (("memory:", "in-memory SQLite database"), (pg_url, "pg_dump")):
        with Identity(url) as ident:
            with pytest.raises(ConflictError, match=advice):
                ident.backup_to(tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def record(**changes: Any) -> dict[str, Any]:
    """A well-formed record of Biff's erase (row 3), changed by `changes`."""
    wire = {
        "tenantId": "default",
        "customerId": 3,
        "contactIds": [3],
        "erasedAt": "2026-11-22T10:00:00Z",
        "suppressed": False,
        "rows": [{"id": 3, "createdAt": None}],
        "digests": [],
        "secret": None,
    }
    return wire | changes


@pytest.mark.parametrize(
    ("records", "names"),
    [
        (5, "not int"),
        (record(), "not a single dict"),
        ("{}", "not a single str"),
        ([record(), 7], "record 1 must be a mapping"),
        ([record(), {"tenantId": "default"}], "record 1: missing field"),
        ([record(), record(extra=1)], "record 1: unknown field"),
        ([record(rows=[{"id": 3, "createdAt": datetime.datetime(2026, 1, 1)}])], "record 0: rows: "),
        ([record(contactIds=[3.5])], "record 0: "),
        ([record(digests=[{"kind": "email", "digest": "zz"}], secret="0000000000000000")], "64 hex digits"),
        ([record(), record(tenantId="shopB")], "record 1 is an erasure of tenant shopB"),
        ([record(), {1: "x"}], "record 1: keys must be str"),
    ],
)
def test_malformed_or_foreign_records_change_nothing(tmp_path: pathlib.Path, records: Any, names: str) -> None:
    with Identity(sqlite(tmp_path / "shop.db")) as ident:
        ident.identify(email="doc@x.io")
        ident.erase(1)
        ident.identify(email="marty@x.io")
        ident.identify(email="biff@x.io")
        rows, listed = ident.all_contacts(), ident.erasures()
        with pytest.raises(InvalidInputError, match=names) as raised:
            ident.reapply_erasures(records)
        assert raised.value.field == "erasures" and str(raised.value).startswith("invalid erasures: ")
        assert ident.all_contacts() == rows and ident.erasures() == listed, "a refused reapply changed something"
        assert ident.identify(email="lorraine@x.io").primary_contact_id == 4, "nor moved the sequence"


def test_a_log_that_cannot_be_read_or_written_is_an_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(StoreError, match="cannot be read"):
        read_erasure_log(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(record()) + "\n[1, 2]\n")
    with pytest.raises(InvalidInputError, match="line 2") as raised:
        read_erasure_log(bad)
    assert raised.value.field == "erasures"
    cut = tmp_path / "cut.jsonl"
    cut.write_text(json.dumps(record()) + "\n" + json.dumps(record())[:40])
    assert read_erasure_log(cut) == [record()], "a line cut short is left out"
    assert parse_erasure_log(cut.read_text()) == [record()], "text reads as the file does"
    with pytest.raises(InvalidInputError, match="line 2") as raised:
        parse_erasure_log(bad.read_text())
    assert raised.value.field == "erasures"
    with pytest.raises(StoreError, match="erasure log"):
        Identity(sqlite(tmp_path / "shop.db"), erasure_log=tmp_path)  # a folder


def test_the_async_handle_backs_up_logs_and_reapplies(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        log, backup = tmp_path / "erasures.jsonl", tmp_path / "nightly.db"
        async with await AsyncIdentity.connect(sqlite(tmp_path / "live.db"), erasure_log=log) as live:
            await live.identify(email="doc@x.io", phone_number="555")
            writes = [live.identify(email=f"w{i}@x.io", phone_number="555") for i in range(10)]
            _, *answers = await asyncio.gather(live.backup_to(backup), *writes)
            assert answers[-1].primary_contact_id == 1
            await live.erase(1, suppress=True)
            listed = await live.erasures()
            with pytest.raises(ConflictError):
                await live.backup_to(backup)
        assert read_erasure_log(log) == listed
        async with await AsyncIdentity.connect(sqlite(backup)) as restored:
            assert await restored.lookup(email="doc@x.io") is not None
            with pytest.raises(InvalidInputError) as raised:
                await restored.reapply_erasures([*listed, "x"])
            assert raised.value.field == "erasures"
            assert await restored.lookup(email="doc@x.io") is not None, "the refusal changed nothing"
            report = await restored.reapply_erasures(read_erasure_log(log))
            assert (report.applied, report.erased_ids[0], report.suppressed) == (1, 1, 12)
            assert await restored.all_contacts() == []
            with pytest.raises(BlockedValueError):
                await restored.lookup(email="doc@x.io")
            assert (await restored.identify(email="new@x.io")).primary_contact_id > 11
        async with await AsyncIdentity.connect("memory:") as memory:
            with pytest.raises(ConflictError):
                await memory.backup_to(tmp_path / "memory.db")

    asyncio.run(main())
