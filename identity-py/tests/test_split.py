"""Split through the binding: a wrong merge undone and the parts kept apart, the errors (each its
own class, nothing changed), blocking shared values, the async twin, and threads identifying and
splitting at once, after which the invariants hold in SQL (I3: no unblocked value in two
customers) and `verify` is clean."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

from conftest import I3_UNBLOCKED
from identity_reconciliation import (
    AsyncIdentity,
    ConflictError,
    Identity,
    IdentityError,
    InvalidInputError,
    NotFoundError,
    Split,
)


def wrong_merge(ident: Identity) -> tuple[int, int, int]:
    """Doc (doc@, 555) and Marty (marty@, 777) merged by doc@ + 777; then Marty's row 3."""
    doc = ident.identify(email="doc@x.io", phone_number="555").primary_contact_id
    marty = ident.identify(email="marty@x.io", phone_number="777").primary_contact_id
    ident.identify(email="doc@x.io", phone_number="777")
    three = ident.identify(email="marty2@x.io", phone_number="777").secondary_contact_ids[-1]
    return doc, marty, three


def test_split_undoes_a_wrong_merge_and_keeps_the_parts_apart(store_url: str) -> None:
    with Identity(store_url) as ident:
        doc, marty, three = wrong_merge(ident)
        split = ident.split(doc, [three, marty])
        assert isinstance(split, Split)
        assert split.customer.primary_contact_id == doc
        assert split.customer.secondary_contact_ids == []
        assert (split.new_customer.primary_contact_id, split.new_customer.secondary_contact_ids) == (marty, [three])
        assert split.blocked == []
        assert split.to_dict()["newCustomer"]["emails"] == ["marty@x.io", "marty2@x.io"]
        assert "Split(customer=" in repr(split)

        again = ident.identify(email="doc@x.io", phone_number="777")
        assert again.primary_contact_id == doc
        assert [i.to_dict() for i in again.ignored] == [{"field": "phoneNumber", "reason": "kept_apart"}]
        looked = ident.lookup(email="doc@x.io", phone_number="777")
        assert looked is not None and looked.ignored[0].reason == "kept_apart"

        history = ident.history(three)
        assert [e.type for e in history.events] == ["split_from"]
        assert (history.events[0].other_customer_id, history.events[0].moved_ids) == (doc, [marty, three])
        assert history.rows() == [marty, three]
        assert ident.history(doc).events[-1].type == "split_off"
        assert ident.verify().clean


def test_bad_splits_raise_their_own_error_and_change_nothing(store_url: str) -> None:
    with Identity(store_url) as ident:
        doc, marty, three = wrong_merge(ident)
        before = ident.history(doc).to_dict()
        with pytest.raises(ConflictError, match="share phone 777 with the rows that stay") as conflict:
            ident.split(doc, [three])
        assert isinstance(conflict.value, IdentityError)
        for ids in ([], [999], [doc, marty, three]):
            with pytest.raises(InvalidInputError) as invalid:
                ident.split(doc, ids)
            assert invalid.value.field == "contact_ids"
        with pytest.raises(NotFoundError, match="contact 999 not found"):
            ident.split(999, [three])
        with pytest.raises(TypeError):
            ident.split(doc, "3")  # type: ignore[arg-type]
        assert ident.history(doc).to_dict() == before


def test_shared_values_can_be_blocked_as_part_of_the_split(store_url: str) -> None:
    with Identity(store_url) as ident:
        doc, marty, three = wrong_merge(ident)
        split = ident.split(marty, [three], block_shared=True)
        assert [b.to_dict() for b in split.blocked] == [{"kind": "phone", "value": "777"}]
        assert split.new_customer.primary_contact_id == three
        c = ident.identify(email="marty2@x.io", phone_number="777")
        assert (c.primary_contact_id, c.ignored[0].reason) == (three, "blocked")
        with pytest.raises(ConflictError, match="held by customers a split keeps apart"):
            ident.unblock("phone", "777")
        assert ident.verify().clean


def test_async_split() -> None:
    async def main() -> None:
        async with await AsyncIdentity.connect("memory:") as ident:
            a = await ident.identify(email="a@x.io", phone_number="1")
            await ident.identify(email="b@x.io", phone_number="2")
            await ident.identify(email="a@x.io", phone_number="2")
            split = await ident.split(a.primary_contact_id, [2])
            assert split.new_customer.primary_contact_id == 2
            with pytest.raises(InvalidInputError):
                await ident.split(a.primary_contact_id, [])

    asyncio.run(main())


I1_I2 = """
SELECT count(*) FROM contact s LEFT JOIN contact p ON p.id = s.linked_id
WHERE s.deleted_at IS NULL AND s.linked_id IS NOT NULL
  AND (p.id IS NULL OR p.linked_id IS NOT NULL OR (s.created_at, s.id) < (p.created_at, p.id))
"""


def test_threads_identifying_and_splitting_keep_every_invariant(pg_url: str) -> None:
    with Identity(pg_url) as ident:
        splits = []

        def work(seed: int) -> None:
            for i in range(40):
                k = (seed * 7 + i * 3) % 9
                try:
                    c = ident.identify(email=f"c{k}@shop.test", phone_number=f"555{(k + seed) % 7}")
                except IdentityError as e:  # every value blocked by a split
                    assert type(e).__name__ == "BlockedValueError"
                    continue
                if i % 6 == 5 and c.secondary_contact_ids:
                    try:
                        ident.split(c.primary_contact_id, c.secondary_contact_ids[::2], block_shared=True)
                        splits.append(1)
                    except (InvalidInputError, NotFoundError):
                        pass  # the customer changed meanwhile

        threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert splits
        with psycopg.connect(pg_url) as conn:
            assert conn.execute(I3_UNBLOCKED).fetchone() == (0,)
            assert conn.execute(I1_I2).fetchone() == (0,)
            rows = conn.execute("SELECT coalesce(linked_id, id), id FROM contact WHERE deleted_at IS NULL").fetchall()
        customers: dict[int, list[int]] = {}
        for primary, row in rows:
            customers.setdefault(primary, []).append(row)
        for primary, members in customers.items():
            assert ident.history(primary).rows() == sorted(members)
        assert ident.verify().clean
