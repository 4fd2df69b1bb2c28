//! The pure step of a table import ([`plan_table`]): an existing deployment's rows and the
//! tenant's settings in, the rows to write under the table's own ids (each with its primary)
//! and what changed for the table's customers out.
//!
//! Rows are taken in id order, as the contract's "a row adds a value" (I4) is read: a row is
//! written when it carries a value no row with a lower id carries, else folded into its
//! customer. Customers are what the contract makes of the rows: rows sharing a value (as
//! `identify` normalizes it) or linked by the table (also through deleted or left-out rows)
//! are one customer, led by its oldest written row (creation time, then id). Each customer of
//! the table (the rows whose links end at one row) is then compared with what it became: kept,
//! merged into an older one (by identical values, the old service's damage, or only once
//! values are normalized), or led by another of its rows.

use std::collections::HashMap;

use crate::contact::{Email, Phone};
use crate::error::{Error, Field, Result};
use crate::identifier::IdentifierKind;
use crate::request::IdentifyRequest;
use crate::request::IgnoredReason;
use crate::screen::{Localized, TenantState};
use crate::union_find::DisjointSets;

use super::changes::{CustomerChange, RowFate, TableOutcome};
use super::input::{ImportOptions, OnError};
use super::plan::{ImportPlan, PlannedIds, PlannedRow, TableFates, TableRowFate};
use super::refusals::{Origins, refuse_limits, rejection};
use super::report::{ImportReport, REJECTED_SHOWN, Rejected};
use super::table_rows::TableRow;

/// What screening one visible row gave.
enum Screened {
    /// Its values as `identify` reads them, and the raw spelling of each one kept.
    Values(IdentifyRequest, Option<String>, Option<String>),
    Refused,
    Ignored,
}

/// Plans importing `rows` (any order) into an empty tenant whose settings are `state`.
///
/// # Errors
/// [`Error::InvalidInput`] naming [`Field::Table`] when two rows share an id or an id is out of
/// range, or when a row is refused under [`OnError::Abort`] (naming the first ones by id);
/// [`Error::Conflict`] when the tenant has per-customer caps.
pub(crate) fn plan_table(
    mut rows: Vec<TableRow>,
    state: &TenantState,
    options: ImportOptions,
) -> Result<ImportPlan> {
    refuse_limits(state)?;
    rows.sort_by_key(|r| r.id);
    check_ids(&rows)?;
    let n = rows.len();
    let position: HashMap<u64, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let roots = table_roots(&rows, &position);

    let mut report = ImportReport {
        checkouts: rows.iter().filter(|r| !r.deleted).count() as u64,
        ..ImportReport::default()
    };
    let mut ignored: HashMap<IgnoredReason, u64> = HashMap::new();
    let mut screened: Vec<Option<Screened>> = Vec::with_capacity(n);
    for row in &rows {
        screened.push((!row.deleted).then(|| screen(row, state, &mut report, &mut ignored)));
    }
    if options.on_error == OnError::Abort && report.rejected > 0 {
        return Err(rejection(&report, Origins::TableIds));
    }

    // the customers: links (also through deleted and left-out rows, and to rows not there),
    // then values; `exact` joins by values as written, to tell repairs from normalization
    let mut sets = DisjointSets::new(n);
    let mut exact = DisjointSets::new(n);
    let mut absent: HashMap<u64, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if let Some(to) = row.linked_id {
            let j = match position.get(&to) {
                Some(j) => *j,
                None => *absent.entry(to).or_insert_with(|| {
                    exact.add();
                    sets.add()
                }),
            };
            sets.union(i, j);
            exact.union(i, j);
        }
    }
    let mut email_at: HashMap<&Email, usize> = HashMap::new();
    let mut phone_at: HashMap<&Phone, usize> = HashMap::new();
    let mut exact_at: HashMap<(IdentifierKind, &str), usize> = HashMap::new();
    let mut kept: Vec<Option<usize>> = vec![None; n];
    let mut planned: Vec<PlannedRow> = Vec::new();
    let mut kept_ids = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let Some(Screened::Values(request, raw_email, raw_phone)) = &screened[i] else {
            continue;
        };
        let mut adds = false;
        if let Some(e) = request.email() {
            let first = *email_at.entry(e).or_insert(i);
            adds |= first == i;
            sets.union(i, first);
        }
        if let Some(p) = request.phone_number() {
            let first = *phone_at.entry(p).or_insert(i);
            adds |= first == i;
            sets.union(i, first);
        }
        for (kind, raw) in [
            (IdentifierKind::Email, raw_email),
            (IdentifierKind::Phone, raw_phone),
        ] {
            if let Some(raw) = raw {
                let first = *exact_at.entry((kind, raw.as_str())).or_insert(i);
                exact.union(i, first);
            }
        }
        if adds {
            kept[i] = Some(planned.len());
            kept_ids.push(crate::contact::ContactId::new(row.id as i64));
            planned.push(PlannedRow {
                email: request.email().cloned(),
                phone_number: request.phone_number().cloned(),
                primary: None,
                at: row.created_at.unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            });
        }
    }
    let at = |i: usize| (rows[i].created_at, rows[i].id);

    // each customer's primary: its oldest written row
    let mut primary_of_set: HashMap<usize, usize> = HashMap::new();
    for i in (0..n).filter(|i| kept[*i].is_some()) {
        let set = sets.find(i);
        let p = primary_of_set.entry(set).or_insert(i);
        if at(i) < at(*p) {
            *p = i;
        }
    }
    let mut sizes: HashMap<usize, u64> = HashMap::new();
    for i in (0..n).filter(|i| kept[*i].is_some()) {
        let p = primary_of_set[&sets.find(i)];
        if p != i {
            planned[kept[i].unwrap_or_default()].primary = kept[p];
        }
        *sizes.entry(p).or_default() += 1;
    }
    let primary_of = |sets: &mut DisjointSets, i: usize| primary_of_set.get(&sets.find(i)).copied();

    // each customer of the table (by its root) against what it became
    let mut member: HashMap<u64, usize> = HashMap::new();
    for (i, root) in roots.iter().enumerate() {
        member.entry(*root).or_insert(i);
    }
    let mut changes: Vec<(u64, Option<usize>, CustomerChange)> = Vec::new();
    let mut change_of: HashMap<u64, CustomerChange> = HashMap::new();
    let mut roots_sorted: Vec<(&u64, &usize)> = member.iter().collect();
    roots_sorted.sort();
    for (root, any) in roots_sorted {
        let primary = primary_of(&mut sets, *any);
        let change = match primary {
            None => Some(CustomerChange::LeftOut),
            Some(p) if rows[p].id == *root => None,
            Some(p) if roots[p] == *root => Some(match position.get(root) {
                None => CustomerChange::PrimaryDeleted,
                Some(r) if rows[*r].deleted => CustomerChange::PrimaryDeleted,
                Some(r) if !matches!(screened[*r], Some(Screened::Values(..))) => {
                    CustomerChange::PrimaryLeftOut
                }
                Some(_) => CustomerChange::PrimaryNotOldest,
            }),
            Some(p) if exact.find(p) == exact.find(*any) => Some(CustomerChange::Duplicate),
            Some(_) => Some(CustomerChange::Normalized),
        };
        if let Some(change) = change {
            changes.push((*root, primary.and_then(|p| kept[p]), change));
            change_of.insert(*root, change);
        }
    }

    // every row whose id may no longer name the same row of the same customer
    let mut fates = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let fate = match &screened[i] {
            None => RowFate::Deleted,
            Some(Screened::Refused) => RowFate::Refused,
            Some(Screened::Ignored) => RowFate::Ignored,
            Some(Screened::Values(..)) if kept[i].is_none() => RowFate::Folded,
            Some(Screened::Values(..)) => RowFate::Kept,
        };
        let change = change_of.get(&roots[i]).copied();
        if fate != RowFate::Kept || change.is_some() || options.renumber {
            fates.push(TableRowFate {
                id: row.id,
                table_primary: roots[i],
                row: kept[i],
                primary: primary_of(&mut sets, i).and_then(|p| kept[p]),
                fate,
                change,
            });
        }
    }

    report.rows = planned.len() as u64;
    report.customers = sizes.len() as u64;
    report.largest_customer = sizes.values().copied().max().unwrap_or(0);
    report.merges = changes
        .iter()
        .filter(|(_, _, c)| matches!(c, CustomerChange::Duplicate | CustomerChange::Normalized))
        .count() as u64;
    report.folded = fates.iter().filter(|f| f.fate == RowFate::Folded).count() as u64;
    report.ignored = [IgnoredReason::Blocked, IgnoredReason::Suppressed]
        .into_iter()
        .filter_map(|r| ignored.get(&r).map(|n| (r, *n)))
        .collect();
    let outcome = TableOutcome {
        deleted_rows: rows.iter().filter(|r| r.deleted).count() as u64,
        ids_kept: !options.renumber,
        highest_id: rows.last().map_or(0, |r| r.id),
        repaired_chains: chains(&rows, &position),
        ..TableOutcome::default()
    };
    // an empty table keeps nothing (and reserves nothing)
    let ids = if options.renumber || rows.is_empty() {
        PlannedIds::Drawn
    } else {
        PlannedIds::Kept {
            ids: kept_ids,
            lowest: rows.first().map_or(0, |r| r.id),
            highest: outcome.highest_id,
        }
    };
    Ok(ImportPlan::new(
        planned,
        report,
        ids,
        Some(TableFates {
            outcome,
            changes,
            rows: fates,
        }),
    ))
}

/// Refuses two rows with one id, and ids a store cannot hold.
fn check_ids(sorted: &[TableRow]) -> Result<()> {
    if let Some(w) = sorted.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(Error::invalid(
            Field::Table,
            format!("two rows have the id {}: a table's ids are unique", w[0].id),
        ));
    }
    if let Some(r) = sorted.iter().find(|r| r.id == 0 || r.id > i64::MAX as u64) {
        return Err(Error::invalid(
            Field::Table,
            format!("row id {} is out of range (1 to 2^63-1)", r.id),
        ));
    }
    Ok(())
}

/// Reads one visible row as `identify` would read it, counting what it refuses or leaves out.
fn screen(
    row: &TableRow,
    state: &TenantState,
    report: &mut ImportReport,
    ignored: &mut HashMap<IgnoredReason, u64>,
) -> Screened {
    let parsed = match row.created_at {
        None => Err("missing time".to_owned()),
        Some(_) => IdentifyRequest::parse(row.email.as_deref(), row.phone_number.as_deref())
            .map_err(|e| e.to_string()),
    };
    let refuse = |report: &mut ImportReport, reason: String| {
        report.rejected += 1;
        if report.first_rejected.len() < REJECTED_SHOWN {
            report.first_rejected.push(Rejected {
                origin: row.id,
                reason,
            });
        }
        Screened::Refused
    };
    let request = match parsed {
        Ok(request) => request,
        Err(reason) => return refuse(report, reason),
    };
    match Localized::noting(&request, state, Vec::new()) {
        Ok(local) => {
            for i in &local.ignored {
                *ignored.entry(i.reason).or_default() += 1;
            }
            let email = local.request.email().and(row.email.clone());
            let phone = local.request.phone_number().and(row.phone_number.clone());
            Screened::Values(local.request, email, phone)
        }
        Err((Error::BlockedValue { .. }, left_out)) => {
            report.ignored_checkouts += 1;
            for i in left_out {
                *ignored.entry(i.reason).or_default() += 1;
            }
            Screened::Ignored
        }
        Err((e, _)) => refuse(report, e.to_string()),
    }
}

/// The id each row's links end at (the row its table made its customer's primary): a row
/// without a link, a row that is not in the table, or where a circle of links closes.
fn table_roots(rows: &[TableRow], position: &HashMap<u64, usize>) -> Vec<u64> {
    let mut roots: Vec<Option<u64>> = vec![None; rows.len()];
    let mut on_path = vec![false; rows.len()];
    for start in 0..rows.len() {
        let mut path = Vec::new();
        let mut at = start;
        let root = loop {
            if let Some(root) = roots[at] {
                break root;
            }
            if on_path[at] {
                break rows[at].id; // a circle: it ends where it closed
            }
            on_path[at] = true;
            path.push(at);
            match rows[at].linked_id {
                None => break rows[at].id,
                Some(to) => match position.get(&to) {
                    None => break to,
                    Some(next) => at = *next,
                },
            }
        };
        for i in path {
            roots[i] = Some(root);
            on_path[i] = false;
        }
    }
    roots
        .into_iter()
        .zip(rows)
        .map(|(root, row)| root.unwrap_or(row.id))
        .collect()
}

/// Visible rows linked to a row that is itself linked, deleted or not in the table.
fn chains(rows: &[TableRow], position: &HashMap<u64, usize>) -> u64 {
    rows.iter()
        .filter(|r| !r.deleted)
        .filter_map(|r| r.linked_id)
        .filter(|to| {
            position
                .get(to)
                .is_none_or(|j| rows[*j].deleted || rows[*j].linked_id.is_some())
        })
        .count() as u64
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use time::OffsetDateTime;

    use super::*;
    use crate::contact::{Contact, ContactId};
    use crate::derive::derive;
    use crate::import::{ImportedCustomers, MovedRow, TableOutcome};

    fn at(minute: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_680_343_200 + 60 * minute).unwrap()
    }

    /// A visible row created `id` minutes in, unless `minute` says otherwise.
    fn row(id: u64, email: Option<&str>, phone: Option<&str>, link: Option<u64>) -> TableRow {
        let mut r = TableRow::new(id).created_at(at(id as i64));
        r.email = email.map(str::to_owned);
        r.phone_number = phone.map(str::to_owned);
        r.linked_id = link;
        r
    }

    /// The plan's contacts under the table's own ids, and the final report.
    fn import(rows: Vec<TableRow>, options: ImportOptions) -> (Vec<Contact>, ImportReport) {
        let plan = plan_table(rows, &TenantState::default(), options).unwrap();
        let ids: Vec<ContactId> = match plan.kept_ids() {
            Some((ids, _, _)) => ids.to_vec(),
            None => (0..plan.rows.len() as i64)
                .map(|k| ContactId::new(1000 + k))
                .collect(),
        };
        plan.finish(&ids, true).unwrap()
    }

    fn table(report: &ImportReport) -> &TableOutcome {
        report.table.as_ref().unwrap()
    }

    fn moved(report: &ImportReport, id: u64) -> Option<&MovedRow> {
        table(report).moved_rows.iter().find(|m| m.id == id)
    }

    fn id(n: i64) -> Option<ContactId> {
        Some(ContactId::new(n))
    }

    #[test]
    fn a_race_damaged_table_keeps_its_ids_and_says_what_changed() {
        let mut gone = row(12, Some("gone@hv.edu"), Some("123456"), Some(1));
        gone.deleted = true;
        let rows = vec![
            row(1, Some("lorraine@hv.edu"), Some("123456"), None),
            row(2, Some("mcfly@hv.edu"), Some("123456"), Some(1)),
            row(3, Some("george@hv.edu"), Some("717171"), None),
            row(4, Some("george@hv.edu"), Some("717171"), None), // a race's duplicate
            row(5, Some("george@hv.edu"), Some("717171"), None),
            row(8, Some("biff@hv.edu"), Some("717171"), Some(5)), // linked to a duplicate
            row(9, Some("doc@hv.edu"), Some("555"), None),
            row(10, Some("emmett@hv.edu"), Some("999"), Some(9)), // shares nothing with 9
            row(11, Some("marty@hv.edu"), Some("999"), Some(10)), // a chain
            gone,
            row(13, Some("alice@shop.io"), Some("42"), None),
            row(14, Some("bob@shop.io"), Some("42"), None), // one phone in two customers
            row(15, Some("Lorraine@HV.edu"), Some("+1 (800) 555"), None), // another spelling
        ];
        let (contacts, report) = import(rows, ImportOptions::default());
        let ids: Vec<i64> = contacts.iter().map(|c| c.id.get()).collect();
        assert_eq!(
            ids,
            [1, 2, 3, 8, 9, 10, 11, 13, 14, 15],
            "every row keeps its id"
        );
        assert_eq!(report.customers, 4);
        assert_eq!(report.folded, 2);
        let t = table(&report);
        assert_eq!(
            (t.deleted_rows, t.highest_id, t.repaired_chains),
            (1, 15, 1)
        );
        assert_eq!(t.changed(CustomerChange::Duplicate), 3); // 4, 5 (and 8 with it), 14
        assert_eq!(t.changed(CustomerChange::Normalized), 1); // 15
        assert_eq!(report.merges, 4);
        // the duplicates' rows name george's customer, led by 3, its table primary's
        let four = moved(&report, 4).unwrap();
        assert_eq!((four.contact_id, four.primary_contact_id), (None, id(3)));
        assert_eq!(
            (four.row, four.change),
            (RowFate::Folded, Some(CustomerChange::Duplicate))
        );
        let biff = moved(&report, 8).unwrap();
        assert_eq!((biff.contact_id, biff.primary_contact_id), (id(8), id(3)));
        assert_eq!(biff.table_primary_id, 5);
        // the other spelling of lorraine is hers; the deleted row maps to her too
        let other = moved(&report, 15).unwrap();
        assert_eq!(
            (other.primary_contact_id, other.change),
            (id(1), Some(CustomerChange::Normalized))
        );
        let deleted = moved(&report, 12).unwrap();
        assert_eq!(
            (deleted.row, deleted.primary_contact_id),
            (RowFate::Deleted, id(1))
        );
        // rows whose meaning did not change are not listed; a chain's end is its primary
        for unchanged in [1, 2, 3, 9, 10, 11, 13] {
            assert!(moved(&report, unchanged).is_none(), "{unchanged}");
        }
        let marty = contacts.iter().find(|c| c.id.get() == 11).unwrap();
        assert_eq!(marty.linked_id(), id(9));
    }

    #[test]
    fn a_deleted_or_refused_primary_is_replaced_by_the_oldest_remaining_row() {
        let mut primary = row(1, Some("a@x.io"), None, None);
        primary.deleted = true;
        let rows = vec![
            primary,
            row(2, Some("b@x.io"), None, Some(1)),
            row(3, Some("c@x.io"), None, Some(1)), // shares nothing with 2: kept by the link
            row(4, Some("not an email"), None, None),
            row(5, Some("d@x.io"), None, Some(4)),
        ];
        let err = plan_table(
            rows.clone(),
            &TenantState::default(),
            ImportOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field: Field::Table, reason }
                if reason.starts_with("1 row refused, nothing imported: row 4: invalid email")),
            "{err}"
        );
        let skip = ImportOptions::default().on_error(OnError::Skip);
        let (contacts, report) = import(rows, skip);
        assert_eq!((report.rows, report.customers, report.rejected), (3, 2, 1));
        let t = table(&report);
        assert_eq!(t.changed(CustomerChange::PrimaryDeleted), 1);
        assert_eq!(t.changed(CustomerChange::PrimaryLeftOut), 1);
        assert_eq!(
            contacts[1].linked_id(),
            id(2),
            "3 follows 2, the oldest left"
        );
        assert_eq!(moved(&report, 4).unwrap().row, RowFate::Refused);
        assert_eq!(moved(&report, 4).unwrap().primary_contact_id, id(5));
    }

    #[test]
    fn the_oldest_row_leads_even_when_the_table_made_another_primary() {
        let mut old = row(7, Some("b@x.io"), Some("1"), Some(3));
        old.created_at = Some(at(-100)); // created before its primary, under a higher id
        let rows = vec![row(3, Some("a@x.io"), Some("1"), None), old];
        let (contacts, report) = import(rows, ImportOptions::default());
        assert_eq!(contacts[0].linked_id(), id(7));
        assert!(contacts[1].is_primary());
        let t = table(&report);
        assert_eq!(
            t.changed_customers[0].change,
            CustomerChange::PrimaryNotOldest
        );
        assert_eq!(moved(&report, 3).unwrap().primary_contact_id, id(7));
    }

    #[test]
    fn blocked_values_join_nothing_and_a_row_with_only_them_is_left_out() {
        let rows = vec![
            row(1, Some("a@x.io"), Some("0000000"), None),
            row(2, Some("b@x.io"), Some("0000000"), None), // a placeholder: joins nothing
            row(3, None, Some("0000000"), Some(1)),        // nothing left, but its link holds
        ];
        let (_, report) = import(rows, ImportOptions::default());
        assert_eq!(
            (report.rows, report.customers, report.ignored_checkouts),
            (2, 2, 1)
        );
        assert_eq!(moved(&report, 3).unwrap().row, RowFate::Ignored);
        assert_eq!(moved(&report, 3).unwrap().primary_contact_id, id(1));
    }

    #[test]
    fn two_rows_with_one_id_are_refused_and_renumbering_lists_every_row() {
        let twice = vec![
            row(1, Some("a@x.io"), None, None),
            row(1, Some("b@x.io"), None, None),
        ];
        let err = plan_table(twice, &TenantState::default(), ImportOptions::default());
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("two rows have the id 1")
        );
        let rows = vec![
            row(5, Some("a@x.io"), None, None),
            row(9, Some("a@x.io"), Some("1"), None),
        ];
        let (contacts, report) = import(rows, ImportOptions::default().renumber(true));
        assert_eq!(contacts[0].id, ContactId::new(1000));
        let t = table(&report);
        assert!(!t.ids_kept);
        assert_eq!(t.moved_rows.len(), 2);
        assert_eq!(moved(&report, 9).unwrap().contact_id, id(1001));
        assert_eq!(moved(&report, 9).unwrap().primary_contact_id, id(1000));
    }

    /// A table drawn from a few values in two spellings, links to anything (rows, missing ids),
    /// some rows deleted, creation times out of id order.
    fn tables() -> impl Strategy<Value = Vec<TableRow>> {
        let one = (
            0u8..8,
            0u8..8,
            any::<bool>(),
            any::<bool>(),
            prop::option::weighted(0.3, 0u64..40),
            prop::bool::weighted(0.1),
            0i64..30,
        );
        prop::collection::vec(one, 0..40).prop_map(|spec| {
            let mut rows = Vec::new();
            for (k, (e, p, has_e, upper, link, deleted, minute)) in spec.into_iter().enumerate() {
                let email = format!("c{e}@x.io");
                let email = if upper { email.to_uppercase() } else { email };
                let mut r = TableRow::new(2 * k as u64 + 1).created_at(at(minute));
                r.email = has_e.then_some(email);
                r.phone_number = (p % 3 != 0 || !has_e).then(|| format!("55-{}", p / 2));
                r.linked_id = link;
                r.deleted = deleted;
                rows.push(r);
            }
            rows
        })
    }

    proptest! {
        #[test]
        fn a_tables_import_is_what_the_contract_derives_and_every_id_names_its_person(
            rows in tables()
        ) {
            let (contacts, report) = import(rows.clone(), ImportOptions::default());
            // the rows are sound: verify (I1-I4, records, identifiers) finds nothing
            let grouped = ImportedCustomers::of(&contacts).unwrap();
            let records: Vec<_> = (0..grouped.len()).map(|c| grouped.record(&contacts, c)).collect();
            let derived = derive(&contacts);
            prop_assert!(derived.relinks.is_empty());
            let identifiers: Vec<_> = derived.identifiers().into_iter()
                .map(|(k, v, o)| (k, v.to_owned(), o)).collect();
            let verdict = crate::verify::verify(&contacts, &records, &identifiers, 0, None, &|_, _| false);
            prop_assert!(verdict.is_clean(), "{:?}", verdict.problems);
            // every id of the table names its person: its row (or, when none, its table
            // primary's) is in the customer the report says
            let by_id: BTreeMap<i64, &Contact> = contacts.iter().map(|c| (c.id.get(), c)).collect();
            let t = table(&report);
            for r in rows.iter() {
                let listed = t.moved_rows.iter().find(|m| m.id == r.id);
                let (row, primary) = match listed {
                    Some(m) => (m.contact_id, m.primary_contact_id),
                    None => (id(r.id as i64), id(r.id as i64).and(by_id.get(&(r.id as i64)).map(|c| c.root()))),
                };
                if listed.is_none() {
                    prop_assert!(by_id.contains_key(&(r.id as i64)), "unlisted {} is a row", r.id);
                    let root = by_id[&(r.id as i64)].root().get() as u64;
                    let table_primary = listed.map_or(root, |m| m.table_primary_id);
                    prop_assert_eq!(root, table_primary);
                }
                if let Some(row) = row {
                    prop_assert_eq!(by_id[&row.get()].root(), primary.unwrap());
                }
                // a visible row's values are held by its customer now
                if !r.deleted && let Ok(request) = IdentifyRequest::parse(r.email.as_deref(), r.phone_number.as_deref()) {
                    let holder = contacts.iter().find(|c| {
                        request.email().is_some_and(|e| c.email.as_ref() == Some(e))
                            || request.phone_number().is_some_and(|p| c.phone_number.as_ref() == Some(p))
                    });
                    prop_assert_eq!(holder.map(|c| c.root()), primary, "row {}", r.id);
                }
            }
        }
    }
}
