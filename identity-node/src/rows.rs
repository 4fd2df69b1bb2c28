//! Rows for JavaScript: `allContacts()` resolves to the tenant's visible `contact` rows as
//! plain objects in the task's `Contact` wire shape.

use napi::bindgen_prelude::{Either, Null};
use napi_derive::napi;
use time::format_description::well_known::Rfc3339;

/// One visible row of the `contact` table: the data model the customers are derived from.
#[napi(object)]
pub struct ContactRow {
    /// The row id.
    pub id: i64,
    /// The row's email, or `null`.
    #[napi(ts_type = "string | null")]
    pub email: Either<String, Null>,
    /// The row's phone number, or `null`.
    #[napi(ts_type = "string | null")]
    pub phone_number: Either<String, Null>,
    /// The primary this secondary row links to, or `null` for a primary.
    #[napi(ts_type = "number | null")]
    pub linked_id: Either<i64, Null>,
    /// `'primary'` or `'secondary'`.
    #[napi(ts_type = "'primary' | 'secondary'")]
    pub link_precedence: String,
    /// When the row was inserted, as an RFC 3339 string in UTC (`new Date(createdAt)` reads it).
    pub created_at: String,
    /// When the row was last changed, as an RFC 3339 string in UTC.
    pub updated_at: String,
}

fn or_null<T>(value: Option<T>) -> Either<T, Null> {
    value.map_or(Either::B(Null), Either::A)
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl From<identity::Contact> for ContactRow {
    fn from(c: identity::Contact) -> Self {
        ContactRow {
            id: c.id.get(),
            linked_id: or_null(c.linked_id().map(identity::ContactId::get)),
            link_precedence: c.link.precedence().to_owned(),
            email: or_null(c.email.map(|e| e.as_str().to_owned())),
            phone_number: or_null(c.phone_number.map(|p| p.as_str().to_owned())),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// A customer as its rows show it: its primary's id and every visible row, by id (the answer of
/// `customer()`, as `GET /admin/customers/{id}` answers it).
#[napi(object)]
pub struct Customer {
    /// The customer's primary row id.
    pub customer_id: i64,
    /// Its visible rows, by id, the primary among them.
    pub rows: Vec<ContactRow>,
}

impl From<identity::Customer> for Customer {
    fn from(c: identity::Customer) -> Self {
        Customer {
            customer_id: c.customer_id.get(),
            rows: c.rows.into_iter().map(ContactRow::from).collect(),
        }
    }
}
