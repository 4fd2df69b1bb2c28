//! Overload answers 503, not collapse: past the concurrency limit (one for all the guarded
//! routes) requests are shed at once,
//! and a request that outlives the request timeout is answered 503 at once. Its database call
//! may still finish in the server, but only whole: an identify cut off by the timeout either
//! happened entirely or not at all, and repeating it is safe (identify is idempotent).

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use identity_testkit::{GraphLock, TestDb, wait_until, writers_waiting};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_limit_are_shed_and_slow_ones_time_out() {
    let db = TestDb::create().await;
    let server = TestServer::start(
        db.url(),
        &["--concurrency-limit", "1", "--request-timeout-ms", "1500"],
    )
    .await;
    let client = common::client();
    // hold the graph lock so a writing request stays in flight, waiting in the database
    let admin = db.pool().await;
    let blocker = GraphLock::take(&admin).await;

    let started = Instant::now();
    let slow = tokio::spawn(
        client
            .post(server.url("/identify"))
            .body(r#"{"email":"slow@x.io"}"#)
            .send(),
    );
    wait_until(
        "the first request to wait in the database",
        Duration::from_secs(5),
        async || writers_waiting(&admin).await == 1,
    )
    .await;
    let shed = client
        .post(server.url("/identify"))
        .body(r#"{"email":"shed@x.io"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), 503);
    assert!(shed.headers().contains_key("retry-after"));
    let body: serde_json::Value = shed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");
    // one limit for every guarded route, not one per route
    let other_route = client
        .get(server.url("/contacts?email=shed@x.io"))
        .send()
        .await
        .unwrap();
    assert_eq!(other_route.status(), 503, "/contacts shares the limit");
    // probes are not limited
    assert_eq!(common::get_status(&server, "/healthz").await, 200);

    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), 503);
    let body: serde_json::Value = slow.json().await.unwrap();
    assert_eq!(body["error"]["code"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(5));

    blocker.release().await;
    wait_until(
        "the cut-off statement to end in the database",
        Duration::from_secs(5),
        async || writers_waiting(&admin).await == 0,
    )
    .await;
    let rows = server.identity.all_contacts().await.unwrap();
    assert!(
        rows.is_empty()
            || (rows.len() == 1 && rows[0].email.as_ref().map(|e| e.as_str()) == Some("slow@x.io")),
        "the cut-off request happened entirely or not at all: {rows:?}"
    );
    identity_testkit::assert_verified(&server.identity).await;
    let ok = client
        .post(server.url("/identify"))
        .body(r#"{"email":"after@x.io"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    server.stop().await;
}
