//! Which tenant a request acts for: the `X-Tenant-Id` header (absent: the default tenant) and,
//! when tenant tokens are configured, the bearer token, which names the one tenant it may act
//! for. Tokens are compared in constant time and never logged or printed.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use identity::{Error, Field, TenantId};

use crate::api_error::ApiError;
use crate::state::AppState;

/// The request header that names the tenant.
pub const TENANT_HEADER: HeaderName = HeaderName::from_static("x-tenant-id");

pub use crate::token::{MIN_TOKEN_LEN, TenantTokens};

/// The value of a header a request may send at most once: `None` when absent.
///
/// # Errors
/// [`ApiError::DuplicateHeader`] when it is sent more than once (which one would count
/// differs between proxies and servers, so none does).
pub fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    spelled: &'static str,
) -> Result<Option<&'h HeaderValue>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(ApiError::DuplicateHeader(spelled)),
        None => Ok(first),
    }
}

/// The tenant a request names in [`TENANT_HEADER`]: `None` when absent.
///
/// # Errors
/// [`ApiError::Identity`] with invalid input naming `tenant` when the header is not a valid id;
/// [`ApiError::DuplicateHeader`] when it is sent twice.
pub fn named_tenant(headers: &HeaderMap) -> Result<Option<TenantId>, ApiError> {
    let Some(value) = single_header(headers, &TENANT_HEADER, "X-Tenant-Id")? else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| Error::InvalidInput {
        field: Field::Tenant,
        reason: "may contain only letters, digits, '.', '_' and '-'".to_owned(),
    })?;
    Ok(Some(TenantId::parse(text)?))
}

/// The core handle scoped to the request's tenant: what `/identify` and `/contacts` use.
#[derive(Debug)]
pub struct Scoped(pub identity::Identity);

impl FromRequestParts<AppState> for Scoped {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        scope(state, &parts.headers).map(Scoped)
    }
}

/// The core handle for the tenant a request may act for: the one `X-Tenant-Id` names (absent:
/// the default) when no tenant tokens are configured, else its bearer token's own tenant (401
/// without a known token, 403 when the header names another).
///
/// # Errors
/// [`ApiError::TenantUnauthorized`], [`ApiError::Forbidden`], invalid input naming `tenant`,
/// or [`ApiError::DuplicateHeader`].
pub fn scope(state: &AppState, headers: &HeaderMap) -> Result<identity::Identity, ApiError> {
    if state.tenant_tokens.is_empty() {
        bearer(headers)?; // unused here, but sent twice is refused on every route alike
        let tenant = named_tenant(headers)?.unwrap_or_default();
        return Ok(state.identity.for_tenant(tenant));
    }
    let token = bearer(headers)?.ok_or(ApiError::TenantUnauthorized)?;
    let allowed = state
        .tenant_tokens
        .tenant_of(token.as_bytes())
        .ok_or(ApiError::TenantUnauthorized)?;
    match named_tenant(headers)? {
        Some(named) if named != *allowed => Err(ApiError::Forbidden),
        _ => Ok(state.identity.for_tenant(allowed.clone())),
    }
}

/// The request's bearer token, if it has one.
///
/// # Errors
/// [`ApiError::DuplicateHeader`] when `Authorization` is sent twice.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let value = single_header(headers, &AUTHORIZATION, "Authorization")?;
    Ok(value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ")))
}
