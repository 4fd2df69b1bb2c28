//! [`SharedList`]: the lists of a customer's record and of every answer made from it, shared
//! rather than copied, so that answering a returning customer costs the same at 1 row or 10,000.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable-by-default list whose clones share one allocation: cloning is O(1) whatever its
/// length. It reads like a slice (it derefs to `[T]`), compares equal to a `Vec` or slice with
/// the same items, and serializes as a JSON array. [`SharedList::push`] copies the items first
/// only while another clone shares them.
///
/// ```
/// use identity::SharedList;
/// let emails: SharedList<&str> = vec!["a@x.io", "b@x.io"].into();
/// let answer = emails.clone(); // no copy of the items
/// assert_eq!(answer, vec!["a@x.io", "b@x.io"]);
/// assert_eq!(answer[1], "b@x.io");
/// assert_eq!(serde_json::to_string(&answer)?, r#"["a@x.io","b@x.io"]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharedList<T>(Arc<Vec<T>>);

impl<T> SharedList<T> {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        SharedList(Arc::new(Vec::new()))
    }

    /// The items as a slice.
    #[must_use]
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<T: Clone> SharedList<T> {
    /// Appends `item`: O(1) amortized while no clone shares the list, else a copy first.
    pub fn push(&mut self, item: T) {
        Arc::make_mut(&mut self.0).push(item);
    }
}

impl<T> Default for SharedList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Deref for SharedList<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> From<Vec<T>> for SharedList<T> {
    fn from(items: Vec<T>) -> Self {
        SharedList(Arc::new(items))
    }
}

impl<T> FromIterator<T> for SharedList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        SharedList(Arc::new(iter.into_iter().collect()))
    }
}

impl<'a, T> IntoIterator for &'a SharedList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq<Vec<T>> for SharedList<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: PartialEq> PartialEq<SharedList<T>> for Vec<T> {
    fn eq(&self, other: &SharedList<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: PartialEq> PartialEq<[T]> for SharedList<T> {
    fn eq(&self, other: &[T]) -> bool {
        self.as_slice() == other
    }
}

impl<T: Serialize> Serialize for SharedList<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SharedList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(deserializer).map(SharedList::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_items_until_one_is_pushed_to() {
        let mut a: SharedList<i32> = vec![1, 2].into();
        let b = a.clone();
        assert!(std::ptr::eq(a.as_slice(), b.as_slice()));
        a.push(3);
        assert_eq!(a, vec![1, 2, 3]);
        assert_eq!(b, vec![1, 2], "the clone kept its items");
    }

    #[test]
    fn pushing_to_an_unshared_list_keeps_its_allocation() {
        let mut a: SharedList<i32> = Vec::with_capacity(4).into();
        a.push(1);
        let at = a.as_ptr();
        a.push(2);
        assert_eq!(a.as_ptr(), at);
    }

    #[test]
    fn round_trips_through_json_as_an_array() {
        let a: SharedList<String> = vec!["x".to_owned()].into();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"["x"]"#);
        assert_eq!(
            serde_json::from_str::<SharedList<String>>(&json).unwrap(),
            a
        );
        assert_eq!(format!("{a:?}"), r#"["x"]"#);
    }
}
