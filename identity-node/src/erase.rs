//! Erase for JavaScript: the `Erasure` receipt as a plain object in the JSON wire shape.

use identity::ContactId;
use napi_derive::napi;
use time::format_description::well_known::Rfc3339;

/// The receipt of `erase()`: which customer, which rows, when, and whether its values were
/// suppressed. It holds no personal data; erasing again answers the same receipt.
#[napi(object)]
pub struct Erasure {
    /// The customer erased, by its primary at the time.
    pub customer_id: i64,
    /// Its rows, hard-deleted, ascending.
    pub contact_ids: Vec<i64>,
    /// When, as an RFC 3339 string in UTC (`new Date(erasedAt)` reads it).
    pub erased_at: String,
    /// Whether the erase was asked to suppress the customer's values (later requests carrying
    /// them ignore them, reason `'suppressed'`).
    pub suppressed: bool,
}

impl From<identity::Erasure> for Erasure {
    fn from(e: identity::Erasure) -> Self {
        Erasure {
            customer_id: e.customer_id.get(),
            contact_ids: e.contact_ids.iter().map(|id| ContactId::get(*id)).collect(),
            erased_at: e.erased_at.format(&Rfc3339).unwrap_or_default(),
            suppressed: e.suppressed,
        }
    }
}
