//! `GET /events` over HTTP: the feed's pages and cursors, the long poll woken by a write, the
//! tenancy of `/identify` (tenant tokens; the admin token reads any tenant), and its errors.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use identity_testkit::TestDb;
use serde_json::{Value, json};

const ADMIN: &str = "events-admin-token-0123";
const TOKEN_A: &str = "token-of-shop-a-0123456789";

async fn get(
    server: &TestServer,
    query: &str,
    token: Option<&str>,
    tenant: Option<&str>,
) -> (u16, Value) {
    let mut request = common::client().get(server.url(&format!("/events{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(tenant) = tenant {
        request = request.header("X-Tenant-Id", tenant);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn identify(server: &TestServer, body: Value, token: Option<&str>) {
    let mut request = common::client().post(server.url("/identify")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
}

fn types(page: &Value) -> Vec<&str> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_feed_pages_long_polls_and_refuses_bad_cursors() {
    let db = TestDb::create().await;
    let server = TestServer::start(db.url(), &[]).await;
    identify(
        &server,
        json!({"email": "doc@x.io", "phoneNumber": "555"}),
        None,
    )
    .await;
    identify(
        &server,
        json!({"email": "doc2@x.io", "phoneNumber": "555"}),
        None,
    )
    .await;
    let (status, page) = get(&server, "?limit=1", None, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(types(&page), ["contact.created"]);
    let event = &page["events"][0];
    assert_eq!(event["tenant"], "default");
    assert_eq!(event["data"]["email"], "doc@x.io");
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(page["next"], event["cursor"]);
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, rest) = get(&server, &format!("?after={next}"), None, None).await;
    assert_eq!(types(&rest), ["contact.linked"]);
    assert_eq!(rest["events"][0]["data"]["primaryContactId"], 1);
    let head = rest["next"].as_str().unwrap().to_owned();

    // a long poll answers when a write lands, well before its wait runs out
    let poll = {
        let url = server.url(&format!("/events?after={head}&wait=20"));
        tokio::spawn(async move {
            let started = Instant::now();
            let response = common::client().get(url).send().await.unwrap();
            (started.elapsed(), response.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    identify(&server, json!({"email": "marty@x.io"}), None).await;
    let (took, woken) = poll.await.unwrap();
    assert_eq!(types(&woken), ["contact.created"], "{woken}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    // and with nothing new, an empty page once the wait ran out
    let after = woken["next"].as_str().unwrap();
    let (status, empty) = get(&server, &format!("?after={after}&wait=1"), None, None).await;
    assert_eq!(
        (status, empty["events"].as_array().unwrap().len()),
        (200, 0)
    );
    assert_eq!(empty["next"], after);

    for (query, field) in [
        ("?after=f1.ffff", "after"),
        ("?after=12", "after"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?wait=31", "wait"),
        ("?wait=-1", "wait"),
    ] {
        let (status, body) = get(&server, query, None, None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input", "{query}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let (status, body) = get(&server, "?cursor=f1.1", None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );

    // retention pruned the first two events: a cursor before them is gone
    let pool = db.pool().await;
    sqlx::query("DELETE FROM identity_event WHERE position <= 2")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO identity_feed_floor VALUES ('default', 2)")
        .execute(&pool)
        .await
        .unwrap();
    let (status, body) = get(&server, "?after=f1.1", None, None).await;
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["code"], "expired");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("f1.2"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_feed_acts_for_the_tenant_as_identify_does() {
    let server = TestServer::start(
        "memory:",
        &[
            "--admin-token",
            ADMIN,
            "--tenant-tokens",
            &format!("shop-a:{TOKEN_A}"),
        ],
    )
    .await;
    identify(&server, json!({"email": "doc@x.io"}), Some(TOKEN_A)).await;
    let (status, own) = get(&server, "", Some(TOKEN_A), None).await;
    assert_eq!((status, types(&own)), (200, vec!["contact.created"]));
    assert_eq!(own["events"][0]["tenant"], "shop-a");
    let (status, _) = get(&server, "", None, None).await;
    assert_eq!(status, 401);
    let (status, body) = get(&server, "", Some(TOKEN_A), Some("shop-b")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    // the admin token reads any tenant's feed
    let (status, read) = get(&server, "", Some(ADMIN), Some("shop-a")).await;
    assert_eq!((status, &read), (200, &own));
    let (status, other) = get(&server, "", Some(ADMIN), Some("shop-b")).await;
    assert_eq!((status, types(&other)), (200, vec![]));
    server.stop().await;
}
