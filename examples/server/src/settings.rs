//! `GET /settings`, `PUT /settings` and `PUT /settings/limits`: the settings of the request's
//! tenant (its phone region and its per-customer caps). Who may call them:
//! - the admin token (`Authorization: Bearer <admin token>`) acts for any tenant, the one
//!   `X-Tenant-Id` names (absent: the default);
//! - otherwise, when tenant tokens are configured, a tenant's token acts for its own tenant
//!   (401 without a known token, 403 for another tenant), as on `/identify`;
//! - otherwise, when only an admin token is configured, the admin token is required (401);
//! - with no token configured at all the service is for trusted networks, and anyone may.

use axum::Json;
use identity::{Error, Field, TenantSettings};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Level;

use crate::api_error::ApiError;
use crate::auth::AdminOrTenant;
use crate::body::{self, Wire};
use crate::request_log::{Note, answered};
use crate::values;

/// The wire shape of a tenant's settings.
fn body(identity: &identity::Identity, settings: &TenantSettings) -> Json<Value> {
    Json(json!({
        "tenantId": identity.tenant_id().as_str(),
        "phoneRegion": settings.phone_region.map(|r| r.to_string()),
        "limits": settings.limits,
    }))
}

/// `GET /settings`: the tenant's settings.
pub async fn get(AdminOrTenant(identity): AdminOrTenant) -> Result<Json<Value>, ApiError> {
    let settings = identity.settings().await?;
    Ok(body(&identity, &settings))
}

/// The body of `PUT /settings`: `{"phoneRegion": "IN" | null}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionBody {
    #[serde(default, deserialize_with = "values::given_string_or_null")]
    phone_region: Option<Option<String>>,
}

impl Wire for RegionBody {
    const SHAPE: &'static str = "body must be a JSON object like {\"phoneRegion\": \"IN\"}";

    fn field(key: &str) -> Field {
        match key {
            "phoneRegion" => Field::PhoneRegion,
            _ => Field::Request,
        }
    }
}

/// `PUT /settings` with `{"phoneRegion": "IN" | null}`: sets (or clears) the tenant's phone
/// region; 409 once the tenant has contacts and the region would change.
pub async fn put(
    AdminOrTenant(identity): AdminOrTenant,
    body::Json(wire): body::Json<RegionBody>,
) -> Result<(Note, Json<Value>), ApiError> {
    let Some(region) = wire.phone_region else {
        return Err(Error::InvalidInput {
            field: Field::PhoneRegion,
            reason: "is required (a region code, or null to clear it)".to_owned(),
        }
        .into());
    };
    let settings = identity.set_phone_region(region.as_deref()).await?;
    let phone_region = settings.phone_region;
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            phone_region = phone_region.map(tracing::field::display),
            "tenant settings changed"
        );
    });
    Ok((note, body(&identity, &settings)))
}

/// The body of `PUT /settings/limits`: `{"emails": 5 | null, "phones": 3 | null}` (a missing
/// key is `null`: no cap).
#[derive(Debug, Deserialize)]
pub struct LimitsBody {
    #[serde(default, deserialize_with = "values::whole_or_null")]
    emails: Option<i64>,
    #[serde(default, deserialize_with = "values::whole_or_null")]
    phones: Option<i64>,
}

impl Wire for LimitsBody {
    const SHAPE: &'static str = "body must be a JSON object like {\"emails\": 5, \"phones\": null}";

    fn field(_: &str) -> Field {
        Field::Limits
    }
}

/// `PUT /settings/limits` with `{"emails": 5 | null, "phones": 3 | null}`: sets the tenant's
/// per-customer caps.
pub async fn put_limits(
    AdminOrTenant(identity): AdminOrTenant,
    body::Json(wire): body::Json<LimitsBody>,
) -> Result<(Note, Json<Value>), ApiError> {
    let limits = identity::Limits::new(wire.emails, wire.phones)?;
    let settings = identity.set_limits(limits).await?;
    let (max_emails, max_phones) = (settings.limits.emails, settings.limits.phones);
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            max_emails,
            max_phones,
            "tenant limits changed"
        );
    });
    Ok((note, body(&identity, &settings)))
}
