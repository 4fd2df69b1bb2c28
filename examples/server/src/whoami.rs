//! `GET /admin/whoami`: which tenant a token acts for, and whether it is the admin token. The
//! support console asks it at sign-in, to show the tenant a tenant token is bound to (and keep
//! the tenant field to it); an operator asks it to check which token a deployment was given.

use axum::Json;
use serde::Serialize;

use crate::api_error::ApiError;
use crate::auth::{Caller, Support};

/// The answer: `{"tenantId": "shop-a", "caller": "tenant"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// The tenant the request acts for: the token's own, or (the admin token) the one
    /// `X-Tenant-Id` names, else the default tenant.
    tenant_id: String,
    /// `"admin"` (may act for any tenant) or `"tenant"` (its own only).
    caller: &'static str,
}

/// Who the request's token is: 200 with [`WhoAmI`]; refused as every support route is.
pub async fn whoami(Support(identity, caller): Support) -> Result<Json<WhoAmI>, ApiError> {
    Ok(Json(WhoAmI {
        tenant_id: identity.tenant_id().to_string(),
        caller: match caller {
            Caller::Admin => "admin",
            Caller::Tenant => "tenant",
        },
    }))
}
