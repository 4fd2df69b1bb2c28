//! [`PgStore`]: the production store on PostgreSQL. The only Rust file that knows Postgres SQL;
//! its two SQL functions live in `migrations/postgres/*_identify_functions.sql`.
//!
//! `identify` in the fewest round trips:
//! 1. **Read** the touched customers (`identity_customers`) in one statement, outside any
//!    transaction. If the request is already fully known, answer: one round trip, no lock.
//! 2. **Plan** in Rust with the pure [`reconcile`] step.
//! 3. **Apply** with one call of `identity_apply`, its own transaction: it takes advisory locks
//!    on the request's identifiers (ascending key order), then `FOR NO KEY UPDATE` on the
//!    primaries read in step 1 (ascending id order), re-reads the customers and applies the plan
//!    only if they are still exactly the rows it was computed from. Otherwise nothing is
//!    written and the request starts again at step 1.
//!
//! So a write costs two round trips. When the customers changed between the read and the apply,
//! the next attempts take the locks first instead, in one transaction (`BEGIN`, lock and read
//! in one call, apply, `COMMIT`): a plan made under the locks cannot go stale, so many
//! concurrent writes to one hot customer still all make progress. The identifier locks serialize every request that could
//! create or join an email/phone (no rows exist yet to lock); the primary locks serialize every
//! request that changes a customer; the comparison under those locks makes a plan computed
//! from an earlier read as good as one computed now. Advisory locks always come before row
//! locks and each kind is taken in ascending order; the one deadlock left needs a stale lock set
//! (a locked row that stopped being a primary while another writer relinks it), which
//! PostgreSQL detects and the loser retries, as for any 40P01/40001.
//!
//! `identity_apply` needs read committed isolation (each of its statements must see what the
//! lock holders committed). [`PgStore::connect`] sets that for its connections whatever the
//! server default; with a pool from [`PgStore::from_pool`] whose sessions default to another
//! level, each write is wrapped in an explicit read committed transaction instead (two more
//! round trips).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, Postgres};
use time::OffsetDateTime;

use crate::contact::{Contact, ContactId};
use crate::error::{Error, Result};
use crate::reconcile::{Plan, Writes, reconcile, touched_roots};
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::store::{ContactRow, ContactStore, MAX_ATTEMPTS, backoff, decode_rows, migrate_error};

/// Every visible row of every customer with a row matching `$1` (email) or `$2` (phone).
const SELECT_CUSTOMERS: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at
FROM identity_customers($1, $2)";

/// Locks, checks and applies a plan in one transaction; see the migration for the contract.
const APPLY: &str = "SELECT identity_apply($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// Takes the request's locks (identifiers `$3`, primaries `$4`), then reads its customers.
const LOCK_CUSTOMERS: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at
FROM identity_lock_customers($1, $2, $3, $4)";

const SELECT_ALL: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at
FROM contact WHERE deleted_at IS NULL ORDER BY id";

/// The SQLSTATE `identity_apply` raises outside read committed isolation.
const NEEDS_READ_COMMITTED: &str = "IR001";

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
    /// Set once a session refused `identity_apply` for its isolation level: wrap writes.
    wrap_writes: Arc<AtomicBool>,
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
            .application_name("identity")
            // identity_apply needs a fresh snapshot per statement, whatever the server default
            .options([
                ("default_transaction_isolation", "read committed"),
                // the customers query re-planned on every call costs more than running it
                ("plan_cache_mode", "force_generic_plan"),
            ]);
        let pool = PgPoolOptions::new()
            // no ping before each query (a round trip on every request's path): a connection
            // that died meanwhile fails its query, and identify, being idempotent, retries
            .test_before_acquire(false)
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| Error::store("connecting to postgres", e))?;
        Ok(PgStore::from_pool(pool))
    }

    /// Wraps an existing pool.
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        PgStore {
            pool,
            wrap_writes: Arc::new(AtomicBool::new(false)),
        }
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

    /// One locked attempt: lock the request's identifiers and `primaries`, read the customers
    /// under those locks, plan and apply, commit. `Moved` when a customer's primary is not
    /// among `primaries` any more (nothing was written): these are the ones to lock.
    async fn identify_locked(
        &self,
        request: &IdentifyRequest,
        primaries: &[i64],
    ) -> Result<Locked, LockedError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await?;
        let rows: Vec<ContactRow> = sqlx::query_as(LOCK_CUSTOMERS)
            .bind(request.email().map(|e| e.as_str()))
            .bind(request.phone_number().map(|p| p.as_str()))
            .bind(lock_names(request))
            .bind(primaries)
            .fetch_all(&mut *tx)
            .await?;
        let rows = decode_rows(rows)?;
        let now = roots(request, &rows);
        if !now.iter().all(|root| primaries.contains(root)) {
            tx.rollback().await?;
            return Ok(Locked::Moved(now));
        }
        let answer = match reconcile(request, &rows) {
            Plan::Unchanged(answer) => answer,
            Plan::Write(writes) => match ApplyCall::new(request, &rows, &writes)
                .run(&mut *tx)
                .await?
            {
                Some(inserted) => answer(&writes, inserted)?,
                // cannot happen while we hold the locks; treat it as a moved customer
                None => {
                    tx.rollback().await?;
                    return Ok(Locked::Moved(now));
                }
            },
        };
        tx.commit().await?;
        Ok(Locked::Done(answer))
    }

    /// Step 3: one call of `identity_apply`. `Ok(None)` when the customers changed since
    /// `rows` were read (nothing was written).
    async fn apply(
        &self,
        request: &IdentifyRequest,
        rows: &[Contact],
        writes: &Writes,
    ) -> sqlx::Result<Option<Option<ContactId>>> {
        let call = ApplyCall::new(request, rows, writes);
        if !self.wrap_writes.load(Ordering::Relaxed) {
            match call.run(&self.pool).await {
                Err(sqlx::Error::Database(db))
                    if db.code().as_deref() == Some(NEEDS_READ_COMMITTED) =>
                {
                    self.wrap_writes.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await?;
        let outcome = call.run(&mut *tx).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// The outcome of [`PgStore::identify_locked`].
enum Locked {
    Done(ConsolidatedContact),
    Moved(Vec<i64>),
}

/// An error inside the locked attempt: from the driver (maybe retryable) or from the domain.
enum LockedError {
    Sql(sqlx::Error),
    Domain(Error),
}

impl From<sqlx::Error> for LockedError {
    fn from(e: sqlx::Error) -> Self {
        LockedError::Sql(e)
    }
}

impl From<Error> for LockedError {
    fn from(e: Error) -> Self {
        LockedError::Domain(e)
    }
}

/// The answer once `writes` are applied, `inserted` being the new row's id if any.
fn answer(writes: &Writes, inserted: Option<ContactId>) -> Result<ConsolidatedContact> {
    writes.answer(inserted).ok_or(Error::Internal {
        reason: "a new customer was planned but no row was inserted",
    })
}

/// The primaries of the customers the request touches, as ids.
fn roots(request: &IdentifyRequest, rows: &[Contact]) -> Vec<i64> {
    touched_roots(request, rows)
        .into_iter()
        .map(|id| id.0)
        .collect()
}

/// The arguments of one `identity_apply` call.
struct ApplyCall<'a> {
    email: Option<&'a str>,
    phone: Option<&'a str>,
    lock_names: Vec<String>,
    primaries: Vec<i64>,
    seen_ids: Vec<i64>,
    seen_links: Vec<i64>,
    merge_primary: Option<i64>,
    relink: Vec<i64>,
    new_linked: Option<i64>,
    new_precedence: Option<&'static str>,
    not_before: Option<OffsetDateTime>,
}

impl<'a> ApplyCall<'a> {
    fn new(request: &'a IdentifyRequest, rows: &[Contact], writes: &Writes) -> Self {
        let insert = writes.insert.as_ref();
        ApplyCall {
            email: request.email().map(|e| e.as_str()),
            phone: request.phone_number().map(|p| p.as_str()),
            lock_names: lock_names(request),
            primaries: touched_roots(request, rows)
                .into_iter()
                .map(|id| id.0)
                .collect(),
            seen_ids: rows.iter().map(|c| c.id.0).collect(),
            seen_links: rows
                .iter()
                .map(|c| c.linked_id.map_or(0, |l| l.0))
                .collect(),
            merge_primary: writes.merge.as_ref().map(|m| m.primary.0),
            relink: writes
                .merge
                .as_ref()
                .map(|m| m.updated_ids().iter().map(|id| id.0).collect())
                .unwrap_or_default(),
            new_linked: insert.and_then(|n| n.linked_id).map(|id| id.0),
            new_precedence: insert.map(|n| n.link_precedence.as_str()),
            not_before: insert.and_then(|n| n.not_before),
        }
    }

    /// `Some(inserted id)` when applied (`None` inside when nothing was inserted), `None` when
    /// the customers changed.
    async fn run<'e, E>(&self, executor: E) -> sqlx::Result<Option<Option<ContactId>>>
    where
        E: Executor<'e, Database = Postgres>,
    {
        let outcome: Option<i64> = sqlx::query_scalar(APPLY)
            .bind(self.email)
            .bind(self.phone)
            .bind(&self.lock_names)
            .bind(&self.primaries)
            .bind(&self.seen_ids)
            .bind(&self.seen_links)
            .bind(self.merge_primary)
            .bind(&self.relink)
            .bind(self.new_linked)
            .bind(self.new_precedence)
            .bind(self.not_before)
            .fetch_one(executor)
            .await?;
        Ok(outcome.map(|id| (id > 0).then_some(ContactId(id))))
    }
}

/// The advisory-lock names of the request's identifiers (hashed server-side).
fn lock_names(request: &IdentifyRequest) -> Vec<String> {
    let email = request.email().map(|e| format!("identity:email:{e}"));
    let phone = request
        .phone_number()
        .map(|p| format!("identity:phone:{p}"));
    email.into_iter().chain(phone).collect()
}

/// Pooled connections are not pinged before use, so after the server restarts the pool may
/// hand out dead ones, each failing at once (and being discarded). A call tries again, up to
/// one more time than the pool has connections, before reporting the database unavailable.
struct BrokenConnections {
    left: u32,
}

impl BrokenConnections {
    fn new(pool: &PgPool) -> Self {
        BrokenConnections {
            left: pool.options().get_max_connections() + 1,
        }
    }

    /// `Ok(())` to try again after a broken connection; any other error, or one broken
    /// connection too many, is returned.
    fn retry_or_fail(&mut self, operation: &'static str, e: sqlx::Error) -> Result<()> {
        let broken = matches!(e, sqlx::Error::Io(_) | sqlx::Error::Protocol(_));
        if broken && self.left > 0 {
            self.left -= 1;
            return Ok(());
        }
        Err(Error::store(operation, e))
    }
}

/// Serialization failure or deadlock detected: the transaction was rolled back and may be retried.
fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "40P01")))
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
        let mut broken = BrokenConnections::new(&self.pool);
        // Optimistic: read without locks, then apply if nothing changed (two round trips).
        let primaries = loop {
            let rows = match Self::read_customers(&self.pool, request).await {
                Ok(rows) => decode_rows(rows)?,
                Err(e) => {
                    broken.retry_or_fail("reading contacts", e)?;
                    continue;
                }
            };
            let writes = match reconcile(request, &rows) {
                Plan::Unchanged(answer) => return Ok(answer),
                Plan::Write(writes) => writes,
            };
            match self.apply(request, &rows, &writes).await {
                Ok(Some(inserted)) => return answer(&writes, inserted),
                // the customers changed meanwhile: lock them first from now on
                Ok(None) => break roots(request, &rows),
                Err(e) if is_conflict(&e) => break roots(request, &rows),
                // identify is idempotent: trying again is safe even if the broken connection
                // had committed before it broke
                Err(e) => broken.retry_or_fail("identifying a contact", e)?,
            }
        };
        // Pessimistic: lock, read under the locks, plan, apply, in one transaction.
        let mut primaries = primaries;
        for attempt in 1..=MAX_ATTEMPTS {
            match self.identify_locked(request, &primaries).await {
                Ok(Locked::Done(answer)) => return Ok(answer),
                Ok(Locked::Moved(now)) => primaries = now,
                Err(LockedError::Sql(e)) if is_conflict(&e) => backoff(attempt).await,
                Err(LockedError::Sql(e)) => broken.retry_or_fail("identifying a contact", e)?,
                Err(LockedError::Domain(e)) => return Err(e),
            }
        }
        Err(Error::Contention {
            attempts: MAX_ATTEMPTS + 1,
        })
    }

    async fn lookup(&self, request: &IdentifyRequest) -> Result<Option<ConsolidatedContact>> {
        let mut broken = BrokenConnections::new(&self.pool);
        loop {
            match Self::read_customers(&self.pool, request).await {
                Ok(rows) => return Ok(reconcile(request, &decode_rows(rows)?).preview()),
                Err(e) => broken.retry_or_fail("reading contacts", e)?,
            }
        }
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
