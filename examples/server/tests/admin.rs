//! The admin routes: disabled without a token, refused without the right one (nothing done),
//! and with it `verify` reports what changed behind the service's back until `rebuild` (or the
//! next identify) applies it.

mod common;

use common::TestServer;
use serde_json::Value;

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = common::client().request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// `GET /admin/verify` with the right token.
async fn verify(server: &TestServer) -> (u16, Value) {
    call(server, reqwest::Method::GET, "/admin/verify", Some(TOKEN)).await
}

/// `POST /admin/rebuild` with the right token.
async fn rebuild(server: &TestServer) -> (u16, Value) {
    call(server, reqwest::Method::POST, "/admin/rebuild", Some(TOKEN)).await
}

const TOKEN: &str = "admin-token-s3cret";

#[tokio::test]
async fn admin_routes_are_disabled_without_a_token() {
    let server = TestServer::start("memory:", &[]).await;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/verify"),
        (reqwest::Method::POST, "/admin/rebuild"),
        (reqwest::Method::GET, "/admin/blocked"),
        (reqwest::Method::GET, "/admin/contacts/1/history"),
        (reqwest::Method::POST, "/admin/customers/1/split"),
        (reqwest::Method::POST, "/admin/customers/1/erase"),
    ] {
        let (status, body) = call(&server, method, path, Some("anything")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn admin_routes_need_the_token_and_report_and_repair() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("admin.db").display());
    let server = TestServer::start(&url, &["--admin-token", TOKEN]).await;
    let identify = |body: &'static str| {
        let request = common::client().post(server.url("/identify")).body(body);
        async move { assert_eq!(request.send().await.unwrap().status(), 200) }
    };
    identify(r#"{"email":"a@x.io","phoneNumber":"1"}"#).await;
    identify(r#"{"email":"b@x.io","phoneNumber":"1"}"#).await;

    let (prefix, upper) = (&TOKEN[..TOKEN.len() - 1], TOKEN.to_uppercase());
    for token in [None, Some("wrong"), Some(prefix), Some(upper.as_str())] {
        let (status, body) = call(&server, reqwest::Method::POST, "/admin/rebuild", token).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized")),
            "{token:?}"
        );
        assert!(!body.to_string().contains(TOKEN), "{body}");
    }
    let (status, report) = verify(&server).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            report["rows"].as_u64(),
            report["customers"].as_u64(),
            report["clean"].as_bool()
        ),
        (Some(2), Some(1), Some(true))
    );

    // a chained secondary written behind the service's back
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
         VALUES ('c@x.io', NULL, 2, 'secondary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (_, report) = verify(&server).await;
    assert_eq!(report["clean"], false);
    let codes: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"broken_link") && codes.contains(&"pending_changes"),
        "{report}"
    );

    let (status, rebuilt) = rebuild(&server).await;
    assert_eq!(status, 200);
    assert_eq!(rebuilt["relinked"], serde_json::json!([3]));
    let (_, report) = verify(&server).await;
    assert_eq!(report["clean"], true, "{report}");
    server.stop().await;
}

#[tokio::test]
async fn an_empty_or_weak_admin_token_is_refused_at_start_up() {
    let empty = common::start_up_error(&["--admin-token", ""]).await;
    assert!(
        empty.contains("--admin-token") && empty.contains("is empty"),
        "{empty}"
    );
    let weak = common::start_up_error(&["--admin-token", "x"]).await;
    assert!(weak.contains("at least 16 characters"), "{weak}");
}

#[tokio::test]
async fn admin_routes_refuse_a_token_or_tenant_sent_twice() {
    let server = TestServer::start("memory:", &["--admin-token", TOKEN]).await;
    let bearer = format!("Bearer {TOKEN}");
    for (extra, named) in [
        (("Authorization", bearer.as_str()), "Authorization"),
        (("X-Tenant-Id", "shop-b"), "X-Tenant-Id"),
    ] {
        let mut request = common::client()
            .get(server.url("/admin/export"))
            .header("Authorization", &bearer)
            .header("X-Tenant-Id", "shop-a");
        request = request.header(extra.0, extra.1);
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("duplicate_header")),
            "{body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains(named),
            "{body}"
        );
    }
    server.stop().await;
}

/// A POST of `body` to `path` with the admin token: status and JSON answer.
async fn post_admin(server: &TestServer, path: &str, body: String) -> (u16, Value) {
    let response = common::client()
        .post(server.url(path))
        .bearer_auth(TOKEN)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_ten_thousand_row_customer_splits_in_one_request() {
    let server = TestServer::start("memory:", &["--admin-token", TOKEN]).await;
    // one customer: 10,001 checkouts sharing a phone number, each with an email of its own
    let checkouts: Vec<Value> = (0..10_001)
        .map(|n| {
            let at = format!("2024-01-01T00:00:00.{n:06}Z");
            serde_json::json!({"email": format!("c{n}@x.io"), "phoneNumber": "5550100", "at": at})
        })
        .collect();
    let import = serde_json::json!({ "checkouts": checkouts }).to_string();
    let (status, report) = post_admin(&server, "/admin/import", import).await;
    assert_eq!(
        (status, report["customers"].as_u64()),
        (200, Some(1)),
        "{report}"
    );
    let rows = server.identity.all_contacts().await.unwrap();
    assert_eq!(rows.len(), 10_001);
    let primary = rows[0].id.get();

    // move the newest 6,000 rows (30 KB of ids, past the 16 KiB every other route takes)
    let moved: Vec<i64> = rows[rows.len() - 6_000..]
        .iter()
        .map(|r| r.id.get())
        .collect();
    let body = serde_json::json!({"contactIds": moved, "blockShared": true}).to_string();
    assert!(body.len() > 16 * 1024, "{} bytes", body.len());
    let path = format!("/admin/customers/{primary}/split");
    let (status, split) = post_admin(&server, &path, body).await;
    assert_eq!(status, 200, "{split}");
    let new_customer = &split["newCustomer"];
    assert_eq!(
        new_customer["secondaryContactIds"]
            .as_array()
            .unwrap()
            .len(),
        5_999
    );
    assert_eq!(
        split["customer"]["secondaryContactIds"]
            .as_array()
            .unwrap()
            .len(),
        4_000
    );
    let blocked = split["blocked"].as_array().unwrap();
    assert_eq!(
        (blocked.len(), &blocked[0]["kind"]),
        (1, &Value::from("phone")),
        "{blocked:?}"
    );
    identity_testkit::assert_verified(&server.identity).await;

    // past the split's own limit: 413 naming it, and nothing changes
    let padding = "x".repeat(16 * 1024 * 1024);
    let huge = format!(r#"{{"contactIds":[{primary}],"pad":"{padding}"}}"#);
    let (status, body) = post_admin(&server, &path, huge).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("16 MiB (16777216 bytes)"), "{message}");
    let rows_after = server.identity.all_contacts().await.unwrap();
    assert_eq!(rows_after.len(), 10_001);
    server.stop().await;
}

#[tokio::test]
async fn a_long_import_reports_how_far_it_got_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("job.db").display());
    let server = TestServer::start(&url, &["--admin-token", TOKEN]).await;
    let (status, idle) = call(&server, reqwest::Method::GET, "/admin/job", Some(TOKEN)).await;
    assert_eq!((status, idle), (200, serde_json::json!({"job": null})));
    // one customer of 16,000 rows: more than one transaction's worth on SQLite
    let rows: Vec<Value> = (1..=16_000)
        .map(|id| {
            serde_json::json!({"id": id, "email": format!("row{id}@job.io"),
                               "linkedId": if id == 1 { Value::Null } else { Value::from(1) },
                               "createdAt": 1_577_836_800 + id})
        })
        .collect();
    let body = serde_json::json!({ "table": rows }).to_string();
    let import = {
        let request = common::client()
            .post(server.url("/admin/import"))
            .bearer_auth(TOKEN)
            .body(body);
        tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
    };
    let mut seen = Vec::new();
    while !import.is_finished() {
        let (status, body) = call(&server, reqwest::Method::GET, "/admin/job", Some(TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        if !body["job"].is_null() {
            seen.push(body["job"].clone());
        }
    }
    assert_eq!(import.await.unwrap(), 200);
    assert!(
        seen.iter()
            .any(|j| j["kind"] == "import" && j["done"].as_u64() < j["total"].as_u64()),
        "{seen:?}"
    );
    let (_, after) = call(&server, reqwest::Method::GET, "/admin/job", Some(TOKEN)).await;
    assert_eq!(after["job"], Value::Null);
}

/// A call of `method` on `path` with the admin token and `body`: status, content type, JSON.
async fn send_admin(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: &str,
) -> (u16, String, Value) {
    let response = common::client()
        .request(method, server.url(path))
        .bearer_auth(TOKEN)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.json().await.unwrap())
}

/// A body a route refuses: method, path, body, error code, field, words its message has.
type Refused = (
    reqwest::Method,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);

#[tokio::test]
async fn admin_bodies_of_the_wrong_shape_get_the_services_400_json_and_change_nothing() {
    use reqwest::Method;
    let server = TestServer::start("memory:", &["--admin-token", TOKEN]).await;
    let (_, _, settings_before) = send_admin(&server, Method::GET, "/settings", "").await;
    let split = "/admin/customers/1/split";
    let erase = "/admin/customers/1/erase";
    let cases: &[Refused] = &[
        (Method::PUT, "/settings", "{", "malformed_json", None, "EOF"),
        (
            Method::PUT,
            "/settings",
            "[1]",
            "invalid_input",
            Some("request"),
            "phoneRegion",
        ),
        (
            Method::PUT,
            "/settings",
            r#"{"phoneRegion": 5}"#,
            "invalid_input",
            Some("phoneRegion"),
            "must be a string or null",
        ),
        (
            Method::PUT,
            "/settings",
            "{}",
            "invalid_input",
            Some("phoneRegion"),
            "is required",
        ),
        (
            Method::PUT,
            "/settings/limits",
            r#"{"emails": "five"}"#,
            "invalid_input",
            Some("limits"),
            "emails must be a whole number or null",
        ),
        (
            Method::PUT,
            "/settings/limits",
            r#"{"phones": 2.5}"#,
            "invalid_input",
            Some("limits"),
            "phones must be",
        ),
        (
            Method::POST,
            "/admin/blocked",
            r#"{"kind": 5, "value": "a@b.io"}"#,
            "invalid_input",
            Some("kind"),
            "must be a string",
        ),
        (
            Method::POST,
            "/admin/blocked",
            r#"{"value": "a@b.io"}"#,
            "invalid_input",
            Some("kind"),
            "is required",
        ),
        (
            Method::DELETE,
            "/admin/blocked",
            "kind=email",
            "malformed_json",
            None,
            "expected value",
        ),
        (
            Method::POST,
            split,
            r#"{"contactIds": [2, -3]}"#,
            "invalid_input",
            Some("contactIds"),
            "positive integers",
        ),
        (
            Method::POST,
            split,
            r#"{"contactIds": [2], "blockShared": "yes"}"#,
            "invalid_input",
            Some("request"),
            "blockShared must be true or false",
        ),
        (
            Method::POST,
            split,
            r#"{"blockShared": true}"#,
            "invalid_input",
            Some("contactIds"),
            "is required",
        ),
        (
            Method::POST,
            "/admin/customers/x/split",
            "{",
            "invalid_input",
            Some("contactId"),
            "",
        ),
        (
            Method::POST,
            erase,
            r#"{"suppress": 1}"#,
            "invalid_input",
            Some("request"),
            "suppress must be true or false",
        ),
        (
            Method::POST,
            erase,
            r#""suppress""#,
            "invalid_input",
            Some("request"),
            "must be empty or a JSON object",
        ),
        (
            Method::POST,
            erase,
            "[]",
            "invalid_input",
            Some("request"),
            "must be empty or a JSON object",
        ),
        (
            Method::PUT,
            "/settings/limits",
            "[5, 3]",
            "invalid_input",
            Some("request"),
            "a JSON object like",
        ),
        (
            Method::POST,
            "/admin/import",
            r#"{"checkouts": {}}"#,
            "invalid_input",
            Some("checkouts"),
            "must be an array",
        ),
        (
            Method::POST,
            "/admin/import",
            r#"{"table": null}"#,
            "invalid_input",
            Some("table"),
            "must be an array",
        ),
        (
            Method::POST,
            "/admin/import",
            r#"{"checkouts": [], "table": []}"#,
            "invalid_input",
            Some("request"),
            "not both",
        ),
        (
            Method::POST,
            "/admin/import",
            r#"{"checkouts": [], "onError": 1}"#,
            "invalid_input",
            Some("onError"),
            "abort",
        ),
        (
            Method::POST,
            "/admin/import",
            r#"{"checkouts": [], "onError": "maybe"}"#,
            "invalid_input",
            Some("onError"),
            "maybe",
        ),
        (
            Method::POST,
            "/admin/import",
            r#"{"checkouts": [], "dryRun": "no"}"#,
            "invalid_input",
            Some("request"),
            "dryRun must be true or false",
        ),
        (
            Method::POST,
            "/admin/import",
            "[]",
            "invalid_input",
            Some("request"),
            "must be a JSON object",
        ),
        // judged as parsing the whole body would: a number out of range in one record
        (
            Method::POST,
            "/admin/import",
            r#"{"checkouts": [{"phoneNumber": 1e400, "at": 1}]}"#,
            "malformed_json",
            None,
            "out of range",
        ),
    ];
    for (method, path, body, code, field, words) in cases {
        let (status, content_type, answer) = send_admin(&server, method.clone(), path, body).await;
        let at = format!("{method} {path} {body}");
        assert_eq!(status, 400, "{at}: {answer}");
        assert_eq!(content_type, "application/json", "{at}");
        assert_eq!(answer["error"]["code"], *code, "{at}: {answer}");
        assert_eq!(
            answer["error"].get("field").and_then(Value::as_str),
            *field,
            "{at}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{at}: {answer}");
    }
    // an erase's body may be empty: on to the contact, which does not exist
    let (status, _, answer) = send_admin(&server, Method::POST, erase, "  ").await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (404, &Value::from("not_found"))
    );
    let (_, _, settings_after) = send_admin(&server, Method::GET, "/settings", "").await;
    assert_eq!(settings_before, settings_after);
    let (_, _, blocked) = send_admin(&server, Method::GET, "/admin/blocked", "").await;
    let (_, _, defaults) = {
        let fresh = TestServer::start("memory:", &["--admin-token", TOKEN]).await;
        let answer = send_admin(&fresh, Method::GET, "/admin/blocked", "").await;
        fresh.stop().await;
        answer
    };
    assert_eq!(
        blocked, defaults,
        "no refused body changed the blocked list"
    );
    assert!(server.identity.all_contacts().await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_large_import_is_read_record_by_record_and_names_a_bad_one_by_its_index() {
    const RECORDS: usize = 50_000;
    const BAD: usize = 41_234;
    let server = TestServer::start("memory:", &["--admin-token", TOKEN]).await;
    let body = |on_error: &str| {
        let checkouts: Vec<Value> = (0..RECORDS)
            .map(|n| {
                let email = if n == BAD {
                    "not-an-email".to_owned()
                } else {
                    format!("c{n}@bulk.io")
                };
                serde_json::json!({"email": email, "at": 1_700_000_000 + n})
            })
            .collect();
        serde_json::json!({"checkouts": checkouts, "onError": on_error}).to_string()
    };
    let abort = body("abort");
    assert!(abort.len() > 1024 * 1024, "{} bytes", abort.len());
    let (status, refused) = post_admin(&server, "/admin/import", abort).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["field"], "checkouts", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("record {BAD}")), "{message}");
    assert!(server.identity.all_contacts().await.unwrap().is_empty());

    let (status, report) = post_admin(&server, "/admin/import", body("skip")).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["checkouts"], RECORDS, "{report}");
    assert_eq!(report["rows"], RECORDS - 1, "{report}");
    assert_eq!(report["rejected"], 1, "{report}");
    assert_eq!(report["firstRejected"][0]["record"], BAD, "{report}");
    assert_eq!(
        server.identity.all_contacts().await.unwrap().len(),
        RECORDS - 1
    );
    server.stop().await;
}
