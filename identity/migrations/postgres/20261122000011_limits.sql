-- Per-customer caps on distinct emails and phone numbers (NULL: none). Changing them moves the
-- tenant's blocked_version, as a blocked-list change does, so no write planned under the old
-- caps commits after the change (every write function checks the version).
ALTER TABLE identity_tenant ADD COLUMN max_emails bigint, ADD COLUMN max_phones bigint;

-- Sets the tenant's caps under its lock alone; answers whether they changed. A tenant's first
-- change of its screening copies the default blocked list to its own rows.
CREATE FUNCTION identity_set_limits(p_tenant text, p_emails bigint, p_phones bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:graph:' || p_tenant, 0));
    IF (SELECT t.max_emails IS NOT DISTINCT FROM p_emails AND t.max_phones IS NOT DISTINCT FROM p_phones
        FROM (SELECT p_tenant AS tenant_id) AS k
        LEFT JOIN identity_tenant AS t ON t.tenant_id = k.tenant_id) THEN
        RETURN false;
    END IF;
    v := coalesce((SELECT t.blocked_version FROM identity_tenant AS t
                   WHERE t.tenant_id = p_tenant), 0);
    IF v = 0 THEN
        INSERT INTO identity_blocked (tenant_id, kind, pattern, value, created_at)
        SELECT p_tenant, b.kind, b.pattern, b.value, b.created_at
        FROM identity_blocked AS b WHERE b.tenant_id = '*';
    END IF;
    INSERT INTO identity_tenant AS t (tenant_id, blocked_version, max_emails, max_phones)
    VALUES (p_tenant, v + 1, p_emails, p_phones)
    ON CONFLICT (tenant_id)
    DO UPDATE SET blocked_version = excluded.blocked_version, max_emails = excluded.max_emails,
                  max_phones = excluded.max_phones, updated_at = clock_timestamp();
    RETURN true;
END
$$;

-- identity_add_row of 20261121000008, for a plan that counted the customer's values against a
-- cap: it holds only for the record it read (identity_add_row appends to whatever the record is
-- now, and two such appends could pass the cap together), so a newer record answers -1 (stale:
-- plan again). The record stays locked to the end of the transaction.
CREATE FUNCTION identity_add_row_exact(p_tenant text, p_region text, p_blocked bigint,
                                       p_customer bigint, p_version bigint,
                                       p_base_version bigint, p_email text, p_phone text,
                                       p_new_email boolean, p_new_phone boolean)
RETURNS TABLE (status bigint, changed boolean, version bigint, base_version bigint,
               on_base bigint, last_row_at timestamptz,
               emails text[], email_rows bigint[], phones text[], phone_rows bigint[],
               secondary_ids bigint[],
               tail_emails text[], tail_email_rows bigint[], tail_phones text[],
               tail_phone_rows bigint[], tail_secondary_ids bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_begin_write(p_tenant) THEN
        status := -2;
        RETURN NEXT;
        RETURN;
    END IF;
    PERFORM 1 FROM identity_customer AS c
    WHERE c.tenant_id = p_tenant AND c.primary_id = p_customer AND c.version = p_version
    FOR UPDATE;
    IF NOT FOUND THEN
        status := -1;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM identity_add_row(p_tenant, p_region, p_blocked, p_customer,
                                                p_version, p_base_version, p_email, p_phone,
                                                p_new_email, p_new_phone);
END
$$;
