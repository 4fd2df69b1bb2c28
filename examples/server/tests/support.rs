//! The support routes (what the console calls: a customer, its history, split, erase, the
//! blocked values, the webhooks and their deliveries, whoami) take the admin token for any
//! tenant or a tenant's token for its own tenant only, and are never open without a token.

mod common;

use common::{TestServer, call};
use serde_json::{Value, json};

const ADMIN: &str = "support-admin-token-0123";
const TOKEN_A: &str = "support-token-of-shop-a-01";
const TOKEN_B: &str = "support-token-of-shop-b-01";

/// Every support route, as its method and path.
const SUPPORT_ROUTES: [(&str, &str); 10] = [
    ("GET", "/admin/whoami"),
    ("GET", "/admin/blocked"),
    ("POST", "/admin/blocked"),
    ("DELETE", "/admin/blocked"),
    ("GET", "/admin/customers/1"),
    ("GET", "/admin/contacts/1/history"),
    ("POST", "/admin/customers/1/split"),
    ("POST", "/admin/customers/1/erase"),
    ("GET", "/admin/webhooks"),
    ("GET", "/admin/webhooks/1/deliveries"),
];

async fn with_tokens() -> TestServer {
    let tokens = format!("shop-a:{TOKEN_A},shop-b:{TOKEN_B}");
    TestServer::start(
        "memory:",
        &["--admin-token", ADMIN, "--tenant-tokens", &tokens],
    )
    .await
}

/// `body` sent to `path` with `token`: the status and the JSON answer (`null` for none).
async fn send(server: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    let response = common::client()
        .post(server.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn support_routes_refuse_without_a_token_and_across_tenants() {
    let server = with_tokens().await;
    let needs_a_token = json!({"error": {"code": "unauthorized",
        "message": "this route needs the admin token or a tenant token: Authorization: Bearer <token>"}});
    let forbidden = json!({"error": {"code": "forbidden",
        "message": "the token may not act for the tenant named in X-Tenant-Id"}});
    let bearer = Some("Bearer".to_owned());
    for (method, path) in SUPPORT_ROUTES {
        for token in [None, Some("not-a-known-token-0123")] {
            let answer = call(&server, method, path, token, None).await;
            assert_eq!(
                answer,
                (401, bearer.clone(), needs_a_token.clone()),
                "{method} {path}"
            );
        }
        let answer = call(&server, method, path, Some(TOKEN_A), Some("shop-b")).await;
        assert_eq!(answer, (403, None, forbidden.clone()), "{method} {path}");
    }
    server.stop().await;

    // only an admin token: it alone; no token configured at all: the routes are not there
    let server = TestServer::start("memory:", &["--admin-token", ADMIN]).await;
    let needs_admin = json!({"error": {"code": "unauthorized",
        "message": "this route needs the admin token: Authorization: Bearer <token>"}});
    for (method, path) in SUPPORT_ROUTES {
        let answer = call(&server, method, path, Some(TOKEN_A), None).await;
        assert_eq!(
            answer,
            (401, bearer.clone(), needs_admin.clone()),
            "{method} {path}"
        );
    }
    server.stop().await;
    let server = TestServer::start("memory:", &[]).await;
    let no_route = json!({"error": {"code": "not_found", "message": "no such route"}});
    for (method, path) in SUPPORT_ROUTES {
        let answer = call(&server, method, path, Some(ADMIN), None).await;
        assert_eq!(answer, (404, None, no_route.clone()), "{method} {path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_tenant_token_reads_and_acts_on_its_own_customers_only() {
    let server = with_tokens().await;
    for (token, email) in [
        (TOKEN_A, "a1@x.io"),
        (TOKEN_A, "a2@x.io"),
        (TOKEN_B, "b1@x.io"),
    ] {
        let (status, _) = send(
            &server,
            "/identify",
            token,
            json!({"email": email, "phoneNumber": "555"}),
        )
        .await;
        assert_eq!(status, 200);
    }
    // whoami: the token's own tenant; the admin token's is the one it names
    let (status, _, me) = call(&server, "GET", "/admin/whoami", Some(TOKEN_A), None).await;
    assert_eq!(
        (status, me),
        (200, json!({"tenantId": "shop-a", "caller": "tenant"}))
    );
    let (status, _, me) = call(&server, "GET", "/admin/whoami", Some(ADMIN), Some("shop-b")).await;
    assert_eq!(
        (status, me),
        (200, json!({"tenantId": "shop-b", "caller": "admin"}))
    );

    // shop-a's customer (rows 1 and 2) is there for shop-a's token, not for shop-b's
    let (status, _, customer) =
        call(&server, "GET", "/admin/customers/2", Some(TOKEN_A), None).await;
    assert_eq!((status, &customer["customerId"]), (200, &json!(1)));
    assert_eq!(customer["rows"].as_array().unwrap().len(), 2);
    for path in ["/admin/customers/1", "/admin/contacts/1/history"] {
        let (status, _, body) = call(&server, "GET", path, Some(TOKEN_B), None).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &json!("not_found")),
            "{path}"
        );
    }
    let (status, _) = send(&server, "/admin/customers/1/erase", TOKEN_B, json!({})).await;
    assert_eq!(status, 404, "shop-b's token erases nothing of shop-a's");
    let (status, _) = send(
        &server,
        "/admin/customers/1/split",
        TOKEN_B,
        json!({"contactIds": [2]}),
    )
    .await;
    assert_eq!(status, 404, "shop-b's token splits nothing of shop-a's");

    // shop-a's token splits its own customer, blocks its own value; shop-b sees neither
    let (status, split) = send(
        &server,
        "/admin/customers/1/split",
        TOKEN_A,
        json!({"contactIds": [2], "blockShared": true}),
    )
    .await;
    assert_eq!(status, 200, "{split}");
    let (_, _, customer) = call(&server, "GET", "/admin/customers/2", Some(TOKEN_A), None).await;
    assert_eq!(
        customer["customerId"],
        json!(2),
        "row 2 is a customer of its own now"
    );
    let (status, _) = send(
        &server,
        "/admin/blocked",
        TOKEN_A,
        json!({"kind": "email", "value": "a1@x.io"}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, _, a) = call(&server, "GET", "/admin/blocked", Some(TOKEN_A), None).await;
    let (_, _, b) = call(&server, "GET", "/admin/blocked", Some(TOKEN_B), None).await;
    let entries: Vec<&Value> = a["blocked"].as_array().unwrap().iter().collect();
    assert!(
        entries.contains(&&json!({"kind": "email", "value": "a1@x.io"})),
        "{a}"
    );
    assert!(
        entries.contains(&&json!({"kind": "phone", "value": "555"})),
        "the split's: {a}"
    );
    let defaults_only = b["blocked"].as_array().unwrap();
    assert!(
        defaults_only
            .iter()
            .all(|e| e.get("pattern").is_some() || e["value"] == "test@test.com"),
        "{b}"
    );

    // and erases its own customer, which the admin then finds gone
    let (status, _) = send(&server, "/admin/customers/2/erase", TOKEN_A, json!({})).await;
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &server,
        "GET",
        "/admin/customers/2",
        Some(ADMIN),
        Some("shop-a"),
    )
    .await;
    assert_eq!(status, 404);
    let (_, _, verify) = call(&server, "GET", "/admin/verify", Some(ADMIN), Some("shop-a")).await;
    assert_eq!(verify["problems"], json!([]), "{verify}");
    server.stop().await;
}
