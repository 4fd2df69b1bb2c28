//! The PostgreSQL import: in the caller's transaction, holding the tenant's graph lock alone,
//! the planned rows loaded with one COPY under ids drawn from the contact sequence in time
//! order, an `existing` event per row, and the derived records built from the plan.

use std::fmt::Write as _;

use sqlx::PgConnection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::contact::{Contact, ContactId, Email, Phone};
use crate::error::Error;
use crate::import::{
    Checkout, ImportOptions, ImportReport, derive_imported, plan_import, refuse_not_empty,
};
use crate::tenant::TenantId;

use super::graph::{self, LOCK_GRAPH, Outcome};
use crate::derive::Derived;

const DRAW_IDS: &str = "\
SELECT nextval(pg_get_serial_sequence('contact', 'id')) FROM generate_series(1, $1::bigint)";

// COPY writes the ids it is given, as INSERT ... OVERRIDING SYSTEM VALUE would
const COPY_ROWS: &str = "\
COPY contact (id, tenant_id, email, phone_number, linked_id, link_precedence, created_at,
    updated_at) FROM STDIN (FORMAT csv)";

// as the migration that added history records the rows it found
const RECORD_EVENTS: &str = "\
INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone, at)
SELECT tenant_id, coalesce(linked_id, id), 'existing', id, email, phone_number, created_at
FROM contact WHERE tenant_id = $1 ORDER BY id";

const COPY_IDENTIFIERS: &str = "\
COPY identity_identifier (tenant_id, kind, value, customer_id) FROM STDIN (FORMAT csv)";

/// Bytes of CSV sent per COPY message.
const CHUNK: usize = 1 << 20;

/// Customer records per insert statement.
const RECORDS_PER_STATEMENT: usize = 5_000;

/// Imports `checkouts` into `tenant` inside the caller's transaction (which the caller commits
/// when the report says written).
pub(super) async fn import(
    tx: &mut PgConnection,
    tenant: &TenantId,
    checkouts: Vec<Checkout>,
    options: ImportOptions,
) -> Outcome<ImportReport> {
    // alone: the tenant's writes wait, and the triggers leave these rows to us
    sqlx::query(LOCK_GRAPH)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM contact WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Err(refuse_not_empty(tenant, existing.unsigned_abs()).into());
    }
    let state = super::settings::state(&mut *tx, tenant).await?;
    let plan = plan_import(checkouts, &state, options.on_error)?;
    let mut report = plan.report.clone();
    if options.dry_run || plan.rows.is_empty() {
        return Ok(report);
    }
    let mut ids: Vec<i64> = sqlx::query_scalar(DRAW_IDS)
        .bind(i64::try_from(plan.rows.len()).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
    ids.sort_unstable();
    let ids: Vec<ContactId> = ids.into_iter().map(ContactId::new).collect();
    let contacts = plan.into_contacts(&ids)?;
    let derived = derive_imported(&contacts, &state)?;
    copy_rows(tx, tenant, &contacts).await?;
    sqlx::query(RECORD_EVENTS)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    // the derivation relinks nothing (derive_imported checked): records, then identifiers
    for batch in derived.customers.chunks(RECORDS_PER_STATEMENT) {
        graph::insert_records(tx, tenant, batch).await?;
    }
    copy_identifiers(tx, tenant, &derived).await?;
    report.ids = ids.first().zip(ids.last()).map(|(a, b)| (*a, *b));
    report.written = true;
    Ok(report)
}

/// Streams `rows` into `contact` with one COPY.
async fn copy_rows(tx: &mut PgConnection, tenant: &TenantId, rows: &[Contact]) -> Outcome<()> {
    copy_lines(tx, COPY_ROWS, rows, |buf, row| csv_row(buf, tenant, row)).await
}

/// Streams the identifiers `derived` defines into `identity_identifier` with one COPY.
async fn copy_identifiers(
    tx: &mut PgConnection,
    tenant: &TenantId,
    derived: &Derived,
) -> Outcome<()> {
    let identifiers = derived.identifiers();
    copy_lines(
        tx,
        COPY_IDENTIFIERS,
        &identifiers,
        |buf, (kind, value, owner)| {
            quoted(buf, Some(tenant.as_str()));
            let _ = write!(buf, ",{},", kind.as_str());
            quoted(buf, Some(value));
            let _ = writeln!(buf, ",{}", owner.get());
            Ok(())
        },
    )
    .await
}

/// Runs the COPY `statement`, writing each item's CSV line with `line`.
async fn copy_lines<T>(
    tx: &mut PgConnection,
    statement: &'static str,
    items: &[T],
    line: impl Fn(&mut String, &T) -> Outcome<()>,
) -> Outcome<()> {
    let mut copy = tx.copy_in_raw(statement).await?;
    let mut buf = String::with_capacity(CHUNK + 1024);
    for item in items {
        if let Err(e) = line(&mut buf, item) {
            let _ = copy.abort("import failed").await;
            return Err(e);
        }
        if buf.len() >= CHUNK {
            if let Err(e) = copy.send(buf.as_bytes()).await {
                let _ = copy.abort("import failed").await;
                return Err(e.into());
            }
            buf.clear();
        }
    }
    if !buf.is_empty()
        && let Err(e) = copy.send(buf.as_bytes()).await
    {
        let _ = copy.abort("import failed").await;
        return Err(e.into());
    }
    copy.finish().await?;
    Ok(())
}

/// One row in COPY's CSV: every text quoted, NULL as an empty unquoted field.
fn csv_row(buf: &mut String, tenant: &TenantId, row: &Contact) -> Outcome<()> {
    let at = timestamp(row.created_at)?;
    let linked = row.linked_id().map(ContactId::get);
    let _ = write!(buf, "{},", row.id.get());
    quoted(buf, Some(tenant.as_str()));
    buf.push(',');
    quoted(buf, row.email.as_ref().map(Email::as_str));
    buf.push(',');
    quoted(buf, row.phone_number.as_ref().map(Phone::as_str));
    let precedence = row.link.precedence();
    match linked {
        Some(id) => {
            let _ = write!(buf, ",{id},{precedence},{at},{at}");
        }
        None => {
            let _ = write!(buf, ",,{precedence},{at},{at}");
        }
    }
    buf.push('\n');
    Ok(())
}

fn quoted(buf: &mut String, value: Option<&str>) {
    if let Some(v) = value {
        buf.push('"');
        for c in v.chars() {
            if c == '"' {
                buf.push('"');
            }
            buf.push(c);
        }
        buf.push('"');
    }
}

fn timestamp(at: OffsetDateTime) -> Outcome<String> {
    at.format(&Rfc3339).map_err(|_| {
        Error::invalid(
            crate::error::Field::Checkouts,
            "a checkout time cannot be written as RFC 3339",
        )
        .into()
    })
}
