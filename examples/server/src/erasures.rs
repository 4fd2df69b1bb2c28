//! `GET /admin/erasures`, `POST /admin/erasures/reapply` and `GET /admin/backup`: what a restore
//! needs. Admin routes (see `admin.rs`): disabled unless an admin token is configured, then only
//! that token; the erasure routes act for the tenant `X-Tenant-Id` names (absent: the default).
//! An erasure record holds ids, times and keyed hashes, never an email or a phone number; the
//! log gets counts.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use identity::{Error, Field, ReapplyReport};

use crate::admin::authorize;
use crate::api_error::{ApiError, IMPORT_BODY_LIMIT, body_bytes_within};
use crate::handlers::AppState;
use crate::import::json_lines;

/// Every erase of the tenant as JSON Lines (`application/x-ndjson`), oldest first, one erasure
/// record per line (`{"tenantId", "customerId", "contactIds", "erasedAt", "suppressed",
/// "rows", "digests", "secret"}`): the lines an erasure log file holds, to keep outside the
/// database and post to `/admin/erasures/reapply` after a restore.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let identity = authorize(&state, &headers)?;
    let records = identity.erasures().await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        records = records.len(),
        "erasures exported"
    );
    json_lines(&records)
}

/// Applies erasure records again (JSON Lines, as `GET /admin/erasures` or an erasure log file
/// gives them) to a database restored from a backup older than them. Answers the report
/// `{"records", "applied", "alreadyErased", "erasedIds", "reusedIds", "suppressed"}`; 400
/// `invalid_input` (`erasures`, naming the line) for a malformed record or one of another
/// tenant, 409 `conflict` for digests taken under another suppression secret, 413 past
/// [`IMPORT_BODY_LIMIT`]. A refused body changes nothing.
pub async fn reapply(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<ReapplyReport>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let raw = body_bytes_within(raw, IMPORT_BODY_LIMIT)?;
    let text = std::str::from_utf8(&raw).map_err(|_| {
        ApiError::from(Error::InvalidInput {
            field: Field::Erasures,
            reason: "the body must be UTF-8 text, one erasure record per line".to_owned(),
        })
    })?;
    let records = identity::erasure_log::parse_lines(text)?;
    let report = identity.reapply_erasures(&records).await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        records = report.records,
        applied = report.applied,
        erased = report.erased_ids.len(),
        "erasures applied again"
    );
    Ok(Json(report))
}

/// A consistent copy of the whole SQLite database, taken while the service runs, as the body
/// (`application/vnd.sqlite3`): every tenant and the suppression secret. 409 `conflict` on
/// PostgreSQL (`pg_dump` backs it up) and `memory:` (an in-memory database has no file).
pub async fn backup(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let identity = authorize(&state, &headers)?;
    let dir = tempfile::tempdir().map_err(|_| internal())?;
    let path = dir.path().join("identity-backup.db");
    identity.backup_to(&path, false).await?;
    let file = tokio::fs::File::open(&path).await.map_err(|_| internal())?;
    let bytes = file.metadata().await.map_err(|_| internal())?.len();
    // the open file outlives its name: the folder goes now, the bytes when the body is sent
    drop(dir);
    tracing::info!(bytes, "database backed up");
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.sqlite3"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"identity-backup.db\""),
        ),
        (header::CONTENT_LENGTH, HeaderValue::from(bytes)),
    ];
    Ok((headers, body).into_response())
}

fn internal() -> ApiError {
    ApiError::from(Error::Internal {
        reason: "the backup could not be staged in a temporary folder",
    })
}
