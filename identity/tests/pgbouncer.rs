//! Through PgBouncer in transaction mode, which lends a client a server connection for one
//! transaction at a time: with `?pgbouncer=true` the library uses nothing that needs a session
//! (named prepared statements, startup settings, the migrations' session lock), so processes
//! start together and work; without it the pooler's refusal says what to add. The storm and the
//! vectors through a pooler are in `erase.rs` and `vectors.rs`.

use identity_testkit as common;

use common::TestDb;
use common::pooler::PgBouncer;

/// The migrations this build holds.
fn migrations() -> i64 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
    let files = std::fs::read_dir(dir).expect("the migrations").count();
    i64::try_from(files).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_starting_at_once_through_the_pooler_migrate_once_and_all_serve() {
    let db = TestDb::create().await;
    let pooler = PgBouncer::start(&common::admin_url(), 4);
    let url = pooler.url_for(db.url());
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { identity::connect(&url).await })
        })
        .collect();
    let mut handles = Vec::new();
    for start in starts {
        handles.push(start.await.unwrap().expect("every process starts"));
    }
    let mut primaries = Vec::new();
    for (n, identity) in handles.iter().enumerate() {
        let answer = identity
            .identify(Some("doc@x.io"), Some(&format!("555{n}")))
            .await
            .unwrap();
        primaries.push(answer.primary_contact_id);
    }
    assert!(
        primaries.iter().all(|p| *p == primaries[0]),
        "one customer for all: {primaries:?}"
    );
    let pool = db.pool().await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(applied, migrations(), "each migration applied once");
    common::assert_sql_invariants(&pool).await;
    common::assert_verified(&handles[0]).await;
    for identity in handles {
        identity.close().await;
    }
}

#[tokio::test]
async fn without_the_flag_the_poolers_refusal_says_to_add_it() {
    let db = TestDb::create().await;
    let pooler = PgBouncer::start(&common::admin_url(), 2);
    let plain = pooler.url_for(db.url()).replace("?pgbouncer=true", "");
    let err = identity::connect(&plain).await.unwrap_err().chain();
    assert!(
        err.contains("unsupported startup parameter") && err.contains("add pgbouncer=true"),
        "{err}"
    );
    let err = identity::connect(&format!("{plain}?pgbouncer=maybe"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(
        err.to_string().contains("pgbouncer must be true or false"),
        "{err}"
    );
}

/// A known checkout is read by the query inlined into a prepared statement on a direct
/// connection, and by the PL/pgSQL `identity_read_known` through the pooler, which prepares
/// nothing (that function's plan is kept per server connection). PostgreSQL counts calls of
/// PL/pgSQL functions (`track_functions = 'pl'`): only the pooler's reads are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_checkouts_are_read_inlined_directly_and_by_the_function_through_the_pooler() {
    if common::citus_workers().is_some() {
        // on Citus both read with the function, on the tenant's worker: citus.rs counts them
        return;
    }
    let db = TestDb::create().await;
    db.set_on(&common::admin_url(), "track_functions = 'pl'")
        .await;
    // directly: a new customer, then two known checkouts, one at a time (each read alone)
    let direct = identity::connect(db.url()).await.unwrap();
    for _ in 0..3 {
        direct
            .identify(Some("ada@x.io"), Some("5550101"))
            .await
            .unwrap();
    }
    direct.close().await;
    // through the pooler: two known checkouts
    let pooler = PgBouncer::start(&common::admin_url(), 2);
    let pooled = identity::connect(&pooler.url_for(db.url())).await.unwrap();
    for _ in 0..2 {
        pooled
            .identify(Some("ada@x.io"), Some("5550101"))
            .await
            .unwrap();
    }
    pooled.close().await;
    drop(pooler); // its server connections end, and report their counts
    let pool = db.pool().await;
    let mut calls = 0;
    for _ in 0..100 {
        calls = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT sum(calls)::bigint FROM pg_stat_user_functions
             WHERE funcname = 'identity_read_known'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
        .unwrap_or(0);
        if calls >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(calls, 2, "the pooler's two reads, none of the direct ones");
}
