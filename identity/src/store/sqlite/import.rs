//! The SQLite import: in the caller's write transaction, the planned rows inserted under the
//! next ids in time order (or a table's own ids, the id counter then set past the table's
//! highest), an `existing` event per row, and the derived records built from the plan, each in
//! statements of a few thousand rows (one JSON array each).

use serde_json::{Value, json};
use sqlx::SqliteConnection;
use time::format_description::well_known::Rfc3339;

use crate::contact::{Contact, ContactId, Email, Phone};
use crate::derive::Derived;
use crate::error::{Error, Result};
use crate::import::{
    ImportBatch, ImportOptions, ImportReport, derive_imported, plan, refuse_not_empty,
    refuse_taken_ids,
};
use crate::store::RecordText;
use crate::tenant::TenantId;

/// Rows per statement.
const BATCH: usize = 5_000;

// AUTOINCREMENT's next id: past every id ever used (the sequence) and every id there
const NEXT_ID: &str = "\
SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'contact'), 0),
           coalesce((SELECT max(id) FROM contact), 0)) + 1";

/// Sets AUTOINCREMENT's counter to at least `?1`, so later rows get higher ids (two
/// statements: the counter's row exists once a row was ever inserted).
const RESERVE_IDS: [&str; 2] = [
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'contact', ?1 \
     WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'contact')",
    "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'contact'",
];

const INSERT_ROWS: &str = "\
INSERT INTO contact (id, tenant_id, email, phone_number, linked_id, link_precedence, created_at,
    updated_at)
SELECT r.value ->> 0, ?1, r.value ->> 1, r.value ->> 2, r.value ->> 3,
       CASE WHEN r.value ->> 3 IS NULL THEN 'primary' ELSE 'secondary' END,
       r.value ->> 4, r.value ->> 4
FROM json_each(?2) AS r";

const INSERT_RECORDS: &str = "\
INSERT OR REPLACE INTO identity_customer (tenant_id, primary_id, version, created_at, last_row_at,
    emails, email_rows, phones, phone_rows, primary_has_email, primary_has_phone, secondary_ids,
    updated_at)
SELECT ?1, r.value ->> 0, 1, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4,
       r.value ->> 5, r.value ->> 6, r.value ->> 7, r.value ->> 8, r.value ->> 9, ?3
FROM json_each(?2) AS r";

const INSERT_IDENTIFIERS: &str = "\
INSERT OR REPLACE INTO identity_identifier (tenant_id, kind, value, customer_id)
SELECT ?1, r.value ->> 0, r.value ->> 1, r.value ->> 2 FROM json_each(?2) AS r";

// as the migration that added history records the rows it found
const RECORD_EVENTS: &str = "\
INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone, at)
SELECT tenant_id, coalesce(linked_id, id), 'existing', id, email, phone_number, created_at
FROM contact WHERE tenant_id = ?1 ORDER BY id";

/// Imports `checkouts` into `tenant` inside the caller's write transaction.
pub(super) async fn import(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    batch: ImportBatch,
    options: ImportOptions,
) -> Result<ImportReport> {
    let fail = |e| Error::store("importing contacts", e);
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM contact WHERE tenant_id = ?1")
        .bind(tenant.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(fail)?;
    if existing > 0 {
        return Err(refuse_not_empty(tenant, existing.unsigned_abs()));
    }
    let state = super::settings::state(&mut *tx, tenant).await?;
    let plan = plan(batch, &state, options)?;
    // under the write lock no other writer takes ids: the next ones are the rows', in order
    let next: i64 = sqlx::query_scalar(NEXT_ID)
        .fetch_one(&mut *tx)
        .await
        .map_err(fail)?;
    let (ids, highest) = match plan.kept_ids() {
        Some((ids, lowest, highest)) => {
            if i64::try_from(lowest).is_ok_and(|lowest| lowest < next) {
                return Err(refuse_taken_ids(lowest, next - 1));
            }
            (ids.to_vec(), i64::try_from(highest).ok())
        }
        None => {
            let ids = (0..plan.rows.len() as i64)
                .map(|k| ContactId::new(next + k))
                .collect();
            (ids, None)
        }
    };
    if options.dry_run {
        return Ok(plan.finish(&ids, false)?.1);
    }
    if let Some(highest) = highest {
        for statement in RESERVE_IDS {
            sqlx::query(statement)
                .bind(highest)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
        }
    }
    let (contacts, report) = plan.finish(&ids, !ids.is_empty())?;
    if contacts.is_empty() {
        return Ok(report);
    }
    let derived = derive_imported(&contacts, &state)?;
    for batch in contacts.chunks(BATCH) {
        let rows = batch.iter().map(row_json).collect::<Result<Vec<Value>>>()?;
        insert(tx, INSERT_ROWS, tenant, rows, None).await?;
    }
    sqlx::query(RECORD_EVENTS)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
    write_derived(tx, tenant, &derived).await?;
    Ok(report)
}

/// The customer records and identifiers of an import (it relinks nothing).
async fn write_derived(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    derived: &Derived,
) -> Result<()> {
    let now = text_time(time::OffsetDateTime::now_utc())?;
    for batch in derived.customers.chunks(BATCH) {
        let mut records = Vec::with_capacity(batch.len());
        for c in batch {
            let text = RecordText::of(c);
            records.push(json!([
                c.primary.get(),
                text_time(c.created_at)?,
                text_time(c.last_row_at)?,
                text.emails,
                text.email_rows,
                text.phones,
                text.phone_rows,
                c.primary_has_email,
                c.primary_has_phone,
                text.secondary_ids
            ]));
        }
        insert(tx, INSERT_RECORDS, tenant, records, Some(&now)).await?;
    }
    for batch in derived.identifiers().chunks(BATCH) {
        let identifiers = batch
            .iter()
            .map(|(kind, value, owner)| json!([kind.as_str(), value, owner.get()]))
            .collect();
        insert(tx, INSERT_IDENTIFIERS, tenant, identifiers, None).await?;
    }
    Ok(())
}

/// Runs one of the batch statements on `items` (`?2`, a JSON array) for `tenant` (`?1`).
async fn insert(
    tx: &mut SqliteConnection,
    statement: &'static str,
    tenant: &TenantId,
    items: Vec<Value>,
    now: Option<&str>,
) -> Result<()> {
    sqlx::query(statement)
        .bind(tenant.as_str())
        .bind(Value::Array(items).to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map(drop)
        .map_err(|e| Error::store("importing contacts", e))
}

/// A row as `[id, email, phone, linked id, created]`.
fn row_json(c: &Contact) -> Result<Value> {
    Ok(json!([
        c.id.get(),
        c.email.as_ref().map(Email::as_str),
        c.phone_number.as_ref().map(Phone::as_str),
        c.linked_id().map(ContactId::get),
        text_time(c.created_at)?
    ]))
}

/// A time as the store keeps it: RFC 3339 in UTC, as the driver writes times.
fn text_time(at: time::OffsetDateTime) -> Result<String> {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|_| Error::Internal {
            reason: "a time cannot be written as RFC 3339",
        })
}
