"""The asyncio API behaves as `async def` methods would: a call makes a coroutine that needs no
running loop and does nothing until awaited, so asyncio.run, create_task, TaskGroup, wait_for
and run_coroutine_threadsafe all work; argument errors arrive when awaited; cancelling the
awaiting task cancels the call, and a cancelled identify happened entirely or not at all
(checked in SQL and by verify)."""

from __future__ import annotations

import asyncio
import pathlib
import random
import threading

import psycopg
import pytest

from conftest import hold_sqlite_write_lock, rows
from identity_reconciliation import AsyncIdentity, Identity, InvalidInputError


def test_connect_makes_a_coroutine_that_asyncio_run_drives() -> None:
    pending = AsyncIdentity.connect("memory:")  # no running loop here
    assert asyncio.iscoroutine(pending)  # what create_task and TaskGroup require
    ident = asyncio.run(pending)
    assert isinstance(ident, AsyncIdentity) and ident.backend == "sqlite"

    async def use() -> int:
        return (await ident.identify(email="doc@x.io")).primary_contact_id

    assert asyncio.run(use()) == 1


def test_nothing_runs_until_awaited(tmp_path: pathlib.Path) -> None:
    url = f"sqlite://{tmp_path / 'lazy.db'}"

    async def main() -> None:
        async with await AsyncIdentity.connect(url) as ident:
            never = ident.identify(email="never@x.io")
            bad = ident.identify(email=5)  # argument errors arrive when awaited, as in an async def
            await asyncio.sleep(0.05)
            never.close()
            with pytest.raises(InvalidInputError):
                await bad
            assert await ident.lookup(email="never@x.io") is None

    asyncio.run(main())
    assert rows(url) == []


def test_tasks_groups_timeouts_and_other_threads() -> None:
    async def main() -> list[int]:
        ident = await AsyncIdentity.connect("memory:")
        first = asyncio.create_task(ident.identify(email="a@x.io", phone_number="1"))
        async with asyncio.TaskGroup() as group:
            second = group.create_task(ident.identify(email="b@x.io", phone_number="1"))
            third = group.create_task(ident.identify(email="c@x.io"))
        found = await asyncio.wait_for(ident.lookup(phone_number="1"), timeout=10)
        assert found is not None and sorted(found.emails) == ["a@x.io", "b@x.io"]
        await first
        ids = [second.result().primary_contact_id, third.result().primary_contact_id]
        await ident.close()
        return ids

    assert len(asyncio.run(main())) == 2

    # a loop in another thread, driven from this one
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        ident = asyncio.run_coroutine_threadsafe(AsyncIdentity.connect("memory:"), loop).result(10)
        contact = asyncio.run_coroutine_threadsafe(ident.identify(email="t@x.io"), loop).result(10)
        assert contact.emails == ["t@x.io"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()


def test_a_cancelled_identify_that_waits_for_the_lock_writes_nothing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite://{path}"
    Identity(url).close()  # migrated before the lock is taken

    async def main() -> None:
        async with await AsyncIdentity.connect(url) as ident:
            lock = hold_sqlite_write_lock(path)
            try:
                task = asyncio.create_task(ident.identify(email="late@x.io", phone_number="9"))
                await asyncio.sleep(0.3)  # waiting for the write lock another process holds
                assert not task.done()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            finally:
                lock.release()
            await asyncio.sleep(0.2)  # an aborted call would have written by now
            assert await ident.lookup(email="late@x.io") is None
            # the store goes on
            assert (await ident.identify(email="next@x.io")).emails == ["next@x.io"]
            assert (await ident.verify()).clean

    asyncio.run(main())
    assert [r[0] for r in rows(url)] == [1]


def test_cancelled_identifies_happen_entirely_or_not_at_all(pg_url: str) -> None:
    """Many identifies cancelled at random moments, each with values of its own (a new email
    joined to an existing customer's phone): afterwards each either left its row, linked to that
    customer, or nothing, and the records agree with the rows."""
    rng = random.Random(5)

    async def main() -> tuple[int, int]:
        async with await AsyncIdentity.connect(pg_url, max_connections=8) as ident:
            for k in range(8):
                await ident.identify(email=f"base{k}@x.io", phone_number=f"555{k}")
            tasks = [
                asyncio.create_task(ident.identify(email=f"c{i}@x.io", phone_number=f"555{i % 8}")) for i in range(120)
            ]
            for task in tasks:
                await asyncio.sleep(rng.random() * 0.004)
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            cancelled = sum(isinstance(o, asyncio.CancelledError) for o in outcomes)
            for i in range(120):
                found = await ident.lookup(email=f"c{i}@x.io")
                if found is not None:  # happened: entirely, in its customer
                    assert f"base{i % 8}@x.io" in found.emails, found
                    assert found.phone_numbers == [f"555{i % 8}"], found
            assert (await ident.verify()).clean
            return cancelled, len(tasks) - cancelled

    cancelled, finished = asyncio.run(main())
    assert cancelled > 0, "the test must cancel some calls in flight"
    with psycopg.connect(pg_url) as conn:
        landed = conn.execute("SELECT count(*) FROM contact WHERE email LIKE 'c%@x.io'").fetchone()
        secondaries = conn.execute(
            "SELECT count(*) FROM contact WHERE email LIKE 'c%@x.io' AND link_precedence = 'secondary'"
        ).fetchone()
    assert landed is not None and secondaries is not None
    assert landed[0] == secondaries[0] >= finished, (landed, finished)


def test_anyio_on_asyncio_drives_the_coroutines() -> None:
    import anyio  # installed with fastapi (requirements-dev.txt)

    async def main() -> int:
        ident = await AsyncIdentity.connect("memory:")
        async with anyio.create_task_group() as group:
            group.start_soon(ident.identify, "doc@x.io", "1")
            group.start_soon(ident.identify, "marty@x.io", "1")
        found = await ident.lookup(phone_number="1")
        return len(found.emails) if found else 0

    assert anyio.run(main, backend="asyncio") == 2


def test_the_blocking_api_also_connects_by_name() -> None:
    with Identity.connect("memory:") as ident:
        assert ident.identify(email="doc@x.io").primary_contact_id == 1
