"""job_progress(): while a long import or erase runs in steps (SQLite, more than a few thousand
rows), another thread sees how far it got; None before, after, and on a store that writes in one
transaction."""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Callable
from typing import Any

from identity_reconciliation import AsyncIdentity, Identity


def customer(rows: int) -> list[dict[str, Any]]:
    """One customer of `rows` rows, each with its own email, linked to row 1."""
    return [
        {"id": n, "email": f"row{n}@job.io", "linkedId": None if n == 1 else 1, "createdAt": 1_577_836_800 + n}
        for n in range(1, rows + 1)
    ]


def watch(ident: Identity, write: Callable[[], object]) -> list[dict[str, Any]]:
    """Runs `write` on a thread and polls job_progress() until it ends: every value seen."""
    seen: list[dict[str, Any]] = []
    worker = threading.Thread(target=write)
    worker.start()
    while worker.is_alive():
        progress = ident.job_progress()
        if progress is not None:
            seen.append(progress)
        time.sleep(0.001)
    worker.join()
    return seen


def assert_advances(seen: list[dict[str, Any]], kind: str) -> None:
    assert len(seen) >= 2, seen
    total = seen[0]["total"]
    assert all(p["kind"] == kind and p["total"] == total and 0 <= p["done"] <= total for p in seen), seen
    assert all(a["done"] <= b["done"] for a, b in zip(seen, seen[1:])), f"went back: {seen}"
    assert any(0 < p["done"] < total for p in seen), f"no step in between: {seen}"


def test_a_long_import_and_erase_tell_how_far_they_got(tmp_path: pathlib.Path) -> None:
    with Identity(f"sqlite://{tmp_path / 'job.db'}") as ident:
        assert ident.job_progress() is None
        seen = watch(ident, lambda: ident.import_table_rows(customer(16_000)))
        assert_advances(seen, "import")
        assert seen[0]["total"] >= 2 * 16_000, "rows and their events at least"
        assert ident.job_progress() is None, "forgotten once done"
        seen = watch(ident, lambda: ident.erase(1))
        assert_advances(seen, "erase")
        assert ident.job_progress() is None


def test_stores_that_write_in_one_transaction_have_none() -> None:
    with Identity("memory:") as ident:
        ident.import_table_rows(customer(5_000))
        assert ident.job_progress() is None


def test_the_async_handle_answers_at_once() -> None:
    async def main() -> None:
        ident = await AsyncIdentity.connect("sqlite::memory:")
        assert ident.job_progress() is None  # not a coroutine
        await ident.close()

    import asyncio

    asyncio.run(main())
