-- A batch of reads as one query (store/postgres/reads.rs). `identity_read_batch` called
-- `identity_read_known` once per request from a loop: per request a PL/pgSQL call, an SPI query
-- and its executor started over (a profile of known checkouts over HTTP: the executors' start
-- alone 14% of all samples, PostgreSQL 46%). Now the batch's requests are read as one set by
-- one query, started once per batch. Each lookup is an index scan keyed by the request's value
-- or customer (a subquery per request row: a join of the requests with the tables was planned
-- from the statistics, and from a fresh table's it scanned all the tenant's identifiers once per
-- request). It answers what the loop did, row for row, in request order: each row is what
-- `identity_read_known` finds for that request at the batch's snapshot, holding, besides what
-- the caller holds, every record and base an earlier row of the batch sent (a record's lists go
-- in the first row that meets it, by its email or by its phone; `tests/read_batch.rs` compares
-- the two row for row).
--
-- Planned once per connection (`plan_cache_mode` on the function, whatever the session's: a
-- pooler's server connections keep the server's default): planned with each call's arrays,
-- the query cost more to plan than to run, and PostgreSQL's choice between the two stays with
-- the per-call plan, whose estimate knows the batch's size. On Citus the distribution resets it
-- (store/postgres/citus.sql): there every call is planned with its arguments, so that it is
-- routed to the tenant's shards.
CREATE OR REPLACE FUNCTION identity_read_batch(p_tenant text, p_emails text[], p_phones text[],
                                               p_versions bigint[], p_bases bigint[])
RETURNS SETOF identity_read_row
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN QUERY
    WITH owners AS MATERIALIZED (
        -- each value looked up once (the CTE inlined, the lookups would run once per use)
        SELECT r.i,
               (SELECT e.customer_id FROM identity_identifier AS e
                WHERE e.tenant_id = p_tenant AND e.kind = 'email' AND e.value = r.email) AS e_owner,
               (SELECT p.customer_id FROM identity_identifier AS p
                WHERE p.tenant_id = p_tenant AND p.kind = 'phone' AND p.value = r.phone) AS p_owner
        FROM unnest(p_emails, p_phones) WITH ORDINALITY AS r(email, phone, i)
    ),
    asked AS (
        -- the phone's customer is read only when it is another one (as the read alone does)
        SELECT o.i, o.e_owner, o.p_owner,
               CASE WHEN o.p_owner IS DISTINCT FROM o.e_owner THEN o.p_owner END AS p_other
        FROM owners AS o
    ),
    first_meeting AS (
        -- the first request that meets each customer: the one row that may send its lists
        SELECT m.owner, min(m.i) AS i
        FROM (SELECT a.e_owner AS owner, a.i FROM asked AS a
              UNION ALL
              SELECT a.p_other, a.i FROM asked AS a) AS m
        WHERE m.owner IS NOT NULL
        GROUP BY m.owner
    )
    SELECT coalesce(s.pending, 0) > 0,
           a.e_owner, a.p_owner,
           c.version, c.base_version, c.created_at, c.last_row_at, c.primary_has_email,
           c.primary_has_phone,
           CASE WHEN c.base_version <> ALL(p_bases) AND fc.i = a.i THEN c.emails END,
           CASE WHEN c.base_version <> ALL(p_bases) AND fc.i = a.i THEN c.email_rows END,
           CASE WHEN c.base_version <> ALL(p_bases) AND fc.i = a.i THEN c.phones END,
           CASE WHEN c.base_version <> ALL(p_bases) AND fc.i = a.i THEN c.phone_rows END,
           CASE WHEN c.base_version <> ALL(p_bases) AND fc.i = a.i THEN c.secondary_ids END,
           CASE WHEN c.version <> ALL(p_versions) AND fc.i = a.i THEN c.tail_emails END,
           CASE WHEN c.version <> ALL(p_versions) AND fc.i = a.i THEN c.tail_email_rows END,
           CASE WHEN c.version <> ALL(p_versions) AND fc.i = a.i THEN c.tail_phones END,
           CASE WHEN c.version <> ALL(p_versions) AND fc.i = a.i THEN c.tail_phone_rows END,
           CASE WHEN c.version <> ALL(p_versions) AND fc.i = a.i THEN c.tail_secondary_ids END,
           d.version, d.base_version, d.created_at, d.last_row_at, d.primary_has_email,
           d.primary_has_phone,
           CASE WHEN d.base_version <> ALL(p_bases) AND fd.i = a.i THEN d.emails END,
           CASE WHEN d.base_version <> ALL(p_bases) AND fd.i = a.i THEN d.email_rows END,
           CASE WHEN d.base_version <> ALL(p_bases) AND fd.i = a.i THEN d.phones END,
           CASE WHEN d.base_version <> ALL(p_bases) AND fd.i = a.i THEN d.phone_rows END,
           CASE WHEN d.base_version <> ALL(p_bases) AND fd.i = a.i THEN d.secondary_ids END,
           CASE WHEN d.version <> ALL(p_versions) AND fd.i = a.i THEN d.tail_emails END,
           CASE WHEN d.version <> ALL(p_versions) AND fd.i = a.i THEN d.tail_email_rows END,
           CASE WHEN d.version <> ALL(p_versions) AND fd.i = a.i THEN d.tail_phones END,
           CASE WHEN d.version <> ALL(p_versions) AND fd.i = a.i THEN d.tail_phone_rows END,
           CASE WHEN d.version <> ALL(p_versions) AND fd.i = a.i THEN d.tail_secondary_ids END,
           s.phone_region, s.blocked_version
    FROM asked AS a
    LEFT JOIN identity_tenant AS s ON s.tenant_id = p_tenant
    -- each record by its key (LIMIT: read per request row, never joined by the planner)
    LEFT JOIN LATERAL (SELECT * FROM identity_customer AS x
                       WHERE x.tenant_id = p_tenant AND x.primary_id = a.e_owner LIMIT 1) AS c
           ON true
    LEFT JOIN first_meeting AS fc ON fc.owner = a.e_owner
    LEFT JOIN LATERAL (SELECT * FROM identity_customer AS x
                       WHERE x.tenant_id = p_tenant AND x.primary_id = a.p_other LIMIT 1) AS d
           ON true
    LEFT JOIN first_meeting AS fd ON fd.owner = a.p_other
    ORDER BY a.i;
END
$$;
