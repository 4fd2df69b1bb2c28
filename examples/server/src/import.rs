//! `POST /admin/import`: history in. An admin route (the [`Admin`] extractor): disabled unless
//! an admin token is configured, then only that token; it acts for the tenant `X-Tenant-Id`
//! names (absent: the default). The body's records are read one at a time from its text
//! (`import_body.rs`), never parsed whole into a tree. The log gets counts, never an email or a
//! phone number.

use axum::Json;
use identity::import::ImportReport;
use tracing::Level;

use crate::api_error::ApiError;
use crate::auth::Admin;
use crate::import_body::{Batch, Import, ImportBody};
use crate::request_log::{Note, answered};

/// Imports `{"checkouts": [{"email", "phoneNumber", "at"}, ...], "onError": "abort" | "skip",
/// "dryRun": false}` into the tenant, which must have no rows: the rows, customers and
/// primaries that replaying the checkouts through `/identify` in time order would give. Or,
/// with `{"table": [{"id", "email", "phoneNumber", "linkedId", "createdAt", "deletedAt"}, ...],
/// "renumber": false}` instead of `checkouts`, an existing deployment's table, every row under
/// its own id (the report's `table` lists every id whose meaning changed). Answers the report;
/// 409 `conflict` for a tenant with rows or per-customer limits, or a table whose ids the
/// store gave out already, 400 `invalid_input` (`checkouts` for malformed checkouts under
/// `abort`, naming them by index; `table` for malformed rows, by id; `onError`; `request`), 413
/// past [`crate::api_error::IMPORT_BODY_LIMIT`]. A refused import writes nothing.
pub async fn import(
    Admin(identity): Admin,
    body: ImportBody,
) -> Result<(Note, Json<ImportReport>), ApiError> {
    let Import { batch, options } = body.read()?;
    let report = match batch {
        Batch::Checkouts(records) => identity.import_records(&records, options).await?,
        Batch::Table(records) => identity.import_table_records(&records, options).await?,
    };
    let (checkouts, rows, customers) = (report.checkouts, report.rows, report.customers);
    let (rejected, written) = (report.rejected, report.written);
    let note = Note::new(move |a| {
        answered!(
            Level::INFO,
            a,
            checkouts,
            rows,
            customers,
            rejected,
            written,
            "checkouts imported"
        );
    });
    Ok((note, Json(report)))
}
