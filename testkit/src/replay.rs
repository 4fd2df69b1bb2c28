//! The oracle of every import test: the same checkouts replayed one by one through `identify`
//! in time order, and the shape of a tenant's rows to compare the two by.

use identity::import::Checkout;
use identity::{Contact, Error, Identity};

/// A row as an import must reproduce it: id, email, phone, the id it links to (times differ: a
/// replay creates rows now, an import at their checkout's time).
pub type RowShape = (i64, Option<String>, Option<String>, Option<i64>);

/// The shapes of `rows`, by id.
pub fn row_shapes(rows: &[Contact]) -> Vec<RowShape> {
    let mut shapes: Vec<RowShape> = rows
        .iter()
        .map(|c| {
            (
                c.id.get(),
                c.email.as_ref().map(|e| e.as_str().to_owned()),
                c.phone_number.as_ref().map(|p| p.as_str().to_owned()),
                c.linked_id().map(|l| l.get()),
            )
        })
        .collect();
    shapes.sort();
    shapes
}

/// Replays `checkouts` through `identity.identify` in time order (ties in the order given);
/// a checkout whose every value is blocked writes nothing, as online. Answers how many were
/// refused as blocked.
pub async fn replay(identity: &Identity, checkouts: &[Checkout]) -> u64 {
    let mut ordered: Vec<&Checkout> = checkouts.iter().collect();
    ordered.sort_by_key(|c| c.at);
    let mut blocked = 0;
    for c in ordered {
        match identity.identify_request(&c.request).await {
            Ok(_) => {}
            Err(Error::BlockedValue { .. }) => blocked += 1,
            Err(e) => panic!("replaying checkout {}: {e}", c.origin),
        }
    }
    blocked
}

/// Checkouts of `requests`, a second apart from 2020-01-01 with every `tie`-th sharing its
/// predecessor's time (0: no ties), listed out of time order (reversed in blocks of 7) so an
/// import must sort them; origins are 1-based positions in the list. A replay and an import
/// both take ties in the order listed.
pub fn checkouts_of(requests: &[identity::IdentifyRequest], tie: usize) -> Vec<Checkout> {
    let start = time::OffsetDateTime::from_unix_timestamp(1_577_836_800).unwrap();
    let mut second = 0i64;
    let mut timed = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        if tie == 0 || i % tie != 0 {
            second += 1;
        }
        timed.push((r.clone(), start + time::Duration::seconds(second)));
    }
    let mut listed = Vec::with_capacity(timed.len());
    for block in timed.chunks(7) {
        listed.extend(block.iter().rev().cloned());
    }
    listed
        .into_iter()
        .enumerate()
        .map(|(i, (r, at))| Checkout::new(r, at, i as u64 + 1))
        .collect()
}
