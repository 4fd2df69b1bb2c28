//! The change feed for Python: `FeedEvent` and `EventsPage` (the answers of `events()`), and
//! the iterators `feed()` returns: `Feed` (blocking, for `for`) and `AsyncFeed` (for
//! `async for`). Both follow the tenant's feed from a cursor, waiting for new events; with
//! `idle_timeout` they stop once nothing new came for that long.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use identity::feed::{Cursor, DEFAULT_PAGE, MAX_WAIT};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;

use crate::errors;
use crate::handle::Handle;
use crate::history::wire;

/// One event of a tenant's change feed; `to_dict()` is its wire shape.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    inner: identity::FeedEvent,
}

#[pymethods]
impl FeedEvent {
    /// The event's id (`"evt_..."`), the same on every read and delivery.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }

    /// `"contact.created"`, `"contact.linked"`, `"customer.merged"`, `"customer.split"` or
    /// `"customer.erased"`.
    #[getter(r#type)]
    fn kind(&self) -> &'static str {
        self.inner.change.kind()
    }

    /// The tenant it belongs to.
    #[getter]
    fn tenant(&self) -> &str {
        self.inner.tenant.as_str()
    }

    /// When the change happened: an aware `datetime` (UTC).
    #[getter]
    fn occurred_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.occurred_at.into_bound_py_any(py)
    }

    /// The cursor just after this event: pass it as `after` to read on from here.
    #[getter]
    fn cursor(&self) -> String {
        self.inner.cursor.to_string()
    }

    /// The event's `data` as a `dict` (camelCase keys, as on the wire).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        wire(py, &self.inner)?.get_item("data")
    }

    /// The wire shape: `{"id", "type", "tenant", "occurredAt", "cursor", "data"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        wire(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "FeedEvent(id='{}', type='{}', cursor='{}')",
            self.inner.id,
            self.inner.change.kind(),
            self.inner.cursor
        )
    }
}

/// A page of the feed: `events` (oldest first) and `next`, the cursor to ask with next.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPage {
    inner: identity::FeedPage,
}

impl From<identity::FeedPage> for EventsPage {
    fn from(inner: identity::FeedPage) -> Self {
        EventsPage { inner }
    }
}

#[pymethods]
impl EventsPage {
    /// The events, in commit order.
    #[getter]
    fn events(&self) -> Vec<FeedEvent> {
        self.inner
            .events
            .iter()
            .map(|e| FeedEvent { inner: e.clone() })
            .collect()
    }

    /// The cursor to pass as `after` for the next page.
    #[getter]
    fn next(&self) -> String {
        self.inner.next.to_string()
    }

    /// The wire shape: `{"events": [...], "next"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        wire(py, &self.inner)
    }

    fn __len__(&self) -> usize {
        self.inner.events.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "EventsPage(events=<{} events>, next='{}')",
            self.inner.events.len(),
            self.inner.next
        )
    }
}

/// `after` as given to `events()` / `feed()`: `None` or a cursor string.
pub fn cursor(after: Option<&str>) -> PyResult<Option<Cursor>> {
    after
        .map(str::parse::<Cursor>)
        .transpose()
        .map_err(|e| errors::to_py(&e))
}

/// A length of time given as `value` of `unit` (`wait`, `idle_timeout` in seconds,
/// `older_than_days` in days): a number, 0 or more.
pub fn duration(name: &'static str, value: f64, unit: Duration) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value * unit.as_secs_f64()).map_err(|_| {
        errors::invalid_input(
            &format!("invalid {name}: must be a number, 0 or more"),
            name,
        )
    })
}

/// Seconds as given (`wait`, `idle_timeout`): a number, 0 or more.
pub fn seconds(name: &'static str, value: f64) -> PyResult<Duration> {
    duration(name, value, Duration::from_secs(1))
}

/// Where a follower is: the cursor it reads after and the events read but not yet handed out.
#[derive(Debug)]
struct Following {
    after: Option<Cursor>,
    ready: VecDeque<identity::FeedEvent>,
    /// The cursor of the last event handed out (at first: where it started).
    handed: Option<Cursor>,
}

impl Following {
    fn from(after: Option<Cursor>) -> Self {
        Following {
            after,
            ready: VecDeque::new(),
            handed: after,
        }
    }

    /// Where to follow on from: after the last event handed out.
    fn resume(&self) -> Option<Cursor> {
        if self.ready.is_empty() {
            self.after.or(self.handed)
        } else {
            self.handed
        }
    }

    /// The next event, waiting up to `wait` for one to come; `None` when none did.
    async fn next(
        &mut self,
        inner: &identity::Identity,
        wait: Duration,
    ) -> identity::Result<Option<identity::FeedEvent>> {
        if self.ready.is_empty() {
            let page = inner.events_wait(self.after, DEFAULT_PAGE, wait).await?;
            self.after = Some(page.next);
            self.ready.extend(page.events);
        }
        let event = self.ready.pop_front();
        if let Some(e) = &event {
            self.handed = Some(e.cursor);
        }
        Ok(event)
    }
}

/// How long a blocking `Feed` waits at a time: short, so Ctrl-C is seen between waits.
const SIGNAL_CHECK: Duration = Duration::from_secs(1);

/// What `Identity.feed()` returns: an iterator over the tenant's events from a cursor, which
/// blocks (the GIL released) while it waits for new ones.
#[pyclass(module = "identity_reconciliation")]
pub struct Feed {
    handle: Handle,
    following: Following,
    idle: Option<Duration>,
}

impl Feed {
    /// Follows the handle's tenant from after `after`.
    pub(crate) fn new(handle: Handle, after: Option<Cursor>, idle: Option<Duration>) -> Self {
        Feed {
            handle,
            following: Following::from(after),
            idle,
        }
    }
}

#[pymethods]
impl Feed {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<FeedEvent>> {
        let started = Instant::now();
        loop {
            let wait = match self.idle {
                Some(idle) => idle.saturating_sub(started.elapsed()).min(SIGNAL_CHECK),
                None => SIGNAL_CHECK,
            };
            let following = &mut self.following;
            let next = self
                .handle
                .block_on(py, async |inner| following.next(&inner, wait).await)?;
            if let Some(inner) = next {
                return Ok(Some(FeedEvent { inner }));
            }
            py.check_signals()?;
            if self.idle.is_some_and(|idle| started.elapsed() >= idle) {
                return Ok(None);
            }
        }
    }

    /// The cursor after the last event handed out (or the one it started from, `None` for
    /// the start): where to follow on from later.
    #[getter]
    fn cursor(&self) -> Option<String> {
        self.following.resume().map(|c| c.to_string())
    }
}

/// What `AsyncIdentity.feed()` returns: an async iterator over the tenant's events from a
/// cursor, which awaits new ones on the runtime's threads.
#[pyclass(frozen, module = "identity_reconciliation")]
pub struct AsyncFeed {
    handle: Handle,
    following: Arc<tokio::sync::Mutex<Following>>,
    idle: Option<Duration>,
}

impl AsyncFeed {
    /// Follows the handle's tenant from after `after`.
    pub(crate) fn new(handle: Handle, after: Option<Cursor>, idle: Option<Duration>) -> Self {
        AsyncFeed {
            handle,
            following: Arc::new(tokio::sync::Mutex::new(Following::from(after))),
            idle,
        }
    }
}

#[pymethods]
impl AsyncFeed {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The coroutine of the next event (an `async fn` cannot be `__anext__` itself).
    fn __anext__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.call_method0("_next")
    }

    /// Resolves to the next event; raises `StopAsyncIteration` after `idle_timeout` with none.
    #[pyo3(name = "_next")]
    async fn next_event(slf: Py<Self>) -> PyResult<FeedEvent> {
        let (inner, following, idle) = {
            let feed = slf.get();
            (
                feed.handle.usable()?,
                Arc::clone(&feed.following),
                feed.idle,
            )
        };
        let next = crate::runtime::run(async move {
            let mut following = following.lock().await;
            let started = Instant::now();
            loop {
                let wait = match idle {
                    Some(idle) => idle.saturating_sub(started.elapsed()).min(MAX_WAIT),
                    None => MAX_WAIT,
                };
                if let Some(event) = following.next(&inner, wait).await? {
                    return Ok(Some(event));
                }
                if idle.is_some_and(|idle| started.elapsed() >= idle) {
                    return Ok(None);
                }
            }
        })
        .await?;
        next.map(|inner| FeedEvent { inner })
            .ok_or_else(|| PyStopAsyncIteration::new_err(()))
    }
}
