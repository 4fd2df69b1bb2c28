//! The SQLite import: planned outside the write lock and begun in a write transaction by the
//! operations of `operations.rs` (the tenant still empty and under the settings it was planned
//! with, the ids reserved: the next ones in time order, or a table's own with the id counter set
//! past its highest: [`loader`]), then loaded ([`Loader`]): the rows (primaries first, as secondaries link to
//! them), an `existing` event per row, and the derived records, in statements of a few thousand
//! rows (one JSON array each), all in that transaction for a small import, in steps of their
//! own for a large one (`jobs.rs`). [`undo`] takes a tenant's half-loaded import away.

use serde_json::{Value, json};
use sqlx::SqliteConnection;
use time::format_description::well_known::Rfc3339;

use crate::contact::{Contact, ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::error::{Error, Result};
use crate::identifier::IdentifierKind;
use crate::import::derive_imported;
use crate::screen::TenantState;
use crate::store::RecordText;
use crate::tenant::TenantId;

use super::counters::NEXT_BASE;
use super::feed::feed_head;

/// Rows per statement.
const BATCH: usize = 5_000;

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

/// The records of a batch, under the base number drawn for it ([`NEXT_BASE`]): a base number
/// names one content of a customer's record for as long as the database lives, so that what a
/// process holds under it stays true (`bases.rs`), even when a tenant emptied is imported again.
const INSERT_RECORDS: &str = "\
INSERT OR REPLACE INTO identity_customer (tenant_id, primary_id, version, created_at, last_row_at,
    emails, email_rows, phones, phone_rows, primary_has_email, primary_has_phone, secondary_ids,
    updated_at, base_seq)
SELECT ?1, r.value ->> 0, 1, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4,
       r.value ->> 5, r.value ->> 6, r.value ->> 7, r.value ->> 8, r.value ->> 9, ?3,
       (SELECT n FROM identity_base_seq)
FROM json_each(?2) AS r";

const INSERT_IDENTIFIERS: &str = "\
INSERT OR REPLACE INTO identity_identifier (tenant_id, kind, value, customer_id)
SELECT ?1, r.value ->> 0, r.value ->> 1, r.value ->> 2 FROM json_each(?2) AS r";

// each imported row recorded once as `existing`: the tenant's rows with ids from `?2` to `?3`
// (a range of the rowid: `id IN (json_each(...))` scanned the tenant's rows once per step)
// numbered on from the tenant's feed in the rows' order
const RECORD_EVENTS: &str = concat!(
    "INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone, at, \
     position) \
     SELECT tenant_id, coalesce(linked_id, id), 'existing', id, email, phone_number, created_at, \
            h.head + row_number() OVER (ORDER BY id) \
     FROM contact, (SELECT ",
    feed_head!(),
    " AS head) AS h \
     WHERE id BETWEEN ?2 AND ?3 AND tenant_id = ?1 ORDER BY id"
);

/// Takes a half-loaded import away, at most `?2` rows of a table at a time: the tables in
/// this order (secondaries before the primaries they link to).
const UNDO: [&str; 5] = [
    "DELETE FROM identity_identifier WHERE (tenant_id, kind, value) IN \
     (SELECT tenant_id, kind, value FROM identity_identifier WHERE tenant_id = ?1 LIMIT ?2)",
    "DELETE FROM identity_customer WHERE rowid IN \
     (SELECT rowid FROM identity_customer WHERE tenant_id = ?1 LIMIT ?2)",
    "DELETE FROM identity_event WHERE rowid IN \
     (SELECT rowid FROM identity_event WHERE tenant_id = ?1 LIMIT ?2)",
    "DELETE FROM contact WHERE rowid IN \
     (SELECT rowid FROM contact WHERE tenant_id = ?1 AND linked_id IS NOT NULL LIMIT ?2)",
    "DELETE FROM contact WHERE rowid IN (SELECT rowid FROM contact WHERE tenant_id = ?1 LIMIT ?2)",
];

fn failed(e: sqlx::Error) -> Error {
    Error::store("importing contacts", e)
}

/// The rows of a begun import to load, with a table's own ids reserved first: the sequence
/// continues above the table's highest (the rows were planned under `state`).
pub(super) async fn loader(
    tx: &mut SqliteConnection,
    rows: Vec<Contact>,
    kept: Option<(u64, u64)>,
    state: &TenantState,
) -> Result<Loader> {
    if let Some((_, highest)) = kept {
        reserve(tx, i64::try_from(highest).unwrap_or(i64::MAX)).await?;
    }
    Loader::new(rows, state)
}

/// Moves the contact sequence to `highest` unless it is past it already.
pub(super) async fn reserve(tx: &mut SqliteConnection, highest: i64) -> Result<()> {
    for statement in RESERVE_IDS {
        sqlx::query(statement)
            .bind(highest)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    Ok(())
}

/// Takes a half-loaded import of `tenant` away, at most `budget` rows of a table in this
/// transaction; whether nothing is left.
pub(super) async fn undo(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    budget: usize,
) -> Result<bool> {
    for statement in UNDO {
        let gone = sqlx::query(statement)
            .bind(tenant.as_str())
            .bind(i64::try_from(budget).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(failed)?
            .rows_affected();
        if gone > 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// What an import writes, and how far it got: rows (primaries first), events (by id), records,
/// identifiers.
pub(super) struct Loader {
    rows: Vec<Contact>,
    event_ids: Vec<i64>,
    records: Vec<CustomerRecord>,
    identifiers: Vec<(IdentifierKind, String, ContactId)>,
    now: String,
    phase: u8,
    offset: usize,
}

impl Loader {
    fn new(mut rows: Vec<Contact>, state: &TenantState) -> Result<Self> {
        let derived = derive_imported(&rows, state)?;
        let identifiers = derived
            .identifiers()
            .into_iter()
            .map(|(kind, value, owner)| (kind, value.to_owned(), owner))
            .collect();
        let mut event_ids: Vec<i64> = rows.iter().map(|c| c.id.get()).collect();
        event_ids.sort_unstable();
        // a secondary links to its primary, which must be there first
        rows.sort_by_key(|c| (!c.is_primary(), c.id));
        Ok(Loader {
            rows,
            event_ids,
            records: derived.customers,
            identifiers,
            now: text_time(time::OffsetDateTime::now_utc())?,
            phase: 0,
            offset: 0,
        })
    }

    /// Rows, events, records and identifiers to write: what decides whether the import runs in
    /// steps.
    pub(super) fn size(&self) -> usize {
        self.rows.len() + self.event_ids.len() + self.records.len() + self.identifiers.len()
    }

    /// Items written so far (of [`Loader::size`]).
    pub(super) fn done(&self) -> usize {
        let lens = [
            self.rows.len(),
            self.event_ids.len(),
            self.records.len(),
            self.identifiers.len(),
        ];
        let finished: usize = lens.iter().take(usize::from(self.phase)).sum();
        (finished + self.offset).min(self.size())
    }

    /// Whether everything is written.
    pub(super) fn is_done(&self) -> bool {
        self.phase >= 4
    }

    /// Writes up to `budget` items in the caller's write transaction (`usize::MAX`: all).
    pub(super) async fn work(
        &mut self,
        tx: &mut SqliteConnection,
        tenant: &TenantId,
        budget: usize,
    ) -> Result<()> {
        let mut left = budget;
        while left > 0 && !self.is_done() {
            let len = match self.phase {
                0 => self.rows.len(),
                1 => self.event_ids.len(),
                2 => self.records.len(),
                _ => self.identifiers.len(),
            };
            let end = self.offset.saturating_add(left.min(BATCH)).min(len);
            let (from, to) = (self.offset, end);
            if to > from {
                match self.phase {
                    0 => {
                        let rows = self.rows[from..to]
                            .iter()
                            .map(row_json)
                            .collect::<Result<Vec<Value>>>()?;
                        insert(tx, INSERT_ROWS, tenant, rows, None).await?;
                    }
                    1 => {
                        // the tenant's only rows: the range holds exactly these
                        sqlx::query(RECORD_EVENTS)
                            .bind(tenant.as_str())
                            .bind(self.event_ids[from])
                            .bind(self.event_ids[to - 1])
                            .execute(&mut *tx)
                            .await
                            .map_err(failed)?;
                    }
                    2 => {
                        let records = self.records[from..to]
                            .iter()
                            .map(record_json)
                            .collect::<Result<Vec<Value>>>()?;
                        sqlx::query(NEXT_BASE)
                            .execute(&mut *tx)
                            .await
                            .map_err(failed)?;
                        insert(tx, INSERT_RECORDS, tenant, records, Some(&self.now)).await?;
                    }
                    _ => {
                        let identifiers = self.identifiers[from..to]
                            .iter()
                            .map(|(kind, value, owner)| json!([kind.as_str(), value, owner.get()]))
                            .collect();
                        insert(tx, INSERT_IDENTIFIERS, tenant, identifiers, None).await?;
                    }
                }
            }
            left -= (to - from).max(1).min(left);
            self.offset = end;
            if end >= len {
                self.phase += 1;
                self.offset = 0;
            }
        }
        Ok(())
    }
}

/// A record as `[primary, created, last row, emails, email rows, phones, phone rows, primary
/// has email, primary has phone, secondaries]`.
fn record_json(c: &CustomerRecord) -> Result<Value> {
    let text = RecordText::of(c);
    Ok(json!([
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
    ]))
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
