//! Hundreds of concurrent HTTP requests over overlapping identifiers, then the core's invariants
//! checked in SQL, the customers compared with a union-find over every request sent, and the
//! service's own `GET /admin/verify` finding nothing.

mod common;

use common::TestServer;
use identity_testkit::{TestDb, Workload};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundreds_of_concurrent_requests_keep_the_invariants() {
    let db = TestDb::create().await;
    // 200 clients queue for 16 connections: on a loaded 2-core machine (a checkpoint, another
    // suite) a request can wait past the 2 s default for one; shedding is tested in overload.rs
    let server = TestServer::start(
        db.url(),
        &[
            "--max-connections",
            "16",
            "--acquire-timeout-ms",
            "30000",
            "--admin-token",
            "concurrency-admin-token",
        ],
    )
    .await;
    let client = common::client();
    let per_client: Vec<_> = (1..=200u64)
        .map(|seed| Workload::requests(seed, 6, 10, 5))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for requests in per_client.clone() {
        let (client, url) = (client.clone(), server.url("/identify"));
        tasks.spawn(async move {
            for request in requests {
                let body = json!({
                    "email": request.email().map(ToString::to_string),
                    "phoneNumber": request.phone_number().map(ToString::to_string),
                });
                let response = client.post(&url).json(&body).send().await.unwrap();
                assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
            }
        });
    }
    tasks.join_all().await;
    identity_testkit::assert_sql_invariants(&db.pool().await).await;
    let rows = server.identity.all_contacts().await.unwrap();
    identity_testkit::assert_invariants(&rows);
    identity_testkit::assert_customers_match(&rows, per_client.iter().flatten());
    let report: serde_json::Value = client
        .get(server.url("/admin/verify"))
        .bearer_auth("concurrency-admin-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["clean"], true, "{report}");
    server.stop().await;
}
