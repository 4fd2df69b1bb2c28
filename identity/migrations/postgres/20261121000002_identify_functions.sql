-- The PostgreSQL side of identify, so that it costs the fewest round trips: one read for a
-- request that is already known, one read plus one call for any write.

-- Every visible row of every customer with a row matching the email or the phone, by id. The
-- one definition of "the customers a request touches", used by the read and by identity_apply.
CREATE OR REPLACE FUNCTION identity_customers(p_email text, p_phone text)
RETURNS SETOF contact
LANGUAGE sql STABLE AS $$
    -- two index-driven branches (the primary by id, its secondaries by linked_id); an OR of
    -- the two would scan the whole table
    WITH matched AS (
        SELECT DISTINCT coalesce(linked_id, id) AS root
        FROM contact
        WHERE deleted_at IS NULL AND (email = p_email OR phone_number = p_phone)
    )
    SELECT c.* FROM matched JOIN contact AS c ON c.id = matched.root WHERE c.deleted_at IS NULL
    UNION ALL
    SELECT c.* FROM matched JOIN contact AS c ON c.linked_id = matched.root WHERE c.deleted_at IS NULL
    ORDER BY id
$$;

-- Takes the locks that keep a request's customers as they are, then reads them:
--   1. transaction-scoped advisory locks on the request's identifiers (ascending key order);
--   2. FOR NO KEY UPDATE on the given primaries (ascending id order);
--   3. the customers, read by a statement that sees everything committed before it.
-- Advisory locks always come before row locks, each kind in ascending order. The locks last
-- until the end of the caller's transaction. Needs read committed (raises IR001 otherwise).
CREATE OR REPLACE FUNCTION identity_lock_customers(
    p_email text,
    p_phone text,
    p_lock_names text[],
    p_primaries bigint[]
) RETURNS SETOF contact
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'identity needs read committed isolation' USING ERRCODE = 'IR001';
    END IF;
    PERFORM pg_advisory_xact_lock(k)
    FROM (SELECT DISTINCT hashtextextended(v, 0) AS k FROM unnest(p_lock_names) AS t(v) ORDER BY 1) AS keys;
    PERFORM 1 FROM contact WHERE id = ANY(p_primaries) ORDER BY id FOR NO KEY UPDATE;
    RETURN QUERY SELECT * FROM identity_customers(p_email, p_phone);
END
$$;

-- Applies a plan the client computed (in Rust, from the rows it read) if and only if those rows
-- are still exactly the request's customers: under identity_lock_customers's locks (taken
-- again, harmlessly, when the caller already holds them) it compares the customers, as
-- (id, linked_id) pairs, with the rows the plan came from.
-- Returns the inserted row's id, 0 when the plan inserts nothing, or NULL when the customers
-- changed since the client read them (nothing is written; the client reads again).
CREATE OR REPLACE FUNCTION identity_apply(
    p_email text,
    p_phone text,
    p_lock_names text[],
    p_primaries bigint[],
    p_seen_ids bigint[],
    p_seen_links bigint[],
    p_merge_primary bigint,
    p_relink bigint[],
    p_new_linked bigint,
    p_new_precedence text,
    p_not_before timestamptz
) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    current_ids bigint[];
    current_links bigint[];
    new_id bigint;
    stamp timestamptz;
BEGIN
    SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}'),
           coalesce(array_agg(coalesce(c.linked_id, 0) ORDER BY c.id), '{}')
    INTO current_ids, current_links
    FROM identity_lock_customers(p_email, p_phone, p_lock_names, p_primaries) AS c;
    IF current_ids <> p_seen_ids OR current_links <> p_seen_links THEN
        RETURN NULL;
    END IF;

    IF p_merge_primary IS NOT NULL THEN
        UPDATE contact
        SET linked_id = CASE WHEN id = p_merge_primary THEN NULL ELSE p_merge_primary END,
            link_precedence = CASE WHEN id = p_merge_primary THEN 'primary' ELSE 'secondary' END,
            updated_at = clock_timestamp()
        WHERE id = ANY(p_relink) AND deleted_at IS NULL;
    END IF;

    IF p_new_precedence IS NULL THEN
        RETURN 0;
    END IF;
    stamp := greatest(clock_timestamp(), p_not_before);
    INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
    VALUES (p_email, p_phone, p_new_linked, p_new_precedence, stamp, stamp)
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
