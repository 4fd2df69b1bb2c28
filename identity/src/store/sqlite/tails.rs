//! Record tails (`migrations/sqlite/*_baseline.sql`): a row added to a customer appends one small
//! row to `identity_customer_tail` instead of rewriting the customer's record, whose lists grow
//! with the customer; every [`FOLD_AT`]th addition writes the record whole again (its new base)
//! and clears the tail. So adding a row costs about the same at 1 row or 10,000, and reading a
//! record is its base row with at most `FOLD_AT - 1` tail entries applied.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use crate::contact::{ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::error::{Error, Result};
use crate::tenant::TenantId;

use super::script::Script;

/// The tail length at which an addition writes the record whole instead.
pub(super) const FOLD_AT: i64 = 32;

/// The select-list expression giving a record's tail as a JSON array of
/// `[seq, version, last_row_at (Unix nanoseconds), secondary_id, email, phone]`, for a query
/// whose customer table is `c` (`[]` for none, and for no record). A macro, for `concat!`.
macro_rules! tail_of_c {
    () => {
        "(SELECT json_group_array(json_array(t.seq, t.version, t.last_row_at, t.secondary_id,
                                             t.email, t.phone))
          FROM identity_customer_tail AS t
          WHERE t.tenant_id = c.tenant_id AND t.primary_id = c.primary_id)"
    };
}
pub(super) use tail_of_c;

const APPEND: &str = "\
INSERT INTO identity_customer_tail (tenant_id, primary_id, seq, version, last_row_at,
    secondary_id, email, phone)
SELECT ?1, ?2, coalesce(max(seq), 0) + 1, ?3, ?4, ?5, ?6, ?7
FROM identity_customer_tail WHERE tenant_id = ?1 AND primary_id = ?2
RETURNING seq";

/// One tail entry as the read sends it.
type Entry = (i64, i64, i64, i64, Option<String>, Option<String>);

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
    for (_, version, at, secondary, email, phone) in entries {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at)).map_err(|_| {
            corrupt(format!(
                "record tail of customer {} has time {at}",
                record.primary
            ))
        })?;
        record.append_row(
            ContactId::new(secondary),
            email.map(Email::from_record),
            phone.map(Phone::from_record),
            at,
        );
        record.version = version;
    }
    Ok(applied)
}

/// Adds to `script` the tail entry of row `id` (which brought `email` and `phone` to the
/// customer, when new to it) for `record`, which already has it appended and its version
/// raised. The statement returns the tail's length after it ([`length`]): at [`FOLD_AT`] the
/// caller writes the record whole instead.
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
            .add(phone.map(Phone::as_str));
    });
}

/// The tail length that the one [`push_append`] of a script's `rows` returned.
pub(super) fn length(rows: &[SqliteRow]) -> sqlx::Result<i64> {
    match rows {
        [row] => row.try_get(0),
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
