-- Tenants: one store serves many shops. Every row, record, identifier and noted change belongs
-- to one tenant, and every key and index leads with tenant_id, so the tables could be
-- distributed by tenant across servers (Citus: create_distributed_table(..., 'tenant_id')) with
-- no change to the schema or to the statements, each of which names one tenant. Existing data
-- moves into the tenant 'default', which callers that name none use. Contact ids still come
-- from one sequence, so they stay unique across tenants.

ALTER TABLE contact ADD COLUMN tenant_id text NOT NULL DEFAULT 'default'
    CONSTRAINT contact_tenant_id_valid CHECK (tenant_id ~ '^[A-Za-z0-9._-]{1,64}$');
ALTER TABLE contact DROP CONSTRAINT contact_linked_id_fkey;
ALTER TABLE contact DROP CONSTRAINT contact_pkey;
ALTER TABLE contact ADD CONSTRAINT contact_pkey PRIMARY KEY (tenant_id, id);
-- a row links only to a row of its own tenant
ALTER TABLE contact ADD CONSTRAINT contact_linked_id_fkey
    FOREIGN KEY (tenant_id, linked_id) REFERENCES contact (tenant_id, id);
DROP INDEX contact_email_idx;
DROP INDEX contact_phone_number_idx;
DROP INDEX contact_linked_id_idx;
CREATE INDEX contact_email_idx ON contact (tenant_id, email) WHERE deleted_at IS NULL;
CREATE INDEX contact_phone_number_idx ON contact (tenant_id, phone_number) WHERE deleted_at IS NULL;
CREATE INDEX contact_linked_id_idx ON contact (tenant_id, linked_id) WHERE deleted_at IS NULL;

ALTER TABLE identity_customer ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE identity_customer DROP CONSTRAINT identity_customer_pkey;
ALTER TABLE identity_customer ADD CONSTRAINT identity_customer_pkey
    PRIMARY KEY (tenant_id, primary_id);
ALTER TABLE identity_customer ALTER COLUMN tenant_id DROP DEFAULT;

ALTER TABLE identity_identifier ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE identity_identifier DROP CONSTRAINT identity_identifier_pkey;
ALTER TABLE identity_identifier ADD CONSTRAINT identity_identifier_pkey
    PRIMARY KEY (tenant_id, kind, value);
ALTER TABLE identity_identifier ALTER COLUMN tenant_id DROP DEFAULT;
DROP INDEX identity_identifier_customer_idx;
CREATE INDEX identity_identifier_customer_idx ON identity_identifier (tenant_id, customer_id);

ALTER TABLE identity_pending ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE identity_pending DROP CONSTRAINT identity_pending_pkey;
ALTER TABLE identity_pending ADD CONSTRAINT identity_pending_pkey PRIMARY KEY (tenant_id, id);
ALTER TABLE identity_pending ALTER COLUMN tenant_id DROP DEFAULT;

-- One row per tenant the library has met: how many changes made outside the library wait in
-- identity_pending for it (every read checks this instead of scanning the journal). No row
-- means none.
CREATE TABLE identity_tenant (
    tenant_id  text PRIMARY KEY,
    pending    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO identity_tenant (tenant_id, pending)
SELECT 'default', s.pending FROM identity_state AS s WHERE s.pending > 0;

-- Everything that used the one-tenant journal count goes; each is created again below with the
-- tenant as its first argument.
DROP TRIGGER identity_note_insert ON contact;
DROP TRIGGER identity_note_update ON contact;
DROP TRIGGER identity_note_delete ON contact;
DROP TRIGGER identity_note_truncate ON contact;
DROP FUNCTION identity_note_change();
DROP FUNCTION identity_lock(text, text);
DROP FUNCTION identity_read_known(text, text, bigint[], bigint[]);
DROP FUNCTION identity_new_customer(text, text);
DROP FUNCTION identity_add_row(bigint, bigint, bigint, text, text, boolean, boolean);
DROP FUNCTION identity_merge(bigint, bigint, bigint, bigint, bigint[], text[], bigint[], text[],
                             bigint[], bigint[], timestamptz);
DROP FUNCTION identity_claim(text, text, bigint);
DROP FUNCTION identity_begin_write();
DROP TABLE identity_state;

-- Notes one change for a tenant: its journal entry is the caller's; this counts it.
CREATE FUNCTION identity_count_pending(p_tenant text, p_count bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO identity_tenant AS t (tenant_id, pending) VALUES (p_tenant, p_count)
    ON CONFLICT (tenant_id) DO UPDATE SET pending = t.pending + p_count;
$$;

CREATE FUNCTION identity_note_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO identity_pending (tenant_id, contact_id, new_linked_id, new_email, new_phone)
        VALUES (NEW.tenant_id, NEW.id, NEW.linked_id, NEW.email, NEW.phone_number);
        PERFORM identity_count_pending(NEW.tenant_id, 1);
    ELSIF TG_OP = 'UPDATE' AND OLD.tenant_id = NEW.tenant_id THEN
        INSERT INTO identity_pending (tenant_id, contact_id, old_linked_id, new_linked_id,
                                      old_email, new_email, old_phone, new_phone)
        VALUES (NEW.tenant_id, NEW.id, OLD.linked_id, NEW.linked_id, OLD.email, NEW.email,
                OLD.phone_number, NEW.phone_number);
        IF OLD.id <> NEW.id THEN
            INSERT INTO identity_pending (tenant_id, contact_id) VALUES (NEW.tenant_id, OLD.id);
        END IF;
        PERFORM identity_count_pending(NEW.tenant_id, 1 + (OLD.id <> NEW.id)::int);
    ELSIF TG_OP = 'UPDATE' THEN
        -- moved to another tenant: gone from the old one, new in the new one
        INSERT INTO identity_pending (tenant_id, contact_id, old_linked_id, old_email, old_phone)
        VALUES (OLD.tenant_id, OLD.id, OLD.linked_id, OLD.email, OLD.phone_number);
        PERFORM identity_count_pending(OLD.tenant_id, 1);
        INSERT INTO identity_pending (tenant_id, contact_id, new_linked_id, new_email, new_phone)
        VALUES (NEW.tenant_id, NEW.id, NEW.linked_id, NEW.email, NEW.phone_number);
        PERFORM identity_count_pending(NEW.tenant_id, 1);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO identity_pending (tenant_id, contact_id, old_linked_id, old_email, old_phone)
        VALUES (OLD.tenant_id, OLD.id, OLD.linked_id, OLD.email, OLD.phone_number);
        PERFORM identity_count_pending(OLD.tenant_id, 1);
    ELSE
        -- TRUNCATE: everything, in every tenant that has records
        INSERT INTO identity_pending (tenant_id, contact_id)
        SELECT DISTINCT c.tenant_id, NULL::bigint FROM identity_customer AS c;
        PERFORM identity_count_pending(t.tenant_id, 1)
        FROM (SELECT DISTINCT c.tenant_id FROM identity_customer AS c) AS t;
    END IF;
    RETURN NULL;
END
$$;

-- The library marks its own writes with the transaction-local setting identity.internal.
CREATE TRIGGER identity_note_insert AFTER INSERT ON contact FOR EACH ROW
    WHEN (current_setting('identity.internal', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION identity_note_change();
CREATE TRIGGER identity_note_update AFTER UPDATE ON contact FOR EACH ROW
    WHEN (current_setting('identity.internal', true) IS DISTINCT FROM 'on'
          AND (OLD.tenant_id, OLD.id, OLD.email, OLD.phone_number, OLD.linked_id,
               OLD.link_precedence, OLD.created_at, OLD.deleted_at)
              IS DISTINCT FROM (NEW.tenant_id, NEW.id, NEW.email, NEW.phone_number,
                                NEW.linked_id, NEW.link_precedence, NEW.created_at,
                                NEW.deleted_at))
    EXECUTE FUNCTION identity_note_change();
CREATE TRIGGER identity_note_delete AFTER DELETE ON contact FOR EACH ROW
    WHEN (current_setting('identity.internal', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION identity_note_change();
CREATE TRIGGER identity_note_truncate AFTER TRUNCATE ON contact FOR EACH STATEMENT
    WHEN (current_setting('identity.internal', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION identity_note_change();

-- As in 20261121000004, within one tenant.
CREATE FUNCTION identity_read_known(p_tenant text, p_email text, p_phone text,
                                    p_versions bigint[], p_bases bigint[])
RETURNS SETOF identity_read_row
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT t.pending FROM identity_tenant AS t WHERE t.tenant_id = p_tenant), 0) > 0,
           e.customer_id, p.customer_id,
           c.version, c.base_version, c.created_at, c.last_row_at, c.primary_has_email,
           c.primary_has_phone, cb.emails, cb.email_rows, cb.phones, cb.phone_rows,
           cb.secondary_ids, ct.tail_emails, ct.tail_email_rows, ct.tail_phones,
           ct.tail_phone_rows, ct.tail_secondary_ids,
           d.version, d.base_version, d.created_at, d.last_row_at, d.primary_has_email,
           d.primary_has_phone, db.emails, db.email_rows, db.phones, db.phone_rows,
           db.secondary_ids, dt.tail_emails, dt.tail_email_rows, dt.tail_phones,
           dt.tail_phone_rows, dt.tail_secondary_ids
    FROM (SELECT 1) AS one
    LEFT JOIN identity_identifier AS e
           ON e.tenant_id = p_tenant AND e.kind = 'email' AND e.value = p_email
    LEFT JOIN identity_identifier AS p
           ON p.tenant_id = p_tenant AND p.kind = 'phone' AND p.value = p_phone
    LEFT JOIN identity_customer AS c ON c.tenant_id = p_tenant AND c.primary_id = e.customer_id
    LEFT JOIN identity_customer AS d
           ON d.tenant_id = p_tenant AND d.primary_id = p.customer_id
          AND p.customer_id IS DISTINCT FROM e.customer_id
    LEFT JOIN LATERAL (SELECT c.emails, c.email_rows, c.phones, c.phone_rows, c.secondary_ids)
           AS cb ON c.base_version <> ALL(p_bases)
    LEFT JOIN LATERAL (SELECT c.tail_emails, c.tail_email_rows, c.tail_phones, c.tail_phone_rows,
                              c.tail_secondary_ids)
           AS ct ON c.version <> ALL(p_versions)
    LEFT JOIN LATERAL (SELECT d.emails, d.email_rows, d.phones, d.phone_rows, d.secondary_ids)
           AS db ON d.base_version <> ALL(p_bases)
    LEFT JOIN LATERAL (SELECT d.tail_emails, d.tail_email_rows, d.tail_phones, d.tail_phone_rows,
                              d.tail_secondary_ids)
           AS dt ON d.version <> ALL(p_versions)
$$;

-- Every write starts here: it waits while a repair or rebuild of its tenant runs (they hold the
-- tenant's lock alone; other tenants go on), marks the transaction's writes to contact as the
-- library's own, and answers false while changes made outside the library wait to be applied.
CREATE FUNCTION identity_begin_write(p_tenant text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('identity:graph:' || p_tenant, 0));
    PERFORM set_config('identity.internal', 'on', true);
    RETURN coalesce((SELECT t.pending FROM identity_tenant AS t WHERE t.tenant_id = p_tenant), 0) = 0;
END
$$;

CREATE FUNCTION identity_claim(p_tenant text, p_email text, p_phone text, p_customer bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF p_email IS NOT NULL THEN
        INSERT INTO identity_identifier (tenant_id, kind, value, customer_id)
        VALUES (p_tenant, 'email', p_email, p_customer) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN false;
        END IF;
    END IF;
    IF p_phone IS NOT NULL THEN
        INSERT INTO identity_identifier (tenant_id, kind, value, customer_id)
        VALUES (p_tenant, 'phone', p_phone, p_customer) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            DELETE FROM identity_identifier
            WHERE tenant_id = p_tenant AND kind = 'email' AND value = p_email;
            RETURN false;
        END IF;
    END IF;
    RETURN true;
END
$$;

CREATE FUNCTION identity_new_customer(p_tenant text, p_email text, p_phone text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
    v bigint;
    stamp timestamptz := clock_timestamp();
BEGIN
    IF NOT identity_begin_write(p_tenant) THEN
        RETURN -2;
    END IF;
    new_id := nextval(pg_get_serial_sequence('contact', 'id'));
    IF NOT identity_claim(p_tenant, p_email, p_phone, new_id) THEN
        RETURN -1;
    END IF;
    INSERT INTO contact (tenant_id, id, email, phone_number, linked_id, link_precedence,
                         created_at, updated_at)
    OVERRIDING SYSTEM VALUE
    VALUES (p_tenant, new_id, p_email, p_phone, NULL, 'primary', stamp, stamp);
    v := nextval('identity_version_seq');
    INSERT INTO identity_customer (tenant_id, primary_id, version, base_version, created_at,
        last_row_at, emails, email_rows, phones, phone_rows, primary_has_email, primary_has_phone,
        secondary_ids, updated_at)
    VALUES (p_tenant, new_id, v, v, stamp, stamp,
            array_remove(ARRAY[p_email], NULL), CASE WHEN p_email IS NULL THEN '{}' ELSE ARRAY[new_id] END,
            array_remove(ARRAY[p_phone], NULL), CASE WHEN p_phone IS NULL THEN '{}' ELSE ARRAY[new_id] END,
            p_email IS NOT NULL, p_phone IS NOT NULL, '{}', stamp);
    RETURN new_id;
END
$$;

-- As in 20261121000004, within one tenant.
CREATE FUNCTION identity_add_row(p_tenant text, p_customer bigint, p_version bigint,
                                 p_base_version bigint, p_email text, p_phone text,
                                 p_new_email boolean, p_new_phone boolean)
RETURNS TABLE (status bigint, changed boolean, version bigint, base_version bigint,
               on_base bigint, last_row_at timestamptz, emails text[], email_rows bigint[],
               phones text[], phone_rows bigint[], secondary_ids bigint[], tail_emails text[],
               tail_email_rows bigint[], tail_phones text[], tail_phone_rows bigint[],
               tail_secondary_ids bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    read_version bigint;
    old_base bigint;
    newest timestamptz;
    t_emails text[];
    t_email_rows bigint[];
    t_phones text[];
    t_phone_rows bigint[];
    t_secondary_ids bigint[];
    new_id bigint;
    v bigint;
    stamp timestamptz;
BEGIN
    IF NOT identity_begin_write(p_tenant) THEN
        status := -2;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT c.version, c.base_version, c.last_row_at, c.tail_emails, c.tail_email_rows,
           c.tail_phones, c.tail_phone_rows, c.tail_secondary_ids
    INTO read_version, old_base, newest, t_emails, t_email_rows, t_phones, t_phone_rows,
         t_secondary_ids
    FROM identity_customer AS c
    WHERE c.tenant_id = p_tenant AND c.primary_id = p_customer FOR UPDATE;
    IF NOT FOUND
       OR (p_email IS NOT NULL AND NOT p_new_email AND NOT EXISTS (SELECT 1 FROM identity_identifier AS i
               WHERE i.tenant_id = p_tenant AND i.kind = 'email' AND i.value = p_email
                 AND i.customer_id = p_customer))
       OR (p_phone IS NOT NULL AND NOT p_new_phone AND NOT EXISTS (SELECT 1 FROM identity_identifier AS i
               WHERE i.tenant_id = p_tenant AND i.kind = 'phone' AND i.value = p_phone
                 AND i.customer_id = p_customer))
       OR NOT identity_claim(p_tenant, CASE WHEN p_new_email THEN p_email END,
                             CASE WHEN p_new_phone THEN p_phone END, p_customer)
    THEN
        status := -1;
        RETURN NEXT;
        RETURN;
    END IF;
    stamp := greatest(clock_timestamp(), newest);
    INSERT INTO contact (tenant_id, email, phone_number, linked_id, link_precedence, created_at,
                         updated_at)
    VALUES (p_tenant, p_email, p_phone, p_customer, 'secondary', stamp, stamp)
    RETURNING id INTO new_id;
    IF p_new_email THEN
        t_emails := t_emails || p_email;
        t_email_rows := t_email_rows || new_id;
    END IF;
    IF p_new_phone THEN
        t_phones := t_phones || p_phone;
        t_phone_rows := t_phone_rows || new_id;
    END IF;
    t_secondary_ids := t_secondary_ids || new_id;
    v := nextval('identity_version_seq');
    IF cardinality(t_secondary_ids) >= 32 THEN
        UPDATE identity_customer AS c
        SET emails = c.emails || t_emails, email_rows = c.email_rows || t_email_rows,
            phones = c.phones || t_phones, phone_rows = c.phone_rows || t_phone_rows,
            secondary_ids = c.secondary_ids || t_secondary_ids,
            tail_emails = '{}', tail_email_rows = '{}', tail_phones = '{}', tail_phone_rows = '{}',
            tail_secondary_ids = '{}',
            base_version = v, version = v, last_row_at = stamp, updated_at = stamp
        WHERE c.tenant_id = p_tenant AND c.primary_id = p_customer;
        base_version := v;
    ELSE
        UPDATE identity_customer AS c
        SET tail_emails = t_emails, tail_email_rows = t_email_rows, tail_phones = t_phones,
            tail_phone_rows = t_phone_rows, tail_secondary_ids = t_secondary_ids,
            version = v, last_row_at = stamp, updated_at = stamp
        WHERE c.tenant_id = p_tenant AND c.primary_id = p_customer;
        base_version := old_base;
    END IF;
    status := new_id;
    changed := read_version <> p_version;
    version := v;
    last_row_at := stamp;
    IF changed THEN
        on_base := old_base;
        tail_emails := t_emails;
        tail_email_rows := t_email_rows;
        tail_phones := t_phones;
        tail_phone_rows := t_phone_rows;
        tail_secondary_ids := t_secondary_ids;
        IF old_base <> p_base_version THEN
            SELECT c.emails, c.email_rows, c.phones, c.phone_rows, c.secondary_ids
            INTO emails, email_rows, phones, phone_rows, secondary_ids
            FROM identity_customer AS c WHERE c.tenant_id = p_tenant AND c.primary_id = p_customer;
            IF base_version <> old_base THEN
                on_base := v;
                tail_emails := '{}';
                tail_email_rows := '{}';
                tail_phones := '{}';
                tail_phone_rows := '{}';
                tail_secondary_ids := '{}';
            END IF;
        END IF;
    END IF;
    RETURN NEXT;
END
$$;

-- As in 20261121000004, within one tenant.
CREATE FUNCTION identity_merge(p_tenant text, p_kept bigint, p_kept_version bigint,
                               p_absorbed bigint, p_absorbed_version bigint, p_relink bigint[],
                               p_emails text[], p_email_rows bigint[], p_phones text[],
                               p_phone_rows bigint[], p_secondary_ids bigint[],
                               p_last_row_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    IF NOT identity_begin_write(p_tenant) THEN
        RETURN -2;
    END IF;
    PERFORM 1 FROM identity_customer
    WHERE tenant_id = p_tenant AND primary_id IN (p_kept, p_absorbed)
    ORDER BY primary_id FOR UPDATE;
    IF (SELECT count(*) FROM identity_customer
        WHERE tenant_id = p_tenant
          AND ((primary_id = p_kept AND version = p_kept_version)
               OR (primary_id = p_absorbed AND version = p_absorbed_version))) <> 2 THEN
        RETURN -1;
    END IF;
    UPDATE contact SET linked_id = p_kept, link_precedence = 'secondary', updated_at = clock_timestamp()
    WHERE tenant_id = p_tenant AND id = ANY(p_relink) AND deleted_at IS NULL;
    UPDATE identity_identifier SET customer_id = p_kept
    WHERE tenant_id = p_tenant AND customer_id = p_absorbed;
    DELETE FROM identity_customer WHERE tenant_id = p_tenant AND primary_id = p_absorbed;
    v := nextval('identity_version_seq');
    UPDATE identity_customer
    SET emails = p_emails, email_rows = p_email_rows, phones = p_phones, phone_rows = p_phone_rows,
        secondary_ids = p_secondary_ids, tail_emails = '{}', tail_email_rows = '{}',
        tail_phones = '{}', tail_phone_rows = '{}', tail_secondary_ids = '{}',
        last_row_at = p_last_row_at, version = v, base_version = v,
        updated_at = clock_timestamp()
    WHERE tenant_id = p_tenant AND primary_id = p_kept;
    RETURN v;
END
$$;

-- As in 20261121000004, within one tenant.
CREATE FUNCTION identity_lock(p_tenant text, p_email text, p_phone text)
RETURNS SETOF identity_read_row
LANGUAGE plpgsql AS $$
DECLARE
    owners bigint[];
    now_owners bigint[];
BEGIN
    IF NOT identity_begin_write(p_tenant) THEN
        RETURN QUERY SELECT * FROM identity_read_known(p_tenant, p_email, p_phone, '{}', '{}');
        RETURN;
    END IF;
    LOOP
        SELECT coalesce(array_agg(DISTINCT i.customer_id ORDER BY i.customer_id), '{}') INTO owners
        FROM identity_identifier AS i
        WHERE i.tenant_id = p_tenant
          AND ((i.kind = 'email' AND i.value = p_email) OR (i.kind = 'phone' AND i.value = p_phone));
        PERFORM 1 FROM identity_customer AS c
        WHERE c.tenant_id = p_tenant AND c.primary_id = ANY(owners)
        ORDER BY c.primary_id FOR UPDATE;
        SELECT coalesce(array_agg(DISTINCT i.customer_id ORDER BY i.customer_id), '{}') INTO now_owners
        FROM identity_identifier AS i
        WHERE i.tenant_id = p_tenant
          AND ((i.kind = 'email' AND i.value = p_email) OR (i.kind = 'phone' AND i.value = p_phone));
        EXIT WHEN now_owners = owners;
    END LOOP;
    RETURN QUERY SELECT * FROM identity_read_known(p_tenant, p_email, p_phone, '{}', '{}') AS r;
END
$$;
