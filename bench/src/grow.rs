//! Writes to a large customer (issue 14, item 9): one customer built row by row to thousands of
//! rows, as a shop's most loyal customer is, and then the cost of adding a row to it against
//! adding a row to a customer of one row, and of joining a newer 1-row customer into it; on
//! PostgreSQL and SQLite, directly and through the HTTP service (whose answer carries every
//! email of the customer).

use std::time::{Duration, Instant};

use identity::Identity;
use serde_json::json;

use crate::target::{create_database, drop_database, start_service};

/// Sequential adds: their mean and median.
pub struct Adds {
    /// Mean time per add, ms (what a run of adds costs, folds of the record included).
    pub mean_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
}

impl Adds {
    fn of(mut times: Vec<Duration>) -> Adds {
        times.sort();
        let total: Duration = times.iter().sum();
        Adds {
            mean_ms: total.as_secs_f64() * 1000.0 / times.len().max(1) as f64,
            p50_ms: times[times.len() / 2].as_secs_f64() * 1000.0,
        }
    }
}

/// What one way in measured.
pub struct GrowFigures {
    /// The backend, and whether through the HTTP service.
    pub via: &'static str,
    /// Writes per second while building the large customer from one row.
    pub build_rate: f64,
    /// Adding a row to a customer of one row (each add to another customer).
    pub small: Adds,
    /// Adding a row to the large customer.
    pub large: Adds,
    /// Joining a newer 1-row customer into the large one (a checkout with the small one's
    /// email and the large one's phone).
    pub joins: Adds,
    /// Rows of the large customer before and after the timed adds.
    pub rows: (u64, u64),
    /// Bytes of the last answer (HTTP: the response body; directly: its JSON).
    pub answer_bytes: usize,
}

/// One way in: the core handle, or the service in this process on loopback.
enum Via {
    Direct(Identity),
    Http(String, reqwest::Client),
}

impl Via {
    /// Identifies; the answer's size in bytes (its JSON for the core).
    async fn identify(&self, email: &str, phone: &str) -> Result<usize, String> {
        match self {
            Via::Direct(identity) => {
                let answer = identity
                    .identify(Some(email), Some(phone))
                    .await
                    .map_err(|e| e.chain())?;
                Ok(answer.emails.len())
            }
            Via::Http(base, client) => {
                let response = client
                    .post(format!("{base}/identify"))
                    .json(&json!({"email": email, "phoneNumber": phone}))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response.bytes().await.map_err(|e| e.to_string())?;
                if !status.is_success() {
                    return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
                }
                Ok(body.len())
            }
        }
    }
}

/// Builds one customer to `large` rows and times `samples` adds to it and to 1-row customers,
/// on PostgreSQL and on SQLite (the service's embedded default), each directly and through the
/// HTTP service, on fresh data each time.
pub async fn run(admin_url: &str, large: u64, samples: u64) -> Result<Vec<GrowFigures>, String> {
    let mut figures = Vec::new();
    for (backend, http) in [
        ("PostgreSQL", false),
        ("HTTP on PostgreSQL", true),
        ("SQLite", false),
        ("HTTP on SQLite", true),
    ] {
        let result = if backend.ends_with("PostgreSQL") {
            let tag = if http { "grow_http" } else { "grow" };
            let (url, name) = create_database(admin_url, tag).await?;
            let result = measure(&url, backend, http, large, samples).await;
            drop_database(admin_url, &name).await;
            result
        } else {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let url = format!("sqlite://{}", dir.path().join("grow.db").display());
            measure(&url, backend, http, large, samples).await
        };
        figures.push(result?);
    }
    Ok(figures)
}

async fn measure(
    url: &str,
    backend: &'static str,
    http: bool,
    large: u64,
    samples: u64,
) -> Result<GrowFigures, String> {
    let identity = Identity::connect(url).await.map_err(|e| e.chain())?;
    let (via, server) = if http {
        let (base, server) = start_service(&identity, url, &[]).await?;
        (Via::Http(base, reqwest::Client::new()), Some(server))
    } else {
        (Via::Direct(identity.clone()), None)
    };
    // 1-row customers, then one more row for each
    for i in 0..samples {
        via.identify(&format!("one{i}@grow.test"), &format!("81{i:08}"))
            .await?;
    }
    let mut small = Vec::new();
    for i in 0..samples {
        let began = Instant::now();
        via.identify(&format!("one{i}.b@grow.test"), &format!("81{i:08}"))
            .await?;
        small.push(began.elapsed());
    }
    // the large customer, row by row, to half the samples short of `large`: the timed adds
    // then take it from `large - samples / 2` to `large + samples / 2` rows
    let phone = "9100000000";
    let start = large.saturating_sub(samples / 2).max(1);
    let began = Instant::now();
    for k in 0..start {
        via.identify(&format!("big{k}@grow.test"), phone).await?;
    }
    let build_rate = start as f64 / began.elapsed().as_secs_f64();
    let mut adds = Vec::new();
    let mut answer_bytes = 0;
    for k in start..start + samples {
        let began = Instant::now();
        answer_bytes = via.identify(&format!("big{k}@grow.test"), phone).await?;
        adds.push(began.elapsed());
    }
    let customer = customer_of(&identity, phone).await?;
    let rows = customer.secondary_contact_ids.len() as u64 + 1;
    let timed = (start, rows);
    if rows != start + samples {
        return Err(format!(
            "the large customer has {rows} rows, not {}",
            start + samples
        ));
    }
    // newer 1-row customers, each then joined into the large one, which keeps its primary
    for i in 0..samples {
        via.identify(&format!("join{i}@grow.test"), &format!("82{i:08}"))
            .await?;
    }
    let mut joins = Vec::new();
    for i in 0..samples {
        let began = Instant::now();
        via.identify(&format!("join{i}@grow.test"), phone).await?;
        joins.push(began.elapsed());
    }
    let joined = customer_of(&identity, phone)
        .await?
        .secondary_contact_ids
        .len() as u64
        + 1;
    if joined != rows + samples {
        return Err(format!(
            "the large customer has {joined} rows after the joins, not {}",
            rows + samples
        ));
    }
    let report = identity.verify().await.map_err(|e| e.chain())?;
    if !report.is_clean() {
        return Err(format!("verify found problems: {report:?}"));
    }
    if let Some(server) = server {
        server.abort();
    }
    identity.close().await;
    Ok(GrowFigures {
        via: backend,
        build_rate,
        small: Adds::of(small),
        large: Adds::of(adds),
        joins: Adds::of(joins),
        rows: timed,
        answer_bytes: if http {
            answer_bytes
        } else {
            serde_json::to_vec(&customer).map_or(0, |v| v.len())
        },
    })
}

/// The customer that holds `phone` (the large one).
async fn customer_of(
    identity: &Identity,
    phone: &str,
) -> Result<identity::ConsolidatedContact, String> {
    identity
        .lookup(None, Some(phone))
        .await
        .map_err(|e| e.chain())?
        .ok_or_else(|| "the large customer is missing".to_owned())
}
