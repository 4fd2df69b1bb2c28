//! Tenant screening (rules layer): what a request looks like to its tenant ([`Localized`]: its
//! phone read in the tenant's region, its blocked values left out), under the tenant's settings
//! as a store read them ([`TenantState`]). No I/O: the stores read the settings, and
//! `store/tenant_hints.rs` keeps the ones they last saw.

use std::sync::Arc;

use crate::blocked::BlockList;
use crate::error::Result;
use crate::limits::Limits;
use crate::plan::{Matched, Plan, plan_within};
use crate::region::PhoneRegion;
use crate::request::{IdentifyRequest, Ignored};
use crate::settings::TenantSettings;
use crate::stats::{CallNotes, current_call};

/// A tenant's settings as a store read them: what a request is read under.
#[derive(Debug, Clone)]
pub(crate) struct TenantState {
    pub region: Option<PhoneRegion>,
    /// The blocked list and suppressed values; its version moves with the caps too.
    pub blocked: Arc<BlockList>,
    pub limits: Limits,
}

impl Default for TenantState {
    fn default() -> Self {
        TenantState {
            region: None,
            blocked: BlockList::defaults(),
            limits: Limits::none(),
        }
    }
}

impl TenantState {
    /// The settings a caller sees.
    pub(crate) fn settings(&self) -> TenantSettings {
        TenantSettings::with_phone_region(self.region).with_limits(self.limits)
    }
}

/// A request as its tenant reads it: what a store plans and writes with, checking the region and
/// the blocked list it was read under against the tenant's current ones.
#[derive(Debug, Clone)]
pub(crate) struct Localized {
    /// The region the request was read in.
    pub region: Option<PhoneRegion>,
    /// The version of the blocked list it was screened with (which moves with the caps too).
    pub blocked_version: i64,
    /// The tenant's caps, as of that version.
    pub limits: Limits,
    /// The request's values left out, and why.
    pub ignored: Vec<Ignored>,
    /// The request, its phone in the region's form, without its blocked values.
    pub request: IdentifyRequest,
    /// The notes of the identify call it was screened for, which its plans are noted in.
    notes: Option<Arc<CallNotes>>,
}

impl Localized {
    /// Reads `request` under `state`: blocked values are left out as given and as the region
    /// reads them (so a blocked value never reaches the region's checks).
    ///
    /// # Errors
    /// [`crate::Error::BlockedValue`] when nothing is left; [`crate::Error::InvalidInput`] when
    /// the phone number is not valid in the region.
    pub(crate) fn new(request: &IdentifyRequest, state: &TenantState) -> Result<Self> {
        Self::noting(request, state, Vec::new()).map_err(|(e, _)| e)
    }

    /// [`Localized::new`], adding to `ignored` what was left out (also when nothing is left).
    ///
    /// # Errors
    /// As [`Localized::new`].
    pub(crate) fn noting(
        request: &IdentifyRequest,
        state: &TenantState,
        mut ignored: Vec<Ignored>,
    ) -> std::result::Result<Self, (crate::error::Error, Vec<Ignored>)> {
        let screened = state
            .blocked
            .screen(request, &mut ignored)
            .and_then(|plain| match state.region {
                None => Ok(plain),
                Some(region) => state
                    .blocked
                    .screen(&plain.in_region(Some(region))?, &mut ignored),
            });
        let request = match screened {
            Ok(request) => request,
            Err(e) => return Err((e, ignored)),
        };
        Ok(Localized {
            region: state.region,
            blocked_version: state.blocked.version,
            limits: state.limits,
            ignored,
            request,
            notes: current_call(),
        })
    }

    /// The identify step for this request under the tenant's caps ([`crate::plan_within`]).
    /// Noted as the call's latest plan (the metrics count the one that commits).
    pub(crate) fn plan(&self, matched: Matched) -> Plan {
        let plan = plan_within(&self.request, matched, self.limits);
        if let Some(notes) = &self.notes {
            notes.planned_as(&plan);
        }
        plan
    }

    /// Whether the tenant's settings as a store reports them (the region's code or `None`, and
    /// the blocked list's version) are the ones this request was read under.
    pub(crate) fn agrees(&self, region: Option<&str>, blocked_version: i64) -> bool {
        self.code() == region && self.blocked_version == blocked_version
    }

    /// The region the request was read in, as stored (`None`: no region).
    pub(crate) fn code(&self) -> Option<&str> {
        self.region.as_ref().map(PhoneRegion::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocked::BlockedValue;

    #[test]
    fn a_request_is_screened_as_given_and_as_its_region_reads_it() {
        let region = PhoneRegion::parse("IN").unwrap();
        let blocked = BlockList::new(3, vec![BlockedValue::phone("+919876543210").unwrap()]);
        let state = TenantState {
            region: Some(region),
            blocked: Arc::new(blocked.unwrap()),
            limits: Limits::none(),
        };
        let req = IdentifyRequest::parse(Some("a@b.c"), Some("098765 43210")).unwrap();
        let local = Localized::new(&req, &state).unwrap();
        assert_eq!(local.request.phone_number(), None);
        assert_eq!(local.ignored.len(), 1);
        assert!(local.agrees(Some("IN"), 3));
        assert!(!local.agrees(Some("IN"), 0) && !local.agrees(None, 3));
        // a default placeholder is left out before the region could refuse it
        let placeholder = IdentifyRequest::parse(Some("a@b.c"), Some("0000000")).unwrap();
        let defaults = TenantState {
            region: Some(region),
            ..TenantState::default()
        };
        let local = Localized::new(&placeholder, &defaults).unwrap();
        assert_eq!(local.request.phone_number(), None);
    }
}
