//! The records a SQLite store read lately, decoded, so that a returning customer's lists are
//! parsed once per change of its base, not once per request. A base is named by its customer
//! and its `base_seq`, drawn from a counter on every committed whole write and never reused, so
//! a record held under the stored `base_seq` is that base with some of its tail (`tails.rs`)
//! applied, whoever wrote it (another process included): a read applies the tail entries past
//! the held record's version. Only reads outside a write transaction hold what they read (a base
//! number drawn in a transaction that rolls back is drawn again); a write transaction notes the
//! bases it writes ([`Written`]) for its own later reads, and they are held for everyone once it
//! commits, so a large customer's new base is not fetched and decoded again after each fold or
//! merge of this process. A row added to a tail is noted the same way (the base extended by its
//! entry), so neither the batch's later writes nor the readers fetch the entry just written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::contact::ContactId;
use crate::customer::CustomerRecord;

/// Most list entries held in all (about 100 bytes each): past it, everything held is dropped.
const MAX_ENTRIES: usize = 500_000;

/// Decoded bases by primary (ids are unique across tenants).
#[derive(Debug, Default)]
pub(crate) struct Bases {
    inner: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
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
        held.put(seq, record);
    }

    /// Holds the bases a write transaction wrote, once it has committed.
    pub(crate) fn publish(&self, written: Written) {
        let mut held = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for (seq, record) in written.0.into_values() {
            held.put(seq, record);
        }
    }
}

impl Kept {
    fn put(&mut self, seq: i64, record: Arc<CustomerRecord>) {
        let added = weight(&record);
        if self.entries + added > MAX_ENTRIES {
            self.bases.clear();
            self.entries = 0;
        }
        if let Some((_, old)) = self.bases.insert(record.primary, (seq, record)) {
            self.entries -= weight(&old).min(self.entries);
        }
        self.entries += added;
    }
}

/// The records one write transaction wrote, by customer: each a base it wrote, or a base it
/// extended with tail entries (a row added), held for its own later reads (what it wrote is
/// exactly the record it had in hand, so reading it back would only decode it again, or fetch
/// the tail entries it just wrote), and for every read once it commits ([`Bases::publish`]);
/// dropped with the transaction when it rolls back, since its base numbers are then drawn
/// again and its tail entries were never written.
#[derive(Debug, Default)]
pub(crate) struct Written(HashMap<ContactId, (i64, Arc<CustomerRecord>)>);

impl Written {
    /// Notes `record` as written under base `seq` (the last one written of its customer wins).
    pub(crate) fn note(&mut self, seq: i64, record: CustomerRecord) {
        self.0.insert(record.primary, (seq, Arc::new(record)));
    }

    /// The record of `primary` this transaction wrote as base `seq`, if any.
    pub(crate) fn get(&self, primary: ContactId, seq: i64) -> Option<Arc<CustomerRecord>> {
        match self.0.get(&primary) {
            Some((written_seq, base)) if *written_seq == seq => Some(Arc::clone(base)),
            _ => None,
        }
    }
}

/// Where a read finds the decoded bases it may use, and whether it keeps what it decodes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Held<'a> {
    /// Outside a write transaction: the store's bases, which keep what the read decodes.
    Committed(&'a Bases),
    /// Inside a write transaction: the bases it wrote, then the store's; nothing it decodes is
    /// kept (the transaction may yet roll back).
    InWrite(&'a Bases, &'a Written),
}

impl Held<'_> {
    /// The record of `primary` held under base `seq`, if any.
    pub(crate) fn get(&self, primary: ContactId, seq: i64) -> Option<Arc<CustomerRecord>> {
        match self {
            Held::Committed(bases) => bases.get(primary, seq),
            Held::InWrite(bases, written) => written
                .get(primary, seq)
                .or_else(|| bases.get(primary, seq)),
        }
    }

    /// The bases that keep what this read decodes: none inside a write transaction.
    pub(crate) fn keeping(&self) -> Option<&Bases> {
        match self {
            Held::Committed(bases) => Some(bases),
            Held::InWrite(..) => None,
        }
    }
}
