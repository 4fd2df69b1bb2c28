-- Change feed (issue 32): every event of a tenant gets a position in the tenant's feed, in the
-- order the events' transactions commit, so a reader that asks for the events after position p
-- never misses one that commits later with a smaller number (the outbox bug).
--
-- How: every write of a tenant now takes the tenant's graph lock alone (it took it shared, so
-- that writes of different customers ran side by side), to the end of its transaction, before
-- any row lock; each event takes the next position after the tenant's highest. The lock is
-- released only once the transaction's commit is visible, so the next writer numbers after it
-- and commits after it: at any moment the committed positions of a tenant are 1..n with no hole
-- a later commit could fill. A rolled-back writer leaves no position behind (the next one takes
-- the same numbers). A tenant's writers run one at a time; they queue on this lock instead of on
-- each other's rows, so they no longer deadlock (and the store's group commit sends one batch per
-- tenant at a time anyway). Other tenants' writes go on.

ALTER TABLE identity_event ADD COLUMN position bigint;
-- a split's event on the customer it was split from: the rows that stayed with it
ALTER TABLE identity_event ADD COLUMN kept_ids bigint[];

UPDATE identity_event AS e SET position = n.position
FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS position
      FROM identity_event) AS n
WHERE e.id = n.id;

ALTER TABLE identity_event ALTER COLUMN position SET NOT NULL;

-- One position per event of a tenant (a writer that took a position without the feed lock
-- would fail here rather than share it); readers page through it.
CREATE UNIQUE INDEX identity_event_position_idx ON identity_event (tenant_id, position);

-- The highest position retention has pruned, per tenant: a cursor below it is gone (410), and
-- a tenant whose events were all pruned numbers on from it; pruned_before, the time before which
-- its events were pruned (what history says it no longer tells).
CREATE TABLE identity_feed_floor (
    tenant_id     text PRIMARY KEY,
    position      bigint NOT NULL,
    pruned_before timestamptz
);

-- The tenant's last position (0 before its first event).
CREATE FUNCTION identity_feed_head(p_tenant text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT e.position FROM identity_event AS e WHERE e.tenant_id = p_tenant
         ORDER BY e.position DESC LIMIT 1),
        (SELECT f.position FROM identity_feed_floor AS f WHERE f.tenant_id = p_tenant),
        0)
$$;

-- An event written without a position takes the next one. Its writer holds the tenant's graph
-- lock alone (every writer does), so no other writer of the tenant numbers meanwhile; one that
-- did not would fail on the unique index instead of sharing a position. Bulk writers (an
-- import) number their events themselves and skip this.
CREATE FUNCTION identity_event_position() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last bigint;
BEGIN
    SELECT e.position INTO last FROM identity_event AS e
    WHERE e.tenant_id = NEW.tenant_id ORDER BY e.position DESC LIMIT 1;
    IF last IS NULL THEN
        last := coalesce((SELECT f.position FROM identity_feed_floor AS f
                          WHERE f.tenant_id = NEW.tenant_id), 0);
    END IF;
    NEW.position := last + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER identity_event_position BEFORE INSERT ON identity_event
FOR EACH ROW WHEN (NEW.position IS NULL) EXECUTE FUNCTION identity_event_position();

-- The writers' prologues take the tenant's lock alone instead of shared. SQL cannot change one
-- statement of a function, so the three are written again here, each as it was but for that
-- statement (identity_write_batch as in 20270101000002_fast_writes.sql).
CREATE OR REPLACE FUNCTION identity_begin_write(p_tenant text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:graph:' || p_tenant, 0));
    PERFORM set_config('identity.internal', 'on', true);
    RETURN coalesce((SELECT t.pending FROM identity_tenant AS t WHERE t.tenant_id = p_tenant), 0) = 0;
END
$$;

CREATE OR REPLACE FUNCTION identity_begin(p_tenant text, p_region text, p_blocked bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:graph:' || p_tenant, 0));
    PERFORM set_config('identity.internal', 'on', true);
    SELECT coalesce(s.pending, 0) AS pending, s.phone_region AS region,
           coalesce(s.blocked_version, 0) AS blocked
    INTO t
    FROM (SELECT 1) AS one LEFT JOIN identity_tenant AS s ON s.tenant_id = p_tenant;
    IF t.region IS DISTINCT FROM p_region OR t.blocked <> p_blocked THEN
        RETURN -3;
    END IF;
    IF t.pending > 0 THEN
        RETURN -2;
    END IF;
    RETURN 0;
END
$$;

CREATE OR REPLACE FUNCTION identity_write_batch(p_tenant text, p_kinds smallint[],
                                                p_regions text[], p_blocked bigint[],
                                                p_customers bigint[], p_versions bigint[],
                                                p_bases bigint[], p_emails text[],
                                                p_phones text[], p_new_emails boolean[],
                                                p_new_phones boolean[])
RETURNS TABLE (item integer, status bigint, changed boolean, version bigint,
               base_version bigint, on_base bigint, last_row_at timestamptz,
               emails text[], email_rows bigint[], phones text[], phone_rows bigint[],
               secondary_ids bigint[],
               tail_emails text[], tail_email_rows bigint[], tail_phones text[],
               tail_phone_rows bigint[], tail_secondary_ids bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    i integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:graph:' || p_tenant, 0));
    PERFORM set_config('identity.internal', 'on', true);
    SELECT coalesce(s.pending, 0) AS pending, s.phone_region AS region,
           coalesce(s.blocked_version, 0) AS blocked
    INTO t
    FROM (SELECT 1) AS one LEFT JOIN identity_tenant AS s ON s.tenant_id = p_tenant;
    FOR i IN 1 .. coalesce(cardinality(p_kinds), 0) LOOP
        IF t.region IS DISTINCT FROM p_regions[i] OR t.blocked <> p_blocked[i] THEN
            RETURN QUERY SELECT i, r.* FROM identity_status_row(-3) AS r;
        ELSIF t.pending > 0 THEN
            RETURN QUERY SELECT i, r.* FROM identity_status_row(-2) AS r;
        ELSIF p_kinds[i] = 0 THEN
            item := i;
            status := identity_insert_customer(p_tenant, p_emails[i], p_phones[i]);
            RETURN NEXT;
        ELSIF p_kinds[i] = 1 THEN
            RETURN QUERY SELECT i, r.* FROM identity_append_row(p_tenant, p_customers[i],
                p_versions[i], p_bases[i], p_emails[i], p_phones[i], p_new_emails[i],
                p_new_phones[i]) AS r;
        ELSE
            RETURN QUERY SELECT i, r.* FROM identity_append_row_exact(p_tenant, p_customers[i],
                p_versions[i], p_bases[i], p_emails[i], p_phones[i], p_new_emails[i],
                p_new_phones[i]) AS r;
        END IF;
    END LOOP;
END
$$;
