//! [`PgStore`]: the production store on PostgreSQL. The only file that knows Postgres SQL.
//!
//! Concurrency protocol of `identify` (read committed isolation):
//! Transactions run at read committed isolation whatever the server's default.
//! 1. Read the touched customers in one statement, outside any transaction. If the request is
//!    already fully known, answer: one round trip, no locks.
//! 2. Otherwise, in a transaction: take transaction-scoped advisory locks on the request's
//!    identifiers (sorted by key), then `FOR NO KEY UPDATE` row locks on the primaries of the
//!    customers read in step 1 (sorted by id). Advisory locks are always taken before row locks
//!    and each kind in ascending order. The one way left to deadlock needs a stale lock set (a
//!    locked row stopped being a primary and another writer relinks it); PostgreSQL detects
//!    that within `deadlock_timeout` and the loser retries.
//! 3. Re-read under the locks. If a customer appeared that is not locked (its primary changed
//!    between step 1 and the locks), roll back and go to 2 with the new primaries.
//! 4. Reconcile the re-read rows, write (one statement), commit.
//!
//! The identifier locks serialize every request that could create or join an email/phone (no
//! rows exist yet to lock); the primary locks serialize every request that changes a customer.
//! Serialization failures and deadlocks reported by the server (40001, 40P01) are retried.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, Postgres};

use crate::contact::{Contact, ContactId};
use crate::error::{Error, Result};
use crate::reconcile::{Plan, Writes, reconcile, touched_roots};
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::store::{ContactRow, ContactStore, MAX_ATTEMPTS, backoff, decode_rows, migrate_error};

/// Every visible row of every customer with a row matching `$1` (email) or `$2` (phone).
const SELECT_CUSTOMERS: &str = "\
WITH matched AS (
    SELECT DISTINCT coalesce(linked_id, id) AS root
    FROM contact
    WHERE deleted_at IS NULL AND (email = $1 OR phone_number = $2)
)
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at
FROM contact
WHERE deleted_at IS NULL
  AND (id IN (SELECT root FROM matched) OR linked_id IN (SELECT root FROM matched))
ORDER BY id";

/// Transaction-scoped advisory locks on the identifiers `$1`, in ascending key order.
const LOCK_IDENTIFIERS: &str = "\
SELECT pg_advisory_xact_lock(k)
FROM (SELECT DISTINCT hashtextextended(v, 0) AS k FROM unnest($1::text[]) AS t(v) ORDER BY 1) AS keys";

/// Row locks on the customers' primaries `$1`, in ascending id order.
const LOCK_PRIMARIES: &str = "\
SELECT id FROM contact WHERE id = ANY($1::int8[]) ORDER BY id FOR NO KEY UPDATE";

/// The writes of one identify in one statement: relink `$6` to primary `$5`, then insert the row
/// (`$1` email, `$2` phone, `$3` linked id, `$4` precedence, stamped no earlier than `$7`) when
/// `$4` is not null. A
/// data-modifying CTE always runs to completion, whether or not the insert happens.
const APPLY_WRITES: &str = "\
WITH merged AS (
    UPDATE contact
    SET linked_id = CASE WHEN id = $5::int8 THEN NULL ELSE $5::int8 END,
        link_precedence = CASE WHEN id = $5::int8 THEN 'primary' ELSE 'secondary' END,
        updated_at = clock_timestamp()
    WHERE id = ANY($6::int8[]) AND deleted_at IS NULL
)
INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
SELECT $1::text, $2::text, $3::int8, $4::text, now, now
FROM (SELECT greatest(clock_timestamp(), $7::timestamptz) AS now) AS stamp
WHERE $4::text IS NOT NULL
RETURNING id";

const SELECT_ALL: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at
FROM contact WHERE deleted_at IS NULL ORDER BY id";

/// Pool settings for [`PgStore::connect_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgOptions {
    /// Most connections the pool opens (default 10).
    pub max_connections: u32,
    /// How long a call waits for a free connection before [`Error::Unavailable`] (default 5 s).
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL store. Cheap to clone (it is a pool handle).
///
/// ```no_run
/// # async fn run() -> identity::Result<()> {
/// use identity::{ContactStore, PgStore};
/// let store = PgStore::connect("postgres://postgres@127.0.0.1:5432/shop").await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

enum Attempt {
    Done(ConsolidatedContact),
    /// The customers changed before the locks were taken: these are the primaries to lock now.
    Stale(Vec<i64>),
    /// The server aborted the transaction to resolve a conflict; try again.
    Conflict,
}

impl PgStore {
    /// Connects with default [`PgOptions`]. Does not migrate: call [`ContactStore::migrate`]
    /// (or use [`crate::connect`], which does).
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a malformed URL, [`Error::Unavailable`] when the server cannot be
    /// reached, [`Error::Store`] when it refuses the connection.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &PgOptions::default()).await
    }

    /// Connects with the given pool settings.
    ///
    /// # Errors
    /// As [`PgStore::connect`].
    pub async fn connect_with(url: &str, options: &PgOptions) -> Result<Self> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|_| Error::InvalidUrl {
                reason: "malformed postgres url".into(),
            })?
            .application_name("identity");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| Error::store("connecting to postgres", e))?;
        Ok(PgStore { pool })
    }

    /// Wraps an existing pool.
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        PgStore { pool }
    }

    /// The underlying pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn read_customers<'e, E>(
        executor: E,
        request: &IdentifyRequest,
    ) -> sqlx::Result<Vec<ContactRow>>
    where
        E: Executor<'e, Database = Postgres>,
    {
        sqlx::query_as(SELECT_CUSTOMERS)
            .bind(request.email().map(|e| e.as_str()))
            .bind(request.phone_number().map(|p| p.as_str()))
            .fetch_all(executor)
            .await
    }

    async fn try_write(&self, request: &IdentifyRequest, primaries: &[i64]) -> Result<Attempt> {
        match self.write_locked(request, primaries).await {
            Err(Failure::Sql(e)) if is_conflict(&e) => Ok(Attempt::Conflict),
            Err(Failure::Sql(e)) => Err(Error::store("identifying a contact", e)),
            Err(Failure::Domain(e)) => Err(e),
            Ok(attempt) => Ok(attempt),
        }
    }

    async fn write_locked(
        &self,
        request: &IdentifyRequest,
        primaries: &[i64],
    ) -> Result<Attempt, Failure> {
        // The protocol relies on each statement seeing everything committed before it started.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await?;
        let keys = lock_keys(request);
        tx.execute(sqlx::query(LOCK_IDENTIFIERS).bind(&keys))
            .await?;
        if !primaries.is_empty() {
            tx.execute(sqlx::query(LOCK_PRIMARIES).bind(primaries))
                .await?;
        }
        let rows = decode_rows(Self::read_customers(&mut *tx, request).await?)?;
        let locked: BTreeSet<i64> = primaries.iter().copied().collect();
        let now = roots(request, &rows);
        if !now.iter().all(|root| locked.contains(root)) {
            tx.rollback().await?;
            return Ok(Attempt::Stale(now));
        }
        let answer = match reconcile(request, &rows) {
            Plan::Unchanged(answer) => answer,
            Plan::Write(writes) => {
                let inserted = apply(&mut tx, &writes).await?;
                writes.answer(inserted).ok_or(Error::Internal {
                    reason: "a new customer was planned but no row was inserted",
                })?
            }
        };
        tx.commit().await?;
        Ok(Attempt::Done(answer))
    }
}

/// Runs the planned writes; returns the inserted row's id.
async fn apply(tx: &mut sqlx::PgConnection, writes: &Writes) -> sqlx::Result<Option<ContactId>> {
    let (primary, relink) = match &writes.merge {
        Some(m) => (
            Some(m.primary.0),
            m.updated_ids().iter().map(|id| id.0).collect(),
        ),
        None => (None, Vec::new()),
    };
    let insert = writes.insert.as_ref();
    let id: Option<i64> = sqlx::query_scalar(APPLY_WRITES)
        .bind(insert.and_then(|n| n.email.as_ref()).map(|e| e.as_str()))
        .bind(
            insert
                .and_then(|n| n.phone_number.as_ref())
                .map(|p| p.as_str()),
        )
        .bind(insert.and_then(|n| n.linked_id).map(|id| id.0))
        .bind(insert.map(|n| n.link_precedence.as_str()))
        .bind(primary)
        .bind(relink)
        .bind(insert.and_then(|n| n.not_before))
        .fetch_optional(tx)
        .await?;
    Ok(id.map(ContactId))
}

/// The advisory-lock names of the request's identifiers.
fn lock_keys(request: &IdentifyRequest) -> Vec<String> {
    let email = request.email().map(|e| format!("identity:email:{e}"));
    let phone = request
        .phone_number()
        .map(|p| format!("identity:phone:{p}"));
    email.into_iter().chain(phone).collect()
}

fn roots(request: &IdentifyRequest, rows: &[Contact]) -> Vec<i64> {
    touched_roots(request, rows)
        .into_iter()
        .map(|id| id.0)
        .collect()
}

/// Serialization failure or deadlock detected: the transaction was rolled back and may be retried.
fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "40P01")))
}

/// An error inside the locked transaction: from the driver (maybe retryable) or from the domain.
enum Failure {
    Sql(sqlx::Error),
    Domain(Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Domain(e)
    }
}

#[async_trait]
impl ContactStore for PgStore {
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(migrate_error)
    }

    async fn identify(&self, request: &IdentifyRequest) -> Result<ConsolidatedContact> {
        let rows = Self::read_customers(&self.pool, request)
            .await
            .map_err(|e| Error::store("reading contacts", e))?;
        let rows = decode_rows(rows)?;
        if let Plan::Unchanged(answer) = reconcile(request, &rows) {
            return Ok(answer);
        }
        let mut primaries = roots(request, &rows);
        for attempt in 1..=MAX_ATTEMPTS {
            match self.try_write(request, &primaries).await? {
                Attempt::Done(answer) => return Ok(answer),
                Attempt::Stale(now) => {
                    primaries = now;
                    if attempt > 1 {
                        backoff(attempt).await;
                    }
                }
                Attempt::Conflict => backoff(attempt).await,
            }
        }
        Err(Error::Contention {
            attempts: MAX_ATTEMPTS,
        })
    }

    async fn lookup(&self, request: &IdentifyRequest) -> Result<Option<ConsolidatedContact>> {
        let rows = Self::read_customers(&self.pool, request)
            .await
            .map_err(|e| Error::store("reading contacts", e))?;
        Ok(reconcile(request, &decode_rows(rows)?).preview())
    }

    async fn all_contacts(&self) -> Result<Vec<Contact>> {
        let rows = sqlx::query_as(SELECT_ALL)
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
        "postgres"
    }
}
