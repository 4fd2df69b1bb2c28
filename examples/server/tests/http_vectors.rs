//! The language-neutral vectors replayed over HTTP, on SQLite and PostgreSQL, with both
//! spellings of the primary key and with the misspelt one turned off.

mod common;

use common::TestServer;
use futures_util::stream::{self, StreamExt};
use serde_json::{Value, json};

/// `identity_identify_total` by outcome, as `GET /metrics` shows it.
async fn identify_counts(server: &TestServer) -> std::collections::BTreeMap<String, i64> {
    let text = common::client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == "identity_identify_total")
        .map(|s| {
            let prometheus_parse::Value::Counter(n) = s.value else {
                panic!("identity_identify_total is a counter: {s:?}");
            };
            (s.labels.get("outcome").unwrap().to_owned(), n as i64)
        })
        .collect()
}

/// Replays one vector file; `legacy` says whether `primaryContatctId` is expected.
async fn replay(server: &TestServer, path: &std::path::Path, legacy: bool) {
    let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let client = common::client();
    let counted_before = identify_counts(server).await;
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let at = format!("{file} step {i}");
        let tenant = step.get("tenant").and_then(Value::as_str);
        // what the step's tenant holds (the default tenant's when the id is bad)
        let seen = tenant
            .and_then(|t| server.identity.tenant(t).ok())
            .unwrap_or_else(|| server.identity.clone());
        if let Some(settings) = step.get("settings") {
            settings_step(server, tenant, settings, step, &at).await;
            continue;
        }
        if ["list", "block", "unblock"]
            .iter()
            .any(|k| step.get(k).is_some())
        {
            blocked_step(server, tenant, step, &at).await;
            continue;
        }
        if step.get("history").is_some() {
            history_step(server, tenant, step, &at).await;
            continue;
        }
        if step.get("customer").is_some() {
            read_customer_step(server, tenant, step, &at).await;
            continue;
        }
        if step.get("limits").is_some() {
            limits_step(server, tenant, step, &at).await;
            continue;
        }
        if step.get("events").is_some() {
            events_step(server, tenant, step, &at).await;
            continue;
        }
        if step.get("webhook").is_some() {
            webhook_step(server, tenant, step, &at).await;
            continue;
        }
        if step.get("stats").is_some() {
            let now = identify_counts(server).await;
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
        if ["split", "erase", "import", "reapply"]
            .iter()
            .any(|k| step.get(k).is_some())
        {
            customer_step(server, tenant, &seen, step, &at).await;
            continue;
        }
        if ["export", "contacts", "erasures"]
            .iter()
            .any(|k| step.get(k).is_some())
        {
            export_step(server, tenant, step, &at).await;
            continue;
        }
        let before = seen.all_contacts().await.unwrap();
        // alternate: with and without a JSON content type (both must work), and every third
        // step at the alias some deployments use
        let path = if i % 3 == 2 {
            "/api/identify"
        } else {
            "/identify"
        };
        let mut request = client
            .post(server.url(path))
            .body(step["request"].to_string());
        if i % 2 == 0 {
            request = request.header("content-type", "application/json");
        }
        if let Some(tenant) = tenant {
            request = request.header("X-Tenant-Id", tenant);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let mut body: Value = response.json().await.unwrap();
        let after = seen.all_contacts().await.unwrap();
        if let Some(expected) = step.get("error") {
            let code = expected["code"].as_str().unwrap();
            let (wanted, prefix) = match code {
                "blocked_value" => (422, "blocked value: "),
                _ => (400, "invalid "),
            };
            assert_eq!(status, wanted, "{at}: {body}");
            assert_eq!(body["error"]["code"], code, "{at}: {body}");
            assert_eq!(
                body["error"].get("field"),
                expected.get("field"),
                "{at}: {body}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(prefix),
                "{at}: {body}"
            );
            assert_eq!(before, after, "{at}: a refused request wrote");
            continue;
        }
        assert_eq!(status, 200, "{at}: {body}");
        let contact = body["contact"].as_object_mut().unwrap();
        let legacy_value = contact.remove("primaryContatctId");
        if legacy {
            assert_eq!(
                legacy_value.as_ref(),
                contact.get("primaryContactId"),
                "{at}: both spellings, same value"
            );
        } else {
            assert_eq!(legacy_value, None, "{at}: legacy key must be off");
        }
        assert_eq!(body, step["response"], "{at}");
        let created = after.len() - before.len();
        assert_eq!(
            created,
            usize::from(!step["creates"].is_null()),
            "{at}: rows created"
        );
        if let Some(new) = after.last().filter(|_| created == 1) {
            assert_eq!(json!(new.id.get()), step["creates"]["id"], "{at}");
        }
    }
    // the graph of each tenant through the admin routes: verify, rebuild, verify
    let graphs = match case.get("graphs") {
        Some(graphs) => graphs.as_object().unwrap().clone(),
        None => [("default".to_owned(), case["graph"].clone())]
            .into_iter()
            .collect(),
    };
    for (tenant, graph) in &graphs {
        check_graph(server, tenant, graph, &format!("{file} ({tenant})")).await;
    }
}

/// A `settings` step: `PUT /settings` with the admin token, then `GET /settings` agrees.
async fn settings_step(
    server: &TestServer,
    tenant: Option<&str>,
    settings: &Value,
    step: &Value,
    at: &str,
) {
    let call = async |method: reqwest::Method, body: String| -> (u16, Value) {
        let mut request = common::client()
            .request(method, server.url("/settings"))
            .bearer_auth(ADMIN_TOKEN)
            .body(body);
        if let Some(tenant) = tenant {
            request = request.header("X-Tenant-Id", tenant);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    };
    let (status, body) = call(reqwest::Method::PUT, settings.to_string()).await;
    match step.get("error") {
        Some(expected) => {
            let code = expected["code"].as_str().unwrap();
            let wanted = if code == "conflict" { 409 } else { 400 };
            assert_eq!(status, wanted, "{at}: {body}");
            assert_eq!(body["error"]["code"], code, "{at}: {body}");
            assert_eq!(
                body["error"].get("field"),
                expected.get("field"),
                "{at}: {body}"
            );
        }
        None => {
            assert_eq!(status, 200, "{at}: {body}");
            assert_eq!(body["phoneRegion"], step["result"]["phoneRegion"], "{at}");
            let (_, read) = call(reqwest::Method::GET, String::new()).await;
            assert_eq!(read["phoneRegion"], step["result"]["phoneRegion"], "{at}");
            assert_eq!(read["tenantId"], tenant.unwrap_or("default"), "{at}");
        }
    }
}

/// A `limits` step through `PUT /settings/limits`: the caps as answered and as `GET /settings`
/// reads them back, or the error (the caps stay).
async fn limits_step(server: &TestServer, tenant: Option<&str>, step: &Value, at: &str) {
    let (_, before) = admin_call(
        server,
        reqwest::Method::GET,
        "/settings",
        tenant,
        String::new(),
    )
    .await;
    let body = step["limits"].to_string();
    let (status, answer) = admin_call(
        server,
        reqwest::Method::PUT,
        "/settings/limits",
        tenant,
        body,
    )
    .await;
    let (_, read) = admin_call(
        server,
        reqwest::Method::GET,
        "/settings",
        tenant,
        String::new(),
    )
    .await;
    match step.get("error") {
        Some(expected) => {
            assert_eq!(status, 400, "{at}: {answer}");
            assert_eq!(answer["error"]["code"], expected["code"], "{at}: {answer}");
            assert_eq!(
                answer["error"]["field"], expected["field"],
                "{at}: {answer}"
            );
            assert_eq!(read, before, "{at}: refused caps changed the settings");
        }
        None => {
            assert_eq!(status, 200, "{at}: {answer}");
            assert_eq!(answer["limits"], step["result"], "{at}");
            assert_eq!(read["limits"], step["result"], "{at}");
        }
    }
}

/// One call of an admin route with the admin token, for `tenant` (absent: the default); the
/// status and the JSON body.
async fn admin_call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    tenant: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut request = common::client()
        .request(method, server.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .body(body);
    if let Some(tenant) = tenant {
        request = request.header("X-Tenant-Id", tenant);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// An `events` step through `GET /events` (read with the admin token, which may read any
/// tenant's feed): each event's type, tenant and data, or the error with its field.
async fn events_step(server: &TestServer, tenant: Option<&str>, step: &Value, at: &str) {
    let wire = &step["events"];
    let mut query = vec![];
    if let Some(after) = wire["after"].as_str() {
        query.push(format!("after={after}"));
    }
    if let Some(limit) = wire["limit"].as_u64() {
        query.push(format!("limit={limit}"));
    }
    let path = format!("/events?{}", query.join("&"));
    let (status, mut body) =
        admin_call(server, reqwest::Method::GET, &path, tenant, String::new()).await;
    match step.get("error") {
        Some(expected) => {
            assert_eq!(status, 400, "{at}: {body}");
            assert_eq!(body["error"]["code"], expected["code"], "{at}: {body}");
            assert_eq!(body["error"]["field"], expected["field"], "{at}: {body}");
        }
        None => {
            assert_eq!(status, 200, "{at}: {body}");
            let events = body["events"].as_array_mut().unwrap();
            let last = events.last().map(|e| e["cursor"].clone());
            for event in events.iter_mut() {
                let event = event.as_object_mut().unwrap();
                for key in ["id", "occurredAt", "cursor"] {
                    assert!(
                        event.remove(key).is_some_and(|v| v.is_string()),
                        "{at}: {key}"
                    );
                }
            }
            let next = body.as_object_mut().unwrap().remove("next").unwrap();
            assert!(last.is_none_or(|c| c == next), "{at}: next");
            assert_eq!(body, step["result"], "{at}");
        }
    }
}

/// A `webhook` step through `/admin/webhooks`: the endpoint(s) without what no vector can know,
/// or the error with its field.
async fn webhook_step(server: &TestServer, tenant: Option<&str>, step: &Value, at: &str) {
    use reqwest::Method;
    let wire = &step["webhook"];
    let (method, path, body, created) = if let Some(create) = wire.get("create") {
        (
            Method::POST,
            "/admin/webhooks".to_owned(),
            create.to_string(),
            true,
        )
    } else if wire.get("list").is_some() {
        (
            Method::GET,
            "/admin/webhooks".to_owned(),
            String::new(),
            false,
        )
    } else if let Some(id) = wire.get("deliveries") {
        let limit = wire
            .get("limit")
            .map(|n| format!("?limit={n}"))
            .unwrap_or_default();
        let path = format!("/admin/webhooks/{id}/deliveries{limit}");
        (Method::GET, path, String::new(), false)
    } else if let Some(id) = wire.get("replay") {
        let body = serde_json::json!({"after": wire.get("after")}).to_string();
        (
            Method::POST,
            format!("/admin/webhooks/{id}/replay"),
            body,
            false,
        )
    } else if let Some(id) = wire.get("delete") {
        (
            Method::DELETE,
            format!("/admin/webhooks/{id}"),
            String::new(),
            false,
        )
    } else {
        panic!("{at}: an unknown webhook step {wire}")
    };
    let mut request = common::client()
        .request(method, server.url(&path))
        .bearer_auth(ADMIN_TOKEN)
        .body(body);
    if let Some(tenant) = tenant {
        request = request.header("X-Tenant-Id", tenant);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match step.get("error") {
        Some(expected) => {
            assert_eq!(status, status_of(&expected["code"]), "{at}: {body}");
            assert_eq!(body["error"]["code"], expected["code"], "{at}: {body}");
            assert_eq!(
                body["error"].get("field"),
                expected.get("field"),
                "{at}: {body}"
            );
        }
        None => {
            let answer = match (wire.get("list"), wire.get("deliveries")) {
                (Some(_), _) => body["webhooks"].clone(),
                (_, Some(_)) => body["deliveries"].clone(),
                _ => body,
            };
            let expected_status = if created {
                201
            } else if wire.get("delete").is_some() {
                204
            } else {
                200
            };
            assert_eq!(status, expected_status, "{at}: {text}");
            let answer = identity_testkit::webhook_steps::comparable(answer, created, at);
            assert_eq!(answer, step["result"], "{at}");
        }
    }
}

/// A `history` step through `GET /admin/contacts/{id}/history`: the answer without times, or
/// the error.
async fn history_step(server: &TestServer, tenant: Option<&str>, step: &Value, at: &str) {
    let path = format!("/admin/contacts/{}/history", step["history"]);
    let (status, mut body) =
        admin_call(server, reqwest::Method::GET, &path, tenant, String::new()).await;
    match step.get("error") {
        Some(expected) => {
            assert_eq!(status, 404, "{at}: {body}");
            assert_eq!(body["error"]["code"], expected["code"], "{at}: {body}");
        }
        None => {
            assert_eq!(status, 200, "{at}: {body}");
            for event in body["events"].as_array_mut().unwrap() {
                event.as_object_mut().unwrap().remove("at");
            }
            assert_eq!(body, step["result"], "{at}");
        }
    }
}

/// A `customer` step through `GET /admin/customers/{id}`: the rows without their times (which
/// must be strings), or the error.
async fn read_customer_step(server: &TestServer, tenant: Option<&str>, step: &Value, at: &str) {
    let path = format!("/admin/customers/{}", step["customer"]);
    let (status, mut body) =
        admin_call(server, reqwest::Method::GET, &path, tenant, String::new()).await;
    match step.get("error") {
        Some(expected) => {
            assert_eq!(status, status_of(&expected["code"]), "{at}: {body}");
            assert_eq!(body["error"]["code"], expected["code"], "{at}: {body}");
        }
        None => {
            assert_eq!(status, 200, "{at}: {body}");
            identity_testkit::drop_row_times(&mut body["rows"], at);
            assert_eq!(body, step["result"], "{at}");
        }
    }
}

/// The status of an admin route's error code.
fn status_of(code: &Value) -> u16 {
    match code.as_str() {
        Some("conflict") => 409,
        Some("not_found") => 404,
        _ => 400,
    }
}

/// A `split`, `erase` or `import` step through `POST /admin/customers/{id}/split`,
/// `.../erase` or `POST /admin/import`: the answer (an erase's receipt without its time) and
/// `table`, or the error, which changes no row.
async fn customer_step(
    server: &TestServer,
    tenant: Option<&str>,
    seen: &identity::Identity,
    step: &Value,
    at: &str,
) {
    let (action, path, body) = if let Some(wire) = step.get("import") {
        ("import", "/admin/import".to_owned(), wire.to_string())
    } else if let Some(records) = step.get("reapply") {
        // JSON Lines, as an erasure log holds them
        let lines: Vec<String> = records
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        let path = "/admin/erasures/reapply".to_owned();
        ("reapply", path, lines.join("\n"))
    } else {
        let (action, wire) = match step.get("split") {
            Some(wire) => ("split", wire),
            None => ("erase", &step["erase"]),
        };
        let mut body = wire.clone();
        body.as_object_mut().unwrap().remove("customer");
        let path = format!("/admin/customers/{}/{action}", wire["customer"]);
        (action, path, body.to_string())
    };
    let before = seen.all_contacts().await.unwrap();
    let erasures_before = seen.erasures().await.unwrap();
    let (status, mut body) = admin_call(server, reqwest::Method::POST, &path, tenant, body).await;
    let after = seen.all_contacts().await.unwrap();
    match step.get("error") {
        Some(expected) => {
            assert_eq!(status, status_of(&expected["code"]), "{at}: {body}");
            assert_eq!(body["error"]["code"], expected["code"], "{at}: {body}");
            assert_eq!(
                body["error"].get("field"),
                expected.get("field"),
                "{at}: {body}"
            );
            assert_eq!(before, after, "{at}: a refused {action} changed the table");
            let erasures_after = seen.erasures().await.unwrap();
            assert_eq!(
                erasures_before, erasures_after,
                "{at}: a refused {action} erased"
            );
        }
        None => {
            assert_eq!(status, 200, "{at}: {body}");
            if action == "erase" {
                let at_time = body.as_object_mut().unwrap().remove("erasedAt");
                assert!(at_time.is_some_and(|t| t.is_string()), "{at}: no erasedAt");
            }
            assert_eq!(body, step["result"], "{at}");
        }
    }
    if let Some(table) = step.get("table") {
        let actual: Vec<Value> = after
            .iter()
            .map(|c| json!({"id": c.id.get(), "linkedId": c.linked_id().map(|l| l.get())}))
            .collect();
        assert_eq!(&Value::from(actual), table, "{at}: wrong table");
    }
}

/// An `export` or `contacts` step through `GET /admin/export` or `GET /admin/contacts`: JSON
/// Lines, one customer or row per line (a row's times checked to be there, then left out).
async fn export_step(server: &TestServer, tenant: Option<&str>, step: &Value, at: &str) {
    let path = if step.get("export").is_some() {
        "/admin/export"
    } else if step.get("erasures").is_some() {
        "/admin/erasures"
    } else {
        "/admin/contacts"
    };
    let mut request = common::client()
        .get(server.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(tenant) = tenant {
        request = request.header("X-Tenant-Id", tenant);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "{at}");
    assert_eq!(
        response.headers()["content-type"],
        "application/x-ndjson",
        "{at}"
    );
    let text = response.text().await.unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "{at}: {text:?}");
    let mut lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    if step.get("contacts").is_some() {
        let mut rows = Value::from(lines);
        identity_testkit::drop_row_times(&mut rows, at);
        lines = serde_json::from_value(rows).unwrap();
    }
    if step.get("erasures").is_some() {
        let tenant = tenant.unwrap_or("default");
        lines = lines
            .iter()
            .map(|r| record_as_vector(r, tenant, at))
            .collect();
    }
    assert_eq!(Value::from(lines), step["result"], "{at}");
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
    json!({
        "customerId": record["customerId"],
        "contactIds": record["contactIds"],
        "suppressed": record["suppressed"],
        "rows": pick("rows", "id"),
        "digests": pick("digests", "kind"),
    })
}

/// A blocked-list step through `/admin/blocked`: `list` (GET), `block` (POST) or `unblock`
/// (DELETE) with the admin token; a refused change leaves the list as it was.
async fn blocked_step(server: &TestServer, tenant: Option<&str>, step: &Value, at: &str) {
    let call = async |method: reqwest::Method, body: String| -> (u16, Value) {
        admin_call(server, method, "/admin/blocked", tenant, body).await
    };
    let (_, before) = call(reqwest::Method::GET, String::new()).await;
    let (status, body) = if step.get("list").is_some() {
        (200, before.clone())
    } else if let Some(entry) = step.get("block") {
        call(reqwest::Method::POST, entry.to_string()).await
    } else {
        call(reqwest::Method::DELETE, step["unblock"].to_string()).await
    };
    match step.get("error") {
        Some(expected) => {
            assert_eq!(status, status_of(&expected["code"]), "{at}: {body}");
            assert_eq!(body["error"]["code"], expected["code"], "{at}: {body}");
            assert_eq!(body["error"]["field"], expected["field"], "{at}: {body}");
            let (_, after) = call(reqwest::Method::GET, String::new()).await;
            assert_eq!(before, after, "{at}: a refused change changed the list");
        }
        None if step.get("list").is_some() => {
            assert_eq!(body["blocked"], step["result"], "{at}: {body}");
            assert_eq!(body["tenantId"], tenant.unwrap_or("default"), "{at}");
        }
        None => {
            assert_eq!(status, 200, "{at}: {body}");
            assert_eq!(body["changed"], step["result"], "{at}: {body}");
        }
    }
}

/// Verify, rebuild, verify through the admin routes, for one tenant.
async fn check_graph(server: &TestServer, tenant: &str, graph: &Value, file: &str) {
    let admin = async |method: reqwest::Method, path: &str| -> Value {
        admin_call(server, method, path, Some(tenant), String::new())
            .await
            .1
    };
    let report = admin(reqwest::Method::GET, "/admin/verify").await;
    assert_eq!(
        (&report["rows"], &report["customers"], &report["clean"]),
        (&graph["rows"], &graph["customers"], &json!(true)),
        "{file}: {report}"
    );
    let rebuilt = admin(reqwest::Method::POST, "/admin/rebuild").await;
    assert_eq!(
        (
            &rebuilt["rows"],
            &rebuilt["customers"],
            &rebuilt["relinked"]
        ),
        (&graph["rows"], &graph["customers"], &json!([])),
        "{file}: {rebuilt}"
    );
    let report = admin(reqwest::Method::GET, "/admin/verify").await;
    assert_eq!(report["clean"], true, "{file}: {report}");
}

const ADMIN_TOKEN: &str = "vector-admin-token";

/// How many vector files replay at once, each on a server and database of its own (a replay
/// waits on its server's commits, mostly).
const AT_ONCE: usize = 4;

#[tokio::test]
async fn vectors_over_http_on_sqlite_with_both_key_spellings() {
    let replays = identity_testkit::vector_files()
        .into_iter()
        .map(|path| async move {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("v.db").display());
            let server = TestServer::start(&url, &["--admin-token", ADMIN_TOKEN]).await;
            replay(&server, &path, true).await;
            server.stop().await;
        });
    stream::iter(replays)
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<()>>()
        .await;
}

#[tokio::test]
async fn vectors_over_http_on_postgres_without_the_legacy_key() {
    let replays = identity_testkit::vector_files()
        .into_iter()
        .map(|path| async move {
            let db = identity_testkit::TestDb::create().await;
            let server = TestServer::start(
                db.url(),
                &["--legacy-key", "false", "--admin-token", ADMIN_TOKEN],
            )
            .await;
            replay(&server, &path, false).await;
            server.stop().await;
            db
        });
    // each database is dropped once every replay is done: dropping one blocks this thread
    // until PostgreSQL drops it, which waits on every backend, including one in the middle of
    // another replay's COPY that only this thread (its server's) can finish
    let databases: Vec<identity_testkit::TestDb> = stream::iter(replays)
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    drop(databases);
}

#[tokio::test]
async fn lookup_over_http_answers_404_until_identified() {
    let server = TestServer::start("sqlite::memory:", &[]).await;
    let client = common::client();
    let lookup = || {
        client
            .get(server.url("/contacts?email=Doc%40HillValley.edu"))
            .send()
    };
    let response = lookup().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    client
        .post(server.url("/identify"))
        .body(r#"{"email":"doc@hillvalley.edu","phoneNumber":123456}"#)
        .send()
        .await
        .unwrap();
    let body: Value = lookup().await.unwrap().json().await.unwrap();
    assert_eq!(body["contact"]["phoneNumbers"], json!(["123456"]));
    let response = client
        .get(server.url("/contacts?phoneNumber=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = client.get(server.url("/contacts")).send().await.unwrap();
    assert_eq!(response.status(), 400, "neither value given");
    assert_eq!(
        server.identity.all_contacts().await.unwrap().len(),
        1,
        "lookups wrote nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_leading_plus_in_the_lookup_query_is_a_plus() {
    let server = TestServer::start("sqlite::memory:", &[]).await;
    let client = common::client();
    client
        .post(server.url("/identify"))
        .body(r#"{"email":"doc@x.io","phoneNumber":"+15550101"}"#)
        .send()
        .await
        .unwrap();
    // as is, percent-encoded, and with a space written `+` inside the number (form encoding)
    for query in [
        "phoneNumber=+15550101",
        "phoneNumber=%2B15550101",
        "email=doc%40x.io&phoneNumber=+1+555+0101",
    ] {
        let response = client
            .get(server.url(&format!("/contacts?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["contact"]["phoneNumbers"],
            json!(["+15550101"]),
            "{query}"
        );
    }
    // a number without its plus is another number
    let response = client
        .get(server.url("/contacts?phoneNumber=15550101"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await;
}
