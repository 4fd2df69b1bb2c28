//! Webhooks from the real binary to a real local receiver (an HTTP server in this test):
//! signed deliveries in feed order; a burst of 10,000 events in order; a receiver that is down
//! for a while, then up; the service SIGKILLed mid-delivery and restarted (nothing lost, only
//! the event in flight repeated); two instances on one database never delivering to one
//! endpoint at once. Then the admin API's answers and errors.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use common::TestServer;
use common::running::Running;
use identity::feed::Cursor;
use identity::webhook::{WebhookSecret, verify};
use identity::{Checkout, IdentifyRequest, ImportOptions};
use serde_json::{Value, json};
use tokio::sync::Notify;

const TOKEN: &str = "admin-token-webhooks";

/// A delivery as the receiver saw it arrive.
#[derive(Debug, Clone)]
struct Arrival {
    path: String,
    id: String,
    timestamp: i64,
    signature: String,
    body: Bytes,
}

#[derive(Debug, Default)]
struct Seen {
    arrivals: Vec<Arrival>,
    in_flight: HashMap<String, usize>,
    most_in_flight: usize,
}

/// A local receiver: records each delivery as it arrives, answers 204 after `delay`, and holds
/// the first delivery of the event `hold` names until `release` is notified.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Seen>>,
    delay: Duration,
    hold: Arc<Mutex<Option<String>>>,
    release: Arc<Notify>,
}

impl Receiver {
    /// Serves on `addr` (a free port when 0) until the test ends; answers the address.
    async fn serve(&self, addr: SocketAddr) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let local = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        local
    }

    fn arrivals(&self, path: &str) -> Vec<Arrival> {
        let seen = self.seen.lock().unwrap();
        seen.arrivals
            .iter()
            .filter(|a| a.path == path)
            .cloned()
            .collect()
    }

    fn count(&self, path: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.arrivals.iter().filter(|a| a.path == path).count()
    }

    fn ids(&self, path: &str) -> Vec<String> {
        self.arrivals(path).into_iter().map(|a| a.id).collect()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let path = uri.path().to_owned();
    let arrival = Arrival {
        path: path.clone(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
        signature: header("webhook-signature"),
        body,
    };
    let held = {
        let mut hold = receiver.hold.lock().unwrap();
        let held = hold.as_deref() == Some(arrival.id.as_str());
        if held {
            *hold = None;
        }
        held
    };
    {
        let mut seen = receiver.seen.lock().unwrap();
        seen.arrivals.push(arrival);
        let n = seen.in_flight.entry(path.clone()).or_default();
        *n += 1;
        let n = *n;
        seen.most_in_flight = seen.most_in_flight.max(n);
    }
    if held {
        receiver.release.notified().await;
    }
    tokio::time::sleep(receiver.delay).await;
    *receiver
        .seen
        .lock()
        .unwrap()
        .in_flight
        .get_mut(&path)
        .unwrap() -= 1;
    if held {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

/// An admin call with the token.
async fn admin(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = common::client()
        .request(method, format!("{base}{path}"))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Registers a webhook to `url`: its id, secret and cursor.
async fn create(base: &str, url: &str) -> (i64, WebhookSecret, Cursor) {
    let (status, body) = admin(
        base,
        reqwest::Method::POST,
        "/admin/webhooks",
        Some(json!({"url": url})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let secret = WebhookSecret::parse(body["secret"].as_str().unwrap()).unwrap();
    let cursor = body["cursor"].as_str().unwrap().parse().unwrap();
    (body["id"].as_i64().unwrap(), secret, cursor)
}

/// Every feed event after `after`, in order.
async fn feed_events(identity: &identity::Identity, after: Cursor) -> Vec<identity::FeedEvent> {
    let mut events = Vec::new();
    let mut at = after;
    loop {
        let page = identity.events(Some(at), 1000).await.unwrap();
        if page.events.is_empty() {
            return events;
        }
        events.extend(page.events);
        at = page.next;
    }
}

/// Every feed event's id after `after`, in order.
async fn feed_ids(identity: &identity::Identity, after: Cursor) -> Vec<String> {
    let events = feed_events(identity, after).await;
    events.into_iter().map(|e| e.id).collect()
}

/// `n` new customers, one identify each.
async fn writes(identity: &identity::Identity, tag: &str, n: usize) {
    for i in 0..n {
        let email = format!("{tag}-{i}@w.io");
        identity.identify(Some(&email), None).await.unwrap();
    }
}

/// `n` new customers of an empty tenant, imported in one go (one `contact.created` each).
async fn burst(identity: &identity::Identity, tag: &str, n: usize) {
    let at = time::OffsetDateTime::now_utc();
    let checkouts = (0..n)
        .map(|i| {
            let email = format!("{tag}-{i}@burst.io");
            Checkout::new(
                IdentifyRequest::parse(Some(&email), None).unwrap(),
                at,
                i as u64,
            )
        })
        .collect();
    identity
        .import(checkouts, ImportOptions::default())
        .await
        .unwrap();
}

fn service_args() -> Vec<&'static str> {
    vec!["--admin-token", TOKEN, "--webhook-allow-private"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_arrive_in_feed_order_and_a_burst_of_10000_arrives_in_order() {
    let db = identity_testkit::TestDb::create().await;
    let server = Running::start(db.url(), &service_args()).await;
    let receiver = Receiver::default();
    let addr = receiver.serve("127.0.0.1:0".parse().unwrap()).await;
    let (_, secret, from) = create(&server.base, &format!("http://{addr}/hooks")).await;

    // 10,000 new customers at once, then a few changes through the service
    let identity = identity::connect(db.url()).await.unwrap();
    burst(&identity, "b", 10_000).await;
    for body in [
        json!({"email": "doc@x.io", "phoneNumber": "555"}),
        json!({"email": "marty@x.io", "phoneNumber": "777"}),
        json!({"email": "doc@x.io", "phoneNumber": "777"}),
    ] {
        let response = common::client()
            .post(format!("{}/identify", server.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let expected = feed_ids(&identity, from).await;
    assert_eq!(expected.len(), 10_003);
    identity_testkit::wait_until("10,003 deliveries", Duration::from_secs(300), async || {
        receiver.count("/hooks") >= expected.len()
    })
    .await;
    let arrivals = receiver.arrivals("/hooks");
    let ids: Vec<String> = arrivals.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, expected, "every event once, in feed order");
    let events = feed_events(&identity, from).await;
    assert_eq!(events.last().unwrap().change.kind(), "customer.merged");
    for (arrival, event) in arrivals.iter().zip(events.iter()) {
        assert_eq!(arrival.body, serde_json::to_vec(event).unwrap());
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for a in &arrivals {
        assert!(
            verify(&secret, &a.id, a.timestamp, &a.body, &a.signature),
            "{a:?}"
        );
        assert!(
            (now - a.timestamp).abs() < 600,
            "a recent timestamp: {}",
            a.timestamp
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_then_up_gets_everything_in_order() {
    let db = identity_testkit::TestDb::create().await;
    let server = Running::start(db.url(), &service_args()).await;
    // a port nothing listens on yet
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let (id, _, from) = create(&server.base, &format!("http://{addr}/down")).await;
    let identity = identity::connect(db.url()).await.unwrap();
    writes(&identity, "d", 50).await;
    identity_testkit::wait_until("a failed attempt", Duration::from_secs(30), async || {
        let (_, body) = admin(
            &server.base,
            reqwest::Method::GET,
            &format!("/admin/webhooks/{id}/deliveries"),
            None,
        )
        .await;
        body["deliveries"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    let (_, body) = admin(
        &server.base,
        reqwest::Method::GET,
        &format!("/admin/webhooks/{id}/deliveries"),
        None,
    )
    .await;
    let first = &body["deliveries"][0];
    assert_eq!(first["status"], Value::Null, "{body}");
    assert!(
        first["error"]
            .as_str()
            .unwrap()
            .starts_with("could not connect"),
        "{body}"
    );
    assert!(first["nextAttemptAt"].is_string(), "{body}");
    let (_, listed) = admin(&server.base, reqwest::Method::GET, "/admin/webhooks", None).await;
    assert_eq!(listed["webhooks"][0]["attempts"], 1, "{listed}");
    assert_eq!(listed["webhooks"][0]["state"], "active", "{listed}");

    writes(&identity, "d2", 50).await; // more while it is down
    let receiver = Receiver::default();
    receiver.serve(addr).await;
    let expected = feed_ids(&identity, from).await;
    identity_testkit::wait_until(
        "the backlog after the retry",
        Duration::from_secs(30),
        async || receiver.count("/down") >= expected.len(),
    )
    .await;
    assert_eq!(receiver.ids("/down"), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_mid_delivery_resumes_and_repeats_only_the_event_in_flight() {
    let db = identity_testkit::TestDb::create().await;
    // a short timeout: the dead instance's lease runs out in 3 s
    let mut args = service_args();
    args.extend(["--webhook-timeout-ms", "1000"]);
    let mut first = Running::start(db.url(), &args).await;
    let receiver = Receiver::default();
    let addr = receiver.serve("127.0.0.1:0".parse().unwrap()).await;
    let (_, _, from) = create(&first.base, &format!("http://{addr}/kill")).await;
    let identity = identity::connect(db.url()).await.unwrap();
    burst(&identity, "k", 200).await;
    let expected = feed_ids(&identity, from).await;
    let in_flight = expected[120].clone();
    *receiver.hold.lock().unwrap() = Some(in_flight.clone());
    identity_testkit::wait_until("the held delivery", Duration::from_secs(60), async || {
        receiver.ids("/kill").contains(&in_flight)
    })
    .await;
    first.child.start_kill().unwrap(); // SIGKILL
    first.child.wait().await.unwrap();
    receiver.release.notify_waiters();

    let _second = Running::start(db.url(), &args).await;
    identity_testkit::wait_until(
        "every event after the restart",
        Duration::from_secs(60),
        async || receiver.count("/kill") > expected.len(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // nothing more comes
    let got = receiver.ids("/kill");
    let mut want = expected[..=120].to_vec();
    want.extend_from_slice(&expected[120..]);
    assert_eq!(got, want, "all in order, only the event in flight twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_never_deliver_to_one_endpoint_at_once() {
    let db = identity_testkit::TestDb::create().await;
    let one = Running::start(db.url(), &service_args()).await;
    let two = Running::start(db.url(), &service_args()).await;
    let receiver = Receiver {
        delay: Duration::from_millis(3),
        ..Receiver::default()
    };
    let addr = receiver.serve("127.0.0.1:0".parse().unwrap()).await;
    let mut paths = Vec::new();
    for n in 0..3 {
        let base = if n % 2 == 0 { &one.base } else { &two.base };
        let path = format!("/two/{n}");
        let (_, _, from) = create(base, &format!("http://{addr}{path}")).await;
        paths.push((path, from));
    }
    // writes through both instances
    let mut writers = Vec::new();
    for (w, base) in [&one.base, &two.base, &one.base, &two.base]
        .into_iter()
        .enumerate()
    {
        let url = format!("{base}/identify");
        writers.push(tokio::spawn(async move {
            for n in 0..40 {
                let body = json!({"email": format!("p{}@x.io", (w * 13 + n) % 50),
                                  "phoneNumber": format!("{}", 100 + (w + n * 7) % 30)});
                let r = common::client()
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let identity = identity::connect(db.url()).await.unwrap();
    for (path, from) in &paths {
        let expected = feed_ids(&identity, *from).await;
        assert!(expected.len() > 50, "{}", expected.len());
        identity_testkit::wait_until(
            "every endpoint served",
            Duration::from_secs(60),
            async || receiver.count(path) >= expected.len(),
        )
        .await;
        assert_eq!(receiver.ids(path), expected, "{path}: once each, in order");
    }
    assert_eq!(receiver.seen.lock().unwrap().most_in_flight, 1);
}

#[tokio::test]
async fn the_admin_api_registers_lists_replays_and_deletes_and_refuses_clearly() {
    let db = identity_testkit::TestDb::create().await;
    let server = TestServer::start(db.url(), &["--admin-token", TOKEN]).await;
    let base = server.base.clone();
    use reqwest::Method;

    // without --webhook-allow-private, a loopback target is refused
    let (status, body) = admin(
        &base,
        Method::POST,
        "/admin/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/x"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("url")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("private"),
        "{body}"
    );
    for (bad, field) in [
        (json!({}), "url"),
        (json!({"url": "ftp://example.com/"}), "url"),
        (json!({"url": 5}), "url"),
        (json!({"url": "https://example.com/", "types": []}), "types"),
        (
            json!({"url": "https://example.com/", "types": ["contact.deleted"]}),
            "types",
        ),
        (
            json!({"url": "https://example.com/", "types": "customer.merged"}),
            "types",
        ),
    ] {
        let (status, body) = admin(&base, Method::POST, "/admin/webhooks", Some(bad.clone())).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some(field)),
            "{bad}: {body}"
        );
    }
    let (_, listed) = admin(&base, Method::GET, "/admin/webhooks", None).await;
    assert_eq!(listed, json!({"webhooks": []}), "nothing was registered");

    let (status, created) = admin(
        &base,
        Method::POST,
        "/admin/webhooks",
        Some(json!({"url": "https://crm.example.com/h", "types": ["customer.merged"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["types"], json!(["customer.merged"]));
    assert_eq!(
        (created["state"].as_str(), created["attempts"].as_i64()),
        (Some("active"), Some(0))
    );
    let id = created["id"].as_i64().unwrap();
    let (_, listed) = admin(&base, Method::GET, "/admin/webhooks", None).await;
    assert_eq!(listed["webhooks"][0]["id"], id);
    assert!(
        listed["webhooks"][0].get("secret").is_none(),
        "the secret is told once"
    );

    let (status, body) = admin(
        &base,
        Method::GET,
        &format!("/admin/webhooks/{id}/deliveries"),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!({"deliveries": []})));
    let (status, body) = admin(
        &base,
        Method::GET,
        &format!("/admin/webhooks/{id}/deliveries?limit=0"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("limit")),
        "{body}"
    );
    let (status, body) = admin(
        &base,
        Method::POST,
        &format!("/admin/webhooks/{id}/replay"),
        Some(json!({"after": "f1.ffff"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("after")),
        "{body}"
    );
    let (status, body) = admin(
        &base,
        Method::POST,
        &format!("/admin/webhooks/{id}/replay"),
        Some(json!({"after": "nope"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("after")),
        "{body}"
    );
    let (status, body) = admin(
        &base,
        Method::POST,
        &format!("/admin/webhooks/{id}/replay"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["cursor"].as_str()),
        (200, Some("f1.0")),
        "{body}"
    );
    for path in [
        format!("/admin/webhooks/{}", id + 1),
        "/admin/webhooks/x".into(),
    ] {
        let (status, body) = admin(&base, Method::DELETE, &path, None).await;
        assert!(status == 404 || status == 400, "{path}: {body}");
    }
    let (status, body) = admin(
        &base,
        Method::DELETE,
        &format!("/admin/webhooks/{}", id + 1),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (404, Some(format!("webhook {} not found", id + 1).as_str()))
    );
    // another tenant does not see it
    let other = common::client()
        .get(format!("{base}/admin/webhooks"))
        .bearer_auth(TOKEN)
        .header("X-Tenant-Id", "shop-b")
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.json::<Value>().await.unwrap(),
        json!({"webhooks": []})
    );
    let (status, _) = admin(
        &base,
        Method::DELETE,
        &format!("/admin/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, listed) = admin(&base, Method::GET, "/admin/webhooks", None).await;
    assert_eq!(listed, json!({"webhooks": []}));
    // without the admin token: refused
    let anon = common::client()
        .get(format!("{base}/admin/webhooks"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status().as_u16(), 401);
    server.stop().await;
}
