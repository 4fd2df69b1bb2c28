//! Long writes on SQLite, whose one writer serves every tenant: erasing a customer of many rows
//! and importing many rows run in bounded steps, so another tenant's identifies go on between
//! them (they waited for the whole job, and timed out, when it was one transaction); the
//! tenant's own calls wait for the job and see it whole; a job whose process died is finished
//! (an erase) or undone (an import) by the next call that finds it without progress. Every test
//! ends with I1-I4 over the rows and a clean `verify` for each tenant.
//! A job tells how far it got while it runs (`job_progress`).

use identity_testkit as common;

use std::time::Duration;

use identity::import::{ImportOptions, TableRow};
use identity::{ContactId, Identity, IgnoredReason, JobKind, JobProgress};

/// A customer of `rows` rows from id `first`: each row its own email and phone, linked to the
/// first.
fn customer(first: u64, rows: u64) -> Vec<TableRow> {
    let at = time::OffsetDateTime::from_unix_timestamp(1_680_343_200).unwrap();
    (first..first + rows)
        .map(|id| {
            let row = TableRow::new(id)
                .email(format!("row{id}@large.io"))
                .phone_number(format!("+1555{id:07}"))
                .created_at(at);
            if id == first {
                row
            } else {
                row.linked_to(first)
            }
        })
        .collect()
}

/// A SQLite file store, its URL, and a raw pool on the same file (to watch its jobs).
async fn sqlite() -> (Identity, sqlx::SqlitePool, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("long.db").display());
    let identity = identity::connect(&url).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    (identity, pool, dir)
}

/// The kind of `tenant`'s running job, if any.
async fn job_of(pool: &sqlx::SqlitePool, tenant: &str) -> Option<String> {
    sqlx::query_scalar("SELECT kind FROM identity_tenant_job WHERE tenant_id = ?1")
        .bind(tenant)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Waits until `tenant` has a job running (the long write is under way, in steps).
async fn until_job(pool: &sqlx::SqlitePool, tenant: &str) {
    common::wait_until(
        "the long write's job to start",
        Duration::from_secs(30),
        async || job_of(pool, tenant).await.is_some(),
    )
    .await;
}

/// Identifies new customers into `other` while `running` is not finished: how many completed
/// while it still ran (after its job was seen).
async fn identifies_meanwhile(other: &Identity, running: &tokio::task::JoinHandle<()>) -> u32 {
    let mut meanwhile = 0;
    let mut n = 0;
    while !running.is_finished() {
        other
            .identify(Some(&format!("walk-in{n}@other.io")), None)
            .await
            .unwrap();
        n += 1;
        if !running.is_finished() {
            meanwhile += 1;
        }
    }
    meanwhile
}

async fn assert_sound(identity: &Identity, tenants: &[&str]) {
    for tenant in tenants {
        let handle = identity.tenant(tenant).unwrap();
        common::assert_invariants(&handle.all_contacts().await.unwrap());
        common::assert_verified(&handle).await;
    }
}

#[tokio::test]
async fn a_large_erase_lets_other_tenants_write_between_its_steps_and_its_own_wait() {
    let (identity, pool, _dir) = sqlite().await;
    let large = identity.tenant("large").unwrap();
    large
        .import_table(customer(1, 12_000), ImportOptions::default())
        .await
        .unwrap();
    let erase = {
        let large = large.clone();
        tokio::spawn(async move {
            let receipt = large.erase(ContactId::new(77), true).await.unwrap();
            assert_eq!(receipt.contact_ids.len(), 12_000);
        })
    };
    until_job(&pool, "large").await;
    // the tenant's own identify waits for the erase and sees it whole: the value is suppressed
    let own = large
        .identify(Some("row5@large.io"), Some("+15550099999"))
        .await
        .unwrap();
    assert!(erase.is_finished() || job_of(&pool, "large").await.is_none());
    assert_eq!(own.ignored[0].reason, IgnoredReason::Suppressed);
    assert_eq!(own.emails.len(), 0, "no row of the erased customer answers");
    erase.await.unwrap();

    // again, with another tenant writing all along
    large
        .tenant("large-2")
        .unwrap()
        .import_table(customer(100_000, 12_000), ImportOptions::default())
        .await
        .unwrap();
    let second = identity.tenant("large-2").unwrap();
    let erase = {
        let second = second.clone();
        tokio::spawn(async move {
            second.erase(ContactId::new(100_000), false).await.unwrap();
        })
    };
    until_job(&pool, "large-2").await;
    let other = identity.tenant("other").unwrap();
    let meanwhile = identifies_meanwhile(&other, &erase).await;
    erase.await.unwrap();
    assert!(
        meanwhile >= 3,
        "only {meanwhile} identifies of another tenant completed during the erase's steps"
    );
    assert!(job_of(&pool, "large-2").await.is_none());
    assert!(second.all_contacts().await.unwrap().is_empty());
    assert!(
        second
            .lookup(Some("row100005@large.io"), None)
            .await
            .unwrap()
            .is_none()
    );
    assert_sound(&identity, &["large", "large-2", "other"]).await;
}

#[tokio::test]
async fn a_large_import_lets_other_tenants_write_and_its_tenant_sees_it_whole() {
    let (identity, pool, _dir) = sqlite().await;
    let shop = identity.tenant("shop").unwrap();
    let rows = customer(1, 16_000);
    let import = {
        let shop = shop.clone();
        let rows = rows.clone();
        tokio::spawn(async move {
            shop.import_table(rows, ImportOptions::default())
                .await
                .unwrap();
        })
    };
    until_job(&pool, "shop").await;
    // a lookup and an identify of the importing tenant wait for all of it
    let seen = shop
        .lookup(Some("row15999@large.io"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.secondary_contact_ids.len(), 15_999);
    let other = identity.tenant("other").unwrap();
    let meanwhile = identifies_meanwhile(&other, &import).await;
    import.await.unwrap();
    let _ = meanwhile; // the import may have finished before the lookup returned
    let answer = shop.identify(Some("row1@large.io"), None).await.unwrap();
    assert_eq!(answer.primary_contact_id, ContactId::new(1));
    assert_eq!(answer.secondary_contact_ids.len(), 15_999);

    // another large import, with the other tenant writing from its first step
    let next = identity.tenant("shop-2").unwrap();
    let import = {
        let next = next.clone();
        tokio::spawn(async move {
            next.import_table(customer(50_000, 16_000), ImportOptions::default())
                .await
                .unwrap();
        })
    };
    until_job(&pool, "shop-2").await;
    let meanwhile = identifies_meanwhile(&other, &import).await;
    import.await.unwrap();
    assert!(
        meanwhile >= 3,
        "only {meanwhile} identifies of another tenant completed during the import's steps"
    );
    assert_sound(&identity, &["shop", "shop-2", "other"]).await;
}

#[tokio::test]
async fn a_job_whose_process_died_is_finished_or_undone_by_the_next_call() {
    let (identity, pool, _dir) = sqlite().await;
    let gone = identity.tenant("gone").unwrap();
    gone.import_table(customer(1, 12_000), ImportOptions::default())
        .await
        .unwrap();
    // an erase stopped after its first steps, as if its process died
    let erase = {
        let gone = gone.clone();
        tokio::spawn(async move {
            let _ = gone.erase(ContactId::new(1), true).await;
        })
    };
    until_job(&pool, "gone").await;
    erase.abort();
    let _ = erase.await;
    assert_eq!(job_of(&pool, "gone").await.as_deref(), Some("erase"));
    sqlx::query("UPDATE identity_tenant_job SET progress_ms = progress_ms - 600000")
        .execute(&pool)
        .await
        .unwrap();
    // the next call of the tenant finishes the erase, then answers as after it
    let c = gone.identify(Some("row9@large.io"), None).await;
    assert!(
        matches!(c, Err(identity::Error::BlockedValue { .. })),
        "{c:?}"
    );
    assert!(job_of(&pool, "gone").await.is_none());
    assert!(gone.all_contacts().await.unwrap().is_empty());
    let receipt = gone.erase(ContactId::new(11_345), false).await.unwrap();
    assert_eq!(
        (receipt.customer_id, receipt.suppressed),
        (ContactId::new(1), true)
    );

    // an import stopped half way, as if its process died: the next call undoes it
    let half = identity.tenant("half").unwrap();
    let import = {
        let half = half.clone();
        tokio::spawn(async move {
            let _ = half
                .import_table(customer(200_000, 16_000), ImportOptions::default())
                .await;
        })
    };
    until_job(&pool, "half").await;
    import.abort();
    let _ = import.await;
    assert_eq!(job_of(&pool, "half").await.as_deref(), Some("import"));
    sqlx::query("UPDATE identity_tenant_job SET progress_ms = progress_ms - 600000")
        .execute(&pool)
        .await
        .unwrap();
    let first = half.identify(Some("first@half.io"), None).await.unwrap();
    assert!(job_of(&pool, "half").await.is_none());
    assert_eq!(
        half.all_contacts().await.unwrap().len(),
        1,
        "only the new row"
    );
    assert!(
        first.primary_contact_id.get() > 215_999,
        "the import's ids stay reserved"
    );
    // and the import can run again, from the start, into a fresh tenant
    identity
        .tenant("half-again")
        .unwrap()
        .import_table(customer(300_000, 16_000), ImportOptions::default())
        .await
        .unwrap();
    assert_sound(&identity, &["gone", "half", "half-again"]).await;
}

/// Polls the tenant's progress until `write` ends; every value seen.
async fn progress_of(
    shop: &Identity,
    other: &Identity,
    write: &tokio::task::JoinHandle<()>,
) -> Vec<JobProgress> {
    let mut seen = Vec::new();
    while !write.is_finished() {
        if let Some(p) = shop.job_progress() {
            seen.push(p);
        }
        assert_eq!(
            other.job_progress(),
            None,
            "another tenant's write is not its own"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    seen
}

/// Checks what [`progress_of`] saw of a write of `kind`: steps in between, never backwards.
fn assert_advances(seen: &[JobProgress], kind: JobKind) {
    assert!(seen.len() >= 2, "{seen:?}");
    let total = seen[0].total;
    assert!(
        seen.iter()
            .all(|p| p.kind == kind && p.total == total && p.done <= total),
        "{seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[0].done <= w[1].done),
        "went back: {seen:?}"
    );
    assert!(
        seen.iter().any(|p| p.done > 0 && p.done < total),
        "no step in between: {seen:?}"
    );
}

#[tokio::test]
async fn a_long_write_tells_how_far_it_got_while_it_runs() {
    let (identity, _pool, _dir) = sqlite().await;
    let shop = identity.tenant("watched").unwrap();
    let other = identity.tenant("other").unwrap();
    assert_eq!(shop.job_progress(), None, "nothing runs");
    let import = {
        let shop = shop.clone();
        tokio::spawn(async move {
            shop.import_table(customer(1, 16_000), ImportOptions::default())
                .await
                .unwrap();
        })
    };
    let seen = progress_of(&shop, &other, &import).await;
    import.await.unwrap();
    assert_advances(&seen, JobKind::Import);
    assert!(
        seen[0].total >= 2 * 16_000,
        "rows and their events at least: {seen:?}"
    );
    assert_eq!(shop.job_progress(), None, "forgotten once done");

    let erase = {
        let shop = shop.clone();
        tokio::spawn(async move {
            shop.erase(ContactId::new(1), false).await.unwrap();
        })
    };
    let seen = progress_of(&shop, &other, &erase).await;
    erase.await.unwrap();
    assert_advances(&seen, JobKind::Erase);
    assert_eq!(shop.job_progress(), None, "forgotten once done");
    // the store's own writes, in one transaction, have none to show
    let memory = identity::connect("memory:").await.unwrap();
    memory
        .import_table(customer(1, 16_000), ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(memory.job_progress(), None);
}
