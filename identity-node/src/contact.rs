//! The consolidated customer as JavaScript sees it.

use napi_derive::napi;

use crate::blocked::Ignored;

/// The consolidated customer: a plain object, ready for `JSON.stringify`.
#[napi(object)]
pub struct Contact {
    /// The customer's primary row id.
    pub primary_contact_id: i64,
    /// Distinct emails, the primary's first, then by row id.
    pub emails: Vec<String>,
    /// Distinct phone numbers, the primary's first, then by row id.
    pub phone_numbers: Vec<String>,
    /// Every secondary row id, ascending.
    pub secondary_contact_ids: Vec<i64>,
    /// The request's values left out of linking, and why; absent when every value was used
    /// (so `JSON.stringify` keeps the wire shape).
    pub ignored: Option<Vec<Ignored>>,
}

impl From<identity::ConsolidatedContact> for Contact {
    fn from(c: identity::ConsolidatedContact) -> Self {
        Contact {
            primary_contact_id: c.primary_contact_id.get(),
            emails: c.emails.iter().map(ToString::to_string).collect(),
            phone_numbers: c.phone_numbers.iter().map(ToString::to_string).collect(),
            secondary_contact_ids: c.secondary_contact_ids.iter().map(|id| id.get()).collect(),
            ignored: (!c.ignored.is_empty()).then(|| c.ignored.iter().map(Ignored::from).collect()),
        }
    }
}
