//! What every handler shares: the core handle and the service's settings that shape answers
//! and authorization.

use crate::token::TenantTokens;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The core handle.
    pub identity: identity::Identity,
    /// Emit `primaryContatctId` too.
    pub legacy_key: bool,
    /// Log emails and phones unmasked.
    pub log_unmasked: bool,
    /// The bearer token of the admin routes; `None` disables them.
    pub admin_token: Option<std::sync::Arc<str>>,
    /// The tenant tokens; none configured: the tenant comes from `X-Tenant-Id` alone.
    pub tenant_tokens: TenantTokens,
    /// The longest a long poll of `GET /events` is held (`--events-max-wait-ms`).
    pub events_max_wait: std::time::Duration,
    /// What `GET /metrics` shows.
    pub metrics: crate::metrics::Metrics,
    /// The bodies of returning customers' answers, kept rendered.
    pub rendered: std::sync::Arc<crate::rendered::RenderedAnswers>,
}
