//! Who may call a route, decided once, before the handler runs: each extractor yields the core
//! handle scoped to the tenant the request may act for (and names that tenant to the request
//! log), or refuses with the service's JSON error. Tokens are compared in constant time and
//! never logged.
//!
//! - [`Scoped`] (`/identify`): the tenant `X-Tenant-Id` names (absent: the
//!   default) when no tenant tokens are configured; else the bearer token's own tenant (401
//!   without a known token, 403 when the header names another).
//! - [`Admin`] (`/admin/...`): 404 unless an admin token is configured, then 401 without it; the
//!   admin token acts for any tenant, the one `X-Tenant-Id` names.
//! - [`Reader`] (`/events`, `/contacts`): as [`Scoped`], and the admin token for any tenant
//!   (the one `X-Tenant-Id` names).
//! - [`Support`] (the support console's routes: a customer, its history, split, erase, the
//!   blocked values, the webhooks and their deliveries): the admin token for any tenant, the
//!   one `X-Tenant-Id` names; or a tenant's token for its own tenant (403 when the header names
//!   another); never without a token: 401, or 404 when no token at all is configured.
//! - [`AdminOrTenant`] (`/settings`): the admin token for any tenant; else a tenant's token as
//!   for [`Scoped`]; with only an admin token configured, the admin token (401); with no token
//!   at all, anyone (trusted networks).

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use identity::Identity;
use subtle::ConstantTimeEq;

use crate::api_error::ApiError;
use crate::request_log::RequestLog;
use crate::state::AppState;
use crate::tenancy::{bearer, named_tenant};

/// The core handle of a tenant route: see the module docs.
#[derive(Debug)]
pub struct Scoped(pub Identity);

/// The core handle of an admin route: see the module docs.
#[derive(Debug)]
pub struct Admin(pub Identity);

/// The core handle of the read routes (the feed, lookups): see the module docs.
#[derive(Debug)]
pub struct Reader(pub Identity);

/// The core handle of a route both the admin and a tenant may call: see the module docs.
#[derive(Debug)]
pub struct AdminOrTenant(pub Identity);

/// The core handle of a support route, and who called it: see the module docs.
#[derive(Debug)]
pub struct Support(pub Identity, pub Caller);

/// Whose token a support route was called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The admin token: may act for any tenant.
    Admin,
    /// A tenant's token: acts for its own tenant only.
    Tenant,
}

impl FromRequestParts<AppState> for Scoped {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let identity = tenant(state, &parts.headers)?;
        Ok(Scoped(logged(parts, identity)))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let identity = admin(state, &parts.headers)?;
        Ok(Admin(logged(parts, identity)))
    }
}

impl FromRequestParts<AppState> for AdminOrTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let identity = admin_or_tenant(state, &parts.headers)?;
        Ok(AdminOrTenant(logged(parts, identity)))
    }
}

impl FromRequestParts<AppState> for Support {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (identity, caller) = support(state, &parts.headers)?;
        Ok(Support(logged(parts, identity), caller))
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let identity = match bearer(&parts.headers)? {
            Some(given) if is_admin_token(state, given) => named(state, &parts.headers)?,
            _ => tenant(state, &parts.headers)?,
        };
        Ok(Reader(logged(parts, identity)))
    }
}

/// Names the handle's tenant to the request log.
fn logged(parts: &Parts, identity: Identity) -> Identity {
    if let Some(log) = parts.extensions.get::<RequestLog>() {
        log.set_tenant(identity.tenant_id());
    }
    identity
}

/// Whether `given` is the configured admin token.
fn is_admin_token(state: &AppState, given: &str) -> bool {
    state
        .admin_token
        .as_deref()
        .is_some_and(|expected| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
}

/// The handle for the tenant `X-Tenant-Id` names (absent: the default).
fn named(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let tenant = named_tenant(headers)?.unwrap_or_default();
    Ok(state.identity.for_tenant(tenant))
}

/// [`Scoped`]'s rule.
fn tenant(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    if state.tenant_tokens.is_empty() {
        bearer(headers)?; // unused here, but sent twice is refused on every route alike
        return named(state, headers);
    }
    token_tenant(state, headers, ApiError::TenantUnauthorized)
}

/// The handle for the tenant of the request's tenant token: `refused` without a known token,
/// [`ApiError::Forbidden`] when `X-Tenant-Id` names another tenant.
fn token_tenant(
    state: &AppState,
    headers: &HeaderMap,
    refused: ApiError,
) -> Result<Identity, ApiError> {
    let Some(allowed) = bearer(headers)?.and_then(|t| state.tenant_tokens.tenant_of(t.as_bytes()))
    else {
        return Err(refused);
    };
    match named_tenant(headers)? {
        Some(named) if named != *allowed => Err(ApiError::Forbidden),
        _ => Ok(state.identity.for_tenant(allowed.clone())),
    }
}

/// [`Admin`]'s rule.
fn admin(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    if state.admin_token.is_none() {
        return Err(ApiError::NotFound);
    }
    let given = bearer(headers)?.ok_or(ApiError::Unauthorized)?;
    if !is_admin_token(state, given) {
        return Err(ApiError::Unauthorized);
    }
    named(state, headers)
}

/// [`Support`]'s rule.
fn support(state: &AppState, headers: &HeaderMap) -> Result<(Identity, Caller), ApiError> {
    if bearer(headers)?.is_some_and(|given| is_admin_token(state, given)) {
        return Ok((named(state, headers)?, Caller::Admin));
    }
    if state.tenant_tokens.is_empty() {
        return Err(match state.admin_token {
            Some(_) => ApiError::Unauthorized,
            None => ApiError::NotFound,
        });
    }
    let refused = if state.admin_token.is_some() {
        ApiError::SupportUnauthorized
    } else {
        ApiError::TenantUnauthorized
    };
    Ok((token_tenant(state, headers, refused)?, Caller::Tenant))
}

/// [`AdminOrTenant`]'s rule.
fn admin_or_tenant(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    if bearer(headers)?.is_some_and(|given| is_admin_token(state, given)) {
        return named(state, headers);
    }
    if state.tenant_tokens.is_empty() && state.admin_token.is_some() {
        return Err(ApiError::Unauthorized);
    }
    tenant(state, headers)
}
