//! `GET /admin/contacts/{id}/history`: why a contact's rows are one customer. An admin route
//! (see `admin.rs`): disabled unless an admin token is configured, then only that token; it acts
//! for the tenant `X-Tenant-Id` names (absent: the default). The answer holds personal data
//! (the values of the events): it goes to the admin, never to the log.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use identity::{ContactId, History};

use crate::admin::authorize;
use crate::api_error::ApiError;
use crate::handlers::AppState;

/// The history of the customer that contact `id` belongs to now: `{"askedId", "customerId",
/// "events": [...]}`; 404 `not_found` when the tenant has no such contact, 400 `invalid_input`
/// (`field: contactId`) when the id is not a positive integer.
pub async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<History>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let raw = id.map(|Path(raw)| raw).unwrap_or_default();
    let id = ContactId::parse(&raw)?;
    let history = identity.history(id).await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        contact = id.get(),
        customer = history.customer.get(),
        events = history.events.len(),
        "history read"
    );
    Ok(Json(history))
}
