//! The seeded checkout mix: 75% returning customers (known email and phone), 10% one known
//! value, 10% a new email or phone for a known customer, 3% brand-new customers, 2% requests
//! that merge two customers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The email of seeded customer `i`.
pub fn email(i: u64) -> String {
    format!("c{i}@seed.test")
}

/// The phone number of seeded customer `i`.
pub fn phone(i: u64) -> String {
    format!("1{i:09}")
}

/// What an operation exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Known email and phone: nothing to write.
    Returning,
    /// Only the email or only the phone of a known customer: nothing to write.
    SingleField,
    /// A new phone (or email) for a known customer: one row inserted.
    NewValue,
    /// Both values new: a new customer.
    NewCustomer,
    /// The email of one customer with the phone of another: a merge.
    Merge,
}

impl Kind {
    /// All kinds, in report order.
    pub const ALL: [Kind; 5] = [
        Kind::Returning,
        Kind::SingleField,
        Kind::NewValue,
        Kind::NewCustomer,
        Kind::Merge,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Returning => "returning",
            Kind::SingleField => "single-field",
            Kind::NewValue => "new value",
            Kind::NewCustomer => "new customer",
            Kind::Merge => "merge",
        }
    }
}

/// One request: (email, phone).
#[derive(Debug, Clone)]
pub struct Op {
    /// What it exercises.
    pub kind: Kind,
    /// The email, if any.
    pub email: Option<String>,
    /// The phone number, if any.
    pub phone: Option<String>,
}

/// The seeded data set: `customers` singletons for the bulk of the mix, then `merge_pairs`
/// pairs of singletons that merges consume in order (so merges stay local, as in real shops).
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Customers 0..customers.
    pub customers: u64,
    /// Pairs after them, customers + 2m and customers + 2m + 1.
    pub merge_pairs: u64,
    next_pair: Arc<AtomicU64>,
}

impl Dataset {
    /// A data set of `customers` plus enough merge pairs.
    pub fn new(customers: u64, merge_pairs: u64) -> Self {
        Dataset {
            customers,
            merge_pairs,
            next_pair: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Every seeded (email, phone), in insertion order.
    pub fn rows(&self) -> impl Iterator<Item = (String, String)> {
        (0..self.customers + 2 * self.merge_pairs).map(|i| (email(i), phone(i)))
    }
}

/// A worker's deterministic random numbers (xorshift; no dependency).
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The stream of worker `worker` for run `seed`.
    pub fn new(seed: u64, worker: u64) -> Self {
        Rng {
            state: (seed ^ (worker + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1,
        }
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A worker's deterministic generator of the default mix.
pub struct Generator {
    rng: Rng,
    worker: u64,
    fresh: u64,
    data: Dataset,
}

impl Generator {
    /// The generator of worker `worker` for run `seed`.
    pub fn new(seed: u64, worker: u64, data: Dataset) -> Self {
        Generator {
            rng: Rng::new(seed, worker),
            worker,
            fresh: 0,
            data,
        }
    }

    fn next(&mut self) -> u64 {
        self.rng.next()
    }

    fn unique(&mut self) -> (String, String) {
        self.fresh += 1;
        (
            format!("n{}-{}@new.test", self.worker, self.fresh),
            format!("8{:03}{:09}", self.worker % 1000, self.fresh),
        )
    }

    /// An operation of the given kind.
    pub fn op(&mut self, kind: Kind) -> Op {
        let i = self.next() % self.data.customers;
        let (email, phone) = match kind {
            Kind::Returning => (Some(email(i)), Some(phone(i))),
            Kind::SingleField if self.next().is_multiple_of(2) => (Some(email(i)), None),
            Kind::SingleField => (None, Some(phone(i))),
            Kind::NewValue => {
                let (new_email, new_phone) = self.unique();
                if self.next().is_multiple_of(2) {
                    (Some(email(i)), Some(new_phone))
                } else {
                    (Some(new_email), Some(phone(i)))
                }
            }
            Kind::NewCustomer => {
                let (e, p) = self.unique();
                (Some(e), Some(p))
            }
            Kind::Merge => {
                let m = self.data.next_pair.fetch_add(1, Ordering::Relaxed);
                if m >= self.data.merge_pairs {
                    return self.op(Kind::Returning);
                }
                let a = self.data.customers + 2 * m;
                (Some(email(a)), Some(phone(a + 1)))
            }
        };
        Op { kind, email, phone }
    }

    /// The next operation of the mix.
    pub fn next_op(&mut self) -> Op {
        let kind = match self.next() % 100 {
            0..75 => Kind::Returning,
            75..85 => Kind::SingleField,
            85..95 => Kind::NewValue,
            95..98 => Kind::NewCustomer,
            _ => Kind::Merge,
        };
        self.op(kind)
    }
}
