//! `GET /metrics`: parsed by a Prometheus text parser, its numbers moving as traffic goes
//! through; `--metrics-addr` moving it to a listener of its own; `--log-format json` writing
//! one object per request.

mod common;

use std::time::Duration;

use common::TestServer;
use common::running::Running;
use prometheus_parse::{Scrape, Value};
use serde_json::{Value as Json, json};

const TOKEN: &str = "admin-token-0123456789";

/// The exposition at `url`, parsed.
async fn scrape(url: &str) -> (String, Scrape) {
    let response = common::client().get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, parsed)
}

/// The sum of `metric`'s samples whose labels include `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{metric}: not a number: {other:?}"),
        })
        .sum()
}

/// How much `metric` (with `labels`) moved from `before` to `after`.
fn moved(before: &Scrape, after: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    value(after, metric, labels) - value(before, metric, labels)
}

/// What `found` finds, looked for every 10 ms for up to `within`.
async fn wait_for<T>(what: &str, within: Duration, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited {within:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn identify(server: &TestServer, body: &str) -> u16 {
    common::client()
        .post(server.url("/identify"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn metrics_parse_and_move_with_identifies_requests_and_webhook_backlogs() {
    let db = identity_testkit::TestDb::create().await;
    let server = TestServer::start(
        db.url(),
        &["--admin-token", TOKEN, "--webhook-allow-private"],
    )
    .await;
    // no sender runs in this in-process server: the endpoint's events stay undelivered
    let created = common::client()
        .post(server.url("/admin/webhooks"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": "http://127.0.0.1:9/hooks"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let webhook: Json = created.json().await.unwrap();
    let webhook_id = webhook["id"].to_string();
    let (_, before) = scrape(&server.url("/metrics")).await;
    let feed_before = server.identity.feed_stats().await.unwrap().events_written;

    for (body, status) in [
        (r#"{"email":"doc@hillvalley.edu"}"#, 200), // created
        (r#"{"email":"doc@hillvalley.edu"}"#, 200), // known
        (r#"{"email":"doc@hillvalley.edu","phoneNumber":"555"}"#, 200), // linked
        (
            r#"{"email":"marty@hillvalley.edu","phoneNumber":"777"}"#,
            200,
        ), // created
        (r#"{"email":"doc@hillvalley.edu","phoneNumber":"777"}"#, 200), // merged
        (r#"{"email":"not-an-email"}"#, 400),       // refused
        (r#"{"email": "#, 400),                     // refused: malformed
    ] {
        assert_eq!(identify(&server, body).await, status, "{body}");
    }
    let missing = common::client()
        .get(server.url("/nope/doc@hillvalley.edu"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let (text, after) = scrape(&server.url("/metrics")).await;

    for (outcome, n) in [
        ("created", 2.0),
        ("known", 1.0),
        ("linked", 1.0),
        ("merged", 1.0),
        ("refused", 2.0),
        ("failed", 0.0),
    ] {
        let labels = [("outcome", outcome)];
        assert_eq!(
            moved(&before, &after, "identity_identify_total", &labels),
            n,
            "{outcome}"
        );
    }
    let invalid = [("kind", "invalid_input")];
    assert_eq!(
        moved(&before, &after, "identity_identify_errors_total", &invalid),
        2.0
    );
    let route = |status| {
        [
            ("http_route", "/identify"),
            ("http_request_method", "POST"),
            ("http_response_status_code", status),
        ]
    };
    let count = "http_server_request_duration_seconds_count";
    assert_eq!(moved(&before, &after, count, &route("200")), 5.0);
    assert_eq!(moved(&before, &after, count, &route("400")), 2.0);
    let unmatched: Vec<_> = after
        .samples
        .iter()
        .filter(|s| s.metric == count && s.labels.get("http_response_status_code") == Some("404"))
        .collect();
    assert_eq!(unmatched.len(), 1, "{text}");
    assert_eq!(
        unmatched[0].labels.get("http_route"),
        None,
        "no route matched: no label"
    );
    assert!(
        !text.contains("hillvalley") && !text.contains("/nope") && !text.contains("tenant="),
        "no label carries a value a client chose, nor the tenant unless asked: {text}"
    );

    // the database's numbers
    assert_eq!(value(&after, "identity_database_up", &[]), 1.0);
    let written = server.identity.feed_stats().await.unwrap().events_written;
    assert!(written > feed_before, "{written}");
    assert_eq!(
        moved(&before, &after, "identity_feed_events_written_total", &[]),
        (written - feed_before) as f64
    );
    let endpoint = [("webhook_id", webhook_id.as_str())];
    assert_eq!(
        value(&after, "identity_webhook_undelivered_events", &endpoint),
        (written - feed_before) as f64,
        "every event since the endpoint was created"
    );
    let age = value(
        &after,
        "identity_webhook_oldest_undelivered_age_seconds",
        &endpoint,
    );
    assert!(age > 0.0 && age < 600.0, "{age}");
    assert_eq!(value(&after, "identity_webhook_failing", &endpoint), 0.0);
    // PostgreSQL's pool: the lanes say how many connections, and how many calls wait
    assert!(value(&after, "identity_pool_max_connections", &[]) >= 1.0);
    assert!(value(&after, "identity_pool_connections", &[("state", "idle")]) >= 1.0);
    assert_eq!(value(&after, "identity_pool_waiting", &[]), 0.0);
    assert!(
        after
            .docs
            .contains_key("http_server_request_duration_seconds"),
        "every family has its HELP: {:?}",
        after.docs.keys()
    );
    server.stop().await;
}

#[tokio::test]
async fn the_tenant_is_a_label_only_when_asked_and_a_down_database_says_so() {
    let server = TestServer::start("sqlite::memory:", &["--metrics-tenant-label"]).await;
    let answered = common::client()
        .post(server.url("/identify"))
        .header("x-tenant-id", "shop-a")
        .json(&json!({"email": "doc@x.io"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status().as_u16(), 200);
    let (_, parsed) = scrape(&server.url("/metrics")).await;
    let labels = [("http_route", "/identify"), ("tenant", "shop-a")];
    assert_eq!(
        value(
            &parsed,
            "http_server_request_duration_seconds_count",
            &labels
        ),
        1.0
    );
    // SQLite's writers queue on its one write lock: no waiting gauge
    assert!(
        parsed
            .samples
            .iter()
            .all(|s| s.metric != "identity_pool_waiting")
    );

    server.identity.close().await;
    let (text, down) = scrape(&server.url("/metrics")).await;
    assert_eq!(value(&down, "identity_database_up", &[]), 0.0, "{text}");
    assert_eq!(
        value(&down, "identity_identify_total", &[("outcome", "created")]),
        1.0
    );
    assert!(!text.contains("identity_feed_events_written"), "{text}");
}

#[tokio::test]
async fn metrics_addr_serves_them_apart_and_json_logs_have_one_object_per_request() {
    let db = identity_testkit::TestDb::create().await;
    let mut server = Running::start(
        db.url(),
        &["--metrics-addr", "127.0.0.1:0", "--log-format", "json"],
    )
    .await;
    let metrics_url = wait_for("the metrics listener", Duration::from_secs(10), || {
        let log = server.drain();
        log.lines().find_map(|line| {
            let line: Json = serde_json::from_str(line).ok()?;
            let message = line["message"].as_str()?;
            Some(message.strip_prefix("metrics on ")?.to_owned())
        })
    })
    .await;
    let (_, parsed) = scrape(&metrics_url).await;
    assert_eq!(value(&parsed, "identity_database_up", &[]), 1.0);
    let client = common::client();
    let main = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status().as_u16(), 404, "not on the main port");
    let answered = client
        .post(format!("{}/identify", server.base))
        .json(&json!({"email": "doc@hillvalley.edu", "phoneNumber": "5550100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status().as_u16(), 200);
    let request_id = answered.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let line = wait_for("the request's log line", Duration::from_secs(10), || {
        let log = server.drain();
        log.lines()
            .filter_map(|line| serde_json::from_str::<Json>(line).ok())
            .find(|line| line["span"]["id"] == request_id.as_str())
    })
    .await;
    assert_eq!(line["span"]["route"], "/identify", "{line}");
    assert_eq!(line["span"]["method"], "POST", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["latency_us"].as_u64().is_some(), "{line}");
    assert_eq!(line["message"], "identified", "{line}");
    let text = line.to_string();
    assert!(
        !text.contains("doc@hillvalley.edu") && !text.contains("5550100"),
        "masked: {text}"
    );
}
