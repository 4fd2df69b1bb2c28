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
use crate::tenant::TenantId;

/// Most list entries (values, row ids, secondary ids) held in all: about 100 bytes each, so
/// some 50 MB at most. When a new record would pass it, everything held is dropped.
const MAX_ENTRIES: usize = 500_000;

/// Most values remembered as belonging to a customer (each held value is one, so this passes
/// only when values moved between customers a lot).
const MAX_HINTS: usize = MAX_ENTRIES / 2 + 50_000;

/// A customer's record as held: at its current version, and its base (the record whose lists
/// are the record's base lists, at the base version; see the record tables of
/// `migrations/*/*_baseline.sql`). A record whose tail is empty is its own base.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// The record at its version.
    pub record: Arc<CustomerRecord>,
    /// The base: its `version` is the base version. Shares its lists with `record`.
    pub base: Arc<CustomerRecord>,
}

impl Held {
    /// A record that is its own base.
    pub(crate) fn whole(record: CustomerRecord) -> Self {
        let record = Arc::new(record);
        Held {
            base: Arc::clone(&record),
            record,
        }
    }
}

/// Records by primary (ids are unique across tenants), and, per tenant, which customer each
/// value of a held record belonged to when last read.
#[derive(Debug, Default)]
pub(crate) struct RecordCache {
    inner: Mutex<Records>,
}

#[derive(Debug, Default)]
struct Records {
    records: HashMap<ContactId, Held>,
    hints: HashMap<TenantId, Hints>,
    /// Values remembered in all tenants.
    hinted: usize,
    entries: usize,
}

/// One tenant's values, each naming the customer that held it.
#[derive(Debug, Default)]
struct Hints {
    emails: HashMap<Email, ContactId>,
    phones: HashMap<Phone, ContactId>,
}

/// The size of a record in list entries (its base shares them).
fn weight(record: &CustomerRecord) -> usize {
    2 * (record.emails.len() + record.phone_numbers.len()) + record.secondary_ids.len() + 1
}

impl RecordCache {
    /// The records held for the request's email and phone in `tenant` (at most two, distinct).
    pub(crate) fn held_for(&self, tenant: &TenantId, request: &IdentifyRequest) -> Vec<Held> {
        let held = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(hints) = held.hints.get(tenant) else {
            return Vec::new();
        };
        let by_email = request
            .email()
            .and_then(|e| hints.emails.get(e))
            .and_then(|p| held.records.get(p));
        let by_phone = request
            .phone_number()
            .and_then(|p| hints.phones.get(p))
            .and_then(|p| held.records.get(p));
        let mut found: Vec<Held> = by_email.into_iter().cloned().collect();
        if let Some(h) = by_phone
            && !found.iter().any(|f| Arc::ptr_eq(&f.record, &h.record))
        {
            found.push(h.clone());
        }
        found
    }

    /// The base held for `customer`, if any.
    pub(crate) fn base_of(&self, customer: ContactId) -> Option<Arc<CustomerRecord>> {
        let held = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        held.records.get(&customer).map(|h| Arc::clone(&h.base))
    }

    /// Keeps `held` in place of any other record of the same customer, and remembers that its
    /// values belong to it (so a later request with any of them finds it). Only the values not
    /// remembered yet are added: those past the end of the record replaced when both share a
    /// base (the tail grew), else all of them (a new base: a merge, or every 32nd row).
    pub(crate) fn keep(&self, tenant: &TenantId, held: Held) {
        let size = weight(&held.record);
        if size > MAX_ENTRIES / 2 {
            return; // one customer may not push out every other
        }
        let record = Arc::clone(&held.record);
        let mut records = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut emails_from, mut phones_from) = (0, 0);
        if let Some(old) = records.records.get(&record.primary) {
            if old.record.version == record.version {
                return;
            }
            if old.base.version == held.base.version {
                emails_from = old.record.emails.len();
                phones_from = old.record.phone_numbers.len();
            }
            records.entries -= weight(&old.record);
        }
        if records.entries + size > MAX_ENTRIES || records.hinted + size / 2 > MAX_HINTS {
            *records = Records::default();
            (emails_from, phones_from) = (0, 0);
        }
        records.entries += size;
        records.records.insert(record.primary, held);
        let Records { hints, hinted, .. } = &mut *records;
        let hints = hints.entry(tenant.clone()).or_default();
        let before = hints.emails.len() + hints.phones.len();
        for email in &record.emails.from_index(emails_from) {
            hints.emails.insert(email.clone(), record.primary);
        }
        for phone in &record.phone_numbers.from_index(phones_from) {
            hints.phones.insert(phone.clone(), record.primary);
        }
        *hinted += hints.emails.len() + hints.phones.len() - before;
    }

    /// Drops the record of `tenant`'s `customer` and every value remembered as its (an erase:
    /// this process then holds none of its data; a scan of the tenant's hints).
    pub(crate) fn forget(&self, tenant: &TenantId, customer: ContactId) {
        let mut records = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = records.records.remove(&customer) {
            records.entries -= weight(&old.record);
        }
        let Records { hints, hinted, .. } = &mut *records;
        if let Some(hints) = hints.get_mut(tenant) {
            let before = hints.emails.len() + hints.phones.len();
            hints.emails.retain(|_, owner| *owner != customer);
            hints.phones.retain(|_, owner| *owner != customer);
            *hinted -= before - (hints.emails.len() + hints.phones.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn record(primary: i64, email: &str, version: i64) -> Held {
        let mut r = CustomerRecord::new(
            ContactId::new(primary),
            Some(&Email::parse(email).unwrap()),
            None,
            OffsetDateTime::UNIX_EPOCH,
        );
        r.version = version;
        Held::whole(r)
    }

    fn tenant() -> TenantId {
        TenantId::default()
    }

    fn request(email: Option<&str>, phone: Option<&str>) -> IdentifyRequest {
        IdentifyRequest::parse(email, phone).unwrap()
    }

    fn with_row(held: &Held, id: i64, email: &str, version: i64) -> Held {
        let mut r = (*held.record).clone();
        r.add_row(
            ContactId::new(id),
            Some(&Email::parse(email).unwrap()),
            None,
            OffsetDateTime::UNIX_EPOCH,
        );
        r.version = version;
        Held {
            record: Arc::new(r),
            base: Arc::clone(&held.base),
        }
    }

    #[test]
    fn a_kept_record_is_found_by_any_of_its_values() {
        let cache = RecordCache::default();
        let first = record(1, "a@x.io", 7);
        cache.keep(&tenant(), with_row(&first, 2, "b@x.io", 8));
        for req in [
            request(Some("a@x.io"), None),
            request(Some("b@x.io"), Some("9")),
        ] {
            let held = cache.held_for(&tenant(), &req);
            assert_eq!(held.len(), 1);
            assert_eq!((held[0].record.version, held[0].base.version), (8, 7));
        }
        assert!(
            cache
                .held_for(&tenant(), &request(Some("c@x.io"), Some("9")))
                .is_empty()
        );
    }

    #[test]
    fn a_newer_version_replaces_the_older_and_adds_only_its_new_values() {
        let cache = RecordCache::default();
        let first = record(1, "a@x.io", 7);
        cache.keep(&tenant(), first.clone());
        cache.keep(&tenant(), with_row(&first, 2, "b@x.io", 9));
        let held = cache.held_for(&tenant(), &request(Some("b@x.io"), None));
        assert_eq!(held[0].record.version, 9);
        let inner = cache.inner.lock().unwrap();
        assert_eq!(inner.entries, 2 * 2 + 1 + 1);
        assert_eq!(inner.hints[&tenant()].emails.len(), 2);
        assert_eq!(inner.hinted, 2);
    }

    #[test]
    fn a_value_moved_to_another_customer_follows_it() {
        let cache = RecordCache::default();
        cache.keep(&tenant(), record(1, "a@x.io", 7));
        let mut merged = (*record(2, "b@x.io", 0).record).clone();
        merged.add_row(
            ContactId::new(1),
            Some(&Email::parse("a@x.io").unwrap()),
            None,
            OffsetDateTime::UNIX_EPOCH,
        );
        merged.version = 8;
        cache.keep(&tenant(), Held::whole(merged));
        let held = cache.held_for(&tenant(), &request(Some("a@x.io"), None));
        assert_eq!(held[0].record.primary, ContactId::new(2));
    }

    #[test]
    fn a_record_is_found_only_in_its_own_tenant() {
        let cache = RecordCache::default();
        cache.keep(&tenant(), record(1, "a@x.io", 7));
        let other = TenantId::parse("shop-2").unwrap();
        assert!(
            cache
                .held_for(&other, &request(Some("a@x.io"), None))
                .is_empty()
        );
        assert_eq!(
            cache
                .held_for(&tenant(), &request(Some("a@x.io"), None))
                .len(),
            1
        );
    }

    #[test]
    fn one_customer_held_for_both_values_comes_back_once() {
        let cache = RecordCache::default();
        let mut r = (*record(1, "a@x.io", 0).record).clone();
        r.add_row(
            ContactId::new(2),
            None,
            Some(&Phone::parse("1").unwrap()),
            OffsetDateTime::UNIX_EPOCH,
        );
        cache.keep(&tenant(), Held::whole(r));
        assert_eq!(
            cache
                .held_for(&tenant(), &request(Some("a@x.io"), Some("1")))
                .len(),
            1
        );
    }

    #[test]
    fn passing_the_bound_drops_everything_held() {
        let cache = RecordCache::default();
        let per = weight(&record(1, "a@x.io", 1).record);
        for i in 0..=(MAX_ENTRIES / per) {
            let email = format!("c{i}@x.io");
            let n = i64::try_from(i).unwrap() + 1;
            cache.keep(&tenant(), record(n, &email, n));
        }
        let held = cache.inner.lock().unwrap();
        assert!(held.entries <= MAX_ENTRIES);
        assert!(
            held.records.len() < MAX_ENTRIES / per,
            "the cache was emptied on the way"
        );
    }
}
