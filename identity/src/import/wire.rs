//! The wire shape of an [`ImportReport`] (the HTTP service's answer, the bindings' `to_dict` /
//! plain objects, the vectors):
//!
//! ```json
//! {"checkouts": 3, "rows": 2, "customers": 1, "merges": 0, "largestCustomer": 2,
//!  "ignored": {"blocked": 0, "suppressed": 0}, "ignoredCheckouts": 0,
//!  "rejected": 1, "firstRejected": [{"record": 2, "reason": "invalid email: ..."}],
//!  "repairedPrimaries": 0, "repairedChains": 0, "firstId": 1, "lastId": 2, "written": true}
//! ```

use serde::Serialize;

use super::ImportReport;
use crate::blocked::IgnoredReason;

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
    rejected: u64,
    first_rejected: Vec<RejectedWire<'a>>,
    repaired_primaries: u64,
    repaired_chains: u64,
    first_id: Option<i64>,
    last_id: Option<i64>,
    written: bool,
}

#[derive(Serialize)]
struct IgnoredWire {
    blocked: u64,
    suppressed: u64,
}

#[derive(Serialize)]
struct RejectedWire<'a> {
    record: u64,
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
            rejected: self.rejected,
            first_rejected: self
                .first_rejected
                .iter()
                .map(|r| RejectedWire {
                    record: r.origin,
                    reason: &r.reason,
                })
                .collect(),
            repaired_primaries: self.repaired_primaries,
            repaired_chains: self.repaired_chains,
            first_id: self.ids.map(|(first, _)| first.get()),
            last_id: self.ids.map(|(_, last)| last.get()),
            written: self.written,
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ContactId;
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
                "ignoredCheckouts": 0, "rejected": 1,
                "firstRejected": [{"record": 2, "reason": "missing time"}],
                "repairedPrimaries": 0, "repairedChains": 0, "firstId": 1, "lastId": 2,
                "written": true})
        );
    }
}
