//! Command-line flags and environment variables (`identity-server --help` lists them).

use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::listen::ConnectionLimits;
use crate::tenancy::TenantTokens;
use crate::token::Credentials;

/// The service's configuration: every flag also reads an environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "identity-server",
    version,
    about = "POST /identify: link checkouts that share an email or phone into one customer"
)]
pub struct Config {
    /// Address to listen on (an IP address or a host name).
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on (0 picks a free one; the log says which).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Where contacts live: postgres://user:pass@host/db, sqlite:path (created on first run),
    /// or memory: (nothing persists).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:identity.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Most database connections (PostgreSQL), 1 to 1000.
    #[arg(
        long,
        env = "IDENTITY_MAX_CONNECTIONS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..=1_000)
    )]
    pub max_connections: u32,

    /// How long a request waits for a database connection before answering 503, in ms
    /// (1 to 600000).
    #[arg(
        long,
        env = "IDENTITY_ACQUIRE_TIMEOUT_MS",
        default_value_t = 2_000,
        value_parser = clap::value_parser!(u64).range(1..=600_000)
    )]
    pub acquire_timeout_ms: u64,

    /// Longest time a request may take before answering 503, in ms (1 to 3600000).
    #[arg(
        long,
        env = "IDENTITY_REQUEST_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000)
    )]
    pub request_timeout_ms: u64,

    /// Longest time `GET /events?wait=` holds a request while no event comes, in ms (0 to
    /// 30000): lower it behind a proxy that cuts idle requests sooner. A longer `wait` is
    /// answered (with an empty page) when this runs out.
    #[arg(
        long,
        env = "IDENTITY_EVENTS_MAX_WAIT_MS",
        default_value_t = 30_000,
        value_parser = clap::value_parser!(u64).range(0..=30_000)
    )]
    pub events_max_wait_ms: u64,

    /// How many days the change feed keeps its events (0 to 36500; 0 keeps them for good):
    /// older ones are pruned at start-up and every hour. A feed cursor into pruned events is
    /// answered 410, and history tells the events kept (`prunedBefore`).
    #[arg(
        long,
        env = "IDENTITY_EVENTS_RETENTION_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=36_500)
    )]
    pub events_retention_days: u64,

    /// Accept webhook targets on loopback, private and link-local addresses (refused by
    /// default, so a tenant cannot make the service call into its own network).
    #[arg(long, env = "IDENTITY_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// How long a webhook endpoint has to answer a delivery, in ms (100 to 60000); no answer in
    /// time is a failed attempt, retried later.
    #[arg(
        long,
        env = "IDENTITY_WEBHOOK_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(100..=60_000)
    )]
    pub webhook_timeout_ms: u64,

    /// Most requests to /identify and /contacts in flight, 1 to 1000000; more are answered 503
    /// at once.
    #[arg(
        long,
        env = "IDENTITY_CONCURRENCY_LIMIT",
        default_value_t = 512,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000)
    )]
    pub concurrency_limit: usize,

    /// Longest time the body of a request to /identify, /contacts or /settings may take to
    /// arrive, in ms (1 to 600000); slower answers 408. The body is read before the request
    /// counts against --concurrency-limit, so slow senders hold no slot.
    #[arg(
        long,
        env = "IDENTITY_BODY_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=600_000)
    )]
    pub body_timeout_ms: u64,

    /// Longest time a connection may go without sending a complete request head, in ms
    /// (1 to 600000): after it opens, and between requests when kept alive (the idle timeout).
    /// The connection is then closed.
    #[arg(
        long,
        env = "IDENTITY_HEADER_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=600_000)
    )]
    pub header_timeout_ms: u64,

    /// Most client connections open at once, 1 to 1000000; more wait in the listen backlog
    /// until one closes. Default: what the open-files limit (ulimit -n) leaves after the
    /// database pool and 64 spare descriptors, at most 10000.
    #[arg(
        long,
        env = "IDENTITY_MAX_OPEN_CONNECTIONS",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000)
    )]
    pub max_open_connections: Option<usize>,

    /// Also emit the original task's misspelt key `primaryContatctId` next to
    /// `primaryContactId` (`--legacy-key false` turns it off).
    #[arg(long, env = "IDENTITY_LEGACY_KEY", default_value_t = true, action = clap::ArgAction::Set)]
    pub legacy_key: bool,

    /// Log emails and phone numbers in full instead of masked (they are personal data).
    #[arg(long, env = "IDENTITY_LOG_UNMASKED", default_value_t = false)]
    pub log_unmasked: bool,

    /// Enables the admin routes (`/admin/...`) for requests that carry `Authorization: Bearer
    /// <this token>`: at least 16 characters of visible ASCII, no tenant's token. Without it
    /// they answer 404; an empty value is refused at start-up.
    #[arg(long, env = "IDENTITY_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// A file of tenant tokens, `tenant:token` per line (`#` comments; tokens of at least 16
    /// characters of visible ASCII, all different): every request to /identify, /contacts and
    /// /settings must then carry `Authorization: Bearer <token>` and acts for the token's
    /// tenant (401 without a valid token, 403 when X-Tenant-Id names another tenant). A file
    /// without entries is refused at start-up. Without tenant tokens (neither this nor
    /// --tenant-tokens given) any caller may name any tenant: for trusted networks only.
    #[arg(long, env = "IDENTITY_TENANT_TOKENS_FILE")]
    pub tenant_tokens_file: Option<std::path::PathBuf>,

    /// Tenant tokens given inline, `tenant:token` separated by commas (as the file; both may
    /// be given). An empty value is refused at start-up.
    #[arg(long, env = "IDENTITY_TENANT_TOKENS", hide_env_values = true)]
    pub tenant_tokens: Option<Secret>,

    /// Serve without tenant tokens on an address other than loopback: whoever reaches the
    /// service may then act for any tenant by naming it (X-Tenant-Id), so only on a trusted
    /// network. Without tenant tokens and without this flag the service refuses to listen
    /// anywhere but 127.0.0.1 or ::1.
    #[arg(long, env = "IDENTITY_OPEN", default_value_t = false)]
    pub open: bool,

    /// Start even though the database holds another implementation's contact table with rows
    /// (Prisma's "Contact", Sequelize's "Contacts", TypeORM's camelCase contact) while this
    /// store is empty. Without it the service refuses: its customers would start again from
    /// id 1 beside them. `identity import --from-table` brings them in instead.
    #[arg(long, env = "IDENTITY_ALLOW_FOREIGN_TABLES", default_value_t = false)]
    pub allow_foreign_tables: bool,

    /// A file every erase appends its record to (ids, times and keyed hashes, never an email
    /// or a phone number) and syncs before it commits: keep it on another disk than the
    /// database, and apply it with `identity erasures reapply` after restoring a backup (see
    /// docs/operations.md). Created if missing; a file that cannot be opened stops start-up.
    #[arg(long, env = "IDENTITY_ERASURE_LOG")]
    pub erasure_log: Option<std::path::PathBuf>,

    /// Log line format: `json` writes one object per line, each request's with its `status`,
    /// `latency_us`, `tenant` and its span's `id` (the request id), `method` and `route`.
    #[arg(long, env = "IDENTITY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Serve `GET /metrics` (Prometheus text) on this address instead of the main port, e.g.
    /// `127.0.0.1:9464`, for a main port that faces callers who should not read the service's
    /// numbers. Default: on the main port beside /healthz and /readyz, so a scrape needs no
    /// second port (the numbers carry no email, phone number or token).
    #[arg(long, env = "IDENTITY_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Label the per-tenant metrics (the request histogram, the webhook backlogs) with the
    /// tenant. Off by default: every tenant then adds its own series.
    #[arg(long, env = "IDENTITY_METRICS_TENANT_LABEL", default_value_t = false)]
    pub metrics_tenant_label: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable `key=value` lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// The configuration from flags and environment variables of this process.
    #[must_use]
    pub fn from_env() -> Self {
        Config::parse()
    }

    /// Connection acquire timeout.
    #[must_use]
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }

    /// Per-request timeout.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// How long the feed keeps its events; `None` (0 days): for good.
    #[must_use]
    pub fn events_retention(&self) -> Option<Duration> {
        (self.events_retention_days > 0)
            .then(|| Duration::from_secs(self.events_retention_days * 24 * 3600))
    }

    /// The longest a long poll of `GET /events` is held.
    #[must_use]
    pub fn events_max_wait(&self) -> Duration {
        Duration::from_millis(self.events_max_wait_ms)
    }

    /// How long a webhook endpoint has to answer.
    #[must_use]
    pub fn webhook_timeout(&self) -> Duration {
        Duration::from_millis(self.webhook_timeout_ms)
    }

    /// How long a request body may take to arrive.
    #[must_use]
    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    /// What the listener enforces on each connection (the cap derived from the open-files
    /// limit unless set).
    #[must_use]
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            max_open: self
                .max_open_connections
                .unwrap_or_else(|| crate::listen::default_max_open(self.max_connections)),
        }
    }

    /// Every configured tenant token, from the file and inline.
    ///
    /// # Errors
    /// A message (never containing a token) when the file cannot be read, an entry is
    /// malformed (see [`TenantTokens::parse`]), one token is given for two tenants, or the file
    /// or `--tenant-tokens` is given but holds no entry: an empty value (a secret that did not
    /// render into an environment variable, say) must not turn tenant authentication off.
    /// Tenant tokens left unset altogether are the open mode.
    pub fn tenant_tokens(&self) -> Result<TenantTokens, String> {
        let unset = " (leave it unset for no tenant tokens: X-Tenant-Id then chooses the \
                     tenant, for trusted networks only)";
        let file = match &self.tenant_tokens_file {
            Some(path) => {
                let tokens = TenantTokens::from_file(path)?;
                if tokens.is_empty() {
                    return Err(format!(
                        "--tenant-tokens-file (IDENTITY_TENANT_TOKENS_FILE): {} has no \
                         tenant:token entry{unset}",
                        path.display()
                    ));
                }
                tokens
            }
            None => TenantTokens::default(),
        };
        let inline = match &self.tenant_tokens {
            Some(text) => {
                let tokens = TenantTokens::parse(text.expose())?;
                if tokens.is_empty() {
                    return Err(format!(
                        "--tenant-tokens (IDENTITY_TENANT_TOKENS) is empty: give tenant:token \
                         entries{unset}"
                    ));
                }
                tokens
            }
            None => TenantTokens::default(),
        };
        file.merged(&inline)
    }

    /// Every configured token, admin and tenant, checked by one rule ([`crate::token`]).
    ///
    /// # Errors
    /// As [`Config::tenant_tokens`] and [`Credentials::new`]: a message naming the flag or
    /// the entry, never a token.
    pub fn credentials(&self) -> Result<Credentials, String> {
        let admin = self.admin_token.as_ref().map(Secret::expose);
        Credentials::new(admin, self.tenant_tokens()?)
    }
}

/// A configured secret (a token): never printed by `Debug`, and never echoed by a parse error
/// (it is checked after parsing, by messages that name entries by position).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for comparing.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}
