"""verify and rebuild: the derived records against the rows, and rows changed in SQL behind the
library's back, in the sync and asyncio APIs."""

from __future__ import annotations

import asyncio

import psycopg

from identity_reconciliation import AsyncIdentity, Identity, Problem, RebuildReport, VerifyReport

CHAINED_ROW = """INSERT INTO contact (email, linked_id, link_precedence, created_at, updated_at)
                 VALUES ('c@x.io', 2, 'secondary', now(), now())"""


def test_verify_reports_rows_changed_in_sql_until_rebuild_repairs_them(pg_url: str) -> None:
    with Identity(pg_url) as ident:
        ident.identify(email="a@x.io", phone_number="1")
        ident.identify(email="b@x.io", phone_number="1")
        report = ident.verify()
        assert isinstance(report, VerifyReport)
        assert (report.rows, report.customers, report.clean, bool(report), report.problems) == (2, 1, True, True, [])

        with psycopg.connect(pg_url, autocommit=True) as sql:
            sql.execute(CHAINED_ROW)  # 3 -> 2: a secondary linked to a secondary
        report = ident.verify()
        assert not report.clean and not report
        assert {"broken_link", "pending_changes"} <= {p.code for p in report.problems}
        assert all(isinstance(p, Problem) and p.message for p in report.problems)
        assert "I2: row 3 links to 2, which is not a visible primary" in str(report)

        rebuilt = ident.rebuild()
        assert isinstance(rebuilt, RebuildReport)
        assert (rebuilt.rows, rebuilt.customers, rebuilt.relinked) == (3, 1, [3])
        assert ident.verify().clean


def test_a_soft_delete_in_sql_shows_in_the_next_answer(pg_url: str) -> None:
    with Identity(pg_url) as ident:
        ident.identify(email="a@x.io", phone_number="1")
        ident.identify(email="b@x.io", phone_number="1")
        with psycopg.connect(pg_url, autocommit=True) as sql:
            sql.execute("UPDATE contact SET deleted_at = now() WHERE id = 2")
        assert ident.identify(email="a@x.io").emails == ["a@x.io"]
        assert ident.verify().clean


def test_async_verify_and_rebuild() -> None:
    async def main() -> None:
        async with await AsyncIdentity.connect("sqlite::memory:") as ident:
            await ident.identify(email="a@x.io", phone_number="1")
            await ident.identify(email="b@x.io", phone_number="2")
            await ident.identify(email="a@x.io", phone_number="2")
            report = await ident.verify()
            assert (report.rows, report.customers, report.clean) == (2, 1, True)
            rebuilt = await ident.rebuild()
            assert (rebuilt.rows, rebuilt.customers, rebuilt.relinked) == (2, 1, [])

    asyncio.run(main())


def test_ping_answers_while_open_and_refuses_after_close(pg_url: str) -> None:
    from identity_reconciliation import ClosedError

    ident = Identity(pg_url)
    assert ident.ping() is None
    ident.close()
    try:
        ident.ping()
        raise AssertionError("ping after close must raise")
    except ClosedError:
        pass

    async def main() -> None:
        aident = await AsyncIdentity.connect("sqlite::memory:")
        assert await aident.ping() is None
        assert await aident.close() is None

    asyncio.run(main())
