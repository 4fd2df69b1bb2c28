//! The wire shape of an [`ImportReport`] (the HTTP service's answer, the bindings' `to_dict` /
//! plain objects, the vectors):
//!
//! ```json
//! {"checkouts": 3, "rows": 2, "customers": 1, "merges": 0, "largestCustomer": 2,
//!  "ignored": {"blocked": 0, "suppressed": 0}, "ignoredCheckouts": 0, "folded": 0,
//!  "rejected": 1, "firstRejected": [{"record": 2, "reason": "invalid email: ..."}],
//!  "firstId": 1, "lastId": 2, "table": null, "written": true}
//! ```
//!
//! A table import names its refused rows by id (`{"id": 17, "reason": ...}`) and its `table`
//! is the [`super::TableOutcome`] (`deletedRows`, `idsKept`, `highestId`, `repairedChains`,
//! `changedCustomers`, `movedRows`).

use serde::Serialize;

use super::{ImportReport, TableOutcome};
use crate::request::IgnoredReason;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    checkouts: u64,
    rows: u64,
    customers: u64,
    merges: u64,
    largest_customer: u64,
    ignored: IgnoredWire,
    ignored_checkouts: u64,
    folded: u64,
    rejected: u64,
    first_rejected: Vec<RejectedWire<'a>>,
    first_id: Option<i64>,
    last_id: Option<i64>,
    table: Option<&'a TableOutcome>,
    written: bool,
}

#[derive(Serialize)]
struct IgnoredWire {
    blocked: u64,
    suppressed: u64,
}

#[derive(Serialize)]
struct RejectedWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    reason: &'a str,
}

impl Serialize for ImportReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire {
            checkouts: self.checkouts,
            rows: self.rows,
            customers: self.customers,
            merges: self.merges,
            largest_customer: self.largest_customer,
            ignored: IgnoredWire {
                blocked: self.ignored_for(IgnoredReason::Blocked),
                suppressed: self.ignored_for(IgnoredReason::Suppressed),
            },
            ignored_checkouts: self.ignored_checkouts,
            folded: self.folded,
            rejected: self.rejected,
            first_rejected: self
                .first_rejected
                .iter()
                .map(|r| {
                    let (record, id) = match self.table {
                        Some(_) => (None, Some(r.origin)),
                        None => (Some(r.origin), None),
                    };
                    RejectedWire {
                        record,
                        id,
                        reason: &r.reason,
                    }
                })
                .collect(),
            first_id: self.ids.map(|(first, _)| first.get()),
            last_id: self.ids.map(|(_, last)| last.get()),
            table: self.table.as_ref(),
            written: self.written,
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::ContactId;
    use crate::import::Rejected;

    #[test]
    fn the_report_has_its_wire_shape() {
        let report = ImportReport {
            checkouts: 3,
            rows: 2,
            customers: 1,
            largest_customer: 2,
            ignored: vec![(IgnoredReason::Suppressed, 4)],
            rejected: 1,
            first_rejected: vec![Rejected {
                origin: 2,
                reason: "missing time".into(),
            }],
            ids: Some((ContactId::new(1), ContactId::new(2))),
            written: true,
            ..ImportReport::default()
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({"checkouts": 3, "rows": 2, "customers": 1, "merges": 0,
                "largestCustomer": 2, "ignored": {"blocked": 0, "suppressed": 4},
                "ignoredCheckouts": 0, "folded": 0, "rejected": 1,
                "firstRejected": [{"record": 2, "reason": "missing time"}],
                "firstId": 1, "lastId": 2, "table": null, "written": true})
        );
        let table = ImportReport {
            table: Some(TableOutcome::default()),
            ..report
        };
        let wire = serde_json::to_value(&table).unwrap();
        assert_eq!(
            wire["firstRejected"],
            serde_json::json!([{"id": 2, "reason": "missing time"}])
        );
        assert_eq!(wire["table"]["idsKept"], serde_json::json!(false));
    }
}
