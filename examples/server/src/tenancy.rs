//! What a request says about who it acts for: the tenant its `X-Tenant-Id` header names
//! (absent: the default tenant) and its bearer token, each sent at most once. Who may act for
//! which tenant is decided in `auth.rs`; tokens are never logged or printed.

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use identity::{Error, Field, TenantId};

use crate::api_error::ApiError;

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
