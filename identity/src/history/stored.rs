//! How both SQL stores keep an event (`identity_event`): the columns of a [`Change`], and back.

use time::OffsetDateTime;

use crate::blocked::BlockedValue;
use crate::contact::{ContactId, Email, Phone};
use crate::error::{Error, Result};
use crate::identifier::IdentifierKind;

use super::{Change, HistoryEvent};

/// A recorded event as both SQL stores keep it (`identity_event`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct StoredEvent {
    pub seq: i64,
    pub customer: Option<i64>,
    pub kind: String,
    pub contact: Option<i64>,
    /// `merged`: the relinked ids, comma-separated.
    pub contacts: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub pattern: Option<String>,
    /// `created`: the kinds joined through, comma-separated; `blocked`: the entry's kind.
    pub via: Option<String>,
    pub at: OffsetDateTime,
    /// `split_off`: the rows that stayed, comma-separated.
    #[sqlx(default)]
    pub kept: Option<String>,
}

impl StoredEvent {
    /// The columns that record `change` for `customer` at `at` (`seq` is the store's to give).
    pub(crate) fn of(customer: Option<ContactId>, change: &Change, at: OffsetDateTime) -> Self {
        let owned = |v: &str| Some(v.to_owned());
        let values = change.values().unwrap_or_default();
        let (mut email, mut phone) = (
            values.0.and_then(|e| owned(e.as_str())),
            values.1.and_then(|p| owned(p.as_str())),
        );
        let (mut pattern, mut via) = (None, None);
        if let Some(kinds) = change.via() {
            let has = |k| kinds.contains(&k);
            via = via_text(has(IdentifierKind::Email), has(IdentifierKind::Phone)).and_then(owned);
        }
        if let Some(entry) = change.entry() {
            via = owned(entry.kind().as_str());
            match (entry.is_pattern(), entry.kind()) {
                (true, _) => pattern = owned(entry.text()),
                (false, IdentifierKind::Email) => email = owned(entry.text()),
                (false, IdentifierKind::Phone) => phone = owned(entry.text()),
            }
        }
        // the other customer and the rows: of a merge (absorbed, relinked), of a split; the
        // rows of an erase
        let other = change.merged().or(change.split());
        let rows = other.map(|(_, rows)| rows).or(change.erased());
        let ids = |relinked: &[ContactId]| {
            let ids: Vec<String> = relinked.iter().map(|id| id.get().to_string()).collect();
            ids.join(",")
        };
        StoredEvent {
            seq: 0,
            customer: customer.map(ContactId::get),
            kind: change.kind().to_owned(),
            contact: change
                .contact()
                .or(other.map(|(a, _)| a))
                .map(ContactId::get),
            contacts: rows.map(ids),
            email,
            phone,
            pattern,
            via,
            at,
            kept: match change {
                Change::SplitOff { kept, .. } => Some(ids(kept)),
                _ => None,
            },
        }
    }

    /// The events `rows` record, in their order.
    pub(crate) fn decode_all(rows: Vec<StoredEvent>) -> Result<Vec<HistoryEvent>> {
        rows.into_iter().map(StoredEvent::decode).collect()
    }

    /// The event it records.
    pub(crate) fn decode(self) -> Result<HistoryEvent> {
        let corrupt = |what: &str| Error::CorruptGraph {
            reason: format!("history event {} {what}", self.seq),
        };
        let email = self.email.clone().map(Email::from_record);
        let phone_number = self.phone.clone().map(Phone::from_record);
        let contact = self.contact.map(ContactId::new);
        let ids = |text: &Option<String>| -> Result<Vec<ContactId>> {
            ContactId::stored_list(text.as_deref())
                .ok_or_else(|| corrupt("has a malformed id list"))
        };
        let entry = || -> Result<BlockedValue> {
            let kind = self.via.as_deref().unwrap_or("");
            match (&self.pattern, &self.email, &self.phone) {
                (Some(p), ..) => BlockedValue::stored(kind, true, p),
                (None, Some(v), _) | (None, None, Some(v)) => BlockedValue::stored(kind, false, v),
                _ => Err(corrupt("names no blocked entry")),
            }
        };
        let change = match self.kind.as_str() {
            "existing" => Change::Existing {
                contact: contact.ok_or_else(|| corrupt("names no row"))?,
                email,
                phone_number,
            },
            "created" => Change::Created {
                contact: contact.ok_or_else(|| corrupt("names no row"))?,
                email,
                phone_number,
                via: kinds(self.via.as_deref()),
            },
            "merged" => Change::Merged {
                absorbed: contact.ok_or_else(|| corrupt("names no absorbed customer"))?,
                relinked: ids(&self.contacts)?,
                email,
                phone_number,
            },
            "split_off" => Change::SplitOff {
                into: contact.ok_or_else(|| corrupt("names no new customer"))?,
                moved: ids(&self.contacts)?,
                kept: ids(&self.kept)?,
            },
            "split_from" => Change::SplitFrom {
                from: contact.ok_or_else(|| corrupt("names no customer split from"))?,
                moved: ids(&self.contacts)?,
            },
            "erased" => Change::Erased {
                erased: ids(&self.contacts)?,
            },
            "blocked" => Change::Blocked { entry: entry()? },
            "unblocked" => Change::Unblocked { entry: entry()? },
            _ => return Err(corrupt("has an unknown type")),
        };
        Ok(HistoryEvent {
            at: self.at,
            customer: self.customer.map(ContactId::new),
            change,
            seq: self.seq,
        })
    }
}

/// `email`, `phone`, `email,phone` as kinds.
pub(crate) fn kinds(text: Option<&str>) -> Vec<IdentifierKind> {
    let text = text.unwrap_or("");
    let mut kinds = Vec::new();
    if text.split(',').any(|k| k == "email") {
        kinds.push(IdentifierKind::Email);
    }
    if text.split(',').any(|k| k == "phone") {
        kinds.push(IdentifierKind::Phone);
    }
    kinds
}

/// The stored spelling of the kinds a row joined through: `email`, `phone`, `email,phone`, or
/// `None`.
pub(crate) fn via_text(email: bool, phone: bool) -> Option<&'static str> {
    match (email, phone) {
        (true, true) => Some("email,phone"),
        (true, false) => Some("email"),
        (false, true) => Some("phone"),
        (false, false) => None,
    }
}
