//! History: every change to a tenant's customers, recorded by the stores in an append-only event
//! table in the same transaction as the change, and read back per customer to answer "why are
//! these rows one customer?".
//!
//! [`Identity::history`](crate::Identity::history) answers a [`History`]: the events of the
//! customer a contact id belongs to now and of every customer it absorbed (each up to the merge
//! that absorbed it), oldest first, with the blocked-list changes that concern its values.

pub(crate) mod stored;
mod wire;

use std::collections::{BTreeSet, HashMap};

use time::OffsetDateTime;

use crate::blocked::BlockedValue;
use crate::contact::{ContactId, Email, Phone};
use crate::identifier::IdentifierKind;

/// What happened, in one [`HistoryEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// The row was there when the store began keeping history (it was written before the
    /// upgrade that added history). Wire type `existing`.
    Existing {
        /// The row.
        contact: ContactId,
        /// Its email.
        email: Option<Email>,
        /// Its phone number.
        phone_number: Option<Phone>,
    },
    /// An identify inserted the row. Wire type `created`.
    Created {
        /// The row.
        contact: ContactId,
        /// Its email.
        email: Option<Email>,
        /// Its phone number.
        phone_number: Option<Phone>,
        /// The values through which it joined the event's customer, which held them already;
        /// empty when the row started a new customer.
        via: Vec<IdentifierKind>,
    },
    /// An identify whose email and phone belonged to two customers joined them: the event's
    /// customer (the older) kept its primary and absorbed the other. Wire type `merged`.
    Merged {
        /// The absorbed customer's primary.
        absorbed: ContactId,
        /// The rows that were relinked to the kept primary: the absorbed primary and its
        /// secondaries.
        relinked: Vec<ContactId>,
        /// The request's email, which one of the two customers held.
        email: Option<Email>,
        /// The request's phone number, which the other held.
        phone_number: Option<Phone>,
    },
    /// The entry was added to the tenant's blocked list. Wire type `blocked`.
    Blocked {
        /// The entry.
        entry: BlockedValue,
    },
    /// The entry was removed from the tenant's blocked list. Wire type `unblocked`.
    Unblocked {
        /// The entry.
        entry: BlockedValue,
    },
    /// Rows of this customer were moved into a new customer by a split, which is kept apart
    /// from this one. Wire type `split_off`.
    SplitOff {
        /// The new customer's primary.
        into: ContactId,
        /// The rows moved, ascending.
        moved: Vec<ContactId>,
        /// The rows that stayed (the primary among them), ascending; empty for a split
        /// recorded before the change feed kept them.
        kept: Vec<ContactId>,
    },
    /// The customer was erased: its rows were hard-deleted, and the emails and phone numbers
    /// of its events removed. Wire type `erased`.
    Erased {
        /// The rows deleted, ascending.
        erased: Vec<ContactId>,
    },
    /// This customer was made by a split from the rows of another; its history starts here.
    /// Wire type `split_from`.
    SplitFrom {
        /// The primary of the customer the rows came from (and stay apart from).
        from: ContactId,
        /// The rows moved, ascending.
        moved: Vec<ContactId>,
    },
}

impl Change {
    /// The wire spelling of the event's type: `existing`, `created`, `merged`, `blocked`,
    /// `unblocked`, `split_off`, `split_from` or `erased`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Existing { .. } => "existing",
            Change::Created { .. } => "created",
            Change::Merged { .. } => "merged",
            Change::Blocked { .. } => "blocked",
            Change::Unblocked { .. } => "unblocked",
            Change::SplitOff { .. } => "split_off",
            Change::SplitFrom { .. } => "split_from",
            Change::Erased { .. } => "erased",
        }
    }

    /// `erased`: the rows deleted.
    #[must_use]
    pub fn erased(&self) -> Option<&[ContactId]> {
        match self {
            Change::Erased { erased } => Some(erased),
            _ => None,
        }
    }

    /// `split_off`, `split_from`: the other customer of the split (the new one, the one split
    /// from) and the rows moved.
    #[must_use]
    pub fn split(&self) -> Option<(ContactId, &[ContactId])> {
        match self {
            Change::SplitOff {
                into: other, moved, ..
            }
            | Change::SplitFrom { from: other, moved } => Some((*other, moved)),
            _ => None,
        }
    }

    /// `existing`, `created`: the row.
    #[must_use]
    pub fn contact(&self) -> Option<ContactId> {
        match self {
            Change::Existing { contact, .. } | Change::Created { contact, .. } => Some(*contact),
            _ => None,
        }
    }

    /// The email and the phone number: the row's (`existing`, `created`) or the request's
    /// (`merged`); `None` for a blocked-list change.
    #[must_use]
    pub fn values(&self) -> Option<(Option<&Email>, Option<&Phone>)> {
        match self {
            Change::Existing {
                email,
                phone_number,
                ..
            }
            | Change::Created {
                email,
                phone_number,
                ..
            }
            | Change::Merged {
                email,
                phone_number,
                ..
            } => Some((email.as_ref(), phone_number.as_ref())),
            _ => None,
        }
    }

    /// `created`: the kinds the row joined its customer through.
    #[must_use]
    pub fn via(&self) -> Option<&[IdentifierKind]> {
        match self {
            Change::Created { via, .. } => Some(via),
            _ => None,
        }
    }

    /// `merged`: the absorbed customer's primary and the rows relinked.
    #[must_use]
    pub fn merged(&self) -> Option<(ContactId, &[ContactId])> {
        match self {
            Change::Merged {
                absorbed, relinked, ..
            } => Some((*absorbed, relinked)),
            _ => None,
        }
    }

    /// `blocked`, `unblocked`: the entry.
    #[must_use]
    pub fn entry(&self) -> Option<&BlockedValue> {
        match self {
            Change::Blocked { entry } | Change::Unblocked { entry } => Some(entry),
            _ => None,
        }
    }
}

/// One recorded change.
///
/// On the wire, one flat object whose `type` says which fields it has:
/// `{"type": "created", "at": "2026-11-21T10:00:00Z", "customerId": 1, "contactId": 2,
/// "email": "...", "phoneNumber": "...", "via": ["phone"]}`; `merged` has `absorbedId`,
/// `relinkedIds`, `email` and `phoneNumber`; `blocked` and `unblocked` have `entry` and no
/// `customerId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// When it was recorded (the database's clock).
    pub at: OffsetDateTime,
    /// The customer it happened to, by its primary at the time; `None` for a change of the
    /// tenant's blocked list.
    pub customer: Option<ContactId>,
    /// What happened.
    pub change: Change,
    /// The store's order of events.
    pub(crate) seq: i64,
}

/// The answer of [`Identity::history`](crate::Identity::history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// The contact id that was asked about.
    pub asked: ContactId,
    /// The customer it is part of now (its primary): the asked id itself, or the customer that
    /// absorbed it.
    pub customer: ContactId,
    /// The events of that customer and of every customer it absorbed (each up to the merge),
    /// and the blocked-list changes whose entry matches one of their values; oldest first.
    pub events: Vec<HistoryEvent>,
    /// When retention pruned the tenant's events: the time before which they were deleted
    /// (the events tell only what happened since); `None` while nothing was pruned.
    pub pruned_before: Option<OffsetDateTime>,
}

impl History {
    /// Every row the events bring into the customer, ascending: the rows created in it or in a
    /// customer it absorbed, or moved into it by a split, less those a split moved out or an
    /// erase deleted (exactly its rows, when only this library wrote them).
    #[must_use]
    pub fn rows(&self) -> BTreeSet<ContactId> {
        let mut rows = BTreeSet::new();
        for e in &self.events {
            match &e.change {
                Change::SplitOff { moved: gone, .. } | Change::Erased { erased: gone } => {
                    for id in gone {
                        rows.remove(id);
                    }
                }
                Change::SplitFrom { moved, .. } => rows.extend(moved.iter().copied()),
                change => rows.extend(change.contact()),
            }
        }
        rows
    }
}

/// The walk from a customer to every customer it absorbed, each up to the merge that absorbed
/// it, one batch of customers' events at a time: [`Walk::next`] names the customers whose events
/// to fetch, [`Walk::absorb`] takes them, [`Walk::finish`] answers.
#[derive(Debug)]
pub(crate) struct Walk {
    asked: ContactId,
    customer: ContactId,
    fetched: HashMap<ContactId, Vec<HistoryEvent>>,
    /// Each reached customer's events count before this `seq` (`i64::MAX`: all of them), from
    /// the last split that made it ([`start_of`]).
    horizon: HashMap<ContactId, i64>,
    queue: Vec<ContactId>,
}

impl Walk {
    /// A walk from `customer`, the customer `asked` belongs to now.
    pub(crate) fn new(asked: ContactId, customer: ContactId) -> Self {
        Walk {
            asked,
            customer,
            fetched: HashMap::new(),
            horizon: HashMap::from([(customer, i64::MAX)]),
            queue: vec![customer],
        }
    }

    /// The customers whose events are needed next; `None` when the walk is complete.
    pub(crate) fn next(&mut self) -> Option<Vec<ContactId>> {
        let batch: Vec<ContactId> = std::mem::take(&mut self.queue)
            .into_iter()
            .filter(|c| !self.fetched.contains_key(c))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        (!batch.is_empty()).then_some(batch)
    }

    /// Takes the events of the customers [`Walk::next`] named (the events of any customer).
    pub(crate) fn absorb(&mut self, customers: &[ContactId], events: Vec<HistoryEvent>) {
        for c in customers {
            self.fetched.entry(*c).or_default();
        }
        for event in events {
            if let Some(c) = event.customer {
                self.fetched.entry(c).or_default().push(event);
            }
        }
        // follow every merge before each customer's horizon; a horizon only grows
        let mut work: Vec<ContactId> = self.horizon.keys().copied().collect();
        while let Some(c) = work.pop() {
            let limit = self.horizon[&c];
            let Some(events) = self.fetched.get(&c) else {
                continue;
            };
            let start = start_of(events, limit);
            for e in events.iter().filter(|e| (start..limit).contains(&e.seq)) {
                if let Change::Merged { absorbed, .. } = e.change {
                    let h = self.horizon.entry(absorbed).or_insert(i64::MIN);
                    if *h < e.seq {
                        *h = e.seq;
                        work.push(absorbed);
                        if !self.fetched.contains_key(&absorbed) {
                            self.queue.push(absorbed);
                        }
                    }
                }
            }
        }
    }

    /// The history: the reached customers' events before their horizons, and the blocked-list
    /// changes among `tenant_events` whose entry matches a value of those events; by `seq`.
    pub(crate) fn finish(mut self, tenant_events: Vec<HistoryEvent>) -> History {
        let mut events: Vec<HistoryEvent> = Vec::new();
        for (c, limit) in &self.horizon {
            if let Some(list) = self.fetched.remove(c) {
                let start = start_of(&list, *limit);
                events.extend(
                    list.into_iter()
                        .filter(|e| (start..*limit).contains(&e.seq)),
                );
            }
        }
        let (mut emails, mut phones) = (BTreeSet::new(), BTreeSet::new());
        for (email, phone) in events.iter().filter_map(|e| e.change.values()) {
            emails.extend(email.map(|e| e.as_str().to_owned()));
            phones.extend(phone.map(|p| p.as_str().to_owned()));
        }
        events.extend(tenant_events.into_iter().filter(|e| {
            e.change.entry().is_some_and(|entry| {
                let values = match entry.kind() {
                    IdentifierKind::Email => &emails,
                    IdentifierKind::Phone => &phones,
                };
                values.iter().any(|v| entry.matches(v))
            })
        }));
        events.sort_by_key(|e| e.seq);
        events.dedup_by_key(|e| e.seq);
        History {
            asked: self.asked,
            customer: self.customer,
            events,
            pruned_before: None,
        }
    }
}

/// Where a customer's events before `limit` start: at the last split that made it (the id may
/// have led a customer before, which was absorbed, and then been split out again).
fn start_of(events: &[HistoryEvent], limit: i64) -> i64 {
    events
        .iter()
        .filter(|e| e.seq < limit && matches!(e.change, Change::SplitFrom { .. }))
        .map(|e| e.seq)
        .max()
        .unwrap_or(i64::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, customer: i64, change: Change) -> HistoryEvent {
        HistoryEvent {
            at: OffsetDateTime::UNIX_EPOCH,
            customer: Some(ContactId::new(customer)),
            change,
            seq,
        }
    }

    fn created(seq: i64, customer: i64, contact: i64) -> HistoryEvent {
        let change = Change::Created {
            contact: ContactId::new(contact),
            email: None,
            phone_number: Some(Phone::from_record(format!("{contact}00"))),
            via: Vec::new(),
        };
        event(seq, customer, change)
    }

    fn merged(seq: i64, kept: i64, absorbed: i64) -> HistoryEvent {
        let change = Change::Merged {
            absorbed: ContactId::new(absorbed),
            relinked: vec![ContactId::new(absorbed)],
            email: None,
            phone_number: None,
        };
        event(seq, kept, change)
    }

    /// The history of `customer` walked over the events `all`, and how many rounds it took.
    fn walked(all: &[HistoryEvent], customer: i64) -> (History, usize) {
        let id = ContactId::new(customer);
        let (mut walk, mut rounds) = (Walk::new(id, id), 0);
        while let Some(batch) = walk.next() {
            rounds += 1;
            let events = all
                .iter()
                .filter(|e| e.customer.is_some_and(|c| batch.contains(&c)))
                .cloned()
                .collect();
            walk.absorb(&batch, events);
        }
        (walk.finish(Vec::new()), rounds)
    }

    #[test]
    fn a_walk_follows_merges_up_to_each_merge() {
        let id = ContactId::new;
        // 2 is absorbed by 1 at seq 4; 3 is absorbed by 2 at seq 3 (before); 2's later events
        // (a row created in a customer 2 again, after a split, say) are not 1's
        let all = [
            created(1, 1, 1),
            created(2, 2, 2),
            created(3, 3, 3),
            merged(4, 2, 3),
            merged(5, 1, 2),
            created(6, 2, 9),
        ];
        let (history, rounds) = walked(&all, 1);
        assert_eq!(rounds, 3);
        let seqs: Vec<i64> = history.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert_eq!(history.rows(), [id(1), id(2), id(3)].into());
    }

    #[test]
    fn a_customer_made_by_a_split_starts_there() {
        let id = ContactId::new;
        // 2 led a customer, was absorbed by 1, then split out again with row 3
        let split = |seq, customer, change| event(seq, customer, change);
        let all = [
            created(1, 1, 1),
            created(2, 2, 2),
            merged(3, 1, 2),
            created(4, 1, 3),
            split(
                5,
                1,
                Change::SplitOff {
                    into: id(2),
                    moved: vec![id(2), id(3)],
                    kept: vec![id(1)],
                },
            ),
            split(
                6,
                2,
                Change::SplitFrom {
                    from: id(1),
                    moved: vec![id(2), id(3)],
                },
            ),
        ];
        let history_of = |customer: i64| walked(&all, customer).0;
        let two = history_of(2);
        let seqs: Vec<i64> = two.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [6], "its life before the merge is 1's history");
        assert_eq!(two.rows(), [id(2), id(3)].into());
        let one = history_of(1);
        let seqs: Vec<i64> = one.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert_eq!(one.rows(), [id(1)].into());
    }

    #[test]
    fn blocked_list_changes_count_when_they_match_a_value() {
        let mut walk = Walk::new(ContactId::new(1), ContactId::new(1));
        walk.absorb(&[ContactId::new(1)], vec![created(1, 1, 1)]);
        let change = |entry: BlockedValue| HistoryEvent {
            at: OffsetDateTime::UNIX_EPOCH,
            customer: None,
            change: Change::Blocked { entry },
            seq: 2,
        };
        let matching = change(BlockedValue::pattern("phone", "^10").unwrap());
        let other = HistoryEvent {
            seq: 3,
            ..change(BlockedValue::phone("200").unwrap())
        };
        let history = walk.finish(vec![matching, other]);
        let seqs: Vec<i64> = history.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2]);
        let wire = serde_json::to_value(&history).unwrap();
        assert_eq!(wire["events"][0]["type"], "created");
        assert_eq!(wire["events"][0]["via"], serde_json::json!([]));
        assert_eq!(wire["events"][0]["email"], serde_json::Value::Null);
        assert_eq!(wire["events"][1]["entry"]["pattern"], "^10");
        assert!(wire["events"][1].get("customerId").is_none());
    }
}
