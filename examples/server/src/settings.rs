//! `GET /settings`, `PUT /settings` and `PUT /settings/limits`: the settings of the request's
//! tenant (its phone region and its per-customer caps). Who may call them:
//! - the admin token (`Authorization: Bearer <admin token>`) acts for any tenant, the one
//!   `X-Tenant-Id` names (absent: the default);
//! - otherwise, when tenant tokens are configured, a tenant's token acts for its own tenant
//!   (401 without a known token, 403 for another tenant), as on `/identify`;
//! - otherwise, when only an admin token is configured, the admin token is required (401);
//! - with no token configured at all the service is for trusted networks, and anyone may.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use identity::{Error, Field, TenantSettings};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::api_error::{ApiError, json_body, whole_number};
use crate::handlers::AppState;
use crate::tenancy::{bearer, named_tenant, scope};

/// The core handle for the tenant the request may act for (see the module docs).
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<identity::Identity, ApiError> {
    let given = bearer(headers)?;
    if let (Some(expected), Some(given)) = (state.admin_token.as_deref(), given)
        && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    {
        let tenant = named_tenant(headers)?.unwrap_or_default();
        return Ok(state.identity.for_tenant(tenant));
    }
    if state.tenant_tokens.is_empty() && state.admin_token.is_some() {
        return Err(ApiError::Unauthorized);
    }
    scope(state, headers)
}

/// The wire shape of a tenant's settings.
fn body(identity: &identity::Identity, settings: &TenantSettings) -> Json<Value> {
    Json(json!({
        "tenantId": identity.tenant_id().as_str(),
        "phoneRegion": settings.phone_region.map(|r| r.to_string()),
        "limits": settings.limits,
    }))
}

/// `GET /settings`: the tenant's settings.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let settings = identity.settings().await?;
    Ok(body(&identity, &settings))
}

/// `PUT /settings` with `{"phoneRegion": "IN" | null}`: sets (or clears) the tenant's phone
/// region; 409 once the tenant has contacts and the region would change.
pub async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let value = json_body(raw)?;
    let invalid = |reason: &str| Error::InvalidInput {
        field: Field::PhoneRegion,
        reason: reason.to_owned(),
    };
    let region = match value.as_object().map(|o| o.get("phoneRegion")) {
        None => {
            return Err(Error::InvalidInput {
                field: Field::Request,
                reason: "body must be a JSON object like {\"phoneRegion\": \"IN\"}".to_owned(),
            }
            .into());
        }
        Some(None) => {
            return Err(invalid("is required (a region code, or null to clear it)").into());
        }
        Some(Some(Value::Null)) => None,
        Some(Some(Value::String(code))) => Some(code.as_str()),
        Some(Some(_)) => return Err(invalid("must be a string or null").into()),
    };
    let settings = identity.set_phone_region(region).await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        phone_region = settings.phone_region.map(|r| r.to_string()),
        "tenant settings changed"
    );
    Ok(body(&identity, &settings))
}

/// `PUT /settings/limits` with `{"emails": 5 | null, "phones": 3 | null}` (a missing key is
/// `null`: no cap): sets the tenant's per-customer caps.
pub async fn put_limits(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let value = json_body(raw)?;
    let Some(object) = value.as_object() else {
        return Err(Error::InvalidInput {
            field: Field::Request,
            reason: "body must be a JSON object like {\"emails\": 5, \"phones\": null}".to_owned(),
        }
        .into());
    };
    let cap = |name: &str| -> Result<Option<i64>, ApiError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => whole_number(v).map(Some).ok_or_else(|| {
                Error::InvalidInput {
                    field: Field::Limits,
                    reason: format!("{name} must be a whole number or null"),
                }
                .into()
            }),
        }
    };
    let limits = identity::Limits::new(cap("emails")?, cap("phones")?)?;
    let settings = identity.set_limits(limits).await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        max_emails = settings.limits.emails,
        max_phones = settings.limits.phones,
        "tenant limits changed"
    );
    Ok(body(&identity, &settings))
}
