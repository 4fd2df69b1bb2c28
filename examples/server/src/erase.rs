//! `POST /admin/customers/{id}/erase`: the right to be forgotten. An admin route (see
//! `admin.rs`): disabled unless an admin token is configured, then only that token; it acts for
//! the tenant `X-Tenant-Id` names (absent: the default). The answer is the receipt, which holds
//! ids and a time, never an email or a phone number; so does the log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use identity::{ContactId, Erasure, Error, Field};
use serde_json::Value;

use crate::admin::authorize;
use crate::api_error::{ApiError, body_bytes};
use crate::handlers::AppState;

/// Erases the customer that contact `id` belongs to; with `{"suppress": true}` its values are
/// kept as keyed hashes and ignored as `suppressed` in later requests. Answers the receipt
/// `{"customerId", "contactIds", "erasedAt", "suppressed"}` (the first one again for a customer
/// erased before); 404 `not_found` for an unknown contact, 400 `invalid_input` (`contactId`,
/// `request`).
pub async fn erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Erasure>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let raw_id = id.map(|Path(raw)| raw).unwrap_or_default();
    let customer = ContactId::parse(&raw_id)?;
    let suppress = body(raw)?;
    let receipt = identity.erase(customer, suppress).await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        customer = receipt.customer_id.get(),
        rows = receipt.contact_ids.len(),
        suppressed = receipt.suppressed,
        "customer erased"
    );
    Ok(Json(receipt))
}

/// Empty, or `{"suppress": bool (default false)}`.
fn body(raw: Result<Bytes, BytesRejection>) -> Result<bool, ApiError> {
    let raw = body_bytes(raw)?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(false);
    }
    let value: Value =
        serde_json::from_slice(&raw).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let invalid = |reason: &str| {
        ApiError::from(Error::InvalidInput {
            field: Field::Request,
            reason: reason.to_owned(),
        })
    };
    let Some(object) = value.as_object() else {
        return Err(invalid(
            "body must be empty or a JSON object like {\"suppress\": true}",
        ));
    };
    match object.get("suppress") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid("suppress must be true or false")),
    }
}
