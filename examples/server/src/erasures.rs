//! `GET /admin/erasures`, `POST /admin/erasures/reapply` and `GET /admin/backup`: what a restore
//! needs. Admin routes (the [`Admin`] extractor): disabled unless an admin token is configured,
//! then only that token; the erasure routes act for the tenant `X-Tenant-Id` names (absent: the default).
//! An erasure record holds ids, times and keyed hashes, never an email or a phone number; the
//! log gets counts.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use identity::{ErasureRecord, Error, Field, ReapplyReport};
use tracing::Level;

use crate::api_error::{ApiError, IMPORT_BODY_LIMIT, unreadable_body};
use crate::auth::Admin;
use crate::export::json_lines;
use crate::request_log::{Note, answered};

/// Every erase of the tenant as JSON Lines (`application/x-ndjson`), oldest first, one erasure
/// record per line (`{"tenantId", "customerId", "contactIds", "erasedAt", "suppressed",
/// "rows", "digests", "secret"}`): the lines an erasure log file holds, to keep outside the
/// database and post to `/admin/erasures/reapply` after a restore.
pub async fn list(Admin(identity): Admin) -> Result<(Note, Response), ApiError> {
    let records = identity.erasures().await?;
    let count = records.len();
    let note = Note::new(move |a| {
        answered!(Level::INFO, a, records = count, "erasures exported");
    });
    Ok((note, json_lines(&records)?))
}

/// Applies erasure records again (JSON Lines, as `GET /admin/erasures` or an erasure log file
/// gives them) to a database restored from a backup older than them. Answers the report
/// `{"records", "applied", "alreadyErased", "erasedIds", "reusedIds", "suppressed"}`; 400
/// `invalid_input` (`erasures`, naming the line) for a malformed record or one of another
/// tenant, 409 `conflict` for digests taken under another suppression secret, 413 past
/// [`IMPORT_BODY_LIMIT`]. A refused body changes nothing.
pub async fn reapply(
    Admin(identity): Admin,
    ErasureLines(records): ErasureLines,
) -> Result<(Note, Json<ReapplyReport>), ApiError> {
    let report = identity.reapply_erasures(&records).await?;
    let (records, applied) = (report.records, report.applied);
    let erased = report.erased_ids.len();
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            records,
            applied,
            erased,
            "erasures applied again"
        );
    });
    Ok((note, Json(report)))
}

/// The body of `POST /admin/erasures/reapply`: erasure records, one JSON object per line, in at
/// most [`IMPORT_BODY_LIMIT`] bytes.
#[derive(Debug)]
pub struct ErasureLines(pub Vec<ErasureRecord>);

impl<S: Send + Sync> FromRequest<S> for ErasureLines {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let raw = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| unreadable_body(&rejection, IMPORT_BODY_LIMIT))?;
        let text = std::str::from_utf8(&raw).map_err(|_| {
            ApiError::from(Error::InvalidInput {
                field: Field::Erasures,
                reason: "the body must be UTF-8 text, one erasure record per line".to_owned(),
            })
        })?;
        Ok(ErasureLines(identity::erasure_log::parse_lines(text)?))
    }
}

/// A consistent copy of the whole SQLite database, taken while the service runs, as the body
/// (`application/vnd.sqlite3`): every tenant and the suppression secret. 409 `conflict` on
/// PostgreSQL (`pg_dump` backs it up) and `memory:` (an in-memory database has no file).
pub async fn backup(Admin(identity): Admin) -> Result<(Note, Response), ApiError> {
    let dir = tempfile::tempdir().map_err(|_| internal())?;
    let path = dir.path().join("identity-backup.db");
    identity.backup_to(&path, false).await?;
    let file = tokio::fs::File::open(&path).await.map_err(|_| internal())?;
    let bytes = file.metadata().await.map_err(|_| internal())?.len();
    // the open file outlives its name: the folder goes now, the bytes when the body is sent
    drop(dir);
    let note = Note::new(move |a| answered!(Level::INFO, a, bytes, "database backed up"));
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
    Ok((note, (headers, body).into_response()))
}

fn internal() -> ApiError {
    ApiError::from(Error::Internal {
        reason: "the backup could not be staged in a temporary folder",
    })
}
