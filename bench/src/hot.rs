//! The hot mix (`--mix hot`): a shop whose regulars keep coming back. 200 regular customers,
//! seeded with 100 rows each (one phone, a new email per row); then 75% of checkouts repeat a
//! known email and phone of a regular, 12% only one of them, 10% add a new email to a regular,
//! 2% are new people and 1% join two regulars, so the regulars keep growing and merging.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::mix::{Kind, Op, Rng};

/// Regular `r`'s `k`-th email.
pub fn email(r: u64, k: u64) -> String {
    format!("r{r}.e{k}@hot.test")
}

/// Regular `r`'s phone number.
pub fn phone(r: u64) -> String {
    format!("9{r:07}")
}

/// Bystander `i`'s email (a one-row customer of the regulars' tenant that no checkout names).
pub fn bystander_email(i: u64) -> String {
    format!("b{i}@bystander.test")
}

/// Bystander `i`'s phone number.
pub fn bystander_phone(i: u64) -> String {
    format!("8{i:07}")
}

/// The regulars and how many emails each has so far (shared by the workers).
#[derive(Debug, Clone)]
pub struct Regulars {
    /// How many regulars.
    pub count: u64,
    /// Rows each regular is seeded with.
    pub seeded_rows: u64,
    /// One kind of checkout only instead of the mix (`--writes`): known, new people or a new
    /// email for a regular.
    pub only: Option<Kind>,
    /// The mix with its joins of two regulars sent as known checkouts instead (`--writes`:
    /// what the mix costs without the merges that make one large customer of the regulars).
    pub without_joins: bool,
    /// One-row customers seeded into the same tenant before the regulars, which no checkout
    /// names (`--writes`: what the tenant's size costs the mix).
    pub bystanders: u64,
    emails: Arc<Vec<AtomicU64>>,
}

impl Regulars {
    /// `count` regulars of `rows` rows each.
    pub fn new(count: u64, rows: u64) -> Self {
        Regulars {
            count,
            seeded_rows: rows,
            only: None,
            without_joins: false,
            bystanders: 0,
            emails: Arc::new((0..count).map(|_| AtomicU64::new(rows)).collect()),
        }
    }

    /// Regulars like these, each back at its seeded rows (for a fresh target).
    #[must_use]
    pub fn clone_fresh(&self) -> Self {
        Regulars::new(self.count, self.seeded_rows)
    }

    /// The same regulars, their joins sent as known checkouts.
    #[must_use]
    pub fn without_joins(mut self) -> Self {
        self.without_joins = true;
        self
    }

    /// The same regulars in a tenant that also holds `n` one-row customers.
    #[must_use]
    pub fn with_bystanders(mut self, n: u64) -> Self {
        self.bystanders = n;
        self
    }

    /// The same regulars, sent only checkouts of `kind`.
    #[must_use]
    pub fn only(mut self, kind: Kind) -> Self {
        self.only = Some(kind);
        self
    }

    /// Every seeded (email, phone), each regular's first row before any other row.
    pub fn rows(&self) -> impl Iterator<Item = (String, String)> {
        let count = self.count;
        (0..self.seeded_rows).flat_map(move |k| (0..count).map(move |r| (email(r, k), phone(r))))
    }

    fn known(&self, r: u64) -> u64 {
        self.emails[usize::try_from(r).unwrap_or(0)].load(Ordering::Relaxed)
    }

    fn grow(&self, r: u64) -> u64 {
        self.emails[usize::try_from(r).unwrap_or(0)].fetch_add(1, Ordering::Relaxed)
    }
}

/// A worker's deterministic generator of the hot mix.
pub struct HotGenerator {
    rng: Rng,
    worker: u64,
    fresh: u64,
    regulars: Regulars,
}

impl HotGenerator {
    /// The generator of worker `worker` for run `seed`.
    pub fn new(seed: u64, worker: u64, regulars: Regulars) -> Self {
        HotGenerator {
            rng: Rng::new(seed, worker),
            worker,
            fresh: 0,
            regulars,
        }
    }

    /// A known email of regular `r`.
    fn known_email(&mut self, r: u64) -> String {
        let k = self.rng.below(self.regulars.known(r).max(1));
        email(r, k)
    }

    /// The next operation of the mix.
    pub fn next_op(&mut self) -> Op {
        let r = self.rng.below(self.regulars.count);
        let draw = match self.regulars.only {
            None if self.regulars.without_joins => match self.rng.below(100) {
                99 => 0,
                d => d,
            },
            None => self.rng.below(100),
            Some(Kind::Returning) => 0,
            Some(Kind::NewValue) => 87,
            Some(Kind::NewCustomer) => 97,
            Some(Kind::SingleField) => 75,
            Some(Kind::Merge) => 99,
        };
        let (kind, email, phone) = match draw {
            0..75 => (Kind::Returning, Some(self.known_email(r)), Some(phone(r))),
            75..87 if self.rng.below(2) == 0 => {
                (Kind::SingleField, Some(self.known_email(r)), None)
            }
            75..87 => (Kind::SingleField, None, Some(phone(r))),
            87..97 => {
                let k = self.regulars.grow(r);
                (Kind::NewValue, Some(email(r, k)), Some(phone(r)))
            }
            97..99 => {
                self.fresh += 1;
                let (w, n) = (self.worker, self.fresh);
                (
                    Kind::NewCustomer,
                    Some(format!("n{w}-{n}@new.test")),
                    Some(format!("7{:03}{n:09}", w % 1000)),
                )
            }
            _ => {
                let other = (r + 1 + self.rng.below(self.regulars.count - 1)) % self.regulars.count;
                (Kind::Merge, Some(self.known_email(r)), Some(phone(other)))
            }
        };
        Op { kind, email, phone }
    }
}
