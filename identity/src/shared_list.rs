//! [`SharedList`]: the lists of a customer's record and of every answer made from it, shared
//! rather than copied, so that answering a returning customer, or adding a row to a large one,
//! costs the same at 1 row or 10,000.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Index;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A list whose clones share their items: cloning is O(1) whatever its length, and so is
/// appending to a clone (the clones share everything but the last few items, through a
/// persistent vector from `imbl`). It reads like a slice (`len`, `iter`, `get`, `[i]`,
/// `contains`), compares equal to a `Vec` or slice with the same items, and serializes as a
/// JSON array.
///
/// ```
/// use identity::SharedList;
/// let emails: SharedList<&str> = vec!["a@x.io", "b@x.io"].into();
/// let mut longer = emails.clone(); // no copy of the items
/// longer.push("c@x.io"); // nor here: `emails` is unchanged and shares the first two
/// assert_eq!(emails, vec!["a@x.io", "b@x.io"]);
/// assert_eq!(longer[2], "c@x.io");
/// assert_eq!(serde_json::to_string(&longer)?, r#"["a@x.io","b@x.io","c@x.io"]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub struct SharedList<T: Clone>(Arc<imbl::Vector<T>>);

impl<T: Clone> SharedList<T> {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        SharedList(Arc::new(imbl::Vector::new()))
    }

    /// How many items.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The item at `index`, if any.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&T> {
        self.0.get(index)
    }

    /// The first item, if any.
    #[must_use]
    pub fn first(&self) -> Option<&T> {
        self.0.front()
    }

    /// The last item, if any.
    #[must_use]
    pub fn last(&self) -> Option<&T> {
        self.0.back()
    }

    /// The items, in order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter(self.0.iter())
    }

    /// The items from `start` on (none when `start` is past the end): O(log n), sharing them.
    #[must_use]
    pub fn from_index(&self, start: usize) -> SharedList<T> {
        if start >= self.len() {
            return SharedList::new();
        }
        let mut items = (*self.0).clone(); // O(1): the items are shared
        SharedList(Arc::new(items.split_off(start)))
    }

    /// Whether `item` is one of the items (a scan).
    #[must_use]
    pub fn contains(&self, item: &T) -> bool
    where
        T: PartialEq,
    {
        self.iter().any(|i| i == item)
    }

    /// The items copied into a `Vec`.
    #[must_use]
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().cloned().collect()
    }

    /// Appends `item`: O(1) amortized, whether or not clones share the list.
    pub fn push(&mut self, item: T) {
        Arc::make_mut(&mut self.0).push_back(item);
    }

    /// Whether `self` and `other` are clones of one list (their items are not compared).
    #[must_use]
    pub fn shares_with(&self, other: &SharedList<T>) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The iterator of [`SharedList::iter`].
pub struct Iter<'a, T: Clone>(imbl::vector::Iter<'a, T, imbl::shared_ptr::DefaultSharedPtr>);

impl<'a, T: Clone> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<T: Clone> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back()
    }
}

impl<T: Clone> ExactSizeIterator for Iter<'_, T> {}

impl<T: Clone> Clone for SharedList<T> {
    fn clone(&self) -> Self {
        SharedList(Arc::clone(&self.0))
    }
}

impl<T: Clone> Default for SharedList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone> Index<usize> for SharedList<T> {
    type Output = T;

    fn index(&self, index: usize) -> &T {
        &self.0[index]
    }
}

impl<T: Clone> From<Vec<T>> for SharedList<T> {
    fn from(items: Vec<T>) -> Self {
        items.into_iter().collect()
    }
}

impl<T: Clone> FromIterator<T> for SharedList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        SharedList(Arc::new(iter.into_iter().collect()))
    }
}

impl<T: Clone> Extend<T> for SharedList<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        Arc::make_mut(&mut self.0).extend(iter);
    }
}

impl<'a, T: Clone> IntoIterator for &'a SharedList<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Clone + fmt::Debug> fmt::Debug for SharedList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Clone + PartialEq> PartialEq for SharedList<T> {
    fn eq(&self, other: &Self) -> bool {
        self.shares_with(other) || (self.len() == other.len() && self.iter().eq(other.iter()))
    }
}

impl<T: Clone + Eq> Eq for SharedList<T> {}

impl<T: Clone + Hash> Hash for SharedList<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        self.iter().for_each(|item| item.hash(state));
    }
}

impl<T: Clone + PartialEq> PartialEq<[T]> for SharedList<T> {
    fn eq(&self, other: &[T]) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Clone + PartialEq> PartialEq<Vec<T>> for SharedList<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        *self == *other.as_slice()
    }
}

impl<T: Clone + PartialEq> PartialEq<SharedList<T>> for Vec<T> {
    fn eq(&self, other: &SharedList<T>) -> bool {
        *other == *self.as_slice()
    }
}

impl<T: Clone + Serialize> Serialize for SharedList<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, T: Clone + Deserialize<'de>> Deserialize<'de> for SharedList<T> {
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
        assert!(a.shares_with(&b));
        a.push(3);
        assert!(!a.shares_with(&b));
        assert_eq!(a, vec![1, 2, 3]);
        assert_eq!(b, vec![1, 2], "the clone kept its items");
    }

    #[test]
    fn pushing_to_a_shared_long_list_leaves_the_clone_intact() {
        let mut a: SharedList<String> = (0..10_000).map(|i| i.to_string()).collect();
        let snapshots: Vec<SharedList<String>> = (0..100)
            .map(|i| {
                let before = a.clone();
                a.push(format!("new{i}"));
                before
            })
            .collect();
        assert_eq!(a.len(), 10_100);
        assert_eq!(a[10_099], "new99");
        for (i, s) in snapshots.iter().enumerate() {
            let last = if i == 0 {
                "9999".to_owned()
            } else {
                format!("new{}", i - 1)
            };
            assert_eq!(s.len(), 10_000 + i);
            assert_eq!(s.last(), Some(&last), "snapshot {i} kept its items");
        }
    }

    #[test]
    fn reads_like_a_slice() {
        let a: SharedList<i32> = vec![4, 5, 6].into();
        assert_eq!(a.len(), 3);
        assert_eq!(
            (a.first(), a.last(), a.get(1), a.get(3)),
            (Some(&4), Some(&6), Some(&5), None)
        );
        assert!(a.contains(&5) && !a.contains(&7));
        assert_eq!(a.iter().rev().copied().collect::<Vec<_>>(), vec![6, 5, 4]);
        assert_eq!(a.to_vec(), vec![4, 5, 6]);
        assert_eq!(a.from_index(1), vec![5, 6]);
        assert!(a.from_index(3).is_empty() && a.from_index(9).is_empty());
        assert_eq!(a, *[4, 5, 6].as_slice());
        assert!(SharedList::<i32>::new().is_empty());
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
