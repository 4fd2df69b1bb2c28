//! The PostgreSQL import, begun by the operations of `operations.rs` (which give the planned rows
//! their ids) in the caller's transaction, holding the tenant's graph lock alone: the rows loaded
//! with one COPY under ids drawn from the contact sequence in time
//! order (or a table's own ids), an `existing` event per row, and the derived records built
//! from the plan's links one customer at a time and loaded with COPY too.
//!
//! A table's own ids must be above every id the sequence gave out, and the sequence must
//! continue above the table's highest. Just before the caller commits, the import takes the
//! sequence's lock (`ALTER SEQUENCE`, which every `nextval` waits for until the commit),
//! checks again that no id as high as the table's lowest was given out meanwhile, and restarts
//! the sequence above the table's highest (transactional: a rolled-back import leaves the
//! sequence as it was). Other tenants' new rows wait only for that commit.
//!
//! On Citus the sequence is distributed and cannot be altered. Each worker draws from a range
//! of its own (2^48 ids per node group, the first from 2^48 + 1), the coordinator, where an
//! import draws its rows' ids, from 1. There an import holds the coordinator's id lock for its
//! transaction (exclusive when it keeps a table's ids, shared when it draws), checks the same
//! way, refuses a table whose ids reach the workers' ranges, and moves the coordinator's
//! sequence above the table's highest with `setval` (not transactional: a rolled-back import
//! leaves a gap in the ids, never a reused one).
//!
//! An imported record's version is minus its primary's id. Versions name one state of one
//! record and are never reused: records written online take theirs from
//! `identity_version_seq` (positive), and each primary is imported once (contact ids are never
//! reused either), so drawing a version per record from the sequence, which cost as much as
//! the whole records load, is not needed. The record's next write takes a sequence value.

use std::fmt::Write as _;

use sqlx::PgConnection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::contact::{Contact, ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::error::Error;
use crate::import::{ImportedCustomers, refuse_taken_ids, refuse_worker_ids};
use crate::tenant::TenantId;

use crate::store::Outcome;

// one array, not a row per id (decoding millions of rows cost more than drawing the values);
// the sequence looked up once (OFFSET 0 keeps the subquery apart), not once per id
const DRAW_IDS: &str = "\
SELECT array_agg(nextval(s.seq))
FROM (SELECT pg_get_serial_sequence('contact', 'id')::regclass AS seq OFFSET 0) AS s,
     generate_series(1, $1::bigint)";

const SEQUENCE: &str = "SELECT pg_get_serial_sequence('contact', 'id')";

/// On Citus, the lock on the ids the coordinator draws: exclusive for an import that keeps a
/// table's ids, shared for one that draws (see the module docs).
const HOLD_IDS: &str = "SELECT pg_advisory_xact_lock(hashtextextended('identity:import-ids', 0))";
const SHARE_IDS: &str =
    "SELECT pg_advisory_xact_lock_shared(hashtextextended('identity:import-ids', 0))";

/// On Citus, the first id a worker draws: each node group has 2^48 ids, the coordinator's
/// group (0) the first.
const WORKER_IDS_FROM: u64 = 1 << 48;

// COPY writes the ids it is given, as INSERT ... OVERRIDING SYSTEM VALUE would
const COPY_ROWS: &str = "\
COPY contact (id, tenant_id, email, phone_number, linked_id, link_precedence, created_at,
    updated_at) FROM STDIN (FORMAT csv)";

// each imported row recorded once as `existing`
// numbered on from the tenant's feed in the rows' order (the head read once: the import holds
// the tenant's graph lock, so no other writer of the tenant numbers meanwhile)
const RECORD_EVENTS: &str = "\
INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone, at, position)
SELECT c.tenant_id, coalesce(c.linked_id, c.id), 'existing', c.id, c.email, c.phone_number,
       c.created_at, h.head + row_number() OVER (ORDER BY c.id)
FROM contact AS c, (SELECT identity_feed_head($1) AS head OFFSET 0) AS h
WHERE c.tenant_id = $1 ORDER BY c.id";

const COPY_RECORDS: &str = "\
COPY identity_customer (tenant_id, primary_id, version, base_version, created_at, last_row_at,
    emails, email_rows, phones, phone_rows, primary_has_email, primary_has_phone, secondary_ids)
FROM STDIN (FORMAT csv)";

const COPY_IDENTIFIERS: &str = "\
COPY identity_identifier (tenant_id, kind, value, customer_id) FROM STDIN (FORMAT csv)";

/// Bytes of CSV sent per COPY message.
const CHUNK: usize = 1 << 20;

/// On Citus, takes the coordinator's id lock for the caller's transaction, before the import
/// reads which ids were given out: alone when it keeps a table's own ids (the highest
/// `kept_highest`, refused when a worker could draw it), shared when it draws them (see the
/// module docs).
pub(super) async fn hold_ids_on_citus(
    tx: &mut PgConnection,
    kept_highest: Option<u64>,
) -> Outcome<()> {
    let lock = match kept_highest {
        Some(highest) if highest >= WORKER_IDS_FROM => {
            return Err(refuse_worker_ids(highest, WORKER_IDS_FROM).into());
        }
        Some(_) => HOLD_IDS,
        None => SHARE_IDS,
    };
    sqlx::query(lock).execute(&mut *tx).await?;
    Ok(())
}

/// Loads a begun import's `rows` in the caller's transaction, which holds the tenant's graph
/// lock alone, and for a table's own ids (`kept`: lowest, highest) moves the contact sequence
/// above them, last (see the module docs; `citus`: the way a Citus cluster needs).
pub(super) async fn load(
    tx: &mut PgConnection,
    tenant: &TenantId,
    rows: &[Contact],
    kept: Option<(u64, u64)>,
    citus: bool,
) -> Outcome<()> {
    if !rows.is_empty() {
        write(tx, tenant, rows).await?;
    }
    if let Some((lowest, highest)) = kept {
        let sequence: String = sqlx::query_scalar(SEQUENCE).fetch_one(&mut *tx).await?;
        if citus {
            // the coordinator's id lock, held since the import began, keeps other imports off
            move_above(tx, &sequence, highest).await?;
        } else {
            // last: the lock every nextval waits for is held from here to the commit
            reserve(tx, &sequence, lowest, highest).await?;
        }
    }
    Ok(())
}

/// On Citus: moves the coordinator's contact sequence `sequence` above `highest` (when it is
/// not there already).
async fn move_above(tx: &mut PgConnection, sequence: &str, highest: u64) -> Outcome<()> {
    let given = given_out(tx, sequence).await?;
    let highest = i64::try_from(highest).unwrap_or(i64::MAX - 1);
    if highest > given {
        sqlx::query("SELECT setval($1::regclass, $2)")
            .bind(sequence)
            .bind(highest)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The highest contact id the sequence gave out (0 when none).
pub(super) async fn ids_given_out(tx: &mut PgConnection) -> Outcome<i64> {
    let sequence: String = sqlx::query_scalar(SEQUENCE).fetch_one(&mut *tx).await?;
    given_out(tx, &sequence).await
}

/// Draws `n` ids from the contact sequence, ascending.
pub(super) async fn draw_ids(tx: &mut PgConnection, n: usize) -> Outcome<Vec<ContactId>> {
    let drawn: Option<Vec<i64>> = sqlx::query_scalar(DRAW_IDS)
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .fetch_one(&mut *tx)
        .await?;
    let mut ids = drawn.unwrap_or_default();
    ids.sort_unstable();
    Ok(ids.into_iter().map(ContactId::new).collect())
}

/// Loads the rows, their events, records and identifiers.
async fn write(tx: &mut PgConnection, tenant: &TenantId, contacts: &[Contact]) -> Outcome<()> {
    let customers = ImportedCustomers::of(contacts)?;
    copy_rows(tx, tenant, contacts).await?;
    sqlx::query(RECORD_EVENTS)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    let identifiers = copy_records(tx, tenant, contacts, &customers).await?;
    copy_text(tx, COPY_IDENTIFIERS, &identifiers).await
}

/// The highest id the contact sequence `sequence` gave out (0 when none).
async fn given_out(tx: &mut PgConnection, sequence: &str) -> Outcome<i64> {
    // the name comes from the catalog (pg_get_serial_sequence quotes it)
    let read = format!(
        "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {sequence}"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(read))
        .fetch_one(&mut *tx)
        .await?)
}

/// Locks the contact sequence until the commit, checks that it gave out no id as high as
/// `lowest`, and restarts it above `highest` (see the module docs).
async fn reserve(tx: &mut PgConnection, sequence: &str, lowest: u64, highest: u64) -> Outcome<()> {
    // a change that changes nothing: it takes the lock every nextval waits for
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER SEQUENCE {sequence} INCREMENT BY 1"
    )))
    .execute(&mut *tx)
    .await?;
    let given = given_out(tx, sequence).await?;
    if i64::try_from(lowest).is_ok_and(|lowest| lowest <= given) {
        return Err(refuse_taken_ids(lowest, given).into());
    }
    let next = i64::try_from(highest).unwrap_or(i64::MAX - 1) + 1;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER SEQUENCE {sequence} RESTART WITH {next}"
    )))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Streams `rows` into `contact` with one COPY.
async fn copy_rows(tx: &mut PgConnection, tenant: &TenantId, rows: &[Contact]) -> Outcome<()> {
    copy_lines(tx, COPY_ROWS, rows, |buf, row| csv_row(buf, tenant, row)).await
}

/// Streams every customer's record into `identity_customer` with one COPY, building one record
/// at a time; answers the CSV of their identifiers (each value of a record, naming its
/// customer), for the next COPY.
async fn copy_records(
    tx: &mut PgConnection,
    tenant: &TenantId,
    rows: &[Contact],
    customers: &ImportedCustomers,
) -> Outcome<String> {
    let mut identifiers = String::new();
    copy_lines(tx, COPY_RECORDS, 0..customers.len(), |buf, c| {
        let record = customers.record(rows, c);
        csv_record(buf, tenant, &record)?;
        let owner = record.primary.get();
        let values = (record.emails.iter().map(|e| ("email", e.as_str())))
            .chain(record.phone_numbers.iter().map(|p| ("phone", p.as_str())));
        for (kind, value) in values {
            quoted(&mut identifiers, Some(tenant.as_str()));
            let _ = write!(identifiers, ",{kind},");
            quoted(&mut identifiers, Some(value));
            let _ = writeln!(identifiers, ",{owner}");
        }
        Ok(())
    })
    .await?;
    Ok(identifiers)
}

/// Sends CSV text already written to the COPY `statement`, in chunks of whole lines.
async fn copy_text(tx: &mut PgConnection, statement: &'static str, text: &str) -> Outcome<()> {
    let mut copy = tx.copy_in_raw(statement).await?;
    let mut rest = text;
    while !rest.is_empty() {
        let cut = if rest.len() <= CHUNK {
            rest.len()
        } else {
            rest[CHUNK..]
                .find('\n')
                .map_or(rest.len(), |n| CHUNK + n + 1)
        };
        if let Err(e) = copy.send(&rest.as_bytes()[..cut]).await {
            let _ = copy.abort("import failed").await;
            return Err(e.into());
        }
        rest = &rest[cut..];
    }
    copy.finish().await?;
    Ok(())
}

/// Runs the COPY `statement`, writing each item's CSV line with `line`, a chunk at a time.
async fn copy_lines<T>(
    tx: &mut PgConnection,
    statement: &'static str,
    items: impl IntoIterator<Item = T>,
    mut line: impl FnMut(&mut String, T) -> Outcome<()>,
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

/// One customer record in COPY's CSV: its lists as array literals, its version minus its
/// primary's id (see the module docs).
fn csv_record(buf: &mut String, tenant: &TenantId, r: &CustomerRecord) -> Outcome<()> {
    let primary = r.primary.get();
    quoted(buf, Some(tenant.as_str()));
    let _ = write!(
        buf,
        ",{primary},{v},{v},{},{},",
        timestamp(r.created_at)?,
        timestamp(r.last_row_at)?,
        v = -primary
    );
    text_array(buf, r.emails.iter().map(Email::as_str));
    buf.push(',');
    id_array(buf, r.email_rows.iter().copied());
    buf.push(',');
    text_array(buf, r.phone_numbers.iter().map(Phone::as_str));
    buf.push(',');
    id_array(buf, r.phone_rows.iter().copied());
    let flag = |b: bool| if b { 't' } else { 'f' };
    let _ = write!(
        buf,
        ",{},{},",
        flag(r.primary_has_email),
        flag(r.primary_has_phone)
    );
    id_array(buf, r.secondary_ids.iter().copied());
    buf.push('\n');
    Ok(())
}

/// A `text[]` literal as one CSV field: `"{""a@x.io"",""b@x.io""}"` (each element quoted and
/// escaped for the array, then the field quoted for CSV).
fn text_array<'a>(buf: &mut String, values: impl Iterator<Item = &'a str>) {
    buf.push_str("\"{");
    for (i, value) in values.enumerate() {
        if i > 0 {
            buf.push(',');
        }
        buf.push_str("\"\"");
        for c in value.chars() {
            match c {
                '"' => buf.push_str("\\\"\""),
                '\\' => buf.push_str("\\\\"),
                c => buf.push(c),
            }
        }
        buf.push_str("\"\"");
    }
    buf.push_str("}\"");
}

/// A `bigint[]` literal as one CSV field: `"{1,2}"`.
fn id_array(buf: &mut String, ids: impl Iterator<Item = ContactId>) {
    buf.push_str("\"{");
    for (i, id) in ids.enumerate() {
        if i > 0 {
            buf.push(',');
        }
        let _ = write!(buf, "{}", id.get());
    }
    buf.push_str("}\"");
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
