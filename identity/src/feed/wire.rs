//! The JSON wire shape of [`FeedEvent`] and [`FeedPage`].

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::contact::{ContactId, Email, Phone};

use super::{Cursor, FeedChange, FeedEvent, FeedPage, SplitCustomer};

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn ids(ids: &[ContactId]) -> Vec<i64> {
    ids.iter().map(|id| id.get()).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireSplitCustomer {
    primary_contact_id: i64,
    contact_ids: Vec<i64>,
}

impl From<&SplitCustomer> for WireSplitCustomer {
    fn from(c: &SplitCustomer) -> Self {
        WireSplitCustomer {
            primary_contact_id: c.primary.get(),
            contact_ids: ids(&c.contacts),
        }
    }
}

/// `data`: the fields of its type only (`email` and `phoneNumber` present, as `null` when
/// absent, on the two contact events).
#[derive(Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
enum WireData<'a> {
    Contact {
        contact_id: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        primary_contact_id: Option<i64>,
        email: Option<&'a str>,
        phone_number: Option<&'a str>,
    },
    Merged {
        primary_contact_id: i64,
        merged_primary_contact_id: i64,
        contact_ids: Vec<i64>,
    },
    Split {
        customers: Vec<WireSplitCustomer>,
    },
    Erased {
        contact_ids: Vec<i64>,
    },
}

impl<'a> From<&'a FeedChange> for WireData<'a> {
    fn from(change: &'a FeedChange) -> Self {
        match change {
            FeedChange::ContactCreated {
                contact,
                email,
                phone_number,
            } => WireData::Contact {
                contact_id: contact.get(),
                primary_contact_id: None,
                email: email.as_ref().map(Email::as_str),
                phone_number: phone_number.as_ref().map(Phone::as_str),
            },
            FeedChange::ContactLinked {
                contact,
                primary,
                email,
                phone_number,
            } => WireData::Contact {
                contact_id: contact.get(),
                primary_contact_id: Some(primary.get()),
                email: email.as_ref().map(Email::as_str),
                phone_number: phone_number.as_ref().map(Phone::as_str),
            },
            FeedChange::CustomerMerged {
                primary,
                merged_primary,
                contacts,
            } => WireData::Merged {
                primary_contact_id: primary.get(),
                merged_primary_contact_id: merged_primary.get(),
                contact_ids: ids(contacts),
            },
            FeedChange::CustomerSplit { customers } => WireData::Split {
                customers: customers.iter().map(WireSplitCustomer::from).collect(),
            },
            FeedChange::CustomerErased { contacts } => WireData::Erased {
                contact_ids: ids(contacts),
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    tenant: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    occurred_at: OffsetDateTime,
    cursor: Cursor,
    data: WireData<'a>,
}

impl Serialize for FeedEvent {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        WireEvent {
            id: &self.id,
            kind: self.change.kind(),
            tenant: self.tenant.as_str(),
            occurred_at: self.occurred_at,
            cursor: self.cursor,
            data: WireData::from(&self.change),
        }
        .serialize(s)
    }
}

impl Serialize for FeedPage {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            events: &'a [FeedEvent],
            next: Cursor,
        }
        Wire {
            events: &self.events,
            next: self.next,
        }
        .serialize(s)
    }
}
