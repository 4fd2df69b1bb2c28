//! The change feed for JavaScript: `FeedEvent` and `EventsPage` as plain objects in the JSON
//! wire shape (so `JSON.stringify` gives what `GET /events` answers), and the options of
//! `events()`, read strictly. `feed()`, the async iterator, is written in JavaScript over
//! `events()` (`feed.js`).

use std::time::Duration;

use identity::feed::Cursor;
use identity::{Email, FeedChange, Phone};
use napi::ValueType;
use napi::bindgen_prelude::{Either, Null, Object, Unknown};
use napi_derive::napi;
use time::format_description::well_known::Rfc3339;

use crate::errors::Failure;

/// One customer as a split left it.
#[napi(object)]
pub struct SplitCustomer {
    /// Its primary.
    pub primary_contact_id: i64,
    /// All of its rows, ascending.
    pub contact_ids: Vec<i64>,
}

/// What an event says happened; which fields it has depends on the event's `type`.
#[napi(object)]
pub struct FeedData {
    /// `contact.created`, `contact.linked`: the new row.
    pub contact_id: Option<i64>,
    /// `contact.linked`: the customer's primary; `customer.merged`: the primary kept.
    pub primary_contact_id: Option<i64>,
    /// `contact.created`, `contact.linked`: the row's email (null when it has none, or since
    /// it was erased).
    pub email: Option<Either<String, Null>>,
    /// `contact.created`, `contact.linked`: the row's phone number (null likewise).
    pub phone_number: Option<Either<String, Null>>,
    /// `customer.merged`: the absorbed customer's primary.
    pub merged_primary_contact_id: Option<i64>,
    /// `customer.merged`: the rows that moved; `customer.erased`: the rows deleted.
    pub contact_ids: Option<Vec<i64>>,
    /// `customer.split`: the customer that kept its primary, then the new one.
    pub customers: Option<Vec<SplitCustomer>>,
}

/// One event of a tenant's change feed.
#[napi(object)]
pub struct FeedEvent {
    /// The event's id (`'evt_...'`), the same on every read and delivery.
    pub id: String,
    /// What happened.
    #[napi(
        js_name = "type",
        ts_type = "'contact.created' | 'contact.linked' | 'customer.merged' | 'customer.split' | 'customer.erased'"
    )]
    pub kind: String,
    /// The tenant it belongs to.
    pub tenant: String,
    /// When the change happened, as an RFC 3339 string in UTC.
    pub occurred_at: String,
    /// The cursor just after this event: pass it as `after` to read on from here.
    pub cursor: String,
    /// The event's data.
    pub data: FeedData,
}

/// The answer of `events()`.
#[napi(object)]
pub struct EventsPage {
    /// The events, in commit order.
    pub events: Vec<FeedEvent>,
    /// The cursor to pass as `after` for the next page.
    pub next: String,
}

fn text(value: Option<&str>) -> Option<Either<String, Null>> {
    Some(match value {
        Some(v) => Either::A(v.to_owned()),
        None => Either::B(Null),
    })
}

fn ids(list: &[identity::ContactId]) -> Vec<i64> {
    list.iter().map(|id| id.get()).collect()
}

impl From<identity::FeedEvent> for FeedEvent {
    fn from(e: identity::FeedEvent) -> Self {
        let empty = FeedData {
            contact_id: None,
            primary_contact_id: None,
            email: None,
            phone_number: None,
            merged_primary_contact_id: None,
            contact_ids: None,
            customers: None,
        };
        let data = match &e.change {
            FeedChange::ContactCreated {
                contact,
                email,
                phone_number,
            } => FeedData {
                contact_id: Some(contact.get()),
                email: text(email.as_ref().map(Email::as_str)),
                phone_number: text(phone_number.as_ref().map(Phone::as_str)),
                ..empty
            },
            FeedChange::ContactLinked {
                contact,
                primary,
                email,
                phone_number,
            } => FeedData {
                contact_id: Some(contact.get()),
                primary_contact_id: Some(primary.get()),
                email: text(email.as_ref().map(Email::as_str)),
                phone_number: text(phone_number.as_ref().map(Phone::as_str)),
                ..empty
            },
            FeedChange::CustomerMerged {
                primary,
                merged_primary,
                contacts,
            } => FeedData {
                primary_contact_id: Some(primary.get()),
                merged_primary_contact_id: Some(merged_primary.get()),
                contact_ids: Some(ids(contacts)),
                ..empty
            },
            FeedChange::CustomerSplit { customers } => FeedData {
                customers: Some(
                    customers
                        .iter()
                        .map(|c| SplitCustomer {
                            primary_contact_id: c.primary.get(),
                            contact_ids: ids(&c.contacts),
                        })
                        .collect(),
                ),
                ..empty
            },
            FeedChange::CustomerErased { contacts } => FeedData {
                contact_ids: Some(ids(contacts)),
                ..empty
            },
            // a type added to the core: its name, without data, until this binding knows it
            _ => empty,
        };
        FeedEvent {
            id: e.id,
            kind: e.change.kind().to_owned(),
            tenant: e.tenant.as_str().to_owned(),
            occurred_at: e.occurred_at.format(&Rfc3339).unwrap_or_default(),
            cursor: e.cursor.to_string(),
            data,
        }
    }
}

impl From<identity::FeedPage> for EventsPage {
    fn from(page: identity::FeedPage) -> Self {
        EventsPage {
            events: page.events.into_iter().map(FeedEvent::from).collect(),
            next: page.next.to_string(),
        }
    }
}

/// What `events()` was asked: `{ after?: string, limit?: number, wait?: number }`.
pub struct EventsQuery {
    pub after: Option<Cursor>,
    pub limit: usize,
    pub wait: Duration,
}

/// Reads `events()`'s options (`undefined`, `null` or an object); a wrong type is
/// `INVALID_INPUT` naming the option (`after`, `limit`, `wait`), as is a value the core refuses.
pub fn query(options: Option<&Unknown<'_>>) -> Result<EventsQuery, Failure> {
    let mut query = EventsQuery {
        after: None,
        limit: identity::feed::DEFAULT_PAGE,
        wait: Duration::ZERO,
    };
    let bad = || {
        Failure::invalid(
            "request",
            "invalid request: options must be an object like { after, limit, wait }",
        )
    };
    let Some(options) = options else {
        return Ok(query);
    };
    match options.get_type().map_err(|_| bad())? {
        ValueType::Undefined | ValueType::Null => return Ok(query),
        ValueType::Object => {}
        _ => return Err(bad()),
    }
    // SAFETY: the type was checked just above.
    let object: Object<'_> = unsafe { options.cast() }.map_err(|_| bad())?;
    let field = |name: &str| -> Result<Option<(ValueType, Unknown<'_>)>, Failure> {
        let value = object.get::<Unknown<'_>>(name).ok().flatten();
        match value {
            None => Ok(None),
            Some(v) => match v.get_type().map_err(|_| bad())? {
                ValueType::Undefined | ValueType::Null => Ok(None),
                t => Ok(Some((t, v))),
            },
        }
    };
    if let Some((kind, value)) = field("after")? {
        let wrong = || Failure::invalid("after", "invalid after: must be a cursor string");
        if kind != ValueType::String {
            return Err(wrong());
        }
        // SAFETY: the type was checked just above.
        let text: String = unsafe { value.cast() }.map_err(|_| wrong())?;
        query.after = Some(text.parse().map_err(Failure::from)?);
    }
    if let Some((kind, value)) = field("limit")? {
        let wrong = || Failure::invalid("limit", "invalid limit: must be from 1 to 1000");
        if kind != ValueType::Number {
            return Err(wrong());
        }
        // SAFETY: the type was checked just above.
        let n: f64 = unsafe { value.cast() }.map_err(|_| wrong())?;
        if n.fract() != 0.0 || !(1.0..=1000.0).contains(&n) {
            return Err(wrong());
        }
        // a whole number from 1 to 1000: exact as a usize
        query.limit = n as usize;
    }
    if let Some((kind, value)) = field("wait")? {
        let wrong = || Failure::invalid("wait", "invalid wait: must be seconds from 0 to 30");
        if kind != ValueType::Number {
            return Err(wrong());
        }
        // SAFETY: the type was checked just above.
        let n: f64 = unsafe { value.cast() }.map_err(|_| wrong())?;
        let wait = Duration::try_from_secs_f64(n).map_err(|_| wrong())?;
        query.wait = identity::feed::wait_time(wait).map_err(Failure::from)?;
    }
    Ok(query)
}

/// The answer of `pruneEvents()`.
#[napi(object)]
pub struct PruneReport {
    /// The events deleted, over every tenant.
    pub events: i64,
    /// The tenants whose feed lost events.
    pub tenants: i64,
}

impl From<identity::PruneReport> for PruneReport {
    fn from(r: identity::PruneReport) -> Self {
        PruneReport {
            events: i64::try_from(r.events).unwrap_or(i64::MAX),
            tenants: i64::try_from(r.tenants).unwrap_or(i64::MAX),
        }
    }
}

/// Reads `pruneEvents()`'s options: `{ olderThanDays?: number }` (default 30), a number of days,
/// 0 or more; anything else is `INVALID_INPUT` naming `olderThanDays`.
pub fn retention(options: Option<&Unknown<'_>>) -> Result<Duration, Failure> {
    let wrong = || {
        Failure::invalid(
            "olderThanDays",
            "invalid olderThanDays: must be days, 0 or more",
        )
    };
    let default = identity::feed::DEFAULT_RETENTION;
    let Some(options) = options else {
        return Ok(default);
    };
    match options.get_type().map_err(|_| wrong())? {
        ValueType::Undefined | ValueType::Null => return Ok(default),
        ValueType::Object => {}
        _ => return Err(wrong()),
    }
    // SAFETY: the type was checked just above.
    let object: Object<'_> = unsafe { options.cast() }.map_err(|_| wrong())?;
    let Some(value) = object.get::<Unknown<'_>>("olderThanDays").ok().flatten() else {
        return Ok(default);
    };
    match value.get_type().map_err(|_| wrong())? {
        ValueType::Undefined | ValueType::Null => Ok(default),
        ValueType::Number => {
            // SAFETY: the type was checked just above.
            let days: f64 = unsafe { value.cast() }.map_err(|_| wrong())?;
            Duration::try_from_secs_f64(days * 86_400.0).map_err(|_| wrong())
        }
        _ => Err(wrong()),
    }
}
