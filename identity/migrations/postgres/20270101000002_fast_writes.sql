-- Fast writes (issue 31): one prologue for the common writes (new customers and new rows)
-- instead of three functions reading the tenant row twice, and a batch of writes in one statement, so concurrent identifies of a tenant share
-- one round trip and one commit (the store's group commit, `store/postgres/coalesce.rs`).

-- The start of a new customer's or a new row's write: waits while a repair, a rebuild or a settings change of the tenant
-- runs (they hold the tenant's lock alone; other tenants go on), takes the lock shared until the
-- end of the transaction (taking it again in the same transaction costs a lookup in the
-- backend's own lock table), marks the transaction's writes to contact as the library's own
-- (their change-noting triggers do not fire), and compares the tenant's settings with the ones
-- the request was read under, in one read of the tenant's row: 0 to go on; -3 when the region
-- is not p_region or the blocked list is not at version p_blocked; -2 when changes made outside
-- the library wait to be applied. Under the lock neither the settings nor the pending count of
-- the tenant change.
CREATE FUNCTION identity_begin(p_tenant text, p_region text, p_blocked bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('identity:graph:' || p_tenant, 0));
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

-- The body of identity_new_customer, for a caller that began the write (identity_begin): the
-- primary row, identifiers, record (all base) and event; -1, writing nothing, when a value was
-- claimed since the request was read.
CREATE FUNCTION identity_insert_customer(p_tenant text, p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
    v bigint;
    stamp timestamptz;
BEGIN
    stamp := clock_timestamp();
    -- the identity column's sequence, named (looking it up by column costs a catalog read)
    new_id := nextval('contact_id_seq');
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
    INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone)
    VALUES (p_tenant, new_id, 'created', new_id, p_email, p_phone);
    RETURN new_id;
END
$$;

-- A write's outcome that is only a status (a new customer's id, or a negative status), in the
-- shape of identity_append_row's answer.
CREATE FUNCTION identity_status_row(p_status bigint)
RETURNS TABLE (status bigint, changed boolean, version bigint, base_version bigint,
               on_base bigint, last_row_at timestamptz,
               emails text[], email_rows bigint[], phones text[], phone_rows bigint[],
               secondary_ids bigint[],
               tail_emails text[], tail_email_rows bigint[], tail_phones text[],
               tail_phone_rows bigint[], tail_secondary_ids bigint[])
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_status, NULL::boolean, NULL::bigint, NULL::bigint, NULL::bigint,
           NULL::timestamptz, NULL::text[], NULL::bigint[], NULL::text[], NULL::bigint[],
           NULL::bigint[], NULL::text[], NULL::bigint[], NULL::text[], NULL::bigint[],
           NULL::bigint[]
$$;

-- A secondary row for a known customer whose plan counted the customer's values against a cap,
-- for a caller that began the write: it holds only for the record it read (two appends could
-- pass the cap together), so a newer record answers -1 (stale: plan again). The record stays
-- locked to the end of the transaction.
CREATE FUNCTION identity_append_row_exact(p_tenant text, p_customer bigint, p_version bigint,
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
    PERFORM 1 FROM identity_customer AS c
    WHERE c.tenant_id = p_tenant AND c.primary_id = p_customer AND c.version = p_version
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM identity_status_row(-1);
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM identity_append_row(p_tenant, p_customer, p_version,
                                                   p_base_version, p_email, p_phone,
                                                   p_new_email, p_new_phone);
END
$$;

CREATE OR REPLACE FUNCTION identity_new_customer(p_tenant text, p_region text, p_blocked bigint,
                                                 p_email text, p_phone text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    began bigint;
BEGIN
    began := identity_begin(p_tenant, p_region, p_blocked);
    IF began < 0 THEN
        RETURN began;
    END IF;
    RETURN identity_insert_customer(p_tenant, p_email, p_phone);
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
DECLARE
    began bigint;
BEGIN
    began := identity_begin(p_tenant, p_region, p_blocked);
    IF began < 0 THEN
        RETURN QUERY SELECT * FROM identity_status_row(began);
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM identity_append_row(p_tenant, p_customer, p_version,
                                                   p_base_version, p_email, p_phone,
                                                   p_new_email, p_new_phone);
END
$$;

CREATE OR REPLACE FUNCTION identity_add_row_exact(p_tenant text, p_region text, p_blocked bigint,
                                                  p_customer bigint, p_version bigint,
                                                  p_base_version bigint, p_email text,
                                                  p_phone text, p_new_email boolean,
                                                  p_new_phone boolean)
RETURNS TABLE (status bigint, changed boolean, version bigint, base_version bigint,
               on_base bigint, last_row_at timestamptz,
               emails text[], email_rows bigint[], phones text[], phone_rows bigint[],
               secondary_ids bigint[],
               tail_emails text[], tail_email_rows bigint[], tail_phones text[],
               tail_phone_rows bigint[], tail_secondary_ids bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    began bigint;
BEGIN
    began := identity_begin(p_tenant, p_region, p_blocked);
    IF began < 0 THEN
        RETURN QUERY SELECT * FROM identity_status_row(began);
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM identity_append_row_exact(p_tenant, p_customer, p_version,
                                                         p_base_version, p_email, p_phone,
                                                         p_new_email, p_new_phone);
END
$$;

-- identity_merge keeps the baseline's prologue (identity_begin_write, then
-- identity_settings_are): the same one lock, the tenant's row read twice instead of once. A merge
-- is one write in a hundred and rewrites whole lists; redefining it here would repeat its body.

-- Several writes of one tenant in one statement, so in one transaction and one commit (the
-- store's group commit): item i is a new customer (p_kinds[i] = 0: p_emails[i], p_phones[i]),
-- a new row for a customer (1: identity_append_row's arguments) or such a row under a cap (2:
-- identity_append_row_exact's). Items are written in order, each seeing those before it, and
-- each answers as it would alone: identity_append_row's row, numbered by its item (a new
-- customer's row holds only its id, as status). An item whose settings (p_regions[i],
-- p_blocked[i]) are not the tenant's answers -3, and every item -2 while changes made outside
-- the library wait; a stale item (-1) writes nothing, and the others go on. The tenant's lock
-- is taken once. A batch waits for the locks it meets as its items would alone (a deadlock
-- with another writer fails the whole batch: the store then writes its items one by one).
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
DECLARE
    t record;
    i integer;
BEGIN
    -- the output columns other than item and status stay NULL for a new customer's row
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('identity:graph:' || p_tenant, 0));
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
            -- the most common item answers by assignment (no query to run for its row)
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

-- Rows that link to a row are found through this index when that row is deleted (the foreign
-- key contact_linked_id_fkey) and when the library walks a customer's rows; a primary row links
-- to nothing, so it need not be in it: a new customer's row skips one index insert. The
-- lookups all name a linked_id (`linked_id = x` implies it is not null), so they use it still.
DROP INDEX contact_linked_id_idx;
CREATE INDEX contact_linked_id_idx ON contact (tenant_id, linked_id) WHERE linked_id IS NOT NULL;
