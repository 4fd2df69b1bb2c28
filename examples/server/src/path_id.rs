//! The id a route's path names, read before the body: a contact's
//! (`/admin/customers/{id}/split`; 400 `invalid_input` naming `contactId` unless it is a
//! positive integer) or a webhook's (`/admin/webhooks/{id}`, naming `webhookId`).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use identity::ContactId;
use identity::webhook::WebhookId;

use crate::api_error::ApiError;

/// The contact id in the request's path.
#[derive(Debug)]
pub struct ContactPath(pub ContactId);

impl<S: Send + Sync> FromRequestParts<S> for ContactPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(ContactPath(ContactId::parse(&raw(parts, state).await)?))
    }
}

/// The webhook id in the request's path.
#[derive(Debug)]
pub struct WebhookPath(pub WebhookId);

impl<S: Send + Sync> FromRequestParts<S> for WebhookPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(WebhookPath(WebhookId::parse(&raw(parts, state).await)?))
    }
}

/// The path's one parameter as text (empty when there is none), for the id's own parser.
async fn raw<S: Send + Sync>(parts: &mut Parts, state: &S) -> String {
    Path::<String>::from_request_parts(parts, state)
        .await
        .map(|Path(raw)| raw)
        .unwrap_or_default()
}
