//! [`RecordCache`]: the customer records a store read lately, so that a returning customer's
//! lists cross the connection once per change of the customer, not once per request.
//!
//! The cache never decides anything on its own: a read tells the database which versions it
//! holds for the request's values, and the database sends a record's lists only when its current
//! version is not among them. Versions are never reused, so a held record with the current
//! version is the current record, whoever wrote it (another process included). What the cache
//! holds only saves bytes on the wire; a stale entry costs one full read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::contact::{ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::request::IdentifyRequest;

/// Most list entries (values, row ids, secondary ids) held in all: about 100 bytes each, so
/// some 25 MB at most. When a new record would pass it, everything held is dropped.
const MAX_ENTRIES: usize = 250_000;

/// Most values remembered as belonging to a customer.
const MAX_HINTS: usize = 100_000;

/// Records by primary, and which customer each value asked about belonged to when last read.
#[derive(Debug, Default)]
pub(crate) struct RecordCache {
    inner: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    records: HashMap<ContactId, Arc<CustomerRecord>>,
    emails: HashMap<Email, ContactId>,
    phones: HashMap<Phone, ContactId>,
    entries: usize,
}

/// The size of a record in list entries.
fn weight(record: &CustomerRecord) -> usize {
    2 * (record.emails.len() + record.phone_numbers.len()) + record.secondary_ids.len() + 1
}

impl RecordCache {
    /// The records held for the request's email and phone (at most two, distinct).
    pub(crate) fn held_for(&self, request: &IdentifyRequest) -> Vec<Arc<CustomerRecord>> {
        let held = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let by_email = request
            .email()
            .and_then(|e| held.emails.get(e))
            .and_then(|p| held.records.get(p));
        let by_phone = request
            .phone_number()
            .and_then(|p| held.phones.get(p))
            .and_then(|p| held.records.get(p));
        let mut found: Vec<Arc<CustomerRecord>> = by_email.into_iter().cloned().collect();
        if let Some(record) = by_phone
            && !found.iter().any(|r| Arc::ptr_eq(r, record))
        {
            found.push(Arc::clone(record));
        }
        found
    }

    /// Keeps `record`, read as the owner of the request's email (when `holds_email`) and
    /// phone (when `holds_phone`), in place of any older record of the same customer.
    pub(crate) fn keep(
        &self,
        request: &IdentifyRequest,
        record: &Arc<CustomerRecord>,
        holds_email: bool,
        holds_phone: bool,
    ) {
        let size = weight(record);
        if size > MAX_ENTRIES / 4 {
            return; // one customer may not push out every other
        }
        let mut held = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = held.records.get(&record.primary) {
            if old.version == record.version {
                return;
            }
            held.entries -= weight(old);
        }
        if held.entries + size > MAX_ENTRIES
            || held.emails.len() + held.phones.len() + 2 > MAX_HINTS
        {
            *held = Held::default();
        }
        held.entries += size;
        held.records.insert(record.primary, Arc::clone(record));
        if let Some(email) = request.email().filter(|_| holds_email) {
            held.emails.insert(email.clone(), record.primary);
        }
        if let Some(phone) = request.phone_number().filter(|_| holds_phone) {
            held.phones.insert(phone.clone(), record.primary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn record(primary: i64, email: &str, version: i64) -> Arc<CustomerRecord> {
        let mut r = CustomerRecord::new(
            ContactId::new(primary),
            Some(&Email::parse(email).unwrap()),
            None,
            OffsetDateTime::UNIX_EPOCH,
        );
        r.version = version;
        Arc::new(r)
    }

    fn request(email: Option<&str>, phone: Option<&str>) -> IdentifyRequest {
        IdentifyRequest::parse(email, phone).unwrap()
    }

    #[test]
    fn a_kept_record_is_found_by_the_values_it_was_read_for_only() {
        let cache = RecordCache::default();
        let req = request(Some("a@x.io"), Some("1"));
        cache.keep(&req, &record(1, "a@x.io", 7), true, false);
        assert_eq!(cache.held_for(&req).len(), 1);
        assert_eq!(cache.held_for(&request(Some("a@x.io"), None))[0].version, 7);
        assert!(cache.held_for(&request(None, Some("1"))).is_empty());
    }

    #[test]
    fn a_newer_version_replaces_the_older_for_every_value() {
        let cache = RecordCache::default();
        cache.keep(
            &request(Some("a@x.io"), None),
            &record(1, "a@x.io", 7),
            true,
            false,
        );
        cache.keep(
            &request(Some("b@x.io"), None),
            &record(1, "a@x.io", 9),
            true,
            false,
        );
        assert_eq!(cache.held_for(&request(Some("a@x.io"), None))[0].version, 9);
        assert_eq!(cache.inner.lock().unwrap().entries, 3);
    }

    #[test]
    fn one_customer_held_for_both_values_comes_back_once() {
        let cache = RecordCache::default();
        let req = request(Some("a@x.io"), Some("1"));
        cache.keep(&req, &record(1, "a@x.io", 7), true, true);
        assert_eq!(cache.held_for(&req).len(), 1);
    }

    #[test]
    fn passing_the_bound_drops_everything_held() {
        let cache = RecordCache::default();
        let per = weight(&record(1, "a@x.io", 1));
        for i in 0..=(MAX_ENTRIES / per) {
            let email = format!("c{i}@x.io");
            let n = i64::try_from(i).unwrap() + 1;
            cache.keep(
                &request(Some(&email), None),
                &record(n, &email, n),
                true,
                false,
            );
        }
        let held = cache.inner.lock().unwrap();
        assert!(held.entries <= MAX_ENTRIES);
        assert!(
            held.records.len() < MAX_ENTRIES / per,
            "the cache was emptied on the way"
        );
    }
}
