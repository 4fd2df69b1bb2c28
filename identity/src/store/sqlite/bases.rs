//! The records a SQLite store read lately, decoded, so that a returning customer's lists are
//! parsed once per change of its base, not once per request. A base is named by its customer
//! and its `base_seq`, drawn from a counter on every committed whole write and never reused, so
//! a record held under the stored `base_seq` is that base with some of its tail (`tails.rs`)
//! applied, whoever wrote it (another process included): a read applies the tail entries past
//! the held record's version. Only reads outside a write transaction hold what they read (a base
//! number drawn in a transaction that rolls back is drawn again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::contact::ContactId;
use crate::customer::CustomerRecord;

/// Most list entries held in all (about 100 bytes each): past it, everything held is dropped.
const MAX_ENTRIES: usize = 500_000;

/// Decoded bases by primary (ids are unique across tenants).
#[derive(Debug, Default)]
pub(crate) struct Bases {
    inner: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    bases: HashMap<ContactId, (i64, Arc<CustomerRecord>)>,
    entries: usize,
}

fn weight(record: &CustomerRecord) -> usize {
    2 * (record.emails.len() + record.phone_numbers.len()) + record.secondary_ids.len() + 1
}

impl Bases {
    /// The record of `primary` held under base `seq`, if any.
    pub(crate) fn get(&self, primary: ContactId, seq: i64) -> Option<Arc<CustomerRecord>> {
        let held = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match held.bases.get(&primary) {
            Some((held_seq, base)) if *held_seq == seq => Some(Arc::clone(base)),
            _ => None,
        }
    }

    /// Holds `record` under base `seq` of its customer (replacing what was held).
    pub(crate) fn put(&self, seq: i64, record: Arc<CustomerRecord>) {
        let mut held = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let added = weight(&record);
        if held.entries + added > MAX_ENTRIES {
            held.bases.clear();
            held.entries = 0;
        }
        if let Some((_, old)) = held.bases.insert(record.primary, (seq, record)) {
            held.entries -= weight(&old).min(held.entries);
        }
        held.entries += added;
    }
}
