//! The memory store's kept-apart pairs, which every merge checks (the split that adds them is
//! the operation of `operations.rs`).

use crate::contact::ContactId;
use crate::split::kept_apart;
use crate::tenant::TenantId;

use super::State;

impl State {
    /// Whether customers `x` and `y` of `tenant` are kept apart by a split.
    pub(super) fn kept_apart(&self, tenant: &TenantId, x: ContactId, y: ContactId) -> bool {
        let Some(pairs) = self.apart.get(tenant) else {
            return false;
        };
        // as the SQL stores do: a deleted row still names its customer by its link
        let customer_of = |id| self.row(id).map(|r| r.contact.root());
        kept_apart(pairs, customer_of, x, y)
    }
}
