-- A read finds its customers' records by key, whatever the tables' statistics say. The read
-- joined `identity_customer` on the identifiers it found, and a plan made while the table was
-- empty (a new database's first reads; the store keeps its plans per connection) scanned the
-- tenant's records for that join on every read until the table was next analyzed: under a
-- burst of brand-new customers (`identity-bench --writes`, a fresh database per line) 1.5 ms of
-- PostgreSQL per read, growing with the tenant. Each record is now a subquery keyed by the
-- customer found (LIMIT: planned on its own, per row, never joined), as the read batch reads
-- them (`*_read_batch_one_query.sql`). `tests/read_plans.rs` plans both on empty tables.
-- The two bodies stay one query (tests/schema.rs compares them).
--
-- `identity_lock` (a stale plan's read, which locks the request's customers first) had the same
-- trap twice: it found the owners with `(kind, value) = email OR phone`, which a plan made on
-- empty tables answered by reading every identifier of the tenant, and locked their records
-- with `primary_id = ANY(owners)`, answered by reading all the tenant's records. It now looks
-- each value up by its key and locks each record by its key, ascending, as before.

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
    -- each record by its key (LIMIT: read per row, never joined by the planner)
    LEFT JOIN LATERAL (SELECT * FROM identity_customer AS x
                       WHERE x.tenant_id = p_tenant AND x.primary_id = e.customer_id LIMIT 1) AS c
           ON true
    LEFT JOIN LATERAL (SELECT * FROM identity_customer AS x
                       WHERE x.tenant_id = p_tenant AND x.primary_id = p.customer_id
                         AND p.customer_id IS DISTINCT FROM e.customer_id LIMIT 1) AS d
           ON true;
$$;

CREATE OR REPLACE FUNCTION identity_read_known(p_tenant text, p_email text, p_phone text,
                                           p_versions bigint[], p_bases bigint[])
RETURNS SETOF identity_read_row
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- each record's base lists unless its base is held, its tail unless its version is held
    -- (a list not sent is not read from TOAST either)
    RETURN QUERY
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
    -- each record by its key (LIMIT: read per row, never joined by the planner)
    LEFT JOIN LATERAL (SELECT * FROM identity_customer AS x
                       WHERE x.tenant_id = p_tenant AND x.primary_id = e.customer_id LIMIT 1) AS c
           ON true
    LEFT JOIN LATERAL (SELECT * FROM identity_customer AS x
                       WHERE x.tenant_id = p_tenant AND x.primary_id = p.customer_id
                         AND p.customer_id IS DISTINCT FROM e.customer_id LIMIT 1) AS d
           ON true;
END
$$;

CREATE OR REPLACE FUNCTION identity_lock(p_tenant text, p_email text, p_phone text)
RETURNS SETOF identity_read_row
LANGUAGE plpgsql AS $$
DECLARE
    owners bigint[];
    now_owners bigint[];
    o bigint;
BEGIN
    IF NOT identity_begin_write(p_tenant) THEN
        RETURN QUERY SELECT * FROM identity_read_known(p_tenant, p_email, p_phone, '{}', '{}');
        RETURN;
    END IF;
    -- the owners, their records locked ascending, until the owners hold still
    LOOP
        SELECT coalesce(array_agg(DISTINCT v.owner ORDER BY v.owner)
                            FILTER (WHERE v.owner IS NOT NULL), '{}')
        INTO now_owners
        FROM (VALUES ((SELECT i.customer_id FROM identity_identifier AS i
                       WHERE i.tenant_id = p_tenant AND i.kind = 'email' AND i.value = p_email)),
                     ((SELECT i.customer_id FROM identity_identifier AS i
                       WHERE i.tenant_id = p_tenant AND i.kind = 'phone' AND i.value = p_phone)))
             AS v(owner);
        EXIT WHEN now_owners = owners;
        owners := now_owners;
        FOREACH o IN ARRAY owners LOOP
            PERFORM 1 FROM identity_customer AS c
            WHERE c.tenant_id = p_tenant AND c.primary_id = o FOR UPDATE;
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT * FROM identity_read_known(p_tenant, p_email, p_phone, '{}', '{}') AS r;
END
$$;
