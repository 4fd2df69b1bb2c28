//! `GET /admin/contacts/{id}/history`: why a contact's rows are one customer, and
//! `GET /admin/customers/{id}`: its rows now. Support routes
//! (see `auth.rs`): the admin token for the tenant `X-Tenant-Id` names (absent: the default), or
//! a tenant's token for its own tenant. The answer holds personal data (the values of the events
//! and rows): it goes to the caller, never to the log.

use axum::Json;
use identity::{Customer, History};
use tracing::Level;

use crate::api_error::ApiError;
use crate::auth::Support;
use crate::path_id::ContactPath;
use crate::request_log::{Note, answered};

/// The history of the customer that contact `id` belongs to now: `{"askedId", "customerId",
/// "events": [...]}`; 404 `not_found` when the tenant has no such contact, 400 `invalid_input`
/// (`field: contactId`) when the id is not a positive integer.
pub async fn history(
    Support(identity, _): Support,
    ContactPath(id): ContactPath,
) -> Result<(Note, Json<History>), ApiError> {
    let history = identity.history(id).await?;
    let (contact, customer, events) = (id.get(), history.customer.get(), history.events.len());
    let note = Note::new(move |a| {
        answered!(Level::INFO, a, contact, customer, events, "history read");
    });
    Ok((note, Json(history)))
}

/// The customer that contact `id` belongs to now: `{"customerId", "rows": [...]}` (each row as
/// `GET /admin/contacts` writes it); 404 `not_found` when the tenant has no such contact, 400
/// `invalid_input` (`field: contactId`) when the id is not a positive integer.
pub async fn customer(
    Support(identity, _): Support,
    ContactPath(id): ContactPath,
) -> Result<(Note, Json<Customer>), ApiError> {
    let customer = identity.customer(id).await?;
    let (contact, primary, rows) = (id.get(), customer.customer_id.get(), customer.rows.len());
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            contact,
            customer = primary,
            rows,
            "customer read"
        );
    });
    Ok((note, Json(customer)))
}
