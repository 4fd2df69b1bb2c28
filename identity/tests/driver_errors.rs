//! A database that cannot be used is reported once, in plain words, with its stable code: a
//! closed port as refused at its address (not as a pool that timed out), a missing database with
//! the command that creates it, never the driver's own wording twice.

use identity_testkit as common;

use std::time::Duration;

use identity::{ConnectOptions, Error, Identity, StorageRefusal};

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_closed_port_is_refused_at_its_address() {
    let port = closed_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/shop");
    // a long acquire timeout: the answer must not be the pool's timeout
    let options = ConnectOptions::default().acquire_timeout(Duration::from_secs(60));
    let err = Identity::connect_with(&url, &options).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert_eq!(err.code(), "unavailable");
    assert!(err.is_transient());
    assert_eq!(
        err.chain(),
        format!(
            "database unavailable while connecting to postgres: connection refused at \
             127.0.0.1:{port} (is the server running?)"
        )
    );
}

#[tokio::test]
async fn a_missing_database_says_how_to_create_it() {
    let url = common::with_database(&common::admin_url(), "identity_no_such_db");
    let err = identity::connect(&url).await.unwrap_err();
    assert_eq!(err.code(), "store");
    assert!(!err.is_transient());
    assert_eq!(
        err.chain(),
        "database error while connecting to postgres: database \"identity_no_such_db\" does not \
         exist: create it with createdb identity_no_such_db"
    );
    let source = std::error::Error::source(&err).unwrap();
    assert!(
        source.source().is_some(),
        "the driver's error stays the source"
    );
}

#[test]
fn every_kind_has_its_stable_code() {
    let codes = [
        (identity::Email::parse("x").unwrap_err(), "invalid_input"),
        (Error::Closed, "closed"),
        (Error::Contention { attempts: 3 }, "contention"),
        (Error::CorruptGraph { reason: "x".into() }, "corrupt_data"),
        (Error::Internal { reason: "x" }, "internal"),
    ];
    for (err, code) in codes {
        assert_eq!(err.code(), code, "{err}");
    }
}

/// `setting` on the database for new sessions, and every open session of it ended, so the
/// handle's next call runs on a fresh connection that has it. On Citus on every node: the
/// coordinator sends each call to its tenant's worker, over connections of its own.
async fn set_for_new_sessions(db: &common::TestDb, setting: &str) {
    let admin_url = common::admin_url();
    let mut nodes = vec![admin_url.clone()];
    for worker in common::citus_workers().unwrap_or_default() {
        nodes.push(common::at_host(&admin_url, &worker));
    }
    let name = db.name().to_owned();
    for node in nodes {
        let admin = sqlx::PgPool::connect(&node).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} SET {setting}"
        )))
        .execute(&admin)
        .await
        .unwrap();
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&name)
        .execute(&admin)
        .await
        .unwrap();
        admin.close().await;
    }
}

#[tokio::test]
async fn a_read_only_database_is_unavailable_for_writes_and_says_so() {
    let db = common::TestDb::create().await;
    let ident = identity::connect(db.url()).await.unwrap();
    ident.identify(Some("doc@x.io"), None).await.unwrap();
    set_for_new_sessions(&db, "default_transaction_read_only = on").await;
    let err = ident.identify(Some("new@x.io"), None).await.unwrap_err();
    assert_eq!(err.code(), "unavailable", "{err:?}");
    assert!(err.is_transient());
    assert!(
        err.chain().contains("the database is read-only for now"),
        "{}",
        err.chain()
    );
    // reads still work, and nothing was written
    let known = ident.lookup(Some("doc@x.io"), None).await.unwrap();
    assert!(known.is_some());
    assert!(
        ident
            .lookup(Some("new@x.io"), None)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_statement_timeout_is_unavailable_and_says_so() {
    let db = common::TestDb::create().await;
    let ident = identity::connect(db.url()).await.unwrap();
    set_for_new_sessions(&db, "statement_timeout = 200").await;
    // a write that waits on the graph lock outlasts the 200 ms statement_timeout
    let pool = db.pool().await;
    let lock = common::GraphLock::take(&pool).await;
    let err = ident.identify(Some("doc@x.io"), None).await.unwrap_err();
    lock.release().await;
    assert_eq!(err.code(), "unavailable", "{err:?}");
    assert!(
        err.chain().contains("statement_timeout ended it"),
        "{}",
        err.chain()
    );
    assert!(
        ident
            .lookup(Some("doc@x.io"), None)
            .await
            .unwrap()
            .is_none()
    );
}

/// New customers written one by one, each on its own row: with 8 pooled connections, 40 of
/// them go through every connection of a SQLite store.
async fn write_new_customers(ident: &Identity, prefix: &str) {
    for n in 0..40 {
        let email = format!("{prefix}{n}@x.io");
        if let Err(e) = ident.identify(Some(&email), None).await {
            panic!("write {n} after the storage recovered: {}", e.chain());
        }
    }
}

#[tokio::test]
async fn sqlite_full_is_unavailable_and_the_next_write_works_once_space_returns() {
    let (_dir, store, ident) = common::sqlite::file_store().await;
    ident.identify(Some("doc@x.io"), None).await.unwrap();
    common::sqlite::fill_up(&store).await;
    let err = common::sqlite::write_until_refused(&ident).await;
    assert_eq!(err.code(), "unavailable", "{}", err.chain());
    assert!(err.is_transient());
    assert_eq!(err.storage_refusal(), Some(StorageRefusal::Full));
    assert!(
        err.chain()
            .contains("the disk holding the database is full"),
        "{}",
        err.chain()
    );
    // reads go on while the disk is full
    assert!(
        ident
            .lookup(Some("doc@x.io"), None)
            .await
            .unwrap()
            .is_some()
    );
    common::sqlite::free_space(&store).await;
    // a failed write leaves no connection inside the transaction SQLite rolled back
    write_new_customers(&ident, "after-full").await;
    common::assert_verified(&ident).await;
}

#[tokio::test]
async fn sqlite_read_only_is_unavailable_and_writes_work_again_when_writable() {
    let (_dir, store, ident) = common::sqlite::file_store().await;
    ident.identify(Some("doc@x.io"), None).await.unwrap();
    common::sqlite::on_every_connection(&store, "query_only = 1").await;
    let err = ident.identify(Some("new@x.io"), None).await.unwrap_err();
    assert_eq!(err.code(), "unavailable", "{}", err.chain());
    assert_eq!(err.storage_refusal(), Some(StorageRefusal::ReadOnly));
    assert!(
        err.chain().contains("the database file cannot be written"),
        "{}",
        err.chain()
    );
    assert!(
        ident
            .lookup(Some("new@x.io"), None)
            .await
            .unwrap()
            .is_none()
    );
    common::sqlite::on_every_connection(&store, "query_only = 0").await;
    write_new_customers(&ident, "after-read-only").await;
    common::assert_verified(&ident).await;
}

#[tokio::test]
async fn ping_reports_sqlite_full_until_a_probe_write_commits() {
    let (_dir, store, ident) = common::sqlite::file_store().await;
    ident.ping().await.unwrap();
    common::sqlite::fill_up(&store).await;
    let refused = common::sqlite::write_until_refused(&ident).await;
    assert_eq!(refused.storage_refusal(), Some(StorageRefusal::Full));
    // the database still answers SELECT 1; writes do not: every handle on the store says so
    for handle in [ident.clone(), ident.tenant("shop-b").unwrap()] {
        // a refused write (the last identify, the previous handle's probe) leaves its connection
        // to be replaced by a new one, which the cap does not reach: cap every connection again,
        // as a disk that is still full would
        common::sqlite::fill_up(&store).await;
        let err = handle.ping().await.unwrap_err();
        assert_eq!(err.code(), "unavailable", "{}", err.chain());
        assert_eq!(err.storage_refusal(), Some(StorageRefusal::Full));
    }
    common::sqlite::free_space(&store).await;
    ident.ping().await.unwrap();
    ident.identify(Some("after@x.io"), None).await.unwrap();
    ident.ping().await.unwrap();
}

#[tokio::test]
async fn ping_reports_a_read_only_postgres_until_it_takes_writes() {
    let db = common::TestDb::create().await;
    let ident = identity::connect(db.url()).await.unwrap();
    set_for_new_sessions(&db, "default_transaction_read_only = on").await;
    let err = ident.identify(Some("new@x.io"), None).await.unwrap_err();
    assert_eq!(err.storage_refusal(), Some(StorageRefusal::ReadOnly));
    let err = ident.ping().await.unwrap_err();
    assert_eq!(
        err.storage_refusal(),
        Some(StorageRefusal::ReadOnly),
        "{}",
        err.chain()
    );
    set_for_new_sessions(&db, "default_transaction_read_only = off").await;
    ident.ping().await.unwrap();
    ident.identify(Some("new@x.io"), None).await.unwrap();
}
