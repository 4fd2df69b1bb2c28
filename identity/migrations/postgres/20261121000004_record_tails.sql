-- A new row costs the same at any customer size. A customer's record keeps its lists in two
-- parts: the base (large, out of line, rewritten only by merges and every TAIL_MAX-th new row)
-- and a short tail of the values and rows added since (inline). Adding a row appends to the tail,
-- so neither the base's TOAST data nor its bytes on the wire change: a reader that holds the base
-- (by `base_version`) is sent the tail alone. The answer lists are base || tail.

ALTER TABLE identity_customer
    ADD COLUMN base_version       bigint,
    ADD COLUMN tail_emails        text[] NOT NULL DEFAULT '{}',
    ADD COLUMN tail_email_rows    bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN tail_phones        text[] NOT NULL DEFAULT '{}',
    ADD COLUMN tail_phone_rows    bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN tail_secondary_ids bigint[] NOT NULL DEFAULT '{}';
UPDATE identity_customer SET base_version = version;
ALTER TABLE identity_customer ALTER COLUMN base_version SET NOT NULL;

-- The read returns each record's base lists unless its base version is held, and its tail
-- unless its version is held.
DROP FUNCTION identity_lock(text, text);
DROP FUNCTION identity_read_known(text, text, bigint[]);
DROP TYPE identity_read_row;
CREATE TYPE identity_read_row AS (
    pending boolean, email_owner bigint, phone_owner bigint,
    e_version bigint, e_base_version bigint, e_created_at timestamptz, e_last_row_at timestamptz,
    e_primary_has_email boolean, e_primary_has_phone boolean,
    e_emails text[], e_email_rows bigint[], e_phones text[], e_phone_rows bigint[],
    e_secondary_ids bigint[],
    e_tail_emails text[], e_tail_email_rows bigint[], e_tail_phones text[],
    e_tail_phone_rows bigint[], e_tail_secondary_ids bigint[],
    p_version bigint, p_base_version bigint, p_created_at timestamptz, p_last_row_at timestamptz,
    p_primary_has_email boolean, p_primary_has_phone boolean,
    p_emails text[], p_email_rows bigint[], p_phones text[], p_phone_rows bigint[],
    p_secondary_ids bigint[],
    p_tail_emails text[], p_tail_email_rows bigint[], p_tail_phones text[],
    p_tail_phone_rows bigint[], p_tail_secondary_ids bigint[]
);

-- `p_versions`, `p_bases`: the record versions and the base versions the caller holds. Versions
-- come from one sequence and are never reused, so an equal version is the same record (or base),
-- whoever wrote it. The two are apart because a caller may hold a newer version than a read
-- sees (a writer has its answer a moment before its commit is visible): the read then sends the
-- older record's tail, on a base the caller holds.
CREATE FUNCTION identity_read_known(p_email text, p_phone text, p_versions bigint[],
                                    p_bases bigint[])
RETURNS SETOF identity_read_row
LANGUAGE sql STABLE AS $$
    SELECT (SELECT s.pending FROM identity_state AS s) > 0, e.customer_id, p.customer_id,
           c.version, c.base_version, c.created_at, c.last_row_at, c.primary_has_email,
           c.primary_has_phone, cb.emails, cb.email_rows, cb.phones, cb.phone_rows,
           cb.secondary_ids, ct.tail_emails, ct.tail_email_rows, ct.tail_phones,
           ct.tail_phone_rows, ct.tail_secondary_ids,
           d.version, d.base_version, d.created_at, d.last_row_at, d.primary_has_email,
           d.primary_has_phone, db.emails, db.email_rows, db.phones, db.phone_rows,
           db.secondary_ids, dt.tail_emails, dt.tail_email_rows, dt.tail_phones,
           dt.tail_phone_rows, dt.tail_secondary_ids
    FROM (SELECT 1) AS one
    LEFT JOIN identity_identifier AS e ON e.kind = 'email' AND e.value = p_email
    LEFT JOIN identity_identifier AS p ON p.kind = 'phone' AND p.value = p_phone
    LEFT JOIN identity_customer AS c ON c.primary_id = e.customer_id
    LEFT JOIN identity_customer AS d
           ON d.primary_id = p.customer_id AND p.customer_id IS DISTINCT FROM e.customer_id
    -- each record's base lists unless its base is held, its tail unless its version is held
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

-- As before (20261121000003), over the new row type.
CREATE FUNCTION identity_lock(p_email text, p_phone text)
RETURNS SETOF identity_read_row
LANGUAGE plpgsql AS $$
DECLARE
    owners bigint[];
    now_owners bigint[];
BEGIN
    IF NOT identity_begin_write() THEN
        RETURN QUERY SELECT * FROM identity_read_known(p_email, p_phone, '{}', '{}');
        RETURN;
    END IF;
    LOOP
        SELECT coalesce(array_agg(DISTINCT i.customer_id ORDER BY i.customer_id), '{}') INTO owners
        FROM identity_identifier AS i
        WHERE (i.kind = 'email' AND i.value = p_email) OR (i.kind = 'phone' AND i.value = p_phone);
        PERFORM 1 FROM identity_customer AS c
        WHERE c.primary_id = ANY(owners) ORDER BY c.primary_id FOR UPDATE;
        SELECT coalesce(array_agg(DISTINCT i.customer_id ORDER BY i.customer_id), '{}') INTO now_owners
        FROM identity_identifier AS i
        WHERE (i.kind = 'email' AND i.value = p_email) OR (i.kind = 'phone' AND i.value = p_phone);
        EXIT WHEN now_owners = owners;
    END LOOP;
    RETURN QUERY SELECT * FROM identity_read_known(p_email, p_phone, '{}', '{}') AS r;
END
$$;

-- A new customer: its record is all base.
CREATE OR REPLACE FUNCTION identity_new_customer(p_email text, p_phone text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
    v bigint;
    stamp timestamptz := clock_timestamp();
BEGIN
    IF NOT identity_begin_write() THEN
        RETURN -2;
    END IF;
    new_id := nextval(pg_get_serial_sequence('contact', 'id'));
    IF NOT identity_claim(p_email, p_phone, new_id) THEN
        RETURN -1;
    END IF;
    INSERT INTO contact (id, email, phone_number, linked_id, link_precedence, created_at, updated_at)
    OVERRIDING SYSTEM VALUE VALUES (new_id, p_email, p_phone, NULL, 'primary', stamp, stamp);
    v := nextval('identity_version_seq');
    INSERT INTO identity_customer (primary_id, version, base_version, created_at, last_row_at,
        emails, email_rows, phones, phone_rows, primary_has_email, primary_has_phone,
        secondary_ids, updated_at)
    VALUES (new_id, v, v, stamp, stamp,
            array_remove(ARRAY[p_email], NULL), CASE WHEN p_email IS NULL THEN '{}' ELSE ARRAY[new_id] END,
            array_remove(ARRAY[p_phone], NULL), CASE WHEN p_phone IS NULL THEN '{}' ELSE ARRAY[new_id] END,
            p_email IS NOT NULL, p_phone IS NOT NULL, '{}', stamp);
    RETURN new_id;
END
$$;

-- A secondary row for a known customer, appended to the record's tail; every 32nd appended row
-- folds the tail into the base (so the tail stays inline and the base's rewrite is amortized).
-- Valid as long as the customer still holds the request's known values and its new values are
-- still new, whatever else the customer gained meanwhile: then (changed = true) the record as
-- it is now comes back for the answer, as a tail on a base (`on_base`): the base the caller
-- holds (`p_base_version`) when that was the base before this row, else the current one, sent.
-- Only inline columns are read, so the base is never detoasted unless it must be sent.
DROP FUNCTION identity_add_row(bigint, bigint, text, text, boolean, boolean);
CREATE FUNCTION identity_add_row(p_customer bigint, p_version bigint, p_base_version bigint,
                                 p_email text, p_phone text, p_new_email boolean,
                                 p_new_phone boolean)
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
    IF NOT identity_begin_write() THEN
        status := -2;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT c.version, c.base_version, c.last_row_at, c.tail_emails, c.tail_email_rows,
           c.tail_phones, c.tail_phone_rows, c.tail_secondary_ids
    INTO read_version, old_base, newest, t_emails, t_email_rows, t_phones, t_phone_rows,
         t_secondary_ids
    FROM identity_customer AS c WHERE c.primary_id = p_customer FOR UPDATE;
    IF NOT FOUND
       OR (p_email IS NOT NULL AND NOT p_new_email AND NOT EXISTS (SELECT 1 FROM identity_identifier AS i
               WHERE i.kind = 'email' AND i.value = p_email AND i.customer_id = p_customer))
       OR (p_phone IS NOT NULL AND NOT p_new_phone AND NOT EXISTS (SELECT 1 FROM identity_identifier AS i
               WHERE i.kind = 'phone' AND i.value = p_phone AND i.customer_id = p_customer))
       OR NOT identity_claim(CASE WHEN p_new_email THEN p_email END,
                             CASE WHEN p_new_phone THEN p_phone END, p_customer)
    THEN
        status := -1;
        RETURN NEXT;
        RETURN;
    END IF;
    stamp := greatest(clock_timestamp(), newest);
    INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
    VALUES (p_email, p_phone, p_customer, 'secondary', stamp, stamp)
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
        WHERE c.primary_id = p_customer;
        base_version := v;
    ELSE
        UPDATE identity_customer AS c
        SET tail_emails = t_emails, tail_email_rows = t_email_rows, tail_phones = t_phones,
            tail_phone_rows = t_phone_rows, tail_secondary_ids = t_secondary_ids,
            version = v, last_row_at = stamp, updated_at = stamp
        WHERE c.primary_id = p_customer;
        base_version := old_base;
    END IF;
    status := new_id;
    changed := read_version <> p_version;
    version := v;
    last_row_at := stamp;
    IF changed THEN
        -- the rows on the old base: this row and those added since the base was written
        on_base := old_base;
        tail_emails := t_emails;
        tail_email_rows := t_email_rows;
        tail_phones := t_phones;
        tail_phone_rows := t_phone_rows;
        tail_secondary_ids := t_secondary_ids;
        IF old_base <> p_base_version THEN
            SELECT c.emails, c.email_rows, c.phones, c.phone_rows, c.secondary_ids
            INTO emails, email_rows, phones, phone_rows, secondary_ids
            FROM identity_customer AS c WHERE c.primary_id = p_customer;
            IF base_version <> old_base THEN
                -- folded: the base sent is the whole record
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

-- Two customers joined, as before (20261121000003); the merged record is all base. Answers the
-- merged record's version.
CREATE OR REPLACE FUNCTION identity_merge(p_kept bigint, p_kept_version bigint, p_absorbed bigint,
                                          p_absorbed_version bigint, p_relink bigint[],
                                          p_emails text[], p_email_rows bigint[], p_phones text[],
                                          p_phone_rows bigint[], p_secondary_ids bigint[],
                                          p_last_row_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    IF NOT identity_begin_write() THEN
        RETURN -2;
    END IF;
    PERFORM 1 FROM identity_customer
    WHERE primary_id IN (p_kept, p_absorbed) ORDER BY primary_id FOR UPDATE;
    IF (SELECT count(*) FROM identity_customer
        WHERE (primary_id = p_kept AND version = p_kept_version)
           OR (primary_id = p_absorbed AND version = p_absorbed_version)) <> 2 THEN
        RETURN -1;
    END IF;
    UPDATE contact SET linked_id = p_kept, link_precedence = 'secondary', updated_at = clock_timestamp()
    WHERE id = ANY(p_relink) AND deleted_at IS NULL;
    UPDATE identity_identifier SET customer_id = p_kept WHERE customer_id = p_absorbed;
    DELETE FROM identity_customer WHERE primary_id = p_absorbed;
    v := nextval('identity_version_seq');
    UPDATE identity_customer
    SET emails = p_emails, email_rows = p_email_rows, phones = p_phones, phone_rows = p_phone_rows,
        secondary_ids = p_secondary_ids, tail_emails = '{}', tail_email_rows = '{}',
        tail_phones = '{}', tail_phone_rows = '{}', tail_secondary_ids = '{}',
        last_row_at = p_last_row_at, version = v, base_version = v,
        updated_at = clock_timestamp()
    WHERE primary_id = p_kept;
    RETURN v;
END
$$;
