//! What migrating leaves in a database: on PostgreSQL exactly the SQL functions the store needs,
//! one definition each.

use identity_testkit as common;

/// Every `identity_` function of a migrated PostgreSQL database: what the store calls, and what
/// those call. A new function is added here on purpose; an old signature is dropped, not left
/// callable beside the new one.
const FUNCTIONS: [&str; 18] = [
    "identity_add_row",
    "identity_add_row_exact",
    "identity_append_row",
    "identity_begin_write",
    "identity_change_blocked",
    "identity_claim",
    "identity_count_pending",
    "identity_kept_apart",
    "identity_lock",
    "identity_merge",
    "identity_new_customer",
    "identity_note_change",
    "identity_read_known",
    "identity_set_limits",
    "identity_set_phone_region",
    "identity_settings_are",
    "identity_suppress",
    "identity_tenant_settings",
];

#[tokio::test]
async fn postgres_holds_one_definition_of_each_function_the_store_needs() {
    let db = common::TestDb::create().await;
    identity::connect(db.url()).await.unwrap();
    let found: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.proname::text, p.oid::regprocedure::text FROM pg_proc AS p
         WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'identity\\_%'
         ORDER BY 2",
    )
    .fetch_all(&db.pool().await)
    .await
    .unwrap();
    let signatures = |name: &str| -> Vec<&str> {
        found
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, s)| s.as_str())
            .collect()
    };
    for (name, signature) in &found {
        assert!(
            FUNCTIONS.contains(&name.as_str()),
            "unexpected function {signature}"
        );
        assert_eq!(
            signatures(name).len(),
            1,
            "{name} has several overloads: {:?}",
            signatures(name)
        );
    }
    for name in FUNCTIONS {
        assert!(!signatures(name).is_empty(), "{name} is missing");
    }
}
