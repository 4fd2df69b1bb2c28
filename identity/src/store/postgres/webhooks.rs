//! The PostgreSQL side of webhooks: endpoints, their leases and their attempts
//! (`migrations/postgres/*_webhooks.sql`). Times are the database's clock, so senders on
//! several machines agree on when a lease ends.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgStore;
use crate::error::{Error, Result};
use crate::feed::Cursor;
use crate::feed::stored::{self, FeedBounds};
use crate::store::webhooks::{
    Lease, StoredDelivery, StoredLease, StoredWebhook, WebhookStore, event_seq, millis, state_after,
};
use crate::tenant::TenantId;
use crate::webhook::{Delivery, EventTypes, Webhook, WebhookId, WebhookSecret, WebhookTarget};

/// The columns a [`StoredWebhook`] is read from.
macro_rules! columns {
    () => {
        "id, url, types, state, delivered, attempts, next_attempt_at, last_error, created_at"
    };
}

const BOUNDS: &str = "\
SELECT coalesce((SELECT position FROM identity_feed_floor WHERE tenant_id = $1), 0) AS floor,
       identity_feed_head($1) AS head";

/// Endpoints that look claimable (due, active, unleased, with events after what they were
/// delivered), oldest due first, `$1` of them. Read without locks: [`CLAIM`] decides. One
/// statement over every tenant that Citus runs on each worker (the events are compared on
/// the endpoint's own tenant, so each shard answers from its own rows).
const CANDIDATES: &str = "\
SELECT c.tenant_id, c.id FROM identity_webhook AS c
WHERE c.state = 'active' AND c.next_attempt_at <= statement_timestamp()
  AND (c.lease_until IS NULL OR c.lease_until < statement_timestamp())
  AND (EXISTS (SELECT 1 FROM identity_event AS e
               WHERE e.tenant_id = c.tenant_id AND e.position > c.delivered)
       OR EXISTS (SELECT 1 FROM identity_feed_floor AS f
                  WHERE f.tenant_id = c.tenant_id AND f.position > c.delivered))
ORDER BY c.next_attempt_at, c.id
LIMIT $1";

/// One candidate leased to `$1` for `$2` ms if it is still claimable. Two senders that pick
/// the same endpoint both reach its row; the second waits for the first's (autocommitted)
/// update, finds the lease taken and claims nothing. A statement on one tenant, so Citus
/// routes it to the tenant's worker.
const CLAIM: &str = "\
UPDATE identity_webhook AS w
SET lease_owner = $1, lease_until = statement_timestamp() + $2 * interval '1 millisecond'
WHERE w.tenant_id = $3 AND w.id = $4
  AND w.state = 'active' AND w.next_attempt_at <= statement_timestamp()
  AND (w.lease_until IS NULL OR w.lease_until < statement_timestamp())
RETURNING w.id, w.tenant_id, w.url, w.types, w.secret, w.delivered, w.attempts, w.epoch";

/// How many candidates one claim reads: enough that senders racing for the first few still
/// find one free.
const CANDIDATES_PER_CLAIM: i64 = 16;

/// A delivery acknowledged. Committed without waiting for the WAL flush: a database crash
/// may lose the acknowledgement, which only repeats a delivery (at least once), and a burst
/// of deliveries does not cost a flush each.
const DELIVERED: &str = "\
WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)),
held AS (
    UPDATE identity_webhook
    SET delivered = $4, attempts = 0, last_error = NULL, next_attempt_at = statement_timestamp(),
        lease_until = statement_timestamp() + $5 * interval '1 millisecond'
    WHERE tenant_id = $11 AND id = $1 AND lease_owner = $2 AND epoch = $3
    RETURNING tenant_id, id),
logged AS (
    INSERT INTO identity_webhook_delivery
        (tenant_id, webhook_id, event_id, position, attempt, at, status, duration_ms)
    SELECT held.tenant_id, held.id, $6, $4, $7, $8, $9, $10 FROM held WHERE $6 IS NOT NULL)
SELECT count(*) FROM held, quick";

/// A failed attempt: logged, the endpoint released, due again after `$5` ms or failing.
const FAILED: &str = "\
WITH held AS (
    UPDATE identity_webhook
    SET attempts = attempts + 1, last_error = $9, state = $6,
        next_attempt_at = statement_timestamp() + coalesce($5, 0) * interval '1 millisecond',
        lease_owner = NULL, lease_until = NULL
    WHERE tenant_id = $13 AND id = $1 AND lease_owner = $2 AND epoch = $3
    RETURNING tenant_id, id, next_attempt_at, state),
logged AS (
    INSERT INTO identity_webhook_delivery
        (tenant_id, webhook_id, event_id, position, attempt, at, status, error, duration_ms,
         next_attempt_at)
    SELECT held.tenant_id, held.id, $4, $7, $8, $10, $11, $9, $12,
           CASE WHEN held.state = 'active' THEN held.next_attempt_at END
    FROM held)
SELECT count(*) FROM held";

const RENEW: &str = "\
UPDATE identity_webhook SET lease_until = statement_timestamp() + $4 * interval '1 millisecond'
WHERE tenant_id = $5 AND id = $1 AND lease_owner = $2 AND epoch = $3";

const RELEASE: &str = "\
UPDATE identity_webhook SET lease_owner = NULL, lease_until = NULL
WHERE tenant_id = $3 AND id = $1 AND lease_owner = $2";

fn failed(operation: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::store(operation, e)
}

fn webhook(row: &PgRow) -> std::result::Result<StoredWebhook, sqlx::Error> {
    Ok(StoredWebhook {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        types: row.try_get("types")?,
        state: row.try_get("state")?,
        delivered: row.try_get("delivered")?,
        attempts: i64::from(row.try_get::<i32, _>("attempts")?),
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
    })
}

fn delivery(row: &PgRow) -> std::result::Result<Option<StoredDelivery>, sqlx::Error> {
    let Some(event_id) = row.try_get::<Option<i64>, _>("event_id")? else {
        return Ok(None);
    };
    Ok(Some(StoredDelivery {
        event_id,
        position: row.try_get("position")?,
        attempt: i64::from(row.try_get::<i32, _>("attempt")?),
        at: row.try_get("at")?,
        status: row.try_get::<Option<i32>, _>("status")?.map(i64::from),
        error: row.try_get("error")?,
        duration_ms: row.try_get("duration_ms")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
    }))
}

fn attempt_status(d: &Delivery) -> Option<i32> {
    d.status.map(i32::from)
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn create_webhook(
        &self,
        tenant: &TenantId,
        target: &WebhookTarget,
        types: &EventTypes,
        secret: &WebhookSecret,
    ) -> Result<Webhook> {
        let sql: &str = concat!(
            "INSERT INTO identity_webhook (tenant_id, url, types, secret, delivered)
             VALUES ($1, $2, $3, $4, identity_feed_head($1)) RETURNING ",
            columns!(),
            ""
        );
        let row = sqlx::query(sql)
            .bind(tenant.as_str())
            .bind(target.as_str())
            .bind(types.stored())
            .bind(secret.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(failed("creating a webhook"))?;
        webhook(&row)
            .map_err(failed("creating a webhook"))?
            .decode()
    }

    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>> {
        let sql: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM identity_webhook WHERE tenant_id = $1 ORDER BY id"
        );
        let rows = sqlx::query(sql)
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(failed("reading webhooks"))?;
        rows.iter()
            .map(|r| webhook(r).map_err(failed("reading webhooks"))?.decode())
            .collect()
    }

    async fn delete_webhook(&self, tenant: &TenantId, id: WebhookId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM identity_webhook WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.get())
            .execute(&self.pool)
            .await
            .map_err(failed("deleting a webhook"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        id: WebhookId,
        limit: usize,
    ) -> Result<Option<Vec<Delivery>>> {
        let rows = sqlx::query(
            "SELECT d.event_id, d.position, d.attempt, d.at, d.status, d.error, d.duration_ms,
                    d.next_attempt_at
             FROM identity_webhook AS w
             LEFT JOIN LATERAL (
                 SELECT * FROM identity_webhook_delivery AS x
                 WHERE x.tenant_id = w.tenant_id AND x.webhook_id = w.id
                 ORDER BY x.id DESC LIMIT $3) AS d ON true
             WHERE w.tenant_id = $1 AND w.id = $2
             ORDER BY d.id DESC",
        )
        .bind(tenant.as_str())
        .bind(id.get())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(failed("reading webhook deliveries"))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(d) = delivery(row).map_err(failed("reading webhook deliveries"))? {
                found.push(d.decode());
            }
        }
        Ok(Some(found))
    }

    async fn replay_webhook(
        &self,
        tenant: &TenantId,
        id: WebhookId,
        after: Option<Cursor>,
    ) -> Result<Option<Webhook>> {
        let row = sqlx::query(BOUNDS)
            .bind(tenant.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(failed("replaying a webhook"))?;
        let (floor, head): (i64, i64) = (
            row.try_get("floor")
                .map_err(failed("replaying a webhook"))?,
            row.try_get("head").map_err(failed("replaying a webhook"))?,
        );
        let bounds = FeedBounds {
            floor: u64::try_from(floor).unwrap_or(0),
            head: u64::try_from(head).unwrap_or(0),
        };
        let from = stored::start(after, bounds)?;
        let sql: &str = concat!(
            "UPDATE identity_webhook
             SET delivered = $3, state = 'active', attempts = 0, last_error = NULL,
                 next_attempt_at = statement_timestamp(), epoch = epoch + 1
             WHERE tenant_id = $1 AND id = $2 RETURNING ",
            columns!(),
            ""
        );
        let row = sqlx::query(sql)
            .bind(tenant.as_str())
            .bind(id.get())
            .bind(i64::try_from(from.position()).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("replaying a webhook"))?;
        row.map(|r| webhook(&r).map_err(failed("replaying a webhook"))?.decode())
            .transpose()
    }

    async fn claim_webhook(&self, owner: &str, lease: Duration) -> Result<Option<Lease>> {
        let candidates: Vec<(String, i64)> = sqlx::query_as(CANDIDATES)
            .bind(CANDIDATES_PER_CLAIM)
            .fetch_all(&self.pool)
            .await
            .map_err(failed("claiming a webhook"))?;
        let mut claimed = None;
        for (tenant, id) in candidates {
            claimed = sqlx::query(CLAIM)
                .bind(owner)
                .bind(millis(lease))
                .bind(tenant)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(failed("claiming a webhook"))?;
            if claimed.is_some() {
                break;
            }
        }
        let Some(row) = claimed else { return Ok(None) };
        let read = |row: &PgRow| -> std::result::Result<StoredLease, sqlx::Error> {
            Ok(StoredLease {
                id: row.try_get("id")?,
                tenant: row.try_get("tenant_id")?,
                url: row.try_get("url")?,
                types: row.try_get("types")?,
                secret: row.try_get("secret")?,
                delivered: row.try_get("delivered")?,
                attempts: i64::from(row.try_get::<i32, _>("attempts")?),
                epoch: row.try_get("epoch")?,
            })
        };
        read(&row)
            .map_err(failed("claiming a webhook"))?
            .decode(owner)
            .map(Some)
    }

    async fn webhook_delivered(
        &self,
        held: &Lease,
        position: u64,
        delivery: Option<&Delivery>,
        lease: Duration,
    ) -> Result<bool> {
        let kept: i64 = sqlx::query_scalar(DELIVERED)
            .bind(held.id.get())
            .bind(&held.owner)
            .bind(held.epoch)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(millis(lease))
            .bind(delivery.map(|d| event_seq(&d.event_id)))
            .bind(delivery.map(|d| i32::try_from(d.attempt).unwrap_or(i32::MAX)))
            .bind(delivery.map(|d| d.at))
            .bind(delivery.and_then(attempt_status))
            .bind(delivery.map(|d| i64::try_from(d.duration_ms).unwrap_or(i64::MAX)))
            .bind(held.tenant.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(failed("recording a webhook delivery"))?;
        Ok(kept > 0)
    }

    async fn webhook_failed(
        &self,
        held: &Lease,
        delivery: &Delivery,
        retry: Option<Duration>,
    ) -> Result<bool> {
        let kept: i64 = sqlx::query_scalar(FAILED)
            .bind(held.id.get())
            .bind(&held.owner)
            .bind(held.epoch)
            .bind(event_seq(&delivery.event_id))
            .bind(retry.map(millis))
            .bind(state_after(retry).as_str())
            .bind(i64::try_from(delivery.cursor.position()).unwrap_or(i64::MAX))
            .bind(i32::try_from(delivery.attempt).unwrap_or(i32::MAX))
            .bind(delivery.error.as_deref())
            .bind(delivery.at)
            .bind(attempt_status(delivery))
            .bind(i64::try_from(delivery.duration_ms).unwrap_or(i64::MAX))
            .bind(held.tenant.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(failed("recording a webhook delivery"))?;
        Ok(kept > 0)
    }

    async fn renew_webhook(&self, held: &Lease, lease: Duration) -> Result<bool> {
        let done = sqlx::query(RENEW)
            .bind(held.id.get())
            .bind(&held.owner)
            .bind(held.epoch)
            .bind(millis(lease))
            .bind(held.tenant.as_str())
            .execute(&self.pool)
            .await
            .map_err(failed("renewing a webhook lease"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_webhook(&self, held: &Lease) -> Result<()> {
        sqlx::query(RELEASE)
            .bind(held.id.get())
            .bind(&held.owner)
            .bind(held.tenant.as_str())
            .execute(&self.pool)
            .await
            .map_err(failed("releasing a webhook lease"))?;
        Ok(())
    }
}
