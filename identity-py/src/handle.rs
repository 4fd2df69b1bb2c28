//! What the blocking and the asyncio handle share: the core handle, the process that made it,
//! whether the store is closed, and the connection options of both constructors.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pyo3::prelude::*;

use crate::{convert, errors, runtime};

/// What both handles hold: the core handle, the process that made it, and whether its store is
/// closed (shared by every tenant handle of the store, and by the feeds made from them).
#[derive(Clone)]
pub(crate) struct Handle {
    pub(crate) inner: identity::Identity,
    pub(crate) owner: u32,
    pub(crate) closed: Arc<AtomicBool>,
    pub(crate) what: &'static str,
}

impl Handle {
    /// A handle on the same store acting for the tenant `id` names.
    pub(crate) fn tenant(&self, id: &Bound<'_, PyAny>) -> PyResult<Handle> {
        runtime::check_owner(self.owner, self.what)?;
        Ok(Handle {
            inner: self.inner.for_tenant(convert::tenant(id)?),
            owner: self.owner,
            closed: Arc::clone(&self.closed),
            what: self.what,
        })
    }

    /// The core handle, if this process may use it and it is open.
    pub(crate) fn usable(&self) -> PyResult<identity::Identity> {
        runtime::check_owner(self.owner, self.what)?;
        if self.closed.load(Ordering::SeqCst) {
            return Err(errors::closed(self.what));
        }
        Ok(self.inner.clone())
    }

    /// Runs `call` on the core handle with the GIL released and waits for it; a core error
    /// becomes its Python exception.
    pub(crate) fn block_on<T, Fut>(
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

    /// The tenant's long write in this process as `{"kind", "done", "total"}`, or `None`.
    pub(crate) fn job_progress<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let progress = self.usable()?.job_progress();
        progress.map(|p| crate::history::wire(py, &p)).transpose()
    }

    /// Counts an identify whose arguments were refused before it reached the core (every such
    /// refusal is invalid input).
    pub(crate) fn refused(&self) {
        self.inner
            .count_refused_identify(identity::ErrorKind::InvalidInput);
    }

    pub(crate) fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::history::wire(py, &self.usable()?.stats())
    }

    pub(crate) fn repr(&self) -> String {
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

/// Connection options shared by both constructors (`erasure_log`: the file every erase through
/// the handle appends its record to before it commits).
pub(crate) fn options(
    max_connections: u32,
    acquire_timeout: f64,
    erasure_log: Option<PathBuf>,
    allow_private_webhooks: bool,
) -> PyResult<identity::ConnectOptions> {
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
    let options = identity::ConnectOptions::default()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs_f64(acquire_timeout))
        .allow_private_webhooks(allow_private_webhooks);
    Ok(match erasure_log {
        Some(path) => options.erasure_log(path),
        None => options,
    })
}
