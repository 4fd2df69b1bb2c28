//! Record tails (`migrations/sqlite/*_baseline.sql`): a row added to a customer appends one small
//! row to `identity_customer_tail` instead of rewriting the customer's record, whose lists grow
//! with the customer; once the tail is [`fold_at`] entries long (32, or a quarter of the
//! customer's rows for a customer of more than 128) an addition writes the record whole again
//! (its new base) and clears the tail. So adding a row costs about the same at 1 row or 10,000
//! (a large customer's rewrites come every quarter of its size: about four list entries written
//! per row added), and reading a record is its base with its tail applied. A read fetches only
//! the entries past the record it holds (`read.rs`, [`past`]), so a long tail costs a read
//! nothing once it holds the record.
//!
//! Within a base the tail's entries are numbered from 1 (`seq`) and carry the record's versions
//! after the base's, one by one: entry `k` is version `base + k`.

use sqlx::Row;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use crate::contact::{ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::error::{Error, Result};
use crate::store::RecordText;
use crate::tenant::TenantId;

use super::script::Script;

/// The shortest tail at which an addition writes the record whole instead.
pub(super) const FOLD_AT: i64 = 32;

/// The tail length at which an addition to `record` writes it whole instead: [`FOLD_AT`], or a
/// quarter of its rows, whichever is more.
pub(super) fn fold_at(record: &CustomerRecord) -> i64 {
    let rows = i64::try_from(record.secondary_ids.len() + 1).unwrap_or(i64::MAX);
    FOLD_AT.max(rows / 4)
}

/// The select-list expression giving a record's tail as a JSON array of
/// `[seq, version, last_row_at (Unix nanoseconds), secondary_id, email, phone, absorbed]`
/// (`absorbed`: a merged customer's lists, see [`push_merge`]), for a query
/// whose customer table is `c` (`[]` for none, and for no record). A macro, for `concat!`.
macro_rules! tail_of_c {
    () => {
        "(SELECT json_group_array(json_array(t.seq, t.version, t.last_row_at, t.secondary_id,
                                             t.email, t.phone, t.absorbed))
          FROM identity_customer_tail AS t
          WHERE t.tenant_id = c.tenant_id AND t.primary_id = c.primary_id)"
    };
}
pub(super) use tail_of_c;

/// The select-list expression giving the version of a record's newest tail entry (NULL for
/// none), for a query whose customer table is `c`: one probe of the tail's key.
macro_rules! tail_top_of_c {
    () => {
        "(SELECT t.version FROM identity_customer_tail AS t
          WHERE t.tenant_id = c.tenant_id AND t.primary_id = c.primary_id
          ORDER BY t.seq DESC LIMIT 1)"
    };
}
pub(super) use tail_top_of_c;

/// The tail entries of base `?3` of customer `?2` in tenant `?1` past entry `?4`, up to version
/// `?5`, as the JSON of [`tail_of_c`] (`[]` for none, and once the base was rewritten).
const PAST: &str = "\
SELECT json_group_array(json_array(t.seq, t.version, t.last_row_at, t.secondary_id, t.email,
                                   t.phone, t.absorbed))
FROM identity_customer AS c JOIN identity_customer_tail AS t
    ON t.tenant_id = c.tenant_id AND t.primary_id = c.primary_id
WHERE c.tenant_id = ?1 AND c.primary_id = ?2 AND c.base_seq = ?3 AND t.seq > ?4
  AND t.version <= ?5";

/// The tail entries that `record`, held over base `seq` (of version `base_version`), lacks up
/// to version `top`, as the JSON [`apply`] takes: none once the base was rewritten.
pub(super) async fn past(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    seq: i64,
    base_version: i64,
    record: &CustomerRecord,
    top: i64,
) -> Result<Option<String>> {
    sqlx::query_scalar(PAST)
        .bind(tenant.as_str())
        .bind(record.primary.get())
        .bind(seq)
        .bind(record.version - base_version)
        .bind(top)
        .fetch_optional(conn)
        .await
        .map_err(|e| Error::store("reading customers", e))
}

const APPEND: &str = "\
INSERT INTO identity_customer_tail (tenant_id, primary_id, seq, version, last_row_at,
    secondary_id, email, phone, absorbed)
SELECT ?1, ?2, coalesce(max(seq), 0) + 1, ?3, ?4, ?5, ?6, ?7, ?8
FROM identity_customer_tail WHERE tenant_id = ?1 AND primary_id = ?2
RETURNING seq,
    (SELECT base_seq FROM identity_customer WHERE tenant_id = ?1 AND primary_id = ?2)";

/// This module's statements that reach one request's or customer's rows by their keys, whose
/// plans `plans_tests.rs` checks (a statement added here that does so belongs in the list).
#[cfg(test)]
pub(super) const BY_KEY: &[(&str, &str)] = &[("PAST", PAST), ("APPEND", APPEND)];

/// One tail entry as the read sends it.
type Entry = (
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Applies the entries of a record's tail (the JSON of [`tail_of_c`]; `None` or `[]` for none)
/// that `record` does not have yet (those past its version: a base has none of them, a record
/// read before some) and answers how many it applied.
pub(super) fn apply(record: &mut CustomerRecord, tail: Option<&str>) -> Result<usize> {
    let Some(tail) = tail else {
        return Ok(0);
    };
    let corrupt = |reason: String| Error::CorruptGraph { reason };
    let mut entries: Vec<Entry> = serde_json::from_str(tail).map_err(|e| {
        corrupt(format!(
            "unreadable record tail of customer {}: {e}",
            record.primary
        ))
    })?;
    entries.sort_by_key(|entry| entry.0);
    let held = record.version;
    entries.retain(|entry| entry.1 > held);
    let applied = entries.len();
    for (_, version, at, secondary, email, phone, absorbed) in entries {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at)).map_err(|_| {
            corrupt(format!(
                "record tail of customer {} has time {at}",
                record.primary
            ))
        })?;
        let secondary = ContactId::new(secondary);
        match absorbed {
            Some(lists) => {
                let absorbed = absorbed_record(secondary, at, &lists).map_err(|reason| {
                    corrupt(format!(
                        "record tail of customer {} has a merge of customer {secondary} \
                         that cannot be read: {reason}",
                        record.primary
                    ))
                })?;
                *record = record.merged_with(&absorbed);
            }
            None => record.append_row(
                secondary,
                email.map(Email::from_record),
                phone.map(Phone::from_record),
                at,
            ),
        }
        record.version = version;
    }
    Ok(applied)
}

/// Adds to `script` the tail entry of row `id` (which brought `email` and `phone` to the
/// customer, when new to it) for `record`, which already has it appended and its version
/// raised. The statement returns the tail's length after it and the record's base number
/// ([`appended`]): at [`fold_at`] the caller writes the record whole instead; below it, the
/// record in hand is that base with its tail applied, which the caller holds for later reads.
pub(super) fn push_append(
    script: &mut Script,
    record: &CustomerRecord,
    tenant: &TenantId,
    id: ContactId,
    email: Option<&Email>,
    phone: Option<&Phone>,
) {
    let at = i64::try_from(record.last_row_at.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    script.push(APPEND, |v| {
        v.add(tenant.as_str())
            .add(record.primary.get())
            .add(record.version)
            .add(at)
            .add(id.get())
            .add(email.map(Email::as_str))
            .add(phone.map(Phone::as_str))
            .add(None::<String>);
    });
}

/// Adds to `script` the tail entry of a merge: `record` is the merged record (its version
/// raised), `absorbed` the absorbed customer's part of it ([`CustomerRecord::part`]), whose
/// lists the entry carries, so a read applies it as [`CustomerRecord::merged_with`] does. The
/// statement returns what [`push_append`]'s does ([`appended`]).
pub(super) fn push_merge(
    script: &mut Script,
    record: &CustomerRecord,
    tenant: &TenantId,
    absorbed: &CustomerRecord,
) {
    let at = i64::try_from(record.last_row_at.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    let lists = RecordText::of(absorbed).into_lists();
    let lists = serde_json::Value::from(lists.to_vec()).to_string();
    script.push(APPEND, |v| {
        v.add(tenant.as_str())
            .add(record.primary.get())
            .add(record.version)
            .add(at)
            .add(absorbed.primary.get())
            .add(None::<String>)
            .add(None::<String>)
            .add(lists);
    });
}

/// The absorbed customer `primary` of a merge entry, from the entry's `lists` (the JSON array
/// of its record text) and time `at` (the merged record's newest row).
fn absorbed_record(
    primary: ContactId,
    at: OffsetDateTime,
    lists: &str,
) -> std::result::Result<CustomerRecord, String> {
    let lists: [String; 5] = serde_json::from_str(lists).map_err(|e| e.to_string())?;
    let text = RecordText::from_lists(lists);
    let mut absorbed = CustomerRecord::new(primary, None, None, at);
    text.parse_into(&mut absorbed).map_err(|e| e.to_string())?;
    Ok(absorbed)
}

/// What the one [`push_append`] of a script's `rows` returned: the tail's length after it, and
/// the number of the base it extends (`None` when the customer has no record row).
pub(super) fn appended(rows: &[SqliteRow]) -> sqlx::Result<(i64, Option<i64>)> {
    match rows {
        [row] => Ok((row.try_get(0)?, row.try_get(1)?)),
        _ => Err(sqlx::Error::RowNotFound),
    }
}

/// Adds to `script` the removal of customer `primary`'s tail (its record is being written
/// whole).
pub(super) fn push_clear(script: &mut Script, tenant: &TenantId, primary: ContactId) {
    script.push(
        "DELETE FROM identity_customer_tail WHERE tenant_id = ?1 AND primary_id = ?2",
        |v| {
            v.add(tenant.as_str()).add(primary.get());
        },
    );
}
