//! What an erase leaves behind, as values (model layer): its receipt ([`Erasure`]) and its
//! record without personal data ([`ErasureRecord`]: ids, times and the keyed hashes of the
//! values it suppressed), with their wire shapes. The file that keeps records outside the
//! database is `erasure_log.rs`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::error::{Error, Field, Result};
use crate::identifier::IdentifierKind;
use crate::suppress::{DIGEST_LEN, Digest, hex};
use crate::tenant::TenantId;

/// The receipt of an erase: which customer, which rows, when, and whether its values are
/// suppressed. It holds no personal data. Erasing the same customer again (by any of its
/// former row ids) answers the same receipt and changes nothing.
///
/// On the wire: `{"customerId": 1, "contactIds": [1, 2], "erasedAt": "...", "suppressed":
/// false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Erasure {
    /// The customer erased, by its primary at the time.
    pub customer_id: ContactId,
    /// Its rows, hard-deleted, ascending.
    pub contact_ids: Vec<ContactId>,
    /// When (the database's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub erased_at: OffsetDateTime,
    /// Whether the erase was asked to suppress its values: those that went are kept as keyed
    /// hashes, blocking later requests that carry them ([`crate::IgnoredReason::Suppressed`]).
    pub suppressed: bool,
}

/// One erase, as the erasure log keeps it: its receipt, every row it deleted with the time the
/// row was created (so that a row a restored database holds under the same id is known to be
/// the same row), and the digests of the values it suppressed with the fingerprint of the
/// secret they were taken under. No email or phone number.
///
/// On the wire (one JSON object per line of a log):
/// `{"tenantId": "default", "customerId": 1, "contactIds": [1, 2], "erasedAt": "...",
/// "suppressed": true, "rows": [{"id": 1, "createdAt": "..."}, ...], "digests": [{"kind":
/// "email", "digest": "<64 hex digits>"}], "secret": "<16 hex digits>"}`.
///
/// ```
/// let line = r#"{"tenantId":"default","customerId":1,"contactIds":[1],
///   "erasedAt":"2026-11-22T10:00:00Z","suppressed":false,
///   "rows":[{"id":1,"createdAt":null}],"digests":[],"secret":null}"#;
/// let record = identity::ErasureRecord::from_json(&serde_json::from_str(line).unwrap())?;
/// assert_eq!(record.receipt().contact_ids, [identity::ContactId::new(1)]);
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ErasureRecord {
    /// The tenant whose customer was erased.
    pub tenant_id: TenantId,
    /// The receipt's customer: its primary at the time.
    pub customer_id: ContactId,
    /// The receipt's rows: the customer's visible rows, ascending.
    pub contact_ids: Vec<ContactId>,
    /// When (the database's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub erased_at: OffsetDateTime,
    /// Whether the erase suppressed the customer's values.
    pub suppressed: bool,
    /// Every row the erase deleted (its visible rows, and rows other programs had marked
    /// deleted that linked to them or carried their values), ascending.
    pub rows: Vec<ErasedRow>,
    /// The digests the erase added to the tenant's suppressed values.
    pub digests: Vec<SuppressedDigest>,
    /// The fingerprint of the store's secret the digests were taken under (`null` without
    /// digests): [`crate::Identity::reapply_erasures`] refuses digests under another secret.
    pub secret: Option<String>,
}

/// A row an erase deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ErasedRow {
    /// Its id.
    pub id: ContactId,
    /// When it was created; `null` in the records of erases made before the log existed, whose
    /// rows are then known by id alone.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
}

impl ErasedRow {
    /// The row `id`, created at `created_at` (unknown: `None`).
    #[must_use]
    pub fn new(id: ContactId, created_at: Option<OffsetDateTime>) -> Self {
        ErasedRow { id, created_at }
    }
}

/// A suppressed value: its kind and its keyed hash, as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct SuppressedDigest {
    /// `email` or `phone`.
    pub kind: IdentifierKind,
    /// HMAC-SHA256 of the value under the store's secret, 64 lowercase hex digits.
    pub digest: String,
}

impl SuppressedDigest {
    /// The digest of a value of `kind`.
    pub(crate) fn new(kind: IdentifierKind, digest: &Digest) -> Self {
        SuppressedDigest {
            kind,
            digest: hex(digest),
        }
    }

    /// The digest's bytes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Erasures`] when it is not 64 hex digits.
    pub(crate) fn bytes(&self) -> Result<Digest> {
        let mut out = [0u8; DIGEST_LEN];
        let text = self.digest.as_bytes();
        if text.len() != 2 * DIGEST_LEN {
            return Err(invalid("a digest must be 64 hex digits"));
        }
        for (i, pair) in text.chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(hi), Some(lo)) => out[i] = (hi * 16 + lo) as u8,
                _ => return Err(invalid("a digest must be 64 hex digits")),
            }
        }
        Ok(out)
    }
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::invalid(Field::Erasures, reason)
}

impl ErasureRecord {
    /// The record of an erase: `receipt`, the rows deleted (`rows`), and the digests added
    /// under the secret whose fingerprint is `secret`.
    pub(crate) fn new(
        tenant: &TenantId,
        receipt: &Erasure,
        mut rows: Vec<ErasedRow>,
        digests: Vec<SuppressedDigest>,
        secret: Option<String>,
    ) -> Self {
        rows.sort_by_key(|r| r.id);
        rows.dedup_by_key(|r| r.id);
        let secret = if digests.is_empty() { None } else { secret };
        ErasureRecord {
            tenant_id: tenant.clone(),
            customer_id: receipt.customer_id,
            contact_ids: receipt.contact_ids.clone(),
            erased_at: receipt.erased_at,
            suppressed: receipt.suppressed,
            rows,
            digests,
            secret,
        }
    }

    /// Reads a record from its wire shape, checking that it can be applied.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Erasures`] when a key is missing, unknown or of
    /// the wrong type, the tenant id is invalid, `contactIds` is empty, holds ids that are not
    /// positive, or ids missing from `rows`, `customerId` is not among them, a digest is not 64
    /// hex digits, or `secret` is missing where there are digests.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let record = ErasureRecord::deserialize(value).map_err(|e| invalid(e.to_string()))?;
        record.check()?;
        Ok(record)
    }

    /// Checks what deserializing cannot.
    fn check(&self) -> Result<()> {
        if self.contact_ids.is_empty() {
            return Err(invalid("contactIds must name at least one row"));
        }
        let ids = self
            .contact_ids
            .iter()
            .chain(self.rows.iter().map(|r| &r.id));
        if ids.clone().any(|id| id.get() <= 0) {
            return Err(invalid("row ids must be positive integers"));
        }
        if !self.contact_ids.contains(&self.customer_id) {
            return Err(invalid("customerId must be one of contactIds"));
        }
        if let Some(missing) = self
            .contact_ids
            .iter()
            .find(|id| !self.rows.iter().any(|r| r.id == **id))
        {
            return Err(invalid(format!("contact {missing} is missing from rows")));
        }
        for digest in &self.digests {
            digest.bytes()?;
        }
        match &self.secret {
            None if !self.digests.is_empty() => {
                Err(invalid("secret must name the secret of the digests"))
            }
            Some(s) if s.len() != 16 || !s.bytes().all(|c| c.is_ascii_hexdigit()) => {
                Err(invalid("secret must be 16 hex digits"))
            }
            _ => Ok(()),
        }
    }

    /// The receipt of the erase (what `erase` answers for any of its rows).
    #[must_use]
    pub fn receipt(&self) -> Erasure {
        Erasure {
            customer_id: self.customer_id,
            contact_ids: self.contact_ids.clone(),
            erased_at: self.erased_at,
            suppressed: self.suppressed,
        }
    }

    /// The record as one line of a log (no newline).
    #[must_use]
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A record as a store keeps it (its line).
///
/// # Errors
/// [`Error::CorruptGraph`] when the stored text is not a record.
pub(crate) fn stored_record(line: &str) -> Result<ErasureRecord> {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| ErasureRecord::from_json(&v).ok())
        .ok_or_else(|| Error::CorruptGraph {
            reason: "a stored erasure record does not parse".to_owned(),
        })
}

/// The records of erases made before records were kept, from their receipt rows
/// `(customer, contact, suppressed, erased_at)` ordered by customer: rows known by id alone, no
/// digests.
pub(crate) fn from_receipts(
    tenant: &TenantId,
    receipts: Vec<(i64, i64, bool, OffsetDateTime)>,
) -> Vec<ErasureRecord> {
    let mut records: Vec<ErasureRecord> = Vec::new();
    for (customer, contact, suppressed, at) in receipts {
        let (customer, contact) = (ContactId::new(customer), ContactId::new(contact));
        match records.last_mut() {
            Some(last) if last.customer_id == customer => {
                last.contact_ids.push(contact);
                last.rows.push(ErasedRow::new(contact, None));
            }
            _ => {
                let receipt = Erasure {
                    customer_id: customer,
                    contact_ids: vec![contact],
                    erased_at: at,
                    suppressed,
                };
                let rows = vec![ErasedRow::new(contact, None)];
                records.push(ErasureRecord::new(tenant, &receipt, rows, vec![], None));
            }
        }
    }
    records
}

/// The records of a log's text, one JSON object per line (blank lines skipped).
///
/// # Errors
/// As [`crate::ErasureLog::read`].
pub fn parse_lines(text: &str) -> Result<Vec<ErasureRecord>> {
    let mut records = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |reason: String| invalid(format!("line {}: {reason}", n + 1));
        let value = match serde_json::from_str::<serde_json::Value>(line) {
            Ok(value) => value,
            // cut short: a process stopped while writing it, before its erase committed
            Err(e) if e.classify() == serde_json::error::Category::Eof => continue,
            Err(e) => return Err(at(e.to_string())),
        };
        match ErasureRecord::from_json(&value) {
            Ok(record) => records.push(record),
            Err(Error::InvalidInput { reason, .. }) => return Err(at(reason)),
            Err(e) => return Err(e),
        }
    }
    Ok(records)
}

/// A record of two rows and one digest, for tests.
#[cfg(test)]
pub(crate) fn test_record() -> ErasureRecord {
    let receipt = Erasure {
        customer_id: ContactId::new(3),
        contact_ids: vec![ContactId::new(3), ContactId::new(4)],
        erased_at: OffsetDateTime::UNIX_EPOCH,
        suppressed: true,
    };
    let rows = vec![
        ErasedRow::new(ContactId::new(4), None),
        ErasedRow::new(ContactId::new(3), Some(OffsetDateTime::UNIX_EPOCH)),
    ];
    let digests = vec![SuppressedDigest::new(IdentifierKind::Email, &[0xab; 32])];
    ErasureRecord::new(
        &TenantId::default(),
        &receipt,
        rows,
        digests,
        Some("00112233445566ff".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_a_line_and_checks_what_it_holds() {
        let r = test_record();
        assert_eq!(r.rows[0].id, ContactId::new(3));
        assert_eq!(r.digests[0].bytes().unwrap(), [0xab; 32]);
        let line = r.to_line();
        assert!(line.starts_with(r#"{"tenantId":"default","customerId":3,"contactIds":[3,4]"#));
        assert_eq!(
            parse_lines(&format!("{line}\n\n{line}\n")).unwrap(),
            [r.clone(), r.clone()]
        );
        // a line cut short is left out; any other bad line is an error naming it
        let torn = format!("{line}\n{{\"tenantId\":\n{line}");
        assert_eq!(parse_lines(&torn).unwrap().len(), 2);
        let err = parse_lines(&format!("{line}\n{{\"x\":1}}\n{line}\n")).unwrap_err();
        assert!(
            err.to_string().contains("line 2: unknown field `x`"),
            "{err}"
        );
        let err = parse_lines("nope\n").unwrap_err();
        assert!(err.to_string().contains("line 1: expected"), "{err}");
        let broken = |edit: fn(&mut serde_json::Value)| {
            let mut v = serde_json::to_value(&r).unwrap();
            edit(&mut v);
            ErasureRecord::from_json(&v).unwrap_err().to_string()
        };
        assert!(broken(|v| v["contactIds"] = serde_json::json!([])).contains("at least one"));
        assert!(broken(|v| v["customerId"] = 9.into()).contains("one of contactIds"));
        assert!(broken(|v| v["rows"] = serde_json::json!([])).contains("missing from rows"));
        assert!(broken(|v| v["digests"][0]["digest"] = "zz".into()).contains("64 hex"));
        assert!(broken(|v| v["secret"] = serde_json::Value::Null).contains("secret"));
        assert!(broken(|v| v["tenantId"] = "a b".into()).contains("tenant"));
        assert!(broken(|v| v["contactIds"] = serde_json::json!([0])).contains("invalid"));
    }
}
