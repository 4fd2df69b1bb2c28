//! What a table import changed, for the people whose systems stored the table's ids: which of
//! the table's customers are led by another row now and why ([`ChangedCustomer`]), and every
//! table id that no longer names the same row of the same customer ([`MovedRow`]). An id
//! listed nowhere kept its meaning: the same row, in the customer its table primary leads.

use serde::Serialize;

use crate::contact::ContactId;

/// Why a customer of the table is led by another row now. The first two are merges: the
/// table's customer is part of an older one now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum CustomerChange {
    /// The old service's damage: an older customer of the table holds one of its values
    /// exactly as written (duplicate primaries of one person, one value in two customers,
    /// left by its races). Merged into the older customer.
    Duplicate,
    /// Its values equal an older customer's only once normalized (an email's case, a phone's
    /// punctuation): the table kept them apart, the contract joins them. Merged into the older
    /// customer.
    Normalized,
    /// The row the table made its primary is soft-deleted or not in the table: its oldest
    /// remaining row leads.
    PrimaryDeleted,
    /// The row the table made its primary was not imported (malformed, every value blocked,
    /// or refused by the phone region): its oldest imported row leads.
    PrimaryLeftOut,
    /// The row the table made its primary is not the customer's oldest (by creation time,
    /// then id), which leads now, as the contract says.
    PrimaryNotOldest,
    /// None of its rows was imported: the customer is gone.
    LeftOut,
}

impl CustomerChange {
    /// Every change, in the order reports list them.
    pub const ALL: [CustomerChange; 6] = [
        CustomerChange::Duplicate,
        CustomerChange::Normalized,
        CustomerChange::PrimaryDeleted,
        CustomerChange::PrimaryLeftOut,
        CustomerChange::PrimaryNotOldest,
        CustomerChange::LeftOut,
    ];

    /// The wire spelling: `duplicate`, `normalized`, `primaryDeleted`, `primaryLeftOut`,
    /// `primaryNotOldest`, `leftOut`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerChange::Duplicate => "duplicate",
            CustomerChange::Normalized => "normalized",
            CustomerChange::PrimaryDeleted => "primaryDeleted",
            CustomerChange::PrimaryLeftOut => "primaryLeftOut",
            CustomerChange::PrimaryNotOldest => "primaryNotOldest",
            CustomerChange::LeftOut => "leftOut",
        }
    }
}

/// What became of one row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum RowFate {
    /// Imported as a row of its own.
    Kept,
    /// Not copied: every value it carries is on a row with a lower id of its customer (a
    /// row would add nothing, which the contract does not allow; the old service's races left
    /// such rows). Its id names its customer's primary now.
    Folded,
    /// Soft-deleted in the table: not imported, its id reserved.
    Deleted,
    /// Malformed, or its phone refused by the tenant's region (left out with
    /// [`crate::import::OnError::Skip`]).
    Refused,
    /// Every value it carries is blocked or suppressed: left out.
    Ignored,
}

impl RowFate {
    /// The wire spelling: `kept`, `folded`, `deleted`, `refused`, `ignored`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RowFate::Kept => "kept",
            RowFate::Folded => "folded",
            RowFate::Deleted => "deleted",
            RowFate::Refused => "refused",
            RowFate::Ignored => "ignored",
        }
    }
}

/// A customer of the table (by the row its links end at) that is led by another row now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChangedCustomer {
    /// The row the table made its primary (where its rows' links end; it may be deleted or
    /// missing).
    pub table_primary_id: u64,
    /// The primary of the customer it is part of now; `None` when nothing of it was imported.
    #[serde(serialize_with = "id_or_null")]
    pub primary_contact_id: Option<ContactId>,
    /// Why.
    pub change: CustomerChange,
}

/// A row of the table whose id no longer names the same row of the same customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MovedRow {
    /// Its id in the table.
    pub id: u64,
    /// The row the table made its customer's primary.
    pub table_primary_id: u64,
    /// Its row now (its own id unless renumbered; in a dry run of a renumbered import, the id
    /// it would take if nothing else wrote meanwhile); `None` when it was not imported as a
    /// row.
    #[serde(serialize_with = "id_or_null")]
    pub contact_id: Option<ContactId>,
    /// Its customer's primary now; `None` when nothing of its customer was imported.
    #[serde(serialize_with = "id_or_null")]
    pub primary_contact_id: Option<ContactId>,
    /// What became of the row.
    pub row: RowFate,
    /// What became of its customer, when it is led by another row now.
    pub change: Option<CustomerChange>,
}

/// What a table import did beyond a checkout import: deleted rows, repairs, and every change
/// of meaning of the table's ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TableOutcome {
    /// Soft-deleted rows given: not imported, their ids reserved.
    pub deleted_rows: u64,
    /// Whether the rows kept the table's ids (`false`: numbered anew, see
    /// [`crate::import::ImportOptions::renumber`]).
    pub ids_kept: bool,
    /// The table's highest id, deleted rows included: with kept ids, rows written later get
    /// higher ones.
    pub highest_id: u64,
    /// Rows the table linked to a secondary or to a row that is deleted or not there (chains),
    /// now linked to their customer's primary.
    pub repaired_chains: u64,
    /// The table's customers led by another row now, by their table primary's id.
    pub changed_customers: Vec<ChangedCustomer>,
    /// The table's rows whose id no longer names the same row of the same customer, by id.
    pub moved_rows: Vec<MovedRow>,
}

impl TableOutcome {
    /// How many of the table's customers changed so.
    #[must_use]
    pub fn changed(&self, change: CustomerChange) -> u64 {
        self.changed_customers
            .iter()
            .filter(|c| c.change == change)
            .count() as u64
    }
}

fn id_or_null<S: serde::Serializer>(
    id: &Option<ContactId>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_i64(id.get()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_has_its_wire_shape_and_counts_by_change() {
        let outcome = TableOutcome {
            deleted_rows: 1,
            ids_kept: true,
            highest_id: 14,
            repaired_chains: 1,
            changed_customers: vec![ChangedCustomer {
                table_primary_id: 4,
                primary_contact_id: Some(ContactId::new(3)),
                change: CustomerChange::Duplicate,
            }],
            moved_rows: vec![MovedRow {
                id: 4,
                table_primary_id: 4,
                contact_id: None,
                primary_contact_id: Some(ContactId::new(3)),
                row: RowFate::Folded,
                change: Some(CustomerChange::Duplicate),
            }],
        };
        assert_eq!(outcome.changed(CustomerChange::Duplicate), 1);
        assert_eq!(outcome.changed(CustomerChange::Normalized), 0);
        assert_eq!(
            serde_json::to_value(&outcome).unwrap(),
            serde_json::json!({"deletedRows": 1, "idsKept": true, "highestId": 14,
                "repairedChains": 1,
                "changedCustomers": [{"tablePrimaryId": 4, "primaryContactId": 3,
                    "change": "duplicate"}],
                "movedRows": [{"id": 4, "tablePrimaryId": 4, "contactId": null,
                    "primaryContactId": 3, "row": "folded", "change": "duplicate"}]})
        );
        for change in CustomerChange::ALL {
            assert_eq!(
                serde_json::to_value(change).unwrap(),
                serde_json::json!(change.as_str())
            );
        }
    }
}
