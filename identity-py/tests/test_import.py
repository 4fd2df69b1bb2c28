"""Import and export through the binding: the import equals replaying the checkouts through
`identify`, every spelling of a time Python has, malformed checkouts refused by index (nothing
written under abort), the errors (each its own class and field), the async twin, and threads
importing into tenants while others identify into them, after which the shared oracle checks
the invariants in SQL and each tenant's customers against a union-find, and `verify` is clean."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import threading
from typing import Any

import pytest

from conftest import assert_oracle, rows, workload
from identity_reconciliation import (
    AsyncIdentity,
    ConflictError,
    Contact,
    ContactRow,
    Identity,
    ImportReport,
    InvalidInputError,
    Rejected,
)

T0 = datetime.datetime(2019, 3, 1, 10, 0, tzinfo=datetime.timezone.utc)


def checkouts_of(requests: list[tuple[str | None, str | None]]) -> list[dict[str, Any]]:
    """The requests as checkouts a minute apart, in order."""
    return [
        {"email": e, "phone_number": p, "at": T0 + datetime.timedelta(minutes=i)} for i, (e, p) in enumerate(requests)
    ]


def test_an_import_equals_replaying_the_checkouts_through_identify(store_url: str) -> None:
    requests = workload(seed=7, count=120)
    with Identity("memory:") as replayed:
        for e, p in requests:
            replayed.identify(email=e, phone_number=p)
        expected = replayed.customers()
    with Identity(store_url) as ident:
        report = ident.import_checkouts(checkouts_of(requests))
        assert isinstance(report, ImportReport)
        assert report.written and report.checkouts == 120 and report.rejected == 0
        customers = ident.customers()
        assert all(isinstance(c, Contact) for c in customers)
        assert customers == expected
        assert report.customers == len(expected)
        assert report.rows == len(rows(store_url))
        assert (report.first_id, report.last_id) == (1, report.rows)
        assert report.largest_customer == max(1 + len(c.secondary_contact_ids) for c in expected)
        assert ident.verify().clean
        # the imported customers answer as if they had been identified online
        e, p = requests[-1]
        assert ident.lookup(email=e, phone_number=p) == replayed_lookup(requests, e, p)


def replayed_lookup(requests: list[tuple[str | None, str | None]], e: str | None, p: str | None) -> Contact | None:
    with Identity("memory:") as again:
        for email, phone in requests:
            again.identify(email=email, phone_number=phone)
        return again.lookup(email=e, phone_number=p)


def test_every_spelling_of_a_time_and_a_phone_number_reads_as_online() -> None:
    naive = datetime.datetime(2020, 1, 1, 9, 0)  # no offset: UTC
    checkouts: list[dict[str, Any]] = [
        {"email": "late@x.io", "phone_number": 5550101, "at": "2021-06-01T00:00:00+02:00"},
        {"email": "doc@x.io", "phone_number": "555-0101", "at": datetime.date(2019, 1, 1)},
        {"email": "naive@x.io", "at": naive},
        {"email": "float@x.io", "phoneNumber": "5550202", "at": 1577869200.5},  # 2020-01-01 09:00:00.5
        {"email": "unix@x.io", "at": 1577869200},
        {"email": "Doc@X.io", "phoneNumber": "5550202", "at": "2022-01-01 00:00:00+00"},
    ]
    with Identity("memory:") as ident:
        report = ident.import_checkouts(checkouts)
        assert (report.checkouts, report.rows, report.customers, report.merges) == (6, 5, 3, 1)
        by_email = {c.emails[0]: c for c in ident.customers()}
        assert by_email["doc@x.io"].emails == ["doc@x.io", "float@x.io", "late@x.io"]
        assert by_email["doc@x.io"].phone_numbers == ["5550101", "5550202"]
        # ids follow time order: the date first, then naive (09:00 UTC) before unix (09:00) by
        # input order, then the float half a second later
        assert by_email["naive@x.io"].primary_contact_id == 2
        assert by_email["unix@x.io"].primary_contact_id == 3
        assert report.to_dict()["ignored"] == {"blocked": 0, "suppressed": 0}
        assert "ImportReport(checkouts=6, rows=5" in repr(report)
        # the rows keep their checkouts' times, in UTC, and the task's Contact shape
        rows = ident.all_contacts()
        assert all(isinstance(r, ContactRow) for r in rows)
        assert [r.id for r in rows] == [1, 2, 3, 4, 5]
        assert rows[1].created_at == naive.replace(tzinfo=datetime.timezone.utc) == rows[1].updated_at
        assert rows[3].created_at == datetime.datetime(2020, 1, 1, 9, 0, 0, 500000, tzinfo=datetime.timezone.utc)
        assert (rows[4].email, rows[4].linked_id, rows[4].link_precedence) == ("late@x.io", 1, "secondary")
        assert rows[4].to_dict() == {
            "id": 5,
            "email": "late@x.io",
            "phoneNumber": "5550101",
            "linkedId": 1,
            "linkPrecedence": "secondary",
            "createdAt": "2021-05-31T22:00:00Z",
            "updatedAt": "2021-05-31T22:00:00Z",
        }
        assert repr(rows[2]) == "ContactRow(id=3, email='unix@x.io', phone_number=None, linked_id=None, link_precedence='primary')"


def test_malformed_checkouts_abort_by_index_or_are_skipped(store_url: str) -> None:
    checkouts: list[Any] = [
        {"email": "a@x.io", "at": "2020-01-01"},
        {"email": "nope", "at": "2020-01-02"},
        ("a@x.io", "2020-01-03"),  # not a mapping
        {"email": "b@x.io"},
        {"email": "c@x.io", "at": "soon"},
        {"email": "d@x.io", "phone_number": True, "at": "2020-01-04"},
    ]
    with Identity(store_url) as ident:
        with pytest.raises(InvalidInputError) as refused:
            ident.import_checkouts(checkouts)
        assert refused.value.field == "checkouts"
        message = str(refused.value)
        assert message.startswith("invalid checkouts: 5 checkouts refused, nothing imported: record 1: invalid email")
        assert "record 2: not an object" in message and "record 3: missing time" in message
        assert rows(store_url) == []
        dry = ident.import_checkouts(checkouts, on_error="skip", dry_run=True)
        assert (dry.written, dry.rows, dry.first_id) == (False, 1, None)
        assert rows(store_url) == []
        report = ident.import_checkouts(checkouts, on_error="skip")
        assert (report.written, report.rows, report.rejected) == (True, 1, 5)
        assert [r.record for r in report.first_rejected] == [1, 2, 3, 4, 5]
        assert isinstance(report.first_rejected[2], Rejected)
        assert report.first_rejected[2].reason == "missing time"
        assert repr(report.first_rejected[2]) == "Rejected(record=3, reason='missing time')"
        assert [r[0] for r in rows(store_url)] == [1]
        with pytest.raises(ConflictError, match="already has 1 contact row"):
            ident.import_checkouts([{"email": "e@x.io", "at": 0}])
        assert ident.verify().clean


@pytest.mark.parametrize(
    ("checkouts", "options", "field"),
    [
        (5, {}, "checkouts"),
        ("a@x.io", {}, "checkouts"),
        ({"email": "a@x.io", "at": 0}, {}, "checkouts"),
        ([{"email": "a@x.io", "at": decimal.Decimal(1)}], {}, "checkouts"),
        ([{"email": ["a@x.io"], "at": 0}], {}, "checkouts"),
        ([], {"on_error": "never"}, "on_error"),
        ([], {"on_error": 1}, "on_error"),
    ],
)
def test_bad_arguments_are_refused_with_their_field(checkouts: Any, options: dict[str, Any], field: str) -> None:
    with Identity("memory:") as ident:
        with pytest.raises(InvalidInputError) as refused:
            ident.import_checkouts(checkouts, **options)
        assert refused.value.field == field, refused.value
        assert str(refused.value).startswith("invalid "), refused.value
        assert ident.customers() == []


def test_a_tenant_with_limits_is_refused() -> None:
    with Identity("memory:") as ident:
        capped = ident.tenant("capped")
        capped.set_limits(emails=3)
        with pytest.raises(ConflictError, match="per-customer limits"):
            capped.import_checkouts([{"email": "a@x.io", "at": 0}])
        assert ident.tenant("other").import_checkouts([{"email": "a@x.io", "at": 0}]).rows == 1


def test_the_async_twin_imports_and_exports(store_url: str) -> None:
    requests = workload(seed=3, count=60)

    async def run() -> tuple[ImportReport, list[Contact]]:
        async with await AsyncIdentity.connect(store_url) as ident:
            report = await ident.import_checkouts(checkouts_of(requests), on_error="skip")
            with pytest.raises(ConflictError):
                await ident.import_checkouts(checkouts_of(requests))
            assert (await ident.verify()).clean
            return report, await ident.customers()

    report, customers = asyncio.run(run())
    with Identity("memory:") as replayed:
        for e, p in requests:
            replayed.identify(email=e, phone_number=p)
        assert customers == replayed.customers()
    assert report.rows == sum(1 + len(c.secondary_contact_ids) for c in customers)


def test_threads_importing_while_others_identify_keep_every_invariant(pg_url: str) -> None:
    tenants = [f"shop-{i}" for i in range(4)]
    checkouts = {t: workload(seed=10 + i, count=150) for i, t in enumerate(tenants)}
    racing = {t: workload(seed=20 + i, count=30) for i, t in enumerate(tenants)}
    imported: dict[str, bool] = {}
    with Identity(pg_url) as ident:

        def load(tenant: str) -> None:
            try:
                ident.tenant(tenant).import_checkouts(checkouts_of(checkouts[tenant]))
                imported[tenant] = True
            except ConflictError:  # a racing identify wrote first
                imported[tenant] = False

        def race(tenant: str) -> None:
            for e, p in racing[tenant]:
                ident.tenant(tenant).identify(email=e, phone_number=p)

        threads = [threading.Thread(target=load, args=(t,)) for t in tenants]
        threads += [threading.Thread(target=race, args=(t,)) for t in tenants[::2]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(imported) == len(tenants)
        assert all(imported[t] for t in tenants[1::2]), "no one raced these"
        sent = {
            t: (checkouts[t] if imported[t] else []) + (racing[t] if t in tenants[::2] else []) for t in tenants
        }
        assert_oracle(pg_url, tenants=sent)
        for t in tenants:
            assert ident.tenant(t).verify().clean, t
