//! Replays the language-neutral cases in `tests/vectors/*.json` against every store.

use identity_testkit as common;

use std::path::PathBuf;

use futures_util::stream::{self, StreamExt};

use identity::import::{ImportOptions, OnError};
use identity::{
    BlockedValue, Contact, Error, IdentifyRequest, IdentifyResponse, Identity, TenantSettings,
};
use identity_testkit::vector_ids::VectorIds;
use serde_json::{Value, json};

fn row_json(c: &Contact) -> Value {
    json!({
        "id": c.id.get(),
        "linkedId": c.linked_id().map(|l| l.get()),
        "linkPrecedence": c.link.precedence(),
    })
}

/// Checks a file's `graph` after its last step: verify, rebuild, verify.
async fn check_graph(identity: &Identity, graph: &Value, file: &str) {
    let counts = (graph["rows"].as_u64(), graph["customers"].as_u64());
    let report = identity.verify().await.unwrap();
    assert!(report.is_clean(), "{file}: {report}");
    assert_eq!(
        (Some(report.rows), Some(report.customers)),
        counts,
        "{file}: verify"
    );
    let rebuilt = identity.rebuild().await.unwrap();
    assert_eq!(
        (Some(rebuilt.rows), Some(rebuilt.customers)),
        counts,
        "{file}: rebuild"
    );
    assert!(rebuilt.relinked.is_empty(), "{file}: {rebuilt:?}");
    common::assert_verified(identity).await;
}

/// A `settings` step's call: `{"phoneRegion": "IN" | null}`.
async fn set_region(identity: &Identity, settings: &Value) -> identity::Result<TenantSettings> {
    identity
        .set_phone_region(settings["phoneRegion"].as_str())
        .await
}

/// Checks a `settings` step: its `result`, or its `error` (which changes nothing).
async fn check_settings_step(
    identity: &Identity,
    step: &Value,
    outcome: identity::Result<TenantSettings>,
    at: &str,
) {
    let region = |s: &TenantSettings| json!({"phoneRegion": s.phone_region.map(|r| r.to_string())});
    match (outcome, step.get("error")) {
        (Ok(settings), None) => {
            assert_eq!(region(&settings), step["result"], "{at}: wrong settings");
            let read = identity.settings().await.unwrap();
            assert_eq!(region(&read), step["result"], "{at}: settings not kept");
        }
        (Err(e), Some(expected)) => {
            assert_error(&e, expected, at);
        }
        (other, expected) => panic!("{at}: got {other:?}, expected error {expected:?}"),
    }
}

/// Asserts that `e` is the step's `expected` error: its code and, for invalid input, its field.
fn assert_error(e: &Error, expected: &Value, at: &str) {
    let (code, field) = error_code(e);
    assert_eq!(code, expected["code"], "{at}: wrong error {e}");
    assert_eq!(field, expected["field"].as_str(), "{at}: wrong field");
}

/// Checks a step that may change rows (`split`, `erase`, `import`): the answer's wire shape
/// (after `adjust`) against `result` and `table`, or `error`, which changes no row; the graph
/// verifies clean after either.
async fn check_row_step<T: serde::Serialize + std::fmt::Debug>(
    identity: &Identity,
    ids: &mut VectorIds,
    step: &Value,
    at: &str,
    call: impl std::future::Future<Output = identity::Result<T>>,
    adjust: impl FnOnce(&mut Value),
) {
    let before = identity.all_contacts().await.unwrap();
    let outcome = call.await;
    let after = identity.all_contacts().await.unwrap();
    match (outcome, step.get("error")) {
        (Ok(answer), None) => {
            let mut wire = serde_json::to_value(&answer).unwrap();
            adjust(&mut wire);
            ids.assert_same(&wire, &step["result"], at);
        }
        (Err(e), Some(expected)) => {
            assert_error(&e, expected, at);
            assert_eq!(before, after, "{at}: a refused step changed the table");
        }
        (other, expected) => panic!("{at}: got {other:?}, expected error {expected:?}"),
    }
    check_table(ids, step, &after, at);
    common::assert_verified(identity).await;
}

/// A step's expected error: `(code, field)` of `e`.
fn error_code(e: &Error) -> (&'static str, Option<&'static str>) {
    match e {
        Error::InvalidInput { field, .. } => ("invalid_input", Some(field.wire_name())),
        Error::Conflict { .. } => ("conflict", None),
        Error::BlockedValue { .. } => ("blocked_value", None),
        Error::NotFound { .. } => ("not_found", None),
        other => panic!("unexpected error {other:?}"),
    }
}

/// A `block`/`unblock` entry from the wire, as every binding reads it.
fn entry(wire: &Value) -> identity::Result<BlockedValue> {
    BlockedValue::parse(
        wire["kind"].as_str().unwrap_or_default(),
        wire["value"].as_str(),
        wire["pattern"].as_str(),
    )
}

/// Checks a blocked-list step (`list`, `block` or `unblock`): its `result` or its `error`.
async fn check_blocked_step(identity: &Identity, step: &Value, at: &str) {
    let before = identity.blocked_values().await.unwrap();
    let outcome: identity::Result<Value> = if step.get("list").is_some() {
        Ok(serde_json::to_value(&before).unwrap())
    } else if let Some(wire) = step.get("block") {
        match entry(wire) {
            Ok(e) => identity.block(&e).await.map(Value::from),
            Err(e) => Err(e),
        }
    } else {
        match entry(&step["unblock"]) {
            Ok(e) => identity.unblock(&e).await.map(Value::from),
            Err(e) => Err(e),
        }
    };
    match (outcome, step.get("error")) {
        (Ok(result), None) => assert_eq!(result, step["result"], "{at}: wrong result"),
        (Err(e), Some(expected)) => {
            assert_error(&e, expected, at);
            let after = identity.blocked_values().await.unwrap();
            assert_eq!(before, after, "{at}: a refused change changed the list");
        }
        (other, expected) => panic!("{at}: got {other:?}, expected error {expected:?}"),
    }
}

/// The wire shape of a history without the times (which no vector can know).
fn timeless(history: &identity::History) -> Value {
    let mut wire = serde_json::to_value(history).unwrap();
    for event in wire["events"].as_array_mut().unwrap() {
        event.as_object_mut().unwrap().remove("at");
    }
    wire
}

/// Checks a `history` step: its `result` (without times) or its `error`.
async fn check_history_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let id = identity::ContactId::new(ids.contact(step["history"].as_i64().unwrap()));
    match (identity.history(id).await, step.get("error")) {
        (Ok(history), None) => ids.assert_same(&timeless(&history), &step["result"], at),
        (Err(e), Some(expected)) => {
            assert_error(&e, expected, at);
        }
        (other, expected) => panic!("{at}: got {other:?}, expected error {expected:?}"),
    }
}

/// A feed page's wire shape as a vector states it: each event's `type`, `tenant` and `data`,
/// after checking that its `id`, `occurredAt` and `cursor` are there and that `next` is the
/// last event's cursor.
fn comparable_page(mut wire: Value, at: &str) -> Value {
    let events = wire["events"].as_array_mut().unwrap();
    for event in events.iter_mut() {
        let event = event.as_object_mut().unwrap();
        for key in ["id", "occurredAt", "cursor"] {
            assert!(
                event.remove(key).is_some_and(|v| v.is_string()),
                "{at}: {key}"
            );
        }
    }
    let next = wire.as_object_mut().unwrap().remove("next");
    assert!(next.is_some_and(|n| n.is_string()), "{at}: next");
    wire
}

/// Checks an `events` step: the page's `result` (see [`comparable_page`]) or its `error`.
async fn check_events_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let wire = &step["events"];
    let limit = wire["limit"].as_u64().map_or(100, |n| n as usize);
    let after = wire["after"].as_str().map(str::parse::<identity::Cursor>);
    let outcome = match after.transpose() {
        Ok(after) => identity.events(after, limit).await,
        Err(e) => Err(e),
    };
    match (outcome, step.get("error")) {
        (Ok(page), None) => {
            let wire = serde_json::to_value(&page).unwrap();
            let last = page.events.last().map(|e| e.cursor);
            assert!(last.is_none_or(|c| c == page.next), "{at}: next");
            ids.assert_same(&comparable_page(wire, at), &step["result"], at);
        }
        (Err(e), Some(expected)) => assert_error(&e, expected, at),
        (other, expected) => panic!("{at}: got {other:?}, expected error {expected:?}"),
    }
}

/// Checks a `split` step: its `result` (the wire shape) and `table`, or its `error` (which
/// changes no row).
async fn check_split_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let wire = &step["split"];
    let id = |v: &Value| identity::ContactId::new(ids.contact(v.as_i64().unwrap()));
    let rows: Vec<identity::ContactId> = wire["contactIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    let block_shared = wire["blockShared"].as_bool().unwrap_or(false);
    let call = identity.split(id(&wire["customer"]), &rows, block_shared);
    check_row_step(identity, ids, step, at, call, |_| {}).await;
}

/// Checks a `limits` step: the caps as answered and as read back, or its `error` (which changes
/// nothing).
async fn check_limits_step(identity: &Identity, step: &Value, at: &str) {
    let wire = &step["limits"];
    let before = identity.settings().await.unwrap().limits;
    let outcome = match identity::Limits::new(wire["emails"].as_i64(), wire["phones"].as_i64()) {
        Ok(limits) => identity.set_limits(limits).await,
        Err(e) => Err(e),
    };
    let after = identity.settings().await.unwrap().limits;
    match (outcome, step.get("error")) {
        (Ok(settings), None) => {
            let answered = serde_json::to_value(settings.limits).unwrap();
            assert_eq!(answered, step["result"], "{at}: wrong caps");
            assert_eq!(after, settings.limits, "{at}: caps not kept");
        }
        (Err(e), Some(expected)) => {
            assert_error(&e, expected, at);
            assert_eq!(before, after, "{at}: refused caps changed the settings");
        }
        (other, expected) => panic!("{at}: got {other:?}, expected error {expected:?}"),
    }
}

/// Checks an `erase` step: its `result` (the receipt's wire shape without `erasedAt`) and
/// `table`, or its `error` (which changes no row).
async fn check_erase_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let wire = &step["erase"];
    let customer = identity::ContactId::new(ids.contact(wire["customer"].as_i64().unwrap()));
    let suppress = wire["suppress"].as_bool().unwrap_or(false);
    let call = identity.erase(customer, suppress);
    check_row_step(identity, ids, step, at, call, |receipt| {
        let erased_at = receipt.as_object_mut().unwrap().remove("erasedAt");
        assert!(
            erased_at.is_some_and(|t| t.is_string()),
            "{at}: no erasedAt"
        );
    })
    .await;
}

/// An `import` step's options: `onError` (`abort` by default, or `skip`), `dryRun` and
/// `renumber`.
fn import_options(wire: &Value) -> identity::Result<ImportOptions> {
    let on_error = match wire.get("onError").and_then(Value::as_str) {
        Some(text) => OnError::parse(text)?,
        None => OnError::Abort,
    };
    let dry_run = wire["dryRun"].as_bool().unwrap_or(false);
    let renumber = wire["renumber"].as_bool().unwrap_or(false);
    Ok(ImportOptions::default()
        .on_error(on_error)
        .dry_run(dry_run)
        .renumber(renumber))
}

/// Checks an `import` step: its `result` (the report's wire shape) and `table`, or its `error`
/// (which writes nothing).
async fn check_import_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let wire = &step["import"];
    let call = async {
        let options = import_options(wire)?;
        match wire.get("table") {
            // an existing deployment's rows, under their ids
            Some(rows) => {
                let rows = rows.as_array().unwrap();
                identity.import_table_records(rows, options).await
            }
            None => {
                let records = wire["checkouts"].as_array().unwrap();
                identity.import_records(records, options).await
            }
        }
    };
    check_row_step(identity, ids, step, at, call, |_| {}).await;
}

/// Checks an `export` step: every customer of the tenant, as `identify` answers them.
async fn check_export_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let customers = identity.customers().await.unwrap();
    let wire = serde_json::to_value(&customers).unwrap();
    ids.assert_same(&wire, &step["result"], at);
}

/// Checks a `contacts` step: every visible row in the wire shape, by id, times checked to be
/// there and then left out (no vector can know them).
async fn check_contacts_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let mut rows = serde_json::to_value(identity.all_contacts().await.unwrap()).unwrap();
    identity_testkit::drop_row_times(&mut rows, at);
    ids.assert_same(&rows, &step["result"], at);
}

/// An erasure record as vectors compare it: `{"customerId", "contactIds", "suppressed", "rows":
/// [ids], "digests": [kinds]}`, after checking its tenant and that it has a time.
fn record_as_vector(record: &Value, tenant: &str, at: &str) -> Value {
    assert_eq!(record["tenantId"], tenant, "{at}: wrong tenant");
    assert!(record["erasedAt"].is_string(), "{at}: no erasedAt");
    let pick = |list: &str, key: &str| -> Vec<Value> {
        let items = record[list].as_array().unwrap();
        items.iter().map(|item| item[key].clone()).collect()
    };
    serde_json::json!({
        "customerId": record["customerId"],
        "contactIds": record["contactIds"],
        "suppressed": record["suppressed"],
        "rows": pick("rows", "id"),
        "digests": pick("digests", "kind"),
    })
}

/// Checks an `erasures` step: the tenant's records, as [`record_as_vector`] shows them.
async fn check_erasures_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let records = serde_json::to_value(identity.erasures().await.unwrap()).unwrap();
    let tenant = identity.tenant_id().as_str();
    let seen: Vec<Value> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| record_as_vector(r, tenant, at))
        .collect();
    // by time, then customer id: reapplied records tie on time
    ids.assert_same_items(&Value::from(seen), &step["result"], at);
}

/// Checks a `reapply` step: its report and `table`, or its `error` (which changes nothing:
/// no row, and the records are not read back as erasures).
async fn check_reapply_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let before = identity.erasures().await.unwrap();
    // the records as the store's ids name them (read before the call borrows `ids`)
    let records = step["reapply"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| identity::ErasureRecord::from_json(&ids.to_store(record)))
        .collect::<identity::Result<Vec<_>>>();
    let call = async { identity.reapply_erasures(&records?).await };
    check_row_step(identity, ids, step, at, call, |_| {}).await;
    if step.get("error").is_some() {
        let after = identity.erasures().await.unwrap();
        assert_eq!(before, after, "{at}: a refused reapply kept a record");
    }
}

/// Checks a step's `table` (every visible row, `id` and `linkedId`), when it has one.
fn check_table(ids: &mut VectorIds, step: &Value, after: &[identity::Contact], at: &str) {
    if let Some(table) = step.get("table") {
        let actual: Vec<Value> = after
            .iter()
            .map(|c| json!({"id": c.id.get(), "linkedId": c.linked_id().map(|l| l.get())}))
            .collect();
        ids.assert_same(&Value::from(actual), table, &format!("{at}: wrong table"));
    }
}

/// Checks a `customer` step: its `result`, rows without their times (which must be strings),
/// or its `error` code.
fn check_customer_step(
    ids: &mut VectorIds,
    outcome: identity::Result<identity::Customer>,
    step: &Value,
    at: &str,
) {
    match outcome {
        Ok(customer) => {
            let mut wire = serde_json::to_value(customer).unwrap();
            identity_testkit::drop_row_times(&mut wire["rows"], at);
            ids.assert_same(&wire, &step["result"], at);
        }
        Err(e) => assert_eq!(e.code(), step["error"]["code"], "{at}: {e}"),
    }
}

/// The connection's identify counts by outcome, as `stats()` answers them.
fn identify_counts(identity: &Identity) -> std::collections::BTreeMap<String, i64> {
    let stats = serde_json::to_value(identity.stats()).unwrap();
    let counts = stats["identify"].as_object().unwrap();
    counts
        .iter()
        .map(|(k, n)| (k.clone(), n.as_i64().unwrap()))
        .collect()
}

/// Replays one file against a fresh store; panics naming the file and step on a mismatch.
async fn replay(identity: &Identity, path: &PathBuf) {
    let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let file = path.file_name().unwrap().to_string_lossy();
    let counted_before = identify_counts(identity);
    let mut ids = VectorIds::for_this_server();
    let ids = &mut ids;
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let at = format!("{file} step {i} ({} backend)", identity.store().backend());
        // the step's tenant (absent: the default); a bad id fails the step, like a bad value
        let scoped = match step.get("tenant") {
            Some(tenant) => identity.tenant(tenant.as_str().unwrap()),
            None => Ok(identity.clone()),
        };
        let (seen, bad_tenant) = match scoped {
            Ok(scoped) => (scoped, None),
            Err(e) => (identity.clone(), Some(e)),
        };
        if let Some(settings) = step.get("settings") {
            let outcome = match bad_tenant {
                Some(e) => Err(e),
                None => set_region(&seen, settings).await,
            };
            check_settings_step(&seen, step, outcome, &at).await;
            continue;
        }
        if step.get("history").is_some() {
            check_history_step(&seen, ids, step, &at).await;
            continue;
        }
        if step.get("events").is_some() {
            check_events_step(&seen, ids, step, &at).await;
            continue;
        }
        if step.get("webhook").is_some() {
            identity_testkit::webhook_steps::check_core_step(&seen, ids, step, &at).await;
            continue;
        }
        if step.get("customer").is_some() {
            let outcome = match bad_tenant {
                Some(e) => Err(e),
                None => {
                    let id = step["customer"].as_i64().unwrap();
                    let id = identity::ContactId::new(ids.contact(id));
                    seen.customer(id).await
                }
            };
            check_customer_step(ids, outcome, step, &at);
            continue;
        }
        if step.get("stats").is_some() {
            let now = identify_counts(&seen);
            let counted: serde_json::Map<String, Value> = now
                .iter()
                .map(|(k, n)| (k.clone(), json!(n - counted_before[k])))
                .collect();
            assert_eq!(Value::from(counted), step["result"]["identify"], "{at}");
            continue;
        }
        if step.get("signature").is_some() {
            let signed = identity_testkit::webhook_steps::signature_of(step);
            assert_eq!(signed, step["result"].as_str().unwrap(), "{at}");
            continue;
        }
        if step.get("split").is_some() {
            check_split_step(&seen, ids, step, &at).await;
            continue;
        }
        if step.get("erase").is_some() {
            check_erase_step(&seen, ids, step, &at).await;
            continue;
        }
        if step.get("erasures").is_some() {
            check_erasures_step(&seen, ids, step, &at).await;
            continue;
        }
        if step.get("reapply").is_some() {
            check_reapply_step(&seen, ids, step, &at).await;
            continue;
        }
        if step.get("limits").is_some() {
            check_limits_step(&seen, step, &at).await;
            continue;
        }
        if step.get("import").is_some() {
            check_import_step(&seen, ids, step, &at).await;
            continue;
        }
        if step.get("export").is_some() {
            check_export_step(&seen, ids, step, &at).await;
            continue;
        }
        if step.get("contacts").is_some() {
            check_contacts_step(&seen, ids, step, &at).await;
            continue;
        }
        if ["list", "block", "unblock"]
            .iter()
            .any(|k| step.get(k).is_some())
        {
            check_blocked_step(&seen, step, &at).await;
            continue;
        }
        let before = seen.all_contacts().await.unwrap();
        let request = IdentifyRequest::from_json(step["request"].to_string().as_bytes());
        let outcome = match (bad_tenant, request) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(request)) => seen.identify_request(&request).await,
        };
        let after = seen.all_contacts().await.unwrap();
        common::assert_invariants_blocking(&after, &seen.blocked_values().await.unwrap());
        common::assert_verified(&seen).await;
        match (&outcome, step.get("error")) {
            (Err(e), Some(expected)) => {
                assert_error(e, expected, &at);
                assert_eq!(before, after, "{at}: a refused request changed the table");
                continue;
            }
            (Ok(answer), None) => {
                let body = serde_json::to_value(IdentifyResponse::from(answer.clone())).unwrap();
                ids.assert_same(&body, &step["response"], &format!("{at}: wrong answer"));
            }
            (other, expected) => panic!("{at}: got {other:?}, expected error {expected:?}"),
        }
        let created: Vec<&Contact> = after
            .iter()
            .filter(|c| !before.iter().any(|b| b.id == c.id))
            .collect();
        match &step["creates"] {
            Value::Null => assert!(created.is_empty(), "{at}: unexpected rows {created:?}"),
            expected => {
                assert_eq!(
                    created.len(),
                    1,
                    "{at}: expected one new row, got {created:?}"
                );
                let at = format!("{at}: wrong new row");
                ids.assert_same(&row_json(created[0]), expected, &at);
            }
        }
        check_table(ids, step, &after, &at);
    }
    match case.get("graphs") {
        Some(graphs) => {
            for (tenant, graph) in graphs.as_object().unwrap() {
                let at = format!("{file} ({tenant})");
                check_graph(&identity.tenant(tenant).unwrap(), graph, &at).await;
            }
        }
        None => check_graph(identity, &case["graph"], &file).await,
    }
}

#[tokio::test]
async fn vectors_pass_on_memory_store() {
    for path in common::vector_files() {
        replay(&identity::connect("memory:").await.unwrap(), &path).await;
    }
}

#[tokio::test]
async fn vectors_pass_on_sqlite_in_memory() {
    for path in common::vector_files() {
        replay(&identity::connect("sqlite::memory:").await.unwrap(), &path).await;
    }
}

#[tokio::test]
async fn vectors_pass_on_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    for (i, path) in common::vector_files().iter().enumerate() {
        let url = format!("sqlite://{}", dir.path().join(format!("v{i}.db")).display());
        let identity = identity::connect(&url).await.unwrap();
        replay(&identity, path).await;
        identity.close().await;
    }
}

#[tokio::test]
async fn vectors_pass_on_postgres() {
    // each file on a database of its own, four at a time (they wait on the server, mostly)
    let replays = common::vector_files().into_iter().map(|path| async move {
        let db = common::TestDb::create().await;
        let identity = identity::connect(db.url()).await.unwrap();
        replay(&identity, &path).await;
        identity.close().await;
        db
    });
    // each database is dropped once every replay is done: dropping one blocks this thread
    // until PostgreSQL drops it, which waits on every backend, including one in the middle of
    // another replay's COPY that only this thread can finish
    let databases: Vec<common::TestDb> = stream::iter(replays).buffer_unordered(4).collect().await;
    drop(databases);
}

#[tokio::test]
async fn vectors_pass_through_pgbouncer_in_transaction_mode() {
    let pooler = common::pooler::PgBouncer::start(&common::admin_url(), 4);
    let pooler = &pooler;
    let replays = common::vector_files().into_iter().map(|path| async move {
        let db = common::TestDb::create().await;
        let identity = identity::connect(&pooler.url_for(db.url())).await.unwrap();
        replay(&identity, &path).await;
        identity.close().await;
        db
    });
    // dropped once every replay is done (see vectors_pass_on_postgres)
    let databases: Vec<common::TestDb> = stream::iter(replays).buffer_unordered(4).collect().await;
    drop(databases);
}
