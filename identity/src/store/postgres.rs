//! [`PgStore`]: the production store on PostgreSQL. With `postgres/graph.rs`, the only Rust
//! code that knows Postgres SQL; the SQL functions it calls live in
//! `migrations/postgres/` (the baseline, and the fast write path of issue 31).
//!
//! `identify` in the fewest round trips:
//! 1. **Read** the request's customers (`identity_read_known`: at most two probes of the unique
//!    identifier index and one record each) in one statement, outside any transaction; the
//!    concurrent reads of a tenant share one call of `identity_read_batch` (see
//!    `postgres/reads.rs`). If the request is already fully known, answer: one round trip, no
//!    lock, whatever the customer's size, and nothing after it (the connection stays with the
//!    store, see `store/lanes.rs`: sqlx's pool would ping it on its way back).
//! 2. **Plan** in Rust with the pure [`plan`] step.
//! 3. **Write** with one call of a SQL function, its own transaction. A new customer or a new
//!    row for a customer joins its tenant's other writes of the moment in one
//!    `identity_write_batch` call (group commit, see `postgres/coalesce.rs`): one round trip and
//!    one commit for the burst, each write answered as it would have been alone. A merge has
//!    its own call (`identity_merge`). A new value is
//!    claimed by inserting its identifier (the unique key makes a second claimant wait for the
//!    first to commit, then see it taken); a new row for a customer locks the customer's record
//!    and checks that the customer still holds the request's known values; a merge locks both
//!    records (ascending) and checks that they are still the versions the merged record was
//!    computed from. When a check fails nothing is written and the request starts again.
//!
//! So a write costs two round trips. After a stale plan the next attempts lock first, in one
//! transaction (`BEGIN`, lock and read in one call, plan, write, `COMMIT`): a plan made under the
//! locks cannot go stale, so many concurrent writes to one hot customer all make progress.
//!
//! Every call acts for one tenant, and every statement names it. Every write takes its tenant's
//! shared advisory lock first, once, and compares the tenant's settings with the ones its
//! request was read under in the same read of the tenant's row (`identity_begin`; a batch
//! does it once for all its writes; a merge in two reads, `identity_begin_write` and
//! `identity_settings_are`); applying changes made outside the library (noted by triggers in
//! `identity_pending`, per tenant) and `rebuild` take it alone, so they never run beside a write
//! of the same tenant, while other tenants go on. Under any isolation level the checks hold: a stricter one turns some of them into
//! serialization failures, which are retried.

mod batches;
mod citus;
mod coalesce;
mod erase;
mod events;
mod feed;
mod graph;
mod import;
mod prune;
mod read_batch;
mod reads;
mod reapply;
mod records;
mod settings;
pub mod source;
mod split;
mod steps;
mod url;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres};

use crate::blocked::BlockedValue;
use crate::contact::{Contact, ContactId};
use crate::derive::RebuildReport;
use crate::erase::Erasure;
use crate::erasure::ErasureRecord;
use crate::erasure_log::ErasureLog;
use crate::error::{Error, Result};
use crate::feed::{Cursor, FeedPage, PruneReport, page_size};
use crate::history::History;
use crate::import::{ImportBatch, ImportOptions, ImportReport};
use crate::limits::Limits;
use crate::plan::Plan;
use crate::reapply::ReapplyReport;
use crate::region::PhoneRegion;
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::screen::{Localized, TenantState};
use crate::settings::TenantSettings;
use crate::split::Split;
use crate::stats::{FeedStats, PoolStats, note_retry};
use crate::store::record_cache::RecordCache;
use crate::store::{
    ContactStore, Frontier, MAX_ATTEMPTS, TenantHints, backoff, contention, migrate_error,
    preview_from_rows, refuse_earlier_builds,
};
use crate::tenant::TenantId;
use crate::verify::{VerifyReport, verify};

use self::coalesce::{Coalescer, coalesces};
use self::graph::{Stamp, Written};
use self::reads::Reads;
use self::steps::PgSteps;
use crate::store::lanes::Lanes;
use crate::store::{Failure, Outcome, operations};

/// Runs `work` in one transaction and commits, trying again after broken connections and
/// serialization failures: the retry of every PostgreSQL call. `writing!` begins a plain
/// transaction; `reading!` a read-only one that sees one snapshot for all its statements.
macro_rules! in_transaction {
    ($store:expr, $operation:expr, $setup:expr, |$tx:ident| $work:expr) => {{
        let mut broken = BrokenConnections::new(&$store.pool);
        loop {
            let outcome: Outcome<_> = async {
                let mut lane = $store.lanes.acquire().await?;
                let mut tx = lane.begin().await?;
                if let Some(setup) = $setup {
                    sqlx::query(setup).execute(&mut *tx).await?;
                }
                let $tx: &mut PgConnection = &mut *tx;
                let value = $work;
                tx.commit().await?;
                lane.release();
                Ok(value)
            }
            .await;
            match outcome {
                Ok(value) => break value,
                Err(failure) => broken.retry_or_fail($operation, failure)?,
            }
        }
    }};
}

macro_rules! writing {
    ($store:expr, $operation:expr, |$tx:ident| $work:expr) => {
        in_transaction!($store, $operation, None::<&str>, |$tx| $work)
    };
}

macro_rules! reading {
    ($store:expr, $operation:expr, |$tx:ident| $work:expr) => {
        in_transaction!(
            $store,
            $operation,
            Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
            |$tx| $work
        )
    };
}

/// How many times one attempt applies changes made outside the library before it gives way.
const MAX_REPAIRS: u32 = 3;

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

/// The statement a store on one server over direct connections sends for a batch of `n`
/// concurrent reads (at most 64): `$1` the tenant, `$2` and `$3` the record versions and bases
/// the caller holds, `$4` how many of its request slots are used, then each slot's email and
/// phone; one row per request, as `identity_read_batch` answers. For the tests that hold the
/// two to the same answers; not a stable API.
#[doc(hidden)]
#[must_use]
pub fn read_batch_statement(n: usize) -> &'static str {
    read_batch::statement(n)
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
    /// Records read lately, shared by the clones (see `store/record_cache.rs`).
    cache: Arc<RecordCache>,
    /// The settings last seen per tenant, shared by the clones.
    hints: Arc<TenantHints>,
    /// The connections kept between calls (no ping on their way back, see `store/lanes.rs`).
    lanes: Arc<Lanes<Postgres>>,
    /// The tenants' write queues (group commit, see `postgres/coalesce.rs`).
    writes: Arc<Coalescer>,
    /// The tenants' read queues (shared reads, see `postgres/reads.rs`).
    reads: Arc<Reads>,
    /// The database has the citus extension (see `postgres/citus.rs`).
    citus: bool,
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
        let url::PgUrl {
            options: connect,
            pgbouncer,
        } = url::connect_options(url)?;
        let connect = connect.application_name("identity");
        // one connection first, to report why it fails (refused, no such database, a wrong
        // password) at once: the pool would retry until its timeout and report only that
        let place = format!("{}:{}", connect.get_host(), connect.get_port());
        let failed = |e| Error::store_at("connecting to postgres", e, Some(&place));
        let citus = match tokio::time::timeout(
            options.acquire_timeout,
            PgConnection::connect_with(&connect),
        )
        .await
        {
            Ok(Ok(mut first)) => {
                let citus = citus::installed_on(&mut first).await;
                let _ = first.close().await;
                citus.map_err(failed)?
            }
            Ok(Err(e)) => return Err(failed(e)),
            Err(_) => {
                let timed_out = std::io::Error::from(std::io::ErrorKind::TimedOut);
                return Err(failed(sqlx::Error::Io(timed_out)));
            }
        };
        // a transaction-mode pooler refuses the `options` startup parameter: through one, the
        // server's defaults hold (docs/operations.md), and plans are not cached anyway
        let connect = match pgbouncer {
            true => connect,
            false => connect.options([
                // fewer serialization failures to retry than under a stricter server default
                ("default_transaction_isolation", "read committed"),
                // the customers query re-planned on every call costs more than running it; on
                // Citus a call is sent to its tenant's node only when planned with its
                // arguments (a generic plan runs it on the coordinator)
                (
                    "plan_cache_mode",
                    if citus {
                        "force_custom_plan"
                    } else {
                        "force_generic_plan"
                    },
                ),
            ]),
        };
        let pool = PgPoolOptions::new()
            // no ping before each query (a round trip on every request's path): a connection
            // that died meanwhile fails its query, and identify, being idempotent, retries
            .test_before_acquire(false)
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| Error::store_at("connecting to postgres", e, Some(&place)))?;
        Ok(PgStore::over(
            pool,
            citus,
            graph::ReadWith::unlocked(citus, pgbouncer),
        ))
    }

    /// Wraps an existing pool. On a database with the citus extension use [`PgStore::connect`]
    /// instead: it plans each call with its arguments, which Citus needs to send the call to
    /// its tenant's worker.
    ///
    /// Not knowing where the pool connects, the store reads known checkouts with the call that
    /// works everywhere (`identity_read_known`, PL/pgSQL); [`PgStore::connect`] learns it and,
    /// on one server over direct connections, reads them with the query itself, planned once
    /// per connection (faster: see `migrations/postgres/*_read_known_inlined.sql`).
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        PgStore::over(pool, false, graph::ReadWith::Function)
    }

    /// The store over `pool`, on Citus (`citus`) or not, reading known checkouts `with`.
    fn over(pool: PgPool, citus: bool, with: graph::ReadWith) -> Self {
        let cache: Arc<RecordCache> = Arc::default();
        let lanes = Arc::new(Lanes::new(pool.clone()));
        let connections = pool.options().get_max_connections();
        PgStore {
            writes: Arc::new(Coalescer::new(Arc::clone(&lanes), Arc::clone(&cache))),
            reads: Arc::new(Reads::new(
                Arc::clone(&lanes),
                Arc::clone(&cache),
                connections,
                with,
            )),
            pool,
            cache,
            hints: Arc::default(),
            lanes,
            citus,
        }
    }

    /// The underlying pool. The store keeps connections it is done with checked out of it for
    /// its next calls (all but one of them at most), so they are not pinged on the way back.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// One attempt: read, plan, write (two round trips at most). `Ok(None)` when the plan went
    /// stale. Changes made outside the library are applied first when the read (or the write)
    /// says some wait, and the request is read again when the read (or the write) says the
    /// tenant's settings are not the ones `local` was read under; neither is staleness, so the
    /// attempt goes on. A new customer or a new row is written with the tenant's other writes
    /// of the moment (`postgres/coalesce.rs`), the connection of the read back before it waits.
    async fn attempt(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
        local: &mut Localized,
    ) -> Outcome<Option<ConsolidatedContact>> {
        for _ in 0..MAX_REPAIRS {
            let read = self.reads.read(tenant, &local.request).await?;
            if !local.agrees(read.region.as_deref(), read.blocked_version) {
                let mut lane = self.lanes.acquire().await?;
                let state = settings::state(&mut *lane, tenant).await?;
                lane.release();
                self.hints.follow(tenant, request, local, state)?;
                continue;
            }
            if read.pending {
                let mut lane = self.lanes.acquire().await?;
                Self::repair(&mut lane, tenant).await?;
                lane.release();
                continue;
            }
            let plan = local.plan(read.matched);
            let written = if let Plan::Unchanged(answer) = plan {
                Written::Done(answer)
            } else if coalesces(&plan) {
                self.writes
                    .write(tenant, stamp(local), &local.request, plan)
                    .await?
            } else {
                let stamp = stamp(local);
                let mut lane = self.lanes.acquire().await?;
                let written =
                    graph::write(&mut *lane, tenant, stamp, &local.request, plan, &self.cache)
                        .await?;
                lane.release();
                written
            };
            match written {
                Written::Done(answer) => return Ok(Some(answer)),
                Written::Stale => return Ok(None),
                Written::Pending => {
                    let mut lane = self.lanes.acquire().await?;
                    Self::repair(&mut lane, tenant).await?;
                    lane.release();
                }
                // the next read reports the tenant's settings
                Written::Settings => {}
            }
        }
        // outside writers keep writing: let the locked path take over
        Ok(None)
    }

    /// One locked attempt: lock the request's customers, read, plan and write, commit.
    async fn attempt_locked(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
        local: &mut Localized,
    ) -> Outcome<Option<ConsolidatedContact>> {
        let mut lane = self.lanes.acquire().await?;
        let answer = self.locked_on(&mut lane, tenant, request, local).await?;
        lane.release();
        Ok(answer)
    }

    /// [`PgStore::attempt_locked`] on `conn`.
    async fn locked_on(
        &self,
        conn: &mut PgConnection,
        tenant: &TenantId,
        request: &IdentifyRequest,
        local: &mut Localized,
    ) -> Outcome<Option<ConsolidatedContact>> {
        let mut tx = conn.begin().await?;
        let read = graph::read(
            &mut *tx,
            tenant,
            &local.request,
            graph::ReadWith::Lock,
            &self.cache,
        )
        .await?;
        if !local.agrees(read.region.as_deref(), read.blocked_version) {
            tx.rollback().await?;
            let state = settings::state(&mut *conn, tenant).await?;
            self.hints.follow(tenant, request, local, state)?;
            return Ok(None);
        }
        if read.pending {
            tx.rollback().await?;
            Self::repair(conn, tenant).await?;
            return Ok(None);
        }
        let plan = local.plan(read.matched);
        let written = graph::write(
            &mut *tx,
            tenant,
            stamp(local),
            &local.request,
            plan,
            &self.cache,
        )
        .await?;
        let Written::Done(answer) = written else {
            // a value claimed by a new customer meanwhile (identifiers are not locked), or the
            // tenant's settings changed since the read
            tx.rollback().await?;
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some(answer))
    }

    /// The request read under the tenant's settings as last seen; confirmed when they refuse it.
    async fn localize(&self, tenant: &TenantId, request: &IdentifyRequest) -> Result<Localized> {
        let current = || self.tenant_state(tenant);
        self.hints.localize(tenant, request, current).await
    }

    /// The tenant's settings as stored.
    async fn tenant_state(&self, tenant: &TenantId) -> Result<TenantState> {
        let mut broken = BrokenConnections::new(&self.pool);
        loop {
            let outcome: Outcome<TenantState> = async {
                let mut lane = self.lanes.acquire().await?;
                let state = settings::state(&mut *lane, tenant).await?;
                lane.release();
                Ok(state)
            }
            .await;
            match outcome {
                Ok(state) => return Ok(state),
                Err(failure) => broken.retry_or_fail("reading tenant settings", failure)?,
            }
        }
    }

    /// Adds or removes a blocked entry (in the form of the tenant's region), under the tenant's
    /// lock alone.
    async fn change_blocked(
        &self,
        tenant: &TenantId,
        entry: &BlockedValue,
        add: bool,
    ) -> Result<bool> {
        let changed = writing!(self, "changing the blocked list", |tx| {
            graph::lock(&mut *tx, tenant).await?;
            operations::change_blocked(&mut PgSteps(tx), tenant, entry, add).await?
        });
        self.hints.forget(tenant);
        Ok(changed)
    }

    /// Applies changes made outside the library to `tenant`'s derived records, on `conn`.
    async fn repair(conn: &mut PgConnection, tenant: &TenantId) -> Outcome<()> {
        let mut tx = conn.begin().await?;
        graph::repair(&mut tx, tenant).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies changes made outside the library to every tenant's derived records.
    async fn repair_all(&self) -> Outcome<()> {
        let mut lane = self.lanes.acquire().await?;
        for tenant in graph::pending_tenants(&mut *lane).await? {
            Self::repair(&mut lane, &tenant).await?;
        }
        lane.release();
        Ok(())
    }
}

/// The migrations the database records (version, checksum): none before the first migrate.
async fn applied_migrations(pool: &PgPool) -> Result<Vec<(i64, Vec<u8>)>> {
    let fail = |e| Error::store("migrating the schema", e);
    // the table sqlx records migrations in, as it names it (unqualified: on the search path)
    let recorded: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(fail)?;
    if !recorded {
        return Ok(Vec::new());
    }
    sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations")
        .fetch_all(pool)
        .await
        .map_err(fail)
}

/// The settings `local` was read under, for a write to check.
fn stamp(local: &Localized) -> Stamp<'_> {
    Stamp {
        region: local.code(),
        blocked: local.blocked_version,
        limits: local.limits,
    }
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

    /// `Ok(())` to try again after a broken connection or a serialization failure; any other
    /// error, or one broken connection too many, is returned.
    fn retry_or_fail(&mut self, operation: &'static str, failure: Failure) -> Result<()> {
        let e = match failure {
            Failure::Domain(e) => return Err(e),
            Failure::Sql(e) if is_conflict(&e) => {
                note_retry();
                return Ok(());
            }
            Failure::Sql(e) => e,
        };
        let broken = match &e {
            sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
            // the server ended the session (terminated backend, shutdown, idle-session timeout);
            // it says so on the connection's next use
            sqlx::Error::Database(db) => {
                matches!(
                    db.code().as_deref(),
                    Some("57P01" | "57P02" | "57P03" | "57P05")
                )
            }
            _ => false,
        };
        if broken && self.left > 0 {
            self.left -= 1;
            note_retry();
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
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        // the migrator takes its connection from the pool itself
        self.lanes.drain();
        refuse_earlier_builds(&applied_migrations(&self.pool).await?, &migrator)?;
        let citus = citus::installed(&self.pool).await?;
        // one transaction applies every pending migration (each under a savepoint), after
        // taking a transaction-level lock: processes starting at once wait for each other
        // before they read what is applied, so none fails half-way on another's objects (the
        // migrator's own lock is a session's, which a transaction-mode pooler does not keep;
        // a backend whose migration failed on another's commit could keep a stale view of the
        // catalog, and through a pooler that backend serves later calls)
        migrator.set_locking(false);
        let applied: std::result::Result<(), sqlx::Error> = async {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('identity:migrate', 0))")
                .execute(&mut *tx)
                .await?;
            if let Err(e) = migrator.run_direct(None, &mut *tx, false).await {
                return Err(sqlx::Error::Migrate(Box::new(e)));
            }
            tx.commit().await
        }
        .await;
        match applied {
            Ok(()) => {}
            Err(sqlx::Error::Migrate(e)) => return Err(migrate_error(*e)),
            Err(e) => return Err(Error::store("migrating the schema", e)),
        }
        if citus {
            // the coordinator's cached connections to the workers may have been ended while
            // idle (idle_session_timeout): Citus opens new ones for the next attempt
            let mut broken = BrokenConnections::new(&self.pool);
            while let Err(e) = citus::distribute(&self.pool).await {
                broken.retry_or_fail("distributing the schema on Citus", Failure::Sql(e))?;
            }
        }
        // every backup taken from now on holds the secret of every digest the store will take
        let mut broken = BrokenConnections::new(&self.pool);
        loop {
            let outcome: Outcome<()> = async {
                let mut lane = self.lanes.acquire().await?;
                erase::store_secret(&mut lane).await?;
                lane.release();
                Ok(())
            }
            .await;
            match outcome {
                Ok(()) => break,
                Err(failure) => broken.retry_or_fail("migrating the schema", failure)?,
            }
        }
        // changes made outside the library while no process ran are applied now, not on the
        // first request
        let mut broken = BrokenConnections::new(&self.pool);
        loop {
            match self.repair_all().await {
                Ok(()) => return Ok(()),
                Err(failure) => broken.retry_or_fail("building customer records", failure)?,
            }
        }
    }

    async fn identify(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<ConsolidatedContact> {
        let mut local = self.localize(tenant, request).await?;
        let mut broken = BrokenConnections::new(&self.pool);
        let mut locked = false;
        let mut attempt = 0;
        while attempt < MAX_ATTEMPTS {
            attempt += 1;
            let outcome = if locked {
                self.attempt_locked(tenant, request, &mut local).await
            } else {
                self.attempt(tenant, request, &mut local).await
            };
            match outcome {
                Ok(Some(answer)) => return Ok(answer.with_ignored(&local.ignored)),
                // what the plan was made from changed: lock first from now on
                Ok(None) => {
                    note_retry();
                    locked = true;
                }
                Err(Failure::Sql(e)) if is_conflict(&e) => {
                    locked = true;
                    backoff(attempt).await;
                }
                // identify is idempotent: trying again is safe even if the broken connection
                // had committed before it broke (its lane went back to the pool, which tests it)
                Err(failure) => broken.retry_or_fail("identifying a contact", failure)?,
            }
        }
        Err(contention())
    }

    async fn lookup(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<Option<ConsolidatedContact>> {
        let mut local = self.localize(tenant, request).await?;
        let mut broken = BrokenConnections::new(&self.pool);
        let mut follows = 0;
        let read = loop {
            let outcome = self.reads.read(tenant, &local.request).await;
            match outcome {
                // read again under the settings the read reports (twice at most: the answer is
                // then as of one of the reads)
                Ok(read)
                    if follows < 2
                        && !local.agrees(read.region.as_deref(), read.blocked_version) =>
                {
                    let state = self.tenant_state(tenant).await?;
                    self.hints.follow(tenant, request, &mut local, state)?;
                    follows += 1;
                }
                Ok(read) => break read,
                Err(failure) => broken.retry_or_fail("reading customers", failure)?,
            }
        };
        let answer = if read.pending {
            // the records wait for changes made outside the library: answer from the rows
            let closure = reading!(self, "reading contacts", |conn| {
                graph::closure(conn, tenant, Frontier::from_request(&local.request)).await?
            });
            preview_from_rows(&local, &closure.rows)?
        } else {
            match local.plan(read.matched) {
                Plan::Merge(m) => {
                    let (x, y) = (m.merged.primary, m.absorbed);
                    let apart = reading!(self, "reading customers", |conn| {
                        split::kept_apart(conn, tenant, x, y).await?
                    });
                    Some(if apart { m.withheld } else { m.merged.answer() })
                }
                plan => plan.preview(),
            }
        };
        Ok(answer.map(|a| a.with_ignored(&local.ignored)))
    }

    async fn settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        let state = self.tenant_state(tenant).await?;
        let settings = state.settings();
        self.hints.learn(tenant, state);
        Ok(settings)
    }

    async fn set_phone_region(
        &self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Result<TenantSettings> {
        writing!(self, "changing tenant settings", |tx| {
            graph::lock(&mut *tx, tenant).await?;
            operations::set_phone_region(&mut PgSteps(tx), tenant, region).await?
        });
        self.hints.forget(tenant);
        self.settings(tenant).await
    }

    async fn set_limits(&self, tenant: &TenantId, limits: Limits) -> Result<TenantSettings> {
        writing!(self, "changing tenant settings", |tx| {
            graph::lock(&mut *tx, tenant).await?;
            operations::set_limits(&mut PgSteps(tx), tenant, limits).await?
        });
        self.hints.forget(tenant);
        self.settings(tenant).await
    }

    async fn blocked_values(&self, tenant: &TenantId) -> Result<Vec<BlockedValue>> {
        let state = self.tenant_state(tenant).await?;
        let entries = state.blocked.entries().to_vec();
        self.hints.learn(tenant, state);
        Ok(entries)
    }

    async fn block(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool> {
        self.change_blocked(tenant, entry, true).await
    }

    async fn unblock(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool> {
        self.change_blocked(tenant, entry, false).await
    }

    async fn history(&self, tenant: &TenantId, id: ContactId) -> Result<History> {
        Ok(reading!(self, "reading history", |conn| {
            operations::history(&mut PgSteps(conn), tenant, id).await?
        }))
    }

    async fn events(
        &self,
        tenant: &TenantId,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<FeedPage> {
        let limit = page_size(limit)?;
        let mut broken = BrokenConnections::new(&self.pool);
        loop {
            // one statement: one snapshot, no transaction to begin
            let outcome: Outcome<FeedPage> = async {
                let mut lane = self.lanes.acquire().await?;
                let page =
                    operations::feed_page(&mut PgSteps(&mut lane), tenant, after, limit).await?;
                lane.release();
                Ok(page)
            }
            .await;
            match outcome {
                Ok(page) => return Ok(page),
                Err(failure) => broken.retry_or_fail("reading the feed", failure)?,
            }
        }
    }

    fn webhooks(&self) -> &dyn crate::store::webhooks::WebhookStore {
        self
    }

    async fn prune_events(&self, before: time::OffsetDateTime) -> Result<PruneReport> {
        prune::prune(&self.pool, before, self.citus)
            .await
            .map_err(|f| f.into_error("pruning events"))
    }

    async fn split(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        contact_ids: &[ContactId],
        block_shared: bool,
    ) -> Result<Split> {
        // the tenant's pending changes applied under its lock, taken alone and held to the end
        let split = writing!(self, "splitting a customer", |tx| {
            graph::repair(&mut *tx, tenant).await?;
            steps::split(tx, tenant, customer, contact_ids, block_shared).await?
        });
        if !split.blocked.is_empty() {
            self.hints.forget(tenant);
        }
        Ok(split)
    }

    async fn erase(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        suppress: bool,
        log: Option<&ErasureLog>,
    ) -> Result<Erasure> {
        // an erase that committed on a connection that broke answers its receipt when tried again
        let receipt = writing!(self, "erasing a customer", |tx| {
            graph::repair(&mut *tx, tenant).await?;
            let (receipt, record) = steps::erase(&mut *tx, tenant, customer, suppress).await?;
            if let Some(record) = &record {
                erase::keep_record(&mut *tx, record).await?;
                if let Some(log) = log {
                    log.append(record)?; // on disk before the erase commits
                }
            }
            receipt
        });
        self.cache.forget(tenant, receipt.customer_id);
        if receipt.suppressed {
            self.hints.forget(tenant);
        }
        Ok(receipt)
    }

    fn job_progress(&self, _tenant: &TenantId) -> Option<crate::progress::JobProgress> {
        None // its imports and erases are one transaction each: nothing in between to show
    }

    async fn erasures(&self, tenant: &TenantId) -> Result<Vec<ErasureRecord>> {
        Ok(reading!(self, "reading erasures", |conn| erase::records(
            conn, tenant
        )
        .await?))
    }

    async fn reapply_erasures(
        &self,
        tenant: &TenantId,
        records: &[ErasureRecord],
    ) -> Result<ReapplyReport> {
        // applying again is safe: a record whose erase committed is left alone
        let report = writing!(self, "applying erasures again", |tx| {
            reapply::reapply(tx, tenant, records, self.citus).await?
        });
        for id in &report.erased_ids {
            self.cache.forget(tenant, *id);
        }
        self.hints.forget(tenant);
        Ok(report)
    }

    async fn import(
        &self,
        tenant: &TenantId,
        batch: ImportBatch,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        // planned outside the tenant's lock, under the settings it has now (checked again under
        // the lock)
        let state = reading!(self, "importing contacts", |conn| {
            operations::import_settings(&mut PgSteps(conn), tenant).await?
        });
        let plan = crate::import::plan(batch, &state, options)?;
        // one try: the plan is used up by it (an import is not retried)
        let outcome: Outcome<ImportReport> = async {
            let mut lane = self.lanes.acquire().await?;
            let mut tx = lane.begin().await?;
            graph::lock(&mut tx, tenant).await?;
            if self.citus {
                let kept_highest = plan.kept_ids().map(|(_, _, highest)| highest);
                import::hold_ids_on_citus(&mut tx, kept_highest).await?;
            }
            let begun = operations::begin_import(
                &mut PgSteps(&mut tx),
                tenant,
                plan,
                &state,
                options.dry_run,
            )
            .await?;
            match begun {
                operations::Begun::Dry(report) => Ok(report),
                operations::Begun::Load { rows, report, kept } => {
                    // a table's ids are reserved even when none of its rows is written
                    import::load(&mut tx, tenant, &rows, kept, self.citus).await?;
                    tx.commit().await?;
                    lane.release();
                    Ok(report)
                }
            }
        }
        .await;
        outcome.map_err(|f| f.into_error("importing contacts"))
    }

    async fn foreign_tables(&self) -> Result<Vec<String>> {
        let mut lane = self
            .lanes
            .acquire()
            .await
            .map_err(|e| Error::store("reading the database catalog", e))?;
        let tables = source::foreign_tables(&mut lane).await?;
        lane.release();
        Ok(tables)
    }

    async fn customer(
        &self,
        tenant: &TenantId,
        id: ContactId,
    ) -> Result<(ContactId, Vec<Contact>)> {
        Ok(reading!(self, "reading a customer", |conn| {
            operations::customer_rows(&mut PgSteps(conn), tenant, id).await?
        }))
    }

    async fn all_contacts(&self, tenant: &TenantId) -> Result<Vec<Contact>> {
        Ok(reading!(self, "reading contacts", |conn| graph::all_rows(
            conn, tenant
        )
        .await?))
    }

    async fn verify(&self, tenant: &TenantId) -> Result<VerifyReport> {
        let ((rows, records, identifiers, pending), state) =
            reading!(self, "reading the identity graph", |conn| {
                let graph = graph::everything(&mut *conn, tenant).await?;
                (graph, settings::state(&mut *conn, tenant).await?)
            });
        let blocked = |kind, value: &str| state.blocked.blocks(kind, value);
        Ok(verify(
            &rows,
            &records,
            &identifiers,
            pending,
            state.region,
            &blocked,
        ))
    }

    async fn rebuild(&self, tenant: &TenantId) -> Result<RebuildReport> {
        let derived = writing!(self, "rebuilding customer records", |tx| {
            graph::rebuild(tx, tenant).await?
        });
        Ok(RebuildReport::of(&derived))
    }

    async fn ping(&self) -> Result<()> {
        let mut broken = BrokenConnections::new(&self.pool);
        loop {
            let outcome: sqlx::Result<()> = async {
                let mut lane = self.lanes.acquire().await?;
                sqlx::query("SELECT 1").execute(&mut *lane).await?;
                lane.release();
                Ok(())
            }
            .await;
            match outcome {
                Ok(()) => return Ok(()),
                Err(e) => broken.retry_or_fail("checking the database", Failure::Sql(e))?,
            }
        }
    }

    async fn probe_write(&self) -> Result<()> {
        let mut broken = BrokenConnections::new(&self.pool);
        loop {
            let rewrite = sqlx::query(
                "INSERT INTO identity_probe (id, filler) VALUES (1, decode(repeat('00', 65536), 'hex'))
                 ON CONFLICT (id) DO UPDATE SET filler = EXCLUDED.filler",
            );
            let outcome: sqlx::Result<()> = async {
                let mut lane = self.lanes.acquire().await?;
                rewrite.execute(&mut *lane).await?;
                lane.release();
                Ok(())
            }
            .await;
            match outcome {
                Ok(()) => return Ok(()),
                Err(e) => broken.retry_or_fail("trying a write", Failure::Sql(e))?,
            }
        }
    }

    async fn close(&self) {
        self.lanes.close();
        self.pool.close().await;
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn pool_stats(&self) -> PoolStats {
        self.lanes.stats()
    }

    async fn feed_stats(&self) -> Result<FeedStats> {
        Ok(reading!(self, "reading the feed's statistics", |tx| {
            feed::stats(tx, self.citus).await?
        }))
    }
}
