//! `identity-reconciliation` for Node.js: the identity core as a Promise API. The binding
//! converts arguments, runs the core on napi's tokio runtime (never on the event loop), and maps
//! errors to `Error`s with a stable `code`; the rules all live in the core.

mod blocked;
mod contact;
mod convert;
mod erase;
mod erasures;
mod errors;
mod feed;
mod history;
mod import;
mod import_table;
mod options;
mod progress;
mod reports;
mod rows;
mod split;
mod stats;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use napi::ValueType;
use napi::bindgen_prelude::{Env, Object, PromiseRaw, Result, ToNapiValue, Unknown};
use napi_derive::napi;

use crate::blocked::BlockedEntry;
pub use crate::contact::Contact;
use crate::erase::Erasure;
use crate::errors::Failure;
use crate::feed::EventsPage;
use crate::history::History;
pub use crate::import::CheckoutInput;
use crate::import::ImportReport;
pub use crate::import_table::TableRowInput;
use crate::reports::{RebuildReport, TenantSettings, VerifyReport};
use crate::rows::{ContactRow, Customer};
use crate::split::Split;

/// What `identify` and `lookup` take. Blank strings count as absent; at least one value is
/// required. Any other type is rejected with `code: 'INVALID_INPUT'`.
#[napi(object)]
pub struct IdentifyInput {
    /// The checkout's email.
    #[napi(ts_type = "string | null")]
    pub email: Option<String>,
    /// The checkout's phone number: a string, or a non-negative integer (number up to
    /// `Number.MAX_SAFE_INTEGER`, or bigint) meaning its decimal digits.
    #[napi(ts_type = "string | number | bigint | null")]
    pub phone_number: Option<String>,
}

/// The fields this package adds to the `Error`s it rejects with:
/// `catch (e) { const { code, field } = e as Error & IdentityErrorInfo }`.
#[napi(object)]
pub struct IdentityErrorInfo {
    /// The core's kind: `'INVALID_INPUT'` (nothing was written), `'CONFLICT'` (valid, but the
    /// data forbids it; nothing was changed), `'BLOCKED_VALUE'` (every value of the request is
    /// blocked; nothing was written), `'NOT_FOUND'` (no such contact in the tenant),
    /// `'UNAVAILABLE'` (the database cannot be reached or has no free connection; retryable),
    /// `'CONTENTION'` (concurrent requests kept changing the same customers; retryable),
    /// `'STORE'` (the database answered with an error), `'CORRUPT_DATA'` (rows or records edited
    /// by hand break the model), `'EXPIRED'` (a feed cursor older than the events kept),
    /// `'CLOSED'` or `'INTERNAL'` (a bug).
    #[napi(
        ts_type = "'INVALID_INPUT' | 'CONFLICT' | 'BLOCKED_VALUE' | 'NOT_FOUND' | 'UNAVAILABLE' | 'CONTENTION' | 'STORE' | 'CORRUPT_DATA' | 'EXPIRED' | 'CLOSED' | 'INTERNAL'"
    )]
    pub code: String,
    /// Whether the same call may succeed later (`UNAVAILABLE`, `CONTENTION`).
    pub retryable: bool,
    /// With `INVALID_INPUT`: `'email'`, `'phoneNumber'`, `'request'`, `'tenant'`, `'phoneRegion'`,
    /// `'kind'`, `'value'`, `'pattern'`, `'contactId'`, `'contactIds'`, `'limits'`, `'checkouts'`,
    /// `'table'`, `'onError'`, `'erasures'`, `'after'`, `'limit'`, `'wait'`, `'path'`, `'url'`,
    /// `'types'`, `'webhookId'`, `'secret'` or an option name.
    pub field: Option<String>,
    /// With `BLOCKED_VALUE`: the request's fields that were blocked.
    #[napi(ts_type = "Array<'email' | 'phoneNumber'>")]
    pub fields: Option<Vec<String>>,
}

/// Options of `Identity.connect`.
#[napi(object)]
pub struct ConnectOptions {
    /// PostgreSQL: most pooled connections (default 10).
    pub max_connections: Option<u32>,
    /// How long a call waits for a free connection before failing with `UNAVAILABLE`, in ms (default 5000).
    pub acquire_timeout_ms: Option<u32>,
    /// A file every erase through this store appends its record to (`ErasureRecord`, no
    /// personal data), flushed to disk before the erase commits: keep it off the database's
    /// disk, and after restoring a backup give `readErasureLog(file)` to `reapplyErasures()`.
    pub erasure_log: Option<String>,
    /// Accept webhook targets on loopback, private and link-local addresses (default `false`:
    /// refused, so a tenant cannot make the service call into its own network).
    pub allow_private_webhooks: Option<bool>,
}

/// A handle on a store, acting for one tenant (`'default'` unless made by `tenant()`). Every
/// method returns a Promise and runs off the event loop, so many calls in flight run
/// concurrently. Errors carry `code`: `'INVALID_INPUT'` (with `field`), `'CONFLICT'`,
/// `'BLOCKED_VALUE'` (with `fields`), `'NOT_FOUND'`, `'UNAVAILABLE'`, `'CONTENTION'`, `'STORE'`,
/// `'CORRUPT_DATA'`, `'CLOSED'` or `'INTERNAL'`, and `retryable`.
#[napi]
pub struct Identity {
    inner: identity::Identity,
    closed: Arc<AtomicBool>,
}

#[napi]
impl Identity {
    /// Connects to `url` (`postgres://…`, `sqlite:path`, `sqlite::memory:` or `memory:`) and runs
    /// the migrations.
    #[napi(
        ts_args_type = "url: string, options?: ConnectOptions",
        ts_return_type = "Promise<Identity>"
    )]
    pub fn connect<'env>(
        env: &'env Env,
        url: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, Identity>> {
        let parsed = connect_arguments(&url, options.as_ref());
        env.spawn_future_with_callback(
            async move {
                Ok(match parsed {
                    Ok((url, options)) => identity::Identity::connect_with(&url, &options)
                        .await
                        .map_err(Failure::from),
                    Err(f) => Err(f),
                })
            },
            |env, outcome| match outcome {
                Ok(inner) => Ok(Identity {
                    inner,
                    closed: Arc::new(AtomicBool::new(false)),
                }),
                Err(f) => Err(f.into_js(env)),
            },
        )
    }

    /// A handle on the same store acting for tenant `id` (1-64 of `A-Z a-z 0-9 . _ -`): its
    /// calls see only that tenant's customers. Cheap and synchronous: no I/O, the connections
    /// are shared (so `close()` on any handle closes them for all). Throws `INVALID_INPUT` with
    /// `field: 'tenant'` for a bad id.
    #[napi(ts_args_type = "id: string")]
    pub fn tenant(&self, env: Env, id: Unknown<'_>) -> Result<Identity> {
        let scoped = convert::tenant(&id).map(|tenant| Identity {
            inner: self.inner.for_tenant(tenant),
            closed: Arc::clone(&self.closed),
        });
        scoped.map_err(|f| f.into_js(&env))
    }

    /// The tenant this handle acts for.
    #[napi(getter)]
    pub fn tenant_id(&self) -> String {
        self.inner.tenant_id().to_string()
    }

    /// Links the checkout into its customer; resolves to the consolidated customer.
    #[napi(
        ts_args_type = "input: IdentifyInput",
        ts_return_type = "Promise<Contact>"
    )]
    pub fn identify<'env>(
        &self,
        env: &'env Env,
        input: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, Contact>> {
        let work = self.usable().and_then(|inner| {
            let request = convert::request(&input)
                .inspect_err(|_| inner.count_refused_identify(identity::ErrorKind::InvalidInput))?;
            Ok((inner, request))
        });
        promise(env, work, |(inner, request)| async move {
            inner.identify_request(&request).await.map(Contact::from)
        })
    }

    /// Resolves to the customer an email and/or phone belongs to, or `null`; writes nothing.
    #[napi(
        ts_args_type = "input: IdentifyInput",
        ts_return_type = "Promise<Contact | null>"
    )]
    pub fn lookup<'env>(
        &self,
        env: &'env Env,
        input: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, Option<Contact>>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, convert::request(&input)?)));
        promise(env, work, |(inner, request)| async move {
            inner
                .lookup_request(&request)
                .await
                .map(|c| c.map(Contact::from))
        })
    }

    /// Resolves to the tenant's settings (`phoneRegion: null` when it has none).
    #[napi(ts_return_type = "Promise<TenantSettings>")]
    pub fn settings<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, TenantSettings>> {
        promise(env, self.usable(), |inner| async move {
            let settings = inner.settings().await?;
            Ok(TenantSettings::of(inner.tenant_id(), &settings))
        })
    }

    /// Sets the tenant's phone region (an ISO 3166 code such as `'IN'`; `null` clears it): from
    /// then on its national numbers are read in that region and every number is stored in
    /// E.164. Allowed while the tenant has no contacts; rejects with `CONFLICT` after, and with
    /// `INVALID_INPUT` (`field: 'phoneRegion'`) for a code that is not a region.
    #[napi(
        ts_args_type = "region: string | null",
        ts_return_type = "Promise<TenantSettings>"
    )]
    pub fn set_phone_region<'env>(
        &self,
        env: &'env Env,
        region: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, TenantSettings>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, convert::phone_region(&region)?)));
        promise(env, work, |(inner, region)| async move {
            let settings = inner.set_phone_region(region.as_deref()).await?;
            Ok(TenantSettings::of(inner.tenant_id(), &settings))
        })
    }

    /// Sets the tenant's per-customer caps on distinct emails and phone numbers (absent or
    /// `null`: no cap; `{}` lifts them). A request whose new value would pass a cap leaves it
    /// out, one that would merge two customers past a cap merges nothing (the email's customer
    /// answers); `ignored` says so with reason `'limit'`. Rejects with `INVALID_INPUT`
    /// (`field: 'limits'`) for a cap that is not a whole number from 1 to 1000000.
    #[napi(
        ts_args_type = "limits: { emails?: number | null, phones?: number | null }",
        ts_return_type = "Promise<TenantSettings>"
    )]
    pub fn set_limits<'env>(
        &self,
        env: &'env Env,
        limits: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, TenantSettings>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, options::limits(&limits)?)));
        promise(env, work, |(inner, limits)| async move {
            let settings = inner.set_limits(limits).await?;
            Ok(TenantSettings::of(inner.tenant_id(), &settings))
        })
    }

    /// Resolves to the tenant's blocked list, sorted (the defaults until it changes): values a
    /// request never stores and never matches.
    #[napi(ts_return_type = "Promise<BlockedEntry[]>")]
    pub fn blocked_values<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Vec<BlockedEntry>>> {
        promise(env, self.usable(), |inner| async move {
            let entries = inner.blocked_values().await?;
            Ok(entries.iter().map(BlockedEntry::from).collect())
        })
    }

    /// Blocks an exact value (`{ kind: 'email', value: 'x@y.io' }`) or a pattern
    /// (`{ kind: 'phone', pattern: '^0+$' }`) for the tenant; resolves to `false` when it was
    /// blocked already. From then on no request stores or matches it (rows stored before keep
    /// it). Rejects with `INVALID_INPUT` (`field: 'kind' | 'value' | 'pattern'`) for a bad entry.
    #[napi(
        ts_args_type = "entry: BlockedEntry",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn block<'env>(
        &self,
        env: &'env Env,
        entry: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, bool>> {
        self.change_blocked(env, &entry, true)
    }

    /// Removes an entry (a default one too) from the tenant's blocked list, named as `block`
    /// names it; resolves to `false` when it was not there.
    #[napi(
        ts_args_type = "entry: BlockedEntry",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn unblock<'env>(
        &self,
        env: &'env Env,
        entry: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, bool>> {
        self.change_blocked(env, &entry, false)
    }

    /// Resolves to the customer contact `contactId` belongs to now: `{ customerId, rows }`, its
    /// primary's id and every visible row, by id. Rejects with `NOT_FOUND` when the tenant has
    /// no such visible contact, `INVALID_INPUT` (`field: 'contactId'`) when the id is not a
    /// positive integer.
    #[napi(
        ts_args_type = "contactId: number | bigint",
        ts_return_type = "Promise<Customer>"
    )]
    pub fn customer<'env>(
        &self,
        env: &'env Env,
        contact_id: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, Customer>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, history::contact_id(&contact_id)?)));
        promise(env, work, |(inner, id)| async move {
            inner.customer(id).await.map(Customer::from)
        })
    }

    /// Resolves to the history of the customer that contact `contactId` belongs to now: its
    /// events and those of every customer it absorbed, oldest first, with the blocked-list
    /// changes that concern its values. Rejects with `NOT_FOUND` when the tenant has no such
    /// contact, `INVALID_INPUT` (`field: 'contactId'`) when the id is not a positive integer.
    #[napi(
        ts_args_type = "contactId: number | bigint",
        ts_return_type = "Promise<History>"
    )]
    pub fn history<'env>(
        &self,
        env: &'env Env,
        contact_id: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, History>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, history::contact_id(&contact_id)?)));
        promise(env, work, |(inner, id)| async move {
            inner.history(id).await.map(History::from)
        })
    }

    /// Resolves to a page of the tenant's change feed: the events after the cursor `after`
    /// (from the oldest kept when absent), at most `limit` (1 to 1000, default 100), oldest
    /// first, waiting up to `wait` seconds (0 to 30, default 0) while there are none; and
    /// `next`, the cursor to ask with next. Rejects with `INVALID_INPUT` (`field: 'after'`,
    /// `'limit'` or `'wait'`) for bad options and `EXPIRED` for a cursor older than the events
    /// kept. `feed()` follows the feed as an async iterator.
    #[napi(
        ts_args_type = "options?: { after?: string | null, limit?: number, wait?: number }",
        ts_return_type = "Promise<EventsPage>"
    )]
    pub fn events<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, EventsPage>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, feed::query(options.as_ref())?)));
        promise(env, work, |(inner, q)| async move {
            inner
                .events_wait(q.after, q.limit, q.wait)
                .await
                .map(EventsPage::from)
        })
    }

    /// Retention: deletes the feed events of every tenant of the store older than
    /// `olderThanDays` (default 30), oldest first; resolves to `{ events, tenants }`, the events
    /// deleted and the tenants they came from. Cursors into what went reject with `EXPIRED`, and
    /// `history()` tells what is left (`prunedBefore`).
    #[napi(
        ts_args_type = "options?: { olderThanDays?: number }",
        ts_return_type = "Promise<PruneReport>"
    )]
    pub fn prune_events<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, feed::PruneReport>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, feed::retention(options.as_ref())?)));
        promise(env, work, |(inner, age)| async move {
            inner.prune_events(age).await.map(feed::PruneReport::from)
        })
    }

    /// Undoes a wrong merge: moves the rows `contactIds` of the customer that contact
    /// `customer` belongs to into a new customer led by the oldest of them, kept apart from it
    /// from then on (a request carrying values of both is answered by the email's customer,
    /// the phone number ignored as `kept_apart`). Rejects with `CONFLICT` listing the values
    /// the two parts share, unless `{ blockShared: true }` blocks them as part of the split;
    /// `INVALID_INPUT` (`field: 'contactIds'`) for an empty list, a row of another customer or
    /// every row; `NOT_FOUND` for an unknown `customer`.
    #[napi(
        ts_args_type = "customer: number | bigint, contactIds: Array<number | bigint>, options?: { blockShared?: boolean }",
        ts_return_type = "Promise<Split>"
    )]
    pub fn split<'env>(
        &self,
        env: &'env Env,
        customer: Unknown<'env>,
        contact_ids: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, Split>> {
        let work = self.usable().and_then(|inner| {
            Ok((
                inner,
                history::contact_id(&customer)?,
                split::contact_ids(&contact_ids)?,
                options::flag(options.as_ref(), "blockShared")?,
            ))
        });
        promise(env, work, |(inner, customer, ids, block)| async move {
            inner.split(customer, &ids, block).await.map(Split::from)
        })
    }

    /// Erases the customer that contact `customer` belongs to (the right to be forgotten):
    /// its rows are hard-deleted with their derived records, and its emails and phone numbers
    /// removed from history (ids, kinds and times stay). With `{ suppress: true }` its values
    /// are kept only as keyed hashes, and later requests carrying one ignore it (reason
    /// `'suppressed'`). Erasing again by any former row id resolves to the same receipt.
    /// Rejects with `NOT_FOUND` for an unknown `customer`, `INVALID_INPUT` (`field:
    /// 'contactId'`) when it is not a positive integer.
    #[napi(
        ts_args_type = "customer: number | bigint, options?: { suppress?: boolean }",
        ts_return_type = "Promise<Erasure>"
    )]
    pub fn erase<'env>(
        &self,
        env: &'env Env,
        customer: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, Erasure>> {
        let work = self.usable().and_then(|inner| {
            Ok((
                inner,
                history::contact_id(&customer)?,
                options::flag(options.as_ref(), "suppress")?,
            ))
        });
        promise(env, work, |(inner, customer, suppress)| async move {
            inner.erase(customer, suppress).await.map(Erasure::from)
        })
    }

    /// Imports historical checkouts into the tenant, which must have no rows: the rows,
    /// customers and primaries that replaying them one by one through `identify` in time order
    /// would give (ties in the order given), in one transaction. Each checkout is `{ email,
    /// phoneNumber, at }`, `at` a `Date`, an RFC 3339 string or Unix seconds or milliseconds.
    /// A malformed checkout is named by its index: with `onError: 'abort'` (the default)
    /// nothing is written and the promise rejects with `INVALID_INPUT` (`field: 'checkouts'`)
    /// naming the first ones; with `'skip'` the rest is imported and the report lists them.
    /// `dryRun` plans and reports without writing. Rejects with `CONFLICT` when the tenant has
    /// rows or per-customer limits.
    #[napi(
        ts_args_type = "checkouts: CheckoutInput[], options?: { onError?: 'abort' | 'skip'; dryRun?: boolean }",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import_checkouts<'env>(
        &self,
        env: &'env Env,
        checkouts: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, ImportReport>> {
        let work = self.usable().and_then(|inner| {
            Ok((
                inner,
                import::records(&checkouts, &import::CHECKOUTS)?,
                import::options(options.as_ref())?,
            ))
        });
        promise(env, work, |(inner, records, options)| async move {
            inner
                .import_records(&records, options)
                .await
                .map(ImportReport::from)
        })
    }

    /// Imports an existing deployment's contact table into the tenant, which must have no
    /// rows: each row `{ id, email, phoneNumber, linkedId, createdAt, deletedAt }` (what
    /// `prisma.contact.findMany()` gives, soft-deleted rows included) keeps its id; rows the
    /// table linked stay one customer, led by its oldest row, which is the row the table made
    /// primary wherever the contract allows. `report.table` says which of the table's
    /// customers are led by another row now and why (`changedCustomers`), and lists every id
    /// that no longer names the same row of the same customer (`movedRows`). Later rows get
    /// ids above the table's highest. A malformed row is named by its id: with `onError:
    /// 'abort'` nothing is written and the promise rejects with `INVALID_INPUT` (`field:
    /// 'table'`); with `'skip'` it is left out. `renumber: true` numbers the rows anew
    /// instead, for a store that already gave out ids as high as the table's lowest (else
    /// `CONFLICT`).
    #[napi(
        ts_args_type = "rows: TableRowInput[], options?: { onError?: 'abort' | 'skip'; dryRun?: boolean; renumber?: boolean }",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import_table_rows<'env>(
        &self,
        env: &'env Env,
        rows: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, ImportReport>> {
        let work = self.usable().and_then(|inner| {
            Ok((
                inner,
                import::records(&rows, &import::TABLE_ROWS)?,
                import::options(options.as_ref())?,
            ))
        });
        promise(env, work, |(inner, records, options)| async move {
            inner
                .import_table_records(&records, options)
                .await
                .map(ImportReport::from)
        })
    }

    /// Resolves to every customer of the tenant, consolidated as `identify` answers it, by
    /// primary id (for warehouses and audits).
    #[napi(ts_return_type = "Promise<Contact[]>")]
    pub fn customers<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Vec<Contact>>> {
        promise(env, self.usable(), |inner| async move {
            inner
                .customers()
                .await
                .map(|all| all.into_iter().map(Contact::from).collect())
        })
    }

    /// Resolves to every visible row of the tenant's `contact` table, by id (reads all of
    /// them).
    #[napi(ts_return_type = "Promise<ContactRow[]>")]
    pub fn all_contacts<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Vec<ContactRow>>> {
        promise(env, self.usable(), |inner| async move {
            inner
                .all_contacts()
                .await
                .map(|all| all.into_iter().map(ContactRow::from).collect())
        })
    }

    /// Resolves when the database answers (one trivial query); for readiness probes. Rejects
    /// with `UNAVAILABLE` when it does not, `CLOSED` after `close()`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn ping<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        promise(
            env,
            self.usable(),
            |inner| async move { inner.ping().await },
        )
    }

    /// Checks the tenant's rows against I1-I4 and its derived records against the rows;
    /// resolves to the report of every difference (`clean` when there is none). Reads all of
    /// the tenant's data.
    #[napi(ts_return_type = "Promise<VerifyReport>")]
    pub fn verify<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, VerifyReport>> {
        promise(env, self.usable(), |inner| async move {
            inner.verify().await.map(VerifyReport::from)
        })
    }

    /// Recomputes every derived record of the tenant from its rows (repairing rows that break
    /// the model) in one transaction; resolves to what it did.
    #[napi(ts_return_type = "Promise<RebuildReport>")]
    pub fn rebuild<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, RebuildReport>> {
        promise(env, self.usable(), |inner| async move {
            inner.rebuild().await.map(RebuildReport::from)
        })
    }

    /// Closes the database connections (shared by every tenant handle of the store); later
    /// calls reject with `code: 'CLOSED'`. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let first = !self.closed.swap(true, Ordering::SeqCst);
        let inner = self.inner.clone();
        env.spawn_future(async move {
            if first {
                inner.close().await;
            }
            Ok(())
        })
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// `'sqlite'` (`memory:` too) or `'postgres'`.
    #[napi(getter)]
    pub fn backend(&self) -> &'static str {
        self.inner.store().backend()
    }
}

impl Identity {
    /// `block` (`add`) or `unblock` of the entry `entry` names.
    fn change_blocked<'env>(
        &self,
        env: &'env Env,
        entry: &Unknown<'env>,
        add: bool,
    ) -> Result<PromiseRaw<'env, bool>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, blocked::entry(entry)?)));
        promise(env, work, move |(inner, entry)| async move {
            if add {
                inner.block(&entry).await
            } else {
                inner.unblock(&entry).await
            }
        })
    }

    fn usable(&self) -> std::result::Result<identity::Identity, Failure> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Failure::closed());
        }
        Ok(self.inner.clone())
    }
}

/// Runs `call` with `work` (the checked arguments) on the addon's tokio runtime: the promise
/// resolves to its answer, or rejects with the failure's `code` (also when `work` failed).
fn promise<'env, W, V, F, Fut>(
    env: &'env Env,
    work: std::result::Result<W, Failure>,
    call: F,
) -> Result<PromiseRaw<'env, V>>
where
    W: Send + 'static,
    V: ToNapiValue + Send + 'static,
    F: FnOnce(W) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = identity::Result<V>> + Send + 'static,
{
    env.spawn_future_with_callback(
        async move {
            Ok(match work {
                Ok(work) => call(work).await.map_err(Failure::from),
                Err(f) => Err(f),
            })
        },
        |env, outcome| outcome.map_err(|f| f.into_js(env)),
    )
}

/// Reads `connect`'s arguments: a string URL and an optional options object.
fn connect_arguments(
    url: &Unknown<'_>,
    options: Option<&Unknown<'_>>,
) -> std::result::Result<(String, identity::ConnectOptions), Failure> {
    let bad_url = || Failure::invalid("url", "invalid database url: must be a string");
    if url.get_type().map_err(|_| bad_url())? != ValueType::String {
        return Err(bad_url());
    }
    // SAFETY: the type was checked just above.
    let url: String = unsafe { url.cast() }.map_err(|_| bad_url())?;
    let mut result = identity::ConnectOptions::default();
    let Some(options) =
        options.filter(|o| !matches!(o.get_type(), Ok(ValueType::Undefined | ValueType::Null)))
    else {
        return Ok((url, result));
    };
    let bad = |field: &'static str, what: &str| {
        Failure::invalid(field, format!("invalid {field}: {what}"))
    };
    if options.get_type().ok() != Some(ValueType::Object) {
        return Err(bad("options", "must be an object"));
    }
    // SAFETY: the type was checked just above.
    let object: Object<'_> =
        unsafe { options.cast() }.map_err(|_| bad("options", "must be an object"))?;
    let positive = |field: &'static str| -> std::result::Result<Option<u32>, Failure> {
        match object.get::<Unknown<'_>>(field).ok().flatten() {
            None => Ok(None),
            Some(v) if matches!(v.get_type(), Ok(ValueType::Undefined | ValueType::Null)) => {
                Ok(None)
            }
            Some(v) if v.get_type().ok() == Some(ValueType::Number) => {
                // SAFETY: the type was checked just above.
                let n: f64 =
                    unsafe { v.cast() }.map_err(|_| bad(field, "must be a positive integer"))?;
                if n.fract() == 0.0 && n >= 1.0 && n <= f64::from(u32::MAX) {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    // checked range
                    Ok(Some(n as u32))
                } else {
                    Err(bad(field, "must be a positive integer"))
                }
            }
            Some(_) => Err(bad(field, "must be a positive integer")),
        }
    };
    if let Some(n) = positive("maxConnections")? {
        result = result.max_connections(n);
    }
    if let Some(ms) = positive("acquireTimeoutMs")? {
        result = result.acquire_timeout(Duration::from_millis(u64::from(ms)));
    }
    if let Some(path) = erasures::log_option(&object)? {
        result = result.erasure_log(path);
    }
    match object
        .get::<Unknown<'_>>("allowPrivateWebhooks")
        .ok()
        .flatten()
    {
        None => {}
        Some(v) if matches!(v.get_type(), Ok(ValueType::Undefined | ValueType::Null)) => {}
        Some(v) if v.get_type().ok() == Some(ValueType::Boolean) => {
            // SAFETY: the type was checked just above.
            let allow: bool = unsafe { v.cast() }
                .map_err(|_| bad("allowPrivateWebhooks", "must be true or false"))?;
            result = result.allow_private_webhooks(allow);
        }
        Some(_) => return Err(bad("allowPrivateWebhooks", "must be true or false")),
    }
    Ok((url, result))
}
