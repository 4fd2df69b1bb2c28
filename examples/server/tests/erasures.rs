//! The restore routes as an operator uses them: `GET /admin/backup` downloads a SQLite copy
//! that opens with every customer, `--erasure-log` gets a record per erase, and after a
//! restore `POST /admin/erasures/reapply` with those lines erases them again; every answer
//! matches the OpenAPI document, and refused bodies change nothing.

mod common;

use common::TestServer;
use serde_json::{Value, json};

const ADMIN: &str = "erasures-admin-token";

/// An admin call: status, content type and body bytes.
async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    tenant: Option<&str>,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut request = common::client()
        .request(method, server.url(path))
        .bearer_auth(ADMIN)
        .body(body.to_vec());
    if let Some(tenant) = tenant {
        request = request.header("X-Tenant-Id", tenant);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

/// Checks `body` against the documented schema of `path`'s `method` answering `status`.
fn assert_documented(path: &str, method: &str, status: u16, kind: &str, body: &Value) {
    let doc: Value = serde_json::from_str(identity_server::handlers::OPENAPI).unwrap();
    let schema =
        &doc["paths"][path][method]["responses"][status.to_string()]["content"][kind]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} -> {status} ({kind}) undocumented"
    );
    let validator =
        jsonschema::validator_for(&json!({"allOf": [schema], "components": doc["components"]}))
            .unwrap();
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} -> {status}: {body}: {errors:?}"
    );
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test]
async fn a_downloaded_backup_restores_and_the_logged_erasures_apply_to_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let (live_db, log) = (
        dir.path().join("live.db"),
        dir.path().join("erasures.jsonl"),
    );
    let url = format!("sqlite://{}", live_db.display());
    let log_flag = log.to_str().unwrap();
    let live = TestServer::start(&url, &["--admin-token", ADMIN, "--erasure-log", log_flag]).await;
    for body in [
        r#"{"email":"doc@x.io","phoneNumber":"4155550199"}"#,
        r#"{"email":"emmett@x.io","phoneNumber":"4155550199"}"#,
        r#"{"email":"biff@x.io"}"#,
    ] {
        let (status, ..) = call(
            &live,
            reqwest::Method::POST,
            "/identify",
            None,
            body.as_bytes(),
        )
        .await;
        assert_eq!(status, 200);
    }

    let (status, kind, file) = call(&live, reqwest::Method::GET, "/admin/backup", None, b"").await;
    assert_eq!((status, kind.as_str()), (200, "application/vnd.sqlite3"));
    assert!(file.starts_with(b"SQLite format 3\0"), "not a SQLite file");
    let nightly = dir.path().join("nightly.db");
    std::fs::write(&nightly, &file).unwrap();

    // erased after the backup, over HTTP: the log gets the record
    let erase = "/admin/customers/2/erase";
    let (status, _, receipt) = call(
        &live,
        reqwest::Method::POST,
        erase,
        None,
        br#"{"suppress":true}"#,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&receipt));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 1, "{logged}");
    let (status, kind, listed) =
        call(&live, reqwest::Method::GET, "/admin/erasures", None, b"").await;
    assert_eq!((status, kind.as_str()), (200, "application/x-ndjson"));
    assert_eq!(
        String::from_utf8(listed).unwrap(),
        logged,
        "the route lists what the log holds"
    );
    let record = json_of(logged.lines().next().unwrap().as_bytes());
    assert_documented(
        "/admin/erasures",
        "get",
        200,
        "application/x-ndjson",
        &record,
    );
    for value in ["doc@x.io", "emmett@x.io", "4155550199"] {
        assert!(!logged.contains(value), "the log holds {value}");
    }
    live.stop().await;

    // the restored backup holds them again, until the log's lines are posted
    let restored_url = format!("sqlite://{}", nightly.display());
    let restored = TestServer::start(&restored_url, &["--admin-token", ADMIN]).await;
    assert!(
        restored
            .identity
            .lookup(Some("doc@x.io"), None)
            .await
            .unwrap()
            .is_some()
    );
    let path = "/admin/erasures/reapply";
    let (status, _, report) = call(
        &restored,
        reqwest::Method::POST,
        path,
        None,
        logged.as_bytes(),
    )
    .await;
    let report = json_of(&report);
    assert_eq!(status, 200, "{report}");
    assert_documented(path, "post", 200, "application/json", &report);
    assert_eq!(
        report,
        json!({"records": 1, "applied": 1, "alreadyErased": 0, "erasedIds": [1, 2],
               "reusedIds": [], "suppressed": 3})
    );
    assert!(
        restored
            .identity
            .lookup(Some("biff@x.io"), None)
            .await
            .unwrap()
            .is_some()
    );
    let again = restored
        .identity
        .identify(Some("emmett@x.io"), Some("777"))
        .await
        .unwrap();
    assert!(again.emails.is_empty(), "suppressed again: {again:?}");
    restored.stop().await;
}

#[tokio::test]
async fn refused_bodies_change_nothing_and_say_why() {
    let server = TestServer::start("memory:", &["--admin-token", ADMIN]).await;
    server
        .identity
        .identify(Some("doc@x.io"), None)
        .await
        .unwrap();
    let record = |tenant: &str| {
        json!({"tenantId": tenant, "customerId": 1, "contactIds": [1],
               "erasedAt": "2026-11-22T10:00:00Z", "suppressed": false,
               "rows": [{"id": 1, "createdAt": null}], "digests": [], "secret": null})
        .to_string()
    };
    let path = "/admin/erasures/reapply";
    let cases: [(Vec<u8>, u16, &str); 5] = [
        (
            format!("{}\n{{\"tenantId\":\"default\"}}\n", record("default")).into_bytes(),
            400,
            "line 2",
        ),
        (record("shop-b").into_bytes(), 400, "shop-b"),
        (b"\xff\xfe".to_vec(), 400, "UTF-8"),
        (
            json!({"tenantId": "default", "customerId": 1, "contactIds": [1],
                   "erasedAt": "2026-11-22T10:00:00Z", "suppressed": true,
                   "rows": [{"id": 1, "createdAt": null}],
                   "digests": [{"kind": "email", "digest": "ab".repeat(32)}],
                   "secret": "0000000000000000"})
            .to_string()
            .into_bytes(),
            409,
            "secret",
        ),
        (vec![b'x'; 64 * 1024 * 1024 + 1], 413, "64 MiB"),
    ];
    for (body, expected, says) in cases {
        let (status, _, answer) = call(&server, reqwest::Method::POST, path, None, &body).await;
        let answer = json_of(&answer);
        assert_eq!(status, expected, "{answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
        if status == 400 {
            assert_eq!(answer["error"]["field"], "erasures", "{answer}");
        }
        assert_documented(path, "post", status, "application/json", &answer);
        assert_eq!(server.identity.all_contacts().await.unwrap().len(), 1);
        assert!(server.identity.erasures().await.unwrap().is_empty());
    }
    // backups copy SQLite only
    let (status, _, answer) = call(&server, reqwest::Method::GET, "/admin/backup", None, b"").await;
    assert_eq!(status, 409);
    assert_documented(
        "/admin/backup",
        "get",
        409,
        "application/json",
        &json_of(&answer),
    );
    // the admin token only
    let response = common::client()
        .get(server.url("/admin/erasures"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    server.stop().await;
    let plain = TestServer::start("memory:", &[]).await;
    for route in ["/admin/erasures", "/admin/backup"] {
        assert_eq!(common::get_status(&plain, route).await, 404, "{route}");
    }
    plain.stop().await;
}

#[tokio::test]
async fn an_erasure_log_that_cannot_be_opened_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let message = common::start_up_error(&["--erasure-log", dir.path().to_str().unwrap()]).await;
    assert!(message.contains("erasure log"), "{message}");
}
