"""stats() and feed_stats(): the numbers GET /metrics shows, from Python. Identifies counted by
outcome (a storm's add up to the rows and customers it wrote), refusals by error code, the pool,
the feed's size and each webhook endpoint's backlog."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from identity_reconciliation import AsyncIdentity, Identity, InvalidInputError


def test_identifies_are_counted_by_outcome_and_refusals_by_code(store_url: str) -> None:
    with Identity(store_url) as ident:
        ident.identify(email="doc@hillvalley.edu")  # created
        ident.identify(email="doc@hillvalley.edu")  # known
        ident.identify(email="doc@hillvalley.edu", phone_number="555")  # linked
        ident.identify(email="marty@hillvalley.edu", phone_number="777")  # created
        ident.identify(email="doc@hillvalley.edu", phone_number="777")  # merged
        with pytest.raises(InvalidInputError):
            ident.identify(email="nope")
        stats = ident.stats()
        assert stats["identify"] == {
            "created": 2,
            "linked": 1,
            "merged": 1,
            "known": 1,
            "refused": 1,
            "failed": 0,
        }
        assert stats["identifyErrors"] == {"invalid_input": 1}
        assert stats["contention"] == {}
        assert stats["webhookDeliveries"] == {"succeeded": 0, "failed": 0}
        pool = stats["pool"]
        assert pool["max"] >= 1 and pool["inUse"] + pool["idle"] <= pool["max"]
        # PostgreSQL's callers queue for a connection in the store; SQLite's on its write lock
        assert (pool["waiting"] is None) == store_url.startswith("sqlite")
        # a handle for another tenant shares the counters of its connection
        ident.tenant("shop-b").identify(email="doc@hillvalley.edu")
        assert ident.stats()["identify"]["created"] == 3


def test_a_concurrent_storm_counts_one_outcome_per_request_and_adds_up(store_url: str) -> None:
    with Identity(store_url) as ident:
        requests = [(f"c{n % 7}@storm.io", f"555{n % 5}") for n in range(200)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda r: ident.identify(email=r[0], phone_number=r[1]), requests))
        counts = ident.stats()["identify"]
        rows = ident.all_contacts()
        customers = {row.linked_id or row.id for row in rows}
        assert sum(counts.values()) == len(requests)
        assert counts["created"] + counts["linked"] == len(rows)
        assert counts["created"] - counts["merged"] == len(customers)
        assert ident.verify().problems == []


def test_feed_stats_count_the_events_and_each_endpoints_backlog(store_url: str) -> None:
    with Identity(store_url) as ident:
        assert ident.feed_stats() == {"eventsWritten": 0, "webhooks": []}
        hook = ident.tenant("shop-w").create_webhook("https://crm.example.com/hooks")
        ident.identify(email="doc@hillvalley.edu")
        for n in range(3):
            ident.tenant("shop-w").identify(email=f"w{n}@x.io")
        feed = ident.feed_stats()
        assert feed["eventsWritten"] == 4
        (backlog,) = feed["webhooks"]
        assert backlog["id"] == hook.id
        assert backlog["tenant"] == "shop-w"
        assert backlog["state"] == "active"
        assert backlog["undelivered"] == 3, "its own tenant's events since it was created"
        assert backlog["oldestUndeliveredAt"] is not None


def test_the_async_handle_answers_the_same(store_url: str) -> None:
    async def main() -> None:
        ident = await AsyncIdentity.connect(store_url)
        await ident.identify(email="doc@hillvalley.edu")
        assert ident.stats()["identify"]["created"] == 1
        feed = await ident.feed_stats()
        assert feed["eventsWritten"] == 1
        await ident.close()

    asyncio.run(main())
