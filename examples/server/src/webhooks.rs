//! `/admin/webhooks`: the tenant's webhook endpoints (see `identity::webhook`). Admin routes
//! (see `admin.rs`): disabled unless an admin token is configured, then only that token; they
//! act for the tenant `X-Tenant-Id` names (absent: the default). The service's sender delivers
//! to every tenant's endpoints (`lib.rs` starts it); a target on a loopback, private or
//! link-local address is refused unless `--webhook-allow-private`.
//!
//! - `POST /admin/webhooks` `{"url", "types"}` → 201 with the endpoint and its `secret`, told once.
//! - `GET /admin/webhooks` → `{"webhooks": [...]}`.
//! - `DELETE /admin/webhooks/{id}` → 204.
//! - `GET /admin/webhooks/{id}/deliveries?limit=` → `{"deliveries": [...]}`, newest first.
//! - `POST /admin/webhooks/{id}/replay` `{"after": cursor or null}` → the endpoint, active again,
//!   delivering from after `after` (from the oldest event kept when null or absent).

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{StatusCode, Uri};
use identity::feed::Cursor;
use identity::webhook::{Delivery, EventTypes, NewWebhook, Webhook};
use identity::{Error, Field};
use serde::{Deserialize, Serialize};
use tracing::Level;

use crate::api_error::ApiError;
use crate::auth::{Admin, Support};
use crate::body::{self, Wire};
use crate::path_id::WebhookPath;
use crate::request_log::{Note, answered};
use crate::values;

/// The body of `POST /admin/webhooks`.
#[derive(Debug, Deserialize)]
pub struct CreateBody {
    #[serde(default, deserialize_with = "values::string_or_null")]
    url: Option<String>,
    #[serde(default, deserialize_with = "strings_or_null")]
    types: Option<Vec<String>>,
}

impl Wire for CreateBody {
    const SHAPE: &'static str = "body must be a JSON object like {\"url\": \"https://...\", \"types\": [\"customer.merged\"]}";

    fn field(key: &str) -> Field {
        match key {
            "url" => Field::Url,
            "types" => Field::Types,
            _ => Field::Request,
        }
    }
}

/// An array of strings, or null (`None`).
fn strings_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    use serde::de::Error as _;
    Option::<Vec<String>>::deserialize(d)
        .map_err(|_| D::Error::custom("must be an array of event types or null"))
}

/// Registers an endpoint: 201 `{"id", "url", "types", "state", "cursor", ..., "secret"}`;
/// 400 `invalid_input` naming `url` (not http(s), credentials, a non-public address without
/// `--webhook-allow-private`) or `types` (an unknown type, an empty list).
pub async fn create(
    Admin(identity): Admin,
    body::Json(wire): body::Json<CreateBody>,
) -> Result<(StatusCode, Note, Json<NewWebhook>), ApiError> {
    let Some(url) = wire.url else {
        return Err(Error::InvalidInput {
            field: Field::Url,
            reason: "is required".to_owned(),
        }
        .into());
    };
    let types = match wire.types {
        None => EventTypes::ALL,
        Some(names) => EventTypes::parse(&names)?,
    };
    let created = identity.create_webhook(&url, types).await?;
    let webhook = created.webhook.id.get();
    let note = Note::new(move |a| {
        answered!(Level::INFO, a, webhook, "webhook created");
    });
    Ok((StatusCode::CREATED, note, Json(created)))
}

/// The list answer.
#[derive(Debug, Serialize)]
pub struct WebhookList {
    webhooks: Vec<Webhook>,
}

/// The tenant's endpoints, oldest first: `{"webhooks": [...]}` (no secrets).
pub async fn list(Support(identity, _): Support) -> Result<Json<WebhookList>, ApiError> {
    Ok(Json(WebhookList {
        webhooks: identity.webhooks().await?,
    }))
}

/// Deletes an endpoint and its attempts: 204; 404 `not_found` when the tenant has none.
pub async fn delete(
    Admin(identity): Admin,
    WebhookPath(id): WebhookPath,
) -> Result<(StatusCode, Note, ()), ApiError> {
    identity.delete_webhook(id).await?;
    let webhook = id.get();
    let note = Note::new(move |a| {
        answered!(Level::INFO, a, webhook, "webhook deleted");
    });
    Ok((StatusCode::NO_CONTENT, note, ()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    limit: Option<String>,
}

/// The deliveries answer.
#[derive(Debug, Serialize)]
pub struct DeliveryList {
    deliveries: Vec<Delivery>,
}

/// The endpoint's last `limit` attempts (1 to 1000, default 100), newest first:
/// `{"deliveries": [{"eventId", "cursor", "attempt", "at", "status", "error", "durationMs",
/// "nextAttemptAt"}]}`; 404 `not_found`, 400 `invalid_input` naming `limit`.
pub async fn deliveries(
    Support(identity, _): Support,
    WebhookPath(id): WebhookPath,
    uri: Uri,
) -> Result<Json<DeliveryList>, ApiError> {
    let query: Result<Query<DeliveriesQuery>, QueryRejection> = Query::try_from_uri(&uri);
    let Query(query) = query.map_err(|r| ApiError::BadQuery(r.body_text()))?;
    let limit = match query.limit.as_deref() {
        None => 100,
        Some(text) => text.parse::<usize>().map_err(|_| Error::InvalidInput {
            field: Field::Limit,
            reason: "must be a whole number".into(),
        })?,
    };
    Ok(Json(DeliveryList {
        deliveries: identity.webhook_deliveries(id, limit).await?,
    }))
}

/// The body of a replay: `{"after": cursor or null}`; empty: from the oldest event kept.
#[derive(Debug, Default, Deserialize)]
pub struct ReplayBody {
    #[serde(default, deserialize_with = "values::string_or_null")]
    after: Option<String>,
}

impl Wire for ReplayBody {
    const SHAPE: &'static str = "body must be a JSON object like {\"after\": \"f1.2a\"}";

    fn field(key: &str) -> Field {
        match key {
            "after" => Field::Cursor,
            _ => Field::Request,
        }
    }

    fn empty() -> Option<Self> {
        Some(ReplayBody::default())
    }
}

/// Delivers the endpoint's events again from after `after` (from the oldest kept when null or
/// absent), active again, its failures forgotten: answers the endpoint. 404 `not_found`, 400
/// `invalid_input` naming `after`, 410 `expired` for a cursor older than the events kept.
pub async fn replay(
    Admin(identity): Admin,
    WebhookPath(id): WebhookPath,
    body::Json(wire): body::Json<ReplayBody>,
) -> Result<(Note, Json<Webhook>), ApiError> {
    let after = wire
        .after
        .as_deref()
        .map(str::parse::<Cursor>)
        .transpose()?;
    let webhook = identity.replay_webhook(id, after).await?;
    let (hook, from) = (id.get(), webhook.cursor.to_string());
    let note = Note::new(move |a| {
        answered!(Level::INFO, a, webhook = hook, from, "webhook replayed");
    });
    Ok((note, Json(webhook)))
}
