//! A feed event as both SQL stores keep it: a row of `identity_event` of one of the kinds the
//! feed tells, read back as a [`FeedEvent`].

use time::OffsetDateTime;

use crate::contact::{ContactId, Email, Phone};
use crate::error::{Error, Field, Result};
use crate::tenant::TenantId;

use super::{Cursor, FeedChange, FeedEvent, FeedPage, SplitCustomer};

/// A stored event of a kind the feed tells: `existing`, `created`, `merged`, `split_off`,
/// `erased` (the stores' page queries name them; `split_from` is the other half of a
/// `split_off`, and the blocked list's changes are the tenant's settings, not its customers).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct StoredFeedRow {
    pub seq: i64,
    pub position: i64,
    pub customer: Option<i64>,
    pub kind: String,
    pub contact: Option<i64>,
    /// `merged`: the relinked ids; `split_off`: the moved ones; `erased`: the deleted ones;
    /// comma-separated.
    pub contacts: Option<String>,
    /// `split_off`: the rows that stayed, comma-separated.
    pub kept: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub at: OffsetDateTime,
}

impl StoredFeedRow {
    /// The event it records, for `tenant`.
    pub(crate) fn decode(self, tenant: &TenantId) -> Result<FeedEvent> {
        let corrupt = |what: &str| Error::CorruptGraph {
            reason: format!("history event {} {what}", self.seq),
        };
        let ids = |text: &Option<String>| -> Result<Vec<ContactId>> {
            ContactId::stored_list(text.as_deref())
                .ok_or_else(|| corrupt("has a malformed id list"))
        };
        let contact = self.contact.map(ContactId::new);
        let customer = self.customer.map(ContactId::new);
        let email = self.email.clone().map(Email::from_record);
        let phone_number = self.phone.clone().map(Phone::from_record);
        let change = match self.kind.as_str() {
            "existing" | "created" => {
                let contact = contact.ok_or_else(|| corrupt("names no row"))?;
                match customer {
                    Some(primary) if primary != contact => FeedChange::ContactLinked {
                        contact,
                        primary,
                        email,
                        phone_number,
                    },
                    _ => FeedChange::ContactCreated {
                        contact,
                        email,
                        phone_number,
                    },
                }
            }
            "merged" => FeedChange::CustomerMerged {
                primary: customer.ok_or_else(|| corrupt("names no customer"))?,
                merged_primary: contact.ok_or_else(|| corrupt("names no absorbed customer"))?,
                contacts: ids(&self.contacts)?,
            },
            "split_off" => FeedChange::CustomerSplit {
                customers: vec![
                    SplitCustomer {
                        primary: customer.ok_or_else(|| corrupt("names no customer"))?,
                        contacts: ids(&self.kept)?,
                    },
                    SplitCustomer {
                        primary: contact.ok_or_else(|| corrupt("names no new customer"))?,
                        contacts: ids(&self.contacts)?,
                    },
                ],
            },
            "erased" => FeedChange::CustomerErased {
                contacts: ids(&self.contacts)?,
            },
            _ => return Err(corrupt("is not of a type the feed tells")),
        };
        let position = u64::try_from(self.position).map_err(|_| corrupt("has no position"))?;
        Ok(FeedEvent {
            id: format!("evt_{}", self.seq),
            tenant: tenant.clone(),
            occurred_at: self.at,
            cursor: Cursor::at(position),
            change,
        })
    }
}

/// The page that `rows` (the stored events after `after`, at most `limit`, read in one snapshot
/// with the feed's bounds) make.
///
/// # Errors
/// [`Error::CursorExpired`] when `after` points before the oldest retained event;
/// [`Error::InvalidInput`] naming [`Field::Cursor`] when it points past the last event written;
/// [`Error::CorruptGraph`] for an event the feed cannot read.
pub(crate) fn page(
    tenant: &TenantId,
    after: Option<Cursor>,
    bounds: FeedBounds,
    rows: Vec<StoredFeedRow>,
) -> Result<FeedPage> {
    let start = start(after, bounds)?;
    let events = rows
        .into_iter()
        .map(|row| row.decode(tenant))
        .collect::<Result<Vec<_>>>()?;
    let next = events.last().map_or(start, |e| e.cursor);
    Ok(FeedPage { events, next })
}

/// Where reading from after `after` starts (the floor when `None`), checked against the
/// feed's `bounds`.
///
/// # Errors
/// [`Error::CursorExpired`] when `after` points before the oldest retained event;
/// [`Error::InvalidInput`] naming [`Field::Cursor`] when it points past the last event written.
pub(crate) fn start(after: Option<Cursor>, bounds: FeedBounds) -> Result<Cursor> {
    match after {
        None => Ok(Cursor(bounds.floor)),
        Some(cursor) if cursor.0 < bounds.floor => Err(Error::CursorExpired {
            oldest: Cursor(bounds.floor).to_string(),
        }),
        Some(cursor) if cursor.0 > bounds.head => Err(Error::InvalidInput {
            field: Field::Cursor,
            reason: "points past the last event of this tenant's feed".into(),
        }),
        Some(cursor) => Ok(cursor),
    }
}

/// A tenant's feed bounds, read with its events: the highest position pruned (`floor`) and
/// the highest written (`head`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FeedBounds {
    pub floor: u64,
    pub head: u64,
}
