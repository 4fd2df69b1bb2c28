//! Overload answers 503, not collapse: past the concurrency limit requests are shed at once,
//! and a request that outlives the request timeout is cut off (writing nothing).

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_limit_are_shed_and_slow_ones_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("busy.db").display());
    let server = TestServer::start(
        &url,
        &["--concurrency-limit", "1", "--request-timeout-ms", "1500"],
    )
    .await;
    let client = common::client();
    // hold SQLite's write lock so a writing request stays in flight
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();

    let started = Instant::now();
    let slow = tokio::spawn(
        client
            .post(server.url("/identify"))
            .body(r#"{"email":"slow@x.io"}"#)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
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
    // probes are not limited
    assert_eq!(common::get_status(&server, "/healthz").await, 200);

    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), 503);
    let body: serde_json::Value = slow.json().await.unwrap();
    assert_eq!(body["error"]["code"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(5));

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut blocker)
        .await
        .unwrap();
    assert_eq!(
        server.identity.all_contacts().await.unwrap(),
        vec![],
        "the cut-off request wrote nothing"
    );
    let ok = client
        .post(server.url("/identify"))
        .body(r#"{"email":"after@x.io"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    server.stop().await;
}
