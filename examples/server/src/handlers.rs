//! The route handlers: convert the request, call the core, render the answer. No rules here.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use identity::{
    ConsolidatedContact, ContactId, Email, Field, IdentifyRequest, Ignored, Phone, SharedList,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api_error::{ApiError, body_bytes};
use crate::mask;
use crate::tenancy::Scoped;

pub use crate::state::AppState;

/// The answer body: `{"contact": {...}}`, with the legacy key when enabled, and `ignored` when
/// the request had values left out.
#[derive(Debug, Serialize)]
struct ContactBody<'a> {
    contact: WireContact<'a>,
    #[serde(skip_serializing_if = "<[Ignored]>::is_empty")]
    ignored: &'a [Ignored],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WireContact<'a> {
    primary_contact_id: ContactId,
    #[serde(rename = "primaryContatctId", skip_serializing_if = "Option::is_none")]
    legacy_primary_contact_id: Option<ContactId>,
    emails: &'a SharedList<Email>,
    phone_numbers: &'a SharedList<Phone>,
    secondary_contact_ids: &'a SharedList<ContactId>,
}

impl AppState {
    fn render(&self, c: &ConsolidatedContact) -> axum::response::Response {
        let body = ContactBody {
            contact: WireContact {
                primary_contact_id: c.primary_contact_id,
                legacy_primary_contact_id: self.legacy_key.then_some(c.primary_contact_id),
                emails: &c.emails,
                phone_numbers: &c.phone_numbers,
                secondary_contact_ids: &c.secondary_contact_ids,
            },
            ignored: &c.ignored,
        };
        Json(body).into_response()
    }

    fn masked(&self, request: &IdentifyRequest) -> (String, String) {
        if self.log_unmasked {
            let email = request.email().map(ToString::to_string);
            let phone = request.phone_number().map(ToString::to_string);
            (email.unwrap_or_default(), phone.unwrap_or_default())
        } else {
            let email = request.email().map(mask::email);
            let phone = request.phone_number().map(mask::phone);
            (email.unwrap_or_default(), phone.unwrap_or_default())
        }
    }
}

/// `POST /identify`: any content type; the body must be a JSON object.
pub async fn identify(
    State(state): State<AppState>,
    Scoped(identity): Scoped,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = body_bytes(body)?;
    let request = IdentifyRequest::from_json(&body).map_err(|e| match e {
        identity::Error::InvalidInput {
            field: Field::Body,
            reason,
        } => ApiError::MalformedJson(reason),
        e => ApiError::Identity(e),
    })?;
    let contact = identity.identify_request(&request).await?;
    let (email, phone) = state.masked(&request);
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        email,
        phone,
        primary = contact.primary_contact_id.get(),
        "identified"
    );
    Ok(state.render(&contact))
}

/// The query of `GET /contacts`.
#[derive(Debug, Deserialize)]
pub struct ContactsQuery {
    email: Option<String>,
    #[serde(rename = "phoneNumber")]
    phone_number: Option<String>,
}

/// `GET /contacts?email=..&phoneNumber=..`: the read-only lookup; 404 when nothing matches. A
/// phone number's leading `+` may be sent as is (`phoneNumber=+15550101`): it is read as `+`,
/// not as the space form encoding makes of it elsewhere; `%2B` is always `+`.
pub async fn contacts(
    State(state): State<AppState>,
    Scoped(identity): Scoped,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let uri: axum::http::Uri = format!("/?{}", leading_plus_kept(raw.as_deref().unwrap_or("")))
        .parse()
        .map_err(|_| ApiError::BadQuery("unreadable query string".to_owned()))?;
    let query: Result<Query<ContactsQuery>, QueryRejection> = Query::try_from_uri(&uri);
    let Query(query) = query.map_err(|r| ApiError::BadQuery(r.body_text()))?;
    let request = IdentifyRequest::parse(query.email.as_deref(), query.phone_number.as_deref())?;
    match identity.lookup_request(&request).await? {
        Some(contact) => Ok(state.render(&contact)),
        None => Err(ApiError::NoMatch),
    }
}

/// The query with a raw leading `+` of `phoneNumber` written `%2B`: a client that puts an E.164
/// number in a URL as is means the plus, and a space there would silently drop it.
fn leading_plus_kept(raw: &str) -> String {
    raw.split('&')
        .map(|pair| match pair.strip_prefix("phoneNumber=+") {
            Some(rest) => format!("phoneNumber=%2B{rest}"),
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers and, after its storage refused a write, takes writes
/// again (see [`identity::Identity::ping`]); else 503 naming why.
pub async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state.identity.ping().await?;
    Ok(Json(
        json!({"status": "ready", "backend": state.identity.store().backend()}),
    ))
}

/// The OpenAPI 3.1 document of this service.
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// Unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Known routes, wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
