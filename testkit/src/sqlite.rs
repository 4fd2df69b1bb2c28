//! SQLite storage that refuses writes, without a real full disk: per-connection pragmas
//! (`max_page_count` caps the file's size, `query_only` makes it read-only) applied to every
//! connection of a store (its writer's and its pool's).

use std::sync::Arc;

use identity::{ContactStore, Identity, SqliteStore};

/// `max_page_count` when nothing caps the file (SQLite's own default).
pub const UNCAPPED: i64 = 1_073_741_823;

/// A migrated SQLite store on a file in a fresh directory, and a handle on it; the directory
/// goes when the first element is dropped.
pub async fn file_store() -> (tempfile::TempDir, Arc<SqliteStore>, Identity) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open_path(dir.path().join("identity.db"))
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    let identity = Identity::from_store(Arc::clone(&store));
    (dir, store, identity)
}

/// Runs `PRAGMA <pragma>` (such as `query_only = 1`) on every connection of `store` that can
/// write or run a lookup: its writer's and all its pool's (taken at once, the missing ones
/// opened), so none is left without it. The connections the store keeps for identify's reads
/// between calls are out of the pool: they only ever read.
pub async fn on_every_connection(store: &SqliteStore, pragma: &str) {
    let statement = format!("PRAGMA {pragma}");
    store.on_writer_connection(&statement).await.unwrap();
    let pool = store.pool();
    let mut held = Vec::new();
    while let Some(conn) = pool.try_acquire() {
        held.push(conn);
    }
    while pool.size() < pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    for conn in &mut held {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut **conn)
            .await
            .unwrap();
    }
}

/// Caps the database file at its current size (`max_page_count`) on every connection: the
/// next write that needs a new page fails as on a full disk (`SQLITE_FULL`).
pub async fn fill_up(store: &SqliteStore) {
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(store.pool())
        .await
        .unwrap();
    on_every_connection(store, &format!("max_page_count = {pages}")).await;
}

/// Lifts the cap of [`fill_up`]: space has returned.
pub async fn free_space(store: &SqliteStore) {
    on_every_connection(store, &format!("max_page_count = {UNCAPPED}")).await;
}

/// Identifies new customers until a write fails; the error.
pub async fn write_until_refused(identity: &Identity) -> identity::Error {
    for n in 0..10_000 {
        let email = format!("filler{n}@storage.test");
        if let Err(e) = identity.identify(Some(&email), None).await {
            return e;
        }
    }
    panic!("10000 writes went through a capped database");
}
