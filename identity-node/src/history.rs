//! History for JavaScript: `History` and `HistoryEvent` as plain objects in the JSON wire shape
//! (so `JSON.stringify` gives what the HTTP service answers), and the contact id argument.

use identity::{ContactId, Email, Phone};
use napi::ValueType;
use napi::bindgen_prelude::{Either, Null, Unknown};
use napi_derive::napi;
use time::format_description::well_known::Rfc3339;

use crate::blocked::BlockedEntry;
use crate::errors::Failure;

/// One recorded change; `type` says which other fields it has.
#[napi(object)]
pub struct HistoryEvent {
    /// `'existing'` (the row was there when history began), `'created'`, `'merged'`,
    /// `'blocked'`, `'unblocked'`, `'split_off'`, `'split_from'` or `'erased'`.
    #[napi(
        js_name = "type",
        ts_type = "'existing' | 'created' | 'merged' | 'blocked' | 'unblocked' | 'split_off' | 'split_from' | 'erased'"
    )]
    pub kind: String,
    /// When it was recorded, as an RFC 3339 string in UTC (`new Date(at)` reads it).
    pub at: String,
    /// The customer it happened to, by its primary at the time; absent for a change of the
    /// tenant's blocked list.
    pub customer_id: Option<i64>,
    /// `existing`, `created`: the row.
    pub contact_id: Option<i64>,
    /// `merged`: the absorbed customer's primary.
    pub absorbed_id: Option<i64>,
    /// `merged`: the rows relinked to the kept primary.
    pub relinked_ids: Option<Vec<i64>>,
    /// `split_off`: the new customer's primary; `split_from`: the primary of the customer split.
    pub other_customer_id: Option<i64>,
    /// `split_off`, `split_from`: the rows moved to the new customer.
    pub moved_ids: Option<Vec<i64>>,
    /// `erased`: the rows deleted (the emails and phone numbers of the customer's events are
    /// null from then on).
    pub erased_ids: Option<Vec<i64>>,
    /// `existing`, `created`: the row's email; `merged`: the request's.
    pub email: Option<Either<String, Null>>,
    /// `existing`, `created`: the row's phone number; `merged`: the request's.
    pub phone_number: Option<Either<String, Null>>,
    /// `created`: the kinds the row joined its customer through (empty: it started one).
    #[napi(ts_type = "Array<'email' | 'phone'>")]
    pub via: Option<Vec<String>>,
    /// `blocked`, `unblocked`: the entry.
    pub entry: Option<BlockedEntry>,
}

/// The answer of `history()`.
#[napi(object)]
pub struct History {
    /// The contact id that was asked about.
    pub asked_id: i64,
    /// The customer it is part of now (its primary id).
    pub customer_id: i64,
    /// The events of that customer and of every customer it absorbed, with the blocked-list
    /// changes that concern its values; oldest first.
    pub events: Vec<HistoryEvent>,
    /// When retention pruned the tenant's events: the time (RFC 3339) before which they were
    /// deleted, so the events tell only what happened since; absent while nothing was pruned.
    pub pruned_before: Option<String>,
}

impl From<&identity::HistoryEvent> for HistoryEvent {
    fn from(e: &identity::HistoryEvent) -> Self {
        let change = &e.change;
        // present (as null when absent) whenever the event has values, as on the wire
        let text = |v: Option<&str>| match v {
            Some(v) => Either::A(v.to_owned()),
            None => Either::B(Null),
        };
        let values = change.values();
        HistoryEvent {
            kind: change.kind().to_owned(),
            at: e.at.format(&Rfc3339).unwrap_or_default(),
            customer_id: e.customer.map(ContactId::get),
            contact_id: change.contact().map(ContactId::get),
            absorbed_id: change.merged().map(|(absorbed, _)| absorbed.get()),
            relinked_ids: change
                .merged()
                .map(|(_, relinked)| relinked.iter().map(|id| id.get()).collect()),
            other_customer_id: change.split().map(|(other, _)| other.get()),
            moved_ids: change
                .split()
                .map(|(_, moved)| moved.iter().map(|id| id.get()).collect()),
            erased_ids: change
                .erased()
                .map(|erased| erased.iter().map(|id| id.get()).collect()),
            email: values.map(|(e, _)| text(e.map(Email::as_str))),
            phone_number: values.map(|(_, p)| text(p.map(Phone::as_str))),
            via: change
                .via()
                .map(|kinds| kinds.iter().map(|k| k.as_str().to_owned()).collect()),
            entry: change.entry().map(BlockedEntry::from),
        }
    }
}

impl From<identity::History> for History {
    fn from(h: identity::History) -> Self {
        History {
            asked_id: h.asked.get(),
            customer_id: h.customer.get(),
            events: h.events.iter().map(HistoryEvent::from).collect(),
            pruned_before: h
                .pruned_before
                .map(|t| t.format(&Rfc3339).unwrap_or_default()),
        }
    }
}

/// A contact id argument: a positive integer (number or bigint); anything else is
/// `INVALID_INPUT` with `field: 'contactId'`.
pub fn contact_id(input: &Unknown<'_>) -> Result<ContactId, Failure> {
    let bad = || {
        Failure::invalid(
            "contactId",
            "invalid contact id: must be a positive integer",
        )
    };
    let id = match input.get_type().map_err(|_| bad())? {
        ValueType::Number => {
            // SAFETY: the type was checked just above.
            let n: f64 = unsafe { input.cast() }.map_err(|_| bad())?;
            if n.fract() != 0.0 || !(1.0..=9_007_199_254_740_991.0).contains(&n) {
                return Err(bad());
            }
            #[allow(clippy::cast_possible_truncation)] // checked range
            let id = n as i64;
            id
        }
        ValueType::BigInt => {
            // SAFETY: the type was checked just above.
            let n: napi::bindgen_prelude::BigInt = unsafe { input.cast() }.map_err(|_| bad())?;
            let (id, lossless) = n.get_i64();
            if !lossless || id < 1 {
                return Err(bad());
            }
            id
        }
        _ => return Err(bad()),
    };
    Ok(ContactId::new(id))
}
