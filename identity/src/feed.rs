//! The change feed: every change to a tenant's customers as an event a program can follow, in
//! the order the changes committed, from the write that made the change (same transaction).
//!
//! Five types of event ([`FeedChange`]): `contact.created`, `contact.linked`, `customer.merged`,
//! `customer.split` and `customer.erased`. An import writes the same events as identify would
//! have: one `contact.created` per imported customer's primary and one `contact.linked` per
//! secondary row, in the order of the rows' ids. Each [`FeedEvent`] has an `id` that never
//! changes and a [`Cursor`]: reading "the events after this cursor" never skips an event,
//! even when transactions commit in another order than the one they began in, and cursors stay
//! valid across restarts (they are positions stored with the events) until retention prunes
//! the events they point into.
//!
//! [`Identity::events`](crate::Identity::events) reads a page,
//! [`Identity::events_wait`](crate::Identity::events_wait) waits for one (long poll) and
//! [`Identity::feed`](crate::Identity::feed) follows the feed as a `Stream`.
//!
//! An erase removes the erased rows' emails and phone numbers from the events already in the
//! feed (as it does from history): a reader that comes later sees their `contact.created` and
//! `contact.linked` events with `null` values. `customer.erased` names the erased ids only.

pub(crate) mod stored;
mod wire;

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::contact::{ContactId, Email, Phone};
use crate::error::{Error, Field, Result};
use crate::tenant::TenantId;

/// The most events one page carries.
pub const MAX_PAGE: usize = 1000;

/// The page size when the caller names none.
pub const DEFAULT_PAGE: usize = 100;

/// How often a reader waiting for new events looks again when nothing woke it (writes through
/// the same handle wake it at once; writes from another process are seen at the next look).
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// The shortest time between two looks of a waiting reader that was woken (a burst of writes
/// wakes it once per look, not once per write).
pub(crate) const MIN_LOOK: std::time::Duration = std::time::Duration::from_millis(10);

/// How long the HTTP service keeps events unless told otherwise: 30 days.
pub const DEFAULT_RETENTION: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// The longest a wait for new events may last.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A place in a tenant's feed: "after this event". Opaque on the wire (a short string); keep it
/// and hand it back to read on from there.
///
/// ```
/// use identity::feed::Cursor;
/// let cursor: Cursor = "f1.2a".parse()?;
/// assert_eq!(cursor.to_string(), "f1.2a");
/// assert!("42".parse::<Cursor>().is_err());
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor(u64);

impl Cursor {
    /// The cursor before the tenant's first event ever written.
    pub const START: Cursor = Cursor(0);

    /// The cursor after the event at `position` of its tenant's feed.
    pub(crate) fn at(position: u64) -> Self {
        Cursor(position)
    }

    /// The position of the event it follows (0: none).
    pub(crate) fn position(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "f1.{:x}", self.0)
    }
}

impl FromStr for Cursor {
    type Err = Error;

    /// Reads a cursor this library wrote.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Cursor`] for any other text.
    fn from_str(text: &str) -> Result<Self> {
        let invalid = || Error::InvalidInput {
            field: Field::Cursor,
            reason: "is not a cursor of this feed (pass back a `cursor` or `next` it gave)".into(),
        };
        let hex = text.strip_prefix("f1.").ok_or_else(invalid)?;
        if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        u64::from_str_radix(hex, 16)
            .map(Cursor)
            .map_err(|_| invalid())
    }
}

/// One customer as a split left it: its primary and all of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitCustomer {
    /// The customer's primary.
    pub primary: ContactId,
    /// Its rows (the primary among them), ascending.
    pub contacts: Vec<ContactId>,
}

/// What an event says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedChange {
    /// A new customer: its first row, the primary (`contact.created`).
    ContactCreated {
        /// The row (and customer's primary).
        contact: ContactId,
        /// Its email (`None` also once erased).
        email: Option<Email>,
        /// Its phone number (`None` also once erased).
        phone_number: Option<Phone>,
    },
    /// A new secondary row of an existing customer (`contact.linked`).
    ContactLinked {
        /// The row.
        contact: ContactId,
        /// The customer's primary.
        primary: ContactId,
        /// Its email (`None` also once erased).
        email: Option<Email>,
        /// Its phone number (`None` also once erased).
        phone_number: Option<Phone>,
    },
    /// Two customers became one (`customer.merged`): every row of the absorbed customer now
    /// links to the kept primary.
    CustomerMerged {
        /// The primary kept (the older customer's).
        primary: ContactId,
        /// The absorbed customer's primary, now a secondary of `primary`.
        merged_primary: ContactId,
        /// The rows that moved: the absorbed primary and its secondaries, ascending.
        contacts: Vec<ContactId>,
    },
    /// A customer was split in two (`customer.split`): the one that kept its primary first,
    /// then the new one, each with all of its rows.
    CustomerSplit {
        /// The two customers.
        customers: Vec<SplitCustomer>,
    },
    /// A customer's rows were erased (`customer.erased`); only their ids are told.
    CustomerErased {
        /// The rows deleted, ascending.
        contacts: Vec<ContactId>,
    },
}

impl FeedChange {
    /// Every event type, in the order of [`FeedChange`]'s variants.
    pub const TYPES: [&'static str; 5] = [
        "contact.created",
        "contact.linked",
        "customer.merged",
        "customer.split",
        "customer.erased",
    ];

    /// The event's type: one of [`FeedChange::TYPES`].
    #[must_use]
    pub fn kind(&self) -> &'static str {
        let i = match self {
            FeedChange::ContactCreated { .. } => 0,
            FeedChange::ContactLinked { .. } => 1,
            FeedChange::CustomerMerged { .. } => 2,
            FeedChange::CustomerSplit { .. } => 3,
            FeedChange::CustomerErased { .. } => 4,
        };
        FeedChange::TYPES[i]
    }
}

/// One event of a tenant's feed.
///
/// On the wire: `{"id", "type", "tenant", "occurredAt", "cursor", "data"}`, `data` in camelCase
/// (`contactId`, `primaryContactId`, `mergedPrimaryContactId`, `contactIds`, `customers`,
/// `email`, `phoneNumber`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedEvent {
    /// Its id (`evt_` and a number), the same on every read and every delivery.
    pub id: String,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// When the change happened (for an imported row: the row's creation time).
    pub occurred_at: OffsetDateTime,
    /// The cursor just after it.
    pub cursor: Cursor,
    /// What happened.
    pub change: FeedChange,
}

/// A page of a tenant's feed: the events after the cursor asked for, oldest first, and the
/// cursor to ask for next (the last event's, or the one asked for when there was none).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedPage {
    /// The events, in commit order.
    pub events: Vec<FeedEvent>,
    /// Where the next page starts.
    pub next: Cursor,
}

/// A page size as asked for: 1 to [`MAX_PAGE`].
///
/// # Errors
/// [`Error::InvalidInput`] naming [`Field::Limit`] otherwise.
pub fn page_size(limit: usize) -> Result<usize> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::InvalidInput {
            field: Field::Limit,
            reason: format!("must be from 1 to {MAX_PAGE}"),
        })
    }
}

/// A wait as asked for: at most [`MAX_WAIT`].
///
/// # Errors
/// [`Error::InvalidInput`] naming [`Field::Wait`] when longer.
pub fn wait_time(wait: std::time::Duration) -> Result<std::time::Duration> {
    if wait <= MAX_WAIT {
        Ok(wait)
    } else {
        Err(Error::InvalidInput {
            field: Field::Wait,
            reason: format!("must be at most {} seconds", MAX_WAIT.as_secs()),
        })
    }
}

/// How many of a tenant's oldest events retention reads at a time, looking for where to cut.
pub(crate) const PRUNE_WINDOW: usize = 1000;

/// How many positions retention deletes in one transaction.
pub(crate) const PRUNE_CHUNK: u64 = 5000;

/// Where retention cuts a tenant's feed: after the last event older than `before` that has
/// only older events before it, read window by window from the oldest. An imported row's
/// event (`existing`) carries the row's own time, not when it was written, so it never decides
/// the cut: it goes with the first later event that is old enough.
#[derive(Debug)]
pub(crate) struct PruneScan {
    before: OffsetDateTime,
    /// The position to prune through, if any.
    pub cut: Option<u64>,
    /// Whether an event too recent to prune was met (no window needs reading after it).
    pub stopped: bool,
}

impl PruneScan {
    /// A scan pruning what is older than `before`.
    pub(crate) fn new(before: OffsetDateTime) -> Self {
        PruneScan {
            before,
            cut: None,
            stopped: false,
        }
    }

    /// Reads the next window (`position`, `kind`, `at`, in position order); whether another
    /// window should be read.
    pub(crate) fn read(&mut self, window: &[(i64, String, OffsetDateTime)]) -> bool {
        for (position, kind, at) in window {
            if kind == "existing" {
                continue;
            }
            if *at >= self.before {
                self.stopped = true;
                return false;
            }
            self.cut = u64::try_from(*position).ok();
        }
        window.len() == PRUNE_WINDOW
    }
}

/// What [`Identity::prune_events`](crate::Identity::prune_events) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PruneReport {
    /// The events deleted, over every tenant.
    pub events: u64,
    /// The tenants whose feed lost events.
    pub tenants: u64,
}

#[cfg(test)]
mod tests;
