//! The OpenAPI document describes what the service really answers: every observed response
//! (status, headers, body) is declared for its path and validated against its schema.

mod common;

use common::TestServer;
use reqwest::Method;
use serde_json::{Value, json};

/// The admin token of the services these tests start.
const ADMIN: &str = "openapi-admin-token";

/// One observed exchange.
struct Observed {
    method: &'static str,
    path: &'static str,
    status: u16,
    retry_after: bool,
    body: Value,
}

async fn observe(
    server: &TestServer,
    method: &'static str,
    path: &'static str,
    query: &str,
    body: &str,
) -> Observed {
    let response = common::client()
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            server.url(&format!("{path}{query}")),
        )
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    Observed {
        method,
        path,
        status,
        retry_after,
        body: response.json().await.unwrap(),
    }
}

/// As [`observe`], with a bearer token and an `X-Tenant-Id` when given; a 401 must name the
/// scheme.
async fn observe_as(
    server: &TestServer,
    (method, path, body): (&'static str, &'static str, &str),
    token: Option<&str>,
    tenant: Option<&str>,
) -> Observed {
    let response = common::request(server, method, path, token, tenant)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 401 {
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    Observed {
        method,
        path,
        status,
        retry_after: response.headers().contains_key("retry-after"),
        body: response.json().await.unwrap(),
    }
}

/// As [`observe_as`], for an admin route (no body, the default tenant).
async fn observe_admin(
    server: &TestServer,
    method: &'static str,
    path: &'static str,
    token: Option<&str>,
) -> Observed {
    observe_as(server, (method, path, ""), token, None).await
}

/// The documented path that `path` is an instance of (`/admin/contacts/1/history` of
/// `/admin/contacts/{id}/history`); `path` itself when none is.
fn documented_path<'a>(doc: &'a Value, path: &'a str) -> &'a str {
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .find(|template| {
            let t: Vec<&str> = template.split('/').collect();
            t.len() == segments.len()
                && t.iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
        })
        .map_or(path, String::as_str)
}

/// The schema for `observed`, as a standalone JSON Schema that can resolve the doc's `$ref`s.
fn schema_for(doc: &Value, o: &Observed) -> Value {
    let operation = &doc["paths"][documented_path(doc, o.path)][o.method.to_lowercase()];
    assert!(
        operation.is_object(),
        "{} {} is not documented",
        o.method,
        o.path
    );
    let response = &operation["responses"][o.status.to_string()];
    assert!(
        response.is_object(),
        "{} {} -> {} is not documented",
        o.method,
        o.path,
        o.status
    );
    if o.retry_after {
        assert!(
            response["headers"]["Retry-After"].is_object(),
            "Retry-After undocumented for {}",
            o.status
        );
    }
    let schema = response["content"]["application/json"]["schema"].clone();
    json!({"allOf": [schema], "components": doc["components"]})
}

#[tokio::test]
async fn every_observed_response_matches_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("api.db").display());
    let server = TestServer::start(&url, &["--admin-token", ADMIN]).await;
    let doc: Value = common::client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        documented,
        [
            "/admin/backup",
            "/admin/blocked",
            "/admin/contacts",
            "/admin/contacts/{id}/history",
            "/admin/customers/{id}",
            "/admin/customers/{id}/erase",
            "/admin/customers/{id}/split",
            "/admin/erasures",
            "/admin/erasures/reapply",
            "/admin/export",
            "/admin/import",
            "/admin/job",
            "/admin/rebuild",
            "/admin/verify",
            "/admin/webhooks",
            "/admin/webhooks/{id}",
            "/admin/webhooks/{id}/deliveries",
            "/admin/webhooks/{id}/replay",
            "/admin/whoami",
            "/api/identify",
            "/contacts",
            "/events",
            "/healthz",
            "/identify",
            "/metrics",
            "/openapi.json",
            "/readyz",
            "/settings",
            "/settings/limits"
        ]
    );

    let mut seen = vec![
        observe(
            &server,
            "POST",
            "/identify",
            "",
            r#"{"email":"doc@x.io","phoneNumber":123}"#,
        )
        .await,
        observe(
            &server,
            "POST",
            "/identify",
            "",
            r#"{"email":"marty@x.io","phoneNumber":"123"}"#,
        )
        .await,
        observe(&server, "POST", "/identify", "", r#"{"email":"nope"}"#).await,
        observe(
            &server,
            "POST",
            "/api/identify",
            "",
            r#"{"email":"doc@x.io","phoneNumber":"123"}"#,
        )
        .await,
        observe(&server, "POST", "/identify", "", "{").await,
        observe(&server, "POST", "/identify", "", &"x".repeat(20_000)).await,
        observe(&server, "GET", "/contacts", "?email=doc@x.io", "").await,
        observe(&server, "GET", "/contacts", "?email=who@x.io", "").await,
        observe(&server, "GET", "/contacts", "?phoneNumber=x", "").await,
        observe(&server, "GET", "/events", "", "").await,
        observe(&server, "GET", "/events", "?after=f1.1&limit=1", "").await,
        observe(&server, "GET", "/events", "?after=f1.ffff", "").await,
        observe(&server, "GET", "/events", "?limit=0", "").await,
        observe(&server, "GET", "/events", "?wait=31", "").await,
        observe(&server, "GET", "/events", "?after=nope", "").await,
        observe(&server, "GET", "/healthz", "", "").await,
        observe(&server, "GET", "/readyz", "", "").await,
        observe(&server, "GET", "/openapi.json", "", "").await,
        observe_admin(&server, "GET", "/admin/verify", Some(ADMIN)).await,
        observe_admin(&server, "POST", "/admin/rebuild", Some(ADMIN)).await,
        observe_admin(&server, "GET", "/admin/job", Some(ADMIN)).await,
        observe_admin(&server, "GET", "/admin/customers/1", Some(ADMIN)).await,
        observe_admin(&server, "GET", "/admin/customers/999", Some(ADMIN)).await,
        observe_admin(&server, "GET", "/admin/customers/x", Some(ADMIN)).await,
        observe_admin(&server, "GET", "/admin/verify", None).await,
        observe_admin(&server, "POST", "/admin/rebuild", Some("wrong")).await,
    ];
    // 405 is declared on the route's real method
    let wrong = observe(&server, "GET", "/identify", "", "").await;
    assert_eq!(wrong.status, 405);
    seen.push(Observed {
        method: "POST",
        ..wrong
    });

    // 500: a row that breaks the data model (written behind the service's back)
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE contact SET email = 'DOC@X.IO' WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap();
    let internal = observe(&server, "POST", "/identify", "", r#"{"phoneNumber":"123"}"#).await;
    assert_eq!(
        (internal.status, internal.body["error"]["message"].as_str()),
        (500, Some("internal server error"))
    );
    seen.push(internal);

    // 503: the database is gone (the pool is closed under the service)
    server.identity.close().await;
    for (method, path, query, body) in [
        ("POST", "/identify", "", r#"{"email":"a@x.io"}"#),
        ("GET", "/contacts", "?email=a@x.io", ""),
        ("GET", "/events", "", ""),
        ("GET", "/readyz", "", ""),
    ] {
        let o = observe(&server, method, path, query, body).await;
        assert_eq!((o.status, o.retry_after), (503, true), "{path}: {}", o.body);
        seen.push(o);
    }
    for (method, path) in [("GET", "/admin/verify"), ("POST", "/admin/rebuild")] {
        let o = observe_admin(&server, method, path, Some(ADMIN)).await;
        assert_eq!((o.status, o.retry_after), (503, true), "{path}: {}", o.body);
        seen.push(o);
    }
    // without an admin token the admin routes do not exist
    let plain = TestServer::start("memory:", &[]).await;
    let disabled = observe_admin(&plain, "GET", "/admin/verify", Some(ADMIN)).await;
    assert_eq!(disabled.status, 404);
    seen.push(disabled);

    // with tenant tokens: 401 without one, 403 naming another tenant, 400 for a bad tenant (once
    // the token is good: authentication comes first)
    let token = "token-of-shop-a-0123456789";
    let guarded =
        TestServer::start("memory:", &["--tenant-tokens", &format!("shop-a:{token}")]).await;
    for (tenant, token, status) in [
        (None, None, 401),
        (Some("shop-b"), Some(token), 403),
        (Some("shop a"), Some(token), 400),
        (Some("shop-a"), Some(token), 200),
    ] {
        let mut request = common::client()
            .post(guarded.url("/identify"))
            .body(r#"{"email":"doc@x.io"}"#);
        if let Some(tenant) = tenant {
            request = request.header("X-Tenant-Id", tenant);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let observed = Observed {
            method: "POST",
            path: "/identify",
            status: response.status().as_u16(),
            retry_after: false,
            body: response.json().await.unwrap(),
        };
        assert_eq!(observed.status, status, "{}", observed.body);
        seen.push(observed);
    }

    // the settings routes: the admin token for any tenant; 409 once the tenant has contacts
    let admin = TestServer::start("memory:", &["--admin-token", ADMIN]).await;
    let (get, put) = (
        ("GET", "/settings", ""),
        ("PUT", "/settings", r#"{"phoneRegion":"in"}"#),
    );
    for (exchange, token, status) in [
        (get, Some(ADMIN), 200),
        (put, Some(ADMIN), 200),
        (
            ("PUT", "/settings", r#"{"phoneRegion":"XX"}"#),
            Some(ADMIN),
            400,
        ),
        (("PUT", "/settings", r#"{"region":"IN"}"#), Some(ADMIN), 400),
        (("PUT", "/settings", "{"), Some(ADMIN), 400),
        (put, None, 401),
        (get, Some("wrong"), 401),
    ] {
        let o = observe_as(&admin, exchange, token, Some("shop-in")).await;
        assert_eq!(o.status, status, "{exchange:?}: {}", o.body);
        seen.push(o);
    }
    let o = observe_as(&admin, get, Some(ADMIN), Some("shop-in")).await;
    assert_eq!(
        o.body,
        json!({"tenantId": "shop-in", "phoneRegion": "IN",
               "limits": {"emails": null, "phones": null}})
    );
    let o = observe_as(
        &admin,
        ("POST", "/identify", r#"{"phoneNumber":"098765 43210"}"#),
        None,
        Some("shop-in"),
    )
    .await;
    assert_eq!(o.body["contact"]["phoneNumbers"], json!(["+919876543210"]));
    let o = observe_as(
        &admin,
        ("POST", "/identify", r#"{"phoneNumber":"12345"}"#),
        None,
        Some("shop-in"),
    )
    .await;
    assert_eq!(
        (o.status, &o.body["error"]["field"]),
        (400, &json!("phoneNumber"))
    );
    let conflict = (("PUT", "/settings", r#"{"phoneRegion":null}"#), Some(ADMIN));
    let o = observe_as(&admin, conflict.0, conflict.1, Some("shop-in")).await;
    assert_eq!(
        (o.status, &o.body["error"]["code"]),
        (409, &json!("conflict"))
    );
    seen.push(o);
    // with tenant tokens, a tenant's token for its own settings only
    for (tenant, status) in [(None, 200), (Some("shop-b"), 403)] {
        let o = observe_as(&guarded, get, Some(token), tenant).await;
        assert_eq!(o.status, status, "{}", o.body);
        seen.push(o);
    }
    // the blocked list: the admin token only; a blocked value is left out (ignored), a request
    // with nothing else is 422
    let entry = r#"{"kind":"phone","value":"555-0199"}"#;
    for (exchange, token, status) in [
        (("GET", "/admin/blocked", ""), Some(ADMIN), 200),
        (("POST", "/admin/blocked", entry), Some(ADMIN), 200),
        (
            ("POST", "/admin/blocked", r#"{"kind":"fax","value":"1"}"#),
            Some(ADMIN),
            400,
        ),
        (("POST", "/admin/blocked", "{"), Some(ADMIN), 400),
        (
            (
                "POST",
                "/identify",
                r#"{"email":"a@x.io","phoneNumber":"5550199"}"#,
            ),
            None,
            200,
        ),
        (
            ("POST", "/identify", r#"{"phoneNumber":"0000000000"}"#),
            None,
            422,
        ),
        (("DELETE", "/admin/blocked", entry), Some(ADMIN), 200),
        (("DELETE", "/admin/blocked", entry), None, 401),
    ] {
        let o = observe_as(&admin, exchange, token, None).await;
        assert_eq!(o.status, status, "{exchange:?}: {}", o.body);
        seen.push(o);
    }
    // history (of the contact the settings exchanges made in shop-in): the admin token only;
    // unknown and malformed ids
    for (path, token, status) in [
        ("/admin/contacts/1/history", Some(ADMIN), 200),
        ("/admin/contacts/999/history", Some(ADMIN), 404),
        ("/admin/contacts/x/history", Some(ADMIN), 400),
        ("/admin/contacts/1/history", None, 401),
    ] {
        let o = observe_as(&admin, ("GET", path, ""), token, Some("shop-in")).await;
        assert_eq!(o.status, status, "{path}: {}", o.body);
        seen.push(o);
    }
    let history = &seen[seen.len() - 4].body;
    assert!(
        history["events"].as_array().is_some_and(|e| !e.is_empty()),
        "{history}"
    );
    assert_eq!(seen[seen.len() - 2].body["error"]["field"], "contactId");
    let ignored = &seen[seen.len() - 8].body;
    assert_eq!(
        ignored["ignored"],
        json!([{"field": "phoneNumber", "reason": "blocked"}]),
        "{ignored}"
    );
    assert_eq!(
        seen[seen.len() - 7].body["error"]["fields"],
        json!(["phoneNumber"])
    );
    // split (in shop-sp): a wrong merge undone, then the request that made it withheld; bad
    // bodies, shared values, unknown customers, no token
    let mut primaries = Vec::new();
    for body in [
        r#"{"email":"doc@x.io","phoneNumber":"555"}"#,
        r#"{"email":"marty@x.io","phoneNumber":"777"}"#,
        r#"{"email":"doc@x.io","phoneNumber":"777"}"#,
    ] {
        let o = observe_as(&admin, ("POST", "/identify", body), None, Some("shop-sp")).await;
        assert_eq!(o.status, 200, "{}", o.body);
        primaries.push(o.body["contact"]["primaryContactId"].as_i64().unwrap());
    }
    let (doc_id, marty) = (primaries[0], primaries[1]);
    // paths are static in an observation: these few live for the test
    let split_path: &'static str = Box::leak(format!("/admin/customers/{doc_id}/split").into());
    let moves: &'static str = Box::leak(format!(r#"{{"contactIds":[{marty}]}}"#).into());
    for (exchange, token, status) in [
        (
            ("POST", split_path, r#"{"contactIds":"2"}"#),
            Some(ADMIN),
            400,
        ),
        (("POST", split_path, "[]"), Some(ADMIN), 400),
        (("POST", split_path, "{"), Some(ADMIN), 400),
        (
            ("POST", "/admin/customers/999999/split", moves),
            Some(ADMIN),
            404,
        ),
        (("POST", split_path, moves), None, 401),
        (("POST", split_path, moves), Some(ADMIN), 200),
        (
            (
                "POST",
                "/identify",
                r#"{"email":"doc@x.io","phoneNumber":"777"}"#,
            ),
            None,
            200,
        ),
    ] {
        let o = observe_as(&admin, exchange, token, Some("shop-sp")).await;
        assert_eq!(o.status, status, "{exchange:?}: {}", o.body);
        seen.push(o);
    }
    let withheld = &seen[seen.len() - 1].body;
    assert_eq!(
        withheld["ignored"],
        json!([{"field": "phoneNumber", "reason": "kept_apart"}]),
        "{withheld}"
    );
    assert_eq!(
        seen[seen.len() - 2].body["newCustomer"]["primaryContactId"],
        marty
    );
    assert_eq!(seen[seen.len() - 7].body["error"]["field"], "contactIds");
    // shared values: 409 listing them
    let o = observe_as(
        &admin,
        (
            "POST",
            "/identify",
            r#"{"email":"doc2@x.io","phoneNumber":"555"}"#,
        ),
        None,
        Some("shop-sp"),
    )
    .await;
    let row = &o.body["contact"]["secondaryContactIds"][0];
    let shares: &'static str = Box::leak(format!(r#"{{"contactIds":[{row}]}}"#).into());
    let o = observe_as(
        &admin,
        ("POST", split_path, shares),
        Some(ADMIN),
        Some("shop-sp"),
    )
    .await;
    assert_eq!(o.status, 409, "{}", o.body);
    let message = o.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("phone 555"), "{message}");
    seen.push(o);
    // erase (in shop-sp): Marty's customer, suppressing its values; bad bodies, unknown
    // customers, no token; again (the same receipt); then his email is ignored as suppressed
    // and his history has no values
    let erase_path: &'static str = Box::leak(format!("/admin/customers/{marty}/erase").into());
    let history_path: &'static str = Box::leak(format!("/admin/contacts/{marty}/history").into());
    let suppress = r#"{"suppress":true}"#;
    for (exchange, token, status) in [
        (
            ("POST", erase_path, r#"{"suppress":"yes"}"#),
            Some(ADMIN),
            400,
        ),
        (("POST", erase_path, "[]"), Some(ADMIN), 400),
        (("POST", erase_path, "{"), Some(ADMIN), 400),
        (("POST", "/admin/customers/0/erase", ""), Some(ADMIN), 400),
        (
            ("POST", "/admin/customers/999999/erase", ""),
            Some(ADMIN),
            404,
        ),
        (("POST", erase_path, suppress), None, 401),
        (("POST", erase_path, suppress), Some(ADMIN), 200),
        (("POST", erase_path, ""), Some(ADMIN), 200),
        (("GET", history_path, ""), Some(ADMIN), 200),
        (
            (
                "POST",
                "/identify",
                r#"{"email":"marty@x.io","phoneNumber":"888"}"#,
            ),
            None,
            200,
        ),
    ] {
        let o = observe_as(&admin, exchange, token, Some("shop-sp")).await;
        assert_eq!(o.status, status, "{exchange:?}: {}", o.body);
        seen.push(o);
    }
    let n = seen.len();
    let receipt = &seen[n - 4].body;
    assert_eq!(receipt["customerId"], marty, "{receipt}");
    assert_eq!(receipt["suppressed"], true, "{receipt}");
    assert!(!receipt.to_string().contains("marty"), "{receipt}");
    assert_eq!(
        &seen[n - 3].body,
        receipt,
        "erasing again answers the same receipt"
    );
    let events = seen[n - 2].body["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["type"], "erased");
    assert!(
        !seen[n - 2].body.to_string().contains("marty@"),
        "{}",
        seen[n - 2].body
    );
    assert_eq!(
        seen[n - 1].body["ignored"],
        json!([{"field": "email", "reason": "suppressed"}])
    );
    assert_eq!(seen[n - 10].body["error"]["field"], "request");
    assert_eq!(seen[n - 7].body["error"]["field"], "contactId");
    // a tenant's token reaches the support routes for its own tenant only, never the admin ones
    let both = TestServer::start(
        "memory:",
        &[
            "--admin-token",
            ADMIN,
            "--tenant-tokens",
            &format!("shop-a:{token}"),
        ],
    )
    .await;
    for (tenant, own) in [
        (None, true),
        (Some("shop-a"), true),
        (Some("shop-b"), false),
    ] {
        for (exchange, status) in [
            (("GET", "/admin/whoami", ""), 200),
            (("GET", "/admin/blocked", ""), 200),
            (("GET", "/admin/contacts/1/history", ""), 404),
            (
                ("POST", "/admin/customers/1/split", r#"{"contactIds":[2]}"#),
                404,
            ),
            (("POST", "/admin/customers/1/erase", ""), 404),
            (("GET", "/admin/webhooks", ""), 200),
        ] {
            let o = observe_as(&both, exchange, Some(token), tenant).await;
            let status = if own { status } else { 403 };
            assert_eq!(o.status, status, "{exchange:?} {tenant:?}: {}", o.body);
            seen.push(o);
        }
        let o = observe_as(&both, ("GET", "/admin/verify", ""), Some(token), tenant).await;
        assert_eq!(o.status, 401, "{}", o.body);
        seen.push(o);
    }
    for token in [None, Some(ADMIN)] {
        let o = observe_as(&both, ("GET", "/admin/whoami", ""), token, Some("shop-b")).await;
        seen.push(o);
    }
    assert_eq!(seen[seen.len() - 2].status, 401);
    assert_eq!(
        seen[seen.len() - 1].body,
        json!({"tenantId": "shop-b", "caller": "admin"})
    );
    // with no token configured at all (trusted networks), anyone may
    let o = observe_as(&plain, get, None, None).await;
    assert_eq!(
        o.body,
        json!({"tenantId": "default", "phoneRegion": null,
               "limits": {"emails": null, "phones": null}})
    );
    seen.push(o);
    // caps (in shop-lim): bad values refused, a cap set, and a request past it
    let limits = "/settings/limits";
    for (exchange, token, status) in [
        (("PUT", limits, r#"{"emails":0}"#), Some(ADMIN), 400),
        (("PUT", limits, r#"{"emails":"2"}"#), Some(ADMIN), 400),
        (("PUT", limits, "[]"), Some(ADMIN), 400),
        (("PUT", limits, r#"{"phones":1}"#), None, 401),
        (("PUT", limits, r#"{"phones":1}"#), Some(ADMIN), 200),
        (
            (
                "POST",
                "/identify",
                r#"{"email":"a@x.io","phoneNumber":"1"}"#,
            ),
            None,
            200,
        ),
        (
            (
                "POST",
                "/identify",
                r#"{"email":"a@x.io","phoneNumber":"2"}"#,
            ),
            None,
            200,
        ),
    ] {
        let o = observe_as(&admin, exchange, token, Some("shop-lim")).await;
        assert_eq!(o.status, status, "{exchange:?}: {}", o.body);
        seen.push(o);
    }
    let n = seen.len();
    assert_eq!(seen[n - 7].body["error"]["field"], "limits");
    assert_eq!(seen[n - 5].body["error"]["field"], "request");
    assert_eq!(
        seen[n - 3].body["limits"],
        json!({"emails": null, "phones": 1})
    );
    assert_eq!(
        seen[n - 1].body["ignored"],
        json!([{"field": "phoneNumber", "reason": "limit"}])
    );

    // import (in shop-imp): malformed checkouts, bad options, a dry run, an import, a second
    // import refused; a body past the other routes' 16 KiB limit is accepted here
    let import = "/admin/import";
    let two =
        r#"[{"email":"a@x.io","phoneNumber":1,"at":"2020-01-01"},{"email":"b","at":"2020-01-02"}]"#;
    let skip: &'static str = Box::leak(format!(r#"{{"checkouts":{two},"onError":"skip"}}"#).into());
    let dry: &'static str =
        Box::leak(format!(r#"{{"checkouts":{two},"onError":"skip","dryRun":true}}"#).into());
    let abort: &'static str = Box::leak(format!(r#"{{"checkouts":{two}}}"#).into());
    let record = r#"{"email":"big@x.io","phoneNumber":"5550001","at":1577836800},"#;
    let big: &'static str = Box::leak(
        format!(
            r#"{{"checkouts":[{}{{"email":"last@x.io","at":1577836801}}]}}"#,
            record.repeat(400)
        )
        .into(),
    );
    assert!(big.len() > 16 * 1024);
    let huge: &'static str = Box::leak("x".repeat(64 * 1024 * 1024 + 1).into());
    for (exchange, token, tenant, status) in [
        (("POST", import, abort), Some(ADMIN), "shop-imp", 400),
        (
            ("POST", import, r#"{"checkouts":5}"#),
            Some(ADMIN),
            "shop-imp",
            400,
        ),
        (
            ("POST", import, r#"{"checkouts":[],"onError":"never"}"#),
            Some(ADMIN),
            "shop-imp",
            400,
        ),
        (
            ("POST", import, r#"{"checkouts":[],"dryRun":"yes"}"#),
            Some(ADMIN),
            "shop-imp",
            400,
        ),
        (("POST", import, "[]"), Some(ADMIN), "shop-imp", 400),
        (("POST", import, "{"), Some(ADMIN), "shop-imp", 400),
        (("POST", import, skip), None, "shop-imp", 401),
        (("POST", import, dry), Some(ADMIN), "shop-imp", 200),
        (("POST", import, skip), Some(ADMIN), "shop-imp", 200),
        (("POST", import, skip), Some(ADMIN), "shop-imp", 409),
        (("POST", import, big), Some(ADMIN), "shop-big", 200),
        (("POST", import, huge), Some(ADMIN), "shop-huge", 413),
        (("GET", "/admin/export", ""), None, "shop-imp", 401),
    ] {
        let o = observe_as(&admin, exchange, token, Some(tenant)).await;
        assert_eq!(o.status, status, "{:?}: {}", exchange.1, o.body);
        seen.push(o);
    }
    let n = seen.len();
    let fields: Vec<Value> = seen[n - 13..n - 7]
        .iter()
        .map(|o| o.body["error"]["field"].clone())
        .collect();
    assert_eq!(
        Value::from(fields),
        json!([
            "checkouts",
            "checkouts",
            "onError",
            "request",
            "request",
            null
        ])
    );
    assert!(
        seen[n - 13].body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("record 1: invalid email"),
        "{}",
        seen[n - 13].body
    );
    assert_eq!(seen[n - 6].body["written"], false);
    assert_eq!(
        (&seen[n - 5].body["rows"], &seen[n - 5].body["rejected"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(seen[n - 3].body["rows"], 2);
    assert_eq!(
        seen[n - 2].body["error"]["message"],
        "request body is larger than 64 MiB (67108864 bytes)"
    );
    // a table's rows (in shop-tab): both kinds at once, bad rows and options, ids the store
    // gave out already (409), renumbered, and kept far above
    let row = r#"{"id":7,"email":"t@x.io","createdAt":"2020-01-01"}"#;
    let deleted = r#"{"id":9,"email":"u@x.io","linkedId":7,"createdAt":"2020-01-02","deletedAt":"2021-01-01"}"#;
    let table = |rest: &str| -> &'static str {
        Box::leak(format!(r#"{{"table":[{row},{deleted}]{rest}}}"#).into())
    };
    for (body, tenant, status, field) in [
        (
            r#"{"checkouts":[],"table":[]}"#,
            "shop-tab",
            400,
            json!("request"),
        ),
        (r#"{"table":5}"#, "shop-tab", 400, json!("table")),
        (
            table(r#","renumber":"yes""#),
            "shop-tab",
            400,
            json!("request"),
        ),
        (
            Box::leak(format!(r#"{{"table":[{row},{row}]}}"#).into()),
            "shop-tab",
            400,
            json!("table"),
        ),
        (
            r#"{"table":[{"email":"a@x.io"}]}"#,
            "shop-tab",
            400,
            json!("table"),
        ),
        (table(""), "shop-tab", 409, Value::Null),
        (table(r#","renumber":true"#), "shop-tab", 200, Value::Null),
        (
            r#"{"table":[{"id":"900000000","email":"far@x.io","createdAt":1577836800}]}"#,
            "shop-far",
            200,
            Value::Null,
        ),
    ] {
        let o = observe_as(&admin, ("POST", import, body), Some(ADMIN), Some(tenant)).await;
        assert_eq!(o.status, status, "{body}: {}", o.body);
        assert_eq!(o.body["error"]["field"], field, "{body}");
        seen.push(o);
    }
    let n = seen.len();
    let renumbered = &seen[n - 2].body["table"];
    assert_eq!(renumbered["idsKept"], false);
    assert_eq!(renumbered["movedRows"][1]["row"], "deleted");
    assert_eq!(seen[n - 1].body["firstId"], 900_000_000);
    // export: one Contact per line, each valid against the documented schema
    let response = common::client()
        .get(admin.url("/admin/export"))
        .bearer_auth(ADMIN)
        .header("X-Tenant-Id", "shop-big")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let schema = &doc["paths"]["/admin/export"]["get"]["responses"]["200"]["content"]["application/x-ndjson"]
        ["schema"];
    let validator =
        jsonschema::validator_for(&json!({"allOf": [schema], "components": doc["components"]}))
            .unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in &lines {
        assert!(validator.is_valid(line), "{line}");
    }
    assert_eq!(lines[0]["secondaryContactIds"], json!([]));
    assert_eq!(lines[1]["emails"], json!(["last@x.io"]));
    // the rows: one ContactRow per line, valid against the documented schema
    let response = common::client()
        .get(admin.url("/admin/contacts"))
        .bearer_auth(ADMIN)
        .header("X-Tenant-Id", "shop-big")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let schema = &doc["paths"]["/admin/contacts"]["get"]["responses"]["200"]["content"]["application/x-ndjson"]
        ["schema"];
    let validator =
        jsonschema::validator_for(&json!({"allOf": [schema], "components": doc["components"]}))
            .unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    for row in &rows {
        assert!(validator.is_valid(row), "{row}");
    }
    assert_eq!(
        (&rows[0]["phoneNumber"], &rows[1]["phoneNumber"]),
        (&json!("5550001"), &Value::Null)
    );
    assert!(
        !validator.is_valid(&json!({"id": 1})),
        "the schema must require the columns"
    );

    let statuses: std::collections::BTreeSet<u16> = seen.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [200, 400, 401, 403, 404, 405, 409, 413, 422, 500, 503]
    );
    // webhooks: the admin token only; bad URLs and types, unknown and malformed ids
    let hook = r#"{"url":"https://crm.example.com/h","types":["customer.merged"]}"#;
    for (exchange, token, status) in [
        (("POST", "/admin/webhooks", hook), Some(ADMIN), 201),
        (
            ("POST", "/admin/webhooks", r#"{"url":"http://10.0.0.1/"}"#),
            Some(ADMIN),
            400,
        ),
        (
            (
                "POST",
                "/admin/webhooks",
                r#"{"url":"https://x.io/","types":[]}"#,
            ),
            Some(ADMIN),
            400,
        ),
        (("POST", "/admin/webhooks", "{"), Some(ADMIN), 400),
        (("POST", "/admin/webhooks", hook), None, 401),
        (("GET", "/admin/webhooks", ""), Some(ADMIN), 200),
        (
            ("GET", "/admin/webhooks/1/deliveries", ""),
            Some(ADMIN),
            200,
        ),
        (
            ("GET", "/admin/webhooks/9/deliveries", ""),
            Some(ADMIN),
            404,
        ),
        (
            ("POST", "/admin/webhooks/1/replay", r#"{"after":null}"#),
            Some(ADMIN),
            200,
        ),
        (("POST", "/admin/webhooks/1/replay", ""), Some(ADMIN), 200),
        (
            ("POST", "/admin/webhooks/1/replay", r#"{"after":"f1.ffff"}"#),
            Some(ADMIN),
            400,
        ),
        (("DELETE", "/admin/webhooks/9", ""), Some(ADMIN), 404),
        (("DELETE", "/admin/webhooks/x", ""), Some(ADMIN), 400),
    ] {
        let o = observe_as(&admin, exchange, token, Some("shop-in")).await;
        assert_eq!(o.status, status, "{exchange:?}: {}", o.body);
        seen.push(o);
    }
    let deleted = common::client()
        .delete(admin.url("/admin/webhooks/1"))
        .bearer_auth(ADMIN)
        .header("X-Tenant-Id", "shop-in")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    assert!(
        doc["paths"]["/admin/webhooks/{id}"]["delete"]["responses"]["204"].is_object(),
        "204 documented"
    );
    for o in &seen {
        let validator = jsonschema::validator_for(&schema_for(&doc, o)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&o.body)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{} {} -> {}: {} does not match: {errors:?}",
            o.method,
            o.path,
            o.status,
            o.body
        );
    }
}

#[tokio::test]
async fn the_schema_rejects_what_the_service_must_not_send() {
    // guards the check above against a document so loose that anything validates
    let doc: Value = serde_json::from_str(identity_server::handlers::OPENAPI).unwrap();
    let contact = json!({"allOf": [{"$ref": "#/components/schemas/ContactBody"}], "components": doc["components"]});
    let validator = jsonschema::validator_for(&contact).unwrap();
    assert!(validator.is_valid(&json!({"contact": {"primaryContactId": 1, "emails": [], "phoneNumbers": [], "secondaryContactIds": []}})));
    assert!(!validator.is_valid(&json!({"contact": {"primaryContactId": 1, "emails": []}})));
    assert!(!validator.is_valid(&json!({"contact": {"primaryContactId": "1", "emails": [], "phoneNumbers": [], "secondaryContactIds": []}})));
    assert!(!validator.is_valid(&json!({"contact": {"primaryContactId": 1, "emails": [], "phoneNumbers": [], "secondaryContactIds": [], "extra": 1}})));
}

/// The error codes and fields the document declares are the core's table as the service
/// answers it: every kind's code ([`identity_server::api_error::kind_answer`]) and every
/// field's wire name are in `ErrorBody`.
#[test]
fn the_documented_error_codes_and_fields_are_the_cores() {
    let doc: Value =
        serde_json::from_str(include_str!("../src/openapi.json")).expect("the document is JSON");
    let error = &doc["components"]["schemas"]["ErrorBody"]["properties"]["error"]["properties"];
    let listed = |key: &str| -> Vec<String> {
        error[key]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("ErrorBody lists its {key}s"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let codes = listed("code");
    for kind in identity::ErrorKind::ALL {
        let (_, code, _) = identity_server::api_error::kind_answer(kind);
        assert!(
            codes.iter().any(|c| c == code),
            "{kind}: {code} is not documented"
        );
    }
    let fields = listed("field");
    for field in identity::Field::ALL {
        assert!(
            fields.iter().any(|f| f == field.wire_name()),
            "the field {} is not documented",
            field.wire_name()
        );
    }
}
