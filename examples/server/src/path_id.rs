//! The contact id a route's path names (`/admin/customers/{id}/split`), read before the body:
//! 400 `invalid_input` naming `contactId` when it is not a positive integer.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use identity::ContactId;

use crate::api_error::ApiError;

/// The contact id in the request's path.
#[derive(Debug)]
pub struct ContactPath(pub ContactId);

impl<S: Send + Sync> FromRequestParts<S> for ContactPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(raw)| raw)
            .unwrap_or_default();
        Ok(ContactPath(ContactId::parse(&raw)?))
    }
}
