//! `stats()` and `feedStats()`: the numbers the HTTP service's `GET /metrics` shows, for
//! JavaScript, in the core's wire shape (`identity::stats`).

use std::collections::HashMap;

use napi::bindgen_prelude::{Either, Env, Null, PromiseRaw, Result};
use napi_derive::napi;
use time::format_description::well_known::Rfc3339;

use crate::{Identity, promise};

/// Identifies by outcome.
#[napi(object)]
pub struct IdentifyCounts {
    /// A new customer: its first row inserted.
    pub created: f64,
    /// A new row added to a known customer.
    pub linked: f64,
    /// Two customers became one.
    pub merged: f64,
    /// Nothing new: nothing written.
    pub known: f64,
    /// Refused for the request or the data (invalid input, blocked, a limit).
    pub refused: f64,
    /// Failed on the store's side (unavailable, contention, a store error).
    pub failed: f64,
}

/// Webhook deliveries this process attempted.
#[napi(object)]
pub struct DeliveryCounts {
    /// Answered 2xx.
    pub succeeded: f64,
    /// Any other answer, or none.
    pub failed: f64,
}

/// The connection pool now.
#[napi(object)]
pub struct PoolStats {
    /// The most connections the pool opens.
    pub max: u32,
    /// Connections lent to a call.
    pub in_use: u32,
    /// Open connections no call holds.
    pub idle: u32,
    /// Calls waiting for a connection; `null` on SQLite (its writers queue on its write lock).
    #[napi(ts_type = "number | null")]
    pub waiting: Either<u32, Null>,
}

/// What the calls through a handle did since it was opened.
#[napi(object)]
pub struct Stats {
    /// Identifies by outcome.
    pub identify: IdentifyCounts,
    /// Identifies refused or failed, by the error's code (`invalid_input`, `blocked_value`, ...).
    pub identify_errors: HashMap<String, f64>,
    /// Attempts made again after a conflict, a busy database or a broken connection, by call.
    pub retries: HashMap<String, f64>,
    /// Calls refused with `CONTENTION`, by call.
    pub contention: HashMap<String, f64>,
    /// Webhook deliveries this process attempted.
    pub webhook_deliveries: DeliveryCounts,
    /// The connection pool now.
    pub pool: PoolStats,
}

/// How far one webhook endpoint is behind its tenant's feed.
#[napi(object)]
pub struct WebhookBacklog {
    /// The endpoint's id.
    pub id: i64,
    /// Its tenant.
    pub tenant: String,
    /// `'active'` or `'failing'`.
    #[napi(ts_type = "'active' | 'failing'")]
    pub state: String,
    /// Events of its tenant's feed after its cursor.
    pub undelivered: f64,
    /// When the oldest of them was written (RFC 3339); `null` when it is up to date.
    #[napi(ts_type = "string | null")]
    pub oldest_undelivered_at: Either<String, Null>,
}

/// The change feed's size and every webhook endpoint's backlog.
#[napi(object)]
pub struct FeedStats {
    /// Events ever written to the feed, over every tenant (the database's count).
    pub events_written: f64,
    /// Every endpoint, by id.
    pub webhooks: Vec<WebhookBacklog>,
}

// counts held in memory or positions of a feed: far below 2^53
#[allow(clippy::cast_precision_loss)]
fn number(n: u64) -> f64 {
    n as f64
}

fn by_name<K: AsRef<str>>(counts: impl IntoIterator<Item = (K, u64)>) -> HashMap<String, f64> {
    counts
        .into_iter()
        .map(|(k, n)| (k.as_ref().to_owned(), number(n)))
        .collect()
}

impl From<identity::Stats> for Stats {
    fn from(s: identity::Stats) -> Self {
        use identity::IdentifyOutcome as O;
        Stats {
            identify: IdentifyCounts {
                created: number(s.identified(O::Created)),
                linked: number(s.identified(O::Linked)),
                merged: number(s.identified(O::Merged)),
                known: number(s.identified(O::Known)),
                refused: number(s.identified(O::Refused)),
                failed: number(s.identified(O::Failed)),
            },
            identify_errors: by_name(s.identify_errors.iter().map(|(k, n)| (k.code(), *n))),
            retries: by_name(s.retries.iter().map(|(k, n)| (*k, *n))),
            contention: by_name(s.contention.iter().map(|(k, n)| (*k, *n))),
            webhook_deliveries: DeliveryCounts {
                succeeded: number(s.webhook_deliveries_succeeded),
                failed: number(s.webhook_deliveries_failed),
            },
            pool: PoolStats {
                max: s.pool.max,
                in_use: s.pool.in_use,
                idle: s.pool.idle,
                waiting: s.pool.waiting.map_or(Either::B(Null), Either::A),
            },
        }
    }
}

impl From<identity::FeedStats> for FeedStats {
    fn from(f: identity::FeedStats) -> Self {
        FeedStats {
            events_written: number(f.events_written),
            webhooks: f
                .webhooks
                .into_iter()
                .map(|w| WebhookBacklog {
                    id: w.id.get(),
                    tenant: w.tenant.as_str().to_owned(),
                    state: w.state.as_str().to_owned(),
                    undelivered: number(w.undelivered),
                    oldest_undelivered_at: w
                        .oldest_undelivered_at
                        .and_then(|at| at.format(&Rfc3339).ok())
                        .map_or(Either::B(Null), Either::A),
                })
                .collect(),
        }
    }
}

#[napi]
impl Identity {
    /// What the calls through this handle (and every handle made from the same connection) did
    /// since it was opened: identifies by outcome and by error code, retries and contention by
    /// call, webhook deliveries, and the connection pool now. Synchronous: counted in memory,
    /// no I/O. The numbers the HTTP service's `GET /metrics` shows. Throws `CLOSED` after
    /// `close()`.
    #[napi]
    pub fn stats(&self, env: Env) -> Result<Stats> {
        let inner = self.usable().map_err(|f| f.into_js(&env))?;
        Ok(Stats::from(inner.stats()))
    }

    /// The change feed's size and every webhook endpoint's backlog, over every tenant of the
    /// database: one short read.
    #[napi(ts_return_type = "Promise<FeedStats>")]
    pub fn feed_stats<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, FeedStats>> {
        promise(env, self.usable(), |inner| async move {
            Ok(FeedStats::from(inner.feed_stats().await?))
        })
    }
}
