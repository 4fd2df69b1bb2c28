//! Import for JavaScript: `importCheckouts()` and `importTableRows()`'s arguments and their
//! `ImportReport`. Each checkout, an object `{ email, phoneNumber, at }` (a table's row: `{ id,
//! email, phoneNumber, linkedId, createdAt, deletedAt }`), becomes the JSON-shaped record the
//! core reads (`identity::import::checkout_from_json`, `table_row_from_json`): every rule about
//! the values is the core's, and a malformed one is refused there, as over HTTP.

use identity::import::{ImportOptions, OnError};
use napi::bindgen_prelude::{BigInt, Either, JsValue, Null, Object, Unknown};
use napi::{JsDate, ValueType};
use napi_derive::napi;
use serde_json::Value;

use crate::errors::Failure;
pub use crate::import_table::TableOutcome;
use crate::import_table::as_number;

/// What a list of records holds: its argument's name (the error's field) and the keys read.
pub struct Shape {
    field: &'static str,
    keys: &'static [&'static str],
    example: &'static str,
}

/// Checkouts: `{ email, phoneNumber, at }`.
pub const CHECKOUTS: Shape = Shape {
    field: "checkouts",
    keys: &["email", "phoneNumber", "at"],
    example: "{ email, phoneNumber, at }",
};

/// A table's rows, in its own column names.
pub const TABLE_ROWS: Shape = Shape {
    field: "table",
    keys: &[
        "id",
        "email",
        "phoneNumber",
        "linkedId",
        "createdAt",
        "at",
        "deletedAt",
    ],
    example: "{ id, email, phoneNumber, linkedId, createdAt, deletedAt }",
};

/// The `checkouts` (or table rows) argument: an array of objects, as the core's records. A
/// value of a type no record can hold (not a string, number, bigint, boolean, `Date`, `null` or
/// `undefined`) is `INVALID_INPUT` with the argument's field; an object with a bad value is the
/// core's to refuse.
pub fn records(input: &Unknown<'_>, shape: &Shape) -> Result<Vec<Value>, Failure> {
    let field = shape.field;
    let bad = |reason: String| Failure::invalid(field, format!("invalid {field}: {reason}"));
    let not_array = || bad(format!("must be an array of {} objects", shape.example));
    if !input.is_array().map_err(|_| not_array())? {
        return Err(not_array());
    }
    // SAFETY: the value was just checked to be an array.
    let items: Vec<Unknown<'_>> = unsafe { input.cast() }.map_err(|_| not_array())?;
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let plain = item.get_type().ok() == Some(ValueType::Object)
            && !item.is_array().unwrap_or(true)
            && !item.is_date().unwrap_or(true);
        if !plain {
            out.push(Value::Null); // the core refuses it by index: "not an object"
            continue;
        }
        // SAFETY: the type was checked just above.
        let object: Object<'_> = unsafe { item.cast() }.map_err(|_| not_array())?;
        let mut record = serde_json::Map::new();
        for key in shape.keys {
            let Some(value) = object.get::<Unknown<'_>>(key).ok().flatten() else {
                continue;
            };
            let json = value_of(&value).ok_or_else(|| {
                bad(format!(
                    "{field}[{index}].{key} must be a string, a number, a bigint, a Date or null"
                ))
            })?;
            record.insert((*key).to_owned(), json);
        }
        out.push(Value::Object(record));
    }
    Ok(out)
}

/// A checkout's value as JSON: `None` when no checkout can hold its type.
pub(crate) fn value_of(value: &Unknown<'_>) -> Option<Value> {
    match value.get_type().ok()? {
        ValueType::Undefined | ValueType::Null => Some(Value::Null),
        // SAFETY (each arm): the type was checked by the match.
        ValueType::Boolean => unsafe { value.cast::<bool>() }.ok().map(Value::Bool),
        ValueType::String => unsafe { value.cast::<String>() }.ok().map(Value::String),
        ValueType::Number => {
            let n = unsafe { value.cast::<f64>() }.ok()?;
            let whole = n.is_finite() && n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0;
            #[allow(clippy::cast_possible_truncation)] // a whole number within 2^53
            let json = if whole {
                Value::from(n as i64)
            } else {
                serde_json::Number::from_f64(n).map(Value::Number)?
            };
            Some(json)
        }
        ValueType::BigInt => {
            let big = unsafe { value.cast::<BigInt>() }.ok()?;
            let (negative, magnitude, lossless) = big.get_u128();
            let digits = if lossless {
                magnitude.to_string()
            } else {
                "a bigint beyond 128 bits".into()
            };
            Some(Value::String(if negative {
                format!("-{digits}")
            } else {
                digits
            }))
        }
        ValueType::Object if value.is_date().unwrap_or(false) => {
            let date = unsafe { value.cast::<JsDate<'_>>() }.ok()?;
            let ms = date.value_of().ok()?;
            // RFC 3339, so that no era of milliseconds reads as seconds; an invalid Date (NaN)
            // is a time the core cannot read
            #[allow(clippy::cast_possible_truncation)] // whole milliseconds of a Date
            let text =
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms as i64) * 1_000_000)
                    .ok()
                    .filter(|_| ms.is_finite())
                    .and_then(|at| {
                        at.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_else(|| "Invalid Date".to_owned());
            Some(Value::String(text))
        }
        _ => None,
    }
}

/// The options `{ onError?: 'abort' | 'skip', dryRun?: boolean, renumber?: boolean }`.
pub fn options(options: Option<&Unknown<'_>>) -> Result<ImportOptions, Failure> {
    let dry_run = crate::options::flag(options, "dryRun")?;
    let renumber = crate::options::flag(options, "renumber")?;
    let mut chosen = ImportOptions::default().dry_run(dry_run).renumber(renumber);
    let Some(options) = options.filter(|o| o.get_type().ok() == Some(ValueType::Object)) else {
        return Ok(chosen);
    };
    // SAFETY: the type was checked just above.
    let object: Object<'_> = unsafe { options.cast() }
        .map_err(|_| Failure::invalid("request", "invalid request: options must be an object"))?;
    let wrong = || Failure::invalid("onError", "invalid on error: must be 'abort' or 'skip'");
    match object.get::<Unknown<'_>>("onError").ok().flatten() {
        None => {}
        Some(v) if matches!(v.get_type(), Ok(ValueType::Undefined | ValueType::Null)) => {}
        Some(v) if v.get_type().ok() == Some(ValueType::String) => {
            // SAFETY: the type was checked just above.
            let text: String = unsafe { v.cast() }.map_err(|_| wrong())?;
            chosen = chosen.on_error(OnError::parse(&text).map_err(Failure::from)?);
        }
        Some(_) => return Err(wrong()),
    }
    Ok(chosen)
}

/// One historical checkout for `importCheckouts`: what `identify` would have been asked, and
/// when. Other keys are ignored.
#[napi(object)]
pub struct CheckoutInput {
    /// The checkout's email.
    #[napi(ts_type = "string | null")]
    pub email: Option<String>,
    /// The checkout's phone number: a string, or a non-negative integer (number or bigint).
    #[napi(ts_type = "string | number | bigint | null")]
    pub phone_number: Option<String>,
    /// When it happened: a `Date`, an RFC 3339 string (`'2023-04-01T10:00:00Z'`, also
    /// `'2023-04-01 10:00:00+00'`, a date, a time without offset read as UTC), or Unix seconds
    /// or milliseconds.
    #[napi(ts_type = "Date | string | number")]
    pub at: String,
}

/// A checkout an import refused: its index in `checkouts` (a table's row: its id) and why.
#[napi(object)]
pub struct Rejected {
    /// The checkout's index in the `checkouts` given (absent for a table's row).
    pub record: Option<u32>,
    /// The table row's id (absent for a checkout).
    pub id: Option<i64>,
    /// Why, as the error's message (`'invalid email: ...'`, `'missing time'`).
    pub reason: String,
}

/// Values an import left out, by reason.
#[napi(object)]
pub struct IgnoredCounts {
    /// Values on the tenant's blocked list.
    pub blocked: u32,
    /// Values erased with suppression.
    pub suppressed: u32,
}

/// What `importCheckouts()` did (or, with `dryRun`, would do): the JSON wire shape.
#[napi(object)]
pub struct ImportReport {
    /// Checkouts given.
    pub checkouts: u32,
    /// Rows written: checkouts that carried a value no earlier checkout carried.
    pub rows: u32,
    /// Customers those rows form.
    pub customers: u32,
    /// Checkouts that joined two customers that had rows already (a merge online).
    pub merges: u32,
    /// Rows of the largest customer.
    pub largest_customer: u32,
    /// Values left out, by reason.
    pub ignored: IgnoredCounts,
    /// Checkouts with nothing left once their ignored values were left out.
    pub ignored_checkouts: u32,
    /// Checkouts that wrote no row because every value they carry was known already (a
    /// table's rows folded into their customer).
    pub folded: u32,
    /// Checkouts refused (left out with `onError: 'skip'`): malformed, or a phone number the
    /// tenant's region refuses.
    pub rejected: u32,
    /// The first ten of them: malformed ones in the order given, then the region's in time
    /// order.
    pub first_rejected: Vec<Rejected>,
    /// The id of the first row written, or `null`.
    #[napi(ts_type = "number | null")]
    pub first_id: Either<i64, Null>,
    /// The id of the last row written, or `null`.
    #[napi(ts_type = "number | null")]
    pub last_id: Either<i64, Null>,
    /// For `importTableRows()`: deleted rows, repairs, and every id whose meaning changed;
    /// `null` for checkouts.
    #[napi(ts_type = "TableOutcome | null")]
    pub table: Either<TableOutcome, Null>,
    /// Whether anything was written (`false` for a dry run).
    pub written: bool,
}

/// A count as a JavaScript number (an array passed in holds fewer than 2^32 elements).
fn n(count: u64) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

impl From<identity::import::ImportReport> for ImportReport {
    fn from(r: identity::import::ImportReport) -> Self {
        use identity::IgnoredReason;
        ImportReport {
            checkouts: n(r.checkouts),
            rows: n(r.rows),
            customers: n(r.customers),
            merges: n(r.merges),
            largest_customer: n(r.largest_customer),
            ignored: IgnoredCounts {
                blocked: n(r.ignored_for(IgnoredReason::Blocked)),
                suppressed: n(r.ignored_for(IgnoredReason::Suppressed)),
            },
            ignored_checkouts: n(r.ignored_checkouts),
            folded: n(r.folded),
            rejected: n(r.rejected),
            first_rejected: r
                .first_rejected
                .iter()
                .map(|x| Rejected {
                    record: r.table.is_none().then(|| n(x.origin)),
                    id: r.table.as_ref().map(|_| as_number(x.origin)),
                    reason: x.reason.clone(),
                })
                .collect(),
            first_id: r
                .ids
                .map_or(Either::B(Null), |(first, _)| Either::A(first.get())),
            last_id: r
                .ids
                .map_or(Either::B(Null), |(_, last)| Either::A(last.get())),
            table: r
                .table
                .map_or(Either::B(Null), |t| Either::A(TableOutcome::from(t))),
            written: r.written,
        }
    }
}
