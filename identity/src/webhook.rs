//! Webhooks: a tenant's change feed ([`crate::feed`]) delivered to an HTTP endpoint, one POST per
//! event, as [Standard Webhooks 1.0](https://www.standardwebhooks.com/) describes.
//!
//! - An endpoint is registered with [`Identity::create_webhook`](crate::Identity::create_webhook):
//!   its [`WebhookTarget`] (an `http` or `https` URL; loopback, private and link-local
//!   addresses are refused unless the operator allows them), the [`EventTypes`] it receives
//!   (every type when none are named) and a secret (`whsec_` and base64), told once.
//! - It receives the events written after it was created, in feed order: the next event waits
//!   for the previous one's `2xx`. Each POST carries the event as JSON (as the feed shows it)
//!   with the headers `webhook-id` (the event's id, the same on every retry), `webhook-timestamp`
//!   (seconds since 1970) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of
//!   `{id}.{timestamp}.{body}` keyed with the secret's bytes: [`sign`]).
//! - A failed attempt (no answer within the timeout, or any status but `2xx`; redirects are not
//!   followed) is tried again after [`RETRY_SCHEDULE`] with jitter, about a day in all; then the
//!   endpoint is [`WebhookState::Failing`], its backlog kept, until
//!   [`Identity::replay_webhook`](crate::Identity::replay_webhook) starts it again from a cursor.
//! - What was delivered lives in the database: a sender that is killed resumes where it stopped
//!   (the event in flight may arrive twice: at least once), and two senders on one database
//!   never deliver to one endpoint in parallel (each holds the endpoint's lease while it works).
//!   [`Identity::deliver_webhooks`](crate::Identity::deliver_webhooks) runs a sender; the HTTP
//!   service runs one.

mod signature;
mod target;
mod wire;

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

use crate::error::{Error, Field, Result};
use crate::feed::{Cursor, FeedChange};

pub use signature::{WebhookSecret, sign, verify};
pub use target::WebhookTarget;

/// The waits before each retry of a failed delivery: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h (each
/// drawn within ±10% so endpoints that failed together are not retried together). After the last
/// the endpoint is [`WebhookState::Failing`].
pub const RETRY_SCHEDULE: [Duration; 6] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
];

/// How long a sender waits for an endpoint's answer unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most delivery attempts [`Identity::webhook_deliveries`](crate::Identity::webhook_deliveries)
/// answers with.
pub const MAX_DELIVERIES: usize = 1000;

/// A webhook's id: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WebhookId(i64);

impl WebhookId {
    /// The id `n` (positive).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::WebhookId`] when `n` is not positive.
    pub fn new(n: i64) -> Result<Self> {
        if n > 0 {
            Ok(WebhookId(n))
        } else {
            Err(invalid_id())
        }
    }

    /// The id written as text (`"7"`), as a URL path carries it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::WebhookId`] for anything but a positive integer.
    pub fn parse(text: &str) -> Result<Self> {
        text.trim()
            .parse::<i64>()
            .map_err(|_| invalid_id())
            .and_then(WebhookId::new)
    }

    /// The number.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

fn invalid_id() -> Error {
    Error::InvalidInput {
        field: Field::WebhookId,
        reason: "must be a positive integer".into(),
    }
}

impl fmt::Display for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The event types an endpoint receives: some of [`FeedChange::TYPES`], or all of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventTypes(Option<Vec<&'static str>>);

impl EventTypes {
    /// Every type, including those a later version adds.
    pub const ALL: EventTypes = EventTypes(None);

    /// `names`, each one of [`FeedChange::TYPES`], kept in that order without repeats.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Types`] for an unknown type or an empty list (to
    /// receive every type, name none: [`EventTypes::ALL`]).
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self> {
        if names.is_empty() {
            return Err(Error::InvalidInput {
                field: Field::Types,
                reason: "is empty; leave it out to receive every type".into(),
            });
        }
        for name in names {
            let name = name.as_ref();
            if !FeedChange::TYPES.contains(&name) {
                return Err(Error::InvalidInput {
                    field: Field::Types,
                    reason: format!(
                        "{name:?} is not an event type (one of {})",
                        FeedChange::TYPES.join(", ")
                    ),
                });
            }
        }
        let kept = FeedChange::TYPES
            .into_iter()
            .filter(|t| names.iter().any(|n| n.as_ref() == *t))
            .collect();
        Ok(EventTypes(Some(kept)))
    }

    /// The types named, `None` for every type.
    #[must_use]
    pub fn names(&self) -> Option<&[&'static str]> {
        self.0.as_deref()
    }

    /// Whether an event of type `kind` is delivered.
    #[must_use]
    pub fn receives(&self, kind: &str) -> bool {
        self.0.as_ref().is_none_or(|t| t.contains(&kind))
    }

    /// The stored form: the names joined by `,`, `None` for every type.
    pub(crate) fn stored(&self) -> Option<String> {
        self.0.as_ref().map(|t| t.join(","))
    }

    /// Reads the stored form back (unknown names, from a later version, are dropped).
    pub(crate) fn from_stored(text: Option<&str>) -> Self {
        EventTypes(text.map(|t| {
            FeedChange::TYPES
                .into_iter()
                .filter(|k| t.split(',').any(|n| n == *k))
                .collect()
        }))
    }
}

/// Whether an endpoint is being delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookState {
    /// Delivering (or waiting for its next retry).
    Active,
    /// Every retry of an event failed: nothing is sent until a replay; the backlog is kept.
    Failing,
}

impl WebhookState {
    /// `active` or `failing`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookState::Active => "active",
            WebhookState::Failing => "failing",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Self {
        if text == "failing" {
            WebhookState::Failing
        } else {
            WebhookState::Active
        }
    }
}

/// A registered endpoint (its secret is told once, by [`NewWebhook`]).
///
/// On the wire: `{"id", "url", "types", "state", "cursor", "attempts", "nextAttemptAt",
/// "lastError", "createdAt"}`; `types` is `null` for every type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// Where events are POSTed.
    pub url: String,
    /// What it receives.
    pub types: EventTypes,
    /// Delivering or failing.
    pub state: WebhookState,
    /// The feed cursor it was delivered up to: the next event it gets is the first after it.
    pub cursor: Cursor,
    /// Failed attempts at the next event so far (0 when its last attempt succeeded).
    pub attempts: u32,
    /// When the next event is tried at the earliest (after a failure: the retry; `None` once
    /// failing).
    pub next_attempt_at: Option<OffsetDateTime>,
    /// What the last failed attempt got (`None` once an attempt succeeds).
    pub last_error: Option<String>,
    /// When it was registered.
    pub created_at: OffsetDateTime,
}

/// A webhook just registered, with its secret: keep the secret, it is not told again.
///
/// On the wire: the [`Webhook`]'s fields and `"secret"`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewWebhook {
    /// The endpoint.
    pub webhook: Webhook,
    /// Its signing secret (`whsec_` and base64).
    pub secret: WebhookSecret,
}

/// One attempt to deliver an event to an endpoint.
///
/// On the wire: `{"eventId", "cursor", "attempt", "at", "status", "error", "durationMs",
/// "nextAttemptAt"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The event's id (`evt_` and a number: its `webhook-id` header).
    pub event_id: String,
    /// The event's cursor.
    pub cursor: Cursor,
    /// 1 for the first attempt at this event, then 2, ...
    pub attempt: u32,
    /// When the attempt started.
    pub at: OffsetDateTime,
    /// The endpoint's HTTP status (`None` when it did not answer).
    pub status: Option<u16>,
    /// Why the attempt failed (`None` when it succeeded).
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// After a failure: when the event is tried again (`None` once the endpoint is failing).
    pub next_attempt_at: Option<OffsetDateTime>,
}

impl Delivery {
    /// Whether the endpoint took the event (a `2xx`).
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// The wait before retrying an event that failed `failures` times in a row (1 after the first)
/// by `schedule` (the waits in order, [`RETRY_SCHEDULE`] by default), within ±10% (`jitter` in
/// `0.0..1.0` picks where); `None` when the retries are spent and the endpoint becomes failing.
#[must_use]
pub fn retry_after(schedule: &[Duration], failures: u32, jitter: f64) -> Option<Duration> {
    let index = usize::try_from(failures).ok()?.checked_sub(1)?;
    let base = schedule.get(index)?;
    let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
    Some(base.mul_f64(factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_known_kept_in_feed_order_and_never_empty() {
        let t =
            EventTypes::parse(&["customer.merged", "contact.created", "customer.merged"]).unwrap();
        assert_eq!(t.names(), Some(&["contact.created", "customer.merged"][..]));
        assert!(t.receives("customer.merged") && !t.receives("contact.linked"));
        assert_eq!(EventTypes::from_stored(t.stored().as_deref()), t);
        assert!(EventTypes::ALL.receives("customer.split"));
        assert_eq!(EventTypes::from_stored(None), EventTypes::ALL);
        let unknown = EventTypes::parse(&["contact.deleted"]).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("\"contact.deleted\" is not an event type")
        );
        let empty = EventTypes::parse::<&str>(&[]).unwrap_err();
        assert!(matches!(
            empty,
            Error::InvalidInput {
                field: Field::Types,
                ..
            }
        ));
    }

    #[test]
    fn retries_follow_the_schedule_within_ten_percent_then_stop() {
        let s = &RETRY_SCHEDULE;
        assert_eq!(retry_after(s, 0, 0.5), None);
        assert_eq!(retry_after(s, 1, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(s, 1, 0.0), Some(Duration::from_millis(4500)));
        assert_eq!(retry_after(s, 6, 1.0), Some(Duration::from_secs(11 * 3600)));
        assert_eq!(retry_after(s, 7, 0.5), None);
        assert_eq!(retry_after(&[], 1, 0.5), None);
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(17 * 3600) && total < Duration::from_secs(18 * 3600));
    }

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(WebhookId::parse(" 7 ").unwrap().get(), 7);
        for bad in ["0", "-1", "x", ""] {
            let e = WebhookId::parse(bad).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidInput {
                        field: Field::WebhookId,
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }
}
