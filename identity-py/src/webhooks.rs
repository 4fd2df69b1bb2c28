//! Webhooks for Python: `Webhook` and `Delivery` (the answers of `create_webhook()`,
//! `webhooks()`, `webhook_deliveries()`, `replay_webhook()`), the running `WebhookSender` that
//! `deliver_webhooks()` starts, and `verify_webhook()`, for a Python receiver to check a
//! delivery's signature. The rules all live in the core (`identity::webhook`).

use std::sync::Mutex;
use std::time::Duration;

use identity::webhook::{self, EventTypes, WebhookId, WebhookSecret};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;

use crate::errors;
use crate::history::wire;
use crate::runtime;

/// A webhook endpoint; `secret` is set only on the one `create_webhook()` answers (it is told
/// once). `to_dict()` is its wire shape.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    inner: webhook::Webhook,
    secret: Option<WebhookSecret>,
}

impl From<webhook::Webhook> for Webhook {
    fn from(inner: webhook::Webhook) -> Self {
        Webhook {
            inner,
            secret: None,
        }
    }
}

impl From<webhook::NewWebhook> for Webhook {
    fn from(created: webhook::NewWebhook) -> Self {
        Webhook {
            inner: created.webhook,
            secret: Some(created.secret),
        }
    }
}

#[pymethods]
impl Webhook {
    /// Its id.
    #[getter]
    fn id(&self) -> i64 {
        self.inner.id.get()
    }

    /// Where events are POSTed.
    #[getter]
    fn url(&self) -> &str {
        &self.inner.url
    }

    /// The event types it receives; `None`: every type.
    #[getter]
    fn types(&self) -> Option<Vec<&'static str>> {
        self.inner.types.names().map(<[&str]>::to_vec)
    }

    /// `"active"`, or `"failing"` once every retry of an event failed (until a replay).
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state.as_str()
    }

    /// The feed cursor it was delivered up to.
    #[getter]
    fn cursor(&self) -> String {
        self.inner.cursor.to_string()
    }

    /// Failed attempts at the next event so far.
    #[getter]
    fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// When the next event is tried at the earliest (aware `datetime`); `None` once failing.
    #[getter]
    fn next_attempt_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.next_attempt_at.into_bound_py_any(py)
    }

    /// What the last failed attempt got; `None` once an attempt succeeds.
    #[getter]
    fn last_error(&self) -> Option<&str> {
        self.inner.last_error.as_deref()
    }

    /// When it was registered.
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.created_at.into_bound_py_any(py)
    }

    /// The signing secret (`whsec_...`): on the answer of `create_webhook()` only.
    #[getter]
    fn secret(&self) -> Option<&str> {
        self.secret.as_ref().map(WebhookSecret::as_str)
    }

    /// The wire shape: `{"id", "url", "types", "state", "cursor", "attempts",
    /// "nextAttemptAt", "lastError", "createdAt"}` (and `"secret"` when it has one).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let dict = wire(py, &self.inner)?;
        if let Some(secret) = &self.secret {
            dict.set_item("secret", secret.as_str())?;
        }
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        format!(
            "Webhook(id={}, url='{}', state='{}', cursor='{}')",
            self.inner.id,
            self.inner.url,
            self.inner.state.as_str(),
            self.inner.cursor
        )
    }
}

/// One attempt to deliver an event to an endpoint; `to_dict()` is its wire shape.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    inner: webhook::Delivery,
}

impl From<webhook::Delivery> for Delivery {
    fn from(inner: webhook::Delivery) -> Self {
        Delivery { inner }
    }
}

#[pymethods]
impl Delivery {
    /// The event's id (its `webhook-id` header).
    #[getter]
    fn event_id(&self) -> &str {
        &self.inner.event_id
    }

    /// The event's cursor.
    #[getter]
    fn cursor(&self) -> String {
        self.inner.cursor.to_string()
    }

    /// 1 for the first attempt at the event, then 2, ...
    #[getter]
    fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// When the attempt started.
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.at.into_bound_py_any(py)
    }

    /// The endpoint's HTTP status; `None` when it did not answer.
    #[getter]
    fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// Why the attempt failed; `None` when it succeeded.
    #[getter]
    fn error(&self) -> Option<&str> {
        self.inner.error.as_deref()
    }

    /// How long it took, in milliseconds.
    #[getter]
    fn duration_ms(&self) -> u64 {
        self.inner.duration_ms
    }

    /// After a failure: when the event is tried again; `None` once the endpoint is failing.
    #[getter]
    fn next_attempt_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.next_attempt_at.into_bound_py_any(py)
    }

    /// Whether the endpoint took the event (a 2xx).
    #[getter]
    fn succeeded(&self) -> bool {
        self.inner.succeeded()
    }

    /// The wire shape: `{"eventId", "cursor", "attempt", "at", "status", "error",
    /// "durationMs", "nextAttemptAt"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        wire(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "Delivery(event_id='{}', attempt={}, status={:?}, error={:?})",
            self.inner.event_id, self.inner.attempt, self.inner.status, self.inner.error
        )
    }
}

/// A running webhook sender (see `Identity.deliver_webhooks`). `stop()` ends it; so does
/// leaving a `with` block.
#[pyclass(module = "identity_reconciliation")]
pub struct WebhookSender {
    running: Mutex<Option<identity::WebhookSender>>,
}

impl WebhookSender {
    pub(crate) fn new(sender: identity::WebhookSender) -> Self {
        WebhookSender {
            running: Mutex::new(Some(sender)),
        }
    }
}

#[pymethods]
impl WebhookSender {
    /// Stops taking endpoints, waits (the GIL released) for the attempts in flight to finish
    /// and be recorded, and gives the endpoints back. Calling it again does nothing.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let sender = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            let rt = runtime::get()?;
            py.detach(|| rt.block_on(sender.stop()));
        }
        Ok(())
    }

    /// Whether it still runs.
    #[getter]
    fn running(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }
}

/// Whether `signature` (the `webhook-signature` header: one or more `v1,<base64>`) is a valid
/// signature of a delivery by the endpoint's `secret` (`whsec_...`), its `webhook-id`, its
/// `webhook-timestamp` and its raw `body` (bytes). Also refuse old timestamps, against
/// replays.
#[pyfunction]
pub fn verify_webhook(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
    signature: &str,
) -> PyResult<bool> {
    let secret = WebhookSecret::parse(secret).map_err(|_| {
        errors::invalid_input("invalid secret: must be whsec_ and base64", "secret")
    })?;
    Ok(webhook::verify(&secret, id, timestamp, body, signature))
}

/// The signature a delivery of `body` with `webhook-id` `id` at `timestamp` carries, by the
/// endpoint's `secret`: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
#[pyfunction]
pub fn sign_webhook(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> PyResult<String> {
    let secret = WebhookSecret::parse(secret).map_err(|_| {
        errors::invalid_input("invalid secret: must be whsec_ and base64", "secret")
    })?;
    Ok(webhook::sign(&secret, id, timestamp, body))
}

/// `types` as given to `create_webhook()`: `None` for every type, or a list of type names.
pub fn event_types(types: Option<Vec<String>>) -> PyResult<EventTypes> {
    match types {
        None => Ok(EventTypes::ALL),
        Some(names) => EventTypes::parse(&names).map_err(|e| errors::to_py(&e)),
    }
}

/// A webhook id as given: a positive integer.
pub fn webhook_id(id: i64) -> PyResult<WebhookId> {
    WebhookId::new(id).map_err(|e| errors::to_py(&e))
}

/// What `deliver_webhooks(timeout=...)` does on both APIs: a sender over HTTP(S) on the
/// binding's runtime, delivering every tenant's endpoints of `inner`'s store.
pub fn start_sender(inner: &identity::Identity, timeout: f64) -> PyResult<WebhookSender> {
    let options = sender_options(timeout)?;
    let transport = identity::HttpTransport::new(inner.allows_private_webhooks())
        .map_err(|e| errors::to_py(&e))?;
    let _entered = runtime::get()?.enter();
    Ok(WebhookSender::new(
        inner.deliver_webhooks(std::sync::Arc::new(transport), options),
    ))
}

/// `timeout` of `deliver_webhooks()`: seconds, 0.1 to 60.
fn sender_options(timeout: f64) -> PyResult<identity::SenderOptions> {
    if !(0.1..=60.0).contains(&timeout) {
        return Err(errors::invalid_input(
            "invalid timeout: must be 0.1 to 60 seconds",
            "timeout",
        ));
    }
    Ok(identity::SenderOptions::default().timeout(Duration::from_secs_f64(timeout)))
}
