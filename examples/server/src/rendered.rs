//! The JSON bodies of large customers' answers, kept by the lists they were rendered from, so a
//! returning large customer is rendered once per change, not once per request.
//!
//! The core answers a returning customer with the lists of the record it holds, shared
//! ([`identity::SharedList`]): while the customer does not change, every answer carries the very
//! same lists. A body is reused only for an answer whose three lists are those same lists (not
//! equal ones: the same, which is an O(1) check, `SharedList::shares_with`) and whose primary
//! is the same, so it is the body that answer renders to. An entry holds clones of its lists:
//! they cannot be freed and their place reused by other lists while it exists, and a list
//! another clone of which is pushed to is copied first (so it becomes another list). Small
//! answers are rendered each time: that is as cheap as looking them up.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use axum::body::Bytes;
use identity::{ConsolidatedContact, ContactId, Email, Phone, SharedList};

/// Answers with at least this many values and ids are kept once rendered.
pub const LARGE: usize = 256;

/// How many bodies are kept (the most recently rendered).
const KEEP: usize = 32;

/// Kept bodies of large answers, newest first.
#[derive(Debug, Default)]
pub struct RenderedAnswers {
    kept: Mutex<VecDeque<Kept>>,
}

/// A body and the lists it was rendered from.
#[derive(Debug)]
struct Kept {
    primary: ContactId,
    legacy_key: bool,
    emails: SharedList<Email>,
    phone_numbers: SharedList<Phone>,
    secondary_contact_ids: SharedList<ContactId>,
    body: Bytes,
}

impl Kept {
    fn renders(&self, c: &ConsolidatedContact, legacy_key: bool) -> bool {
        self.primary == c.primary_contact_id
            && self.legacy_key == legacy_key
            && self.emails.shares_with(&c.emails)
            && self.phone_numbers.shares_with(&c.phone_numbers)
            && self
                .secondary_contact_ids
                .shares_with(&c.secondary_contact_ids)
    }
}

/// Whether `c` is worth keeping rendered: large, and with nothing left out (an answer's
/// `ignored` depends on its request, not on the customer).
pub fn is_large(c: &ConsolidatedContact) -> bool {
    c.ignored.is_empty()
        && c.emails.len() + c.phone_numbers.len() + c.secondary_contact_ids.len() >= LARGE
}

impl RenderedAnswers {
    /// The body of `c` (one that [`is_large`]): the kept one, or `render`'s, then kept (`None`
    /// when `render` fails, and nothing is kept).
    pub fn body(
        &self,
        c: &ConsolidatedContact,
        legacy_key: bool,
        render: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<Bytes> {
        if let Some(body) = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|k| k.renders(c, legacy_key))
            .map(|k| k.body.clone())
        {
            return Some(body);
        }
        let body = Bytes::from(render()?);
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        // the customer's older bodies go: its lists changed
        kept.retain(|k| k.primary != c.primary_contact_id || k.legacy_key != legacy_key);
        kept.push_front(Kept {
            primary: c.primary_contact_id,
            legacy_key,
            emails: c.emails.clone(),
            phone_numbers: c.phone_numbers.clone(),
            secondary_contact_ids: c.secondary_contact_ids.clone(),
            body: body.clone(),
        });
        kept.truncate(KEEP);
        Some(body)
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
        let big = customer(1, 300);
        let first = body(&big, false);
        assert_eq!(body(&big.clone(), false), first);
        assert_eq!(renders.get(), 1, "the same lists: rendered once");
        let equal = customer(1, 300);
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
    fn small_answers_and_answers_with_values_left_out_are_not_kept() {
        assert!(!is_large(&customer(1, LARGE - 1)));
        assert!(is_large(&customer(1, LARGE)));
        let left_out = customer(1, LARGE).with_ignored(&[identity::Ignored {
            field: identity::Field::Email,
            reason: identity::IgnoredReason::Blocked,
        }]);
        assert!(!is_large(&left_out));
    }

    #[test]
    fn only_the_newest_bodies_are_kept() {
        let rendered = RenderedAnswers::default();
        let customers: Vec<_> = (0..=KEEP as i64).map(|p| customer(p, 300)).collect();
        for c in &customers {
            rendered.body(c, false, || Some(b"first".to_vec()));
        }
        let newest = rendered
            .body(&customers[KEEP], false, || Some(b"second".to_vec()))
            .unwrap();
        assert_eq!(&newest[..], b"first");
        let oldest = rendered
            .body(&customers[0], false, || Some(b"second".to_vec()))
            .unwrap();
        assert_eq!(&oldest[..], b"second", "the oldest went");
    }
}
