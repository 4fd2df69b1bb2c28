-- History: every change to a tenant's customers, appended by the function that makes it, in its
-- transaction (a row created and the values it joined through, two customers merged and the
-- request that joined them, a blocked-list change). customer_id is the customer's primary at
-- the time; NULL for a change of the tenant's own (its blocked list). Rows that exist now are
-- recorded once as 'existing', in the order of their age.
CREATE TABLE identity_event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text NOT NULL,
    customer_id bigint,
    kind        text NOT NULL,
    contact_id  bigint,
    contact_ids bigint[],
    email       text,
    phone       text,
    pattern     text,
    via         text,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX identity_event_customer_idx ON identity_event (tenant_id, customer_id, id);

INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone, at)
SELECT tenant_id, coalesce(linked_id, id), 'existing', id, email, phone_number, created_at
FROM contact WHERE deleted_at IS NULL ORDER BY created_at, id;

-- The write functions of 20261121000007, each recording its event when it writes.
CREATE OR REPLACE FUNCTION identity_new_customer(p_tenant text, p_region text, p_blocked bigint,
                                                 p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
BEGIN
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        RETURN -3;
    END IF;
    new_id := identity_new_customer(p_tenant, p_email, p_phone);
    IF new_id > 0 THEN
        INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone)
        VALUES (p_tenant, new_id, 'created', new_id, p_email, p_phone);
    END IF;
    RETURN new_id;
END
$$;

CREATE OR REPLACE FUNCTION identity_add_row(p_tenant text, p_region text, p_blocked bigint,
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
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        status := -3;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT * INTO status, changed, version, base_version, on_base, last_row_at, emails,
                  email_rows, phones, phone_rows, secondary_ids, tail_emails, tail_email_rows,
                  tail_phones, tail_phone_rows, tail_secondary_ids
    FROM identity_add_row(p_tenant, p_customer, p_version, p_base_version, p_email, p_phone,
                          p_new_email, p_new_phone);
    IF status > 0 THEN
        -- the values the customer held already are the ones the row joined through
        INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone, via)
        VALUES (p_tenant, p_customer, 'created', status, p_email, p_phone,
                nullif(concat_ws(',',
                    CASE WHEN p_email IS NOT NULL AND NOT p_new_email THEN 'email' END,
                    CASE WHEN p_phone IS NOT NULL AND NOT p_new_phone THEN 'phone' END), ''));
    END IF;
    RETURN NEXT;
END
$$;

-- The merge with the request that joined the two customers (p_email, p_phone) last.
CREATE FUNCTION identity_merge(p_tenant text, p_region text, p_blocked bigint, p_kept bigint,
                               p_kept_version bigint, p_absorbed bigint,
                               p_absorbed_version bigint, p_relink bigint[], p_emails text[],
                               p_email_rows bigint[], p_phones text[], p_phone_rows bigint[],
                               p_secondary_ids bigint[], p_last_row_at timestamptz,
                               p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    IF NOT identity_settings_are(p_tenant, p_region, p_blocked) THEN
        RETURN -3;
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

-- Callers from before this migration: the merge recorded without its request.
CREATE OR REPLACE FUNCTION identity_merge(p_tenant text, p_region text, p_blocked bigint,
                                          p_kept bigint, p_kept_version bigint,
                                          p_absorbed bigint, p_absorbed_version bigint,
                                          p_relink bigint[], p_emails text[],
                                          p_email_rows bigint[], p_phones text[],
                                          p_phone_rows bigint[], p_secondary_ids bigint[],
                                          p_last_row_at timestamptz)
RETURNS bigint
LANGUAGE sql AS $$
    SELECT identity_merge(p_tenant, p_region, p_blocked, p_kept, p_kept_version, p_absorbed,
                          p_absorbed_version, p_relink, p_emails, p_email_rows, p_phones,
                          p_phone_rows, p_secondary_ids, p_last_row_at, NULL::text, NULL::text)
$$;

-- The blocked-list change of 20261121000007, recording its event when the list changes.
ALTER FUNCTION identity_change_blocked(text, text, boolean, text, boolean)
    RENAME TO identity_change_blocked_list;

CREATE FUNCTION identity_change_blocked(p_tenant text, p_kind text, p_pattern boolean,
                                        p_value text, p_add boolean)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_change_blocked_list(p_tenant, p_kind, p_pattern, p_value, p_add) THEN
        RETURN false;
    END IF;
    INSERT INTO identity_event (tenant_id, kind, email, phone, pattern, via)
    VALUES (p_tenant, CASE WHEN p_add THEN 'blocked' ELSE 'unblocked' END,
            CASE WHEN NOT p_pattern AND p_kind = 'email' THEN p_value END,
            CASE WHEN NOT p_pattern AND p_kind = 'phone' THEN p_value END,
            CASE WHEN p_pattern THEN p_value END, p_kind);
    RETURN true;
END
$$;
