//! What a run sends, either mix: the default one over many small customers (`crate::mix`) or the
//! hot one of regulars (`crate::hot`), behind one generator type for the workers.

use crate::hot::{HotGenerator, Regulars};
use crate::mix::{Dataset, Generator, Op};

/// What a run sends: the default mix over many small customers, or the hot mix of regulars.
#[derive(Debug, Clone)]
pub enum Workload {
    /// The default mix (`crate::mix`).
    Default(Dataset),
    /// The hot mix (`crate::hot`).
    Hot(Regulars),
}

/// A worker's generator of either mix.
pub enum Source {
    /// The default mix.
    Default(Generator),
    /// The hot mix.
    Hot(HotGenerator),
}

impl Source {
    /// The next operation.
    pub fn next_op(&mut self) -> Op {
        match self {
            Source::Default(g) => g.next_op(),
            Source::Hot(g) => g.next_op(),
        }
    }
}

impl Workload {
    /// Worker `worker`'s generator for run `seed`.
    pub fn source(&self, seed: u64, worker: u64) -> Source {
        match self {
            Workload::Default(data) => Source::Default(Generator::new(seed, worker, data.clone())),
            Workload::Hot(regulars) => {
                Source::Hot(HotGenerator::new(seed, worker, regulars.clone()))
            }
        }
    }

    /// Every seeded (email, phone), in insertion order.
    pub fn rows(&self) -> Box<dyn Iterator<Item = (String, String)> + '_> {
        match self {
            Workload::Default(data) => Box::new(data.rows()),
            Workload::Hot(regulars) => Box::new(regulars.rows()),
        }
    }
}
