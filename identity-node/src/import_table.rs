//! A table import for JavaScript: `importTableRows()`'s rows (`TableRowInput`) and what the
//! report says about the table's ids (`TableOutcome`, `ChangedCustomer`, `MovedRow`).

use napi::bindgen_prelude::{Either, Null};
use napi_derive::napi;

/// One row of an existing deployment's contact table for `importTableRows`, in the table's own
/// column names (what `prisma.contact.findMany()` gives). Other keys are ignored.
#[napi(object)]
pub struct TableRowInput {
    /// The row's id in the table (kept as the row's id here): a positive integer, a bigint,
    /// or its digits as a string.
    #[napi(ts_type = "number | bigint | string")]
    pub id: String,
    /// The email as the table holds it.
    #[napi(ts_type = "string | null")]
    pub email: Option<String>,
    /// The phone number as the table holds it: a string, or a non-negative integer.
    #[napi(ts_type = "string | number | bigint | null")]
    pub phone_number: Option<String>,
    /// The row it is linked to (`null` for a row the table made primary).
    #[napi(ts_type = "number | bigint | string | null")]
    pub linked_id: Option<String>,
    /// When it was created: a `Date`, an RFC 3339 string, or Unix seconds or milliseconds.
    #[napi(ts_type = "Date | string | number | null")]
    pub created_at: Option<String>,
    /// When it was soft-deleted (`null`: visible). A deleted row is not imported; its id is
    /// reserved.
    #[napi(ts_type = "Date | string | number | null")]
    pub deleted_at: Option<String>,
}

/// A customer of the table (by the row its links end at) that is led by another row now.
#[napi(object)]
pub struct ChangedCustomer {
    /// The row the table made its primary.
    pub table_primary_id: i64,
    /// The primary of the customer it is part of now, or `null` when nothing of it was
    /// imported.
    #[napi(ts_type = "number | null")]
    pub primary_contact_id: Either<i64, Null>,
    /// Why.
    #[napi(
        ts_type = "'duplicate' | 'normalized' | 'primaryDeleted' | 'primaryLeftOut' | 'primaryNotOldest' | 'leftOut'"
    )]
    pub change: String,
}

/// A row of the table whose id no longer names the same row of the same customer.
#[napi(object)]
pub struct MovedRow {
    /// Its id in the table.
    pub id: i64,
    /// The row the table made its customer's primary.
    pub table_primary_id: i64,
    /// Its row now (its own id unless renumbered), or `null` when it was not imported as a row.
    #[napi(ts_type = "number | null")]
    pub contact_id: Either<i64, Null>,
    /// Its customer's primary now, or `null`.
    #[napi(ts_type = "number | null")]
    pub primary_contact_id: Either<i64, Null>,
    /// What became of the row.
    #[napi(ts_type = "'kept' | 'folded' | 'deleted' | 'refused' | 'ignored'")]
    pub row: String,
    /// What became of its customer, when it is led by another row now.
    #[napi(
        ts_type = "'duplicate' | 'normalized' | 'primaryDeleted' | 'primaryLeftOut' | 'primaryNotOldest' | 'leftOut' | null"
    )]
    pub change: Either<String, Null>,
}

/// What a table import did beyond a checkout import.
#[napi(object)]
pub struct TableOutcome {
    /// Soft-deleted rows given: not imported, their ids reserved.
    pub deleted_rows: u32,
    /// Whether the rows kept the table's ids (`false`: `renumber`).
    pub ids_kept: bool,
    /// The table's highest id, deleted rows included: later rows get higher ones.
    pub highest_id: i64,
    /// Rows linked to a secondary or to a row deleted or not there, now linked to their
    /// customer's primary.
    pub repaired_chains: u32,
    /// The table's customers led by another row now.
    pub changed_customers: Vec<ChangedCustomer>,
    /// The table's rows whose id no longer names the same row of the same customer; every
    /// other id does.
    pub moved_rows: Vec<MovedRow>,
}

/// A table id as a JavaScript number (ids are at most 2^63-1; ids past 2^53 lose precision,
/// as every id this package answers does).
pub fn as_number(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

fn id_or_null(id: Option<identity::ContactId>) -> Either<i64, Null> {
    id.map_or(Either::B(Null), |id| Either::A(id.get()))
}

impl From<identity::import::TableOutcome> for TableOutcome {
    fn from(t: identity::import::TableOutcome) -> Self {
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        TableOutcome {
            deleted_rows: count(t.deleted_rows),
            ids_kept: t.ids_kept,
            highest_id: as_number(t.highest_id),
            repaired_chains: count(t.repaired_chains),
            changed_customers: t
                .changed_customers
                .into_iter()
                .map(|c| ChangedCustomer {
                    table_primary_id: as_number(c.table_primary_id),
                    primary_contact_id: id_or_null(c.primary_contact_id),
                    change: c.change.as_str().to_owned(),
                })
                .collect(),
            moved_rows: t
                .moved_rows
                .into_iter()
                .map(|m| MovedRow {
                    id: as_number(m.id),
                    table_primary_id: as_number(m.table_primary_id),
                    contact_id: id_or_null(m.contact_id),
                    primary_contact_id: id_or_null(m.primary_contact_id),
                    row: m.row.as_str().to_owned(),
                    change: m
                        .change
                        .map_or(Either::B(Null), |c| Either::A(c.as_str().to_owned())),
                })
                .collect(),
        }
    }
}
