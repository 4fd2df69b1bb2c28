//! `POST /admin/customers/{id}/split`: undo a wrong merge. A support route (see `auth.rs`): the
//! admin token for the tenant `X-Tenant-Id` names (absent: the default), or a tenant's token for
//! its own tenant. The answer holds personal data (the two customers): it goes to the caller,
//! never to the log, which gets ids and counts.

use axum::Json;
use identity::{ContactId, Error, Field, Split};
use serde::Deserialize;
use tracing::Level;

use crate::api_error::{ApiError, SPLIT_BODY_LIMIT};
use crate::auth::Support;
use crate::body::{self, Wire};
use crate::path_id::ContactPath;
use crate::request_log::{Note, answered};
use crate::values;

/// The body of a split: `{"contactIds": [positive integers], "blockShared": bool (default
/// false)}`, of at most [`SPLIT_BODY_LIMIT`] bytes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitBody {
    #[serde(default, deserialize_with = "values::positive_ids")]
    contact_ids: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "values::flag")]
    block_shared: bool,
}

impl Wire for SplitBody {
    const SHAPE: &'static str = "body must be a JSON object like {\"contactIds\": [2, 3]}";
    const LIMIT: usize = SPLIT_BODY_LIMIT;

    fn field(key: &str) -> Field {
        match key {
            "contactIds" => Field::ContactIds,
            _ => Field::Request,
        }
    }
}

/// Moves the rows `contactIds` of the customer that contact `id` belongs to into a new
/// customer, kept apart from it; with `"blockShared": true` the values the two parts share are
/// blocked as part of the split. Answers `{"customer", "newCustomer", "blocked"}`; 404
/// `not_found` for an unknown contact, 400 `invalid_input` (`contactId`, `contactIds`), 409
/// `conflict` listing shared values, 413 past [`SPLIT_BODY_LIMIT`] (16 MiB: some million ids).
pub async fn split(
    Support(identity, _): Support,
    ContactPath(customer): ContactPath,
    body::Json(wire): body::Json<SplitBody>,
) -> Result<(Note, Json<Split>), ApiError> {
    let Some(ids) = wire.contact_ids else {
        return Err(Error::InvalidInput {
            field: Field::ContactIds,
            reason: "is required".to_owned(),
        }
        .into());
    };
    let contact_ids: Vec<ContactId> = ids.into_iter().map(ContactId::new).collect();
    let split = identity
        .split(customer, &contact_ids, wire.block_shared)
        .await?;
    let (kept, new_customer) = (
        split.customer.primary_contact_id.get(),
        split.new_customer.primary_contact_id.get(),
    );
    let (moved, blocked) = (
        split.new_customer.secondary_contact_ids.len() + 1,
        split.blocked.len(),
    );
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            customer = kept,
            new_customer,
            moved,
            blocked,
            "customer split"
        );
    });
    Ok((note, Json(split)))
}
