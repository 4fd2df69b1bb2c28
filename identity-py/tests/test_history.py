"""History through the binding: what identify and block record, asking with an absorbed
customer's id, the wire shape of `to_dict()`, `NotFoundError` for unknown ids, the async twin,
and threads identifying at once after which every customer's history explains exactly its
rows (checked against the rows in SQL)."""

from __future__ import annotations

import asyncio
import datetime
import threading

import psycopg
import pytest

from identity_reconciliation import (
    AsyncIdentity,
    BlockedValue,
    History,
    HistoryEvent,
    Identity,
    IdentityError,
    NotFoundError,
)


def test_history_explains_rows_merges_and_blocks(store_url: str) -> None:
    with Identity(store_url) as ident:
        one = ident.identify(email="a@x.io", phone_number="111").primary_contact_id
        two = ident.identify(email="b@x.io", phone_number="222").primary_contact_id
        ident.identify(email="a@x.io", phone_number="222")  # joins two into one
        ident.identify(email="c@x.io", phone_number="111")
        assert ident.block("email", "b@x.io")
        assert ident.block("email", "unrelated@x.io")

        history = ident.history(two)
        assert isinstance(history, History)
        assert (history.asked_id, history.customer_id) == (two, one)
        assert [e.type for e in history.events] == ["created", "created", "merged", "created", "blocked"]
        created, _, merged, joined, blocked = history.events
        assert isinstance(created, HistoryEvent)
        assert (created.customer_id, created.contact_id, created.via) == (one, one, [])
        assert isinstance(created.at, datetime.datetime) and created.at.tzinfo is not None
        assert (merged.absorbed_id, merged.relinked_ids) == (two, [two])
        assert (merged.email, merged.phone_number) == ("a@x.io", "222")
        assert (joined.via, joined.phone_number) == (["phone"], "111")
        assert blocked.customer_id is None
        assert isinstance(blocked.entry, BlockedValue)
        assert blocked.entry.to_dict() == {"kind": "email", "value": "b@x.io"}
        assert history.rows() == [1, 2, 3]
        assert ident.history(3).events == history.events  # any row of the customer

        wire = history.to_dict()
        assert (wire["askedId"], wire["customerId"]) == (two, one)
        assert wire["events"][2] | {"at": None} == {
            "type": "merged",
            "at": None,
            "customerId": one,
            "absorbedId": two,
            "relinkedIds": [two],
            "email": "a@x.io",
            "phoneNumber": "222",
        }
        assert "customerId" not in wire["events"][4]
        assert "History(asked_id=2, customer_id=1" in repr(history)

        with pytest.raises(NotFoundError, match="contact 999 not found") as e:
            ident.history(999)
        assert isinstance(e.value, IdentityError) and isinstance(e.value, LookupError)
        with pytest.raises(NotFoundError):
            ident.tenant("other").history(one)  # another tenant's row is not found
        with pytest.raises(TypeError):
            ident.history("1")  # type: ignore[arg-type]


def test_async_history() -> None:
    async def main() -> None:
        async with await AsyncIdentity.connect("memory:") as ident:
            c = await ident.identify(email="doc@hillvalley.edu")
            history = await ident.history(c.primary_contact_id)
            assert [e.type for e in history.events] == ["created"]
            with pytest.raises(NotFoundError):
                await ident.history(42)

    asyncio.run(main())


def test_threads_leave_every_customer_explained_by_its_history(pg_url: str) -> None:
    with Identity(pg_url) as ident:

        def work(seed: int) -> None:
            for i in range(60):
                k = (seed * 7 + i * 3) % 11
                ident.identify(email=f"c{k}@shop.test", phone_number=f"555{(k + seed) % 9}")

        threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute(
                "SELECT coalesce(linked_id, id), id FROM contact WHERE deleted_at IS NULL"
            ).fetchall()
            created = conn.execute(
                "SELECT count(*), count(DISTINCT contact_id) FROM identity_event WHERE kind = 'created'"
            ).fetchone()
        customers: dict[int, list[int]] = {}
        for primary, row in rows:
            customers.setdefault(primary, []).append(row)
        assert any(len(m) > 2 for m in customers.values())
        assert created == (len(rows), len(rows))
        for primary, members in customers.items():
            assert ident.history(primary).rows() == sorted(members)
        assert ident.verify().clean
