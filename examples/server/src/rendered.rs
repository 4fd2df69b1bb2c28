//! The JSON bodies of returning customers' answers, kept by the lists they were rendered from,
//! so a returning customer is rendered once per change, not once per request.
//!
//! The core answers a returning customer with the lists of the record it holds, shared
//! ([`identity::SharedList`]): while the customer does not change, every answer carries the very
//! same lists. A body is reused only for an answer whose three lists are those same lists (not
//! equal ones: the same, which is an O(1) check, `SharedList::shares_with`) and whose primary
//! is the same, so it is the body that answer renders to. An entry holds clones of its lists:
//! they cannot be freed and their place reused by other lists while it exists, and a list
//! another clone of which is pushed to is copied first (so it becomes another list).
//!
//! Bodies are kept by customer (one per primary and key style), the least recently used going
//! first once they pass [`BUDGET`] bytes. Answers of fewer than [`KEPT_FROM`] values and ids are
//! rendered each time: that is as cheap as looking them up.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::body::Bytes;
use identity::{ConsolidatedContact, ContactId, Email, Phone, SharedList};

/// Answers with at least this many values and ids are kept once rendered: a few dozen values
/// take microseconds to render, a lookup one hash and three pointer compares.
pub const KEPT_FROM: usize = 16;

/// How many bytes of bodies are kept at most (the lists they were rendered from are the
/// records' own, which the core holds too while the customer is read).
pub const BUDGET: usize = 16 << 20;

/// Kept bodies of returning customers' answers, by primary and key style.
#[derive(Debug)]
pub struct RenderedAnswers {
    kept: Mutex<Bodies>,
    budget: usize,
}

#[derive(Debug, Default)]
struct Bodies {
    by_customer: HashMap<(ContactId, bool), Kept>,
    /// The bytes of every kept body.
    bytes: usize,
    /// Counts uses: a kept body's `used` is the count at its last use.
    clock: u64,
}

/// A body and the lists it was rendered from.
#[derive(Debug)]
struct Kept {
    emails: SharedList<Email>,
    phone_numbers: SharedList<Phone>,
    secondary_contact_ids: SharedList<ContactId>,
    body: Bytes,
    used: u64,
}

impl Kept {
    fn renders(&self, c: &ConsolidatedContact) -> bool {
        self.emails.shares_with(&c.emails)
            && self.phone_numbers.shares_with(&c.phone_numbers)
            && self
                .secondary_contact_ids
                .shares_with(&c.secondary_contact_ids)
    }
}

/// Whether `c` is worth keeping rendered: not tiny, and with nothing left out (an answer's
/// `ignored` depends on its request, not on the customer).
pub fn is_kept(c: &ConsolidatedContact) -> bool {
    c.ignored.is_empty()
        && c.emails.len() + c.phone_numbers.len() + c.secondary_contact_ids.len() >= KEPT_FROM
}

impl Default for RenderedAnswers {
    fn default() -> Self {
        RenderedAnswers::with_budget(BUDGET)
    }
}

impl RenderedAnswers {
    /// Kept bodies of at most `budget` bytes in all.
    pub fn with_budget(budget: usize) -> Self {
        RenderedAnswers {
            kept: Mutex::new(Bodies::default()),
            budget,
        }
    }

    /// The body of `c` (one that [`is_kept`]): the kept one, or `render`'s, then kept (`None`
    /// when `render` fails, and nothing is kept).
    pub fn body(
        &self,
        c: &ConsolidatedContact,
        legacy_key: bool,
        render: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<Bytes> {
        let key = (c.primary_contact_id, legacy_key);
        {
            let mut bodies = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            bodies.clock += 1;
            let now = bodies.clock;
            if let Some(kept) = bodies.by_customer.get_mut(&key)
                && kept.renders(c)
            {
                kept.used = now;
                return Some(kept.body.clone());
            }
        }
        let body = Bytes::from(render()?);
        let mut bodies = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let used = bodies.clock;
        // the customer's older body goes: its lists changed
        if let Some(old) = bodies.by_customer.remove(&key) {
            bodies.bytes -= old.body.len();
        }
        if body.len() <= self.budget / 4 {
            bodies.bytes += body.len();
            bodies.by_customer.insert(
                key,
                Kept {
                    emails: c.emails.clone(),
                    phone_numbers: c.phone_numbers.clone(),
                    secondary_contact_ids: c.secondary_contact_ids.clone(),
                    body: body.clone(),
                    used,
                },
            );
            if bodies.bytes > self.budget {
                bodies.shrink_to(self.budget / 4 * 3);
            }
        }
        Some(body)
    }
}

impl Bodies {
    /// Drops the least recently used bodies until at most `bytes` are kept (once in a while:
    /// a quarter of the budget is freed each time, so its sort is paid for by many additions).
    fn shrink_to(&mut self, bytes: usize) {
        let mut by_use: Vec<(u64, (ContactId, bool), usize)> = self
            .by_customer
            .iter()
            .map(|(key, kept)| (kept.used, *key, kept.body.len()))
            .collect();
        by_use.sort_unstable_by_key(|(used, _, _)| *used);
        for (_, key, len) in by_use {
            if self.bytes <= bytes {
                break;
            }
            self.by_customer.remove(&key);
            self.bytes -= len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(primary: i64, emails: usize) -> ConsolidatedContact {
        let emails: Vec<Email> = (0..emails)
            .map(|i| Email::parse(&format!("e{i}@x.io")).unwrap())
            .collect();
        ConsolidatedContact {
            primary_contact_id: ContactId::new(primary),
            emails: emails.into(),
            phone_numbers: SharedList::new(),
            secondary_contact_ids: SharedList::new(),
            ignored: Vec::new(),
        }
    }

    #[test]
    fn a_body_is_reused_only_for_the_same_lists() {
        let rendered = RenderedAnswers::default();
        let renders = std::cell::Cell::new(0);
        let body = |c: &ConsolidatedContact, legacy_key: bool| {
            rendered
                .body(c, legacy_key, || {
                    renders.set(renders.get() + 1);
                    serde_json::to_vec(c).ok()
                })
                .unwrap()
        };
        let big = customer(1, 30);
        let first = body(&big, false);
        assert_eq!(body(&big.clone(), false), first);
        assert_eq!(renders.get(), 1, "the same lists: rendered once");
        let equal = customer(1, 30);
        assert_eq!(body(&equal, false), first);
        assert_eq!(
            renders.get(),
            2,
            "equal lists, not the same ones: rendered again"
        );
        // a row added: another list, another body
        let mut grown = equal.clone();
        grown.emails.push(Email::parse("new@x.io").unwrap());
        let grown_body = body(&grown, false);
        assert_eq!(renders.get(), 3);
        assert!(String::from_utf8_lossy(&grown_body).contains("new@x.io"));
        // with the legacy key it is another body, and the one without stays kept
        body(&grown, true);
        assert_eq!(renders.get(), 4);
        assert_eq!(body(&grown, false), grown_body);
        assert_eq!(renders.get(), 4);
        // the customer's older lists' body went when the new one was kept
        body(&equal, false);
        assert_eq!(renders.get(), 5);
    }

    #[test]
    fn tiny_answers_and_answers_with_values_left_out_are_not_kept() {
        assert!(!is_kept(&customer(1, KEPT_FROM - 1)));
        assert!(is_kept(&customer(1, KEPT_FROM)));
        let left_out = customer(1, KEPT_FROM).with_ignored(&[identity::Ignored {
            field: identity::Field::Email,
            reason: identity::IgnoredReason::Blocked,
        }]);
        assert!(!is_kept(&left_out));
    }

    #[test]
    fn the_least_recently_used_bodies_go_past_the_budget() {
        // ten bodies of 100 bytes fit; the eleventh frees a quarter of the budget
        let rendered = RenderedAnswers::with_budget(1_000);
        let customers: Vec<_> = (0..11).map(|p| customer(p, 20)).collect();
        let first = |c: &ConsolidatedContact| rendered.body(c, false, || Some(vec![b'1'; 100]));
        for c in &customers[..10] {
            first(c);
        }
        // customer 0 is used again: now the least recently used is customer 1
        assert_eq!(&first(&customers[0]).unwrap()[..], &[b'1'; 100][..]);
        first(&customers[10]);
        let again = |c: &ConsolidatedContact| {
            rendered
                .body(c, false, || Some(b"2".to_vec()))
                .unwrap()
                .len()
        };
        assert_eq!(again(&customers[0]), 100, "used lately: kept");
        assert_eq!(again(&customers[10]), 100, "the newest: kept");
        assert_eq!(again(&customers[9]), 100, "newer ones kept");
        for c in &customers[1..4] {
            assert_eq!(again(c), 1, "the least recently used went");
        }
        let kept = rendered.kept.lock().unwrap();
        assert_eq!(
            kept.bytes,
            kept.by_customer
                .values()
                .map(|k| k.body.len())
                .sum::<usize>()
        );
        assert!(kept.bytes <= 1_000);
    }

    #[test]
    fn a_body_larger_than_a_quarter_of_the_budget_is_not_kept() {
        let rendered = RenderedAnswers::with_budget(1_000);
        let c = customer(1, 20);
        rendered.body(&c, false, || Some(vec![b'1'; 251]));
        let body = rendered.body(&c, false, || Some(b"2".to_vec())).unwrap();
        assert_eq!(&body[..], b"2");
        assert_eq!(rendered.kept.lock().unwrap().bytes, 1);
    }
}
