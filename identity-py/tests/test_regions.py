"""Phone regions through the binding: `set_phone_region` makes a tenant read its numbers with
libphonenumber's rules and store them in E.164; bad numbers and bad codes are `InvalidInputError`
naming the field; a change once the tenant has contacts is `ConflictError` and changes nothing;
threads identifying while another sets the region leave the tenant under one rule (the shared
oracle checks I1-I4 in SQL, `verify` the derived records)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import assert_oracle

from identity_reconciliation import (
    AsyncIdentity,
    ConflictError,
    IdentityError,
    Identity,
    InvalidInputError,
    TenantSettings,
)

SPELLINGS = ["098765 43210", "+91 98765 43210", "9876543210", 9876543210]


def test_a_tenant_with_a_region_reads_every_spelling_as_one_number(store_url: str) -> None:
    with Identity(store_url) as ident:
        shop = ident.tenant("shop-in")
        settings = shop.set_phone_region("in")
        assert isinstance(settings, TenantSettings)
        assert (settings.tenant_id, settings.phone_region) == ("shop-in", "IN")
        no_caps = {"emails": None, "phones": None}
        assert settings.to_dict() == {"tenantId": "shop-in", "phoneRegion": "IN", "limits": no_caps}
        assert repr(settings) == "TenantSettings(tenant_id='shop-in', phone_region='IN', limits=Limits(emails=None, phones=None))"
        assert shop.settings() == settings
        answers = {shop.identify(email=f"p{i}@x.io", phone_number=p).primary_contact_id for i, p in enumerate(SPELLINGS)}
        assert len(answers) == 1
        found = shop.lookup(phone_number="09876543210")
        assert found is not None and found.phone_numbers == ["+919876543210"]
        # the default tenant has no region: the plain rules
        assert ident.settings().phone_region is None
        assert ident.identify(phone_number="098765 43210").phone_numbers == ["09876543210"]
        assert shop.verify().clean and ident.verify().clean


def test_invalid_numbers_and_codes_name_their_field_and_write_nothing() -> None:
    with Identity("memory:") as ident:
        shop = ident.tenant("shop-us")
        shop.set_phone_region("US")
        with pytest.raises(InvalidInputError, match="is not a valid number in region US") as e:
            shop.identify(email="a@x.io", phone_number="555 0123")
        assert e.value.field == "phone_number"
        with pytest.raises(InvalidInputError) as e:
            shop.set_phone_region("XX")
        assert e.value.field == "phone_region"
        with pytest.raises(InvalidInputError, match="must be a str") as e:
            shop.set_phone_region(1)  # type: ignore[arg-type]
        assert e.value.field == "phone_region"
        assert shop.verify().rows == 0
        assert shop.settings().phone_region == "US"


def test_the_region_changes_only_while_the_tenant_has_no_contacts() -> None:
    with Identity("memory:") as ident:
        shop = ident.tenant("shop-gb")
        assert shop.set_phone_region("US").phone_region == "US"
        assert shop.set_phone_region(None).phone_region is None
        shop.set_phone_region("GB")
        shop.identify(phone_number="020 7946 0958")
        assert shop.set_phone_region("gb").phone_region == "GB"  # the same: a no-op
        for other in ["US", None]:
            with pytest.raises(ConflictError, match="^conflict: tenant shop-gb already has contacts") as e:
                shop.set_phone_region(other)
            assert isinstance(e.value, IdentityError) and not isinstance(e.value, ValueError)
        assert shop.settings().phone_region == "GB"


def test_async_settings() -> None:
    async def main() -> None:
        async with await AsyncIdentity.connect("sqlite::memory:") as ident:
            shop = ident.tenant("shop-in")
            assert (await shop.settings()).phone_region is None
            assert (await shop.set_phone_region("IN")).phone_region == "IN"
            c = await shop.identify(phone_number="098765 43210")
            assert c.phone_numbers == ["+919876543210"]
            with pytest.raises(ConflictError):
                await shop.set_phone_region("US")
            with pytest.raises(InvalidInputError) as e:
                await shop.identify(phone_number="12345")
            assert e.value.field == "phone_number"

    asyncio.run(main())


def test_threads_identifying_while_the_region_is_set_leave_one_rule(pg_url: str) -> None:
    ident = Identity(pg_url, max_connections=8)
    outcomes = []
    for round in range(6):
        shop = ident.tenant(f"storm-{round}")
        errors: list[BaseException] = []
        results: list[object] = []

        def identify(offset: int) -> None:
            try:
                for i in range(16):
                    k = (i + offset) % 4
                    phone = [f"0{9876543210 + k}", f"+91 {9876543210 + k}", str(9876543210 + k)][(i + offset) % 3]
                    shop.identify(email=f"e{(i * 3 + offset) % 5}@x.io", phone_number=phone)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        def set_region() -> None:
            try:
                results.append(shop.set_phone_region("IN"))
            except ConflictError as e:
                results.append(e)

        threads = [threading.Thread(target=set_region)] + [threading.Thread(target=identify, args=(o,)) for o in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        (result,) = results
        region = shop.settings().phone_region
        assert (region == "IN") == isinstance(result, TenantSettings), (region, result)
        if region == "IN":
            phones = {p for c in [shop.lookup(email=f"e{i}@x.io") for i in range(5)] if c for p in c.phone_numbers}
            assert phones and all(p.startswith("+9198765432") for p in phones), phones
        report = shop.verify()
        assert report.clean, f"{round}: {report}"
        outcomes.append(region)
    assert_oracle(pg_url)
    ident.close()
