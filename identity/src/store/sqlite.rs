//! [`SqliteStore`]: the embedded default (bundled SQLite). The only file that knows SQLite SQL.
//!
//! Concurrency: a request that is already fully known is answered from one read outside any
//! transaction. Every write runs in a `BEGIN IMMEDIATE` transaction, which SQLite grants to one
//! connection at a time (across processes too): the transaction re-reads under that lock,
//! reconciles, writes and commits, so writers are serialized. WAL mode lets reads go on meanwhile.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Executor, Sqlite};
use time::OffsetDateTime;

use crate::contact::{Contact, ContactId};
use crate::error::{Error, Result};
use crate::reconcile::{Plan, Writes, reconcile};
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::store::{ContactRow, ContactStore, MAX_ATTEMPTS, backoff, decode_rows, migrate_error};

/// Every visible row of every customer with a row matching `?1` (email) or `?2` (phone).
/// Each step is an index search: SQLite does not use the partial indexes for an `OR` of the
/// two matches, and an `OR` of the two joins would scan the table.
const SELECT_CUSTOMERS: &str = "\
WITH matched AS (
    SELECT coalesce(linked_id, id) AS root FROM contact WHERE email = ?1 AND deleted_at IS NULL
    UNION
    SELECT coalesce(linked_id, id) FROM contact WHERE phone_number = ?2 AND deleted_at IS NULL
)
SELECT c.id, c.email, c.phone_number, c.linked_id, c.link_precedence, c.created_at, c.updated_at
FROM matched JOIN contact AS c ON c.id = matched.root WHERE c.deleted_at IS NULL
UNION ALL
SELECT c.id, c.email, c.phone_number, c.linked_id, c.link_precedence, c.created_at, c.updated_at
FROM matched JOIN contact AS c ON c.linked_id = matched.root WHERE c.deleted_at IS NULL
ORDER BY 1";

/// Relinks the rows in the JSON array `?2` to primary `?1` (and makes `?1` itself primary).
const RELINK: &str = "\
UPDATE contact
SET linked_id = CASE WHEN id = ?1 THEN NULL ELSE ?1 END,
    link_precedence = CASE WHEN id = ?1 THEN 'primary' ELSE 'secondary' END,
    updated_at = ?3
WHERE id IN (SELECT value FROM json_each(?2)) AND deleted_at IS NULL";

const INSERT: &str = "\
INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?5)
RETURNING id";

const SELECT_ALL: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at
FROM contact WHERE deleted_at IS NULL ORDER BY id";

/// The SQLite store. Cheap to clone (it is a pool handle).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use identity::{ContactStore, IdentifyRequest, SqliteStore};
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// store.migrate().await?;
/// let req = IdentifyRequest::parse(None, Some("+1 555 0100"))?;
/// assert_eq!(store.identify(&req).await?.phone_numbers[0].as_str(), "+15550100");
/// # Ok::<(), identity::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Writers of this process queue here instead of in SQLite's busy handler, which polls
    /// with sleeps of up to 100 ms; other processes still meet at `BEGIN IMMEDIATE`.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL: `sqlite:shop.db`,
    /// `sqlite:///var/lib/shop.db` or `sqlite::memory:`. Does not migrate.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a malformed URL, [`Error::Store`] when the file cannot be opened.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(|_| Error::InvalidUrl {
            reason: "malformed sqlite url".into(),
        })?;
        Self::open(options, is_in_memory_url(url)).await
    }

    /// Opens (creating if missing) the database file at `path`. Does not migrate.
    ///
    /// # Errors
    /// [`Error::Store`] when the file cannot be opened.
    pub async fn open_path(path: impl AsRef<Path>) -> Result<Self> {
        Self::open(SqliteConnectOptions::new().filename(path), false).await
    }

    async fn open(options: SqliteConnectOptions, in_memory: bool) -> Result<Self> {
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal);
        // An in-memory database lives as long as one of its connections: keep exactly one open.
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(8)
        };
        let pool_options = pool_options.acquire_timeout(Duration::from_secs(30));
        // Switching a fresh file to WAL needs an exclusive lock and does not wait for it: when
        // several processes open the same new file at once, the losers get SQLITE_BUSY. Retry.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match pool_options.clone().connect_with(options.clone()).await {
                Ok(pool) => {
                    return Ok(SqliteStore {
                        pool,
                        writer: std::sync::Arc::default(),
                    });
                }
                Err(e) if is_busy(&e) && attempt < 10 => backoff(attempt + 3).await,
                Err(e) => return Err(Error::store("opening the sqlite database", e)),
            }
        }
    }

    /// The underlying pool.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn read_customers<'e, E>(executor: E, request: &IdentifyRequest) -> Result<Vec<Contact>>
    where
        E: Executor<'e, Database = Sqlite>,
    {
        let rows: Vec<ContactRow> = sqlx::query_as(SELECT_CUSTOMERS)
            .bind(request.email().map(|e| e.as_str()))
            .bind(request.phone_number().map(|p| p.as_str()))
            .fetch_all(executor)
            .await
            .map_err(|e| Error::store("reading contacts", e))?;
        decode_rows(rows)
    }

    /// One write attempt under `BEGIN IMMEDIATE`; `Ok(None)` when the database stayed busy.
    async fn write_serialized(
        &self,
        request: &IdentifyRequest,
    ) -> Result<Option<ConsolidatedContact>> {
        let _queue = self.writer.lock().await;
        let mut tx = match self.pool.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            Err(e) if is_busy(&e) => return Ok(None),
            Err(e) => return Err(Error::store("starting a write", e)),
        };
        let rows = Self::read_customers(&mut *tx, request).await?;
        let answer = match reconcile(request, &rows) {
            Plan::Unchanged(answer) => answer,
            Plan::Write(writes) => {
                let inserted = apply(&mut tx, &writes)
                    .await
                    .map_err(|e| Error::store("writing contacts", e))?;
                writes.answer(inserted).ok_or(Error::Internal {
                    reason: "a new customer was planned but no row was inserted",
                })?
            }
        };
        match tx.commit().await {
            Ok(()) => Ok(Some(answer)),
            Err(e) if is_busy(&e) => Ok(None),
            Err(e) => Err(Error::store("committing a write", e)),
        }
    }
}

/// Whether a `sqlite:` URL names an in-memory database (`:memory:` or `mode=memory`), which
/// lives only as long as its connections and so gets exactly one, kept open.
fn is_in_memory_url(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|kv| kv == "mode=memory")
}

/// Runs the planned writes; returns the inserted row's id.
async fn apply(
    tx: &mut sqlx::SqliteConnection,
    writes: &Writes,
) -> sqlx::Result<Option<ContactId>> {
    let now = OffsetDateTime::now_utc();
    if let Some(merge) = &writes.merge {
        let ids: Vec<i64> = merge.updated_ids().iter().map(|id| id.0).collect();
        let ids = serde_json::to_string(&ids).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(RELINK)
            .bind(merge.primary.0)
            .bind(ids)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    let Some(new) = &writes.insert else {
        return Ok(None);
    };
    let id: i64 = sqlx::query_scalar(INSERT)
        .bind(new.email.as_ref().map(|e| e.as_str()))
        .bind(new.phone_number.as_ref().map(|p| p.as_str()))
        .bind(new.linked_id.map(|id| id.0))
        .bind(new.link_precedence.as_str())
        .bind(new.not_before.map_or(now, |t| t.max(now)))
        .fetch_one(&mut *tx)
        .await?;
    Ok(Some(ContactId(id)))
}

/// SQLITE_BUSY / SQLITE_LOCKED (any extended code): another connection holds the write lock.
fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6)))
}

#[async_trait]
impl ContactStore for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        // sqlx cannot lock migrations on SQLite: when several processes start on a fresh file
        // at once, the losers fail to record a migration the winner applied. The DDL is
        // idempotent, so trying again (and then finding it recorded) is safe.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match sqlx::migrate!("./migrations/sqlite").run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(_) if attempt < 5 => backoff(attempt + 4).await,
                Err(e) => return Err(migrate_error(e)),
            }
        }
    }

    async fn identify(&self, request: &IdentifyRequest) -> Result<ConsolidatedContact> {
        if let Plan::Unchanged(answer) =
            reconcile(request, &Self::read_customers(&self.pool, request).await?)
        {
            return Ok(answer);
        }
        for attempt in 1..=MAX_ATTEMPTS {
            if let Some(answer) = self.write_serialized(request).await? {
                return Ok(answer);
            }
            backoff(attempt).await;
        }
        Err(Error::Contention {
            attempts: MAX_ATTEMPTS,
        })
    }

    async fn lookup(&self, request: &IdentifyRequest) -> Result<Option<ConsolidatedContact>> {
        Ok(reconcile(request, &Self::read_customers(&self.pool, request).await?).preview())
    }

    async fn all_contacts(&self) -> Result<Vec<Contact>> {
        let rows: Vec<ContactRow> = sqlx::query_as(SELECT_ALL)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| Error::store("reading contacts", e))?;
        decode_rows(rows)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| Error::store("checking the database", e))
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    use super::is_in_memory_url;

    #[test]
    fn in_memory_urls_are_recognized() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite:x?mode=memory&cache=private",
        ] {
            assert!(is_in_memory_url(url), "{url}");
        }
        for url in [
            "sqlite:shop.db",
            "sqlite:///tmp/memory.db",
            "sqlite:x?mode=rwc",
        ] {
            assert!(!is_in_memory_url(url), "{url}");
        }
    }
}
