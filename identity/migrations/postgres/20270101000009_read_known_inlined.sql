-- A known checkout's read planned with the statement that sends it, where that pays: on one
-- server over a direct connection, the store prepares `SELECT * FROM
-- identity_read_known_inline(...)` once per connection, and PostgreSQL inlines this SQL
-- function of one SELECT into it, so the statement's cached plan is the query's. A call of the
-- PL/pgSQL `identity_read_known` costs the interpreter, SPI and a tuplestore around the same
-- query: alone (pgbench, prepared) 23,000 calls/s against 30,000 for this one.
-- `identity_read_known` stays, unchanged, for what needs a function call: Citus runs a PL/pgSQL
-- function's statements on the tenant's node (not a SQL function's), and through a
-- transaction-mode pooler, where nothing is prepared, PL/pgSQL keeps its plan per server
-- connection while an inlined query would be planned on every call. The two bodies are one
-- query (tests/schema.rs compares them).
CREATE OR REPLACE FUNCTION identity_read_known_inline(p_tenant text, p_email text, p_phone text,
                                                      p_versions bigint[], p_bases bigint[])
RETURNS SETOF identity_read_row
LANGUAGE sql STABLE AS $$
    -- each record's base lists unless its base is held, its tail unless its version is held
    -- (a list not sent is not read from TOAST either)
    SELECT coalesce(s.pending, 0) > 0,
           e.customer_id, p.customer_id,
           c.version, c.base_version, c.created_at, c.last_row_at, c.primary_has_email,
           c.primary_has_phone,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.emails END,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.email_rows END,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.phones END,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.phone_rows END,
           CASE WHEN c.base_version <> ALL(p_bases) THEN c.secondary_ids END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_emails END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_email_rows END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_phones END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_phone_rows END,
           CASE WHEN c.version <> ALL(p_versions) THEN c.tail_secondary_ids END,
           d.version, d.base_version, d.created_at, d.last_row_at, d.primary_has_email,
           d.primary_has_phone,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.emails END,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.email_rows END,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.phones END,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.phone_rows END,
           CASE WHEN d.base_version <> ALL(p_bases) THEN d.secondary_ids END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_emails END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_email_rows END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_phones END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_phone_rows END,
           CASE WHEN d.version <> ALL(p_versions) THEN d.tail_secondary_ids END,
           s.phone_region, s.blocked_version
    FROM (SELECT 1) AS one
    LEFT JOIN identity_tenant AS s ON s.tenant_id = p_tenant
    LEFT JOIN identity_identifier AS e
           ON e.tenant_id = p_tenant AND e.kind = 'email' AND e.value = p_email
    LEFT JOIN identity_identifier AS p
           ON p.tenant_id = p_tenant AND p.kind = 'phone' AND p.value = p_phone
    LEFT JOIN identity_customer AS c ON c.tenant_id = p_tenant AND c.primary_id = e.customer_id
    LEFT JOIN identity_customer AS d
           ON d.tenant_id = p_tenant AND d.primary_id = p.customer_id
          AND p.customer_id IS DISTINCT FROM e.customer_id;
$$;
