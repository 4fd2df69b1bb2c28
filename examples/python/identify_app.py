"""A FastAPI app exposing POST /identify with the wire contract, GET/PUT /settings (the tenant's
phone region), PUT /settings/limits (its per-customer caps), GET/POST/DELETE /admin/blocked (the tenant's blocked values) and
GET /admin/contacts/{id}/history (why a contact's rows are one customer), GET
/admin/customers/{id} (its rows now), GET /metrics
(Prometheus text: identify outcomes, retries, the pool, the feed, webhook backlogs), /admin/webhooks
(register, list, delete, read attempts of and replay webhook endpoints), GET /events (the
tenant's change feed, ?after=&limit=&wait= as the Rust service takes them),
POST /admin/customers/{id}/split (undo a wrong merge), POST /admin/customers/{id}/erase (the
right to be forgotten), POST /admin/import (history, or an existing table's rows, into an empty tenant), GET /admin/export
(every customer, as JSON Lines), GET /admin/contacts (every row, as JSON Lines), GET
/admin/erasures and POST /admin/erasures/reapply (erasure records out, and in again after a
restore) and GET /admin/backup (a copy of the SQLite database), through AsyncIdentity.

Run: DATABASE_URL=sqlite:identity.db uvicorn identify_app:app --port 3000 (127.0.0.1 unless --host)
(the Rust service in examples/server does the same with more operational care). The tenant comes
from the X-Tenant-Id header (absent: the default tenant); this app checks no tokens, so put it
behind your own authentication (the Rust service has tenant tokens).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from identify_metrics import exposition
from identity_reconciliation import AsyncIdentity, BlockedValueError, IdentityError, InvalidInputError, parse_erasure_log

logger = logging.getLogger("identify_app")

WIRE_FIELD = {
    "email": "email",
    "phone_number": "phoneNumber",
    "request": "request",
    "tenant": "tenant",
    "phone_region": "phoneRegion",
    "kind": "kind",
    "value": "value",
    "pattern": "pattern",
    "contact_id": "contactId",
    "contact_ids": "contactIds",
    "checkouts": "checkouts",
    "table": "table",
    "on_error": "onError",
    "erasures": "erasures",
    "webhook_id": "webhookId",
}


def error(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    fields: list[str] | None = None,
    retry_after: int | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = WIRE_FIELD.get(field, field)
    if fields is not None:
        body["fields"] = [WIRE_FIELD.get(f, f) for f in fields]
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


# each core kind as the Rust service answers it: status, wire code, Retry-After seconds
KINDS: dict[str, tuple[int, str, int | None]] = {
    "invalid_input": (400, "invalid_input", None),
    "blocked_value": (422, "blocked_value", None),
    "conflict": (409, "conflict", None),
    "not_found": (404, "not_found", None),
    "expired": (410, "expired", None),
    "unavailable": (503, "unavailable", 2),
    "closed": (503, "unavailable", 2),
    "contention": (503, "contention", 1),
}


def failure(e: IdentityError) -> JSONResponse:
    """A core error as the service answers it; a store, corrupt-data or internal error is a 500
    whose message says nothing (the details go to the log)."""
    status, code, retry = KINDS.get(e.code, (500, "internal", None))
    if status == 500:
        logger.error("request failed: %s (%s)", e, e.code)
        return error(500, "internal", "internal server error")
    field = e.field if isinstance(e, InvalidInputError) else None
    fields = e.fields if isinstance(e, BlockedValueError) else None
    return error(status, code, str(e), field, fields, retry)


def create_app(database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with await AsyncIdentity.connect(database_url) as identity:
            app.state.identity = identity
            yield

    app = FastAPI(title="identity", lifespan=lifespan)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Unknown routes and methods in the service's error shape, not FastAPI's `detail`."""
        if exc.status_code == 405:
            return error(405, "method_not_allowed", f"method {request.method} not allowed on {request.url.path}")
        if exc.status_code == 404:
            return error(404, "not_found", f"no route {request.method} {request.url.path}")
        return error(exc.status_code, "invalid_input", str(exc.detail))

    def scoped(request: Request) -> AsyncIdentity:
        """The handle for the tenant X-Tenant-Id names (absent: the default)."""
        identity: AsyncIdentity = request.app.state.identity
        tenant = request.headers.get("x-tenant-id")
        return identity if tenant is None else identity.tenant(tenant)

    @app.get("/settings")
    async def get_settings(request: Request) -> JSONResponse:
        try:
            settings = await scoped(request).settings()
        except IdentityError as e:
            return failure(e)
        return JSONResponse(settings.to_dict())

    @app.put("/settings")
    async def put_settings(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, "malformed_json", f"request body is not valid JSON: {e}")
        if not isinstance(body, dict) or "phoneRegion" not in body:
            message = 'invalid request: body must be a JSON object like {"phoneRegion": "IN"}'
            return error(400, "invalid_input", message, "request")
        region = body["phoneRegion"]
        if region is not None and not isinstance(region, str):
            return error(400, "invalid_input", "invalid phone region: must be a string or null", "phone_region")
        try:
            settings = await scoped(request).set_phone_region(region)
        except IdentityError as e:
            return failure(e)
        return JSONResponse(settings.to_dict())

    @app.put("/settings/limits")
    async def put_limits(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, "malformed_json", f"request body is not valid JSON: {e}")
        if not isinstance(body, dict):
            message = 'invalid request: body must be a JSON object like {"emails": 5, "phones": null}'
            return error(400, "invalid_input", message, "request")
        try:  # the binding checks each cap and names the field at fault
            settings = await scoped(request).set_limits(emails=body.get("emails"), phones=body.get("phones"))
        except IdentityError as e:
            return failure(e)
        return JSONResponse(settings.to_dict())

    @app.get("/admin/blocked")
    async def list_blocked(request: Request) -> JSONResponse:
        try:
            handle = scoped(request)
            entries = await handle.blocked_values()
        except IdentityError as e:
            return failure(e)
        return JSONResponse({"tenantId": handle.tenant_id, "blocked": [e.to_dict() for e in entries]})

    async def change_blocked(request: Request, add: bool) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, "malformed_json", f"request body is not valid JSON: {e}")
        if not isinstance(body, dict):
            message = 'invalid request: body must be a JSON object like {"kind": "email", "value": "..."}'
            return error(400, "invalid_input", message, "request")
        entry = {"kind": body.get("kind"), "value": body.get("value"), "pattern": body.get("pattern")}
        try:
            handle = scoped(request)
            changed = await (handle.block(**entry) if add else handle.unblock(**entry))
        except IdentityError as e:
            return failure(e)
        return JSONResponse({"changed": changed})

    @app.post("/admin/blocked")
    async def block(request: Request) -> JSONResponse:
        return await change_blocked(request, True)

    @app.delete("/admin/blocked")
    async def unblock(request: Request) -> JSONResponse:
        return await change_blocked(request, False)

    @app.get("/events")
    async def events(request: Request) -> JSONResponse:
        query = request.query_params
        numbers: dict[str, float] = {}
        for name, default in (("limit", 100), ("wait", 0)):
            text = query.get(name)
            if text is not None and not text.isdecimal():
                return error(400, "invalid_input", f"invalid {name}: must be a whole number", name)
            numbers[name] = int(text) if text is not None else default
        try:
            page = await scoped(request).events(
                after=query.get("after"), limit=int(numbers["limit"]), wait=numbers["wait"]
            )
        except IdentityError as e:
            return failure(e)
        return JSONResponse(page.to_dict())

    @app.post("/admin/webhooks")
    async def create_webhook(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, "malformed_json", f"request body is not valid JSON: {e}")
        if not isinstance(body, dict):
            return error(400, "invalid_input", 'invalid request: body must be a JSON object like {"url": "https://..."}', "request")
        url, types = body.get("url"), body.get("types")
        if not isinstance(url, str):
            return error(400, "invalid_input", "invalid url: is required, a string", "url")
        if types is not None and not (isinstance(types, list) and all(isinstance(t, str) for t in types)):
            return error(400, "invalid_input", "invalid types: must be an array of event types or null", "types")
        try:
            created = await scoped(request).create_webhook(url, types)
        except IdentityError as e:
            return failure(e)
        return JSONResponse(created.to_dict(), status_code=201)

    @app.get("/admin/webhooks")
    async def list_webhooks(request: Request) -> JSONResponse:
        try:
            found = await scoped(request).webhooks()
        except IdentityError as e:
            return failure(e)
        return JSONResponse({"webhooks": [w.to_dict() for w in found]})

    def webhook_id(text: str) -> int | None:
        return int(text) if text.isdecimal() and int(text) > 0 else None

    def bad_webhook_id() -> JSONResponse:
        return error(400, "invalid_input", "invalid webhook id: must be a positive integer", "webhook_id")

    @app.delete("/admin/webhooks/{hook}")
    async def delete_webhook(request: Request, hook: str) -> Response:
        if (found := webhook_id(hook)) is None:
            return bad_webhook_id()
        try:
            await scoped(request).delete_webhook(found)
        except IdentityError as e:
            return failure(e)
        return Response(status_code=204)

    @app.get("/admin/webhooks/{hook}/deliveries")
    async def webhook_deliveries(request: Request, hook: str) -> JSONResponse:
        if (found := webhook_id(hook)) is None:
            return bad_webhook_id()
        text = request.query_params.get("limit", "100")
        if not text.isdecimal():
            return error(400, "invalid_input", "invalid limit: must be a whole number", "limit")
        try:
            attempts = await scoped(request).webhook_deliveries(found, int(text))
        except IdentityError as e:
            return failure(e)
        return JSONResponse({"deliveries": [d.to_dict() for d in attempts]})

    @app.post("/admin/webhooks/{hook}/replay")
    async def replay_webhook(request: Request, hook: str) -> JSONResponse:
        if (found := webhook_id(hook)) is None:
            return bad_webhook_id()
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, "malformed_json", f"request body is not valid JSON: {e}")
        after = body.get("after") if isinstance(body, dict) else None
        if not isinstance(body, dict) or (after is not None and not isinstance(after, str)):
            return error(400, "invalid_input", "invalid cursor: must be a cursor string or null", "after")
        try:
            replayed = await scoped(request).replay_webhook(found, after)
        except IdentityError as e:
            return failure(e)
        return JSONResponse(replayed.to_dict())

    @app.get("/admin/contacts/{contact_id}/history")
    async def history(request: Request, contact_id: str) -> JSONResponse:
        if not contact_id.isdecimal() or int(contact_id) < 1:
            return error(400, "invalid_input", "invalid contact id: must be a positive integer", "contact_id")
        try:
            found = await scoped(request).history(int(contact_id))
        except IdentityError as e:
            return failure(e)
        return JSONResponse(found.to_dict())

    @app.get("/admin/customers/{customer}")
    async def customer(request: Request, customer: str) -> JSONResponse:
        if not customer.isdecimal() or int(customer) < 1:
            return error(400, "invalid_input", "invalid contact id: must be a positive integer", "contact_id")
        try:
            found = await scoped(request).customer(int(customer))
        except IdentityError as e:
            return failure(e)
        return JSONResponse(found.to_dict())

    @app.post("/admin/customers/{customer}/split")
    async def split(request: Request, customer: str) -> JSONResponse:
        if not customer.isdecimal() or int(customer) < 1:
            return error(400, "invalid_input", "invalid contact id: must be a positive integer", "contact_id")
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, "malformed_json", f"request body is not valid JSON: {e}")
        if not isinstance(body, dict):
            return error(400, "invalid_input", 'invalid request: body must be a JSON object like {"contactIds": [2]}', "request")
        ids = body.get("contactIds")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids):
            return error(400, "invalid_input", "invalid contact ids: must be an array of positive integers", "contact_ids")
        block_shared = body.get("blockShared", False)
        if not isinstance(block_shared, bool):
            return error(400, "invalid_input", "invalid request: blockShared must be true or false", "request")
        try:
            done = await scoped(request).split(int(customer), ids, block_shared=block_shared)
        except IdentityError as e:
            return failure(e)
        return JSONResponse(done.to_dict())

    @app.post("/admin/customers/{customer}/erase")
    async def erase(request: Request, customer: str) -> JSONResponse:
        if not customer.isdecimal() or int(customer) < 1:
            return error(400, "invalid_input", "invalid contact id: must be a positive integer", "contact_id")
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, "malformed_json", f"request body is not valid JSON: {e}")
        if not isinstance(body, dict):
            return error(400, "invalid_input", 'invalid request: body must be empty or a JSON object like {"suppress": true}', "request")
        suppress = body.get("suppress", False)
        if not isinstance(suppress, bool):
            return error(400, "invalid_input", "invalid request: suppress must be true or false", "request")
        try:
            receipt = await scoped(request).erase(int(customer), suppress=suppress)
        except IdentityError as e:
            return failure(e)
        return JSONResponse(receipt.to_dict())  # ids and a time: no personal data

    @app.post("/admin/import")
    async def import_checkouts(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, "malformed_json", f"request body is not valid JSON: {e}")
        if not isinstance(body, dict):
            return error(400, "invalid_input", 'invalid request: body must be a JSON object like {"checkouts": [...]}', "request")
        dry_run = body.get("dryRun") or False
        renumber = body.get("renumber") or False
        if not isinstance(dry_run, bool) or not isinstance(renumber, bool):
            return error(400, "invalid_input", "invalid request: dryRun and renumber must be true or false", "request")
        if "table" in body and "checkouts" in body:
            return error(400, "invalid_input", "invalid request: give checkouts or table, not both", "request")
        try:
            if "table" in body:  # an existing deployment's rows, each under its own id
                table = body["table"]
                if not isinstance(table, list):
                    return error(400, "invalid_input", "invalid table: must be an array of rows", "table")
                on_error = body.get("onError")
                report = await scoped(request).import_table_rows(table, on_error=on_error, dry_run=dry_run, renumber=renumber)
            else:
                checkouts = body.get("checkouts")
                if not isinstance(checkouts, list):
                    return error(400, "invalid_input", "invalid checkouts: must be an array of objects", "checkouts")
                report = await scoped(request).import_checkouts(checkouts, on_error=body.get("onError"), dry_run=dry_run)
        except IdentityError as e:
            return failure(e)
        return JSONResponse(report.to_dict())  # counts, ids and reasons: no values

    @app.get("/admin/export")
    async def export(request: Request) -> Response:
        try:
            customers = await scoped(request).customers()
        except IdentityError as e:
            return failure(e)
        lines = "".join(json.dumps(c.to_dict(), separators=(",", ":")) + "\n" for c in customers)
        return Response(lines, media_type="application/x-ndjson")

    @app.get("/admin/contacts")
    async def contacts(request: Request) -> Response:
        try:
            rows = await scoped(request).all_contacts()
        except IdentityError as e:
            return failure(e)
        lines = "".join(json.dumps(r.to_dict(), separators=(",", ":")) + "\n" for r in rows)
        return Response(lines, media_type="application/x-ndjson")

    @app.get("/admin/erasures")
    async def erasures(request: Request) -> Response:
        """The tenant's erasure records, oldest first, one per line: the lines of an erasure log
        (ids, times and keyed hashes; no email or phone number)."""
        try:
            records = await scoped(request).erasures()
        except IdentityError as e:
            return failure(e)
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        return Response(lines, media_type="application/x-ndjson")

    @app.post("/admin/erasures/reapply")
    async def reapply_erasures(request: Request) -> JSONResponse:
        """Erasure records as JSON Lines (as GET /admin/erasures or a log file holds them),
        applied again to a restored database; answers the report. A line that is not JSON, a
        malformed record or one of another tenant is a 400 naming it, digests under another
        secret a 409; either way nothing changes."""
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            message = "invalid erasures: the body must be UTF-8 text, one erasure record per line"
            return error(400, "invalid_input", message, "erasures")
        try:  # read as a log file is read: a line that is not a record is named
            records = parse_erasure_log(text)
        except IdentityError as e:
            return failure(e)
        try:  # a record of another tenant is refused, digests under another secret too
            report = await scoped(request).reapply_erasures(records)
        except IdentityError as e:
            return failure(e)
        return JSONResponse(report.to_dict())  # counts and ids: no values

    @app.get("/admin/backup")
    async def backup(request: Request) -> Response:
        """A consistent copy of the whole SQLite database (every tenant), taken while the app
        serves, as the body; 409 on PostgreSQL (back it up with pg_dump) and memory:."""
        folder = tempfile.mkdtemp(prefix="identity-backup-")
        path = os.path.join(folder, "identity-backup.db")
        try:
            await request.app.state.identity.backup_to(path)
        except BaseException as e:  # the folder goes whatever happened; the file, once sent
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(e, IdentityError):
                return failure(e)
            raise
        return FileResponse(
            path,
            media_type="application/vnd.sqlite3",
            filename="identity-backup.db",
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        """identity's numbers for Prometheus (identify_metrics.py), as the Rust service names them."""
        body, content_type = await exposition(request.app.state.identity)
        return Response(body, media_type=content_type)

    @app.post("/identify")
    async def identify(request: Request) -> JSONResponse:
        try:  # any content type: many clients forget the header
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as e:
            return error(400, "malformed_json", f"request body is not valid JSON: {e}")
        if not isinstance(body, dict):
            return error(400, "invalid_input", "invalid request: body must be a JSON object", "request")
        try:
            contact = await scoped(request).identify(email=body.get("email"), phone_number=body.get("phoneNumber"))
        except IdentityError as e:
            return failure(e)
        wire = contact.to_dict()
        wire["primaryContatctId"] = wire["primaryContactId"]  # the original task's spelling
        answer: dict[str, Any] = {"contact": wire}
        if contact.ignored:  # values left out (blocked), beside the contact as the service does
            answer["ignored"] = [i.to_dict() for i in contact.ignored]
        return JSONResponse(answer)

    return app


app = create_app(os.environ.get("DATABASE_URL", "sqlite:identity.db"))
