//! Union-find over `0..n` with path halving ([`DisjointSets`]), rules layer: the customers of
//! rows for [`crate::derive()`] and the import planners.

/// Sets over `0..n`; each is named by its lowest element (a union keeps the lower root, so the
/// older row when elements are rows in time or id order).
#[derive(Debug, Default)]
pub(crate) struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    /// `n` elements, each a set of its own.
    pub(crate) fn new(n: usize) -> Self {
        DisjointSets {
            parent: (0..n).collect(),
        }
    }

    /// Adds `n` elements, each a set of its own.
    pub(crate) fn grow(&mut self, n: usize) {
        self.parent.extend(self.parent.len()..self.parent.len() + n);
    }

    /// Adds an element as a set of its own; its index.
    pub(crate) fn add(&mut self) -> usize {
        self.parent.push(self.parent.len());
        self.parent.len() - 1
    }

    /// The set of `x`: its lowest element.
    pub(crate) fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    /// Joins the sets of `a` and `b` under the lower root; whether they were two.
    pub(crate) fn union(&mut self, a: usize, b: usize) -> bool {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return false;
        }
        self.parent[a.max(b)] = a.min(b);
        true
    }
}
