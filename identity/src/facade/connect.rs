//! One URL configures everything: [`connect`] picks the store from the URL's scheme, migrates it,
//! and returns an [`Identity`] handle shared by Rust, the bindings and the HTTP service. Facade
//! layer: the handle, and the methods every call goes through (identify, lookup, verify,
//! rebuild, the store's upkeep); the crate root re-exports this module as `identity::connect`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::contact::Contact;
use crate::derive::RebuildReport;
use crate::erasure_log::ErasureLog;
use crate::error::{Error, Result};
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::stats::Counters;
use crate::store::ContactStore;
use crate::store::feed_signal::FeedSignal;
use crate::store::postgres::{PgOptions, PgStore};
use crate::store::sqlite::SqliteStore;
use crate::store::watched::Watched;
use crate::tenant::TenantId;
use crate::verify::VerifyReport;

/// Settings for [`Identity::connect_with`]; the defaults suit a small service.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// PostgreSQL: most pooled connections (default 10). Ignored by the other stores.
    pub max_connections: u32,
    /// PostgreSQL: how long a call waits for a free connection (default 5 s).
    pub acquire_timeout: Duration,
    /// Run the migrations after connecting (default `true`).
    pub migrate: bool,
    /// A file every erase of the handle appends its record to before it commits
    /// ([`ErasureLog`]; default none): keep it outside the database's disk, to apply the
    /// erasures again after restoring a backup.
    pub erasure_log: Option<PathBuf>,
    /// Accept webhook targets on loopback, private and link-local addresses (default `false`:
    /// refused, so a tenant cannot make the service call into its own network;
    /// [`crate::webhook::WebhookTarget::parse`]).
    pub allow_private_webhooks: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            migrate: true,
            erasure_log: None,
            allow_private_webhooks: false,
        }
    }
}

impl ConnectOptions {
    /// Sets [`ConnectOptions::max_connections`].
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets [`ConnectOptions::acquire_timeout`].
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Sets [`ConnectOptions::migrate`].
    #[must_use]
    pub fn migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    /// Sets [`ConnectOptions::erasure_log`].
    #[must_use]
    pub fn erasure_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.erasure_log = Some(path.into());
        self
    }

    /// Sets [`ConnectOptions::allow_private_webhooks`].
    #[must_use]
    pub fn allow_private_webhooks(mut self, allow: bool) -> Self {
        self.allow_private_webhooks = allow;
        self
    }
}

/// A cheap, cloneable handle on a store, acting for one tenant: what applications hold.
///
/// [`connect`] gives a handle on the default tenant; [`Identity::tenant`] gives one on another
/// tenant of the same store (same connections, same methods), each seeing only its own customers.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let identity = identity::connect("sqlite::memory:").await?;
/// let contact = identity.identify(Some("doc@hillvalley.edu"), Some("123456")).await?;
/// assert_eq!(contact.emails[0].as_str(), "doc@hillvalley.edu");
///
/// let shop = identity.tenant("shop-42")?;
/// assert!(shop.lookup(Some("doc@hillvalley.edu"), None).await?.is_none());
/// # Ok::<(), identity::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Identity {
    store: Arc<dyn ContactStore>,
    tenant: TenantId,
    erasure_log: Option<Arc<ErasureLog>>,
    /// Wakes the handle's feed readers when a write through it returns.
    signal: Arc<FeedSignal>,
    /// Whether webhook targets on non-public addresses are accepted.
    allow_private_webhooks: bool,
    /// What the calls through the store did ([`Identity::stats`]), shared with the store.
    pub(crate) counters: Arc<Counters>,
}

impl Identity {
    /// Wraps any store (it is not migrated here), acting for the default tenant.
    #[must_use]
    pub fn from_store(store: impl ContactStore + 'static) -> Self {
        let signal = Arc::new(FeedSignal::default());
        let counters = Arc::new(Counters::default());
        let watched = Watched::new(Arc::new(store), Arc::clone(&signal), Arc::clone(&counters));
        Identity {
            store: Arc::new(watched),
            tenant: TenantId::default(),
            erasure_log: None,
            signal,
            allow_private_webhooks: false,
            counters,
        }
    }

    /// The same handle, with every erase through it (and the handles made from it) appending
    /// its record to `log` before it commits; see [`ConnectOptions::erasure_log`].
    #[must_use]
    pub fn with_erasure_log(mut self, log: ErasureLog) -> Self {
        self.erasure_log = Some(Arc::new(log));
        self
    }

    /// The same handle, accepting webhook targets on non-public addresses or not; see
    /// [`ConnectOptions::allow_private_webhooks`].
    #[must_use]
    pub fn with_private_webhooks(mut self, allow: bool) -> Self {
        self.allow_private_webhooks = allow;
        self
    }

    /// Whether the handle accepts webhook targets on non-public addresses.
    #[must_use]
    pub fn allows_private_webhooks(&self) -> bool {
        self.allow_private_webhooks
    }

    /// The erasure log the handle's erases append to, if any.
    #[must_use]
    pub fn erasure_log(&self) -> Option<&ErasureLog> {
        self.erasure_log.as_deref()
    }

    /// A handle on the same store acting for tenant `id`: every call through it reads and writes
    /// only that tenant's customers. Cheap (no I/O, nothing copied but the id).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// let (a, b) = (identity.tenant("shop-a")?, identity.tenant("shop-b")?);
    /// let in_a = a.identify(Some("doc@hillvalley.edu"), None).await?;
    /// let in_b = b.identify(Some("doc@hillvalley.edu"), None).await?;
    /// assert_ne!(in_a.primary_contact_id, in_b.primary_contact_id); // two customers
    /// assert_eq!(b.tenant_id().as_str(), "shop-b");
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `tenant` when `id` is not 1-64 characters of
    /// `[A-Za-z0-9._-]`.
    pub fn tenant(&self, id: &str) -> Result<Identity> {
        Ok(self.for_tenant(TenantId::parse(id)?))
    }

    /// A handle on the same store acting for an already parsed tenant.
    #[must_use]
    pub fn for_tenant(&self, tenant: TenantId) -> Identity {
        Identity {
            store: Arc::clone(&self.store),
            tenant,
            erasure_log: self.erasure_log.clone(),
            signal: Arc::clone(&self.signal),
            allow_private_webhooks: self.allow_private_webhooks,
            counters: Arc::clone(&self.counters),
        }
    }

    /// The tenant this handle acts for.
    #[must_use]
    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant
    }

    /// Opens the store a URL names, with default options; see [`connect`].
    ///
    /// # Errors
    /// As [`Identity::connect_with`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &ConnectOptions::default()).await
    }

    /// Opens the store a URL names: `postgres://` or `postgresql://` ([`PgStore`]), `sqlite:`
    /// ([`SqliteStore`], creating a missing file) or `memory:` (short for `sqlite::memory:`, a
    /// private in-memory SQLite database that lives as long as the handle); then migrates
    /// unless told not to, and opens the erasure log when one is named.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] or [`Error::UnsupportedScheme`] for a URL no store takes (the error
    /// never repeats a password); [`Error::ErasureLog`] when the log cannot be opened; the
    /// store's errors when connecting or migrating fails.
    pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<Self> {
        let scheme = scheme(url)?;
        let erasure_log = match &options.erasure_log {
            Some(path) => Some(Arc::new(ErasureLog::open(path)?)),
            None => None,
        };
        // `SQLite:x.db` and ` sqlite:x.db ` mean `sqlite:x.db`: hand the stores one spelling
        let url = url.trim();
        let url = &format!("{scheme}{}", &url[scheme.len()..]);
        let store: Arc<dyn ContactStore> = match scheme.as_str() {
            "postgres" | "postgresql" => {
                let pg = PgOptions {
                    max_connections: options.max_connections,
                    acquire_timeout: options.acquire_timeout,
                };
                Arc::new(PgStore::connect_with(url, &pg).await?)
            }
            "sqlite" => Arc::new(SqliteStore::connect(url).await?),
            // an alias of `sqlite::memory:`: a private in-memory SQLite database
            "memory" => Arc::new(SqliteStore::connect("sqlite::memory:").await?),
            other => {
                return Err(Error::UnsupportedScheme {
                    scheme: other.to_owned(),
                });
            }
        };
        let signal = Arc::new(FeedSignal::default());
        let counters = Arc::new(Counters::default());
        let watched = Watched::new(store, Arc::clone(&signal), Arc::clone(&counters));
        let store: Arc<dyn ContactStore> = Arc::new(watched);
        if options.migrate {
            store.migrate().await?;
        }
        Ok(Identity {
            store,
            tenant: TenantId::default(),
            erasure_log,
            signal,
            allow_private_webhooks: options.allow_private_webhooks,
            counters,
        })
    }

    /// Parses the raw values (blank means absent) and runs [`ContactStore::identify`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for bad input (nothing is written), else as
    /// [`ContactStore::identify`].
    pub async fn identify(
        &self,
        email: Option<&str>,
        phone_number: Option<&str>,
    ) -> Result<ConsolidatedContact> {
        let request = IdentifyRequest::parse(email, phone_number)
            .inspect_err(|e| self.count_refused_identify(e.kind()))?;
        self.identify_request(&request).await
    }

    /// Runs [`ContactStore::identify`] on a parsed request.
    ///
    /// # Errors
    /// As [`ContactStore::identify`].
    pub async fn identify_request(&self, request: &IdentifyRequest) -> Result<ConsolidatedContact> {
        self.store.identify(&self.tenant, request).await
    }

    /// Parses the raw values and runs [`ContactStore::lookup`]: no writes, `None` if unknown.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for bad input, else as [`ContactStore::lookup`].
    pub async fn lookup(
        &self,
        email: Option<&str>,
        phone_number: Option<&str>,
    ) -> Result<Option<ConsolidatedContact>> {
        self.lookup_request(&IdentifyRequest::parse(email, phone_number)?)
            .await
    }

    /// Runs [`ContactStore::lookup`] on a parsed request.
    ///
    /// # Errors
    /// As [`ContactStore::lookup`].
    pub async fn lookup_request(
        &self,
        request: &IdentifyRequest,
    ) -> Result<Option<ConsolidatedContact>> {
        self.store.lookup(&self.tenant, request).await
    }

    /// Every visible row of the handle's tenant, by id (reads all of them).
    ///
    /// # Errors
    /// As [`ContactStore::all_contacts`].
    pub async fn all_contacts(&self) -> Result<Vec<Contact>> {
        self.store.all_contacts(&self.tenant).await
    }

    /// Checks the tenant's rows against I1-I4 and its derived records against the rows; reports
    /// every difference (an empty report is a healthy tenant). Reads all of the tenant's data.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("123456")).await?;
    /// let report = identity.verify().await?;
    /// assert!(report.is_clean(), "{report}");
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`ContactStore::verify`].
    pub async fn verify(&self) -> Result<VerifyReport> {
        self.store.verify(&self.tenant).await
    }

    /// Recomputes every derived record of the tenant from its rows, repairing rows that break
    /// the model, in one transaction; reports what it did.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("123456")).await?;
    /// let report = identity.rebuild().await?;
    /// assert_eq!((report.rows, report.customers), (1, 1));
    /// assert!(report.relinked.is_empty());
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`ContactStore::rebuild`].
    pub async fn rebuild(&self) -> Result<RebuildReport> {
        self.store.rebuild(&self.tenant).await
    }

    /// Checks that the database answers and, once the storage refused a write (full,
    /// read-only, failing: [`Error::storage_refusal`]), that a probe write commits again
    /// ([`ContactStore::probe_write`]); for readiness probes. A refusal is remembered by the
    /// store, for every handle on it, until a probe write commits: ready again means writes
    /// work again, not only that the database answers.
    ///
    /// # Errors
    /// As [`ContactStore::ping`]; while the storage refuses writes, the probe's
    /// [`Error::Unavailable`], whose [`Error::storage_refusal`] says why.
    pub async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }

    /// Closes the store; later calls fail with [`Error::Closed`].
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// How far the tenant's long write in this process has got: an import or erase that runs
    /// in steps (on SQLite, one too large for a single transaction), or `None`. A caller
    /// watching an import polls it from another task ([`crate::JobProgress`]).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// assert_eq!(identity.job_progress(), None); // nothing running
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn job_progress(&self) -> Option<crate::progress::JobProgress> {
        self.store.job_progress(&self.tenant)
    }

    /// What wakes the handle's feed readers.
    pub(crate) fn signal(&self) -> &FeedSignal {
        &self.signal
    }

    /// The store behind the handle.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn ContactStore> {
        &self.store
    }
}

/// Opens the store a URL names, migrates it, and returns a handle: the one-line setup.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let identity = identity::connect("memory:").await?;
/// let err = identity::connect("mysql://u:secret@db/shop").await.unwrap_err();
/// assert!(err.to_string().contains("`mysql`") && !err.to_string().contains("secret"));
/// # Ok::<(), identity::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// As [`Identity::connect_with`].
pub async fn connect(url: &str) -> Result<Identity> {
    Identity::connect(url).await
}

/// The URL with any password replaced by `***`, safe to log.
///
/// ```
/// assert_eq!(
///     identity::connect::redact_url("postgres://shop:s3cret@db:5432/shop?sslmode=require"),
///     "postgres://shop:***@db:5432/shop?sslmode=require"
/// );
/// assert_eq!(identity::connect::redact_url("sqlite:shop.db"), "sqlite:shop.db");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    let url = &redact_query_password(url);
    // `scheme://authority...`, or `scheme:authority...` (no slashes: still a password to hide)
    let (scheme, slashes, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme, "://", rest),
        None => match url.split_once(':') {
            Some((scheme, rest)) => (scheme, ":", rest),
            None => return url.to_owned(),
        },
    };
    // the authority ends at the first '/', '?' or '#'; a password is between ':' and the last '@'
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let masked = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}{slashes}{user}{masked}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// `password=...` query parameters replaced by `password=***`.
fn redact_query_password(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

/// The URL's scheme, lowercased; an error (that does not echo the URL) when there is none.
fn scheme(url: &str) -> Result<String> {
    let invalid = |reason: &str| Error::InvalidUrl {
        reason: reason.to_owned(),
    };
    let url = url.trim();
    if url.is_empty() {
        return Err(invalid("the url is empty"));
    }
    let Some((scheme, _)) = url.split_once(':') else {
        return Err(invalid(
            "missing scheme (expected postgres://, sqlite: or memory:)",
        ));
    };
    let well_formed = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !well_formed {
        return Err(invalid(
            "missing scheme (expected postgres://, sqlite: or memory:)",
        ));
    }
    Ok(scheme.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_urls_never_contain_the_password() {
        for (url, expected) in [
            ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h:5432/db?password=x&a=b",
                "postgres://h:5432/db?password=***&a=b",
            ),
            ("postgres://u:pw@h", "postgres://u:***@h"),
            ("postgres:u:pw@h/db", "postgres:u:***@h/db"),
            (
                "postgres://h/db?Password=pw",
                "postgres://h/db?Password=***",
            ),
            ("sqlite:shop.db", "sqlite:shop.db"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("memory:", "memory:"),
        ] {
            assert_eq!(redact_url(url), expected);
        }
    }

    #[test]
    fn scheme_is_read_without_echoing_the_rest() {
        assert_eq!(scheme("PostgreSQL://x").unwrap(), "postgresql");
        assert_eq!(scheme("sqlite::memory:").unwrap(), "sqlite");
        for bad in [
            "",
            "  ",
            "no-scheme-at-all",
            "p@ss:word@host/db",
            "1abc://x",
        ] {
            let err = scheme(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid database url"), "{bad:?}: {err}");
            assert!(!err.contains("word"), "{err}");
        }
    }
}
