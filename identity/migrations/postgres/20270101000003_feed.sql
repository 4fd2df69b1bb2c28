-- Change feed (issue 32): every event of a tenant gets a position in the tenant's feed, in the
-- order the events' transactions commit, so a reader that asks for the events after position p
-- never misses one that commits later with a smaller number (the outbox bug).
--
-- How: a tenant's writes that record events take the tenant's feed lock (an advisory lock, held
-- to the end of the transaction) before any row lock, and each event takes the next position
-- after the tenant's highest. The lock is released only once the transaction's commit is
-- visible, so the next writer numbers after it and commits after it: at any moment the
-- committed positions of a tenant are 1..n with no hole a later commit could fill. A rolled-back
-- writer leaves no position behind (the next one takes the same numbers). Writers of one tenant
-- run one at a time from their first statement; they queue on this lock instead of on each
-- other's rows, so they no longer deadlock (and the store's group commit sends one batch per
-- tenant at a time anyway).

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
-- a tenant whose events were all pruned numbers on from it.
CREATE TABLE identity_feed_floor (
    tenant_id text PRIMARY KEY,
    position  bigint NOT NULL
);

-- The tenant's feed lock, until the end of the transaction.
CREATE FUNCTION identity_feed_lock(p_tenant text) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('identity:feed:' || p_tenant, 0))
$$;

-- The tenant's last position (0 before its first event).
CREATE FUNCTION identity_feed_head(p_tenant text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT e.position FROM identity_event AS e WHERE e.tenant_id = p_tenant
         ORDER BY e.position DESC LIMIT 1),
        (SELECT f.position FROM identity_feed_floor AS f WHERE f.tenant_id = p_tenant),
        0)
$$;

-- An event written without a position takes the next one, under the feed lock (which every
-- writer holds already: taking it again costs a lookup in the backend's own lock table). Bulk
-- writers (an import) number their events themselves and skip this.
CREATE FUNCTION identity_event_position() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM identity_feed_lock(NEW.tenant_id);
    NEW.position := identity_feed_head(NEW.tenant_id) + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER identity_event_position BEFORE INSERT ON identity_event
FOR EACH ROW WHEN (NEW.position IS NULL) EXECUTE FUNCTION identity_event_position();

-- A writer's locks: the tenant's graph lock shared, then its feed lock, in this order everywhere
-- (a split, a repair or a settings change holds the graph lock alone and takes the feed lock
-- after it), so no two writers wait on each other crosswise.
CREATE FUNCTION identity_lock_writer(p_tenant text) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock_shared(hashtextextended('identity:graph:' || p_tenant, 0));
    SELECT identity_feed_lock(p_tenant);
$$;

-- The writers' prologues (and the batch, which inlines one) keep their bodies under a new name
-- and run after the writer's locks: taking the graph lock again in the same transaction costs a
-- lookup in the backend's own lock table.
ALTER FUNCTION identity_begin_write(text) RENAME TO identity_begin_write_locked;
CREATE FUNCTION identity_begin_write(p_tenant text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM identity_lock_writer(p_tenant);
    RETURN identity_begin_write_locked(p_tenant);
END
$$;

ALTER FUNCTION identity_begin(text, text, bigint) RENAME TO identity_begin_locked;
CREATE FUNCTION identity_begin(p_tenant text, p_region text, p_blocked bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM identity_lock_writer(p_tenant);
    RETURN identity_begin_locked(p_tenant, p_region, p_blocked);
END
$$;

ALTER FUNCTION identity_write_batch(text, smallint[], text[], bigint[], bigint[], bigint[],
                                    bigint[], text[], text[], boolean[], boolean[])
    RENAME TO identity_write_batch_locked;
CREATE FUNCTION identity_write_batch(p_tenant text, p_kinds smallint[], p_regions text[],
                                     p_blocked bigint[], p_customers bigint[],
                                     p_versions bigint[], p_bases bigint[], p_emails text[],
                                     p_phones text[], p_new_emails boolean[],
                                     p_new_phones boolean[])
RETURNS TABLE (item integer, status bigint, changed boolean, version bigint,
               base_version bigint, on_base bigint, last_row_at timestamptz,
               emails text[], email_rows bigint[], phones text[], phone_rows bigint[],
               secondary_ids bigint[],
               tail_emails text[], tail_email_rows bigint[], tail_phones text[],
               tail_phone_rows bigint[], tail_secondary_ids bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM identity_lock_writer(p_tenant);
    RETURN QUERY SELECT * FROM identity_write_batch_locked(p_tenant, p_kinds, p_regions,
        p_blocked, p_customers, p_versions, p_bases, p_emails, p_phones, p_new_emails,
        p_new_phones);
END
$$;
