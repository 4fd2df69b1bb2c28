-- Phone regions: a tenant may name the region (ISO 3166 alpha-2) its national phone numbers are
-- read in; the library then stores and matches every number of the tenant in E.164. The library
-- parses; the setting lives here, so every process agrees.
--
-- A write is planned from a request read in the region the process believed current. Each
-- write function below takes that region, and under the tenant's shared lock answers -3 when
-- the tenant's region is another (nothing written; the caller reads the settings again). The
-- region changes only under the tenant's lock alone, and only while the tenant has no rows, so
-- every row of a tenant was written under its current region.

ALTER TABLE identity_tenant ADD COLUMN phone_region text
    CONSTRAINT identity_tenant_phone_region_valid CHECK (phone_region ~ '^[A-Z]{2}$');

-- Takes the tenant's shared lock (as every write does) and tells whether its region is p_region
-- (NULL: none).
CREATE FUNCTION identity_region_is(p_tenant text, p_region text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('identity:graph:' || p_tenant, 0));
    RETURN (SELECT t.phone_region FROM identity_tenant AS t WHERE t.tenant_id = p_tenant)
           IS NOT DISTINCT FROM p_region;
END
$$;

-- The write functions of 20261121000005 with the region their request was read in as the
-- second argument; each answers -3 when it is not the tenant's.
CREATE FUNCTION identity_new_customer(p_tenant text, p_region text, p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_region_is(p_tenant, p_region) THEN
        RETURN -3;
    END IF;
    RETURN identity_new_customer(p_tenant, p_email, p_phone);
END
$$;

CREATE FUNCTION identity_add_row(p_tenant text, p_region text, p_customer bigint,
                                 p_version bigint, p_base_version bigint, p_email text,
                                 p_phone text, p_new_email boolean, p_new_phone boolean)
RETURNS TABLE (status bigint, changed boolean, version bigint, base_version bigint,
               on_base bigint, last_row_at timestamptz,
               emails text[], email_rows bigint[], phones text[], phone_rows bigint[],
               secondary_ids bigint[],
               tail_emails text[], tail_email_rows bigint[], tail_phones text[],
               tail_phone_rows bigint[], tail_secondary_ids bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_region_is(p_tenant, p_region) THEN
        status := -3;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM identity_add_row(p_tenant, p_customer, p_version, p_base_version,
                                                p_email, p_phone, p_new_email, p_new_phone);
END
$$;

CREATE FUNCTION identity_merge(p_tenant text, p_region text, p_kept bigint,
                               p_kept_version bigint, p_absorbed bigint,
                               p_absorbed_version bigint, p_relink bigint[], p_emails text[],
                               p_email_rows bigint[], p_phones text[], p_phone_rows bigint[],
                               p_secondary_ids bigint[], p_last_row_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_region_is(p_tenant, p_region) THEN
        RETURN -3;
    END IF;
    RETURN identity_merge(p_tenant, p_kept, p_kept_version, p_absorbed, p_absorbed_version,
                          p_relink, p_emails, p_email_rows, p_phones, p_phone_rows,
                          p_secondary_ids, p_last_row_at);
END
$$;

-- Sets (NULL: clears) the tenant's region under the tenant's lock alone, so no write of the
-- tenant runs meanwhile. Answers the outcome and the region the tenant has after the call:
-- 'unchanged' when it already was p_region; 'has-rows' (nothing changed) when the tenant has
-- contact rows, deleted ones included; 'changed' otherwise.
CREATE FUNCTION identity_set_phone_region(p_tenant text, p_region text)
RETURNS TABLE (outcome text, region text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:graph:' || p_tenant, 0));
    region := (SELECT t.phone_region FROM identity_tenant AS t WHERE t.tenant_id = p_tenant);
    IF region IS NOT DISTINCT FROM p_region THEN
        outcome := 'unchanged';
    ELSIF EXISTS (SELECT 1 FROM contact AS c WHERE c.tenant_id = p_tenant) THEN
        outcome := 'has-rows';
    ELSE
        INSERT INTO identity_tenant AS t (tenant_id, phone_region) VALUES (p_tenant, p_region)
        ON CONFLICT (tenant_id)
        DO UPDATE SET phone_region = excluded.phone_region, updated_at = clock_timestamp();
        outcome := 'changed';
        region := p_region;
    END IF;
    RETURN NEXT;
END
$$;
