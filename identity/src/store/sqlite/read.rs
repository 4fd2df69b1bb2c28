//! Reading a request's customers on SQLite: which customers hold its email and phone (from
//! `identity_identifier`), each one's record, and what else the planner must know of the
//! tenant (changes made outside the library waiting, a long write running, its settings), in
//! one statement. A record comes from the decoded bases the store holds (`bases.rs`) whenever
//! its base is held: then the read fetches only the tail entries (`tails.rs`) past the version
//! held, none when it is current, so a long tail costs a read nothing.

use std::sync::Arc;

use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, SqliteConnection};
use time::OffsetDateTime;

use crate::contact::{ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::error::{Error, Result};
use crate::plan::Matched;
use crate::request::IdentifyRequest;
use crate::store::RecordText;
use crate::tenant::TenantId;

use super::bases::Held;
use super::records::Scalars;
use super::script::Script;
use super::tails::{self, tail_top_of_c};

/// The customers of tenant `?3` holding `?1` (email) and `?2` (phone), one row each with the
/// kinds it holds, its record's columns but the lists and the version of its newest tail
/// entry; a row `pending` when changes made outside the library wait to be applied to the
/// tenant's records, a row `job` while a long write of the tenant runs in steps (`jobs.rs`),
/// and a row `settings` with the tenant's blocked-list version (second column) and phone region
/// (eighth column) when it has settings.
const READ: &str = concat!(
    "WITH hit AS (
    SELECT kind, customer_id FROM identity_identifier
    WHERE tenant_id = ?3 AND kind = 'email' AND value = ?1
    UNION ALL
    SELECT kind, customer_id FROM identity_identifier
    WHERE tenant_id = ?3 AND kind = 'phone' AND value = ?2
)
SELECT group_concat(hit.kind), hit.customer_id, c.version, c.created_at, c.last_row_at,
       c.primary_has_email, c.primary_has_phone, NULL, ",
    tail_top_of_c!(),
    ", c.base_seq
FROM hit LEFT JOIN identity_customer AS c
    ON c.tenant_id = ?3 AND c.primary_id = hit.customer_id
GROUP BY hit.customer_id
UNION ALL
SELECT 'pending', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
WHERE EXISTS (SELECT 1 FROM identity_pending WHERE tenant_id = ?3)
UNION ALL
SELECT 'job', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
WHERE EXISTS (SELECT 1 FROM identity_tenant_job WHERE tenant_id = ?3)
UNION ALL
SELECT 'settings', blocked_version, NULL, NULL, NULL, NULL, NULL, phone_region, NULL, NULL
FROM identity_tenant_settings WHERE tenant_id = ?3"
);

/// A row of [`READ`]: (kinds, customer or blocked-list version, version, created, last row,
/// primary has email, primary has phone, phone region, newest tail version, base number).
type ReadRow = (
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<bool>,
    Option<bool>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The lists of base `?3` of customer `?2` in tenant `?1`, with its tail entries up to version
/// `?4` (no row once the base was rewritten).
const READ_BASE: &str = "\
SELECT emails, email_rows, phones, phone_rows, secondary_ids,
       (SELECT json_group_array(json_array(t.seq, t.version, t.last_row_at, t.secondary_id,
                                           t.email, t.phone, t.absorbed))
        FROM identity_customer_tail AS t
        WHERE t.tenant_id = ?1 AND t.primary_id = ?2 AND t.version <= ?4)
FROM identity_customer
WHERE tenant_id = ?1 AND primary_id = ?2 AND base_seq = ?3";

/// This module's statements that reach one request's or customer's rows by their keys, whose
/// plans `plans_tests.rs` checks (a statement added here that does so belongs in the list).
#[cfg(test)]
pub(super) const BY_KEY: &[(&str, &str)] = &[("READ", READ), ("READ_BASE", READ_BASE)];

/// What a read found.
pub(crate) struct Read {
    pub matched: Matched,
    pub pending: bool,
    /// A long write of the tenant runs in steps: what was read may be half of it.
    pub job: bool,
    /// The tenant's phone region as stored.
    pub region: Option<String>,
    /// The version of the tenant's blocked list as stored.
    pub blocked_version: i64,
}

/// Reads the request's customers in `tenant` on `conn`, from the records `held` holds when they
/// are current. Outside a write transaction what it decodes is held for the next reads; inside
/// one not, since its view (base numbers drawn in it included) may yet be rolled back.
pub(crate) async fn read(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    request: &IdentifyRequest,
    held: Held<'_>,
) -> Result<Read> {
    // outside a write transaction a base the read named may be rewritten before its lists are
    // fetched: then read again
    for _ in 0..MAX_BASE_READS {
        if let Some(read) = read_once(conn, tenant, request, held).await? {
            return Ok(read);
        }
    }
    Err(Error::Contention {
        attempts: MAX_BASE_READS,
    })
}

/// Reads in a row whose bases all moved on before the read could fetch them.
const MAX_BASE_READS: u32 = 16;

/// One read: `None` when a base it named was rewritten meanwhile.
async fn read_once(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    request: &IdentifyRequest,
    held: Held<'_>,
) -> Result<Option<Read>> {
    let rows: Vec<ReadRow> = sqlx::query_as(READ)
        .bind(request.email().map(Email::as_str))
        .bind(request.phone_number().map(Phone::as_str))
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::store("reading customers", e))?;
    found(conn, tenant, rows, held).await
}

/// Adds to `script` the read of the request's customers in `tenant` ([`READ`]), so that a
/// write's script carries the read of the write after it: SQLite runs a script's statements
/// in order, so the read sees everything before it, and its rows follow the script's own.
pub(super) fn push(script: &mut Script, tenant: &TenantId, request: &IdentifyRequest) {
    script.push(READ, |v| {
        v.add(request.email().map(Email::as_str))
            .add(request.phone_number().map(Phone::as_str))
            .add(tenant.as_str());
    });
}

/// What the read [`push`] added to a script found, from its `rows` (the bases they name
/// fetched on `conn` when `held` lacks them); `None` when a base it named was rewritten since.
pub(super) async fn carried(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    rows: &[SqliteRow],
    held: Held<'_>,
) -> Result<Option<Read>> {
    let rows = rows
        .iter()
        .map(ReadRow::from_row)
        .collect::<sqlx::Result<Vec<ReadRow>>>()
        .map_err(|e| Error::store("reading customers", e))?;
    found(conn, tenant, rows, held).await
}

/// What a read's `rows` say, with each customer's record.
async fn found(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    rows: Vec<ReadRow>,
    held: Held<'_>,
) -> Result<Option<Read>> {
    let (mut email_owner, mut phone_owner, mut pending, mut job) = (None, None, false, false);
    let (mut records, mut region, mut blocked_version) = (Vec::new(), None, 0);
    for row in rows {
        let kinds = row.0.clone().unwrap_or_default();
        if kinds == "pending" {
            pending = true;
            continue;
        }
        if kinds == "job" {
            job = true;
            continue;
        }
        if kinds == "settings" {
            blocked_version = row.1.unwrap_or(0);
            region = row.7;
            continue;
        }
        let Some(owner) = row.1.map(ContactId::new) else {
            continue;
        };
        if kinds.contains("email") {
            email_owner = Some(owner);
        }
        if kinds.contains("phone") {
            phone_owner = Some(owner);
        }
        match with_base(conn, tenant, row, held).await? {
            Based::Record(record) => records.push(record),
            Based::NoRecord => {}
            Based::Moved => return Ok(None),
        }
    }
    Ok(Some(Read {
        matched: Matched::new(email_owner, phone_owner, records)?,
        pending,
        job,
        region,
        blocked_version,
    }))
}

/// A read row's record, from its base (held, or fetched by number) and its tail.
enum Based {
    Record(CustomerRecord),
    NoRecord,
    /// The base was rewritten since the row was read.
    Moved,
}

async fn with_base(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    row: ReadRow,
    held: Held<'_>,
) -> Result<Based> {
    let (_, Some(primary), Some(version), Some(created_at), Some(last_row_at), ..) = row else {
        return Ok(Based::NoRecord);
    };
    let scalars = Scalars {
        primary: ContactId::new(primary),
        version,
        created_at,
        last_row_at,
        primary_has_email: row.5.unwrap_or(false),
        primary_has_phone: row.6.unwrap_or(false),
    };
    let (primary, seq) = (scalars.primary, row.9.unwrap_or(0));
    // the version as read: the newest tail entry's, else the base's
    let top = row.8.unwrap_or(version);
    let fail = |e| Error::store("reading customers", e);
    // the record as last read with this base (a bare base has no tail entry applied)
    let (mut record, fetched) = match held.get(primary, seq) {
        Some(base) => (CustomerRecord::clone(&base), false),
        None => {
            let lists: Option<(String, String, String, String, String, String)> =
                sqlx::query_as(READ_BASE)
                    .bind(tenant.as_str())
                    .bind(primary.get())
                    .bind(seq)
                    .bind(top)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(fail)?;
            let Some((emails, email_rows, phones, phone_rows, secondary_ids, tail)) = lists else {
                return Ok(Based::Moved);
            };
            let text = RecordText {
                emails,
                email_rows,
                phones,
                phone_rows,
                secondary_ids,
            };
            let mut record = scalars.base(text)?;
            tails::apply(&mut record, Some(&tail))?;
            (record, true)
        }
    };
    let mut applied = 0;
    if record.version < top {
        // the tail entries past what is held, and only those
        let tail = tails::past(conn, tenant, seq, version, &record, top).await?;
        applied = tails::apply(&mut record, tail.as_deref())?;
    }
    if record.version < top {
        return Ok(Based::Moved); // its tail was folded into a new base meanwhile
    }
    if let Some(bases) = held.keeping()
        && (fetched || applied > 0)
    {
        bases.put(seq, Arc::new(record.clone()));
    }
    Ok(Based::Record(record))
}
