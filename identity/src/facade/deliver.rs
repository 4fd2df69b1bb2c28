//! The webhook sender (facade layer): claims due endpoints of every tenant of the store, one
//! lease each, and delivers their events in feed order through a [`Transport`], recording
//! each attempt in the store before the next ([`crate::webhook`] says what is delivered).

#[cfg(feature = "webhook-http")]
pub mod http;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::connect::Identity;
use crate::error::Error;
use crate::feed::{self, Cursor, FeedEvent};
use crate::store::webhooks::Lease;
use crate::webhook::{self, Delivery, WebhookTarget, retry_after, sign};

/// How a sender sends: one POST, answering the HTTP status, or why there was none.
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// POSTs `body` to `url` with `headers`, giving up after `timeout`; never follows a
    /// redirect. `Err` says why no status came (refused, timed out, ...).
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> std::result::Result<u16, String>;
}

/// How a sender runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SenderOptions {
    /// How long an endpoint has to answer (default [`webhook::DEFAULT_TIMEOUT`]). A sender
    /// holds an endpoint's lease for three times as long between records, so another sender
    /// takes it over that long after this one dies.
    pub timeout: Duration,
    /// How many endpoints it delivers to at once (default 16).
    pub endpoints: usize,
    /// How often it looks for due endpoints when no write of this process woke it (default
    /// [`feed::POLL_INTERVAL`]).
    pub poll: Duration,
    /// The waits before each retry of a failed event (default [`webhook::RETRY_SCHEDULE`],
    /// about a day); once spent, the endpoint is failing.
    pub retry_schedule: Vec<Duration>,
}

impl Default for SenderOptions {
    fn default() -> Self {
        SenderOptions {
            timeout: webhook::DEFAULT_TIMEOUT,
            endpoints: 16,
            poll: feed::POLL_INTERVAL,
            retry_schedule: webhook::RETRY_SCHEDULE.to_vec(),
        }
    }
}

impl SenderOptions {
    /// Sets [`SenderOptions::timeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`SenderOptions::endpoints`].
    #[must_use]
    pub fn endpoints(mut self, n: usize) -> Self {
        self.endpoints = n.max(1);
        self
    }

    /// Sets [`SenderOptions::poll`].
    #[must_use]
    pub fn poll(mut self, every: Duration) -> Self {
        self.poll = every;
        self
    }

    /// Sets [`SenderOptions::retry_schedule`].
    #[must_use]
    pub fn retry_schedule(mut self, waits: impl Into<Vec<Duration>>) -> Self {
        self.retry_schedule = waits.into();
        self
    }

    /// How long a lease lasts between two records.
    fn lease(&self) -> Duration {
        (self.timeout * 3).max(Duration::from_secs(3))
    }
}

/// A running sender; [`WebhookSender::stop`] ends it (dropping it stops it too, less
/// politely: its leases then run out instead of being given back).
#[derive(Debug)]
pub struct WebhookSender {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl WebhookSender {
    /// Stops taking endpoints, lets the attempts in flight finish and be recorded, gives the
    /// leases back.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for WebhookSender {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Identity {
    /// Starts a sender on the current tokio runtime that delivers the webhooks of every tenant
    /// of the store through `transport` (the HTTP service runs one). Several senders, in one
    /// process or many, share the work: each endpoint is delivered to by one at a time.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use identity::webhook::EventTypes;
    /// use identity::{SenderOptions, Transport};
    ///
    /// /// A receiver in memory: takes every event.
    /// #[derive(Debug, Default)]
    /// struct Inbox(Mutex<Vec<String>>);
    ///
    /// #[async_trait::async_trait]
    /// impl Transport for Inbox {
    ///     async fn post(
    ///         &self, _url: &str, headers: &[(&'static str, String)], _body: Vec<u8>,
    ///         _timeout: std::time::Duration,
    ///     ) -> Result<u16, String> {
    ///         let id = headers.iter().find(|(k, _)| *k == "webhook-id").unwrap();
    ///         self.0.lock().unwrap().push(id.1.clone());
    ///         Ok(204)
    ///     }
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// identity.create_webhook("https://crm.example.com/hooks", EventTypes::ALL).await?;
    /// let inbox = Arc::new(Inbox::default());
    /// let sender = identity.deliver_webhooks(inbox.clone(), SenderOptions::default());
    /// identity.identify(Some("doc@hillvalley.edu"), None).await?;
    /// while inbox.0.lock().unwrap().is_empty() {
    ///     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    /// }
    /// sender.stop().await;
    /// assert_eq!(*inbox.0.lock().unwrap(), ["evt_1"]);
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn deliver_webhooks(
        &self,
        transport: Arc<dyn Transport>,
        options: SenderOptions,
    ) -> WebhookSender {
        let (stop, stopped) = watch::channel(false);
        let sender = Sender {
            identity: self.clone(),
            transport,
            owner: owner_name(),
            options,
            stopped,
        };
        WebhookSender {
            stop,
            task: Some(tokio::spawn(sender.run())),
        }
    }
}

/// A sender's loop and what its endpoint workers share.
#[derive(Clone)]
struct Sender {
    identity: Identity,
    transport: Arc<dyn Transport>,
    owner: String,
    options: SenderOptions,
    stopped: watch::Receiver<bool>,
}

impl Sender {
    async fn run(self) {
        let mut workers = JoinSet::new();
        let mut stopped = self.stopped.clone();
        loop {
            if *stopped.borrow() {
                break;
            }
            let woken = self.identity.signal().any().notified();
            tokio::pin!(woken);
            // registered before looking: a write after the look still wakes the sender
            woken.as_mut().enable();
            while workers.len() < self.options.endpoints {
                let claimed_at = Instant::now();
                let lease = self.options.lease();
                match self
                    .identity
                    .store()
                    .webhooks()
                    .claim_webhook(&self.owner, lease)
                    .await
                {
                    Ok(Some(held)) => {
                        let worker = self.clone();
                        workers.spawn(async move { worker.deliver(held, claimed_at).await });
                    }
                    // a store error: looked at again at the next tick
                    Ok(None) | Err(_) => break,
                }
            }
            tokio::select! {
                _ = stopped.changed() => {}
                () = &mut woken => {
                    // let a burst of writes land before looking again
                    tokio::time::sleep(feed::MIN_LOOK).await;
                }
                () = tokio::time::sleep(self.options.poll) => {}
                Some(_) = workers.join_next(), if !workers.is_empty() => {}
            }
        }
        // the workers stop after their attempt in flight, and give their leases back
        while workers.join_next().await.is_some() {}
    }

    /// Delivers the endpoint's events while it has some and the lease holds, then gives the
    /// lease back (a failure gives it back itself, with the retry's time).
    async fn deliver(self, mut held: Lease, claimed_at: Instant) {
        let store = self.identity.store().webhooks();
        let lease = self.options.lease();
        let mut deadline = claimed_at + lease;
        loop {
            if *self.stopped.borrow() {
                break;
            }
            let page = self
                .identity
                .store()
                .events(
                    &held.tenant,
                    Some(Cursor::at(held.delivered)),
                    feed::DEFAULT_PAGE,
                )
                .await;
            let events = match page {
                Ok(page) if page.events.is_empty() => break,
                Ok(page) => page.events,
                Err(Error::CursorExpired { oldest }) => {
                    let why = format!(
                        "the events after its cursor were pruned before they were delivered; \
                         replay from {oldest} or later"
                    );
                    let _ = store
                        .webhook_failed(&held, &self.lost(&held, why), None)
                        .await;
                    return;
                }
                Err(_) => break,
            };
            let mut passed = held.delivered;
            for event in events {
                let position = event.cursor.position();
                if !held.types.receives(event.change.kind()) {
                    passed = position;
                    continue;
                }
                if deadline.saturating_duration_since(Instant::now()) < self.options.timeout * 2 {
                    let asked = Instant::now();
                    match store.renew_webhook(&held, lease).await {
                        Ok(true) => deadline = asked + lease,
                        _ => return,
                    }
                }
                let delivery = self.attempt(&held, &event).await;
                self.identity.counters.delivery(delivery.succeeded());
                if delivery.succeeded() {
                    let asked = Instant::now();
                    match store
                        .webhook_delivered(&held, position, Some(&delivery), lease)
                        .await
                    {
                        Ok(true) => deadline = asked + lease,
                        // lost (replayed, deleted, expired and taken) or not recorded: the
                        // event is delivered again by whoever holds the endpoint next
                        _ => break,
                    }
                    held.delivered = position;
                    held.attempts = 0;
                    passed = position;
                } else {
                    let retry =
                        retry_after(&self.options.retry_schedule, held.attempts + 1, jitter());
                    let _ = store.webhook_failed(&held, &delivery, retry).await;
                    return;
                }
                if *self.stopped.borrow() {
                    break;
                }
            }
            if passed > held.delivered {
                let asked = Instant::now();
                match store.webhook_delivered(&held, passed, None, lease).await {
                    Ok(true) => deadline = asked + lease,
                    _ => break,
                }
                held.delivered = passed;
            }
        }
        let _ = store.release_webhook(&held).await;
    }

    /// One attempt to deliver `event` to the endpoint.
    async fn attempt(&self, held: &Lease, event: &FeedEvent) -> Delivery {
        let at = OffsetDateTime::now_utc();
        let started = Instant::now();
        let outcome = match WebhookTarget::parse(&held.url, self.identity.allows_private_webhooks())
        {
            // allowed when it was registered, refused since
            Err(e) => Err(e.to_string()),
            Ok(_) => match serde_json::to_vec(event) {
                Err(e) => Err(format!("the event could not be written as JSON: {e}")),
                Ok(body) => {
                    let timestamp = at.unix_timestamp();
                    let headers = [
                        ("content-type", "application/json".to_owned()),
                        ("webhook-id", event.id.clone()),
                        ("webhook-timestamp", timestamp.to_string()),
                        (
                            "webhook-signature",
                            sign(&held.secret, &event.id, timestamp, &body),
                        ),
                    ];
                    self.transport
                        .post(&held.url, &headers, body, self.options.timeout)
                        .await
                }
            },
        };
        let (status, error) = match outcome {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) if (300..400).contains(&status) => (
                Some(status),
                Some(format!("answered {status}: redirects are not followed")),
            ),
            Ok(status) => (Some(status), Some(format!("answered {status}"))),
            Err(why) => (None, Some(why)),
        };
        Delivery {
            event_id: event.id.clone(),
            cursor: event.cursor,
            attempt: held.attempts + 1,
            at,
            status,
            error,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            next_attempt_at: None,
        }
    }

    /// The attempt recorded when the endpoint's next events are gone.
    fn lost(&self, held: &Lease, why: String) -> Delivery {
        Delivery {
            event_id: String::new(),
            cursor: Cursor::at(held.delivered),
            attempt: held.attempts + 1,
            at: OffsetDateTime::now_utc(),
            status: None,
            error: Some(why),
            duration_ms: 0,
            next_attempt_at: None,
        }
    }
}

/// A number in `0.0..1.0` for a retry's jitter.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// A name for this sender, unique among the senders of a database.
fn owner_name() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    format!(
        "sender-{}-{:016x}",
        std::process::id(),
        u64::from_le_bytes(bytes)
    )
}
