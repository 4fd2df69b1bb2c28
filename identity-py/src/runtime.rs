//! The one tokio runtime of this process, and the fork guard.
//!
//! A forked child inherits the parent's memory but not its threads, so the parent's runtime is
//! dead there: the child gets a runtime of its own (the dead one is leaked, never dropped, as
//! dropping it would wait for threads that do not exist), and handles created before the fork
//! refuse to be used instead of hanging.

use std::future::Future;
use std::sync::Mutex;

use pyo3::PyResult;
use tokio::runtime::Runtime;

use crate::errors;

static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The runtime of the current process, created on first use.
pub fn get() -> PyResult<&'static Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    match *slot {
        Some((owner, runtime)) if owner == pid => Ok(runtime),
        _ => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("identity-runtime")
                .build()
                .map_err(|e| {
                    errors::identity_error(&format!("cannot start the async runtime: {e}"))
                })?;
            let runtime: &'static Runtime = Box::leak(Box::new(runtime));
            *slot = Some((pid, runtime));
            Ok(runtime)
        }
    }
}

/// Fails when a handle created in process `owner` is used in another (a forked child).
pub fn check_owner(owner: u32, what: &str) -> PyResult<()> {
    let pid = std::process::id();
    if owner == pid {
        return Ok(());
    }
    Err(errors::identity_error(&format!(
        "this {what} was created in process {owner} and cannot be used in process {pid} \
         (after fork); create a new {what} in this process"
    )))
}

/// Aborts the task it guards when dropped: the awaiting coroutine was cancelled or closed.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` on the runtime's threads and waits for it without holding the event loop (the
/// coroutine is woken from those threads through `call_soon_threadsafe`). Dropping the wait
/// aborts the work at its next await point.
pub(crate) async fn run<T, F>(work: F) -> PyResult<T>
where
    F: Future<Output = identity::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let task = get()?.spawn(work);
    let _abort = AbortOnDrop(task.abort_handle());
    match task.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(errors::to_py(&e)),
        Err(e) => Err(errors::identity_error(&format!(
            "the call did not finish: {e}"
        ))),
    }
}
