"""The change feed through the binding: the events identify, split and erase make, in their wire
shape; pages and cursors; a long poll woken by a write from another thread; the iterator and
the async iterator (with ``idle_timeout``); the errors, each a subclass of ``IdentityError``
naming its field; and after threads identify at once on PostgreSQL, the feed replayed gives
every row its primary (checked against the rows in SQL)."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time

import psycopg
import pytest

from identity_reconciliation import (
    AsyncIdentity,
    EventsPage,
    ExpiredError,
    FeedEvent,
    Identity,
    IdentityError,
    InvalidInputError,
)


def test_each_write_makes_its_event_in_order(store_url: str) -> None:
    with Identity(store_url) as ident:
        doc = ident.identify(email="doc@x.io", phone_number="555").primary_contact_id
        marty = ident.identify(email="marty@x.io", phone_number="777").primary_contact_id
        ident.identify(email="doc@x.io", phone_number="777")  # merges marty into doc
        ident.split(doc, [marty])
        ident.erase(marty)
        page = ident.events()
        assert isinstance(page, EventsPage)
        assert [e.type for e in page.events] == [
            "contact.created",
            "contact.created",
            "customer.merged",
            "customer.split",
            "customer.erased",
        ]
        created, erased_row, merged, split, erased = page.events
        assert isinstance(created, FeedEvent)
        assert created.id.startswith("evt_") and created.tenant == "default"
        assert created.occurred_at.tzinfo is not None and isinstance(created.occurred_at, datetime.datetime)
        assert created.data == {"contactId": doc, "email": "doc@x.io", "phoneNumber": "555"}
        assert erased_row.data == {"contactId": marty, "email": None, "phoneNumber": None}
        assert merged.data == {"primaryContactId": doc, "mergedPrimaryContactId": marty, "contactIds": [marty]}
        assert split.data == {
            "customers": [
                {"primaryContactId": doc, "contactIds": [doc]},
                {"primaryContactId": marty, "contactIds": [marty]},
            ]
        }
        assert erased.to_dict()["data"] == {"contactIds": [marty]}
        assert set(created.to_dict()) == {"id", "type", "tenant", "occurredAt", "cursor", "data"}
        assert page.next == erased.cursor and len(page) == 5
        assert page.to_dict()["next"] == page.next
        first_two = ident.events(limit=2)
        assert [e.id for e in first_two.events] == [created.id, erased_row.id]
        assert ident.events(after=first_two.next).events == page.events[2:]
        assert ident.tenant("other").events().events == []


def test_a_long_poll_wakes_for_a_write_and_the_iterators_follow() -> None:
    with Identity("memory:") as ident:
        ident.identify(email="first@x.io")
        head = ident.events().next
        threading.Timer(0.2, lambda: ident.identify(email="late@x.io")).start()
        started = time.monotonic()
        woken = ident.events(after=head, wait=20)
        assert [e.data["email"] for e in woken.events] == ["late@x.io"]
        assert time.monotonic() - started < 15
        empty = ident.events(after=woken.next, wait=0.2)
        assert (empty.events, empty.next) == ([], woken.next)

        threading.Timer(0.1, lambda: ident.identify(phone_number="4242")).start()
        seen = []
        feed = ident.feed()
        for event in feed:
            seen.append(event.data["email"] or event.data["phoneNumber"])
            if len(seen) == 3:
                break
        assert seen == ["first@x.io", "late@x.io", "4242"]
        assert feed.cursor is not None
        # from where it stopped: nothing new, so it ends after idle_timeout
        assert list(ident.feed(after=feed.cursor, idle_timeout=0.3)) == []
        assert [e.type for e in ident.feed(after=woken.next, idle_timeout=0.3)] == ["contact.created"]


def test_the_async_iterator_follows() -> None:
    async def main() -> None:
        async with await AsyncIdentity.connect("memory:") as ident:
            await ident.identify(email="doc@hillvalley.edu")
            page = await ident.events(limit=10)
            assert [e.type for e in page.events] == ["contact.created"]

            async def later() -> None:
                await asyncio.sleep(0.1)
                await ident.identify(phone_number="555")

            task = asyncio.create_task(later())
            seen = []
            async for event in ident.feed():
                seen.append(event.type)
                if len(seen) == 2:
                    break
            await task
            assert seen == ["contact.created", "contact.created"]
            ended = [e async for e in ident.feed(after=page.next, idle_timeout=0.3)]
            assert [e.data["phoneNumber"] for e in ended] == ["555"]

    asyncio.run(main())


def test_bad_arguments_name_their_field_and_old_cursors_are_expired(pg_url: str) -> None:
    with Identity(pg_url) as ident:
        for kwargs, field in [
            ({"after": "f1.ff"}, "after"),
            ({"after": "nope"}, "after"),
            ({"limit": 0}, "limit"),
            ({"limit": 1001}, "limit"),
            ({"wait": 31}, "wait"),
            ({"wait": -1}, "wait"),
        ]:
            with pytest.raises(InvalidInputError) as raised:
                ident.events(**kwargs)  # type: ignore[arg-type]
            assert raised.value.field == field, kwargs
        with pytest.raises(InvalidInputError):
            ident.feed(idle_timeout=-1)
        for email in ["a@x.io", "b@x.io", "c@x.io"]:
            ident.identify(email=email)
        first = ident.events(limit=1)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DELETE FROM identity_event WHERE position <= 2")
            conn.execute("INSERT INTO identity_feed_floor VALUES ('default', 2)")
        with pytest.raises(ExpiredError) as expired:
            ident.events(after=first.next)
        assert isinstance(expired.value, IdentityError) and expired.value.code == "expired"
        assert "oldest cursor kept is f1.2" in str(expired.value)
        assert len(ident.events().events) == 1


def test_threads_then_the_feed_replayed_gives_every_row_its_primary(pg_url: str) -> None:
    with Identity(pg_url, max_connections=8) as ident:

        def work(seed: int) -> None:
            for i in range(60):
                n = (seed * 7 + i) % 9
                ident.identify(email=f"u{n}@x.io", phone_number=str(1000 + (n * 3 + i) % 7))

        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        primary: dict[int, int] = {}
        for event in ident.feed(idle_timeout=0):
            data = event.data
            if event.type == "contact.created":
                primary[data["contactId"]] = data["contactId"]
            elif event.type == "contact.linked":
                primary[data["contactId"]] = data["primaryContactId"]
            elif event.type == "customer.merged":
                for row in data["contactIds"]:
                    primary[row] = data["primaryContactId"]
            else:
                raise AssertionError(event)
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute("SELECT id, coalesce(linked_id, id) FROM contact WHERE deleted_at IS NULL").fetchall()
        assert primary == {row: p for row, p in rows}
        assert any(e.type == "customer.merged" for e in ident.events(limit=1000).events)


def test_prune_events_deletes_old_events_and_history_says_so() -> None:
    with Identity("memory:") as ident:
        doc = ident.identify(email="doc@x.io").primary_contact_id
        ident.tenant("shop-b").identify(email="doc@x.io")
        head = ident.events().next
        assert ident.prune_events() == {"events": 0, "tenants": 0}  # nothing is 30 days old
        assert ident.history(doc).pruned_before is None
        assert ident.prune_events(older_than_days=0) == {"events": 2, "tenants": 2}
        with pytest.raises(ExpiredError):
            ident.events(after="f1.0")
        assert ident.events().events == [] and ident.events().next == head
        history = ident.history(doc)
        assert history.events == [] and history.pruned_before is not None
        assert "prunedBefore" in history.to_dict()
        with pytest.raises(InvalidInputError) as raised:
            ident.prune_events(older_than_days=-1)
        assert raised.value.field == "older_than_days"

    async def main() -> None:
        async with await AsyncIdentity.connect("memory:") as ident:
            await ident.identify(email="doc@x.io")
            assert await ident.prune_events(0) == {"events": 1, "tenants": 1}

    asyncio.run(main())
