//! Correctness under concurrency for the embedded stores: SQLite (a pool of connections plus a
//! second OS process on the same file, and a process killed mid-write) and memory.

use identity_testkit as common;

use std::time::Duration;

use identity::{ContactStore, IdentifyRequest, Identity, SqliteStore, TenantId};
use identity_testkit::Workload;

/// Set (to a SQLite URL) in the child process this file spawns.
const CHILD_URL: &str = "IDENTITY_TEST_SQLITE_CHILD_URL";
/// Optionally set in the child process: how many requests it sends.
const CHILD_COUNT: &str = "IDENTITY_TEST_SQLITE_CHILD_REQUESTS";
const CHILD_SEED: u64 = 2_000;
const CHILD_REQUESTS: u64 = 600;
const IDENTIFIERS: u64 = 6;
const PER_NAMESPACE: u64 = 10;

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("shop.db").display())
}

fn spawn_child(url: &str, requests: u64) -> tokio::process::Child {
    common::spawn_test_process(
        "sqlite_child_process_keeps_invariants",
        &[(CHILD_URL, url), (CHILD_COUNT, &requests.to_string())],
    )
}

/// The second OS process: hammers the parent's file when spawned by it, or its own file when
/// run on its own, and checks the invariants it can see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_child_process_keeps_invariants() {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var(CHILD_URL).unwrap_or_else(|_| sqlite_url(&dir));
    let identity = identity::connect(&url).await.unwrap();
    let count = std::env::var(CHILD_COUNT).map_or(CHILD_REQUESTS, |n| n.parse().unwrap());
    let requests = Workload::requests(CHILD_SEED, IDENTIFIERS, count, PER_NAMESPACE);
    let (a, b) = requests.split_at(requests.len() / 2);
    let failures = common::hammer(&identity, vec![a.to_vec(), b.to_vec()]).await;
    assert!(failures.is_empty(), "child failures: {failures:?}");
    common::assert_invariants(&identity.all_contacts().await.unwrap());
    common::assert_verified(&identity).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_identifies_from_two_processes_keep_invariants() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let identity = identity::connect(&url).await.unwrap();
    let child = spawn_child(&url, CHILD_REQUESTS);
    let per_worker: Vec<Vec<IdentifyRequest>> = (1..=8)
        .map(|seed| Workload::requests(seed, IDENTIFIERS, 150, PER_NAMESPACE))
        .collect();
    let failures = common::hammer(&identity, per_worker.clone()).await;
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
    common::assert_test_process_passed(child).await;
    let rows = identity.all_contacts().await.unwrap();
    common::assert_invariants(&rows);
    common::assert_verified(&identity).await;
    let child_requests = Workload::requests(CHILD_SEED, IDENTIFIERS, CHILD_REQUESTS, PER_NAMESPACE);
    common::assert_customers_match(&rows, per_worker.iter().flatten().chain(&child_requests));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_process_killed_mid_write_leaves_a_consistent_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let watcher = identity::connect(&url).await.unwrap(); // creates and migrates the file
    for written in [20, 80, 200] {
        let mut child = spawn_child(&url, 100_000);
        // kill once the child is busy writing (it keeps going long after this many rows)
        let start = watcher.all_contacts().await.unwrap().len();
        common::wait_until(
            &format!("the child to write {written} rows"),
            Duration::from_secs(60),
            async || watcher.all_contacts().await.unwrap().len() >= start + written,
        )
        .await;
        child.start_kill().unwrap(); // SIGKILL: no chance to roll back or checkpoint
        let status = child.wait().await.unwrap();
        assert!(!status.success(), "the child was killed mid-run");
        let store = SqliteStore::connect(&url).await.unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(check, "ok");
        let rows = store.all_contacts(&TenantId::default()).await.unwrap();
        common::assert_invariants(&rows);
        let report = store.verify(&TenantId::default()).await.unwrap();
        assert!(report.is_clean(), "{report}");
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_concurrent_identifies_keep_invariants() {
    let identity: Identity = identity::connect("memory:").await.unwrap();
    let per_worker: Vec<Vec<IdentifyRequest>> = (1..=16)
        .map(|seed| Workload::requests(seed, IDENTIFIERS, 250, PER_NAMESPACE))
        .collect();
    let failures = common::hammer(&identity, per_worker.clone()).await;
    assert!(failures.is_empty(), "{failures:?}");
    let rows = identity.all_contacts().await.unwrap();
    common::assert_invariants(&rows);
    common::assert_verified(&identity).await;
    common::assert_customers_match(&rows, per_worker.iter().flatten());
}

/// SQLite: soft deletes made in SQL by another connection and rebuilds while identifies run;
/// once the last change is applied, the invariants hold and verify finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_sql_deletes_and_rebuilds_during_identifies_keep_the_graph_exact() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let identity = identity::connect(&url).await.unwrap();
    let side = sqlx::SqlitePool::connect(&url).await.unwrap();
    let delete = move || {
        let side = side.clone();
        async move {
            sqlx::query(
                "UPDATE contact SET deleted_at = '2026-01-01T00:00:00Z' WHERE id = (
                    SELECT id FROM contact WHERE deleted_at IS NULL ORDER BY random() LIMIT 1)",
            )
            .execute(&side)
            .await
            // another writer may hold SQLite's write lock past the busy timeout: try again
            .map_or(0, |d| d.rows_affected())
        }
    };
    common::identify_while_meddling(&identity, IDENTIFIERS, PER_NAMESPACE, delete).await;
    identity.identify(Some("last@x.io"), None).await.unwrap();
    common::assert_invariants(&identity.all_contacts().await.unwrap());
    common::assert_verified(&identity).await;
}
