//! Pooled connections the server ended while they sat idle (a restart, `pg_terminate_backend`,
//! `idle_session_timeout`) cost no request: each call that meets one tries again on a fresh
//! connection, so after the server is back every call succeeds. The restarts run on a cluster
//! of this test's own (restarting the shared server would break the tests beside it).

use identity_testkit as common;

use std::time::Duration;

use common::cluster::PrivateCluster;
use identity::{ConnectOptions, Identity, TenantId};
use sqlx::postgres::PgPool;

const POOL: u32 = 10;

async fn open(url: &str) -> Identity {
    let options = ConnectOptions::default()
        .max_connections(POOL)
        .acquire_timeout(Duration::from_secs(10));
    Identity::connect_with(url, &options).await.unwrap()
}

/// The library's connections to the current database.
async fn pooled(admin: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'identity'",
    )
    .fetch_one(admin)
    .await
    .unwrap()
}

/// Opens every connection the pool may hold: concurrent calls until all `POOL` exist. The calls
/// are spread over as many tenants as the pool has connections: one tenant's concurrent calls
/// share a few connections (its reads and writes go in batches).
async fn warm(identity: &Identity, admin: &PgPool, round: &str) {
    for wave in 0..50 {
        let calls = (0..3 * POOL).map(|i| {
            let tenant = TenantId::parse(&format!("warm{}", i % POOL)).unwrap();
            let identity = identity.for_tenant(tenant);
            let email = format!("warm{wave}.{i}.{round}@x.io");
            async move { identity.identify(Some(&email), None).await.unwrap() }
        });
        let _ = futures_join_all(calls).await;
        if pooled(admin).await == i64::from(POOL) {
            return;
        }
    }
    panic!("the pool never held {POOL} connections");
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    calls: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = calls.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// Every kind of call, one after another, each of which must succeed on a pool whose
/// connections may all be dead: more sequential calls than the pool has connections.
async fn every_call_succeeds(identity: &Identity, round: &str) {
    identity
        .ping()
        .await
        .expect("ping after the server ended the sessions");
    for i in 0..(POOL + 2) {
        let email = format!("after{i}.{round}@x.io");
        let phone = format!("55{i}");
        identity
            .identify(Some(&email), Some(&phone))
            .await
            .unwrap_or_else(|e| panic!("identify {i} after the sessions ended: {}", e.chain()));
    }
    let merged = identity
        .identify(Some(&format!("after0.{round}@x.io")), Some("551"))
        .await
        .expect("a merge");
    identity
        .history(merged.primary_contact_id)
        .await
        .expect("history");
    identity.all_contacts().await.expect("all contacts");
    identity
        .lookup(Some(&format!("after2.{round}@x.io")), None)
        .await
        .expect("lookup");
    identity.verify().await.expect("verify");
}

async fn assert_sound(identity: &Identity, admin: &PgPool) {
    common::assert_sql_invariants(admin).await;
    common::assert_verified(identity).await;
    common::assert_invariants(&identity.all_contacts().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_fails_no_call_once_the_server_is_back() {
    let cluster = PrivateCluster::start();
    let identity = open(&cluster.url()).await;
    for mode in ["fast", "immediate"] {
        let admin = PgPool::connect(&cluster.url()).await.unwrap();
        warm(&identity, &admin, mode).await;
        admin.close().await;
        cluster.restart(mode);
        every_call_succeeds(&identity, mode).await;
    }
    let admin = PgPool::connect(&cluster.url()).await.unwrap();
    assert_sound(&identity, &admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_idle_sessions_fail_no_call() {
    let db = common::TestDb::create().await;
    let admin = db.pool().await;
    let identity = open(db.url()).await;
    warm(&identity, &admin, "terminate").await;
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'identity'",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(ended, i64::from(POOL));
    common::wait_until("the sessions to end", Duration::from_secs(10), async || {
        pooled(&admin).await == 0
    })
    .await;
    every_call_succeeds(&identity, "terminate").await;
    assert_sound(&identity, &admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_ended_by_idle_session_timeout_fail_no_call() {
    let db = common::TestDb::create().await;
    db.set_on(&common::admin_url(), "idle_session_timeout = '300ms'")
        .await;
    // the admin pool's own sessions time out too: a fresh one for each check
    let identity = open(db.url()).await;
    let admin = db.pool().await;
    warm(&identity, &admin, "idle").await;
    admin.close().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let admin = db.pool().await;
    assert_eq!(
        pooled(&admin).await,
        0,
        "the server ended the idle sessions"
    );
    admin.close().await;
    every_call_succeeds(&identity, "idle").await;
    let admin = db.pool().await;
    assert_sound(&identity, &admin).await;
}
