//! The admin routes: `GET /admin/verify`, `POST /admin/rebuild` and `GET /admin/job` (and
//! `/admin/blocked`, `blocked.rs`). Disabled (404) unless an
//! admin token is configured; then every request must carry it as a bearer token, compared in
//! constant time and never logged. The admin token acts for any tenant: the one `X-Tenant-Id`
//! names (absent: the default tenant).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::api_error::ApiError;
use crate::handlers::AppState;
use crate::tenancy::{bearer, named_tenant};

/// Checks the request's bearer token against the configured admin token; the core handle
/// scoped to the tenant the request names.
pub(crate) fn authorize(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<identity::Identity, ApiError> {
    let Some(expected) = state.admin_token.as_deref() else {
        return Err(ApiError::NotFound);
    };
    let given = bearer(headers)?.ok_or(ApiError::Unauthorized)?;
    if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ApiError::Unauthorized);
    }
    let tenant = named_tenant(headers)?.unwrap_or_default();
    Ok(state.identity.for_tenant(tenant))
}

/// `GET /admin/verify`: the rows against I1-I4, the derived records against the rows.
pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let report = identity.verify().await?;
    let problems: Vec<Value> = report
        .problems
        .iter()
        .map(|p| json!({"code": p.code(), "message": p.to_string()}))
        .collect();
    if !report.is_clean() {
        let tenant = identity.tenant_id().as_str();
        tracing::warn!(tenant, problems = problems.len(), "verify found problems");
    }
    Ok(Json(json!({
        "rows": report.rows,
        "customers": report.customers,
        "clean": report.is_clean(),
        "problems": problems,
    })))
}

/// `POST /admin/rebuild`: recomputes every derived record from the rows.
pub async fn rebuild(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let report = identity.rebuild().await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        rows = report.rows,
        customers = report.customers,
        relinked = report.relinked.len(),
        "rebuilt the identity graph"
    );
    Ok(Json(json!({
        "rows": report.rows,
        "customers": report.customers,
        "relinked": report.relinked,
    })))
}

/// `GET /admin/job`: how far the tenant's long write in this process has got (an import or
/// erase running in steps), `{"job": {"kind", "done", "total"}}`, or `{"job": null}`.
pub async fn job(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let identity = authorize(&state, &headers)?;
    Ok(Json(json!({ "job": identity.job_progress() })))
}
