-- Merge protection: each tenant's blocked values (exact normalized values, or patterns matched
-- in Rust), which a request never stores and never matches. Tenant '*' (not a valid tenant id)
-- holds the defaults: the list of every tenant whose blocked_version is 0. A tenant's first
-- change copies them to its own rows.
--
-- A write is planned from a request screened with the list the process believed current. Each
-- write function below takes that list's version beside the region, and under the tenant's
-- shared lock answers -3 when either is not the tenant's (nothing written; the caller reads the
-- settings again). The list changes only under the tenant's lock alone (identity_change_blocked),
-- so no value blocked before a write commits is stored by it.

CREATE TABLE identity_blocked (
    tenant_id  text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('email', 'phone')),
    pattern    boolean NOT NULL,
    value      text NOT NULL CHECK (length(value) BETWEEN 1 AND 500),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, kind, pattern, value)
);

INSERT INTO identity_blocked (tenant_id, kind, pattern, value) VALUES
    ('*', 'email', true, '^(null|undefined|none|nan|unknown|anonymous|guest|noreply|no-reply|donotreply|do-not-reply)@'),
    ('*', 'email', false, 'test@test.com'),
    ('*', 'phone', true, '^\+?(0{6,}|1{6,}|2{6,}|3{6,}|4{6,}|5{6,}|6{6,}|7{6,}|8{6,}|9{6,})$'),
    ('*', 'phone', true, '^\+?1234567890$');

ALTER TABLE identity_tenant ADD COLUMN blocked_version bigint NOT NULL DEFAULT 0;

-- Takes the tenant's shared lock (as every write does) and tells whether its region is p_region
-- (NULL: none) and its blocked list is at version p_blocked.
CREATE FUNCTION identity_settings_are(p_tenant text, p_region text, p_blocked bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_region_is(p_tenant, p_region) THEN
        RETURN false;
    END IF;
    RETURN coalesce((SELECT t.blocked_version FROM identity_tenant AS t
                     WHERE t.tenant_id = p_tenant), 0) = p_blocked;
END
$$;

-- The write functions of 20261121000005 with the region and the blocked-list version their
-- request was read under as the second and third arguments; each answers -3 when they are not
-- the tenant's.
CREATE FUNCTION identity_new_customer(p_tenant text, p_region text, p_blocked bigint,
                                      p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        RETURN -3;
    END IF;
    RETURN identity_new_customer(p_tenant, p_email, p_phone);
END
$$;

CREATE FUNCTION identity_add_row(p_tenant text, p_region text, p_blocked bigint,
                                 p_customer bigint, p_version bigint, p_base_version bigint,
                                 p_email text, p_phone text, p_new_email boolean,
                                 p_new_phone boolean)
RETURNS TABLE (status bigint, changed boolean, version bigint, base_version bigint,
               on_base bigint, last_row_at timestamptz,
               emails text[], email_rows bigint[], phones text[], phone_rows bigint[],
               secondary_ids bigint[],
               tail_emails text[], tail_email_rows bigint[], tail_phones text[],
               tail_phone_rows bigint[], tail_secondary_ids bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        status := -3;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM identity_add_row(p_tenant, p_customer, p_version, p_base_version,
                                                p_email, p_phone, p_new_email, p_new_phone);
END
$$;

CREATE FUNCTION identity_merge(p_tenant text, p_region text, p_blocked bigint, p_kept bigint,
                               p_kept_version bigint, p_absorbed bigint,
                               p_absorbed_version bigint, p_relink bigint[], p_emails text[],
                               p_email_rows bigint[], p_phones text[], p_phone_rows bigint[],
                               p_secondary_ids bigint[], p_last_row_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        RETURN -3;
    END IF;
    RETURN identity_merge(p_tenant, p_kept, p_kept_version, p_absorbed, p_absorbed_version,
                          p_relink, p_emails, p_email_rows, p_phones, p_phone_rows,
                          p_secondary_ids, p_last_row_at);
END
$$;

-- The tenant's region, blocked-list version and the list's entries (the defaults while the
-- version is 0), in one row.
CREATE FUNCTION identity_tenant_settings(p_tenant text)
RETURNS TABLE (region text, blocked_version bigint, kinds text[], patterns boolean[],
               vals text[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT t.phone_region, t.blocked_version INTO region, blocked_version
    FROM identity_tenant AS t WHERE t.tenant_id = p_tenant;
    blocked_version := coalesce(blocked_version, 0);
    SELECT coalesce(array_agg(b.kind ORDER BY b.kind, b.pattern, b.value), '{}'),
           coalesce(array_agg(b.pattern ORDER BY b.kind, b.pattern, b.value), '{}'),
           coalesce(array_agg(b.value ORDER BY b.kind, b.pattern, b.value), '{}')
    INTO kinds, patterns, vals
    FROM identity_blocked AS b
    WHERE b.tenant_id = CASE WHEN blocked_version = 0 THEN '*' ELSE p_tenant END;
    RETURN NEXT;
END
$$;

-- Adds (p_add) or removes one blocked entry under the tenant's lock alone, so no write of the
-- tenant runs meanwhile; answers whether the list changed. A tenant's first change copies the
-- defaults to its own rows; every change bumps its blocked_version.
CREATE FUNCTION identity_change_blocked(p_tenant text, p_kind text, p_pattern boolean,
                                        p_value text, p_add boolean)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
    present boolean;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:graph:' || p_tenant, 0));
    v := coalesce((SELECT t.blocked_version FROM identity_tenant AS t
                   WHERE t.tenant_id = p_tenant), 0);
    present := EXISTS (SELECT 1 FROM identity_blocked AS b
                       WHERE b.tenant_id = CASE WHEN v = 0 THEN '*' ELSE p_tenant END
                         AND b.kind = p_kind AND b.pattern = p_pattern AND b.value = p_value);
    IF present = p_add THEN
        RETURN false;
    END IF;
    IF v = 0 THEN
        INSERT INTO identity_blocked (tenant_id, kind, pattern, value, created_at)
        SELECT p_tenant, b.kind, b.pattern, b.value, b.created_at
        FROM identity_blocked AS b WHERE b.tenant_id = '*';
    END IF;
    IF p_add THEN
        INSERT INTO identity_blocked (tenant_id, kind, pattern, value)
        VALUES (p_tenant, p_kind, p_pattern, p_value);
    ELSE
        DELETE FROM identity_blocked AS b
        WHERE b.tenant_id = p_tenant AND b.kind = p_kind AND b.pattern = p_pattern
          AND b.value = p_value;
    END IF;
    INSERT INTO identity_tenant AS t (tenant_id, blocked_version) VALUES (p_tenant, v + 1)
    ON CONFLICT (tenant_id)
    DO UPDATE SET blocked_version = excluded.blocked_version, updated_at = clock_timestamp();
    RETURN true;
END
$$;
