//! `Identity`: the blocking API.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::blocked::{self, BlockedValue};
use crate::contact::Contact;
use crate::convert::{self, request};
use crate::erase::Erasure;
use crate::erasures::{self, ReapplyReport};
use crate::feed::{self, EventsPage, Feed};
use crate::handle::{Handle, options};
use crate::history::History;
use crate::import::{self, ImportReport};
use crate::reports::{RebuildReport, VerifyReport};
use crate::rows::{ContactRow, Customer};
use crate::settings::TenantSettings;
use crate::split::Split;
use crate::webhooks::{self, Delivery, Webhook, WebhookSender};
use crate::{errors, runtime};

/// The blocking API. Calls release the GIL while they wait, so threads run them in parallel.
///
/// `Identity(url, *, max_connections=10, acquire_timeout=5.0, erasure_log=None,
/// allow_private_webhooks=False)` connects and migrates. With `erasure_log` (a `str` or
/// `os.PathLike`), every erase through the handle appends its record to that file (created if
/// missing) and syncs it to disk before it commits: keep it on another disk than the database,
/// to apply the erasures again after a restore. With `allow_private_webhooks`, webhook targets
/// on loopback, private and link-local addresses are accepted (refused by default).
#[pyclass(frozen, module = "identity_reconciliation")]
pub struct Identity {
    handle: Handle,
}

#[pymethods]
impl Identity {
    #[new]
    #[pyo3(signature = (
        url, *, max_connections = 10, acquire_timeout = 5.0, erasure_log = None,
        allow_private_webhooks = false
    ))]
    fn new(
        py: Python<'_>,
        url: &str,
        max_connections: u32,
        acquire_timeout: f64,
        erasure_log: Option<PathBuf>,
        allow_private_webhooks: bool,
    ) -> PyResult<Self> {
        let options = options(
            max_connections,
            acquire_timeout,
            erasure_log,
            allow_private_webhooks,
        )?;
        let rt = runtime::get()?;
        let inner = py
            .detach(|| rt.block_on(identity::Identity::connect_with(url, &options)))
            .map_err(|e| errors::to_py(&e))?;
        let handle = Handle {
            inner,
            owner: std::process::id(),
            closed: Arc::default(),
            what: "Identity",
        };
        Ok(Identity { handle })
    }

    /// Connects (and migrates), as `Identity(url)` does: the same call, spelled like
    /// `AsyncIdentity.connect`.
    #[staticmethod]
    #[pyo3(signature = (
        url, *, max_connections = 10, acquire_timeout = 5.0, erasure_log = None,
        allow_private_webhooks = false
    ))]
    fn connect(
        py: Python<'_>,
        url: &str,
        max_connections: u32,
        acquire_timeout: f64,
        erasure_log: Option<PathBuf>,
        allow_private_webhooks: bool,
    ) -> PyResult<Self> {
        Self::new(
            py,
            url,
            max_connections,
            acquire_timeout,
            erasure_log,
            allow_private_webhooks,
        )
    }

    /// A handle on the same store acting for tenant `id` (1-64 of `A-Z a-z 0-9 . _ -`): its
    /// calls see only that tenant's customers. Cheap: no I/O, the connections are shared (so
    /// `close()` on any handle closes them for all).
    fn tenant(&self, id: &Bound<'_, PyAny>) -> PyResult<Identity> {
        Ok(Identity {
            handle: self.handle.tenant(id)?,
        })
    }

    /// The tenant this handle acts for (`"default"` unless made by `tenant()`).
    #[getter]
    fn tenant_id(&self) -> String {
        self.handle.inner.tenant_id().to_string()
    }

    /// Links the checkout into its customer and returns the consolidated customer.
    #[pyo3(signature = (email = None, phone_number = None))]
    fn identify(
        &self,
        py: Python<'_>,
        email: Option<&Bound<'_, PyAny>>,
        phone_number: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Contact> {
        let request = request(email, phone_number).inspect_err(|_| self.handle.refused())?;
        self.handle
            .block_on(py, async |inner| inner.identify_request(&request).await)
            .map(Contact::from)
    }

    /// The customer for an email and/or phone without writing anything; `None` if unknown.
    #[pyo3(signature = (email = None, phone_number = None))]
    fn lookup(
        &self,
        py: Python<'_>,
        email: Option<&Bound<'_, PyAny>>,
        phone_number: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Contact>> {
        let request = request(email, phone_number)?;
        self.handle
            .block_on(py, async |inner| inner.lookup_request(&request).await)
            .map(|c| c.map(Contact::from))
    }

    /// The tenant's settings (its phone region, or `None`).
    fn settings(&self, py: Python<'_>) -> PyResult<TenantSettings> {
        let tenant = self.handle.inner.tenant_id().clone();
        self.handle
            .block_on(py, async |inner| inner.settings().await)
            .map(|s| TenantSettings::of(&tenant, &s))
    }

    /// Sets the tenant's phone region (an ISO 3166 code such as `"IN"`; `None` clears it):
    /// from then on its national numbers are read in that region and every number is stored in
    /// E.164. Allowed while the tenant has no contacts; raises `ConflictError` after.
    fn set_phone_region(
        &self,
        py: Python<'_>,
        region: &Bound<'_, PyAny>,
    ) -> PyResult<TenantSettings> {
        let region = convert::phone_region(region)?;
        let tenant = self.handle.inner.tenant_id().clone();
        self.handle
            .block_on(py, async |inner| {
                inner.set_phone_region(region.as_deref()).await
            })
            .map(|s| TenantSettings::of(&tenant, &s))
    }

    /// Sets the tenant's per-customer caps on distinct emails and phone numbers (`None`: no
    /// cap; both `None` lifts them). A request whose new value would pass a cap leaves it out,
    /// one that would merge two customers past a cap merges nothing (the email's customer
    /// answers); `Contact.ignored` says so with reason `"limit"`. Raises `InvalidInputError`
    /// (field `limits`) for a cap that is not an int from 1 to 1000000.
    #[pyo3(signature = (*, emails = None, phones = None))]
    fn set_limits(
        &self,
        py: Python<'_>,
        emails: Option<&Bound<'_, PyAny>>,
        phones: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<TenantSettings> {
        let limits = identity::Limits::new(
            convert::cap("emails", emails)?,
            convert::cap("phones", phones)?,
        )
        .map_err(|e| errors::to_py(&e))?;
        let tenant = self.handle.inner.tenant_id().clone();
        self.handle
            .block_on(py, async |inner| inner.set_limits(limits).await)
            .map(|s| TenantSettings::of(&tenant, &s))
    }

    /// The tenant's blocked list, sorted (the defaults until it changes): values a request
    /// never stores and never matches.
    fn blocked_values(&self, py: Python<'_>) -> PyResult<Vec<BlockedValue>> {
        self.handle
            .block_on(py, async |inner| inner.blocked_values().await)
            .map(|entries| entries.iter().map(BlockedValue::from).collect())
    }

    /// Blocks an exact value (`block("email", "x@y.io")`) or a pattern
    /// (`block("phone", pattern=r"^0+$")`) for the tenant; `False` when it was blocked already.
    /// From then on no request stores or matches it (rows stored before keep it).
    #[pyo3(signature = (kind, value = None, *, pattern = None))]
    fn block(
        &self,
        py: Python<'_>,
        kind: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        pattern: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.change_blocked(py, kind, value, pattern, true)
    }

    /// Removes an entry (a default one too) from the tenant's blocked list, named as `block`
    /// names it; `False` when it was not there.
    #[pyo3(signature = (kind, value = None, *, pattern = None))]
    fn unblock(
        &self,
        py: Python<'_>,
        kind: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        pattern: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.change_blocked(py, kind, value, pattern, false)
    }

    /// The history of the customer that contact `contact_id` belongs to now: its events and
    /// those of every customer it absorbed, oldest first, with the blocked-list changes that
    /// concern its values. Raises `NotFoundError` when the tenant has no such contact.
    fn history(&self, py: Python<'_>, contact_id: i64) -> PyResult<History> {
        let id = identity::ContactId::new(contact_id);
        self.handle
            .block_on(py, async |inner| inner.history(id).await)
            .map(History::from)
    }

    /// A page of the tenant's change feed: the events after the cursor `after` (from the
    /// oldest kept when `None`), at most `limit` (1 to 1000), oldest first, waiting up to
    /// `wait` seconds (at most 30) while there are none. Raises `InvalidInputError` (field
    /// `after`, `limit` or `wait`) for bad arguments and `ExpiredError` for a cursor older
    /// than the events kept.
    #[pyo3(signature = (after = None, limit = 100, wait = 0.0))]
    fn events(
        &self,
        py: Python<'_>,
        after: Option<&str>,
        limit: usize,
        wait: f64,
    ) -> PyResult<EventsPage> {
        let after = feed::cursor(after)?;
        let wait = feed::seconds("wait", wait)?;
        self.handle
            .block_on(py, async |inner| {
                inner.events_wait(after, limit, wait).await
            })
            .map(EventsPage::from)
    }

    /// Follows the tenant's change feed from after the cursor `after` (from the oldest kept
    /// when `None`): an iterator that yields every event in order and blocks while it waits
    /// for new ones; with `idle_timeout` (seconds) it stops once nothing new came for that
    /// long. Its `cursor` is where to follow on from later.
    #[pyo3(signature = (after = None, *, idle_timeout = None))]
    fn feed(&self, after: Option<&str>, idle_timeout: Option<f64>) -> PyResult<Feed> {
        let after = feed::cursor(after)?;
        let idle = idle_timeout
            .map(|s| feed::seconds("idle_timeout", s))
            .transpose()?;
        self.handle.usable()?;
        Ok(Feed::new(self.handle.clone(), after, idle))
    }

    /// Retention: deletes the feed events of every tenant of the store older than
    /// `older_than_days` (30 by default), oldest first; returns `{"events", "tenants"}`, the
    /// events deleted and the tenants they came from. Cursors into what went raise
    /// `ExpiredError`, and `history()` tells what is left (`pruned_before`).
    #[pyo3(signature = (older_than_days = 30.0))]
    fn prune_events<'py>(
        &self,
        py: Python<'py>,
        older_than_days: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let age = feed::duration(
            "older_than_days",
            older_than_days,
            std::time::Duration::from_secs(86_400),
        )?;
        let report = self
            .handle
            .block_on(py, async |inner| inner.prune_events(age).await)?;
        crate::history::wire(py, &report)
    }

    /// Registers a webhook endpoint: the tenant's events of `types` (a list of type names;
    /// `None`: every type) written from now on are POSTed to `url`, in order, signed (Standard
    /// Webhooks 1.0). Returns the `Webhook` with its `secret`, told this once. Raises
    /// `InvalidInputError` (field `url` or `types`) for a bad URL, a non-public address (unless
    /// `allow_private_webhooks`), an empty list or an unknown type.
    #[pyo3(signature = (url, types = None))]
    fn create_webhook(
        &self,
        py: Python<'_>,
        url: &str,
        types: Option<Vec<String>>,
    ) -> PyResult<Webhook> {
        let types = webhooks::event_types(types)?;
        self.handle
            .block_on(py, async |inner| inner.create_webhook(url, types).await)
            .map(Webhook::from)
    }

    /// The tenant's webhook endpoints, oldest first (without secrets).
    fn webhooks(&self, py: Python<'_>) -> PyResult<Vec<Webhook>> {
        let all = self
            .handle
            .block_on(py, async |inner| inner.webhooks().await)?;
        Ok(all.into_iter().map(Webhook::from).collect())
    }

    /// Deletes the tenant's endpoint `id` and its attempts. Raises `NotFoundError` when the
    /// tenant has no such endpoint.
    fn delete_webhook(&self, py: Python<'_>, id: i64) -> PyResult<()> {
        let id = webhooks::webhook_id(id)?;
        self.handle
            .block_on(py, async |inner| inner.delete_webhook(id).await)
    }

    /// The last `limit` (1 to 1000) delivery attempts of endpoint `id`, newest first. Raises
    /// `NotFoundError` when the tenant has no such endpoint.
    #[pyo3(signature = (id, limit = 100))]
    fn webhook_deliveries(&self, py: Python<'_>, id: i64, limit: usize) -> PyResult<Vec<Delivery>> {
        let id = webhooks::webhook_id(id)?;
        let all = self
            .handle
            .block_on(py, async |inner| inner.webhook_deliveries(id, limit).await)?;
        Ok(all.into_iter().map(Delivery::from).collect())
    }

    /// Makes endpoint `id` deliver the events after the cursor `after` again (from the oldest
    /// kept when `None`), active again, its failures forgotten; give its own `cursor` to
    /// resume a failing endpoint without repeating anything. Raises `NotFoundError`,
    /// `InvalidInputError` (field `after`) or `ExpiredError`.
    #[pyo3(signature = (id, after = None))]
    fn replay_webhook(&self, py: Python<'_>, id: i64, after: Option<&str>) -> PyResult<Webhook> {
        let id = webhooks::webhook_id(id)?;
        let after = feed::cursor(after)?;
        self.handle
            .block_on(py, async |inner| inner.replay_webhook(id, after).await)
            .map(Webhook::from)
    }

    /// Starts delivering the webhooks of every tenant of the store in the background (over
    /// HTTP(S); an endpoint has `timeout` seconds to answer). Returns the `WebhookSender`:
    /// `stop()` it (or use it in a `with` block). Several senders, in one process or many,
    /// share the work; each endpoint is delivered to by one at a time.
    #[pyo3(signature = (*, timeout = 10.0))]
    fn deliver_webhooks(&self, timeout: f64) -> PyResult<WebhookSender> {
        webhooks::start_sender(&self.handle.usable()?, timeout)
    }

    /// Undoes a wrong merge: moves the rows `contact_ids` of the customer that contact
    /// `customer` belongs to into a new customer led by the oldest of them, kept apart from it
    /// from then on (a request carrying values of both is answered by the email's customer,
    /// the phone number ignored as `kept_apart`). Raises `ConflictError` listing the values the
    /// two parts share, unless `block_shared` blocks them as part of the split;
    /// `InvalidInputError` (field `contact_ids`) for an empty list, a row of another customer
    /// or every row; `NotFoundError` for an unknown `customer`.
    #[pyo3(signature = (customer, contact_ids, *, block_shared = false))]
    fn split(
        &self,
        py: Python<'_>,
        customer: i64,
        contact_ids: Vec<i64>,
        block_shared: bool,
    ) -> PyResult<Split> {
        let customer = identity::ContactId::new(customer);
        let ids: Vec<identity::ContactId> = contact_ids
            .into_iter()
            .map(identity::ContactId::new)
            .collect();
        self.handle
            .block_on(py, async |inner| {
                inner.split(customer, &ids, block_shared).await
            })
            .map(Split::from)
    }

    /// Erases the customer that contact `customer` belongs to (the right to be forgotten):
    /// its rows are hard-deleted with their derived records, and its emails and phone numbers
    /// removed from history (ids, kinds and times stay). With `suppress`, its values are kept
    /// only as keyed hashes, and later requests carrying one ignore it (reason
    /// `"suppressed"`). Erasing again by any former row id answers the same receipt. Raises
    /// `NotFoundError` for an unknown `customer`.
    #[pyo3(signature = (customer, *, suppress = false))]
    fn erase(&self, py: Python<'_>, customer: i64, suppress: bool) -> PyResult<Erasure> {
        let customer = identity::ContactId::new(customer);
        self.handle
            .block_on(py, async |inner| inner.erase(customer, suppress).await)
            .map(Erasure::from)
    }

    /// How far the tenant's long write in this process has got: an import or erase too large
    /// for one transaction runs in steps (on SQLite, more than a few thousand rows), and this
    /// answers `{"kind": "import" | "erase", "done": int, "total": int}` while one runs, `None`
    /// otherwise (PostgreSQL writes in one transaction). No I/O: poll it
    /// from another thread or task while the import runs.
    fn job_progress<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.handle.job_progress(py)
    }

    /// What the calls through this handle (and every handle made from the same connection)
    /// did since it was opened, as a dict: `{"identify": {"created", "linked", "merged",
    /// "known", "refused", "failed"}, "identifyErrors": {code: n}, "retries": {call: n},
    /// "contention": {call: n}, "webhookDeliveries": {"succeeded", "failed"}, "pool": {"max",
    /// "inUse", "idle", "waiting"}}` (`waiting` is `None` on SQLite). Counted in memory: no I/O.
    /// The numbers the HTTP service's `GET /metrics` shows.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.handle.stats(py)
    }

    /// The change feed's size and every webhook endpoint's backlog, over every tenant of the
    /// database, as a dict: `{"eventsWritten": n, "webhooks": [{"id", "tenant", "state",
    /// "undelivered", "oldestUndeliveredAt"}]}` (an RFC 3339 time, or `None` when up to date).
    fn feed_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = self
            .handle
            .block_on(py, async |inner| inner.feed_stats().await)?;
        crate::history::wire(py, &stats)
    }

    /// Every erase of the tenant as the database records it, oldest first: a list of dicts in
    /// the erasure log's wire shape (`{"tenantId", "customerId", "contactIds", "erasedAt",
    /// "suppressed", "rows", "digests", "secret"}`: ids, times and keyed hashes, no personal
    /// data), each `json.dumps`-able into one line of a log. Keep them outside the database to
    /// apply them again after restoring an older backup (`reapply_erasures`).
    fn erasures<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let records = self
            .handle
            .block_on(py, async |inner| inner.erasures().await)?;
        erasures::wire_records(py, &records)
    }

    /// Applies erasures again, to a database restored from a backup taken before them: for each
    /// record (a mapping in the wire shape, as `erasures()` and `read_erasure_log()` give them)
    /// whose erase the database does not hold, the rows it names that the database holds under
    /// the same id and time of creation are erased as `erase` erases them, its values suppressed
    /// again and the id sequence moved past every id it names. Records it holds already change
    /// nothing, so applying a whole log twice is safe. All in one transaction: an error changes
    /// nothing. Raises `InvalidInputError` (field `erasures`, naming the record's index) for a
    /// malformed record or one of another tenant; `ConflictError` for digests taken under
    /// another suppression secret than the database's.
    fn reapply_erasures(
        &self,
        py: Python<'_>,
        records: &Bound<'_, PyAny>,
    ) -> PyResult<ReapplyReport> {
        let records = erasures::records(records)?;
        self.handle
            .block_on(py, async |inner| inner.reapply_erasures(&records).await)
            .map(ReapplyReport::from)
    }

    /// Writes a consistent copy of the whole SQLite database (every tenant, the suppression
    /// secret and the erasure records) to a new file at `path` while the store serves (SQLite's
    /// `VACUUM INTO`, written beside `path` and moved there when complete). Raises
    /// `ConflictError` when `path` exists and `overwrite` is not set, or for PostgreSQL or
    /// `memory:` (back PostgreSQL up with `pg_dump`); `StoreError` when writing fails.
    #[pyo3(signature = (path, *, overwrite = false))]
    fn backup_to(&self, py: Python<'_>, path: PathBuf, overwrite: bool) -> PyResult<()> {
        self.handle
            .block_on(py, async |inner| inner.backup_to(&path, overwrite).await)
    }

    /// Imports historical checkouts into the tenant, which must have no rows: the rows,
    /// customers and primaries that replaying them one by one through `identify` in time order
    /// would give (ties in the order given), in one transaction. Each checkout is a mapping
    /// with `email`, `phone_number` (or `phoneNumber`) and `at` (a `datetime`, a `date`, an
    /// RFC 3339 string, or Unix seconds; a naive `datetime` is UTC). A malformed checkout is
    /// named by its index: with `on_error="abort"` (the default) nothing is written and
    /// `InvalidInputError` (field `checkouts`) names the first ones; with `"skip"` the rest is
    /// imported and the report lists them. `dry_run` plans and reports without writing.
    /// Raises `ConflictError` when the tenant has rows or per-customer limits.
    #[pyo3(signature = (checkouts, *, on_error = None, dry_run = false))]
    fn import_checkouts(
        &self,
        py: Python<'_>,
        checkouts: &Bound<'_, PyAny>,
        on_error: Option<&Bound<'_, PyAny>>,
        dry_run: bool,
    ) -> PyResult<ImportReport> {
        let records = import::records(checkouts, &import::CHECKOUTS)?;
        let options = import::options(on_error, dry_run, false)?;
        self.handle
            .block_on(py, async |inner| {
                inner.import_records(&records, options).await
            })
            .map(ImportReport::from)
    }

    /// Imports an existing deployment's contact table into the tenant, which must have no
    /// rows. Each row is a mapping with `id`, `email`, `phone_number`, `linked_id`,
    /// `created_at` and `deleted_at` (or their camelCase spellings, as the table names its
    /// columns), soft-deleted rows included; every row keeps its id, rows the table linked stay
    /// one customer, led by its oldest row, which is the row the table made primary wherever
    /// the contract allows. `report.table` says which of the table's customers are led by
    /// another row now and why (`changed_customers`), and lists every id that no longer names
    /// the same row of the same customer (`moved_rows`). Later rows get ids above the table's
    /// highest. A malformed row is named by its id: with `on_error="abort"` nothing is written
    /// and `InvalidInputError` (field `table`) names the first ones; with `"skip"` it is left
    /// out. `renumber=True` numbers the rows anew instead, for a store that already gave out
    /// ids as high as the table's lowest (else `ConflictError`).
    #[pyo3(signature = (rows, *, on_error = None, dry_run = false, renumber = false))]
    fn import_table_rows(
        &self,
        py: Python<'_>,
        rows: &Bound<'_, PyAny>,
        on_error: Option<&Bound<'_, PyAny>>,
        dry_run: bool,
        renumber: bool,
    ) -> PyResult<ImportReport> {
        let records = import::records(rows, &import::TABLE_ROWS)?;
        let options = import::options(on_error, dry_run, renumber)?;
        self.handle
            .block_on(py, async |inner| {
                inner.import_table_records(&records, options).await
            })
            .map(ImportReport::from)
    }

    /// Every customer of the tenant, consolidated as `identify` answers it, by primary id
    /// (for warehouses and audits).
    fn customers(&self, py: Python<'_>) -> PyResult<Vec<Contact>> {
        self.handle
            .block_on(py, async |inner| inner.customers().await)
            .map(|all| all.into_iter().map(Contact::from).collect())
    }

    /// The customer contact `id` belongs to now: its primary's id and every visible row, by
    /// id. Raises `NotFoundError` when the tenant has no visible row `id`.
    fn customer(&self, py: Python<'_>, id: i64) -> PyResult<Customer> {
        let id = identity::ContactId::new(id);
        self.handle
            .block_on(py, async |inner| inner.customer(id).await)
            .map(Customer::from)
    }

    /// Every visible row of the tenant's `contact` table, by id (reads all of them).
    fn all_contacts(&self, py: Python<'_>) -> PyResult<Vec<ContactRow>> {
        self.handle
            .block_on(py, async |inner| inner.all_contacts().await)
            .map(|all| all.into_iter().map(ContactRow::from).collect())
    }

    /// Checks that the database answers (one trivial query); for readiness probes.
    fn ping(&self, py: Python<'_>) -> PyResult<()> {
        self.handle.block_on(py, async |inner| inner.ping().await)
    }

    /// Checks the tenant's rows against I1-I4 and its derived records against the rows;
    /// reports every difference. Reads all of the tenant's data.
    fn verify(&self, py: Python<'_>) -> PyResult<VerifyReport> {
        self.handle
            .block_on(py, async |inner| inner.verify().await)
            .map(VerifyReport::from)
    }

    /// Recomputes every derived record of the tenant from its rows, repairing rows that break
    /// the model.
    fn rebuild(&self, py: Python<'_>) -> PyResult<RebuildReport> {
        self.handle
            .block_on(py, async |inner| inner.rebuild().await)
            .map(RebuildReport::from)
    }

    /// Closes the database connections; later calls raise `ClosedError`. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        runtime::check_owner(self.handle.owner, self.handle.what)?;
        if !self.handle.closed.swap(true, Ordering::SeqCst) {
            let (inner, rt) = (self.handle.inner.clone(), runtime::get()?);
            py.detach(|| rt.block_on(inner.close()));
        }
        Ok(())
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.handle.closed.load(Ordering::SeqCst)
    }

    /// `memory`, `sqlite` or `postgres`.
    #[getter]
    fn backend(&self) -> &'static str {
        self.handle.inner.store().backend()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        self.handle.repr()
    }
}

impl Identity {
    /// `block` (`add`) or `unblock` the entry the arguments name.
    fn change_blocked(
        &self,
        py: Python<'_>,
        kind: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        pattern: Option<&Bound<'_, PyAny>>,
        add: bool,
    ) -> PyResult<bool> {
        let entry = blocked::entry(kind, value, pattern)?;
        self.handle.block_on(py, async |inner| {
            if add {
                inner.block(&entry).await
            } else {
                inner.unblock(&entry).await
            }
        })
    }
}
