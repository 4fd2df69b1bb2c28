"""Every file in tests/vectors, replayed through the sync and the async API on SQLite and
PostgreSQL, checking answers, errors (class and field), created rows and the table."""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import Mapping
from typing import Any

import pytest
from conftest import VECTOR_FILES, load_vector, rows

from identity_reconciliation import (
    AsyncIdentity,
    BlockedValueError,
    ConflictError,
    Identity,
    IdentityError,
    InvalidInputError,
    NotFoundError,
    TenantSettings,
    sign_webhook,
)

FIELD = {
    "email": "email",
    "phoneNumber": "phone_number",
    "request": "request",
    "tenant": "tenant",
    "phoneRegion": "phone_region",
    "kind": "kind",
    "value": "value",
    "pattern": "pattern",
    "contactIds": "contact_ids",
    "checkouts": "checkouts",
    "table": "table",
    "onError": "on_error",
    "erasures": "erasures",
    "after": "after",
    "limit": "limit",
    "url": "url",
    "types": "types",
}

BLOCKED_STEPS = ("list", "block", "unblock")


def entry_arguments(wire: dict[str, Any]) -> dict[str, Any]:
    return {"kind": wire.get("kind"), "value": wire.get("value"), "pattern": wire.get("pattern")}


def check_error(step: dict[str, Any], outcome: Any, at: str) -> None:
    """A step's `error`: the exception class for its code, and the field at fault."""
    code = step["error"]["code"]
    if code in ("conflict", "not_found"):
        wanted = ConflictError if code == "conflict" else NotFoundError
        assert isinstance(outcome, wanted), f"{at}: expected {wanted.__name__}, got {outcome!r}"
        return
    if code == "blocked_value":
        assert isinstance(outcome, BlockedValueError), f"{at}: expected BlockedValueError, got {outcome!r}"
        assert str(outcome).startswith("blocked value: "), at
        assert outcome.fields, at
        return
    assert isinstance(outcome, InvalidInputError), f"{at}: expected InvalidInputError, got {outcome!r}"
    assert outcome.field == FIELD[step["error"]["field"]], at
    assert str(outcome).startswith("invalid "), at


def check_blocked(step: dict[str, Any], outcome: Any, before: list[Any], after: list[Any], at: str) -> None:
    """A blocked-list step (`list`, `block`, `unblock`): its `result`, or its `error` (which
    changes nothing)."""
    if "error" in step:
        check_error(step, outcome, at)
        assert after == before, f"{at}: a refused change changed the list"
        return
    if "list" in step:
        assert [e.to_dict() for e in outcome] == step["result"], at
    else:
        assert outcome is step["result"], f"{at}: {outcome!r}"


def check_history(step: dict[str, Any], outcome: Any, at: str) -> None:
    """A `history` step: its `result` (events compared without their times) or `not_found`."""
    if "error" in step:
        assert step["error"]["code"] == "not_found", at
        assert isinstance(outcome, NotFoundError), f"{at}: expected NotFoundError, got {outcome!r}"
        return
    wire = outcome.to_dict()
    for event in wire["events"]:
        del event["at"]
    assert wire == step["result"], at


def check_customer(step: dict[str, Any], outcome: Any, at: str) -> None:
    """A `customer` step: its `result` (rows compared without their times) or `not_found`."""
    if "error" in step:
        assert step["error"]["code"] == "not_found", at
        assert isinstance(outcome, NotFoundError), f"{at}: expected NotFoundError, got {outcome!r}"
        return
    wire = outcome.to_dict()
    assert wire["customerId"] == outcome.customer_id, at
    for row in wire["rows"]:
        assert isinstance(row.pop("createdAt"), str) and isinstance(row.pop("updatedAt"), str), at
    assert wire == step["result"], at
    assert [r.id for r in outcome.rows] == [r["id"] for r in step["result"]["rows"]], at


def events_arguments(step: dict[str, Any]) -> dict[str, Any]:
    wire = step["events"]
    return {"after": wire.get("after"), "limit": wire.get("limit", 100)}


def check_events(step: dict[str, Any], outcome: Any, at: str) -> None:
    """An `events` step: the page's `result` (each event's type, tenant and data; its id,
    occurredAt and cursor strings; next the last cursor) or its `error`."""
    if "error" in step:
        check_error(step, outcome, at)
        return
    wire = outcome.to_dict()
    for event in wire["events"]:
        assert all(isinstance(event.pop(key), str) for key in ("id", "occurredAt", "cursor")), at
    nxt = wire.pop("next")
    if outcome.events:
        assert nxt == outcome.events[-1].cursor, at
    assert wire == step["result"], at


def webhook_call(handle: Any, wire: dict[str, Any]) -> tuple[Any, bool]:
    """A `webhook` step's call on `handle` (sync or async): what it returns, and whether it
    creates (the one answer with a secret)."""
    if "create" in wire:
        return handle.create_webhook(wire["create"]["url"], wire["create"].get("types")), True
    if "list" in wire:
        return handle.webhooks(), False
    if "deliveries" in wire:
        return handle.webhook_deliveries(wire["deliveries"], wire.get("limit", 100)), False
    if "replay" in wire:
        return handle.replay_webhook(wire["replay"], wire.get("after")), False
    return handle.delete_webhook(wire["delete"]), False


def comparable_webhook(wire: Any, created: bool, at: str) -> Any:
    """A webhook's wire shape as a vector states it (see tests/vectors/README.md)."""
    if isinstance(wire, list):
        return [comparable_webhook(w, False, at) for w in wire]
    if wire is None or "eventId" in wire:
        return wire
    assert isinstance(wire.pop("id"), int), at
    assert isinstance(wire.pop("createdAt"), str) and isinstance(wire.pop("nextAttemptAt"), str), at
    secret = wire.pop("secret", None)
    assert (secret is not None and secret.startswith("whsec_")) if created else secret is None, at
    return wire


def check_webhook(step: dict[str, Any], outcome: Any, created: bool, at: str) -> None:
    """A `webhook` step: its `result` or its `error`."""
    if "error" in step:
        check_error(step, outcome, at)
        return
    assert not isinstance(outcome, Exception), f"{at}: {outcome!r}"
    wire = [o.to_dict() for o in outcome] if isinstance(outcome, list) else (outcome and outcome.to_dict())
    assert comparable_webhook(wire, created, at) == step["result"], at


def check_signature(step: dict[str, Any], at: str) -> None:
    wire = step["signature"]
    signed = sign_webhook(wire["secret"], wire["id"], wire["timestamp"], wire["body"].encode())
    assert signed == step["result"], at


def split_arguments(step: dict[str, Any]) -> dict[str, Any]:
    wire = step["split"]
    return {
        "customer": wire["customer"],
        "contact_ids": wire["contactIds"],
        "block_shared": wire.get("blockShared", False),
    }


def check_split(step: dict[str, Any], outcome: Any, before: list[Any], after: list[Any], at: str) -> None:
    """A `split` step: its `result` (the wire shape) and `table`, or its `error` (no row changes)."""
    if "error" in step:
        check_error(step, outcome, at)
        assert after == before, f"{at}: a refused split changed the table"
        return
    assert not isinstance(outcome, BaseException), f"{at}: {outcome!r}"
    assert outcome.to_dict() == step["result"], at
    assert outcome.new_customer.primary_contact_id == step["result"]["newCustomer"]["primaryContactId"], at
    if "table" in step:
        assert [(r[0], r[1]) for r in after] == [(t["id"], t["linkedId"]) for t in step["table"]], at


def check_erase(step: dict[str, Any], outcome: Any, before: list[Any], after: list[Any], at: str) -> None:
    """An `erase` step: its `result` (the receipt's wire shape without `erasedAt`) and `table`,
    or its `error` (no row changes)."""
    if "error" in step:
        check_error(step, outcome, at)
        assert after == before, f"{at}: a refused erase changed the table"
        return
    assert not isinstance(outcome, BaseException), f"{at}: {outcome!r}"
    wire = outcome.to_dict()
    erased_at = wire.pop("erasedAt")
    assert erased_at.startswith(outcome.erased_at.strftime("%Y-%m-%dT%H:%M:%S")), f"{at}: {erased_at}"
    assert wire == step["result"], at
    assert outcome.contact_ids == step["result"]["contactIds"], at
    if "table" in step:
        assert [(r[0], r[1]) for r in after] == [(t["id"], t["linkedId"]) for t in step["table"]], at


def record_as_vector(record: dict[str, Any], tenant: str, at: str) -> dict[str, Any]:
    """An erasure record as vectors compare it, after checking its tenant and that it has a
    time: `{customerId, contactIds, suppressed, rows: [ids], digests: [kinds]}`."""
    assert record["tenantId"] == tenant, f"{at}: wrong tenant in {record}"
    assert isinstance(record["erasedAt"], str), f"{at}: no erasedAt in {record}"
    json.dumps(record)  # JSON-ready: one line of a log
    return {
        "customerId": record["customerId"],
        "contactIds": record["contactIds"],
        "suppressed": record["suppressed"],
        "rows": [r["id"] for r in record["rows"]],
        "digests": [d["kind"] for d in record["digests"]],
    }


def check_erasures(step: dict[str, Any], outcome: list[dict[str, Any]], at: str) -> None:
    """An `erasures` step: the tenant's records, oldest first, as `record_as_vector` shows them."""
    tenant = step.get("tenant", "default")
    assert [record_as_vector(r, tenant, at) for r in outcome] == step["result"], f"{at}: {outcome}"


def check_reapply(
    step: dict[str, Any], outcome: Any, before: list[Any], after: list[Any], listed: Any, listed_after: Any, at: str
) -> None:
    """A `reapply` step: the report's wire shape and `table`, or its `error` (no row changes, and
    the records are not read back as erasures)."""
    if "error" in step:
        check_error(step, outcome, at)
        assert after == before, f"{at}: a refused reapply changed the table"
        assert listed_after == listed, f"{at}: a refused reapply kept a record"
        return
    assert not isinstance(outcome, BaseException), f"{at}: {outcome!r}"
    result = step["result"]
    assert outcome.to_dict() == result, at
    assert (outcome.records, outcome.applied, outcome.already_erased, outcome.suppressed) == (
        result["records"],
        result["applied"],
        result["alreadyErased"],
        result["suppressed"],
    ), at
    assert (outcome.erased_ids, outcome.reused_ids) == (result["erasedIds"], result["reusedIds"]), at
    if "table" in step:
        assert [(r[0], r[1]) for r in after] == [(t["id"], t["linkedId"]) for t in step["table"]], at


def import_call(handle: Any, step: dict[str, Any]) -> Any:
    """An `import` step's call: its checkouts (as the wire spells them: `phoneNumber`), or an
    existing table's rows (`table`, in its column names), and options."""
    wire = step["import"]
    options = {"on_error": wire.get("onError"), "dry_run": wire.get("dryRun", False)}
    if "table" in wire:
        return handle.import_table_rows(wire["table"], renumber=wire.get("renumber", False), **options)
    return handle.import_checkouts(wire["checkouts"], **options)


def check_import(step: dict[str, Any], outcome: Any, before: list[Any], after: list[Any], at: str) -> None:
    """An `import` step: the report's wire shape and `table`, or its `error` (nothing written)."""
    if "error" in step:
        check_error(step, outcome, at)
        assert after == before, f"{at}: a refused import wrote"
        return
    assert not isinstance(outcome, BaseException), f"{at}: {outcome!r}"
    assert outcome.to_dict() == step["result"], at
    assert (outcome.rows, outcome.rejected, outcome.written) == (
        step["result"]["rows"],
        step["result"]["rejected"],
        step["result"]["written"],
    ), at
    assert [(r.record, r.id) for r in outcome.first_rejected] == [
        (r.get("record"), r.get("id")) for r in step["result"]["firstRejected"]
    ], at
    if "table" in step:
        assert [(r[0], r[1]) for r in after] == [(t["id"], t["linkedId"]) for t in step["table"]], at


def check_export(step: dict[str, Any], outcome: Any, at: str) -> None:
    """An `export` step: every customer in the `contact` wire shape, by primary id."""
    assert [c.to_dict() for c in outcome] == step["result"], at


def check_contacts(step: dict[str, Any], outcome: Any, at: str) -> None:
    """A `contacts` step: every visible row in the wire shape (times there, then left out), by id."""
    wire = [r.to_dict() for r in outcome]
    for row, obj in zip(wire, outcome):
        assert isinstance(row.pop("createdAt"), str) and isinstance(row.pop("updatedAt"), str), at
        assert obj.created_at.tzinfo is not None, at
    assert wire == step["result"], at
    assert [(r.id, r.linked_id, r.link_precedence) for r in outcome] == [
        (r["id"], r["linkedId"], r["linkPrecedence"]) for r in step["result"]
    ], at


def response_of(contact: Any) -> dict[str, Any]:
    """The wire answer: `contact`, and `ignored` beside it when values were left out."""
    body: dict[str, Any] = {"contact": contact.to_dict()}
    if contact.ignored:
        body["ignored"] = [i.to_dict() for i in contact.ignored]
    return body


def arguments(request: dict[str, Any]) -> dict[str, Any]:
    return {"email": request.get("email"), "phone_number": request.get("phoneNumber")}


def scoped(ident: Any, step: dict[str, Any]) -> Any:
    """The handle for the step's tenant (absent: the default); raises for a bad tenant id."""
    return ident.tenant(step["tenant"]) if "tenant" in step else ident


def seen_tenant(step: dict[str, Any]) -> str:
    """Whose rows the step is checked against: its tenant's, the default's for a bad id."""
    tenant = step.get("tenant", "default")
    return tenant if step.get("error", {}).get("field") != "tenant" else "default"


def graphs(vector: dict[str, Any]) -> dict[str, dict[str, int]]:
    return vector.get("graphs") or {"default": vector["graph"]}


def check_step(url: str, step: dict[str, Any], before: list[Any], outcome: Any, at: str) -> None:
    after = rows(url, seen_tenant(step))
    if "error" in step:
        check_error(step, outcome, at)
        assert after == before, f"{at}: a refused request wrote"
        return
    assert not isinstance(outcome, BaseException), f"{at}: {outcome!r}"
    assert response_of(outcome) == step["response"], at
    created = [r for r in after if r not in before and r[0] not in {b[0] for b in before}]
    if step["creates"] is None:
        assert created == [], at
    else:
        expected = step["creates"]
        assert created == [(expected["id"], expected["linkedId"], expected["linkPrecedence"])], at
    if "table" in step:
        assert [(r[0], r[1]) for r in after] == [(t["id"], t["linkedId"]) for t in step["table"]], at


def check_settings(step: dict[str, Any], outcome: Any, read: Any, at: str) -> None:
    """A `settings` step: its `result` (also what reading the settings answers), or its `error`."""
    if "error" in step:
        if step["error"]["code"] == "conflict":
            assert isinstance(outcome, ConflictError), f"{at}: expected ConflictError, got {outcome!r}"
            assert str(outcome).startswith("conflict: "), at
        else:
            assert isinstance(outcome, InvalidInputError), f"{at}: expected InvalidInputError, got {outcome!r}"
            assert outcome.field == FIELD[step["error"]["field"]], at
        return
    assert isinstance(outcome, TenantSettings), f"{at}: {outcome!r}"
    assert outcome.phone_region == step["result"]["phoneRegion"], at
    assert read == outcome, f"{at}: {read!r} read back"
    assert outcome.tenant_id == step.get("tenant", "default"), at


def check_limits(step: dict[str, Any], before: Any, outcome: Any, read: Any, at: str) -> None:
    """A `limits` step: the caps as answered and read back, or its `error` (nothing changes)."""
    if "error" in step:
        assert isinstance(outcome, InvalidInputError), f"{at}: expected InvalidInputError, got {outcome!r}"
        assert outcome.field == "limits", at
        assert read == before, f"{at}: refused caps changed the settings"
        return
    assert isinstance(outcome, TenantSettings), f"{at}: {outcome!r}"
    assert outcome.limits.to_dict() == step["result"], at
    assert read == outcome, f"{at}: {read!r} read back"


def check_graph(graph: dict[str, int], verify: Any, rebuild: Any, verify_again: Any, at: str) -> None:
    """The file's `graph`: verify clean with its counts, rebuild relinking nothing, verify clean."""
    assert (verify.rows, verify.customers, verify.clean) == (graph["rows"], graph["customers"], True), f"{at}: {verify}"
    assert (rebuild.rows, rebuild.customers, rebuild.relinked) == (graph["rows"], graph["customers"], []), at
    assert verify_again.clean, f"{at}: {verify_again}"


def check_stats(step: dict[str, Any], before: Mapping[str, int], stats: Mapping[str, Any], at: str) -> None:
    """A stats step: the identify counts' change since the vector's first step."""
    counted = {outcome: n - before[outcome] for outcome, n in stats["identify"].items()}
    assert counted == step["result"]["identify"], at


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vectors_sync(store_url: str, path: pathlib.Path) -> None:
    vector = load_vector(path)
    with Identity(store_url) as ident:
        counted_before = ident.stats()["identify"]
        for i, step in enumerate(vector["steps"]):
            at = f"{path.name} step {i}"
            if "settings" in step:
                try:
                    outcome: Any = scoped(ident, step).set_phone_region(step["settings"]["phoneRegion"])
                except (ConflictError, InvalidInputError) as e:
                    outcome = e
                check_settings(step, outcome, scoped(ident, step).settings(), at)
                continue
            if "limits" in step:
                before_settings = scoped(ident, step).settings()
                try:
                    outcome = scoped(ident, step).set_limits(**step["limits"])
                except InvalidInputError as e:
                    outcome = e
                check_limits(step, before_settings, outcome, scoped(ident, step).settings(), at)
                continue
            if any(k in step for k in BLOCKED_STEPS):
                handle = scoped(ident, step)
                listed = handle.blocked_values()
                try:
                    if "list" in step:
                        outcome = listed
                    elif "block" in step:
                        outcome = handle.block(**entry_arguments(step["block"]))
                    else:
                        outcome = handle.unblock(**entry_arguments(step["unblock"]))
                except (InvalidInputError, ConflictError) as e:
                    outcome = e
                check_blocked(step, outcome, listed, handle.blocked_values(), at)
                continue
            if "history" in step:
                try:
                    outcome = scoped(ident, step).history(step["history"])
                except NotFoundError as e:
                    outcome = e
                check_history(step, outcome, at)
                continue
            if "customer" in step:
                try:
                    outcome = scoped(ident, step).customer(step["customer"])
                except NotFoundError as e:
                    outcome = e
                check_customer(step, outcome, at)
                continue
            if "events" in step:
                try:
                    outcome = scoped(ident, step).events(**events_arguments(step))
                except IdentityError as e:
                    outcome = e
                check_events(step, outcome, at)
                continue
            if "webhook" in step:
                try:
                    outcome, created = webhook_call(scoped(ident, step), step["webhook"])
                except IdentityError as e:
                    outcome, created = e, False
                check_webhook(step, outcome, created, at)
                continue
            if "signature" in step:
                check_signature(step, at)
                continue
            if "stats" in step:
                check_stats(step, counted_before, scoped(ident, step).stats(), at)
                continue
            if "split" in step:
                before = rows(store_url, seen_tenant(step))
                try:
                    outcome = scoped(ident, step).split(**split_arguments(step))
                except IdentityError as e:
                    outcome = e
                check_split(step, outcome, before, rows(store_url, seen_tenant(step)), at)
                continue
            if "import" in step:
                before = rows(store_url, seen_tenant(step))
                try:
                    outcome = import_call(scoped(ident, step), step)
                except IdentityError as e:
                    outcome = e
                check_import(step, outcome, before, rows(store_url, seen_tenant(step)), at)
                continue
            if "export" in step:
                check_export(step, scoped(ident, step).customers(), at)
                continue
            if "contacts" in step:
                check_contacts(step, scoped(ident, step).all_contacts(), at)
                continue
            if "erasures" in step:
                check_erasures(step, scoped(ident, step).erasures(), at)
                continue
            if "reapply" in step:
                handle = scoped(ident, step)
                before, listed = rows(store_url, seen_tenant(step)), handle.erasures()
                try:
                    outcome = handle.reapply_erasures(step["reapply"])
                except IdentityError as e:
                    outcome = e
                after = rows(store_url, seen_tenant(step))
                check_reapply(step, outcome, before, after, listed, handle.erasures(), at)
                continue
            if "erase" in step:
                before = rows(store_url, seen_tenant(step))
                try:
                    outcome = scoped(ident, step).erase(
                        step["erase"]["customer"], suppress=step["erase"].get("suppress", False)
                    )
                except IdentityError as e:
                    outcome = e
                check_erase(step, outcome, before, rows(store_url, seen_tenant(step)), at)
                continue
            before = rows(store_url, seen_tenant(step))
            try:
                outcome = scoped(ident, step).identify(**arguments(step["request"]))
            except IdentityError as e:
                outcome = e
            check_step(store_url, step, before, outcome, at)
        for tenant, graph in graphs(vector).items():
            t = ident.tenant(tenant)
            check_graph(graph, t.verify(), t.rebuild(), t.verify(), f"{path.name} ({tenant})")


async def replay_async(url: str, path: pathlib.Path) -> None:
    vector = load_vector(path)
    async with await AsyncIdentity.connect(url) as ident:
        counted_before = ident.stats()["identify"]
        for i, step in enumerate(vector["steps"]):
            at = f"{path.name} step {i} (async)"
            if "settings" in step:
                try:
                    outcome: Any = await scoped(ident, step).set_phone_region(step["settings"]["phoneRegion"])
                except (ConflictError, InvalidInputError) as e:
                    outcome = e
                check_settings(step, outcome, await scoped(ident, step).settings(), at)
                continue
            if "limits" in step:
                before_settings = await scoped(ident, step).settings()
                try:
                    outcome = await scoped(ident, step).set_limits(**step["limits"])
                except InvalidInputError as e:
                    outcome = e
                check_limits(step, before_settings, outcome, await scoped(ident, step).settings(), at)
                continue
            if any(k in step for k in BLOCKED_STEPS):
                handle = scoped(ident, step)
                listed = await handle.blocked_values()
                try:
                    if "list" in step:
                        outcome = listed
                    elif "block" in step:
                        outcome = await handle.block(**entry_arguments(step["block"]))
                    else:
                        outcome = await handle.unblock(**entry_arguments(step["unblock"]))
                except (InvalidInputError, ConflictError) as e:
                    outcome = e
                check_blocked(step, outcome, listed, await handle.blocked_values(), at)
                continue
            if "history" in step:
                try:
                    outcome = await scoped(ident, step).history(step["history"])
                except NotFoundError as e:
                    outcome = e
                check_history(step, outcome, at)
                continue
            if "customer" in step:
                try:
                    outcome = await scoped(ident, step).customer(step["customer"])
                except NotFoundError as e:
                    outcome = e
                check_customer(step, outcome, at)
                continue
            if "events" in step:
                try:
                    outcome = await scoped(ident, step).events(**events_arguments(step))
                except IdentityError as e:
                    outcome = e
                check_events(step, outcome, at)
                continue
            if "webhook" in step:
                try:
                    call, created = webhook_call(scoped(ident, step), step["webhook"])
                    outcome = await call
                except IdentityError as e:
                    outcome, created = e, False
                check_webhook(step, outcome, created, at)
                continue
            if "signature" in step:
                check_signature(step, at)
                continue
            if "stats" in step:
                check_stats(step, counted_before, scoped(ident, step).stats(), at)
                continue
            if "split" in step:
                before = rows(url, seen_tenant(step))
                try:
                    outcome = await scoped(ident, step).split(**split_arguments(step))
                except IdentityError as e:
                    outcome = e
                check_split(step, outcome, before, rows(url, seen_tenant(step)), at)
                continue
            if "import" in step:
                before = rows(url, seen_tenant(step))
                try:
                    outcome = await import_call(scoped(ident, step), step)
                except IdentityError as e:
                    outcome = e
                check_import(step, outcome, before, rows(url, seen_tenant(step)), at)
                continue
            if "export" in step:
                check_export(step, await scoped(ident, step).customers(), at)
                continue
            if "contacts" in step:
                check_contacts(step, await scoped(ident, step).all_contacts(), at)
                continue
            if "erasures" in step:
                check_erasures(step, await scoped(ident, step).erasures(), at)
                continue
            if "reapply" in step:
                handle = scoped(ident, step)
                before, listed = rows(url, seen_tenant(step)), await handle.erasures()
                try:
                    outcome = await handle.reapply_erasures(step["reapply"])
                except IdentityError as e:
                    outcome = e
                after = rows(url, seen_tenant(step))
                check_reapply(step, outcome, before, after, listed, await handle.erasures(), at)
                continue
            if "erase" in step:
                before = rows(url, seen_tenant(step))
                try:
                    outcome = await scoped(ident, step).erase(
                        step["erase"]["customer"], suppress=step["erase"].get("suppress", False)
                    )
                except IdentityError as e:
                    outcome = e
                check_erase(step, outcome, before, rows(url, seen_tenant(step)), at)
                continue
            before = rows(url, seen_tenant(step))
            try:
                outcome = await scoped(ident, step).identify(**arguments(step["request"]))
            except IdentityError as e:
                outcome = e
            check_step(url, step, before, outcome, at)
        for tenant, graph in graphs(vector).items():
            t = ident.tenant(tenant)
            verify = await t.verify()
            rebuild = await t.rebuild()
            check_graph(graph, verify, rebuild, await t.verify(), f"{path.name} ({tenant}, async)")


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vectors_async(store_url: str, path: pathlib.Path) -> None:
    asyncio.run(replay_async(store_url, path))


def test_vectors_async_under_uvloop(tmp_path: pathlib.Path) -> None:
    import uvloop  # pinned in requirements-dev.txt

    for i, path in enumerate(VECTOR_FILES):
        uvloop.run(replay_async(f"sqlite://{tmp_path / f'uv{i}.db'}", path))
