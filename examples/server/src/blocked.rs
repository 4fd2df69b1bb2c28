//! `GET`, `POST` and `DELETE /admin/blocked`: the blocked list of a tenant (merge protection).
//! Admin routes: disabled (404) unless an admin token is configured, then only that token (a
//! tenant's token never reaches them); it acts for the tenant `X-Tenant-Id` names (absent: the
//! default). Exact values are personal data: they are answered to the admin, never logged.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use identity::{BlockedValue, Error, Field};
use serde_json::{Value, json};

use crate::admin::authorize;
use crate::api_error::{ApiError, json_body};
use crate::handlers::AppState;

/// `GET /admin/blocked`: the tenant's blocked list, sorted.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let entries = identity.blocked_values().await?;
    Ok(Json(json!({
        "tenantId": identity.tenant_id().as_str(),
        "blocked": entries,
    })))
}

/// `POST /admin/blocked` with `{"kind": "email"|"phone", "value"|"pattern": "..."}`: adds it.
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    change(&state, &headers, raw, true).await
}

/// `DELETE /admin/blocked` with the same body: removes it (a default entry too).
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    change(&state, &headers, raw, false).await
}

async fn change(
    state: &AppState,
    headers: &HeaderMap,
    raw: Result<Bytes, BytesRejection>,
    add: bool,
) -> Result<Json<Value>, ApiError> {
    let identity = authorize(state, headers)?;
    let entry = entry(raw)?;
    let changed = if add {
        identity.block(&entry).await?
    } else {
        identity.unblock(&entry).await?
    };
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        kind = entry.kind().as_str(),
        pattern = entry.pattern_text(),
        changed,
        "{}",
        if add {
            "value blocked"
        } else {
            "value unblocked"
        }
    );
    Ok(Json(json!({"changed": changed, "entry": entry})))
}

/// The entry a body names.
fn entry(raw: Result<Bytes, BytesRejection>) -> Result<BlockedValue, ApiError> {
    let value = json_body(raw)?;
    let Some(object) = value.as_object() else {
        return Err(Error::InvalidInput {
            field: Field::Request,
            reason: "body must be a JSON object like {\"kind\": \"email\", \"value\": \"...\"}"
                .to_owned(),
        }
        .into());
    };
    let text = |key: &str, field: Field| match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ApiError::from(Error::InvalidInput {
            field,
            reason: "must be a string".to_owned(),
        })),
    };
    let kind = text("kind", Field::Kind)?.ok_or_else(|| Error::InvalidInput {
        field: Field::Kind,
        reason: "is required (`email` or `phone`)".to_owned(),
    })?;
    let value = text("value", Field::Value)?;
    let pattern = text("pattern", Field::Pattern)?;
    Ok(BlockedValue::parse(kind, value, pattern)?)
}
