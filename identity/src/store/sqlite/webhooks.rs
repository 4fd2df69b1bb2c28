//! The SQLite side of webhooks: endpoints, their leases and their attempts
//! (`migrations/sqlite/*_webhooks.sql`). Times are milliseconds since 1970 from this process's
//! clock; every change is a write transaction of the store's one writer.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use super::SqliteStore;
use super::feed::feed_head;
use crate::error::{Error, Result};
use crate::feed::Cursor;
use crate::feed::stored::{self, FeedBounds};
use crate::store::webhooks::{
    Lease, StoredDelivery, StoredLease, StoredWebhook, WebhookStore, event_seq, millis, state_after,
};
use crate::store::{MAX_ATTEMPTS, backoff, contention};
use crate::tenant::TenantId;
use crate::webhook::{Delivery, EventTypes, Webhook, WebhookId, WebhookSecret, WebhookTarget};

/// The columns a [`StoredWebhook`] is read from.
macro_rules! columns {
    () => {
        "id, url, types, state, delivered, attempts, next_attempt_at, last_error, created_at"
    };
}

const CLAIM: &str = "UPDATE identity_webhook SET lease_owner = ?2, lease_until = ?1 + ?3
     WHERE id = (
         SELECT c.id FROM identity_webhook AS c
         WHERE c.state = 'active' AND c.next_attempt_at <= ?1
           AND (c.lease_until IS NULL OR c.lease_until < ?1)
           AND coalesce((SELECT max(e.position) FROM identity_event AS e
                         WHERE e.tenant_id = c.tenant_id), 0) > c.delivered
         ORDER BY c.next_attempt_at, c.id LIMIT 1)
     RETURNING id, tenant_id, url, types, secret, delivered, attempts, epoch";

/// Whether an endpoint is claimable at `?1` (as [`CLAIM`] chooses one).
const DUE: &str = "SELECT EXISTS (
    SELECT 1 FROM identity_webhook AS c
    WHERE c.state = 'active' AND c.next_attempt_at <= ?1
      AND (c.lease_until IS NULL OR c.lease_until < ?1)
      AND coalesce((SELECT max(e.position) FROM identity_event AS e
                    WHERE e.tenant_id = c.tenant_id), 0) > c.delivered)";

/// A write of the webhook tables by a sender, many a second under load: the store's writer
/// queue and `BEGIN IMMEDIATE`, without the writer flag the contact tables' triggers read (no
/// trigger watches these tables), so each acknowledgement holds the one writer as briefly as
/// it can. Evaluates to `work`'s value; retried while the database is busy.
macro_rules! sender_writing {
    ($store:expr, $fail:expr, |$tx:ident| $work:expr) => {{
        let mut written = None;
        for attempt in 1..=MAX_ATTEMPTS {
            let Some(mut open) = $store.begin_immediate().await? else {
                backoff(attempt).await;
                continue;
            };
            let $tx: &mut SqliteConnection = &mut open;
            let value = $work;
            match open.commit().await {
                Ok(_turn) => {
                    written = Some(value);
                    break;
                }
                Err(e) if super::is_busy(&e) => {}
                Err(e) => return Err($fail(e)),
            }
            backoff(attempt).await;
        }
        match written {
            Some(value) => value,
            None => return Err(contention()),
        }
    }};
}

fn failed(operation: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::store(operation, e)
}

/// Now, in milliseconds since 1970.
fn now_ms() -> i64 {
    ms_of(OffsetDateTime::now_utc())
}

fn ms_of(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn time_of(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn webhook(row: &SqliteRow) -> std::result::Result<StoredWebhook, sqlx::Error> {
    Ok(StoredWebhook {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        types: row.try_get("types")?,
        state: row.try_get("state")?,
        delivered: row.try_get("delivered")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: time_of(row.try_get("next_attempt_at")?),
        last_error: row.try_get("last_error")?,
        created_at: time_of(row.try_get("created_at")?),
    })
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(
        &self,
        tenant: &TenantId,
        target: &WebhookTarget,
        types: &EventTypes,
        secret: &WebhookSecret,
    ) -> Result<Webhook> {
        let sql: &str = concat!(
            "INSERT INTO identity_webhook
                 (tenant_id, url, types, secret, delivered, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ",
            feed_head!(),
            ", ?5, ?5) RETURNING ",
            columns!(),
            ""
        );
        let fail = failed("creating a webhook");
        let row = writing!(self.begin_write(None), |tx| {
            sqlx::query(sql)
                .bind(tenant.as_str())
                .bind(target.as_str())
                .bind(types.stored())
                .bind(secret.as_str())
                .bind(now_ms())
                .fetch_one(&mut *tx)
                .await
                .map_err(&fail)?
        });
        webhook(&row).map_err(&fail)?.decode()
    }

    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>> {
        let sql: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM identity_webhook WHERE tenant_id = ?1 ORDER BY id"
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
        let done = writing!(self.begin_write(None), |tx| {
            sqlx::query("DELETE FROM identity_webhook WHERE tenant_id = ?1 AND id = ?2")
                .bind(tenant.as_str())
                .bind(id.get())
                .execute(&mut *tx)
                .await
                .map_err(failed("deleting a webhook"))?
        });
        Ok(done.rows_affected() > 0)
    }

    async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        id: WebhookId,
        limit: usize,
    ) -> Result<Option<Vec<Delivery>>> {
        let fail = failed("reading webhook deliveries");
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM identity_webhook WHERE tenant_id = ?1 AND id = ?2)",
        )
        .bind(tenant.as_str())
        .bind(id.get())
        .fetch_one(&self.pool)
        .await
        .map_err(&fail)?;
        if !exists {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT event_id, position, attempt, at, status, error, duration_ms, next_attempt_at
             FROM identity_webhook_delivery WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(id.get())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(&fail)?;
        let read = |row: &SqliteRow| -> std::result::Result<StoredDelivery, sqlx::Error> {
            Ok(StoredDelivery {
                event_id: row.try_get("event_id")?,
                position: row.try_get("position")?,
                attempt: row.try_get("attempt")?,
                at: time_of(row.try_get("at")?),
                status: row.try_get("status")?,
                error: row.try_get("error")?,
                duration_ms: row.try_get("duration_ms")?,
                next_attempt_at: row
                    .try_get::<Option<i64>, _>("next_attempt_at")?
                    .map(time_of),
            })
        };
        let found = rows
            .iter()
            .map(|r| read(r).map(StoredDelivery::decode))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(&fail)?;
        Ok(Some(found))
    }

    async fn replay_webhook(
        &self,
        tenant: &TenantId,
        id: WebhookId,
        after: Option<Cursor>,
    ) -> Result<Option<Webhook>> {
        let bounds_sql = concat!(
            "SELECT coalesce((SELECT position FROM identity_feed_floor WHERE tenant_id = ?1), 0), ",
            feed_head!()
        );
        let (floor, head): (i64, i64) = sqlx::query_as(bounds_sql)
            .bind(tenant.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(failed("replaying a webhook"))?;
        let bounds = FeedBounds {
            floor: u64::try_from(floor).unwrap_or(0),
            head: u64::try_from(head).unwrap_or(0),
        };
        let from = i64::try_from(stored::start(after, bounds)?.position()).unwrap_or(i64::MAX);
        let sql: &str = concat!(
            "UPDATE identity_webhook
             SET delivered = ?3, state = 'active', attempts = 0, last_error = NULL,
                 next_attempt_at = ?4, epoch = epoch + 1
             WHERE tenant_id = ?1 AND id = ?2 RETURNING ",
            columns!(),
            ""
        );
        let fail = failed("replaying a webhook");
        let row = writing!(self.begin_write(None), |tx| {
            sqlx::query(sql)
                .bind(tenant.as_str())
                .bind(id.get())
                .bind(from)
                .bind(now_ms())
                .fetch_optional(&mut *tx)
                .await
                .map_err(&fail)?
        });
        row.map(|r| webhook(&r).map_err(&fail)?.decode())
            .transpose()
    }

    async fn claim_webhook(&self, owner: &str, lease: Duration) -> Result<Option<Lease>> {
        let fail = failed("claiming a webhook");
        // a read first: an idle sender does not take the one writer's lock at every look
        let due: bool = sqlx::query_scalar(DUE)
            .bind(now_ms())
            .fetch_one(&self.pool)
            .await
            .map_err(&fail)?;
        if !due {
            return Ok(None);
        }
        let row = sender_writing!(self, &fail, |tx| {
            sqlx::query(CLAIM)
                .bind(now_ms())
                .bind(owner)
                .bind(millis(lease))
                .fetch_optional(&mut *tx)
                .await
                .map_err(&fail)?
        });
        let Some(row) = row else { return Ok(None) };
        let read = |row: &SqliteRow| -> std::result::Result<StoredLease, sqlx::Error> {
            Ok(StoredLease {
                id: row.try_get("id")?,
                tenant: row.try_get("tenant_id")?,
                url: row.try_get("url")?,
                types: row.try_get("types")?,
                secret: row.try_get("secret")?,
                delivered: row.try_get("delivered")?,
                attempts: row.try_get("attempts")?,
                epoch: row.try_get("epoch")?,
            })
        };
        read(&row).map_err(&fail)?.decode(owner).map(Some)
    }

    async fn webhook_delivered(
        &self,
        held: &Lease,
        position: u64,
        delivery: Option<&Delivery>,
        lease: Duration,
    ) -> Result<bool> {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        let fail = failed("recording a webhook delivery");
        Ok(sender_writing!(self, &fail, |tx| {
            let now = now_ms();
            let done = sqlx::query(
                "UPDATE identity_webhook
                 SET delivered = ?4, attempts = 0, last_error = NULL, next_attempt_at = ?5,
                     lease_until = ?5 + ?6
                 WHERE id = ?1 AND lease_owner = ?2 AND epoch = ?3",
            )
            .bind(held.id.get())
            .bind(&held.owner)
            .bind(held.epoch)
            .bind(position)
            .bind(now)
            .bind(millis(lease))
            .execute(&mut *tx)
            .await
            .map_err(&fail)?;
            let kept = done.rows_affected() > 0;
            if let Some(d) = delivery.filter(|_| kept) {
                log(tx, held, d, position).await.map_err(&fail)?;
            }
            kept
        }))
    }

    async fn webhook_failed(
        &self,
        held: &Lease,
        delivery: &Delivery,
        retry: Option<Duration>,
    ) -> Result<bool> {
        let position = i64::try_from(delivery.cursor.position()).unwrap_or(i64::MAX);
        let fail = failed("recording a webhook delivery");
        Ok(sender_writing!(self, &fail, |tx| {
            let next = now_ms().saturating_add(retry.map_or(0, millis));
            let done = sqlx::query(
                "UPDATE identity_webhook
                 SET attempts = attempts + 1, last_error = ?4, state = ?5,
                     next_attempt_at = ?6, lease_owner = NULL, lease_until = NULL
                 WHERE id = ?1 AND lease_owner = ?2 AND epoch = ?3",
            )
            .bind(held.id.get())
            .bind(&held.owner)
            .bind(held.epoch)
            .bind(delivery.error.as_deref())
            .bind(state_after(retry).as_str())
            .bind(next)
            .execute(&mut *tx)
            .await
            .map_err(&fail)?;
            let kept = done.rows_affected() > 0;
            if kept {
                let mut logged = delivery.clone();
                logged.next_attempt_at = retry.map(|_| time_of(next));
                log(tx, held, &logged, position).await.map_err(&fail)?;
            }
            kept
        }))
    }

    async fn renew_webhook(&self, held: &Lease, lease: Duration) -> Result<bool> {
        let fail = failed("renewing a webhook lease");
        let done = sender_writing!(self, &fail, |tx| {
            sqlx::query(
                "UPDATE identity_webhook SET lease_until = ?4
                 WHERE id = ?1 AND lease_owner = ?2 AND epoch = ?3",
            )
            .bind(held.id.get())
            .bind(&held.owner)
            .bind(held.epoch)
            .bind(now_ms().saturating_add(millis(lease)))
            .execute(&mut *tx)
            .await
            .map_err(&fail)?
        });
        Ok(done.rows_affected() > 0)
    }

    async fn release_webhook(&self, held: &Lease) -> Result<()> {
        let fail = failed("releasing a webhook lease");
        sender_writing!(self, &fail, |tx| {
            sqlx::query(
                "UPDATE identity_webhook SET lease_owner = NULL, lease_until = NULL
                 WHERE id = ?1 AND lease_owner = ?2",
            )
            .bind(held.id.get())
            .bind(&held.owner)
            .execute(&mut *tx)
            .await
            .map_err(&fail)?
        });
        Ok(())
    }
}

/// Logs attempt `d` at feed position `position` of the endpoint `held`.
async fn log(
    tx: &mut SqliteConnection,
    held: &Lease,
    d: &Delivery,
    position: i64,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identity_webhook_delivery
             (webhook_id, event_id, position, attempt, at, status, error, duration_ms,
              next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .bind(held.id.get())
    .bind(event_seq(&d.event_id))
    .bind(position)
    .bind(i64::from(d.attempt))
    .bind(ms_of(d.at))
    .bind(d.status.map(i64::from))
    .bind(d.error.as_deref())
    .bind(i64::try_from(d.duration_ms).unwrap_or(i64::MAX))
    .bind(d.next_attempt_at.map(ms_of))
    .execute(&mut *tx)
    .await?;
    Ok(())
}
