-- Split: pairs of rows whose customers must never merge again. A split adds the primaries of
-- its two parts (and each part with every customer the split customer was kept apart from);
-- a merge is withheld when a pair has a row in each customer. Rows, not customers: a pair
-- follows its rows through later merges. Pairs change only under the tenant's graph lock
-- taken alone (a split), so a write holding it shared reads them stable.
CREATE TABLE identity_kept_apart (
    tenant_id  text NOT NULL,
    a_id       bigint NOT NULL,
    b_id       bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, a_id, b_id)
);

CREATE INDEX identity_kept_apart_b_idx ON identity_kept_apart (tenant_id, b_id);

-- Whether a pair of the tenant has a row in customer x and one in customer y.
CREATE FUNCTION identity_kept_apart(p_tenant text, p_x bigint, p_y bigint)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM identity_kept_apart AS k
        JOIN contact AS a ON a.id = k.a_id
        JOIN contact AS b ON b.id = k.b_id
        WHERE k.tenant_id = p_tenant
          AND ((coalesce(a.linked_id, a.id) = p_x AND coalesce(b.linked_id, b.id) = p_y)
            OR (coalesce(a.linked_id, a.id) = p_y AND coalesce(b.linked_id, b.id) = p_x)))
$$;

-- The merge of 20261121000008, withheld (-4) when a split keeps the two customers apart and
-- the plan is current (else -1: stale, plan again).
CREATE OR REPLACE FUNCTION identity_merge(p_tenant text, p_region text, p_blocked bigint,
                                          p_kept bigint, p_kept_version bigint,
                                          p_absorbed bigint, p_absorbed_version bigint,
                                          p_relink bigint[], p_emails text[],
                                          p_email_rows bigint[], p_phones text[],
                                          p_phone_rows bigint[], p_secondary_ids bigint[],
                                          p_last_row_at timestamptz, p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        RETURN -3;
    END IF;
    IF identity_kept_apart(p_tenant, p_kept, p_absorbed) THEN
        IF NOT identity_begin_write(p_tenant) THEN
            RETURN -2;
        END IF;
        IF (SELECT count(*) FROM identity_customer
            WHERE tenant_id = p_tenant
              AND ((primary_id = p_kept AND version = p_kept_version)
                   OR (primary_id = p_absorbed AND version = p_absorbed_version))) = 2 THEN
            RETURN -4;
        END IF;
        RETURN -1;
    END IF;
    v := identity_merge(p_tenant, p_kept, p_kept_version, p_absorbed, p_absorbed_version,
                        p_relink, p_emails, p_email_rows, p_phones, p_phone_rows,
                        p_secondary_ids, p_last_row_at);
    IF v > 0 THEN
        INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, contact_ids,
                                    email, phone)
        VALUES (p_tenant, p_kept, 'merged', p_absorbed, p_relink, p_email, p_phone);
    END IF;
    RETURN v;
END
$$;
