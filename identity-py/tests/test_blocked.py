"""Blocked values through the binding: every tenant starts with the placeholder defaults;
`block`/`unblock` change one tenant's list; blocked values are left out of a request (the answer
lists them in `ignored`) and a request with nothing left raises `BlockedValueError`; bad entries
are `InvalidInputError` naming the field; threads identifying while another blocks never store
a value after its block returned, and the shared oracle checks I1-I4 in SQL and the customers
against the union-find of the requests as screened."""

from __future__ import annotations

import asyncio
import pickle
import threading

import pytest
import psycopg
from conftest import assert_oracle

from identity_reconciliation import (
    AsyncIdentity,
    BlockedValue,
    BlockedValueError,
    Contact,
    Identity,
    IdentityError,
    Ignored,
    InvalidInputError,
)


def carrying(url: str, value: str) -> set[int]:
    """The ids of the default tenant's visible rows whose email or phone is `value`."""
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT id FROM contact WHERE tenant_id = 'default' AND deleted_at IS NULL"
            " AND (email = %s OR phone_number = %s)",
            (value, value),
        ).fetchall()
    return {r[0] for r in found}


def test_defaults_block_placeholders_and_blocked_values_are_left_out(store_url: str) -> None:
    with Identity(store_url) as ident:
        defaults = ident.blocked_values()
        assert all(isinstance(e, BlockedValue) for e in defaults)
        assert {"kind": "email", "value": "test@test.com"} in [e.to_dict() for e in defaults]
        c = ident.identify(email="null@shop.io", phone_number="123456")
        assert (c.emails, c.phone_numbers) == ([], ["123456"])
        assert c.ignored == [Ignored("email", "blocked")]
        assert c.ignored[0].to_dict() == {"field": "email", "reason": "blocked"}
        assert "ignored=[Ignored(field='email', reason='blocked')]" in repr(c)
        with pytest.raises(BlockedValueError, match="blocked value: the phone number is blocked") as e:
            ident.identify(phone_number="000-000-0000")
        assert e.value.fields == ["phone_number"]
        assert isinstance(e.value, IdentityError)
        # the task's own examples stay valid
        plain = ident.identify(email="lorraine@hillvalley.edu", phone_number="123456")
        assert plain.ignored == [] and plain.primary_contact_id == c.primary_contact_id
        assert ident.verify().clean


def test_block_and_unblock_change_one_tenants_list(store_url: str) -> None:
    with Identity(store_url) as ident:
        shop = ident.tenant("shop-a")
        assert shop.block("phone", "+1 (555) 010-9999") is True
        assert shop.block("phone", "+15550109999") is False
        assert BlockedValue in {type(e) for e in shop.blocked_values()}
        assert any(e.value == "+15550109999" for e in shop.blocked_values())
        assert not any(e.value == "+15550109999" for e in ident.blocked_values())
        with pytest.raises(BlockedValueError):
            shop.identify(phone_number="+1 555 010 9999")
        assert ident.identify(phone_number="+15550109999").ignored == []
        # a default entry removed in one tenant lets its values through there only
        zeros = next(e for e in shop.blocked_values() if e.pattern and "0{6,}" in e.pattern)
        assert repr(zeros).startswith("BlockedValue(kind='phone', pattern='^")
        assert shop.unblock("phone", pattern=zeros.pattern) is True
        assert shop.unblock("phone", pattern=zeros.pattern) is False
        assert shop.identify(phone_number="0000000000").phone_numbers == ["0000000000"]
        with pytest.raises(BlockedValueError):
            ident.identify(phone_number="0000000000")
        assert shop.verify().clean and ident.verify().clean


def test_bad_entries_name_their_field_and_change_nothing() -> None:
    with Identity("memory:") as ident:
        before = ident.blocked_values()
        for call, field in [
            (lambda: ident.block("fax", "1"), "kind"),
            (lambda: ident.block("email", "no-at-sign"), "value"),
            (lambda: ident.block("email"), "value"),
            (lambda: ident.block("email", "a@b.c", pattern="^a"), "value"),
            (lambda: ident.block("phone", pattern="("), "pattern"),
            (lambda: ident.block(1), "kind"),  # type: ignore[arg-type]
            (lambda: ident.block("phone", 5), "value"),  # type: ignore[arg-type]
        ]:
            with pytest.raises(InvalidInputError) as e:
                call()
            assert e.value.field == field, e.value
        assert ident.blocked_values() == before
        with pytest.raises(InvalidInputError):
            Ignored("fax", "blocked")


def test_answers_with_ignored_values_pickle_and_compare() -> None:
    with Identity("memory:") as ident:
        c = ident.identify(email="a@x.io", phone_number="1234567890")
        assert pickle.loads(pickle.dumps(c)) == c
        assert c != Contact(c.primary_contact_id, c.emails, c.phone_numbers, c.secondary_contact_ids)
        assert c == Contact(c.primary_contact_id, c.emails, c.phone_numbers, c.secondary_contact_ids, [Ignored("phone_number", "blocked")])
        found = ident.lookup(email="a@x.io", phone_number="1234567890")
        assert found is not None and found.ignored == c.ignored


def test_the_async_api_blocks_and_reports_the_same() -> None:
    async def run() -> None:
        async with await AsyncIdentity.connect("memory:") as ident:
            assert await ident.block("email", "vip@shop.io") is True
            listed = await ident.blocked_values()
            assert BlockedValue in {type(e) for e in listed}
            c = await ident.identify(email="vip@shop.io", phone_number="5550100")
            assert c.ignored == [Ignored("email", "blocked")]
            with pytest.raises(BlockedValueError):
                await ident.identify(email="VIP@shop.io")
            assert await ident.unblock("email", "vip@shop.io") is True
            assert (await ident.identify(email="vip@shop.io")).ignored == []

    asyncio.run(run())


def test_threads_identifying_while_values_are_blocked_never_cross_a_block(pg_url: str) -> None:
    ident = Identity(pg_url, max_connections=8)
    screened: list[tuple[str | None, str | None]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def identify(offset: int) -> None:
        try:
            for i in range(60):
                email, phone = f"e{(i * 7 + offset) % 6}@x.io", f"555{(i + offset) % 6:04d}"
                try:
                    c = ident.identify(email=email, phone_number=phone)
                except BlockedValueError:
                    continue
                fields = {x.field for x in c.ignored}
                with lock:
                    screened.append((None if "email" in fields else email, None if "phone_number" in fields else phone))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=identify, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    frozen = {}
    for value in ["e0@x.io", "e1@x.io", "5550002", "5550003"]:
        kind = "email" if "@" in value else "phone"
        assert ident.block(kind, value) is True
        frozen[value] = carrying(pg_url, value)
    for t in threads:
        t.join()
    assert errors == []
    for value, before in frozen.items():
        assert carrying(pg_url, value) == before, f"{value} stored after its block"
    assert_oracle(pg_url, screened)
    assert ident.verify().clean
    ident.close()
