//! What `verify` and `rebuild` resolve to, as plain objects.

use napi::bindgen_prelude::{Either, Null};
use napi_derive::napi;

/// One difference `verify` found.
#[napi(object)]
pub struct VerifyProblem {
    /// A stable snake_case kind: `primary_not_oldest`, `broken_link`, `shared_value`,
    /// `redundant_row`, `missing_customer`, `unexpected_customer`, `wrong_customer`,
    /// `wrong_identifier`, `pending_changes` or `phone_not_in_region`.
    pub code: String,
    /// What is wrong, naming the rows, customers or values.
    pub message: String,
}

/// What `verify` found: the rows and customers read and every difference.
#[napi(object)]
pub struct VerifyReport {
    /// Visible `contact` rows read.
    pub rows: i64,
    /// Customer records read.
    pub customers: i64,
    /// Every difference, invariants first; empty when the store is healthy.
    pub problems: Vec<VerifyProblem>,
    /// Whether `problems` is empty.
    pub clean: bool,
}

impl From<identity::VerifyReport> for VerifyReport {
    fn from(report: identity::VerifyReport) -> Self {
        VerifyReport {
            rows: i64::try_from(report.rows).unwrap_or(i64::MAX),
            customers: i64::try_from(report.customers).unwrap_or(i64::MAX),
            clean: report.is_clean(),
            problems: report
                .problems
                .iter()
                .map(|p| VerifyProblem {
                    code: p.code().to_owned(),
                    message: p.to_string(),
                })
                .collect(),
        }
    }
}

/// What `rebuild` did.
#[napi(object)]
pub struct RebuildReport {
    /// Visible `contact` rows read.
    pub rows: i64,
    /// Customer records written.
    pub customers: i64,
    /// Ids of the rows whose link was repaired (they broke the model).
    pub relinked: Vec<i64>,
}

impl From<identity::RebuildReport> for RebuildReport {
    fn from(report: identity::RebuildReport) -> Self {
        RebuildReport {
            rows: i64::try_from(report.rows).unwrap_or(i64::MAX),
            customers: i64::try_from(report.customers).unwrap_or(i64::MAX),
            relinked: report.relinked.iter().map(|id| id.get()).collect(),
        }
    }
}

/// A tenant's per-customer caps on distinct emails and phone numbers.
#[napi(object)]
pub struct Limits {
    /// Most distinct emails a customer may hold, or `null`: no cap.
    #[napi(ts_type = "number | null")]
    pub emails: Either<u32, Null>,
    /// Most distinct phone numbers a customer may hold, or `null`: no cap.
    #[napi(ts_type = "number | null")]
    pub phones: Either<u32, Null>,
}

/// A tenant's settings, as `settings()`, `setPhoneRegion()` and `setLimits()` resolve them.
#[napi(object)]
pub struct TenantSettings {
    /// The tenant the settings belong to.
    pub tenant_id: String,
    /// The ISO 3166 code national phone numbers are read in, or `null`: the plain phone rules.
    #[napi(ts_type = "string | null")]
    pub phone_region: Either<String, Null>,
    /// The per-customer caps.
    pub limits: Limits,
}

impl TenantSettings {
    /// The settings the core answered for `tenant`.
    pub fn of(tenant: &identity::TenantId, settings: &identity::TenantSettings) -> Self {
        TenantSettings {
            tenant_id: tenant.to_string(),
            // always present: `null`, not a missing key, when the tenant has no region
            phone_region: match settings.phone_region {
                Some(region) => Either::A(region.to_string()),
                None => Either::B(Null),
            },
            limits: Limits {
                emails: settings.limits.emails.map_or(Either::B(Null), Either::A),
                phones: settings.limits.phones.map_or(Either::B(Null), Either::A),
            },
        }
    }
}
