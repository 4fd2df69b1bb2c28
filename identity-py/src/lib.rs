//! `identity_reconciliation._native`: the Python binding of the identity core. It converts
//! arguments, runs the core on the process's one tokio runtime (the GIL released while waiting),
//! and maps errors; the rules all live in the core.

mod convert;
mod errors;
mod reports;
mod runtime;
mod settings;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pyo3::BoundObject;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use crate::convert::request;
use crate::reports::{Problem, RebuildReport, VerifyReport};
use crate::settings::TenantSettings;

/// `Contact`'s constructor arguments, as pickled.
type ContactArgs = (i64, Vec<String>, Vec<String>, Vec<i64>);

/// The consolidated customer: immutable, comparable, hashable, picklable.
#[pyclass(frozen, eq, hash, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Contact {
    primary_contact_id: i64,
    emails: Vec<String>,
    phone_numbers: Vec<String>,
    secondary_contact_ids: Vec<i64>,
}

impl From<identity::ConsolidatedContact> for Contact {
    fn from(c: identity::ConsolidatedContact) -> Self {
        Contact {
            primary_contact_id: c.primary_contact_id.get(),
            emails: c.emails.iter().map(ToString::to_string).collect(),
            phone_numbers: c.phone_numbers.iter().map(ToString::to_string).collect(),
            secondary_contact_ids: c.secondary_contact_ids.iter().map(|id| id.get()).collect(),
        }
    }
}

#[pymethods]
impl Contact {
    #[new]
    #[pyo3(signature = (primary_contact_id, emails, phone_numbers, secondary_contact_ids))]
    fn new(
        primary_contact_id: i64,
        emails: Vec<String>,
        phone_numbers: Vec<String>,
        secondary_contact_ids: Vec<i64>,
    ) -> Self {
        Contact {
            primary_contact_id,
            emails,
            phone_numbers,
            secondary_contact_ids,
        }
    }

    /// The customer's primary row id.
    #[getter]
    fn primary_contact_id(&self) -> i64 {
        self.primary_contact_id
    }

    /// Distinct emails, the primary's first.
    #[getter]
    fn emails(&self) -> Vec<String> {
        self.emails.clone()
    }

    /// Distinct phone numbers, the primary's first.
    #[getter]
    fn phone_numbers(&self) -> Vec<String> {
        self.phone_numbers.clone()
    }

    /// Every secondary row id, ascending.
    #[getter]
    fn secondary_contact_ids(&self) -> Vec<i64> {
        self.secondary_contact_ids.clone()
    }

    /// The wire shape: `{"primaryContactId", "emails", "phoneNumbers", "secondaryContactIds"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("primaryContactId", self.primary_contact_id)?;
        dict.set_item("emails", self.emails.clone())?;
        dict.set_item("phoneNumbers", self.phone_numbers.clone())?;
        dict.set_item("secondaryContactIds", self.secondary_contact_ids.clone())?;
        Ok(dict)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let repr = |v: Bound<'_, PyAny>| v.repr().map(|r| r.to_string());
        Ok(format!(
            "Contact(primary_contact_id={}, emails={}, phone_numbers={}, secondary_contact_ids={})",
            self.primary_contact_id,
            repr(self.emails.clone().into_pyobject(py)?.into_any())?,
            repr(self.phone_numbers.clone().into_pyobject(py)?.into_any())?,
            repr(
                self.secondary_contact_ids
                    .clone()
                    .into_pyobject(py)?
                    .into_any()
            )?,
        ))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, ContactArgs) {
        let c = slf.get();
        (
            slf.get_type(),
            (
                c.primary_contact_id,
                c.emails.clone(),
                c.phone_numbers.clone(),
                c.secondary_contact_ids.clone(),
            ),
        )
    }
}

/// What both handles hold: the core handle, the process that made it, and whether its store is
/// closed (shared by every tenant handle of the store).
struct Handle {
    inner: identity::Identity,
    owner: u32,
    closed: Arc<AtomicBool>,
    what: &'static str,
}

impl Handle {
    /// A handle on the same store acting for the tenant `id` names.
    fn tenant(&self, id: &Bound<'_, PyAny>) -> PyResult<Handle> {
        runtime::check_owner(self.owner, self.what)?;
        Ok(Handle {
            inner: self.inner.for_tenant(convert::tenant(id)?),
            owner: self.owner,
            closed: Arc::clone(&self.closed),
            what: self.what,
        })
    }

    /// The core handle, if this process may use it and it is open.
    fn usable(&self) -> PyResult<identity::Identity> {
        runtime::check_owner(self.owner, self.what)?;
        if self.closed.load(Ordering::SeqCst) {
            return Err(errors::closed(self.what));
        }
        Ok(self.inner.clone())
    }

    /// Runs `call` on the core handle with the GIL released and waits for it; a core error
    /// becomes its Python exception.
    fn block_on<T, Fut>(
        &self,
        py: Python<'_>,
        call: impl FnOnce(identity::Identity) -> Fut + Send,
    ) -> PyResult<T>
    where
        T: Send,
        Fut: std::future::Future<Output = identity::Result<T>>,
    {
        let inner = self.usable()?;
        let rt = runtime::get()?;
        py.detach(|| rt.block_on(call(inner)))
            .map_err(|e| errors::to_py(&e))
    }

    fn repr(&self) -> String {
        format!(
            "{}(backend='{}', tenant='{}', closed={})",
            self.what,
            self.inner.store().backend(),
            self.inner.tenant_id(),
            if self.closed.load(Ordering::SeqCst) {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// Connection options shared by both constructors.
fn options(max_connections: u32, acquire_timeout: f64) -> PyResult<identity::ConnectOptions> {
    if !(acquire_timeout.is_finite() && acquire_timeout > 0.0) {
        return Err(errors::invalid_input(
            "acquire_timeout must be a positive number of seconds",
            "acquire_timeout",
        ));
    }
    if max_connections == 0 {
        return Err(errors::invalid_input(
            "max_connections must be at least 1",
            "max_connections",
        ));
    }
    Ok(identity::ConnectOptions::default()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs_f64(acquire_timeout)))
}

/// The blocking API. Calls release the GIL while they wait, so threads run them in parallel.
#[pyclass(frozen, module = "identity_reconciliation")]
pub struct Identity {
    handle: Handle,
}

#[pymethods]
impl Identity {
    #[new]
    #[pyo3(signature = (url, *, max_connections = 10, acquire_timeout = 5.0))]
    fn new(
        py: Python<'_>,
        url: &str,
        max_connections: u32,
        acquire_timeout: f64,
    ) -> PyResult<Self> {
        let options = options(max_connections, acquire_timeout)?;
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
        let request = request(email, phone_number)?;
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

/// What an awaitable with nothing to say resolves to: Python's `None` (a Rust `()` would
/// become an empty tuple).
const NONE: Option<()> = None;

/// An asyncio future of the running loop, resolved with the result of `work`, which runs on the
/// tokio runtime. The loop is only touched through `call_soon_threadsafe`.
fn awaitable<'py, T, F>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Contact>()?;
    m.add_class::<Identity>()?;
    m.add_class::<AsyncIdentity>()?;
    m.add_class::<Problem>()?;
    m.add_class::<VerifyReport>()?;
    m.add_class::<RebuildReport>()?;
    m.add_class::<TenantSettings>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
