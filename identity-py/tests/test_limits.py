"""Per-customer caps through the binding: values past a cap left out and merges past one
withheld (reason "limit"), the caps as settings, bad caps refused with their own field, and the
async twin."""

from __future__ import annotations

import asyncio

import pytest

from identity_reconciliation import AsyncIdentity, Identity, InvalidInputError, Limits


def test_caps_leave_values_out_and_withhold_merges(store_url: str) -> None:
    with Identity(store_url) as ident:
        assert ident.settings().limits.to_dict() == {"emails": None, "phones": None}
        settings = ident.set_limits(emails=2, phones=1)
        assert isinstance(settings.limits, Limits)
        assert (settings.limits.emails, settings.limits.phones) == (2, 1)
        assert settings.to_dict()["limits"] == {"emails": 2, "phones": 1}
        assert "limits=Limits(emails=2, phones=1)" in repr(settings)
        assert ident.settings() == settings
        doc = ident.identify(email="a@x.io", phone_number="1").primary_contact_id
        c = ident.identify(email="a@x.io", phone_number="2")
        assert [i.to_dict() for i in c.ignored] == [{"field": "phoneNumber", "reason": "limit"}]
        assert c.phone_numbers == ["1"]
        biff = ident.identify(email="z@x.io", phone_number="9").primary_contact_id
        c = ident.identify(email="z@x.io", phone_number="1")
        assert (c.primary_contact_id, c.ignored[0].reason) == (biff, "limit")
        assert ident.tenant("other").settings().limits.emails is None
        ident.set_limits()
        assert ident.identify(email="z@x.io", phone_number="1").primary_contact_id == doc
        assert ident.verify().clean


def test_bad_caps_raise_naming_limits() -> None:
    with Identity("memory:") as ident:
        for bad in ({"emails": 0}, {"phones": -1}, {"emails": 2_000_000}, {"emails": True}, {"phones": "3"}, {"emails": 1.5}):
            with pytest.raises(InvalidInputError) as invalid:
                ident.set_limits(**bad)  # type: ignore[arg-type]
            assert invalid.value.field == "limits", bad
        with pytest.raises(TypeError):
            ident.set_limits(2)  # type: ignore[misc]
        assert ident.settings().limits.to_dict() == {"emails": None, "phones": None}


def test_async_set_limits() -> None:
    async def main() -> None:
        async with await AsyncIdentity.connect("memory:") as ident:
            settings = await ident.set_limits(phones=1)
            assert settings.limits.phones == 1
            await ident.identify(email="a@x.io", phone_number="1")
            c = await ident.identify(email="a@x.io", phone_number="2")
            assert c.ignored[0].reason == "limit"
            with pytest.raises(InvalidInputError):
                await ident.set_limits(emails=0)

    asyncio.run(main())
