//! The JSON wire shape of [`History`] and [`HistoryEvent`].

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::blocked::BlockedValue;
use crate::contact::{ContactId, Email, Phone};
use crate::identifier::IdentifierKind;

use super::{History, HistoryEvent};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    absorbed_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relinked_ids: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_customer_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    moved_ids: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    erased_ids: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<&'a [IdentifierKind]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<&'a BlockedValue>,
}

impl Serialize for HistoryEvent {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let change = &self.change;
        let values = change.values();
        WireEvent {
            kind: change.kind(),
            at: self.at,
            customer_id: self.customer.map(ContactId::get),
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
            // present (as null when absent) whenever the event has values
            email: values.map(|(e, _)| e.map(Email::as_str)),
            phone_number: values.map(|(_, p)| p.map(Phone::as_str)),
            via: change.via(),
            entry: change.entry(),
        }
        .serialize(s)
    }
}

impl Serialize for History {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            asked_id: i64,
            customer_id: i64,
            events: &'a [HistoryEvent],
            #[serde(
                with = "time::serde::rfc3339::option",
                skip_serializing_if = "Option::is_none"
            )]
            pruned_before: Option<OffsetDateTime>,
        }
        Wire {
            asked_id: self.asked.get(),
            customer_id: self.customer.get(),
            events: &self.events,
            pruned_before: self.pruned_before,
        }
        .serialize(s)
    }
}
