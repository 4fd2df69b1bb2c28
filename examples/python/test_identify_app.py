"""Drives the FastAPI example over HTTP (FastAPI's TestClient) with every shared vector."""

from __future__ import annotations

import json
import pathlib
import sys
import tempfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from identify_app import create_app  # noqa: E402

from identity_reconciliation import sign_webhook  # noqa: E402

VECTORS = sorted((pathlib.Path(__file__).resolve().parents[2] / "tests" / "vectors").glob("*.json"))


def identify_counts(client: TestClient) -> dict[str, int]:
    """identity_identify_total by outcome, as GET /metrics shows it (read by the official parser)."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "identity_identify_total":
                counts[sample.labels["outcome"]] = int(sample.value)
    return counts


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vectors_over_http(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    with TestClient(create_app(f"sqlite://{tmp_path / 'app.db'}")) as client:
        counted_before = identify_counts(client)
        for i, step in enumerate(json.loads(path.read_text(encoding="utf-8"))["steps"]):
            headers = {"X-Tenant-Id": step["tenant"]} if "tenant" in step else {}
            if "stats" in step:
                now = identify_counts(client)
                assert {k: n - counted_before[k] for k, n in now.items()} == step["result"]["identify"], i
                continue
            if "settings" in step:
                response = client.put("/settings", content=json.dumps(step["settings"]), headers=headers)
                body = response.json()
                if "error" in step:
                    code = step["error"]["code"]
                    assert response.status_code == (409 if code == "conflict" else 400), (i, body)
                    assert body["error"]["code"] == code, (i, body)
                    assert body["error"].get("field") == step["error"].get("field"), (i, body)
                else:
                    assert response.status_code == 200, (i, body)
                    assert body["phoneRegion"] == step["result"]["phoneRegion"], (i, body)
                    assert client.get("/settings", headers=headers).json() == body, i
                continue
            if any(k in step for k in ("list", "block", "unblock")):
                blocked_step(client, step, headers, i)
                continue
            if "history" in step:
                history_step(client, step, headers, i)
                continue
            if "customer" in step:
                customer_step(client, step, headers, i)
                continue
            if "events" in step:
                events_step(client, step, headers, i)
                continue
            if "webhook" in step:
                webhook_step(client, step, headers, i)
                continue
            if "signature" in step:
                wire = step["signature"]
                signed = sign_webhook(wire["secret"], wire["id"], wire["timestamp"], wire["body"].encode())
                assert signed == step["result"], i
                continue
            if "split" in step:
                split_step(client, step, headers, i)
                continue
            if "erase" in step:
                erase_step(client, step, headers, i)
                continue
            if "import" in step:
                import_step(client, step, headers, i)
                continue
            if "erasures" in step:
                erasures_step(client, step, headers, i)
                continue
            if "reapply" in step:
                reapply_step(client, step, headers, i)
                continue
            if "export" in step:
                response = client.get("/admin/export", headers=headers)
                assert response.headers["content-type"] == "application/x-ndjson", i
                assert [json.loads(line) for line in response.text.splitlines()] == step["result"], i
                continue
            if "contacts" in step:
                response = client.get("/admin/contacts", headers=headers)
                rows = [json.loads(line) for line in response.text.splitlines()]
                for row in rows:
                    assert isinstance(row.pop("createdAt"), str) and isinstance(row.pop("updatedAt"), str), i
                assert rows == step["result"], i
                continue
            if "limits" in step:
                before = client.get("/settings", headers=headers).json()
                response = client.put("/settings/limits", content=json.dumps(step["limits"]), headers=headers)
                body = response.json()
                if "error" in step:
                    assert response.status_code == 400 and body["error"]["field"] == "limits", (i, body)
                    assert client.get("/settings", headers=headers).json() == before, i
                else:
                    assert response.status_code == 200 and body["limits"] == step["result"], (i, body)
                    assert client.get("/settings", headers=headers).json() == body, i
                continue
            response = client.post("/identify", content=json.dumps(step["request"]), headers=headers)
            body = response.json()
            if "error" in step:
                code = step["error"]["code"]
                assert response.status_code == (422 if code == "blocked_value" else 400), (i, body)
                assert body["error"]["code"] == code, (i, body)
                assert body["error"].get("field") == step["error"].get("field"), (i, body)
            else:
                assert response.status_code == 200, (i, body)
                assert body["contact"].pop("primaryContatctId") == body["contact"]["primaryContactId"]
                assert body == step["response"], (i, body)


def history_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """A history step through /admin/contacts/{id}/history: events without their times, or 404."""
    response = client.get(f"/admin/contacts/{step['history']}/history", headers=headers)
    body = response.json()
    if "error" in step:
        assert response.status_code == 404 and body["error"]["code"] == step["error"]["code"], (i, body)
        return
    assert response.status_code == 200, (i, body)
    for event in body["events"]:
        del event["at"]
    assert body == step["result"], (i, body)


def customer_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """A customer step through /admin/customers/{id}: rows without their times, or 404."""
    response = client.get(f"/admin/customers/{step['customer']}", headers=headers)
    body = response.json()
    if "error" in step:
        assert response.status_code == 404 and body["error"]["code"] == step["error"]["code"], (i, body)
        return
    assert response.status_code == 200, (i, body)
    for row in body["rows"]:
        assert isinstance(row.pop("createdAt"), str) and isinstance(row.pop("updatedAt"), str), (i, row)
    assert body == step["result"], (i, body)


def events_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """An events step through /events: each event's type, tenant and data (its id, occurredAt
    and cursor strings, next the last cursor), or the 400 naming the field."""
    params = {k: str(v) for k, v in step["events"].items()}
    response = client.get("/events", params=params, headers=headers)
    body = response.json()
    if "error" in step:
        assert response.status_code == 400, (i, body)
        assert body["error"]["code"] == step["error"]["code"], (i, body)
        assert body["error"]["field"] == step["error"]["field"], (i, body)
        return
    assert response.status_code == 200, (i, body)
    events = body["events"]
    if events:
        assert body["next"] == events[-1]["cursor"], i
    for event in events:
        assert all(isinstance(event.pop(key), str) for key in ("id", "occurredAt", "cursor")), i
    assert {"events": events} == step["result"], (i, body)


STATUS = {"conflict": 409, "not_found": 404, "invalid_input": 400}


def comparable_webhook(wire: Any, created: bool, i: int) -> Any:
    """A webhook's wire shape as a vector states it (see tests/vectors/README.md)."""
    if isinstance(wire, list):
        return [comparable_webhook(w, False, i) for w in wire]
    if wire is None or "eventId" in wire:
        return wire
    assert isinstance(wire.pop("id"), int) and isinstance(wire.pop("createdAt"), str), i
    assert isinstance(wire.pop("nextAttemptAt"), str), i
    secret = wire.pop("secret", None)
    assert (secret is not None and secret.startswith("whsec_")) if created else secret is None, i
    return wire


def webhook_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """A webhook step through /admin/webhooks: the endpoint(s) without what no vector can know,
    or the error with its field."""
    wire = step["webhook"]
    if "create" in wire:
        response = client.post("/admin/webhooks", content=json.dumps(wire["create"]), headers=headers)
    elif "list" in wire:
        response = client.get("/admin/webhooks", headers=headers)
    elif "deliveries" in wire:
        params = {"limit": str(wire["limit"])} if "limit" in wire else {}
        response = client.get(f"/admin/webhooks/{wire['deliveries']}/deliveries", params=params, headers=headers)
    elif "replay" in wire:
        body = json.dumps({"after": wire.get("after")})
        response = client.post(f"/admin/webhooks/{wire['replay']}/replay", content=body, headers=headers)
    else:
        response = client.delete(f"/admin/webhooks/{wire['delete']}", headers=headers)
    answer = response.json() if response.content else None
    if "error" in step:
        assert response.status_code == STATUS[step["error"]["code"]], (i, answer)
        assert answer["error"]["code"] == step["error"]["code"], (i, answer)
        assert answer["error"].get("field") == step["error"].get("field"), (i, answer)
        return
    created = "create" in wire
    assert response.status_code == (201 if created else 204 if "delete" in wire else 200), (i, answer)
    if "list" in wire:
        answer = answer["webhooks"]
    elif "deliveries" in wire:
        answer = answer["deliveries"]
    assert comparable_webhook(answer, created, i) == step["result"], (i, answer)


def split_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """A split step through /admin/customers/{id}/split: the answer, or the error."""
    wire = step["split"]
    body = {"contactIds": wire["contactIds"]} | ({"blockShared": wire["blockShared"]} if "blockShared" in wire else {})
    response = client.post(f"/admin/customers/{wire['customer']}/split", content=json.dumps(body), headers=headers)
    answer = response.json()
    if "error" in step:
        assert response.status_code == STATUS[step["error"]["code"]], (i, answer)
        assert answer["error"]["code"] == step["error"]["code"], (i, answer)
        assert answer["error"].get("field") == step["error"].get("field"), (i, answer)
        return
    assert response.status_code == 200, (i, answer)
    assert answer == step["result"], (i, answer)


def erase_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """An erase step through /admin/customers/{id}/erase: the receipt without its time, or the error."""
    wire = step["erase"]
    body = {"suppress": wire["suppress"]} if "suppress" in wire else {}
    response = client.post(f"/admin/customers/{wire['customer']}/erase", content=json.dumps(body), headers=headers)
    answer = response.json()
    if "error" in step:
        assert response.status_code == STATUS[step["error"]["code"]], (i, answer)
        assert answer["error"]["code"] == step["error"]["code"], (i, answer)
        return
    assert response.status_code == 200, (i, answer)
    assert isinstance(answer.pop("erasedAt"), str), (i, answer)
    assert answer == step["result"], (i, answer)


def import_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """An import step through /admin/import: the report, or the error (code and field)."""
    response = client.post("/admin/import", content=json.dumps(step["import"]), headers=headers)
    answer = response.json()
    if "error" in step:
        assert response.status_code == STATUS[step["error"]["code"]], (i, answer)
        assert answer["error"]["code"] == step["error"]["code"], (i, answer)
        assert answer["error"].get("field") == step["error"].get("field"), (i, answer)
        return
    assert response.status_code == 200, (i, answer)
    assert answer == step["result"], (i, answer)


def erasure_records(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The tenant's erasure records through GET /admin/erasures (JSON Lines)."""
    response = client.get("/admin/erasures", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def erasures_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """An erasures step: each record checked for its tenant and time, then compared as
    `{customerId, contactIds, suppressed, rows: [ids], digests: [kinds]}`."""
    tenant = step.get("tenant", "default")
    seen = []
    for record in erasure_records(client, headers):
        assert record["tenantId"] == tenant and isinstance(record["erasedAt"], str), (i, record)
        seen.append(
            {
                "customerId": record["customerId"],
                "contactIds": record["contactIds"],
                "suppressed": record["suppressed"],
                "rows": [r["id"] for r in record["rows"]],
                "digests": [d["kind"] for d in record["digests"]],
            }
        )
    assert seen == step["result"], (i, seen)


def reapply_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """A reapply step through POST /admin/erasures/reapply (the records as JSON Lines): the
    report and table, or the error, which changes neither the rows nor the records."""
    before = client.get("/admin/contacts", headers=headers).text, erasure_records(client, headers)
    lines = "\n".join(json.dumps(r) for r in step["reapply"]) + "\n"
    response = client.post("/admin/erasures/reapply", content=lines, headers=headers)
    answer = response.json()
    if "error" in step:
        assert response.status_code == STATUS[step["error"]["code"]], (i, answer)
        assert answer["error"]["code"] == step["error"]["code"], (i, answer)
        assert answer["error"].get("field") == step["error"].get("field"), (i, answer)
        after = client.get("/admin/contacts", headers=headers).text, erasure_records(client, headers)
        assert after == before, f"{i}: a refused reapply changed something"
        return
    assert response.status_code == 200, (i, answer)
    assert answer == step["result"], (i, answer)
    if "table" in step:
        rows = [json.loads(line) for line in client.get("/admin/contacts", headers=headers).text.splitlines()]
        assert [(r["id"], r["linkedId"]) for r in rows] == [(t["id"], t["linkedId"]) for t in step["table"]], i


def blocked_step(client: TestClient, step: dict[str, Any], headers: dict[str, str], i: int) -> None:
    """A blocked-list step through /admin/blocked: its `result`, or its `error` (nothing changes)."""
    before = client.get("/admin/blocked", headers=headers).json()
    if "list" in step:
        response, body = None, before
    else:
        method = "POST" if "block" in step else "DELETE"
        wire = step["block"] if "block" in step else step["unblock"]
        response = client.request(method, "/admin/blocked", content=json.dumps(wire), headers=headers)
        body = response.json()
    if "error" in step:
        assert response is not None and response.status_code == STATUS[step["error"]["code"]], (i, body)
        assert body["error"]["code"] == step["error"]["code"], (i, body)
        assert body["error"].get("field") == step["error"].get("field"), (i, body)
        assert client.get("/admin/blocked", headers=headers).json() == before, i
    elif "list" in step:
        assert body["blocked"] == step["result"], (i, body)
        assert body["tenantId"] == step.get("tenant", "default"), (i, body)
    else:
        assert response is not None and response.status_code == 200, (i, body)
        assert body["changed"] is step["result"], (i, body)


def test_malformed_bodies_are_400(tmp_path: pathlib.Path) -> None:
    with TestClient(create_app(f"sqlite://{tmp_path / 'app.db'}")) as client:
        assert client.post("/identify", content="{").json()["error"]["code"] == "malformed_json"
        assert client.post("/identify", content="[]").json()["error"]["field"] == "request"
        assert client.post("/identify", content='{"phoneNumber": true}').status_code == 400
        for bad in ("x", "0", "-1", "1.5"):
            response = client.get(f"/admin/contacts/{bad}/history")
            assert response.status_code == 400, bad
            assert response.json()["error"]["field"] == "contactId", bad
            response = client.post(f"/admin/customers/{bad}/split", content='{"contactIds": [2]}')
            assert response.json()["error"]["field"] == "contactId", bad
        for body in ('{"contactIds": "2"}', '{"contactIds": [0]}', '{"contactIds": [true]}', "{}"):
            response = client.post("/admin/customers/1/split", content=body)
            assert response.status_code == 400, body
            assert response.json()["error"]["field"] == "contactIds", body
        response = client.post("/admin/customers/1/split", content='{"contactIds": [2], "blockShared": 1}')
        assert response.json()["error"]["field"] == "request"
        for bad in ("x", "0"):
            response = client.post(f"/admin/customers/{bad}/erase")
            assert response.json()["error"]["field"] == "contactId", bad
        for body in ("[]", '{"suppress": "yes"}'):
            response = client.post("/admin/customers/1/erase", content=body)
            assert (response.status_code, response.json()["error"]["field"]) == (400, "request"), body
        assert client.post("/admin/customers/1/erase", content="{").json()["error"]["code"] == "malformed_json"
        assert client.post("/admin/customers/1/erase").json()["error"]["code"] == "not_found"
        for body, field in (
            ("[]", "request"),
            ('{"checkouts": 5}', "checkouts"),
            ('{"checkouts": [], "onError": "never"}', "onError"),
            ('{"checkouts": [], "dryRun": "yes"}', "request"),
        ):
            response = client.post("/admin/import", content=body)
            assert (response.status_code, response.json()["error"]["field"]) == (400, field), body
        assert client.post("/admin/import", content="{").json()["error"]["code"] == "malformed_json"
        assert client.get("/admin/export").text == ""


def test_backup_answers_a_sqlite_copy_holding_the_customers(tmp_path: pathlib.Path) -> None:
    from identity_reconciliation import Identity

    staged = set(pathlib.Path(tempfile.gettempdir()).glob("identity-backup-*"))
    with TestClient(create_app(f"sqlite://{tmp_path / 'app.db'}")) as client:
        client.post("/identify", content='{"email": "doc@x.io", "phoneNumber": "555"}')
        client.post("/identify", content='{"email": "biff@x.io"}', headers={"X-Tenant-Id": "shopB"})
        response = client.get("/admin/backup")
        assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.sqlite3"
        assert response.content.startswith(b"SQLite format 3\x00")
    assert set(pathlib.Path(tempfile.gettempdir()).glob("identity-backup-*")) == staged, "a staged copy was left"
    copy = tmp_path / "copy.db"
    copy.write_bytes(response.content)
    with Identity(f"sqlite://{copy}") as restored:
        assert [c.to_dict() for c in restored.customers()] == [
            {"primaryContactId": 1, "emails": ["doc@x.io"], "phoneNumbers": ["555"], "secondaryContactIds": []}
        ]
        assert restored.tenant("shopB").lookup(email="biff@x.io") is not None, "every tenant"
    with TestClient(create_app("memory:")) as client:
        response = client.get("/admin/backup")
        assert (response.status_code, response.json()["error"]["code"]) == (409, "conflict")


def test_reapply_refuses_bad_bodies_and_changes_nothing(tmp_path: pathlib.Path) -> None:
    record = {
        "tenantId": "default",
        "customerId": 1,
        "contactIds": [1],
        "erasedAt": "2026-11-22T10:00:00Z",
        "suppressed": False,
        "rows": [{"id": 1, "createdAt": None}],
        "digests": [],
        "secret": None,
    }
    with TestClient(create_app(f"sqlite://{tmp_path / 'app.db'}")) as client:
        client.post("/identify", content='{"email": "doc@x.io"}')
        before = client.get("/admin/contacts").text
        digests = {"digests": [{"kind": "email", "digest": "ab" * 32}], "secret": "0" * 16}
        for body, status, names in (
            (b"\xff\n", 400, "UTF-8"),
            (json.dumps(record) + "\n{]\n", 400, "line 2"),
            (json.dumps(record) + "\n\n[1, 2]\n", 400, "line 3"),
            (json.dumps(record | {"rows": []}), 400, "line 1: contact 1 is missing from rows"),
            (json.dumps(record | {"tenantId": "shopB"}), 400, "record 0 is an erasure of tenant shopB"),
            (json.dumps(record | digests), 409, "suppression secret"),
        ):
            response = client.post("/admin/erasures/reapply", content=body)
            error = response.json()["error"]
            assert response.status_code == status and names in error["message"], (body, error)
            assert error.get("field") == ("erasures" if status == 400 else None), (body, error)
            assert error["code"] == ("invalid_input" if status == 400 else "conflict"), (body, error)
            assert client.get("/admin/contacts").text == before and client.get("/admin/erasures").text == ""
        response = client.post("/admin/erasures/reapply", content="\n")
        assert response.json() == {
            "records": 0,
            "applied": 0,
            "alreadyErased": 0,
            "erasedIds": [],
            "reusedIds": [],
            "suppressed": 0,
        }
        response = client.post("/admin/erasures/reapply", content=json.dumps(record), headers={"X-Tenant-Id": "shopB"})
        assert response.json()["error"]["field"] == "erasures", "a record of another tenant than the header's"
        response = client.post("/admin/erasures/reapply", content=json.dumps(record))
        assert response.json()["erasedIds"] == [1] and client.get("/admin/contacts").text == ""
        lines = client.get("/admin/erasures").text.splitlines()
        assert [json.loads(line)["contactIds"] for line in lines] == [[1]]


def test_core_errors_answer_as_the_service_does(tmp_path: pathlib.Path) -> None:
    from identify_app import failure

    from identity_reconciliation import (
        ClosedError,
        ContentionError,
        CorruptDataError,
        InternalError,
        StoreError,
        UnavailableError,
    )

    expected = {
        UnavailableError("database unavailable while reading: connection refused"): (503, "unavailable", "2"),
        ClosedError("this AsyncIdentity is closed; create a new one"): (503, "unavailable", "2"),
        ContentionError("gave up after 8 attempts"): (503, "contention", "1"),
        StoreError("database error while writing: disk full"): (500, "internal", None),
        CorruptDataError("corrupt contact row 3: bad email"): (500, "internal", None),
        InternalError("internal error: a bug"): (500, "internal", None),
    }
    for e, (status, code, retry) in expected.items():
        response = failure(e)
        body = json.loads(bytes(response.body))
        assert (response.status_code, body["error"]["code"], response.headers.get("retry-after")) == (
            status,
            code,
            retry,
        ), e
        assert body["error"]["message"] == (str(e) if status != 500 else "internal server error"), e
    # and live: a closed store is unavailable, as the service answers it
    with TestClient(create_app(f"sqlite://{tmp_path / 'app.db'}")) as client:
        import asyncio

        asyncio.run(client.app.state.identity.close())  # type: ignore[attr-defined]
        response = client.post("/identify", content='{"email": "a@x.io"}')
        assert (response.status_code, response.json()["error"]["code"]) == (503, "unavailable")
        assert response.headers["retry-after"] == "2"


def test_unknown_routes_answer_in_the_service_shape(tmp_path: pathlib.Path) -> None:
    with TestClient(create_app(f"sqlite://{tmp_path / 'app.db'}")) as client:
        response = client.get("/nope")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
        response = client.get("/identify")
        assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")
