//! [`WebhookStore`]: what the webhook endpoints and their senders need of a store. The rules
//! (what is due, the retry schedule, what a delivery carries) are the facade's and
//! [`crate::webhook`]'s; a backend holds only its SQL.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::feed::Cursor;
use crate::stats::{FeedStats, WebhookBacklog};
use crate::tenant::TenantId;
use crate::webhook::{
    Delivery, EventTypes, Webhook, WebhookId, WebhookSecret, WebhookState, WebhookTarget,
};

/// An endpoint a sender holds the lease of: what it needs to deliver the endpoint's next
/// events. Given by [`WebhookStore::claim_webhook`]; every later call names it.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The endpoint.
    pub id: WebhookId,
    /// Its tenant, whose feed it follows.
    pub tenant: TenantId,
    /// Its URL.
    pub url: String,
    /// What it receives.
    pub types: EventTypes,
    /// Its signing secret.
    pub secret: WebhookSecret,
    /// The feed position delivered up to.
    pub delivered: u64,
    /// Failed attempts at the next event so far.
    pub attempts: u32,
    /// The sender holding it.
    pub owner: String,
    /// The endpoint's replay count when claimed: a replay since then ends the lease.
    pub epoch: i64,
}

/// The storage of webhook endpoints, their delivery state and their attempts.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Registers an endpoint of `tenant` that receives the events written from now on.
    ///
    /// # Errors
    /// As [`crate::ContactStore::identify`].
    async fn create_webhook(
        &self,
        tenant: &TenantId,
        target: &WebhookTarget,
        types: &EventTypes,
        secret: &WebhookSecret,
    ) -> Result<Webhook>;

    /// The tenant's endpoints, oldest first.
    ///
    /// # Errors
    /// As [`crate::ContactStore::lookup`].
    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>>;

    /// Deletes the tenant's endpoint `id` with its attempts; `false` when it has none.
    ///
    /// # Errors
    /// As [`crate::ContactStore::identify`].
    async fn delete_webhook(&self, tenant: &TenantId, id: WebhookId) -> Result<bool>;

    /// The last `limit` attempts of the tenant's endpoint `id`, newest first; `None` when the
    /// tenant has no such endpoint.
    ///
    /// # Errors
    /// As [`crate::ContactStore::lookup`].
    async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        id: WebhookId,
        limit: usize,
    ) -> Result<Option<Vec<Delivery>>>;

    /// Makes the tenant's endpoint `id` deliver again from after `after` (from the oldest event
    /// kept when `None`), active, its failures forgotten; `None` when it has no such endpoint.
    ///
    /// # Errors
    /// [`crate::Error::CursorExpired`] when retention pruned events after `after`;
    /// [`crate::Error::InvalidInput`] ([`crate::Field::Cursor`]) for a cursor past the feed's
    /// last event; otherwise as [`crate::ContactStore::identify`].
    async fn replay_webhook(
        &self,
        tenant: &TenantId,
        id: WebhookId,
        after: Option<Cursor>,
    ) -> Result<Option<Webhook>>;

    /// Takes, for `lease` from now, the lease of one endpoint (of any tenant) that is active,
    /// due, has events after what it was delivered and is not leased by another sender.
    ///
    /// # Errors
    /// As [`crate::ContactStore::identify`].
    async fn claim_webhook(&self, owner: &str, lease: Duration) -> Result<Option<Lease>>;

    /// Records that the endpoint took everything up to `position`: `delivery` (a successful
    /// attempt; `None` when events it does not receive were passed over) is logged, its
    /// failures forgotten and the lease extended by `lease`. `false` when the lease was lost
    /// (expired and taken, the endpoint deleted or replayed): the sender stops.
    ///
    /// # Errors
    /// As [`crate::ContactStore::identify`].
    async fn webhook_delivered(
        &self,
        held: &Lease,
        position: u64,
        delivery: Option<&Delivery>,
        lease: Duration,
    ) -> Result<bool>;

    /// Records a failed attempt (`delivery`), then releases the endpoint: due again after
    /// `retry`, or [`WebhookState::Failing`] when `None`. `false` when the lease was lost.
    ///
    /// # Errors
    /// As [`crate::ContactStore::identify`].
    async fn webhook_failed(
        &self,
        held: &Lease,
        delivery: &Delivery,
        retry: Option<Duration>,
    ) -> Result<bool>;

    /// Extends the lease by `lease` from now; `false` when it was lost.
    ///
    /// # Errors
    /// As [`crate::ContactStore::identify`].
    async fn renew_webhook(&self, held: &Lease, lease: Duration) -> Result<bool>;

    /// Gives the lease up (nothing left to deliver, or the sender stops).
    ///
    /// # Errors
    /// As [`crate::ContactStore::identify`].
    async fn release_webhook(&self, held: &Lease) -> Result<()>;
}

/// The state to store after a failure: failing once the retries are spent.
pub(crate) fn state_after(retry: Option<Duration>) -> WebhookState {
    if retry.is_some() {
        WebhookState::Active
    } else {
        WebhookState::Failing
    }
}

/// A duration in whole milliseconds, as the stores bind it.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The event id a delivery names (`evt_42`) as stored (42).
pub(crate) fn event_seq(event_id: &str) -> i64 {
    event_id
        .strip_prefix("evt_")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// An endpoint's row as a backend reads it.
pub(crate) struct StoredWebhook {
    pub id: i64,
    pub url: String,
    pub types: Option<String>,
    pub state: String,
    pub delivered: i64,
    pub attempts: i64,
    pub next_attempt_at: time::OffsetDateTime,
    pub last_error: Option<String>,
    pub created_at: time::OffsetDateTime,
}

impl StoredWebhook {
    /// The endpoint it records.
    pub(crate) fn decode(self) -> Result<Webhook> {
        let state = WebhookState::from_stored(&self.state);
        Ok(Webhook {
            id: WebhookId::new(self.id)?,
            url: self.url,
            types: EventTypes::from_stored(self.types.as_deref()),
            state,
            cursor: Cursor::at(u64::try_from(self.delivered).unwrap_or(0)),
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: (state == WebhookState::Active).then_some(self.next_attempt_at),
            last_error: self.last_error,
            created_at: self.created_at,
        })
    }
}

/// One attempt's row as a backend reads it.
pub(crate) struct StoredDelivery {
    pub event_id: i64,
    pub position: i64,
    pub attempt: i64,
    pub at: time::OffsetDateTime,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub next_attempt_at: Option<time::OffsetDateTime>,
}

impl StoredDelivery {
    /// The attempt it records.
    pub(crate) fn decode(self) -> Delivery {
        Delivery {
            event_id: format!("evt_{}", self.event_id),
            cursor: Cursor::at(u64::try_from(self.position).unwrap_or(0)),
            attempt: u32::try_from(self.attempt).unwrap_or(0),
            at: self.at,
            status: self.status.and_then(|s| u16::try_from(s).ok()),
            error: self.error,
            duration_ms: u64::try_from(self.duration_ms).unwrap_or(0),
            next_attempt_at: self.next_attempt_at,
        }
    }
}

/// The lease a claimed row gives `owner`.
pub(crate) struct StoredLease {
    pub id: i64,
    pub tenant: String,
    pub url: String,
    pub types: Option<String>,
    pub secret: String,
    pub delivered: i64,
    pub attempts: i64,
    pub epoch: i64,
}

impl StoredLease {
    pub(crate) fn decode(self, owner: &str) -> Result<Lease> {
        Ok(Lease {
            id: WebhookId::new(self.id)?,
            tenant: TenantId::parse(&self.tenant)?,
            url: self.url,
            types: EventTypes::from_stored(self.types.as_deref()),
            secret: WebhookSecret::parse(&self.secret)?,
            delivered: u64::try_from(self.delivered).unwrap_or(0),
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            owner: owner.to_owned(),
            epoch: self.epoch,
        })
    }
}

/// An endpoint's backlog as a backend reads it ([`crate::stats::WebhookBacklog`]).
#[derive(sqlx::FromRow)]
pub(crate) struct StoredBacklog {
    pub id: i64,
    pub tenant: String,
    pub state: String,
    pub undelivered: i64,
    pub oldest: Option<time::OffsetDateTime>,
}

impl StoredBacklog {
    /// The feed's statistics a backend read: `written`, its tenants' positions summed, and
    /// every endpoint's backlog.
    pub(crate) fn stats(written: i64, rows: Vec<StoredBacklog>) -> Result<FeedStats> {
        Ok(FeedStats {
            events_written: u64::try_from(written).unwrap_or(0),
            webhooks: rows
                .into_iter()
                .map(StoredBacklog::decode)
                .collect::<Result<_>>()?,
        })
    }

    /// The backlog it records.
    pub(crate) fn decode(self) -> Result<WebhookBacklog> {
        Ok(WebhookBacklog {
            id: WebhookId::new(self.id)?,
            tenant: TenantId::parse(&self.tenant)?,
            state: WebhookState::from_stored(&self.state),
            undelivered: u64::try_from(self.undelivered).unwrap_or(0),
            oldest_undelivered_at: self.oldest,
        })
    }
}
