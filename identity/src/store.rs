//! The [`ContactStore`] trait, the seam between the pure reconcile step and storage, and the
//! three stores that implement it.

mod closure;
mod encoding;
pub(crate) mod feed_signal;
pub(crate) mod lanes;
mod operations;
mod outcome;
pub mod postgres;
mod record_cache;
pub mod sqlite;
mod steps;
mod tenant_hints;
pub(crate) mod watched;
pub mod webhooks;

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::blocked::BlockedValue;
use crate::contact::{Contact, ContactId};
use crate::derive::RebuildReport;
use crate::erase::Erasure;
use crate::erasure::ErasureRecord;
use crate::erasure_log::ErasureLog;
use crate::error::{Error, Result};
use crate::feed::{Cursor, FeedPage, PruneReport};
use crate::history::History;
use crate::import::{ImportBatch, ImportOptions, ImportReport};
use crate::limits::Limits;
use crate::reapply::ReapplyReport;
use crate::region::PhoneRegion;
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::settings::TenantSettings;
use crate::split::Split;
use crate::stats::{FeedStats, PoolStats, note_retry};
use crate::store::webhooks::WebhookStore;
use crate::tenant::TenantId;
use crate::verify::VerifyReport;

pub(crate) use closure::{Frontier, preview_from_rows};
pub(crate) use encoding::RecordText;
pub(crate) use outcome::{Failure, Outcome};
pub(crate) use tenant_hints::TenantHints;

/// How many times a store tries an identify that keeps meeting concurrent changes.
pub(crate) const MAX_ATTEMPTS: u32 = 16;

/// The refusal of a write that met concurrent changes on each of its [`MAX_ATTEMPTS`] tries.
pub(crate) fn contention() -> Error {
    Error::Contention {
        attempts: MAX_ATTEMPTS,
    }
}

/// Storage for contact rows that runs [`crate::reconcile()`] atomically.
///
/// Implementations must make `identify` linearizable per customer: after any interleaving of
/// concurrent calls (from any number of processes) every customer has exactly one primary (its
/// oldest row), every secondary links directly to it, no email or phone belongs to two customers,
/// and identical concurrent requests insert at most one row.
///
/// Every call that reads or writes data acts for one tenant: it sees, links, counts and repairs
/// only that tenant's rows and records, as if the store held no other tenant. Contact ids are
/// unique across tenants (one sequence), so an id of another tenant is simply not found.
///
/// The trait is object safe; [`crate::Identity`] holds one as `Arc<dyn ContactStore>`.
#[async_trait]
pub trait ContactStore: Send + Sync + fmt::Debug {
    /// Creates the schema, or finds it current. Idempotent; safe to call from several processes
    /// at once.
    ///
    /// # Errors
    /// [`crate::Error::Conflict`], changing nothing, for a database an earlier build of identity
    /// created (its schema cannot be upgraded in place: move its data to a new database);
    /// [`crate::Error::Store`] or [`crate::Error::Unavailable`] when the database fails.
    async fn migrate(&self) -> Result<()>;

    /// Links the request into its customer (inserting or relinking rows as needed) and answers
    /// with the consolidated customer. The request's phone number is read in the tenant's phone
    /// region, when it has one ([`crate::IdentifyRequest::in_region`]), as the tenant's settings
    /// stand when the write commits.
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] when the phone number is not valid in the tenant's region;
    /// [`crate::Error::Store`], [`crate::Error::Unavailable`], [`crate::Error::Closed`],
    /// [`crate::Error::Contention`]; nothing is written when an error is returned.
    async fn identify(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<ConsolidatedContact>;

    /// Answers what `identify` would, without writing: `None` when no row matches.
    ///
    /// # Errors
    /// As [`ContactStore::identify`], except contention.
    async fn lookup(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<Option<ConsolidatedContact>>;

    /// The tenant's settings (defaults for a tenant that never set any).
    ///
    /// # Errors
    /// As [`ContactStore::lookup`].
    async fn settings(&self, tenant: &TenantId) -> Result<TenantSettings>;

    /// Sets (or with `None` clears) the tenant's phone region, which is allowed while the tenant
    /// has no contact rows, deleted ones included (its numbers are stored in the region's form);
    /// setting the region it already has is a no-op. Waits for the tenant's writes in flight,
    /// and a write parsed under the old region does not commit after it.
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] when the region would change and the tenant has rows;
    /// otherwise as [`ContactStore::identify`].
    async fn set_phone_region(
        &self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Result<TenantSettings>;

    /// Sets the tenant's per-customer caps ([`crate::Limits`]); setting the caps it has is a
    /// no-op. Waits for the tenant's writes in flight, and no write planned under the old caps
    /// commits after it (the caps move with the blocked list's version).
    ///
    /// # Errors
    /// As [`ContactStore::identify`].
    async fn set_limits(&self, tenant: &TenantId, limits: Limits) -> Result<TenantSettings>;

    /// The tenant's blocked list, sorted ([`BlockedValue::defaults`] until it changes).
    ///
    /// # Errors
    /// As [`ContactStore::lookup`].
    async fn blocked_values(&self, tenant: &TenantId) -> Result<Vec<BlockedValue>>;

    /// Adds `entry` to the tenant's blocked list (an exact phone number in the form of the
    /// tenant's phone region, when it has one); `false` when it was there. Waits for the
    /// tenant's writes in flight, and no write screened under the old list commits after it.
    ///
    /// # Errors
    /// As [`ContactStore::identify`].
    async fn block(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool>;

    /// Removes `entry` from the tenant's blocked list; `false` when it was not there. As
    /// [`ContactStore::block`] otherwise.
    ///
    /// # Errors
    /// As [`ContactStore::identify`].
    async fn unblock(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool>;

    /// The history of the customer that the tenant's visible row `id` belongs to now: its
    /// events and those of every customer it absorbed, each up to the merge, with the
    /// blocked-list changes that match their values, oldest first ([`History`]). Every write
    /// records its events in the transaction that makes the change.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] when the tenant has no visible row `id`; otherwise as
    /// [`ContactStore::lookup`].
    async fn history(&self, tenant: &TenantId, id: ContactId) -> Result<History>;

    /// A page of the tenant's change feed: its events after `after` (from the oldest retained
    /// when `None`), at most `limit` (1 to [`crate::feed::MAX_PAGE`]), in commit order, and the
    /// cursor to read on from ([`crate::feed`] says what the events are). One snapshot: no
    /// event is skipped, whatever order concurrent writes commit in.
    ///
    /// # Errors
    /// [`crate::Error::CursorExpired`] when retention pruned events after `after`;
    /// [`crate::Error::InvalidInput`] ([`crate::Field::Cursor`]) when `after` points past the
    /// feed's last event, ([`crate::Field::Limit`]) for a bad `limit`; otherwise as
    /// [`ContactStore::lookup`].
    async fn events(
        &self,
        tenant: &TenantId,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<FeedPage>;

    /// The store's webhook endpoints and their delivery state ([`crate::webhook`]).
    fn webhooks(&self) -> &dyn WebhookStore;

    /// Retention: deletes every tenant's feed events older than `before`, from each feed's
    /// oldest on (an imported row's event goes with the first later event that is old
    /// enough), in chunks that never hold writers up for long; a cursor into what went is
    /// expired from then on, and history tells what is left.
    ///
    /// # Errors
    /// As [`ContactStore::identify`].
    async fn prune_events(&self, before: time::OffsetDateTime) -> Result<PruneReport>;

    /// Moves the rows `contact_ids` of the customer that the tenant's visible row `customer`
    /// belongs to into a new customer kept apart from it ([`crate::Identity::split`] says
    /// what it does), with its records, its history events and, with `block_shared`, the
    /// blocked entries of the values the parts share, in one transaction. Waits for the
    /// tenant's writes in flight, as [`ContactStore::block`] does.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`], [`crate::Error::InvalidInput`], [`crate::Error::Conflict`]
    /// as [`crate::Identity::split`] says; otherwise as [`ContactStore::identify`].
    async fn split(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        contact_ids: &[ContactId],
        block_shared: bool,
    ) -> Result<Split>;

    /// Erases the customer that the tenant's visible row `customer` belongs to
    /// ([`crate::Identity::erase`] says what goes and what stays): its rows, records,
    /// identifiers, kept-apart pairs and the personal data of its history, with, when
    /// `suppress`, its values added to the tenant's suppressed values, in one transaction.
    /// Waits for the tenant's writes in flight, as [`ContactStore::block`] does. Answers the
    /// stored receipt, changing nothing, when `customer` is a row it erased before. Keeps the
    /// erase's [`ErasureRecord`] beside its receipt and, before committing, appends it to
    /// `log` when one is given. A store with files clears the erased values from them before
    /// it answers (SQLite: see `store/sqlite/checkpoint.rs`).
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] when the tenant has no visible row `customer` and erased
    /// none with that id; [`crate::Error::ErasureLog`] when the record cannot be appended
    /// (nothing changed); otherwise as [`ContactStore::identify`].
    async fn erase(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        suppress: bool,
        log: Option<&ErasureLog>,
    ) -> Result<Erasure>;

    /// The tenant's erasure records, oldest first ([`crate::Identity::erasures`]).
    ///
    /// # Errors
    /// As [`ContactStore::lookup`].
    async fn erasures(&self, tenant: &TenantId) -> Result<Vec<ErasureRecord>>;

    /// Applies the tenant's `records` again, in one transaction, as
    /// [`crate::Identity::reapply_erasures`] says (every record is the tenant's).
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] when a record's digests were taken under another secret;
    /// otherwise as [`ContactStore::split`] and [`ContactStore::erase`]. Nothing changes on an
    /// error.
    async fn reapply_erasures(
        &self,
        tenant: &TenantId,
        records: &[ErasureRecord],
    ) -> Result<ReapplyReport>;

    /// How far the tenant's long write run by this process has got (an import or erase that
    /// runs in steps), or `None` when it runs none. No I/O: it reads what the steps noted.
    fn job_progress(&self, tenant: &TenantId) -> Option<crate::progress::JobProgress>;

    /// Writes a consistent copy of the whole database (every tenant) to a new file at `path`,
    /// while it serves ([`crate::Identity::backup_to`]). Only SQLite has one; the other stores
    /// refuse.
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] for a store this cannot copy, or when `path` exists and
    /// `overwrite` is not set; [`crate::Error::Store`] when the copy fails (nothing is left at
    /// `path` then).
    async fn backup_to(&self, path: &std::path::Path, overwrite: bool) -> Result<()> {
        let _ = (path, overwrite);
        Err(Error::Conflict {
            reason: format!(
                "a {} store cannot be copied by this library: back it up with its own tools \
                 (PostgreSQL: pg_dump; see docs/operations.md)",
                self.backend()
            ),
        })
    }

    /// Imports historical checkouts or a table's rows into the tenant, which must have no
    /// contact rows (deleted ones included), as [`crate::Identity::import`] and
    /// [`crate::Identity::import_table`] say, with their derived records and history, in one
    /// transaction that holds the tenant's writes meanwhile. With [`ImportOptions::dry_run`]
    /// it only plans and reports.
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] when the tenant has rows or per-customer limits, or a table's
    /// ids are taken; [`crate::Error::InvalidInput`] when a checkout or row is refused under
    /// [`crate::import::OnError::Abort`]; otherwise as [`ContactStore::identify`]. Nothing is
    /// written when an error is returned.
    async fn import(
        &self,
        tenant: &TenantId,
        batch: ImportBatch,
        options: ImportOptions,
    ) -> Result<ImportReport>;

    /// The tables of another implementation of the task that hold rows while this store holds
    /// none, by name (`"Contact"` of Prisma, `"Contacts"` of Sequelize, a camelCase `contact`
    /// of TypeORM): a service started on such a database would begin a second, unrelated set of
    /// customers beside them. Reads the catalog only, so it may run before
    /// [`ContactStore::migrate`].
    ///
    /// # Errors
    /// As [`ContactStore::ping`].
    async fn foreign_tables(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// The customer the tenant's visible row `id` belongs to now: its primary's id and its
    /// visible rows, by id, read in one snapshot.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] when the tenant has no visible row `id`; otherwise as
    /// [`ContactStore::lookup`].
    async fn customer(&self, tenant: &TenantId, id: ContactId)
    -> Result<(ContactId, Vec<Contact>)>;

    /// Every visible row of the tenant, by id. Reads all of them: for tests, audits and small tools.
    ///
    /// # Errors
    /// As [`ContactStore::lookup`].
    async fn all_contacts(&self, tenant: &TenantId) -> Result<Vec<Contact>>;

    /// Compares the tenant's `contact` rows with I1-I4 and the derived records (identifiers, customers)
    /// with what the rows define, and reports every difference. Reads everything.
    ///
    /// # Errors
    /// As [`ContactStore::lookup`].
    async fn verify(&self, tenant: &TenantId) -> Result<VerifyReport>;

    /// Recomputes every derived record of the tenant from its `contact` rows, repairing rows that break the
    /// model the way the contract defines (see [`crate::derive()`]), in one transaction.
    /// The tenant's identifies wait meanwhile (other tenants' go on); reads go on.
    ///
    /// # Errors
    /// As [`ContactStore::identify`].
    async fn rebuild(&self, tenant: &TenantId) -> Result<RebuildReport>;

    /// Checks that the database answers (one trivial query); for readiness probes.
    ///
    /// # Errors
    /// [`crate::Error::Unavailable`] or [`crate::Error::Closed`] when it does not.
    async fn ping(&self) -> Result<()>;

    /// Commits a write that no call reads (one 64 KiB row rewritten), to learn whether the
    /// storage takes writes again after refusing one ([`crate::Error::storage_refusal`]). A
    /// store without storage of its own has nothing to refuse: it succeeds.
    ///
    /// # Errors
    /// As [`ContactStore::identify`]: [`crate::Error::Unavailable`] while the storage refuses.
    async fn probe_write(&self) -> Result<()> {
        Ok(())
    }

    /// Closes the store's connections; later calls fail with [`crate::Error::Closed`].
    async fn close(&self);

    /// The backend's name: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The store's connections now: in use, idle, callers waiting.
    fn pool_stats(&self) -> PoolStats;

    /// The feed's size and every webhook endpoint's backlog, over every tenant (one short read).
    ///
    /// # Errors
    /// As [`ContactStore::events`].
    async fn feed_stats(&self) -> Result<FeedStats>;
}

/// A shared store is a store: keep an `Arc` to a concrete store while an [`crate::Identity`]
/// uses it too.
#[async_trait]
impl<S: ContactStore + ?Sized> ContactStore for std::sync::Arc<S> {
    async fn migrate(&self) -> Result<()> {
        (**self).migrate().await
    }

    async fn identify(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<ConsolidatedContact> {
        (**self).identify(tenant, request).await
    }

    async fn lookup(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<Option<ConsolidatedContact>> {
        (**self).lookup(tenant, request).await
    }

    async fn settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        (**self).settings(tenant).await
    }

    async fn set_phone_region(
        &self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Result<TenantSettings> {
        (**self).set_phone_region(tenant, region).await
    }

    async fn set_limits(&self, tenant: &TenantId, limits: Limits) -> Result<TenantSettings> {
        (**self).set_limits(tenant, limits).await
    }

    async fn blocked_values(&self, tenant: &TenantId) -> Result<Vec<BlockedValue>> {
        (**self).blocked_values(tenant).await
    }

    async fn block(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool> {
        (**self).block(tenant, entry).await
    }

    async fn unblock(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool> {
        (**self).unblock(tenant, entry).await
    }

    async fn history(&self, tenant: &TenantId, id: ContactId) -> Result<History> {
        (**self).history(tenant, id).await
    }

    async fn events(
        &self,
        tenant: &TenantId,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<FeedPage> {
        (**self).events(tenant, after, limit).await
    }

    fn webhooks(&self) -> &dyn WebhookStore {
        (**self).webhooks()
    }

    async fn prune_events(&self, before: time::OffsetDateTime) -> Result<PruneReport> {
        (**self).prune_events(before).await
    }

    async fn split(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        contact_ids: &[ContactId],
        block_shared: bool,
    ) -> Result<Split> {
        (**self)
            .split(tenant, customer, contact_ids, block_shared)
            .await
    }

    async fn erase(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        suppress: bool,
        log: Option<&ErasureLog>,
    ) -> Result<Erasure> {
        (**self).erase(tenant, customer, suppress, log).await
    }

    async fn erasures(&self, tenant: &TenantId) -> Result<Vec<ErasureRecord>> {
        (**self).erasures(tenant).await
    }

    async fn reapply_erasures(
        &self,
        tenant: &TenantId,
        records: &[ErasureRecord],
    ) -> Result<ReapplyReport> {
        (**self).reapply_erasures(tenant, records).await
    }

    async fn backup_to(&self, path: &std::path::Path, overwrite: bool) -> Result<()> {
        (**self).backup_to(path, overwrite).await
    }

    fn job_progress(&self, tenant: &TenantId) -> Option<crate::progress::JobProgress> {
        (**self).job_progress(tenant)
    }

    async fn import(
        &self,
        tenant: &TenantId,
        batch: ImportBatch,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        (**self).import(tenant, batch, options).await
    }

    async fn foreign_tables(&self) -> Result<Vec<String>> {
        (**self).foreign_tables().await
    }

    async fn customer(
        &self,
        tenant: &TenantId,
        id: ContactId,
    ) -> Result<(ContactId, Vec<Contact>)> {
        (**self).customer(tenant, id).await
    }

    async fn all_contacts(&self, tenant: &TenantId) -> Result<Vec<Contact>> {
        (**self).all_contacts(tenant).await
    }

    async fn verify(&self, tenant: &TenantId) -> Result<VerifyReport> {
        (**self).verify(tenant).await
    }

    async fn rebuild(&self, tenant: &TenantId) -> Result<RebuildReport> {
        (**self).rebuild(tenant).await
    }

    async fn ping(&self) -> Result<()> {
        (**self).ping().await
    }

    async fn probe_write(&self) -> Result<()> {
        (**self).probe_write().await
    }

    async fn close(&self) {
        (**self).close().await;
    }

    fn backend(&self) -> &'static str {
        (**self).backend()
    }

    fn pool_stats(&self) -> PoolStats {
        (**self).pool_stats()
    }

    async fn feed_stats(&self) -> Result<FeedStats> {
        (**self).feed_stats().await
    }
}

/// The columns every SQL store selects, in this order.
pub(crate) type ContactRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    OffsetDateTime,
    OffsetDateTime,
);

/// Decodes selected rows into [`Contact`]s.
pub(crate) fn decode_rows(rows: Vec<ContactRow>) -> Result<Vec<Contact>> {
    rows.into_iter()
        .map(|(id, email, phone, linked, precedence, created, updated)| {
            Contact::from_stored(
                id,
                email.as_deref(),
                phone.as_deref(),
                linked,
                &precedence,
                created,
                updated,
            )
        })
        .collect()
}

/// A short, jittered pause before retry `attempt` (1-based): 1 ms doubling to at most 64 ms.
/// Counted as a retry of the current call ([`crate::Identity::stats`]).
pub(crate) async fn backoff(attempt: u32) {
    note_retry();
    let cap_micros = 1_000u64 << attempt.min(6);
    let nanos = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos(),
    );
    let micros = cap_micros / 2 + nanos % (cap_micros / 2);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

/// Why [`refuse_earlier_builds`] refuses a database.
const EARLIER_BUILD: &str = "this database was created by an earlier build of identity whose \
schema cannot be upgraded in place; move its data to a new database (`identity import \
--from-table` reads its contact table on postgresql; `identity export` of that build writes its \
customers)";

/// Refuses, before a store migrates, a database that an earlier build of identity migrated:
/// `applied` (each migration the database records, as version and checksum; empty when it
/// records none) names a version `migrator` does not hold, or holds with other SQL. Those builds'
/// migrations were squashed into one baseline before the first release, so no path leads from
/// their schema to this one; sqlx would fail with a missing migration or a checksum mismatch.
pub(crate) fn refuse_earlier_builds(
    applied: &[(i64, Vec<u8>)],
    migrator: &sqlx::migrate::Migrator,
) -> Result<()> {
    let known = |(version, checksum): &(i64, Vec<u8>)| {
        migrator
            .iter()
            .any(|m| m.version == *version && *m.checksum == **checksum)
    };
    if applied.iter().all(known) {
        Ok(())
    } else {
        Err(Error::Conflict {
            reason: EARLIER_BUILD.to_owned(),
        })
    }
}

/// Maps a migration failure, keeping the driver error as the source.
pub(crate) fn migrate_error(e: sqlx::migrate::MigrateError) -> Error {
    match e {
        sqlx::migrate::MigrateError::Execute(source) => {
            Error::store("migrating the schema", source)
        }
        other => Error::store(
            "migrating the schema",
            sqlx::Error::Migrate(Box::new(other)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_of_an_earlier_build_is_refused_and_a_new_or_current_one_is_not() {
        for migrator in [
            sqlx::migrate!("./migrations/postgres"),
            sqlx::migrate!("./migrations/sqlite"),
        ] {
            let current: Vec<(i64, Vec<u8>)> = migrator
                .iter()
                .map(|m| (m.version, m.checksum.to_vec()))
                .collect();
            refuse_earlier_builds(&[], &migrator).unwrap();
            refuse_earlier_builds(&current, &migrator).unwrap();
            // a migration squashed into the baseline, and the baseline as an earlier build had it
            let squashed = [(20261121000001, current[0].1.clone())];
            let edited = [(current[0].0, vec![0; current[0].1.len()])];
            for applied in [&squashed[..], &edited[..]] {
                let err = refuse_earlier_builds(applied, &migrator).unwrap_err();
                assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
            }
        }
    }
}
