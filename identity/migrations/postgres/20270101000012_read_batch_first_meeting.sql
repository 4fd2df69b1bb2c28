-- A batch of reads (store/postgres/reads.rs) asks whether a row is the first of the batch to
-- meet a record only when the record has lists to send. `identity_read_batch` found each
-- record's first meeting with a grouped set of the batch's owners joined back twice (hash
-- joins and an aggregate started on every call, about a quarter of a small batch's time,
-- though a known checkout's records are held and nothing is sent); now each record read asks
-- it of the batch's owners by a subquery, run only for a record whose base or version the
-- caller does not hold. The answer is the same, row for row (`tests/read_batch.rs`).
--
-- The same query, with the requests bound one by one instead of as arrays, is what the store
-- sends as a statement of its own on one server over direct connections
-- (store/postgres/read_batch.rs; `tests/read_batch.rs` checks the two answer alike). This
-- function stays for Citus, which runs it on the tenant's node, and for transaction-mode
-- poolers, whose server connections keep its plan.
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
    )
    SELECT coalesce(s.pending, 0) > 0,
           a.e_owner, a.p_owner,
           c.version, c.base_version, c.created_at, c.last_row_at, c.primary_has_email,
           c.primary_has_phone,
           CASE WHEN c.base_version <> ALL(p_bases) AND c.first THEN c.emails END,
           CASE WHEN c.base_version <> ALL(p_bases) AND c.first THEN c.email_rows END,
           CASE WHEN c.base_version <> ALL(p_bases) AND c.first THEN c.phones END,
           CASE WHEN c.base_version <> ALL(p_bases) AND c.first THEN c.phone_rows END,
           CASE WHEN c.base_version <> ALL(p_bases) AND c.first THEN c.secondary_ids END,
           CASE WHEN c.version <> ALL(p_versions) AND c.first THEN c.tail_emails END,
           CASE WHEN c.version <> ALL(p_versions) AND c.first THEN c.tail_email_rows END,
           CASE WHEN c.version <> ALL(p_versions) AND c.first THEN c.tail_phones END,
           CASE WHEN c.version <> ALL(p_versions) AND c.first THEN c.tail_phone_rows END,
           CASE WHEN c.version <> ALL(p_versions) AND c.first THEN c.tail_secondary_ids END,
           d.version, d.base_version, d.created_at, d.last_row_at, d.primary_has_email,
           d.primary_has_phone,
           CASE WHEN d.base_version <> ALL(p_bases) AND d.first THEN d.emails END,
           CASE WHEN d.base_version <> ALL(p_bases) AND d.first THEN d.email_rows END,
           CASE WHEN d.base_version <> ALL(p_bases) AND d.first THEN d.phones END,
           CASE WHEN d.base_version <> ALL(p_bases) AND d.first THEN d.phone_rows END,
           CASE WHEN d.base_version <> ALL(p_bases) AND d.first THEN d.secondary_ids END,
           CASE WHEN d.version <> ALL(p_versions) AND d.first THEN d.tail_emails END,
           CASE WHEN d.version <> ALL(p_versions) AND d.first THEN d.tail_email_rows END,
           CASE WHEN d.version <> ALL(p_versions) AND d.first THEN d.tail_phones END,
           CASE WHEN d.version <> ALL(p_versions) AND d.first THEN d.tail_phone_rows END,
           CASE WHEN d.version <> ALL(p_versions) AND d.first THEN d.tail_secondary_ids END,
           s.phone_region, s.blocked_version
    FROM owners AS a
    LEFT JOIN identity_tenant AS s ON s.tenant_id = p_tenant
    -- each record by its key (LIMIT: read per request row, never joined by the planner); the
    -- first row to meet it (by its email, or by a phone whose customer is another than the
    -- email's) is the one that sends its lists, asked only when there are lists to send
    LEFT JOIN LATERAL (SELECT x.*,
                              CASE WHEN x.version <> ALL(p_versions)
                                     OR x.base_version <> ALL(p_bases)
                              THEN (SELECT min(o.i) FROM owners AS o
                                    WHERE o.e_owner = x.primary_id
                                       OR (o.p_owner = x.primary_id
                                           AND o.p_owner IS DISTINCT FROM o.e_owner)) = a.i
                              END AS first
                       FROM identity_customer AS x
                       WHERE x.tenant_id = p_tenant AND x.primary_id = a.e_owner LIMIT 1) AS c
           ON true
    LEFT JOIN LATERAL (SELECT x.*,
                              CASE WHEN x.version <> ALL(p_versions)
                                     OR x.base_version <> ALL(p_bases)
                              THEN (SELECT min(o.i) FROM owners AS o
                                    WHERE o.e_owner = x.primary_id
                                       OR (o.p_owner = x.primary_id
                                           AND o.p_owner IS DISTINCT FROM o.e_owner)) = a.i
                              END AS first
                       FROM identity_customer AS x
                       WHERE x.tenant_id = p_tenant AND x.primary_id = a.p_owner
                         AND a.p_owner IS DISTINCT FROM a.e_owner LIMIT 1) AS d
           ON true
    ORDER BY a.i;
END
$$;
