//! The route handlers: convert the request, call the core, render the answer. No rules here.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Query, RawQuery, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use identity::{
    ConsolidatedContact, ContactId, Email, Field, IdentifyRequest, Ignored, Phone, SharedList,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::Level;

use crate::api_error::{ApiError, BODY_LIMIT, unreadable_body};
use crate::auth::{Reader, Scoped};
use crate::mask;
use crate::rendered;
use crate::request_log::{Note, answered};

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
    fn render(&self, c: &ConsolidatedContact) -> Response {
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
        // written into a buffer of about the answer's size: a large customer's answer (tens of
        // kilobytes of emails) would otherwise grow the buffer by doubling, copying it each time
        let render = || {
            let mut buffer = Vec::with_capacity(answer_size(c));
            serde_json::to_writer(&mut buffer, &body).ok()?;
            Some(buffer)
        };
        let rendered = if rendered::is_kept(c) {
            self.rendered.body(c, self.legacy_key, render)
        } else {
            render().map(Bytes::from)
        };
        match rendered {
            Some(json) => (
                [(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/json"),
                )],
                json,
            )
                .into_response(),
            // not reached (the answer holds strings and numbers only): axum's own rendering
            None => Json(body).into_response(),
        }
    }
}

/// About how many bytes `c` takes as JSON: its values quoted, its ids as numbers, the keys.
fn answer_size(c: &ConsolidatedContact) -> usize {
    let quoted = |s: &str| s.len() + 3;
    let emails: usize = c.emails.iter().map(|e| quoted(e.as_str())).sum();
    let phones: usize = c.phone_numbers.iter().map(|p| quoted(p.as_str())).sum();
    160 + emails + phones + 21 * c.secondary_contact_ids.len() + 64 * c.ignored.len()
}

/// The body of `POST /identify`: any content type; a JSON object, read as the core reads one.
/// A body that arrived but does not parse is the handler's to refuse (and count).
#[derive(Debug)]
pub struct IdentifyBody(pub identity::Result<IdentifyRequest>);

impl<S: Send + Sync> FromRequest<S> for IdentifyBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| unreadable_body(&rejection, BODY_LIMIT))?;
        Ok(IdentifyBody(IdentifyRequest::from_json(&body)))
    }
}

/// The answer to a body the core could not read as a request.
fn refused_body(e: identity::Error) -> ApiError {
    match e {
        identity::Error::InvalidInput {
            field: Field::Body,
            reason,
        } => ApiError::MalformedJson(reason),
        e => ApiError::Identity(e),
    }
}

/// `POST /identify`: the request's customer. Logged with its values masked (unless
/// `--log-unmasked`), written only when the event is enabled.
pub async fn identify(
    State(state): State<AppState>,
    Scoped(identity): Scoped,
    IdentifyBody(parsed): IdentifyBody,
) -> Result<(Note, Response), ApiError> {
    let request = parsed.map_err(|e| {
        identity.count_refused_identify(e.kind());
        refused_body(e)
    })?;
    let contact = identity.identify_request(&request).await?;
    let primary = contact.primary_contact_id.get();
    let unmasked = state.log_unmasked;
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            email = request
                .email()
                .map(|e| tracing::field::display(mask::email(e, unmasked))),
            phone = request
                .phone_number()
                .map(|p| tracing::field::display(mask::phone(p, unmasked))),
            primary,
            "identified"
        );
    });
    Ok((note, state.render(&contact)))
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
    Reader(identity): Reader,
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

/// `GET /metrics`: the service's metrics in the Prometheus text format (`metrics.rs`).
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(&state.identity).await;
    (
        [(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(crate::metrics::Metrics::CONTENT_TYPE),
        )],
        text,
    )
        .into_response()
}
