//! Ids as a vector states them and as the store drew them.
//!
//! On one server a vector's fresh database draws contact ids and webhook ids from 1 in the
//! order its steps create rows and webhooks, so the ids a vector states are the store's own:
//! [`VectorIds::same`] compares them as they are. On Citus each worker draws from a range of
//! its own (a tenant's first row there is some 2^48 multiple plus one), so
//! [`VectorIds::mapped`] learns which store id each vector id stands for, from where it first
//! appears in an answer beside the vector's, and from then on holds the store to that
//! one-to-one mapping in both directions: a store id that turns up where the vector has another
//! id, or two store ids for one vector id, fail the comparison as a wrong id would on one server.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Keys whose number, or list of numbers, is a contact id in a vector's requests and answers.
const CONTACT_KEYS: &[&str] = &[
    "absorbedId",
    "askedId",
    "contactId",
    "contactIds",
    "customer",
    "customerId",
    "erasedIds",
    "firstId",
    "highestId",
    "history",
    "id",
    "lastId",
    "linkedId",
    "mergedPrimaryContactId",
    "movedIds",
    "otherCustomerId",
    "primaryContactId",
    "relinkedIds",
    "reusedIds",
    "secondaryContactIds",
    "tablePrimaryId",
];

/// `rows` is a count in most answers and a list of contact ids in an erasure record as vectors
/// show it: an id key only when it holds a list.
const CONTACT_LIST_KEYS: &[&str] = &["rows"];

/// One id space's mapping, kept one-to-one.
#[derive(Debug, Default)]
struct Bijection {
    to_store: HashMap<i64, i64>,
    to_vector: HashMap<i64, i64>,
}

impl Bijection {
    /// The vector id `store` stands for: the one it is bound to, else `vector` (the id the
    /// vector states in its place) when that one is free, binding the two; else `store`
    /// itself, which then fails the comparison unless it is the vector's.
    fn learn(&mut self, store: i64, vector: Option<i64>) -> i64 {
        if let Some(bound) = self.to_vector.get(&store) {
            return *bound;
        }
        match vector {
            Some(v) if !self.to_store.contains_key(&v) => {
                self.to_store.insert(v, store);
                self.to_vector.insert(store, v);
                v
            }
            _ => store,
        }
    }
}

/// Contact and webhook ids, as a vector states them and as the store drew them.
#[derive(Debug)]
pub struct VectorIds {
    mapped: bool,
    contacts: Bijection,
    webhooks: Bijection,
    /// Webhooks created so far: the next one is the vector's id `created + 1`.
    created: i64,
}

impl VectorIds {
    /// The store's ids are the vector's (one server, a fresh database).
    #[must_use]
    pub fn same() -> VectorIds {
        VectorIds {
            mapped: false,
            contacts: Bijection::default(),
            webhooks: Bijection::default(),
            created: 0,
        }
    }

    /// The store draws ids of its own (Citus): learned one-to-one as they appear.
    #[must_use]
    pub fn mapped() -> VectorIds {
        VectorIds {
            mapped: true,
            ..VectorIds::same()
        }
    }

    /// [`VectorIds::mapped`] when the tests run on a Citus cluster
    /// (`IDENTITY_TEST_CITUS_WORKERS` is set), else [`VectorIds::same`].
    #[must_use]
    pub fn for_this_server() -> VectorIds {
        match crate::citus_workers() {
            Some(_) => VectorIds::mapped(),
            None => VectorIds::same(),
        }
    }

    /// The store's id for the vector's contact id `vector` (itself when none is known, as for
    /// an id the vector asks about to find nothing).
    #[must_use]
    pub fn contact(&self, vector: i64) -> i64 {
        *self.contacts.to_store.get(&vector).unwrap_or(&vector)
    }

    /// The store's id for the vector's webhook id `vector`.
    #[must_use]
    pub fn webhook(&self, vector: i64) -> i64 {
        *self.webhooks.to_store.get(&vector).unwrap_or(&vector)
    }

    /// Notes a webhook the store just created as `store`: the vector's next one.
    ///
    /// # Panics
    /// On one server, when `store` is not the vector's next id.
    pub fn created_webhook(&mut self, store: i64, at: &str) {
        self.created += 1;
        if self.mapped {
            let vector = self.webhooks.learn(store, Some(self.created));
            assert_eq!(vector, self.created, "{at}: webhook id {store} seen before");
        } else {
            assert_eq!(store, self.created, "{at}: webhook ids are drawn from 1");
        }
    }

    /// `wire` (a vector's request, such as an erasure record to reapply) with its contact ids
    /// replaced by the store's.
    #[must_use]
    pub fn to_store(&self, wire: &Value) -> Value {
        let contacts = &self.contacts;
        walk(wire, None, None, &mut |n, _| {
            *contacts.to_store.get(&n).unwrap_or(&n)
        })
    }

    /// Asserts that the store's answer `store` is the vector's `vector`, once its contact ids
    /// are read as the vector's (learning the ones not seen before from `vector`).
    ///
    /// # Panics
    /// When they differ.
    pub fn assert_same(&mut self, store: &Value, vector: &Value, at: &str) {
        let seen = self.as_vector(store, vector);
        assert_eq!(&seen, vector, "{at}");
    }

    /// As [`VectorIds::assert_same`] for a list ordered by contact id where ids tie on
    /// something else: the same items in the same order on one server, the same items in any
    /// order when mapped (a store's own ids and ids a vector gives it, such as an erasure
    /// record's reapplied, order differently from the vector's).
    ///
    /// # Panics
    /// When they differ.
    pub fn assert_same_items(&mut self, store: &Value, vector: &Value, at: &str) {
        let mut seen = self.as_vector(store, vector);
        let mut wanted = vector.clone();
        if self.mapped
            && let (Value::Array(seen), Value::Array(wanted)) = (&mut seen, &mut wanted)
        {
            seen.sort_by_key(Value::to_string);
            wanted.sort_by_key(Value::to_string);
        }
        assert_eq!(seen, wanted, "{at}");
    }

    /// `store` (an answer) with its contact ids read as the vector's, learning the unknown ones
    /// from `vector`, the answer the vector states.
    pub fn as_vector(&mut self, store: &Value, vector: &Value) -> Value {
        if !self.mapped {
            return store.clone();
        }
        let contacts = &mut self.contacts;
        walk(store, Some(vector), None, &mut |n, beside| {
            contacts.learn(n, beside.and_then(Value::as_i64))
        })
    }
}

/// `wire` with each contact id `n` in it replaced by `id(n, the value beside it in vector)`.
fn walk(
    wire: &Value,
    vector: Option<&Value>,
    key: Option<&str>,
    id: &mut dyn FnMut(i64, Option<&Value>) -> i64,
) -> Value {
    match wire {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        walk(v, vector.and_then(|o| o.get(k)), Some(k), id),
                    )
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let beside = vector.and_then(|a| a.get(i));
                    match item.as_i64() {
                        Some(n) if is_id_list(key) => Value::from(id(n, beside)),
                        _ => walk(item, beside, key, id),
                    }
                })
                .collect(),
        ),
        Value::Number(n) if is_id(key) => n
            .as_i64()
            .map_or(wire.clone(), |n| Value::from(id(n, vector))),
        other => other.clone(),
    }
}

/// Whether a number under `key` is a contact id.
fn is_id(key: Option<&str>) -> bool {
    key.is_some_and(|k| CONTACT_KEYS.contains(&k))
}

/// Whether the numbers of a list under `key` are contact ids.
fn is_id_list(key: Option<&str>) -> bool {
    key.is_some_and(|k| CONTACT_KEYS.contains(&k) || CONTACT_LIST_KEYS.contains(&k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_ids_compare_as_they_are() {
        let mut ids = VectorIds::same();
        let answer = json!({"primaryContactId": 7, "secondaryContactIds": [8]});
        assert_eq!(ids.as_vector(&answer, &json!({})), answer);
    }

    #[test]
    fn mapped_ids_learn_once_and_hold_both_ways() {
        let mut ids = VectorIds::mapped();
        let big = 1_i64 << 48;
        let first =
            json!({"primaryContactId": big + 1, "secondaryContactIds": [big + 2], "rows": 2});
        let vector = json!({"primaryContactId": 1, "secondaryContactIds": [2], "rows": 2});
        ids.assert_same(&first, &vector, "first");
        assert_eq!(ids.contact(2), big + 2);
        // the same store id where the vector now has another: not the vector's answer
        let swapped = json!({"primaryContactId": big + 2});
        assert_ne!(
            ids.as_vector(&swapped, &json!({"primaryContactId": 1})),
            json!({"primaryContactId": 1})
        );
        // a new store id where the vector has one already bound: not learned
        let other = json!({"id": big + 9});
        assert_ne!(ids.as_vector(&other, &json!({"id": 1})), json!({"id": 1}));
        // a request's ids go to the store's
        assert_eq!(
            ids.to_store(&json!({"contactIds": [1, 2], "rows": [{"id": 2}]})),
            json!({"contactIds": [big + 1, big + 2], "rows": [{"id": big + 2}]})
        );
    }
}
