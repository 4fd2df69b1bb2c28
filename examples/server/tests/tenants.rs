//! Tenants over HTTP: `X-Tenant-Id` scopes every route (absent: the default tenant), a bad one
//! is a 400 naming `tenant`, and with tenant tokens configured a request acts only for its
//! token's tenant (401 without a valid token, 403 naming another tenant).

mod common;

use clap::Parser;
use common::TestServer;
use identity_server::Config;
use serde_json::{Value, json};

const TOKEN_A: &str = "token-of-shop-a-0123456789";
const TOKEN_B: &str = "token-of-shop-b-0123456789";

/// Sends `body` to `POST /identify` with the optional tenant header and bearer token.
async fn identify(
    server: &TestServer,
    tenant: Option<&str>,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = common::client().post(server.url("/identify")).json(&body);
    if let Some(tenant) = tenant {
        request = request.header("X-Tenant-Id", tenant);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status == 401 {
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_tenant_header_scopes_every_route() {
    let server = TestServer::start("memory:", &["--admin-token", "tenants-admin-token"]).await;
    let doc = json!({"email": "doc@x.io", "phoneNumber": "1"});
    let (_, in_a) = identify(&server, Some("shop-a"), None, doc.clone()).await;
    let (_, in_b) = identify(&server, Some("shop-b"), None, doc.clone()).await;
    let (_, default) = identify(&server, None, None, doc.clone()).await;
    let ids: std::collections::BTreeSet<_> = [&in_a, &in_b, &default]
        .iter()
        .map(|v| v["contact"]["primaryContactId"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        3,
        "one customer per tenant: {in_a} {in_b} {default}"
    );
    let (status, marty) = identify(
        &server,
        Some("shop-a"),
        None,
        json!({"email": "marty@x.io", "phoneNumber": "1"}),
    )
    .await;
    assert_eq!(
        (status, marty["contact"]["emails"].as_array().unwrap().len()),
        (200, 2)
    );

    // the lookup sees its own tenant only
    let lookup = |tenant: &'static str| {
        common::client()
            .get(server.url("/contacts?email=marty@x.io"))
            .header("X-Tenant-Id", tenant)
            .send()
    };
    assert_eq!(lookup("shop-a").await.unwrap().status(), 200);
    assert_eq!(lookup("shop-b").await.unwrap().status(), 404);

    // a bad tenant is a client error naming the field, and writes nothing
    for bad in ["shop 42", "", "a/b", &"x".repeat(65)] {
        let (status, body) = identify(&server, Some(bad), None, doc.clone()).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(body["error"]["field"], "tenant", "{body}");
    }
    let bad_bytes = common::client()
        .post(server.url("/identify"))
        .header(
            "X-Tenant-Id",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_bytes.status(), 400);
    let rows = async |tenant: &str| {
        let scoped = server.identity.tenant(tenant).unwrap();
        scoped.all_contacts().await.unwrap().len()
    };
    assert_eq!(
        (
            rows("shop-a").await,
            rows("shop-b").await,
            rows("default").await
        ),
        (2, 1, 1)
    );

    // the admin routes act for the tenant the header names
    let verify = common::client()
        .get(server.url("/admin/verify"))
        .header("X-Tenant-Id", "shop-a")
        .bearer_auth("tenants-admin-token")
        .send()
        .await
        .unwrap();
    let report: Value = verify.json().await.unwrap();
    assert_eq!(
        (report["rows"].as_u64(), report["clean"].as_bool()),
        (Some(2), Some(true))
    );
    let rebuild = common::client()
        .post(server.url("/admin/rebuild"))
        .header("X-Tenant-Id", "shop-b")
        .bearer_auth("tenants-admin-token")
        .send()
        .await
        .unwrap();
    let report: Value = rebuild.json().await.unwrap();
    assert_eq!(report["rows"], 1, "{report}");
    server.stop().await;
}

#[tokio::test]
async fn with_tenant_tokens_a_request_acts_only_for_its_tokens_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, format!("# shop a\nshop-a:{TOKEN_A}\n\n")).unwrap();
    let server = TestServer::start(
        "memory:",
        &[
            "--tenant-tokens-file",
            file.to_str().unwrap(),
            "--tenant-tokens",
            &format!("shop-b:{TOKEN_B}"),
        ],
    )
    .await;
    let doc = json!({"email": "doc@x.io"});
    for (tenant, token) in [
        (None, None),
        (Some("shop-a"), None),
        (None, Some("wrong-token-0123456789")),
        (Some("shop-a"), Some(&TOKEN_A[..TOKEN_A.len() - 1])),
    ] {
        let (status, body) = identify(&server, tenant, token, doc.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized"))
        );
    }
    let (status, body) = identify(&server, Some("shop-b"), Some(TOKEN_A), doc.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, body) = identify(&server, Some("default"), Some(TOKEN_A), doc.clone()).await;
    assert_eq!(
        status, 403,
        "the default tenant is another tenant too: {body}"
    );
    assert!(server.identity.all_contacts().await.unwrap().is_empty());
    for tenant in ["shop-a", "shop-b"] {
        let scoped = server.identity.tenant(tenant).unwrap();
        assert!(
            scoped.all_contacts().await.unwrap().is_empty(),
            "refused requests wrote nothing"
        );
    }

    let (status, _) = identify(&server, None, Some(TOKEN_A), doc.clone()).await;
    assert_eq!(status, 200, "the token's tenant when no header names one");
    let (status, _) = identify(&server, Some("shop-a"), Some(TOKEN_A), doc.clone()).await;
    assert_eq!(status, 200, "a header repeating the token's tenant");
    let (status, _) = identify(&server, None, Some(TOKEN_B), doc.clone()).await;
    assert_eq!(status, 200);
    let a = server.identity.tenant("shop-a").unwrap();
    let b = server.identity.tenant("shop-b").unwrap();
    assert_eq!(a.all_contacts().await.unwrap().len(), 1);
    assert_eq!(b.all_contacts().await.unwrap().len(), 1);
    assert!(server.identity.all_contacts().await.unwrap().is_empty());

    // the lookup is guarded the same way; the probes are not
    let lookup = common::client()
        .get(server.url("/contacts?email=doc@x.io"))
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 401);
    let lookup = common::client()
        .get(server.url("/contacts?email=doc@x.io"))
        .bearer_auth(TOKEN_B)
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 200);
    assert_eq!(common::get_status(&server, "/healthz").await, 200);
    assert_eq!(common::get_status(&server, "/readyz").await, 200);
    server.stop().await;
}

#[test]
fn bad_token_configuration_is_refused_at_start_without_echoing_tokens() {
    let tokens_of = |args: &[&str]| {
        let config = Config::try_parse_from([&["identity-server"], args].concat()).unwrap();
        assert!(
            !format!("{config:?}").contains("0123456789"),
            "Debug never prints a token"
        );
        config.tenant_tokens()
    };
    for (tokens, expected) in [
        ("shop-a", "expected tenant:token"),
        ("shop a:0123456789abcdefgh", "invalid tenant"),
        ("shop-a:short-secret", "at least 16 characters"),
        (
            "shop-a:0123456789abcdefgh,shop-b:0123456789abcdefgh",
            "used twice",
        ),
    ] {
        let err = tokens_of(&["--tenant-tokens", tokens]).unwrap_err();
        assert!(err.contains(expected), "{tokens}: {err}");
        assert!(
            !err.contains("0123456789") && !err.contains("short-secret"),
            "{err}"
        );
    }
    let missing = tokens_of(&["--tenant-tokens-file", "/no/such/file"]).unwrap_err();
    assert!(
        missing.contains("cannot read the tenant tokens file"),
        "{missing}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, "shop-b:0123456789abcdefgh\n").unwrap();
    let path = file.to_str().unwrap();
    let twice = tokens_of(&[
        "--tenant-tokens",
        "shop-a:0123456789abcdefgh",
        "--tenant-tokens-file",
        path,
    ]);
    assert!(
        twice
            .unwrap_err()
            .contains("two tenants (shop-b and shop-a)")
    );
    let same = tokens_of(&[
        "--tenant-tokens",
        "shop-b:0123456789abcdefgh",
        "--tenant-tokens-file",
        path,
    ]);
    assert_eq!(
        same.unwrap().len(),
        1,
        "one token given twice for one tenant"
    );
    let admin = Config::try_parse_from(["identity-server", "--admin-token", "0123456789"]).unwrap();
    assert!(!format!("{admin:?}").contains("0123456789"));
}

#[tokio::test]
async fn empty_tenant_tokens_are_refused_at_start_up_not_read_as_open_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (empty, comments) = (dir.path().join("empty"), dir.path().join("comments"));
    std::fs::write(&empty, "").unwrap();
    std::fs::write(&comments, "# shop-a rotated out\n\n").unwrap();
    for args in [
        &["--tenant-tokens", ""][..],
        &["--tenant-tokens", " , "],
        &["--tenant-tokens-file", empty.to_str().unwrap()],
        &["--tenant-tokens-file", comments.to_str().unwrap()],
    ] {
        let err = common::start_up_error(args).await;
        assert!(err.contains(args[0]), "{args:?}: {err}");
        assert!(
            err.contains("is empty") || err.contains("has no tenant:token entry"),
            "{args:?}: {err}"
        );
    }
}

#[tokio::test]
async fn admin_and_tenant_tokens_follow_one_rule_and_all_differ() {
    let shared = "token-0123456789abcdef";
    let tenants = format!("shopA:{shared}");
    let err = common::start_up_error(&["--admin-token", shared, "--tenant-tokens", &tenants]).await;
    assert!(err.contains("also the token of tenant shopA"), "{err}");
    assert!(!err.contains(shared), "{err}");
    for (token, why) in [
        ("0123456789abcde", "at least 16 characters"),
        ("0123456789 abcdef", "without spaces"),
        ("0123456789abcdéf", "visible ASCII"),
    ] {
        let err = common::start_up_error(&["--admin-token", token]).await;
        assert!(err.contains("--admin-token") && err.contains(why), "{err}");
        assert!(!err.contains(token), "{err}");
        let entry = format!("shop-a:{token}");
        let err = common::start_up_error(&["--tenant-tokens", &entry]).await;
        assert!(
            err.contains("entry 1 (shop-a)") && err.contains(why),
            "{err}"
        );
    }
}

/// `GET /settings` with each header sent as given (twice when listed twice).
async fn settings_with(server: &TestServer, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = common::client().get(server.url("/settings"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_tenant_header_or_token_sent_twice_is_a_400_naming_it() {
    let bearer_a = format!("Bearer {TOKEN_A}");
    let bearer_b = format!("Bearer {TOKEN_B}");
    let open = TestServer::start("memory:", &[]).await;
    let guarded = TestServer::start(
        "memory:",
        &[
            "--tenant-tokens",
            &format!("shop-a:{TOKEN_A},shop-b:{TOKEN_B}"),
        ],
    )
    .await;
    let cases = [
        (
            &open,
            vec![("X-Tenant-Id", "shop-a"), ("X-Tenant-Id", "shop-b")],
            "X-Tenant-Id",
        ),
        (
            &open,
            vec![("X-Tenant-Id", "shop-a"), ("X-Tenant-Id", "shop-a")],
            "X-Tenant-Id",
        ),
        (
            &guarded,
            vec![("Authorization", &*bearer_a), ("Authorization", &*bearer_b)],
            "Authorization",
        ),
        (
            &guarded,
            vec![
                ("Authorization", &*bearer_a),
                ("X-Tenant-Id", "shop-a"),
                ("X-Tenant-Id", "shop-b"),
            ],
            "X-Tenant-Id",
        ),
    ];
    for (server, headers, named) in cases {
        let (status, body) = settings_with(server, &headers).await;
        assert_eq!(status, 400, "{headers:?}: {body}");
        assert_eq!(body["error"]["code"], "duplicate_header", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("the {named} header")),
            "{message}"
        );
        assert!(!message.contains("0123456789"), "{message}");
    }
    // once each is fine
    let (status, body) = settings_with(
        &guarded,
        &[("Authorization", &*bearer_b), ("X-Tenant-Id", "shop-b")],
    )
    .await;
    assert_eq!(
        (status, body["tenantId"].as_str()),
        (200, Some("shop-b")),
        "{body}"
    );
    open.stop().await;
    guarded.stop().await;
}

#[tokio::test]
async fn open_mode_beyond_loopback_needs_the_explicit_flag() {
    let err = common::start_up_error(&["--host", "0.0.0.0"]).await;
    assert!(
        err.contains("not a loopback address")
            && err.contains("--open")
            && err.contains("--tenant-tokens"),
        "{err}"
    );
    // with the flag, or with tenant tokens, it starts (and stops at once: no shutdown wait)
    for extra in [
        &["--open"][..],
        &["--tenant-tokens", "shop-a:token-of-shop-a-0123456789"],
    ] {
        let mut argv = vec![
            "identity-server",
            "--database-url",
            "memory:",
            "--port",
            "0",
            "--host",
            "0.0.0.0",
        ];
        argv.extend_from_slice(extra);
        let config = Config::try_parse_from(argv).unwrap();
        let started = identity_server::run(config, async {}).await;
        assert!(started.is_ok(), "{extra:?}: {started:?}");
    }
}

/// Every route only the admin token may call (the operator's jobs), as its method and path;
/// the support routes, which a tenant's token may call too, are in `support.rs`.
const ADMIN_ROUTES: [(&str, &str); 12] = [
    ("GET", "/admin/verify"),
    ("POST", "/admin/rebuild"),
    ("GET", "/admin/job"),
    ("POST", "/admin/import"),
    ("GET", "/admin/export"),
    ("GET", "/admin/erasures"),
    ("POST", "/admin/erasures/reapply"),
    ("GET", "/admin/backup"),
    ("GET", "/admin/contacts"),
    ("POST", "/admin/webhooks"),
    ("DELETE", "/admin/webhooks/1"),
    ("POST", "/admin/webhooks/1/replay"),
];

#[tokio::test]
async fn every_route_refuses_through_its_extractor_with_the_services_json() {
    let admin = "tenants-admin-token-0123";
    let server = TestServer::start(
        "memory:",
        &[
            "--admin-token",
            admin,
            "--tenant-tokens",
            &format!("shop-a:{TOKEN_A},shop-b:{TOKEN_B}"),
        ],
    )
    .await;
    let needs_admin = json!({"error": {"code": "unauthorized",
        "message": "this route needs the admin token: Authorization: Bearer <token>"}});
    let needs_tenant = json!({"error": {"code": "unauthorized",
        "message": "this service needs a tenant token: Authorization: Bearer <token>"}});
    let forbidden = json!({"error": {"code": "forbidden",
        "message": "the token may not act for the tenant named in X-Tenant-Id"}});
    let bearer = Some("Bearer".to_owned());
    // the admin routes: not without the admin token, and never with a tenant's
    for (method, path) in ADMIN_ROUTES {
        for token in [None, Some(TOKEN_A), Some("not-the-admin-token-0123")] {
            let answer = common::call(&server, method, path, token, None).await;
            assert_eq!(
                answer,
                (401, bearer.clone(), needs_admin.clone()),
                "{method} {path}"
            );
        }
    }
    // the tenant routes: a tenant's token for its own tenant only; the admin token writes for no
    // tenant, but reads any (a lookup, as the feed): the tenant X-Tenant-Id names
    let (status, _, body) = common::call(
        &server,
        "GET",
        "/contacts?email=a@b.io",
        Some(admin),
        Some("shop-b"),
    )
    .await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    for (method, path) in [("POST", "/identify"), ("GET", "/contacts?email=a@b.io")] {
        let tokens: &[Option<&str>] = if method == "POST" {
            &[None, Some(admin)]
        } else {
            &[None]
        };
        for &token in tokens {
            let answer = common::call(&server, method, path, token, None).await;
            assert_eq!(
                answer,
                (401, bearer.clone(), needs_tenant.clone()),
                "{path}"
            );
        }
        let answer = common::call(&server, method, path, Some(TOKEN_A), Some("shop-b")).await;
        assert_eq!(answer, (403, None, forbidden.clone()), "{path}");
    }
    // the settings: the admin token for any tenant, a tenant's token for its own
    let answer = common::call(&server, "GET", "/settings", None, None).await;
    assert_eq!(answer, (401, bearer.clone(), needs_tenant.clone()));
    let answer = common::call(&server, "GET", "/settings", Some(TOKEN_A), Some("shop-b")).await;
    assert_eq!(answer, (403, None, forbidden.clone()));
    let (status, _, settings) =
        common::call(&server, "GET", "/settings", Some(admin), Some("shop-b")).await;
    assert_eq!((status, &settings["tenantId"]), (200, &json!("shop-b")));
    let (status, _, settings) =
        common::call(&server, "GET", "/settings", Some(TOKEN_A), None).await;
    assert_eq!((status, &settings["tenantId"]), (200, &json!("shop-a")));
    server.stop().await;

    // only an admin token: the settings need it; no admin token: the admin routes are not there
    let server = TestServer::start("memory:", &["--admin-token", admin]).await;
    let answer = common::call(&server, "PUT", "/settings", Some(TOKEN_A), None).await;
    assert_eq!(answer, (401, bearer.clone(), needs_admin.clone()));
    server.stop().await;
    let server = TestServer::start("memory:", &[]).await;
    let no_route = json!({"error": {"code": "not_found", "message": "no such route"}});
    for (method, path) in ADMIN_ROUTES {
        let answer = common::call(&server, method, path, Some(admin), None).await;
        assert_eq!(answer, (404, None, no_route.clone()), "{method} {path}");
    }
    server.stop().await;
}
