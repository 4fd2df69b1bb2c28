//! Backups, restores and erasures for JavaScript: `backupTo()`, `erasures()`,
//! `reapplyErasures()`, the `erasureLog` connect option, and `readErasureLog()` /
//! `parseErasureLog()`. Records are plain objects in the erasure log's wire shape; every rule
//! about them is the core's (`identity::ErasureRecord::from_json`).

use napi::bindgen_prelude::{
    Either, Env, JsObjectValue, Null, Object, PromiseRaw, Result, Unknown,
};
use napi::{JsValue, ValueType};
use napi_derive::napi;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use crate::errors::Failure;
use crate::{Identity, promise};

/// One erase as the erasure log keeps it (one JSON object per line of the file): its receipt,
/// every row it deleted with the row's time of creation, and the keyed hashes of the values it
/// suppressed. No email, no phone number.
#[napi(object)]
pub struct ErasureRecord {
    /// The tenant whose customer was erased.
    pub tenant_id: String,
    /// The receipt's customer: its primary at the time.
    pub customer_id: i64,
    /// The receipt's rows, ascending.
    pub contact_ids: Vec<i64>,
    /// When, as an RFC 3339 string in UTC.
    pub erased_at: String,
    /// Whether the erase suppressed the customer's values.
    pub suppressed: bool,
    /// Every row the erase deleted, ascending.
    pub rows: Vec<ErasedRow>,
    /// The digests the erase added to the tenant's suppressed values.
    pub digests: Vec<SuppressedDigest>,
    /// The fingerprint of the secret the digests were taken under (16 hex digits), or `null`
    /// without digests.
    #[napi(ts_type = "string | null")]
    pub secret: Either<String, Null>,
}

/// A row an erase deleted.
#[napi(object)]
pub struct ErasedRow {
    /// Its id.
    pub id: i64,
    /// When it was created, as an RFC 3339 string; `null` for erases made before records were
    /// kept (the row is then known by id alone).
    #[napi(ts_type = "string | null")]
    pub created_at: Either<String, Null>,
}

/// A suppressed value: its kind and its keyed hash.
#[napi(object)]
pub struct SuppressedDigest {
    /// `'email'` or `'phone'`.
    #[napi(ts_type = "'email' | 'phone'")]
    pub kind: String,
    /// HMAC-SHA256 of the value under the store's secret, 64 lowercase hex digits.
    pub digest: String,
}

/// What `reapplyErasures()` did.
#[napi(object)]
pub struct ReapplyReport {
    /// Records given.
    pub records: i64,
    /// Records applied now: the database did not hold their erase.
    pub applied: i64,
    /// Records whose erase the database holds already: left alone.
    pub already_erased: i64,
    /// The rows deleted now, ascending.
    pub erased_ids: Vec<i64>,
    /// Ids of the records that the database gives to other rows (taken again after the backup
    /// was restored), ascending; those rows are left alone.
    pub reused_ids: Vec<i64>,
    /// The digests of the applied records, now among the tenant's suppressed values.
    pub suppressed: i64,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn ids(ids: &[identity::ContactId]) -> Vec<i64> {
    ids.iter().map(|id| id.get()).collect()
}

impl From<identity::ErasureRecord> for ErasureRecord {
    fn from(r: identity::ErasureRecord) -> Self {
        ErasureRecord {
            tenant_id: r.tenant_id.as_str().to_owned(),
            customer_id: r.customer_id.get(),
            contact_ids: ids(&r.contact_ids),
            erased_at: rfc3339(r.erased_at),
            suppressed: r.suppressed,
            rows: r
                .rows
                .iter()
                .map(|row| ErasedRow {
                    id: row.id.get(),
                    created_at: row
                        .created_at
                        .map_or(Either::B(Null), |at| Either::A(rfc3339(at))),
                })
                .collect(),
            digests: r
                .digests
                .iter()
                .map(|d| SuppressedDigest {
                    kind: d.kind.as_str().to_owned(),
                    digest: d.digest.clone(),
                })
                .collect(),
            secret: r.secret.map_or(Either::B(Null), Either::A),
        }
    }
}

impl From<identity::ReapplyReport> for ReapplyReport {
    fn from(r: identity::ReapplyReport) -> Self {
        ReapplyReport {
            records: count(r.records),
            applied: count(r.applied),
            already_erased: count(r.already_erased),
            erased_ids: ids(&r.erased_ids),
            reused_ids: ids(&r.reused_ids),
            suppressed: count(r.suppressed),
        }
    }
}

#[napi]
impl Identity {
    /// Writes a consistent copy of the whole SQLite store (every tenant, the suppression secret
    /// and the erasure records) to a new file at `path` while it serves; the copy opens with
    /// `Identity.connect('sqlite:' + path)`. Rejects with `CONFLICT` when `path` exists (unless
    /// `{ overwrite: true }`) or for a store this cannot copy (PostgreSQL: use `pg_dump`;
    /// `memory:`), `INVALID_INPUT` (`field: 'path'`) when `path` is not a non-empty string.
    #[napi(
        ts_args_type = "path: string, options?: { overwrite?: boolean }",
        ts_return_type = "Promise<void>"
    )]
    pub fn backup_to<'env>(
        &self,
        env: &'env Env,
        path: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let work = self.usable().and_then(|inner| {
            Ok((
                inner,
                text(&path, "path")?,
                crate::options::flag(options.as_ref(), "overwrite")?,
            ))
        });
        promise(env, work, |(inner, path, overwrite)| async move {
            inner.backup_to(path, overwrite).await
        })
    }

    /// Resolves to every erase of the tenant as a record without personal data, oldest first:
    /// what `{ erasureLog }` writes to its file, to keep outside the database and give to
    /// `reapplyErasures()` after restoring an older backup.
    #[napi(ts_return_type = "Promise<ErasureRecord[]>")]
    pub fn erasures<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Vec<ErasureRecord>>> {
        promise(env, self.usable(), |inner| async move {
            let records = inner.erasures().await?;
            Ok(records.into_iter().map(ErasureRecord::from).collect())
        })
    }

    /// Applies erasures again to a database restored from a backup taken before them (the
    /// records of `readErasureLog()` or `erasures()`): the rows each record names that the
    /// database holds under the same id and time of creation are erased as `erase()` would,
    /// its digests suppressed again, and the id sequence moves past every id named; records
    /// the database holds already change nothing. All in one transaction. Rejects with
    /// `INVALID_INPUT` (`field: 'erasures'`, naming the record's index) for a malformed record
    /// or one of another tenant, `CONFLICT` for digests taken under another suppression
    /// secret; nothing changes then.
    #[napi(
        ts_args_type = "records: ErasureRecord[]",
        ts_return_type = "Promise<ReapplyReport>"
    )]
    pub fn reapply_erasures<'env>(
        &self,
        env: &'env Env,
        records: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, ReapplyReport>> {
        let work = self
            .usable()
            .and_then(|inner| Ok((inner, records_of(&records)?)));
        promise(env, work, |(inner, records)| async move {
            inner
                .reapply_erasures(&records)
                .await
                .map(ReapplyReport::from)
        })
    }
}

/// Reads the erasure log file at `path` (what the `erasureLog` option of `Identity.connect`
/// writes): every record, oldest first, a line cut short by a crash left out. Synchronous, like
/// `fs.readFileSync`. Throws `STORE` when the file cannot be read, `INVALID_INPUT` (`field:
/// 'erasures'`, naming the line) for a line that is not a record.
#[napi(ts_args_type = "path: string", ts_return_type = "ErasureRecord[]")]
#[cfg_attr(test, allow(dead_code))] // registered with Node by the macro, called from JavaScript
pub fn read_erasure_log(env: Env, path: Unknown<'_>) -> Result<Vec<ErasureRecord>> {
    text(&path, "path")
        .and_then(|path| identity::ErasureLog::read(path).map_err(Failure::from))
        .map(|records| records.into_iter().map(ErasureRecord::from).collect())
        .map_err(|f| f.into_js(&env))
}

/// Reads erasure records from the text of a log (JSON Lines, as an erasure log file or an
/// HTTP body holds them), as `readErasureLog()` reads the file. Throws `INVALID_INPUT`
/// (`field: 'erasures'`, naming the line) for a line that is not a record.
#[napi(ts_args_type = "text: string", ts_return_type = "ErasureRecord[]")]
#[cfg_attr(test, allow(dead_code))] // registered with Node by the macro, called from JavaScript
pub fn parse_erasure_log(env: Env, text: Unknown<'_>) -> Result<Vec<ErasureRecord>> {
    let lines = match text.get_type() {
        // SAFETY: the type was checked by the match.
        Ok(ValueType::String) => unsafe { text.cast::<String>() }.ok(),
        _ => None,
    };
    lines
        .ok_or_else(|| {
            Failure::invalid(
                "erasures",
                "invalid erasures: must be a string, one record per line",
            )
        })
        .and_then(|t| identity::erasure_log::parse_lines(&t).map_err(Failure::from))
        .map(|records| records.into_iter().map(ErasureRecord::from).collect())
        .map_err(|f| f.into_js(&env))
}

/// The `erasureLog` option of `Identity.connect`: absent, `undefined` or `null` for none, else
/// a non-empty string (anything else is `INVALID_INPUT` with `field: 'erasureLog'`).
pub fn log_option(options: &Object<'_>) -> std::result::Result<Option<String>, Failure> {
    match options.get::<Unknown<'_>>("erasureLog").ok().flatten() {
        None => Ok(None),
        Some(v) if matches!(v.get_type(), Ok(ValueType::Undefined | ValueType::Null)) => Ok(None),
        Some(v) => text(&v, "erasureLog").map(Some),
    }
}

/// A non-empty string argument; anything else is `INVALID_INPUT` naming `field`.
fn text(value: &Unknown<'_>, field: &'static str) -> std::result::Result<String, Failure> {
    let wrong = || Failure::invalid(field, format!("invalid {field}: must be a file path"));
    if value.get_type().map_err(|_| wrong())? != ValueType::String {
        return Err(wrong());
    }
    // SAFETY: the type was checked just above.
    let text: String = unsafe { value.cast() }.map_err(|_| wrong())?;
    if text.is_empty() {
        return Err(wrong());
    }
    Ok(text)
}

/// `reapplyErasures()`'s argument: an array of records, each read by the core from its JSON
/// shape. A malformed record is `INVALID_INPUT` with `field: 'erasures'` naming its index.
fn records_of(input: &Unknown<'_>) -> std::result::Result<Vec<identity::ErasureRecord>, Failure> {
    let at = |index: Option<usize>, reason: String| {
        let reason = match index {
            Some(i) => format!("record {i}: {reason}"),
            None => reason,
        };
        Failure::from(identity::Error::InvalidInput {
            field: identity::Field::Erasures,
            reason,
        })
    };
    let not_array = || at(None, "must be an array of erasure records".to_owned());
    if !input.is_array().map_err(|_| not_array())? {
        return Err(not_array());
    }
    // SAFETY: the value was just checked to be an array.
    let items: Vec<Unknown<'_>> = unsafe { input.cast() }.map_err(|_| not_array())?;
    let mut records = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let json = json_of(item, 0).map_err(|reason| at(Some(index), reason))?;
        let record = identity::ErasureRecord::from_json(&json).map_err(|e| match e {
            identity::Error::InvalidInput { reason, .. } => at(Some(index), reason),
            other => Failure::from(other),
        })?;
        records.push(record);
    }
    Ok(records)
}

/// Deepest nesting a record's JSON may have (a record nests three levels; this also stops a
/// cycle).
const MAX_DEPTH: usize = 8;

/// A JavaScript value as JSON, as `JSON.stringify` would write it (a key whose value is
/// `undefined` left out); `Err` with the reason when it holds what JSON cannot.
fn json_of(value: &Unknown<'_>, depth: usize) -> std::result::Result<Value, String> {
    let unreadable = || "unreadable value".to_owned();
    if depth > MAX_DEPTH {
        return Err("nested too deeply for an erasure record".to_owned());
    }
    let is_object = value.get_type().map_err(|_| unreadable())? == ValueType::Object;
    if !is_object || value.is_date().unwrap_or(false) {
        return crate::import::value_of(value).ok_or_else(|| {
            "holds a value JSON cannot hold (a function, a symbol, NaN)".to_owned()
        });
    }
    if value.is_array().map_err(|_| unreadable())? {
        // SAFETY: the value was just checked to be an array.
        let items: Vec<Unknown<'_>> = unsafe { value.cast() }.map_err(|_| unreadable())?;
        return items
            .iter()
            .map(|item| json_of(item, depth + 1))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    // SAFETY: the type was checked above.
    let object: Object<'_> = unsafe { value.cast() }.map_err(|_| unreadable())?;
    let keys: Vec<String> = object
        .get_property_names()
        .and_then(|names| {
            // SAFETY: napi_get_property_names answers an array of strings.
            unsafe { names.to_unknown().cast::<Vec<String>>() }
        })
        .map_err(|_| unreadable())?;
    let mut map = serde_json::Map::new();
    for key in keys {
        let Some(field) = object.get::<Unknown<'_>>(&key).ok().flatten() else {
            continue;
        };
        if field.get_type().ok() == Some(ValueType::Undefined) {
            continue;
        }
        map.insert(key, json_of(&field, depth + 1)?);
    }
    Ok(Value::Object(map))
}
