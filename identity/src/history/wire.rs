//! The JSON wire shape of [`History`] and [`HistoryEvent`].

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::blocked::BlockedValue;
use crate::contact::{ContactId, Email, Phone};
use crate::verify::IdentifierKind;

use super::{Change, History, HistoryEvent};

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
        let mut wire = WireEvent {
            kind: self.change.kind(),
            at: self.at,
            customer_id: self.customer.map(ContactId::get),
            contact_id: None,
            absorbed_id: None,
            relinked_ids: None,
            email: None,
            phone_number: None,
            via: None,
            entry: None,
        };

        match &self.change {
            Change::Existing {
                contact,
                email,
                phone_number,
            } => {
                wire.contact_id = Some(contact.get());
                (wire.email, wire.phone_number) = values(email, phone_number);
            }
            Change::Created {
                contact,
                email,
                phone_number,
                via,
            } => {
                wire.contact_id = Some(contact.get());
                (wire.email, wire.phone_number) = values(email, phone_number);
                wire.via = Some(via);
            }
            Change::Merged {
                absorbed,
                relinked,
                email,
                phone_number,
            } => {
                wire.absorbed_id = Some(absorbed.get());
                wire.relinked_ids = Some(relinked.iter().map(|id| id.get()).collect());
                (wire.email, wire.phone_number) = values(email, phone_number);
            }
            Change::Blocked { entry } | Change::Unblocked { entry } => wire.entry = Some(entry),
        }
        wire.serialize(s)
    }
}

/// Both values of an event, present on the wire (as `null` when absent).
fn values<'a>(
    email: &'a Option<Email>,
    phone: &'a Option<Phone>,
) -> (Option<Option<&'a str>>, Option<Option<&'a str>>) {
    (
        Some(email.as_ref().map(Email::as_str)),
        Some(phone.as_ref().map(Phone::as_str)),
    )
}

impl Serialize for History {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            asked_id: i64,
            customer_id: i64,
            events: &'a [HistoryEvent],
        }
        Wire {
            asked_id: self.asked.get(),
            customer_id: self.customer.get(),
            events: &self.events,
        }
        .serialize(s)
    }
}
