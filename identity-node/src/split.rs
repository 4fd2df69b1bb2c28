//! Split for JavaScript: the `Split` answer as a plain object in the JSON wire shape, and the
//! `contactIds` and options arguments.

use identity::ContactId;
use napi::ValueType;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::Contact;
use crate::blocked::BlockedEntry;
use crate::errors::Failure;
use crate::history::contact_id;

/// What `split()` did.
#[napi(object)]
pub struct Split {
    /// The customer that keeps its primary, with the rows that stay.
    pub customer: Contact,
    /// The new customer: the rows moved, led by the oldest of them.
    pub new_customer: Contact,
    /// The entries this split added to the blocked list (the values the parts shared, with
    /// `blockShared`).
    pub blocked: Vec<BlockedEntry>,
}

impl From<identity::Split> for Split {
    fn from(s: identity::Split) -> Self {
        Split {
            blocked: s.blocked.iter().map(BlockedEntry::from).collect(),
            customer: Contact::from(s.customer),
            new_customer: Contact::from(s.new_customer),
        }
    }
}

/// The rows to move: an array of positive integers (numbers or bigints); anything else is
/// `INVALID_INPUT` with `field: 'contactIds'`.
pub fn contact_ids(input: &Unknown<'_>) -> Result<Vec<ContactId>, Failure> {
    let bad = || {
        Failure::invalid(
            "contactIds",
            "invalid contact ids: must be an array of positive integers",
        )
    };
    if input.get_type().map_err(|_| bad())? != ValueType::Object {
        return Err(bad());
    }
    // SAFETY: the value is an object; reading it as an array fails for any other object.
    let items: Vec<Unknown<'_>> = unsafe { input.cast() }.map_err(|_| bad())?;
    items
        .iter()
        .map(|item| contact_id(item).map_err(|_| bad()))
        .collect()
}
