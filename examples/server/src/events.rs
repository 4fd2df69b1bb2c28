//! `GET /events?after=&limit=&wait=`: the tenant's change feed (see `identity::feed`). It acts
//! for the tenant as `/identify` does (`X-Tenant-Id`, or the tenant's token), and the admin token
//! may read any tenant's. Outside the request timeout and the concurrency limit of the identify
//! routes: a long poll holds its request for up to `wait` seconds without holding a database
//! connection. The answer holds personal data (the events' values): it goes to the caller, never
//! to the log.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Uri;
use identity::feed::{self, Cursor};
use identity::{Error, FeedPage, Field};
use serde::Deserialize;
use tracing::Level;

use crate::api_error::ApiError;
use crate::auth::Reader;
use crate::handlers::AppState;
use crate::request_log::{Note, answered};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<String>,
    limit: Option<String>,
    wait: Option<String>,
}

/// `{"events": [...], "next": "<cursor>"}`: the events after `after` (from the oldest kept when
/// absent), at most `limit` (1 to 1000, default 100), waiting up to `wait` seconds (0 to 30,
/// default 0; held at most `--events-max-wait-ms`) while there are none. 400 `invalid_input` naming `after`, `limit` or `wait`;
/// 410 `expired` for a cursor older than the events kept.
pub async fn events(
    State(state): State<AppState>,
    Reader(identity): Reader,
    uri: Uri,
) -> Result<(Note, Json<FeedPage>), ApiError> {
    let query: Result<Query<EventsQuery>, QueryRejection> = Query::try_from_uri(&uri);
    let Query(query) = query.map_err(|r| ApiError::BadQuery(r.body_text()))?;
    let after = query
        .after
        .as_deref()
        .map(str::parse::<Cursor>)
        .transpose()?;
    let limit = number(
        query.limit.as_deref(),
        Field::Limit,
        feed::DEFAULT_PAGE as u64,
    )?;
    let wait = number(query.wait.as_deref(), Field::Wait, 0)?;
    let limit = feed::page_size(usize::try_from(limit).unwrap_or(usize::MAX))?;
    // the wait asked for is checked as asked, then held no longer than the service allows
    let wait = feed::wait_time(Duration::from_secs(wait))?.min(state.events_max_wait);
    let page = identity.events_wait(after, limit, wait).await?;
    let events = page.events.len();
    let note = Note::new(move |a| {
        answered!(Level::INFO, a, events, "feed read");
    });
    Ok((note, Json(page)))
}

/// A whole number of the query (`default` when absent).
fn number(text: Option<&str>, field: Field, default: u64) -> Result<u64, Error> {
    let Some(text) = text else {
        return Ok(default);
    };
    text.parse().map_err(|_| Error::InvalidInput {
        field,
        reason: "must be a whole number".into(),
    })
}
