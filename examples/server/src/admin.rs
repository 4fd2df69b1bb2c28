//! The admin routes: `GET /admin/verify`, `POST /admin/rebuild` and `GET /admin/job` (and
//! `/admin/blocked`, `blocked.rs`). Disabled (404) unless an admin token is configured; then
//! every request must carry it as a bearer token (the [`Admin`] extractor, `auth.rs`). The admin
//! token acts for any tenant: the one `X-Tenant-Id` names (absent: the default).

use axum::Json;
use serde_json::{Value, json};
use tracing::Level;

use crate::api_error::ApiError;
use crate::auth::Admin;
use crate::request_log::{Note, answered};

/// `GET /admin/verify`: the rows against I1-I4, the derived records against the rows.
/// Logged at WARN when it finds problems.
pub async fn verify(Admin(identity): Admin) -> Result<(Note, Json<Value>), ApiError> {
    let report = identity.verify().await?;
    let problems: Vec<Value> = report
        .problems
        .iter()
        .map(|p| json!({"code": p.code(), "message": p.to_string()}))
        .collect();
    let found = problems.len();
    let note = Note::new(move |a| {
        if found > 0 {
            answered!(Level::WARN, a, problems = found, "verify found problems");
        } else {
            answered!(Level::INFO, a, problems = found, "verified");
        }
    });
    let body = Json(json!({
        "rows": report.rows,
        "customers": report.customers,
        "clean": report.is_clean(),
        "problems": problems,
    }));
    Ok((note, body))
}

/// `POST /admin/rebuild`: recomputes every derived record from the rows.
pub async fn rebuild(Admin(identity): Admin) -> Result<(Note, Json<Value>), ApiError> {
    let report = identity.rebuild().await?;
    let (rows, customers, relinked) = (report.rows, report.customers, report.relinked.len());
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            rows,
            customers,
            relinked,
            "rebuilt the identity graph"
        );
    });
    let body = Json(json!({
        "rows": report.rows,
        "customers": report.customers,
        "relinked": report.relinked,
    }));
    Ok((note, body))
}

/// `GET /admin/job`: how far the tenant's long write in this process has got (an import or
/// erase running in steps), `{"job": {"kind", "done", "total"}}`, or `{"job": null}`.
pub async fn job(Admin(identity): Admin) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "job": identity.job_progress() })))
}
