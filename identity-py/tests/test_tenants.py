"""Tenants through the binding: `ident.tenant(id)` gives a cheap handle on the same store whose
calls see only that tenant's customers; threads storming several tenants with identical values
keep each tenant whole and apart (checked by the shared oracle and `verify` per tenant)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import assert_oracle, workload

from identity_reconciliation import AsyncIdentity, ClosedError, Identity, InvalidInputError

TENANTS = ["default", "shop-a", "shop.b"]


def test_the_same_values_in_two_tenants_are_two_customers() -> None:
    with Identity("memory:") as ident:
        a, b = ident.tenant("shop-a"), ident.tenant("shop-b")
        assert (ident.tenant_id, a.tenant_id, b.tenant_id) == ("default", "shop-a", "shop-b")
        first = a.identify(email="doc@x.io", phone_number="1")
        second = a.identify(email="marty@x.io", phone_number="1")
        assert second.secondary_contact_ids != []
        assert b.lookup(email="doc@x.io") is None and ident.lookup(phone_number="1") is None
        in_b = b.identify(email="doc@x.io", phone_number="1")
        assert in_b.primary_contact_id != first.primary_contact_id and in_b.secondary_contact_ids == []
        assert (a.verify().rows, b.verify().rows, ident.verify().rows) == (2, 1, 0)
        assert a.lookup(email="doc@x.io") == second


@pytest.mark.parametrize("bad", ["", "shop 42", "a/b", "x" * 65, 42, None])
def test_a_bad_tenant_id_is_invalid_input_naming_tenant(bad: object) -> None:
    with Identity("memory:") as ident:
        with pytest.raises(InvalidInputError) as e:
            ident.tenant(bad)  # type: ignore[arg-type]
        assert e.value.field == "tenant"


def test_closing_any_handle_closes_the_store_for_every_tenant() -> None:
    ident = Identity("memory:")
    shop = ident.tenant("shop-a")
    shop.close()
    assert ident.closed and shop.closed
    with pytest.raises(ClosedError):
        ident.identify(email="a@x.io")


def test_threads_over_tenants_sharing_every_value_keep_each_tenant_apart(pg_url: str) -> None:
    ident = Identity(pg_url, max_connections=8)
    requests = [workload(seed, 120) for seed in range(3)]
    errors: list[BaseException] = []

    def run(tenant: str, batch: list[tuple[str | None, str | None]]) -> None:
        scoped = ident.tenant(tenant)
        try:
            for email, phone in batch:
                scoped.identify(email=email, phone_number=phone)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t, batch)) for t in TENANTS for batch in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    every = [r for batch in requests for r in batch]
    assert_oracle(pg_url, tenants={t: every for t in TENANTS})
    for tenant in TENANTS:
        report = ident.tenant(tenant).verify()
        assert report.clean, f"{tenant}: {report}"
    ident.close()


def test_async_tenant_handles() -> None:
    async def main() -> None:
        async with await AsyncIdentity.connect("sqlite::memory:") as ident:
            a = ident.tenant("shop-a")
            assert a.tenant_id == "shop-a"
            await a.identify(email="doc@x.io")
            assert await ident.lookup(email="doc@x.io") is None
            assert (await a.lookup(email="doc@x.io")) is not None
            with pytest.raises(InvalidInputError):
                ident.tenant("no spaces")

    asyncio.run(main())
