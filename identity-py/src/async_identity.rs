//! `AsyncIdentity`: the asyncio API. Every method is an `async fn`: calling it makes a
//! coroutine, as an `async def` would, that needs no running loop and does nothing until it is
//! awaited; then it reads its arguments and runs the core call on the runtime's threads
//! ([`run`]), so the event loop never blocks. Cancelling the awaiting task drops the coroutine's
//! future, which aborts the core call: a write then happened entirely or not at all (its
//! transaction commits or rolls back as a whole).

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
use crate::feed::{self, AsyncFeed, EventsPage};
use crate::handle::{Handle, options};
use crate::history::History;
use crate::import::{self, ImportReport};
use crate::reports::{RebuildReport, VerifyReport};
use crate::rows::{ContactRow, Customer};
use crate::runtime::run;
use crate::settings::TenantSettings;
use crate::split::Split;
use crate::webhooks::{self, Delivery, Webhook, WebhookSender};
use crate::{errors, runtime};

/// The asyncio API: every call makes a coroutine that runs on the runtime's threads once
/// awaited, so the event loop never blocks.
#[pyclass(frozen, module = "identity_reconciliation")]
pub struct AsyncIdentity {
    handle: Arc<Handle>,
}

/// An optional argument, bound to the GIL for converting.
fn arg<'a, 'py>(py: Python<'py>, value: &'a Option<Py<PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    value.as_ref().map(|v| v.bind(py))
}

#[pymethods]
impl AsyncIdentity {
    /// Connects (and migrates); resolves to an `AsyncIdentity`. With `erasure_log` (a `str` or
    /// `os.PathLike`), every erase through it appends its record to that file and syncs it
    /// before it commits; with `allow_private_webhooks`, webhook targets on non-public
    /// addresses are accepted (see `Identity`).
    #[staticmethod]
    #[pyo3(signature = (
        url, *, max_connections = 10, acquire_timeout = 5.0, erasure_log = None,
        allow_private_webhooks = false
    ))]
    async fn connect(
        url: String,
        max_connections: u32,
        acquire_timeout: f64,
        erasure_log: Option<PathBuf>,
        allow_private_webhooks: bool,
    ) -> PyResult<AsyncIdentity> {
        let options = options(
            max_connections,
            acquire_timeout,
            erasure_log,
            allow_private_webhooks,
        )?;
        let inner =
            run(async move { identity::Identity::connect_with(&url, &options).await }).await?;
        let handle = Handle {
            inner,
            owner: std::process::id(),
            closed: Arc::default(),
            what: "AsyncIdentity",
        };
        Ok(AsyncIdentity {
            handle: Arc::new(handle),
        })
    }

    /// A handle on the same store acting for tenant `id` (see `Identity.tenant`); synchronous.
    fn tenant(&self, id: &Bound<'_, PyAny>) -> PyResult<AsyncIdentity> {
        Ok(AsyncIdentity {
            handle: Arc::new(self.handle.tenant(id)?),
        })
    }

    /// The tenant this handle acts for.
    #[getter]
    fn tenant_id(&self) -> String {
        self.handle.inner.tenant_id().to_string()
    }

    /// Resolves to the consolidated customer.
    #[pyo3(signature = (email = None, phone_number = None))]
    async fn identify(
        slf: Py<Self>,
        email: Option<Py<PyAny>>,
        phone_number: Option<Py<PyAny>>,
    ) -> PyResult<Contact> {
        let (inner, request) = Python::attach(|py| -> PyResult<_> {
            let handle = &slf.get().handle;
            let request = request(arg(py, &email), arg(py, &phone_number))
                .inspect_err(|_| handle.refused())?;
            Ok((handle.usable()?, request))
        })?;
        run(async move { inner.identify_request(&request).await.map(Contact::from) }).await
    }

    /// Resolves to the customer or `None`, writing nothing.
    #[pyo3(signature = (email = None, phone_number = None))]
    async fn lookup(
        slf: Py<Self>,
        email: Option<Py<PyAny>>,
        phone_number: Option<Py<PyAny>>,
    ) -> PyResult<Option<Contact>> {
        let (inner, request) = Python::attach(|py| -> PyResult<_> {
            Ok((
                slf.get().handle.usable()?,
                request(arg(py, &email), arg(py, &phone_number))?,
            ))
        })?;
        run(async move {
            inner
                .lookup_request(&request)
                .await
                .map(|c| c.map(Contact::from))
        })
        .await
    }

    /// Resolves to the tenant's settings (see `Identity.settings`).
    async fn settings(slf: Py<Self>) -> PyResult<TenantSettings> {
        let inner = slf.get().handle.usable()?;
        run(async move {
            let settings = inner.settings().await?;
            Ok(TenantSettings::of(inner.tenant_id(), &settings))
        })
        .await
    }

    /// Resolves to the tenant's settings after setting its phone region (see
    /// `Identity.set_phone_region`).
    async fn set_phone_region(slf: Py<Self>, region: Py<PyAny>) -> PyResult<TenantSettings> {
        let (inner, region) = Python::attach(|py| -> PyResult<_> {
            Ok((
                slf.get().handle.usable()?,
                convert::phone_region(region.bind(py))?,
            ))
        })?;
        run(async move {
            let settings = inner.set_phone_region(region.as_deref()).await?;
            Ok(TenantSettings::of(inner.tenant_id(), &settings))
        })
        .await
    }

    /// Resolves to the tenant's settings after setting its caps (see `Identity.set_limits`).
    #[pyo3(signature = (*, emails = None, phones = None))]
    async fn set_limits(
        slf: Py<Self>,
        emails: Option<Py<PyAny>>,
        phones: Option<Py<PyAny>>,
    ) -> PyResult<TenantSettings> {
        let (inner, limits) = Python::attach(|py| -> PyResult<_> {
            let limits = identity::Limits::new(
                convert::cap("emails", arg(py, &emails))?,
                convert::cap("phones", arg(py, &phones))?,
            )
            .map_err(|e| errors::to_py(&e))?;
            Ok((slf.get().handle.usable()?, limits))
        })?;
        run(async move {
            let settings = inner.set_limits(limits).await?;
            Ok(TenantSettings::of(inner.tenant_id(), &settings))
        })
        .await
    }

    /// Resolves to the tenant's blocked list (see `Identity.blocked_values`).
    async fn blocked_values(slf: Py<Self>) -> PyResult<Vec<BlockedValue>> {
        let inner = slf.get().handle.usable()?;
        run(async move {
            let entries = inner.blocked_values().await?;
            Ok(entries.iter().map(BlockedValue::from).collect::<Vec<_>>())
        })
        .await
    }

    /// Resolves to whether the entry was added (see `Identity.block`).
    #[pyo3(signature = (kind, value = None, *, pattern = None))]
    async fn block(
        slf: Py<Self>,
        kind: Py<PyAny>,
        value: Option<Py<PyAny>>,
        pattern: Option<Py<PyAny>>,
    ) -> PyResult<bool> {
        change_blocked(slf, kind, value, pattern, true).await
    }

    /// Resolves to whether the entry was removed (see `Identity.unblock`).
    #[pyo3(signature = (kind, value = None, *, pattern = None))]
    async fn unblock(
        slf: Py<Self>,
        kind: Py<PyAny>,
        value: Option<Py<PyAny>>,
        pattern: Option<Py<PyAny>>,
    ) -> PyResult<bool> {
        change_blocked(slf, kind, value, pattern, false).await
    }

    /// Resolves to the new `Webhook`, with its secret (see `Identity.create_webhook`).
    #[pyo3(signature = (url, types = None))]
    async fn create_webhook(
        slf: Py<Self>,
        url: String,
        types: Option<Vec<String>>,
    ) -> PyResult<Webhook> {
        let types = webhooks::event_types(types)?;
        let inner = slf.get().handle.usable()?;
        run(async move { inner.create_webhook(&url, types).await.map(Webhook::from) }).await
    }

    /// Resolves to the tenant's `Webhook`s (see `Identity.webhooks`).
    async fn webhooks(slf: Py<Self>) -> PyResult<Vec<Webhook>> {
        let inner = slf.get().handle.usable()?;
        let all = run(async move { inner.webhooks().await }).await?;
        Ok(all.into_iter().map(Webhook::from).collect())
    }

    /// Deletes endpoint `id` (see `Identity.delete_webhook`).
    async fn delete_webhook(slf: Py<Self>, id: i64) -> PyResult<()> {
        let id = webhooks::webhook_id(id)?;
        let inner = slf.get().handle.usable()?;
        run(async move { inner.delete_webhook(id).await }).await
    }

    /// Resolves to endpoint `id`'s last attempts (see `Identity.webhook_deliveries`).
    #[pyo3(signature = (id, limit = 100))]
    async fn webhook_deliveries(slf: Py<Self>, id: i64, limit: usize) -> PyResult<Vec<Delivery>> {
        let id = webhooks::webhook_id(id)?;
        let inner = slf.get().handle.usable()?;
        let all = run(async move { inner.webhook_deliveries(id, limit).await }).await?;
        Ok(all.into_iter().map(Delivery::from).collect())
    }

    /// Resolves to the replayed `Webhook` (see `Identity.replay_webhook`).
    #[pyo3(signature = (id, after = None))]
    async fn replay_webhook(slf: Py<Self>, id: i64, after: Option<String>) -> PyResult<Webhook> {
        let id = webhooks::webhook_id(id)?;
        let after = feed::cursor(after.as_deref())?;
        let inner = slf.get().handle.usable()?;
        run(async move { inner.replay_webhook(id, after).await.map(Webhook::from) }).await
    }

    /// Starts a `WebhookSender` (see `Identity.deliver_webhooks`); synchronous.
    #[pyo3(signature = (*, timeout = 10.0))]
    fn deliver_webhooks(&self, timeout: f64) -> PyResult<WebhookSender> {
        webhooks::start_sender(&self.handle.usable()?, timeout)
    }

    /// Resolves to the customer's `History` (see `Identity.history`).
    async fn history(slf: Py<Self>, contact_id: i64) -> PyResult<History> {
        let id = identity::ContactId::new(contact_id);
        let inner = slf.get().handle.usable()?;
        run(async move { inner.history(id).await.map(History::from) }).await
    }

    /// Resolves to an `EventsPage` (see `Identity.events`).
    #[pyo3(signature = (after = None, limit = 100, wait = 0.0))]
    async fn events(
        slf: Py<Self>,
        after: Option<String>,
        limit: usize,
        wait: f64,
    ) -> PyResult<EventsPage> {
        let after = feed::cursor(after.as_deref())?;
        let wait = feed::seconds("wait", wait)?;
        let inner = slf.get().handle.usable()?;
        run(async move {
            inner
                .events_wait(after, limit, wait)
                .await
                .map(EventsPage::from)
        })
        .await
    }

    /// An async iterator over the tenant's change feed from after `after` (see
    /// `Identity.feed`): `async for event in ident.feed(): ...`.
    #[pyo3(signature = (after = None, *, idle_timeout = None))]
    fn feed(&self, after: Option<&str>, idle_timeout: Option<f64>) -> PyResult<AsyncFeed> {
        let after = feed::cursor(after)?;
        let idle = idle_timeout
            .map(|s| feed::seconds("idle_timeout", s))
            .transpose()?;
        self.handle.usable()?;
        Ok(AsyncFeed::new((*self.handle).clone(), after, idle))
    }

    /// Resolves to `{"events", "tenants"}` (see `Identity.prune_events`).
    #[pyo3(signature = (older_than_days = 30.0))]
    async fn prune_events(slf: Py<Self>, older_than_days: f64) -> PyResult<Py<PyAny>> {
        let age = feed::duration(
            "older_than_days",
            older_than_days,
            std::time::Duration::from_secs(86_400),
        )?;
        let inner = slf.get().handle.usable()?;
        let report = run(async move { inner.prune_events(age).await }).await?;
        Python::attach(|py| Ok(crate::history::wire(py, &report)?.unbind()))
    }

    /// Resolves to the `Split` (see `Identity.split`).
    #[pyo3(signature = (customer, contact_ids, *, block_shared = false))]
    async fn split(
        slf: Py<Self>,
        customer: i64,
        contact_ids: Vec<i64>,
        block_shared: bool,
    ) -> PyResult<Split> {
        let customer = identity::ContactId::new(customer);
        let ids: Vec<identity::ContactId> = contact_ids
            .into_iter()
            .map(identity::ContactId::new)
            .collect();
        let inner = slf.get().handle.usable()?;
        run(async move {
            inner
                .split(customer, &ids, block_shared)
                .await
                .map(Split::from)
        })
        .await
    }

    /// How far the tenant's long write in this process has got (see `Identity.job_progress`):
    /// a dict or `None`, at once (not a coroutine: no I/O).
    fn job_progress<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.handle.job_progress(py)
    }

    /// Resolves to the `Erasure` receipt (see `Identity.erase`).
    #[pyo3(signature = (customer, *, suppress = false))]
    async fn erase(slf: Py<Self>, customer: i64, suppress: bool) -> PyResult<Erasure> {
        let customer = identity::ContactId::new(customer);
        let inner = slf.get().handle.usable()?;
        run(async move { inner.erase(customer, suppress).await.map(Erasure::from) }).await
    }

    /// What the calls through this handle did since it was opened, as a dict (see
    /// `Identity.stats`). Counted in memory: no I/O, so not a coroutine.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.handle.stats(py)
    }

    /// Resolves to the feed's size and every webhook endpoint's backlog, as a dict (see
    /// `Identity.feed_stats`).
    async fn feed_stats(slf: Py<Self>) -> PyResult<Py<PyAny>> {
        let inner = slf.get().handle.usable()?;
        let stats = run(async move { inner.feed_stats().await }).await?;
        Python::attach(|py| Ok(crate::history::wire(py, &stats)?.unbind()))
    }

    /// Resolves to the tenant's erasure records, dicts in the wire shape (see
    /// `Identity.erasures`).
    async fn erasures(slf: Py<Self>) -> PyResult<Py<PyList>> {
        let inner = slf.get().handle.usable()?;
        let records = run(async move { inner.erasures().await }).await?;
        Python::attach(|py| Ok(erasures::wire_records(py, &records)?.unbind()))
    }

    /// Resolves to the `ReapplyReport` (see `Identity.reapply_erasures`); the records are read
    /// when the coroutine is awaited.
    async fn reapply_erasures(slf: Py<Self>, records: Py<PyAny>) -> PyResult<ReapplyReport> {
        let (inner, records) = Python::attach(|py| -> PyResult<_> {
            let records = erasures::records(records.bind(py))?;
            Ok((slf.get().handle.usable()?, records))
        })?;
        run(async move {
            inner
                .reapply_erasures(&records)
                .await
                .map(ReapplyReport::from)
        })
        .await
    }

    /// Resolves to `None` once the SQLite copy is written (see `Identity.backup_to`).
    #[pyo3(signature = (path, *, overwrite = false))]
    async fn backup_to(slf: Py<Self>, path: PathBuf, overwrite: bool) -> PyResult<()> {
        let inner = slf.get().handle.usable()?;
        run(async move { inner.backup_to(&path, overwrite).await }).await
    }

    /// Resolves to the `ImportReport` of the import (see `Identity.import_checkouts`); the
    /// checkouts are read when the coroutine is awaited.
    #[pyo3(signature = (checkouts, *, on_error = None, dry_run = false))]
    async fn import_checkouts(
        slf: Py<Self>,
        checkouts: Py<PyAny>,
        on_error: Option<Py<PyAny>>,
        dry_run: bool,
    ) -> PyResult<ImportReport> {
        let (inner, records, options) = Python::attach(|py| -> PyResult<_> {
            let records = import::records(checkouts.bind(py), &import::CHECKOUTS)?;
            let options = import::options(arg(py, &on_error), dry_run, false)?;
            Ok((slf.get().handle.usable()?, records, options))
        })?;
        run(async move {
            inner
                .import_records(&records, options)
                .await
                .map(ImportReport::from)
        })
        .await
    }

    /// Resolves to the `ImportReport` of a table import (see `Identity.import_table_rows`);
    /// the rows are read when the coroutine is awaited.
    #[pyo3(signature = (rows, *, on_error = None, dry_run = false, renumber = false))]
    async fn import_table_rows(
        slf: Py<Self>,
        rows: Py<PyAny>,
        on_error: Option<Py<PyAny>>,
        dry_run: bool,
        renumber: bool,
    ) -> PyResult<ImportReport> {
        let (inner, records, options) = Python::attach(|py| -> PyResult<_> {
            let records = import::records(rows.bind(py), &import::TABLE_ROWS)?;
            let options = import::options(arg(py, &on_error), dry_run, renumber)?;
            Ok((slf.get().handle.usable()?, records, options))
        })?;
        run(async move {
            inner
                .import_table_records(&records, options)
                .await
                .map(ImportReport::from)
        })
        .await
    }

    /// Resolves to every customer of the tenant, by primary id (see `Identity.customers`).
    async fn customers(slf: Py<Self>) -> PyResult<Vec<Contact>> {
        let inner = slf.get().handle.usable()?;
        run(async move {
            inner
                .customers()
                .await
                .map(|all| all.into_iter().map(Contact::from).collect())
        })
        .await
    }

    /// Resolves to the customer contact `id` belongs to now (see `Identity.customer`).
    async fn customer(slf: Py<Self>, id: i64) -> PyResult<Customer> {
        let id = identity::ContactId::new(id);
        let inner = slf.get().handle.usable()?;
        run(async move { inner.customer(id).await.map(Customer::from) }).await
    }

    /// Resolves to every visible row of the tenant, by id (see `Identity.all_contacts`).
    async fn all_contacts(slf: Py<Self>) -> PyResult<Vec<ContactRow>> {
        let inner = slf.get().handle.usable()?;
        run(async move {
            inner
                .all_contacts()
                .await
                .map(|all| all.into_iter().map(ContactRow::from).collect())
        })
        .await
    }

    /// Resolves to `None` when the database answers (see `Identity.ping`).
    async fn ping(slf: Py<Self>) -> PyResult<()> {
        let inner = slf.get().handle.usable()?;
        run(async move { inner.ping().await }).await
    }

    /// Resolves to the report of `verify` (see `Identity.verify`).
    async fn verify(slf: Py<Self>) -> PyResult<VerifyReport> {
        let inner = slf.get().handle.usable()?;
        run(async move { inner.verify().await.map(VerifyReport::from) }).await
    }

    /// Resolves to the report of `rebuild` (see `Identity.rebuild`).
    async fn rebuild(slf: Py<Self>) -> PyResult<RebuildReport> {
        let inner = slf.get().handle.usable()?;
        run(async move { inner.rebuild().await.map(RebuildReport::from) }).await
    }

    /// Closes the database connections; later calls raise `ClosedError`. Idempotent.
    async fn close(slf: Py<Self>) -> PyResult<()> {
        close(slf).await
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

    async fn __aenter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    async fn __aexit__(slf: Py<Self>, _args: Py<pyo3::types::PyTuple>) -> PyResult<()> {
        close(slf).await
    }

    fn __repr__(&self) -> String {
        self.handle.repr()
    }
}

/// `block` (`add`) or `unblock` of the entry the arguments name.
async fn change_blocked(
    slf: Py<AsyncIdentity>,
    kind: Py<PyAny>,
    value: Option<Py<PyAny>>,
    pattern: Option<Py<PyAny>>,
    add: bool,
) -> PyResult<bool> {
    let (inner, entry) = Python::attach(|py| -> PyResult<_> {
        let entry = blocked::entry(kind.bind(py), arg(py, &value), arg(py, &pattern))?;
        Ok((slf.get().handle.usable()?, entry))
    })?;
    run(async move {
        if add {
            inner.block(&entry).await
        } else {
            inner.unblock(&entry).await
        }
    })
    .await
}

/// Closes the store once (later calls are no-ops).
async fn close(slf: Py<AsyncIdentity>) -> PyResult<()> {
    let handle = &slf.get().handle;
    runtime::check_owner(handle.owner, handle.what)?;
    let first = !handle.closed.swap(true, Ordering::SeqCst);
    let inner = handle.inner.clone();
    run(async move {
        if first {
            inner.close().await;
        }
        Ok(())
    })
    .await
}
