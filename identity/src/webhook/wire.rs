//! The JSON shapes of webhooks and their deliveries (camelCase, times in RFC 3339).

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use super::{Delivery, NewWebhook, Webhook};
use crate::feed::Cursor;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireWebhook<'a> {
    id: i64,
    url: &'a str,
    types: Option<&'a [&'static str]>,
    state: &'static str,
    cursor: Cursor,
    attempts: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    next_attempt_at: Option<OffsetDateTime>,
    last_error: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

impl<'a> WireWebhook<'a> {
    fn new(w: &'a Webhook, secret: Option<&'a str>) -> Self {
        WireWebhook {
            id: w.id.get(),
            url: &w.url,
            types: w.types.names(),
            state: w.state.as_str(),
            cursor: w.cursor,
            attempts: w.attempts,
            next_attempt_at: w.next_attempt_at,
            last_error: w.last_error.as_deref(),
            created_at: w.created_at,
            secret,
        }
    }
}

impl Serialize for Webhook {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        WireWebhook::new(self, None).serialize(s)
    }
}

impl Serialize for NewWebhook {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        WireWebhook::new(&self.webhook, Some(self.secret.as_str())).serialize(s)
    }
}

impl Serialize for Delivery {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            event_id: &'a str,
            cursor: Cursor,
            attempt: u32,
            #[serde(with = "time::serde::rfc3339")]
            at: OffsetDateTime,
            status: Option<u16>,
            error: Option<&'a str>,
            duration_ms: u64,
            #[serde(with = "time::serde::rfc3339::option")]
            next_attempt_at: Option<OffsetDateTime>,
        }
        Wire {
            event_id: &self.event_id,
            cursor: self.cursor,
            attempt: self.attempt,
            at: self.at,
            status: self.status,
            error: self.error.as_deref(),
            duration_ms: self.duration_ms,
            next_attempt_at: self.next_attempt_at,
        }
        .serialize(s)
    }
}
