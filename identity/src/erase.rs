//! Erase: the right to be forgotten. [`Identity::erase`](crate::Identity::erase) hard-deletes every
//! row of a customer and its derived records, removes its emails and phone numbers from history
//! (keeping ids, kinds and times), and answers with a receipt ([`Erasure`]). The pure part lives
//! here: which values go ([`ErasePlan`]); the stores scrub them from the history of every customer
//! reached from the erased rows by merges and splits.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::blocked::{BlockList, BlockedValue};
use crate::contact::{Contact, ContactId};
use crate::erasure::{ErasedRow, ErasureRecord, SuppressedDigest};
use crate::error::Result;
use crate::history::Change;
use crate::identifier::IdentifierKind;
use crate::suppress::{Digest, Secret};
use crate::tenant::TenantId;

pub use crate::erasure::Erasure;

/// An erase planned in a store's transaction: the plan, the customer's values (whose
/// identifiers go), the time it is stamped with, the blocked list's version it was planned
/// under, and its record (the erasure log's line).
#[derive(Debug, Clone)]
pub(crate) struct PlannedErase {
    /// What goes.
    pub plan: ErasePlan,
    /// Every value of the customer's visible rows.
    pub values: BTreeSet<(IdentifierKind, String)>,
    /// The erase's time: its receipts' and its record's.
    pub at: OffsetDateTime,
    /// The version of the tenant's blocked list the plan was made under.
    pub blocked_version: i64,
    /// The erase's record, with the soft-deleted rows it removes too.
    pub record: ErasureRecord,
}

impl PlannedErase {
    /// The erase's receipt.
    pub(crate) fn receipt(&self) -> Erasure {
        self.plan.receipt(self.at)
    }
}

/// What a store deletes and scrubs for an erase, in one transaction with the tenant's other
/// writes waiting.
#[derive(Debug, Clone)]
pub(crate) struct ErasePlan {
    /// The customer's primary.
    pub customer: ContactId,
    /// Its visible rows, ascending: deleted, with their records and identifiers.
    pub erased: Vec<ContactId>,
    /// Its values that nothing else of the tenant keeps (no other visible row holds them, and
    /// they are not entries of the blocked list, which is the tenant's own): scrubbed from the
    /// history of every customer reached from its rows by merges and splits, deleted with the soft-deleted rows that
    /// carry them, and suppressed when asked.
    pub gone: Vec<(IdentifierKind, String)>,
    /// Whether the caller asked to suppress the values.
    pub suppress: bool,
    /// Values the customer shared with exactly one other customer (blocked ones, which no
    /// identifier names while two customers hold them): their identifiers now name it.
    pub named: Vec<(IdentifierKind, String, ContactId)>,
    /// The digests of `gone`, to add to the tenant's suppressed values (empty unless asked).
    pub digests: Vec<(IdentifierKind, Digest)>,
    /// The erased rows with their times of creation, for the erase's record.
    pub rows: Vec<ErasedRow>,
    /// The fingerprint of the secret the digests are taken under (when asked to suppress).
    pub secret: Option<String>,
}

impl ErasePlan {
    /// Plans erasing the customer led by `primary`, whose visible rows are `rows`. `held` are
    /// its values that other visible rows of the tenant hold too (only blocked values can be),
    /// with the customer of each such row; `blocked` is the tenant's list; `secret` the
    /// store's, when the values are to be suppressed.
    pub(crate) fn new(
        rows: &[Contact],
        primary: ContactId,
        held: &[(IdentifierKind, String, ContactId)],
        blocked: &BlockList,
        secret: Option<&Secret>,
    ) -> Result<Self> {
        let mut holders: BTreeMap<(IdentifierKind, &str), BTreeSet<ContactId>> = BTreeMap::new();
        for (kind, value, customer) in held {
            holders
                .entry((*kind, value.as_str()))
                .or_default()
                .insert(*customer);
        }
        let named = holders
            .iter()
            .filter(|(_, customers)| customers.len() == 1)
            .flat_map(|((kind, value), customers)| {
                customers.iter().map(|c| (*kind, (*value).to_owned(), *c))
            })
            .collect();
        let mut gone = Vec::new();
        for (kind, value) in values_of(rows) {
            let entry = BlockedValue::stored(kind.as_str(), false, &value)?;
            let listed = blocked.contains(&entry);
            if !listed && !holders.contains_key(&(kind, value.as_str())) {
                gone.push((kind, value));
            }
        }
        let digests = secret
            .map(|s| {
                gone.iter()
                    .map(|(kind, value)| (*kind, s.digest(*kind, value)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ErasePlan {
            customer: primary,
            erased: rows
                .iter()
                .map(|c| c.id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            gone,
            named,
            suppress: secret.is_some(),
            digests,
            rows: rows
                .iter()
                .map(|c| ErasedRow::new(c.id, Some(c.created_at)))
                .collect(),
            secret: secret.map(Secret::fingerprint),
        })
    }

    /// The values that go, of `kind`.
    pub(crate) fn gone_of(&self, kind: IdentifierKind) -> Vec<&str> {
        of_kind(&self.gone, kind)
    }

    /// The event that records the erase on the customer.
    pub(crate) fn event(&self) -> Change {
        Change::Erased {
            erased: self.erased.clone(),
        }
    }

    /// The erase's record: `receipt`, its rows and `deleted`, the rows marked deleted by other
    /// programs that it removed too, and its digests.
    pub(crate) fn record(
        &self,
        tenant: &TenantId,
        receipt: &Erasure,
        deleted: impl IntoIterator<Item = ErasedRow>,
    ) -> ErasureRecord {
        let rows = self.rows.iter().copied().chain(deleted).collect();
        let digests = self
            .digests
            .iter()
            .map(|(kind, d)| SuppressedDigest::new(*kind, d))
            .collect();
        ErasureRecord::new(tenant, receipt, rows, digests, self.secret.clone())
    }

    /// The receipt, stamped `at`.
    pub(crate) fn receipt(&self, at: OffsetDateTime) -> Erasure {
        Erasure {
            customer_id: self.customer,
            contact_ids: self.erased.clone(),
            erased_at: at,
            suppressed: self.suppress,
        }
    }
}

/// The values of `kind` among `values`.
pub(crate) fn of_kind<'v>(
    values: impl IntoIterator<Item = &'v (IdentifierKind, String)>,
    kind: IdentifierKind,
) -> Vec<&'v str> {
    values
        .into_iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Every email and phone number of `rows`, by kind, once each.
pub(crate) fn values_of(rows: &[Contact]) -> BTreeSet<(IdentifierKind, String)> {
    let mut values = BTreeSet::new();
    for row in rows {
        if let Some(e) = &row.email {
            values.insert((IdentifierKind::Email, e.as_str().to_owned()));
        }
        if let Some(p) = &row.phone_number {
            values.insert((IdentifierKind::Phone, p.as_str().to_owned()));
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, email: Option<&str>, phone: Option<&str>) -> Contact {
        Contact::from_stored(
            id,
            email,
            phone,
            (id != 1).then_some(1),
            if id == 1 { "primary" } else { "secondary" },
            OffsetDateTime::UNIX_EPOCH,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap()
    }

    #[test]
    fn values_others_keep_stay_and_the_rest_go() {
        let rows = [
            row(1, Some("a@x.io"), Some("555")),
            row(2, Some("b@x.io"), Some("777")),
            row(3, None, Some("555")),
        ];
        let list = BlockList::new(1, vec![BlockedValue::email("b@x.io").unwrap()]).unwrap();
        let (two, three) = (ContactId::new(7), ContactId::new(8));
        let held = [
            (IdentifierKind::Phone, "777".to_owned(), two),
            (IdentifierKind::Email, "b@x.io".to_owned(), two),
            (IdentifierKind::Email, "b@x.io".to_owned(), three),
        ];
        let plan = ErasePlan::new(&rows, ContactId::new(1), &held, &list, None).unwrap();
        assert_eq!(plan.erased, [1, 2, 3].map(ContactId::new));
        assert_eq!(plan.gone_of(IdentifierKind::Email), ["a@x.io"]);
        assert_eq!(plan.gone_of(IdentifierKind::Phone), ["555"]);
        // 777 is the other customer's alone now; b@x.io still two customers'
        assert_eq!(plan.named, [(IdentifierKind::Phone, "777".to_owned(), two)]);
        assert!(plan.digests.is_empty() && !plan.receipt(OffsetDateTime::UNIX_EPOCH).suppressed);
        let secret = Secret::from_stored(&[3; 32]).unwrap();
        let plan = ErasePlan::new(&rows, ContactId::new(1), &held, &list, Some(&secret)).unwrap();
        assert_eq!(plan.digests.len(), 2);
        let wire = serde_json::to_value(plan.receipt(OffsetDateTime::UNIX_EPOCH)).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({"customerId": 1, "contactIds": [1, 2, 3],
                "erasedAt": "1970-01-01T00:00:00Z", "suppressed": true})
        );
    }
}
