//! An existing deployment's contact rows as an import takes them ([`TableRow`]): each with its
//! id, its values as stored there, its link, its creation time and whether it was soft-deleted.
//! Read from the table itself ([`crate::import::read_table`]) or handed over as JSON-shaped
//! records in the table's own column names ([`table_row_from_json`]: what `prisma.contact.findMany()`
//! and friends give).

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::parse_time;

/// One row of an existing deployment's contact table. The import keeps its id (see
/// [`crate::Identity::import_table`]); its values are read as `identify` reads a request's.
///
/// ```
/// use identity::import::TableRow;
/// let row = TableRow::new(7)
///     .email("Doc@HillValley.edu")
///     .phone_number("555-0101")
///     .linked_to(3)
///     .created_at(time::OffsetDateTime::from_unix_timestamp(1_680_343_200).unwrap());
/// assert_eq!((row.id, row.linked_id, row.deleted), (7, Some(3), false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableRow {
    /// The row's id in the table (1 or more, at most `i64::MAX`).
    pub id: u64,
    /// The email as the table holds it.
    pub email: Option<String>,
    /// The phone number as the table holds it (a number column as its digits).
    pub phone_number: Option<String>,
    /// The row this one is linked to (`linkedId`); `None` for a row the table made primary.
    pub linked_id: Option<u64>,
    /// When the row was created; a visible row without one is malformed.
    pub created_at: Option<OffsetDateTime>,
    /// Whether the table soft-deleted it (`deletedAt` set): it is not imported, its id is
    /// reserved, and rows linked through it stay one customer.
    pub deleted: bool,
}

impl TableRow {
    /// A visible row with id `id` and nothing else yet.
    #[must_use]
    pub fn new(id: u64) -> Self {
        TableRow {
            id,
            email: None,
            phone_number: None,
            linked_id: None,
            created_at: None,
            deleted: false,
        }
    }

    /// Sets [`TableRow::email`].
    #[must_use]
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets [`TableRow::phone_number`].
    #[must_use]
    pub fn phone_number(mut self, phone: impl Into<String>) -> Self {
        self.phone_number = Some(phone.into());
        self
    }

    /// Sets [`TableRow::linked_id`].
    #[must_use]
    pub fn linked_to(mut self, id: u64) -> Self {
        self.linked_id = Some(id);
        self
    }

    /// Sets [`TableRow::created_at`].
    #[must_use]
    pub fn created_at(mut self, at: OffsetDateTime) -> Self {
        self.created_at = Some(at);
        self
    }

    /// Sets [`TableRow::deleted`].
    #[must_use]
    pub fn deleted(mut self, deleted: bool) -> Self {
        self.deleted = deleted;
        self
    }
}

/// Reads one record of a table's rows, `index` its place in the list (for messages): an object
/// with `id` (a positive integer, or its decimal digits as a string, as ORMs give `BigInt`
/// ids), `email` (a string or null), `phoneNumber` (a string, a non-negative integer or null),
/// `linkedId` (like `id`, or null), `createdAt` (or `at`: a time as [`parse_time`] reads it,
/// or Unix seconds or milliseconds; null or absent makes the row malformed unless it is
/// deleted) and `deletedAt` (null or absent: visible; any time: soft-deleted). Other keys
/// (`linkPrecedence`, `updatedAt`) are ignored. The values' rules are applied by the import,
/// which refuses a row with a bad email or phone by its id.
///
/// ```
/// use identity::import::table_row_from_json;
/// let record = serde_json::json!({"id": 2, "email": "Doc@X.io", "phoneNumber": 5550101,
///     "linkedId": 1, "linkPrecedence": "secondary", "createdAt": "2023-04-01T10:00:00Z",
///     "deletedAt": null});
/// let row = table_row_from_json(&record, 0)?;
/// assert_eq!((row.id, row.linked_id), (2, Some(1)));
/// assert_eq!(row.phone_number.as_deref(), Some("5550101"));
/// let bad = serde_json::json!({"id": -1, "email": "doc@x.io"});
/// assert_eq!(table_row_from_json(&bad, 3).unwrap_err(),
///     "record 3: id must be a positive integer (or its digits as a string), not -1");
/// # Ok::<(), String>(())
/// ```
///
/// # Errors
/// A message naming the record by its index when it is not a row at all: not an object, no
/// usable id, a value of the wrong type, an unreadable time.
pub fn table_row_from_json(record: &Value, index: usize) -> Result<TableRow, String> {
    let fail = |what: String| format!("record {index}: {what}");
    let Value::Object(map) = record else {
        return Err(fail("must be an object".to_owned()));
    };
    let id = match map.get("id") {
        None | Some(Value::Null) => return Err(fail("has no id".to_owned())),
        Some(v) => id_of(v).ok_or_else(|| {
            fail(format!(
                "id must be a positive integer (or its digits as a string), not {v}"
            ))
        })?,
    };
    let linked_id = match map.get("linkedId") {
        None | Some(Value::Null) => None,
        Some(v) => Some(id_of(v).ok_or_else(|| {
            fail(format!(
                "linkedId must be a positive integer, its digits as a string, or null, not {v}"
            ))
        })?),
    };
    let email = match map.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(fail(format!("email must be a string or null, not {v}"))),
    };
    let phone_number = match map.get("phoneNumber") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) if n.is_u64() => Some(n.to_string()),
        Some(v) => {
            return Err(fail(format!(
                "phoneNumber must be a string, a non-negative integer or null, not {v}"
            )));
        }
    };
    let created_at = time_of(map, "createdAt")
        .or_else(|| time_of(map, "at"))
        .transpose()
        .map_err(&fail)?;
    let deleted = time_of(map, "deletedAt")
        .transpose()
        .map_err(&fail)?
        .is_some();
    Ok(TableRow {
        id,
        email,
        phone_number,
        linked_id,
        created_at,
        deleted,
    })
}

/// A positive id from an integer or a string of digits.
fn id_of(value: &Value) -> Option<u64> {
    let id = match value {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        _ => return None,
    };
    (1..=i64::MAX as u64).contains(&id).then_some(id)
}

/// The time under `key`: `None` when absent or null.
fn time_of(map: &Map<String, Value>, key: &str) -> Option<Result<OffsetDateTime, String>> {
    match map.get(key)? {
        Value::Null => None,
        Value::String(text) => Some(parse_time(text).map_err(|e| format!("{key}: {e}"))),
        Value::Number(n) => Some(parse_time(&n.to_string()).map_err(|e| format!("{key}: {e}"))),
        other => Some(Err(format!(
            "{key} must be a time (a string or Unix time) or null, not {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_in_the_tables_column_names_are_rows() {
        let row = table_row_from_json(
            &json!({"id": "9007199254740993", "email": " A@X.io ", "phoneNumber": "555-01",
                    "linkedId": "7", "createdAt": "2023-04-01 10:00:00+00",
                    "deletedAt": "2024-01-01"}),
            0,
        )
        .unwrap();
        assert_eq!(
            row.id, 9_007_199_254_740_993,
            "a BigInt id as digits keeps them all"
        );
        assert_eq!(
            row.email.as_deref(),
            Some(" A@X.io "),
            "values as the table holds them"
        );
        assert_eq!(row.linked_id, Some(7));
        assert!(row.deleted);
        assert_eq!(row.created_at.unwrap().unix_timestamp(), 1_680_343_200);
        let at = table_row_from_json(&json!({"id": 1, "at": 1_680_343_200}), 0).unwrap();
        assert_eq!(at.created_at.unwrap().unix_timestamp(), 1_680_343_200);
        let bare = table_row_from_json(&json!({"id": 1}), 0).unwrap();
        assert_eq!(bare, TableRow::new(1));
    }

    #[test]
    fn a_record_that_is_no_row_is_named_by_its_index() {
        let reason = |v: Value| table_row_from_json(&v, 4).unwrap_err();
        assert_eq!(reason(json!([1])), "record 4: must be an object");
        assert_eq!(reason(json!({"email": "a@x.io"})), "record 4: has no id");
        assert!(reason(json!({"id": 0})).contains("id must be a positive integer"));
        assert!(reason(json!({"id": 1.5})).contains("id must be a positive integer"));
        assert!(reason(json!({"id": "9223372036854775808"})).contains("id must be"));
        assert!(reason(json!({"id": 1, "linkedId": "x"})).contains("linkedId must be"));
        assert!(reason(json!({"id": 1, "email": 5})).contains("email must be a string"));
        assert!(reason(json!({"id": 1, "phoneNumber": -5})).contains("phoneNumber must be"));
        assert!(reason(json!({"id": 1, "createdAt": "soon"})).contains("createdAt: unreadable"));
        assert!(reason(json!({"id": 1, "deletedAt": true})).contains("deletedAt must be a time"));
    }
}
