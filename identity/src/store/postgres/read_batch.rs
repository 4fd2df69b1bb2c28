//! The shared reads' batch query (`reads.rs`): a call of `identity_read_batch`, or, on one
//! server over direct connections (`ReadWith::Inlined`, as reads alone go there), the batch as a
//! statement of its own: the query of `identity_read_batch`
//! (migration `*_read_batch_first_meeting.sql`) with the requests bound one by one in a
//! `VALUES` list instead of two arrays, prepared and cached with the connection.
//!
//! Why not the function: its PL/pgSQL call, the SPI query under it and the set of rows it
//! collects cost about a fifth of a small batch (`BENCHMARKS.md`). Why not a SQL function
//! inlined into the statement, as the read alone is: its arrays let PostgreSQL plan each call
//! anew (a plan made with an array knows how many requests it holds, so it always looks cheaper
//! than the cached one, which does not), and planning the query costs more than running it.
//! Bound one by one, the values leave the plan nothing to learn from a call: after its first
//! calls PostgreSQL keeps one plan per statement (`tests/read_plans.rs` checks it does).
//!
//! One statement per size class (1, 2, 4, ..., [`MAX_BATCH`] requests): a batch binds its
//! requests to the first slots and the slots past its count (`$4`) are filtered out before
//! anything is looked up, so each connection prepares a handful of statements, not one per
//! batch size (all seven planned keep about 2 MiB of a server process's memory).

use std::sync::OnceLock;

use sqlx::postgres::PgArguments;
use sqlx::query::Query;

use crate::contact::{Email, Phone};
use crate::request::IdentifyRequest;
use crate::store::record_cache::Held;
use crate::tenant::TenantId;

use super::graph::ReadWith;

/// The most requests one statement carries.
pub(crate) const MAX_BATCH: usize = 64;

/// The statement for `n` requests (1 to [`MAX_BATCH`]): that of the smallest size class that
/// holds them.
pub(crate) fn statement(n: usize) -> &'static str {
    static STATEMENTS: OnceLock<Vec<String>> = OnceLock::new();
    let all = STATEMENTS.get_or_init(|| {
        std::iter::successors(Some(1), |&slots| (slots < MAX_BATCH).then_some(slots * 2))
            .map(text)
            .collect()
    });
    let class = n.clamp(1, MAX_BATCH).next_power_of_two().trailing_zeros();
    &all[class as usize]
}

/// The function's call: the requests as two arrays (Citus, transaction-mode poolers, and a
/// store over a pool it did not open).
const FUNCTION: &str = "SELECT * FROM identity_read_batch($1, $2, $3, $4, $5)";

/// The batch's query for `requests`, holding `held`: one row per request, in order. With
/// `ReadWith::Inlined` the statement of its size class, else the function's call.
pub(crate) fn query<'q>(
    tenant: &'q TenantId,
    requests: &[&'q IdentifyRequest],
    held: &[Held],
    with: ReadWith,
) -> Query<'q, sqlx::Postgres, PgArguments> {
    let versions: Vec<i64> = held.iter().map(|h| h.record.version).collect();
    let bases: Vec<i64> = held.iter().map(|h| h.base.version).collect();
    let email = |r: &&'q IdentifyRequest| r.email().map(Email::as_str);
    let phone = |r: &&'q IdentifyRequest| r.phone_number().map(Phone::as_str);
    if with != ReadWith::Inlined {
        return sqlx::query(FUNCTION)
            .bind(tenant.as_str())
            .bind(requests.iter().map(email).collect::<Vec<_>>())
            .bind(requests.iter().map(phone).collect::<Vec<_>>())
            .bind(versions)
            .bind(bases);
    }
    let n = requests.len().clamp(1, MAX_BATCH);
    let mut query = sqlx::query(statement(n))
        .bind(tenant.as_str())
        .bind(versions)
        .bind(bases)
        .bind(n as i32);
    for slot in 0..n.next_power_of_two() {
        let request = requests.get(slot);
        query = query
            .bind(request.and_then(email))
            .bind(request.and_then(phone));
    }
    query
}

/// The statement with `slots` request slots: `$1` the tenant, `$2` the versions held, `$3`
/// the bases held, `$4` how many slots hold a request, then each slot's email and phone.
fn text(slots: usize) -> String {
    let values: Vec<String> = (0..slots)
        .map(|i| format!("({}, ${}::text, ${}::text)", i + 1, 5 + 2 * i, 6 + 2 * i))
        .collect();
    format!(
        "WITH owners AS MATERIALIZED (\
            SELECT r.i, \
                (SELECT e.customer_id FROM identity_identifier AS e \
                 WHERE e.tenant_id = $1 AND e.kind = 'email' AND e.value = r.email) AS e_owner, \
                (SELECT p.customer_id FROM identity_identifier AS p \
                 WHERE p.tenant_id = $1 AND p.kind = 'phone' AND p.value = r.phone) AS p_owner \
            FROM (VALUES {values}) AS r(i, email, phone) \
            WHERE r.i <= $4) \
         SELECT coalesce(s.pending, 0) > 0, a.e_owner, a.p_owner, {c}, {d}, \
                s.phone_region, s.blocked_version \
         FROM owners AS a \
         LEFT JOIN identity_tenant AS s ON s.tenant_id = $1 \
         {c_record} {d_record} \
         ORDER BY a.i",
        values = values.join(", "),
        c = columns("c"),
        d = columns("d"),
        c_record = record("c", "a.e_owner", ""),
        d_record = record(
            "d",
            "a.p_owner",
            " AND a.p_owner IS DISTINCT FROM a.e_owner"
        ),
    )
}

/// A record's block of the row: its short columns, then its base lists unless its base is
/// held, then its tail unless its version is held, each sent only in the first row that
/// meets it.
fn columns(r: &str) -> String {
    let mut out: Vec<String> = [
        "version",
        "base_version",
        "created_at",
        "last_row_at",
        "primary_has_email",
        "primary_has_phone",
    ]
    .iter()
    .map(|c| format!("{r}.{c}"))
    .collect();
    let lists = [
        "emails",
        "email_rows",
        "phones",
        "phone_rows",
        "secondary_ids",
    ];
    out.extend(
        lists.iter().map(|l| {
            format!("CASE WHEN {r}.base_version <> ALL($3) AND {r}.first THEN {r}.{l} END")
        }),
    );
    out.extend(
        lists.iter().map(|l| {
            format!("CASE WHEN {r}.version <> ALL($2) AND {r}.first THEN {r}.tail_{l} END")
        }),
    );
    out.join(", ")
}

/// The record of `owner` by its key (LIMIT: read per request row, never joined by the
/// planner), and whether this row is the first of the batch to meet it, asked only when it
/// has lists to send (the customer an earlier row named by its email, or by a phone whose
/// customer was another than its email's).
fn record(alias: &str, owner: &str, only: &str) -> String {
    format!(
        "LEFT JOIN LATERAL (\
            SELECT x.*, \
                CASE WHEN x.version <> ALL($2) OR x.base_version <> ALL($3) \
                THEN (SELECT min(o.i) FROM owners AS o \
                      WHERE o.e_owner = x.primary_id \
                         OR (o.p_owner = x.primary_id \
                             AND o.p_owner IS DISTINCT FROM o.e_owner)) = a.i \
                END AS first \
            FROM identity_customer AS x \
            WHERE x.tenant_id = $1 AND x.primary_id = {owner}{only} LIMIT 1) AS {alias} ON true"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_size_takes_the_smallest_class_that_holds_it() {
        let slots = |n: usize| statement(n).matches("::text, $").count();
        assert_eq!(slots(1), 1);
        assert_eq!(slots(2), 2);
        assert_eq!(slots(3), 4);
        assert_eq!(slots(5), 8);
        assert_eq!(slots(33), 64);
        assert_eq!(slots(64), 64);
        assert_eq!(
            slots(0),
            1,
            "an empty batch is never sent; it would take the smallest"
        );
        assert_eq!(slots(65), 64, "no batch holds more than MAX_BATCH");
    }

    #[test]
    fn the_last_slot_binds_the_last_parameters() {
        let text = statement(64);
        assert!(text.contains("(64, $131::text, $132::text)"));
        assert!(!text.contains("$133"));
    }
}
