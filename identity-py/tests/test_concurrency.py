"""Concurrency through the binding on PostgreSQL: threads on one Identity and asyncio.gather on
one AsyncIdentity, then the invariants in SQL and the customers against a union-find model.
Plus proof that waiting releases the GIL and never blocks the event loop."""

from __future__ import annotations

import asyncio
import pathlib
import threading
import time

from conftest import assert_oracle, hold_sqlite_write_lock, workload

from identity_reconciliation import AsyncIdentity, Identity

THREADS = 8
PER_THREAD = 200


def test_threads_on_one_identity_keep_the_invariants(pg_url: str) -> None:
    ident = Identity(pg_url, max_connections=8)
    requests = [workload(seed, PER_THREAD) for seed in range(THREADS)]
    errors: list[BaseException] = []

    def run(batch: list[tuple[str | None, str | None]]) -> None:
        try:
            for email, phone in batch:
                c = ident.identify(email=email, phone_number=phone)
                assert (email is None or email in c.emails) and (phone is None or phone in c.phone_numbers)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(batch,)) for batch in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert_oracle(pg_url, [r for batch in requests for r in batch])
    report = ident.verify()
    assert report.clean, str(report)
    ident.close()


def test_asyncio_gather_on_one_identity_keeps_the_invariants(pg_url: str) -> None:
    requests = [workload(100 + seed, PER_THREAD) for seed in range(THREADS)]

    async def main() -> None:
        async with await AsyncIdentity.connect(pg_url, max_connections=8) as ident:

            async def run(batch: list[tuple[str | None, str | None]]) -> None:
                for email, phone in batch:
                    await ident.identify(email=email, phone_number=phone)

            await asyncio.gather(*(run(batch) for batch in requests))
            # and a burst of single calls all in flight at once
            burst = await asyncio.gather(*(ident.identify(email=f"burst{i}@x.io", phone_number="777") for i in range(300)))
            assert len({c.primary_contact_id for c in burst}) == 1
            report = await ident.verify()
            assert report.clean, str(report)

    asyncio.run(main())
    burst = [(f"burst{i}@x.io", "777") for i in range(300)]
    assert_oracle(pg_url, [r for batch in requests for r in batch] + burst)


def test_sync_calls_release_the_gil_while_waiting(sqlite_path: pathlib.Path) -> None:
    ident = Identity(f"sqlite://{sqlite_path}")
    blocker = hold_sqlite_write_lock(sqlite_path)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (ident.identify(email="waits@x.io"), done.set()))
    worker.start()
    # while the identify waits for the lock, this thread keeps running Python code
    ticks, deadline = 0, time.monotonic() + 0.5
    while time.monotonic() < deadline:
        ticks += 1
    assert not done.is_set(), "the identify is still waiting for the lock"
    assert ticks > 100_000, f"the main thread was starved ({ticks} iterations)"
    blocker.release()
    worker.join(timeout=10)
    assert done.is_set()
    ident.close()


def test_async_calls_never_block_the_event_loop(sqlite_path: pathlib.Path) -> None:
    async def main() -> None:
        ident = await AsyncIdentity.connect(f"sqlite://{sqlite_path}")
        blocker = hold_sqlite_write_lock(sqlite_path)
        pending = asyncio.ensure_future(ident.identify(email="waits@x.io"))
        ticks = 0
        for _ in range(20):  # the loop keeps turning while the identify waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not pending.done()
        blocker.release()
        contact = await asyncio.wait_for(pending, timeout=10)
        assert contact.emails == ["waits@x.io"]
        await ident.close()

    asyncio.run(main())
