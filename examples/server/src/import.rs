//! `POST /admin/import`, `GET /admin/export` and `GET /admin/contacts`: history in, customers
//! and rows out. Admin routes (see
//! `admin.rs`): disabled unless an admin token is configured, then only that token; they act
//! for the tenant `X-Tenant-Id` names (absent: the default). Neither logs an email or a phone
//! number: the log gets counts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use identity::import::{ImportOptions, ImportReport, OnError};
use identity::{Error, Field};
use serde_json::Value;

use crate::admin::authorize;
use crate::api_error::{ApiError, IMPORT_BODY_LIMIT, body_bytes_within};
use crate::handlers::AppState;

/// Imports `{"checkouts": [{"email", "phoneNumber", "at"}, ...], "onError": "abort" | "skip",
/// "dryRun": false}` into the tenant, which must have no rows: the rows, customers and
/// primaries that replaying the checkouts through `/identify` in time order would give. Or,
/// with `{"table": [{"id", "email", "phoneNumber", "linkedId", "createdAt", "deletedAt"}, ...],
/// "renumber": false}` instead of `checkouts`, an existing deployment's table, every row under
/// its own id (the report's `table` lists every id whose meaning changed). Answers the report;
/// 409 `conflict` for a tenant with rows or per-customer limits, or a table whose ids the
/// store gave out already, 400 `invalid_input` (`checkouts` for malformed checkouts under
/// `abort`, naming them by index; `table` for malformed rows, by id; `onError`; `request`), 413
/// past [`IMPORT_BODY_LIMIT`]. A refused import writes nothing.
pub async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<ImportReport>, ApiError> {
    let identity = authorize(&state, &headers)?;
    let raw = body_bytes_within(raw, IMPORT_BODY_LIMIT)?;
    let value: Value =
        serde_json::from_slice(&raw).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let (batch, options) = body(&value)?;
    let report = match batch {
        Batch::Checkouts(checkouts) => identity.import_records(checkouts, options).await?,
        Batch::Table(rows) => identity.import_table_records(rows, options).await?,
    };
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        checkouts = report.checkouts,
        rows = report.rows,
        customers = report.customers,
        rejected = report.rejected,
        written = report.written,
        "checkouts imported"
    );
    Ok(Json(report))
}

/// What a body imports.
enum Batch<'a> {
    Checkouts(&'a [Value]),
    Table(&'a [Value]),
}

/// The body's checkouts (or table rows) and options.
fn body(value: &Value) -> Result<(Batch<'_>, ImportOptions), ApiError> {
    let invalid = |field, reason: &str| {
        ApiError::from(Error::InvalidInput {
            field,
            reason: reason.to_owned(),
        })
    };
    let Some(object) = value.as_object() else {
        return Err(invalid(
            Field::Request,
            "body must be a JSON object like {\"checkouts\": [...]}",
        ));
    };
    let batch = match (object.get("checkouts"), object.get("table")) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                Field::Request,
                "give checkouts or table (an existing table's rows), not both",
            ));
        }
        (None, Some(Value::Array(rows))) => Batch::Table(rows.as_slice()),
        (None, Some(_)) => {
            return Err(invalid(
                Field::Table,
                "must be an array of {\"id\", \"email\", \"phoneNumber\", \"linkedId\", \
                 \"createdAt\", \"deletedAt\"} objects",
            ));
        }
        (Some(Value::Array(list)), None) => Batch::Checkouts(list.as_slice()),
        _ => {
            return Err(invalid(
                Field::Checkouts,
                "must be an array of {\"email\", \"phoneNumber\", \"at\"} objects",
            ));
        }
    };
    let on_error = match object.get("onError") {
        None | Some(Value::Null) => OnError::Abort,
        Some(Value::String(text)) => OnError::parse(text)?,
        Some(_) => return Err(invalid(Field::OnError, "must be \"abort\" or \"skip\"")),
    };
    let dry_run = match object.get("dryRun") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid(Field::Request, "dryRun must be true or false")),
    };
    let renumber = match object.get("renumber") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid(Field::Request, "renumber must be true or false")),
    };
    let options = ImportOptions::default()
        .on_error(on_error)
        .dry_run(dry_run)
        .renumber(renumber);
    Ok((batch, options))
}

/// Every customer of the tenant as JSON Lines (`application/x-ndjson`), one consolidated
/// customer (`{"primaryContactId", "emails", "phoneNumbers", "secondaryContactIds"}`) per
/// line, by primary id.
pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let identity = authorize(&state, &headers)?;
    let customers = identity.customers().await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        customers = customers.len(),
        "customers exported"
    );
    json_lines(&customers)
}

/// Every visible row of the tenant's `contact` table as JSON Lines, one `{"id", "email",
/// "phoneNumber", "linkedId", "linkPrecedence", "createdAt", "updatedAt"}` per line, by id.
pub async fn contacts(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let identity = authorize(&state, &headers)?;
    let rows = identity.all_contacts().await?;
    tracing::info!(
        tenant = identity.tenant_id().as_str(),
        rows = rows.len(),
        "rows exported"
    );
    json_lines(&rows)
}

/// `items` as an `application/x-ndjson` answer: one JSON value per line.
pub(crate) fn json_lines<T: serde::Serialize>(items: &[T]) -> Result<Response, ApiError> {
    let mut body = Vec::with_capacity(items.len() * 96);
    for item in items {
        serde_json::to_writer(&mut body, item).map_err(|_| {
            ApiError::from(Error::Internal {
                reason: "a line of an export could not be written as JSON",
            })
        })?;
        body.push(b'\n');
    }
    let content_type = HeaderValue::from_static("application/x-ndjson");
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
