//! `POST /admin/customers/{id}/split`: undo a wrong merge. An admin route (see `admin.rs`):
//! disabled unless an admin token is configured, then only that token; it acts for the tenant
//! `X-Tenant-Id` names (absent: the default). The answer holds personal data (the two
//! customers): it goes to the admin, never to the log, which gets ids and counts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use identity::{ContactId, Error, Field, Split};
use serde_json::Value;

use crate::admin::authorize;
use crate::api_error::{ApiError, SPLIT_BODY_LIMIT, body_bytes_within, whole_number};
use crate::handlers::AppState;

/// Moves the rows `contactIds` of the customer that contact `id` belongs to into a new
/// customer, kept apart from it; with `"blockShared": true` the values the two parts share are
/// blocked as part of the split. Answers `{"customer", "newCustomer", "blocked"}`; 404
/// `not_found` for an unknown contact, 400 `invalid_input` (`contactId`, `contactIds`), 409
/// `conflict` listing shared values, 413 past [`SPLIT_BODY_LIMIT`] (16 MiB: some million ids).
pub async fn split(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Split>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let raw_id = id.map(|Path(raw)| raw).unwrap_or_default();
    let customer = ContactId::parse(&raw_id)?;
    let (contact_ids, block_shared) = body(raw)?;
    let split = identity.split(customer, &contact_ids, block_shared).await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        customer = split.customer.primary_contact_id.get(),
        new_customer = split.new_customer.primary_contact_id.get(),
        moved = split.new_customer.secondary_contact_ids.len() + 1,
        blocked = split.blocked.len(),
        "customer split"
    );
    Ok(Json(split))
}

/// `{"contactIds": [positive integers], "blockShared": bool (default false)}`, of at most
/// [`SPLIT_BODY_LIMIT`] bytes.
fn body(raw: Result<Bytes, BytesRejection>) -> Result<(Vec<ContactId>, bool), ApiError> {
    let raw = body_bytes_within(raw, SPLIT_BODY_LIMIT)?;
    let value: Value =
        serde_json::from_slice(&raw).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let invalid = |field, reason: &str| {
        ApiError::from(Error::InvalidInput {
            field,
            reason: reason.to_owned(),
        })
    };
    let Some(object) = value.as_object() else {
        return Err(invalid(
            Field::Request,
            "body must be a JSON object like {\"contactIds\": [2, 3]}",
        ));
    };
    let ids = match object.get("contactIds") {
        Some(Value::Array(ids)) => ids,
        None | Some(Value::Null) => return Err(invalid(Field::ContactIds, "is required")),
        Some(_) => {
            return Err(invalid(
                Field::ContactIds,
                "must be an array of positive integers",
            ));
        }
    };
    let ids = ids
        .iter()
        .map(|v| {
            whole_number(v)
                .filter(|n| *n > 0)
                .map(ContactId::new)
                .ok_or_else(|| invalid(Field::ContactIds, "must be an array of positive integers"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let block_shared = match object.get("blockShared") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid(Field::Request, "blockShared must be true or false")),
    };
    Ok((ids, block_shared))
}
