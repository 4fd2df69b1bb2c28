//! Webhooks for JavaScript: `createWebhook()`, `webhooks()`, `deleteWebhook()`,
//! `webhookDeliveries()`, `replayWebhook()` and `deliverWebhooks()` on `Identity`, the
//! `Webhook` and `Delivery` objects in their JSON wire shape, the running `WebhookSender`, and
//! `verifyWebhook()` / `signWebhook()` for a JavaScript receiver. Arguments are read strictly;
//! the rules all live in the core (`identity::webhook`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use identity::feed::Cursor;
use identity::webhook::{self, EventTypes, WebhookId, WebhookSecret};
use napi::bindgen_prelude::{
    Buffer, Either, Env, Null, Object, PromiseRaw, Result, Unknown, within_runtime_if_available,
};
use napi::{JsValue, ValueType};
use napi_derive::napi;
use time::format_description::well_known::Rfc3339;

use crate::errors::Failure;
use crate::{Identity, promise};

/// A webhook endpoint, as `GET /admin/webhooks` shows it; `secret` only on the answer of
/// `createWebhook()` (it is told once).
#[napi(object)]
pub struct Webhook {
    /// Its id.
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// The event types it receives; `null`: every type.
    #[napi(ts_type = "string[] | null")]
    pub types: Either<Vec<String>, Null>,
    /// `'active'`, or `'failing'` once every retry of an event failed (until a replay).
    #[napi(ts_type = "'active' | 'failing'")]
    pub state: String,
    /// The feed cursor it was delivered up to.
    pub cursor: String,
    /// Failed attempts at the next event so far.
    pub attempts: u32,
    /// When the next event is tried at the earliest (RFC 3339); `null` once failing.
    #[napi(ts_type = "string | null")]
    pub next_attempt_at: Either<String, Null>,
    /// What the last failed attempt got; `null` once an attempt succeeds.
    #[napi(ts_type = "string | null")]
    pub last_error: Either<String, Null>,
    /// When it was registered (RFC 3339).
    pub created_at: String,
    /// The signing secret (`whsec_...`): on the answer of `createWebhook()` only.
    pub secret: Option<String>,
}

/// One attempt to deliver an event to an endpoint.
#[napi(object)]
pub struct Delivery {
    /// The event's id (its `webhook-id` header).
    pub event_id: String,
    /// The event's cursor.
    pub cursor: String,
    /// 1 for the first attempt at the event, then 2, ...
    pub attempt: u32,
    /// When the attempt started (RFC 3339).
    pub at: String,
    /// The endpoint's HTTP status; `null` when it did not answer.
    #[napi(ts_type = "number | null")]
    pub status: Either<u32, Null>,
    /// Why the attempt failed; `null` when it succeeded.
    #[napi(ts_type = "string | null")]
    pub error: Either<String, Null>,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// After a failure: when the event is tried again (RFC 3339); `null` once failing.
    #[napi(ts_type = "string | null")]
    pub next_attempt_at: Either<String, Null>,
}

fn time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn nullable<T>(value: Option<T>) -> Either<T, Null> {
    value.map_or(Either::B(Null), Either::A)
}

fn to_webhook(w: webhook::Webhook, secret: Option<&WebhookSecret>) -> Webhook {
    Webhook {
        id: w.id.get(),
        url: w.url,
        types: nullable(
            w.types
                .names()
                .map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
        ),
        state: w.state.as_str().to_owned(),
        cursor: w.cursor.to_string(),
        attempts: w.attempts,
        next_attempt_at: nullable(w.next_attempt_at.map(time)),
        last_error: nullable(w.last_error),
        created_at: time(w.created_at),
        secret: secret.map(|s| s.as_str().to_owned()),
    }
}

impl From<webhook::Delivery> for Delivery {
    fn from(d: webhook::Delivery) -> Self {
        Delivery {
            event_id: d.event_id,
            cursor: d.cursor.to_string(),
            attempt: d.attempt,
            at: time(d.at),
            status: nullable(d.status.map(u32::from)),
            error: nullable(d.error),
            duration_ms: i64::try_from(d.duration_ms).unwrap_or(i64::MAX),
            next_attempt_at: nullable(d.next_attempt_at.map(time)),
        }
    }
}

/// The fields of an options object (`undefined` or `null`: none), each `undefined` or `null`
/// read as absent; anything but an object is `INVALID_INPUT` (`field: 'request'`).
struct Options<'a> {
    object: Option<Object<'a>>,
}

impl<'a> Options<'a> {
    fn read(value: Option<&Unknown<'a>>, shape: &str) -> std::result::Result<Self, Failure> {
        let bad = || {
            Failure::invalid(
                "request",
                format!("invalid request: options must be an object like {shape}"),
            )
        };
        let Some(value) = value else {
            return Ok(Options { object: None });
        };
        match value.get_type().map_err(|_| bad())? {
            ValueType::Undefined | ValueType::Null => Ok(Options { object: None }),
            // SAFETY: the type was checked just above.
            ValueType::Object => Ok(Options {
                object: Some(unsafe { value.cast() }.map_err(|_| bad())?),
            }),
            _ => Err(bad()),
        }
    }

    fn get(&self, name: &str) -> Option<(ValueType, Unknown<'a>)> {
        let value = self
            .object
            .as_ref()?
            .get::<Unknown<'_>>(name)
            .ok()
            .flatten()?;
        match value.get_type() {
            Ok(ValueType::Undefined | ValueType::Null) | Err(_) => None,
            Ok(kind) => Some((kind, value)),
        }
    }
}

/// A string argument, or `INVALID_INPUT` naming `field`.
fn string(
    value: &Unknown<'_>,
    field: &'static str,
    what: &str,
) -> std::result::Result<String, Failure> {
    let wrong = || Failure::invalid(field, format!("invalid {field}: must be {what}"));
    if value.get_type().map_err(|_| wrong())? != ValueType::String {
        return Err(wrong());
    }
    // SAFETY: the type was checked just above.
    unsafe { value.cast() }.map_err(|_| wrong())
}

/// A webhook id argument: a positive whole number.
fn webhook_id(value: &Unknown<'_>) -> std::result::Result<WebhookId, Failure> {
    let wrong = || {
        Failure::invalid(
            "webhookId",
            "invalid webhook id: must be a positive integer",
        )
    };
    if value.get_type().map_err(|_| wrong())? != ValueType::Number {
        return Err(wrong());
    }
    // SAFETY: the type was checked just above.
    let n: f64 = unsafe { value.cast() }.map_err(|_| wrong())?;
    if n.fract() != 0.0 || !(1.0..=9_007_199_254_740_991.0).contains(&n) {
        return Err(wrong());
    }
    #[allow(clippy::cast_possible_truncation)] // a whole number within the safe range
    WebhookId::new(n as i64).map_err(Failure::from)
}

/// `{ types }` of `createWebhook()`.
fn event_types(options: Option<&Unknown<'_>>) -> std::result::Result<EventTypes, Failure> {
    let options = Options::read(options, "{ types: ['customer.merged'] }")?;
    let Some((_, value)) = options.get("types") else {
        return Ok(EventTypes::ALL);
    };
    let wrong = || {
        Failure::invalid(
            "types",
            "invalid types: must be an array of event types or null",
        )
    };
    if !value.is_array().map_err(|_| wrong())? {
        return Err(wrong());
    }
    // SAFETY: an array; its items are checked to be strings by the cast.
    let names: Vec<String> = unsafe { value.cast() }.map_err(|_| wrong())?;
    EventTypes::parse(&names).map_err(Failure::from)
}

/// A whole number option from `min` to `max`.
fn whole(
    options: &Options<'_>,
    name: &'static str,
    min: f64,
    max: f64,
) -> std::result::Result<Option<f64>, Failure> {
    let Some((kind, value)) = options.get(name) else {
        return Ok(None);
    };
    let wrong = || {
        Failure::invalid(
            name,
            format!("invalid {name}: must be a whole number from {min} to {max}"),
        )
    };
    if kind != ValueType::Number {
        return Err(wrong());
    }
    // SAFETY: the type was checked just above.
    let n: f64 = unsafe { value.cast() }.map_err(|_| wrong())?;
    if n.fract() != 0.0 || !(min..=max).contains(&n) {
        return Err(wrong());
    }
    Ok(Some(n))
}

#[napi]
impl Identity {
    /// Registers a webhook endpoint: the tenant's events of `types` (every type when absent or
    /// `null`) written from now on are POSTed to `url`, in order, signed (Standard Webhooks
    /// 1.0). Resolves to the `Webhook` with its `secret`, told this once. Rejects with
    /// `INVALID_INPUT` (`field: 'url'` or `'types'`) for a bad URL, a non-public address
    /// (unless the `allowPrivateWebhooks` connect option), an empty list or an unknown type.
    #[napi(
        ts_args_type = "url: string, options?: { types?: Array<'contact.created' | 'contact.linked' | 'customer.merged' | 'customer.split' | 'customer.erased'> | null }",
        ts_return_type = "Promise<Webhook>"
    )]
    pub fn create_webhook<'env>(
        &self,
        env: &'env Env,
        url: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, Webhook>> {
        let work = self.usable().and_then(|inner| {
            Ok((
                inner,
                string(&url, "url", "a string")?,
                event_types(options.as_ref())?,
            ))
        });
        promise(env, work, |(inner, url, types)| async move {
            let created = inner.create_webhook(&url, types).await?;
            Ok(to_webhook(created.webhook, Some(&created.secret)))
        })
    }

    /// The tenant's webhook endpoints, oldest first (without secrets).
    #[napi(ts_return_type = "Promise<Webhook[]>")]
    pub fn webhooks<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Vec<Webhook>>> {
        promise(env, self.usable(), |inner| async move {
            let all = inner.webhooks().await?;
            Ok(all.into_iter().map(|w| to_webhook(w, None)).collect())
        })
    }

    /// Deletes the tenant's endpoint `id` and its attempts; rejects with `NOT_FOUND` when the
    /// tenant has no such endpoint.
    #[napi(ts_args_type = "id: number", ts_return_type = "Promise<void>")]
    pub fn delete_webhook<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, webhook_id(&id)?)));
        promise(env, work, |(inner, id)| async move {
            inner.delete_webhook(id).await
        })
    }

    /// The last `limit` (1 to 1000, default 100) delivery attempts of endpoint `id`, newest
    /// first; rejects with `NOT_FOUND` when the tenant has no such endpoint.
    #[napi(
        ts_args_type = "id: number, options?: { limit?: number }",
        ts_return_type = "Promise<Delivery[]>"
    )]
    pub fn webhook_deliveries<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, Vec<Delivery>>> {
        let work = self.usable().and_then(|inner| {
            let options = Options::read(options.as_ref(), "{ limit: 100 }")?;
            let limit = whole(&options, "limit", 1.0, 1000.0)?.unwrap_or(100.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 1 to 1000
            Ok((inner, webhook_id(&id)?, limit as usize))
        });
        promise(env, work, |(inner, id, limit)| async move {
            let all = inner.webhook_deliveries(id, limit).await?;
            Ok(all.into_iter().map(Delivery::from).collect())
        })
    }

    /// Makes endpoint `id` deliver the events after the cursor `after` again (from the oldest
    /// kept when absent or `null`), active again, its failures forgotten; give its own
    /// `cursor` to resume a failing endpoint without repeating anything. Rejects with
    /// `NOT_FOUND`, `INVALID_INPUT` (`field: 'after'`) or `EXPIRED`.
    #[napi(
        ts_args_type = "id: number, options?: { after?: string | null }",
        ts_return_type = "Promise<Webhook>"
    )]
    pub fn replay_webhook<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, Webhook>> {
        let work = self.usable().and_then(|inner| {
            let options = Options::read(options.as_ref(), "{ after: 'f1.2a' }")?;
            let after = match options.get("after") {
                None => None,
                Some((_, value)) => {
                    let text = string(&value, "after", "a cursor string")?;
                    Some(text.parse::<Cursor>().map_err(Failure::from)?)
                }
            };
            Ok((inner, webhook_id(&id)?, after))
        });
        promise(env, work, |(inner, id, after)| async move {
            let replayed = inner.replay_webhook(id, after).await?;
            Ok(to_webhook(replayed, None))
        })
    }

    /// Starts delivering the webhooks of every tenant of the store in the background (over
    /// HTTP(S); an endpoint has `timeoutMs` to answer, default 10000). Returns the
    /// `WebhookSender`: `await sender.stop()` ends it. Several senders, in one process or
    /// many, share the work; each endpoint is delivered to by one at a time.
    #[napi(ts_args_type = "options?: { timeoutMs?: number }")]
    pub fn deliver_webhooks(
        &self,
        env: Env,
        options: Option<Unknown<'_>>,
    ) -> Result<WebhookSender> {
        let started = self.usable().and_then(|inner| {
            let options = Options::read(options.as_ref(), "{ timeoutMs: 10000 }")?;
            let timeout = whole(&options, "timeoutMs", 100.0, 60_000.0)?.unwrap_or(10_000.0);
            let transport = identity::HttpTransport::new(inner.allows_private_webhooks())?;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 100 to 60000
            let chosen =
                identity::SenderOptions::default().timeout(Duration::from_millis(timeout as u64));
            Ok(within_runtime_if_available(|| {
                inner.deliver_webhooks(Arc::new(transport), chosen)
            }))
        });
        match started {
            Ok(sender) => Ok(WebhookSender {
                running: Arc::new(Mutex::new(Some(sender))),
            }),
            Err(f) => Err(f.into_js(&env)),
        }
    }
}

/// A running webhook sender (see `Identity.deliverWebhooks`).
#[napi]
pub struct WebhookSender {
    running: Arc<Mutex<Option<identity::WebhookSender>>>,
}

#[napi]
impl WebhookSender {
    /// Stops taking endpoints; resolves once the attempts in flight finished and were
    /// recorded, and the endpoints were given back. Calling it again resolves at once.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let sender = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        env.spawn_future(async move {
            if let Some(sender) = sender {
                sender.stop().await;
            }
            Ok(())
        })
    }

    /// Whether it still runs.
    #[napi(getter)]
    pub fn running(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }
}

#[cfg_attr(test, allow(dead_code))]
fn parse_secret(text: &str) -> std::result::Result<WebhookSecret, Failure> {
    WebhookSecret::parse(text)
        .map_err(|_| Failure::invalid("secret", "invalid secret: must be whsec_ and base64"))
}

#[cfg_attr(test, allow(dead_code))]
fn bytes(body: &Either<String, Buffer>) -> &[u8] {
    match body {
        Either::A(text) => text.as_bytes(),
        Either::B(buffer) => buffer,
    }
}

/// Whether `signature` (the `webhook-signature` header: one or more `v1,<base64>`) is a valid
/// signature of a delivery by the endpoint's `secret` (`whsec_...`), its `webhook-id`, its
/// `webhook-timestamp` and its raw `body` (the exact bytes received). Also refuse old
/// timestamps, against replays.
#[napi]
#[cfg_attr(test, allow(dead_code))] // registered with Node by the macro, called from JavaScript
pub fn verify_webhook(
    env: Env,
    secret: String,
    id: String,
    timestamp: i64,
    body: Either<String, Buffer>,
    signature: String,
) -> Result<bool> {
    let key = parse_secret(&secret).map_err(|f| f.into_js(&env))?;
    Ok(webhook::verify(
        &key,
        &id,
        timestamp,
        bytes(&body),
        &signature,
    ))
}

/// The `webhook-signature` a delivery of `body` with `webhook-id` `id` at `timestamp` carries,
/// by the endpoint's `secret`: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
#[napi]
#[cfg_attr(test, allow(dead_code))] // registered with Node by the macro, called from JavaScript
pub fn sign_webhook(
    env: Env,
    secret: String,
    id: String,
    timestamp: i64,
    body: Either<String, Buffer>,
) -> Result<String> {
    let key = parse_secret(&secret).map_err(|f| f.into_js(&env))?;
    Ok(webhook::sign(&key, &id, timestamp, bytes(&body)))
}
