//! [`SqliteStore`]: the embedded default (bundled SQLite). With `sqlite/records.rs` (and the
//! other files under `sqlite/`), the only code that knows SQLite SQL. A customer's record is a
//! base row plus a short tail of added rows (`sqlite/tails.rs`); decoded bases are held by
//! number (`sqlite/bases.rs`).
//!
//! Concurrency: a request that is already fully known is answered from one read of the
//! identity graph (`identity_identifier`, `identity_customer`) outside any transaction. Every
//! write runs in a `BEGIN IMMEDIATE` transaction, which SQLite grants to one connection at a time
//! (across processes too): the transaction re-reads under that lock, plans, writes the rows and
//! the derived records together and commits, so writers are serialized. WAL mode lets reads go
//! on meanwhile. Changes made to `contact` by other programs are noted by triggers and applied
//! to the derived records by the next write transaction, before it plans.

mod backup;
mod bases;
#[cfg(test)]
mod bases_tests;
mod checkpoint;
mod counters;
mod erase;
mod erase_steps;
mod events;
mod feed;
mod foreign;
mod group;
#[cfg(test)]
mod group_tests;
mod import;
mod jobs;
mod long_writes;
#[cfg(test)]
mod plans_tests;
mod prune;
mod read;
mod reapply;
mod records;
mod script;
mod settings;
mod steps;
mod tails;
mod wal;
#[cfg(test)]
mod wal_tests;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, SqliteConnection};

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
use crate::stats::{FeedStats, PoolStats};
use crate::store::lanes::Lanes;
use crate::store::{
    ContactStore, Frontier, MAX_ATTEMPTS, TenantHints, backoff, contention, migrate_error,
    operations, preview_from_rows, refuse_earlier_builds,
};
use crate::tenant::TenantId;
use crate::verify::{VerifyReport, verify};

use bases::{Held, Written};

/// Runs `work` in the write transaction `$begin` opens (`Ok(None)`: the database is busy) and
/// commits it, trying again after a backoff while the database stays busy: the retry of every
/// SQLite write. Evaluates to `work`'s value; returns a contention error from the enclosing
/// function after the last try.
macro_rules! writing {
    ($begin:expr, |$tx:ident| $work:expr) => {{
        let mut written = None;
        for attempt in 1..=MAX_ATTEMPTS {
            if let Some(mut write) = $begin.await? {
                let $tx: &mut SqliteConnection = &mut write.tx;
                let value = $work;
                if write.commit().await? {
                    written = Some(value);
                    break;
                }
            }
            backoff(attempt).await;
        }
        match written {
            Some(value) => value,
            None => return Err(contention()),
        }
    }};
}

// after `writing!`, which it uses
mod webhooks;

/// The SQLite store. Cheap to clone (it is a pool handle).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use identity::{ContactStore, IdentifyRequest, SqliteStore};
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// store.migrate().await?;
/// let req = IdentifyRequest::parse(None, Some("+1 555 0100"))?;
/// let tenant = identity::TenantId::default();
/// assert_eq!(store.identify(&tenant, &req).await?.phone_numbers[0].as_str(), "+15550100");
/// # Ok::<(), identity::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Writers of this process queue here instead of in SQLite's busy handler, which polls
    /// with sleeps of up to 100 ms; other processes still meet at `BEGIN IMMEDIATE`. The queue
    /// also holds the connection they write on (`sqlite/writer.rs`).
    writer: std::sync::Arc<tokio::sync::Mutex<writer::Writer>>,
    /// The settings last seen per tenant, shared by the clones.
    hints: std::sync::Arc<TenantHints>,
    /// The record bases read lately, decoded, shared by the clones.
    bases: std::sync::Arc<bases::Bases>,
    /// An in-memory database: no files, so no write-ahead log to clear.
    in_memory: bool,
    /// How far each tenant's long write run by this process has got, shared by the clones.
    progress: std::sync::Arc<long_writes::Progress>,
    /// The writes of identify waiting to share a transaction (see `sqlite/group.rs`).
    group: std::sync::Arc<group::Group>,
    /// The connections identify's reads are done with, kept for the next ones (no ping on
    /// their way back, see `store/lanes.rs`); none for an in-memory database, whose one
    /// connection its writes take from the pool too.
    lanes: std::sync::Arc<Lanes<sqlx::Sqlite>>,
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
            .busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS.into()))
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            // deleted content is overwritten with zeros, not left in free space: an erased
            // value must not survive in the file (see `checkpoint.rs` for the log)
            .pragma("secure_delete", "ON");
        // An in-memory database lives as long as one of its connections: keep exactly one open.
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new()
                .max_connections(8)
                .before_acquire(|conn, _| Box::pin(std::future::ready(Ok(reusable(conn)))))
        };
        // no ping as a connection is handed out: a round trip to its worker thread on every
        // read and write, and the ping as it came back (sqlx's) already ran whatever a dropped
        // transaction left queued
        let pool_options = pool_options
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire(false);
        // Switching a fresh file to WAL needs an exclusive lock and does not wait for it: when
        // several processes open the same new file at once, the losers get SQLITE_BUSY. Retry.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match pool_options.clone().connect_with(options.clone()).await {
                Ok(pool) => {
                    let lanes = if in_memory {
                        Lanes::passing(pool.clone())
                    } else {
                        Lanes::new(pool.clone())
                    };
                    return Ok(SqliteStore {
                        pool,
                        writer: std::sync::Arc::new(tokio::sync::Mutex::new(writer::Writer::new(
                            (!in_memory).then_some(options),
                        ))),
                        hints: std::sync::Arc::default(),
                        bases: std::sync::Arc::default(),
                        in_memory,
                        progress: std::sync::Arc::default(),
                        group: std::sync::Arc::default(),
                        lanes: std::sync::Arc::new(lanes),
                    });
                }
                Err(e) if is_busy(&e) && attempt < 10 => backoff(attempt + 3).await,
                Err(e) => return Err(Error::store("opening the sqlite database", e)),
            }
        }
    }

    /// The underlying pool. The store keeps connections its reads are done with checked out of
    /// it for its next reads (all but one of them at most), so they are not pinged on the way
    /// back.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A read transaction: one consistent snapshot for several statements (WAL).
    async fn read_snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool
            .begin()
            .await
            .map_err(|e| Error::store("reading contacts", e))
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`) for the tenant `repair` names (once it
    /// has no long write running), with its changes made outside the library applied first;
    /// `Ok(None)` when the database is busy (another process writes).
    async fn begin_write(&self, repair: Option<&TenantId>) -> Result<Option<WriteTx>> {
        self.begin(repair, true).await
    }

    /// Starts a write transaction for `tenant`'s settings (once it has no long write running).
    async fn begin_write_for(&self, tenant: &TenantId) -> Result<Option<WriteTx>> {
        self.begin(Some(tenant), false).await
    }

    /// A read snapshot of `tenant` with no long write of it running.
    async fn read_snapshot_of(
        &self,
        tenant: &TenantId,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        let started = std::time::Instant::now();
        loop {
            let mut conn = self.read_snapshot().await?;
            let Some(job) = jobs::of(&mut conn, tenant).await? else {
                return Ok(conn);
            };
            drop(conn);
            self.wait_out(tenant, &job, started).await?;
        }
    }
}

impl SqliteStore {
    /// The request read under the tenant's settings as last seen; confirmed when they refuse it.
    async fn localize(&self, tenant: &TenantId, request: &IdentifyRequest) -> Result<Localized> {
        let current = || settings::state(&self.pool, tenant);
        self.hints.localize(tenant, request, current).await
    }

    /// Reads the request's customers on `conn` under the settings the read reports (once more
    /// when `local` was read under others; inside a write transaction they cannot change
    /// between the two, outside one the answer is as of one of the reads), from the bases
    /// `held` holds (see `read::read`).
    async fn read_localized(
        &self,
        conn: &mut SqliteConnection,
        tenant: &TenantId,
        request: &IdentifyRequest,
        local: &mut Localized,
        held: Held<'_>,
    ) -> Result<read::Read> {
        let read = read::read(&mut *conn, tenant, &local.request, held).await?;
        if local.agrees(read.region.as_deref(), read.blocked_version) {
            return Ok(read);
        }
        let state = settings::state(&mut *conn, tenant).await?;
        self.hints.follow(tenant, request, local, state)?;
        read::read(&mut *conn, tenant, &local.request, held).await
    }

    /// Adds or removes a blocked entry in a write transaction of its own.
    async fn change_blocked(
        &self,
        tenant: &TenantId,
        entry: &BlockedValue,
        add: bool,
    ) -> Result<bool> {
        let changed = writing!(self.begin_write_for(tenant), |tx| {
            operations::change_blocked(&mut steps::SqliteSteps(tx), tenant, entry, add)
                .await
                .map_err(|f| f.into_error("changing the blocked list"))?
        });
        self.hints.forget(tenant);
        Ok(changed)
    }

    /// The migrations the database records (version, checksum): none before the first migrate.
    async fn applied_migrations(&self) -> Result<Vec<(i64, Vec<u8>)>> {
        let fail = |e| Error::store("migrating the schema", e);
        let recorded: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master
                            WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(fail)?;
        if !recorded {
            return Ok(Vec::new());
        }
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await
            .map_err(fail)
    }

    /// Makes the store's suppression secret unless it has one, so that every backup taken
    /// from now on holds the secret of every digest the store will take.
    async fn make_secret(&self) -> Result<()> {
        let made: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM identity_secret)")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| Error::store("migrating the schema", e))?;
        if made {
            return Ok(());
        }
        writing!(self.begin_write(None), |tx| erase::store_secret(tx).await?);
        Ok(())
    }

    /// Applies changes made outside the library to the derived records of every tenant now.
    async fn apply_pending(&self) -> Result<()> {
        let tenants = {
            let mut conn = self.read_snapshot().await?;
            records::pending_tenants(&mut conn).await?
        };
        for tenant in tenants {
            self.apply_pending_of(&tenant).await?;
        }
        Ok(())
    }

    /// Applies changes made outside the library to `tenant`'s derived records now.
    async fn apply_pending_of(&self, tenant: &TenantId) -> Result<()> {
        // beginning the write applies them
        writing!(self.begin_write(Some(tenant)), |_tx| ());
        Ok(())
    }
}

/// How long a statement waits for a lock another connection holds, in milliseconds.
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// A write transaction of this process that marked its writes as the library's own: the
/// in-process queue's turn and SQLite's write lock.
struct WriteTx {
    tx: writer::Tx,
}

impl WriteTx {
    /// Commits; `Ok(false)` when the database was busy (nothing was written).
    async fn commit(self) -> Result<bool> {
        Ok(self.commit_holding().await?.is_some())
    }

    /// Commits and keeps the queue's turn, so this process's writers go on waiting (for work
    /// that must follow the commit before any other write); `Ok(None)` when the database was
    /// busy (nothing was written).
    async fn commit_holding(mut self) -> Result<Option<writer::Turn>> {
        set_writer(&mut self.tx, false).await?;
        self.commit_unmarked().await
    }

    /// Commits a transaction whose last script cleared the writer's mark itself
    /// ([`push_writer_mark`]), keeping the queue's turn; `Ok(None)` when the database was busy.
    async fn commit_unmarked(self) -> Result<Option<writer::Turn>> {
        match self.tx.commit().await {
            Ok(turn) => Ok(Some(turn)),
            Err(e) if is_busy(&e) => Ok(None),
            Err(e) => Err(Error::store("committing a write", e)),
        }
    }
}

/// Whether a file database's pooled connection may serve again: not while it is still inside a
/// transaction. SQLite rolls a transaction back by itself when a write fails for lack of space
/// or an I/O error (a COMMIT too), so the ROLLBACK queued by the transaction's drop fails and
/// the driver goes on counting the transaction as open, refusing every later `BEGIN` on the
/// connection: closed instead, it is replaced by a fresh one. Checked as the pool hands out a
/// connection, after the ping sqlx sends as a connection comes back has run whatever was queued. (The single connection of an
/// in-memory database holds the data: never closed.)
fn reusable(conn: &SqliteConnection) -> bool {
    !conn.is_in_transaction()
}

/// Sets the writer's mark ([`set_writer`]) to `?1`.
const MARK_WRITER: &str = "UPDATE identity_writer SET active = ?1";

/// Adds [`set_writer`]'s statement to `script`, which returns no row: the mark goes on (or
/// off) in the call that does the write's first (or last) work, not in one of its own.
fn push_writer_mark(script: &mut script::Script, active: bool) {
    script.push(MARK_WRITER, |v| {
        v.add(active);
    });
}

/// Marks this transaction's writes to `contact` as the library's own, so the triggers that note
/// changes made by other programs leave them alone.
async fn set_writer(tx: &mut SqliteConnection, active: bool) -> Result<()> {
    sqlx::query(MARK_WRITER)
        .bind(active)
        .execute(&mut *tx)
        .await
        .map(drop)
        .map_err(|e| Error::store("starting a write", e))
}

/// Whether a `sqlite:` URL names an in-memory database (`:memory:` or `mode=memory`), which
/// lives only as long as its connections and so gets exactly one, kept open.
fn is_in_memory_url(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|kv| kv == "mode=memory")
}

/// SQLITE_BUSY / SQLITE_LOCKED (any extended code): another connection holds the write lock.
fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6)))
}

/// Values as the JSON array a statement reads back with `json_each`.
fn json<T: serde::Serialize + ?Sized>(values: &T) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

#[async_trait]
impl ContactStore for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        // sqlx cannot lock migrations on SQLite: when several processes start on a fresh file
        // at once, the losers fail to apply the migration the winner applied (its first CREATE
        // finds the table) and roll it back whole, so trying again (and then finding it
        // recorded) is safe.
        let migrator = sqlx::migrate!("./migrations/sqlite");
        // the migrator takes its connection from the pool itself
        self.lanes.drain();
        refuse_earlier_builds(&self.applied_migrations().await?, &migrator)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match migrator.run(&self.pool).await {
                // changes made outside the library while no process ran are applied now, not
                // on the first request
                Ok(()) => {
                    self.make_secret().await?;
                    return self.apply_pending().await;
                }
                Err(_) if attempt < 5 => backoff(attempt + 4).await,
                Err(e) => return Err(migrate_error(e)),
            }
        }
    }

    async fn identify(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<ConsolidatedContact> {
        let mut local = self.localize(tenant, request).await?;
        let read = {
            // the fast path's own connection, kept for the next read before waiting to write
            let mut lane = self
                .lanes
                .acquire()
                .await
                .map_err(|e| Error::store("reading customers", e))?;
            let held = Held::Committed(&self.bases);
            let read = read::read(&mut lane, tenant, &local.request, held).await?;
            lane.release();
            read
        };
        if !read.pending
            && !read.job
            && local.agrees(read.region.as_deref(), read.blocked_version)
            && let Plan::Unchanged(answer) = local.plan(read.matched)
        {
            return Ok(answer.with_ignored(&local.ignored));
        }
        if let Some(answer) = self.write_grouped(tenant, request, local.clone()).await {
            return answer;
        }
        let (answer, written) = writing!(self.begin_write(Some(tenant)), |tx| {
            // under the write lock the tenant's settings cannot change
            let mut written = Written::default();
            let held = Held::InWrite(&self.bases, &written);
            let read = self
                .read_localized(&mut *tx, tenant, request, &mut local, held)
                .await?;
            let plan = local.plan(read.matched);
            let mut ids = records::NewIds::default();
            let (answer, _) = records::apply(
                tx,
                tenant,
                &local.request,
                plan,
                &mut ids,
                &mut written,
                records::Then::Nothing,
            )
            .await?;
            (answer, written)
        });
        self.bases.publish(written);
        Ok(answer.with_ignored(&local.ignored))
    }

    async fn lookup(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<Option<ConsolidatedContact>> {
        let mut local = self.localize(tenant, request).await?;
        let (mut conn, read) = loop {
            let mut conn = self.read_snapshot().await?;
            let read = self
                .read_localized(
                    &mut conn,
                    tenant,
                    request,
                    &mut local,
                    Held::Committed(&self.bases),
                )
                .await?;
            if !read.job {
                break (conn, read);
            }
            // a long write of the tenant runs: what was read may be half of it
            drop(conn);
            self.wait_for_tenant(tenant).await?;
        };
        let answer = if read.pending {
            // the records wait for changes made outside the library: answer from the rows
            let frontier = Frontier::from_request(&local.request);
            let closure = records::closure(&mut conn, tenant, frontier).await?;
            preview_from_rows(&local, &closure.rows)?
        } else {
            match local.plan(read.matched) {
                Plan::Merge(m)
                    if records::kept_apart(&mut conn, tenant, m.merged.primary, m.absorbed)
                        .await? =>
                {
                    Some(m.withheld)
                }
                plan => plan.preview(),
            }
        };
        Ok(answer.map(|a| a.with_ignored(&local.ignored)))
    }

    async fn settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        let state = settings::state(&self.pool, tenant).await?;
        let settings = state.settings();
        self.hints.learn(tenant, state);
        Ok(settings)
    }

    async fn set_phone_region(
        &self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Result<TenantSettings> {
        writing!(self.begin_write_for(tenant), |tx| {
            operations::set_phone_region(&mut steps::SqliteSteps(tx), tenant, region)
                .await
                .map_err(|f| f.into_error("changing tenant settings"))?
        });
        self.hints.forget(tenant);
        self.settings(tenant).await
    }

    async fn set_limits(&self, tenant: &TenantId, limits: Limits) -> Result<TenantSettings> {
        writing!(self.begin_write_for(tenant), |tx| {
            operations::set_limits(&mut steps::SqliteSteps(tx), tenant, limits)
                .await
                .map_err(|f| f.into_error("changing tenant settings"))?
        });
        self.hints.forget(tenant);
        self.settings(tenant).await
    }

    async fn blocked_values(&self, tenant: &TenantId) -> Result<Vec<BlockedValue>> {
        let state: TenantState = settings::state(&self.pool, tenant).await?;
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
        let mut conn = self.read_snapshot_of(tenant).await?;
        operations::history(&mut steps::SqliteSteps(&mut conn), tenant, id)
            .await
            .map_err(|f| f.into_error("reading history"))
    }

    async fn events(
        &self,
        tenant: &TenantId,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<FeedPage> {
        let limit = page_size(limit)?;
        let mut conn = self.read_snapshot_of(tenant).await?;
        operations::feed_page(&mut steps::SqliteSteps(&mut conn), tenant, after, limit)
            .await
            .map_err(|f| f.into_error("reading the feed"))
    }

    fn webhooks(&self) -> &dyn crate::store::webhooks::WebhookStore {
        self
    }

    async fn prune_events(&self, before: time::OffsetDateTime) -> Result<PruneReport> {
        let tenants: Vec<String> = sqlx::query_scalar(prune::TENANTS)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| Error::store("pruning events", e))?;
        let mut report = PruneReport::default();
        for name in tenants {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(|e| Error::store("pruning events", e))?;
            let (floor, cut) = prune::cut(&mut conn, &name, before).await?;
            drop(conn);
            let Some(cut) = cut else { continue };
            let tenant = TenantId::parse(&name)?;
            let mut done = floor;
            while done < cut {
                let to = prune::chunk_end(done, cut);
                report.events += writing!(self.begin_write_for(&tenant), |tx| {
                    prune::delete(tx, &name, done, to, before).await?
                });
                done = to;
            }
            report.tenants += 1;
        }
        // webhook attempts are kept as long as the events
        let before_ms = i64::try_from(before.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        writing!(self.begin_write(None), |tx| {
            sqlx::query("DELETE FROM identity_webhook_delivery WHERE at < ?1")
                .bind(before_ms)
                .execute(&mut *tx)
                .await
                .map_err(|e| Error::store("pruning events", e))?
        });
        Ok(report)
    }

    async fn split(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        contact_ids: &[ContactId],
        block_shared: bool,
    ) -> Result<Split> {
        let split = writing!(self.begin_write(Some(tenant)), |tx| {
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
        for attempt in 1..=MAX_ATTEMPTS {
            if let Some(mut write) = self.begin_write(Some(tenant)).await? {
                let planned = operations::plan_erase(
                    &mut steps::SqliteSteps(&mut write.tx),
                    tenant,
                    customer,
                    suppress,
                )
                .await
                .map_err(|f| f.into_error("erasing a customer"))?;
                let done = match planned {
                    operations::Erase::Done(receipt) => Some(receipt),
                    operations::Erase::Planned(planned) => {
                        let mut job = erase_steps::EraseJob::of(&planned);
                        if job.size() <= jobs::STEP {
                            // a small erase in this transaction
                            job.work(&mut write.tx, tenant, usize::MAX).await?;
                            if let Some(log) = log {
                                log.append(job.record())?; // on disk before the erase commits
                            }
                            Some(job.receipt())
                        } else {
                            // a large one a step per transaction
                            let owner = jobs::new_owner();
                            let plan =
                                serde_json::to_string(&job).map_err(|_| Error::Internal {
                                    reason: "an erase's plan could not be written down",
                                })?;
                            jobs::start(&mut write.tx, tenant, "erase", owner, &plan).await?;
                            if !write.commit().await? {
                                backoff(attempt).await;
                                continue;
                            }
                            // its last step appends to the log and clears the files
                            let receipt = self.run_erase(tenant, owner, job, log).await?;
                            if suppress {
                                self.hints.forget(tenant);
                            }
                            return Ok(receipt);
                        }
                    }
                };
                if let (Some(receipt), Some(turn)) = (done, write.commit_holding().await?) {
                    if suppress {
                        self.hints.forget(tenant);
                    }
                    // the values are gone from the tables; now from the files (an erase
                    // answered from its receipt does this again, for one that failed here)
                    checkpoint::clear_log(&self.pool, self.in_memory).await?;
                    drop(turn);
                    return Ok(receipt);
                }
            }
            backoff(attempt).await;
        }
        Err(contention())
    }

    async fn erasures(&self, tenant: &TenantId) -> Result<Vec<ErasureRecord>> {
        let mut conn = self.read_snapshot_of(tenant).await?;
        erase::records(&mut conn, tenant).await
    }

    async fn reapply_erasures(
        &self,
        tenant: &TenantId,
        records: &[ErasureRecord],
    ) -> Result<ReapplyReport> {
        for attempt in 1..=MAX_ATTEMPTS {
            if let Some(mut write) = self.begin_write(Some(tenant)).await? {
                let report = reapply::reapply(&mut write.tx, tenant, records).await?;
                if let Some(turn) = write.commit_holding().await? {
                    self.hints.forget(tenant);
                    checkpoint::clear_log(&self.pool, self.in_memory).await?;
                    drop(turn);
                    return Ok(report);
                }
            }
            backoff(attempt).await;
        }
        Err(contention())
    }

    fn job_progress(&self, tenant: &TenantId) -> Option<crate::progress::JobProgress> {
        self.progress.of(tenant)
    }

    async fn backup_to(&self, path: &Path, overwrite: bool) -> Result<()> {
        if self.in_memory {
            // VACUUM INTO writes through the database's own (memory) file system: no file
            return Err(Error::Conflict {
                reason: "an in-memory SQLite database cannot be backed up to a file: nothing \
                         of it outlives the process (use a sqlite: file URL)"
                    .to_owned(),
            });
        }
        backup::backup_to(&self.pool, path, overwrite).await
    }

    async fn import(
        &self,
        tenant: &TenantId,
        batch: ImportBatch,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        // planned outside the write lock, under the settings the tenant has now
        self.wait_for_tenant(tenant).await?;
        let state = {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(|e| Error::store("importing contacts", e))?;
            operations::import_settings(&mut steps::SqliteSteps(&mut conn), tenant)
                .await
                .map_err(|f| f.into_error("importing contacts"))?
        };
        let plan = crate::import::plan(batch, &state, options)?;
        let mut began = None;
        for attempt in 1..=MAX_ATTEMPTS {
            began = self.begin_write(Some(tenant)).await?;
            if began.is_some() {
                break;
            }
            backoff(attempt).await;
        }
        let Some(mut write) = began else {
            return Err(contention());
        };
        let mut tx = steps::SqliteSteps(&mut write.tx);
        let begun = operations::begin_import(&mut tx, tenant, plan, &state, options.dry_run)
            .await
            .map_err(|f| f.into_error("importing contacts"))?;
        let (loader, report) = match begun {
            operations::Begun::Dry(report) => return Ok(report),
            operations::Begun::Load { rows, report, kept } => (
                import::loader(&mut write.tx, rows, kept, &state).await?,
                report,
            ),
        };
        // a small import in this transaction, a large one a step per transaction
        if loader.size() <= jobs::STEP {
            let mut loader = loader;
            loader.work(&mut write.tx, tenant, usize::MAX).await?;
            if !write.commit().await? {
                return Err(Error::Contention { attempts: 1 });
            }
            return Ok(report);
        }
        let owner = jobs::new_owner();
        jobs::start(&mut write.tx, tenant, "import", owner, "{}").await?;
        if !write.commit().await? {
            return Err(Error::Contention { attempts: 1 });
        }
        self.run_import(tenant, owner, loader).await?;
        Ok(report)
    }

    async fn foreign_tables(&self) -> Result<Vec<String>> {
        foreign::foreign_tables(&self.pool).await
    }

    async fn customer(
        &self,
        tenant: &TenantId,
        id: ContactId,
    ) -> Result<(ContactId, Vec<Contact>)> {
        let mut conn = self.read_snapshot_of(tenant).await?;
        operations::customer_rows(&mut steps::SqliteSteps(&mut conn), tenant, id)
            .await
            .map_err(|f| f.into_error("reading a customer"))
    }

    async fn all_contacts(&self, tenant: &TenantId) -> Result<Vec<Contact>> {
        let mut conn = self.read_snapshot_of(tenant).await?;
        records::all_rows(&mut conn, tenant).await
    }

    async fn verify(&self, tenant: &TenantId) -> Result<VerifyReport> {
        let mut conn = self.read_snapshot_of(tenant).await?;
        let (rows, customers, identifiers, pending) =
            records::everything(&mut conn, tenant).await?;
        let state = settings::state(&mut *conn, tenant).await?;
        let blocked = |kind, value: &str| state.blocked.blocks(kind, value);
        Ok(verify(
            &rows,
            &customers,
            &identifiers,
            pending,
            state.region,
            &blocked,
        ))
    }

    async fn rebuild(&self, tenant: &TenantId) -> Result<RebuildReport> {
        // the rebuild applies every pending change too, and reports its relinks
        let derived = writing!(self.begin_write_for(tenant), |tx| {
            records::rebuild(tx, tenant).await?
        });
        Ok(RebuildReport::of(&derived))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| Error::store("checking the database", e))
    }

    async fn probe_write(&self) -> Result<()> {
        const PROBE: &str =
            "INSERT OR REPLACE INTO identity_probe (id, filler) VALUES (1, zeroblob(65536))";
        writing!(self.begin_write(None), |tx| {
            sqlx::query(PROBE)
                .execute(tx)
                .await
                .map_err(|e| Error::store("trying a write", e))?
        });
        Ok(())
    }

    async fn close(&self) {
        self.lanes.close();
        self.pool.close().await;
        self.writer.lock().await.close().await;
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn pool_stats(&self) -> PoolStats {
        // a kept connection counts as idle; no count of waiting calls, as before: SQLite's
        // writers queue on its write lock
        PoolStats {
            waiting: None,
            ..self.lanes.stats()
        }
    }

    async fn feed_stats(&self) -> Result<FeedStats> {
        let fail = |e| Error::store("reading the feed's statistics", e);
        // one read transaction: one snapshot for both statements
        let mut tx = self.pool.begin().await.map_err(fail)?;
        let stats = feed::stats(&mut tx)
            .await
            .map_err(|f| f.into_error("reading the feed's statistics"))?;
        tx.rollback().await.map_err(fail)?;
        Ok(stats)
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
