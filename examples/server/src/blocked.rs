//! `GET`, `POST` and `DELETE /admin/blocked`: the blocked list of a tenant (merge protection).
//! Support routes (see `auth.rs`): the admin token for the tenant `X-Tenant-Id` names (absent:
//! the default), or a tenant's token for its own tenant. Exact values are personal data: they
//! are answered to the caller, never logged.

use axum::Json;
use identity::{BlockedValue, Error, Field};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Level;

use crate::api_error::ApiError;
use crate::auth::Support;
use crate::body::{self, Wire};
use crate::request_log::{Note, answered};
use crate::values;

/// `GET /admin/blocked`: the tenant's blocked list, sorted.
pub async fn list(Support(identity, _): Support) -> Result<Json<Value>, ApiError> {
    let entries = identity.blocked_values().await?;
    Ok(Json(json!({
        "tenantId": identity.tenant_id().as_str(),
        "blocked": entries,
    })))
}

/// The body of `POST` and `DELETE /admin/blocked`: `{"kind": "email"|"phone", "value"|"pattern":
/// "..."}`.
#[derive(Debug, Deserialize)]
pub struct EntryBody {
    #[serde(default, deserialize_with = "values::string_or_null")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "values::string_or_null")]
    value: Option<String>,
    #[serde(default, deserialize_with = "values::string_or_null")]
    pattern: Option<String>,
}

impl Wire for EntryBody {
    const SHAPE: &'static str =
        "body must be a JSON object like {\"kind\": \"email\", \"value\": \"...\"}";

    fn field(key: &str) -> Field {
        match key {
            "kind" => Field::Kind,
            "value" => Field::Value,
            "pattern" => Field::Pattern,
            _ => Field::Request,
        }
    }
}

impl EntryBody {
    /// The entry the body names.
    fn entry(&self) -> Result<BlockedValue, ApiError> {
        let kind = self.kind.as_deref().ok_or_else(|| Error::InvalidInput {
            field: Field::Kind,
            reason: "is required (`email` or `phone`)".to_owned(),
        })?;
        Ok(BlockedValue::parse(
            kind,
            self.value.as_deref(),
            self.pattern.as_deref(),
        )?)
    }
}

/// `POST /admin/blocked` with `{"kind": "email"|"phone", "value"|"pattern": "..."}`: adds it.
pub async fn add(
    Support(identity, _): Support,
    body::Json(wire): body::Json<EntryBody>,
) -> Result<(Note, Json<Value>), ApiError> {
    change(&identity, &wire, true).await
}

/// `DELETE /admin/blocked` with the same body: removes it (a default entry too).
pub async fn remove(
    Support(identity, _): Support,
    body::Json(wire): body::Json<EntryBody>,
) -> Result<(Note, Json<Value>), ApiError> {
    change(&identity, &wire, false).await
}

/// Adds or removes the entry; the log names its kind and pattern, never an exact value.
async fn change(
    identity: &identity::Identity,
    wire: &EntryBody,
    add: bool,
) -> Result<(Note, Json<Value>), ApiError> {
    let entry = wire.entry()?;
    let changed = if add {
        identity.block(&entry).await?
    } else {
        identity.unblock(&entry).await?
    };
    let body = Json(json!({"changed": changed, "entry": entry}));
    let message = if add {
        "value blocked"
    } else {
        "value unblocked"
    };
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            kind = entry.kind().as_str(),
            pattern = entry.pattern_text(),
            changed,
            "{message}"
        );
    });
    Ok((note, body))
}
