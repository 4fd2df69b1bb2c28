//! The pass in time order behind [`super::replay::plan_import`]: the rows so far, each value's
//! first row, and a union-find over the rows.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::contact::{Email, Phone};
use crate::request::IdentifyRequest;
use crate::union_find::DisjointSets;

use super::plan::PlannedIds;
use super::{ImportPlan, ImportReport, PlannedRow};

/// The running state of the pass.
#[derive(Default)]
pub(super) struct Batch {
    rows: Vec<PlannedRow>,
    email_at: HashMap<Email, usize>,
    phone_at: HashMap<Phone, usize>,
    sets: DisjointSets,
    merges: u64,
    folded: u64,
}

impl Batch {
    /// One checkout, screened: a row when it carries a value not seen before, and a union of the
    /// customers of its values (a merge when they were two).
    pub(super) fn add(&mut self, request: IdentifyRequest, at: OffsetDateTime) {
        let email = request.email().and_then(|e| self.email_at.get(e).copied());
        let phone = request
            .phone_number()
            .and_then(|p| self.phone_at.get(p).copied());
        if let (Some(e), Some(p)) = (email, phone) {
            self.join(e, p);
        }
        let new_email = request.email().is_some() && email.is_none();
        let new_phone = request.phone_number().is_some() && phone.is_none();
        if !new_email && !new_phone {
            self.folded += 1; // only known values: no row
            return;
        }
        let i = self.rows.len();
        self.sets.add();
        if let Some(known) = email.or(phone) {
            self.sets.union(known, i);
        }
        if new_email && let Some(e) = request.email() {
            self.email_at.insert(e.clone(), i);
        }
        if new_phone && let Some(p) = request.phone_number() {
            self.phone_at.insert(p.clone(), i);
        }
        self.rows.push(PlannedRow {
            email: request.email().cloned(),
            phone_number: request.phone_number().cloned(),
            primary: None,
            at,
        });
    }

    /// Joins the customers of rows `a` and `b`, counting a merge when they were two.
    fn join(&mut self, a: usize, b: usize) {
        if self.sets.union(a, b) {
            self.merges += 1;
        }
    }

    /// The plan: every row linked to its customer's oldest row, and the counts.
    pub(super) fn finish(mut self, mut report: ImportReport) -> ImportPlan {
        let mut sizes: HashMap<usize, u64> = HashMap::new();
        for i in 0..self.rows.len() {
            let root = self.sets.find(i);
            if root != i {
                self.rows[i].primary = Some(root);
            }
            *sizes.entry(root).or_default() += 1;
        }
        report.rows = self.rows.len() as u64;
        report.customers = sizes.len() as u64;
        report.largest_customer = sizes.values().copied().max().unwrap_or(0);
        report.merges = self.merges;
        report.folded = self.folded;
        ImportPlan::new(self.rows, report, PlannedIds::Drawn, None)
    }
}
