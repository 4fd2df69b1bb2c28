//! The wire shapes (JSON, camelCase) of [`Stats`] and [`FeedStats`]: what the Python and Node
//! bindings answer.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{FeedStats, IdentifyOutcome, PoolStats, Stats, WebhookBacklog};

/// The wire shape (JSON, camelCase) the bindings answer: `{"identify": {"created", "linked",
/// "merged", "known", "refused", "failed"}, "identifyErrors": {<error code>: n},
/// "retries": {<call>: n}, "contention": {<call>: n}, "webhookDeliveries": {"succeeded",
/// "failed"}, "pool": {"max", "inUse", "idle", "waiting"}}` (`waiting` null on SQLite).
impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let identify: BTreeMap<&str, u64> = IdentifyOutcome::ALL
            .iter()
            .map(|o| (o.as_str(), self.identified(*o)))
            .collect();
        let errors: BTreeMap<&str, u64> = self
            .identify_errors
            .iter()
            .map(|(kind, n)| (kind.code(), *n))
            .collect();
        let deliveries = BTreeMap::from([
            ("succeeded", self.webhook_deliveries_succeeded),
            ("failed", self.webhook_deliveries_failed),
        ]);
        let mut out = serializer.serialize_struct("Stats", 6)?;
        out.serialize_field("identify", &identify)?;
        out.serialize_field("identifyErrors", &errors)?;
        out.serialize_field("retries", &self.retries)?;
        out.serialize_field("contention", &self.contention)?;
        out.serialize_field("webhookDeliveries", &deliveries)?;
        out.serialize_field("pool", &self.pool)?;
        out.end()
    }
}

impl Serialize for PoolStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("PoolStats", 4)?;
        out.serialize_field("max", &self.max)?;
        out.serialize_field("inUse", &self.in_use)?;
        out.serialize_field("idle", &self.idle)?;
        out.serialize_field("waiting", &self.waiting)?;
        out.end()
    }
}

/// The wire shape: `{"eventsWritten": n, "webhooks": [{"id", "tenant", "state",
/// "undelivered", "oldestUndeliveredAt": RFC 3339 or null}]}`.
impl Serialize for FeedStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("FeedStats", 2)?;
        out.serialize_field("eventsWritten", &self.events_written)?;
        out.serialize_field("webhooks", &self.webhooks)?;
        out.end()
    }
}

impl Serialize for WebhookBacklog {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let oldest = self.oldest_undelivered_at.and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
        let mut out = serializer.serialize_struct("WebhookBacklog", 5)?;
        out.serialize_field("id", &self.id.get())?;
        out.serialize_field("tenant", self.tenant.as_str())?;
        out.serialize_field("state", self.state.as_str())?;
        out.serialize_field("undelivered", &self.undelivered)?;
        out.serialize_field("oldestUndeliveredAt", &oldest)?;
        out.end()
    }
}
