//! Every error the service answers: `{"error":{"code","message"}}` with the right status.
//! 4xx for client mistakes, 503 (with `Retry-After`) for a database that is down or busy,
//! 500 only for real faults, with a generic message (the details go to the log).

use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use identity::ErrorKind;
use serde_json::{Value, json};

/// Why a body could not be read: past the route's `limit`, or broken off.
#[must_use]
pub fn unreadable_body(rejection: &BytesRejection, limit: usize) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(limit),
        _ => ApiError::MalformedJson(rejection.body_text()),
    }
}

/// A JSON number that is a whole number: an integer, or one written with a fraction or an
/// exponent (`5.0`, `5e0`), which JSON Schema counts as an integer too, while a double holds
/// it exactly.
#[must_use]
pub fn whole_number(value: &Value) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    value.as_i64().or_else(|| {
        let f = value.as_f64()?;
        #[allow(clippy::cast_possible_truncation)] // whole and within 2^53: exact
        (f.fract() == 0.0 && f.abs() < EXACT).then_some(f as i64)
    })
}

/// `limit` bytes as a person reads them: `16 KiB (16384 bytes)`.
fn in_units(limit: usize) -> String {
    const KIB: usize = 1024;
    match limit {
        n if n >= KIB * KIB && n % (KIB * KIB) == 0 => format!("{} MiB ({n} bytes)", n / KIB / KIB),
        n if n >= KIB && n % KIB == 0 => format!("{} KiB ({n} bytes)", n / KIB),
        n => format!("{n} bytes"),
    }
}

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    /// An error from the core.
    Identity(identity::Error),
    /// The body is not JSON at all.
    MalformedJson(String),
    /// The query string could not be read.
    BadQuery(String),
    /// The body is larger than the route's limit (in bytes).
    PayloadTooLarge(usize),
    /// No route here.
    NotFound,
    /// No contact matches a lookup.
    NoMatch,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// An admin route without the admin token.
    Unauthorized,
    /// Tenant tokens are configured and the request has none of them.
    TenantUnauthorized,
    /// A support route with neither the admin token nor a tenant's token.
    SupportUnauthorized,
    /// The request's token belongs to another tenant than the one it names.
    Forbidden,
    /// Too many requests in flight.
    Overloaded,
    /// The request took longer than the request timeout.
    Timeout,
    /// The request body did not arrive within the body timeout.
    BodyTimeout(std::time::Duration),
    /// A header that may be sent once (`X-Tenant-Id`, `Authorization`) was sent more often.
    DuplicateHeader(&'static str),
}

impl From<identity::Error> for ApiError {
    fn from(e: identity::Error) -> Self {
        ApiError::Identity(e)
    }
}

/// The `Retry-After` (seconds) of a 503 for storage that refuses writes (full, read-only,
/// failing): it lasts until someone frees space or makes the database writable.
pub const STORAGE_RETRY_AFTER: u32 = 10;

/// Maximum body size of a request, in bytes (`POST /admin/import`: [`IMPORT_BODY_LIMIT`];
/// `POST /admin/customers/{id}/split`: [`SPLIT_BODY_LIMIT`]).
pub const BODY_LIMIT: usize = 16 * 1024;

/// Maximum body size of `POST /admin/customers/{id}/split`, in bytes: the ids of the rows it
/// moves, sized for the largest customers (16 KiB held about 2,000). A million ids of up to 13
/// digits written `, `-separated take 15 MB, so a customer of a million rows can be split in
/// one request.
pub const SPLIT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Maximum body size of `POST /admin/import`, in bytes: some 500,000 checkouts. Larger
/// histories go through `identity import`, which reads files of any size.
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The HTTP status, the stable code and the retry delay (seconds) of each kind of core error:
/// the service's row of the core's table ([`ErrorKind`]), matched without a catch-all arm so a
/// new kind fails to compile until it has an answer. The codes are in the OpenAPI document's
/// `ErrorBody` (a test checks).
#[must_use]
pub fn kind_answer(kind: ErrorKind) -> (StatusCode, &'static str, Option<u32>) {
    match kind {
        ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "invalid_input", None),
        ErrorKind::BlockedValue => (StatusCode::UNPROCESSABLE_ENTITY, "blocked_value", None),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict", None),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found", None),
        ErrorKind::Expired => (StatusCode::GONE, "expired", None),
        ErrorKind::Unavailable | ErrorKind::Closed => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable", Some(2))
        }
        ErrorKind::Contention => (StatusCode::SERVICE_UNAVAILABLE, "contention", Some(1)),
        ErrorKind::Store | ErrorKind::CorruptData | ErrorKind::Internal => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
        }
    }
}

impl ApiError {
    /// The status, stable code, message and retry delay (seconds) of the answer.
    fn parts(&self) -> (StatusCode, &'static str, String, Option<u32>) {
        // storage that refuses writes says which way, and lasts longer than a busy moment
        if let ApiError::Identity(e) = self
            && let Some(refusal) = e.storage_refusal()
        {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("{e}: {refusal}"),
                Some(STORAGE_RETRY_AFTER),
            );
        }
        match self {
            ApiError::Identity(e) => {
                let (status, code, retry_after) = kind_answer(e.kind());
                // the database's and the library's failures are the operator's: logged with
                // their cause (below), answered without it
                let message = if status.is_server_error() && code == "internal" {
                    "internal server error".to_owned()
                } else {
                    e.to_string()
                };
                (status, code, message, retry_after)
            }
            ApiError::MalformedJson(reason) => (
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("request body is not valid JSON: {reason}"),
                None,
            ),
            ApiError::BadQuery(reason) => (
                StatusCode::BAD_REQUEST,
                "invalid_input",
                format!("invalid query string: {reason}"),
                None,
            ),
            ApiError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body is larger than {}", in_units(*limit)),
                None,
            ),
            ApiError::DuplicateHeader(name) => (
                StatusCode::BAD_REQUEST,
                "duplicate_header",
                format!("the {name} header is sent more than once: send it once"),
                None,
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route".to_owned(),
                None,
            ),
            ApiError::NoMatch => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no contact has this email or phone number".to_owned(),
                None,
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route".to_owned(),
                None,
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this route needs the admin token: Authorization: Bearer <token>".to_owned(),
                None,
            ),
            ApiError::TenantUnauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this service needs a tenant token: Authorization: Bearer <token>".to_owned(),
                None,
            ),
            ApiError::SupportUnauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this route needs the admin token or a tenant token: Authorization: Bearer <token>"
                    .to_owned(),
                None,
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "the token may not act for the tenant named in X-Tenant-Id".to_owned(),
                None,
            ),
            ApiError::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "too many requests in flight".to_owned(),
                Some(1),
            ),
            ApiError::BodyTimeout(within) => (
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} ms",
                    within.as_millis()
                ),
                None,
            ),
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long".to_owned(),
                Some(1),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, retry_after) = self.parts();
        if status.is_server_error() {
            // the full cause chain for operators; the client sees only the code and message
            match &self {
                ApiError::Identity(e) => {
                    tracing::error!(code, error = %e.chain(), "request failed")
                }
                _ => tracing::warn!(code, "request refused"),
            }
        }
        let mut body = json!({"error": {"code": code, "message": message}});
        match &self {
            ApiError::Identity(identity::Error::InvalidInput { field, .. }) => {
                body["error"]["field"] = json!(field.wire_name());
            }
            ApiError::Identity(identity::Error::BlockedValue { fields }) => {
                let names: Vec<&str> = fields.iter().map(|f| f.wire_name()).collect();
                body["error"]["fields"] = json!(names);
            }
            _ => {}
        }
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::in_units;

    #[test]
    fn limits_are_named_in_the_units_they_were_set_in() {
        assert_eq!(in_units(16 * 1024), "16 KiB (16384 bytes)");
        assert_eq!(in_units(16 * 1024 * 1024), "16 MiB (16777216 bytes)");
        assert_eq!(in_units(1000), "1000 bytes");
    }
}
