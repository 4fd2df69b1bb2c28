//! Which tenant a request acts for: the `X-Tenant-Id` header (absent: the default tenant) and,
//! when tenant tokens are configured, the bearer token, which names the one tenant it may act
//! for. Tokens are compared in constant time and never logged or printed.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use identity::{Error, Field, TenantId};
use subtle::ConstantTimeEq;

use crate::api_error::ApiError;
use crate::handlers::AppState;

/// The request header that names the tenant.
pub const TENANT_HEADER: HeaderName = HeaderName::from_static("x-tenant-id");

pub use crate::token::MIN_TOKEN_LEN;

/// Bearer tokens, each allowed to act for one tenant (a tenant may have several, for rotation).
///
/// Read from text of `tenant:token` entries, one per line or separated by commas; blank lines
/// and lines starting with `#` are ignored.
///
/// ```
/// use identity_server::tenancy::TenantTokens;
/// let tokens = TenantTokens::parse("shop-a:aaaaaaaaaaaaaaaaaaaa\n# rotated\nshop-b:bbbbbbbbbbbbbbbbbbbb")?;
/// assert_eq!(tokens.len(), 2);
/// assert!(format!("{tokens:?}").contains("shop-a") && !format!("{tokens:?}").contains("aaaa"));
/// assert!(TenantTokens::parse("shop-a:short").is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Default)]
pub struct TenantTokens {
    entries: Arc<Vec<(Box<[u8]>, TenantId)>>,
}

impl TenantTokens {
    /// Parses `tenant:token` entries.
    ///
    /// # Errors
    /// A message naming the entry (by position, never by its token) that has no `:`, names an
    /// invalid tenant, has a token that breaks [`crate::token::check`], or repeats a token.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries: Vec<(Box<[u8]>, TenantId)> = Vec::new();
        let lines = text.lines().filter(|l| !l.trim_start().starts_with('#'));
        let items = lines.flat_map(|l| l.split(',')).map(str::trim);
        for (at, item) in items.filter(|i| !i.is_empty()).enumerate() {
            let n = at + 1;
            let (tenant, token) = item
                .split_once(':')
                .ok_or_else(|| format!("tenant token entry {n}: expected tenant:token"))?;
            let tenant = TenantId::parse(tenant.trim())
                .map_err(|e| format!("tenant token entry {n}: {e}"))?;
            crate::token::check(token)
                .map_err(|reason| format!("tenant token entry {n} ({tenant}): {reason}"))?;
            if entries.iter().any(|(t, _)| **t == *token.as_bytes()) {
                return Err(format!(
                    "tenant token entry {n} ({tenant}): the token is used twice"
                ));
            }
            entries.push((token.as_bytes().into(), tenant));
        }
        Ok(TenantTokens {
            entries: Arc::new(entries),
        })
    }

    /// Reads and parses a file of entries (see [`TenantTokens::parse`]).
    ///
    /// # Errors
    /// When the file cannot be read, or as [`TenantTokens::parse`].
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the tenant tokens file {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    /// Both sets of tokens (a token in both, for the same tenant, counts once).
    ///
    /// # Errors
    /// When a token is given for two different tenants.
    pub fn merged(&self, other: &TenantTokens) -> Result<Self, String> {
        let mut entries = (*self.entries).clone();
        for (token, tenant) in other.entries.iter() {
            match entries.iter().find(|(t, _)| t == token) {
                Some((_, same)) if same == tenant => {}
                Some((_, first)) => {
                    return Err(format!(
                        "one token is configured for two tenants ({first} and {tenant})"
                    ));
                }
                None => entries.push((token.clone(), tenant.clone())),
            }
        }
        Ok(TenantTokens {
            entries: Arc::new(entries),
        })
    }

    /// How many tokens are configured.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are: then requests choose their tenant by header alone.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The tenant `token` may act for. Every configured token is compared, each in constant
    /// time, so the answer's timing does not depend on which (or whether one) matched.
    pub(crate) fn tenant_of(&self, token: &[u8]) -> Option<&TenantId> {
        let mut found = None;
        for (candidate, tenant) in self.entries.iter() {
            if bool::from(candidate.ct_eq(token)) {
                found = Some(tenant);
            }
        }
        found
    }
}

impl std::fmt::Debug for TenantTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenants: Vec<&str> = self.entries.iter().map(|(_, t)| t.as_str()).collect();
        f.debug_struct("TenantTokens")
            .field("tenants", &tenants)
            .finish_non_exhaustive()
    }
}

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
