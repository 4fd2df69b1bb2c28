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
