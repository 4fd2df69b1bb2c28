//! `AsyncIdentity`: the asyncio API, and how a core call becomes an awaitable.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use pyo3::BoundObject;
use pyo3::prelude::*;

use crate::blocked::{self, BlockedValue};
use crate::contact::Contact;
use crate::convert::{self, request};
use crate::erase::Erasure;
use crate::handle::{Handle, options};
use crate::history::History;
use crate::import::{self, ImportReport};
use crate::reports::{RebuildReport, VerifyReport};
use crate::rows::ContactRow;
use crate::settings::TenantSettings;
use crate::split::Split;
use crate::{errors, runtime};

/// The asyncio API: every call returns an awaitable resolved from the runtime's threads, so the
/// event loop never blocks.
#[pyclass(frozen, module = "identity_reconciliation")]
pub struct AsyncIdentity {
    handle: Arc<Handle>,
}

#[pymethods]
impl AsyncIdentity {
    /// Connects (and migrates); resolves to an `AsyncIdentity`.
    #[staticmethod]
    #[pyo3(signature = (url, *, max_connections = 10, acquire_timeout = 5.0))]
    fn connect<'py>(
        py: Python<'py>,
        url: String,
        max_connections: u32,
        acquire_timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = options(max_connections, acquire_timeout)?;
        awaitable(py, async move {
            let inner = identity::Identity::connect_with(&url, &options).await?;
            let handle = Handle {
                inner,
                owner: std::process::id(),
                closed: Arc::default(),
                what: "AsyncIdentity",
            };
            Ok(AsyncIdentity {
                handle: Arc::new(handle),
            })
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
    fn identify<'py>(
        &self,
        py: Python<'py>,
        email: Option<&Bound<'py, PyAny>>,
        phone_number: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = request(email, phone_number)?;
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            inner.identify_request(&request).await.map(Contact::from)
        })
    }

    /// Resolves to the customer or `None`, writing nothing.
    #[pyo3(signature = (email = None, phone_number = None))]
    fn lookup<'py>(
        &self,
        py: Python<'py>,
        email: Option<&Bound<'py, PyAny>>,
        phone_number: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = request(email, phone_number)?;
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            inner
                .lookup_request(&request)
                .await
                .map(|c| c.map(Contact::from))
        })
    }

    /// Resolves to the tenant's settings (see `Identity.settings`).
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            let settings = inner.settings().await?;
            Ok(TenantSettings::of(inner.tenant_id(), &settings))
        })
    }

    /// Resolves to the tenant's settings after setting its phone region (see
    /// `Identity.set_phone_region`).
    fn set_phone_region<'py>(
        &self,
        py: Python<'py>,
        region: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let region = convert::phone_region(region)?;
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            let settings = inner.set_phone_region(region.as_deref()).await?;
            Ok(TenantSettings::of(inner.tenant_id(), &settings))
        })
    }

    /// Resolves to the tenant's settings after setting its caps (see `Identity.set_limits`).
    #[pyo3(signature = (*, emails = None, phones = None))]
    fn set_limits<'py>(
        &self,
        py: Python<'py>,
        emails: Option<&Bound<'py, PyAny>>,
        phones: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limits = identity::Limits::new(
            convert::cap("emails", emails)?,
            convert::cap("phones", phones)?,
        )
        .map_err(|e| errors::to_py(&e))?;
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            let settings = inner.set_limits(limits).await?;
            Ok(TenantSettings::of(inner.tenant_id(), &settings))
        })
    }

    /// Resolves to the tenant's blocked list (see `Identity.blocked_values`).
    fn blocked_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            let entries = inner.blocked_values().await?;
            Ok(entries.iter().map(BlockedValue::from).collect::<Vec<_>>())
        })
    }

    /// Resolves to whether the entry was added (see `Identity.block`).
    #[pyo3(signature = (kind, value = None, *, pattern = None))]
    fn block<'py>(
        &self,
        py: Python<'py>,
        kind: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        pattern: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.change_blocked(py, kind, value, pattern, true)
    }

    /// Resolves to whether the entry was removed (see `Identity.unblock`).
    #[pyo3(signature = (kind, value = None, *, pattern = None))]
    fn unblock<'py>(
        &self,
        py: Python<'py>,
        kind: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        pattern: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.change_blocked(py, kind, value, pattern, false)
    }

    /// Resolves to the customer's `History` (see `Identity.history`).
    fn history<'py>(&self, py: Python<'py>, contact_id: i64) -> PyResult<Bound<'py, PyAny>> {
        let id = identity::ContactId::new(contact_id);
        let inner = self.handle.usable()?;
        awaitable(
            py,
            async move { inner.history(id).await.map(History::from) },
        )
    }

    /// Resolves to the `Split` (see `Identity.split`).
    #[pyo3(signature = (customer, contact_ids, *, block_shared = false))]
    fn split<'py>(
        &self,
        py: Python<'py>,
        customer: i64,
        contact_ids: Vec<i64>,
        block_shared: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let customer = identity::ContactId::new(customer);
        let ids: Vec<identity::ContactId> = contact_ids
            .into_iter()
            .map(identity::ContactId::new)
            .collect();
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            inner
                .split(customer, &ids, block_shared)
                .await
                .map(Split::from)
        })
    }

    /// Resolves to the `Erasure` receipt (see `Identity.erase`).
    #[pyo3(signature = (customer, *, suppress = false))]
    fn erase<'py>(
        &self,
        py: Python<'py>,
        customer: i64,
        suppress: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let customer = identity::ContactId::new(customer);
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            inner.erase(customer, suppress).await.map(Erasure::from)
        })
    }

    /// Resolves to the `ImportReport` of the import (see `Identity.import_checkouts`); the
    /// checkouts are read before the call returns.
    #[pyo3(signature = (checkouts, *, on_error = None, dry_run = false))]
    fn import_checkouts<'py>(
        &self,
        py: Python<'py>,
        checkouts: &Bound<'py, PyAny>,
        on_error: Option<&Bound<'py, PyAny>>,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let records = import::records(checkouts)?;
        let options = import::options(on_error, dry_run)?;
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            inner
                .import_records(&records, options)
                .await
                .map(ImportReport::from)
        })
    }

    /// Resolves to every customer of the tenant, by primary id (see `Identity.customers`).
    fn customers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            inner
                .customers()
                .await
                .map(|all| all.into_iter().map(Contact::from).collect::<Vec<_>>())
        })
    }

    /// Resolves to every visible row of the tenant, by id (see `Identity.all_contacts`).
    fn all_contacts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            inner
                .all_contacts()
                .await
                .map(|all| all.into_iter().map(ContactRow::from).collect::<Vec<_>>())
        })
    }

    /// Resolves to `None` when the database answers (see `Identity.ping`).
    fn ping<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.handle.usable()?;
        awaitable(py, async move { inner.ping().await.map(|()| NONE) })
    }

    /// Resolves to the report of `verify` (see `Identity.verify`).
    fn verify<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.handle.usable()?;
        awaitable(
            py,
            async move { inner.verify().await.map(VerifyReport::from) },
        )
    }

    /// Resolves to the report of `rebuild` (see `Identity.rebuild`).
    fn rebuild<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.handle.usable()?;
        awaitable(
            py,
            async move { inner.rebuild().await.map(RebuildReport::from) },
        )
    }

    /// Closes the database connections; later calls raise `ClosedError`. Idempotent.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        runtime::check_owner(self.handle.owner, self.handle.what)?;
        let first = !self.handle.closed.swap(true, Ordering::SeqCst);
        let inner = self.handle.inner.clone();
        awaitable(py, async move {
            if first {
                inner.close().await;
            }
            Ok(NONE)
        })
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

    fn __aenter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let same = AsyncIdentity {
            handle: slf.get().handle.clone(),
        };
        awaitable(slf.py(), async move { Ok(same) })
    }

    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _args: &Bound<'py, pyo3::types::PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close(py)
    }

    fn __repr__(&self) -> String {
        self.handle.repr()
    }
}

impl AsyncIdentity {
    /// Resolves `block` (`add`) or `unblock` of the entry the arguments name.
    fn change_blocked<'py>(
        &self,
        py: Python<'py>,
        kind: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        pattern: Option<&Bound<'py, PyAny>>,
        add: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let entry = blocked::entry(kind, value, pattern)?;
        let inner = self.handle.usable()?;
        awaitable(py, async move {
            if add {
                inner.block(&entry).await
            } else {
                inner.unblock(&entry).await
            }
        })
    }
}

/// What an awaitable with nothing to say resolves to: Python's `None` (a Rust `()` would
/// become an empty tuple).
pub(crate) const NONE: Option<()> = None;

/// An asyncio future of the running loop, resolved with the result of `work`, which runs on the
/// tokio runtime. The loop is only touched through `call_soon_threadsafe`.
pub(crate) fn awaitable<'py, T, F>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = identity::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let (loop_ref, future_ref) = (event_loop.unbind(), future.clone().unbind());
    runtime::get()?.spawn(async move {
        let result = work.await;
        // `try_attach`: the interpreter may be shutting down while a call is in flight
        Python::try_attach(|py| {
            let outcome = match result {
                Ok(value) => value
                    .into_pyobject(py)
                    .map(|v| v.into_any().unbind())
                    .map_err(Into::into),
                Err(e) => Err(errors::to_py(&e)),
            };
            let (setter, value) = match outcome {
                Ok(value) => ("resolve", value),
                Err(e) => ("reject", e.into_value(py).into_any()),
            };
            let delivered = py
                .import("identity_reconciliation._glue")
                .and_then(|glue| glue.getattr(setter))
                .and_then(|setter| {
                    loop_ref.call_method1(py, "call_soon_threadsafe", (setter, future_ref, value))
                });
            // a closed loop cannot take the result any more; nobody is waiting for it then
            drop(delivered);
        });
    });
    Ok(future)
}
