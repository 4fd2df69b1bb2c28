//! An import's plan ([`ImportPlan`]): the rows to write in the order of their ids, whose ids
//! they take (drawn by the store, or a table's own), and what the report says once the ids
//! are known.

use time::OffsetDateTime;

use crate::contact::{Contact, ContactId, Email, Link, Phone};
use crate::error::{Error, Result};

use super::ImportReport;
use super::changes::{ChangedCustomer, CustomerChange, MovedRow, RowFate, TableOutcome};

/// One row an import writes: its values, its primary (an index among the rows; `None`: it is
/// a primary) and when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRow {
    /// The row's email (screened: never a blocked value).
    pub email: Option<Email>,
    /// The row's phone number (in the tenant's region's form, when it has one).
    pub phone_number: Option<Phone>,
    /// The index of its customer's primary among the planned rows; `None` for a primary.
    pub primary: Option<usize>,
    /// The checkout's (or the table row's) creation time.
    pub at: OffsetDateTime,
}

/// Where the ids of an import's rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlannedIds {
    /// The store draws them, ascending in the rows' order.
    Drawn,
    /// A table's own: one per row, ascending; `lowest` and `highest` are the table's lowest
    /// and highest ids, deleted rows included (every id the store gave out must be below
    /// `lowest`, and the store's ids continue above `highest`).
    Kept {
        ids: Vec<ContactId>,
        lowest: u64,
        highest: u64,
    },
}

/// What became of one row of a table, before the ids are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableRowFate {
    pub id: u64,
    pub table_primary: u64,
    /// Its index among the planned rows, when it is written.
    pub row: Option<usize>,
    /// Its customer's primary, as an index among the planned rows.
    pub primary: Option<usize>,
    pub fate: RowFate,
    pub change: Option<CustomerChange>,
}

/// What a table import changed, before the ids are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableFates {
    /// The outcome's counts (its lists are filled once the ids are known).
    pub outcome: TableOutcome,
    /// Each changed customer of the table: its table primary, its primary now (an index
    /// among the planned rows) and why.
    pub changes: Vec<(u64, Option<usize>, CustomerChange)>,
    /// The rows that may have moved, by id.
    pub rows: Vec<TableRowFate>,
}

/// An import's plan: the rows to write, in the order of their ids, and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPlan {
    /// Every row to write; the ids given to them ascend in this order.
    pub rows: Vec<PlannedRow>,
    /// What the import does (`ids`, `table` and `written` are set by [`ImportPlan::finish`]).
    pub report: ImportReport,
    ids: PlannedIds,
    table: Option<TableFates>,
}

impl ImportPlan {
    pub(crate) fn new(
        rows: Vec<PlannedRow>,
        report: ImportReport,
        ids: PlannedIds,
        table: Option<TableFates>,
    ) -> Self {
        ImportPlan {
            rows,
            report,
            ids,
            table,
        }
    }

    /// The table's own ids for the rows, when they keep them: the ids, and the table's lowest
    /// and highest id (deleted rows included).
    pub(crate) fn kept_ids(&self) -> Option<(&[ContactId], u64, u64)> {
        match &self.ids {
            PlannedIds::Drawn => None,
            PlannedIds::Kept {
                ids,
                lowest,
                highest,
            } => Some((ids, *lowest, *highest)),
        }
    }

    /// The rows as contact rows under `ids` (ascending, one per row) and the final report
    /// (the ids written, what changed for a table's ids, `written`). A dry run passes the ids
    /// the rows would take: the report then names no ids written, but its table outcome uses
    /// them. The rows' values move
    /// into the contacts (an import of millions holds them once).
    ///
    /// # Errors
    /// [`Error::Internal`] when `ids` has the wrong length.
    pub(crate) fn finish(
        self,
        ids: &[ContactId],
        written: bool,
    ) -> Result<(Vec<Contact>, ImportReport)> {
        if ids.len() != self.rows.len() {
            return Err(Error::Internal {
                reason: "an import was given ids for another number of rows",
            });
        }
        let mut report = self.report;
        if written {
            report.ids = ids.first().zip(ids.last()).map(|(a, b)| (*a, *b));
        }
        report.written = written;
        if let Some(fates) = self.table {
            report.table = Some(fates.resolve(ids));
        }
        let contacts = self
            .rows
            .into_iter()
            .zip(ids)
            .map(|(row, id)| Contact {
                id: *id,
                email: row.email,
                phone_number: row.phone_number,
                link: row
                    .primary
                    .map_or(Link::Primary, |p| Link::SecondaryOf(ids[p])),
                created_at: row.at,
                updated_at: row.at,
            })
            .collect();
        Ok((contacts, report))
    }
}

impl TableFates {
    /// The outcome, with planned rows named by their ids: the changed customers, and the rows
    /// whose id no longer names the same row of the same customer.
    fn resolve(self, ids: &[ContactId]) -> TableOutcome {
        let id = |row: Option<usize>| row.map(|r| ids[r]);
        let as_id = |n: u64| ContactId::new(i64::try_from(n).unwrap_or(i64::MAX));
        let mut outcome = self.outcome;
        // renumbered, every id is listed (one that lands on its own number too)
        let every = !outcome.ids_kept;
        outcome.changed_customers = self
            .changes
            .into_iter()
            .map(|(table_primary, primary, change)| ChangedCustomer {
                table_primary_id: table_primary,
                primary_contact_id: id(primary),
                change,
            })
            .collect();
        outcome.moved_rows = self
            .rows
            .into_iter()
            .map(|r| MovedRow {
                id: r.id,
                table_primary_id: r.table_primary,
                contact_id: id(r.row),
                primary_contact_id: id(r.primary),
                row: r.fate,
                change: r.change,
            })
            .filter(|m| {
                every
                    || m.contact_id != Some(as_id(m.id))
                    || m.primary_contact_id != Some(as_id(m.table_primary_id))
            })
            .collect();
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_rows_become_contacts_linked_to_their_primary_wherever_it_is() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let row = |primary| PlannedRow {
            email: None,
            phone_number: Some(Phone::from_integer(1)),
            primary,
            at,
        };
        // a primary after its secondary in id order (created earlier under a higher id)
        let plan = ImportPlan::new(
            vec![row(Some(1)), row(None)],
            ImportReport::default(),
            PlannedIds::Drawn,
            None,
        );
        let ids = [ContactId::new(7), ContactId::new(9)];
        assert!(plan.clone().finish(&ids[..1], true).is_err());
        let (rows, report) = plan.finish(&ids, true).unwrap();
        assert_eq!(rows[0].link, Link::SecondaryOf(ContactId::new(9)));
        assert_eq!(rows[1].link, Link::Primary);
        assert_eq!(report.ids, Some((ids[0], ids[1])));
        assert!(report.written && report.table.is_none());
        let (_, dry) = ImportPlan::new(
            vec![row(None)],
            ImportReport::default(),
            PlannedIds::Drawn,
            None,
        )
        .finish(&ids[..1], false)
        .unwrap();
        assert!(
            !dry.written && dry.ids.is_none(),
            "a dry run names no ids written"
        );
    }
}
