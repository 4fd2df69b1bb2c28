//! `POST /admin/customers/{id}/erase`: the right to be forgotten. A support route (see
//! `auth.rs`): the admin token for the tenant `X-Tenant-Id` names (absent: the default), or a
//! tenant's token for its own tenant. The answer is the receipt, which holds
//! ids and a time, never an email or a phone number; so does the log.

use axum::Json;
use identity::Erasure;
use serde::Deserialize;
use tracing::Level;

use crate::api_error::ApiError;
use crate::auth::Support;
use crate::body::{self, Wire};
use crate::path_id::ContactPath;
use crate::request_log::{Note, answered};
use crate::values;

/// The body of an erase: empty, or `{"suppress": bool (default false)}`.
#[derive(Debug, Default, Deserialize)]
pub struct EraseBody {
    #[serde(default, deserialize_with = "values::flag")]
    suppress: bool,
}

impl Wire for EraseBody {
    const SHAPE: &'static str = "body must be empty or a JSON object like {\"suppress\": true}";

    fn empty() -> Option<Self> {
        Some(EraseBody::default())
    }
}

/// Erases the customer that contact `id` belongs to; with `{"suppress": true}` its values are
/// kept as keyed hashes and ignored as `suppressed` in later requests. Answers the receipt
/// `{"customerId", "contactIds", "erasedAt", "suppressed"}` (the first one again for a customer
/// erased before); 404 `not_found` for an unknown contact, 400 `invalid_input` (`contactId`,
/// `request`).
pub async fn erase(
    Support(identity, _): Support,
    ContactPath(customer): ContactPath,
    body::Json(wire): body::Json<EraseBody>,
) -> Result<(Note, Json<Erasure>), ApiError> {
    let receipt = identity.erase(customer, wire.suppress).await?;
    let (erased, rows, suppressed) = (
        receipt.customer_id.get(),
        receipt.contact_ids.len(),
        receipt.suppressed,
    );
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            customer = erased,
            rows,
            suppressed,
            "customer erased"
        );
    });
    Ok((note, Json(receipt)))
}
